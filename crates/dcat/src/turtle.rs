//! A Turtle writer (RDF 1.1 Turtle, W3C Recommendation 2014) for [`Graph`].
//!
//! Small on purpose: the catalogue needs prefixes, IRIs, language-tagged and
//! typed literals, nothing else, and the graph's IRIs are checked on
//! construction ([`Iri::new`]), so only literals need escaping. A full RDF
//! library (sophia, oxigraph's oxttl and their dependency trees) would add
//! tens of crates to the hub's build for one writer of this size.

use crate::rdf::{Graph, Iri, Literal, Object};
use crate::vocab::{self, Namespace};
use std::fmt::Write;

/// The graph as a Turtle document: prefixes, then each subject with its
/// statements (`;` between predicates, `,` between objects).
pub fn write(graph: &Graph) -> String {
    let mut out = String::new();
    for ns in vocab::ALL {
        let _ = writeln!(out, "@prefix {}: <{}> .", ns.prefix, ns.iri);
    }
    let rdf_type = vocab::rdf_type();
    for (subject, statements) in graph.subjects() {
        let _ = write!(out, "\n<{}>", subject.as_str());
        // Group by predicate, keeping the order of first appearance.
        let mut predicates: Vec<&Iri> = Vec::new();
        for (p, _) in statements {
            if !predicates.contains(&p) {
                predicates.push(p);
            }
        }
        for (i, p) in predicates.iter().enumerate() {
            out.push_str(if i == 0 { "\n    " } else { " ;\n    " });
            if **p == rdf_type {
                out.push('a');
            } else {
                out.push_str(&name(p));
            }
            let objects = statements.iter().filter(|(q, _)| q == *p).map(|(_, o)| o);
            for (j, o) in objects.enumerate() {
                out.push_str(if j == 0 { " " } else { ", " });
                object(&mut out, o);
            }
        }
        out.push_str(" .\n");
    }
    out
}

/// A prefixed name when a declared namespace covers the IRI and the rest is a
/// plain local name; the full `<IRI>` otherwise.
fn name(iri: &Iri) -> String {
    compact(iri).unwrap_or_else(|| format!("<{}>", iri.as_str()))
}

/// `prefix:local` for IRIs in a declared namespace whose local part is
/// `[A-Za-z0-9_]+` (a subset of PN_LOCAL that needs no escapes).
pub(crate) fn compact(iri: &Iri) -> Option<String> {
    vocab::ALL.iter().find_map(|ns: &Namespace| {
        let local = iri.as_str().strip_prefix(ns.iri)?;
        (!local.is_empty() && local.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .then(|| format!("{}:{local}", ns.prefix))
    })
}

fn object(out: &mut String, o: &Object) {
    match o {
        Object::Iri(iri) => out.push_str(&name(iri)),
        Object::Literal(Literal::Plain(text)) => quoted(out, text),
        Object::Literal(Literal::Lang { text, lang }) => {
            quoted(out, text);
            let _ = write!(out, "@{lang}");
        }
        Object::Literal(Literal::Typed { lexical, datatype }) => {
            quoted(out, lexical);
            let _ = write!(out, "^^{}", name(datatype));
        }
    }
}

/// A STRING_LITERAL_QUOTE: `"` and `\` escaped, line breaks and tabs as ECHAR,
/// every other control character as UCHAR `\uXXXX` (Turtle sections 6.4, 6.5).
pub fn quoted(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(text: &str) -> String {
        let mut s = String::new();
        quoted(&mut s, text);
        s
    }

    #[test]
    fn literals_escape_quotes_backslashes_breaks_and_controls() {
        assert_eq!(lit("plain"), "\"plain\"");
        assert_eq!(lit("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(lit("a\\b"), "\"a\\\\b\"");
        assert_eq!(lit("one\ntwo\r\tthree"), "\"one\\ntwo\\r\\tthree\"");
        assert_eq!(lit("bell\u{7}del\u{7f}"), "\"bell\\u0007del\\u007F\"");
        // Non-ASCII letters and the line separator are legal inside a quote.
        assert_eq!(lit("Größe\u{2028}"), "\"Größe\u{2028}\"");
    }

    #[test]
    fn a_literal_cannot_end_its_quote_early() {
        let nasty = "x\" ; <http://evil.example/p> \"y";
        let written = lit(nasty);
        // The only unescaped quotes are the delimiters.
        let inner = &written[1..written.len() - 1];
        let mut escaped = false;
        for c in inner.chars() {
            assert!(escaped || c != '"', "unescaped quote in {written}");
            escaped = !escaped && c == '\\';
        }
    }

    #[test]
    fn names_compact_only_plain_local_parts() {
        let iri = Iri::new("http://www.w3.org/ns/dcat#Dataset").unwrap();
        assert_eq!(name(&iri), "dcat:Dataset");
        let odd = Iri::new("http://www.w3.org/ns/dcat#a.b").unwrap();
        assert_eq!(name(&odd), "<http://www.w3.org/ns/dcat#a.b>");
        let other = Iri::new("https://example.org/x").unwrap();
        assert_eq!(name(&other), "<https://example.org/x>");
    }

    #[test]
    fn statements_group_by_subject_and_predicate() {
        let mut g = Graph::default();
        let s = Iri::new("https://example.org/s").unwrap();
        let p = Iri::new("http://purl.org/dc/terms/title").unwrap();
        g.value(&s, &p, Literal::lang("Titel", "de").unwrap());
        g.value(&s, &p, Literal::lang("title", "en").unwrap());
        g.link(
            &s,
            &vocab::rdf_type(),
            &Iri::new("http://www.w3.org/ns/dcat#Dataset").unwrap(),
        );
        let ttl = write(&g);
        assert!(ttl.contains(
            "<https://example.org/s>\n    dct:title \"Titel\"@de, \"title\"@en ;\n    a dcat:Dataset .\n"
        ), "{ttl}");
    }
}
