//! Logistic and Poisson regression by federated IRLS.
//!
//! Both families use their canonical link (logit, log), for which Fisher scoring
//! (IRLS) and Newton–Raphson coincide: the site sends the score `Xᵀ(y − μ)` and
//! the information `XᵀWX` (W = Var(μ)), plus its log-likelihood and deviance, and
//! the hub steps `β ← β + (XᵀWX)⁻¹ Xᵀ(y − μ)` (McCullagh & Nelder 1989, §2.5).
//! All four are sums over rows, hence additive across sites and exact to the
//! pooled fit. Standard errors are `sqrt(diag((XᵀWX)⁻¹))` at the estimate, as
//! statsmodels' `Logit`/`Poisson` report them.

use serde::{Deserialize, Serialize};

use crate::error::{StatsError, check_len};
use crate::linalg::Cholesky;
use crate::newton::{self, Convergence, Estimate, NewtonOptions, Objective};
use crate::special::ln_gamma;

/// The error distribution (with its canonical link).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Bernoulli / binomial proportion y ∈ [0, 1] with the logit link: logistic regression.
    Binomial,
    /// Counts y ≥ 0 with the log link; use `offset = ln(exposure)` for rates.
    Poisson,
}

impl Family {
    fn name(self) -> &'static str {
        match self {
            Family::Binomial => "binomial",
            Family::Poisson => "poisson",
        }
    }
}

/// One observation. The design row must include the intercept column (1.0)
/// if the model has one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlmRow {
    /// Outcome.
    pub y: f64,
    /// Design row, in the order of the coefficients.
    pub x: Vec<f64>,
    /// Known offset added to the linear predictor (0 for none).
    pub offset: f64,
}

/// What a site sends per iteration; every field is a sum over its rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlmAggregate {
    /// Number of rows.
    pub n: f64,
    /// Log-likelihood at β.
    pub loglik: f64,
    /// Deviance at β.
    pub deviance: f64,
    /// Score `Xᵀ(y − μ)`.
    pub score: Vec<f64>,
    /// Information `XᵀWX`, row-major p × p.
    pub information: Vec<f64>,
}

impl GlmAggregate {
    /// The zero aggregate for p coefficients.
    pub fn zeros(p: usize) -> Self {
        Self {
            n: 0.0,
            loglik: 0.0,
            deviance: 0.0,
            score: vec![0.0; p],
            information: vec![0.0; p * p],
        }
    }

    /// Adds another site's aggregate.
    pub fn add(&mut self, other: &GlmAggregate) -> Result<(), StatsError> {
        check_len("glm aggregate: score", self.score.len(), other.score.len())?;
        check_len(
            "glm aggregate: information",
            self.information.len(),
            other.information.len(),
        )?;
        self.n += other.n;
        self.loglik += other.loglik;
        self.deviance += other.deviance;
        self.score
            .iter_mut()
            .zip(&other.score)
            .for_each(|(a, b)| *a += b);
        self.information
            .iter_mut()
            .zip(&other.information)
            .for_each(|(a, b)| *a += b);
        Ok(())
    }
}

/// `ln(1 + e^x)` without overflow.
fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// `y ln(y / μ)` with the convention 0 · ln 0 = 0.
fn ylogy(y: f64, mu: f64) -> f64 {
    if y == 0.0 { 0.0 } else { y * (y / mu).ln() }
}

/// Site part: score, information, log-likelihood and deviance of `rows` at β.
pub fn glm_site_contribution(
    rows: &[GlmRow],
    beta: &[f64],
    family: Family,
) -> Result<GlmAggregate, StatsError> {
    let p = beta.len();
    let mut agg = GlmAggregate::zeros(p);
    for row in rows {
        check_len("design row", p, row.x.len())?;
        if !row.y.is_finite() || !row.offset.is_finite() || row.x.iter().any(|v| !v.is_finite()) {
            return Err(StatsError::NonFinite {
                what: "outcome, offset or covariate",
            });
        }
        let eta = row.offset + row.x.iter().zip(beta).map(|(x, b)| x * b).sum::<f64>();
        let y = row.y;
        let (mu, weight) = match family {
            Family::Binomial => {
                if !(0.0..=1.0).contains(&y) {
                    return Err(StatsError::OutcomeOutOfRange {
                        family: family.name(),
                    });
                }
                let mu = 1.0 / (1.0 + (-eta).exp());
                // ln μ = −softplus(−η), ln(1 − μ) = −softplus(η)
                agg.loglik -= y * softplus(-eta) + (1.0 - y) * softplus(eta);
                agg.deviance += 2.0 * (ylogy(y, mu) + ylogy(1.0 - y, 1.0 - mu));
                (mu, mu * (1.0 - mu))
            }
            Family::Poisson => {
                if y < 0.0 {
                    return Err(StatsError::OutcomeOutOfRange {
                        family: family.name(),
                    });
                }
                let mu = eta.exp();
                agg.loglik += y * eta - mu - ln_gamma(y + 1.0);
                agg.deviance += 2.0 * (ylogy(y, mu) - (y - mu));
                (mu, mu)
            }
        };
        agg.n += 1.0;
        for i in 0..p {
            agg.score[i] += row.x[i] * (y - mu);
            let wi = weight * row.x[i];
            for j in 0..p {
                agg.information[i * p + j] += wi * row.x[j];
            }
        }
    }
    Ok(agg)
}

