//! The hub's view of one site's masked vector is indistinguishable from uniform
//! noise: statistical tests over many rounds with a fixed input, all zeros versus
//! a fixed non-zero vector, and two wide-codec vectors (`WideFixedPoint`, the
//! analysis vectors' encoding) of different values. Each check has a false-alarm
//! rate of 1e-6, so the fourteen checks together fail spuriously in about one run
//! in 70,000 (CI must not flake); the control test below shows they still have
//! power.
//!
//! Run with `--nocapture` to see the statistics.

use oncofed_secagg::{AggregationRound, FixedPoint, RoundId, SiteId, SiteSession, WideFixedPoint};

const ROUNDS: usize = 2000;
const LEN: usize = 64;
const SITES: usize = 3;
/// Two-sided standard normal quantile for p = 1e-6.
const Z_999: f64 = 4.8916;

/// Runs `ROUNDS` rounds of 3 sites where site 0 sends `input`; returns site 0's
/// masked vectors exactly as the hub receives them.
fn hub_views(input: &[u64]) -> Vec<Vec<u64>> {
    (0..ROUNDS)
        .map(|r| {
            let round = RoundId::new(format!("indist-{r}")).unwrap();
            let ids: Vec<SiteId> = (0..SITES as u32).map(SiteId).collect();
            let mut hub = AggregationRound::new(round.clone(), &ids, 2).unwrap();
            let mut sessions = Vec::new();
            for &id in &ids {
                let (s, p) = SiteSession::new(id, round.clone(), 2);
                hub.add_share(p).unwrap();
                sessions.push(s);
            }
            let keys = hub.close_keys().unwrap();
            for s in &mut sessions {
                let e = s.share_keys(&keys).unwrap();
                hub.add_encrypted_shares(s.site(), e).unwrap();
            }
            let inbox = hub.close_shares().unwrap();
            sessions[0].mask(&inbox[&SiteId(0)], input).unwrap().values
        })
        .collect()
}

fn fixed_input() -> Vec<u64> {
    let values: Vec<f64> = (0..LEN).map(|k| (k as f64 - 32.0) * 1.25).collect();
    FixedPoint::DEFAULT.encode(&values).unwrap()
}

/// `LEN` ring elements of the wide codec (the analysis vectors' encoding): 32
/// values, two limbs each, the high limbs mostly 0 or all ones.
fn wide_input(values: impl Fn(usize) -> f64) -> Vec<u64> {
    let values: Vec<f64> = (0..LEN / WideFixedPoint::LIMBS).map(values).collect();
    WideFixedPoint::DEFAULT.encode(&values).unwrap()
}

/// Upper tail of the chi-square distribution (Wilson–Hilferty approximation).
fn chi2_p(x: f64, df: f64) -> f64 {
    let h = 2.0 / (9.0 * df);
    let z = ((x / df).cbrt() - (1.0 - h)) / h.sqrt();
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7).
fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    poly * (-x * x).exp()
}

/// Chi-square goodness of fit to uniform over 256 buckets of `byte(value)`.
fn chi2_uniform(views: &[Vec<u64>], byte: impl Fn(u64) -> u8) -> (f64, f64) {
    let mut counts = [0u64; 256];
    for v in views.iter().flatten() {
        counts[byte(*v) as usize] += 1;
    }
    let n: u64 = counts.iter().sum();
    let e = n as f64 / 256.0;
    let stat: f64 = counts.iter().map(|&c| (c as f64 - e).powi(2) / e).sum();
    (stat, chi2_p(stat, 255.0))
}

/// Chi-square test of homogeneity of the low-byte histograms of two samples.
fn chi2_homogeneity(a: &[Vec<u64>], b: &[Vec<u64>]) -> (f64, f64) {
    let hist = |v: &[Vec<u64>]| {
        let mut h = [0f64; 256];
        for x in v.iter().flatten() {
            h[(*x & 0xff) as usize] += 1.0;
        }
        h
    };
    let (ha, hb) = (hist(a), hist(b));
    let (na, nb): (f64, f64) = (ha.iter().sum(), hb.iter().sum());
    let mut stat = 0.0;
    for k in 0..256 {
        let col = ha[k] + hb[k];
        if col == 0.0 {
            continue;
        }
        let ea = col * na / (na + nb);
        let eb = col * nb / (na + nb);
        stat += (ha[k] - ea).powi(2) / ea + (hb[k] - eb).powi(2) / eb;
    }
    (stat, chi2_p(stat, 255.0))
}

fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Welch's z for the difference of means of all coordinates mapped to [0, 1).
fn mean_z(a: &[Vec<u64>], b: &[Vec<u64>]) -> f64 {
    let stats = |v: &[Vec<u64>]| {
        let xs: Vec<f64> = v.iter().flatten().map(|x| unit(*x)).collect();
        let n = xs.len() as f64;
        let m = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
        (m, var, n)
    };
    let ((ma, va, na), (mb, vb, nb)) = (stats(a), stats(b));
    (ma - mb) / (va / na + vb / nb).sqrt()
}

