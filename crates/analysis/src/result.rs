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
    /// How survival times entered the sums the hub saw (survival analyses only):
    /// binned so that no sum covers fewer than `min_exits` persons (the
    /// default), or exact days where the approval and every site allowed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_bins: Option<TimeBins>,
    /// The survival endpoint (survival analyses only): `os`, `pfs` or `rfs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<oncofed_protocol::analysis::Endpoint>,
    /// The time origin when it is not the index diagnosis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<oncofed_protocol::analysis::Origin>,
    /// Sites that were asked but whose sums are not in the result, each with
    /// the rule or failure that kept it out (the site's own text: a rule,
    /// never a count).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sat_out: Vec<SatOut>,
    /// Sites that were admitted but left the run before any of their data
    /// were in a revealed sum, with the round and step at which they left
    /// and when: the result is over the remaining sites only, and the
    /// researcher must know which ones (issue 13, item 5).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left: Vec<SiteLeft>,
}

/// An admitted site that stopped answering (or refused) at an aggregation
/// round's masking step before any sum with its data was revealed; the run
/// finished on the remaining sites, every released figure is over them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteLeft {
    /// The site's id.
    pub site: String,
    /// The aggregation round (0-based, in the run's order) it did not mask.
    pub round: usize,
    /// The protocol step it failed at (`mask`).
    pub step: String,
    /// When the hub closed that step without it (UTC).
    pub at: chrono::DateTime<chrono::Utc>,
    /// Why, as the hub saw it: "no answer before the step timeout" or the
    /// site's constant refusal text; never a count.
    pub reason: String,
}

/// A site that sat out a run: it refused at admission (below one of its
/// minimums, or its own bounds) or did not answer in time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SatOut {
    /// The site's id.
    pub site: String,
    /// Why, as a rule ("fewer than 10 complete rows at this site") or a
    /// failure ("no answer before the admission timeout"); no counts.
    pub reason: String,
}

/// The time resolution of a survival analysis (issue 11, item 3): the estimates
/// are exact for the times as binned here, not for the unbinned days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeBins {
    /// Exact days (a per-day grid) rather than bins.
    pub exact: bool,
    /// Bins over `[0, horizon]` (for exact days: the days with an event).
    pub bins: usize,
    /// Fewest exits (deaths or censorings) of any non-empty bin; also every
    /// bin's deaths are 0 or at least this many (0 for exact days).
    pub min_exits: u64,
    /// Narrowest bin in days.
    pub narrowest_days: u32,
    /// The bin edges in days (bin i is `[edges[i], edges[i+1])`, its time the
    /// bin's last day), so that a reader can refit the pooled model on the
    /// same binned times; empty for exact days.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<f64>,
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
    /// Rows censored in `[previous released time, time)` (exits that were not
    /// deaths), suppressed below the minimum cell; `None` at time 0, in DP
    /// releases and in results from before issue 12.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub censored: Cell,
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
    /// Its 95 % CI (lifelines' convention), `None` for a bound not reached or withheld.
    pub median_ci: (Option<f64>, Option<f64>),
    /// Why `median` has a value or not: reached, not reached, or withheld by
    /// the rule named. `None` only in results released before issue 12.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_status: Option<MedianStatus>,
    /// The same for the lower and upper CI bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_ci_status: Option<(MedianStatus, MedianStatus)>,
    /// The curve on the coarse grid, starting at (0, 1).
    pub steps: Vec<KmStep>,
}

/// Whether a released time (a median or one of its CI bounds) has a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum MedianStatus {
    /// Reached and released.
    Reached,
    /// Not reached: the curve (or its band) never falls to 0.5.
    NotReached,
    /// Reached but withheld by disclosure control; `rule` names the rule
    /// ("fewer than 3 events after the median").
    Withheld {
        /// The rule, with its number.
        rule: String,
    },
}

