//! The hub's Newton–Raphson loop with step halving, shared by Cox and the GLMs,
//! and the coefficient table (estimate, SE, z, p, CI) they report.
//!
//! Each evaluation is one round trip to the sites: the hub sends β, every site
//! returns its additive aggregate, the hub sums and steps. Step halving costs
//! extra round trips only when a full step lowers the log-likelihood by more
//! than the rounding the sums carry.
//!
//! **Convergence is decided on the score, not on the step** (issue 12): the fit
//! stops when the Newton decrement `λ = √(Uᵀ I⁻¹ U)` at the current β is below
//! the tolerance. `λ` bounds the distance to the maximum of the local quadratic
//! model in standard errors (`|β̂ᵢ − βᵢ| ≤ λ · SEᵢ`), so the tolerance has a
//! statistical meaning whatever the scale of the covariates. A step shrunk by
//! halving can never stop the fit any more (it did: a halved step is small, and
//! "small step" was the old criterion, so the last real gain was halved away
//! when the log-likelihood carried the secure-aggregation codec's rounding).

use serde::{Deserialize, Serialize};

use crate::error::StatsError;
use crate::linalg::Cholesky;
use crate::special::{Z_975, normal_two_sided_p};

/// Below this Newton decrement a full step is taken without the step-halving
/// test: the step is under a quarter of a standard error, where the quadratic
/// model of a concave log-likelihood (Cox, canonical GLMs) is accurate and a
/// full step always gains (damped Newton's quadratic phase, Boyd &
/// Vandenberghe §9.5). Testing there would compare gains of `λ²/2` with the
/// rounding of the log-likelihood and halve real gains away.
const QUADRATIC_PHASE: f64 = 0.25;

/// A decrement below this that a full Newton step fails to halve has reached
/// the rounding floor of the sums (in exact Newton it would have been squared).
const STALL_BELOW: f64 = 1e-4;

/// Stopping rule of the hub's Newton–Raphson iteration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NewtonOptions {
    /// Stop when the Newton decrement `√(Uᵀ I⁻¹ U)` at the current β is below
    /// this: every coefficient is then within `tolerance` standard errors of the
    /// maximum, and the final Newton step (taken without another round trip)
    /// brings it to within about `tolerance²`. Default 1e-9; a caller whose sums are rounded
    /// must choose it above the rounding's floor (see `oncofed-analysis`).
    pub tolerance: f64,
    /// Give up (with [`StatsError::NoConvergence`]) after this many Newton steps;
    /// each is one round trip to the sites. Default 20.
    pub max_iterations: usize,
    /// Absolute rounding error of the summed log-likelihood (0 in exact
    /// arithmetic). Step halving accepts a step that lowers the log-likelihood
    /// by no more than this plus `1e-12·|loglik|`, so rounding cannot trigger it.
    #[serde(default)]
    pub loglik_rounding: f64,
    /// Most step halvings over the whole fit; each costs one more evaluation, so
    /// a fit takes at most `1 + max_iterations + max_halvings` round trips: the
    /// round budget a federation must plan for. Default 10.
    #[serde(default = "default_halvings")]
    pub max_halvings: usize,
}

fn default_halvings() -> usize {
    10
}

impl Default for NewtonOptions {
    fn default() -> Self {
        Self {
            tolerance: 1e-9,
            max_iterations: 20,
            loglik_rounding: 0.0,
            max_halvings: default_halvings(),
        }
    }
}

impl NewtonOptions {
    /// The most evaluations (round trips) a fit with these options may take:
    /// the start, one per Newton step and one per step halving.
    pub fn max_evaluations(&self) -> usize {
        1 + self.max_iterations + self.max_halvings
    }
}

