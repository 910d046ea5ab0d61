//! The demo's auditor: exports the hub's audit trail and verifies it against the
//! checkpoints the sites witnessed, as `oncofed audit verify --witness` does.

use oncofed_audit::VerifyReport;
use oncofed_testkit::LocalFederation;
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
    let reading = fed.audit().await?;
    Ok(DemoAudit {
        report: reading.report,
        witnesses: reading.witnesses,
    })
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
