//! The command tree.

mod access_code;
mod analyze;
mod analyze_render;
mod audit;
mod beacon;
mod bench;
mod bench_analysis;
mod bench_beacon;
mod bench_parts;
mod bench_processes;
mod bench_sequencing;
mod demo;
mod demo_analyses;
mod demo_audit;
mod demo_cells;
mod demo_genomics;
mod demo_imaging;
mod demo_ledger;
mod demo_portal;
mod demo_transport;
mod demo_withdrawal;
mod hub;
mod labels;
mod node;
mod node_cells;
mod node_imaging;
mod node_ingest;
mod pki;
mod query;
mod review;
mod synth;
mod tls_args;
mod trustee;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// OncoFed: federated research-data infrastructure for hematology and oncology.
///
/// A site node ingests its FHIR data and keeps it; a trust centre holds identities,
/// pseudonym keys and consents. Start with `oncofed demo`, which runs everything on
/// loopback with synthetic data.
#[derive(Debug, Parser)]
#[command(
    name = "oncofed",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Allow plain HTTP beyond loopback: serving on a non-loopback address without
    /// --tls-cert, or calling an http:// URL on another host. Only behind a
    /// TLS-terminating proxy or on an otherwise protected network; logged loudly.
    #[arg(long, global = true)]
    pub insecure_http: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole system on loopback: trust centre and site nodes with a synthetic
    /// cohort, ingest, consent-filtered queries and a summary. Start here.
    Demo(demo::DemoArgs),
    /// Generate a synthetic hematology/oncology cohort as FHIR R4 bundles.
    Synth(synth::SynthArgs),
    /// Trust-centre commands: serve, register sites.
    #[command(subcommand)]
    Trustee(trustee::TrusteeCommand),
    /// Research-hub commands: serve, add users, register sites.
    #[command(subcommand)]
    Hub(hub::HubCommand),
    /// Researcher queries through the hub.
    #[command(subcommand)]
    Query(query::QueryCommand),
    /// Is this variant seen? A GA4GH Beacon v2 query through the hub
    /// (anonymous: yes/no; with a researcher token: a noised count).
    Beacon(beacon::BeaconArgs),
    /// Federated analyses through the hub (Kaplan–Meier, Cox, GLM, descriptives),
    /// inside a project an admin approved; only masked sums leave the sites.
    #[command(subcommand)]
    Analyze(analyze::AnalyzeCommand),
    /// Audit-trail commands: verify, export.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Measurements for BENCHMARKS.md against the real services on loopback.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Site-node commands: ingest FHIR data, check its quality, query it, serve the local API.
    #[command(subcommand)]
    Node(node::NodeCommand),
    /// A federation CA and TLS certificates for a pilot: one per service, one per site.
    #[command(subcommand)]
    Pki(pki::PkiCommand),
    /// Expert validation of cell labels: agreement (Cohen's and Fleiss' kappa),
    /// the disagreement queue, the validated label set, simulated experts.
    #[command(subcommand)]
    Labels(labels::LabelsCommand),
}

/// Runs the parsed command; the exit code says whether everything succeeded.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    tls_args::set_insecure_http(cli.insecure_http);
    match cli.command {
        Command::Demo(a) => demo::run(a).await,
        Command::Synth(a) => tokio::task::spawn_blocking(move || synth::run(a)).await?,
        Command::Trustee(cmd) => trustee::run(cmd).await,
        Command::Node(cmd) => node::run(cmd).await,
        Command::Hub(cmd) => hub::run(cmd).await,
        Command::Query(cmd) => query::run(cmd).await,
        Command::Beacon(a) => beacon::run(a).await,
        Command::Analyze(cmd) => analyze::run(cmd).await,
        Command::Audit(cmd) => audit::run(cmd).await,
        Command::Bench(cmd) => bench::run(cmd).await,
        Command::Pki(cmd) => pki::run(cmd),
        Command::Labels(cmd) => tokio::task::spawn_blocking(move || labels::run(cmd)).await?,
    }
}