/// How a fit converged, released beside the estimates so that a reader can
/// state the convergence criterion and check it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Convergence {
    /// The criterion, in words (`newton decrement sqrt(U' I^-1 U) < 1e-9`).
    pub criterion: String,
    /// The tolerance the decrement was compared with.
    pub tolerance: f64,
    /// The Newton decrement `√(Uᵀ I⁻¹ U)` at the last evaluated β, in standard-error
    /// units; the estimate is that β plus the Newton step `I⁻¹U`, whose error is
    /// second order in this value.
    pub newton_decrement: f64,
    /// The largest absolute component of the score `U` at the last evaluated β.
    pub max_abs_score: f64,
    /// Evaluations of the log-likelihood (round trips to the sites), halvings included.
    pub evaluations: usize,
    /// Step halvings taken.
    pub halvings: usize,
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
    pub(crate) convergence: Convergence,
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
    let (mut evaluations, mut halvings) = (1usize, 0usize);
    let (mut iteration, mut previous) = (0usize, f64::INFINITY);
    loop {
        let factor = Cholesky::new(&current.information, p)?;
        let step = factor.solve(&current.gradient);
        let decrement = step
            .iter()
            .zip(&current.gradient)
            .map(|(s, u)| s * u)
            .sum::<f64>()
            .max(0.0)
            .sqrt();
        if !decrement.is_finite() {
            return Err(StatsError::NonFinite {
                what: "newton decrement",
            });
        }
        // In the quadratic phase each step squares the decrement; one that does
        // not even halve it has hit the rounding floor of the sums, below which
        // no step can go: the estimate is as exact as the sums allow.
        let floor = previous < STALL_BELOW && decrement >= previous / 2.0;
        previous = decrement;
        if decrement < options.tolerance || floor {
            // The last step is taken without another round trip: its error is
            // second order in λ, far below the tolerance; the covariance comes
            // from the information at the last evaluated β, which differs from
            // the information at the estimate by O(λ) relative.
            let covariance = factor.inverse();
            let max_abs_score = current
                .gradient
                .iter()
                .fold(0.0, |m: f64, u| m.max(u.abs()));
            let beta = beta.iter().zip(&step).map(|(b, s)| b + s).collect();
            return Ok(NewtonOutcome {
                beta,
                objective: current,
                iterations: iteration + 1,
                covariance,
                convergence: Convergence {
                    criterion: if decrement < options.tolerance {
                        format!("newton decrement sqrt(U' I^-1 U) < {:e}", options.tolerance)
                    } else {
                        format!(
                            "newton decrement sqrt(U' I^-1 U) stopped decreasing below {STALL_BELOW:e} (rounding floor of the sums)"
                        )
                    },
                    tolerance: options.tolerance,
                    newton_decrement: decrement,
                    max_abs_score,
                    evaluations,
                    halvings,
                },
            });
        }
        if iteration == options.max_iterations {
            return Err(StatsError::NoConvergence {
                iterations: iteration,
            });
        }
        iteration += 1;
        let slack = options.loglik_rounding + 1e-12 * current.loglik.abs().max(1.0);
        let mut scale = 1.0;
        let (candidate, next) = loop {
            let candidate: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b + scale * s).collect();
            let next = evaluate(&candidate)?;
            evaluations += 1;
            let quadratic = scale == 1.0 && decrement < QUADRATIC_PHASE;
            if next.loglik.is_finite() && (quadratic || next.loglik >= current.loglik - slack) {
                break (candidate, next);
            }
            if halvings == options.max_halvings {
                return Err(StatsError::NoConvergence {
                    iterations: iteration,
                });
            }
            halvings += 1;
            scale /= 2.0;
        };
        beta = candidate;
        current = next;
    }
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
        assert_eq!(out.iterations, 2); // the second step is zero: the decrement at m is zero
        assert_eq!(out.convergence.evaluations, 2);
        let det = a[0] * a[3] - a[1] * a[2];
        assert!((out.covariance[0] - a[3] / det).abs() < 1e-15);
        let table = estimates(&out.beta, &out.covariance);
        assert!((table[0].z - 1.0 / (a[3] / det).sqrt()).abs() < 1e-12);
        assert!((table[0].ci_upper - table[0].coef - Z_975 * table[0].std_error).abs() < 1e-15);
    }
}
