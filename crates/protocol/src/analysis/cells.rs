//! A federated cell classifier as an analysis (issue 15, item 4): what a
//! researcher asks for ([`CellTraining`]) and the checks both the hub's plan
//! and every site apply to a training or evaluation round before a site trains
//! or scores anything ([`check_train_round`], [`check_evaluate_round`]).
//!
//! The rounds themselves are `oncofed-learn`'s: the hub seals a
//! [`TrainRound`] per aggregation round, every site answers one vector
//! (`n·θ` or a clipped, noised update, plus its validation loss), and secure
//! aggregation gives the hub only the sum. Nothing here knows tensors.

use oncofed_learn::{DpConfig, EvaluateRound, LocalConfig, ModelSpec, ServerOptimizer, TrainRound};
use serde::{Deserialize, Serialize};

/// Most training rounds one run may ask for.
pub const MAX_TRAINING_ROUNDS: u32 = 100;

/// Most local epochs per round.
pub const MAX_LOCAL_EPOCHS: u32 = 20;

/// Most calibration bins of an evaluation.
pub const MAX_CALIBRATION_BINS: usize = 20;

/// Largest |θ| of a parameter a round may carry: far above anything training
/// reaches from the initial scale (|θ| < 1), low enough that a crafted global
/// model cannot overflow a site's arithmetic.
pub const MAX_ABS_PARAMETER: f32 = 1.0e4;

/// Client-level differential privacy of a training run: each site's update is
/// clipped to `clip_norm` and Gaussian noise is added in shares, σ chosen so
/// that all rounds together spend the request's ε at `delta` (RDP accountant,
/// `oncofed_learn::dp`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellDp {
    /// L2 bound on one site's update per round.
    pub clip_norm: f64,
    /// δ of the (ε, δ) guarantee.
    pub delta: f64,
}

/// `cell-classifier`: train a convolutional cell classifier across the sites
/// on their validated cell labels (FedAvg, FedProx with `local.prox_mu > 0`,
/// DP-FedAvg with `dp`), stop early on the federated validation loss, then
/// evaluate the best model on every site's held-out cells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellTraining {
    /// The model's name in the registry (`[a-z0-9-]{1,64}`).
    pub name: String,
    /// The network.
    pub spec: ModelSpec,
    /// Most training rounds (1 to [`MAX_TRAINING_ROUNDS`]).
    pub rounds: u32,
    /// Local training per round; its `seed` is replaced per round by one
    /// derived from [`Self::seed`].
    pub local: LocalConfig,
    /// Stop after this many rounds without a lower federated validation loss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patience: Option<u32>,
    /// Seed of the initial parameters and the minibatch orders.
    pub seed: u64,
    /// The hub's step from the averaged update: FedAvg (default) or FedAvgM
    /// (server momentum β and rate η, Hsu et al. 2019); applied at the hub to
    /// the aggregate only, the sites' vectors are the same.
    #[serde(default, skip_serializing_if = "ServerOptimizer::is_fedavg")]
    pub server: ServerOptimizer,
    /// Client-level DP; needs the request's `epsilon`, which it spends on
    /// the training. Without it the ε noises the released persons count and
    /// the model is released under the disclosure limits only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dp: Option<CellDp>,
}

