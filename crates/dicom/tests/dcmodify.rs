//! Files made identifying with dcmtk's `dcmodify`, as a red team would: a
//! name, birth date, insurance number, record number, address, phone, a
//! hospital, a referring physician and an operator, written into the patient
//! module, into free text, into Other Patient IDs Sequence, into a nested
//! Request Attributes Sequence and into a private block. After
//! de-identification with the site's options, `dcmdump +L` (every element of
//! every sequence item, long values in full) shows
//! none of them (nor any word of the name), `dciodvfy` reports no error on an
//! output whose input had none, and the markers are there.

mod support;

use oncofed_dicom::{Deidentifier, ProfileOption, Subject};
use std::process::Command;

/// The identifying values the red team writes, with where they go.
const WRITES: &[(&str, &str)] = &[
    ("(0010,0010)", "Mustermann^Erika^Gabriele"),
    ("(0010,0020)", "MRN-4711-0815"),
    ("(0010,0030)", "19640812"),
    ("(0010,1000)", "A123456780"),
    ("(0010,1040)", "Heidestrasse 17, 51147 Koeln"),
    ("(0010,2154)", "0221 4711 0815"),
    ("(0008,0080)", "Uniklinik Essen Nord"),
    ("(0008,0090)", "Dr. Sommerfeld^Hubertus"),
    ("(0008,1070)", "Kowalczyk^Jadwiga"),
    ("(0008,1030)", "CT Thorax Mustermann Erika 12.08.1964"),
    ("(0020,4000)", "Pat. Mustermann, Tel 0221 4711 0815"),
    ("(0010,1002)[0].(0010,0020)", "X110022334"),
    ("(0040,0275)[0].(0040,1001)", "Mustermann-Anforderung-77"),
    ("(0009,0010)", "ACME RED TEAM 1.0"),
    ("(0009,1001)", "Erika Mustermann privat"),
];

/// Strings that must not appear anywhere in an output's dump.
const SECRETS: &[&str] = &[
    "Mustermann",
    "Erika",
    "Gabriele",
    "MRN-4711",
    "19640812",
    "A123456780",
    "Heidestrasse",
    "51147",
    "4711 0815",
    "Uniklinik",
    "Sommerfeld",
    "Hubertus",
    "Kowalczyk",
    "Jadwiga",
    "12.08.1964",
    "X110022334",
    "Anforderung",
    "ACME RED",
];

#[test]
fn values_written_with_dcmodify_do_not_survive() {
    let de = Deidentifier::new(
        [
            ProfileOption::RetainLongitudinalModifiedDates,
            ProfileOption::RetainPatientCharacteristics,
            ProfileOption::CleanDescriptors,
        ],
        &[8; 32],
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut modified, mut valid, mut failures) = (0, 0, Vec::new());
    let inputs: Vec<_> = support::dcm_files(&support::pydicom_test_files())
        .into_iter()
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() < 2 << 20))
        .collect();
    for path in &inputs {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let target = dir.path().join(&name);
        std::fs::copy(path, &target).unwrap();
        let mut args: Vec<String> = vec!["-nb".into(), "-q".into()];
        for (tag, value) in WRITES {
            args.push("-i".into());
            args.push(format!("{tag}={value}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let status = Command::new("dcmodify")
            .args(&args)
            .arg(&target)
            .status()
            .expect("dcmodify: run scripts/setup-peers");
        if !status.success() {
            continue; // dcmodify cannot write every file (e.g. no meta group)
        }
        if !support::tools::dump(&target).contains("Mustermann") {
            continue; // dcmdump cannot show this file's values (its character set)
        }
        let Ok(input) = oncofed_dicom::read::open(&target) else {
            continue; // quarantined by the node: see basic_profile.rs
        };
        modified += 1;
        let subject = Subject {
            pseudonym: "PSN-RED-TEAM".into(),
            date_offset_days: -123,
            // What the trust centre knows of the person (the node passes it on).
            identifiers: vec!["Mustermann".into(), "Erika".into(), "Gabriele".into()],
        };
        let (output, _) = de.deidentify(input, &subject).unwrap();
        let out_path = dir.path().join(format!("out-{name}"));
        output.write_to_file(&out_path).unwrap();
        let dump = support::tools::dump(&out_path);
        for secret in SECRETS {
            if dump.contains(secret) {
                failures.push(format!("{name}: {secret:?} survives"));
            }
        }
        for marker in ["(0012,0062)", "(0012,0063)", "(0012,0064)", "(0028,0303)"] {
            if !dump.contains(marker) {
                failures.push(format!("{name}: marker {marker} missing"));
            }
        }
        if support::tools::iod_errors(&target).is_empty() {
            valid += 1;
            for e in support::tools::iod_errors(&out_path) {
                failures.push(format!("{name}: dciodvfy: {e}"));
            }
        }
    }
    eprintln!(
        "{modified} of {} wheel files modified and checked, {valid} of them valid IODs",
        inputs.len()
    );
    assert!(modified >= 40, "only {modified} files could be modified");
    assert!(valid >= 3, "only {valid} valid inputs");
    assert!(failures.is_empty(), "{failures:#?}");
}
