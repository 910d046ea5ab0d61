//! The Cox run: pooled over time bins (valid in every stratum of a strata
//! variable, with delayed entry when asked for) or stratified by site, Newton
//! steps on the summed sums, each checked for plausibility, and the release.
//! Kept apart from `driver.rs`.

use super::{
    Rounds, group_level_counts, name_singular, references, survival_times_in, terms, whole,
};
use crate::result::{RegressionResult, RunInfo};
use crate::site::{unflatten_cox_aggregate, unflatten_cox_sums};
use crate::{AnalysisError, AnalysisLimits, plausibility};
use oncofed_protocol::analysis::{Computation, Survival, Variable};
use oncofed_stats::{
    CoxGrid, CoxSiteSums, GridPoint, NewtonOptions, ResidualGram, Ties, cox_robust, fit_cox,
    fit_cox_stratified_by_site,
};

/// What a Cox run is asked for.
pub(super) struct CoxModel<'a> {
    /// Follow-up definition.
    pub survival: &'a Survival,
    /// The covariates.
    pub covariates: &'a [Variable],
    /// Tie handling.
    pub ties: Ties,
    /// Stratified by site.
    pub by_site: bool,
    /// Stratified by a variable's levels.
    pub strata: Option<&'a Variable>,
    /// Robust (sandwich) standard errors: one more round at the final β.
    pub robust: bool,
}

