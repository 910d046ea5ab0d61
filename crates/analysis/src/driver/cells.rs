//! The hub's side of a federated cell classifier (issue 15, item 4): the
//! totals, `oncofed_learn::train_federated` over the run's secure
//! aggregation, then one evaluation round whose sum holds each site's counts
//! in its own block, released under disclosure control with the model and
//! its registry record.
//!
//! The hub sees, per round, only the sum over sites of their weighted
//! parameters (or clipped, noised updates under DP) and validation losses;
//! per site, only the evaluation counts of the final model on its held-out
//! cells and its cell counts (the model card's provenance).

use super::Federation;
use crate::result::{AnalysisResult, RunInfo};
use crate::{AnalysisError, AnalysisLimits};
use oncofed_learn::{
    Aggregator, EvaluateRound, Evaluation, FederatedConfig, ModelRecord, RoundProvenance,
    RoundRecord, SiteData, SiteMetrics, TrainRound, evaluate_vector_len, train_federated,
    train_vector_len,
};
use oncofed_protocol::analysis::{AnalysisRequest, CellTraining, Computation};
use serde::{Deserialize, Serialize};

/// Calibration bins of the released evaluation.
pub const CALIBRATION_BINS: usize = 10;

/// Values a site adds to its evaluation block besides the counts: training
/// and validation cells, then its training set's fingerprint in four 16-bit
/// parts (the first 8 bytes of a SHA-256 over its cells' keys and labels).
pub const SITE_EXTRA: usize = 6;

/// Length of one site's block of a [`Computation::Evaluate`] round.
pub fn evaluation_block_len(classes: usize, bins: usize) -> usize {
    evaluate_vector_len(classes, bins) + SITE_EXTRA
}

/// Cells of the whole federation, by use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellTotals {
    /// Persons whose cells were used (consented, with validated labels); in
    /// a released result the count as released (noised or coarsened).
    pub persons: u64,
    /// Training cells.
    pub training: u64,
    /// Validation cells (early stopping).
    pub validation: u64,
    /// Held-out test cells (evaluation).
    pub test: u64,
}

/// One site's released evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteEvaluation {
    /// The site.
    pub site: String,
    /// Training cells at the site.
    pub training_cells: u64,
    /// The metrics on its held-out cells; `None` when it has fewer than the
    /// minimum cell count of them (then only the reason is released).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Evaluation>,
    /// Why the evaluation is withheld, or how many confusion cells and
    /// calibration bins were suppressed (below the minimum cell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A trained, evaluated and registered cell classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellClassifierResult {
    /// Run facts: `rows` are the persons (noised with the request's ε, or
    /// rounded to tens when DP-FedAvg spent it), `events` 0.
    pub run: RunInfo,
    /// Cells by use over all sites.
    pub cells: CellTotals,
    /// The model's registry record (provenance, per-site metrics, DP).
    pub model: ModelRecord,
    /// The released parameters in `oncofed_learn::ModelSpec::layers` order.
    pub params: Vec<f32>,
    /// Every round: its weight and the federated validation loss.
    pub history: Vec<RoundRecord>,
    /// The round whose parameters were kept (lowest validation loss).
    pub best_round: u32,
    /// Whether patience ended the training before its round budget.
    pub stopped_early: bool,
    /// Wall time of each training round at the hub, seconds: masking,
    /// secure aggregation and the slowest site's local training (the last,
    /// validation-only round is the protocol's overhead plus one forward pass).
    #[serde(default)]
    pub round_seconds: Vec<f64>,
    /// The evaluation on all sites' held-out cells together.
    pub pooled: Evaluation,
    /// Per site.
    pub sites: Vec<SiteEvaluation>,
}

/// The federation as an `oncofed_learn` aggregator: each call one
/// aggregation round; the first failure is kept to report it as it was.
struct Rounds<'a> {
    federation: &'a mut dyn Federation,
    rounds: usize,
    failure: Option<AnalysisError>,
    seconds: Vec<f64>,
}

