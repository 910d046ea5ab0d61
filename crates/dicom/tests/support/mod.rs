//! What the DICOM tests share: the test files (shared data and the pydicom
//! wheel) and the attacker's reading of an object (every string, anywhere).

#![allow(dead_code)] // each test binary uses its own part

pub mod classes;
pub mod compare;
pub mod tools;

use dicom_core::header::Header;
use dicom_core::value::Value;
use dicom_core::{Tag, VR};
use dicom_object::InMemDicomObject;
use oncofed_dicom::ProfileOption;
use oncofed_dicom::profile::{Action, BasicAction, table};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// The shared pydicom files and every DICOM file inside the installed pydicom
/// wheel (CT, MR, US, RGB, JPEG, RLE, big-endian, implicit VR, no meta group).
pub fn files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/dicom-pydicom-testfiles");
    let mut out = dcm_files(&dir);
    assert!(out.len() >= 8, "{}: {out:?}", dir.display());
    let wheel = pydicom_test_files();
    let from_wheel = dcm_files(&wheel);
    assert!(
        from_wheel.len() >= 70,
        "{}: {} files",
        wheel.display(),
        from_wheel.len()
    );
    out.extend(from_wheel);
    out
}

pub fn dcm_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "dcm"))
        .collect();
    out.sort();
    out
}

#[allow(unused_imports)] // each test binary uses its own part
pub use oncofed_test_peers::{pydicom_test_files, python};

pub fn text(e: &dicom_object::mem::InMemElement) -> Option<String> {
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
    // Bytes that read as text (a UID under VR UN from an implicit-VR
    // writer) are read as an attacker would read them.
    let bytes_as_text = || match e.value() {
        Value::Primitive(dicom_core::value::PrimitiveValue::U8(b)) if b.len() <= 1024 => {
            std::str::from_utf8(b)
                .ok()
                .filter(|t| t.chars().all(|c| !c.is_control() || c == '\0'))
                .map(str::to_owned)
        }
        _ => None,
    };
    let value = if textual {
        e.value().to_str().ok().map(|s| s.into_owned())
    } else {
        bytes_as_text()
    };
    value.map(|s| s.trim_matches(['\0', ' ']).to_owned())
}

/// Values of attributes the profile does not keep (under `options`), and of
/// private attributes, anywhere in `ds`.
pub fn identifying(
    ds: &InMemDicomObject,
    options: &BTreeSet<ProfileOption>,
    out: &mut Vec<String>,
) {
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
pub fn kept(tag: Tag, options: &BTreeSet<ProfileOption>) -> bool {
    let id = (u32::from(tag.group()) << 16) | u32::from(tag.element());
    tag.group().is_multiple_of(2)
        && match table().rule(id).map(|r| r.action(options)) {
            None | Some(Action::Keep) => true,
            Some(Action::Basic(b)) => matches!(b, BasicAction::Keep),
            Some(Action::Clean(_)) => false,
        }
}

pub fn all_strings(ds: &InMemDicomObject, out: &mut Vec<(Tag, String)>) {
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

/// The identifying values of `input` that de-identification under `options`
/// must withhold: values of attributes it does not keep, minus those the
/// input also holds in an attribute it keeps (e.g. "WHOLE BODY" in Image
/// Type as well as in a description: not one it could withhold).
pub fn secrets(input: &InMemDicomObject, options: &BTreeSet<ProfileOption>) -> Vec<String> {
    let mut secrets = Vec::new();
    identifying(input, options, &mut secrets);
    let mut input_strings = Vec::new();
    all_strings(input, &mut input_strings);
    secrets.retain(|s| {
        !input_strings
            .iter()
            .any(|(tag, v)| v.contains(s.as_str()) && kept(*tag, options))
    });
    secrets
}
