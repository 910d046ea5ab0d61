//! The Flower peer of the federated CNN's side-by-side (issue 15), shared by
//! `tests/flower_peer.rs` and `examples/flower_side_by_side.rs`: the
//! partition it reads, finding and running it, its report, and the table that
//! puts both runs next to each other.
//!
//! The peer is `scripts/peers/flower/fedavg_sklearn.py` in the venv
//! `.venv-flwr` that `scripts/setup-peers` installs (or `ONCOFED_FLWR_PYTHON`):
//! a real Flower server and one Flower client process per site over gRPC on
//! loopback, FedAvg over scikit-learn's `MLPClassifier` on the raw pixels.

#![allow(dead_code)] // each includer uses its own subset

use oncofed_cnn::Dataset;
use oncofed_learn::{Aggregator, EvaluateRound, Evaluation, FederatedConfig, TrainRound};
use oncofed_model::CellClass;
use serde::Deserialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Partition format version, checked by the peer.
pub const FORMAT: &str = "oncofed-flower-partition/1";

/// One site's cells as both sides train on them.
pub struct SiteCells<'a> {
    /// Site name, e.g. `site-1` (also its directory in the partition).
    pub name: String,
    /// Training cells, at the size the CNN takes.
    pub train: &'a Dataset,
    /// Held-out cells, same size.
    pub test: &'a Dataset,
}

/// What the partition fixes for both runs.
pub struct PartitionMeta<'a> {
    /// Image width and height in pixels.
    pub size: u32,
    /// Output classes in index order.
    pub classes: &'a [CellClass],
    /// FedAvg rounds.
    pub rounds: u32,
    /// Local passes over the training cells per round.
    pub local_epochs: u32,
    /// Seed of the peer's initial weights and minibatch order.
    pub seed: u64,
}

/// Writes the partition the peer reads (format in the peer's docstring):
/// `partition.json` and per site `train.bin`, `train-labels.bin`,
/// `test.bin`, `test-labels.bin`.
pub fn write_partition(
    dir: &Path,
    meta: &PartitionMeta,
    sites: &[SiteCells],
) -> Result<(), String> {
    let mut site_json = Vec::new();
    for site in sites {
        let sub = dir.join(&site.name);
        std::fs::create_dir_all(&sub).map_err(|e| format!("{}: {e}", sub.display()))?;
        for (split, cells) in [("train", site.train), ("test", site.test)] {
            cells
                .validate(meta.size, Some(meta.classes.len()))
                .map_err(|e| format!("{} {split}: {e}", site.name))?;
            for (file, bytes) in [
                (format!("{split}.bin"), &cells.images),
                (format!("{split}-labels.bin"), &cells.labels),
            ] {
                let path = sub.join(file);
                std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
        site_json.push(serde_json::json!({
            "name": site.name, "dir": site.name,
            "train": site.train.len(), "test": site.test.len(),
        }));
    }
    let json = serde_json::json!({
        "format": FORMAT,
        "image_size": meta.size,
        "channels": 3,
        "classes": meta.classes.iter().map(|c| c.code()).collect::<Vec<_>>(),
        "rounds": meta.rounds,
        "local_epochs": meta.local_epochs,
        "seed": meta.seed,
        "sites": site_json,
    });
    let path = dir.join("partition.json");
    std::fs::write(&path, json.to_string()).map_err(|e| format!("{}: {e}", path.display()))
}

/// The peer's Python (`ONCOFED_FLWR_PYTHON`, else the workspace's
/// `.venv-flwr`), or `None` with a printed skip when it is missing and
/// `ONCOFED_REQUIRE_PEERS` is unset (with it set, a missing peer fails).
pub fn peer_python() -> Option<PathBuf> {
    let python = std::env::var_os("ONCOFED_FLWR_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-flwr/bin/python"),
        PathBuf::from,
    );
    oncofed_test_peers::peer(python.to_str()?)
}

/// The peer script.
pub fn peer_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/peers/flower/fedavg_sklearn.py")
}

/// The peer's JSON report (the fields the side-by-side uses).
#[derive(Debug, Deserialize)]
pub struct PeerReport {
    /// flwr's version.
    pub flwr_version: String,
    /// scikit-learn's version.
    pub sklearn_version: String,
    /// The model: kind, hidden layers, parameter count.
    pub model: PeerModel,
    /// One entry per round.
    pub rounds: Vec<PeerRound>,
    /// Process start, data loading and connection before round 1.
    pub setup_seconds: f64,
    /// From script start to the last client's exit.
    pub total_seconds: f64,
}