/// Runs a Cox model over `rounds` (the Totals round done: `info.rows`,
/// `info.events` hold its counts).
pub(super) fn cox_run(
    rounds: &mut Rounds<'_>,
    model: &CoxModel<'_>,
    p: usize,
    options: NewtonOptions,
    limits: &AnalysisLimits,
    mut info: RunInfo,
) -> Result<RegressionResult, AnalysisError> {
    let (rows, events) = (info.rows, info.events);
    let sites = info.sites;
    let ties = model.ties;
    let strata = match model.strata {
        Some(var) => group_level_counts(rounds, var, rows, limits)?.0,
        None => Vec::new(),
    };
    let mut robust = None;
    let fit = if model.by_site {
        let mut evaluate = |beta: &[f64]| {
            let v = rounds.sum(Computation::CoxStratum {
                beta: beta.to_vec(),
                ties,
            });
            let agg = v.and_then(|v| unflatten_cox_aggregate(&v, p));
            rounds.keep(agg).into_iter().collect()
        };
        fit_cox_stratified_by_site(p, options, &mut evaluate)
    } else {
        let times = survival_times_in(rounds, model.survival, limits.min_cell, &strata)?;
        info.time_bins = Some(times.resolution.clone());
        let delayed = model.survival.entry.is_some();
        // at β = 0 the risk-set sums count people: every row at the first grid
        // point of each stratum, or with delayed entry the bins' entries less
        // their exits
        let expected: Vec<u64> = if delayed {
            (0..strata.len().max(1))
                .map(|s| times.expected_at_risk(s, &times.events))
                .collect::<Result<Vec<_>, _>>()?
                .concat()
        } else {
            Vec::new()
        };
        let (grid, bins) = (times.events, times.bins);
        let t = grid.len() * strata.len().max(1);
        // the last pooled sums and their β: a robust variance at the final β
        // reuses them when the fit ended where it last evaluated
        let mut last: Option<(Vec<f64>, CoxSiteSums)> = None;
        let mut evaluate = |beta: &[f64]| {
            let v = rounds.sum(Computation::CoxSums {
                grid: grid.clone(),
                strata: strata.clone(),
                beta: beta.to_vec(),
                ties,
                bins: bins.clone(),
            });
            let sums = v
                .and_then(|v| unflatten_cox_sums(&v, p, t, ties))
                .and_then(|s| {
                    if delayed {
                        plausibility::check_cox_sums_entered(&s, beta, &expected, events, sites)?;
                    } else if strata.is_empty() {
                        plausibility::check_cox_sums(&s, beta, rows, events, sites)?;
                        // the first grid point's risk set is every row (a
                        // bin end or day 0): at β = 0 its sum is the rows
                        if beta.iter().all(|b| *b == 0.0) && whole(s.s0[0]) != rows {
                            return Err(AnalysisError::Federation(
                                "implausible sums: the first risk set is not every row".into(),
                            ));
                        }
                    } else {
                        plausibility::check_cox_sums_strata(
                            &s,
                            beta,
                            strata.len(),
                            rows,
                            events,
                            sites,
                        )?;
                    }
                    Ok(s)
                });
            let sums = rounds.keep(sums);
            if let Some(s) = &sums {
                last = Some((beta.to_vec(), s.clone()));
            }
            sums.into_iter().collect()
        };
        let fit = fit_cox(p, options, &mut evaluate);
        if let (true, Ok(fit)) = (model.robust, &fit) {
            let beta: Vec<f64> = fit.estimates.iter().map(|e| e.coef).collect();
            let sums = match last.take() {
                Some((at, sums)) if at == beta => sums,
                _ => {
                    let v = rounds.sum(Computation::CoxSums {
                        grid: grid.clone(),
                        strata: strata.clone(),
                        beta: beta.clone(),
                        ties,
                        bins: bins.clone(),
                    })?;
                    unflatten_cox_sums(&v, p, t, ties)?
                }
            };
            let v = rounds.sum(Computation::CoxResidualGram {
                grid: grid.clone(),
                strata: strata.clone(),
                beta: beta.clone(),
                ties,
                bins: bins.clone(),
            })?;
            let gram = ResidualGram {
                p,
                points: t,
                statuses: 2,
                values: v,
            };
            check_gram_cells(&gram, rows, limits.min_cell)?;
            let points = (0..strata.len().max(1) as u32)
                .flat_map(|stratum| grid.iter().map(move |&time| GridPoint { stratum, time }))
                .collect();
            robust = Some(cox_robust(
                &beta,
                &sums,
                &CoxGrid::from_points(points),
                &gram,
            )?);
        }
        fit
    };
    let mut fit = fit
        .map_err(|e| rounds.explain(e))
        .map_err(|e| name_singular(e, &terms(model.covariates, false)))?;
    if let Some(r) = robust {
        fit.estimates = r.estimates;
    }
    let ties_name = match ties {
        Ties::Efron => "efron",
        Ties::Breslow => "breslow",
    };
    let mut stratified = Vec::new();
    if model.by_site {
        stratified.push("site".to_string());
    }
    if let Some(var) = model.strata {
        stratified.push(var.name());
    }
    let stratified = if stratified.is_empty() {
        String::new()
    } else {
        format!(", stratified by {}", stratified.join(" and "))
    };
    let entry = match &model.survival.entry {
        Some(e) => format!(", delayed entry at {e}"),
        None => String::new(),
    };
    let robust_se = if model.robust { ", robust SEs" } else { "" };
    Ok(RegressionResult {
        run: info,
        model: format!("cox ({ties_name}{stratified}{entry}{robust_se})"),
        terms: terms(model.covariates, false),
        references: references(model.covariates),
        estimates: fit.estimates,
        loglik: fit.loglik,
        iterations: fit.iterations,
        convergence: Some(fit.convergence),
    })
}

/// The disclosure rule of robust standard errors: every non-empty cell of the
/// summed residual Gram matrices (the rows of one grid point and status)
/// holds at least `min_cell` rows, and the cells hold no more rows than the
/// run. Time bins make this hold by construction; the check keeps a flaw in
/// the binning (or a site's wrong vector) from releasing a sum over a few
/// people.
pub fn check_gram_cells(
    gram: &ResidualGram,
    rows: u64,
    min_cell: u64,
) -> Result<(), AnalysisError> {
    let sizes = gram.cell_sizes();
    if sizes.iter().any(|n| !n.is_finite() || *n < -0.5) {
        return Err(AnalysisError::Federation(
            "implausible sums: a residual Gram cell has a negative or non-finite row count".into(),
        ));
    }
    let counts: Vec<u64> = sizes.iter().map(|&n| whole(n)).collect();
    if counts.iter().sum::<u64>() > rows {
        return Err(AnalysisError::Federation(
            "implausible sums: the residual Gram cells hold more rows than the run".into(),
        ));
    }
    if counts.iter().any(|&n| n > 0 && n < min_cell) {
        return Err(AnalysisError::Disclosure(format!(
            "robust standard errors: a (time point, status) cell of the residual sums covers fewer than {min_cell} rows"
        )));
    }
    Ok(())
}
