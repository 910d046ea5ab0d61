//! `oncofed audit ...`: check the hub's audit trail.

use crate::output::{print_json, read_secret};
use anyhow::Context;
use clap::{Args, Subcommand};
use oncofed_crypto::PublicKey;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify an exported audit trail: every hash, link and signed checkpoint.
    /// Names the first entry that was edited, deleted, inserted or reordered.
    /// With `--witness` (the checkpoints sites kept), a trail cut back to an
    /// earlier checkpoint is caught too. Exits with status 1 when the trail does
    /// not verify.
    Verify(VerifyArgs),
    /// Download the audit trail from the hub (auditors only).
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The exported trail (JSON Lines).
    #[arg(long)]
    log: PathBuf,
    /// The hub's public key (base64), as printed by `oncofed hub serve`.
    #[arg(long)]
    public_key: PublicKey,
    /// A checkpoint a site witnessed (its node's `audit-witness.json`); repeat
    /// for each site. The trail must still hold every witnessed entry with the
    /// same hash: a trail cut back or rewritten behind a site's view fails.
    #[arg(long = "witness", value_name = "FILE")]
    witnesses: Vec<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Base URL of the hub.
    #[arg(long, env = "ONCOFED_HUB_URL", default_value = "http://127.0.0.1:8730")]
    hub: String,
    /// File with an auditor's token.
    #[arg(long)]
    token_file: PathBuf,
    /// TLS towards the hub.
    #[command(flatten)]
    tls: super::tls_args::ClientTlsArgs,
    /// Where to write the trail.
    #[arg(long)]
    out: PathBuf,
    /// Print what was done as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCommand::Verify(a) => {
            let file = std::fs::File::open(&a.log)
                .with_context(|| format!("cannot open {}", a.log.display()))?;
            let mut witnessed = Vec::with_capacity(a.witnesses.len());
            for path in &a.witnesses {
                let text = std::fs::read(path)
                    .with_context(|| format!("cannot read witness file {}", path.display()))?;
                let checkpoint: oncofed_audit::Checkpoint = serde_json::from_slice(&text)
                    .with_context(|| {
                        format!(
                            "{} is not an audit checkpoint (expected a node's audit-witness.json)",
                            path.display()
                        )
                    })?;
                witnessed.push(checkpoint);
            }
            let report = oncofed_audit::verify_export_witnessed(
                std::io::BufReader::new(file),
                &a.public_key,
                &witnessed,
            );
            if a.json {
                print_json(&report)?;
            } else {
                println!("{report}");
            }
            Ok(if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        AuditCommand::Export(a) => {
            let client = a.tls.hub_client(&a.hub, &read_secret(&a.token_file)?)?;
            let text = client.audit_export().await?;
            std::fs::write(&a.out, &text)
                .with_context(|| format!("cannot write {}", a.out.display()))?;
            let lines = text.lines().count();
            if a.json {
                print_json(&serde_json::json!({ "out": a.out, "lines": lines }))?;
            } else {
                println!("audit trail ({lines} lines) written to {}", a.out.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
