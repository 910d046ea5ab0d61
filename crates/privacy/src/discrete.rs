//! Exact discrete Laplace sampling over the integers, with integer arithmetic only.
//!
//! Counts are integers, so their noise should be too: the discrete Laplace
//! distribution `P(X = x) ∝ exp(−|x| / b)` on ℤ gives ε-differential privacy for
//! a count of sensitivity Δ at `b = Δ / ε`, exactly as the continuous one does,
//! and it can be sampled *exactly*: no floating-point operation touches a random
//! value, so the gaps and rounding of floating-point Laplace samplers (Mironov,
//! CCS 2012) do not arise at all. The algorithm is Canonne, Kamath and Steinke,
//! "The Discrete Gaussian for Differential Privacy" (NeurIPS 2020), Algorithm 2,
//! with Bernoulli(exp(−γ)) for rational γ by their Algorithm 1 — the sampler
//! OpenDP uses (`sample_discrete_laplace`).
//!
//! The scale is a rational `b = num / den`. [`DiscreteLaplace::from_scale`]
//! converts an `f64` scale *exactly* (every finite `f64` is a dyadic rational),
//! so the only floating point is in the caller's `Δ / ε`, before any randomness.
//! All arithmetic is in `u128` with checked operations; the random source is any
//! [`RngCore`] (the operating system's for fresh noise, ChaCha20 seeded per query
//! for a site's deterministic noise).

use crate::ConfigError;
use rand_chacha::rand_core::RngCore;

/// Largest numerator or denominator of a scale: keeps every product in `u128`.
const MAX_PART: u128 = 1 << 62;

/// The discrete Laplace distribution with scale `num / den` on the integers.
///
/// Built once per release; [`DiscreteLaplace::sample`] draws from it exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscreteLaplace {
    num: u128,
    den: u128,
}

impl DiscreteLaplace {
    /// The distribution with scale `num / den` (both ≥ 1 and ≤ 2⁶²).
    pub fn new(num: u64, den: u64) -> Result<Self, ConfigError> {
        let (num, den) = (u128::from(num), u128::from(den));
        if num == 0 || den == 0 || num > MAX_PART || den > MAX_PART {
            return Err(ConfigError::BadScale(num as f64 / den.max(1) as f64));
        }
        Ok(Self { num, den })
    }

    /// The distribution with exactly the scale `scale` (finite, > 0): the `f64`
    /// is decomposed into mantissa and power of two, no rounding. Scales whose
    /// numerator or denominator would exceed 2⁶² (below about 2⁻¹⁰ or above 2⁶²)
    /// are refused.
    pub fn from_scale(scale: f64) -> Result<Self, ConfigError> {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(ConfigError::BadScale(scale));
        }
        let bits = scale.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i32;
        let fraction = bits & ((1u64 << 52) - 1);
        let (mut mantissa, mut exp) = if biased == 0 {
            (fraction, -1074)
        } else {
            (fraction | (1u64 << 52), biased - 1075)
        };
        let zeros = mantissa.trailing_zeros();
        mantissa >>= zeros;
        exp += zeros as i32;
        let bad = || ConfigError::BadScale(scale);
        let (num, den) = if exp >= 0 {
            let num = u128::from(mantissa)
                .checked_shl(exp as u32)
                .filter(|n| *n <= MAX_PART && n >> exp == u128::from(mantissa))
                .ok_or_else(bad)?;
            (num, 1)
        } else {
            let den = 1u128
                .checked_shl(exp.unsigned_abs())
                .filter(|d| *d <= MAX_PART);
            (u128::from(mantissa), den.ok_or_else(bad)?)
        };
        Ok(Self { num, den })
    }

    /// The scale `b` as a float, for reports and tests (never used to sample).
    pub fn scale(&self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// `P(X = x)` in floating point, for goodness-of-fit tests:
    /// `tanh(1 / 2b) · exp(−|x| / b)`.
    pub fn pmf(&self, x: i64) -> f64 {
        let b = self.scale();
        (0.5 / b).tanh() * (-(x.unsigned_abs() as f64) / b).exp()
    }

    /// One exact draw (Canonne–Kamath–Steinke, Algorithm 2, with `t = num`,
    /// `s = den`): a geometric `X` with `P ∝ exp(−x / num)` built from a uniform
    /// remainder and whole multiples, divided by `den`, with a random sign (the
    /// negative zero rejected so that 0 is not counted twice).
    pub fn sample<R: RngCore + ?Sized>(&self, rng: &mut R) -> i64 {
        loop {
            let u = uniform_below(self.num, rng);
            if !bernoulli_exp(u, self.num, rng) {
                continue;
            }
            let mut v: u128 = 0;
            while bernoulli_exp(1, 1, rng) {
                v += 1;
            }
            let Some(x) = v.checked_mul(self.num).and_then(|tv| tv.checked_add(u)) else {
                continue; // probability below e^-60: redraw rather than wrap
            };
            let y = x / self.den;
            let negative = rng.next_u32() & 1 == 1;
            if negative && y == 0 {
                continue;
            }
            let Ok(y) = i64::try_from(y) else { continue };
            return if negative { -y } else { y };
        }
    }
}

/// A uniform integer in `0..n` (`n ≥ 1`) by rejection: no modulo bias.
fn uniform_below<R: RngCore + ?Sized>(n: u128, rng: &mut R) -> u128 {
    if n <= 1 {
        return 0;
    }
    if n <= 1 << 64 {
        // Accept draws below the largest multiple of n that fits 2^64.
        let zone = ((1u128 << 64) / n) * n;
        loop {
            let x = u128::from(rng.next_u64());
            if x < zone {
                return x % n;
            }
        }
    }
    let rem = (u128::MAX % n + 1) % n; // 2^128 mod n
    loop {
        let x = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
        if rem == 0 || x <= u128::MAX - rem {
            return x % n;
        }
    }
}

/// Bernoulli(`num / den`), `num ≤ den`.
fn bernoulli<R: RngCore + ?Sized>(num: u128, den: u128, rng: &mut R) -> bool {
    uniform_below(den, rng) < num
}

/// Bernoulli(exp(−`num / den`)) (Canonne–Kamath–Steinke, Algorithm 1): for
/// γ ≤ 1 the parity of the first failure of Bernoulli(γ / k), k = 1, 2, …;
/// beyond 1, one Bernoulli(exp(−1)) per whole unit, then the fraction.
fn bernoulli_exp<R: RngCore + ?Sized>(num: u128, den: u128, rng: &mut R) -> bool {
    if num <= den {
        let mut k: u128 = 1;
        loop {
            let Some(kd) = den.checked_mul(k) else {
                return k % 2 == 1; // γ/k has underflowed to 0: the loop stops here
            };
            if !bernoulli(num, kd, rng) {
                return k % 2 == 1;
            }
            k += 1;
        }
    }
    for _ in 0..num / den {
        if !bernoulli_exp(1, 1, rng) {
            return false;
        }
    }
    bernoulli_exp(num % den, den, rng)
}

#[cfg(test)]
#[path = "discrete_tests.rs"]
mod tests;
