//! Fine–Gray subdistribution hazards regression, federated and exact to R
//! `cmprsk::crr` on the pooled rows (coefficients and its sandwich variance).
//!
//! **Model** (Fine & Gray 1999). For the cause of interest, the subdistribution
//! hazard is `λ₁(t) exp(xβ)`. A row that had a *competing* event stays in the
//! risk set after its event, weighted by `G(t−)/G(t_i−)`, where G is the
//! Kaplan–Meier estimate of the censoring distribution (censorings are the
//! "events", failures of either cause censor it), taken just before each time as
//! crr does. With r = exp(xβ), at a time t_j with d_j events of interest,
//!
//! ```text
//! w_i(t_j) = r_i                      if t_i ≥ t_j
//!          = r_i · G(t_j−)/G(t_i−)    if row i is competing and t_i < t_j
//!          = 0                        otherwise
//! S0_j = Σ_i w_i(t_j),  S1_j = Σ_i w_i(t_j) x_i,  S2_j = Σ_i w_i(t_j) x_i x_iᵀ
//! log L = Σ_events x_iβ − Σ_j d_j log S0_j        (Breslow ties, as crr)
//! ```
//!
//! **Ties, as crr handles them** (its Fortran `crrfsv`, `crrvv`): tied events of
//! interest share one risk set (Breslow); rows censored or with a competing event
//! *at* t_j are in the risk set at t_j with full weight (time ≥ t_j); G is
//! evaluated at `t·(1 − 100ε)`, i.e. `G(t−)`, so censorings at t do not lower the
//! weights used at t. Every crr iteration starts at β = 0 as ours.
//!
//! **Protocol.**
//! 1. Grid round: sites send their distinct exit times ([`finegray_times`], any
//!    status); the hub merges them ([`merge_times`](crate::merge_times)). With
//!    binned times these are the bin ends.
//! 2. Counts round: sites send [`cif_site_counts`](crate::cif_site_counts) on that
//!    grid (at risk, events of both causes); the hub sums them and builds the
//!    [`FineGrayGrid`] (`G(t_j−)` from the censorings
//!    `c_j = n_j − d1_j − d2_j − n_{j+1}`, [`FineGrayGrid::from_counts`]).
//! 3. Newton: the hub sends β and the grid (times and the G values); each site
//!    returns [`finegray_site_sums`] — a [`CoxSiteSums`] (Breslow) with the
//!    weighted S0, S1, S2 per grid time and the event-side sums; the hub iterates
//!    with [`fit_fine_gray`] (the Cox hub loop: the combination is the same).
//! 4. Variance: at the final β each site sends [`finegray_site_sums`] and
//!    [`finegray_residual_gram`]; the hub calls [`finegray_variance`].
//!
//! **What the sites learn**: the grid times and `G(t_j−)` — the pooled censoring
//! Kaplan–Meier curve, a function of pooled counts over (bin, status) cells of
//! ≥ k rows, not of any single row. This is a disclosure to every site (they see
//! the pooled censoring pattern) that the protocol accepts; nothing else pooled
//! (no x̄(t), hazards or residual coefficients) is sent to sites.
//! **What the hub learns**: the summed [`CoxSiteSums`] (sums over weighted risk
//! sets, event counts and Σx over events) per iteration, and the summed Gram
//! vector of the variance round (sums over the rows of one (bin, status) cell;
//! see [`ResidualGram`](crate::ResidualGram)).
//!
//! **Measured against R** (`tests/finegray_peer.rs`; R 4.2.2, cmprsk 2.2-11;
//! 600 synthetic rows, 3 covariates, 30-day bins: 23 times, 257 events of
//! interest, 184 competing, 3 sites; largest relative difference, matrices
//! relative to √(|R_ii R_jj|); asserted ≤ 1e-8 against crr with `gtol = 1e-13`):
//!
//! | crr run | coef | `var` (sandwich) | `invinf` | loglik |
//! |---|---|---|---|---|
//! | `gtol = 1e-13` (at the maximum) | 3.1e-12 | 1.2e-13 | 7.2e-14 | 3.0e-16 |
//! | default `gtol = 1e-6` (stops short) | 1.6e-5 | 6.3e-7 | 3.8e-7 | 9.2e-13 |
//!
//! The second row is crr's own distance from the maximum, not ours: its default
//! stopping rule leaves the score at up to 1e-6·|log L|.
//!
//! Not covered: crr's time-varying covariates (`cov2`, `tf`) and censoring
//! groups (`cengroup`), case weights.

mod variance;

use serde::{Deserialize, Serialize};

pub use variance::{FineGrayVariance, finegray_residual_gram, finegray_variance};

