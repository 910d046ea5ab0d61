//! `oncofed trustee access-code ...`: one-time access codes to the patients' portal.

use crate::output::{print_json, read_secret};
use clap::{Args, Subcommand};
use oncofed_model::Pseudonym;
use oncofed_trustee_api::TrusteeClient;
use std::path::PathBuf;
use std::process::ExitCode;

/// The access-code subcommands.
#[derive(Debug, Subcommand)]
pub enum AccessCodeCommand {
    /// Issue a code for the person behind a site pseudonym (staff or admin token).
    ///
    /// The code is printed this once (the trust centre keeps only its hash), is
    /// valid for one sign-in within 14 days, and replaces the person's earlier
    /// unused codes. Give it to the person on paper, with the sign-in address.
    ///
    /// Example: oncofed trustee access-code issue --pseudonym P-3KQ… --staff-token-file staff.token
    Issue(IssueArgs),
}

/// Arguments of `access-code issue`.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// Base URL of the trust centre.
    #[arg(
        long,
        env = "ONCOFED_TRUSTEE_URL",
        default_value = "http://127.0.0.1:8710"
    )]
    trustee: String,
    /// File holding a staff token (or the admin token).
    #[arg(long, alias = "admin-token-file")]
    staff_token_file: PathBuf,
    /// The person's pseudonym in any site's domain.
    #[arg(long)]
    pseudonym: Pseudonym,
    /// Print the code as JSON.
    #[arg(long)]
    json: bool,
    /// TLS towards the trust centre.
    #[command(flatten)]
    tls: super::tls_args::ClientTlsArgs,
}

/// Runs an access-code command.
pub async fn run(cmd: AccessCodeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AccessCodeCommand::Issue(a) => {
            let client = TrusteeClient::with_tls(
                &a.trustee,
                &read_secret(&a.staff_token_file)?,
                &a.tls.client_tls(),
            )?;
            let code = client.issue_access_code_as_staff(&a.pseudonym).await?;
            if a.json {
                print_json(&code)?;
            } else {
                println!("access code: {}", code.code);
                println!("valid until: {} (one sign-in)", code.expires_at);
                println!(
                    "sign in at:  {}{}",
                    a.trustee.trim_end_matches('/'),
                    code.sign_in_path
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
