//! Competing risks side by side with R and lifelines, in one run: the Aalen–Johansen
//! cumulative incidence of both causes, federated over 3 sites (only per-site
//! [`CifCounts`] on the pooled grid reach the hub), against
//!
//! - R `cmprsk::cuminc(time, status)` (`scripts/peers/stats/cif_reference.R`): the
//!   estimate and Gray's variance (`est`, `var`), which is the variance OncoFed
//!   implements — both asserted;
//! - lifelines `AalenJohansenFitter` (`scripts/peers/stats/cif_reference.py`), with
//!   its tie jitter disabled (the script replaces the tie check, so tied times are
//!   fitted as they are rather than randomly moved): the estimate asserted; its
//!   variance is the delta-method one (Collett / SAS), a different estimator, so
//!   its difference from Gray's is printed, not asserted.
//!
//! The data are synthetic and deterministic, generated here: 600 rows with
//! exponential latent times for cause 1 (mean 300 days), cause 2 (mean 500) and
//! censoring (mean 400), administrative censoring at 730 days, rounded up to whole
//! days (many tied times, also between the causes); site = row index mod 3. The test
//! writes them to a temporary CSV for the peers and deletes it after.
//!
//! R (`ONCOFED_RSCRIPT` or `Rscript` on the PATH, with cmprsk) and the Python peer
//! (`ONCOFED_PYTHON` or `.venv/bin/python`) are installed by `scripts/setup-peers`;
//! without them the test fails, it does not skip. Run with `--nocapture` for the
//! measured differences.
//!
//! Asserted: both incidences 1e-12 absolute against R and lifelines at every grid
//! time; Gray's variance of both 1e-10 relative against R.
//!
//! Measured (December 2026; R 4.2.2 with cmprsk 2.2-11, lifelines 0.30.3; 213 grid
//! times, 242 cause-1 and 150 cause-2 events, 54 times with both causes):
//!
//! | cause | max \|F ours − R\| | max rel \|V ours − R\| | max \|F ours − lifelines\| | lifelines' delta-method V, relative |
//! |---|---|---|---|---|
//! | 1 | 5.6e-17 | 1.7e-16 | 8.9e-16 | 3.0e-2 (another estimator) |
//! | 2 | 5.6e-17 | 1.9e-16 | 2.8e-16 | 4.1e-2 (another estimator) |

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use support::{python, rscript, workspace};

use oncofed_stats::{
    CifCounts, CifEstimate, CompetingRow, CompetingStatus, aalen_johansen, cif_event_times,
    cif_site_counts, merge_times,
};
use serde_json::Value;

const SITES: usize = 3;
const ROWS: usize = 600;
const EST_ABS: f64 = 1e-12;
const VAR_REL: f64 = 1e-10;

fn script(name: &str) -> PathBuf {
    workspace().join("scripts/peers/stats").join(name)
}

/// SplitMix64: a small deterministic generator, so the data need no crate.
struct SplitMix(u64);

impl SplitMix {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // (0, 1]: never 0, so ln is finite
        ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    fn exponential(&mut self, mean: f64) -> f64 {
        -mean * self.uniform().ln()
    }
}

/// The rows, in order; status 0 censored, 1 cause of interest, 2 competing.
fn generate() -> Vec<(f64, u8)> {
    let mut rng = SplitMix(20_261_204);
    (0..ROWS)
        .map(|_| {
            let (c1, c2, cens) = (
                rng.exponential(300.0),
                rng.exponential(500.0),
                rng.exponential(400.0).min(730.0),
            );
            let first = c1.min(c2).min(cens);
            let status = if first == c1 {
                1
            } else if first == c2 {
                2
            } else {
                0
            };
            (first.ceil().max(1.0), status)
        })
        .collect()
}

fn to_row(&(time, status): &(f64, u8)) -> CompetingRow {
    let status = match status {
        0 => CompetingStatus::Censored,
        1 => CompetingStatus::Event,
        _ => CompetingStatus::Competing,
    };
    CompetingRow { time, status }
}

/// Federated: each site sends its event times, the hub merges them into the grid,
/// each site sends its counts on the grid, the hub sums and estimates.
fn federated(data: &[(f64, u8)]) -> CifEstimate {
    let mut sites: Vec<Vec<CompetingRow>> = vec![Vec::new(); SITES];
    for (i, row) in data.iter().enumerate() {
        sites[i % SITES].push(to_row(row));
    }
    let lists: Vec<Vec<f64>> = sites.iter().map(|s| cif_event_times(s).unwrap()).collect();
    let grid = merge_times(&lists);
    let mut total = CifCounts::zeros(grid.len());
    for site in &sites {
        total.add(&cif_site_counts(site, &grid).unwrap()).unwrap();
    }
    let pooled: Vec<CompetingRow> = data.iter().map(to_row).collect();
    assert_eq!(total, cif_site_counts(&pooled, &grid).unwrap());
    aalen_johansen(&grid, &total).unwrap()
}

fn floats(v: &Value) -> Vec<Option<f64>> {
    v.as_array().unwrap().iter().map(Value::as_f64).collect()
}

