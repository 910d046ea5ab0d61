//! The federated CNN next to Flower (`flwr`) FedAvg with scikit-learn's
//! `MLPClassifier`, on the same synthetic partition with site shift, the same
//! rounds and local epochs: accuracy, macro-F1 and wall time per round as a
//! Markdown table for BENCHMARKS.md (issue 15).
//!
//! ```text
//! scripts/setup-peers   # .venv-flwr
//! cargo run --release -p oncofed-cnn --example flower_side_by_side -- \
//!     [--sites 3] [--train 240] [--test 120] [--rounds 4] [--epochs 2] [--seed 15] \
//!     [--lr 0.01] [--batch 16] [--partition DIR]   # keep the partition, e.g. to run the peer with other settings
//! ```
//!
//! The peer is a real Flower server with one client process per site over
//! gRPC on loopback (`scripts/peers/flower/fedavg_sklearn.py`); OncoFed's
//! sites run on threads of this process, summed in process (the
//! secure-aggregation overhead is measured elsewhere).

#![forbid(unsafe_code)]

#[path = "../tests/flower_support/mod.rs"]
mod flower_support;

use flower_support::{PartitionMeta, SiteCells};
use oncofed_learn::{FederatedConfig, LocalConfig, ModelSpec, ServerOptimizer};
use std::process::ExitCode;

/// The run's size, from the command line.
struct Args {
    sites: usize,
    train: usize,
    test: usize,
    rounds: u32,
    epochs: u32,
    seed: u64,
    /// OncoFed's Adam step size and minibatch size.
    lr: f32,
    batch: u32,
    /// Where to keep the partition (a temporary directory otherwise).
    partition: Option<std::path::PathBuf>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        sites: 3,
        train: 240,
        test: 120,
        rounds: 4,
        epochs: 2,
        seed: 15,
        partition: None,
        lr: 0.01,
        batch: 16,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag}: a value is missing"))?;
        let bad = |e: std::num::ParseIntError| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--sites" => a.sites = value.parse().map_err(bad)?,
            "--train" => a.train = value.parse().map_err(bad)?,
            "--test" => a.test = value.parse().map_err(bad)?,
            "--rounds" => a.rounds = value.parse().map_err(bad)?,
            "--epochs" => a.epochs = value.parse().map_err(bad)?,
            "--seed" => a.seed = value.parse().map_err(bad)?,
            "--partition" => a.partition = Some(value.into()),
            "--batch" => a.batch = value.parse().map_err(bad)?,
            "--lr" => a.lr = value.parse().map_err(|e| format!("{flag} {value}: {e}"))?,
            _ => return Err(format!("{flag}: unknown option")),
        }
    }
    if a.sites == 0
        || a.train == 0
        || a.test == 0
        || a.rounds == 0
        || a.epochs == 0
        || a.batch == 0
        || !a.lr.is_finite()
        || a.lr <= 0.0
    {
        return Err("--sites, --train, --test, --rounds, --epochs and --batch must be at least 1; --lr above 0".into());
    }
    Ok(a)
}

fn run(a: &Args) -> Result<(), String> {
    let python = flower_support::peer_python()
        .ok_or("the Flower peer is missing: run scripts/setup-peers")?;
    let spec = ModelSpec::differential();
    let sites = flower_support::synthetic_sites(
        a.sites,
        a.train,
        a.test,
        spec.input_size,
        &spec.classes,
        a.seed,
    )?;
    let temp = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
    let dir = a.partition.as_deref().unwrap_or(temp.path());
    let cells: Vec<SiteCells> = sites
        .iter()
        .map(|s| SiteCells {
            name: s.name.clone(),
            train: &s.train,
            test: &s.test,
        })
        .collect();
    let meta = PartitionMeta {
        size: spec.input_size,
        classes: &spec.classes,
        rounds: a.rounds,
        local_epochs: a.epochs,
        seed: a.seed,
    };
    flower_support::write_partition(dir, &meta, &cells)?;
    let config = FederatedConfig {
        spec: spec.clone(),
        rounds: a.rounds,
        local: LocalConfig {
            epochs: a.epochs,
            batch_size: a.batch,
            learning_rate: a.lr,
            prox_mu: 0.0,
            seed: 0,
        },
        dp: None,
        patience: None,
        seed: a.seed,
        sites: a.sites,
        server: ServerOptimizer::fedavg(),
    };
    let ours = flower_support::run_ours(&sites, &config)?;
    let report = flower_support::run_peer(&python, dir)?;
    let peer = flower_support::peer_figures(&spec.classes, &report)?;
    println!(
        "{} sites × {} training / {} held-out synthetic cells ({}×{} px, site shift), {} rounds × {} local epochs.\n\
         OncoFed: CNN `{}` ({} parameters), candle CPU, sites on threads of one process. Times are wall seconds with CPU seconds in brackets (the machine is shared).\n\
         Flower: flwr {} FedAvg + scikit-learn {} {} {:?} on the pixels ({} parameters), \
         1 server + {} client processes over gRPC on loopback; setup (start, load, connect) {:.2} s.\n",
        a.sites,
        a.train,
        a.test,
        spec.input_size,
        spec.input_size,
        a.rounds,
        a.epochs,
        oncofed_learn::ARCHITECTURE,
        ours.parameters,
        report.flwr_version,
        report.sklearn_version,
        report.model.kind,
        report.model.hidden,
        report.model.parameters,
        a.sites,
        report.setup_seconds,
    );
    print!(
        "{}",
        flower_support::table(
            &ours.rounds,
            &peer,
            ours.total_seconds,
            report.total_seconds
        )
    );
    Ok(())
}

fn main() -> ExitCode {
    match parse().and_then(|a| run(&a)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flower_side_by_side: {e}");
            ExitCode::FAILURE
        }
    }
}
