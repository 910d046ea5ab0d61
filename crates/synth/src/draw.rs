//! Small random-drawing helpers on top of the per-person ChaCha stream.
//!
//! Kept in one place so that every draw goes through the same deterministic RNG
//! ([`person_rng`]) and the sampling code elsewhere reads like the model it implements.

use chrono::{Days, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// The RNG the generator uses everywhere.
pub type SynthRng = ChaCha8Rng;

/// The independent random stream of person `index` under `seed`.
///
/// ChaCha's 64-bit stream id separates persons, so person *i* is the same whatever
/// order (or thread) it is generated in.
pub fn person_rng(seed: u64, index: u64) -> SynthRng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    rng
}

/// A stream for things that belong to no person (Bundle ids of multi-patient files):
/// seeded from a different key so it never coincides with a person stream.
pub fn aux_rng(seed: u64, stream: u64) -> SynthRng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_B0B5_A11C_E5ED);
    rng.set_stream(stream);
    rng
}

/// True with probability `p`.
pub fn chance(rng: &mut SynthRng, p: f64) -> bool {
    rng.random::<f64>() < p
}

/// Uniform in `[0, 1)`.
pub fn unit(rng: &mut SynthRng) -> f64 {
    rng.random::<f64>()
}

/// Uniform in `[lo, hi)`.
pub fn uniform(rng: &mut SynthRng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// Uniform integer in `[lo, hi]` (inclusive); `lo` when the range is empty.
pub fn int(rng: &mut SynthRng, lo: i64, hi: i64) -> i64 {
    if hi <= lo {
        lo
    } else {
        rng.random_range(lo..=hi)
    }
}

/// Normal with the given mean and standard deviation.
pub fn normal(rng: &mut SynthRng, mean: f64, sd: f64) -> f64 {
    let z: f64 = rng.sample(StandardNormal);
    mean + sd * z
}

/// Log-normal with the given median and geometric standard deviation factor.
pub fn lognormal(rng: &mut SynthRng, median: f64, gsd: f64) -> f64 {
    median * (normal(rng, 0.0, 1.0) * gsd.ln()).exp()
}

/// Index drawn with probability proportional to `weights` (at least one positive).
pub fn weighted(rng: &mut SynthRng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    // Only reachable through rounding: the last index that can be drawn at all.
    weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
}

/// A uniformly chosen element.
pub fn pick<'a, T>(rng: &mut SynthRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// A random (version 4 layout) UUID, drawn from the deterministic stream.
pub fn uuid(rng: &mut SynthRng) -> String {
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(HEX[usize::from(x >> 4)] as char);
        s.push(HEX[usize::from(x & 15)] as char);
    }
    s
}

/// `date + days` (days ≥ 0).
pub fn add_days(date: NaiveDate, days: i64) -> NaiveDate {
    date.checked_add_days(Days::new(days.max(0) as u64))
        .unwrap_or(date)
}

/// `date - days` (days ≥ 0).
pub fn sub_days(date: NaiveDate, days: i64) -> NaiveDate {
    date.checked_sub_days(Days::new(days.max(0) as u64))
        .unwrap_or(date)
}

/// Whole days from `a` to `b` (negative when `b` is earlier).
pub fn days_between(a: NaiveDate, b: NaiveDate) -> i64 {
    (b - a).num_days()
}

/// A date uniform in `[lo, hi]`; `lo` when `hi < lo`.
pub fn date_between(rng: &mut SynthRng, lo: NaiveDate, hi: NaiveDate) -> NaiveDate {
    add_days(lo, int(rng, 0, days_between(lo, hi)))
}

/// A splitmix64 finaliser: a bijection on `u64`, used to turn (site, person index)
/// into local patient ids that look random but can never collide within a site.
pub fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Rounds to `digits` decimals (for lab values that print like a lab prints them).
pub fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: u64 = person_rng(1, 5).random();
        let b: u64 = person_rng(1, 5).random();
        let c: u64 = person_rng(1, 6).random();
        let d: u64 = person_rng(2, 5).random();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn uuid_has_v4_layout() {
        let u = uuid(&mut person_rng(0, 0));
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
    }
}
