//! Side by side with the PyPI peers anonlink 0.15.3 + clkhash 0.18.3, in one
//! run, on two splits: Febrl4 (every record has a partner) and a synthetic
//! split where most records of the larger file have none
//! (`tests/common/split.rs`: originals in A, one to three corrupted copies of
//! a quarter of them in B, generator seed `TEST_SEED`, which differs from the
//! seed the default threshold was chosen on).
//!
//! Ours: the default encoding ([`ClkConfig::default`], balanced) at its default
//! threshold ([`MatchConfig::default`]). The peer: clkhash (unhardened CLKs,
//! same fields, `k`, 1024 bits) and anonlink at its customary Dice 0.75, all
//! pairs. Both sides read the same CSV files. Asserted, on both splits and in
//! both modes: our F1 ≥ the peer's − 0.005.
//! - one-to-one: greedy best-first, anonlink's `greedy_solve`;
//! - many-to-one: every B record links to its best A at or above the
//!   threshold (the peer's from anonlink's candidate pairs, the same way).
//!
//! The peer script is `scripts/peers/linkage/anonlink_febrl.py`; the Python is
//! `ONCOFED_PYTHON` or `.venv/bin/python` (installed by `scripts/setup-peers`).
//! Without it the tests say so and pass, unless `ONCOFED_REQUIRE_PEERS` is set
//! (then they fail). Throughput figures are meaningful only with
//! `cargo test --release -p oncofed-linkage --test anonlink_peer -- --nocapture`.

mod common;

use common::split;
use oncofed_linkage::febrl::{Quality, febrl4_paths, load, quality};
use oncofed_linkage::pprl::{
    ClkConfig, DEFAULT_THRESHOLD, Encoder, MatchConfig, ProjectSecret, match_clks,
};
use oncofed_linkage::{Record, greedy_one_to_one};
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The peer's Python, or `None` (with the reason printed) when it is not
/// installed; with `ONCOFED_REQUIRE_PEERS` set a missing peer fails the test.
fn python(test: &str) -> Option<PathBuf> {
    let python = std::env::var_os("ONCOFED_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/bin/python"));
    let why = if !python.exists() {
        format!(
            "{} not found: run scripts/setup-peers (or set ONCOFED_PYTHON)",
            python.display()
        )
    } else if !Command::new(&python)
        .args(["-c", "import anonlink, clkhash"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        format!(
            "{} lacks anonlink/clkhash: run scripts/setup-peers",
            python.display()
        )
    } else {
        return Some(python);
    };
    assert!(
        std::env::var_os("ONCOFED_REQUIRE_PEERS").is_none(),
        "{test}: {why} (ONCOFED_REQUIRE_PEERS is set)"
    );
    eprintln!("SKIPPED {test}: {why}");
    None
}

