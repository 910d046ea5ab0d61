//! Cox proportional hazards by exact federated Newton–Raphson.
//!
//! The partial likelihood (Cox 1972) at event time t_j divides by the sum of
//! `exp(xβ)` over the risk set, which spans all sites. Summing per-site
//! log-likelihoods would therefore be wrong unless the model is stratified by
//! site. Two protocols are provided:
//!
//! - **Pooled** ([`fit_cox`]): hub and sites first agree on a [`CoxGrid`] of
//!   (stratum, event time) points. Per iteration each site sends
//!   [`CoxSiteSums`] — risk-set sums S0, S1, S2, event counts and, for Efron,
//!   the tied-event sums — and the hub adds them *before* the logs and ratios
//!   ([`cox_combine`]). The result equals the single-process fit to rounding.
//! - **Stratified by site** ([`fit_cox_stratified_by_site`]): each site is its
//!   own stratum, so its log-likelihood, gradient and Hessian are simply
//!   additive; a site sends only a [`CoxAggregate`] ([`cox_site_contribution`]),
//!   never a time grid.
//!
//! Ties: Breslow (1974) and Efron (1977), as in R `survival::coxph` and
//! lifelines' `CoxPHFitter` (Efron). Covariates are used as given (no
//! centring); for very large `|xβ|` centre them first (results are invariant).

mod robust;
mod site;

use serde::{Deserialize, Serialize};

pub use robust::{CoxRobust, cox_residual_gram, cox_robust};
pub use site::{CoxGrid, CoxSiteSums, GridPoint, cox_site_sums, cox_site_sums_entered};

use crate::error::{StatsError, check_len};
use crate::newton::{self, Convergence, Estimate, NewtonOptions, Objective};

/// One person's survival record at a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurvivalRow {
    /// Follow-up time (event or censoring), any unit, the same at all sites.
    pub time: f64,
    /// `true` if the event (e.g. death) was observed at `time`, `false` if censored.
    pub event: bool,
    /// Covariate values, in the order of the coefficients.
    pub covariates: Vec<f64>,
    /// Stratum (own baseline hazard); use 0 everywhere for an unstratified model.
    pub stratum: u32,
}

/// How tied event times enter the partial likelihood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ties {
    /// Breslow's approximation: all tied events share the full risk set.
    Breslow,
    /// Efron's approximation: the tied events' weight is removed in steps
    /// (R's and lifelines' default; closer to the exact likelihood).
    Efron,
}

/// Log partial likelihood, its gradient and Hessian (negative semidefinite,
/// row-major p × p) at one β. Additive across independent strata, which is why
/// sites of a site-stratified model send exactly this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoxAggregate {
    /// Log partial likelihood.
    pub loglik: f64,
    /// Gradient (score) with respect to β.
    pub gradient: Vec<f64>,
    /// Hessian of the log partial likelihood with respect to β.
    pub hessian: Vec<f64>,
    /// Number of events that entered the likelihood.
    pub events: f64,
}

impl CoxAggregate {
    /// The zero aggregate for p coefficients, neutral element of [`Self::add`].
    pub fn zeros(p: usize) -> Self {
        Self {
            loglik: 0.0,
            gradient: vec![0.0; p],
            hessian: vec![0.0; p * p],
            events: 0.0,
        }
    }

    /// Adds another stratum's (site's) aggregate.
    pub fn add(&mut self, other: &CoxAggregate) -> Result<(), StatsError> {
        check_len(
            "cox aggregate: gradient",
            self.gradient.len(),
            other.gradient.len(),
        )?;
        check_len(
            "cox aggregate: hessian",
            self.hessian.len(),
            other.hessian.len(),
        )?;
        self.loglik += other.loglik;
        self.events += other.events;
        self.gradient
            .iter_mut()
            .zip(&other.gradient)
            .for_each(|(a, b)| *a += b);
        self.hessian
            .iter_mut()
            .zip(&other.hessian)
            .for_each(|(a, b)| *a += b);
        Ok(())
    }

    fn into_objective(self) -> Objective {
        Objective {
            loglik: self.loglik,
            gradient: self.gradient,
            information: self.hessian.iter().map(|h| -h).collect(),
        }
    }
}

