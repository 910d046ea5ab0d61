//! Damaged input never panics: bytes of real files, cut and flipped at
//! random, are read (as Part 10 and as bare data sets) and, when they parse,
//! de-identified; every outcome is a value or an error.

use oncofed_dicom::{Deidentifier, ProfileOption, Subject};
use proptest::prelude::*;
use std::io::Write;
use std::path::PathBuf;

fn sample(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/dicom-pydicom-testfiles")
        .join(name);
    std::fs::read(path).unwrap()
}

fn damaged() -> impl Strategy<Value = Vec<u8>> {
    let files = prop::sample::select(vec![
        "CT_small.dcm",
        "MR_small_implicit.dcm",
        "rtstruct.dcm",
    ]);
    (
        files,
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(name, flips, cut)| {
            let mut bytes = sample(name);
            for (at, value) in flips {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            let keep = cut.index(bytes.len() + 1).max(bytes.len() / 2);
            bytes.truncate(keep);
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn damaged_files_give_errors_not_panics(bytes in damaged()) {
        let de = Deidentifier::new([ProfileOption::RetainLongitudinalModifiedDates, ProfileOption::CleanDescriptors], &[1; 32]).unwrap();
        let subject = Subject { pseudonym: "P".into(), date_offset_days: -3, identifiers: vec!["Doe^John".into()] };
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&bytes).unwrap();
        if let Ok(object) = oncofed_dicom::read::open(file.path()) {
            let (out, _) = de.deidentify(object, &subject).unwrap();
            let mut written = Vec::new();
            let _ = out.write_all(&mut written);
        }
        let _ = oncofed_dicom::read::from_bare_dataset(&bytes);
    }
}