impl std::fmt::Display for MedianStatus {
    /// `reached`, `not reached`, `withheld (<rule>)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MedianStatus::Reached => f.write_str("reached"),
            MedianStatus::NotReached => f.write_str("not reached"),
            MedianStatus::Withheld { rule } => write!(f, "withheld ({rule})"),
        }
    }
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
    /// Term names, one per estimate (`intercept` first for GLMs); a
    /// categorical covariate's terms are `<variable>=<level>`, one per level
    /// besides the reference.
    pub terms: Vec<String>,
    /// The reference level of each categorical covariate
    /// (`obs:loinc:89247-1=0`): its terms are contrasts against it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
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
    /// Cumulative incidence with a competing risk.
    Cif(crate::cif::CifResult),
    /// Cox model.
    Cox(RegressionResult),
    /// Fine–Gray model (subdistribution hazards, crr's sandwich SEs).
    FineGray(RegressionResult),
    /// Logistic or Poisson regression.
    Glm(RegressionResult),
    /// A federated cell classifier: the model, its registry record and its
    /// evaluation per site.
    CellClassifier(Box<crate::driver::cells::CellClassifierResult>),
}

impl AnalysisResult {
    /// The run facts, to fill in what only the caller knows (timings).
    pub fn run_mut(&mut self) -> &mut RunInfo {
        match self {
            AnalysisResult::Describe(r) => &mut r.run,
            AnalysisResult::Km(r) => &mut r.run,
            AnalysisResult::Cif(r) => &mut r.run,
            AnalysisResult::Cox(r) | AnalysisResult::FineGray(r) | AnalysisResult::Glm(r) => {
                &mut r.run
            }
            AnalysisResult::CellClassifier(r) => &mut r.run,
        }
    }

    /// The run facts.
    pub fn run(&self) -> &RunInfo {
        match self {
            AnalysisResult::Describe(r) => &r.run,
            AnalysisResult::Km(r) => &r.run,
            AnalysisResult::Cif(r) => &r.run,
            AnalysisResult::Cox(r) | AnalysisResult::FineGray(r) | AnalysisResult::Glm(r) => &r.run,
            AnalysisResult::CellClassifier(r) => &r.run,
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
        censored: None,
    }];
    let Some(&last) = estimate.times.last() else {
        return steps;
    };
    let (mut since, mut i, mut previous) = (0u64, 0usize, 0.0f64);
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
                censored: cell(censored_between(estimate, previous, t), limits.min_cell),
            });
            previous = t;
            since = 0;
        }
        t += interval;
    }
    steps
}

/// Rows censored in `[a, b)`: the exits there (the drop of the number at
/// risk) less the deaths there.
fn censored_between(estimate: &KmEstimate, a: f64, b: f64) -> u64 {
    let exits = at_risk_at(estimate, a).saturating_sub(at_risk_at(estimate, b));
    let deaths: u64 = estimate
        .times
        .iter()
        .zip(&estimate.events)
        .filter(|(t, _)| **t >= a && **t < b)
        .map(|(_, d)| d)
        .sum();
    exits.saturating_sub(deaths)
}

/// Rows with time ≥ `t`: the count at grid point `t` (the driver puts every
/// step time on the grid). Off the grid, the rows at risk at the next grid
/// point, a lower bound that misses rows censored in between; 0 past the grid.
fn at_risk_at(estimate: &KmEstimate, t: f64) -> u64 {
    let j = estimate.times.partition_point(|&g| g < t);
    estimate.at_risk.get(j).copied().unwrap_or(0)
}

/// A curve's median and its CI as released, each with its status.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleasedMedian {
    /// The median, where reached and releasable.
    pub median: Option<f64>,
    /// Its 95 % CI bounds, each where reached and releasable.
    pub median_ci: (Option<f64>, Option<f64>),
    /// The median's status.
    pub status: MedianStatus,
    /// The bounds' status.
    pub ci_status: (MedianStatus, MedianStatus),
}

