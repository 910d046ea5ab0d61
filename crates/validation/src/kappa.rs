//! Chance-corrected agreement: Cohen's κ for two raters and Fleiss' κ for a
//! panel, as pure functions over counts.
//!
//! - Cohen, J. (1960). A coefficient of agreement for nominal scales.
//!   *Educ. Psychol. Meas.* 20:37–46. The large-sample variance is that of
//!   Fleiss, Cohen & Everitt (1969), *Psychol. Bull.* 72:323–327 (the one
//!   statsmodels' `cohens_kappa` reports).
//! - Fleiss, J. L. (1971). Measuring nominal scale agreement among many
//!   raters. *Psychol. Bull.* 76:378–382, eqs. 2–9 and the per-category κ_j
//!   (eq. 12).
//!
//! κ is undefined when the agreement expected by chance is 1 (every rating in
//! one class): the functions then return `kappa: None` with the reason, never
//! NaN.

use oncofed_model::CellClass;
use serde::Serialize;

/// The 97.5 % quantile of the standard normal distribution (95 % two-sided).
pub const Z_975: f64 = 1.959_963_984_540_054;

/// A square table of two raters' labels: `counts[i][j]` cells rater A put in
/// `classes[i]` and rater B in `classes[j]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Confusion {
    /// The classes either rater used, in [`CellClass`] order.
    pub classes: Vec<CellClass>,
    /// Rows: rater A; columns: rater B.
    pub counts: Vec<Vec<u64>>,
}

impl Confusion {
    /// Tabulates pairs `(label by A, label by B)`.
    pub fn from_pairs(pairs: &[(CellClass, CellClass)]) -> Self {
        let mut classes: Vec<CellClass> = pairs.iter().flat_map(|&(a, b)| [a, b]).collect();
        classes.sort();
        classes.dedup();
        let index = |c: CellClass| classes.binary_search(&c).unwrap_or(0);
        let mut counts = vec![vec![0u64; classes.len()]; classes.len()];
        for &(a, b) in pairs {
            counts[index(a)][index(b)] += 1;
        }
        Self { classes, counts }
    }

    /// The number of cells in the table.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }
}

/// Cohen's κ of one table with its ingredients.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CohenKappa {
    /// Cells both raters labelled.
    pub n: u64,
    /// Observed agreement p_o: the share of cells with the same label.
    pub observed: f64,
    /// Agreement expected by chance p_e = Σ_k p_A(k) p_B(k).
    pub expected: f64,
    /// κ = (p_o − p_e) / (1 − p_e); `None` when p_e = 1.
    pub kappa: Option<f64>,
    /// The large-sample standard error (Fleiss, Cohen & Everitt 1969).
    pub std_error: Option<f64>,
    /// κ ± 1.96 SE, the 95 % Wald interval.
    pub ci95: Option<[f64; 2]>,
    /// Why κ is undefined, when it is.
    pub undefined: Option<String>,
}

/// Cohen's κ of a confusion table; `None` for an empty table.
pub fn cohen(table: &Confusion) -> Option<CohenKappa> {
    let n = table.total();
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let k = table.classes.len();
    let p = |i: usize, j: usize| table.counts[i][j] as f64 / nf;
    let row: Vec<f64> = (0..k).map(|i| (0..k).map(|j| p(i, j)).sum()).collect();
    let col: Vec<f64> = (0..k).map(|j| (0..k).map(|i| p(i, j)).sum()).collect();
    let observed: f64 = (0..k).map(|i| p(i, i)).sum();
    let expected: f64 = (0..k).map(|i| row[i] * col[i]).sum();
    let degenerate = CohenKappa {
        n,
        observed,
        expected,
        kappa: None,
        std_error: None,
        ci95: None,
        undefined: Some(
            "expected agreement is 1 (both experts used one and the same class for every cell)"
                .into(),
        ),
    };
    // p_e = 1 exactly when both raters used a single class, the same one.
    if k <= 1 || 1.0 - expected <= f64::EPSILON {
        return Some(degenerate);
    }
    let kappa = (observed - expected) / (1.0 - expected);
    let one_minus = 1.0 - kappa;
    let mut term_a = 0.0;
    let mut term_b = 0.0;
    for i in 0..k {
        for j in 0..k {
            if i == j {
                term_a += p(i, i) * (1.0 - (row[i] + col[i]) * one_minus).powi(2);
            } else {
                term_b += p(i, j) * (col[i] + row[j]).powi(2);
            }
        }
    }
    let term_c = (kappa - expected * one_minus).powi(2);
    let variance = (term_a + one_minus.powi(2) * term_b - term_c) / (1.0 - expected).powi(2) / nf;
    // Rounding can push a zero variance (perfect agreement) just below 0.
    let std_error = variance.max(0.0).sqrt();
    Some(CohenKappa {
        n,
        observed,
        expected,
        kappa: Some(kappa),
        std_error: Some(std_error),
        ci95: Some([kappa - Z_975 * std_error, kappa + Z_975 * std_error]),
        undefined: None,
    })
}

