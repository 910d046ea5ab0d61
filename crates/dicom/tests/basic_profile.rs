//! De-identification of the DICOM test files shipped with pydicom
//! (`../shared/data/dicom-pydicom-testfiles`), played as an attacker would
//! read the output: every string anywhere in the output, sequences and all,
//! is searched for every identifying value of the input.

use dicom_core::header::Header;
use dicom_core::value::Value;
use dicom_core::{Tag, VR};
use dicom_object::{InMemDicomObject, OpenFileOptions};
use oncofed_dicom::profile::{Action, BasicAction, table};
use oncofed_dicom::{Deidentifier, ProfileOption, Subject};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/dicom-pydicom-testfiles");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (shared/data beside the repository)", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "dcm"))
        .collect();
    out.sort();
    assert!(out.len() >= 8, "{out:?}");
    out
}

fn text(e: &dicom_object::mem::InMemElement) -> Option<String> {
    let textual = matches!(
        e.vr(),
        VR::AE
            | VR::AS
            | VR::CS
            | VR::DA
            | VR::DS
            | VR::DT
            | VR::IS
            | VR::LO
            | VR::LT
            | VR::PN
            | VR::SH
            | VR::ST
            | VR::TM
            | VR::UC
            | VR::UI
            | VR::UR
            | VR::UT
    );
    textual
        .then(|| e.value().to_str().ok())
        .flatten()
        .map(|s| s.trim_matches(['\0', ' ']).to_owned())
}

/// Values of attributes the profile does not keep (under `options`), and of
/// private attributes, anywhere in `ds`.
fn identifying(ds: &InMemDicomObject, options: &BTreeSet<ProfileOption>, out: &mut Vec<String>) {
    for e in ds.iter() {
        let tag = e.tag();
        let id = (u32::from(tag.group()) << 16) | u32::from(tag.element());
        let action = if tag.group() % 2 == 1 {
            Some(Action::Basic(BasicAction::Remove))
        } else {
            table().rule(id).map(|r| r.action(options))
        };
        let gone = matches!(action, Some(Action::Basic(b)) if !matches!(b, BasicAction::Keep | BasicAction::ReferencesWithUids));
        if let Value::Sequence(seq) = e.value() {
            for item in seq.items() {
                identifying(item, options, out);
            }
        } else if gone && let Some(v) = text(e) {
            for part in v.split('\\') {
                // Short codes ("M", "CT") and small numbers (a weight, a
                // dose) say nothing alone; names, ids, dates and UIDs do.
                let digits = part.bytes().filter(u8::is_ascii_digit).count();
                let letters = part.chars().any(char::is_alphabetic);
                let telling = part.len() >= 4 && (letters || digits >= 8);
                if telling && !out.contains(&part.to_owned()) {
                    out.push(part.to_owned());
                }
            }
        }
    }
}

/// Whether the profile keeps attribute `tag` as it is under `options`.
fn kept(tag: Tag, options: &BTreeSet<ProfileOption>) -> bool {
    let id = (u32::from(tag.group()) << 16) | u32::from(tag.element());
    tag.group().is_multiple_of(2)
        && match table().rule(id).map(|r| r.action(options)) {
            None | Some(Action::Keep) => true,
            Some(Action::Basic(b)) => matches!(b, BasicAction::Keep),
            Some(Action::Clean(_)) => false,
        }
}

fn all_strings(ds: &InMemDicomObject, out: &mut Vec<(Tag, String)>) {
    for e in ds.iter() {
        if let Value::Sequence(seq) = e.value() {
            for item in seq.items() {
                all_strings(item, out);
            }
        } else if let Some(v) = text(e) {
            out.push((e.tag(), v));
        }
    }
}

fn subject() -> Subject {
    Subject {
        pseudonym: "PSN-7F3A".into(),
        date_offset_days: -137,
        identifiers: vec![],
    }
}

