//! Sandwich (robust) variances from per-cell Gram matrices, without rows.
//!
//! A sandwich variance `V = I⁻¹ D I⁻¹` needs `D = Σ_i L_i L_iᵀ`, a sum over rows of
//! outer products of each row's score residual `L_i` (p-vector). For the pooled
//! Cox model (Lin & Wei 1989) and for Fine–Gray regression (Fine & Gray 1999),
//! `L_i` is linear in the **feature vector** of the row,
//!
//! ```text
//! ψ_i = [x_i (p), r_i·x_i (p), 1, r_i],   r_i = exp(x_iβ),   q = 2p + 2,
//! L_i = M_c ψ_i = a_c·x_i + b_c·r_i·x_i + c_c + r_i·e_c,
//! ```
//!
//! with coefficients `M_c = [a_c·I, b_c·I, c_c, e_c]` (p × q) that depend only on
//! pooled per-time quantities and on the row's **cell** `c` (its time point on
//! the hub's grid and its status). Hence
//!
//! ```text
//! D = Σ_c M_c G_c M_cᵀ,   G_c = Σ_{i ∈ c} ψ_i ψ_iᵀ,
//! ```
//!
//! and a site sends, instead of residuals, the Gram matrix `G_c` of its rows in
//! every cell ([`ResidualGram`]); the Gram matrices add across sites, so secure
//! aggregation can hide each site's part, and the hub computes `D` from the sum.
//!
//! **Layout** of [`ResidualGram::values`] (the vector a site sends): cells in the
//! order `cell = point · statuses + status` (point = grid index, status as the
//! model defines it), each cell the upper triangle of the symmetric q × q matrix
//! `G_c`, row by row: `(0,0), (0,1), …, (0,q−1), (1,1), …, (q−1,q−1)`, so
//! `q(q+1)/2` values per cell, `points · statuses · q(q+1)/2` in all. Entry
//! `(2p, 2p)` of a cell is `Σ 1`, the number of rows in it ([`ResidualGram::cell_sizes`]).
//!
//! **What the hub learns** from a cell: sums over the rows of that cell of `x`,
//! `r·x`, `x xᵀ`, `r·x xᵀ`, `r²·x xᵀ`, `r`, `r²`, `r·x`, `r²·x` and the row count.
//! With one row in a cell, that row's covariates would be revealed exactly, so
//! the caller must check that every non-empty cell holds at least k rows (k the
//! disclosure threshold) before a site sends or the hub releases:
//! [`ResidualGram::cell_sizes`] gives the sizes. With times binned so that every
//! (bin, status) cell holds 0 or ≥ k rows, and cells that are unions of such
//! (bin, status) cells, the check passes by construction; this crate does not
//! enforce it (it does not know k).

use serde::{Deserialize, Serialize};

use crate::error::{StatsError, check_len};

/// Per-cell Gram matrices `Σ ψ ψᵀ` of the score-residual features
/// `ψ = [x, r·x, 1, r]` (see the module docs for the layout): what a site sends
/// for a robust (sandwich) variance instead of its rows' residuals. Additive
/// across sites, like every aggregate of this crate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResidualGram {
    /// Number of coefficients p (the features have q = 2p + 2 entries).
    pub p: usize,
    /// Number of grid points the cells are laid over.
    pub points: usize,
    /// Number of statuses per grid point (2 for Cox: censored, event; 3 for
    /// Fine–Gray: censored, event of interest, competing event).
    pub statuses: usize,
    /// `points · statuses` cells of `q(q+1)/2` values each (upper triangles, row by row).
    pub values: Vec<f64>,
}

/// Number of features q = 2p + 2 for p coefficients.
pub(crate) fn feature_len(p: usize) -> usize {
    2 * p + 2
}

/// Index of entry (i, j), i ≤ j, in the packed upper triangle of a q × q matrix.
fn tri_index(q: usize, i: usize, j: usize) -> usize {
    debug_assert!(i <= j && j < q);
    i * q + j - i * (i + 1) / 2
}

