//! Image rows and quarantine entries: written atomically with patients and facts,
//! idempotent by SOP Instance UID, counted per series and study, deleted with
//! their patient (returning their object keys), summed for reports.

use super::Backend;
use super::store::{fact, patient, psn};
use chrono::{NaiveDate, TimeZone, Utc};
use oncofed_model::*;
use oncofed_store::*;

/// An image of patient `n` in `study`/`series`, 1000 bytes per SOP number.
pub fn image(n: u8, study: &str, series: &str, sop: &str, modality: &str) -> ImageRow {
    ImageRow {
        sop_uid: format!("2.25.{sop}"),
        pseudonym: psn(n),
        study_uid: format!("2.25.{study}"),
        series_uid: format!("2.25.{series}"),
        modality: modality.into(),
        body_part: Some("CHEST".into()),
        study_date: NaiveDate::from_ymd_opt(2021, 3, 4),
        object_key: format!("sha256-{sop}"),
        bytes: 1000 * sop.parse::<u64>().unwrap_or(1),
        face_risk: false,
    }
}

fn quarantined(code: &str) -> QuarantineRow {
    QuarantineRow {
        source: "C-STORE from AE MODALITY1".into(),
        reason_code: code.into(),
        reason: format!("refused: {code}"),
        at: Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap(),
    }
}

