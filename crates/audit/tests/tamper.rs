//! Each kind of tampering with an export is detected and names the right entry.

mod common;

use common::{checkpoint_line, entry_line, export_lines, hub_key, log_with, verify_lines};
use oncofed_audit::{AuditEntry, Checkpoint, ExportRecord, Problem, VerifyReport};
use oncofed_crypto::SigningKeyPair;
use serde_json::json;

/// Twelve entries, checkpoints after 4 and 9, and one on demand after 11.
fn exported() -> Vec<String> {
    let (_dir, log) = log_with(12, 5);
    log.checkpoint().unwrap();
    export_lines(&log)
}

fn entry_at(lines: &[String], seq: u64) -> AuditEntry {
    match serde_json::from_str(&lines[entry_line(lines, seq)]).unwrap() {
        ExportRecord::Entry(e) => e,
        ExportRecord::Checkpoint(_) => unreachable!(),
    }
}

fn line_of(entry: &AuditEntry) -> String {
    serde_json::to_string(&ExportRecord::Entry(entry.clone())).unwrap()
}

fn problem(report: &VerifyReport) -> Problem {
    assert!(!report.ok);
    report.first_problem.clone().unwrap()
}

#[test]
fn clean_chain_verifies() {
    let report = verify_lines(&exported(), &hub_key());
    assert!(report.ok, "{report}");
    assert_eq!(
        (report.entries, report.checkpoints, report.signed_through),
        (12, 3, Some(11))
    );
    assert!(report.to_string().contains("all signed"), "{report}");
}

#[test]
fn edited_field_names_the_entry() {
    let mut lines = exported();
    let i = entry_line(&lines, 5);
    lines[i] = lines[i].replace("researcher:ana", "researcher:bob");
    let report = verify_lines(&lines, &hub_key());
    assert_eq!(problem(&report), Problem::Edited { seq: 5 });
    assert_eq!(
        report.to_string(),
        "audit log NOT valid: entry 5 was edited: its content does not match its hash"
    );
}

#[test]
fn edited_and_rehashed_entry_breaks_the_next_link() {
    let mut lines = exported();
    let mut e = entry_at(&lines, 5);
    e.details = json!({"i": 5, "site": "z"});
    e.hash = e.compute_hash();
    let i = entry_line(&lines, 5);
    lines[i] = line_of(&e);
    assert_eq!(
        problem(&verify_lines(&lines, &hub_key())),
        Problem::BrokenLink { seq: 6 }
    );
}

#[test]
fn deleted_entry_names_the_gap() {
    let mut lines = exported();
    lines.remove(entry_line(&lines, 5));
    assert_eq!(
        problem(&verify_lines(&lines, &hub_key())),
        Problem::Deleted {
            after_seq: Some(4),
            next_seq: 6
        }
    );
}

#[test]
fn deleted_first_entry() {
    let mut lines = exported();
    lines.remove(entry_line(&lines, 0));
    let report = verify_lines(&lines, &hub_key());
    assert_eq!(
        problem(&report),
        Problem::Deleted {
            after_seq: None,
            next_seq: 1
        }
    );
}

#[test]
fn forged_entry_with_a_taken_number_is_inserted() {
    // The forger links to entry 4 and hashes correctly; entry 5 follows.
    let mut lines = exported();
    let mut forged = entry_at(&lines, 5);
    forged.action = "release".into();
    forged.subject = "q-99".into();
    forged.hash = forged.compute_hash();
    for before in [5, 6] {
        let mut tampered = lines.clone();
        tampered.insert(entry_line(&lines, before), line_of(&forged));
        assert_eq!(
            problem(&verify_lines(&tampered, &hub_key())),
            Problem::Inserted { seq: 5 },
            "before {before}"
        );
    }
    // A verbatim copy of an entry is an insertion too.
    let copy = lines[entry_line(&lines, 3)].clone();
    lines.insert(entry_line(&lines, 7), copy);
    assert_eq!(
        problem(&verify_lines(&lines, &hub_key())),
        Problem::Inserted { seq: 3 }
    );
}

#[test]
fn forged_entry_with_a_fresh_number_is_inserted() {
    let mut lines = exported();
    let mut forged = entry_at(&lines, 4);
    forged.seq = 500;
    forged.hash = forged.compute_hash();
    lines.insert(entry_line(&lines, 5), line_of(&forged));
    assert_eq!(
        problem(&verify_lines(&lines, &hub_key())),
        Problem::Inserted { seq: 500 }
    );
}

#[test]
fn swapped_entries_are_reordered() {
    let mut lines = exported();
    let (a, b) = (entry_line(&lines, 4), entry_line(&lines, 5));
    // Entry 4 is followed by its checkpoint line; swap the entry lines only.
    lines.swap(a, b);
    let report = verify_lines(&lines, &hub_key());
    assert_eq!(problem(&report), Problem::Reordered { seq: 4 });
    assert!(report.to_string().contains("entry 4"), "{report}");
}

