//! Smears, cells and cell labels: written atomically with their patients,
//! idempotent by key, labels replaced per (cell, role, expert), the training
//! listing's validated label the newest one, deleted with their patient
//! (returning the cells' object keys), counted for reports.

use super::Backend;
use super::store::{patient, psn};
use chrono::{NaiveDate, TimeZone, Utc};
use oncofed_model::*;
use oncofed_store::*;

fn smear(key: &str, n: u8) -> SmearRow {
    SmearRow {
        smear_key: key.into(),
        pseudonym: psn(n),
        specimen: Specimen::BoneMarrow,
        stain: "May-Grünwald-Giemsa".into(),
        scanner: "Metafer 4".into(),
        magnification: "100x".into(),
        collected: NaiveDate::from_ymd_opt(2024, 3, 1),
    }
}

fn cell(key: &str, smear: &str, lab: Option<CellClass>) -> CellRow {
    CellRow {
        cell_key: key.into(),
        smear_key: smear.into(),
        object_key: format!("cells/sha256/{key}"),
        width: 64,
        height: 48,
        lab_label: lab,
    }
}

fn label(cell: &str, expert: &str, class: CellClass, role: LabelRole, hour: u32) -> CellLabelRow {
    CellLabelRow {
        cell_key: cell.into(),
        expert: expert.into(),
        label: class,
        role,
        method: (role == LabelRole::Validated).then(|| "consensus".into()),
        at: Utc.with_ymd_and_hms(2025, 1, 2, hour, 0, 0).unwrap(),
    }
}

pub fn cells_round_trip_labels_replace_and_go_with_their_patient(backend: &dyn Backend) {
    let mut store = backend.open();
    let batch = WriteBatch {
        patients: vec![patient(1), patient(2)],
        smears: vec![smear("s1", 1), smear("s2", 2)],
        cells: vec![
            cell("c1", "s1", Some(CellClass::Myeloblast)),
            cell("c2", "s1", None),
            cell("c3", "s2", Some(CellClass::Lymphocyte)),
        ],
        cell_labels: vec![
            label("c2", "dr-a", CellClass::Monocyte, LabelRole::Expert, 1),
            label(
                "c2",
                "consensus",
                CellClass::Monocyte,
                LabelRole::Validated,
                1,
            ),
        ],
        ..Default::default()
    };
    store.write(&batch).unwrap();
    store.write(&batch).unwrap(); // idempotent
    assert_eq!(store.smears_of(&[psn(1)]).unwrap(), vec![smear("s1", 1)]);
    assert_eq!(store.all_smears().unwrap().len(), 2);
    assert_eq!(
        store.cells_of(&["s1".into()]).unwrap(),
        vec![
            cell("c1", "s1", Some(CellClass::Myeloblast)),
            cell("c2", "s1", None)
        ]
    );
    assert_eq!(
        store
            .cells_by_key(&["c3".into(), "c1".into(), "nowhere".into()])
            .unwrap(),
        vec![
            cell("c1", "s1", Some(CellClass::Myeloblast)),
            cell("c3", "s2", Some(CellClass::Lymphocyte))
        ]
    );
    // A later validated label of the same (cell, role, expert) replaces the first.
    store
        .write(&WriteBatch {
            cell_labels: vec![label(
                "c2",
                "consensus",
                CellClass::Myelocyte,
                LabelRole::Validated,
                5,
            )],
            ..Default::default()
        })
        .unwrap();
    let labels = store.cell_labels_of(&["c2".into()]).unwrap();
    assert_eq!(labels.len(), 2);
    assert_eq!(labels[1].label, CellClass::Myelocyte);
    assert_eq!(
        labels[1].at,
        Utc.with_ymd_and_hms(2025, 1, 2, 5, 0, 0).unwrap()
    );
    let listing = store.cell_listing().unwrap();
    let validated: Vec<(&str, Option<CellClass>)> = listing
        .iter()
        .map(|l| (l.cell.cell_key.as_str(), l.validated))
        .collect();
    assert_eq!(
        validated,
        vec![
            ("c1", None),
            ("c2", Some(CellClass::Myelocyte)),
            ("c3", None)
        ]
    );
    let stats = store.cell_stats().unwrap();
    assert_eq!((stats.smears, stats.cells, stats.labels), (2, 3, 2));
    assert_eq!(
        stats.cells_per_smear,
        vec![("s1".into(), 2), ("s2".into(), 1)]
    );

    // A cell of an unknown smear fails its whole batch.
    let bad = WriteBatch {
        smears: vec![smear("s3", 1)],
        cells: vec![cell("c9", "nowhere", None)],
        ..Default::default()
    };
    assert!(store.write(&bad).is_err());
    assert_eq!(store.all_smears().unwrap().len(), 2);

    let deleted = store.delete_patient(&psn(1)).unwrap();
    assert_eq!(
        deleted.cells,
        vec!["cells/sha256/c1".to_owned(), "cells/sha256/c2".to_owned()]
    );
    assert!(store.smears_of(&[psn(1)]).unwrap().is_empty());
    let stats = store.cell_stats().unwrap();
    assert_eq!((stats.smears, stats.cells, stats.labels), (1, 1, 0));
}
