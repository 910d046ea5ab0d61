//! What a cumulative-incidence release holds (issue 12, item 4: competing
//! risks), and how the Aalen–Johansen estimate on the pooled grid becomes it.
//!
//! The event of interest is the endpoint's progression or recurrence, the
//! competing event death without it (relapse against non-relapse mortality,
//! the classic pair in haematology). The released curve follows the
//! Kaplan–Meier rules: steps at multiples of the interval, kept only when
//! every cause that moved since the last kept step moved by at least
//! `km_min_events` events, counts below the minimum cell suppressed.
//!
//! Each released step carries pointwise 95% intervals of both incidences
//! (log(−log), from Gray's variance: [`oncofed_stats::cif_confidence_interval`]),
//! functions of the released estimate and standard error only. With two or more
//! groups the result carries Gray's test for each cause, computed like the
//! Kaplan–Meier log-rank on the full pooled counts, not on the coarsened steps.

use crate::AnalysisLimits;
use crate::result::{Cell, RunInfo, cell};
use oncofed_stats::{CifEstimate, cif_confidence_interval};
use serde::{Deserialize, Serialize};

/// Gray's test as the result carries it, re-exported so that readers of a
/// [`CifResult`] (the CLI) need not depend on the statistics crate.
pub use oncofed_stats::GrayTest;

/// `cif`'s result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CifResult {
    /// The run (its `endpoint` names the event of interest).
    pub run: RunInfo,
    /// The released grid width in days.
    pub interval_days: u32,
    /// One curve pair per group.
    pub curves: Vec<CifCurve>,
    /// Gray's test between the groups for the event of interest (χ², df =
    /// groups − 1, p; `cmprsk::cuminc`'s `Tests`), on the full pooled counts of
    /// every group: `None` without groups, when it is undefined (no such events
    /// at all: its variance is singular) and in results from before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gray_test: Option<GrayTest>,
    /// Gray's test for the competing event, the same with the causes swapped
    /// (free from the same counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gray_test_competing: Option<GrayTest>,
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
    /// Lower bound of its pointwise 95% interval (log(−log) transform, see
    /// [`cif_confidence_interval`]); `None` where the incidence is 0 or 1 (the
    /// transform is undefined) and in results from before the intervals existed.
    #[serde(default)]
    pub ci_lower: Option<f64>,
    /// Upper bound of that interval.
    #[serde(default)]
    pub ci_upper: Option<f64>,
    /// Cumulative incidence of the competing event by `time`.
    pub competing_incidence: f64,
    /// Its standard error (Gray's variance of the competing cause); 0 in
    /// results from before it was released.
    #[serde(default)]
    pub competing_std_error: f64,
    /// Lower bound of its pointwise 95% interval, as for the event of interest.
    #[serde(default)]
    pub competing_ci_lower: Option<f64>,
    /// Upper bound of that interval.
    #[serde(default)]
    pub competing_ci_upper: Option<f64>,
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
        ci_lower: None,
        ci_upper: None,
        competing_incidence: 0.0,
        competing_std_error: 0.0,
        competing_ci_lower: None,
        competing_ci_upper: None,
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
            let (f1, v1) = (estimate.incidence[at], estimate.variance[at].max(0.0));
            let (f2, v2) = (
                estimate.competing_incidence[at],
                estimate.competing_variance[at].max(0.0),
            );
            let (ci_lower, ci_upper) = cif_confidence_interval(f1, v1).unzip();
            let (competing_ci_lower, competing_ci_upper) = cif_confidence_interval(f2, v2).unzip();
            steps.push(CifStep {
                time: t,
                incidence: f1,
                std_error: v1.sqrt(),
                ci_lower,
                ci_upper,
                competing_incidence: f2,
                competing_std_error: v2.sqrt(),
                competing_ci_lower,
                competing_ci_upper,
                at_risk: cell(at_risk_at(estimate, t), limits.min_cell),
            });
            (since, since_competing) = (0, 0);
        }
        t += interval;
    }
    steps
}