/// The peer's model.
#[derive(Debug, Deserialize)]
pub struct PeerModel {
    /// `MLPClassifier`.
    pub kind: String,
    /// Hidden layer widths.
    pub hidden: Vec<u32>,
    /// Number of weights and biases.
    pub parameters: u64,
}

/// One round of the peer: wall time (fit and federated evaluation) and the
/// confusion matrices of the global model after the round.
#[derive(Debug, Deserialize)]
pub struct PeerRound {
    /// 1-based round number.
    pub round: u32,
    /// Wall time of the round: fit at every site, FedAvg, evaluation at every site.
    pub seconds: f64,
    /// The fit part of `seconds`.
    pub fit_seconds: f64,
    /// CPU time of the round: server process plus every client's fit and evaluate.
    pub cpu_seconds: f64,
    /// Pooled confusion matrix, `[true][predicted]`.
    pub confusion: Vec<Vec<u64>>,
    /// Per site.
    pub sites: Vec<PeerSite>,
}

/// One site's evaluation in a peer round.
#[derive(Debug, Deserialize)]
pub struct PeerSite {
    /// Site name.
    pub site: String,
    /// Confusion matrix, `[true][predicted]`.
    pub confusion: Vec<Vec<u64>>,
}

/// Runs the peer on the partition in `dir`; its report, or what went wrong
/// (exit status and the end of its stderr).
pub fn run_peer(python: &Path, dir: &Path) -> Result<PeerReport, String> {
    let out = Command::new(python)
        .arg(peer_script())
        .arg(dir)
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: String = err
            .chars()
            .rev()
            .take(4000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(format!("the Flower peer failed ({}):\n{tail}", out.status));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("the Flower peer's report: {e}"))
}

/// Metrics of a confusion matrix with OncoFed's own definitions
/// ([`Evaluation::from_counts`]), so both sides are scored the same way.
pub fn score(classes: &[CellClass], confusion: &[Vec<u64>]) -> Result<Evaluation, String> {
    let k = classes.len();
    if confusion.len() != k || confusion.iter().any(|row| row.len() != k) {
        return Err(format!("confusion matrix: expected {k}×{k}"));
    }
    // One calibration bin holding every cell; only the counts matter here.
    let bins = 1;
    let mut v = vec![0.0; oncofed_learn::evaluate_vector_len(k, bins)];
    let mut n = 0.0;
    let mut correct = 0.0;
    for (t, row) in confusion.iter().enumerate() {
        for (p, &c) in row.iter().enumerate() {
            v[t * k + p] = c as f64;
            n += c as f64;
            if t == p {
                correct += c as f64;
            }
        }
    }
    let k2 = k * k;
    v[k2] = n;
    v[k2 + 2] = correct;
    v[k2 + 3 * bins + 1] = n;
    Evaluation::from_counts(classes, bins, &v).map_err(|e| format!("confusion matrix: {e}"))
}

/// One round of either side, as the table shows it.
#[derive(Debug, Clone)]
pub struct RoundFigures {
    /// 1-based round.
    pub round: u32,
    /// Wall time of the round (local training at every site, aggregation,
    /// evaluation at every site).
    pub seconds: f64,
    /// CPU time of the round (every thread or process of the side), which
    /// on a shared machine says more than the wall time.
    pub cpu_seconds: f64,
    /// Pooled accuracy on the held-out cells.
    pub accuracy: f64,
    /// Pooled macro-F1 on the held-out cells.
    pub macro_f1: f64,
    /// Macro-F1 per site.
    pub site_f1: Vec<f64>,
}

/// The peer's rounds scored with [`score`].
pub fn peer_figures(
    classes: &[CellClass],
    report: &PeerReport,
) -> Result<Vec<RoundFigures>, String> {
    report
        .rounds
        .iter()
        .map(|r| {
            let pooled = score(classes, &r.confusion)?;
            let site_f1 = r
                .sites
                .iter()
                .map(|s| score(classes, &s.confusion).map(|e| e.macro_f1))
                .collect::<Result<_, _>>()?;
            Ok(RoundFigures {
                round: r.round,
                seconds: r.seconds,
                cpu_seconds: r.cpu_seconds,
                accuracy: pooled.accuracy,
                macro_f1: pooled.macro_f1,
                site_f1,
            })
        })
        .collect()
}

