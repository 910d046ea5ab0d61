//! Competing risks: the Aalen–Johansen cumulative incidence from per-site counts.
//!
//! With two (or more) kinds of event, one of interest and the others competing
//! with it, Kaplan–Meier on the cause of interest (competing events censored)
//! overstates its risk. The cumulative incidence function (CIF) is
//!
//! ```text
//! F₁(t) = Σ_{t_j ≤ t} S(t_j−) · d₁ⱼ / nⱼ
//! ```
//!
//! where S is the all-cause Kaplan–Meier estimate (both causes count as events),
//! nⱼ the rows with time ≥ tⱼ and d₁ⱼ the events of the cause of interest at tⱼ;
//! the competing cause's F₂ is the same with d₂ⱼ, and F₁ + F₂ + S = 1.
//!
//! A site reports, on the hub's grid of all event times (either cause), its
//! at-risk counts and its events of each cause ([`cif_site_counts`]). Counts add
//! across sites and [`aalen_johansen`] is a function of the sums only, so the
//! federated estimate equals the pooled one. Tested against R's
//! `cmprsk::cuminc` and lifelines' `AalenJohansenFitter` in `tests/cif_peer.rs`.
//!
//! Between groups, [`gray_test`] (and [`gray_test_competing`]) compare the
//! cumulative incidences with Gray's (1988) k-sample test, again from the
//! summed counts of each group only (submodule `gray`); [`cif_confidence_interval`]
//! gives the pointwise 95% interval of an estimate from its Gray variance.
//!
//! As for Kaplan–Meier, the exact grid reveals every distinct event time (and
//! per-site counts unless aggregated securely) to the hub.

use serde::{Deserialize, Serialize};

use crate::error::{StatsError, check_len};
use crate::km::{TimeEvent, km_site_counts, merge_times};
use crate::special::Z_975;

mod gray;

pub use gray::{GrayTest, gray_test, gray_test_competing};

/// How one person's follow-up ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CompetingStatus {
    /// Censored at the time (still event-free).
    Censored,
    /// The event of interest at the time.
    Event,
    /// A competing event at the time (it precludes the event of interest).
    Competing,
}

/// One person's follow-up for competing risks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CompetingRow {
    /// Follow-up time.
    pub time: f64,
    /// How the follow-up ended at `time`.
    pub status: CompetingStatus,
}

/// The distinct event times (either cause) of a site's rows, sorted: the site
/// side of the grid round; the hub merges the sites' lists with
/// [`merge_times`](crate::merge_times).
pub fn cif_event_times(rows: &[CompetingRow]) -> Result<Vec<f64>, StatsError> {
    if rows.iter().any(|r| !r.time.is_finite()) {
        return Err(StatsError::NonFinite { what: "time" });
    }
    Ok(merge_times(&[rows
        .iter()
        .filter(|r| r.status != CompetingStatus::Censored)
        .map(|r| r.time)
        .collect()]))
}

/// Pooled counts on a grid for competing risks; additive across sites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CifCounts {
    /// Rows with time ≥ the grid time.
    pub at_risk: Vec<u64>,
    /// Events of the cause of interest at the grid time.
    pub events: Vec<u64>,
    /// Competing events at the grid time.
    pub competing: Vec<u64>,
}

impl CifCounts {
    /// All-zero counts on a grid of `len` points (the hub's starting sum).
    pub fn zeros(len: usize) -> Self {
        Self {
            at_risk: vec![0; len],
            events: vec![0; len],
            competing: vec![0; len],
        }
    }

    /// Adds another site's counts on the same grid.
    pub fn add(&mut self, other: &CifCounts) -> Result<(), StatsError> {
        let what = "cif counts: grid points";
        check_len(what, self.at_risk.len(), other.at_risk.len())?;
        check_len(what, self.events.len(), other.events.len())?;
        check_len(what, self.competing.len(), other.competing.len())?;
        for (mine, theirs) in [
            (&mut self.at_risk, &other.at_risk),
            (&mut self.events, &other.events),
            (&mut self.competing, &other.competing),
        ] {
            mine.iter_mut().zip(theirs).for_each(|(a, b)| *a += b);
        }
        Ok(())
    }
}

