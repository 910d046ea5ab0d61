//! Kaplan–Meier estimation and the log-rank test from per-site counts.
//!
//! A site reports, on the hub's time grid, how many of its rows are at risk
//! (time ≥ t) and how many events fall at each grid time ([`km_site_counts`]).
//! Counts add across sites, and the estimator, Greenwood's variance, the
//! confidence band and the log-rank statistic are functions of the summed
//! counts only, so the federated result equals the pooled one exactly.
//!
//! With the exact grid (all distinct event times) the hub learns every event
//! time; a coarser grid (events binned to interval ends) is the next step and
//! changes the estimate to a grouped-time one.

use serde::{Deserialize, Serialize};

use crate::error::{StatsError, check_len};
use crate::linalg::Cholesky;
use crate::special::{Z_975, chi2_sf};

/// One person's follow-up for Kaplan–Meier and the log-rank test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimeEvent {
    /// Follow-up time.
    pub time: f64,
    /// `true` if the event was observed at `time`, `false` if censored there.
    pub event: bool,
}

/// The distinct event times of a site's rows, sorted (site side of the grid
/// round; the hub merges them with [`merge_times`]).
pub fn event_times(rows: &[TimeEvent]) -> Result<Vec<f64>, StatsError> {
    if rows.iter().any(|r| !r.time.is_finite()) {
        return Err(StatsError::NonFinite { what: "time" });
    }
    Ok(merge_times(&[rows
        .iter()
        .filter(|r| r.event)
        .map(|r| r.time)
        .collect()]))
}

/// The sorted union of time lists: the hub's grid.
pub fn merge_times(lists: &[Vec<f64>]) -> Vec<f64> {
    let mut all: Vec<f64> = lists.iter().flatten().copied().collect();
    all.sort_by(f64::total_cmp);
    all.dedup();
    all
}

/// Counts on a time grid; additive across sites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmCounts {
    /// Rows with time ≥ the grid time.
    pub at_risk: Vec<u64>,
    /// Events at the grid time.
    pub events: Vec<u64>,
}

impl KmCounts {
    /// Adds another site's counts on the same grid.
    pub fn add(&mut self, other: &KmCounts) -> Result<(), StatsError> {
        check_len(
            "km counts: grid points",
            self.at_risk.len(),
            other.at_risk.len(),
        )?;
        check_len(
            "km counts: grid points",
            self.events.len(),
            other.events.len(),
        )?;
        self.at_risk
            .iter_mut()
            .zip(&other.at_risk)
            .for_each(|(a, b)| *a += b);
        self.events
            .iter_mut()
            .zip(&other.events)
            .for_each(|(a, b)| *a += b);
        Ok(())
    }
}

/// Site part: at-risk and event counts of `rows` on the sorted `grid`. Fails if
/// an event time is not on the grid (the estimate would silently change).
pub fn km_site_counts(rows: &[TimeEvent], grid: &[f64]) -> Result<KmCounts, StatsError> {
    let mut counts = KmCounts {
        at_risk: vec![0; grid.len()],
        events: vec![0; grid.len()],
    };
    // last_at[u] = rows at risk at exactly the grid points 0..u; suffix sums give n(t)
    let mut last_at = vec![0u64; grid.len() + 1];
    for row in rows {
        if !row.time.is_finite() {
            return Err(StatsError::NonFinite { what: "time" });
        }
        // grid points t ≤ row.time: this row is at risk there
        let upto = grid.partition_point(|&t| t <= row.time);
        last_at[upto] += 1;
        if row.event {
            match grid.get(upto.wrapping_sub(1)) {
                Some(&t) if t == row.time => counts.events[upto - 1] += 1,
                _ => return Err(StatsError::EventNotOnGrid),
            }
        }
    }
    let mut running = 0;
    for j in (0..grid.len()).rev() {
        running += last_at[j + 1];
        counts.at_risk[j] = running;
    }
    Ok(counts)
}

/// Site part with delayed entry (left truncation): as [`km_site_counts`], but
/// row `i` is at risk at grid time t only when `entries[i] < t ≤ time` (R's
/// counting-process convention `Surv(entry, time, event)`), so a patient
/// counts in the risk sets only once under observation. The counts stay
/// additive across sites; the estimator is unchanged.
pub fn km_site_counts_entered(
    rows: &[TimeEvent],
    entries: &[f64],
    grid: &[f64],
) -> Result<KmCounts, StatsError> {
    check_len("entries", rows.len(), entries.len())?;
    let mut counts = km_site_counts(rows, grid)?;
    // rows not yet entered at t: entry ≥ t, i.e. grid points t ≤ entry
    let mut not_yet = vec![0u64; grid.len() + 1];
    for (row, &entry) in rows.iter().zip(entries) {
        if !entry.is_finite() {
            return Err(StatsError::NonFinite { what: "entry" });
        }
        if entry >= row.time {
            return Err(StatsError::EntryAfterExit);
        }
        not_yet[grid.partition_point(|&t| t <= entry)] += 1;
    }
    let mut running = 0;
    for j in (0..grid.len()).rev() {
        running += not_yet[j + 1];
        counts.at_risk[j] -= running;
    }
    Ok(counts)
}