#[test]
fn entry_moved_later_or_earlier_is_reordered() {
    let lines = exported();
    let mut later = lines.clone();
    let moved = later.remove(entry_line(&later, 2));
    later.insert(entry_line(&later, 8), moved);
    assert_eq!(
        problem(&verify_lines(&later, &hub_key())),
        Problem::Reordered { seq: 2 }
    );

    let mut earlier = lines;
    let moved = earlier.remove(entry_line(&earlier, 8));
    earlier.insert(entry_line(&earlier, 2), moved);
    assert_eq!(
        problem(&verify_lines(&earlier, &hub_key())),
        Problem::Reordered { seq: 2 }
    );
}

#[test]
fn tail_deleted_after_a_checkpoint_is_truncation() {
    let (_dir, log) = log_with(12, 5); // checkpoints after 4 and 9, none on 10 and 11
    let lines = export_lines(&log);
    // Delete entries 7.. but keep the checkpoint lines.
    let kept: Vec<String> = lines
        .iter()
        .filter(|l| !l.starts_with("{\"entry\"") || entry_seq(l) < 7)
        .cloned()
        .collect();
    let report = verify_lines(&kept, &hub_key());
    assert_eq!(
        problem(&report),
        Problem::TruncatedAfterCheckpoint {
            checkpoint_seq: 9,
            last_seq: Some(6)
        }
    );

    // The documented limit: removing the tail together with its checkpoint
    // goes unnoticed, and the report says what is signed.
    let cut = entry_line(&lines, 10);
    let report = verify_lines(&lines[..cut], &hub_key());
    assert!(report.ok, "{report}");
    assert_eq!(report.signed_through, Some(9));
    let cut = checkpoint_line(&lines, 9);
    let report = verify_lines(&lines[..cut], &hub_key());
    assert!(report.ok && report.signed_through == Some(4), "{report}");
}

fn entry_seq(line: &str) -> u64 {
    match serde_json::from_str(line).unwrap() {
        ExportRecord::Entry(e) => e.seq,
        ExportRecord::Checkpoint(c) => c.seq,
    }
}

#[test]
fn forged_checkpoint_signature_is_detected() {
    let mut lines = exported();
    let i = checkpoint_line(&lines, 9);
    let ExportRecord::Checkpoint(real) = serde_json::from_str(&lines[i]).unwrap() else {
        unreachable!()
    };
    let mallory = SigningKeyPair::generate();
    let forged = Checkpoint::sign(9, &real.hash, real.at, &mallory);
    lines[i] = serde_json::to_string(&ExportRecord::Checkpoint(forged)).unwrap();
    let report = verify_lines(&lines, &hub_key());
    assert_eq!(problem(&report), Problem::BadCheckpoint { seq: 9 });
    assert_eq!(report.signed_through, Some(4));
}

#[test]
fn consistently_rewritten_chain_is_caught_by_checkpoint() {
    // Edit entry 2 and re-hash and re-link everything after it: the chain is
    // self-consistent, only the signed checkpoint at 4 disagrees.
    let lines = exported();
    let mut entries: Vec<AuditEntry> = (0..12).map(|s| entry_at(&lines, s)).collect();
    entries[2].subject = "q-forged".into();
    for s in 2..12 {
        if s > 2 {
            entries[s].prev_hash = entries[s - 1].hash.clone();
        }
        entries[s].hash = entries[s].compute_hash();
    }
    let mut tampered = lines.clone();
    for (s, e) in entries.iter().enumerate() {
        let i = entry_line(&tampered, s as u64);
        tampered[i] = line_of(e);
    }
    assert_eq!(
        problem(&verify_lines(&tampered, &hub_key())),
        Problem::CheckpointMismatch { seq: 4 }
    );
}

#[test]
fn wrong_trusted_key_fails_at_first_checkpoint() {
    let other = SigningKeyPair::generate().public_key();
    assert_eq!(
        problem(&verify_lines(&exported(), &other)),
        Problem::BadCheckpoint { seq: 4 }
    );
}

#[test]
fn malformed_line_is_reported_by_number() {
    let mut lines = exported();
    lines[3] = "{\"entry\":{\"seq\":3}}".into();
    let report = verify_lines(&lines, &hub_key());
    assert!(
        matches!(problem(&report), Problem::Malformed { line: 4, .. }),
        "{report}"
    );
    lines[3] = "not json".into();
    assert!(matches!(
        problem(&verify_lines(&lines, &hub_key())),
        Problem::Malformed { line: 4, .. }
    ));
}