/// Fleiss' κ of a panel in which every subject has the same number of ratings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleissKappa {
    /// Subjects (cells) N.
    pub subjects: usize,
    /// Ratings per subject n.
    pub raters: usize,
    /// Mean observed agreement P̄.
    pub observed: f64,
    /// Chance agreement P̄_e = Σ_j p_j².
    pub expected: f64,
    /// κ = (P̄ − P̄_e) / (1 − P̄_e); `None` when P̄_e = 1.
    pub kappa: Option<f64>,
    /// Why κ is undefined, when it is.
    pub undefined: Option<String>,
    /// κ_j for each category that was used at least once.
    pub categories: Vec<CategoryKappa>,
}

/// Fleiss' per-category κ_j (1971, eq. 12): agreement on "class j or not".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryKappa {
    /// The class.
    pub class: CellClass,
    /// p_j: its share of all ratings.
    pub share: f64,
    /// κ_j; `None` when every rating is this class (p_j = 1).
    pub kappa: Option<f64>,
    /// Why κ_j is undefined, when it is.
    pub undefined: Option<String>,
}

/// Why [`fleiss`] cannot compute anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FleissInputError {
    /// No subjects.
    #[error("no cells to compute Fleiss' kappa over")]
    Empty,
    /// Fewer than two ratings per subject.
    #[error("Fleiss' kappa needs at least two ratings per cell, got {0}")]
    TooFewRaters(usize),
    /// Subjects with different numbers of ratings.
    #[error("Fleiss' kappa needs the same number of ratings for every cell ({0} and {1} found)")]
    Unequal(usize, usize),
}

/// Fleiss' κ of subjects given as their ratings (one label per rater; who
/// rated does not matter). Every subject must have the same number n ≥ 2 of
/// ratings.
pub fn fleiss(subjects: &[Vec<CellClass>]) -> Result<FleissKappa, FleissInputError> {
    let first = subjects.first().ok_or(FleissInputError::Empty)?;
    let n = first.len();
    if n < 2 {
        return Err(FleissInputError::TooFewRaters(n));
    }
    if let Some(other) = subjects.iter().find(|s| s.len() != n) {
        return Err(FleissInputError::Unequal(n, other.len()));
    }
    let mut classes: Vec<CellClass> = subjects.iter().flatten().copied().collect();
    classes.sort();
    classes.dedup();
    let k = classes.len();
    let big_n = subjects.len();
    // n_ij: ratings of subject i in category j.
    let table: Vec<Vec<u64>> = subjects
        .iter()
        .map(|s| {
            let mut row = vec![0u64; k];
            for c in s {
                if let Ok(j) = classes.binary_search(c) {
                    row[j] += 1;
                }
            }
            row
        })
        .collect();
    let (nf, total) = (n as f64, (big_n * n) as f64);
    let share: Vec<f64> = (0..k)
        .map(|j| table.iter().map(|r| r[j]).sum::<u64>() as f64 / total)
        .collect();
    let observed = table
        .iter()
        .map(|r| {
            let sq: u64 = r.iter().map(|&x| x * x).sum();
            (sq as f64 - nf) / (nf * (nf - 1.0))
        })
        .sum::<f64>()
        / big_n as f64;
    let expected: f64 = share.iter().map(|p| p * p).sum();
    let (kappa, undefined) = if 1.0 - expected <= f64::EPSILON {
        (
            None,
            Some("expected agreement is 1 (every rating is the same class)".to_string()),
        )
    } else {
        (Some((observed - expected) / (1.0 - expected)), None)
    };
    let categories = (0..k)
        .map(|j| {
            let (p, q) = (share[j], 1.0 - share[j]);
            let disagreement: f64 = table.iter().map(|r| r[j] as f64 * (nf - r[j] as f64)).sum();
            if p * q <= f64::EPSILON {
                CategoryKappa {
                    class: classes[j],
                    share: p,
                    kappa: None,
                    undefined: Some("every rating is this class".into()),
                }
            } else {
                CategoryKappa {
                    class: classes[j],
                    share: p,
                    kappa: Some(1.0 - disagreement / (total * (nf - 1.0) * p * q)),
                    undefined: None,
                }
            }
        })
        .collect();
    Ok(FleissKappa {
        subjects: big_n,
        raters: n,
        observed,
        expected,
        kappa,
        undefined,
        categories,
    })
}
