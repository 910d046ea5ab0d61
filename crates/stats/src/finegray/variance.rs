//! crr's sandwich variance of the Fine–Gray coefficients from per-cell Gram
//! matrices.
//!
//! **Formulas** (Fine & Gray 1999, §3, as crr's Fortran `crrvv` computes them):
//! `V = I⁻¹ D I⁻¹`, `D = Σ_i (η_i + ψ_i)(η_i + ψ_i)ᵀ`, I the information of the
//! weighted Breslow likelihood. On the grid (all exit times), with the pooled
//! sums at β: `h_j = d_j/S0_j`, `x̄_j = S1_j/S0_j`, `G_j = G(t_j−)`, `n_j` at risk,
//! `c_j` censorings,
//!
//! ```text
//! A_j = Σ_{j' ≤ j} h_{j'},              B_j = Σ_{j' ≤ j} h_{j'} x̄_{j'}
//! F0_j = Σ_{j' ≥ j} h_{j'} G_{j'},      F1_j = Σ_{j' ≥ j} h_{j'} G_{j'} x̄_{j'}
//! C0_j = Σ_{competing i, t_i < t_j} r_i / G(t_i−),   C1_j = the same with r_i x_i
//! η_i = δ1_i (x_i − x̄_j) − r_i x_i A_j + r_i B_j                       (row not competing, t_i = t_j)
//! η_i = −r_i x_i (A_j + F0_{j+1}/G_j) + r_i (B_j + F1_{j+1}/G_j)     (competing, t_i = t_j)
//! q_j = C1_j F0_j − C0_j F1_j     (crr's q(u) at u = t_j)
//! ψ_i = −Σ_{j' ≤ j} c_{j'} q_{j'}/n_{j'}² + δc_i q_j/n_j                (δc: censored)
//! ```
//!
//! η_i is the Breslow score residual with the weighted risk sets (a competing
//! row is charged the hazard of every later event time, with weight
//! `G_{j'}/G_j`); ψ_i, the correction for estimating G, does not depend on row
//! i's covariates at all — only on its time and whether it is censored — so it
//! enters the cell's constant coefficient. Hence `η_i + ψ_i = a·x + b·r·x + c + r·e`
//! per (time, status) cell, and the Gram construction applies: cell
//! `3·j + status` (0 censored, 1 event of interest, 2 competing) on the
//! [`FineGrayGrid`]; the site vector has `T · 3 · q(q+1)/2` values, q = 2p + 2.
//! The hub takes C0 and C1 from the competing cells of the pooled Gram vector
//! itself (entries (2p, 2p+1) = Σ r and (2p, p+k) = Σ r·x_k, divided by the
//! cell's G), so the variance round is a single round.

use serde::{Deserialize, Serialize};

use super::{FineGrayGrid, FineGrayRow, censorings, locate};
use crate::cif::{CifCounts, CompetingStatus};
use crate::cox::{CoxSiteSums, Ties, cox_combine};
use crate::error::{StatsError, check_len};
use crate::linalg::Cholesky;
use crate::newton::{Estimate, estimates};
use crate::residual_gram::{CellCoefficients, ResidualGram, meat, sandwich};

/// Fine–Gray cells per grid time: censored (0), event of interest (1), competing (2).
const STATUSES: usize = 3;

fn status_index(status: CompetingStatus) -> usize {
    match status {
        CompetingStatus::Censored => 0,
        CompetingStatus::Event => 1,
        CompetingStatus::Competing => 2,
    }
}

/// Site part of the variance round: the Gram matrices of this site's rows per
/// (grid time, status) cell at β (the final estimate). Needs only β and the
/// grid's times (the G values are not used here).
pub fn finegray_residual_gram(
    rows: &[FineGrayRow],
    grid: &FineGrayGrid,
    beta: &[f64],
) -> Result<ResidualGram, StatsError> {
    let located = locate(rows, grid, beta)?;
    let mut gram = ResidualGram::zeros(beta.len(), grid.times.len(), STATUSES);
    for (row, &(j, xb)) in rows.iter().zip(&located) {
        gram.accumulate(
            j * STATUSES + status_index(row.status),
            &row.covariates,
            xb.exp(),
        );
    }
    Ok(gram)
}

/// crr's variance of a Fine–Gray fit, with the coefficient table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FineGrayVariance {
    /// Coefficient table with crr's (sandwich) SEs, as `summary(crr(...))`.
    pub estimates: Vec<Estimate>,
    /// The sandwich `I⁻¹ D I⁻¹`, row-major p × p: crr's `var`.
    pub covariance: Vec<f64>,
    /// The inverse information `I⁻¹` (model-based, not what crr reports).
    pub naive_covariance: Vec<f64>,
    /// `D = Σ_i (η_i + ψ_i)(η_i + ψ_i)ᵀ`, row-major p × p.
    pub meat: Vec<f64>,
}

