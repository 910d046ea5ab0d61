//! Property checks behind OncoFed's libFuzzer targets (`fuzz_targets/*.rs`).
//!
//! Each module has one `check(data: &[u8])` that a fuzz target calls with the
//! fuzzer's bytes. Besides "no panic", every check asserts properties that are
//! cheap to test and that the rest of the system relies on:
//!
//! | target | input | properties |
//! |---|---|---|
//! | [`fhir`] | a `.json` document and `.ndjson` lines | no panic in mapping and plausibility checks; errors never echo a marked input string longer than [`oncofed_fhir::CLIP`]; a one-line document and the same NDJSON line agree |
//! | [`criteria`] | feasibility `Criteria` JSON | `parse(canonical(c)) == c` and canonical JSON is a fixed point; `validate`, `describe`, `categories` never panic; a valid tree is within the limits; error paths name places in the tree, never values |
//! | [`consent`] | a FHIR `Consent` or an array of them | parse errors name an element path from a fixed vocabulary and never a value; `evaluate`, `may_recontact`, `duo_codes` never panic; decisions are independent of order, duplication, inactive consents and purpose; a later full withdrawal denies everything |
//! | [`analysis`] | an `AnalysisRequest` JSON | validation never panics; serde round trip is exact; a valid request's variables round-trip through their names; errors never echo a marked input string |
//! | [`vcf`] | bytes of a VCF (plain, gzip, BGZF) or BCF file | reading calls and sites and writing an extract never panic; errors name `<memory>` and never echo a marked input value; calls are well formed; an extract re-opens with the same build and only the new sample names |
//! | [`dicom`] | bytes of a DICOM file or bare data set | reading (Part 10 and bare), identity, de-identification with the site options, writing and Clean Pixel Data never panic; the output re-reads; the input's Patient's Name and Patient ID never flow into the output |
//! | [`crypt4gh`] | a Crypt4GH file for a fixed key; or an edit list and plaintext | header parsing, decryption (whole and streaming), header re-encryption never panic; a parsed header re-serialises to its bytes; `decrypt` and `Decryptor` agree; errors never show the key; re-encryption keeps the plaintext and locks out the old reader; encrypt→decrypt keeps exactly the edit list's bytes |
//!
//! A failed property panics, which libFuzzer reports as a crash with the input.
//! The checks are plain functions, so a crash input can be replayed in a unit test.

pub mod analysis;
pub mod consent;
pub mod criteria;
pub mod crypt4gh;
pub mod dicom;
pub mod fhir;
pub mod vcf;

use serde_json::Value;

/// Every string (object keys and string values) in a JSON value.
pub fn json_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| json_strings(x, out)),
        Value::Object(m) => {
            for (k, x) in m {
                out.push(k.clone());
                json_strings(x, out);
            }
        }
        _ => {}
    }
}

/// Marks input strings that stand for personal data in seeds and dictionaries
/// (`Erika¤Mustermann`). No error template contains it, so an error text that
/// holds a marked input string echoes that input; unmarked strings are not
/// checked, because the fuzzer learns the error templates from the check itself
/// and copies them into its inputs.
pub const MARKER: char = '¤';

/// Panics if `message` contains a [`MARKER`]ed input string of more than
/// `longer_than` characters: error texts may be logged, so they must not carry
/// input values.
pub fn assert_no_echo(message: &str, strings: &[String], longer_than: usize) {
    for s in strings {
        if s.contains(MARKER) && s.chars().count() > longer_than && message.contains(s.as_str()) {
            panic!(
                "error echoes a {}-character input string: {message}",
                s.len()
            );
        }
    }
}

/// Whether `path` is a dot-separated list of segments `name` or `name[index]`,
/// each `name` from `vocabulary` (the shape of an error location that names a
/// place in a document without quoting anything from it).
pub fn is_path(path: &str, vocabulary: &[&str]) -> bool {
    path.split('.').all(|segment| {
        let name = match segment.split_once('[') {
            Some((name, rest)) => match rest.strip_suffix(']') {
                Some(index) if !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) => {
                    name
                }
                _ => return false,
            },
            None => segment,
        };
        vocabulary.contains(&name)
    })
}
