//! The site's operational log (issue 17, item 4): ingest runs with their errors
//! (bounded), quality reports kept for trends, quarantine entries newest first,
//! executed withdrawal orders with their receipts (a re-run updates the row and
//! keeps a confirmation). Everything survives reopening.

use super::Backend;
use chrono::{TimeZone, Utc};
use oncofed_store::site_log::{MAX_ERROR_BYTES, MAX_RUN_ERRORS};
use oncofed_store::*;

fn run(source: &str, minute: u32, errors: Vec<String>) -> IngestRunRow {
    IngestRunRow {
        id: 0,
        started_at: Utc.with_ymd_and_hms(2026, 12, 4, 10, minute, 0).unwrap(),
        finished_at: Utc.with_ymd_and_hms(2026, 12, 4, 10, minute, 30).unwrap(),
        source: source.into(),
        outcome: "completed".into(),
        units_accepted: 3,
        units_rejected: errors.len() as u64,
        resources: 120,
        patients: 3,
        errors_total: errors.len() as u64,
        errors,
    }
}

pub fn ingest_runs_and_quality_reports_round_trip_newest_first(backend: &dyn Backend) {
    let mut store = backend.open();
    assert!(store.ingest_runs(10).unwrap().is_empty());
    let first = store.record_ingest_run(&run("fhir", 1, vec![])).unwrap();
    let bad = vec![
        "bad.ndjson:2: entry 0 (Patient), element birthDate: not a valid FHIR date".to_string(),
    ];
    let second = store
        .record_ingest_run(&run("fhir+dicom", 2, bad.clone()))
        .unwrap();
    assert!(second > first);
    // A run with more and longer errors than kept is cut, its total kept.
    let many: Vec<String> = (0..MAX_RUN_ERRORS + 5)
        .map(|i| format!("{i}:{}", "é".repeat(MAX_ERROR_BYTES)))
        .collect();
    let mut big = run("fhir", 3, many.clone());
    big.outcome = "stopped".into();
    store.record_ingest_run(&big).unwrap();
    let q1 = store
        .record_quality_run(
            Utc.with_ymd_and_hms(2026, 12, 4, 11, 0, 0).unwrap(),
            r#"{"patients":3}"#,
        )
        .unwrap();
    let q2 = store
        .record_quality_run(
            Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap(),
            r#"{"patients":5}"#,
        )
        .unwrap();
    assert!(q2 > q1);
    drop(store);

    let store = backend.open();
    let runs = store.ingest_runs(10).unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0].outcome, "stopped");
    assert_eq!(runs[0].errors.len(), MAX_RUN_ERRORS);
    assert_eq!(runs[0].errors_total, (MAX_RUN_ERRORS + 5) as u64);
    assert!(
        runs[0]
            .errors
            .iter()
            .all(|e| e.len() <= MAX_ERROR_BYTES + '…'.len_utf8())
    );
    assert_eq!(runs[1].id, second);
    assert_eq!(runs[1].errors, bad);
    assert_eq!(runs[1].source, "fhir+dicom");
    assert_eq!(runs[1].units_rejected, 1);
    assert_eq!(
        runs[1].started_at,
        Utc.with_ymd_and_hms(2026, 12, 4, 10, 2, 0).unwrap()
    );
    assert_eq!(runs[2].id, first);
    assert_eq!(store.ingest_runs(1).unwrap().len(), 1);
    let reports = store.quality_runs(10).unwrap();
    assert_eq!(
        reports.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![q2, q1]
    );
    assert_eq!(reports[0].report, r#"{"patients":5}"#);
    assert_eq!(
        reports[1].at,
        Utc.with_ymd_and_hms(2026, 12, 4, 11, 0, 0).unwrap()
    );
}

pub fn quarantine_entries_and_withdrawals_are_listed_newest_first(backend: &dyn Backend) {
    let mut store = backend.open();
    let at = |m| Utc.with_ymd_and_hms(2026, 12, 4, 9, m, 0).unwrap();
    let entry = |code: &str, m| QuarantineRow {
        source: format!("/import/{code}.dcm"),
        reason_code: code.into(),
        reason: format!("refused: {code}"),
        at: at(m),
    };
    store
        .write(&WriteBatch {
            quarantine: vec![entry("unreadable", 1), entry("burned-in-text", 2)],
            ..Default::default()
        })
        .unwrap();
    let listed = store.quarantine_entries(10).unwrap();
    assert_eq!(
        listed,
        vec![entry("burned-in-text", 2), entry("unreadable", 1)]
    );
    assert_eq!(store.quarantine_entries(1).unwrap().len(), 1);

    let order = |id, confirmed| WithdrawalRow {
        order_id: id,
        reason: "withdrawal".into(),
        ordered_at: at(10),
        executed_at: at(11),
        patients_deleted: 1,
        facts_deleted: 12,
        objects_deleted: 2,
        remaining: 0,
        receipt_digest: format!("digest-{id}"),
        confirmed_at: confirmed,
    };
    store.record_withdrawal(&order(7, Some(at(12)))).unwrap();
    store.record_withdrawal(&order(8, None)).unwrap();
    // Order 7 runs again (its receipt was lost): the new counts replace the
    // old, the confirmation already recorded is kept.
    let mut again = order(7, None);
    again.executed_at = at(20);
    again.patients_deleted = 0;
    again.facts_deleted = 0;
    store.record_withdrawal(&again).unwrap();
    drop(store);
    let store = backend.open();
    let listed = store.withdrawals(10).unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], order(8, None));
    assert_eq!(listed[1].order_id, 7);
    assert_eq!(listed[1].executed_at, at(20));
    assert_eq!(listed[1].facts_deleted, 0);
    assert_eq!(listed[1].confirmed_at, Some(at(12)));
}