/// The Kaplan–Meier estimate on the grid, with lifelines' conventions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KmEstimate {
    /// Grid times.
    pub times: Vec<f64>,
    /// Summed at-risk counts.
    pub at_risk: Vec<u64>,
    /// Summed event counts.
    pub events: Vec<u64>,
    /// S(t) just after each grid time, computed as `exp Σ [ln(n−d) − ln n]` as
    /// lifelines does (so medians compare bit-for-bit at S = 0.5 boundaries).
    pub survival: Vec<f64>,
    /// Greenwood's variance of S(t): `S² Σ d / (n (n − d))` (terms with n = d are
    /// 0, as in lifelines).
    pub variance: Vec<f64>,
    /// Lower 95 % bound, log(−log) ("exponential Greenwood") transform, lifelines' default.
    pub ci_lower: Vec<f64>,
    /// Upper 95 % bound, same transform.
    pub ci_upper: Vec<f64>,
    /// Median survival: the first time with S(t) ≤ 0.5; `None` if never reached.
    pub median: Option<f64>,
    /// Median of the lower band (lower end of the median's 95 % CI), lifelines' convention.
    pub median_ci_lower: Option<f64>,
    /// Median of the upper band (upper end of the median's 95 % CI); `None` = not reached.
    pub median_ci_upper: Option<f64>,
}

fn first_at_or_below(times: &[f64], values: &[f64], q: f64) -> Option<f64> {
    values.iter().position(|&v| v <= q).map(|i| times[i])
}

impl KmEstimate {
    /// S(t) for any t: the estimate at the last grid time ≤ t (1 before the first).
    pub fn survival_at(&self, t: f64) -> f64 {
        match self.times.partition_point(|&g| g <= t) {
            0 => 1.0,
            i => self.survival[i - 1],
        }
    }
}

/// Hub part: the Kaplan–Meier estimate from summed counts on `grid`.
pub fn kaplan_meier(grid: &[f64], counts: &KmCounts) -> Result<KmEstimate, StatsError> {
    check_len("km counts: grid points", grid.len(), counts.at_risk.len())?;
    check_len("km counts: grid points", grid.len(), counts.events.len())?;
    let t = grid.len();
    let (mut survival, mut variance) = (Vec::with_capacity(t), Vec::with_capacity(t));
    let (mut ci_lower, mut ci_upper) = (Vec::with_capacity(t), Vec::with_capacity(t));
    let (mut log_s, mut greenwood) = (0.0, 0.0);
    for (&n, &d) in counts.at_risk.iter().zip(&counts.events) {
        let (nf, df) = (n as f64, d as f64);
        if d > 0 {
            log_s += (nf - df).ln() - nf.ln();
            if n > d {
                greenwood += df / (nf * (nf - df));
            }
        }
        let s = log_s.exp();
        survival.push(s);
        variance.push(s * s * greenwood);
        // exp(−exp(ln(−ln S) ∓ z √V / ln S)); NaN (S = 1) becomes 1 as in lifelines
        let v = s.ln();
        let band = |sign: f64| {
            let b = (-(((-v).ln() + sign * Z_975 * greenwood.sqrt() / v).exp())).exp();
            if b.is_nan() { 1.0 } else { b }
        };
        ci_lower.push(band(-1.0));
        ci_upper.push(band(1.0));
    }
    Ok(KmEstimate {
        median: first_at_or_below(grid, &survival, 0.5),
        median_ci_lower: first_at_or_below(grid, &ci_lower, 0.5),
        median_ci_upper: first_at_or_below(grid, &ci_upper, 0.5),
        times: grid.to_vec(),
        at_risk: counts.at_risk.clone(),
        events: counts.events.clone(),
        survival,
        variance,
        ci_lower,
        ci_upper,
    })
}

/// Result of the k-group log-rank test (Mantel 1966; Peto & Peto 1972).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRankTest {
    /// Test statistic, chi-square with `df` degrees of freedom under H0.
    pub chi2: f64,
    /// Degrees of freedom, groups − 1.
    pub df: usize,
    /// Upper-tail p-value.
    pub p_value: f64,
    /// Observed events per group.
    pub observed: Vec<f64>,
    /// Expected events per group under equal hazards.
    pub expected: Vec<f64>,
}