fn run(options: &[ProfileOption]) {
    let de = Deidentifier::new(options.iter().copied(), &[7; 32]).unwrap();
    for path in files() {
        let input =
            oncofed_dicom::read::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut secrets = Vec::new();
        identifying(&input, de.options(), &mut secrets);
        // A value the input also holds in an attribute the profile keeps
        // (e.g. "WHOLE BODY" in Image Type as well as in a description) is
        // not one de-identification could withhold.
        let mut input_strings = Vec::new();
        all_strings(&input, &mut input_strings);
        secrets.retain(|s| {
            !input_strings
                .iter()
                .any(|(tag, v)| v.contains(s.as_str()) && kept(*tag, de.options()))
        });

        let (output, report) = de.deidentify(input.clone(), &subject()).unwrap();
        // Written and read back: a valid Part 10 file.
        let mut bytes = Vec::new();
        output.write_all(&mut bytes).unwrap();
        let reread = OpenFileOptions::new().from_reader(&bytes[128..]).unwrap();
        let mut strings = Vec::new();
        all_strings(&reread, &mut strings);
        for secret in &secrets {
            for (tag, value) in &strings {
                assert!(
                    !value.contains(secret.as_str()),
                    "{}: identifying value {secret:?} survives in {tag} = {value:?} ({report:?})",
                    path.display()
                );
            }
        }
        let get = |g, e| reread.get(Tag(g, e)).and_then(text);
        assert_eq!(get(0x0010, 0x0020).as_deref(), Some("PSN-7F3A"));
        assert_eq!(get(0x0010, 0x0010).as_deref(), Some("PSN-7F3A"));
        assert_eq!(get(0x0012, 0x0062).as_deref(), Some("YES"));
        assert!(get(0x0012, 0x0063).is_some());
        assert!(reread.get(Tag(0x0012, 0x0064)).is_some());
        let sop = get(0x0008, 0x0018).unwrap();
        assert!(sop.starts_with("2.25."), "{sop}");
        assert_eq!(
            reread
                .meta()
                .media_storage_sop_instance_uid()
                .trim_end_matches('\0'),
            sop
        );
        assert!(
            !reread.iter().any(|e| e.tag().group() % 2 == 1),
            "private attributes left"
        );
    }
}

#[test]
fn basic_profile_leaves_no_identifying_value() {
    run(&[]);
}

#[test]
fn research_options_leave_no_identifying_value() {
    run(&[
        ProfileOption::RetainLongitudinalModifiedDates,
        ProfileOption::RetainPatientCharacteristics,
        ProfileOption::CleanDescriptors,
    ]);
}

/// The same study through two de-identifiers with the same key (two
/// processes, two runs): identical UIDs and dates; intervals survive.
#[test]
fn uids_and_date_offsets_are_stable_and_intervals_survive() {
    let options = [ProfileOption::RetainLongitudinalModifiedDates];
    let a = Deidentifier::new(options, &[9; 32]).unwrap();
    let b = Deidentifier::new(options, &[9; 32]).unwrap();
    let other_key = Deidentifier::new(options, &[8; 32]).unwrap();
    let path = files()
        .into_iter()
        .find(|p| p.ends_with("CT_small.dcm"))
        .unwrap();
    let input = oncofed_dicom::read::open(&path).unwrap();
    let (x, _) = a.deidentify(input.clone(), &subject()).unwrap();
    let (y, _) = b.deidentify(input.clone(), &subject()).unwrap();
    let (z, _) = other_key.deidentify(input.clone(), &subject()).unwrap();
    let uid = |o: &InMemDicomObject, e| o.get(Tag(0x0020, e)).and_then(text).unwrap();
    for element in [0x000D, 0x000E, 0x0052] {
        assert_eq!(uid(&x, element), uid(&y, element));
        assert_ne!(uid(&x, element), uid(&z, element));
    }
    let date = |o: &InMemDicomObject, g, e| {
        let t = o.get(Tag(g, e)).and_then(text).unwrap();
        chrono::NaiveDate::parse_from_str(&t, "%Y%m%d").unwrap()
    };
    assert_eq!(date(&x, 0x0008, 0x0020), date(&y, 0x0008, 0x0020));
    assert_eq!(
        date(&input, 0x0008, 0x0020) - date(&x, 0x0008, 0x0020),
        chrono::Duration::days(137)
    );
    assert_eq!(
        date(&x, 0x0008, 0x0023) - date(&x, 0x0008, 0x0020),
        date(&input, 0x0008, 0x0023) - date(&input, 0x0008, 0x0020)
    );
    assert_eq!(
        x.get(Tag(0x0028, 0x0303)).and_then(text).as_deref(),
        Some("MODIFIED")
    );
}