impl CellTraining {
    /// A small default run of `name`: the differential classifier, 12 rounds
    /// of 2 local epochs (Adam, batch 32, rate 0.003), patience 3.
    pub fn small(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            spec: ModelSpec::differential(),
            rounds: 12,
            local: LocalConfig {
                epochs: 2,
                batch_size: 32,
                learning_rate: 0.003,
                prox_mu: 0.0,
                seed: 0,
            },
            patience: Some(3),
            seed: 1,
            server: ServerOptimizer::fedavg(),
            dp: None,
        }
    }

    /// The algorithm's name for the registry: `FedAvg`, `FedProx(mu=…)`,
    /// with `M(beta=…,eta=…)` for server momentum and a `DP-` prefix under DP.
    pub fn algorithm(&self) -> String {
        let mut base = if self.local.prox_mu > 0.0 {
            format!("FedProx(mu={})", self.local.prox_mu)
        } else {
            "FedAvg".to_owned()
        };
        if !self.server.is_fedavg() {
            base.push_str(&format!(
                "M(beta={},eta={})",
                self.server.momentum, self.server.learning_rate
            ));
        }
        if self.dp.is_some() {
            format!("DP-{base}")
        } else {
            base
        }
    }

    /// The aggregation rounds a run needs at most: the totals, every training
    /// round, the validation-only round that scores the last parameters, and
    /// the evaluation.
    pub fn planned_rounds(&self) -> usize {
        self.rounds as usize + 3
    }

    /// Checks ranges; `epsilon` is the request's. Texts name the field.
    pub fn validate(&self, epsilon: Option<f64>) -> Result<(), String> {
        let id_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            return Err("training.name must be 1-64 characters of a-z, 0-9 and '-'".into());
        }
        self.spec.validate().map_err(|e| e.to_string())?;
        self.local.validate().map_err(|e| e.to_string())?;
        self.server.validate().map_err(|e| e.to_string())?;
        if !(1..=MAX_TRAINING_ROUNDS).contains(&self.rounds) {
            return Err(format!(
                "training.rounds must be 1 to {MAX_TRAINING_ROUNDS}"
            ));
        }
        if !(1..=MAX_LOCAL_EPOCHS).contains(&self.local.epochs) {
            return Err(format!(
                "training.local.epochs must be 1 to {MAX_LOCAL_EPOCHS}"
            ));
        }
        if self.patience == Some(0) {
            return Err("training.patience must be at least 1".into());
        }
        match (&self.dp, epsilon) {
            (Some(_), None) => {
                Err("training.dp needs the request's epsilon: the ε the training spends".into())
            }
            (Some(dp), Some(_)) => self.dp_config(epsilon).map(|_| ()).and_then(|_| {
                if dp.delta > 1e-3 {
                    Err("training.dp.delta must be at most 1e-3".into())
                } else {
                    Ok(())
                }
            }),
            // without DP the ε noises the released count of persons only
            (None, _) => Ok(()),
        }
    }

    /// The DP configuration of every round: the noise multiplier σ that makes
    /// [`Self::rounds`] rounds cost `epsilon` at δ. `None` without DP.
    pub fn dp_config(&self, epsilon: Option<f64>) -> Result<Option<DpConfig>, String> {
        let (Some(dp), Some(epsilon)) = (&self.dp, epsilon) else {
            return Ok(None);
        };
        let noise_multiplier =
            oncofed_learn::dp::noise_multiplier_for(epsilon, dp.delta, self.rounds)
                .map_err(|e| format!("training.dp: {e}"))?;
        let config = DpConfig {
            clip_norm: dp.clip_norm,
            noise_multiplier,
            delta: dp.delta,
        };
        config.validate().map_err(|e| e.to_string())?;
        Ok(Some(config))
    }
}

fn check_params(spec: &ModelSpec, params: &[f32]) -> Result<(), String> {
    if params.len() != spec.parameter_count() {
        return Err("parameters of the wrong length for the planned network".into());
    }
    if !params
        .iter()
        .all(|p| p.is_finite() && p.abs() <= MAX_ABS_PARAMETER)
    {
        return Err(format!(
            "a parameter is not finite or beyond ±{MAX_ABS_PARAMETER}"
        ));
    }
    Ok(())
}

