//! One training round: what the hub sends, what each site returns (one
//! `Vec<f64>` that secure aggregation sums), and what the hub makes of the sum.
//!
//! Site vector for a training round, P = [`ModelSpec::parameter_count`]:
//!
//! | positions | without DP (FedAvg/FedProx) | with client-level DP |
//! |---|---|---|
//! | `0..P` | `n_k · θ_k` | `clip_C(θ_k − θ_global) + z_k`, `z_k ~ N(0, σ²C²/sites)` |
//! | `P` | `n_k` (training cells) | `1` |
//! | `P+1` | `n_val,k · L_k(θ_global)` | same |
//! | `P+2` | `n_val,k` (validation cells) | same |
//!
//! Without DP the hub gets `Σ n_k θ_k / Σ n_k`: sample-weighted FedAvg
//! (McMahan et al. 2017). With DP it gets `θ_global + (Σ clip(Δ_k) + N(0, σ²C²)) / sites_contributing`:
//! DP-FedAvg with an unweighted mean of clipped updates (McMahan et al. 2018,
//! "Learning differentially private recurrent language models"); each site
//! adds its share of the noise, so the shares sum to the full Gaussian at the
//! hub, which never sees one site's noise nor one site's update. Positions
//! `P+1`, `P+2` give the federated validation loss of the model the round
//! started from (early stopping); they are released without noise.

use crate::{Error, ModelSpec, Result};
use serde::{Deserialize, Serialize};

/// How a site trains locally in one round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalConfig {
    /// Passes over the site's training cells (0: validation only, nothing trained).
    pub epochs: u32,
    /// Cells per minibatch.
    pub batch_size: u32,
    /// Step size of the optimiser (Adam).
    pub learning_rate: f32,
    /// FedProx proximal weight μ (Li et al. 2020): the local loss gets
    /// `μ/2 ‖θ − θ_global‖²`. 0 is plain FedAvg.
    pub prox_mu: f32,
    /// Seed of the minibatch order (the same at every site; the data differ).
    pub seed: u64,
}

impl LocalConfig {
    /// Checks ranges: batch size ≥ 1, learning rate and μ finite, rate > 0, μ ≥ 0.
    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 {
            return Err(Error::Config("local.batch_size: must be at least 1".into()));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(Error::Config(
                "local.learning_rate: must be finite and > 0".into(),
            ));
        }
        if !(self.prox_mu.is_finite() && self.prox_mu >= 0.0) {
            return Err(Error::Config(
                "local.prox_mu: must be finite and ≥ 0".into(),
            ));
        }
        Ok(())
    }
}

/// Client-level differential privacy of a round (one site = one unit of privacy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DpConfig {
    /// L2 bound C on one site's update `θ_k − θ_global` (the sensitivity of the sum).
    pub clip_norm: f64,
    /// σ: the noise on the sum has standard deviation σ·C per coordinate.
    pub noise_multiplier: f64,
    /// δ of the (ε, δ) guarantee the accountant reports.
    pub delta: f64,
}

impl DpConfig {
    /// Checks that C > 0, σ > 0 and 0 < δ < 1, all finite.
    pub fn validate(&self) -> Result<()> {
        if !(self.clip_norm.is_finite() && self.clip_norm > 0.0) {
            return Err(Error::Config("dp.clip_norm: must be finite and > 0".into()));
        }
        if !(self.noise_multiplier.is_finite() && self.noise_multiplier > 0.0) {
            return Err(Error::Config(
                "dp.noise_multiplier: must be finite and > 0".into(),
            ));
        }
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(Error::Config("dp.delta: must be in (0, 1)".into()));
        }
        Ok(())
    }
}

/// A training round as the hub seals it for every site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainRound {
    /// The network.
    pub spec: ModelSpec,
    /// Round number, 0-based.
    pub round: u32,
    /// The global parameters the round starts from (flat, [`ModelSpec::layers`] order).
    pub global: Vec<f32>,
    /// Local training settings.
    pub local: LocalConfig,
    /// Client-level DP, if on.
    pub dp: Option<DpConfig>,
    /// Number of sites asked to contribute (each adds 1/sites of the noise variance).
    pub sites: usize,
}

impl TrainRound {
    /// Checks the spec, the length and finiteness of `global`, the local and DP settings and `sites ≥ 1`.
    pub fn validate(&self) -> Result<()> {
        self.spec.validate()?;
        self.spec
            .check_params("train round global parameters", &self.global)?;
        self.local.validate()?;
        if let Some(dp) = &self.dp {
            dp.validate()?;
        }
        if self.sites == 0 {
            return Err(Error::Config(
                "sites: at least one site must take part".into(),
            ));
        }
        Ok(())
    }
}

/// A federated evaluation of fixed parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluateRound {
    /// The network.
    pub spec: ModelSpec,
    /// The parameters to evaluate.
    pub params: Vec<f32>,
    /// Number of equal-width confidence bins for calibration (ECE), ≥ 1.
    pub bins: usize,
}

