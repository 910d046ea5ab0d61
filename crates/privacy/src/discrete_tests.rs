//! The discrete Laplace sampler against its probability mass function.

use super::*;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// Chi-square statistic of `n` draws against the pmf, over the cells
/// `≤ −k`, `−k+1 ..= k−1`, `≥ k`, with its degrees of freedom.
fn chi_square(d: &DiscreteLaplace, n: usize, k: i64, seed: u64) -> (f64, usize) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let cells = (2 * k + 1) as usize;
    let mut seen = vec![0u64; cells];
    for _ in 0..n {
        let x = d.sample(&mut rng).clamp(-k, k);
        seen[(x + k) as usize] += 1;
    }
    // Tail mass P(X ≥ k) = pmf(k) / (1 − q), q = exp(−1/b).
    let q = (-1.0 / d.scale()).exp();
    let tail = d.pmf(k) / (1.0 - q);
    let mut stat = 0.0;
    for (i, &o) in seen.iter().enumerate() {
        let x = i as i64 - k;
        let p = if x.abs() == k { tail } else { d.pmf(x) };
        let e = p * n as f64;
        stat += (o as f64 - e).powi(2) / e;
    }
    (stat, cells - 1)
}

/// The chi-square quantile at 1 − 10⁻⁶ (Wilson–Hilferty), so a correct sampler
/// fails about once in a million seeds; the seeds are fixed.
fn critical(df: usize) -> f64 {
    let d = df as f64;
    let z = 4.753;
    d * (1.0 - 2.0 / (9.0 * d) + z * (2.0 / (9.0 * d)).sqrt()).powi(3)
}

#[test]
fn draws_follow_the_pmf_chi_square() {
    // Integer, dyadic and non-dyadic scales (0.7 and 2.5 are fractions of
    // powers of two after the exact conversion, with large denominators).
    for (scale, k) in [(1.0, 8), (2.5, 15), (0.7, 6), (10.0, 40), (20.0, 60)] {
        let d = DiscreteLaplace::from_scale(scale).unwrap();
        assert_eq!(d.scale(), scale, "exact conversion");
        let (stat, df) = chi_square(&d, 200_000, k, 7);
        assert!(
            stat < critical(df),
            "b = {scale}: chi-square {stat:.1} on {df} df (critical {:.1})",
            critical(df)
        );
    }
}

#[test]
fn the_test_rejects_a_wrong_scale() {
    // Draws at b = 2.2 judged against the pmf of b = 2: the test must notice.
    let wrong = DiscreteLaplace::from_scale(2.2).unwrap();
    let claimed = DiscreteLaplace::from_scale(2.0).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let n = 200_000;
    let k = 12i64;
    let mut seen = vec![0u64; (2 * k + 1) as usize];
    for _ in 0..n {
        seen[(wrong.sample(&mut rng).clamp(-k, k) + k) as usize] += 1;
    }
    let q = (-1.0 / claimed.scale()).exp();
    let stat: f64 = seen
        .iter()
        .enumerate()
        .map(|(i, &o)| {
            let x = i as i64 - k;
            let p = if x.abs() == k {
                claimed.pmf(k) / (1.0 - q)
            } else {
                claimed.pmf(x)
            };
            (o as f64 - p * n as f64).powi(2) / (p * n as f64)
        })
        .sum();
    assert!(stat > critical(seen.len() - 1), "{stat}");
}

#[test]
fn moments_match_the_distribution() {
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    for b in [1.0, 5.0, 20.0] {
        let d = DiscreteLaplace::from_scale(b).unwrap();
        let n = 100_000;
        let draws: Vec<i64> = (0..n).map(|_| d.sample(&mut rng)).collect();
        let mean = draws.iter().sum::<i64>() as f64 / n as f64;
        let var = draws.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / n as f64;
        // Var = 2q / (1 − q)², q = exp(−1/b).
        let q = (-1.0 / b).exp();
        let want = 2.0 * q / (1.0 - q).powi(2);
        assert!(
            mean.abs() < 4.0 * (want / n as f64).sqrt(),
            "b = {b}: mean {mean}"
        );
        assert!(
            (var / want - 1.0).abs() < 0.05,
            "b = {b}: var {var}, want {want}"
        );
    }
}

#[test]
fn scales_convert_exactly_or_are_refused() {
    let d = DiscreteLaplace::from_scale(0.1).unwrap();
    assert_eq!(d.scale(), 0.1);
    assert_eq!(
        DiscreteLaplace::from_scale(20.0).unwrap(),
        DiscreteLaplace::new(20, 1).unwrap()
    );
    assert_eq!(
        DiscreteLaplace::from_scale(2.5).unwrap(),
        DiscreteLaplace::new(5, 2).unwrap()
    );
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-30, 1e30] {
        assert!(DiscreteLaplace::from_scale(bad).is_err(), "{bad}");
    }
    assert!(DiscreteLaplace::new(0, 1).is_err());
    assert!(DiscreteLaplace::new(1, 0).is_err());
}

#[test]
fn bernoulli_exp_has_the_right_mean() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    for (num, den) in [(0u128, 1u128), (1, 2), (1, 1), (5, 2), (7, 3)] {
        let n = 100_000;
        let hits = (0..n).filter(|_| bernoulli_exp(num, den, &mut rng)).count();
        let p = (-(num as f64) / den as f64).exp();
        let se = (p * (1.0 - p) / n as f64).sqrt().max(1e-9);
        assert!(
            ((hits as f64 / n as f64) - p).abs() < 5.0 * se + 1e-9,
            "exp(-{num}/{den}): {hits} of {n}, want {p}"
        );
    }
}
