//! Shared setup for the analysis integration tests: sites held in memory, and
//! a deterministic pseudo-random source.

#![allow(dead_code)]

use oncofed_analysis::rows::Row;
use oncofed_analysis::site::compute;
use oncofed_analysis::{AnalysisError, Federation};
use oncofed_protocol::analysis::{Analysis, AnalysisRequest, Computation, IndexEvent};

/// Sites in memory; each site vector is rounded to `resolution` (as the
/// secure-aggregation fixed-point codec rounds it) before it is summed, or
/// summed exactly when `resolution` is 0.
pub struct InMemory {
    pub sites: Vec<Vec<Row>>,
    pub analysis: Analysis,
    /// The codec's resolution, or 0 for exact sums.
    pub resolution: f64,
}

impl InMemory {
    /// Sites whose vectors are summed exactly.
    pub fn new(sites: Vec<Vec<Row>>, analysis: Analysis) -> Self {
        InMemory {
            sites,
            analysis,
            resolution: 0.0,
        }
    }
}

impl Federation for InMemory {
    fn sites(&self) -> usize {
        self.sites.len()
    }
    fn sum(&mut self, c: Computation, len: usize) -> Result<Vec<f64>, AnalysisError> {
        let mut total = vec![0.0; len];
        for rows in &self.sites {
            let v = compute(rows, &self.analysis, &c)?;
            assert_eq!(v.len(), len, "layout of {c:?}");
            for (t, x) in total.iter_mut().zip(v) {
                *t += if self.resolution > 0.0 {
                    (x / self.resolution).round() * self.resolution
                } else {
                    x
                };
            }
        }
        Ok(total)
    }
}

/// A request in project `p` for the C34 cohort to run `analysis`, without
/// noise, not waiting.
pub fn request(analysis: Analysis) -> AnalysisRequest {
    AnalysisRequest {
        project: "p".into(),
        index: IndexEvent {
            icd10: "C34".into(),
        },
        cohort: None,
        analysis,
        epsilon: None,
        wait_seconds: None,
    }
}

/// A deterministic xorshift source of uniform values in [0, 1) from `seed`.
pub fn uniform(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    }
}