/// Packed index without the closed-form subtleties (used to check `tri_index`).
#[cfg(test)]
fn tri_index_slow(q: usize, i: usize, j: usize) -> usize {
    let mut k = 0;
    for a in 0..q {
        for b in a..q {
            if (a, b) == (i, j) {
                return k;
            }
            k += 1;
        }
    }
    unreachable!()
}

impl ResidualGram {
    /// The all-zero Gram vector (the neutral element of [`Self::add`]).
    pub fn zeros(p: usize, points: usize, statuses: usize) -> Self {
        let q = feature_len(p);
        Self {
            p,
            points,
            statuses,
            values: vec![0.0; points * statuses * q * (q + 1) / 2],
        }
    }

    fn cell_len(&self) -> usize {
        let q = feature_len(self.p);
        q * (q + 1) / 2
    }

    /// Number of cells, `points · statuses`.
    pub fn cells(&self) -> usize {
        self.points * self.statuses
    }

    /// Adds another site's Gram vector (the hub's only operation on it).
    pub fn add(&mut self, other: &ResidualGram) -> Result<(), StatsError> {
        self.check_shape(other.p, other.points, other.statuses)?;
        check_len(
            "residual gram: values",
            self.values.len(),
            other.values.len(),
        )?;
        self.values
            .iter_mut()
            .zip(&other.values)
            .for_each(|(a, b)| *a += b);
        Ok(())
    }

    /// Fails unless the vector has the given shape and a consistent length.
    pub(crate) fn check_shape(
        &self,
        p: usize,
        points: usize,
        statuses: usize,
    ) -> Result<(), StatsError> {
        check_len("residual gram: coefficients", p, self.p)?;
        check_len("residual gram: grid points", points, self.points)?;
        check_len("residual gram: statuses", statuses, self.statuses)?;
        check_len(
            "residual gram: values",
            self.cells() * self.cell_len(),
            self.values.len(),
        )
    }

    /// The number of rows in every cell (entry (2p, 2p), `Σ 1`), in cell order
    /// `point · statuses + status`: what a disclosure check compares with k. A
    /// site should check its own vector before sending (and the hub the summed
    /// one before releasing); cells with 0 rows are empty and reveal nothing.
    pub fn cell_sizes(&self) -> Vec<f64> {
        let q = feature_len(self.p);
        let at = tri_index(q, 2 * self.p, 2 * self.p);
        self.values
            .chunks(self.cell_len())
            .map(|cell| cell[at])
            .collect()
    }

    /// Entry (i, j) of cell `cell`'s Gram matrix (either triangle).
    pub(crate) fn entry(&self, cell: usize, i: usize, j: usize) -> f64 {
        let q = feature_len(self.p);
        self.values[cell * self.cell_len() + tri_index(q, i.min(j), i.max(j))]
    }

    /// Adds one row with covariates `x` and risk `r = exp(xβ)` to `cell`.
    pub(crate) fn accumulate(&mut self, cell: usize, x: &[f64], r: f64) {
        let (p, len) = (self.p, self.cell_len());
        let slot = &mut self.values[cell * len..(cell + 1) * len];
        let feature = |k: usize| match k {
            k if k < p => x[k],
            k if k < 2 * p => r * x[k - p],
            k if k == 2 * p => 1.0,
            _ => r,
        };
        let q = feature_len(p);
        let mut at = 0;
        for i in 0..q {
            let fi = feature(i);
            for j in i..q {
                slot[at] += fi * feature(j);
                at += 1;
            }
        }
    }
}

/// The coefficients of one cell: `L = a·x + b·r·x + c + r·e` for every row in it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CellCoefficients {
    pub(crate) a: f64,
    pub(crate) b: f64,
    pub(crate) c: Vec<f64>,
    pub(crate) e: Vec<f64>,
}

