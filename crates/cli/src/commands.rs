//! The command tree.

mod node;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// OncoFed: federated research-data infrastructure for hematology and oncology.
///
/// A site node ingests its FHIR data and keeps it; a trust centre holds identities,
/// pseudonym keys and consents. Start with `oncofed demo`, which runs everything on
/// loopback with synthetic data.
#[derive(Debug, Parser)]
#[command(name = "oncofed", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Site-node commands: ingest FHIR data, check its quality, query it, serve the local API.
    #[command(subcommand)]
    Node(node::NodeCommand),
}

/// Runs the parsed command; the exit code says whether everything succeeded.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Node(cmd) => node::run(cmd).await,
    }
}
