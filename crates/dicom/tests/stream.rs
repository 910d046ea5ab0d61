//! `deidentify_file` (pixel data copied from the input when it can be)
//! writes the same object as `deidentify` followed by a write, for every
//! pydicom wheel file dicom-rs reads.

mod support;

use oncofed_dicom::{Deidentifier, ProfileOption, Subject};
use support::compare::flatten;

#[test]
fn deidentify_file_writes_what_deidentify_writes() {
    let de = Deidentifier::new(
        [
            ProfileOption::RetainLongitudinalModifiedDates,
            ProfileOption::CleanDescriptors,
        ],
        &[4; 32],
    )
    .unwrap();
    let subject = Subject {
        pseudonym: "PSN-STREAM".into(),
        date_offset_days: 41,
        identifiers: vec![],
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut compared, mut streamed) = (0, 0);
    for path in support::dcm_files(&support::pydicom_test_files()) {
        let Ok(input) = oncofed_dicom::read::open(&path) else {
            continue;
        };
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let (a, b) = (
            dir.path().join(format!("a-{name}")),
            dir.path().join(format!("b-{name}")),
        );
        let (memory, report) = de.deidentify(input, &subject).unwrap();
        memory.write_to_file(&a).unwrap();
        let (file_report, copied) = de.deidentify_file(&path, &b, &subject).unwrap();
        assert_eq!(report, file_report, "{name}");
        let (a, b) = (
            oncofed_dicom::read::open(&a).unwrap(),
            oncofed_dicom::read::open(&b).unwrap_or_else(|e| panic!("{name}: {e}")),
        );
        let (fa, fb) = (flatten(&a), flatten(&b));
        for (p, leaf) in &fa {
            let other = fb.get(p).map(|l| &l.val);
            assert_eq!(Some(&leaf.val), other, "{name} {p}");
        }
        assert_eq!(fa.len(), fb.len(), "{name}");
        assert_eq!(a.meta().transfer_syntax(), b.meta().transfer_syntax());
        compared += 1;
        streamed += usize::from(copied);
    }
    eprintln!("{compared} files, pixel data copied from the file in {streamed}");
    assert!(compared >= 70 && streamed >= 10, "{compared} / {streamed}");
}
