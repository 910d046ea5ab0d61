//! Dice comparisons per second: every popcount kernel this CPU has (1 and 2
//! threads) beside anonlink's native kernel on the same filters, in one run.
//!
//! `cargo run --release -p oncofed-linkage --example dice_bench -- [--febrl] [--synthetic 20000] [--repeat 3]`
//!
//! With no data option both run: Febrl4 (5,000 × 5,000, encoded with the
//! default [`ClkConfig`]) and `--synthetic N` (N × N random filters of about
//! 45 % fill, half of the first set noisy copies of the second, 20,000 by
//! default). Each kernel compares all pairs at Dice ≥ 0.75 (candidates only,
//! no solving: what anonlink's `find_candidate_pairs` does); every kernel
//! must find the same links. The filters are written in clkhash's
//! serialisation (base64 of [`Clk::to_bytes`]) to a temporary directory and
//! `scripts/peers/linkage/anonlink_bench.py` times anonlink 0.15.3 on them
//! (one thread). `--repeat` rounds (3 by default) of every kernel followed by
//! anonlink, best of each, so that load changes hit both alike. Python: `$ONCOFED_PYTHON`, else
//! `.venv/bin/python` at the workspace root. Prints a Markdown table with the
//! load average; the share is of ~8e8 comparisons/s per core, the physical
//! limit of a 1024-bit pair (≈3 cycles with AVX-512).

use base64::Engine;
use oncofed_linkage::febrl::{febrl4_paths, load};
use oncofed_linkage::pprl::{
    Clk, ClkBlocking, ClkConfig, Encoder, Kernel, MatchConfig, ProjectSecret, match_clks_with,
};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

/// Comparisons per second per core that a 1024-bit pair can reach (issue 18).
const LIMIT_PER_CORE: f64 = 8e8;
const THRESHOLD: f64 = 0.75;

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A random filter with each bit set with probability 7/16 (≈ 448 bits set).
fn random_clk(state: &mut u64) -> Clk {
    Clk(std::array::from_fn(|_| {
        let d: [u64; 4] = std::array::from_fn(|_| splitmix(state));
        // bit set iff its 4-bit draw < 7
        let lt8 = !d[3];
        let eq0xx = !d[3] & !d[2];
        let below7 = lt8 & !(d[2] & d[1] & d[0]);
        below7 | eq0xx
    }))
}

fn synthetic(n: usize) -> (Vec<Clk>, Vec<Clk>) {
    let mut state = 2026;
    let b: Vec<Clk> = (0..n).map(|_| random_clk(&mut state)).collect();
    let a = (0..n)
        .map(|i| {
            if i % 2 == 0 {
                let mut c = b[(i * 7919) % n];
                for _ in 0..(i % 60) {
                    let bit = (splitmix(&mut state) % 1024) as usize;
                    c.0[bit / 64] ^= 1 << (bit % 64);
                }
                c
            } else {
                random_clk(&mut state)
            }
        })
        .collect();
    (a, b)
}

