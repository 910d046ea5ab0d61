//! Dense symmetric positive-definite algebra for the hub's Newton steps.
//!
//! The regressions here have p ≤ 50 parameters, so a 60-line Cholesky
//! decomposition (O(p³) ≈ 40 k flops) is all that is needed; `nalgebra` would add
//! build time and a dependency to a crate that must stay small and auditable.
//! Matrices are row-major `&[f64]` of length `n * n`.

use crate::error::StatsError;

/// Lower-triangular Cholesky factor `L` with `A = L Lᵀ`.
#[derive(Debug, Clone)]
pub(crate) struct Cholesky {
    n: usize,
    l: Vec<f64>,
}

impl Cholesky {
    /// Factors the symmetric matrix `a` (only the lower triangle is read).
    /// Fails with [`StatsError::SingularAt`] (naming the first lost pivot) when
    /// `a` is not positive definite.
    pub(crate) fn new(a: &[f64], n: usize) -> Result<Self, StatsError> {
        crate::error::check_len("matrix", n * n, a.len())?;
        let mut l = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let mut sum = a[i * n + j];
                for k in 0..j {
                    sum -= l[i * n + k] * l[j * n + k];
                }
                if i == j {
                    // relative pivot check: a pivot lost to rounding means singular
                    if !sum.is_finite() || sum <= a[i * n + i].abs() * 1e-13 {
                        return Err(StatsError::SingularAt { index: i });
                    }
                    l[i * n + i] = sum.sqrt();
                } else {
                    l[i * n + j] = sum / l[j * n + j];
                }
            }
        }
        Ok(Self { n, l })
    }

    /// Solves `A x = b`.
    pub(crate) fn solve(&self, b: &[f64]) -> Vec<f64> {
        let n = self.n;
        let mut y = b.to_vec();
        for i in 0..n {
            for k in 0..i {
                y[i] -= self.l[i * n + k] * y[k];
            }
            y[i] /= self.l[i * n + i];
        }
        for i in (0..n).rev() {
            for k in i + 1..n {
                y[i] -= self.l[k * n + i] * y[k];
            }
            y[i] /= self.l[i * n + i];
        }
        y
    }

    /// The inverse `A⁻¹` (the covariance matrix when `A` is the information).
    pub(crate) fn inverse(&self) -> Vec<f64> {
        let n = self.n;
        let mut inv = vec![0.0; n * n];
        let mut e = vec![0.0; n];
        for j in 0..n {
            e.iter_mut().for_each(|v| *v = 0.0);
            e[j] = 1.0;
            let col = self.solve(&e);
            for i in 0..n {
                inv[i * n + j] = col[i];
            }
        }
        inv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_and_inverts_a_small_spd_matrix() {
        let a = [4.0, 2.0, 0.4, 2.0, 5.0, 1.0, 0.4, 1.0, 3.0];
        let c = Cholesky::new(&a, 3).unwrap();
        let x = c.solve(&[1.0, 2.0, 3.0]);
        for i in 0..3 {
            let ax: f64 = (0..3).map(|k| a[i * 3 + k] * x[k]).sum();
            assert!((ax - [1.0, 2.0, 3.0][i]).abs() < 1e-14);
        }
        let inv = c.inverse();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| a[i * 3 + k] * inv[k * 3 + j]).sum();
                assert!((v - f64::from(u8::from(i == j))).abs() < 1e-14);
            }
        }
    }

    #[test]
    fn rejects_singular_and_indefinite_matrices() {
        assert_eq!(
            Cholesky::new(&[1.0, 1.0, 1.0, 1.0], 2).unwrap_err(),
            StatsError::SingularAt { index: 1 }
        );
        assert_eq!(
            Cholesky::new(&[1.0, 2.0, 2.0, 1.0], 2).unwrap_err(),
            StatsError::SingularAt { index: 1 }
        );
        // a parameter without information (a constant covariate) is named first
        assert_eq!(
            Cholesky::new(&[0.0, 0.0, 0.0, 1.0], 2).unwrap_err(),
            StatsError::SingularAt { index: 0 }
        );
        assert!(Cholesky::new(&[1.0], 2).is_err());
    }
}
