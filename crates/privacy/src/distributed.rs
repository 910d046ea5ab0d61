//! Distributed discrete Laplace noise: each of the sites adds a share before
//! its vector is masked, so that the sum the hub unmasks already carries the
//! noise and nobody — the hub included — holds the exact count (issue 11,
//! item 4).
//!
//! The discrete Laplace distribution of scale `b` is the difference of two
//! geometric variables with success probability `p = 1 − e^{−1/b}`, and a
//! geometric variable is infinitely divisible: it is the sum of `t`
//! independent negative binomials `NB(1/t, p)` (Pólya). So site `i` adds
//! `NB(1/t, p) − NB(1/t, p)`; the sum over any `s ≥ t` sites is `NB(s/t, p) −
//! NB(s/t, p)`, which is the discrete Laplace of scale `b` for `s = t` and has
//! *more* spread for `s > t` (a sum of the exact mechanism and independent
//! extra noise: still ε-DP). A site sets `t` to its secure-aggregation
//! threshold, the fewest sites whose sum can ever be unmasked, so sites that
//! drop out never leave the released sum under-noised. This is the
//! construction of Goryczka and Xiong ("A Comprehensive Comparison of
//! Multiparty Secure Additions with Differential Privacy", 2017) and of the
//! distributed geometric mechanism.
//!
//! **Sampling.** `NB(r, p)` for fractional `r` is drawn as a Poisson variable
//! whose rate is Gamma-distributed (`rand_distr`'s samplers): the output is an
//! integer, but the draw goes through floating point, so unlike
//! [`DiscreteLaplace`](crate::DiscreteLaplace) it is not an exact sampler. The
//! floating-point attack on textbook Laplace (Mironov 2012) reads the low bits
//! of a released float; here only an integer sum over several sites is
//! released, and each site's share is masked. The residual deviation from the
//! ideal distribution is not bounded formally; the test below checks the sum
//! of `t` shares against the exact probability mass function.

use rand::Rng;
use rand_distr::{Distribution, Gamma, Poisson};

use crate::ConfigError;

/// One site's share of discrete Laplace noise of scale `b` for a sum over at
/// least `t` sites.
#[derive(Debug, Clone)]
pub struct PolyaShare {
    gamma: Gamma<f64>,
}

impl PolyaShare {
    /// The share for scale `b = sensitivity / ε` and threshold `t ≥ 1`.
    pub fn new(scale: f64, t: usize) -> Result<Self, ConfigError> {
        if !(scale.is_finite() && scale > 0.0) || t == 0 {
            return Err(ConfigError::BadScale(scale));
        }
        // p = 1 − e^{−1/b}; the Gamma's scale (1 − p)/p = 1 / (e^{1/b} − 1).
        let theta = 1.0 / (1.0 / scale).exp_m1();
        let gamma = Gamma::new(1.0 / t as f64, theta).map_err(|_| ConfigError::BadScale(scale))?;
        Ok(Self { gamma })
    }

    /// `NB(1/t, p)`: Poisson with a Gamma(1/t, (1 − p)/p) rate.
    fn negative_binomial<R: Rng + ?Sized>(&self, rng: &mut R) -> i64 {
        let rate = self.gamma.sample(rng);
        if !(rate.is_finite() && rate > 0.0) {
            return 0;
        }
        Poisson::new(rate).map_or(0, |p| p.sample(rng).min(i64::MAX as f64) as i64)
    }

    /// One draw: `NB(1/t, p) − NB(1/t, p)`.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> i64 {
        self.negative_binomial(rng) - self.negative_binomial(rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DiscreteLaplace;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    /// The sum of `t` shares follows the discrete Laplace of scale `b`:
    /// chi-square goodness of fit on the central values, and the variance.
    #[test]
    fn the_sum_of_t_shares_is_discrete_laplace() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        for (b, t) in [(2.0, 3), (8.0, 5), (40.0, 2)] {
            let share = PolyaShare::new(b, t).unwrap();
            let exact = DiscreteLaplace::from_scale(b).unwrap();
            let n = 60_000;
            let draws: Vec<i64> = (0..n)
                .map(|_| (0..t).map(|_| share.sample(&mut rng)).sum())
                .collect();
            let q = (-1.0 / b).exp();
            let want = 2.0 * q / (1.0 - q).powi(2);
            let var = draws.iter().map(|&x| (x * x) as f64).sum::<f64>() / n as f64;
            assert!(
                (var / want - 1.0).abs() < 0.05,
                "b {b} t {t}: var {var} vs {want}"
            );
            // cells |x| ≤ b, the rest pooled
            let edge = b as i64;
            let mut chi2 = 0.0;
            let mut rest_expected = 1.0;
            for x in -edge..=edge {
                let expected = exact.pmf(x) * n as f64;
                rest_expected -= exact.pmf(x);
                let observed = draws.iter().filter(|&&d| d == x).count() as f64;
                chi2 += (observed - expected).powi(2) / expected;
            }
            let observed = draws.iter().filter(|&&d| d.abs() > edge).count() as f64;
            let expected = rest_expected * n as f64;
            chi2 += (observed - expected).powi(2) / expected;
            // df = 2·edge + 1; a generous 99.99 % bound: df + 6·sqrt(2 df)
            let df = (2 * edge + 1) as f64;
            assert!(
                chi2 < df + 6.0 * (2.0 * df).sqrt(),
                "b {b} t {t}: chi2 {chi2}, df {df}"
            );
        }
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(PolyaShare::new(0.0, 3).is_err());
        assert!(PolyaShare::new(f64::NAN, 3).is_err());
        assert!(PolyaShare::new(2.0, 0).is_err());
    }
}
