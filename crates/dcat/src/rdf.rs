//! A minimal RDF 1.1 graph: absolute IRIs, literals, triples grouped by subject.
//!
//! The catalogue is built once as a [`Graph`] and written by both serialisers
//! ([`crate::turtle`], [`crate::jsonld`]), so the Turtle and the JSON-LD are the
//! same graph by construction. No blank nodes: every node has an IRI (a
//! fragment of its dataset's IRI), which keeps the two serialisations
//! comparable triple by triple and the catalogue's nodes linkable.

use std::fmt;

/// Why a string is not usable as an IRI or a language tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RdfError {
    /// Not an absolute IRI (`scheme:rest`), or it holds a character RDF 1.1
    /// Turtle's IRIREF forbids (controls, space, `<>"{}|^` and backtick, `\`).
    #[error("not an absolute IRI without forbidden characters: {0:?}")]
    Iri(String),
    /// Not a BCP 47 language tag of the simple form `xx` or `xx-YY`.
    #[error("not a language tag: {0:?}")]
    Language(String),
}

/// An absolute IRI, checked against RDF 1.1 Turtle's IRIREF production
/// (section 6.5): no code point up to U+0020 and none of `<>"{}|^`\`` ` and `\`.
/// Such an IRI is written as is in both Turtle and JSON-LD, so no escaping is
/// needed and none can go wrong.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Iri(String);

impl Iri {
    /// Checks `s`: a scheme (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`, RFC 3986
    /// section 3.1), a colon, and no forbidden character.
    pub fn new(s: impl Into<String>) -> Result<Self, RdfError> {
        let s = s.into();
        let scheme_ok = match s.split_once(':') {
            Some((scheme, _)) => {
                scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            }
            None => false,
        };
        let chars_ok = !s
            .chars()
            .any(|c| c <= ' ' || matches!(c, '<' | '>' | '"' | '{' | '}' | '|' | '^' | '`' | '\\'));
        if scheme_ok && chars_ok {
            Ok(Self(s))
        } else {
            Err(RdfError::Iri(s))
        }
    }

    /// A constant IRI of this crate's vocabularies (checked in debug builds and by
    /// the tests over every constant).
    pub(crate) fn known(s: &str) -> Self {
        debug_assert!(Self::new(s).is_ok(), "bad constant IRI {s}");
        Self(s.to_owned())
    }

    /// This IRI with `suffix` appended (a path segment or fragment built from
    /// validated parts); fails when the result is not an IRI.
    pub fn join(&self, suffix: &str) -> Result<Self, RdfError> {
        Self::new(format!("{}{suffix}", self.0))
    }

    /// The IRI text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Iri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A literal: its lexical form with a language tag or a datatype
/// (`xsd:string` when neither, RDF 1.1 section 3.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Literal {
    /// A language-tagged string (`rdf:langString`).
    Lang {
        /// The text.
        text: String,
        /// The tag, e.g. `de`.
        lang: String,
    },
    /// A typed literal.
    Typed {
        /// The lexical form.
        lexical: String,
        /// The datatype IRI.
        datatype: Iri,
    },
    /// A plain `xsd:string`.
    Plain(String),
}

impl Literal {
    /// A language-tagged string; the tag must be `[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*`.
    pub fn lang(text: impl Into<String>, lang: &str) -> Result<Self, RdfError> {
        let ok = lang.split('-').enumerate().all(|(i, part)| {
            (1..=8).contains(&part.len())
                && if i == 0 {
                    part.chars().all(|c| c.is_ascii_alphabetic())
                } else {
                    part.chars().all(|c| c.is_ascii_alphanumeric())
                }
        });
        if ok {
            Ok(Self::Lang {
                text: text.into(),
                lang: lang.to_owned(),
            })
        } else {
            Err(RdfError::Language(lang.to_owned()))
        }
    }

    /// A typed literal.
    pub fn typed(lexical: impl Into<String>, datatype: Iri) -> Self {
        Self::Typed {
            lexical: lexical.into(),
            datatype,
        }
    }
}

/// The object of a triple.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Object {
    /// A node.
    Iri(Iri),
    /// A value.
    Literal(Literal),
}

/// One triple.
pub type Triple = (Iri, Iri, Object);

/// A graph as its subjects in order of first appearance, each with its
/// statements in insertion order (so the writers' output is stable and reads
/// like a document: catalogue first, then each dataset with its parts).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    subjects: Vec<(Iri, Vec<(Iri, Object)>)>,
}

impl Graph {
    /// Adds a statement; an exact duplicate is dropped (RDF graphs are sets).
    pub fn add(&mut self, subject: &Iri, predicate: &Iri, object: Object) {
        let i = match self.subjects.iter().position(|(s, _)| s == subject) {
            Some(i) => i,
            None => {
                self.subjects.push((subject.clone(), Vec::new()));
                self.subjects.len() - 1
            }
        };
        let statements = &mut self.subjects[i].1;
        if !statements
            .iter()
            .any(|(p, o)| p == predicate && *o == object)
        {
            statements.push((predicate.clone(), object));
        }
    }

    /// Adds `subject predicate <object>`.
    pub fn link(&mut self, subject: &Iri, predicate: &Iri, object: &Iri) {
        self.add(subject, predicate, Object::Iri(object.clone()));
    }

    /// Adds `subject predicate literal`.
    pub fn value(&mut self, subject: &Iri, predicate: &Iri, literal: Literal) {
        self.add(subject, predicate, Object::Literal(literal));
    }

    /// The subjects and their statements, in order.
    pub fn subjects(&self) -> &[(Iri, Vec<(Iri, Object)>)] {
        &self.subjects
    }

    /// Every triple, sorted (for comparisons).
    pub fn triples(&self) -> Vec<Triple> {
        let mut out: Vec<Triple> = self
            .subjects
            .iter()
            .flat_map(|(s, st)| {
                st.iter()
                    .map(move |(p, o)| (s.clone(), p.clone(), o.clone()))
            })
            .collect();
        out.sort();
        out
    }

    /// The number of triples.
    pub fn len(&self) -> usize {
        self.subjects.iter().map(|(_, st)| st.len()).sum()
    }

    /// Whether the graph has no triple.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
