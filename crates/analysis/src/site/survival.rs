//! Site side of the survival analyses: times moved to their bins, delayed
//! entries, exit counts per group level, and the Kaplan–Meier, competing-risks,
//! Cox and Fine–Gray vectors on the hub's grid.
//!
//! Conventions shared with the hub: a row is at risk at grid time t when
//! `entry ≤ t ≤ time` in days (the entry day included, as an exit day is);
//! on time bins its time moves to its bin's last day and its entry to its
//! bin's first day, so every risk set is made of whole bins of exits and
//! whole bins of entries. The stats crate takes entries in R's
//! counting-process form `(entry − 1, time]`.

use super::group_column;
use crate::AnalysisError;
use crate::rows::Row;
use oncofed_protocol::analysis::{Analysis, time_bin_end};
use oncofed_stats::{
    CompetingStatus, CoxGrid, CoxSiteSums, FineGrayGrid, FineGrayRow, GridPoint, ResidualGram,
    SurvivalRow, Ties, TimeEvent, cox_site_contribution, cox_site_sums, cox_site_sums_entered,
    finegray_residual_gram, finegray_site_sums, km_site_counts, km_site_counts_entered,
};
use std::borrow::Cow;

/// Whether the analysis follows rows from a delayed entry.
pub(super) fn delayed(analysis: &Analysis) -> bool {
    analysis.survival().is_some_and(|s| s.entry.is_some())
}

/// Whether the analysis counts the events of the cause of interest apart
/// (a cumulative incidence, a Fine–Gray model).
pub(super) fn competing(analysis: &Analysis) -> bool {
    analysis.competing_risks()
}

/// The index of the bin `[edges[i], edges[i+1])` that holds day `day` (the
/// last bin for a day past the last edge).
fn bin_of(edges: &[f64], day: f64) -> usize {
    edges
        .partition_point(|&e| e <= day)
        .saturating_sub(1)
        .min(edges.len().saturating_sub(2))
}

/// `rows` with each time moved to its bin's last day and each entry to its
/// bin's first day (`bins` empty: as they are), so that every sum over a
/// risk set or a time point covers whole bins.
pub(super) fn binned<'a>(rows: &'a [Row], bins: &[f64]) -> Cow<'a, [Row]> {
    if bins.is_empty() {
        return Cow::Borrowed(rows);
    }
    Cow::Owned(
        rows.iter()
            .map(|r| Row {
                time: time_bin_end(bins, r.time),
                entry: if r.entry > 0.0 {
                    bins[bin_of(bins, r.entry)]
                } else {
                    0.0
                },
                ..r.clone()
            })
            .collect(),
    )
}

/// Entries in the stats crate's form: at risk at t when `entry − 1 < t`.
fn stats_entries<'a>(rows: impl Iterator<Item = &'a Row>) -> Vec<f64> {
    rows.map(|r| r.entry - 1.0).collect()
}

/// The rows of group `g` of a curve analysis or stratum `g` of a Cox model:
/// those whose grouping value is `levels[g]` (or `g` without levels); every
/// row without groups.
pub(super) fn group_members<'a>(
    rows: &'a [Row],
    analysis: &Analysis,
    levels: &'a [f64],
    g: usize,
) -> impl Iterator<Item = &'a Row> {
    let column = group_column(analysis);
    let level = levels.get(g).copied().unwrap_or(g as f64);
    rows.iter()
        .filter(move |r| column.is_none_or(|c| r.values[c] == level))
}

/// Per level of the groups (all rows without levels): exits, events, for a
/// cumulative incidence the events of the cause of interest, and with
/// delayed entry the entries, one value per bin `[edges[i], edges[i+1])`
/// each: the counts the hub merges and refines time bins on.
pub(super) fn exit_counts(
    rows: &[Row],
    analysis: &Analysis,
    edges: &[f64],
    levels: &[f64],
) -> Vec<f64> {
    let b = edges.len().saturating_sub(1);
    let parts = 2 + usize::from(competing(analysis)) + usize::from(delayed(analysis));
    let mut out = Vec::with_capacity(b * parts * levels.len().max(1));
    for g in 0..levels.len().max(1) {
        let mut block = vec![0.0; b * parts];
        let members: Box<dyn Iterator<Item = &Row>> = if levels.is_empty() {
            Box::new(rows.iter())
        } else {
            Box::new(group_members(rows, analysis, levels, g))
        };
        if b > 0 {
            for r in members {
                let i = bin_of(edges, r.time);
                block[i] += 1.0;
                if r.event {
                    block[b + i] += 1.0;
                }
                let mut part = 2;
                if competing(analysis) {
                    if r.event && r.values.last() == Some(&1.0) {
                        block[part * b + i] += 1.0;
                    }
                    part += 1;
                }
                if delayed(analysis) {
                    block[part * b + bin_of(edges, r.entry)] += 1.0;
                }
            }
        }
        out.extend(block);
    }
    out
}

