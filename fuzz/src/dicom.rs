//! DICOM at the site (`oncofed-dicom`): bytes as a C-STORE or a folder
//! delivers them → read → identity → de-identification → Clean Pixel Data.
//!
//! The input is read with [`read::from_bare_dataset`] and with
//! [`read::from_bytes`] (Part 10, preamble optional, then a bare data set),
//! all in memory. What parses goes through [`identity::read`], then
//! [`Deidentifier::deidentify`] with the site's options
//! ([`SITE_OPTIONS`]), is written to a `Vec` and
//! [`PixelCleaner::default_rules`] cleans it. Properties:
//! - nothing panics, and reading is bounded (libFuzzer's `-timeout` and
//!   `-rss_limit_mb`/`-malloc_limit_mb` catch a slow or huge read);
//! - the de-identified output, when written, re-reads with
//!   [`read::from_bytes`];
//! - Patient's Name and Patient ID are the pseudonym in the output;
//! - the input's Patient's Name and Patient ID values never reach the
//!   output: each value of at least [`MIN_NEEDLE`] characters (trimmed;
//!   with a letter or digit, without control characters or the mask
//!   character `*`) occurs in the written output bytes no more often than in
//!   the output of the same object with both values blanked, which the
//!   de-identifier writes without ever seeing them. When the input holds the
//!   value nowhere else (the usual case for a fuzzed value) and the blanked
//!   output does not hold it by chance (a run of UID digits, a shifted date,
//!   a marker text), that is: not at all. The comparison with the blanked
//!   object is what makes the check free of false alarms: libFuzzer's
//!   comparison hooks would otherwise steer a name towards the texts the
//!   de-identifier writes itself.
//!
//! Not checked: a value the input also carries in another element (Other
//! Patient IDs, a description) is in both outputs when a profile row keeps
//! that element; the profile's rows are the crate's own tests' business.
//! `elsewhere` counts such inputs in a failure message only.

use dicom_core::header::Header;
use dicom_core::value::Value;
use dicom_core::{PrimitiveValue, Tag};
use dicom_object::mem::InMemElement;
use dicom_object::{FileDicomObject, InMemDicomObject};
use oncofed_dicom::{Deidentifier, PixelCleaner, ProfileOption, Subject, identity, read};
use std::sync::OnceLock;

/// The options a site de-identifies with (`oncofed-node`'s imaging setup).
pub const SITE_OPTIONS: [ProfileOption; 3] = [
    ProfileOption::RetainLongitudinalModifiedDates,
    ProfileOption::RetainPatientCharacteristics,
    ProfileOption::CleanDescriptors,
];

/// Shortest Patient's Name or Patient ID value the leak checks look for
/// (shorter ones occur by chance in any output).
pub const MIN_NEEDLE: usize = 4;

/// The pseudonym written into every output; lower case and `#`, which no
/// DICOM code string holds, so a fuzzed name rarely is a substring of it.
const PSEUDONYM: &str = "psn#fuzz";

const PATIENT_NAME: Tag = Tag(0x0010, 0x0010);
const PATIENT_ID: Tag = Tag(0x0010, 0x0020);

fn deidentifier() -> &'static Deidentifier {
    static DE: OnceLock<Deidentifier> = OnceLock::new();
    DE.get_or_init(|| Deidentifier::new(SITE_OPTIONS, &[7; 32]).expect("valid site options"))
}

fn cleaner() -> &'static PixelCleaner {
    static PC: OnceLock<PixelCleaner> = OnceLock::new();
    PC.get_or_init(PixelCleaner::default_rules)
}

/// Reads `data` both ways and runs every object that parses through the pipeline.
pub fn check(data: &[u8]) {
    if let Ok(file) = read::from_bare_dataset(data) {
        pipeline(file);
    }
    if let Ok(file) = read::from_bytes(data) {
        pipeline(file);
    }
}

/// The trimmed string value of `tag` in the top-level data set.
fn text(ds: &InMemDicomObject, tag: Tag) -> Option<String> {
    let v = ds.get(tag)?.value().to_str().ok()?;
    let v = v.trim_matches(['\0', ' ']);
    (!v.is_empty()).then(|| v.to_owned())
}

