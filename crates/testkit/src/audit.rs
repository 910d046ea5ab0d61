//! Reading a hub's audit export the way an auditor does.

use oncofed_audit::{AuditEntry, Checkpoint, VerifyReport};
use oncofed_crypto::PublicKey;
use std::path::Path;

/// An audit export, parsed and verified.
#[derive(Debug, Clone)]
pub struct AuditReading {
    /// The export as the hub sent it (JSON Lines).
    pub text: String,
    /// Its entries in order.
    pub entries: Vec<AuditEntry>,
    /// Its checkpoints in order.
    pub checkpoints: Vec<Checkpoint>,
    /// The verification against the hub key and the witnessed checkpoints.
    pub report: VerifyReport,
    /// The sites whose witness file was read, and the entry each covers.
    pub witnesses: Vec<(String, u64)>,
}

impl AuditReading {
    /// Parses `text` and verifies it against `hub_key` and the checkpoints in
    /// the witness files `witnesses` (site, path; a missing file is skipped:
    /// a site that answered nothing has witnessed nothing).
    pub fn read(
        text: String,
        hub_key: &PublicKey,
        witnesses: impl IntoIterator<Item = (String, std::path::PathBuf)>,
    ) -> anyhow::Result<Self> {
        let mut witnessed = Vec::new();
        let mut seen = Vec::new();
        for (site, path) in witnesses {
            if let Some(checkpoint) = read_witness(&path)? {
                seen.push((site, checkpoint.seq));
                witnessed.push(checkpoint);
            }
        }
        let report = oncofed_audit::verify_export_witnessed(text.as_bytes(), hub_key, &witnessed);
        let export = oncofed_audit::read_export(text.as_bytes())
            .map_err(|p| anyhow::anyhow!("audit export unreadable: {p}"))?;
        Ok(Self {
            text,
            entries: export.entries,
            checkpoints: export.checkpoints,
            report,
            witnesses: seen,
        })
    }

    /// Entries whose action is `action` (`query.submitted`, `release` …).
    pub fn actions<'a>(&'a self, action: &'a str) -> impl Iterator<Item = &'a AuditEntry> + 'a {
        self.entries.iter().filter(move |e| e.action == action)
    }
}

/// A site's witness file (`audit-witness.json`), if it exists.
pub fn read_witness(path: &Path) -> anyhow::Result<Option<Checkpoint>> {
    let Ok(bytes) = std::fs::read(path) else {
        return Ok(None);
    };
    let checkpoint = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow::anyhow!("witness file {}: {e}", path.display()))?;
    Ok(Some(checkpoint))
}