impl EvaluateRound {
    /// Checks the spec, the parameters and `1 ≤ bins ≤ 100`.
    pub fn validate(&self) -> Result<()> {
        self.spec.validate()?;
        self.spec
            .check_params("evaluate round parameters", &self.params)?;
        if self.bins == 0 || self.bins > 100 {
            return Err(Error::Config("bins: must be 1 to 100".into()));
        }
        Ok(())
    }
}

/// Length of a site's training vector: P + 3.
pub fn train_vector_len(spec: &ModelSpec) -> usize {
    spec.parameter_count() + 3
}

/// What the hub learns from one round's sum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundOutcome {
    /// The new global parameters.
    pub global: Vec<f32>,
    /// The aggregation weight: Σ n_k training cells without DP; with DP the
    /// number of contributing sites (cell counts are not released under DP).
    pub samples: u64,
    /// Federated validation loss (mean cross-entropy) of the round's *starting* parameters.
    pub val_loss: f64,
    /// Σ n_val,k validation cells.
    pub val_samples: u64,
}

/// Turns the sum of the sites' training vectors into the next global model.
pub fn aggregate_train(round: &TrainRound, sum: &[f64]) -> Result<RoundOutcome> {
    round.validate()?;
    let p = round.spec.parameter_count();
    if sum.len() != p + 3 {
        return Err(Error::Length {
            what: "train sum",
            expected: p + 3,
            got: sum.len(),
        });
    }
    if let Some(i) = sum.iter().position(|v| !v.is_finite()) {
        return Err(Error::Sum {
            what: "train sum",
            reason: format!("value {i} is not finite"),
        });
    }
    let (weight, val_sum, val_n) = (sum[p], sum[p + 1], sum[p + 2]);
    if weight < 0.5 {
        return Err(Error::Sum {
            what: "train sum weight",
            reason: format!("{weight}: no site contributed training cells"),
        });
    }
    if val_n < 0.5 || val_sum < 0.0 {
        return Err(Error::Sum {
            what: "train sum validation",
            reason: "no site reported validation cells (or a negative loss)".into(),
        });
    }
    let global: Vec<f32> = match &round.dp {
        None => sum[..p].iter().map(|&s| (s / weight) as f32).collect(),
        Some(_) => round
            .global
            .iter()
            .zip(&sum[..p])
            .map(|(&g, &d)| (f64::from(g) + d / weight) as f32)
            .collect(),
    };
    round
        .spec
        .check_params("aggregated global parameters", &global)?;
    Ok(RoundOutcome {
        global,
        samples: weight.round() as u64,
        val_loss: val_sum / val_n,
        val_samples: val_n.round() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(dp: Option<DpConfig>) -> TrainRound {
        let spec = ModelSpec {
            conv_channels: [1, 1],
            input_size: 4,
            ..ModelSpec::differential()
        };
        let p = spec.parameter_count();
        TrainRound {
            spec,
            round: 0,
            global: vec![1.0; p],
            local: LocalConfig {
                epochs: 1,
                batch_size: 8,
                learning_rate: 0.01,
                prox_mu: 0.0,
                seed: 1,
            },
            dp,
            sites: 2,
        }
    }

    #[test]
    fn fedavg_is_sample_weighted() {
        let r = round(None);
        let p = r.spec.parameter_count();
        // site A: 10 cells, θ = 2; site B: 30 cells, θ = 6 → (20 + 180) / 40 = 5
        let mut a = vec![20.0; p];
        a.extend([10.0, 4.0 * 0.5, 4.0]);
        let mut b = vec![180.0; p];
        b.extend([30.0, 6.0 * 1.5, 6.0]);
        let sum: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        let out = aggregate_train(&r, &sum).unwrap();
        assert!(out.global.iter().all(|&v| (v - 5.0).abs() < 1e-6));
        assert_eq!(out.samples, 40);
        assert!((out.val_loss - 1.1).abs() < 1e-12);
        assert_eq!(out.val_samples, 10);
    }

    #[test]
    fn dp_adds_the_mean_update_to_the_global() {
        let r = round(Some(DpConfig {
            clip_norm: 1.0,
            noise_multiplier: 1.0,
            delta: 1e-5,
        }));
        let p = r.spec.parameter_count();
        let mut sum = vec![0.4; p];
        sum.extend([2.0, 1.0, 2.0]);
        let out = aggregate_train(&r, &sum).unwrap();
        assert!(out.global.iter().all(|&v| (v - 1.2).abs() < 1e-6));
        assert_eq!(out.samples, 2);
    }

    #[test]
    fn malformed_sums_are_rejected() {
        let r = round(None);
        let p = r.spec.parameter_count();
        assert!(matches!(
            aggregate_train(&r, &[0.0; 3]),
            Err(Error::Length { .. })
        ));
        let mut zero = vec![0.0; p + 3];
        zero[p + 2] = 1.0;
        assert!(aggregate_train(&r, &zero).is_err());
        let mut nan = vec![1.0; p + 3];
        nan[0] = f64::NAN;
        assert!(aggregate_train(&r, &nan).is_err());
    }
}