/// Whether `round` is one the admitted `training` allows at request ε
/// `epsilon`: the planned network, a round within the budget, the planned
/// local training (or none: the validation-only round), exactly the planned
/// DP (the σ the ε buys: a hub cannot lower the noise), and bounded
/// parameters. `sites` is the hub's count for the noise split; a site adds
/// its share for its own threshold whatever it says.
pub fn check_train_round(
    training: &CellTraining,
    epsilon: Option<f64>,
    round: &TrainRound,
) -> Result<(), String> {
    if round.spec != training.spec {
        return Err("a training round for another network than the plan's".into());
    }
    if round.round > training.rounds {
        return Err("a training round beyond the plan's rounds".into());
    }
    let local = &round.local;
    let planned = &training.local;
    if !(local.epochs == 0 || local.epochs == planned.epochs)
        || local.batch_size != planned.batch_size
        || local.learning_rate != planned.learning_rate
        || local.prox_mu != planned.prox_mu
    {
        return Err("local training other than the plan's".into());
    }
    match (training.dp_config(epsilon)?, &round.dp) {
        (None, None) => {}
        (Some(want), Some(got))
            if got.clip_norm == want.clip_norm
                && got.delta == want.delta
                && got.noise_multiplier >= want.noise_multiplier * (1.0 - 1e-12) => {}
        _ => return Err("differential privacy other than the plan's".into()),
    }
    if round.sites == 0 {
        return Err("a training round for no sites".into());
    }
    check_params(&training.spec, &round.global)
}

/// Whether `round` scores the planned network with bounded parameters and at
/// most [`MAX_CALIBRATION_BINS`] calibration bins.
pub fn check_evaluate_round(training: &CellTraining, round: &EvaluateRound) -> Result<(), String> {
    if round.spec != training.spec {
        return Err("an evaluation of another network than the plan's".into());
    }
    if !(1..=MAX_CALIBRATION_BINS).contains(&round.bins) {
        return Err(format!(
            "an evaluation needs 1 to {MAX_CALIBRATION_BINS} calibration bins"
        ));
    }
    check_params(&training.spec, &round.params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(t: &CellTraining) -> TrainRound {
        TrainRound {
            spec: t.spec.clone(),
            round: 0,
            global: t.spec.initial_params(1),
            local: t.local.clone(),
            dp: None,
            sites: 3,
        }
    }

    #[test]
    fn rounds_outside_the_plan_are_refused() {
        let t = CellTraining::small("m");
        t.validate(None).unwrap();
        check_train_round(&t, None, &round(&t)).unwrap();
        let mut r = round(&t);
        r.local.epochs = 0;
        check_train_round(&t, None, &r).unwrap();
        r.local.learning_rate = 1.0;
        assert!(check_train_round(&t, None, &r).is_err());
        let mut r = round(&t);
        r.round = t.rounds + 1;
        assert!(check_train_round(&t, None, &r).is_err());
        let mut r = round(&t);
        r.global[3] = f32::NAN;
        assert!(check_train_round(&t, None, &r).is_err());
        let mut r = round(&t);
        r.spec.conv_channels = [4, 4];
        assert!(check_train_round(&t, None, &r).is_err());
    }

    #[test]
    fn dp_needs_epsilon_and_the_noise_it_buys() {
        let mut t = CellTraining::small("m");
        t.dp = Some(CellDp {
            clip_norm: 0.5,
            delta: 1e-5,
        });
        assert!(t.validate(None).is_err());
        t.validate(Some(8.0)).unwrap();
        let want = t.dp_config(Some(8.0)).unwrap().unwrap();
        let mut r = round(&t);
        assert!(check_train_round(&t, Some(8.0), &r).is_err(), "DP left out");
        r.dp = Some(want.clone());
        check_train_round(&t, Some(8.0), &r).unwrap();
        r.dp = Some(DpConfig {
            noise_multiplier: want.noise_multiplier / 2.0,
            ..want
        });
        assert!(check_train_round(&t, Some(8.0), &r).is_err(), "less noise");
        let plain = CellTraining::small("m");
        plain.validate(Some(1.0)).unwrap();
        assert_eq!(plain.dp_config(Some(1.0)).unwrap(), None);
    }
}
