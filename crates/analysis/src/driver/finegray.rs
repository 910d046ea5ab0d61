//! The Fine–Gray run: time bins valid for both causes, one round of pooled
//! competing-risks counts on the bins' ends (the hub builds the censoring
//! curve `G(t−)` from them), Newton steps on the summed weighted risk-set
//! sums, each checked for plausibility, then crr's sandwich variance from
//! the sums and the per-(time, status) residual Gram matrices at the final β
//! (every non-empty cell checked ≥ k rows), and the release. Kept apart from
//! `driver.rs`.
//!
//! What the sites learn besides β: the grid (the bins' ends) and `G(t−)`, the
//! pooled censoring Kaplan–Meier curve, a function of pooled counts over
//! (bin, status) cells of 0 or ≥ k rows (`oncofed_stats::finegray`).

use super::{Rounds, check_gram_cells, name_singular, references, survival_times_in, terms};
use crate::result::{RegressionResult, RunInfo};
use crate::site::unflatten_cox_sums;
use crate::{AnalysisError, AnalysisLimits, plausibility};
use oncofed_protocol::analysis::{Computation, Survival, Variable, check_censoring_survival};
use oncofed_stats::{
    CoxSiteSums, FineGrayGrid, KmCounts, NewtonOptions, ResidualGram, StatsError, Ties,
    finegray_variance, fit_fine_gray,
};

/// What the release calls the model.
pub const MODEL: &str = "fine-gray (subdistribution hazards, crr variance)";

/// Runs a Fine–Gray model over `rounds` (the Totals round done: `info.rows`,
/// `info.events` hold its counts, events of either cause).
pub(super) fn fine_gray_run(
    rounds: &mut Rounds<'_>,
    survival: &Survival,
    covariates: &[Variable],
    p: usize,
    options: NewtonOptions,
    limits: &AnalysisLimits,
    mut info: RunInfo,
) -> Result<RegressionResult, AnalysisError> {
    let (rows, events) = (info.rows, info.events);
    let sites = info.sites;
    if survival.exact_times || survival.entry.is_some() {
        return Err(AnalysisError::Invalid(
            "a fine-gray model sums on time bins, without delayed entry".into(),
        ));
    }
    let times = survival_times_in(rounds, survival, limits.min_cell, &[])?;
    info.time_bins = Some(times.resolution.clone());
    // every bin's end: each row's binned time is on the grid
    let (grid, bins) = (times.events, times.bins);
    let t = grid.len();
    let v = rounds.sum(Computation::CifCounts {
        grid: grid.clone(),
        groups: 1,
        levels: Vec::new(),
        bins: bins.clone(),
    })?;
    plausibility::check_whole_counts(&v, "competing-risks counts")?;
    let counts = super::cif::unflatten(&v, t, 1)?
        .pop()
        .ok_or(AnalysisError::Protocol("competing-risks counts missing"))?;
    // the Kaplan–Meier consistency rules hold for all events together
    let all = KmCounts {
        at_risk: counts.at_risk.clone(),
        events: counts
            .events
            .iter()
            .zip(&counts.competing)
            .map(|(a, b)| a + b)
            .collect(),
    };
    plausibility::check_km_counts(&[all], rows, events)?;
    if counts.events.iter().all(|&d| d == 0) {
        return Err(AnalysisError::Stats(StatsError::Empty {
            what: "no events of interest",
        }));
    }
    let fg = FineGrayGrid::from_counts(&grid, &counts)?;
    check_censoring_survival(&fg.censoring_survival, t).map_err(|_| {
        AnalysisError::Federation(
            "implausible sums: the censoring curve from the competing-risks counts is not in (0, 1]"
                .into(),
        )
    })?;
    let sums_at = |beta: &[f64]| Computation::FineGraySums {
        grid: grid.clone(),
        censoring_survival: fg.censoring_survival.clone(),
        beta: beta.to_vec(),
        bins: bins.clone(),
    };
    let check = |v: Vec<f64>, beta: &[f64]| -> Result<CoxSiteSums, AnalysisError> {
        let s = unflatten_cox_sums(&v, p, t, Ties::Breslow)?;
        plausibility::check_finegray_sums(&s, beta, &counts.events, rows, sites)?;
        Ok(s)
    };
    // the last pooled sums and their β: the variance at the final β reuses
    // them when the fit ended where it last evaluated
    let mut last: Option<(Vec<f64>, CoxSiteSums)> = None;
    let mut evaluate = |beta: &[f64]| {
        let sums = rounds.sum(sums_at(beta)).and_then(|v| check(v, beta));
        let sums = rounds.keep(sums);
        if let Some(s) = &sums {
            last = Some((beta.to_vec(), s.clone()));
        }
        sums.into_iter().collect()
    };
    let fit = fit_fine_gray(p, options, &mut evaluate)
        .map_err(|e| rounds.explain(e))
        .map_err(|e| name_singular(e, &terms(covariates, false)))?;
    let beta: Vec<f64> = fit.estimates.iter().map(|e| e.coef).collect();
    let sums = match last.take() {
        Some((at, sums)) if at == beta => sums,
        _ => {
            let v = rounds.sum(sums_at(&beta))?;
            check(v, &beta)?
        }
    };
    let v = rounds.sum(Computation::FineGrayResidualGram {
        grid: grid.clone(),
        censoring_survival: fg.censoring_survival.clone(),
        beta: beta.clone(),
        bins: bins.clone(),
    })?;
    let gram = ResidualGram {
        p,
        points: t,
        statuses: 3,
        values: v,
    };
    check_gram_cells(&gram, rows, limits.min_cell)?;
    let variance = finegray_variance(&beta, &sums, &fg, &counts, &gram)
        .map_err(|e| name_singular(AnalysisError::Stats(e), &terms(covariates, false)))?;
    Ok(RegressionResult {
        run: info,
        model: MODEL.into(),
        terms: terms(covariates, false),
        references: references(covariates),
        estimates: variance.estimates,
        loglik: fit.loglik,
        iterations: fit.iterations,
        convergence: Some(fit.convergence),
    })
}
