//! The Kaplan–Meier run: group levels, time bins valid in every group, one
//! round of counts per group, the curves, medians and the k-group log-rank
//! test, and the release (DP-noised counts on request). Kept apart from
//! `driver.rs`.

use super::{Rounds, group_level_counts, km_grid, survival_times_in};
use crate::result::{KmCurve, KmResult, RunInfo, cell, coarsen, releasable_median};
use crate::site::unflatten_km;
use crate::{AnalysisError, AnalysisLimits, dp, plausibility};
use oncofed_protocol::analysis::{Computation, Survival, Variable};
use oncofed_stats::{KmCounts, kaplan_meier, logrank_test};

/// Runs a Kaplan–Meier analysis over `rounds` (the Totals round done:
/// `info.rows`, `info.events` hold its counts).
pub(super) fn kaplan_meier_run(
    rounds: &mut Rounds<'_>,
    survival: &Survival,
    groups: &Option<Variable>,
    interval_days: u32,
    limits: &AnalysisLimits,
    epsilon: Option<f64>,
    mut info: RunInfo,
) -> Result<KmResult, AnalysisError> {
    let (rows, events) = (info.rows, info.events);
    let (levels, sizes) = match groups {
        Some(var) => group_level_counts(rounds, var, rows, limits)?,
        None => (Vec::new(), vec![rows]),
    };
    let times = survival_times_in(rounds, survival, limits.min_cell, &levels)?;
    info.time_bins = Some(times.resolution.clone());
    let grid = km_grid(&times.events, interval_days, survival.horizon_days);
    let n_groups = levels.len().max(1);
    let v = rounds.sum(Computation::KmCounts {
        grid: grid.clone(),
        groups: n_groups,
        levels: levels.clone(),
        bins: times.bins.clone(),
    })?;
    plausibility::check_whole_counts(&v, "Kaplan-Meier counts")?;
    let counts = unflatten_km(&v, grid.len(), n_groups)?;
    let delayed = survival.entry.is_some();
    if delayed {
        // not monotone (rows enter), but fixed by the bins' entries and exits
        for (g, c) in counts.iter().enumerate() {
            let expected = times.expected_at_risk(g, &grid)?;
            plausibility::check_entered_counts(c, &expected)?;
        }
        if counts.iter().flat_map(|c| &c.events).sum::<u64>() > events {
            return Err(AnalysisError::Federation(
                "implausible sums: km events exceed the events of the totals".into(),
            ));
        }
    } else {
        if let Some(var) = groups {
            // day 0 counts every row of a group; rows in neither group had
            // another value and would be dropped without a word (issue 12)
            let grouped: u64 = counts
                .iter()
                .map(|c| c.at_risk.first().copied().unwrap_or(0))
                .sum();
            if grouped != rows {
                return Err(AnalysisError::Invalid(format!(
                    "the grouping variable {} has values other than its levels",
                    var.name()
                )));
            }
        }
        plausibility::check_km_counts(&counts, rows, events)?;
    }
    let mut curves = Vec::new();
    for (g, c) in counts.iter().enumerate() {
        let estimate = kaplan_meier(&grid, c)?;
        let label = match groups {
            Some(var) => format!("{}={}", var.name(), levels[g]),
            None => "all".into(),
        };
        // the group's rows (at day 0 all of them, unless entry is delayed)
        let n = sizes[g];
        let median = releasable_median(&estimate, limits);
        let mut steps = coarsen(&estimate, interval_days, limits);
        if delayed {
            // with entries the drop of the number at risk is not the exits
            for step in &mut steps {
                step.censored = None;
            }
        }
        curves.push(KmCurve {
            label,
            n: cell(n, limits.min_cell),
            events: cell(c.events.iter().sum(), limits.min_cell),
            median: median.median,
            median_ci: median.median_ci,
            median_status: Some(median.status),
            median_ci_status: Some(median.ci_status),
            steps,
        });
    }
    let logrank = if n_groups >= 2 {
        Some(logrank_test(&counts)?)
    } else {
        None
    };
    if let Some(e) = epsilon {
        noise_km_counts(&mut info, &mut curves, &counts, &sizes, limits, e)?;
    }
    Ok(KmResult {
        run: info,
        interval_days,
        curves,
        logrank,
    })
}

/// A DP Kaplan–Meier release: the run's rows and events and each curve's `n`
/// and events are noised together (one person is in one group: rows, events,
/// its group's n and events each move by at most 1, L1 sensitivity 4), and
/// the numbers at risk are withheld (one person is at risk at every step up to
/// their exit, so noising them would need noise of the order of the number of
/// steps). S(t), its CI, the medians and the log-rank are released under the
/// disclosure limits, not under DP.
fn noise_km_counts(
    info: &mut RunInfo,
    curves: &mut [KmCurve],
    counts: &[KmCounts],
    sizes: &[u64],
    limits: &AnalysisLimits,
    epsilon: f64,
) -> Result<(), AnalysisError> {
    let mut exact = vec![info.rows as f64, info.events as f64];
    for (c, &n) in counts.iter().zip(sizes) {
        exact.push(n as f64);
        exact.push(c.events.iter().sum::<u64>() as f64);
    }
    let noised = dp::noise_counts(&exact, 4.0, epsilon)?;
    (info.rows, info.events, info.epsilon) = (noised[0], noised[1], Some(epsilon));
    for (g, curve) in curves.iter_mut().enumerate() {
        curve.n = cell(noised[2 + 2 * g], limits.min_cell);
        curve.events = cell(noised[3 + 2 * g], limits.min_cell);
        for step in &mut curve.steps {
            (step.at_risk, step.censored) = (None, None);
        }
    }
    Ok(())
}
