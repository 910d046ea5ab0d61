//! Gray's (1988) k-sample test for cumulative incidence, as R's
//! `cmprsk::cuminc(ftime, fstatus, group)$Tests` reports it (ρ = 0, one stratum).
//!
//! Without covariates the test is a function of the per-group counts at each
//! grid time — rows at risk, events of the cause tested, events of the other
//! causes — so the hub computes it from the pooled [`CifCounts`] of each group,
//! as it does the log-rank test from Kaplan–Meier counts, and the federated
//! statistic equals the pooled one. Tested against cuminc in `tests/cif_peer.rs`:
//! on 600 rows in three groups split over three sites, χ² and p of both causes
//! within 5e-14 relative of cuminc's `Tests` (table there); on a small tied
//! example in the unit tests below, within 1e-13.
//!
//! Reference: R. J. Gray (1988), *A class of K-sample tests for comparing the
//! cumulative incidence of a competing risk*, Annals of Statistics 16, 1141–1154;
//! the estimator reproduced here is the one of cmprsk's Fortran routine `crst`
//! (cmprsk 2.2-11), including its tie corrections, which the paper does not give.

use serde::{Deserialize, Serialize};

use super::CifCounts;
use crate::error::{StatsError, check_len};
use crate::linalg::Cholesky;
use crate::special::chi2_sf;

/// Gray's test between groups for one cause, as a row of cuminc's `Tests`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrayTest {
    /// Test statistic `uᵀ V⁻¹ u` (cuminc's `stat`), chi-square with `df` degrees
    /// of freedom under H0 (equal cumulative incidence of the cause in all groups).
    pub chi2: f64,
    /// Degrees of freedom: the groups with anyone at risk, minus one (cuminc's `df`).
    pub df: usize,
    /// Upper-tail chi-square p-value (cuminc's `pv`).
    pub p_value: f64,
}

/// Gray's test for the cause of interest (`events`) between `groups`, each the
/// summed [`CifCounts`] of one group on one shared grid (every event time of
/// any group on it). Events of the other cause (`competing`) enter through
/// the survival and the variance.
///
/// # The statistic (ρ = 0)
///
/// At each grid time t with events, for group g with nₘ = `at_risk` > 0,
/// d₁ₘ, d₂ₘ its events of the tested and the other cause, Sₘ(t−) its all-cause
/// Kaplan–Meier and F₁ₘ(t−) its cumulative incidence just before t (the
/// Aalen–Johansen estimate of [`aalen_johansen`](crate::aalen_johansen)), and
/// d₁ = Σₘ d₁ₘ:
///
/// ```text
/// hₘ = nₘ / Sₘ(t−)            H = Σₘ hₘ            Q = Σₘ hₘ (1 − F₁ₘ(t−))
/// F(t) = F(t−) + d₁ / H        (the pooled cumulative incidence under H0)
/// uₘ  = Σₜ [ d₁ₘ − d₁ · hₘ (1 − F₁ₘ(t−)) / Q ]          (the score of group g)
/// ```
///
/// Gray's weight is the subdistribution risk set Rₘ = hₘ(1 − F₁ₘ(t−)); the
/// scores sum to 0 over the groups, so the last is dropped and
/// χ² = uᵀ V⁻¹ u with the first k − 1 scores (the choice does not change χ²).
///
/// V is Gray's estimate of their covariance. With aᵢₘ(t) = hᵢ(δᵢₘ − hₘ/H) and
/// cᵢₘ(t) = Σ_{s ≤ t} aᵢₘ(s) · d₁(s) / (H(s)(1 − F(s−))), C = c at the last
/// time, and Sₘ(t) the group's survival just after t:
///
/// ```text
/// V_ij = Σₘ Σₜ w · bᵢ bⱼ
///   for the tested cause at t (d₁ > 0, nₘ > 0):
///     w = τ · Sₘ(t−) d₁ / (H nₘ),   τ = 1 − (d₁ − 1)/(H Sₘ(t−) − 1) if d₁ > 1, else 1
///     bᵢ = aᵢₘ(t) + r (Cᵢₘ − cᵢₘ(t)),   r = 1 − (1 − F(t)) / Sₘ(t)  (r = 1 if Sₘ(t) = 0)
///   for the other cause at t (d₂ₘ > 0, Sₘ(t) > 0):
///     w = τ · Sₘ(t−)² d₂ₘ / nₘ²,     τ = 1 − (d₂ₘ − 1)/(nₘ − 1) if d₂ₘ > 1, else 1
///     bᵢ = r (Cᵢₘ − cᵢₘ(t)),          r = (1 − F(t)) / Sₘ(t)
/// ```
///
/// **Ties**: all events at a grid time count as tied. The tested cause's events
/// are spread over the groups under H0 with a hypergeometric-like factor τ on
/// the pooled "pseudo risk set" H·Sₘ(t−); the other cause's ties use the
/// group's own risk set — both as cmprsk's `crst`, which the variance of
/// [`aalen_johansen`](crate::aalen_johansen) also follows. As in cmprsk, V is
/// expanded into running sums (one pass over the grid, C entering at the end).
///
/// Groups in which nobody is at risk at any grid time carry no information and
/// are left out (cuminc drops group levels without rows); `df` counts the rest.
/// Fails with [`StatsError::Empty`] if fewer than two groups remain, with
/// [`StatsError::SingularAt`] if V is singular (e.g. no events of the cause at
/// all; cuminc then reports `stat = -1`), and on counts of different lengths or
/// with more events than rows at risk.
pub fn gray_test(groups: &[CifCounts]) -> Result<GrayTest, StatsError> {
    let kept: Vec<&CifCounts> = check(groups)?;
    let tested: Vec<(&[u64], &[u64], &[u64])> = kept
        .iter()
        .map(|c| (&c.at_risk[..], &c.events[..], &c.competing[..]))
        .collect();
    gray(&tested)
}

