//! The FHIR mapper (`oncofed-fhir`): a `.json` document and `.ndjson` lines.
//!
//! Properties:
//! - [`oncofed_fhir::map_document`], [`oncofed_fhir::map_ndjson_line`],
//!   [`oncofed_fhir::Batch::merge`] and the quality report's
//!   [`oncofed_fhir::quality::plausibility_issues`] never panic;
//! - an error's text never contains a [`crate::MARKER`]ed input string longer
//!   than [`oncofed_fhir::CLIP`] characters (the crate echoes only codes, systems and
//!   resource types, clipped; names and addresses never);
//! - a document without a line break and the same text as one NDJSON line are
//!   one unit: both map or both fail, with the same error kind and field, and
//!   give the same numbers of patients, facts, consents and resources.

use crate::{assert_no_echo, json_strings};
use oncofed_fhir::{Batch, CLIP, MapError, map_document, map_ndjson_line, quality};

/// Runs the mapper over `data` as a document and as NDJSON lines; see the module docs.
pub fn check(data: &[u8]) {
    // Strings of the input (when it is JSON), for the no-echo check.
    let strings = strings_of(data);
    let document = map_document(data, "fuzz.json");
    match &document {
        Ok(batch) => {
            let _ = quality::plausibility_issues(batch);
        }
        Err(e) => no_echo(e, &strings),
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut all = Batch::default();
    for (i, line) in text.lines().enumerate() {
        match map_ndjson_line(line, "fuzz.ndjson", i + 1) {
            Ok(batch) => all.merge(batch),
            Err(e) => no_echo(&e, &strings_of(line.as_bytes())),
        }
    }
    let _ = quality::plausibility_issues(&all);

    // One unit, two framings.
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    if body.contains('\n') || body.trim_matches([' ', '\t', '\n', '\r']).is_empty() {
        return;
    }
    let line = map_ndjson_line(text, "fuzz.ndjson", 1);
    match (&document, &line) {
        (Ok(a), Ok(b)) => assert_eq!(
            counts(a),
            counts(b),
            "document and NDJSON line map differently"
        ),
        (Err(a), Err(b)) => assert_eq!(
            (&a.kind, &a.field, &a.entry),
            (&b.kind, &b.field, &b.entry),
            "document and NDJSON line fail differently"
        ),
        (a, b) => panic!(
            "document and NDJSON line disagree: document {:?}, line {:?}",
            a.as_ref().map(counts),
            b.as_ref().map(counts)
        ),
    }
}

fn strings_of(data: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        json_strings(&v, &mut out);
    }
    out
}

fn no_echo(e: &MapError, strings: &[String]) {
    assert_no_echo(&e.to_string(), strings, CLIP);
}

/// What a batch holds, in numbers (source ids differ by framing: they name the line).
fn counts(b: &Batch) -> (usize, usize, usize, usize) {
    (
        b.patients.len(),
        b.facts.len(),
        b.consents.len(),
        b.resources,
    )
}
