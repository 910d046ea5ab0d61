//! What a researcher receives: released results only, after disclosure control.

use crate::AnalysisLimits;
use oncofed_stats::{Convergence, Estimate, KmEstimate, LogRankTest};
use serde::{Deserialize, Serialize};

/// Facts about the run itself, released with every result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Sites whose sums are in the result.
    pub sites: usize,
    /// Complete rows over all sites; in a release with ε, noised like every
    /// other count of it (an exact value would reveal differences between runs).
    pub rows: u64,
    /// Events (deaths within follow-up, or deaths for `describe`/GLM) among them;
    /// noised with ε like `rows`.
    pub events: u64,
    /// Secure-aggregation rounds (each one round trip to every site and back).
    pub rounds: usize,
    /// ε spent on this release (differential privacy), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
    /// Wall time of admission (sites selecting rows under consent) and key set-up, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admission_seconds: Option<f64>,
    /// Wall time of the aggregation rounds and the fit, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregation_seconds: Option<f64>,
}

/// A released count: the value, or `None` when suppressed (below the minimum cell).
pub type Cell = Option<u64>;

/// Suppresses counts below `min` (0 stays 0: an empty cell discloses nobody).
pub fn cell(count: u64, min: u64) -> Cell {
    (count == 0 || count >= min).then_some(count)
}

/// One variable's summary in `describe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariableSummary {
    /// The variable's name.
    pub name: String,
    /// Rows summarised.
    pub n: Cell,
    /// Mean (`None` when n is suppressed).
    pub mean: Option<f64>,
    /// Sample standard deviation.
    pub sd: Option<f64>,
    /// Counts per bin `[edges[i], edges[i+1])` (the last bin closed), suppressed below the minimum cell.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub histogram: Vec<Cell>,
    /// Values below the first edge and above the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outside: Option<(Cell, Cell)>,
    /// 25th, 50th and 75th percentile, interpolated within the histogram bins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quartiles: Option<[f64; 3]>,
}

/// `describe`'s result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DescribeResult {
    /// The run.
    pub run: RunInfo,
    /// Histogram edges used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<f64>,
    /// One summary per variable.
    pub variables: Vec<VariableSummary>,
    /// Counts with the strata variable 0 and 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strata: Option<(String, Cell, Cell)>,
}

/// One released step of a Kaplan–Meier curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KmStep {
    /// Day of follow-up (a multiple of the interval).
    pub time: f64,
    /// S(t).
    pub survival: f64,
    /// Lower 95 % bound (log-log).
    pub ci_lower: f64,
    /// Upper 95 % bound.
    pub ci_upper: f64,
    /// Number at risk at `time`: rows with time ≥ `time`, censorings since the
    /// last event counted (lifelines' definition; suppressed below the minimum cell).
    pub at_risk: Cell,
}

/// One group's released curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KmCurve {
    /// `all`, or `<variable>=0` / `<variable>=1`.
    pub label: String,
    /// Rows in the group.
    pub n: Cell,
    /// Events in the group.
    pub events: Cell,
    /// Median survival in days (first time with S ≤ 0.5), if reached and releasable.
    pub median: Option<f64>,
    /// Its 95 % CI (lifelines' convention), `None` for a bound not reached.
    pub median_ci: (Option<f64>, Option<f64>),
    /// The curve on the coarse grid, starting at (0, 1).
    pub steps: Vec<KmStep>,
}

/// `km`'s result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KmResult {
    /// The run.
    pub run: RunInfo,
    /// The released grid width in days.
    pub interval_days: u32,
    /// One curve per group.
    pub curves: Vec<KmCurve>,
    /// Log-rank test between the groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logrank: Option<LogRankTest>,
}

