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
    /// A federation measured as a federation: one site's answer time, the hub's
    /// overhead with many trivial sites, sites as separate processes, and
    /// (`--part sizes`) latency and throughput for federations of several sizes.
    ///
    /// `site`: one site of --site-persons patients; the node's feasibility
    /// answer (lifetime ledger, store, consent gate, disclosure control) driven
    /// directly, timed per query. `hub`: --hub-sites in-process sites on tiny
    /// stores, so the hub's fan-out and aggregation dominate. `processes`:
    /// --process-sites `oncofed node agent` processes against an in-process trust
    /// centre and hub. `sizes`: for each --sites count, generate, ingest, connect,
    /// then time sequential queries (latency) and concurrent ones (throughput).
    /// Disclosure control stays on; the researcher's rate limit and the sites'
    /// lifetime ε are lifted so that hundreds of distinct queries can be asked.
    Federation(FederationArgs),
    /// Cox and logistic regression through the hub (secure aggregation) against the
    /// same fit pooled in one process: wall time, aggregation rounds, Newton iterations.
    ///
    /// For each site count: generate the cohort, ingest every site through the trust
    /// centre, connect the agents, approve a project, then time each federated fit
    /// and the pooled fit over the union of the sites' rows.
    Analysis(super::bench_analysis::AnalysisBenchArgs),
    /// The node's sequencing ingest (parse every VCF, link each person through
    /// the trust centre, encrypt with Crypt4GH, store the calls) beside
    /// `bcftools view` reading the same synthetic files, as records per second.
    Sequencing(super::bench_sequencing::SequencingBenchArgs),
    /// Beacon v2 query latency through the hub (issue 16): for each federation
    /// size, generate a cohort with sequencing, ingest FHIR and VCFs at every
    /// site, connect the agents, then time sequential count queries (default
    /// defences, rate limit lifted).
    Beacon(super::bench_beacon::BeaconBenchArgs),
}

/// A part of `oncofed bench federation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// One site's answer time at --site-persons patients, measured at the node.
    Site,
    /// The hub's end-to-end overhead with --hub-sites sites answering trivially.
    Hub,
    /// End to end with --process-sites sites as separate `oncofed node agent` processes.
    Processes,
    /// Latency and throughput for the federation sizes of --sites, all in one process.
    Sizes,
}

#[derive(Debug, Args)]
pub struct FederationArgs {
    /// Parts to run, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "site,hub,processes"
    )]
    pub(super) part: Vec<Part>,
    /// `site`: persons at the one site (one patient record each).
    #[arg(long, default_value_t = 100_000)]
    pub(super) site_persons: u64,
    /// `hub`: sites answering trivially.
    #[arg(long, default_value_t = 50)]
    pub(super) hub_sites: u32,
    /// `hub`: persons per site (a tiny store, so the site's answer is cheap).
    #[arg(long, default_value_t = 10)]
    pub(super) hub_persons_per_site: u64,
    /// `processes`: sites, each its own `oncofed node agent` process.
    #[arg(long, default_value_t = 8)]
    pub(super) process_sites: u32,
    /// `processes`: persons over all the process sites.
    #[arg(long, default_value_t = 20_000)]
    pub(super) process_persons: u64,
    /// `sizes`: site counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "3,10,50")]
    sites: Vec<u32>,
    /// `sizes`: persons in the federation (≈ 1.15 patient records each).
    #[arg(long, default_value_t = 87_000)]
    persons: u64,
    /// Sequential queries timed for latency (every part).
    #[arg(long, default_value_t = 60)]
    pub(super) queries: usize,
    /// `sizes`: concurrent researchers for the throughput run.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// `sizes`: seconds of the throughput run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Run the federation over plain HTTP instead of TLS (to measure what TLS costs).
    #[arg(long)]
    pub(super) plain_http: bool,
    /// Keep the sites' research stores and the trust centre's store in
    /// PostgreSQL (a URL with {site}; one database per site and one for the trust
    /// centre, {site} = trustee, per federation size; created if missing and
    /// required empty), as `oncofed demo --store-url`.
    #[arg(long, value_name = "URL")]
    store_url: Option<String>,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
}

