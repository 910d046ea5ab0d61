//! Red-team regression (issue 9, defect 6): an audit export cut at a
//! checkpoint still verified. Checkpoints witnessed outside the hub make the
//! cut, and a rewritten history, detectable.

mod common;

use common::{export_lines, hub_key, log_with};
use oncofed_audit::{
    Checkpoint, Equivocation, Observation, Problem, observe, verify_export, verify_export_witnessed,
};
use oncofed_crypto::SigningKeyPair;
use serde_json::json;

fn joined(lines: &[String]) -> String {
    lines.join("\n") + "\n"
}

#[test]
fn red_team_export_cut_at_a_checkpoint_is_caught_by_a_witness() {
    let (_dir, log) = log_with(12, 5);
    // A site polled after entry 11 and kept the newest signed checkpoint.
    let witnessed = log.checkpoint().unwrap().unwrap();
    assert_eq!(witnessed.seq, 11);
    let lines = export_lines(&log);

    // The hub cuts the trail back to the checkpoint after entry 9, dropping
    // entries 10 and 11 and the checkpoint over 11: still a valid export.
    let cut_at = lines
        .iter()
        .position(|l| l.starts_with("{\"checkpoint\":{\"seq\":9,"))
        .unwrap();
    let cut = joined(&lines[..=cut_at]);
    assert!(
        verify_export(cut.as_bytes(), &hub_key()).ok,
        "without a witness the cut is invisible (the defect)"
    );

    let report =
        verify_export_witnessed(cut.as_bytes(), &hub_key(), std::slice::from_ref(&witnessed));
    assert!(!report.ok);
    assert_eq!(
        report.first_problem,
        Some(Problem::TruncatedAfterCheckpoint {
            checkpoint_seq: 11,
            last_seq: Some(9)
        }),
        "{report}"
    );
    // The untouched export verifies against the same witness.
    let whole = joined(&lines);
    assert!(verify_export_witnessed(whole.as_bytes(), &hub_key(), &[witnessed]).ok);
}

#[test]
fn a_rewritten_history_disagrees_with_the_witness() {
    let (_dir, log) = log_with(7, 0);
    let witnessed = log.checkpoint().unwrap().unwrap();
    // The hub rebuilds the trail from scratch with entry 3 changed, and signs it.
    let (_dir2, forged) = log_with(3, 0);
    for i in 3..7u64 {
        forged
            .append("researcher:ana", "release", "q-x", json!({"i": i}))
            .unwrap();
    }
    forged.checkpoint().unwrap();
    let text = joined(&export_lines(&forged));
    assert!(verify_export(text.as_bytes(), &hub_key()).ok);
    let report = verify_export_witnessed(text.as_bytes(), &hub_key(), &[witnessed]);
    assert_eq!(
        report.first_problem,
        Some(Problem::CheckpointMismatch { seq: 6 }),
        "{report}"
    );
}

#[test]
fn a_witness_refuses_rollbacks_forks_and_forged_heads() {
    let (_dir, log) = log_with(5, 0);
    let first = log.checkpoint().unwrap().unwrap();
    assert_eq!(observe(None, &first, &hub_key()), Ok(Observation::First));
    assert_eq!(
        observe(Some(&first), &first, &hub_key()),
        Ok(Observation::Unchanged)
    );
    log.append("researcher:ana", "release", "q-9", json!({}))
        .unwrap();
    let later = log.checkpoint().unwrap().unwrap();
    assert_eq!(
        observe(Some(&first), &later, &hub_key()),
        Ok(Observation::Advanced)
    );
    assert_eq!(
        observe(Some(&later), &first, &hub_key()),
        Err(Equivocation::Rollback {
            seen: 5,
            offered: 4
        })
    );
    let hub = SigningKeyPair::from_secret_bytes(&[42; 32]);
    let fork = Checkpoint::sign(later.seq, &"0".repeat(64), later.at, &hub);
    assert_eq!(
        observe(Some(&later), &fork, &hub_key()),
        Err(Equivocation::Fork { seq: 5 })
    );
    let stranger = SigningKeyPair::generate();
    let forged = Checkpoint::sign(9, &later.hash, later.at, &stranger);
    assert_eq!(
        observe(Some(&later), &forged, &hub_key()),
        Err(Equivocation::BadSignature { seq: 9 })
    );
}
