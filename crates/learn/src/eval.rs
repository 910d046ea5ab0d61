//! Federated evaluation: each site counts, the hub sees only the sums.
//!
//! Site vector, k = number of classes, B = bins:
//!
//! | positions | content |
//! |---|---|
//! | `0..k²` | confusion matrix, row = true class, column = predicted (`true·k + pred`) |
//! | `k² + 3b .. k² + 3b + 3` | bin b: cells, Σ confidence, correct predictions |
//! | `k² + 3B` | Σ cross-entropy loss |
//! | `k² + 3B + 1` | cells evaluated |
//!
//! Confidence is the top softmax probability; bin b holds confidences in
//! `[b/B, (b+1)/B)` (1.0 in the last bin).

use crate::{Error, EvaluateRound, Result};
use oncofed_model::CellClass;
use serde::{Deserialize, Serialize};

/// Length of a site's evaluation vector: k² + 3·bins + 2.
pub fn evaluate_vector_len(classes: usize, bins: usize) -> usize {
    classes * classes + 3 * bins + 2
}

/// Builds one site's evaluation vector from per-cell predictions.
#[derive(Debug, Clone)]
pub struct EvalAccumulator {
    k: usize,
    bins: usize,
    v: Vec<f64>,
}

impl EvalAccumulator {
    /// An empty accumulator for `classes` outputs and `bins` calibration bins.
    pub fn new(classes: usize, bins: usize) -> Self {
        Self {
            k: classes,
            bins: bins.max(1),
            v: vec![0.0; evaluate_vector_len(classes, bins.max(1))],
        }
    }

    /// Adds one cell: its true class index and the predicted probabilities
    /// (length k). Fails on a label outside the classes or a wrong length.
    pub fn add(&mut self, label: usize, probs: &[f32]) -> Result<()> {
        if probs.len() != self.k {
            return Err(Error::Length {
                what: "class probabilities",
                expected: self.k,
                got: probs.len(),
            });
        }
        if label >= self.k {
            return Err(Error::Config(format!(
                "label: index {label} outside the {} classes",
                self.k
            )));
        }
        let (pred, conf) =
            probs
                .iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (i, &p)| {
                    if p > best.1 { (i, p) } else { best }
                });
        let conf = f64::from(conf).clamp(0.0, 1.0);
        let k2 = self.k * self.k;
        self.v[label * self.k + pred] += 1.0;
        let b = ((conf * self.bins as f64) as usize).min(self.bins - 1);
        self.v[k2 + 3 * b] += 1.0;
        self.v[k2 + 3 * b + 1] += conf;
        if pred == label {
            self.v[k2 + 3 * b + 2] += 1.0;
        }
        let p_true = f64::from(probs[label]).max(1e-12);
        self.v[k2 + 3 * self.bins] -= p_true.ln();
        self.v[k2 + 3 * self.bins + 1] += 1.0;
        Ok(())
    }

    /// The site's vector in the documented layout.
    pub fn into_vector(self) -> Vec<f64> {
        self.v
    }
}

/// One calibration bin of the pooled evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    /// Cells whose confidence fell in the bin.
    pub count: u64,
    /// Mean confidence in the bin (0 when empty).
    pub mean_confidence: f64,
    /// Fraction correct in the bin (0 when empty).
    pub accuracy: f64,
}

/// Metrics of a model over the summed evaluation vectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The classes, in output order.
    pub classes: Vec<CellClass>,
    /// Cells evaluated.
    pub n: u64,
    /// Fraction of cells whose top class is the true class.
    pub accuracy: f64,
    /// Unweighted mean F1 over the classes that occur as truth or prediction
    /// (scikit-learn's `f1_score(average="macro")` convention).
    pub macro_f1: f64,
    /// F1 per class; `None` for a class neither present nor predicted.
    pub per_class_f1: Vec<Option<f64>>,
    /// Confusion counts, `confusion[true][predicted]`.
    pub confusion: Vec<Vec<u64>>,
    /// Calibration bins.
    pub calibration: Vec<CalibrationBin>,
    /// Expected calibration error: Σ_b (n_b/n)·|accuracy_b − confidence_b|.
    pub ece: f64,
    /// Mean cross-entropy.
    pub mean_loss: f64,
}

impl Evaluation {
    /// Metrics from a summed evaluation vector of `round`.
    pub fn from_sum(round: &EvaluateRound, sum: &[f64]) -> Result<Self> {
        Self::from_counts(&round.spec.classes, round.bins, sum)
    }

