//! The hub's Newton–Raphson loop with step halving, shared by Cox and the GLMs,
//! and the coefficient table (estimate, SE, z, p, CI) they report.
//!
//! Each iteration is one round trip to the sites: the hub sends β, every site
//! returns its additive aggregate, the hub sums and steps. Step halving costs
//! extra round trips only when a full step lowers the log-likelihood.

use serde::{Deserialize, Serialize};

use crate::error::StatsError;
use crate::linalg::Cholesky;
use crate::special::{Z_975, normal_two_sided_p};

/// Stopping rule of the hub's Newton–Raphson iteration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NewtonOptions {
    /// Stop when the largest absolute change of a coefficient is below this.
    /// Because Newton converges quadratically, the accepted estimate is then
    /// accurate to far below this tolerance. Default 1e-9.
    pub tolerance: f64,
    /// Give up (with [`StatsError::NoConvergence`]) after this many Newton steps;
    /// each is one round trip to the sites. Default 20.
    pub max_iterations: usize,
}

impl Default for NewtonOptions {
    fn default() -> Self {
        Self {
            tolerance: 1e-9,
            max_iterations: 20,
        }
    }
}

/// A summed objective at one β: log-likelihood, its gradient and the
/// information matrix (minus the Hessian), row-major p × p.
#[derive(Debug, Clone)]
pub(crate) struct Objective {
    pub(crate) loglik: f64,
    pub(crate) gradient: Vec<f64>,
    pub(crate) information: Vec<f64>,
}

/// The converged state: β, the objective there, and how many Newton steps it took.
pub(crate) struct NewtonOutcome {
    pub(crate) beta: Vec<f64>,
    pub(crate) objective: Objective,
    pub(crate) iterations: usize,
    pub(crate) covariance: Vec<f64>,
}

/// Maximises the log-likelihood that `evaluate` returns, starting at `start`.
pub(crate) fn maximise(
    start: Vec<f64>,
    options: NewtonOptions,
    evaluate: &mut dyn FnMut(&[f64]) -> Result<Objective, StatsError>,
) -> Result<NewtonOutcome, StatsError> {
    let p = start.len();
    let mut beta = start;
    let mut current = evaluate(&beta)?;
    for iteration in 1..=options.max_iterations {
        let step = Cholesky::new(&current.information, p)?.solve(&current.gradient);
        let mut scale = 1.0;
        let (candidate, next) = loop {
            let candidate: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b + scale * s).collect();
            let next = evaluate(&candidate)?;
            // accept any step that does not lower the log-likelihood beyond rounding
            let slack = 1e-12 * current.loglik.abs().max(1.0);
            if next.loglik.is_finite() && next.loglik >= current.loglik - slack {
                break (candidate, next);
            }
            scale /= 2.0;
            if scale < 1e-10 {
                return Err(StatsError::NoConvergence {
                    iterations: iteration,
                });
            }
        };
        let change = step.iter().map(|s| (scale * s).abs()).fold(0.0, f64::max);
        beta = candidate;
        current = next;
        if change < options.tolerance {
            let covariance = Cholesky::new(&current.information, p)?.inverse();
            return Ok(NewtonOutcome {
                beta,
                objective: current,
                iterations: iteration,
                covariance,
            });
        }
    }
    Err(StatsError::NoConvergence {
        iterations: options.max_iterations,
    })
}

/// One row of a coefficient table, as lifelines' and statsmodels' summaries show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The coefficient β on the linear-predictor scale.
    pub coef: f64,
    /// `exp(β)`: the hazard ratio (Cox), odds ratio (logistic) or rate ratio (Poisson).
    pub exp_coef: f64,
    /// Standard error from the inverse information at the estimate.
    pub std_error: f64,
    /// Wald statistic `β / SE`.
    pub z: f64,
    /// Two-sided Wald p-value.
    pub p_value: f64,
    /// Lower bound of the 95 % Wald interval for β (`exp` it for the ratio scale).
    pub ci_lower: f64,
    /// Upper bound of the 95 % Wald interval for β.
    pub ci_upper: f64,
}

/// Builds the coefficient table from estimates and their covariance matrix.
pub(crate) fn estimates(beta: &[f64], covariance: &[f64]) -> Vec<Estimate> {
    let p = beta.len();
    beta.iter()
        .enumerate()
        .map(|(i, &coef)| {
            let std_error = covariance[i * p + i].sqrt();
            let z = coef / std_error;
            Estimate {
                coef,
                exp_coef: coef.exp(),
                std_error,
                z,
                p_value: normal_two_sided_p(z),
                ci_lower: coef - Z_975 * std_error,
                ci_upper: coef + Z_975 * std_error,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maximises_a_quadratic_in_one_step_and_reports_its_covariance() {
        // loglik = −½ (β − m)ᵀ A (β − m): one Newton step lands on m
        let a = [2.0, 0.5, 0.5, 1.0];
        let m = [1.0, -2.0];
        let mut calls = 0;
        let mut eval = |b: &[f64]| {
            calls += 1;
            let d = [b[0] - m[0], b[1] - m[1]];
            let ad = [a[0] * d[0] + a[1] * d[1], a[2] * d[0] + a[3] * d[1]];
            Ok(Objective {
                loglik: -0.5 * (d[0] * ad[0] + d[1] * ad[1]),
                gradient: vec![-ad[0], -ad[1]],
                information: a.to_vec(),
            })
        };
        let out = maximise(vec![0.0; 2], NewtonOptions::default(), &mut eval).unwrap();
        assert!((out.beta[0] - 1.0).abs() < 1e-15 && (out.beta[1] + 2.0).abs() < 1e-15);
        assert_eq!(out.iterations, 2); // the second step is zero and confirms convergence
        let det = a[0] * a[3] - a[1] * a[2];
        assert!((out.covariance[0] - a[3] / det).abs() < 1e-15);
        let table = estimates(&out.beta, &out.covariance);
        assert!((table[0].z - 1.0 / (a[3] / det).sqrt()).abs() < 1e-12);
        assert!((table[0].ci_upper - table[0].coef - Z_975 * table[0].std_error).abs() < 1e-15);
    }
}
