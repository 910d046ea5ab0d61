//! Shared test inputs: synthetic truth lists with a bone-marrow-like class mix.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use oncofed_model::CellClass;
use oncofed_validation::TruthCell;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The class mix of an AML marrow: rich in blasts (weights per class of the
/// eight-class differential).
const MIX: [f64; 8] = [0.30, 0.08, 0.08, 0.16, 0.14, 0.08, 0.04, 0.12];

/// `n` cells `cell-00000`, ... with classes drawn from the mix by `seed`.
pub fn truth(n: usize, seed: u64) -> Vec<TruthCell> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let mut u: f64 = rng.random();
            let mut class = CellClass::DIFFERENTIAL[7];
            for (c, w) in CellClass::DIFFERENTIAL.iter().zip(MIX) {
                if u < w {
                    class = *c;
                    break;
                }
                u -= w;
            }
            TruthCell {
                cell_id: format!("cell-{i:05}"),
                class,
            }
        })
        .collect()
}

/// When the simulated experts start labelling.
pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 8, 0, 0).unwrap()
}
