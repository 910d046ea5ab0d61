//! Differential privacy for analysis releases: the discrete Laplace mechanism.
//!
//! Where the noise is added:
//! - **describe, through the hub:** at the sites, before masking
//!   ([`crate::site::add_noise_share`], `oncofed_privacy::PolyaShare`): each
//!   site adds a share calibrated to its secure-aggregation threshold, so the
//!   sum the hub unmasks is already noised and the hub never holds the exact
//!   counts (distributed DP);
//! - **KM, Cox, GLM:** at the hub, on the released counts ([`noise_counts`];
//!   central DP): their fit needs the exact risk-set sums, so the hub holds the
//!   exact pooled counts (over time bins of ≥ k exits) and the researcher gets
//!   noised ones; in-memory federations (tests) noise describe here too.
//!
//! The privacy budget ledger in the hub charges the ε of every release to the
//! project and to the federation's lifetime dataset budget (basic composition);
//! a release without ε gets the hub's default. Noise is drawn from the
//! operating system's generator, never seeded: a repeated release draws fresh
//! noise and pays again.
//!
//! Counts are integers, so the noise is the discrete Laplace distribution
//! (`P(x) ∝ exp(−|x| / b)` on ℤ, `b = Δ / ε`), sampled exactly with integer
//! arithmetic by `oncofed_privacy::DiscreteLaplace` (Canonne, Kamath and Steinke
//! 2020, as OpenDP does): no floating-point value is derived from randomness, so
//! the floating-point attack on textbook Laplace samplers (Mironov, CCS 2012)
//! has nothing to work on. The true counts are rounded to whole numbers first
//! (the secure-aggregation codec's fixed point leaves up to `sites · 2⁻⁴⁹`), which does not
//! change the sensitivity.
//!
//! Everything a DP release says about the number of people — the run's `rows`
//! and `events` included — goes through [`noise_counts`] in one vector whose L1
//! sensitivity the caller states; nothing exact is released beside it.

use crate::AnalysisError;
use oncofed_privacy::DiscreteLaplace;

/// The counts rounded to integers plus independent discrete Laplace noise of
/// scale `sensitivity / epsilon` each, clamped at 0 (post-processing).
///
/// Refuses (as an invalid request) an ε whose scale the exact sampler cannot
/// represent (scales outside about 2⁻¹⁰ … 2⁶²).
pub fn noise_counts(
    counts: &[f64],
    sensitivity: f64,
    epsilon: f64,
) -> Result<Vec<u64>, AnalysisError> {
    let dist = DiscreteLaplace::from_scale(sensitivity / epsilon)
        .map_err(|e| AnalysisError::Invalid(format!("epsilon: {e}")))?;
    let mut rng = rand::rng();
    Ok(counts
        .iter()
        .map(|&c| {
            let exact = c.round().max(0.0) as i128; // saturating; counts are small
            let noisy = exact + i128::from(dist.sample(&mut rng));
            u64::try_from(noisy.max(0)).unwrap_or(u64::MAX)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_has_the_discrete_laplace_spread_and_is_fresh() {
        let n = 100_000;
        let counts = vec![1000.0; n];
        let noisy = noise_counts(&counts, 1.0, 0.5).unwrap();
        let draws: Vec<f64> = noisy.iter().map(|&c| c as f64 - 1000.0).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|x| x * x).sum::<f64>() / n as f64;
        // b = 2: Var = 2q / (1 − q)², q = e^-1/2.
        let q = (-0.5f64).exp();
        let want = 2.0 * q / (1.0 - q).powi(2);
        assert!(mean.abs() < 5.0 * (want / n as f64).sqrt(), "mean {mean}");
        assert!((var / want - 1.0).abs() < 0.05, "var {var}, want {want}");
        // Fresh: the same counts noised twice differ.
        assert_ne!(noisy, noise_counts(&counts, 1.0, 0.5).unwrap());
    }

    #[test]
    fn unrepresentable_scales_are_refused() {
        assert!(noise_counts(&[1.0], 1.0, 1e-30).is_err());
        assert!(noise_counts(&[1.0], 1.0, 1e30).is_err());
    }
}
