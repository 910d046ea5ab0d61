//! The federated driver: rounds of local training, summed by an
//! [`Aggregator`], until the round budget or early stopping ends them.

use crate::{
    DpConfig, Error, EvaluateRound, LocalConfig, ModelSpec, Result, ServerOptimizer, ServerState,
    TrainRound, aggregate_train, dp, evaluate_vector_len, train_vector_len,
};
use serde::{Deserialize, Serialize};

/// Something that runs a round at every site and returns only the sum of
/// their vectors: secure aggregation over the real network in the hub, a plain
/// sum over in-process sites in tests.
pub trait Aggregator {
    /// Runs `round` at every site and returns the sum of their training
    /// vectors (length [`train_vector_len`]).
    fn sum_train(&mut self, round: &TrainRound) -> Result<Vec<f64>>;
    /// Runs `round` at every site and returns the sum of their evaluation
    /// vectors (length [`evaluate_vector_len`]).
    fn sum_evaluate(&mut self, round: &EvaluateRound) -> Result<Vec<f64>>;
}

/// A federated training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FederatedConfig {
    /// The network.
    pub spec: ModelSpec,
    /// Maximum number of training rounds.
    pub rounds: u32,
    /// Local training per round (`seed` is replaced per round by one derived from [`Self::seed`]).
    pub local: LocalConfig,
    /// Client-level DP, if on.
    pub dp: Option<DpConfig>,
    /// Stop after this many rounds without a lower federated validation loss (`None`: never).
    pub patience: Option<u32>,
    /// Seed of the initial parameters and of the per-round minibatch seeds.
    pub seed: u64,
    /// Number of sites that take part (the DP noise is split among them).
    pub sites: usize,
    /// How the hub applies each round's averaged update (FedAvg by default,
    /// FedAvgM with server momentum); hub side only, the site vectors do not change.
    #[serde(default)]
    pub server: ServerOptimizer,
}

impl FederatedConfig {
    /// A FedAvg run without DP nor early stopping: the defaults every other
    /// field can be overridden from (`FederatedConfig { patience: Some(10), ..FederatedConfig::new(..) }`).
    pub fn new(spec: ModelSpec, rounds: u32, local: LocalConfig, seed: u64, sites: usize) -> Self {
        Self {
            spec,
            rounds,
            local,
            dp: None,
            patience: None,
            seed,
            sites,
            server: ServerOptimizer::fedavg(),
        }
    }
}

/// One round of the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRecord {
    /// Round number, 0-based; the last record of a run that was not stopped
    /// early is a validation-only round (no training) that scores the final parameters.
    pub round: u32,
    /// Aggregation weight of the round (Σ training cells; sites under DP).
    pub samples: u64,
    /// Federated validation loss of the parameters the round started from.
    pub val_loss: f64,
    /// Whether the sites trained in this round (false for the validation-only round).
    pub trained: bool,
}

/// The outcome of [`train_federated`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainedModel {
    /// The parameters with the lowest federated validation loss seen.
    pub params: Vec<f32>,
    /// Training rounds whose result `params` is (0 = the initial parameters).
    pub best_round: u32,
    /// Federated validation loss of `params`.
    pub val_loss: f64,
    /// Every round, in order.
    pub history: Vec<RoundRecord>,
    /// Whether patience ran out before the round budget.
    pub stopped_early: bool,
    /// ε spent at the configured δ over the training rounds run (RDP accountant), if DP was on.
    pub dp_epsilon: Option<f64>,
}

