//! Differential privacy for analysis releases: the Laplace mechanism.
//!
//! The hub adds the noise to the pooled counts before release (central DP: the
//! hub is trusted with the masked sum, the researcher is not), and the privacy
//! budget ledger in the hub charges the ε of every release to the researcher and
//! project. Noise is drawn from the operating system's generator, never seeded:
//! a repeated release draws fresh noise and pays again.
//!
//! The Laplace draw is by inversion of a uniform in (0, 1) with 53 random bits.
//! Textbook floating-point Laplace sampling leaks through the gaps in the set of
//! representable results (Mironov, CCS 2012); at the scales used here (b ≥ 1 for
//! counts) and with released values rounded to whole numbers afterwards, the
//! rounding is the snapping defence Mironov proposes, up to the clamp.

use rand::Rng;

/// One Laplace(0, `scale`) draw.
pub fn laplace(scale: f64, rng: &mut impl Rng) -> f64 {
    // u uniform in the open interval (-1/2, 1/2)
    let u = loop {
        let x: f64 = rng.random::<f64>() - 0.5;
        if x.abs() < 0.5 {
            break x;
        }
    };
    -scale * u.signum() * (1.0 - 2.0 * u.abs()).ln()
}

/// Adds Laplace(0, `scale`) to every value and clamps at 0 (counts), in place.
pub fn laplace_in_place(values: &mut [f64], scale: f64) {
    let mut rng = rand::rng();
    for v in values {
        *v = (*v + laplace(scale, &mut rng)).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laplace_has_the_right_spread() {
        let mut rng = rand::rng();
        let n = 200_000;
        let draws: Vec<f64> = (0..n).map(|_| laplace(2.0, &mut rng)).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let mad = draws.iter().map(|x| x.abs()).sum::<f64>() / n as f64;
        // E|X| = b for Laplace(0, b); 6 standard errors of slack.
        assert!(mean.abs() < 0.04, "mean {mean}");
        assert!((mad - 2.0).abs() < 0.03, "mean absolute deviation {mad}");
    }
}