/// Kaplan–Meier counts `[at risk, events]` of each group on `grid`.
pub(super) fn km_counts(
    rows: &[Row],
    analysis: &Analysis,
    grid: &[f64],
    groups: usize,
    levels: &[f64],
    bins: &[f64],
) -> Result<Vec<f64>, AnalysisError> {
    let rows = binned(rows, bins);
    let mut out = Vec::with_capacity(2 * grid.len() * groups);
    for g in 0..groups {
        let members: Vec<&Row> = group_members(&rows, analysis, levels, g).collect();
        let follow: Vec<TimeEvent> = members
            .iter()
            .map(|r| TimeEvent {
                time: r.time,
                event: r.event,
            })
            .collect();
        let counts = if delayed(analysis) {
            km_site_counts_entered(&follow, &stats_entries(members.into_iter()), grid)?
        } else {
            km_site_counts(&follow, grid)?
        };
        out.extend(counts.at_risk.iter().map(|&n| n as f64));
        out.extend(counts.events.iter().map(|&n| n as f64));
    }
    Ok(out)
}

/// One group's competing-risks counts on `grid`, `[at risk, events of
/// interest, competing events]`: at a grid point the rows with entry ≤ t ≤
/// time, and those whose event at t had cause 1 or 2 (the row's last value).
fn cif_group_counts(rows: &[&Row], grid: &[f64]) -> Vec<f64> {
    let t = grid.len();
    let mut out = vec![0.0; 3 * t];
    for r in rows {
        // grid points entry ≤ t ≤ time: at risk there
        let from = grid.partition_point(|&g| g < r.entry);
        let upto = grid.partition_point(|&g| g <= r.time);
        for slot in out.get_mut(from..upto).into_iter().flatten() {
            *slot += 1.0;
        }
        let cause = r.values.last().copied().unwrap_or(0.0);
        if r.event && upto > 0 && grid[upto - 1] == r.time && (cause == 1.0 || cause == 2.0) {
            let block = if cause == 1.0 { 1 } else { 2 };
            out[block * t + upto - 1] += 1.0;
        }
    }
    out
}

/// Cumulative-incidence counts of each group on `grid`.
pub(super) fn cif_counts(
    rows: &[Row],
    analysis: &Analysis,
    grid: &[f64],
    groups: usize,
    levels: &[f64],
    bins: &[f64],
) -> Vec<f64> {
    let rows = binned(rows, bins);
    let mut out = Vec::with_capacity(3 * grid.len() * groups);
    for g in 0..groups {
        let members: Vec<&Row> = group_members(&rows, analysis, levels, g).collect();
        out.extend(cif_group_counts(&members, grid));
    }
    out
}

/// The stratum of a row: the position of its strata value among `strata`
/// (0 without strata).
fn stratum_of(row: &Row, column: Option<usize>, strata: &[f64]) -> Result<u32, AnalysisError> {
    let (Some(c), false) = (column, strata.is_empty()) else {
        return Ok(0);
    };
    strata
        .iter()
        .position(|l| *l == row.values[c])
        .map(|s| s as u32)
        .ok_or_else(|| AnalysisError::Invalid("a row's stratum is not among the strata".into()))
}

/// The model rows: design columns of the covariates, stratum by `strata`.
fn survival_rows(
    rows: &[Row],
    analysis: &Analysis,
    strata: &[f64],
) -> Result<Vec<SurvivalRow>, AnalysisError> {
    let covariates = analysis.covariates();
    let column = group_column(analysis);
    rows.iter()
        .map(|r| {
            Ok(SurvivalRow {
                time: r.time,
                event: r.event,
                covariates: super::design_columns(covariates, &r.values),
                stratum: stratum_of(r, column, strata)?,
            })
        })
        .collect()
}

/// `grid` repeated per stratum, stratum-major.
fn cox_grid(grid: &[f64], strata: &[f64]) -> CoxGrid {
    let points = (0..strata.len().max(1) as u32)
        .flat_map(|stratum| grid.iter().map(move |&time| GridPoint { stratum, time }))
        .collect();
    CoxGrid::from_points(points)
}

/// The Gram matrices of the rows' Cox score-residual features at the final
/// `beta`, per (grid point, status) cell, for robust standard errors: the
/// stats crate's [`ResidualGram`] on [`cox_grid`]. No delayed entry (the
/// stats crate does not cover it; the hub refuses it before).
pub(super) fn cox_residual_gram(
    rows: &[Row],
    analysis: &Analysis,
    grid: &[f64],
    strata: &[f64],
    beta: &[f64],
    bins: &[f64],
) -> Result<ResidualGram, AnalysisError> {
    if delayed(analysis) {
        return Err(AnalysisError::Invalid(
            "robust standard errors do not take delayed entry".into(),
        ));
    }
    let rows = binned(rows, bins);
    let model = survival_rows(&rows, analysis, strata)?;
    Ok(oncofed_stats::cox_residual_gram(
        &model,
        &cox_grid(grid, strata),
        beta,
    )?)
}