/// The side-by-side as a Markdown table: one row per round, then the totals.
pub fn table(
    ours: &[RoundFigures],
    peer: &[RoundFigures],
    ours_total: f64,
    peer_total: f64,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| round | OncoFed s (CPU s) | OncoFed accuracy | OncoFed macro-F1 \
         | Flower s (CPU s) | Flower accuracy | Flower macro-F1 |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|");
    for i in 0..ours.len().max(peer.len()) {
        let cells = |r: Option<&RoundFigures>| {
            r.map_or_else(
                || "– | – | –".to_string(),
                |r| {
                    format!(
                        "{:.2} ({:.2}) | {:.3} | {:.3}",
                        r.seconds, r.cpu_seconds, r.accuracy, r.macro_f1
                    )
                },
            )
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            i + 1,
            cells(ours.get(i)),
            cells(peer.get(i))
        );
    }
    let last = |r: &[RoundFigures]| {
        r.last()
            .map(|r| {
                r.site_f1
                    .iter()
                    .map(|f| format!("{f:.3}"))
                    .collect::<Vec<_>>()
                    .join(" / ")
            })
            .unwrap_or_default()
    };
    let _ = writeln!(
        s,
        "| total | {ours_total:.2} | | per site {} | {peer_total:.2} | | per site {} |",
        last(ours),
        last(peer)
    );
    s
}

/// One site of the side-by-side: its training and held-out cells at the CNN's size.
pub struct Site {
    /// `site-1`, `site-2`, …
    pub name: String,
    /// Training cells.
    pub train: Dataset,
    /// Held-out cells (never trained on by either side).
    pub test: Dataset,
}

/// `n` synthetic sites with site shift: each draws its cells with its own
/// stain, scanner and lamp (`SiteStyle::for_site`), classes uniform over
/// `classes`, `train` and `test` cells from separate seeds, resized to
/// `size × size` as the CNN takes them.
pub fn synthetic_sites(
    n: usize,
    train: usize,
    test: usize,
    size: u32,
    classes: &[CellClass],
    seed: u64,
) -> Result<Vec<Site>, String> {
    use oncofed_synth::cyto::{ClassMix, SiteStyle, cell_samples};
    let mix = ClassMix::uniform(classes);
    let dataset =
        |cells: Vec<(image::RgbImage, CellClass)>, what: &str| -> Result<Dataset, String> {
            let mut d = Dataset::new(size);
            for (i, (img, class)) in cells.into_iter().enumerate() {
                let label = classes
                    .iter()
                    .position(|c| *c == class)
                    .and_then(|l| u8::try_from(l).ok())
                    .ok_or_else(|| {
                        format!(
                            "{what} cell {i}: class {} is not an output class",
                            class.code()
                        )
                    })?;
                d.push_rgb(img.width(), img.height(), img.as_raw(), Some(label))
                    .map_err(|e| format!("{what} cell {i}: {e}"))?;
            }
            Ok(d)
        };
    (0..n)
        .map(|k| {
            let name = format!("site-{}", k + 1);
            let style = SiteStyle::for_site(k, seed);
            let site_seed = seed.wrapping_add(1000 * k as u64);
            Ok(Site {
                train: dataset(
                    cell_samples(&style, train, &mix, site_seed),
                    &format!("{name} train"),
                )?,
                test: dataset(
                    cell_samples(&style, test, &mix, site_seed ^ 0x7e57),
                    &format!("{name} test"),
                )?,
                name,
            })
        })
        .collect()
}

/// OncoFed's side in process: every site (on its own thread) computes its round vector with
/// `oncofed-cnn`, the "aggregator" sums them (what secure aggregation hands
/// the hub), and `oncofed-learn`'s driver runs FedAvg. Each training call is
/// timed and its starting parameters kept, so every round's model can be
/// scored afterwards on the held-out cells.
pub struct InProcess<'a> {
    sites: &'a [Site],
    /// Per `sum_train` call: the round's starting parameters and the wall time.
    trained: Vec<(Vec<f32>, std::time::Duration, f64)>,
}

fn add_into(sum: &mut Vec<f64>, v: Vec<f64>) -> oncofed_learn::Result<()> {
    if sum.is_empty() {
        *sum = v;
    } else if sum.len() == v.len() {
        sum.iter_mut().zip(v).for_each(|(s, x)| *s += x);
    } else {
        return Err(oncofed_learn::Error::Length {
            what: "site vector",
            expected: sum.len(),
            got: v.len(),
        });
    }
    Ok(())
}