    /// Metrics from a summed vector for `classes` and `bins` (also used on one
    /// site's own vector).
    pub fn from_counts(classes: &[CellClass], bins: usize, sum: &[f64]) -> Result<Self> {
        let k = classes.len();
        let expected = evaluate_vector_len(k, bins);
        if sum.len() != expected || bins == 0 {
            return Err(Error::Length {
                what: "evaluation sum",
                expected,
                got: sum.len(),
            });
        }
        if let Some(i) = sum.iter().position(|v| !v.is_finite() || *v < -1e-6) {
            return Err(Error::Sum {
                what: "evaluation sum",
                reason: format!("value {i} is negative or not finite"),
            });
        }
        let count = |x: f64| x.round().max(0.0) as u64;
        let confusion: Vec<Vec<u64>> = (0..k)
            .map(|t| (0..k).map(|p| count(sum[t * k + p])).collect())
            .collect();
        let n_conf: u64 = confusion.iter().flatten().sum();
        let k2 = k * k;
        let n = count(sum[k2 + 3 * bins + 1]);
        if n == 0 || n != n_conf {
            return Err(Error::Sum {
                what: "evaluation sum",
                reason: format!("{n} cells evaluated but the confusion matrix counts {n_conf}"),
            });
        }
        let correct: u64 = (0..k).map(|i| confusion[i][i]).sum();
        let mut per_class_f1 = Vec::with_capacity(k);
        for c in 0..k {
            let tp = confusion[c][c] as f64;
            let support: u64 = confusion[c].iter().sum();
            let predicted: u64 = confusion.iter().map(|row| row[c]).sum();
            per_class_f1.push(if support + predicted == 0 {
                None
            } else {
                Some(2.0 * tp / (support + predicted) as f64)
            });
        }
        let present: Vec<f64> = per_class_f1.iter().flatten().copied().collect();
        let macro_f1 = present.iter().sum::<f64>() / present.len().max(1) as f64;
        let mut calibration = Vec::with_capacity(bins);
        let mut ece = 0.0;
        for b in 0..bins {
            let cnt = count(sum[k2 + 3 * b]);
            let (conf, acc) = if cnt == 0 {
                (0.0, 0.0)
            } else {
                (
                    sum[k2 + 3 * b + 1] / cnt as f64,
                    sum[k2 + 3 * b + 2] / cnt as f64,
                )
            };
            ece += cnt as f64 / n as f64 * (acc - conf).abs();
            calibration.push(CalibrationBin {
                count: cnt,
                mean_confidence: conf,
                accuracy: acc,
            });
        }
        Ok(Self {
            classes: classes.to_vec(),
            n,
            accuracy: correct as f64 / n as f64,
            macro_f1,
            per_class_f1,
            confusion,
            calibration,
            ece,
            mean_loss: sum[k2 + 3 * bins] / n as f64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_hand_computed_values() {
        let classes = [
            CellClass::Myeloblast,
            CellClass::Lymphocyte,
            CellClass::Monocyte,
        ];
        let mut site_a = EvalAccumulator::new(3, 2);
        site_a.add(0, &[0.9, 0.05, 0.05]).unwrap();
        site_a.add(0, &[0.3, 0.6, 0.1]).unwrap();
        let mut site_b = EvalAccumulator::new(3, 2);
        site_b.add(1, &[0.2, 0.7, 0.1]).unwrap();
        site_b.add(1, &[0.1, 0.8, 0.1]).unwrap();
        let sum: Vec<f64> = site_a
            .into_vector()
            .iter()
            .zip(site_b.into_vector())
            .map(|(a, b)| a + b)
            .collect();
        let e = Evaluation::from_counts(&classes, 2, &sum).unwrap();
        assert_eq!(e.n, 4);
        assert_eq!(
            e.confusion,
            vec![vec![1, 1, 0], vec![0, 2, 0], vec![0, 0, 0]]
        );
        assert!((e.accuracy - 0.75).abs() < 1e-12);
        // F1: myeloblast 2·1/(2+1) = 2/3, lymphocyte 2·2/(2+3) = 0.8, monocyte absent
        assert_eq!(e.per_class_f1[2], None);
        assert!((e.macro_f1 - (2.0 / 3.0 + 0.8) / 2.0).abs() < 1e-12);
        // all confidences ≥ 0.5 → bin 1: mean conf (0.9+0.6+0.7+0.8)/4 = 0.75, acc 0.75
        assert_eq!(e.calibration[1].count, 4);
        assert!(e.ece.abs() < 1e-9);
        let loss = -(0.9f64.ln() + 0.3f64.ln() + 0.7f64.ln() + 0.8f64.ln()) / 4.0;
        assert!((e.mean_loss - loss).abs() < 1e-6);
    }

    #[test]
    fn inconsistent_sums_are_rejected() {
        let classes = [CellClass::Myeloblast, CellClass::Lymphocyte];
        let mut v = EvalAccumulator::new(2, 1);
        assert!(v.add(2, &[0.5, 0.5]).is_err());
        assert!(v.add(0, &[1.0]).is_err());
        v.add(0, &[0.6, 0.4]).unwrap();
        let mut s = v.into_vector();
        assert!(Evaluation::from_counts(&classes, 1, &s).is_ok());
        s[0] += 1.0;
        assert!(Evaluation::from_counts(&classes, 1, &s).is_err());
        assert!(Evaluation::from_counts(&classes, 2, &s).is_err());
    }
}