impl Aggregator for Rounds<'_> {
    fn sum_train(&mut self, round: &TrainRound) -> oncofed_learn::Result<Vec<f64>> {
        let len = train_vector_len(&round.spec);
        self.rounds += 1;
        let computation = Computation::Train {
            round: round.clone(),
        };
        let started = std::time::Instant::now();
        let sum = self.federation.sum(computation, len).map_err(|e| {
            let text = e.to_string();
            self.failure.get_or_insert(e);
            oncofed_learn::Error::Site(text)
        });
        self.seconds.push(started.elapsed().as_secs_f64());
        sum
    }

    fn sum_evaluate(&mut self, _: &EvaluateRound) -> oncofed_learn::Result<Vec<f64>> {
        // The run evaluates per site in blocks (`evaluate`), never pooled only.
        Err(oncofed_learn::Error::Site(
            "pooled-only evaluation is not used".into(),
        ))
    }
}

fn count(x: f64) -> Result<u64, AnalysisError> {
    if !x.is_finite() || x < -0.5 || (x - x.round()).abs() > 1e-6 {
        return Err(AnalysisError::Federation(
            "implausible sums: a cell count is not a whole number".into(),
        ));
    }
    Ok(x.round().max(0.0) as u64)
}

/// Suppresses confusion cells and calibration bins below `min_cell` (set to
/// 0; the metrics were computed before). Returns how many were suppressed.
fn suppress(e: &mut Evaluation, min_cell: u64) -> usize {
    let mut n = 0;
    for c in e.confusion.iter_mut().flatten() {
        if *c > 0 && *c < min_cell {
            *c = 0;
            n += 1;
        }
    }
    for b in &mut e.calibration {
        if b.count > 0 && b.count < min_cell {
            b.count = 0;
            b.mean_confidence = 0.0;
            b.accuracy = 0.0;
            n += 1;
        }
    }
    n
}

