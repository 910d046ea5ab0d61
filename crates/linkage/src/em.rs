//! Estimating m/u probabilities from the data instead of defaults.
//!
//! u (chance agreement) is the agreement rate on a deterministic sample of
//! record pairs, almost all of which are non-matches. m (agreement among true
//! matches) and the match share are fitted by expectation–maximisation on the
//! blocked candidate pairs with u held fixed (Jaro 1989; Winkler 1988), using
//! binary agreement (similarity ≥ 0.5) and skipping missing fields. Holding u
//! fixed avoids the classic bias of EM on blocked pairs, where the blocking
//! fields agree for non-matches too and their u would come out far too high.

use crate::probabilistic::{Config, FieldWeight, Weights, candidate_pairs, compare};
use crate::record::Record;

const CLAMP: (f64, f64) = (1e-5, 1.0 - 1e-5);

fn agreement(a: &Record, b: &Record, cfg: &Config) -> [Option<bool>; 11] {
    compare(a, b, cfg).map(|s| s.map(|s| s >= 0.5))
}

/// Estimates per-field weights for linking `a` with `b` (pass the same slice
/// twice for deduplication). `samples` random pairs estimate u; `iterations`
/// EM steps estimate m. Fields never observed keep the defaults of `cfg`.
pub fn estimate_weights(
    a: &[Record],
    b: &[Record],
    cfg: &Config,
    samples: usize,
    iterations: usize,
) -> Weights {
    let mut w = cfg.weights.clone();
    if a.is_empty() || b.is_empty() {
        return w;
    }
    // u from a spread of pairs (i, j) with j stepping by a large odd stride.
    let (mut agree, mut seen) = ([0u64; 11], [0u64; 11]);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..samples {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let i = (state >> 33) as usize % a.len();
        let j = (state >> 11) as usize % b.len();
        for (f, g) in agreement(&a[i], &b[j], cfg).iter().enumerate() {
            if let Some(g) = g {
                seen[f] += 1;
                agree[f] += u64::from(*g);
            }
        }
    }
    for f in 0..11 {
        if seen[f] > 0 {
            // Add-one smoothing: a field that never agreed by chance is not infinitely strong.
            w.fields[f].u =
                ((agree[f] as f64 + 1.0) / (seen[f] as f64 + 2.0)).clamp(CLAMP.0, CLAMP.1);
        }
    }
    let pairs = candidate_pairs(a, b, &cfg.blocking, std::ptr::eq(a, b));
    let gammas: Vec<[Option<bool>; 11]> = pairs
        .iter()
        .map(|&(i, j)| agreement(&a[i as usize], &b[j as usize], cfg))
        .collect();
    if gammas.is_empty() {
        return w;
    }
    let mut p = (a.len().min(b.len()) as f64 / gammas.len() as f64).clamp(0.01, 0.99);
    for _ in 0..iterations {
        let (mut num, mut den) = ([0f64; 11], [0f64; 11]);
        let mut total = 0.0;
        for g in &gammas {
            let (mut lm, mut lu) = (p.ln(), (1.0 - p).ln());
            for (f, x) in g.iter().enumerate() {
                let FieldWeight { m, u } = w.fields[f];
                match x {
                    Some(true) => {
                        lm += m.ln();
                        lu += u.ln();
                    }
                    Some(false) => {
                        lm += (1.0 - m).ln();
                        lu += (1.0 - u).ln();
                    }
                    None => {}
                }
            }
            let post = 1.0 / (1.0 + (lu - lm).exp());
            total += post;
            for (f, x) in g.iter().enumerate() {
                if let Some(x) = x {
                    den[f] += post;
                    num[f] += post * f64::from(u8::from(*x));
                }
            }
        }
        p = (total / gammas.len() as f64).clamp(1e-4, 1.0 - 1e-4);
        for f in 0..11 {
            if den[f] > 0.0 {
                w.fields[f].m = (num[f] / den[f]).clamp(CLAMP.0, CLAMP.1);
            }
        }
    }
    w
}
