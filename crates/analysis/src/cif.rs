//! What a cumulative-incidence release holds (issue 12, item 4: competing
//! risks), and how the Aalen–Johansen estimate on the pooled grid becomes it.
//!
//! The event of interest is the endpoint's progression or recurrence, the
//! competing event death without it (relapse against non-relapse mortality,
//! the classic pair in haematology). The released curve follows the
//! Kaplan–Meier rules: steps at multiples of the interval, kept only when
//! every cause that moved since the last kept step moved by at least
//! `km_min_events` events, counts below the minimum cell suppressed.

use crate::AnalysisLimits;
use crate::result::{Cell, RunInfo, cell};
use oncofed_stats::CifEstimate;
use serde::{Deserialize, Serialize};

/// `cif`'s result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CifResult {
    /// The run (its `endpoint` names the event of interest).
    pub run: RunInfo,
    /// The released grid width in days.
    pub interval_days: u32,
    /// One curve pair per group.
    pub curves: Vec<CifCurve>,
}

/// One group's cumulative incidences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CifCurve {
    /// `all`, or `variable=level`.
    pub label: String,
    /// Rows in the group.
    pub n: Cell,
    /// Events of interest (progression or recurrence).
    pub events: Cell,
    /// Competing events (death without the event of interest before).
    pub competing: Cell,
    /// The curves on the coarse grid, starting at (0, 0, 0).
    pub steps: Vec<CifStep>,
}

/// One released step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CifStep {
    /// Day of follow-up (a multiple of the interval).
    pub time: f64,
    /// Cumulative incidence of the event of interest by `time`.
    pub incidence: f64,
    /// Its standard error (the square root of the estimator's variance, see
    /// `oncofed_stats::aalen_johansen`).
    pub std_error: f64,
    /// Cumulative incidence of the competing event by `time`.
    pub competing_incidence: f64,
    /// Rows with time ≥ `time` (suppressed below the minimum cell; withheld
    /// in DP releases).
    pub at_risk: Cell,
}

/// Rows with time ≥ `t` from the estimate's grid (the driver puts every step
/// time on it); 0 past the grid.
fn at_risk_at(estimate: &CifEstimate, t: f64) -> u64 {
    let j = estimate.times.partition_point(|&g| g < t);
    estimate.at_risk.get(j).copied().unwrap_or(0)
}

/// The released steps: multiples of `interval`, each kept when every cause
/// that moved since the last kept step moved by at least `km_min_events`.
pub fn coarsen(estimate: &CifEstimate, interval: u32, limits: &AnalysisLimits) -> Vec<CifStep> {
    let interval = f64::from(interval.max(1));
    let min = limits.km_min_events.max(1);
    let mut steps = vec![CifStep {
        time: 0.0,
        incidence: 0.0,
        std_error: 0.0,
        competing_incidence: 0.0,
        at_risk: cell(at_risk_at(estimate, 0.0), limits.min_cell),
    }];
    let Some(&last) = estimate.times.last() else {
        return steps;
    };
    let (mut since, mut since_competing, mut i) = (0u64, 0u64, 0usize);
    let mut t = interval;
    while t <= last + interval {
        while i < estimate.times.len() && estimate.times[i] <= t {
            since += estimate.events[i];
            since_competing += estimate.competing[i];
            i += 1;
        }
        let enough = |n: u64| n == 0 || n >= min;
        if since + since_competing > 0 && enough(since) && enough(since_competing) {
            let at = i.saturating_sub(1);
            steps.push(CifStep {
                time: t,
                incidence: estimate.incidence[at],
                std_error: estimate.variance[at].max(0.0).sqrt(),
                competing_incidence: estimate.competing_incidence[at],
                at_risk: cell(at_risk_at(estimate, t), limits.min_cell),
            });
            (since, since_competing) = (0, 0);
        }
        t += interval;
    }
    steps
}
