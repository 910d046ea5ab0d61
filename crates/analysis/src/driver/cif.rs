//! The cumulative-incidence run: group levels, time bins, one round of
//! competing-risks counts, the Aalen–Johansen estimate per group on the pooled
//! counts, Gray's test between the groups on those counts, and the release
//! ([`crate::cif`]). Kept apart from `driver.rs`.

use super::{Rounds, group_level_counts, km_grid, survival_times_in, whole};
use crate::cif::{CifCurve, CifResult, coarsen};
use crate::result::{RunInfo, cell};
use crate::{AnalysisError, AnalysisLimits, dp, plausibility};
use oncofed_protocol::analysis::{Computation, Survival, Variable};
use oncofed_stats::{
    CifCounts, GrayTest, KmCounts, StatsError, aalen_johansen, gray_test, gray_test_competing,
};

/// The summed [`Computation::CifCounts`] vector, one [`CifCounts`] per group.
pub(super) fn unflatten(
    v: &[f64],
    t: usize,
    groups: usize,
) -> Result<Vec<CifCounts>, AnalysisError> {
    if v.len() != 3 * t * groups {
        return Err(AnalysisError::Protocol(
            "cumulative incidence counts have the wrong length",
        ));
    }
    Ok(v.chunks(3 * t)
        .map(|c| CifCounts {
            at_risk: c[..t].iter().map(|x| whole(*x)).collect(),
            events: c[t..2 * t].iter().map(|x| whole(*x)).collect(),
            competing: c[2 * t..].iter().map(|x| whole(*x)).collect(),
        })
        .collect())
}

/// Gray's test, or `None` where it is undefined: its variance is singular
/// (no events of the cause in any group) or fewer than two groups have rows.
/// Other failures (counts of different lengths) are wiring bugs and stay errors.
fn gray_or_none(
    test: fn(&[CifCounts]) -> Result<GrayTest, StatsError>,
    counts: &[CifCounts],
) -> Result<Option<GrayTest>, AnalysisError> {
    match test(counts) {
        Ok(t) => Ok(Some(t)),
        Err(StatsError::Singular | StatsError::SingularAt { .. } | StatsError::Empty { .. }) => {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Runs a cumulative incidence over `rounds` (the Totals round done:
/// `info.rows`, `info.events` hold its counts).
pub(super) fn cumulative_incidence(
    rounds: &mut Rounds<'_>,
    survival: &Survival,
    groups: &Option<Variable>,
    interval_days: u32,
    limits: &AnalysisLimits,
    epsilon: Option<f64>,
    mut info: RunInfo,
) -> Result<CifResult, AnalysisError> {
    let (rows, events) = (info.rows, info.events);
    let (levels, sizes) = match groups {
        Some(var) => group_level_counts(rounds, var, rows, limits)?,
        None => (Vec::new(), vec![rows]),
    };
    let times = survival_times_in(rounds, survival, limits.min_cell, &levels)?;
    info.time_bins = Some(times.resolution.clone());
    let grid = km_grid(&times.events, interval_days, survival.horizon_days);
    let n_groups = levels.len().max(1);
    let v = rounds.sum(Computation::CifCounts {
        grid: grid.clone(),
        groups: n_groups,
        levels: levels.clone(),
        bins: times.bins.clone(),
    })?;
    plausibility::check_whole_counts(&v, "cumulative incidence counts")?;
    let counts = unflatten(&v, grid.len(), n_groups)?;
    // the Kaplan–Meier consistency rules hold for all events together
    let all: Vec<KmCounts> = counts
        .iter()
        .map(|c| KmCounts {
            at_risk: c.at_risk.clone(),
            events: c
                .events
                .iter()
                .zip(&c.competing)
                .map(|(a, b)| a + b)
                .collect(),
        })
        .collect();
    if survival.entry.is_some() {
        // not monotone (rows enter), but fixed by the bins' entries and exits
        for (g, c) in all.iter().enumerate() {
            plausibility::check_entered_counts(c, &times.expected_at_risk(g, &grid)?)?;
        }
    } else {
        plausibility::check_km_counts(&all, rows, events)?;
    }
    let mut curves = Vec::new();
    for (g, c) in counts.iter().enumerate() {
        let estimate = aalen_johansen(&grid, c)?;
        let label = match groups {
            Some(var) => format!("{}={}", var.name(), levels[g]),
            None => "all".into(),
        };
        curves.push(CifCurve {
            label,
            n: cell(sizes[g], limits.min_cell),
            events: cell(c.events.iter().sum(), limits.min_cell),
            competing: cell(c.competing.iter().sum(), limits.min_cell),
            steps: coarsen(&estimate, interval_days, limits),
        });
    }
    // As the Kaplan–Meier log-rank: on the full pooled counts of each group
    // (not the coarsened steps); with ε the statistic is released as it is, too.
    let (gray, gray_competing) = if groups.is_some() && counts.len() >= 2 {
        (
            gray_or_none(gray_test, &counts)?,
            gray_or_none(gray_test_competing, &counts)?,
        )
    } else {
        (None, None)
    };
    if let Some(e) = epsilon {
        // One person is in one group: rows, events, its group's n, events and
        // competing events each move by at most 1 (L1 sensitivity 5); the
        // numbers at risk are withheld, the curves stay under the disclosure
        // limits, as for Kaplan–Meier.
        let mut exact = vec![rows as f64, events as f64];
        for c in &counts {
            exact.push(c.at_risk.first().copied().unwrap_or(0) as f64);
            exact.push(c.events.iter().sum::<u64>() as f64);
            exact.push(c.competing.iter().sum::<u64>() as f64);
        }
        let noised = dp::noise_counts(&exact, 5.0, e)?;
        (info.rows, info.events, info.epsilon) = (noised[0], noised[1], Some(e));
        for (g, curve) in curves.iter_mut().enumerate() {
            curve.n = cell(noised[2 + 3 * g], limits.min_cell);
            curve.events = cell(noised[3 + 3 * g], limits.min_cell);
            curve.competing = cell(noised[4 + 3 * g], limits.min_cell);
            for step in &mut curve.steps {
                step.at_risk = None;
            }
        }
    }
    Ok(CifResult {
        run: info,
        interval_days,
        curves,
        gray_test: gray,
        gray_test_competing: gray_competing,
    })
}