/// The pooled model's risk-set sums at `beta`: `grid` repeated per stratum.
pub(super) fn cox_sums(
    rows: &[Row],
    analysis: &Analysis,
    grid: &[f64],
    strata: &[f64],
    beta: &[f64],
    ties: Ties,
    bins: &[f64],
) -> Result<CoxSiteSums, AnalysisError> {
    let rows = binned(rows, bins);
    let grid = cox_grid(grid, strata);
    let model = survival_rows(&rows, analysis, strata)?;
    Ok(if delayed(analysis) {
        cox_site_sums_entered(&model, &stats_entries(rows.iter()), &grid, beta, ties)?
    } else {
        cox_site_sums(&model, &grid, beta, ties)?
    })
}

/// The site's own log-likelihood, score and information (stratified by site,
/// and within the site by the strata variable's value).
pub(super) fn cox_stratum(
    rows: &[Row],
    analysis: &Analysis,
    beta: &[f64],
    ties: Ties,
) -> Result<Vec<f64>, AnalysisError> {
    if delayed(analysis) {
        return Err(AnalysisError::Invalid(
            "a site-stratified Cox model does not take delayed entry".into(),
        ));
    }
    let column = group_column(analysis);
    let mut model = survival_rows(rows, analysis, &[])?;
    if let Some(c) = column {
        for (m, r) in model.iter_mut().zip(rows) {
            let v = r.values[c];
            if v.fract() != 0.0
                || !(0.0..oncofed_protocol::analysis::MAX_GROUP_LEVELS as f64).contains(&v)
            {
                return Err(AnalysisError::Invalid(
                    "a stratum value is not a whole number from 0 to 15".into(),
                ));
            }
            m.stratum = v as u32;
        }
    }
    let agg = cox_site_contribution(&model, beta, ties)?;
    let mut out = vec![agg.loglik, agg.events];
    out.extend(&agg.gradient);
    out.extend(&agg.hessian);
    Ok(out)
}

/// The hub's Fine–Gray grid as a site accepts it: the censoring survival in
/// (0, 1], 1 at the first time and non-increasing, and on time bins a grid
/// that holds every bin's end (so every row's binned time is on it).
fn finegray_grid(
    grid: &[f64],
    censoring_survival: &[f64],
    bins: &[f64],
) -> Result<FineGrayGrid, AnalysisError> {
    oncofed_protocol::analysis::check_censoring_survival(censoring_survival, grid.len())
        .map_err(AnalysisError::Invalid)?;
    if bins.is_empty() {
        return Err(AnalysisError::Invalid(
            "a fine-gray model sums on time bins only".into(),
        ));
    }
    if !grid.windows(2).all(|w| w[0] < w[1])
        || !oncofed_protocol::analysis::grid_covers_bins(grid, bins)
    {
        return Err(AnalysisError::Invalid(
            "a fine-gray grid must be ascending and hold every bin's end".into(),
        ));
    }
    Ok(FineGrayGrid {
        times: grid.to_vec(),
        censoring_survival: censoring_survival.to_vec(),
    })
}

/// The binned rows as the stats crate's competing-risks model rows: the
/// cause (the row's last value) 1 the event of interest, 2 the competing
/// death; the design columns of the covariates before it.
fn finegray_rows(
    rows: &[Row],
    analysis: &Analysis,
    bins: &[f64],
) -> Result<Vec<FineGrayRow>, AnalysisError> {
    if delayed(analysis) {
        return Err(AnalysisError::Invalid(
            "a fine-gray model does not take delayed entry".into(),
        ));
    }
    let covariates = analysis.covariates();
    binned(rows, bins)
        .iter()
        .map(|r| {
            let status = match (r.event, r.values.last().copied()) {
                (false, _) => CompetingStatus::Censored,
                (true, Some(1.0)) => CompetingStatus::Event,
                (true, Some(2.0)) => CompetingStatus::Competing,
                _ => {
                    return Err(AnalysisError::Invalid(
                        "an event's cause is not 1 (of interest) or 2 (competing)".into(),
                    ));
                }
            };
            Ok(FineGrayRow {
                time: r.time,
                status,
                covariates: super::design_columns(covariates, &r.values),
            })
        })
        .collect()
}

/// Fine–Gray weighted risk-set sums at `beta` on the hub's grid (Breslow
/// [`CoxSiteSums`], no strata).
pub(super) fn finegray_sums(
    rows: &[Row],
    analysis: &Analysis,
    grid: &[f64],
    censoring_survival: &[f64],
    beta: &[f64],
    bins: &[f64],
) -> Result<CoxSiteSums, AnalysisError> {
    let grid = finegray_grid(grid, censoring_survival, bins)?;
    let model = finegray_rows(rows, analysis, bins)?;
    Ok(finegray_site_sums(&model, &grid, beta)?)
}

/// The Gram matrices of the Fine–Gray residual features at the final `beta`,
/// per (grid time, status) cell.
pub(super) fn finegray_gram(
    rows: &[Row],
    analysis: &Analysis,
    grid: &[f64],
    censoring_survival: &[f64],
    beta: &[f64],
    bins: &[f64],
) -> Result<ResidualGram, AnalysisError> {
    let grid = finegray_grid(grid, censoring_survival, bins)?;
    let model = finegray_rows(rows, analysis, bins)?;
    Ok(finegray_residual_gram(&model, &grid, beta)?)
}
