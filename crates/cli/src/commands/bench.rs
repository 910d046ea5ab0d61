//! `oncofed bench`: measurements for BENCHMARKS.md, run against the real services
//! on loopback (one process, many sites).

use crate::output::print_json;
use clap::{Args, Subcommand};
use oncofed_model::SiteId;
use oncofed_protocol::Criteria;
use oncofed_synth::SynthConfig;
use oncofed_testkit::LocalFederation;
use serde::Serialize;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Feasibility latency (p50/p95) and hub throughput for federations of several sizes.
    ///
    /// For each site count: generate the cohort, ingest every site through the trust
    /// centre, connect the agents to the hub, then time sequential queries (latency)
    /// and concurrent queries (throughput). Disclosure control stays on; only the
    /// researcher's rate limit is lifted.
    Federation(FederationArgs),
    /// Cox and logistic regression through the hub (secure aggregation) against the
    /// same fit pooled in one process: wall time, aggregation rounds, Newton iterations.
    ///
    /// For each site count: generate the cohort, ingest every site through the trust
    /// centre, connect the agents, approve a project, then time each federated fit
    /// and the pooled fit over the union of the sites' rows.
    Analysis(super::bench_analysis::AnalysisBenchArgs),
}

#[derive(Debug, Args)]
pub struct FederationArgs {
    /// Site counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "3,10,50")]
    sites: Vec<u32>,
    /// Persons in the federation (≈ 1.15 patient records each).
    #[arg(long, default_value_t = 87_000)]
    persons: u64,
    /// Sequential queries timed for latency.
    #[arg(long, default_value_t = 60)]
    queries: usize,
    /// Concurrent researchers for the throughput run.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Seconds of the throughput run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Run the federation over plain HTTP instead of TLS (to measure what TLS costs).
    #[arg(long)]
    plain_http: bool,
    /// Keep the sites' research stores in PostgreSQL (a URL with {site}, one
    /// database per site, created if missing and required empty), as
    /// `oncofed demo --store-url`.
    #[arg(long, value_name = "URL")]
    store_url: Option<String>,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct FederationResult {
    /// Whether every connection was TLS (mutual for sites).
    tls: bool,
    /// Where the sites kept their research stores: `sqlite` or `postgresql`.
    store: &'static str,
    sites: u32,
    patients: u64,
    ingest_seconds: f64,
    queries: usize,
    p50_ms: f64,
    p95_ms: f64,
    max_ms: f64,
    incomplete: usize,
    throughput_qps: f64,
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    let a = match cmd {
        BenchCommand::Federation(a) => a,
        BenchCommand::Analysis(a) => return super::bench_analysis::run(a).await,
    };
    let mut results = Vec::new();
    for &n in &a.sites {
        let r = federation(&a, n).await?;
        if !a.json {
            eprintln!(
                "{} sites, {} patients, {}, {}: ingest {:.1} s, p50 {:.1} ms, p95 {:.1} ms, {:.1} queries/s",
                r.sites,
                r.patients,
                if r.tls { "TLS" } else { "plain HTTP" },
                r.store,
                r.ingest_seconds,
                r.p50_ms,
                r.p95_ms,
                r.throughput_qps
            );
        }
        results.push(r);
    }
    if a.json {
        print_json(&results)?;
    } else {
        println!(
            "| transport | store | sites | patients | ingest | p50 | p95 | max | queries/s ({} concurrent) |",
            a.concurrency
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        for r in &results {
            println!(
                "| {} | {} | {} | {} | {:.1} s | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} |",
                if r.tls { "TLS" } else { "plain HTTP" },
                r.store,
                r.sites,
                r.patients,
                r.ingest_seconds,
                r.p50_ms,
                r.p95_ms,
                r.max_ms,
                r.throughput_qps
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Criteria that vary from query to query (so no answer is a repeat).
fn criteria(i: usize) -> Criteria {
    let prefixes = ["C92", "C91", "C83", "C90", "C50", "C34", "C18", "C20", "C"];
    let value = serde_json::json!({"and": [
        {"diagnosis": {"icd10": prefixes[i % prefixes.len()]}},
        {"age_at_diagnosis": {"min": 18 + (i % 30), "max": 90}}
    ]});
    serde_json::from_value(value).expect("static criteria")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn federation(a: &FederationArgs, n: u32) -> anyhow::Result<FederationResult> {
    let temp = tempfile::tempdir()?;
    let cohort = temp.path().join("cohort");
    let config = SynthConfig {
        seed: 5,
        sites: n,
        persons: a.persons,
        ..SynthConfig::default()
    };
    let synth = {
        let cohort = cohort.clone();
        tokio::task::spawn_blocking(move || oncofed_synth::generate(&config, &cohort, &mut |_| {}))
            .await??
    };
    let sites: Vec<SiteId> = (1..=n).map(SynthConfig::site_id).collect();
    let limits = oncofed_privacy::QueryBudget {
        per_minute: 1_000_000,
        per_week: 1_000_000,
    };
    let store_url = a
        .store_url
        .as_ref()
        .map(|t| t.replace("{site}", &format!("n{n}_{{site}}")));
    let mut fed = LocalFederation::builder(temp.path(), sites.clone())
        .limits(limits)
        .tls(!a.plain_http)
        .store_url(store_url)?
        .start()
        .await?;
    let ingest_started = Instant::now();
    for (i, site) in sites.iter().enumerate() {
        let (service, _) = fed.ingest_site(i, &cohort.join(site.as_str())).await?;
        fed.connect_site(i, &service, 25).await?;
    }
    let ingest_seconds = ingest_started.elapsed().as_secs_f64();
    let client = fed.researcher();
    for i in 0..3 {
        client.feasibility(criteria(i), 30).await?; // warm-up: caches, connections
    }
    let mut latencies = Vec::with_capacity(a.queries);
    let mut incomplete = 0;
    for i in 0..a.queries {
        let started = Instant::now();
        let answer = client.feasibility(criteria(i + 3), 30).await?;
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        if answer.status != oncofed_protocol::api::QueryStatus::Complete {
            incomplete += 1;
        }
    }
    latencies.sort_by(f64::total_cmp);

    let until = Instant::now() + Duration::from_secs(a.seconds);
    let mut workers = Vec::new();
    for w in 0..a.concurrency {
        let client = client.clone();
        workers.push(tokio::spawn(async move {
            let mut done = 0usize;
            let mut i = 1000 * (w + 1);
            while Instant::now() < until {
                if client.feasibility(criteria(i), 30).await.is_ok() {
                    done += 1;
                }
                i += 1;
            }
            done
        }));
    }
    let started = Instant::now();
    let mut total = 0;
    for w in workers {
        total += w.await?;
    }
    let throughput_qps = total as f64 / started.elapsed().as_secs_f64();
    fed.shutdown().await?;
    Ok(FederationResult {
        tls: !a.plain_http,
        store: if a.store_url.is_some() {
            "postgresql"
        } else {
            "sqlite"
        },
        sites: n,
        patients: synth.patients_per_site.values().sum(),
        ingest_seconds,
        queries: a.queries,
        p50_ms: percentile(&latencies, 50.0),
        p95_ms: percentile(&latencies, 95.0),
        max_ms: latencies.last().copied().unwrap_or(f64::NAN),
        incomplete,
        throughput_qps,
    })
}