/// Site part: at-risk counts and events of each cause of `rows` on the sorted
/// `grid`. Fails if an event time (either cause) is not on the grid.
pub fn cif_site_counts(rows: &[CompetingRow], grid: &[f64]) -> Result<CifCounts, StatsError> {
    let any_cause: Vec<TimeEvent> = rows
        .iter()
        .map(|r| TimeEvent {
            time: r.time,
            event: r.status != CompetingStatus::Censored,
        })
        .collect();
    // at risk, and the check that every event lies on the grid
    let km = km_site_counts(&any_cause, grid)?;
    let mut counts = CifCounts {
        at_risk: km.at_risk,
        events: vec![0; grid.len()],
        competing: vec![0; grid.len()],
    };
    for row in rows {
        // on the grid (checked above), so this is the index of row.time
        let at = || grid.partition_point(|&t| t < row.time);
        match row.status {
            CompetingStatus::Censored => {}
            CompetingStatus::Event => counts.events[at()] += 1,
            CompetingStatus::Competing => counts.competing[at()] += 1,
        }
    }
    Ok(counts)
}

/// The Aalen–Johansen estimate on the grid, with R `cmprsk::cuminc`'s variance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CifEstimate {
    /// Grid times.
    pub times: Vec<f64>,
    /// F₁(t) just after each grid time: cumulative incidence of the cause of interest.
    pub incidence: Vec<f64>,
    /// F₂(t): cumulative incidence of the competing cause.
    pub competing_incidence: Vec<f64>,
    /// Gray's (1988) variance estimate of F₁(t), the one `cmprsk::cuminc` reports as
    /// `var`: with S⁺ⱼ = S(tⱼ) (after tⱼ) and, for every event of a cause at tⱼ, the
    /// weight wⱼ = S(tⱼ−)² · (1 − (d−1)/(n−1)) · d / n² (d the events of that cause),
    /// V(t) = Σ_{tⱼ ≤ t} wⱼ · cⱼ(t)², with cⱼ(t) = 1 + (F₁(tⱼ) − F₁(t))/S⁺ⱼ for events
    /// of the cause of interest and (F₁(tⱼ) − F₁(t))/S⁺ⱼ for competing events
    /// (1/S⁺ⱼ taken as 0 when S⁺ⱼ = 0). Expanded, as cmprsk does, into three running
    /// sums and updated only at times with events of the cause of interest (at other
    /// times the new terms are 0). This is not lifelines' delta-method variance
    /// (Collett / SAS `LIFETEST`), which differs by O(1/n²).
    pub variance: Vec<f64>,
    /// Gray's variance of F₂(t), the same with the causes swapped (cuminc's `var` for
    /// the competing cause).
    pub competing_variance: Vec<f64>,
    /// All-cause Kaplan–Meier S(t) just after each grid time (product form, as cmprsk).
    pub survival: Vec<f64>,
    /// Summed at-risk counts.
    pub at_risk: Vec<u64>,
    /// Summed events of the cause of interest.
    pub events: Vec<u64>,
    /// Summed competing events.
    pub competing: Vec<u64>,
}

impl CifEstimate {
    /// F₁(t) for any t: the estimate at the last grid time ≤ t (0 before the first).
    pub fn incidence_at(&self, t: f64) -> f64 {
        match self.times.partition_point(|&g| g <= t) {
            0 => 0.0,
            i => self.incidence[i - 1],
        }
    }
}

/// Gray's three running sums for one cause's curve (cmprsk's v1, v2, v3).
#[derive(Default)]
struct GraySums {
    v1: f64,
    v2: f64,
    v3: f64,
    variance: f64,
}

