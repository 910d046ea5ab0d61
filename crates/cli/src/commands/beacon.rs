//! `oncofed beacon`: one Beacon v2 `g_variants` query through the hub.

use crate::output::{print_json, read_secret};
use clap::Args;
use oncofed_hub_api::{BeaconReply, beacon_request};
use serde_json::{Map, Value, json};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("what").required(true).args(["gene", "chrom"])
))]
pub struct BeaconArgs {
    /// Base URL of the hub.
    #[arg(long, env = "ONCOFED_HUB_URL", default_value = "http://127.0.0.1:8730")]
    hub: String,
    /// File with your researcher token; without it the query is anonymous
    /// (role PUBLIC: yes/no answers only).
    #[arg(long, env = "ONCOFED_HUB_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// TLS towards the hub.
    #[command(flatten)]
    tls: super::tls_args::ClientTlsArgs,
    /// Variants annotated to this HGNC symbol (e.g. EGFR).
    #[arg(long)]
    gene: Option<String>,
    /// Amino-acid change with --gene, one-letter (e.g. L858R).
    #[arg(long, requires = "gene")]
    aminoacid_change: Option<String>,
    /// Chromosome (7, chr7, X, MT, NC_000007.14).
    #[arg(long)]
    chrom: Option<String>,
    /// 1-based VCF position of the allele (with --ref and --alt), or the first
    /// position of a range (with --end).
    #[arg(long, requires = "chrom")]
    start: Option<u64>,
    /// Last position of a range (1-based, inclusive).
    #[arg(long, requires = "start", conflicts_with_all = ["reference", "alternate"])]
    end: Option<u64>,
    /// Reference bases.
    #[arg(long = "ref", requires = "alternate")]
    reference: Option<String>,
    /// Alternate bases.
    #[arg(long = "alt", requires = "reference")]
    alternate: Option<String>,
    /// Assembly (GRCh38, GRCh37, hg38, hg19).
    #[arg(long, default_value = "GRCh38")]
    assembly: String,
    /// A project approved for you and genetic or germline data (controlled access).
    #[arg(long, requires = "token_file")]
    project: Option<String>,
    /// Requested granularity (boolean or count); the hub answers at most what
    /// your role allows.
    #[arg(long, default_value = "count")]
    granularity: String,
    /// Print the Beacon response document as JSON.
    #[arg(long)]
    json: bool,
}

/// The `requestParameters` the flags describe (Beacon coordinates: `start`
/// 0-based; a range `[start, end)`).
fn parameters(a: &BeaconArgs) -> anyhow::Result<Map<String, Value>> {
    let mut p = Map::new();
    if let Some(gene) = &a.gene {
        p.insert("geneId".into(), json!(gene));
        if let Some(aa) = &a.aminoacid_change {
            p.insert("aminoacidChange".into(), json!(aa));
        }
        return Ok(p);
    }
    let chrom = a.chrom.as_deref().unwrap_or_default();
    let start = a
        .start
        .filter(|s| *s >= 1)
        .ok_or_else(|| anyhow::anyhow!("--start: a 1-based position is needed"))?;
    p.insert("assemblyId".into(), json!(a.assembly));
    p.insert("referenceName".into(), json!(chrom));
    p.insert("start".into(), json!([start - 1]));
    match (&a.end, &a.reference, &a.alternate) {
        (Some(end), None, None) => {
            anyhow::ensure!(*end >= start, "--end must not be before --start");
            p.insert("end".into(), json!([end]));
        }
        (None, Some(r), Some(alt)) => {
            p.insert("referenceBases".into(), json!(r));
            p.insert("alternateBases".into(), json!(alt));
        }
        _ => anyhow::bail!("give --ref and --alt for an allele, or --end for a range"),
    }
    Ok(p)
}

pub async fn run(a: BeaconArgs) -> anyhow::Result<ExitCode> {
    let token = match &a.token_file {
        Some(f) => read_secret(f)?,
        None => String::new(),
    };
    let client = a.tls.hub_client(&a.hub, &token)?;
    let request = beacon_request(parameters(&a)?, Some(&a.granularity));
    let reply = client
        .beacon_g_variants(&request, a.project.as_deref())
        .await?;
    if a.json {
        print_json(&reply.body)?;
    } else {
        print!("{}", render(&reply));
    }
    Ok(if reply.status == 200 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A Beacon answer for people.
pub fn render(reply: &BeaconReply) -> String {
    if reply.status != 200 {
        let message = reply
            .body
            .pointer("/error/errorMessage")
            .and_then(Value::as_str)
            .unwrap_or("no message");
        return format!("refused (HTTP {}): {message}\n", reply.status);
    }
    let answer = match (reply.granularity(), reply.count(), reply.exists()) {
        (Some("count"), Some(n), _) => format!("count {n} (noised, rounded; 0 = none or too few)"),
        (_, _, Some(true)) => "exists: yes".into(),
        _ => "exists: no (absent, rare or withheld)".into(),
    };
    let left_out = reply
        .body
        .pointer("/info/oncofedSites/leftOut")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .map(|a| {
            let names: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
            format!(
                "  sites left out (no answer in time): {}\n",
                names.join(", ")
            )
        })
        .unwrap_or_default();
    format!("{answer}\n{left_out}")
}