use crate::cif::{CifCounts, CompetingStatus};
use crate::cox::{CoxFit, CoxSiteSums, Ties, fit_cox};
use crate::error::{StatsError, check_len};
use crate::km::merge_times;
use crate::newton::NewtonOptions;

/// One person's competing-risks record with covariates, at a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FineGrayRow {
    /// Follow-up time (the end of its time bin), on the hub's grid.
    pub time: f64,
    /// How follow-up ended: censored, event of interest, competing event.
    pub status: CompetingStatus,
    /// Covariate values, in the order of the coefficients.
    pub covariates: Vec<f64>,
}

/// The hub's grid for Fine–Gray: every distinct exit time (any status) and the
/// censoring survival `G(t_j−)` just before each, the only pooled quantity the
/// sites receive (besides β).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FineGrayGrid {
    /// Sorted distinct exit times; every row's time must be one of them.
    pub times: Vec<f64>,
    /// `G(t_j−)`: Kaplan–Meier of censoring just before `times[j]` (1 at the first).
    pub censoring_survival: Vec<f64>,
}

/// The censorings per grid time, `c_j = n_j − d1_j − d2_j − n_{j+1}`, from counts
/// on a grid that holds every exit time. Fails if the counts are inconsistent.
pub(crate) fn censorings(counts: &CifCounts) -> Result<Vec<u64>, StatsError> {
    let t = counts.at_risk.len();
    check_len("cif counts: grid points", t, counts.events.len())?;
    check_len("cif counts: grid points", t, counts.competing.len())?;
    (0..t)
        .map(|j| {
            let next = if j + 1 < t { counts.at_risk[j + 1] } else { 0 };
            counts
                .at_risk[j]
                .checked_sub(counts.events[j] + counts.competing[j] + next)
                .ok_or(StatsError::Mismatch {
                    what: "cif counts: exits exceed the rows at risk (is every exit time on the grid?)",
                })
        })
        .collect()
}

impl FineGrayGrid {
    /// Hub side: the grid from the summed [`CifCounts`] on `times`, a grid of all
    /// exit times (so that the drop in the at-risk count between two grid times
    /// is the exits at the first). `G(t_j−) = Π_{j' < j} (1 − c_{j'}/n_{j'})`.
    pub fn from_counts(times: &[f64], counts: &CifCounts) -> Result<Self, StatsError> {
        check_len("fine-gray grid: times", times.len(), counts.at_risk.len())?;
        let c = censorings(counts)?;
        let mut g = 1.0;
        let mut censoring_survival = Vec::with_capacity(times.len());
        for (j, &cj) in c.iter().enumerate() {
            censoring_survival.push(g);
            if cj > 0 {
                g *= 1.0 - cj as f64 / counts.at_risk[j] as f64;
            }
        }
        Ok(Self {
            times: times.to_vec(),
            censoring_survival,
        })
    }

    /// Index of `time` on the grid, or [`StatsError::EventNotOnGrid`].
    pub(crate) fn position(&self, time: f64) -> Result<usize, StatsError> {
        let j = self.times.partition_point(|&t| t < time);
        if self.times.get(j) == Some(&time) {
            Ok(j)
        } else {
            Err(StatsError::EventNotOnGrid)
        }
    }
}

/// Site side of the grid round: this site's distinct exit times (any status),
/// sorted.
pub fn finegray_times(rows: &[FineGrayRow]) -> Result<Vec<f64>, StatsError> {
    if rows.iter().any(|r| !r.time.is_finite()) {
        return Err(StatsError::NonFinite { what: "time" });
    }
    Ok(merge_times(&[rows.iter().map(|r| r.time).collect()]))
}

/// Checks the rows and returns each row's grid index and linear predictor `xβ`.
pub(crate) fn locate(
    rows: &[FineGrayRow],
    grid: &FineGrayGrid,
    beta: &[f64],
) -> Result<Vec<(usize, f64)>, StatsError> {
    check_len(
        "fine-gray grid: censoring survival",
        grid.times.len(),
        grid.censoring_survival.len(),
    )?;
    rows.iter()
        .map(|row| {
            check_len("covariates", beta.len(), row.covariates.len())?;
            if row.covariates.iter().any(|v| !v.is_finite()) {
                return Err(StatsError::NonFinite { what: "covariate" });
            }
            let j = grid.position(row.time)?;
            Ok((j, row.covariates.iter().zip(beta).map(|(x, b)| x * b).sum()))
        })
        .collect()
}

fn add_row(s0: &mut f64, s1: &mut [f64], s2: &mut [f64], w: f64, x: &[f64]) {
    let p = x.len();
    *s0 += w;
    for a in 0..p {
        s1[a] += w * x[a];
        for b in 0..p {
            s2[a * p + b] += w * x[a] * x[b];
        }
    }
}

