//! Linkage on the generator's multi-site ground truth (`oncofed-synth`): German
//! names with typos, changed family names (birth name kept), day/month swaps
//! and missing insurance numbers, between two sites.

use oncofed_linkage::pprl::{
    ClkConfig, DEFAULT_THRESHOLD, Encoder, Hardening, MatchConfig, ProjectSecret, dice, match_clks,
};
use oncofed_linkage::{Config, Outcome, Record, link};
use oncofed_synth::{MultiSiteRates, SynthConfig, person};
use std::collections::HashSet;

/// Records of site-1 and site-2, each with the true person id as `id`.
fn two_sites(persons: u64) -> (Vec<Record>, Vec<Record>) {
    let cfg = SynthConfig {
        persons,
        sites: 2,
        multi_site: MultiSiteRates {
            two_sites: 0.3,
            three_sites: 0.0,
        },
        ..SynthConfig::default()
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..persons {
        let p = person(&cfg, i);
        for rec in &p.sites {
            let r = Record::from_idat(p.person_id.clone(), &rec.identity);
            if rec.site.as_str() == "site-1" {
                a.push(r)
            } else {
                b.push(r)
            }
        }
    }
    (a, b)
}

/// (precision, recall, F1) with "same person id" as truth.
fn prf(
    a: &[Record],
    b: &[Record],
    links: impl IntoIterator<Item = (usize, usize)>,
) -> (f64, f64, f64) {
    let ids: HashSet<&str> = b.iter().map(|r| r.id.as_str()).collect();
    let truth = a.iter().filter(|r| ids.contains(r.id.as_str())).count();
    let (mut n, mut tp) = (0, 0);
    for (i, j) in links {
        n += 1;
        tp += usize::from(a[i].id == b[j].id);
    }
    let (p, r) = (tp as f64 / n.max(1) as f64, tp as f64 / truth.max(1) as f64);
    (
        p,
        r,
        if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        },
    )
}

#[test]
fn synthetic_multi_site_cohort_plaintext() {
    // Measured (6,000 persons, 30 % at both sites): P 0.9994, R 1.0, F1 0.9997.
    let (a, b) = two_sites(6000);
    let results = link(&a, &b, &Config::default());
    let m = prf(
        &a,
        &b,
        results
            .iter()
            .filter(|r| r.outcome == Outcome::Match)
            .map(|r| (r.a, r.b)),
    );
    assert!(m.0 >= 0.995 && m.1 >= 0.995, "{m:?}");
}

#[test]
fn synthetic_multi_site_cohort_pprl() {
    // Measured F1 (6,000 persons, 30 % at both sites, one-to-one, generator's
    // default variation) at each encoding's recommended threshold: None and
    // Permuted (0.77) 0.9774, Balanced (0.75) 0.9831, XorFold (0.63) 0.9820.
    // This cohort has few corruptions, so higher thresholds would do better
    // here (None at 0.80: 0.997); the thresholds were chosen on the more
    // corrupted tuning split (Hardening::recommended_threshold), and Febrl4
    // needs them as low.
    let (a, b) = two_sites(6000);
    let secret = ProjectSecret::new(b"synthetic cohort secret, 32 byte".to_vec()).unwrap();
    let f1 = |hardening: Hardening, threshold: f64| {
        let enc = Encoder::new(
            &secret,
            &ClkConfig {
                hardening,
                ..ClkConfig::default()
            },
        )
        .unwrap();
        let (ca, cb) = (enc.encode_all(&a, 2), enc.encode_all(&b, 2));
        let cfg = MatchConfig {
            threshold,
            threads: 2,
            ..MatchConfig::default()
        };
        let (links, _) = match_clks(&ca, &cb, &cfg);
        prf(&a, &b, links.iter().map(|l| (l.a, l.b))).2
    };
    for (h, min) in [
        (Hardening::None, 0.97),
        (Hardening::Permuted, 0.97),
        (Hardening::Balanced, 0.975),
        (Hardening::XorFold, 0.975),
    ] {
        let got = f1(h, h.recommended_threshold());
        println!("{h:?} at {}: F1 {got:.4}", h.recommended_threshold());
        assert!(got >= min, "{h:?}: F1 {got}");
    }
    // Before issue 18 the balanced encoding had a Dice floor near 0.75 and
    // scored F1 0.67 here at 0.75; at its default threshold (0.75) it now
    // beats the unhardened (clkhash-equivalent) encoding at anonlink's 0.75.
    let unhardened = f1(Hardening::None, 0.75);
    let balanced = f1(Hardening::Balanced, DEFAULT_THRESHOLD);
    println!("None at 0.75: F1 {unhardened:.4}; Balanced at {DEFAULT_THRESHOLD}: F1 {balanced:.4}");
    assert!(balanced > unhardened + 0.02, "{balanced} vs {unhardened}");
}

/// Unrelated persons of the synthetic population (true identities of
/// different persons, generator seed 99, which neither the tuning split nor
/// any other test uses) stay below the default threshold under the default
/// encoding: at most 1 pair in 10,000 at or above it, the 99.9th percentile
/// at least 0.03 below it, the median near 0.55. Fails if the balanced Dice
/// floor comes back (before issue 18 the tuning split had unrelated pairs at
/// median 0.687 and 2.0 % of them ≥ 0.75).
#[test]
fn unrelated_persons_score_below_the_default_threshold() {
    let cfg = SynthConfig {
        seed: 99,
        persons: 1500,
        sites: 1,
        ..SynthConfig::default()
    };
    let records: Vec<Record> = (0..cfg.persons)
        .map(|i| Record::from_idat("", &person(&cfg, i).identity))
        .collect();
    let secret = ProjectSecret::new(b"unrelated persons floor test key".to_vec()).unwrap();
    let clk = ClkConfig::default();
    let enc = Encoder::new(&secret, &clk).unwrap();
    let clks = enc.encode_all(&records, 2);
    let threshold = MatchConfig::for_encoding(&clk).threshold;
    assert_eq!(threshold, DEFAULT_THRESHOLD);
    let mut scores = Vec::with_capacity(clks.len() * (clks.len() - 1) / 2);
    for (i, x) in clks.iter().enumerate() {
        for y in &clks[i + 1..] {
            scores.push(dice(x, y));
        }
    }
    scores.sort_by(f64::total_cmp);
    let q = |p: f64| scores[((scores.len() - 1) as f64 * p) as usize];
    let above = scores.len() - scores.partition_point(|&s| s < threshold);
    println!(
        "{} unrelated pairs: median {:.3}, p99.9 {:.3}, max {:.3}, {above} ≥ {threshold}",
        scores.len(),
        q(0.5),
        q(0.999),
        q(1.0)
    );
    assert!(q(0.5) < 0.6, "median {}", q(0.5));
    assert!(q(0.999) < threshold - 0.03, "p99.9 {}", q(0.999));
    assert!(
        above * 10_000 <= scores.len(),
        "{above} pairs ≥ {threshold}"
    );
}