impl Aggregator for InProcess<'_> {
    fn sum_train(&mut self, round: &TrainRound) -> oncofed_learn::Result<Vec<f64>> {
        let start = Instant::now();
        let cpu = cpu_seconds();
        // Every site on its own thread, as separate sites train at the same
        // time (Flower's clients are separate processes); summed in site order.
        let vectors: Vec<oncofed_learn::Result<Vec<f64>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .sites
                .iter()
                .map(|site| {
                    // Validation loss on the site's own training cells: the
                    // held-out cells stay unseen, both sides train on the same cells.
                    scope.spawn(move || {
                        oncofed_cnn::site_train_vector(round, &site.train, &site.train)
                            .map_err(oncofed_learn::Error::from)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(oncofed_learn::Error::Site(
                            "a site's training thread panicked".into(),
                        ))
                    })
                })
                .collect()
        });
        let mut sum = Vec::new();
        for v in vectors {
            add_into(&mut sum, v?)?;
        }
        self.trained
            .push((round.global.clone(), start.elapsed(), cpu_seconds() - cpu));
        Ok(sum)
    }

    fn sum_evaluate(&mut self, round: &EvaluateRound) -> oncofed_learn::Result<Vec<f64>> {
        let mut sum = Vec::new();
        for site in self.sites {
            add_into(
                &mut sum,
                oncofed_cnn::site_evaluate_vector(round, &site.test)?,
            )?;
        }
        Ok(sum)
    }
}

/// OncoFed's run: its rounds (scored like the peer's) and its total wall time.
pub struct OursRun {
    /// One entry per training round.
    pub rounds: Vec<RoundFigures>,
    /// Training (with the final validation-only round) plus the per-round evaluations.
    pub total_seconds: f64,
    /// Parameters of the network.
    pub parameters: usize,
}

/// Trains `config` across `sites` (in-process summing aggregator) and scores
/// the model after every round on every site's held-out cells. A round's
/// time is its training at every site plus the evaluation at every site,
/// as the peer's round is fit plus federated evaluation.
pub fn run_ours(sites: &[Site], config: &FederatedConfig) -> Result<OursRun, String> {
    let started = Instant::now();
    let mut agg = InProcess {
        sites,
        trained: Vec::new(),
    };
    oncofed_learn::train_federated(&mut agg, config)
        .map_err(|e| format!("federated training: {e}"))?;
    let classes = &config.spec.classes;
    let mut rounds = Vec::new();
    // Call r + 1 started from the parameters round r produced; the last call
    // is the validation-only round that scores the final parameters.
    for r in 0..agg.trained.len().saturating_sub(1) {
        let params = agg.trained[r + 1].0.clone();
        let start = Instant::now();
        let cpu = cpu_seconds();
        let round = EvaluateRound {
            spec: config.spec.clone(),
            params,
            bins: 10,
        };
        let mut pooled = Vec::new();
        let mut site_f1 = Vec::new();
        for site in sites {
            let v = oncofed_cnn::site_evaluate_vector(&round, &site.test)
                .map_err(|e| format!("{}: {e}", site.name))?;
            let e = Evaluation::from_counts(classes, round.bins, &v)
                .map_err(|e| format!("{}: {e}", site.name))?;
            site_f1.push(e.macro_f1);
            add_into(&mut pooled, v).map_err(|e| e.to_string())?;
        }
        let eval_time = start.elapsed();
        let eval_cpu = cpu_seconds() - cpu;
        let e = Evaluation::from_counts(classes, round.bins, &pooled).map_err(|e| e.to_string())?;
        rounds.push(RoundFigures {
            round: r as u32 + 1,
            seconds: (agg.trained[r].1 + eval_time).as_secs_f64(),
            cpu_seconds: agg.trained[r].2 + eval_cpu,
            accuracy: e.accuracy,
            macro_f1: e.macro_f1,
            site_f1,
        });
    }
    Ok(OursRun {
        rounds,
        total_seconds: started.elapsed().as_secs_f64(),
        parameters: config.spec.parameter_count(),
    })
}

/// CPU seconds this process has used so far, every thread (user plus system
/// time from `/proc/self/stat`, in the kernel's fixed 100 Hz user ticks);
/// 0 where there is no procfs, which makes the CPU column read 0.
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name in parentheses: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0
}