impl GraySums {
    /// w = S(t−)² · (1 − (d−1)/(n−1)) · d / n², the weight of `d` events among `n`.
    fn weight(s_before: f64, d: u64, n: f64) -> f64 {
        let ties = if d > 1 {
            1.0 - (d as f64 - 1.0) / (n - 1.0)
        } else {
            1.0
        };
        s_before * s_before * ties * d as f64 / (n * n)
    }

    fn accumulate(&mut self, a: f64, b: f64, w: f64) {
        self.v1 += b * b * w;
        self.v2 += a * b * w;
        self.v3 += a * a * w;
    }

    /// One grid time: `own` events of this curve's cause, `other` events of the
    /// other cause, `f` this curve's incidence after the time.
    fn step(&mut self, own: u64, other: u64, n: f64, s_before: f64, s_after: f64, f: f64) {
        if other > 0 && s_after > 0.0 {
            let a = 1.0 / s_after;
            self.accumulate(a, f / s_after, Self::weight(s_before, other, n));
        }
        if own > 0 {
            let a = if s_after > 0.0 { 1.0 / s_after } else { 0.0 };
            self.accumulate(a, 1.0 + a * f, Self::weight(s_before, own, n));
            self.variance = self.v1 + f * f * self.v3 - 2.0 * f * self.v2;
        }
    }
}

/// Hub part: the Aalen–Johansen cumulative incidences of both causes and their
/// variances (Gray's, as R `cmprsk::cuminc`) from summed counts on `grid`. Grid
/// points with no events or nobody at risk leave every curve unchanged.
pub fn aalen_johansen(grid: &[f64], counts: &CifCounts) -> Result<CifEstimate, StatsError> {
    let what = "cif counts: grid points";
    check_len(what, grid.len(), counts.at_risk.len())?;
    check_len(what, grid.len(), counts.events.len())?;
    check_len(what, grid.len(), counts.competing.len())?;
    if (0..grid.len()).any(|j| counts.events[j] + counts.competing[j] > counts.at_risk[j]) {
        return Err(StatsError::Mismatch {
            what: "cif counts: events exceed the rows at risk",
        });
    }
    let len = grid.len();
    let mut incidence = Vec::with_capacity(len);
    let mut competing_incidence = Vec::with_capacity(len);
    let mut variance = Vec::with_capacity(len);
    let mut competing_variance = Vec::with_capacity(len);
    let mut survival = Vec::with_capacity(len);
    let (mut s, mut f1, mut f2) = (1.0_f64, 0.0_f64, 0.0_f64);
    let (mut gray1, mut gray2) = (GraySums::default(), GraySums::default());
    for j in 0..len {
        let (n, d1, d2) = (counts.at_risk[j], counts.events[j], counts.competing[j]);
        if n > 0 && d1 + d2 > 0 {
            let nf = n as f64;
            let s_after = s * (nf - (d1 + d2) as f64) / nf;
            if d1 > 0 {
                f1 += s * d1 as f64 / nf;
            }
            if d2 > 0 {
                f2 += s * d2 as f64 / nf;
            }
            gray1.step(d1, d2, nf, s, s_after, f1);
            gray2.step(d2, d1, nf, s, s_after, f2);
            s = s_after;
        }
        incidence.push(f1);
        competing_incidence.push(f2);
        variance.push(gray1.variance);
        competing_variance.push(gray2.variance);
        survival.push(s);
    }
    Ok(CifEstimate {
        times: grid.to_vec(),
        incidence,
        competing_incidence,
        variance,
        competing_variance,
        survival,
        at_risk: counts.at_risk.clone(),
        events: counts.events.clone(),
        competing: counts.competing.clone(),
    })
}

