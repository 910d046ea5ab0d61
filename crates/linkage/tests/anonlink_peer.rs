//! Side by side with the PyPI peers anonlink 0.15.3 + clkhash 0.18.3 on Febrl4, in
//! one run: the same data, fields, bits per bigram (`k`), 1024-bit filters, Dice
//! threshold 0.75, all pairs and greedy one-to-one solving. Asserts that our F1
//! (balanced hardening, the default) is at least anonlink's minus 0.005 and prints
//! both F1s and Dice comparisons per second.
//!
//! The peer script is `scripts/peers/linkage/anonlink_febrl.py`; the Python is
//! `ONCOFED_PYTHON` or `.venv/bin/python` (installed by `scripts/setup-peers`).
//! Without it the test says so and passes. Throughput figures are meaningful only
//! with `cargo test --release -p oncofed-linkage --test anonlink_peer -- --nocapture`.

use oncofed_linkage::febrl::{febrl4_paths, load, quality};
use oncofed_linkage::pprl::{
    ClkConfig, Encoder, Hardening, MatchConfig, ProjectSecret, match_clks,
};
use std::path::PathBuf;
use std::process::Command;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The peer's Python, or `None` (with the reason) when it is not installed.
fn python() -> Result<PathBuf, String> {
    let python = std::env::var_os("ONCOFED_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/bin/python"));
    if !python.exists() {
        return Err(format!(
            "{} not found: run scripts/setup-peers (or set ONCOFED_PYTHON)",
            python.display()
        ));
    }
    let ok = Command::new(&python)
        .args(["-c", "import anonlink, clkhash"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        return Err(format!(
            "{} lacks anonlink/clkhash: run scripts/setup-peers",
            python.display()
        ));
    }
    Ok(python)
}

#[test]
fn febrl4_f1_at_least_anonlinks() {
    let python = match python() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("SKIPPED febrl4_f1_at_least_anonlinks: {why}");
            return;
        }
    };
    let (pa, pb) = febrl4_paths();
    let out = Command::new(&python)
        .arg(workspace().join("scripts/peers/linkage/anonlink_febrl.py"))
        .arg(&pa)
        .arg(&pb)
        .args(["--threshold", "0.75"])
        .output()
        .expect("peer runs");
    assert!(
        out.status.success(),
        "peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("peer JSON");
    let peer_f1 = peer["f1"].as_f64().unwrap();

    let (a, b) = (load(&pa).unwrap(), load(&pb).unwrap());
    let secret = ProjectSecret::new(b"oncofed febrl4 benchmark secret!".to_vec()).unwrap();
    let mut ours = Vec::new();
    for hardening in [Hardening::Balanced, Hardening::None] {
        let enc = Encoder::new(
            &secret,
            &ClkConfig {
                hardening,
                ..ClkConfig::default()
            },
        )
        .unwrap();
        let (ca, cb) = (enc.encode_all(&a, 1), enc.encode_all(&b, 1));
        let cfg = MatchConfig {
            threshold: 0.75,
            threads: 1,
            ..MatchConfig::default()
        };
        let (links, stats) = match_clks(&ca, &cb, &cfg);
        let q = quality(&a, &b, links.iter().map(|l| (l.a, l.b)));
        let rate = stats.comparisons as f64 / stats.compare_seconds;
        println!(
            "oncofed {hardening:?}: P {:.4} R {:.4} F1 {:.4}, {:.3e} Dice comparisons/s (1 thread)",
            q.precision, q.recall, q.f1, rate
        );
        ours.push((hardening, q.f1));
    }
    println!(
        "anonlink {} + clkhash {}: P {:.4} R {:.4} F1 {:.4}, {:.3e} Dice comparisons/s (1 thread)",
        peer["versions"]["anonlink"],
        peer["versions"]["clkhash"],
        peer["precision"].as_f64().unwrap(),
        peer["recall"].as_f64().unwrap(),
        peer_f1,
        peer["comparisons_per_second"].as_f64().unwrap()
    );
    let (_, balanced) = ours[0];
    assert!(
        balanced >= peer_f1 - 0.005,
        "balanced CLKs F1 {balanced} < anonlink {peer_f1} - 0.005"
    );
}
