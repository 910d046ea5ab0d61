//! The SQLite-backed log: appends, checkpoints, reopening, export.

mod common;

use common::{export_lines, hub_key, log_with, verify_lines};
use oncofed_audit::{AuditError, AuditLog, ExportRecord, GENESIS_HASH, verify_export};
use oncofed_crypto::SigningKeyPair;
use serde_json::json;
use std::sync::Arc;

#[test]
fn entries_are_numbered_and_linked() {
    let (_dir, log) = log_with(12, 100);
    let entries = log.entries(0, 100).unwrap();
    assert_eq!(entries.len(), 12);
    assert_eq!(entries[0].prev_hash, GENESIS_HASH);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.seq, i as u64);
        assert!(e.hash_is_valid());
        if i > 0 {
            assert_eq!(e.prev_hash, entries[i - 1].hash);
        }
    }
    assert_eq!(log.entries(10, 5).unwrap().len(), 2);
    assert_eq!(log.entries(3, 2).unwrap()[0].seq, 3);
}

#[test]
fn details_are_stored_canonically() {
    let (_dir, log) = log_with(0, 100);
    let a = log
        .append(
            "hub",
            "release",
            "q-1",
            json!({"b": 1, "a": {"y": 2, "x": [1.5, null]}}),
        )
        .unwrap();
    let stored = &log.entries(0, 1).unwrap()[0];
    assert_eq!(&a, stored);
    assert_eq!(
        oncofed_audit::canonical_json(&stored.details),
        r#"{"a":{"x":[1.5,null],"y":2},"b":1}"#
    );
}

#[test]
fn checkpoints_every_n_and_on_demand() {
    let (_dir, log) = log_with(23, 10);
    let cps = log.checkpoints(0, 100).unwrap();
    assert_eq!(cps.iter().map(|c| c.seq).collect::<Vec<_>>(), [9, 19]);
    for cp in &cps {
        cp.verify(&hub_key()).unwrap();
    }
    let on_demand = log.checkpoint().unwrap().unwrap();
    assert_eq!(on_demand.seq, 22);
    assert_eq!(on_demand.hash, log.entries(22, 1).unwrap()[0].hash);
    // Idempotent while no entry is added.
    assert_eq!(log.checkpoint().unwrap().unwrap(), on_demand);
    assert_eq!(log.checkpoints(0, 100).unwrap().len(), 3);
}

#[test]
fn checkpoint_of_empty_log_is_none() {
    let (_dir, log) = log_with(0, 100);
    assert_eq!(log.checkpoint().unwrap(), None);
    let report = verify_export(&b""[..], &hub_key());
    assert!(report.ok, "{report}");
}

#[test]
fn empty_actor_or_action_is_refused() {
    let (_dir, log) = log_with(0, 100);
    assert!(matches!(
        log.append("", "release", "q", json!(null)),
        Err(AuditError::EmptyField { field: "actor" })
    ));
    assert!(matches!(
        log.append("a", "", "q", json!(null)),
        Err(AuditError::EmptyField { field: "action" })
    ));
}

#[test]
fn reopening_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let key = SigningKeyPair::from_secret_bytes(&[42; 32]);
    {
        let log = AuditLog::open(&path, key.clone(), 3).unwrap();
        for _ in 0..4 {
            log.append("hub", "task.issued", "q-1", json!({})).unwrap();
        }
    }
    let log = AuditLog::open(&path, key, 3).unwrap();
    let e = log.append("hub", "release", "q-1", json!({})).unwrap();
    assert_eq!(e.seq, 4);
    let report = log.verify_stored().unwrap();
    assert!(report.ok, "{report}");
    assert_eq!(report.signed_through, Some(2));
}

#[test]
fn reopening_with_another_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    drop(AuditLog::open(&path, SigningKeyPair::generate(), 100).unwrap());
    let err = AuditLog::open(&path, SigningKeyPair::generate(), 100).unwrap_err();
    assert!(matches!(err, AuditError::KeyMismatch { .. }), "{err}");
}

