//! The times a survival analysis sums on: time bins (or exact days where
//! approved), the Kaplan–Meier grid, and the numbers at risk the bins imply
//! under delayed entry (kept apart from `driver.rs`).

use super::{Rounds, binning, whole};
use crate::result::TimeBins;
use crate::{AnalysisError, plausibility};
use oncofed_protocol::analysis::Computation;
use oncofed_stats::StatsError;

/// The grid the Kaplan–Meier counts are taken on: the pooled event days plus
/// day 0 and every released step time (multiples of `interval` up to the
/// horizon). At a grid point the sites count the rows with time ≥ t, so day 0
/// gives each group's size `n` (rows censored before the first event
/// included) and a step time gives the number at risk there with the
/// censorings since the last event time counted, as lifelines defines both
/// (issue 12). Points without events leave S(t), its variance and the
/// log-rank statistic unchanged.
pub(super) fn km_grid(events: &[f64], interval: u32, horizon: u32) -> Vec<f64> {
    let last = events.last().copied().unwrap_or(0.0);
    let interval = f64::from(interval.max(1));
    let end = (last + interval).min(f64::from(horizon));
    let steps = (0..)
        .map(|k| f64::from(k) * interval)
        .take_while(|t| *t <= end);
    let mut grid: Vec<f64> = events.iter().copied().chain(steps).collect();
    grid.sort_by(f64::total_cmp);
    grid.dedup();
    grid
}

/// The times a survival analysis sums on.
pub(super) struct SurvivalTimes {
    /// The event grid: every bin's end, or the days with deaths.
    pub(super) events: Vec<f64>,
    /// The bin edges the sites bin times on (empty: exact days).
    pub(super) bins: Vec<f64>,
    /// What the result says about it.
    pub(super) resolution: TimeBins,
    /// The bins' pooled counts per level (empty: exact days).
    pub(super) tallies: Vec<Vec<binning::Tally>>,
}

impl SurvivalTimes {
    /// The number at risk of level `level` at each grid time with delayed
    /// entry, from the bins' pooled counts alone: a grid time in bin m has
    /// the rows entering in bins ≤ m less those exiting in bins < m at risk.
    pub(super) fn expected_at_risk(
        &self,
        level: usize,
        grid: &[f64],
    ) -> Result<Vec<u64>, AnalysisError> {
        let tallies = self
            .tallies
            .get(level)
            .ok_or(AnalysisError::Protocol("delayed entry needs time bins"))?;
        let mut entered_upto = Vec::with_capacity(tallies.len());
        let mut exited_before = Vec::with_capacity(tallies.len());
        let (mut entered, mut exited) = (0u64, 0u64);
        for t in tallies {
            entered += t.entries.unwrap_or(0);
            entered_upto.push(entered);
            exited_before.push(exited);
            exited += t.exits;
        }
        Ok(grid
            .iter()
            .map(|&g| {
                let m = self
                    .bins
                    .partition_point(|&e| e <= g)
                    .saturating_sub(1)
                    .min(tallies.len().saturating_sub(1));
                entered_upto[m].saturating_sub(exited_before[m])
            })
            .collect())
    }
}

/// Time bins of at least `k` exits ([`binning`]), or exact days where the
/// admitted request asked for them (the hub admits that only under an
/// approval that allows it, and every site checks it against its own policy).
/// The bins are valid in every one of the groups' `levels` (all rows as one
/// without).
pub(super) fn survival_times_in(
    rounds: &mut Rounds<'_>,
    survival: &oncofed_protocol::analysis::Survival,
    k: u64,
    levels: &[f64],
) -> Result<SurvivalTimes, AnalysisError> {
    if survival.exact_times {
        let events = event_grid(rounds, survival.horizon_days)?;
        return Ok(SurvivalTimes {
            resolution: TimeBins {
                exact: true,
                bins: events.len(),
                min_exits: 0,
                narrowest_days: 1,
                edges: Vec::new(),
            },
            events,
            bins: Vec::new(),
            tallies: Vec::new(),
        });
    }
    let bins = binning::time_bins(rounds, survival.horizon_days, k, levels)?;
    let events = bins.grid();
    if bins.deaths.iter().all(|&d| d == 0) {
        return Err(AnalysisError::Stats(StatsError::Empty {
            what: "no events",
        }));
    }
    Ok(SurvivalTimes {
        events,
        resolution: bins.describe(),
        bins: bins.edges,
        tallies: bins.tallies,
    })
}

/// The pooled distinct event days: one round of per-day death counts (exact
/// days only).
fn event_grid(rounds: &mut Rounds<'_>, horizon: u32) -> Result<Vec<f64>, AnalysisError> {
    let days = rounds.sum(Computation::EventDays {
        horizon_days: horizon,
    })?;
    plausibility::check_event_days(&days, rounds.totals.1)?;
    // day 0 always, events or not: its risk set is every row, which the
    // plausibility checks hold against the Totals round
    let grid: Vec<f64> = days
        .iter()
        .enumerate()
        .filter(|(day, d)| *day == 0 || whole(**d) > 0)
        .map(|(day, _)| day as f64)
        .collect();
    if rounds.totals.1 == 0 {
        return Err(AnalysisError::Stats(StatsError::Empty {
            what: "no events",
        }));
    }
    Ok(grid)
}
