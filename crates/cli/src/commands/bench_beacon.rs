//! `oncofed bench beacon`: Beacon v2 query latency through the hub.

use super::bench::Latency;
use anyhow::Context;
use clap::Args;
use oncofed_model::SiteId;
use oncofed_protocol::beacon::defence::{DefenceConfig, RatePolicy};
use oncofed_synth::SynthConfig;
use oncofed_synth::genomics::GenomicsConfig;
use oncofed_testkit::LocalFederation;
use serde_json::{Map, Value, json};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct BeaconBenchArgs {
    /// Federation sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "3,10")]
    sites: Vec<u32>,
    /// Persons in each federation's cohort (all sequenced).
    #[arg(long, default_value_t = 300)]
    persons: u64,
    /// Sequential queries per federation (registered researcher, counts).
    #[arg(long, default_value_t = 300)]
    queries: usize,
    /// Plain HTTP on loopback instead of TLS.
    #[arg(long)]
    plain_http: bool,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
}

/// Times `queries` sequential count queries through the hub of a federation
/// of `n` sites with the default defences (rate limit lifted): panel alleles
/// of the cohort in turn, and EGFR L858R every tenth query.
async fn one(a: &BeaconBenchArgs, n: u32) -> anyhow::Result<(f64, Latency)> {
    let temp = tempfile::tempdir()?;
    let cohort = temp.path().join("cohort");
    let config = SynthConfig {
        seed: 16,
        sites: n,
        persons: a.persons,
        genomics: Some(GenomicsConfig {
            share: 1.0,
            panel_size: 1_000,
            ..GenomicsConfig::default()
        }),
        ..SynthConfig::default()
    };
    {
        let cohort = cohort.clone();
        tokio::task::spawn_blocking(move || oncofed_synth::generate(&config, &cohort, &mut |_| {}))
            .await??;
    }
    let sites: Vec<SiteId> = (1..=n).map(SynthConfig::site_id).collect();
    let defences = DefenceConfig {
        rate: RatePolicy {
            per_minute: u64::MAX / 2,
            per_window: u64::MAX / 2,
            window_secs: 30 * 24 * 3600,
        },
        ..DefenceConfig::default()
    };
    let mut fed = LocalFederation::builder(&temp.path().join("fed"), sites.clone())
        .tls(!a.plain_http)
        .beacon_defences(defences)
        .start()
        .await?;
    let started = Instant::now();
    for (i, site) in sites.iter().enumerate() {
        let dir = cohort.join(site.as_str());
        let (service, _) = fed.ingest_site(i, &dir).await?;
        oncofed_testkit::beacon::ingest_genomics(&fed, i, &service, &dir.join("genomics")).await?;
        fed.connect_site(i, &service, 20).await?;
    }
    let ingest_s = started.elapsed().as_secs_f64();
    let panel = std::fs::read_to_string(cohort.join("ground-truth/background-panel.tsv"))
        .context("the cohort's panel")?;
    let alleles: Vec<Map<String, Value>> = panel
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let pos: u64 = f.get(1)?.parse().ok()?;
            let mut p = Map::new();
            p.insert("assemblyId".into(), json!("GRCh38"));
            p.insert("referenceName".into(), json!(f[0]));
            p.insert("start".into(), json!([pos - 1]));
            p.insert("referenceBases".into(), json!(f.get(2)?));
            p.insert("alternateBases".into(), json!(f.get(3)?));
            Some(p)
        })
        .collect();
    anyhow::ensure!(!alleles.is_empty(), "the cohort's panel is empty");
    let researcher = fed.researcher();
    // Warm-up: connections, the sites' first consent sync.
    let warm = oncofed_hub_api::beacon_request(oncofed_testkit::beacon::egfr_l858r(), None);
    researcher.beacon_g_variants(&warm, None).await?;
    let mut ms = Vec::with_capacity(a.queries);
    for q in 0..a.queries {
        let params = if q % 10 == 0 {
            oncofed_testkit::beacon::egfr_l858r()
        } else {
            alleles[q % alleles.len()].clone()
        };
        let request = oncofed_hub_api::beacon_request(params, Some("count"));
        let t = Instant::now();
        let reply = researcher.beacon_g_variants(&request, None).await?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(reply.status == 200, "HTTP {}: {}", reply.status, reply.body);
    }
    fed.shutdown().await?;
    Ok((ingest_s, Latency::of(ms)))
}

pub async fn run(a: BeaconBenchArgs) -> anyhow::Result<ExitCode> {
    let mut rows = Vec::new();
    for &n in &a.sites {
        let (ingest_s, latency) = one(&a, n).await?;
        if !a.json {
            println!(
                "{n} sites, {} persons: ingest {ingest_s:.1} s; beacon {latency}",
                a.persons
            );
        }
        rows.push(
            json!({ "sites": n, "persons": a.persons, "ingest_s": ingest_s, "latency": latency }),
        );
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    }
    Ok(ExitCode::SUCCESS)
}