/// Gray's test for the competing cause: [`gray_test`] with the causes swapped,
/// the second row of cuminc's `Tests` (its `fstatus` code 2). Free with the
/// same counts, so the hub releases both.
pub fn gray_test_competing(groups: &[CifCounts]) -> Result<GrayTest, StatsError> {
    let kept: Vec<&CifCounts> = check(groups)?;
    let tested: Vec<(&[u64], &[u64], &[u64])> = kept
        .iter()
        .map(|c| (&c.at_risk[..], &c.competing[..], &c.events[..]))
        .collect();
    gray(&tested)
}

/// The groups with anyone at risk, after checking lengths and counts.
fn check(groups: &[CifCounts]) -> Result<Vec<&CifCounts>, StatsError> {
    let what = "gray test: grid points";
    let t = groups.first().map_or(0, |g| g.at_risk.len());
    for g in groups {
        check_len(what, t, g.at_risk.len())?;
        check_len(what, t, g.events.len())?;
        check_len(what, t, g.competing.len())?;
        if (0..t).any(|j| g.events[j] + g.competing[j] > g.at_risk[j]) {
            return Err(StatsError::Mismatch {
                what: "cif counts: events exceed the rows at risk",
            });
        }
    }
    let kept: Vec<&CifCounts> = groups
        .iter()
        .filter(|g| g.at_risk.iter().any(|&n| n > 0))
        .collect();
    if kept.len() < 2 {
        return Err(StatsError::Empty {
            what: "gray test needs at least two groups with rows at risk",
        });
    }
    Ok(kept)
}