#[test]
fn sql_updates_and_deletes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let log = AuditLog::open(&path, SigningKeyPair::generate(), 1).unwrap();
    log.append("hub", "release", "q-1", json!({})).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    for sql in [
        "UPDATE entries SET actor = 'x'",
        "DELETE FROM entries",
        "UPDATE checkpoints SET hash = 'x'",
        "DELETE FROM checkpoints",
    ] {
        let err = conn.execute(sql, []).unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

#[test]
fn concurrent_appends_form_one_chain() {
    let (_dir, log) = log_with(0, 7);
    let log = Arc::new(log);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for i in 0..25 {
                    log.append(
                        &format!("site:{t}"),
                        "result.received",
                        &format!("q-{i}"),
                        json!({"t": t}),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let report = log.verify_stored().unwrap();
    assert!(report.ok, "{report}");
    assert_eq!(report.entries, 100);
    assert_eq!(report.checkpoints, 14);
}

#[test]
fn export_is_tagged_json_lines_with_checkpoints_after_their_entry() {
    let (_dir, log) = log_with(7, 3);
    let lines = export_lines(&log);
    let kinds: Vec<&str> = lines
        .iter()
        .map(|l| match serde_json::from_str::<ExportRecord>(l).unwrap() {
            ExportRecord::Entry(_) => "e",
            ExportRecord::Checkpoint(_) => "c",
        })
        .collect();
    assert_eq!(kinds.concat(), "eeeceeece");
    let report = verify_lines(&lines, &hub_key());
    assert!(report.ok, "{report}");
    assert_eq!(
        (report.entries, report.checkpoints, report.signed_through),
        (7, 2, Some(5))
    );
    assert!(report.to_string().contains("not signed"), "{report}");
}

#[test]
fn report_serialises_for_the_cli() {
    let (_dir, log) = log_with(5, 100);
    log.checkpoint().unwrap();
    let mut lines = export_lines(&log);
    lines.remove(2);
    let report = verify_lines(&lines, &hub_key());
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json,
        json!({"ok": false, "entries": 4, "checkpoints": 1, "signed_through": null,
               "first_problem": {"kind": "deleted", "after_seq": 1, "next_seq": 3}})
    );
}

#[test]
fn append_all_chains_like_appends_and_is_all_or_none() {
    let (_dir, log) = log_with(2, 3);
    let batch: Vec<_> = (0..5)
        .map(|i| ("hub", "task.issued", "q-9", json!({ "n": i })))
        .collect();
    let appended = log.append_all(batch).unwrap();
    assert_eq!(
        appended.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [2, 3, 4, 5, 6]
    );
    let entries = log.entries(0, 100).unwrap();
    assert_eq!(&entries[2..], &appended[..]);
    for w in entries.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash);
    }
    // Checkpoints after entries 2 and 5 (every 3), as single appends would sign them.
    let seqs: Vec<u64> = log
        .checkpoints(0, 10)
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .collect();
    assert_eq!(seqs, [2, 5]);
    assert!(log.verify_stored().unwrap().ok);

    let refused = log.append_all([
        ("hub", "task.issued", "q-10", json!({})),
        ("", "task.issued", "q-10", json!({})),
    ]);
    assert!(matches!(
        refused,
        Err(AuditError::EmptyField { field: "actor" })
    ));
    assert_eq!(
        log.entries(0, 100).unwrap().len(),
        7,
        "nothing of the refused batch"
    );
}

#[test]
fn append_checkpointed_signs_the_new_head_in_the_same_transaction() {
    let (_dir, log) = log_with(1, 100);
    let (entry, checkpoint) = log
        .append_checkpointed("site-1", "task.claimed", "site-1", json!({ "tasks": 1 }))
        .unwrap();
    assert_eq!((entry.seq, checkpoint.seq), (1, 1));
    assert_eq!(checkpoint.hash, entry.hash);
    assert!(checkpoint.verify(&log.public_key()).is_ok());
    assert_eq!(
        log.checkpoint().unwrap(),
        Some(checkpoint),
        "the head is signed already"
    );
    assert!(log.verify_stored().unwrap().ok);
    // On a period's end the period's own checkpoint is the one returned.
    let (_dir, every) = log_with(2, 3);
    let (entry, checkpoint) = every
        .append_checkpointed("hub", "release", "q", json!({}))
        .unwrap();
    assert_eq!((entry.seq, checkpoint.seq), (2, 2));
    assert_eq!(every.checkpoints(0, 10).unwrap().len(), 1);
}

#[test]
fn concurrent_appends_share_commits_and_each_gets_its_own_entry() {
    let (_dir, log) = log_with(0, 7);
    let log = Arc::new(log);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                (0..40)
                    .map(|i| {
                        let e = log
                            .append("site", "result.received", "q", json!({ "t": t, "i": i }))
                            .unwrap();
                        assert_eq!(e.details, json!({ "t": t, "i": i }));
                        e
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut returned: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    returned.sort_by_key(|e| e.seq);
    let stored = log.entries(0, 1000).unwrap();
    assert_eq!(
        stored, returned,
        "every caller got the entry stored under its seq"
    );
    assert_eq!(stored.len(), 320);
    assert!(stored.iter().enumerate().all(|(i, e)| e.seq == i as u64));
    assert!(log.verify_stored().unwrap().ok);
    assert_eq!(log.checkpoints(0, 100).unwrap().len(), 320 / 7);
}
