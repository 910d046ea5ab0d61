//! Helpers shared by the integration tests.
#![allow(dead_code)]

use oncofed_audit::{AuditLog, VerifyReport, verify_export};
use oncofed_crypto::{PublicKey, SigningKeyPair};
use serde_json::json;

/// A log of `n` entries with a checkpoint every `every`, in a temp dir.
pub fn log_with(n: u64, every: u64) -> (tempfile::TempDir, AuditLog) {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(
        dir.path().join("audit.db"),
        SigningKeyPair::from_secret_bytes(&[42; 32]),
        every,
    )
    .unwrap();
    let actions = [
        "query.submitted",
        "query.approved",
        "task.issued",
        "result.received",
        "release",
    ];
    for i in 0..n {
        let action = actions[(i % 5) as usize];
        log.append(
            "researcher:ana",
            action,
            &format!("q-{}", i / 5),
            json!({"i": i, "site": "b", "ratio": 0.1 * i as f64}),
        )
        .unwrap();
    }
    (dir, log)
}

/// The export as lines (without newlines).
pub fn export_lines(log: &AuditLog) -> Vec<String> {
    let mut buf = Vec::new();
    log.export(&mut buf).unwrap();
    String::from_utf8(buf)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Verifies lines joined with newlines.
pub fn verify_lines(lines: &[String], key: &PublicKey) -> VerifyReport {
    let text = lines.join("\n") + "\n";
    verify_export(text.as_bytes(), key)
}

/// Index of the line holding entry `seq`.
pub fn entry_line(lines: &[String], seq: u64) -> usize {
    let prefix = format!("{{\"entry\":{{\"seq\":{seq},");
    lines.iter().position(|l| l.starts_with(&prefix)).unwrap()
}

/// Index of the line holding the checkpoint over `seq`.
pub fn checkpoint_line(lines: &[String], seq: u64) -> usize {
    let prefix = format!("{{\"checkpoint\":{{\"seq\":{seq},");
    lines.iter().position(|l| l.starts_with(&prefix)).unwrap()
}

/// The public key of the test hub.
pub fn hub_key() -> PublicKey {
    SigningKeyPair::from_secret_bytes(&[42; 32]).public_key()
}