/// Hub part of the pooled model: turns summed [`CoxSiteSums`] into the log
/// partial likelihood, gradient and Hessian. For grid point j with d events,
/// Efron uses for k = 0..d the weights `φ = k/d` and the denominators
/// `S0 − φ·T0` (T = tied sums); Breslow uses `d·log S0`.
pub fn cox_combine(sums: &CoxSiteSums) -> Result<CoxAggregate, StatsError> {
    let p = sums.p;
    let t = sums.grid_len();
    let mut agg = CoxAggregate::zeros(p);
    agg.loglik = sums.event_xb;
    agg.gradient.copy_from_slice(&sums.event_x);
    let (mut a, mut b) = (vec![0.0; p], vec![0.0; p * p]);
    for j in 0..t {
        let d = sums.events[j].round();
        if d <= 0.0 {
            continue;
        }
        agg.events += d;
        let (s1, s2) = (
            &sums.s1[j * p..(j + 1) * p],
            &sums.s2[j * p * p..(j + 1) * p * p],
        );
        let (steps, tie_weight) = match sums.ties {
            Ties::Breslow => (1, d),
            Ties::Efron => (d as usize, 1.0),
        };
        for k in 0..steps {
            let phi = if sums.ties == Ties::Efron {
                k as f64 / d
            } else {
                0.0
            };
            let mut den = sums.s0[j];
            a.copy_from_slice(s1);
            b.copy_from_slice(s2);
            if phi > 0.0 {
                den -= phi * sums.tied_s0[j];
                let (t1, t2) = (
                    &sums.tied_s1[j * p..(j + 1) * p],
                    &sums.tied_s2[j * p * p..(j + 1) * p * p],
                );
                a.iter_mut().zip(t1).for_each(|(x, y)| *x -= phi * y);
                b.iter_mut().zip(t2).for_each(|(x, y)| *x -= phi * y);
            }
            if den.is_nan() || den <= 0.0 {
                return Err(StatsError::NonFinite {
                    what: "risk-set sum",
                });
            }
            agg.loglik -= tie_weight * den.ln();
            for r in 0..p {
                agg.gradient[r] -= tie_weight * a[r] / den;
                for c in 0..p {
                    agg.hessian[r * p + c] -=
                        tie_weight * (b[r * p + c] / den - a[r] * a[c] / (den * den));
                }
            }
        }
    }
    Ok(agg)
}

/// Site part of the site-stratified model: this site's own log partial
/// likelihood, gradient and Hessian at β (its rows' `stratum` further stratify
/// within the site). Needs no shared grid: the risk sets never leave the site.
pub fn cox_site_contribution(
    rows: &[SurvivalRow],
    beta: &[f64],
    ties: Ties,
) -> Result<CoxAggregate, StatsError> {
    let grid = CoxGrid::from_events(rows)?;
    cox_combine(&cox_site_sums(rows, &grid, beta, ties)?)
}

/// A fitted Cox model, as lifelines' `CoxPHFitter.summary` reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoxFit {
    /// One row per covariate: β, hazard ratio `exp(β)`, SE, z, p, 95 % CI for β.
    pub estimates: Vec<Estimate>,
    /// Covariance of β (inverse of minus the Hessian), row-major p × p.
    pub covariance: Vec<f64>,
    /// Log partial likelihood at the estimate.
    pub loglik: f64,
    /// Newton steps taken (round trips to the sites, not counting step halving).
    pub iterations: usize,
    /// Number of events in the fit.
    pub events: f64,
    /// How the fit converged (criterion, decrement and score at the estimate);
    /// empty when read from a fit serialised before it was reported.
    #[serde(default)]
    pub convergence: Convergence,
}

fn finish(outcome: newton::NewtonOutcome, events: f64) -> CoxFit {
    CoxFit {
        estimates: newton::estimates(&outcome.beta, &outcome.covariance),
        covariance: outcome.covariance,
        loglik: outcome.objective.loglik,
        iterations: outcome.iterations,
        events,
        convergence: outcome.convergence,
    }
}

/// Hub part of the pooled model: Newton–Raphson from β = 0 with step halving.
/// `sites` is called once per evaluation with β and must return every site's
/// [`CoxSiteSums`] on the same grid (computed with [`cox_site_sums`]).
pub fn fit_cox(
    p: usize,
    options: NewtonOptions,
    sites: &mut dyn FnMut(&[f64]) -> Vec<CoxSiteSums>,
) -> Result<CoxFit, StatsError> {
    let mut events = 0.0;
    let mut evaluate = |beta: &[f64]| {
        let mut all = sites(beta).into_iter();
        let mut total = all.next().ok_or(StatsError::Empty {
            what: "no site returned cox sums",
        })?;
        check_len("cox sums: coefficients", p, total.p)?;
        for s in all {
            total.add(&s)?;
        }
        let agg = cox_combine(&total)?;
        events = agg.events;
        Ok(agg.into_objective())
    };
    let outcome = newton::maximise(vec![0.0; p], options, &mut evaluate)?;
    if events == 0.0 {
        return Err(StatsError::Empty { what: "no events" });
    }
    Ok(finish(outcome, events))
}

/// Hub part of the site-stratified model: sums the sites'
/// [`cox_site_contribution`]s and iterates as [`fit_cox`] does.
pub fn fit_cox_stratified_by_site(
    p: usize,
    options: NewtonOptions,
    sites: &mut dyn FnMut(&[f64]) -> Vec<CoxAggregate>,
) -> Result<CoxFit, StatsError> {
    let mut events = 0.0;
    let mut evaluate = |beta: &[f64]| {
        let mut total = CoxAggregate::zeros(p);
        let parts = sites(beta);
        if parts.is_empty() {
            return Err(StatsError::Empty {
                what: "no site returned a cox aggregate",
            });
        }
        for part in &parts {
            total.add(part)?;
        }
        events = total.events;
        Ok(total.into_objective())
    };
    let outcome = newton::maximise(vec![0.0; p], options, &mut evaluate)?;
    if events == 0.0 {
        return Err(StatsError::Empty { what: "no events" });
    }
    Ok(finish(outcome, events))
}

#[cfg(test)]
mod tests;