fn febrl() -> Result<(Vec<Clk>, Vec<Clk>), Box<dyn std::error::Error>> {
    let (pa, pb) = febrl4_paths();
    let (a, b) = (load(&pa)?, load(&pb)?);
    let secret = ProjectSecret::new(b"oncofed febrl4 benchmark secret!".to_vec())?;
    let enc = Encoder::new(&secret, &ClkConfig::default())?;
    Ok((enc.encode_all(&a, 2), enc.encode_all(&b, 2)))
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn write_b64(path: &Path, clks: &[Clk]) -> std::io::Result<()> {
    let mut s = String::with_capacity(clks.len() * 174);
    for c in clks {
        s.push_str(&base64::engine::general_purpose::STANDARD.encode(c.to_bytes()));
        s.push('\n');
    }
    std::fs::write(path, s)
}

/// The peer: anonlink on the same filters, written once to a temporary directory.
struct Peer {
    python: String,
    script: std::path::PathBuf,
    dir: std::path::PathBuf,
}

impl Peer {
    fn new(a: &[Clk], b: &[Clk]) -> Result<Peer, String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let python = std::env::var("ONCOFED_PYTHON")
            .unwrap_or_else(|_| root.join(".venv/bin/python").display().to_string());
        let script = root.join("scripts/peers/linkage/anonlink_bench.py");
        let dir = std::env::temp_dir().join(format!("oncofed-dice-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        write_b64(&dir.join("a.b64"), a)
            .and_then(|()| write_b64(&dir.join("b.b64"), b))
            .map_err(|e| e.to_string())?;
        Ok(Peer {
            python,
            script,
            dir,
        })
    }

    /// One timed run of anonlink: (comparisons/s, candidates), or why it failed.
    fn run(&self) -> Result<(f64, u64), String> {
        let out = Command::new(&self.python)
            .arg(&self.script)
            .arg(self.dir.join("a.b64"))
            .arg(self.dir.join("b.b64"))
            .args(["--threshold", &THRESHOLD.to_string(), "--repeat", "1"])
            .output()
            .map_err(|e| format!("{}: {e}", self.python))?;
        if !out.status.success() {
            return Err(format!(
                "peer failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
        Ok((
            v["comparisons_per_second"].as_f64().unwrap_or(0.0),
            v["candidates"].as_u64().unwrap_or(0),
        ))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn bench(name: &str, a: &[Clk], b: &[Clk], repeat: usize, table: &mut String) {
    let pairs = (a.len() * b.len()) as f64;
    let mean_pop = a
        .iter()
        .chain(b)
        .map(|c| f64::from(c.popcount()))
        .sum::<f64>()
        / (a.len() + b.len()) as f64;
    eprintln!(
        "{name}: {} × {}, mean popcount {mean_pop:.0}",
        a.len(),
        b.len()
    );
    let runs: Vec<(Kernel, usize)> = Kernel::ALL
        .into_iter()
        .filter(|k| k.available())
        .flat_map(|k| [(k, 1), (k, 2)])
        .collect();
    let mut best = vec![f64::INFINITY; runs.len()];
    let mut reference = None;
    let mut peer = Peer::new(a, b).map(|p| (p, 0.0f64, 0u64));
    // Rounds: every kernel once, then anonlink once, `repeat` times; the best
    // of each, so that a change in load hits ours and the peer alike.
    for round in 0..repeat {
        for (n, &(kernel, threads)) in runs.iter().enumerate() {
            let cfg = MatchConfig {
                threshold: THRESHOLD,
                blocking: ClkBlocking::AllPairs,
                threads,
                one_to_one: false,
            };
            let (links, stats) = match_clks_with(kernel, a, b, &cfg).expect("available");
            best[n] = best[n].min(stats.compare_seconds);
            match &reference {
                None => reference = Some(links),
                Some(r) => assert!(*r == links, "{} found other links", kernel.name()),
            }
        }
        if let Ok((p, rate, cands)) = &mut peer {
            match p.run() {
                Ok((r, c)) => {
                    *rate = rate.max(r);
                    *cands = c;
                }
                Err(e) => peer = Err(e),
            }
        }
        eprintln!("  round {} done, load {}", round + 1, loadavg());
    }
    let rows: Vec<(Kernel, usize, f64)> = runs
        .iter()
        .zip(&best)
        .map(|(&(k, t), &s)| (k, t, pairs / s))
        .collect();
    for (k, t, r) in &rows {
        eprintln!("  {} {t} thread(s): {r:.3e}/s", k.name());
    }
    let peer = peer.map(|(_, r, c)| (r, c));
    let candidates = reference.map_or(0, |r| r.len());
    match &peer {
        Ok((rate, c)) => eprintln!("  anonlink: {rate:.3e}/s, {c} candidates (ours {candidates})"),
        Err(e) => eprintln!("  anonlink skipped: {e}"),
    }
    for (kernel, threads, rate) in rows {
        let (peer_rate, ratio) = match &peer {
            Ok((r, _)) => (format!("{r:.2e}"), format!("{:.2}×", rate / r)),
            Err(_) => ("–".into(), "–".into()),
        };
        let _ = writeln!(
            table,
            "| {name} | {} | {threads} | {rate:.2e} | {peer_rate} | {ratio} | {:.0} % |",
            kernel.name(),
            100.0 * rate / threads as f64 / LIMIT_PER_CORE,
        );
    }
    let peer_candidates = peer.as_ref().map_or("–".into(), |(_, c)| c.to_string());
    let _ = writeln!(
        table,
        "| {name} | anonlink 0.15.3 (C++) | 1 | {} | | | {} |",
        peer.as_ref()
            .map_or("–".into(), |(r, _)| format!("{r:.2e}")),
        peer.as_ref().map_or("–".into(), |(r, _)| format!(
            "{:.0} %",
            100.0 * r / LIMIT_PER_CORE
        )),
    );
    eprintln!("  candidates at Dice ≥ {THRESHOLD}: ours {candidates}, anonlink {peer_candidates}");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<usize>().ok())
    };
    let want_febrl = args.iter().any(|a| a == "--febrl");
    let want_synth = args.iter().any(|a| a == "--synthetic");
    let (do_febrl, do_synth) = if want_febrl || want_synth {
        (want_febrl, want_synth)
    } else {
        (true, true)
    };
    let n = value("--synthetic").unwrap_or(20_000);
    let repeat = value("--repeat").unwrap_or(3).max(1);

    let lacks: Vec<&str> = Kernel::ALL
        .into_iter()
        .filter(|k| !k.available())
        .map(Kernel::name)
        .collect();
    let load_start = loadavg();
    let mut table = String::from(
        "| data | kernel | threads | ours comparisons/s | anonlink comparisons/s (1 thread) | ratio | share of 8e8/s per core |\n|---|---|---|---|---|---|---|\n",
    );
    if do_febrl {
        let (a, b) = febrl()?;
        bench("Febrl4 5k × 5k", &a, &b, repeat, &mut table);
    }
    if do_synth {
        let (a, b) = synthetic(n);
        bench(
            &format!("synthetic {}k × {}k", n / 1000, n / 1000),
            &a,
            &b,
            repeat,
            &mut table,
        );
    }
    println!("{table}");
    println!(
        "Dice ≥ {THRESHOLD}, all pairs, candidates only, best of {repeat}; active kernel {}, not on this CPU: {lacks:?}; load average {load_start} at start, {} at end.",
        Kernel::active().name(),
        loadavg()
    );
    Ok(())
}
