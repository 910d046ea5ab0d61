//! `oncofed query ...`: researcher queries at the hub.

use crate::output::{print_json, read_secret};
use anyhow::Context;
use clap::{Args, Subcommand};
use oncofed_privacy::Released;
use oncofed_protocol::Criteria;
use oncofed_protocol::api::FeasibilityResponse;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum QueryCommand {
    /// How many patients fit? Sends a criteria document to every site through the hub.
    ///
    /// The criteria are a JSON AND/OR/NOT tree, e.g.
    /// {"and": [{"diagnosis": {"icd10": "C92.0"}}, {"age_at_diagnosis": {"min": 18, "max": 65}},
    ///          {"not": {"marker": {"gene": "HGNC:3765", "present": true}}}]}.
    /// Sequencing calls: {"variant": {"gene": "EGFR", "protein": "p.L858R", "origin":
    /// "somatic", "vaf_min": 0.1}} (also "consequence": a Sequence Ontology term or
    /// truncating|missense|inframe|splice|synonymous; germline needs the same opt-in).
    /// Figures are noised, rounded and suppressed below thresholds; a patient treated
    /// at several sites counts once in the total.
    Feasibility(FeasibilityArgs),
}

#[derive(Debug, Args)]
pub struct FeasibilityArgs {
    /// Base URL of the hub.
    #[arg(long, env = "ONCOFED_HUB_URL", default_value = "http://127.0.0.1:8730")]
    hub: String,
    /// File with your researcher token.
    #[arg(long, env = "ONCOFED_HUB_TOKEN_FILE")]
    token_file: PathBuf,
    /// TLS towards the hub.
    #[command(flatten)]
    tls: super::tls_args::ClientTlsArgs,
    /// The criteria document (JSON file).
    #[arg(long)]
    criteria: PathBuf,
    /// Seconds to wait for the sites.
    #[arg(long, default_value_t = 15)]
    wait: u64,
    /// Print the answer as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(cmd: QueryCommand) -> anyhow::Result<ExitCode> {
    let QueryCommand::Feasibility(a) = cmd;
    let text = std::fs::read_to_string(&a.criteria)
        .with_context(|| format!("cannot read {}", a.criteria.display()))?;
    let criteria: Criteria = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a criteria document", a.criteria.display()))?;
    criteria
        .validate()
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.criteria.display()))?;
    let client = a.tls.hub_client(&a.hub, &read_secret(&a.token_file)?)?;
    let answer = client.feasibility(criteria, a.wait).await?;
    if a.json {
        print_json(&answer)?;
    } else {
        print!("{}", render(&answer));
    }
    Ok(ExitCode::SUCCESS)
}

/// A released figure in words.
pub fn released(r: &Released) -> String {
    match r {
        Released::Count(n) => format!("{n}"),
        Released::Suppressed => "suppressed (too few)".into(),
    }
}

/// A feasibility answer for people.
pub fn render(a: &FeasibilityResponse) -> String {
    let mut out = format!(
        "{}\n  total (de-duplicated): {}   [{:?}]\n",
        a.criteria,
        released(&a.total),
        a.status
    );
    match &a.per_site {
        Some(sites) => {
            for (site, r) in sites {
                out.push_str(&format!("  {site:<10} {}\n", released(r)));
            }
        }
        None => out.push_str("  per-site figures withheld (too few sites with enough patients)\n"),
    }
    if let Some(why) = &a.withheld {
        out.push_str(&format!("  total {why}\n"));
    }
    out
}