/// A fitted regression (Cox or GLM).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionResult {
    /// The run.
    pub run: RunInfo,
    /// `cox (efron)`, `cox (breslow, stratified by site)`, `glm (binomial)`, ...
    pub model: String,
    /// Term names, one per estimate (`intercept` first for GLMs).
    pub terms: Vec<String>,
    /// β, exp(β), SE, z, p, 95 % CI per term.
    pub estimates: Vec<Estimate>,
    /// Log (partial) likelihood at the estimate.
    pub loglik: f64,
    /// Newton iterations.
    pub iterations: usize,
    /// The convergence criterion and the score at the estimate (absent in
    /// results released before issue 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convergence: Option<Convergence>,
}

/// A released analysis result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum AnalysisResult {
    /// Descriptive statistics.
    Describe(DescribeResult),
    /// Kaplan–Meier curves.
    Km(KmResult),
    /// Cox model.
    Cox(RegressionResult),
    /// Logistic or Poisson regression.
    Glm(RegressionResult),
}

impl AnalysisResult {
    /// The run facts, to fill in what only the caller knows (timings).
    pub fn run_mut(&mut self) -> &mut RunInfo {
        match self {
            AnalysisResult::Describe(r) => &mut r.run,
            AnalysisResult::Km(r) => &mut r.run,
            AnalysisResult::Cox(r) | AnalysisResult::Glm(r) => &mut r.run,
        }
    }

    /// The run facts.
    pub fn run(&self) -> &RunInfo {
        match self {
            AnalysisResult::Describe(r) => &r.run,
            AnalysisResult::Km(r) => &r.run,
            AnalysisResult::Cox(r) | AnalysisResult::Glm(r) => &r.run,
        }
    }
}

/// The released curve: S(t) at multiples of `interval` (starting at 0), keeping a
/// point only when at least `limits.km_min_events` events happened since the last
/// kept point, so every visible drop aggregates several events.
pub fn coarsen(estimate: &KmEstimate, interval: u32, limits: &AnalysisLimits) -> Vec<KmStep> {
    let interval = f64::from(interval.max(1));
    let mut steps = vec![KmStep {
        time: 0.0,
        survival: 1.0,
        ci_lower: 1.0,
        ci_upper: 1.0,
        at_risk: estimate
            .at_risk
            .first()
            .and_then(|&n| cell(n, limits.min_cell)),
    }];
    let Some(&last) = estimate.times.last() else {
        return steps;
    };
    let (mut since, mut i) = (0u64, 0usize);
    let mut t = interval;
    while t <= last + interval {
        while i < estimate.times.len() && estimate.times[i] <= t {
            since += estimate.events[i];
            i += 1;
        }
        if since >= limits.km_min_events.max(1) {
            let at = i.saturating_sub(1);
            steps.push(KmStep {
                time: t,
                survival: estimate.survival[at],
                ci_lower: estimate.ci_lower[at],
                ci_upper: estimate.ci_upper[at],
                at_risk: cell(at_risk_at(estimate, t), limits.min_cell),
            });
            since = 0;
        }
        t += interval;
    }
    steps
}

/// Rows with time ≥ `t`: the count at grid point `t` (the driver puts every
/// step time on the grid). Off the grid, the rows at risk at the next grid
/// point, a lower bound that misses rows censored in between; 0 past the grid.
fn at_risk_at(estimate: &KmEstimate, t: f64) -> u64 {
    let j = estimate.times.partition_point(|&g| g < t);
    estimate.at_risk.get(j).copied().unwrap_or(0)
}

/// The median is released when at least `km_min_events` events lie on each side
/// of it (otherwise it pins down a single event time).
pub fn releasable_median(estimate: &KmEstimate, limits: &AnalysisLimits) -> Option<f64> {
    let median = estimate.median?;
    let before: u64 = estimate
        .times
        .iter()
        .zip(&estimate.events)
        .filter(|(t, _)| **t <= median)
        .map(|(_, d)| d)
        .sum();
    let total: u64 = estimate.events.iter().sum();
    (before >= limits.km_min_events && total - before >= limits.km_min_events).then_some(median)
}
