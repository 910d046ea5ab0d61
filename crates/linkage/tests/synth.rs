//! Linkage on the generator's multi-site ground truth (`oncofed-synth`): German
//! names with typos, changed family names (birth name kept), day/month swaps
//! and missing insurance numbers, between two sites.

use oncofed_linkage::pprl::{
    ClkConfig, Encoder, Hardening, MatchConfig, ProjectSecret, match_clks,
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
    // Measured F1 at the recommended thresholds: none 0.9972, balanced 0.9921,
    // XOR-folded 0.9997; at anonlink's 0.75: none 0.9277, balanced 0.6743.
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
        (Hardening::None, 0.99),
        (Hardening::Balanced, 0.985),
        (Hardening::XorFold, 0.995),
    ] {
        let got = f1(h, h.recommended_threshold());
        assert!(got >= min, "{h:?}: F1 {got}");
    }
    // The documented failure of a Febrl-tuned threshold on realistic data.
    assert!(f1(Hardening::Balanced, 0.75) < 0.8);
}