/// What a site sends in the start round: the weighted least-squares sums
/// `XᵀW₀X` and `XᵀW₀z₀` at R's `glm` starting values (binomial μ₀ = (y + ½)/2,
/// Poisson μ₀ = y + 0.1), with `z₀ = g(μ₀) − offset` and `W₀ = Var(μ₀)`.
/// Starting there instead of at β = 0 saves Newton steps when the intercept is
/// far from 0 (a Poisson rate with an exposure offset: 12 steps → 6 on lung).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlmStart {
    /// `XᵀW₀X`, row-major p × p.
    pub xtwx: Vec<f64>,
    /// `XᵀW₀z₀`.
    pub xtwz: Vec<f64>,
}

impl GlmStart {
    /// Adds another site's start sums.
    pub fn add(&mut self, other: &GlmStart) -> Result<(), StatsError> {
        check_len("glm start: xtwx", self.xtwx.len(), other.xtwx.len())?;
        check_len("glm start: xtwz", self.xtwz.len(), other.xtwz.len())?;
        self.xtwx
            .iter_mut()
            .zip(&other.xtwx)
            .for_each(|(a, b)| *a += b);
        self.xtwz
            .iter_mut()
            .zip(&other.xtwz)
            .for_each(|(a, b)| *a += b);
        Ok(())
    }
}

/// Site part of the start round (one extra round trip before IRLS).
pub fn glm_site_start(rows: &[GlmRow], p: usize, family: Family) -> Result<GlmStart, StatsError> {
    let mut start = GlmStart {
        xtwx: vec![0.0; p * p],
        xtwz: vec![0.0; p],
    };
    for row in rows {
        check_len("design row", p, row.x.len())?;
        if !row.y.is_finite() || !row.offset.is_finite() || row.x.iter().any(|v| !v.is_finite()) {
            return Err(StatsError::NonFinite {
                what: "outcome, offset or covariate",
            });
        }
        let (eta, weight) = match family {
            Family::Binomial => {
                let mu = (row.y + 0.5) / 2.0;
                ((mu / (1.0 - mu)).ln(), mu * (1.0 - mu))
            }
            Family::Poisson => {
                let mu = row.y + 0.1;
                (mu.ln(), mu)
            }
        };
        let z = eta - row.offset;
        for i in 0..p {
            let wi = weight * row.x[i];
            start.xtwz[i] += wi * z;
            for j in 0..p {
                start.xtwx[i * p + j] += wi * row.x[j];
            }
        }
    }
    Ok(start)
}

/// Hub part of the start round: the starting β, `(Σ XᵀW₀X)⁻¹ Σ XᵀW₀z₀`.
pub fn glm_start(p: usize, sites: &[GlmStart]) -> Result<Vec<f64>, StatsError> {
    let mut total = GlmStart {
        xtwx: vec![0.0; p * p],
        xtwz: vec![0.0; p],
    };
    if sites.is_empty() {
        return Err(StatsError::Empty {
            what: "no site returned glm start sums",
        });
    }
    for site in sites {
        total.add(site)?;
    }
    Ok(Cholesky::new(&total.xtwx, p)?.solve(&total.xtwz))
}

/// A fitted GLM, as statsmodels' `GLM`/`Logit` results report it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlmFit {
    /// One row per coefficient: β, `exp(β)` (odds or rate ratio), SE, z, p, 95 % CI.
    pub estimates: Vec<Estimate>,
    /// Covariance of β, `(XᵀWX)⁻¹`, row-major p × p.
    pub covariance: Vec<f64>,
    /// Log-likelihood at the estimate.
    pub loglik: f64,
    /// Deviance at the estimate.
    pub deviance: f64,
    /// Number of observations.
    pub n: f64,
    /// IRLS iterations (round trips, not counting step halving).
    pub iterations: usize,
    /// How the fit converged (criterion, decrement and score at the estimate);
    /// empty when read from a fit serialised before it was reported.
    #[serde(default)]
    pub convergence: Convergence,
}