/// The pointwise 95% confidence interval `(lower, upper)` of a cumulative
/// incidence `f` with variance `variance` (Gray's, from [`aalen_johansen`]), on
/// the log(−log) scale:
///
/// ```text
/// lower = F^exp(−z·√V / (F·ln F)),   upper = F^exp(+z·√V / (F·ln F)),   z = Φ⁻¹(0.975)
/// ```
///
/// (F·ln F < 0, so the lower bound raises F to a power above 1.) This is the
/// delta-method interval for ln(−ln F) that tidycmprsk's `tidy()` of a cuminc fit
/// reports (after Pintilie 2006, *Competing Risks: A Practical Perspective*)
/// and the usual choice for `cmprsk` output: unlike F ± z·√V it stays inside
/// (0, 1) and is asymmetric near 0, where incidences of rare events sit. The
/// same transform as the Kaplan–Meier band in [`kaplan_meier`](crate::kaplan_meier),
/// there applied to S.
///
/// `None` where the transform is undefined: F = 0 (no event yet) or F = 1, or
/// an input that is not finite, F outside [0, 1] or V < 0.
pub fn cif_confidence_interval(f: f64, variance: f64) -> Option<(f64, f64)> {
    if !(f > 0.0 && f < 1.0 && variance >= 0.0 && variance.is_finite()) {
        return None;
    }
    let spread = Z_975 * variance.sqrt() / (f * f.ln());
    Some((f.powf((-spread).exp()), f.powf(spread.exp())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(time: f64, cause: u8) -> CompetingRow {
        let status = match cause {
            0 => CompetingStatus::Censored,
            1 => CompetingStatus::Event,
            _ => CompetingStatus::Competing,
        };
        CompetingRow { time, status }
    }

    /// 1:1, 2:2, 3:1, 3:2, 4:0, 5:1, 6:2 (time:cause, 0 = censored).
    fn hand_rows() -> Vec<CompetingRow> {
        [(1, 1), (2, 2), (3, 1), (3, 2), (4, 0), (5, 1), (6, 2)]
            .iter()
            .map(|&(t, c)| row(f64::from(t), c))
            .collect()
    }

    #[test]
    fn matches_a_hand_computed_estimate() {
        let rows = hand_rows();
        let grid = cif_event_times(&rows).unwrap();
        assert_eq!(grid, vec![1.0, 2.0, 3.0, 5.0, 6.0]);
        let counts = cif_site_counts(&rows, &grid).unwrap();
        assert_eq!(counts.at_risk, vec![7, 6, 5, 2, 1]);
        assert_eq!(counts.events, vec![1, 0, 1, 1, 0]);
        assert_eq!(counts.competing, vec![0, 1, 1, 0, 1]);
        let cif = aalen_johansen(&grid, &counts).unwrap();
        // S(t−)·d/n: 1·1/7; at 3: S(3−) = 5/7, 5/7·1/5; at 5: S(5−) = 3/7, 3/7·1/2
        let f1 = [1.0 / 7.0, 1.0 / 7.0, 2.0 / 7.0, 0.5, 0.5];
        let f2 = [0.0, 1.0 / 7.0, 2.0 / 7.0, 2.0 / 7.0, 0.5];
        let s = [6.0 / 7.0, 5.0 / 7.0, 3.0 / 7.0, 3.0 / 14.0, 0.0];
        for j in 0..5 {
            assert!((cif.incidence[j] - f1[j]).abs() < 1e-15, "F1 at {j}");
            assert!(
                (cif.competing_incidence[j] - f2[j]).abs() < 1e-15,
                "F2 at {j}"
            );
            assert!((cif.survival[j] - s[j]).abs() < 1e-15, "S at {j}");
            let total = cif.incidence[j] + cif.competing_incidence[j] + cif.survival[j];
            assert!((total - 1.0).abs() < 1e-15);
        }
        // Gray at t = 1: V = w·c² with w = 1²·1/7² and c = 1 + (F₁(1) − F₁(1))/S⁺ = 1
        assert!((cif.variance[0] - 1.0 / 49.0).abs() < 1e-16);
        // cmprsk::cuminc(c(1,2,3,3,4,5,6), c(1,2,1,2,0,1,2))$var (R 4.2.2, cmprsk 2.2-11)
        let r1 = [
            0.020_408_163_265_306_124,
            0.020_408_163_265_306_124,
            0.035_396_825_396_825_4,
            0.068_168_934_240_362_74,
            0.068_168_934_240_362_74,
        ];
        let r2 = [
            0.0,
            0.020_975_056_689_342_4,
            0.035_736_961_451_247_16,
            0.035_736_961_451_247_16,
            0.114_087_301_587_301_52,
        ];
        for j in 0..5 {
            assert!((cif.variance[j] - r1[j]).abs() < 1e-15, "V1 at {j}");
            assert!(
                (cif.competing_variance[j] - r2[j]).abs() < 1e-15,
                "V2 at {j}"
            );
        }
        assert_eq!(cif.incidence_at(0.5), 0.0);
        assert!((cif.incidence_at(4.0) - 2.0 / 7.0).abs() < 1e-15);
    }

    #[test]
    fn site_counts_add_up_to_pooled_counts() {
        let rows: Vec<CompetingRow> = (0..40)
            .map(|i| row(f64::from((i * 7) % 11), (i % 3) as u8))
            .collect();
        let grid = cif_event_times(&rows).unwrap();
        let mut total = CifCounts::zeros(grid.len());
        for site in rows.chunks(9) {
            let local = merge_times(&[cif_event_times(site).unwrap()]);
            assert!(local.iter().all(|t| grid.contains(t)));
            total.add(&cif_site_counts(site, &grid).unwrap()).unwrap();
        }
        assert_eq!(total, cif_site_counts(&rows, &grid).unwrap());
        assert_eq!(
            cif_site_counts(&[row(0.5, 2)], &grid).unwrap_err(),
            StatsError::EventNotOnGrid
        );
        assert!(matches!(
            total.add(&CifCounts::zeros(1)),
            Err(StatsError::Dimension { .. })
        ));
    }

    #[test]
    fn empty_points_and_bad_counts() {
        // a grid point nobody is at risk at, and one without events, change nothing
        let counts = CifCounts {
            at_risk: vec![4, 3, 0],
            events: vec![1, 0, 0],
            competing: vec![0, 0, 0],
        };
        let cif = aalen_johansen(&[1.0, 2.0, 3.0], &counts).unwrap();
        assert_eq!(cif.incidence, vec![0.25; 3]);
        assert_eq!(cif.variance[1], cif.variance[0]);
        assert_eq!(cif.variance[2], cif.variance[0]);
        let bad = CifCounts {
            at_risk: vec![1],
            events: vec![1],
            competing: vec![1],
        };
        assert!(matches!(
            aalen_johansen(&[1.0], &bad),
            Err(StatsError::Mismatch { .. })
        ));
        assert!(aalen_johansen(&[1.0, 2.0], &bad).is_err());
    }

    #[test]
    fn log_log_interval() {
        // R: f^exp(qnorm(0.025) * sqrt(v) / (f * log(f))) and with -qnorm, f = 0.25, v = 4e-4
        let (lower, upper) = cif_confidence_interval(0.25, 4e-4).unwrap();
        assert!((lower - 0.211_759_782_376_271_58).abs() < 1e-15, "{lower}");
        assert!((upper - 0.289_952_124_007_929_63).abs() < 1e-15, "{upper}");
        // inside (0, 1) even where F ± z·SE is not
        let (lower, upper) = cif_confidence_interval(0.02, 4e-4).unwrap();
        assert!(0.0 < lower && lower < 0.02 && 0.02 < upper && upper < 1.0);
        assert_eq!(cif_confidence_interval(0.3, 0.0), Some((0.3, 0.3)));
        for (f, v) in [
            (0.0, 0.0),
            (1.0, 0.01),
            (0.5, -1.0),
            (0.5, f64::NAN),
            (1.5, 0.1),
        ] {
            assert_eq!(cif_confidence_interval(f, v), None, "F {f}, V {v}");
        }
    }
}
