//! Descriptive statistics from additive aggregates: moments and fixed-bin histograms.
//!
//! Sites send counts and sums; the hub adds and derives mean and variance. The
//! sums are taken around a `shift` the hub chooses (any rough centre, e.g. a
//! published reference value), which avoids the catastrophic cancellation of the
//! naive `Σx² − (Σx)²/n` when the mean is large relative to the spread.

use serde::{Deserialize, Serialize};

use crate::error::StatsError;

/// Count, sum and sum of squares of `x − shift`; additive across sites.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    /// Number of values.
    pub n: u64,
    /// The centre the sums are taken around (the same at every site).
    pub shift: f64,
    /// `Σ (x − shift)`.
    pub sum: f64,
    /// `Σ (x − shift)²`.
    pub sum_sq: f64,
}

impl Moments {
    /// Site part: the moments of `values` around `shift`. Non-finite values are an
    /// error (drop missing values explicitly so the count is honest).
    pub fn from_values(values: &[f64], shift: f64) -> Result<Self, StatsError> {
        if !shift.is_finite() || values.iter().any(|v| !v.is_finite()) {
            return Err(StatsError::NonFinite { what: "value" });
        }
        let (sum, sum_sq) = values.iter().fold((0.0, 0.0), |(s, q), v| {
            let d = v - shift;
            (s + d, q + d * d)
        });
        Ok(Self {
            n: values.len() as u64,
            shift,
            sum,
            sum_sq,
        })
    }

    /// Adds another site's moments; the shifts must agree.
    pub fn add(&mut self, other: &Moments) -> Result<(), StatsError> {
        if self.shift != other.shift {
            return Err(StatsError::Mismatch { what: "shift" });
        }
        self.n += other.n;
        self.sum += other.sum;
        self.sum_sq += other.sum_sq;
        Ok(())
    }

    /// The mean, `None` for no values.
    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.shift + self.sum / self.n as f64)
    }

    /// The sample variance (denominator n − 1), `None` for fewer than two values.
    pub fn variance(&self) -> Option<f64> {
        (self.n > 1).then(|| {
            let n = self.n as f64;
            ((self.sum_sq - self.sum * self.sum / n) / (n - 1.0)).max(0.0)
        })
    }
}

/// Counts per fixed bin `[edges[i], edges[i+1])` (the last bin closed), plus
/// values below and above the range; additive across sites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Bin edges, strictly increasing, as chosen by the hub.
    pub edges: Vec<f64>,
    /// Count per bin (`edges.len() − 1` bins).
    pub counts: Vec<u64>,
    /// Values below `edges[0]`.
    pub below: u64,
    /// Values above the last edge.
    pub above: u64,
}

impl Histogram {
    /// Site part: bins `values` on the hub's `edges`.
    pub fn from_values(values: &[f64], edges: &[f64]) -> Result<Self, StatsError> {
        if edges.len() < 2
            || edges.iter().any(|e| !e.is_finite())
            || edges.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(StatsError::BadEdges);
        }
        let mut h = Self {
            edges: edges.to_vec(),
            counts: vec![0; edges.len() - 1],
            below: 0,
            above: 0,
        };
        let last = edges[edges.len() - 1];
        for &v in values {
            if !v.is_finite() {
                return Err(StatsError::NonFinite { what: "value" });
            }
            if v < edges[0] {
                h.below += 1;
            } else if v > last {
                h.above += 1;
            } else if v == last {
                h.counts[edges.len() - 2] += 1;
            } else {
                h.counts[edges.partition_point(|&e| e <= v) - 1] += 1;
            }
        }
        Ok(h)
    }

    /// Adds another site's histogram on the same edges.
    pub fn add(&mut self, other: &Histogram) -> Result<(), StatsError> {
        if self.edges != other.edges {
            return Err(StatsError::Mismatch {
                what: "histogram edges",
            });
        }
        self.counts
            .iter_mut()
            .zip(&other.counts)
            .for_each(|(a, b)| *a += b);
        self.below += other.below;
        self.above += other.above;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_moments_equal_the_single_process_moments() {
        let values: Vec<f64> = (0..100).map(|i| 1e9 + f64::from(i % 17) * 0.5).collect();
        let mut total = Moments::from_values(&[], 1e9).unwrap();
        for site in values.chunks(33) {
            total
                .add(&Moments::from_values(site, 1e9).unwrap())
                .unwrap();
        }
        let mean = values.iter().sum::<f64>() / 100.0;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 99.0;
        assert_eq!(total.n, 100);
        assert!((total.mean().unwrap() - mean).abs() < 1e-6);
        assert!((total.variance().unwrap() - var).abs() < 1e-10);
        assert_eq!(Moments::from_values(&[1.0], 0.0).unwrap().variance(), None);
        assert!(
            total
                .add(&Moments::from_values(&[1.0], 0.0).unwrap())
                .is_err()
        );
    }

    #[test]
    fn histogram_bins_are_half_open_with_a_closed_last_bin() {
        let h = Histogram::from_values(&[-1.0, 0.0, 0.5, 1.0, 2.0, 2.5], &[0.0, 1.0, 2.0]).unwrap();
        assert_eq!(h.counts, vec![2, 2]);
        assert_eq!((h.below, h.above), (1, 1));
        let mut sum = h.clone();
        sum.add(&h).unwrap();
        assert_eq!(sum.counts, vec![4, 4]);
        assert_eq!(
            Histogram::from_values(&[], &[1.0, 1.0]).unwrap_err(),
            StatsError::BadEdges
        );
    }
}