/// Hub part: iterates IRLS from `start` (from [`glm_start`], or zeros of
/// length p), calling `sites` with each β for every site's
/// [`glm_site_contribution`].
pub fn fit_glm(
    start: Vec<f64>,
    options: NewtonOptions,
    sites: &mut dyn FnMut(&[f64]) -> Vec<GlmAggregate>,
) -> Result<GlmFit, StatsError> {
    let p = start.len();
    let mut last = GlmAggregate::zeros(p);
    let mut evaluate = |beta: &[f64]| {
        let parts = sites(beta);
        if parts.is_empty() {
            return Err(StatsError::Empty {
                what: "no site returned a glm aggregate",
            });
        }
        let mut total = GlmAggregate::zeros(p);
        for part in &parts {
            total.add(part)?;
        }
        let objective = Objective {
            loglik: total.loglik,
            gradient: total.score.clone(),
            information: total.information.clone(),
        };
        last = total;
        Ok(objective)
    };
    let outcome = newton::maximise(start, options, &mut evaluate)?;
    Ok(GlmFit {
        estimates: newton::estimates(&outcome.beta, &outcome.covariance),
        covariance: outcome.covariance,
        loglik: outcome.objective.loglik,
        deviance: last.deviance,
        n: last.n,
        iterations: outcome.iterations,
        convergence: outcome.convergence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(y: f64, x: f64) -> GlmRow {
        GlmRow {
            y,
            x: vec![1.0, x],
            offset: 0.0,
        }
    }

    #[test]
    fn saturated_two_group_logistic_matches_closed_form() {
        // group x=0: 3/10 events, x=1: 6/8: β0 = logit(0.3), β1 = logit(0.75) − logit(0.3),
        // SE(β1)² = 1/(10·0.3·0.7) + 1/(8·0.75·0.25)
        let mut rows = Vec::new();
        rows.extend((0..10).map(|i| row(f64::from(u8::from(i < 3)), 0.0)));
        rows.extend((0..8).map(|i| row(f64::from(u8::from(i < 6)), 1.0)));
        let fit = fit_glm(vec![0.0; 2], NewtonOptions::default(), &mut |b| {
            rows.chunks(5)
                .map(|c| glm_site_contribution(c, b, Family::Binomial).unwrap())
                .collect()
        })
        .unwrap();
        let logit = |q: f64| (q / (1.0 - q)).ln();
        assert!((fit.estimates[0].coef - logit(0.3)).abs() < 1e-12);
        assert!((fit.estimates[1].coef - (logit(0.75) - logit(0.3))).abs() < 1e-12);
        let se = (1.0 / 2.1 + 1.0 / 1.5f64).sqrt();
        assert!((fit.estimates[1].std_error - se).abs() < 1e-12);
        assert!((fit.deviance + 2.0 * fit.loglik).abs() < 1e-12); // Bernoulli: D = −2 ll
        assert_eq!(fit.n, 18.0);
    }

    #[test]
    fn poisson_rate_with_offset_matches_closed_form() {
        // events 4 and 9 over exposures 100 and 150: log rates are MLEs, SE² = 1/events
        let rows = [
            GlmRow {
                y: 4.0,
                x: vec![1.0, 0.0],
                offset: 100f64.ln(),
            },
            GlmRow {
                y: 9.0,
                x: vec![1.0, 1.0],
                offset: 150f64.ln(),
            },
        ];
        let fit = fit_glm(vec![0.0; 2], NewtonOptions::default(), &mut |b| {
            vec![glm_site_contribution(&rows, b, Family::Poisson).unwrap()]
        })
        .unwrap();
        assert!((fit.estimates[0].coef - 0.04f64.ln()).abs() < 1e-12);
        assert!((fit.estimates[1].exp_coef - 0.06 / 0.04).abs() < 1e-12);
        assert!((fit.estimates[1].std_error - (1.0 / 4.0 + 1.0 / 9.0f64).sqrt()).abs() < 1e-12);
        assert!(fit.deviance.abs() < 1e-12); // saturated
    }

    #[test]
    fn start_round_lands_near_the_estimate_and_saves_steps() {
        let rows: Vec<GlmRow> = (0..60)
            .map(|i| GlmRow {
                y: f64::from(i % 4),
                x: vec![1.0, f64::from(i % 3)],
                offset: 500f64.ln(),
            })
            .collect();
        let start = glm_start(
            2,
            &[
                glm_site_start(&rows[..30], 2, Family::Poisson).unwrap(),
                glm_site_start(&rows[30..], 2, Family::Poisson).unwrap(),
            ],
        )
        .unwrap();
        let fit_from = |s: Vec<f64>| {
            fit_glm(s, NewtonOptions::default(), &mut |b| {
                vec![glm_site_contribution(&rows, b, Family::Poisson).unwrap()]
            })
            .unwrap()
        };
        let (warm, cold) = (fit_from(start), fit_from(vec![0.0; 2]));
        assert!(warm.iterations < cold.iterations);
        assert!((warm.estimates[0].coef - cold.estimates[0].coef).abs() < 1e-12);
    }

    #[test]
    fn rejects_outcomes_outside_the_support() {
        let bad = [row(2.0, 0.0)];
        assert!(matches!(
            glm_site_contribution(&bad, &[0.0, 0.0], Family::Binomial),
            Err(StatsError::OutcomeOutOfRange { .. })
        ));
        let bad = [row(-1.0, 0.0)];
        assert!(glm_site_contribution(&bad, &[0.0, 0.0], Family::Poisson).is_err());
    }

    #[test]
    fn separation_is_reported_not_hidden() {
        let rows: Vec<GlmRow> = (0..10)
            .map(|i| row(f64::from(u8::from(i >= 5)), f64::from(i)))
            .collect();
        let result = fit_glm(vec![0.0; 2], NewtonOptions::default(), &mut |b| {
            vec![glm_site_contribution(&rows, b, Family::Binomial).unwrap()]
        });
        assert!(result.is_err());
    }
}