pub fn images_are_written_with_facts_and_rewrites_are_idempotent(backend: &dyn Backend) {
    let mut store = backend.open();
    let mut head = image(1, "10", "11", "3", "MR");
    head.body_part = Some("HEAD".into());
    head.face_risk = true;
    head.study_date = None;
    let batch = WriteBatch {
        patients: vec![patient(1), patient(2)],
        facts: vec![fact(1, "a", "C34.1", DataCategory::Clinical)],
        images: vec![
            image(2, "20", "21", "5", "CT"),
            head.clone(),
            image(1, "10", "12", "2", "CT"),
            image(1, "10", "11", "1", "MR"),
        ],
        quarantine: vec![quarantined("unreadable")],
        ..Default::default()
    };
    let out = store.write(&batch).unwrap();
    assert_eq!(
        out,
        WriteOutcome {
            patients_new: 2,
            facts_new: 1,
            facts_existing: 0,
            images_new: 4
        }
    );
    // Ordered by pseudonym, study, series, SOP instance.
    let mut expected = vec![
        image(1, "10", "11", "1", "MR"),
        head.clone(),
        image(1, "10", "12", "2", "CT"),
        image(2, "20", "21", "5", "CT"),
    ];
    expected.sort_by(|a, b| {
        (
            a.pseudonym.as_str(),
            &a.study_uid,
            &a.series_uid,
            &a.sop_uid,
        )
            .cmp(&(
                b.pseudonym.as_str(),
                &b.study_uid,
                &b.series_uid,
                &b.sop_uid,
            ))
    });
    assert_eq!(
        store.images_of(&[psn(2), psn(1), psn(1)]).unwrap(),
        expected
    );
    assert_eq!(
        store.images_of(&[psn(2)]).unwrap(),
        [image(2, "20", "21", "5", "CT")]
    );
    assert!(store.images_of(&[psn(9)]).unwrap().is_empty());
    // The same batch again: nothing new, nothing doubled (quarantine entries are
    // events and are recorded again).
    let again = store.write(&batch).unwrap();
    assert_eq!((again.images_new, again.facts_existing), (0, 1));
    assert_eq!(store.stats().unwrap().images, 4);
    // An update by SOP Instance UID changes the row in place; within one batch
    // the last occurrence wins.
    let mut moved = head.clone();
    moved.object_key = "sha256-new".into();
    moved.bytes = 7;
    let mut stale = moved.clone();
    stale.bytes = 1;
    let out = store
        .write(&WriteBatch {
            images: vec![stale, moved.clone(), image(1, "10", "11", "4", "MR")],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(out.images_new, 1);
    let rows = store.images_of(&[psn(1)]).unwrap();
    assert_eq!(rows.len(), 4);
    assert!(rows.contains(&moved) && !rows.contains(&head));
}

pub fn an_image_of_an_unknown_patient_fails_the_whole_batch(backend: &dyn Backend) {
    let mut store = backend.open();
    let batch = WriteBatch {
        patients: vec![patient(1)],
        facts: vec![fact(1, "a", "C34.1", DataCategory::Clinical)],
        images: vec![
            image(1, "10", "11", "1", "CT"),
            image(9, "90", "91", "9", "CT"),
        ],
        quarantine: vec![quarantined("no-patient-id")],
        ..Default::default()
    };
    assert!(store.write(&batch).is_err());
    let stats = store.stats().unwrap();
    assert_eq!((stats.patients, stats.facts, stats.images), (0, 0, 0));
    assert_eq!(store.image_stats().unwrap(), ImageStats::default());
    // An image of a patient written earlier is fine without the patient in the batch.
    store
        .write(&WriteBatch {
            patients: vec![patient(1)],
            ..Default::default()
        })
        .unwrap();
    let out = store
        .write(&WriteBatch {
            images: vec![image(1, "10", "11", "1", "CT")],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(out.images_new, 1);
}

pub fn instance_and_series_counts(backend: &dyn Backend) {
    let mut store = backend.open();
    store
        .write(&WriteBatch {
            patients: vec![patient(1), patient(2)],
            images: vec![
                image(1, "10", "11", "1", "CT"),
                image(1, "10", "11", "2", "CT"),
                image(1, "10", "12", "3", "CT"),
                image(1, "13", "14", "4", "MR"),
                image(2, "20", "21", "5", "US"),
            ],
            ..Default::default()
        })
        .unwrap();
    let uids = |v: &[&str]| v.iter().map(|u| format!("2.25.{u}")).collect::<Vec<_>>();
    let series = store
        .series_instance_counts(&uids(&["11", "12", "14", "21", "99"]))
        .unwrap();
    let want: std::collections::HashMap<String, u64> = uids(&["11", "12", "14", "21", "99"])
        .into_iter()
        .zip([2, 1, 1, 1, 0])
        .collect();
    assert_eq!(series, want);
    let studies = store
        .study_series_counts(&uids(&["10", "13", "20", "99"]))
        .unwrap();
    let want: std::collections::HashMap<String, u64> = uids(&["10", "13", "20", "99"])
        .into_iter()
        .zip([2, 1, 1, 0])
        .collect();
    assert_eq!(studies, want);
    assert!(store.series_instance_counts(&[]).unwrap().is_empty());
}

pub fn deleting_a_patient_returns_their_object_keys(backend: &dyn Backend) {
    let mut store = backend.open();
    // Two instances with the same content share an object key: returned once.
    let mut twin = image(1, "10", "11", "2", "CT");
    twin.object_key = "sha256-1".into();
    store
        .write(&WriteBatch {
            patients: vec![patient(1), patient(2)],
            facts: vec![fact(1, "a", "C34.1", DataCategory::Clinical)],
            images: vec![
                image(1, "10", "11", "3", "CT"),
                image(1, "10", "11", "1", "CT"),
                twin,
                image(2, "20", "21", "5", "CT"),
            ],
            ..Default::default()
        })
        .unwrap();
    let deleted = store.delete_patient(&psn(1)).unwrap();
    assert_eq!(
        deleted,
        Deleted {
            patient: true,
            facts: 1,
            images: vec!["sha256-1".into(), "sha256-3".into()],
            cells: vec![],
            sequences: vec![],
        }
    );
    assert!(store.images_of(&[psn(1)]).unwrap().is_empty());
    assert_eq!(store.images_of(&[psn(2)]).unwrap().len(), 1);
    assert_eq!(store.stats().unwrap().images, 1);
    assert_eq!(
        store
            .series_instance_counts(&["2.25.11".to_owned()])
            .unwrap()["2.25.11"],
        0
    );
    assert_eq!(store.delete_patient(&psn(1)).unwrap(), Deleted::default());
    // A person without images returns no keys.
    store
        .write(&WriteBatch {
            patients: vec![patient(3)],
            ..Default::default()
        })
        .unwrap();
    assert!(store.delete_patient(&psn(3)).unwrap().images.is_empty());
}

pub fn image_stats_count_modalities_bytes_and_quarantine_reasons(backend: &dyn Backend) {
    let mut store = backend.open();
    assert_eq!(store.image_stats().unwrap(), ImageStats::default());
    store
        .write(&WriteBatch {
            patients: vec![patient(1)],
            images: vec![
                image(1, "10", "11", "1", "CT"),
                image(1, "10", "11", "2", "CT"),
                image(1, "13", "14", "4", "MR"),
            ],
            quarantine: vec![
                quarantined("unreadable"),
                quarantined("burned-in-text"),
                quarantined("unreadable"),
            ],
            ..Default::default()
        })
        .unwrap();
    // Quarantine needs no patient: a batch of quarantine entries alone.
    store
        .write(&WriteBatch {
            quarantine: vec![quarantined("trustee-refused")],
            ..Default::default()
        })
        .unwrap();
    drop(store);
    let store = backend.open();
    assert_eq!(
        store.image_stats().unwrap(),
        ImageStats {
            by_modality: vec![("CT".into(), 2, 3000), ("MR".into(), 1, 4000)],
            quarantined_by_reason: vec![
                ("burned-in-text".into(), 1),
                ("trustee-refused".into(), 1),
                ("unreadable".into(), 2),
            ],
        }
    );
    assert_eq!(store.stats().unwrap().images, 3);
}