/// `D = Σ_c M_c G_c M_cᵀ` (row-major p × p) over the cells for which
/// `coefficients` returns `Some` (cells it skips must be empty or have zero
/// residuals). Errors from `coefficients` are passed on.
pub(crate) fn meat(
    gram: &ResidualGram,
    coefficients: &mut dyn FnMut(usize) -> Result<Option<CellCoefficients>, StatsError>,
) -> Result<Vec<f64>, StatsError> {
    let p = gram.p;
    let q = feature_len(p);
    let len = gram.cell_len();
    let mut d = vec![0.0; p * p];
    let mut w = vec![0.0; p * q];
    for (cell, g) in gram.values.chunks(len).enumerate() {
        if g[tri_index(q, 2 * p, 2 * p)] == 0.0 {
            continue; // no rows
        }
        let Some(m) = coefficients(cell)? else {
            continue;
        };
        let at = |i: usize, j: usize| g[tri_index(q, i.min(j), i.max(j))];
        // W = M G: row k of M has a at k, b at p+k, c[k] at 2p, e[k] at 2p+1
        for k in 0..p {
            for col in 0..q {
                w[k * q + col] = m.a * at(k, col)
                    + m.b * at(p + k, col)
                    + m.c[k] * at(2 * p, col)
                    + m.e[k] * at(2 * p + 1, col);
            }
        }
        // D += W Mᵀ
        for k in 0..p {
            for l in 0..p {
                d[k * p + l] += m.a * w[k * q + l]
                    + m.b * w[k * q + p + l]
                    + m.c[l] * w[k * q + 2 * p]
                    + m.e[l] * w[k * q + 2 * p + 1];
            }
        }
    }
    Ok(d)
}

/// `A⁻¹ D A⁻¹` for symmetric `a_inv` and `d` (row-major p × p): the sandwich.
pub(crate) fn sandwich(a_inv: &[f64], d: &[f64], p: usize) -> Vec<f64> {
    let mut t = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..p {
            t[i * p + j] = (0..p).map(|k| a_inv[i * p + k] * d[k * p + j]).sum();
        }
    }
    let mut v = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..p {
            v[i * p + j] = (0..p).map(|k| t[i * p + k] * a_inv[k * p + j]).sum();
        }
    }
    // symmetrise the rounding
    for i in 0..p {
        for j in 0..i {
            let s = 0.5 * (v[i * p + j] + v[j * p + i]);
            v[i * p + j] = s;
            v[j * p + i] = s;
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_index_matches_row_by_row_order() {
        for q in 1..9 {
            for i in 0..q {
                for j in i..q {
                    assert_eq!(
                        tri_index(q, i, j),
                        tri_index_slow(q, i, j),
                        "q {q} ({i},{j})"
                    );
                }
            }
        }
    }

    #[test]
    fn meat_equals_the_sum_of_residual_outer_products() {
        // three rows in two cells of a p = 2 gram; residuals computed directly
        let rows = [
            (0, [1.0, -2.0], 0.5),
            (0, [0.3, 4.0], 2.0),
            (1, [-1.5, 0.7], 1.3),
        ];
        let mut gram = ResidualGram::zeros(2, 1, 2);
        for (cell, x, r) in rows {
            gram.accumulate(cell, &x, r);
        }
        assert_eq!(gram.cell_sizes(), vec![2.0, 1.0]);
        let coef = |cell: usize| CellCoefficients {
            a: [1.0, 0.0][cell],
            b: [-0.4, -0.9][cell],
            c: vec![0.2 * cell as f64 - 1.0, 0.5],
            e: vec![0.3, -0.1 - cell as f64],
        };
        let d = meat(&gram, &mut |cell| Ok(Some(coef(cell)))).unwrap();
        let mut expected = [0.0; 4];
        for (cell, x, r) in rows {
            let m = coef(cell);
            let l: Vec<f64> = (0..2)
                .map(|k| m.a * x[k] + m.b * r * x[k] + m.c[k] + r * m.e[k])
                .collect();
            for i in 0..2 {
                for j in 0..2 {
                    expected[i * 2 + j] += l[i] * l[j];
                }
            }
        }
        for k in 0..4 {
            assert!((d[k] - expected[k]).abs() < 1e-13, "{d:?} vs {expected:?}");
        }
        let mut twice = gram.clone();
        twice.add(&gram).unwrap();
        assert_eq!(twice.cell_sizes(), vec![4.0, 2.0]);
        assert!(twice.add(&ResidualGram::zeros(3, 1, 2)).is_err());
    }
}
