//! Febrl4 side by side: OncoFed's linkage (plaintext and PPRL) and, when a
//! Python with anonlink/clkhash is found, the peer script on the same data.
//!
//! `cargo run --release -p oncofed-linkage --example febrl_bench [-- a.csv b.csv]`
//! Python: `$ONCOFED_PYTHON`, else `/work/main/.venv/bin/python` beside the workspace.

use oncofed_linkage::febrl::{febrl4_paths, load, quality};
use oncofed_linkage::pprl::{
    ClkBlocking, ClkConfig, Encoder, Hardening, MatchConfig, ProjectSecret, match_clks,
    match_clks_blocked,
};
use oncofed_linkage::{Config, Outcome, link};
use serde_json::json;
use std::path::Path;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Two CSVs in Febrl format as arguments (e.g. from `synth_export`), else Febrl4.
    let args: Vec<std::path::PathBuf> = std::env::args().skip(1).map(Into::into).collect();
    let (pa, pb) = match args.as_slice() {
        [a, b] => (a.clone(), b.clone()),
        _ => febrl4_paths(),
    };
    let (a, b) = (load(&pa)?, load(&pb)?);

    let t = Instant::now();
    let plain = link(
        &a,
        &b,
        &Config {
            threads: 2,
            ..Config::default()
        },
    );
    let secs = t.elapsed().as_secs_f64();
    let q = quality(
        &a,
        &b,
        plain
            .iter()
            .filter(|r| r.outcome == Outcome::Match)
            .map(|r| (r.a, r.b)),
    );
    let possible = plain
        .iter()
        .filter(|r| r.outcome == Outcome::PossibleMatch)
        .count();
    println!(
        "{}",
        json!({"mode": "oncofed plaintext (2 threads)", "quality": q, "possible_matches": possible, "seconds": secs})
    );

    let secret = ProjectSecret::new(b"oncofed febrl4 benchmark secret!".to_vec())?;
    let passes = Config::default().blocking;
    let mut summary = serde_json::Map::new();
    for hardening in [
        Hardening::None,
        Hardening::Balanced,
        Hardening::SaltBirthYear,
        Hardening::XorFold,
    ] {
        let enc = Encoder::new(
            &secret,
            &ClkConfig {
                hardening,
                ..ClkConfig::default()
            },
        )?;
        let t = Instant::now();
        let (ca, cb) = (enc.encode_all(&a, 2), enc.encode_all(&b, 2));
        let encode_seconds = t.elapsed().as_secs_f64();
        let (ka, kb): (Vec<_>, Vec<_>) = (
            a.iter().map(|r| enc.blocking_keys(r, &passes)).collect(),
            b.iter().map(|r| enc.blocking_keys(r, &passes)).collect(),
        );
        let runs = [
            (0.75, 1, ClkBlocking::AllPairs),
            (0.75, 2, ClkBlocking::AllPairs),
            (0.75, 1, ClkBlocking::Keys),
            (hardening.recommended_threshold(), 2, ClkBlocking::AllPairs),
        ];
        for (threshold, threads, blocking) in runs {
            let cfg = MatchConfig {
                threshold,
                blocking,
                threads,
                one_to_one: true,
            };
            let (links, stats) = if blocking == ClkBlocking::Keys {
                match_clks_blocked(&ca, &ka, &cb, &kb, &cfg)
            } else {
                match_clks(&ca, &cb, &cfg)
            };
            let q = quality(&a, &b, links.iter().map(|l| (l.a, l.b)));
            let name =
                format!("pprl {hardening:?} {blocking:?} Dice {threshold} {threads} thread(s)");
            let out = json!({
                "f1": q.f1, "precision": q.precision, "recall": q.recall,
                "comparisons": stats.comparisons,
                "comparisons_per_second": stats.comparisons as f64 / stats.compare_seconds,
                // All 25 M pairs decided (compared or excluded by blocking) per second.
                "pairs_resolved_per_second": (a.len() * b.len()) as f64 / stats.seconds,
                "seconds": stats.seconds, "encode_seconds": encode_seconds,
            });
            println!("{}", json!({ "mode": name, "result": out }));
            summary.insert(name, out);
        }
    }

    let python = std::env::var("ONCOFED_PYTHON").unwrap_or_else(|_| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../.venv/bin/python")
            .to_string_lossy()
            .into_owned()
    });
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/peers/linkage/anonlink_febrl.py");
    let has_peer = std::process::Command::new(&python)
        .args(["-c", "import anonlink, clkhash"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_peer {
        println!(
            "{}",
            json!({"peer": "skipped: no python with anonlink + clkhash", "python": python})
        );
        return Ok(());
    }
    let out = std::process::Command::new(&python)
        .arg(&script)
        .arg(&pa)
        .arg(&pb)
        .output()?;
    if !out.status.success() {
        return Err(format!("peer failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let peer: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    summary.insert("anonlink 0.75 all pairs".into(), peer);
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
