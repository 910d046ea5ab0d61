//! Threshold sweep on Febrl4 for both modes: how the defaults were chosen.
//!
//! `cargo run -p oncofed-linkage --example febrl_tune [k-scale]`

use oncofed_linkage::febrl::{entity, febrl4_paths, load, quality};
use oncofed_linkage::pprl::{
    ClkBlocking, ClkConfig, Encoder, Hardening, MatchConfig, ProjectSecret, match_clks,
    match_clks_blocked,
};
use oncofed_linkage::probabilistic::candidate_pairs;
use oncofed_linkage::{Config, greedy_one_to_one, link};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (pa, pb) = febrl4_paths();
    let (a, b) = (load(&pa)?, load(&pb)?);
    let scale: f64 = std::env::args().nth(1).map_or(Ok(1.0), |s| s.parse())?;

    let cfg = Config::default();
    let pairs = candidate_pairs(&a, &b, &cfg.blocking, false);
    let covered = pairs
        .iter()
        .filter(|(i, j)| entity(&a[*i as usize].id) == entity(&b[*j as usize].id))
        .count();
    println!(
        "plaintext blocking: {} candidate pairs, {covered} true pairs covered",
        pairs.len()
    );
    let all = link(
        &a,
        &b,
        &Config {
            possible_threshold: 0.3,
            match_threshold: 0.3,
            one_to_one: false,
            ..cfg
        },
    );
    for t in [0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8] {
        let kept: Vec<_> = all.iter().filter(|r| r.score >= t).copied().collect();
        let kept = greedy_one_to_one(kept, |r| (r.a, r.b, r.score));
        let q = quality(&a, &b, kept.iter().map(|r| (r.a, r.b)));
        println!(
            "plaintext t={t}: P={:.4} R={:.4} F1={:.4}",
            q.precision, q.recall, q.f1
        );
    }

    let secret = ProjectSecret::new(b"oncofed febrl4 benchmark secret!".to_vec())?;
    for hardening in [
        Hardening::None,
        Hardening::SaltBirthYear,
        Hardening::XorFold,
        Hardening::Balanced,
    ] {
        let mut clk = ClkConfig {
            hardening,
            ..ClkConfig::default()
        };
        for f in &mut clk.fields {
            f.1 = ((f64::from(f.1) * scale).round() as u32).clamp(1, 64);
        }
        let enc = Encoder::new(&secret, &clk)?;
        let (ca, cb) = (enc.encode_all(&a, 2), enc.encode_all(&b, 2));
        let mean = ca.iter().map(|c| f64::from(c.popcount())).sum::<f64>() / ca.len() as f64;
        let cfg = MatchConfig {
            threshold: 0.5,
            threads: 2,
            one_to_one: false,
            ..MatchConfig::default()
        };
        let (links, _) = match_clks(&ca, &cb, &cfg);
        let mut line = format!("{hardening:?} (mean popcount {mean:.0}):");
        for t in [0.7, 0.72, 0.75, 0.78, 0.8, 0.82, 0.84, 0.85, 0.87] {
            let kept: Vec<_> = links.iter().filter(|l| l.dice >= t).copied().collect();
            let kept = greedy_one_to_one(kept, |l| (l.a, l.b, l.dice));
            let q = quality(&a, &b, kept.iter().map(|l| (l.a, l.b)));
            line += &format!(" t={t}: F1={:.4} (P={:.4})", q.f1, q.precision);
        }
        println!("{line}");
        if hardening != Hardening::Balanced && hardening != Hardening::None {
            continue;
        }
        let passes = Config::default().blocking;
        let ka: Vec<_> = a.iter().map(|r| enc.blocking_keys(r, &passes)).collect();
        let kb: Vec<_> = b.iter().map(|r| enc.blocking_keys(r, &passes)).collect();
        let cfg = MatchConfig {
            threshold: 0.75,
            threads: 1,
            ..MatchConfig::default()
        };
        let (links, stats) = match_clks_blocked(&ca, &ka, &cb, &kb, &cfg);
        let q = quality(&a, &b, links.iter().map(|l| (l.a, l.b)));
        println!(
            "  keyed blocks: F1={:.4} comparisons={}",
            q.f1, stats.comparisons
        );
        for (bands, bits) in [(32, 8), (48, 10), (64, 12), (100, 14)] {
            let blocking = ClkBlocking::Lsh {
                bands,
                bits,
                seed: 7,
            };
            let (links, stats) = match_clks(&ca, &cb, &MatchConfig { blocking, ..cfg });
            let q = quality(&a, &b, links.iter().map(|l| (l.a, l.b)));
            println!(
                "  lsh {bands}x{bits}: F1={:.4} comparisons={}",
                q.f1, stats.comparisons
            );
        }
    }
    Ok(())
}