/// Everything one `oncofed bench federation` run measured (`--json`).
#[derive(Debug, Serialize)]
struct Report {
    #[serde(skip_serializing_if = "Option::is_none")]
    site: Option<super::bench_parts::SiteResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hub: Option<super::bench_parts::HubResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    processes: Option<super::bench_processes::ProcessesResult>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sizes: Vec<FederationResult>,
}

#[derive(Debug, Serialize)]
struct FederationResult {
    /// Whether every connection was TLS (mutual for sites).
    tls: bool,
    /// Where the sites' research stores and the trust centre's store were:
    /// `sqlite` or `postgresql`.
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
        BenchCommand::Sequencing(a) => return super::bench_sequencing::run(a).await,
        BenchCommand::Beacon(a) => return super::bench_beacon::run(a).await,
    };
    let mut report = Report {
        site: None,
        hub: None,
        processes: None,
        sizes: Vec::new(),
    };
    if a.part.contains(&Part::Site) {
        let r = super::bench_parts::site(&a).await?;
        if !a.json {
            r.print();
        }
        report.site = Some(r);
    }
    if a.part.contains(&Part::Hub) {
        let r = super::bench_parts::hub(&a).await?;
        if !a.json {
            r.print();
        }
        report.hub = Some(r);
    }
    if a.part.contains(&Part::Processes) {
        let r = super::bench_processes::processes(&a).await?;
        if !a.json {
            r.print();
        }
        report.processes = Some(r);
    }
    if a.part.contains(&Part::Sizes) {
        report.sizes = sizes(&a).await?;
    }
    if a.json {
        print_json(&report)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The `sizes` part: one federation per site count, all in one process.
async fn sizes(a: &FederationArgs) -> anyhow::Result<Vec<FederationResult>> {
    let mut results = Vec::new();
    for &n in &a.sites {
        let r = federation(a, n).await?;
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
    if !a.json {
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
    Ok(results)
}

/// Criteria that vary from query to query (so no answer is a repeat): the
/// feasibility query mix of every part.
pub(super) fn criteria(i: usize) -> Criteria {
    let prefixes = ["C92", "C91", "C83", "C90", "C50", "C34", "C18", "C20", "C"];
    let value = serde_json::json!({"and": [
        {"diagnosis": {"icd10": prefixes[i % prefixes.len()]}},
        {"age_at_diagnosis": {"min": 18 + (i % 30), "max": 90}}
    ]});
    serde_json::from_value(value).expect("static criteria")
}

/// The researcher's rate limit of the benches: out of the way.
pub(super) const LIFTED_LIMITS: oncofed_privacy::QueryBudget = oncofed_privacy::QueryBudget {
    per_minute: 1_000_000,
    per_week: 1_000_000,
};

/// The sites' lifetime ε of the benches: hundreds of distinct queries at 0.1 each.
pub(super) const LIFTED_EPSILON: f64 = 1.0e6;

/// Latency figures of a series of timings, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub(super) struct Latency {
    pub n: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// The figures of `ms` (any order).
    pub(super) fn of(mut ms: Vec<f64>) -> Self {
        ms.sort_by(f64::total_cmp);
        Self {
            n: ms.len(),
            p50_ms: percentile(&ms, 50.0),
            p95_ms: percentile(&ms, 95.0),
            max_ms: ms.last().copied().unwrap_or(f64::NAN),
        }
    }
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms ({} queries)",
            self.p50_ms, self.p95_ms, self.max_ms, self.n
        )
    }
}

/// The `p`-th percentile of `sorted` (nearest rank).
pub(super) fn percentile(sorted: &[f64], p: f64) -> f64 {
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
    let limits = LIFTED_LIMITS;
    let store_url = a
        .store_url
        .as_ref()
        .map(|t| t.replace("{site}", &format!("n{n}_{{site}}")));
    let mut fed = LocalFederation::builder(temp.path(), sites.clone())
        .limits(limits)
        .tls(!a.plain_http)
        .site_lifetime_epsilon(LIFTED_EPSILON)
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
    let store = fed.store_kind();
    fed.shutdown().await?;
    Ok(FederationResult {
        tls: !a.plain_http,
        store,
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
