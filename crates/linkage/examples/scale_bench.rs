//! Linkage at scale with blocking: two Febrl-format CSVs (e.g. from
//! `synth_export DIR 1500000`, about 1 M × 1 M records), plaintext and PPRL
//! with keyed blocking, on 2 threads. Prints time, comparisons, F1 and peak memory.
//!
//! `cargo run --release -p oncofed-linkage --example scale_bench -- a.csv b.csv`

use oncofed_linkage::febrl::{load, quality};
use oncofed_linkage::pprl::{
    ClkBlocking, ClkConfig, Encoder, MatchConfig, ProjectSecret, match_clks_blocked,
};
use oncofed_linkage::probabilistic::candidate_pairs;
use oncofed_linkage::{Config, Outcome, link};
use serde_json::json;
use std::time::Instant;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [pa, pb] = args.as_slice() else {
        return Err("usage: scale_bench a.csv b.csv".into());
    };
    let t = Instant::now();
    let (a, b) = (load(pa.as_ref())?, load(pb.as_ref())?);
    let load_s = t.elapsed().as_secs_f64();

    let cfg = Config {
        threads: 2,
        ..Config::default()
    };
    let t = Instant::now();
    let candidates = candidate_pairs(&a, &b, &cfg.blocking, false).len();
    let blocking_s = t.elapsed().as_secs_f64();
    let per_pass: Vec<(String, usize)> = cfg
        .blocking
        .iter()
        .map(|k| {
            (
                format!("{k:?}"),
                candidate_pairs(&a, &b, &[*k], false).len(),
            )
        })
        .collect();
    println!("{}", json!({ "candidate_pairs_per_pass": per_pass }));
    let t = Instant::now();
    let results = link(&a, &b, &cfg);
    let link_s = t.elapsed().as_secs_f64();
    let q = quality(
        &a,
        &b,
        results
            .iter()
            .filter(|r| r.outcome == Outcome::Match)
            .map(|r| (r.a, r.b)),
    );
    println!(
        "{}",
        json!({"mode": "plaintext", "records": [a.len(), b.len()], "candidate_pairs": candidates,
               "blocking_seconds": blocking_s, "link_seconds": link_s, "load_seconds": load_s,
               "f1": q.f1, "precision": q.precision, "recall": q.recall, "peak_rss_mib": peak_rss_mib()})
    );

    let enc = Encoder::new(
        &ProjectSecret::new(b"oncofed scale benchmark secret!!".to_vec())?,
        &ClkConfig::default(),
    )?;
    let t = Instant::now();
    let (ca, cb) = (enc.encode_all(&a, 2), enc.encode_all(&b, 2));
    let ka: Vec<_> = a
        .iter()
        .map(|r| enc.blocking_keys(r, &cfg.blocking))
        .collect();
    let kb: Vec<_> = b
        .iter()
        .map(|r| enc.blocking_keys(r, &cfg.blocking))
        .collect();
    let encode_s = t.elapsed().as_secs_f64();
    let mcfg = MatchConfig {
        blocking: ClkBlocking::Keys,
        threads: 2,
        ..MatchConfig::default()
    };
    let (links, stats) = match_clks_blocked(&ca, &ka, &cb, &kb, &mcfg);
    let q = quality(&a, &b, links.iter().map(|l| (l.a, l.b)));
    println!(
        "{}",
        json!({"mode": "pprl balanced, keyed blocking", "threshold": mcfg.threshold, "encode_and_key_seconds": encode_s,
               "match_seconds": stats.seconds, "comparisons": stats.comparisons,
               "f1": q.f1, "precision": q.precision, "recall": q.recall, "peak_rss_mib": peak_rss_mib()})
    );
    Ok(())
}