/// Site part, per Newton iteration: the weighted risk-set sums S0, S1, S2 at
/// every grid time and the event-side sums (events of interest per grid time,
/// Σ xβ and Σ x over them), as a Breslow [`CoxSiteSums`] on the grid's times.
/// Uses only the site's rows, β and the grid's G values. O(n p² + T p²).
pub fn finegray_site_sums(
    rows: &[FineGrayRow],
    grid: &FineGrayGrid,
    beta: &[f64],
) -> Result<CoxSiteSums, StatsError> {
    let p = beta.len();
    let t = grid.times.len();
    let located = locate(rows, grid, beta)?;
    let mut sums = CoxSiteSums::zeros(p, t, Ties::Breslow);
    // per grid time: rows exiting there (all statuses), and competing rows / G
    let (mut exit0, mut exit1, mut exit2) = (vec![0.0; t], vec![0.0; t * p], vec![0.0; t * p * p]);
    let (mut comp0, mut comp1, mut comp2) = (vec![0.0; t], vec![0.0; t * p], vec![0.0; t * p * p]);
    for (row, &(j, xb)) in rows.iter().zip(&located) {
        let (x, r) = (&row.covariates, xb.exp());
        add_row(
            &mut exit0[j],
            &mut exit1[j * p..(j + 1) * p],
            &mut exit2[j * p * p..(j + 1) * p * p],
            r,
            x,
        );
        match row.status {
            CompetingStatus::Event => {
                sums.events[j] += 1.0;
                sums.event_xb += xb;
                sums.event_x.iter_mut().zip(x).for_each(|(a, v)| *a += v);
            }
            CompetingStatus::Competing => {
                let w = r / grid.censoring_survival[j];
                add_row(
                    &mut comp0[j],
                    &mut comp1[j * p..(j + 1) * p],
                    &mut comp2[j * p * p..(j + 1) * p * p],
                    w,
                    x,
                );
            }
            CompetingStatus::Censored => {}
        }
    }
    // at risk (time ≥ t_j): a backward sweep; competing before t_j: a forward one
    let (mut a0, mut a1, mut a2) = (0.0, vec![0.0; p], vec![0.0; p * p]);
    for j in (0..t).rev() {
        a0 += exit0[j];
        a1.iter_mut()
            .zip(&exit1[j * p..])
            .for_each(|(a, v)| *a += v);
        a2.iter_mut()
            .zip(&exit2[j * p * p..])
            .for_each(|(a, v)| *a += v);
        sums.s0[j] = a0;
        sums.s1[j * p..(j + 1) * p].copy_from_slice(&a1);
        sums.s2[j * p * p..(j + 1) * p * p].copy_from_slice(&a2);
    }
    let (mut c0, mut c1, mut c2) = (0.0, vec![0.0; p], vec![0.0; p * p]);
    for j in 0..t {
        let g = grid.censoring_survival[j];
        sums.s0[j] += g * c0;
        let s1 = &mut sums.s1[j * p..(j + 1) * p];
        s1.iter_mut().zip(&c1).for_each(|(a, v)| *a += g * v);
        let s2 = &mut sums.s2[j * p * p..(j + 1) * p * p];
        s2.iter_mut().zip(&c2).for_each(|(a, v)| *a += g * v);
        c0 += comp0[j];
        c1.iter_mut()
            .zip(&comp1[j * p..])
            .for_each(|(a, v)| *a += v);
        c2.iter_mut()
            .zip(&comp2[j * p * p..])
            .for_each(|(a, v)| *a += v);
    }
    Ok(sums)
}

/// Hub part: Newton–Raphson from β = 0 on the summed [`finegray_site_sums`]
/// (the Breslow Cox combination of weighted sums is crr's log pseudo-likelihood,
/// score and information). `sites` is called once per evaluation with β. The
/// fit's `covariance` is the naive inverse information; crr reports the sandwich
/// of [`finegray_variance`].
pub fn fit_fine_gray(
    p: usize,
    options: NewtonOptions,
    sites: &mut dyn FnMut(&[f64]) -> Vec<CoxSiteSums>,
) -> Result<CoxFit, StatsError> {
    let mut tie_mismatch = false;
    let fit = fit_cox(p, options, &mut |beta| {
        let all = sites(beta);
        tie_mismatch |= all.iter().any(|s| s.ties != Ties::Breslow);
        all
    });
    if tie_mismatch {
        return Err(StatsError::Mismatch {
            what: "tie handling (fine-gray sums are breslow)",
        });
    }
    fit
}

#[cfg(test)]
mod tests;
