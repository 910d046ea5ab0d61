//! De-identification of the DICOM test files shipped with pydicom
//! (`../shared/data/dicom-pydicom-testfiles` and the installed wheel), played
//! as an attacker would read the output: every string anywhere in the
//! output, sequences and all, is searched for every identifying value of the
//! input.

mod support;

use dicom_core::Tag;
use dicom_core::header::Header;
use dicom_object::{InMemDicomObject, OpenFileOptions};
use oncofed_dicom::{Deidentifier, ProfileOption, Subject};
use support::{all_strings, files, secrets, text};

fn subject() -> Subject {
    Subject {
        pseudonym: "PSN-7F3A".into(),
        date_offset_days: -137,
        identifiers: vec![],
    }
}

fn run(options: &[ProfileOption]) {
    let de = Deidentifier::new(options.iter().copied(), &[7; 32]).unwrap();
    // Files dicom-rs cannot parse go to quarantine at the node, with the reason.
    let mut unreadable = Vec::new();
    for path in files() {
        let input = match oncofed_dicom::read::open(&path) {
            Ok(input) => input,
            Err(e) => {
                unreadable.push(format!(
                    "{}: {e}",
                    path.file_name().unwrap().to_string_lossy()
                ));
                continue;
            }
        };
        let secrets = secrets(&input, de.options());

        let (output, report) = de.deidentify(input.clone(), &subject()).unwrap();
        // Written and read back: a valid Part 10 file.
        let mut bytes = Vec::new();
        output.write_all(&mut bytes).unwrap();
        let reread = OpenFileOptions::new()
            .from_reader(&bytes[128..])
            .unwrap_or_else(|e| {
                panic!(
                    "{}: output unreadable: {e} {:?}",
                    path.display(),
                    output.meta()
                )
            });
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
        let Some(sop) = get(0x0008, 0x0018) else {
            // A data set without SOP Instance UID (some test files): the
            // meta group's is replaced all the same.
            let meta_uid = reread.meta().media_storage_sop_instance_uid().to_owned();
            assert!(
                meta_uid.starts_with("2.25."),
                "{}: {meta_uid}",
                path.display()
            );
            continue;
        };
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
    // Of pydicom's files, seven are deliberately damaged or exotic and go to
    // quarantine with their reason: two truncated, three with a broken or
    // missing meta group, a JPEG and an undefined-length UN sequence
    // dicom-rs does not parse (December 2026: MR_truncated, rtplan_truncated,
    // meta_missing_tsyntax, no_meta, no_meta_group_length, SC_rgb_jpeg,
    // UN_sequence).
    eprintln!("unreadable (quarantined): {unreadable:#?}");
    assert!(unreadable.len() <= 7, "{unreadable:#?}");
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
