//! Errors of FHIR input, with the location a person needs to fix the file.
//!
//! Invariant: no error text contains a value of the input except codes, code system
//! URIs and resource types (clipped to [`CLIP`] characters). serde's own messages
//! echo values (`invalid type: string "Mustermann"`), so they are never passed on:
//! only their position and the `expected ...` part, which comes from our types.

use oncofed_idat::{BoundError, KvnrError};
use oncofed_model::CodeSystem;
use std::fmt;

/// Longest echoed code, system or resource type; longer ones are cut with `…`.
pub const CLIP: usize = 80;

/// Cuts an echoed string to [`CLIP`] characters.
pub(crate) fn clip(s: &str) -> String {
    match s.char_indices().nth(CLIP) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// Why a FHIR file, line, Bundle entry or resource could not be mapped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MapErrorKind {
    /// The file or line holds nothing but whitespace.
    #[error("the input is empty; expected a FHIR R4 resource or Bundle as JSON")]
    Empty,
    /// The bytes are not UTF-8 (RFC 8259 §8.1, FHIR R4 §3.2.0.2).
    #[error("not UTF-8 at line {line}, column {column}; save the file as UTF-8")]
    NotUtf8 {
        /// 1-based line of the first bad byte.
        line: usize,
        /// 1-based column (in bytes) of the first bad byte.
        column: usize,
    },
    /// Not JSON (RFC 8259). `message` is serde_json's syntax message, which holds no input.
    #[error(
        "invalid JSON at line {line}, column {column}: {message}; an .ndjson file needs one complete resource per line"
    )]
    Json {
        /// 1-based line within the document or NDJSON line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected, e.g. ``expected `,` or `}` ``.
        message: String,
    },
    /// The JSON stops in the middle of a value: a truncated file or line.
    #[error(
        "the JSON ends early at line {line}, column {column}; the file looks truncated, export it again"
    )]
    Truncated {
        /// 1-based line where the input ended.
        line: usize,
        /// 1-based column where the input ended.
        column: usize,
    },
    /// The top level is not a JSON object.
    #[error("expected a JSON object with a resourceType (FHIR R4 §3.2.0.3)")]
    NotAnObject,
    /// The object has no `resourceType` (FHIR R4 §3.2.0.3).
    #[error(
        "the object has no resourceType; every FHIR resource needs one, e.g. \"resourceType\": \"Patient\""
    )]
    MissingResourceType,
    /// `resourceType` is not a FHIR R4 resource type.
    #[error(
        "{found:?} is not a FHIR R4 resource type; check spelling and capitals, e.g. \"Observation\""
    )]
    UnknownResourceType {
        /// The type found (clipped).
        found: String,
    },
    /// `Bundle.type` is absent or not one OncoFed reads.
    #[error(
        "bundle type {found:?} is not supported; use transaction, batch, collection, searchset or message"
    )]
    BundleType {
        /// The type found (clipped), empty when absent.
        found: String,
    },
    /// `Bundle.entry` without a `resource`.
    #[error("the entry has no resource; add one or remove the entry (deletes are not supported)")]
    EntryWithoutResource,
    /// An element has the wrong JSON type or value.
    #[error("wrong JSON type or value: expected {expected}")]
    WrongType {
        /// What the element must be, e.g. `a number`.
        expected: String,
    },
    /// A required element is absent.
    #[error("required element is missing; {hint}")]
    Missing {
        /// What to add.
        hint: &'static str,
    },
    /// A reference that is neither `urn:uuid:` nor `Patient/<id>`.
    #[error(
        "a subject must reference a Patient as \"urn:uuid:<uuid>\" (an entry of this Bundle) or \"Patient/<id>\""
    )]
    ReferenceFormat,
    /// A `urn:uuid:` reference that names no Patient entry of the same Bundle.
    #[error(
        "no Patient entry of this Bundle has this fullUrl; add the Patient to the Bundle or reference it as \"Patient/<id>\""
    )]
    UnresolvedReference,
    /// A resource id that is not a FHIR `id` (R4 §2.24.0.1: `[A-Za-z0-9\-\.]{1,64}`).
    #[error("a FHIR id has 1-64 characters A-Z, a-z, 0-9, '-' or '.'")]
    InvalidId,
    /// No coding of the concept is in a code system this element accepts.
    #[error("wrong code system {}; use one of: {}", found.join(", "), uris(accepted))]
    WrongCodeSystem {
        /// The `Coding.system` URIs found (clipped).
        found: Vec<String>,
        /// The systems this element accepts, in order of preference.
        accepted: &'static [CodeSystem],
    },
    /// A `CodeableConcept` without any `coding` (free text only).
    #[error(
        "the concept has no coding; add a coding in one of: {}",
        uris(accepted)
    )]
    NoCoding {
        /// The systems this element accepts.
        accepted: &'static [CodeSystem],
    },
    /// A coding without `code`.
    #[error("a coding needs a code")]
    MissingCode,
    /// A `Quantity` without a number.
    #[error("a quantity needs a numeric value")]
    MissingValue,
    /// A `Quantity` with neither `code` nor `unit`.
    #[error(
        "a quantity needs a UCUM unit code; add code (system \"http://unitsofmeasure.org\"), e.g. \"g/dL\""
    )]
    MissingUnit,
    /// Not a FHIR `date` / `dateTime` (R4 §2.24.0.1), or not a calendar date.
    #[error("not a valid FHIR date; use YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+hh:mm")]
    InvalidDate,
    /// `Patient.gender` outside `AdministrativeGender`.
    #[error("gender must be one of male, female, other, unknown")]
    InvalidGender,
    /// The KVNR (identifier system `http://fhir.de/sid/gkv/kvid-10`) is malformed.
    #[error(
        "invalid insurance number (KVNR): {0}; a KVNR is a capital letter, eight digits and a check digit (§ 290 SGB V)"
    )]
    Kvnr(KvnrError),
    /// An identifying element over its bound (`oncofed_idat::bounds`, shared with
    /// the trust centre): an absurd name or address is refused before it costs
    /// linkage work.
    #[error("{0}; identifying data this long is refused (bounds in oncofed-idat)")]
    IdatBound(BoundError),
    /// A 69548-6 observation without a gene.
    #[error(
        "a genetic variant assessment (LOINC 69548-6) needs a component with code LOINC 48018-6 whose valueCodeableConcept is an HGNC gene"
    )]
    MissingGene,
    /// A Consent the trust centre's consent registry would refuse: the rules of
    /// `oncofed-consent` (the one parser both sides run), e.g. `status` or
    /// `provision` missing. `problem` is that parser's text, which quotes no value.
    #[error(
        "invalid Consent: {problem}; the trust centre refuses such a Consent (FHIR R4 Consent, MII broad consent profile)"
    )]
    InvalidConsent {
        /// What is wrong with the element, without its value.
        problem: &'static str,
    },
    /// An element form OncoFed does not read.
    #[error("{0}")]
    Unsupported(&'static str),
}

