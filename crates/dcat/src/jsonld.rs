//! A JSON-LD 1.1 writer for [`Graph`]: one `@context` of prefixes and a flat
//! `@graph` of node objects, every value in its explicit form (`@id`,
//! `@value` with `@language` or `@type`), so the document expands to exactly
//! the graph's triples without remote contexts or term definitions.

use crate::rdf::{Graph, Iri, Literal, Object};
use crate::turtle::compact;
use crate::vocab;
use serde_json::{Map, Value, json};

/// The `@context`: the catalogue's prefixes.
pub fn context() -> Value {
    let mut ctx = Map::new();
    for ns in vocab::ALL {
        ctx.insert(ns.prefix.to_owned(), Value::String(ns.iri.to_owned()));
    }
    Value::Object(ctx)
}

/// The graph as a JSON-LD document (`application/ld+json`).
pub fn write(graph: &Graph) -> Value {
    let rdf_type = vocab::rdf_type();
    let nodes: Vec<Value> = graph
        .subjects()
        .iter()
        .map(|(subject, statements)| {
            let mut node = Map::new();
            node.insert("@id".into(), Value::String(subject.as_str().to_owned()));
            let types: Vec<Value> = statements
                .iter()
                .filter(|(p, _)| *p == rdf_type)
                .filter_map(|(_, o)| match o {
                    Object::Iri(t) => Some(Value::String(name(t))),
                    Object::Literal(_) => None,
                })
                .collect();
            if !types.is_empty() {
                node.insert("@type".into(), Value::Array(types));
            }
            for (p, o) in statements {
                if *p == rdf_type && matches!(o, Object::Iri(_)) {
                    continue;
                }
                let values = node
                    .entry(name(p))
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(values) = values {
                    values.push(object(o));
                }
            }
            Value::Object(node)
        })
        .collect();
    json!({ "@context": context(), "@graph": nodes })
}

/// A compact IRI under a declared prefix, or the absolute IRI.
fn name(iri: &Iri) -> String {
    compact(iri).unwrap_or_else(|| iri.as_str().to_owned())
}

fn object(o: &Object) -> Value {
    match o {
        Object::Iri(iri) => json!({ "@id": iri.as_str() }),
        Object::Literal(Literal::Plain(text)) => json!({ "@value": text }),
        Object::Literal(Literal::Lang { text, lang }) => {
            json!({ "@value": text, "@language": lang })
        }
        Object::Literal(Literal::Typed { lexical, datatype }) => {
            json!({ "@value": lexical, "@type": name(datatype) })
        }
    }
}

/// Reads back a document [`write`] produced (the explicit form only: flat
/// `@graph`, prefixes in `@context`), for the round-trip tests.
#[cfg(test)]
pub(crate) fn read(doc: &Value) -> Result<Vec<crate::rdf::Triple>, String> {
    let ctx = doc["@context"].as_object().ok_or("no @context")?;
    let expand = |s: &str| -> Result<Iri, String> {
        let full = match s.split_once(':') {
            Some((prefix, local)) if ctx.contains_key(prefix) => {
                format!("{}{local}", ctx[prefix].as_str().ok_or("bad prefix")?)
            }
            _ => s.to_owned(),
        };
        Iri::new(full).map_err(|e| e.to_string())
    };
    let mut out = Vec::new();
    for node in doc["@graph"].as_array().ok_or("no @graph")? {
        let node = node.as_object().ok_or("node is not an object")?;
        let s = expand(node["@id"].as_str().ok_or("no @id")?)?;
        for (key, values) in node {
            match key.as_str() {
                "@id" => {}
                "@type" => {
                    for t in values.as_array().ok_or("@type is not a list")? {
                        let t = expand(t.as_str().ok_or("type is not a string")?)?;
                        out.push((s.clone(), vocab::rdf_type(), Object::Iri(t)));
                    }
                }
                p => {
                    let p = expand(p)?;
                    for v in values.as_array().ok_or("values are not a list")? {
                        let o = if let Some(id) = v.get("@id") {
                            Object::Iri(expand(id.as_str().ok_or("bad @id")?)?)
                        } else {
                            let text = v["@value"].as_str().ok_or("no @value")?.to_owned();
                            Object::Literal(match (v.get("@language"), v.get("@type")) {
                                (Some(l), None) => {
                                    Literal::lang(text, l.as_str().ok_or("bad tag")?)
                                        .map_err(|e| e.to_string())?
                                }
                                (None, Some(t)) => {
                                    Literal::typed(text, expand(t.as_str().ok_or("bad type")?)?)
                                }
                                (None, None) => Literal::Plain(text),
                                _ => return Err("both @language and @type".into()),
                            })
                        };
                        out.push((s.clone(), p.clone(), o));
                    }
                }
            }
        }
    }
    out.sort();
    Ok(out)
}