/// Hub part of the log-rank test: `groups[g]` are the summed counts of group g
/// on one shared grid (each site calls [`km_site_counts`] once per group).
pub fn logrank_test(groups: &[KmCounts]) -> Result<LogRankTest, StatsError> {
    let k = groups.len();
    if k < 2 {
        return Err(StatsError::Empty {
            what: "log-rank needs at least two groups",
        });
    }
    let t = groups[0].at_risk.len();
    for g in groups {
        check_len("log-rank: grid points", t, g.at_risk.len())?;
        check_len("log-rank: grid points", t, g.events.len())?;
    }
    let (mut observed, mut expected) = (vec![0.0; k], vec![0.0; k]);
    let mut v = vec![0.0; k * k];
    for j in 0..t {
        let n: f64 = groups.iter().map(|g| g.at_risk[j] as f64).sum();
        let d: f64 = groups.iter().map(|g| g.events[j] as f64).sum();
        if d == 0.0 || n == 0.0 {
            continue;
        }
        let spread = if n > 1.0 {
            d * (n - d) / (n - 1.0)
        } else {
            0.0
        };
        for a in 0..k {
            let na = groups[a].at_risk[j] as f64 / n;
            observed[a] += groups[a].events[j] as f64;
            expected[a] += d * na;
            for b in 0..k {
                let nb = groups[b].at_risk[j] as f64 / n;
                v[a * k + b] += spread * na * (f64::from(u8::from(a == b)) - nb);
            }
        }
    }
    // drop the last group: the full covariance is singular
    let m = k - 1;
    let reduced: Vec<f64> = (0..m * m).map(|i| v[(i / m) * k + i % m]).collect();
    let diff: Vec<f64> = (0..m).map(|a| observed[a] - expected[a]).collect();
    let solved = Cholesky::new(&reduced, m)?.solve(&diff);
    let chi2: f64 = diff.iter().zip(&solved).map(|(a, b)| a * b).sum();
    Ok(LogRankTest {
        chi2,
        df: m,
        p_value: chi2_sf(chi2, m as f64),
        observed,
        expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn te(time: f64, event: bool) -> TimeEvent {
        TimeEvent { time, event }
    }

    #[test]
    fn matches_a_hand_computed_estimate() {
        // times 1+,2,2,3,4+,5: S(2)=1·(1−2/5)=0.6, S(3)=0.6·(1−1/3)=0.4, S(5)=0
        let rows = [
            te(1.0, false),
            te(2.0, true),
            te(2.0, true),
            te(3.0, true),
            te(4.0, false),
            te(5.0, true),
        ];
        let grid = event_times(&rows).unwrap();
        assert_eq!(grid, vec![2.0, 3.0, 5.0]);
        let counts = km_site_counts(&rows, &grid).unwrap();
        assert_eq!(counts.at_risk, vec![5, 3, 1]);
        let km = kaplan_meier(&grid, &counts).unwrap();
        assert!((km.survival[0] - 0.6).abs() < 1e-15 && (km.survival[1] - 0.4).abs() < 1e-15);
        assert_eq!(km.survival[2], 0.0);
        // Greenwood at t=2: 0.36 · 2/(5·3)
        assert!((km.variance[0] - 0.36 * 2.0 / 15.0).abs() < 1e-15);
        assert_eq!(km.median, Some(3.0));
        assert_eq!(km.survival_at(0.5), 1.0);
        assert!((km.survival_at(4.9) - 0.4).abs() < 1e-15);
        assert!(km.ci_lower[0] < 0.6 && km.ci_upper[0] > 0.6);
    }

    #[test]
    fn site_counts_add_up_to_pooled_counts() {
        let rows: Vec<TimeEvent> = (0..30)
            .map(|i| te(f64::from((i * 7) % 9), i % 3 != 1))
            .collect();
        let grid = event_times(&rows).unwrap();
        let mut total = KmCounts {
            at_risk: vec![0; grid.len()],
            events: vec![0; grid.len()],
        };
        for site in rows.chunks(7) {
            total.add(&km_site_counts(site, &grid).unwrap()).unwrap();
        }
        assert_eq!(total, km_site_counts(&rows, &grid).unwrap());
        assert_eq!(
            km_site_counts(&[te(0.5, true)], &grid).unwrap_err(),
            StatsError::EventNotOnGrid
        );
    }

    #[test]
    fn two_group_logrank_matches_the_textbook_formula() {
        let a = [te(1.0, true), te(3.0, true), te(4.0, false)];
        let b = [te(2.0, true), te(5.0, true), te(6.0, true)];
        let grid = merge_times(&[event_times(&a).unwrap(), event_times(&b).unwrap()]);
        let groups = [
            km_site_counts(&a, &grid).unwrap(),
            km_site_counts(&b, &grid).unwrap(),
        ];
        let test = logrank_test(&groups).unwrap();
        // by hand: times 1,2,3,5,6 with (n_a, n) = (3,6),(2,5),(2,4),(0,2),(0,1)
        let e_a = 0.5 + 0.4 + 0.5;
        let var = 0.25 + 0.24 + 0.25;
        assert!((test.expected[0] - e_a).abs() < 1e-15);
        assert!((test.chi2 - (2.0 - e_a).powi(2) / var).abs() < 1e-14);
        assert_eq!(test.df, 1);
    }
}
