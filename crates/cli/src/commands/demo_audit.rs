//! The demo's auditor: exports the hub's audit trail and verifies it against the
//! checkpoints the sites witnessed, as `oncofed audit verify --witness` does.

use super::local::LocalFederation;
use anyhow::Context;
use oncofed_audit::{Checkpoint, VerifyReport};
use serde::Serialize;

/// What the demo's auditor found.
#[derive(Debug, Serialize)]
pub struct DemoAudit {
    /// The verification of the export against the hub key and the witnesses.
    pub report: VerifyReport,
    /// Sites whose agent kept a checkpoint, and the entry each one covers.
    pub witnesses: Vec<(String, u64)>,
}

/// Exports the trail as the auditor and verifies it with the sites' witnesses.
pub async fn run(fed: &LocalFederation) -> anyhow::Result<DemoAudit> {
    let export = fed.auditor().audit_export().await.context("audit export")?;
    let mut witnessed = Vec::new();
    let mut witnesses = Vec::new();
    for (i, site) in fed.sites.iter().enumerate() {
        let path = fed.node_dir(i).join(oncofed_node::agent::WITNESS_FILE);
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let checkpoint: Checkpoint = serde_json::from_slice(&bytes)
            .with_context(|| format!("witness file {}", path.display()))?;
        witnesses.push((site.to_string(), checkpoint.seq));
        witnessed.push(checkpoint);
    }
    let report = oncofed_audit::verify_export_witnessed(
        export.as_bytes(),
        &fed.hub_public_key(),
        &witnessed,
    );
    Ok(DemoAudit { report, witnesses })
}

/// The auditor's finding in words.
pub fn print(audit: &DemoAudit) {
    let sites: Vec<String> = audit
        .witnesses
        .iter()
        .map(|(site, seq)| format!("{site} at entry {seq}"))
        .collect();
    println!(
        "\naudit trail: {}; witnessed by {} site(s) ({})",
        audit.report,
        audit.witnesses.len(),
        sites.join(", ")
    );
}