/// One peer curve: times, estimate, variance (None where the peer printed null).
struct Curve {
    time: Vec<f64>,
    est: Vec<f64>,
    var: Vec<Option<f64>>,
}

fn curve(v: &Value) -> Curve {
    Curve {
        time: floats(&v["time"]).into_iter().map(Option::unwrap).collect(),
        est: floats(&v["est"]).into_iter().map(Option::unwrap).collect(),
        var: floats(&v["var"]),
    }
}

/// The largest differences of one of our curves against a peer's at every grid
/// time: (max |Δ estimate|, max relative |Δ variance|, variance points compared).
/// `step`: the peer gives values only at its jump times (cuminc), carried forward;
/// otherwise it must list every grid time (lifelines' event table).
fn compare(times: &[f64], est: &[f64], var: &[f64], peer: &Curve, step: bool) -> (f64, f64, usize) {
    let (mut d_est, mut d_var, mut compared) = (0.0_f64, 0.0_f64, 0);
    for (j, &t) in times.iter().enumerate() {
        let (e, v) = if step {
            match peer.time.partition_point(|&p| p <= t) {
                0 => (0.0, Some(0.0)),
                i => (peer.est[i - 1], peer.var[i - 1]),
            }
        } else {
            let i = peer
                .time
                .iter()
                .position(|&p| p == t)
                .unwrap_or_else(|| panic!("peer has no row at grid time {t}"));
            (peer.est[i], peer.var[i])
        };
        d_est = d_est.max((est[j] - e).abs());
        if let Some(v) = v {
            let scale = if v == 0.0 { 1.0 } else { v.abs() };
            d_var = d_var.max((var[j] - v).abs() / scale);
            compared += 1;
        }
    }
    (d_est, d_var, compared)
}

#[test]
fn aalen_johansen_matches_cmprsk_and_lifelines() {
    let data = generate();
    let dir = std::env::temp_dir().join(format!("oncofed-cif-peer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("competing.csv");
    let mut text = String::from("time,status\n");
    for (time, status) in &data {
        text.push_str(&format!("{time},{status}\n"));
    }
    std::fs::write(&csv, text).unwrap();

    // both peers run while we estimate
    let spawn = |program: PathBuf, script_name: &str| {
        Command::new(program)
            .arg(script(script_name))
            .arg(&csv)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{script_name} does not start ({e}): run scripts/setup-peers")
            })
    };
    let r_child = spawn(rscript(), "cif_reference.R");
    let py_child = spawn(python(), "cif_reference.py");
    let ours = federated(&data);
    let wait = |child: std::process::Child, what: &str| -> Value {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{what} failed (run scripts/setup-peers?): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{what} prints JSON: {e}"))
    };
    let r = wait(r_child, "R cmprsk peer");
    let py = wait(py_child, "lifelines peer");
    std::fs::remove_dir_all(&dir).ok();

    let n1: u64 = ours.events.iter().sum();
    let n2: u64 = ours.competing.iter().sum();
    let tied = ours
        .events
        .iter()
        .zip(&ours.competing)
        .filter(|&(&a, &b)| a > 0 && b > 0)
        .count();
    println!(
        "competing risks, {ROWS} rows over {SITES} sites: {} grid times, {n1} cause-1 and {n2} cause-2 events, {tied} times with both causes",
        ours.times.len()
    );
    println!(
        "peers: {} / {}",
        r["version"].as_str().unwrap(),
        py["version"].as_str().unwrap()
    );
    println!(
        "| cause | max |F ours − R| | max rel |V ours − R| (Gray) | max |F ours − lifelines| | max rel |V ours − lifelines| (delta method, not asserted) |"
    );
    let mut failures = Vec::new();
    for (k, est, var) in [
        ("cause1", &ours.incidence, &ours.variance),
        (
            "cause2",
            &ours.competing_incidence,
            &ours.competing_variance,
        ),
    ] {
        let (r_curve, py_curve) = (curve(&r[k]), curve(&py[k]));
        assert!(r_curve.time.iter().all(|t| ours.times.contains(t)));
        let (re, rv, rn) = compare(&ours.times, est, var, &r_curve, true);
        let (pe, pv, pn) = compare(&ours.times, est, var, &py_curve, false);
        println!("| {k} | {re:.1e} | {rv:.1e} ({rn} points) | {pe:.1e} | {pv:.1e} ({pn} points) |");
        if re > EST_ABS || pe > EST_ABS {
            failures.push(format!(
                "{k}: estimate differs (R {re:e}, lifelines {pe:e})"
            ));
        }
        if rv > VAR_REL {
            failures.push(format!(
                "{k}: Gray variance differs from R by {rv:e} relative"
            ));
        }
    }
    let last = ours.times.len() - 1;
    println!(
        "at t = {}: F1 = {:.6} (sd {:.6}), F2 = {:.6} (sd {:.6}), S = {:.6}",
        ours.times[last],
        ours.incidence[last],
        ours.variance[last].sqrt(),
        ours.competing_incidence[last],
        ours.competing_variance[last].sqrt(),
        ours.survival[last]
    );
    assert!(failures.is_empty(), "{}", failures.join("; "));
}