/// Hub part of the variance round: crr's variance at `beta` from the summed
/// [`finegray_site_sums`](crate::finegray_site_sums) and
/// [`finegray_residual_gram`] (both at `beta` on `grid`) and the summed
/// [`CifCounts`] on the grid's times (at risk and censorings per time, the
/// counts `grid` was built from).
pub fn finegray_variance(
    beta: &[f64],
    sums: &CoxSiteSums,
    grid: &FineGrayGrid,
    counts: &CifCounts,
    gram: &ResidualGram,
) -> Result<FineGrayVariance, StatsError> {
    let p = beta.len();
    let t = grid.times.len();
    check_len("fine-gray sums: coefficients", p, sums.p)?;
    check_len("fine-gray sums: grid points", t, sums.grid_len())?;
    check_len("cif counts: grid points", t, counts.at_risk.len())?;
    check_len(
        "fine-gray grid: censoring survival",
        t,
        grid.censoring_survival.len(),
    )?;
    if sums.ties != Ties::Breslow {
        return Err(StatsError::Mismatch {
            what: "tie handling (fine-gray sums are breslow)",
        });
    }
    gram.check_shape(p, t, STATUSES)?;
    let cells = cell_coefficients(sums, grid, counts, gram)?;
    let d = meat(gram, &mut |cell| Ok(Some(cells[cell].clone())))?;
    let information: Vec<f64> = cox_combine(sums)?.hessian.iter().map(|h| -h).collect();
    let naive = Cholesky::new(&information, p)?.inverse();
    let covariance = sandwich(&naive, &d, p);
    Ok(FineGrayVariance {
        estimates: estimates(beta, &covariance),
        covariance,
        naive_covariance: naive,
        meat: d,
    })
}

/// The coefficients of every cell `3·j + status` (module docs).
fn cell_coefficients(
    sums: &CoxSiteSums,
    grid: &FineGrayGrid,
    counts: &CifCounts,
    gram: &ResidualGram,
) -> Result<Vec<CellCoefficients>, StatsError> {
    let (p, t) = (sums.p, grid.times.len());
    let c = censorings(counts)?;
    let g = &grid.censoring_survival;
    // hazard h_j and mean x̄_j at every grid time
    let mut h = vec![0.0; t];
    let mut xbar = vec![0.0; t * p];
    for j in 0..t {
        let s0 = sums.s0[j];
        if sums.events[j] > 0.0 {
            if s0.is_nan() || s0 <= 0.0 {
                return Err(StatsError::NonFinite {
                    what: "risk-set sum",
                });
            }
            h[j] = sums.events[j] / s0;
        }
        if s0 > 0.0 {
            for k in 0..p {
                xbar[j * p + k] = sums.s1[j * p + k] / s0;
            }
        }
    }
    // suffix sums F0_j, F1_j (inclusive), index t holds zeros
    let mut f0 = vec![0.0; t + 1];
    let mut f1 = vec![0.0; (t + 1) * p];
    for j in (0..t).rev() {
        f0[j] = f0[j + 1] + h[j] * g[j];
        for k in 0..p {
            f1[j * p + k] = f1[(j + 1) * p + k] + h[j] * g[j] * xbar[j * p + k];
        }
    }
    let mut out = Vec::with_capacity(t * STATUSES);
    let (mut a, mut b) = (0.0, vec![0.0; p]);
    let (mut c0, mut c1) = (0.0, vec![0.0; p]);
    let mut psi = vec![0.0; p];
    for j in 0..t {
        a += h[j];
        for k in 0..p {
            b[k] += h[j] * xbar[j * p + k];
        }
        // q_j = C1_j F0_j − C0_j F1_j, C over competing rows before t_j
        let q: Vec<f64> = (0..p).map(|k| c1[k] * f0[j] - c0 * f1[j * p + k]).collect();
        let n = counts.at_risk[j] as f64;
        if c[j] > 0 {
            let scale = c[j] as f64 / (n * n);
            psi.iter_mut().zip(&q).for_each(|(s, v)| *s -= scale * v);
        }
        let censored = CellCoefficients {
            a: 0.0,
            b: -a,
            c: if c[j] > 0 {
                psi.iter().zip(&q).map(|(s, v)| s + v / n).collect()
            } else {
                psi.clone()
            },
            e: b.clone(),
        };
        let event = CellCoefficients {
            a: 1.0,
            b: -a,
            c: psi
                .iter()
                .zip(&xbar[j * p..(j + 1) * p])
                .map(|(s, m)| s - m)
                .collect(),
            e: b.clone(),
        };
        let competing = CellCoefficients {
            a: 0.0,
            b: -(a + f0[j + 1] / g[j]),
            c: psi.clone(),
            e: (0..p).map(|k| b[k] + f1[(j + 1) * p + k] / g[j]).collect(),
        };
        out.extend([censored, event, competing]);
        // the competing rows at t_j enter C for later times
        let cell = j * STATUSES + 2;
        c0 += gram.entry(cell, 2 * p, 2 * p + 1) / g[j];
        for (k, v) in c1.iter_mut().enumerate() {
            *v += gram.entry(cell, 2 * p, p + k) / g[j];
        }
    }
    Ok(out)
}