/// Derives round `round`'s minibatch seed from the run's seed (SplitMix64 step).
fn round_seed(seed: u64, round: u32) -> u64 {
    let mut z = seed ^ (u64::from(round) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Trains `config.spec` across the sites behind `agg`: FedAvg (μ = 0) or
/// FedProx (μ > 0), DP-FedAvg when `config.dp` is set, with the hub's server
/// optimizer (`config.server`, FedAvgM) on the averaged update. Each round's reply
/// carries the federated validation loss of the round's starting parameters;
/// the run keeps the best, stops after `patience` rounds without improvement,
/// and otherwise scores the last parameters in one validation-only round
/// (epochs = 0: nothing trained, no privacy spent).
pub fn train_federated(agg: &mut dyn Aggregator, config: &FederatedConfig) -> Result<TrainedModel> {
    config.spec.validate()?;
    config.local.validate()?;
    config.server.validate()?;
    if let Some(dp) = &config.dp {
        dp.validate()?;
    }
    if config.rounds == 0 || config.local.epochs == 0 {
        return Err(Error::Config(
            "rounds and local.epochs: must be at least 1".into(),
        ));
    }
    let expected = train_vector_len(&config.spec);
    let mut global = config.spec.initial_params(config.seed);
    let mut best: Option<(f64, Vec<f32>, u32)> = None;
    let mut since_best = 0;
    let mut history = Vec::new();
    let mut trained_rounds = 0;
    let mut stopped_early = false;
    let mut server = ServerState::new(config.server);
    for r in 0..=config.rounds {
        let training = r < config.rounds;
        let mut local = config.local.clone();
        local.seed = round_seed(config.seed, r);
        if !training {
            local.epochs = 0;
        }
        let round = TrainRound {
            spec: config.spec.clone(),
            round: r,
            global,
            local,
            dp: config.dp.clone(),
            sites: config.sites,
        };
        let sum = agg.sum_train(&round)?;
        if sum.len() != expected {
            return Err(Error::Length {
                what: "train sum from the aggregator",
                expected,
                got: sum.len(),
            });
        }
        let out = aggregate_train(&round, &sum)?;
        if training {
            trained_rounds += 1;
        }
        history.push(RoundRecord {
            round: r,
            samples: out.samples,
            val_loss: out.val_loss,
            trained: training,
        });
        if best
            .as_ref()
            .is_none_or(|(loss, _, _)| out.val_loss < *loss)
        {
            best = Some((out.val_loss, round.global.clone(), r));
            since_best = 0;
        } else {
            since_best += 1;
        }
        if training && config.patience.is_some_and(|p| since_best >= p) {
            stopped_early = true;
            break;
        }
        global = server.step(&round.global, out.global);
    }
    let (val_loss, params, best_round) =
        best.ok_or_else(|| Error::Config("rounds: no round was run".into()))?;
    let dp_epsilon = match &config.dp {
        Some(d) => Some(dp::epsilon(d.noise_multiplier, trained_rounds, d.delta)?),
        None => None,
    };
    Ok(TrainedModel {
        params,
        best_round,
        val_loss,
        history,
        stopped_early,
        dp_epsilon,
    })
}

/// Evaluates `params` across the sites behind `agg` and returns the pooled metrics.
pub fn evaluate_federated(
    agg: &mut dyn Aggregator,
    spec: &ModelSpec,
    params: &[f32],
    bins: usize,
) -> Result<crate::Evaluation> {
    let round = EvaluateRound {
        spec: spec.clone(),
        params: params.to_vec(),
        bins,
    };
    round.validate()?;
    let sum = agg.sum_evaluate(&round)?;
    let expected = evaluate_vector_len(spec.classes.len(), bins);
    if sum.len() != expected {
        return Err(Error::Length {
            what: "evaluation sum from the aggregator",
            expected,
            got: sum.len(),
        });
    }
    crate::Evaluation::from_sum(&round, &sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sites whose "training" moves every parameter towards a site target,
    /// and whose validation loss is the squared distance to a common optimum:
    /// enough to check weighting, early stopping and the history.
    struct Quadratic {
        targets: Vec<(f32, f64)>,
        optimum: f32,
        /// Fraction of the way to its target a site moves in one round.
        step: f32,
        calls: u32,
    }

    impl Aggregator for Quadratic {
        fn sum_train(&mut self, round: &TrainRound) -> Result<Vec<f64>> {
            self.calls += 1;
            let p = round.global.len();
            let mut sum = vec![0.0; p + 3];
            for &(target, n) in &self.targets {
                let loss = round
                    .global
                    .iter()
                    .map(|&g| f64::from(g - self.optimum).powi(2))
                    .sum::<f64>();
                for (s, &g) in sum.iter_mut().zip(&round.global) {
                    let theta = if round.local.epochs == 0 {
                        g
                    } else {
                        g + self.step * (target - g)
                    };
                    *s += n * f64::from(theta);
                }
                sum[p] += n;
                sum[p + 1] += loss;
                sum[p + 2] += 1.0;
            }
            Ok(sum)
        }
        fn sum_evaluate(&mut self, _: &EvaluateRound) -> Result<Vec<f64>> {
            Err(Error::Site("not used".into()))
        }
    }

    fn config(patience: Option<u32>) -> FederatedConfig {
        FederatedConfig {
            spec: ModelSpec {
                conv_channels: [1, 1],
                input_size: 4,
                ..ModelSpec::differential()
            },
            rounds: 30,
            local: LocalConfig {
                epochs: 1,
                batch_size: 4,
                learning_rate: 0.1,
                prox_mu: 0.0,
                seed: 0,
            },
            dp: None,
            patience,
            seed: 3,
            sites: 2,
            server: ServerOptimizer::fedavg(),
        }
    }

    #[test]
    fn converges_to_the_weighted_mean_and_stops_early() {
        // weighted mean of targets: (1·10 + 3·30)/40 = 2.5, the optimum is 2.5
        let mut agg = Quadratic {
            targets: vec![(1.0, 10.0), (3.0, 30.0)],
            optimum: 2.5,
            step: 0.5,
            calls: 0,
        };
        let m = train_federated(&mut agg, &config(None)).unwrap();
        assert!(m.params.iter().all(|&v| (v - 2.5).abs() < 1e-3));
        assert_eq!(m.history.len(), 31);
        assert!(!m.history[30].trained && !m.stopped_early && m.dp_epsilon.is_none());
        // optimum elsewhere: the loss rises once the run passes it → early stop
        let mut agg = Quadratic {
            targets: vec![(1.0, 10.0), (3.0, 30.0)],
            optimum: 1.0,
            step: 0.5,
            calls: 0,
        };
        let m = train_federated(&mut agg, &config(Some(2))).unwrap();
        assert!(m.stopped_early);
        assert!(agg.calls < 30);
        let best = m
            .history
            .iter()
            .map(|r| r.val_loss)
            .fold(f64::INFINITY, f64::min);
        assert_eq!(m.val_loss, best);
    }

    #[test]
    fn server_momentum_speeds_up_slow_local_progress() {
        // each round the sites move only 5 % of the way: FedAvg contracts the
        // error by 0.95 a round, FedAvgM (β = 0.6, η = 1) by about 0.8
        let run = |server: ServerOptimizer| {
            let mut agg = Quadratic {
                targets: vec![(1.0, 10.0), (3.0, 30.0)],
                optimum: 2.5,
                step: 0.05,
                calls: 0,
            };
            let m = train_federated(
                &mut agg,
                &FederatedConfig {
                    server,
                    ..config(None)
                },
            )
            .unwrap();
            m.params
                .iter()
                .map(|&v| (v - 2.5).abs())
                .fold(0.0f32, f32::max)
        };
        let fedavg = run(ServerOptimizer::fedavg());
        let fedavgm = run(ServerOptimizer::fedavgm(0.6, 1.0));
        assert!(fedavg > 0.3, "FedAvg error {fedavg}");
        assert!(fedavgm < 0.05, "FedAvgM error {fedavgm}");
        // the server step is validated
        let bad = FederatedConfig {
            server: ServerOptimizer::fedavgm(1.5, 1.0),
            ..config(None)
        };
        let mut agg = Quadratic {
            targets: vec![(1.0, 1.0)],
            optimum: 1.0,
            step: 0.5,
            calls: 0,
        };
        assert!(train_federated(&mut agg, &bad).is_err());
        assert_eq!(agg.calls, 0);
    }

    #[test]
    fn dp_runs_are_charged_for_their_training_rounds() {
        let mut cfg = config(None);
        cfg.rounds = 5;
        let sigma = dp::noise_multiplier_for(8.0, 1e-5, 5).unwrap();
        cfg.dp = Some(DpConfig {
            clip_norm: 1.0,
            noise_multiplier: sigma,
            delta: 1e-5,
        });
        struct Zero;
        impl Aggregator for Zero {
            fn sum_train(&mut self, round: &TrainRound) -> Result<Vec<f64>> {
                let mut v = vec![0.0; round.global.len() + 3];
                let p = round.global.len();
                v[p] = 2.0;
                v[p + 1] = 1.0;
                v[p + 2] = 1.0;
                Ok(v)
            }
            fn sum_evaluate(&mut self, _: &EvaluateRound) -> Result<Vec<f64>> {
                Err(Error::Site("not used".into()))
            }
        }
        let m = train_federated(&mut Zero, &cfg).unwrap();
        assert!((m.dp_epsilon.unwrap() - 8.0).abs() < 1e-6);
    }
}