/// The median is released when at least `km_min_events` events lie on each side
/// of it (otherwise it pins down a single event time); so is each bound of its
/// CI, by the same rule, and only with the median (a bound alone would stand in
/// for a withheld median). Not reached and withheld are told apart.
pub fn releasable_median(estimate: &KmEstimate, limits: &AnalysisLimits) -> ReleasedMedian {
    let total: u64 = estimate.events.iter().sum();
    let min = limits.km_min_events;
    let check = |time: Option<f64>, what: &str| -> (Option<f64>, MedianStatus) {
        let Some(t) = time else {
            return (None, MedianStatus::NotReached);
        };
        let before: u64 = estimate
            .times
            .iter()
            .zip(&estimate.events)
            .filter(|(g, _)| **g <= t)
            .map(|(_, d)| d)
            .sum();
        let rule = if before < min {
            format!("fewer than {min} events up to the {what}")
        } else if total - before < min {
            format!("fewer than {min} events after the {what}")
        } else {
            return (Some(t), MedianStatus::Reached);
        };
        (None, MedianStatus::Withheld { rule })
    };
    let (median, status) = check(estimate.median, "median");
    let (mut lower, mut lower_status) = check(estimate.median_ci_lower, "lower CI bound");
    let (mut upper, mut upper_status) = check(estimate.median_ci_upper, "upper CI bound");
    if let MedianStatus::Withheld { .. } = &status {
        // a bound released by its own rule is still withheld with the median,
        // by the median's rule
        for (value, s) in [
            (&mut lower, &mut lower_status),
            (&mut upper, &mut upper_status),
        ] {
            if *s == MedianStatus::Reached {
                *value = None;
                *s = status.clone();
            }
        }
    }
    ReleasedMedian {
        median,
        median_ci: (lower, upper),
        status,
        ci_status: (lower_status, upper_status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oncofed_model::SecurityLevel;
    use oncofed_stats::{KmCounts, kaplan_meier};

    fn estimate(at_risk: &[u64], events: &[u64]) -> KmEstimate {
        let grid: Vec<f64> = (1..=at_risk.len()).map(|t| t as f64 * 10.0).collect();
        let counts = KmCounts {
            at_risk: at_risk.to_vec(),
            events: events.to_vec(),
        };
        kaplan_meier(&grid, &counts).unwrap()
    }

    fn limits() -> AnalysisLimits {
        AnalysisLimits::for_level(SecurityLevel::Pseudonymised)
    }

    fn withheld(rule: &str) -> MedianStatus {
        MedianStatus::Withheld { rule: rule.into() }
    }

    #[test]
    fn median_status_tells_reached_not_reached_and_withheld_apart() {
        // reached: 40 rows, 2 events at each of 20 times, S crosses 0.5 mid-way
        let at_risk: Vec<u64> = (1..=20).rev().map(|k| 2 * k).collect();
        let km = estimate(&at_risk, &[2; 20]);
        let released = releasable_median(&km, &limits());
        assert_eq!(released.status, MedianStatus::Reached);
        assert_eq!(released.median, km.median);
        assert!(released.median.is_some());
        assert_eq!(
            released.ci_status,
            (MedianStatus::Reached, MedianStatus::Reached)
        );
        assert_eq!(released.median_ci, (km.median_ci_lower, km.median_ci_upper));
        assert_eq!(released.status.to_string(), "reached");

        // not reached: 5 of 40 die, S stays at 7/8
        let km = estimate(&[40, 39, 38, 37, 36], &[1; 5]);
        let released = releasable_median(&km, &limits());
        assert_eq!(released.status, MedianStatus::NotReached);
        assert_eq!(released.median, None);
        assert_eq!(released.ci_status.1, MedianStatus::NotReached);
        assert_eq!(released.status.to_string(), "not reached");

        // reached at the last events: none after it, withheld by that rule
        let km = estimate(&[10, 5], &[4, 2]);
        assert_eq!(km.median, Some(20.0));
        let released = releasable_median(&km, &limits());
        assert_eq!(released.median, None);
        assert_eq!(
            released.status,
            withheld("fewer than 3 events after the median")
        );
        assert_eq!(
            released.status.to_string(),
            "withheld (fewer than 3 events after the median)"
        );
        assert_eq!(released.median_ci, (None, None));
        assert_ne!(released.ci_status.0, MedianStatus::Reached);
        assert_ne!(released.ci_status.1, MedianStatus::Reached);

        // reached after two events: withheld by the rule before it
        let km = estimate(&[4, 2], &[2, 2]);
        assert_eq!(km.median, Some(10.0));
        let released = releasable_median(&km, &limits());
        assert_eq!(released.median, None);
        assert_eq!(
            released.status,
            withheld("fewer than 3 events up to the median")
        );
    }

    #[test]
    fn a_ci_bound_is_withheld_with_the_median() {
        // S: 0.7, 0.55, 0.45 (the median at day 30, no event after it); the
        // lower band crosses 0.5 at day 10, with 6 events before and 5 after
        let km = estimate(&[20, 14, 11], &[6, 3, 2]);
        assert_eq!(km.median, Some(30.0));
        assert_eq!(km.median_ci_lower, Some(10.0));
        let released = releasable_median(&km, &limits());
        let rule = withheld("fewer than 3 events after the median");
        assert_eq!(released.status, rule);
        assert_eq!(released.median_ci.0, None);
        assert_eq!(released.ci_status.0, rule);
    }

    #[test]
    fn curves_released_before_the_status_still_read() {
        let old = r#"{"label":"all","n":40,"events":20,"median":null,"median_ci":[null,null],"steps":[]}"#;
        let curve: KmCurve = serde_json::from_str(old).unwrap();
        assert_eq!(curve.median_status, None);
        let curve = KmCurve {
            median_status: Some(withheld("fewer than 3 events after the median")),
            median_ci_status: Some((MedianStatus::NotReached, MedianStatus::Reached)),
            ..curve
        };
        let json = serde_json::to_value(&curve).unwrap();
        assert_eq!(
            json["median_status"],
            serde_json::json!({"status": "withheld", "rule": "fewer than 3 events after the median"})
        );
        assert_eq!(json["median_ci_status"][0]["status"], "not-reached");
        let back: KmCurve = serde_json::from_value(json).unwrap();
        assert_eq!(back, curve);
    }

    #[test]
    fn run_info_names_the_sites_that_sat_out_only_when_some_did() {
        let old = serde_json::json!({"sites": 3, "rows": 300, "events": 120, "rounds": 2});
        let mut run: RunInfo = serde_json::from_value(old).unwrap();
        assert!(run.sat_out.is_empty());
        let json = serde_json::to_value(&run).unwrap();
        assert!(json.get("sat_out").is_none());
        run.sat_out.push(SatOut {
            site: "site-4".into(),
            reason: "fewer than 10 complete rows at this site".into(),
        });
        let json = serde_json::to_value(&run).unwrap();
        assert_eq!(json["sat_out"][0]["site"], "site-4");
        assert!(json.get("left").is_none());
        assert_eq!(serde_json::from_value::<RunInfo>(json).unwrap(), run);
    }

    #[test]
    fn run_info_names_a_site_that_left_with_round_step_and_time() {
        let mut run: RunInfo = serde_json::from_value(
            serde_json::json!({"sites": 3, "rows": 300, "events": 120, "rounds": 2}),
        )
        .unwrap();
        run.left.push(SiteLeft {
            site: "site-4".into(),
            round: 0,
            step: "mask".into(),
            at: "2026-12-03T20:00:00Z".parse().unwrap(),
            reason: "no answer before the step timeout".into(),
        });
        let json = serde_json::to_value(&run).unwrap();
        assert_eq!(json["left"][0]["site"], "site-4");
        assert_eq!(json["left"][0]["at"], "2026-12-03T20:00:00Z");
        assert_eq!(serde_json::from_value::<RunInfo>(json).unwrap(), run);
    }
}