/// The peer's result on two Febrl-format files at Dice 0.75.
fn peer(python: &Path, a: &Path, b: &Path) -> serde_json::Value {
    let out = Command::new(python)
        .arg(workspace().join("scripts/peers/linkage/anonlink_febrl.py"))
        .arg(a)
        .arg(b)
        .args(["--threshold", "0.75"])
        .output()
        .expect("peer runs");
    assert!(
        out.status.success(),
        "peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("peer JSON")
}

/// Our default encoding at its default threshold: (one-to-one, many-to-one,
/// Dice comparisons per second).
fn ours(a: &[Record], b: &[Record]) -> (Quality, Quality, f64) {
    let secret = ProjectSecret::new(b"oncofed anonlink peer test key!!".to_vec()).unwrap();
    let enc = Encoder::new(&secret, &ClkConfig::default()).unwrap();
    let (ca, cb) = (enc.encode_all(a, 1), enc.encode_all(b, 1));
    let cfg = MatchConfig::default();
    assert_eq!(cfg.threshold, DEFAULT_THRESHOLD);
    // One all-pairs pass for both modes: the candidates at or above the
    // threshold, then greedy one-to-one (what `one_to_one: true` runs).
    let (candidates, stats) = match_clks(
        &ca,
        &cb,
        &MatchConfig {
            one_to_one: false,
            ..cfg
        },
    );
    let rate = stats.comparisons as f64 / stats.compare_seconds;
    let one = greedy_one_to_one(candidates.clone(), |l| (l.a, l.b, l.dice));
    // Best A per B record; ties to the lower index of A, as the peer.
    let mut best: Vec<Option<(usize, f64)>> = vec![None; b.len()];
    for l in &candidates {
        if best[l.b].is_none_or(|(i, d)| l.dice > d || (l.dice == d && l.a < i)) {
            best[l.b] = Some((l.a, l.dice));
        }
    }
    let many = best
        .iter()
        .enumerate()
        .filter_map(|(j, x)| x.map(|(i, _)| (i, j)));
    (
        quality(a, b, one.iter().map(|l| (l.a, l.b))),
        quality(a, b, many),
        rate,
    )
}

/// Runs both sides on the same files, prints them side by side and asserts
/// ours ≥ the peer's − 0.005 in both modes.
fn compare(name: &str, python: &Path, pa: &Path, pb: &Path) {
    let peer = peer(python, pa, pb);
    let (a, b) = (load(pa).unwrap(), load(pb).unwrap());
    let (one, many, rate) = ours(&a, &b);
    let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap();
    let pm = &peer["many_to_one"];
    println!(
        "{name} ({} × {} records, {} true links):\n\
         | side | threshold | 1:1 P | 1:1 R | 1:1 F1 | n:1 P | n:1 R | n:1 F1 | comparisons/s (1 thread) |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n\
         | oncofed balanced (default) | {DEFAULT_THRESHOLD:.2} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {rate:.3e} |\n\
         | anonlink {} + clkhash {} | 0.75 | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.3e} |",
        a.len(),
        b.len(),
        one.true_links,
        one.precision,
        one.recall,
        one.f1,
        many.precision,
        many.recall,
        many.f1,
        peer["versions"]["anonlink"].as_str().unwrap_or("?"),
        peer["versions"]["clkhash"].as_str().unwrap_or("?"),
        f(&peer, "precision"),
        f(&peer, "recall"),
        f(&peer, "f1"),
        f(pm, "precision"),
        f(pm, "recall"),
        f(pm, "f1"),
        f(&peer, "comparisons_per_second"),
    );
    assert!(
        one.f1 >= f(&peer, "f1") - 0.005,
        "{name}, one-to-one: our F1 {} < anonlink {} - 0.005",
        one.f1,
        f(&peer, "f1")
    );
    assert!(
        many.f1 >= f(pm, "f1") - 0.005,
        "{name}, many-to-one: our F1 {} < anonlink {} - 0.005",
        many.f1,
        f(pm, "f1")
    );
}

#[test]
fn febrl4_f1_at_least_anonlinks() {
    let Some(python) = python("febrl4_f1_at_least_anonlinks") else {
        return;
    };
    let (pa, pb) = febrl4_paths();
    compare("Febrl4", &python, &pa, &pb);
}

#[test]
fn partnerless_split_f1_at_least_anonlinks() {
    let Some(python) = python("partnerless_split_f1_at_least_anonlinks") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("oncofed-partnerless-{}", std::process::id()));
    let (pa, pb) = split::split(&dir, split::TEST_SEED, 4000).unwrap();
    let a = load(&pa).unwrap();
    let b = load(&pb).unwrap();
    // The split is what the test claims: most of A has no partner in B.
    let with_copies: std::collections::HashSet<_> = b
        .iter()
        .filter_map(|r| oncofed_linkage::febrl::entity(&r.id))
        .collect();
    assert!(with_copies.len() * 3 < a.len(), "{}", with_copies.len());
    assert!(b.len() > with_copies.len() * 3 / 2, "copies: {}", b.len());
    compare("synthetic partnerless split", &python, &pa, &pb);
    std::fs::remove_dir_all(&dir).unwrap();
}