/// Runs a cell classifier's training and evaluation over `federation`.
pub(super) fn cell_classifier_run(
    request: &AnalysisRequest,
    training: &CellTraining,
    limits: &AnalysisLimits,
    federation: &mut dyn Federation,
) -> Result<AnalysisResult, AnalysisError> {
    let sites = federation.sites();
    let totals = federation.sum(Computation::Totals, 4)?;
    let totals = CellTotals {
        persons: count(totals[0])?,
        training: count(totals[1])?,
        validation: count(totals[2])?,
        test: count(totals[3])?,
    };
    if totals.training == 0 || totals.validation == 0 {
        return Err(AnalysisError::Disclosure(
            "the sites hold no validated cells to train and validate on".into(),
        ));
    }
    let dp = training
        .dp_config(request.epsilon)
        .map_err(AnalysisError::Invalid)?;
    let config = FederatedConfig {
        spec: training.spec.clone(),
        rounds: training.rounds,
        local: training.local.clone(),
        dp: dp.clone(),
        patience: training.patience,
        seed: training.seed,
        sites,
        server: training.server,
    };
    let mut rounds = Rounds {
        federation,
        rounds: 1,
        failure: None,
        seconds: Vec::new(),
    };
    let model = train_federated(&mut rounds, &config).map_err(|e| {
        rounds
            .failure
            .take()
            .unwrap_or_else(|| AnalysisError::Invalid(e.to_string()))
    })?;
    let names = rounds.federation.site_slots();
    let slots = names.iter().map(|(i, _)| i + 1).max().unwrap_or(0);
    let k = training.spec.classes.len();
    let eval_len = evaluate_vector_len(k, CALIBRATION_BINS);
    let block = evaluation_block_len(k, CALIBRATION_BINS);
    let round = EvaluateRound {
        spec: training.spec.clone(),
        params: model.params.clone(),
        bins: CALIBRATION_BINS,
    };
    let sum = rounds.federation.sum(
        Computation::Evaluate {
            round: round.clone(),
            slots,
        },
        slots * block,
    )?;
    rounds.rounds += 1;
    let mut pooled_sum = vec![0.0; eval_len];
    let mut per_site = Vec::new();
    let mut data = Vec::new();
    for (i, name) in &names {
        let b = &sum[i * block..(i + 1) * block];
        for (p, v) in pooled_sum.iter_mut().zip(&b[..eval_len]) {
            *p += v;
        }
        let extra = &b[eval_len..];
        let (train_cells, val_cells) = (count(extra[0])?, count(extra[1])?);
        let mut hash = String::new();
        for part in &extra[2..6] {
            hash.push_str(&format!("{:04x}", count(*part)?.min(0xffff)));
        }
        data.push(SiteData {
            site: name.clone(),
            hash,
            train_cells,
            validation_cells: val_cells,
            labels: "validated".into(),
        });
        let tested = count(b[eval_len - 1])?;
        let (evaluation, note) = if tested < limits.min_cell.max(1) {
            (
                None,
                Some(format!(
                    "fewer than {} held-out cells: evaluation withheld",
                    limits.min_cell.max(1)
                )),
            )
        } else {
            let mut e =
                Evaluation::from_counts(&training.spec.classes, CALIBRATION_BINS, &b[..eval_len])
                    .map_err(|e| AnalysisError::Federation(format!("implausible sums: {e}")))?;
            let n = suppress(&mut e, limits.min_cell);
            (
                Some(e),
                (n > 0).then(|| {
                    format!(
                        "{n} confusion cells or calibration bins below {} suppressed",
                        limits.min_cell
                    )
                }),
            )
        };
        per_site.push(SiteEvaluation {
            site: name.clone(),
            training_cells: train_cells,
            evaluation,
            note,
        });
    }
    let mut pooled = Evaluation::from_counts(&training.spec.classes, CALIBRATION_BINS, &pooled_sum)
        .map_err(|e| AnalysisError::Federation(format!("implausible sums: {e}")))?;
    suppress(&mut pooled, limits.min_cell);
    let site_names: Vec<String> = names.iter().map(|(_, n)| n.clone()).collect();
    let provenance = model
        .history
        .iter()
        .map(|r| RoundProvenance {
            round: r.round,
            sites: site_names.clone(),
            samples: r.samples,
            val_loss: r.val_loss,
        })
        .collect();
    let metrics = per_site
        .iter()
        .filter_map(|s| {
            s.evaluation.clone().map(|evaluation| SiteMetrics {
                site: s.site.clone(),
                evaluation,
            })
        })
        .chain(std::iter::once(SiteMetrics {
            site: "pooled".into(),
            evaluation: pooled.clone(),
        }))
        .collect();
    let dp_record = match (&dp, model.dp_epsilon) {
        (Some(d), Some(epsilon)) => Some(oncofed_learn::DpRecord {
            clip_norm: d.clip_norm,
            noise_multiplier: d.noise_multiplier,
            delta: d.delta,
            epsilon,
            rounds: model.history.iter().filter(|r| r.trained).count() as u32,
        }),
        _ => None,
    };
    let record = ModelRecord::new(
        &training.name,
        training.spec.clone(),
        &model.params,
        &training.algorithm(),
        provenance,
        data,
        concat!("oncofed-analysis ", env!("CARGO_PKG_VERSION")),
        metrics,
        dp_record,
    );
    let persons = match (request.epsilon, &dp) {
        // DP-FedAvg spent the ε: the persons count is coarsened to tens
        (Some(_), Some(_)) => (totals.persons + 5) / 10 * 10,
        // the ε noises the count (one person moves it by 1)
        (Some(e), None) => crate::dp::noise_counts(&[totals.persons as f64], 1.0, e)?[0],
        (None, _) => totals.persons,
    };
    let run = RunInfo {
        sites,
        rows: persons,
        events: 0,
        rounds: rounds.rounds,
        epsilon: request.epsilon,
        admission_seconds: None,
        aggregation_seconds: None,
        time_bins: None,
        endpoint: None,
        origin: None,
        sat_out: Vec::new(),
        left: Vec::new(),
    };
    Ok(AnalysisResult::CellClassifier(Box::new(
        CellClassifierResult {
            run,
            // the released persons count, never the exact one
            cells: CellTotals { persons, ..totals },
            model: record,
            params: model.params,
            history: model.history,
            best_round: model.best_round,
            stopped_early: model.stopped_early,
            round_seconds: rounds.seconds,
            pooled,
            sites: per_site,
        },
    )))
}