fn uris(systems: &[CodeSystem]) -> String {
    systems
        .iter()
        .map(|s| s.uri())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A [`MapErrorKind`] with where it happened.
///
/// `Display` reads like
/// `site-1/b.ndjson line 3, entry 5 (Observation): field valueQuantity.code: a quantity needs a UCUM unit code; ...`.
#[derive(Debug, Clone, PartialEq)]
pub struct MapError {
    /// The name the caller gave the input (usually the file name).
    pub source: String,
    /// 1-based NDJSON line, as the caller counted it; `None` for a `.json` document.
    pub line: Option<usize>,
    /// 0-based index into `Bundle.entry`, when the error is inside an entry.
    pub entry: Option<usize>,
    /// The resource type of the failing resource, when known and valid.
    pub resource_type: Option<String>,
    /// FHIR path of the element relative to the resource, e.g. `subject.reference` or
    /// `valueQuantity.code`; `None` for errors of the whole input.
    pub field: Option<String>,
    /// What is wrong.
    pub kind: MapErrorKind,
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if let Some(entry) = self.entry {
            let sep = if self.line.is_some() { "," } else { "" };
            write!(f, "{sep} entry {entry}")?;
        }
        if let Some(rt) = &self.resource_type {
            write!(f, " ({rt})")?;
        }
        f.write_str(": ")?;
        if let Some(field) = &self.field {
            write!(f, "field {field}: ")?;
        }
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for MapError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.kind)
    }
}

/// An error inside one resource, before the file, line and entry are known.
#[derive(Debug)]
pub(crate) struct FieldError {
    pub field: Option<String>,
    pub kind: MapErrorKind,
}

impl FieldError {
    pub fn new(field: impl Into<String>, kind: MapErrorKind) -> Self {
        Self {
            field: Some(field.into()),
            kind,
        }
    }

    pub fn whole(kind: MapErrorKind) -> Self {
        Self { field: None, kind }
    }
}

/// Turns a serde_json error into a kind without echoing input values.
pub(crate) fn from_json(e: &serde_json::Error) -> MapErrorKind {
    use serde_json::error::Category;
    let (line, column) = (e.line(), e.column());
    let msg = e.to_string();
    let msg = msg.rfind(" at line ").map_or(msg.as_str(), |i| &msg[..i]);
    match e.classify() {
        Category::Eof => MapErrorKind::Truncated { line, column },
        Category::Syntax | Category::Io => MapErrorKind::Json {
            line,
            column,
            message: msg.to_owned(),
        },
        Category::Data => {
            let expected = msg
                .rfind(", expected ")
                .map_or("a different JSON type", |i| &msg[i + 11..]);
            MapErrorKind::WrongType {
                expected: friendly(expected),
            }
        }
    }
}

/// serde's `expecting` texts of our types, in FHIR words.
fn friendly(expected: &str) -> String {
    match expected {
        "a sequence" => "a JSON array".to_owned(),
        "f64" => "a number".to_owned(),
        "i64" | "i32" | "u32" | "u64" => "an integer".to_owned(),
        "a boolean" => "true or false".to_owned(),
        e if e.starts_with("struct ") || e == "a map" => "a JSON object".to_owned(),
        // Only the `expecting` texts of our own types reach here: no input values.
        e => clip(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_every_location_part() {
        let e = MapError {
            source: "site-1/b.ndjson".into(),
            line: Some(3),
            entry: Some(5),
            resource_type: Some("Observation".into()),
            field: Some("valueQuantity.code".into()),
            kind: MapErrorKind::MissingUnit,
        };
        assert!(
            e.to_string()
                .starts_with("site-1/b.ndjson line 3, entry 5 (Observation): field valueQuantity.code: a quantity needs a UCUM unit code")
        );
    }

    #[test]
    fn serde_values_are_not_echoed() {
        let err = serde_json::from_str::<Vec<u8>>("\"Mustermann\"").unwrap_err();
        let kind = from_json(&err);
        assert!(!kind.to_string().contains("Mustermann"), "{kind}");
        assert_eq!(
            kind,
            MapErrorKind::WrongType {
                expected: "a JSON array".into()
            }
        );
    }

    #[test]
    fn clip_cuts_long_strings() {
        assert_eq!(clip("abc"), "abc");
        assert_eq!(clip(&"ä".repeat(100)).chars().count(), CLIP + 1);
    }
}
