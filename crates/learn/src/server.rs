//! The hub's side of a round's update: a server optimizer applied to the
//! aggregate only (FedAvgM, Hsu et al. 2019, "Measuring the effects of
//! non-identical data distribution for federated visual classification";
//! Reddi et al. 2021, "Adaptive federated optimization").
//!
//! The sites' vectors do not change: the hub turns the round's sum into the
//! FedAvg (or DP-FedAvg) model `θ_avg` as before ([`crate::aggregate_train`]),
//! reads the averaged update `Δ = θ_avg − θ_global` from it, and steps
//! `m ← β·m + Δ`, `θ ← θ_global + η·m`. With β = 0 and η = 1 this is FedAvg
//! exactly. Under DP, `Δ` is already the noisy mean of clipped updates, so the
//! server step is post-processing and costs no privacy.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// How the hub applies the averaged update of a round.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerOptimizer {
    /// Server learning rate η on the (momentum-accumulated) averaged update; 1 is FedAvg.
    pub learning_rate: f64,
    /// Server momentum β in [0, 1); 0 is FedAvg (no memory across rounds).
    pub momentum: f64,
}

impl Default for ServerOptimizer {
    fn default() -> Self {
        Self::fedavg()
    }
}

impl ServerOptimizer {
    /// Plain FedAvg: the new global model is the average (η = 1, β = 0).
    pub const fn fedavg() -> Self {
        Self {
            learning_rate: 1.0,
            momentum: 0.0,
        }
    }

    /// FedAvgM with server momentum `momentum` and server learning rate `learning_rate`.
    pub const fn fedavgm(momentum: f64, learning_rate: f64) -> Self {
        Self {
            learning_rate,
            momentum,
        }
    }

    /// Whether this is plain FedAvg (the average is taken as it is, bit for bit).
    pub fn is_fedavg(&self) -> bool {
        self.learning_rate == 1.0 && self.momentum == 0.0
    }

    /// Checks 0 < η ≤ 10 and 0 ≤ β < 1, both finite.
    pub fn validate(&self) -> Result<()> {
        if !(self.learning_rate.is_finite()
            && self.learning_rate > 0.0
            && self.learning_rate <= 10.0)
        {
            return Err(Error::Config(
                "server.learning_rate: must be in (0, 10]".into(),
            ));
        }
        if !(self.momentum.is_finite() && (0.0..1.0).contains(&self.momentum)) {
            return Err(Error::Config("server.momentum: must be in [0, 1)".into()));
        }
        Ok(())
    }
}

/// The server optimizer's state across rounds (the momentum buffer).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerState {
    opt: ServerOptimizer,
    velocity: Vec<f64>,
}

impl ServerState {
    /// A fresh state (zero momentum) for `opt`.
    pub fn new(opt: ServerOptimizer) -> Self {
        Self {
            opt,
            velocity: Vec::new(),
        }
    }

    /// The next global model from the round's starting model `global` and the
    /// aggregate `averaged` (FedAvg's or DP-FedAvg's new model).
    pub fn step(&mut self, global: &[f32], averaged: Vec<f32>) -> Vec<f32> {
        if self.opt.is_fedavg() {
            return averaged;
        }
        if self.velocity.len() != global.len() {
            self.velocity = vec![0.0; global.len()];
        }
        let ServerOptimizer {
            learning_rate: eta,
            momentum: beta,
        } = self.opt;
        global
            .iter()
            .zip(&averaged)
            .zip(self.velocity.iter_mut())
            .map(|((&g, &a), m)| {
                *m = beta * *m + (f64::from(a) - f64::from(g));
                (f64::from(g) + eta * *m) as f32
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fedavg_takes_the_average_unchanged() {
        let mut s = ServerState::new(ServerOptimizer::default());
        assert_eq!(s.step(&[1.0, 2.0], vec![3.0, 5.0]), vec![3.0, 5.0]);
    }

    #[test]
    fn momentum_accumulates_the_averaged_updates() {
        let mut s = ServerState::new(ServerOptimizer::fedavgm(0.5, 1.0));
        // Δ = 1 → m = 1, θ = 1; Δ = 1 again → m = 1.5, θ = 2.5
        assert_eq!(s.step(&[0.0], vec![1.0]), vec![1.0]);
        assert_eq!(s.step(&[1.0], vec![2.0]), vec![2.5]);
        let mut s = ServerState::new(ServerOptimizer::fedavgm(0.0, 2.0));
        assert_eq!(s.step(&[1.0], vec![2.0]), vec![3.0]);
    }

    #[test]
    fn ranges_are_checked() {
        assert!(ServerOptimizer::fedavgm(0.9, 1.0).validate().is_ok());
        assert!(ServerOptimizer::fedavgm(1.0, 1.0).validate().is_err());
        assert!(ServerOptimizer::fedavgm(-0.1, 1.0).validate().is_err());
        assert!(ServerOptimizer::fedavgm(0.5, 0.0).validate().is_err());
        assert!(ServerOptimizer::fedavgm(0.5, f64::NAN).validate().is_err());
        let parsed: ServerOptimizer = serde_json::from_str("{}").unwrap();
        assert!(parsed.is_fedavg());
    }
}
