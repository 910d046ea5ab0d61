//! Side by side with a real peer from PyPI (issue 15): Flower (`flwr`)
//! FedAvg over scikit-learn's `MLPClassifier`, a real Flower server and one
//! client process per site over gRPC on loopback, trained on the same
//! partition (the same cells at the same size, the same rounds and local
//! epochs) as OncoFed's CNN with `oncofed-learn`'s FedAvg. Both are scored on
//! every site's held-out cells with the same metric code; OncoFed's model
//! must be more accurate.
//!
//! The peer runs from `.venv-flwr` (`scripts/setup-peers`) or
//! `ONCOFED_FLWR_PYTHON`; without it the test prints a skip, unless
//! `ONCOFED_REQUIRE_PEERS` is set, where it fails.

mod flower_support;

use flower_support::{PartitionMeta, SiteCells};
use oncofed_learn::{FederatedConfig, LocalConfig, ModelSpec, ServerOptimizer};

const SITES: usize = 3;
const TRAIN_PER_SITE: usize = 240;
const TEST_PER_SITE: usize = 120;
const ROUNDS: u32 = 4;
const LOCAL_EPOCHS: u32 = 2;
const SEED: u64 = 15;

#[test]
fn oncofed_fedavg_is_more_accurate_than_flower_with_scikit_learn() {
    let Some(python) = flower_support::peer_python() else {
        return;
    };
    let spec = ModelSpec::differential();
    let sites = flower_support::synthetic_sites(
        SITES,
        TRAIN_PER_SITE,
        TEST_PER_SITE,
        spec.input_size,
        &spec.classes,
        SEED,
    )
    .expect("synthetic sites");
    let dir = tempfile::tempdir().expect("a temporary directory");
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
        rounds: ROUNDS,
        local_epochs: LOCAL_EPOCHS,
        seed: SEED,
    };
    flower_support::write_partition(dir.path(), &meta, &cells).expect("the partition is written");

    let config = FederatedConfig {
        spec: spec.clone(),
        rounds: ROUNDS,
        local: LocalConfig {
            epochs: LOCAL_EPOCHS,
            batch_size: 16,
            learning_rate: 0.01,
            prox_mu: 0.0,
            seed: 0,
        },
        dp: None,
        patience: None,
        seed: SEED,
        sites: SITES,
        server: ServerOptimizer::fedavg(),
    };
    let ours = flower_support::run_ours(&sites, &config).expect("OncoFed's federated run");
    let report = flower_support::run_peer(&python, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let peer = flower_support::peer_figures(&spec.classes, &report)
        .expect("the peer's confusion matrices");

    println!(
        "OncoFed CNN ({} parameters) vs flwr {} + scikit-learn {} {} {:?} ({} parameters); \
         {SITES} sites × {TRAIN_PER_SITE} training / {TEST_PER_SITE} held-out cells, \
         {ROUNDS} rounds × {LOCAL_EPOCHS} local epochs",
        ours.parameters,
        report.flwr_version,
        report.sklearn_version,
        report.model.kind,
        report.model.hidden,
        report.model.parameters
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

    assert_eq!(
        ours.rounds.len(),
        ROUNDS as usize,
        "one figure per OncoFed round"
    );
    assert_eq!(peer.len(), ROUNDS as usize, "one figure per Flower round");
    assert!(
        peer.iter().all(|r| r.site_f1.len() == SITES),
        "the peer evaluated at every site"
    );
    let (ours_last, peer_last) = (&ours.rounds[ours.rounds.len() - 1], &peer[peer.len() - 1]);
    // Both learned something: above chance (1/8) on the pooled held-out cells.
    let chance = 1.0 / spec.classes.len() as f64;
    assert!(
        peer_last.accuracy > chance,
        "the peer learned nothing: {peer_last:?}"
    );
    assert!(
        ours_last.accuracy > chance,
        "OncoFed learned nothing: {ours_last:?}"
    );
    assert!(
        ours_last.macro_f1 > peer_last.macro_f1,
        "OncoFed macro-F1 {:.3} is not above Flower's {:.3}",
        ours_last.macro_f1,
        peer_last.macro_f1
    );
    assert!(
        ours_last.accuracy > peer_last.accuracy,
        "OncoFed accuracy {:.3} is not above Flower's {:.3}",
        ours_last.accuracy,
        peer_last.accuracy
    );
}