/// Nearest-class-mean classifier over the 64 coordinates, trained on the first
/// half of each sample, tested on the second half; returns (accuracy, tests).
fn classifier_accuracy(a: &[Vec<u64>], b: &[Vec<u64>]) -> (f64, usize) {
    let half = a.len() / 2;
    let means = |v: &[Vec<u64>]| -> Vec<f64> {
        (0..LEN)
            .map(|k| v.iter().map(|x| unit(x[k])).sum::<f64>() / v.len() as f64)
            .collect()
    };
    let (ma, mb) = (means(&a[..half]), means(&b[..half]));
    let dist = |x: &[u64], m: &[f64]| -> f64 {
        x.iter().zip(m).map(|(x, m)| (unit(*x) - m).powi(2)).sum()
    };
    let mut correct = 0;
    for x in &a[half..] {
        correct += usize::from(dist(x, &ma) < dist(x, &mb));
    }
    for x in &b[half..] {
        correct += usize::from(dist(x, &mb) < dist(x, &ma));
    }
    let tests = a.len() - half + b.len() - half;
    (correct as f64 / tests as f64, tests)
}

#[test]
fn a_sites_masked_vector_is_indistinguishable_from_uniform_noise() {
    indistinguishable(["zeros", "fixed"], &[0; LEN], &fixed_input());
}

/// The same for two wide-codec vectors of different values (small negative
/// ones against large positive ones, so both limbs differ).
#[test]
fn masked_wide_vectors_of_different_inputs_are_indistinguishable() {
    indistinguishable(
        ["wide small", "wide large"],
        &wide_input(|k| -(k as f64) * 1e-3),
        &wide_input(|k| 1e9 + k as f64 * 12345.678),
    );
}

/// Site 0's masked `zeros` and `fixed` (ring vectors of `LEN`, named `names`),
/// each over `ROUNDS` rounds: both uniform in the low and top byte,
/// homogeneous, with equal means, and no classifier tells them apart.
fn indistinguishable(names: [&str; 2], zeros: &[u64], fixed: &[u64]) {
    let zeros = hub_views(zeros);
    let fixed = hub_views(fixed);
    let [a, b] = names;
    println!("{ROUNDS} rounds x {LEN} values per input, {SITES} sites");
    for (name, views) in [(a, &zeros), (b, &fixed)] {
        let (low, p_low) = chi2_uniform(views, |x| x as u8);
        let (top, p_top) = chi2_uniform(views, |x| (x >> 56) as u8);
        println!(
            "{name}: low byte chi2 = {low:.1} (p = {p_low:.3}), top byte chi2 = {top:.1} (p = {p_top:.3}), df 255"
        );
        assert!(p_low > 1e-6 && p_top > 1e-6, "{name} is not uniform");
    }
    let (hom, p_hom) = chi2_homogeneity(&zeros, &fixed);
    println!("{a} vs {b}: low-byte homogeneity chi2 = {hom:.1} (p = {p_hom:.3})");
    assert!(p_hom > 1e-6);
    let z = mean_z(&zeros, &fixed);
    println!("{a} vs {b}: Welch z of means = {z:.3} (|z| < {Z_999})");
    assert!(z.abs() < Z_999);
    let (acc, tests) = classifier_accuracy(&zeros, &fixed);
    let tolerance = Z_999 * 0.5 / (tests as f64).sqrt();
    println!(
        "nearest-mean classifier: accuracy {acc:.3} on {tests} held-out vectors (chance 0.5 ± {tolerance:.3})"
    );
    assert!((acc - 0.5).abs() < tolerance);
}

/// The same tests have power: on the unmasked inputs they fail at once.
#[test]
fn the_tests_detect_an_unmasked_input() {
    let raw: Vec<Vec<u64>> = (0..ROUNDS).map(|_| fixed_input()).collect();
    let zeros: Vec<Vec<u64>> = (0..ROUNDS).map(|_| vec![0; LEN]).collect();
    let (_, p) = chi2_uniform(&raw, |x| x as u8);
    assert!(p < 1e-6, "p = {p}");
    let (acc, _) = classifier_accuracy(&zeros, &raw);
    assert!(acc > 0.99);
    let (a, b) = (
        wide_input(|k| -(k as f64) * 1e-3),
        wide_input(|k| 1e9 + k as f64 * 12345.678),
    );
    let (a, b): (Vec<Vec<u64>>, Vec<Vec<u64>>) =
        (0..ROUNDS).map(|_| (a.clone(), b.clone())).unzip();
    let (acc, _) = classifier_accuracy(&a, &b);
    assert!(acc > 0.99);
}