/// The score and Gray's covariance in one pass, then χ².
/// `groups[g]` = (at risk, events of the tested cause, events of the other).
fn gray(groups: &[(&[u64], &[u64], &[u64])]) -> Result<GrayTest, StatsError> {
    let k = groups.len();
    let m = k - 1;
    let t = groups[0].0.len();
    // per group: S(t−), F₁(t−); after the time: S(t)
    let (mut s_before, mut f_before) = (vec![1.0_f64; k], vec![0.0_f64; k]);
    let mut s_after = vec![1.0_f64; k];
    // the pooled F(t−) under H0
    let mut pooled = 0.0_f64;
    let mut score = vec![0.0_f64; k];
    // c (k × k, row-major: cᵢₘ at i * k + m), and the running sums of the
    // expansion: Σ w r² per group, Σ w r (a − r c) per (i, group), Σ w (a − r c)(a − r c)ᵀ
    let mut c = vec![0.0_f64; k * k];
    let mut sum_rr = vec![0.0_f64; k];
    let mut sum_rb = vec![0.0_f64; k * k];
    let mut v = vec![0.0_f64; k * k];
    let mut a = vec![0.0_f64; k * k];
    let mut h = vec![0.0_f64; k];
    for j in 0..t {
        let d1: u64 = groups.iter().map(|g| g.1[j]).sum();
        let d2: u64 = groups.iter().map(|g| g.2[j]).sum();
        if d1 + d2 == 0 {
            continue;
        }
        let (mut big_h, mut q) = (0.0_f64, 0.0_f64);
        for (g, &(n, e1, e2)) in groups.iter().enumerate() {
            h[g] = 0.0;
            if n[j] == 0 {
                continue;
            }
            if s_before[g] <= 0.0 {
                return Err(StatsError::Mismatch {
                    what: "cif counts: rows at risk after every row of a group had an event",
                });
            }
            let nf = n[j] as f64;
            s_after[g] = s_before[g] * (nf - (e1[j] + e2[j]) as f64) / nf;
            h[g] = nf / s_before[g];
            big_h += h[g];
            q += h[g] * (1.0 - f_before[g]);
        }
        let d1f = d1 as f64;
        let pooled_after = pooled + d1f / big_h;
        for i in 0..k {
            for l in 0..k {
                a[i * k + l] = if i == l {
                    h[i] * (1.0 - h[i] / big_h)
                } else {
                    -h[i] * h[l] / big_h
                };
            }
        }
        if d1 > 0 {
            let grow = d1f / (big_h * (1.0 - pooled));
            c.iter_mut().zip(&a).for_each(|(c, a)| *c += a * grow);
            for g in 0..k {
                if h[g] > 0.0 {
                    score[g] += groups[g].1[j] as f64 - d1f * h[g] * (1.0 - f_before[g]) / q;
                }
            }
            for (g, &(n, _, _)) in groups.iter().enumerate() {
                if n[j] == 0 {
                    continue;
                }
                let r = if s_after[g] > 0.0 {
                    1.0 - (1.0 - pooled_after) / s_after[g]
                } else {
                    1.0
                };
                let ties = if d1 > 1 {
                    1.0 - (d1f - 1.0) / (big_h * s_before[g] - 1.0)
                } else {
                    1.0
                };
                let w = ties * s_before[g] * d1f / (big_h * n[j] as f64);
                let b: Vec<f64> = (0..k).map(|i| a[i * k + g] - r * c[i * k + g]).collect();
                accumulate(&mut v, &mut sum_rb, &mut sum_rr, g, &b, r, w);
            }
        }
        for (g, &(n, _, e2)) in groups.iter().enumerate() {
            let d = e2[j];
            if d == 0 || s_after[g] <= 0.0 {
                continue;
            }
            let (nf, df) = (n[j] as f64, d as f64);
            let r = (1.0 - pooled_after) / s_after[g];
            let ties = if d > 1 {
                1.0 - (df - 1.0) / (nf - 1.0)
            } else {
                1.0
            };
            let w = ties * s_before[g] * s_before[g] * df / (nf * nf);
            let b: Vec<f64> = (0..k).map(|i| -r * c[i * k + g]).collect();
            accumulate(&mut v, &mut sum_rb, &mut sum_rr, g, &b, r, w);
        }
        // the time is done: after becomes before (groups not at risk keep theirs)
        pooled = pooled_after;
        for (g, &(n, e1, _)) in groups.iter().enumerate() {
            if n[j] > 0 {
                f_before[g] += s_before[g] * e1[j] as f64 / n[j] as f64;
                s_before[g] = s_after[g];
            }
        }
    }
    // the terms with the final C: Σₘ Cᵢₘ Cⱼₘ Σw r² + Cᵢₘ Σ w r bⱼ + Cⱼₘ Σ w r bᵢ
    for i in 0..m {
        for l in 0..=i {
            let extra: f64 = (0..k)
                .map(|g| {
                    c[i * k + g] * c[l * k + g] * sum_rr[g]
                        + c[i * k + g] * sum_rb[l * k + g]
                        + c[l * k + g] * sum_rb[i * k + g]
                })
                .sum();
            v[i * k + l] += extra;
            v[l * k + i] = v[i * k + l];
        }
    }
    let reduced: Vec<f64> = (0..m * m).map(|x| v[(x / m) * k + x % m]).collect();
    if reduced.iter().chain(&score).any(|x| !x.is_finite()) {
        return Err(StatsError::NonFinite {
            what: "gray test variance (a cumulative incidence of 1)",
        });
    }
    let u = &score[..m];
    let solved = Cholesky::new(&reduced, m)?.solve(u);
    let chi2: f64 = u.iter().zip(&solved).map(|(a, b)| a * b).sum();
    Ok(GrayTest {
        chi2,
        df: m,
        p_value: chi2_sf(chi2, m as f64),
    })
}