/// The person's identifying strings, as the node gives them to the
/// descriptor cleaner (`oncofed-node` `imaging/batch.rs`).
fn identifiers(ds: &InMemDicomObject) -> Vec<String> {
    let Ok(id) = identity::read(ds) else {
        // The node quarantines such an object; the pipeline still runs here,
        // with the raw values, so that every de-identification path is fuzzed.
        return [PATIENT_NAME, PATIENT_ID]
            .into_iter()
            .filter_map(|t| text(ds, t))
            .collect();
    };
    id.descriptor_words()
}

/// De-identifies `file` for `subject`, cleans its pixels and writes it;
/// `None` when the object is refused (a refusal is an outcome, not a bug).
fn deidentify_and_write(
    file: FileDicomObject<InMemDicomObject>,
    subject: &Subject,
) -> Option<(FileDicomObject<InMemDicomObject>, Vec<u8>)> {
    let (mut out, _report) = deidentifier().deidentify(file, subject).ok()?;
    let mut bytes = Vec::new();
    out.write_all(&mut bytes).ok()?;
    let reread = read::from_bytes(&bytes);
    assert!(
        reread.is_ok(),
        "the de-identified output does not re-read: {}",
        reread.err().map(|e| e.to_string()).unwrap_or_default()
    );
    // Clean Pixel Data after de-identification, as the node runs it; a
    // refusal quarantines the object.
    let _ = cleaner().clean(&mut out);
    Some((out, bytes))
}

fn pipeline(file: FileDicomObject<InMemDicomObject>) {
    let subject = Subject {
        pseudonym: PSEUDONYM.into(),
        date_offset_days: -17,
        identifiers: identifiers(&file),
    };
    let needles: Vec<String> = [PATIENT_NAME, PATIENT_ID]
        .into_iter()
        .filter_map(|t| text(&file, t))
        .filter(|v| {
            v.chars().count() >= MIN_NEEDLE
                && v.chars().any(char::is_alphanumeric)
                && !v.chars().any(|c| c.is_control() || c == '*')
        })
        .collect();
    let input_elsewhere = elsewhere(&file, &needles);
    let mut blanked = file.clone();
    let Some((out, bytes)) = deidentify_and_write(file, &subject) else {
        return;
    };
    assert_eq!(text(&out, PATIENT_NAME).as_deref(), Some(PSEUDONYM));
    assert_eq!(text(&out, PATIENT_ID).as_deref(), Some(PSEUDONYM));
    if needles.is_empty() {
        return;
    }
    for tag in [PATIENT_NAME, PATIENT_ID] {
        if let Some(e) = blanked.get(tag) {
            let vr = e.vr();
            blanked.put(InMemElement::new(tag, vr, PrimitiveValue::from("")));
        }
    }
    let baseline = deidentify_and_write(blanked, &subject).map(|(_, b)| b);
    for (needle, elsewhere) in needles.iter().zip(input_elsewhere) {
        let n = needle.as_bytes();
        let found = count(&bytes, n);
        let in_baseline = baseline.as_ref().map_or(0, |b| count(b, n));
        assert!(
            found <= in_baseline,
            "a Patient's Name or Patient ID value flows into the output: {found} times, \
             {in_baseline} without it (also elsewhere in the input: {elsewhere})"
        );
    }
}

/// Occurrences of `needle` in `hay` (overlapping).
fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// For each needle: whether the input holds it outside Patient's Name and
/// Patient ID, in any value at any depth (as text or as raw bytes).
fn elsewhere(file: &InMemDicomObject, needles: &[String]) -> Vec<bool> {
    let mut values: Vec<Vec<u8>> = Vec::new();
    all_values(file, true, &mut values);
    needles
        .iter()
        .map(|n| values.iter().any(|v| count(v, n.as_bytes()) > 0))
        .collect()
}

fn all_values(ds: &InMemDicomObject, top: bool, out: &mut Vec<Vec<u8>>) {
    for e in ds {
        if top && (e.tag() == PATIENT_NAME || e.tag() == PATIENT_ID) {
            continue;
        }
        match e.value() {
            Value::Sequence(s) => s.items().iter().for_each(|i| all_values(i, false, out)),
            Value::PixelSequence(p) => {
                out.extend(p.fragments().iter().cloned());
                out.push(
                    p.offset_table()
                        .iter()
                        .flat_map(|x| x.to_le_bytes())
                        .collect(),
                );
            }
            Value::Primitive(p) => {
                out.push(p.to_bytes().into_owned());
                out.push(p.to_str().into_owned().into_bytes());
            }
        }
    }
}