/// Adds one event term of group `g` to the running sums: `b` = a − r c (the
/// part known now), weight `w`, `r` the factor of the final C.
fn accumulate(
    v: &mut [f64],
    sum_rb: &mut [f64],
    sum_rr: &mut [f64],
    g: usize,
    b: &[f64],
    r: f64,
    w: f64,
) {
    let k = b.len();
    sum_rr[g] += w * r * r;
    for i in 0..k {
        sum_rb[i * k + g] += w * r * b[i];
        for l in 0..=i {
            v[i * k + l] += w * b[i] * b[l];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cif::{CompetingRow, CompetingStatus, cif_event_times, cif_site_counts};
    use crate::km::merge_times;

    /// Three groups of eight (time, cause) rows, ties within and across causes
    /// and groups, and their counts on the pooled grid.
    fn hand_groups(groups: usize) -> Vec<CifCounts> {
        let data: [[(u8, u8); 8]; 3] = [
            [
                (1, 1),
                (2, 2),
                (3, 1),
                (3, 1),
                (4, 0),
                (5, 1),
                (6, 2),
                (7, 1),
            ],
            [
                (1, 2),
                (2, 1),
                (3, 1),
                (3, 2),
                (5, 0),
                (6, 1),
                (8, 0),
                (9, 2),
            ],
            [
                (2, 1),
                (3, 0),
                (4, 2),
                (4, 2),
                (5, 1),
                (7, 0),
                (8, 1),
                (9, 1),
            ],
        ];
        let rows: Vec<Vec<CompetingRow>> = data[..groups]
            .iter()
            .map(|g| {
                g.iter()
                    .map(|&(t, c)| CompetingRow {
                        time: f64::from(t),
                        status: match c {
                            0 => CompetingStatus::Censored,
                            1 => CompetingStatus::Event,
                            _ => CompetingStatus::Competing,
                        },
                    })
                    .collect()
            })
            .collect();
        let lists: Vec<Vec<f64>> = rows.iter().map(|g| cif_event_times(g).unwrap()).collect();
        let grid = merge_times(&lists);
        rows.iter()
            .map(|g| cif_site_counts(g, &grid).unwrap())
            .collect()
    }

    fn close(ours: f64, r: f64, what: &str) {
        assert!(
            (ours - r).abs() <= 1e-13 * r.abs(),
            "{what}: {ours:e} vs R {r:e}"
        );
    }

    #[test]
    fn matches_cmprsk_cuminc_on_a_small_tied_example() {
        // cuminc(t, s, g)$Tests, R 4.2.2, cmprsk 2.2-11 (data as in hand_groups)
        let three = hand_groups(3);
        let (one, two) = (
            gray_test(&three).unwrap(),
            gray_test_competing(&three).unwrap(),
        );
        close(one.chi2, 2.406_994_875_740_675_6, "3 groups, cause 1 stat");
        close(one.p_value, 0.300_142_643_838_041_23, "3 groups, cause 1 p");
        close(two.chi2, 0.375_618_245_659_458, "3 groups, cause 2 stat");
        close(two.p_value, 0.828_772_885_959_115_7, "3 groups, cause 2 p");
        assert_eq!((one.df, two.df), (2, 2));
        // the first two groups alone (their own, shorter grid)
        let pair = hand_groups(2);
        let (one, two) = (
            gray_test(&pair).unwrap(),
            gray_test_competing(&pair).unwrap(),
        );
        close(one.chi2, 0.980_304_038_632_37, "2 groups, cause 1 stat");
        close(one.p_value, 0.322_123_755_451_307_67, "2 groups, cause 1 p");
        close(
            two.chi2,
            0.005_137_816_771_112_206,
            "2 groups, cause 2 stat",
        );
        close(two.p_value, 0.942_857_714_424_654_6, "2 groups, cause 2 p");
        assert_eq!(one.df, 1);
    }

    #[test]
    fn group_order_and_empty_groups_do_not_change_the_test() {
        let three = hand_groups(3);
        let base = gray_test(&three).unwrap();
        // which score is dropped does not matter: any order gives the same χ²
        let reordered = [three[2].clone(), three[0].clone(), three[1].clone()];
        let moved = gray_test(&reordered).unwrap();
        assert!((moved.chi2 - base.chi2).abs() < 1e-12 * base.chi2);
        // a group nobody is at risk in is left out, as cuminc drops empty levels
        let mut padded = three.clone();
        padded.insert(1, CifCounts::zeros(three[0].at_risk.len()));
        assert_eq!(gray_test(&padded).unwrap(), base);
        // identical groups: every score is 0
        let same = gray_test(&[three[0].clone(), three[0].clone()]).unwrap();
        assert!(same.chi2.abs() < 1e-14 && (same.p_value - 1.0).abs() < 1e-12);
    }

    #[test]
    fn refuses_what_it_cannot_test() {
        let three = hand_groups(3);
        assert!(matches!(
            gray_test(&three[..1]),
            Err(StatsError::Empty { .. })
        ));
        assert!(matches!(
            gray_test(&[three[0].clone(), CifCounts::zeros(3)]),
            Err(StatsError::Dimension { .. })
        ));
        // no events of the tested cause anywhere: V = 0 (cuminc: stat −1)
        let no_cause: Vec<CifCounts> = three
            .iter()
            .map(|c| CifCounts {
                events: vec![0; c.events.len()],
                ..c.clone()
            })
            .collect();
        assert!(matches!(
            gray_test(&no_cause),
            Err(StatsError::SingularAt { .. })
        ));
        let mut bad = three.clone();
        bad[1].events[0] = bad[1].at_risk[0] + 1;
        assert!(matches!(gray_test(&bad), Err(StatsError::Mismatch { .. })));
    }
}
