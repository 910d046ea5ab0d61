//! Competing risks side by side with R and lifelines, in one run: the Aalen–Johansen
//! cumulative incidence of both causes, federated over 3 sites (only per-site
//! [`CifCounts`] on the pooled grid reach the hub), against
//!
//! - R `cmprsk::cuminc(time, status)` (`scripts/peers/stats/cif_reference.R`): the
//!   estimate and Gray's variance (`est`, `var`), which is the variance OncoFed
//!   implements, and the pointwise 95% log(−log) interval R computes from them
//!   with tidycmprsk's formula (`cif_confidence_interval`) — all asserted;
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
//! A second data set compares **three groups** with Gray's test: 600 rows, the
//! group drawn uniformly (independent of the site, again row index mod 3), cause-1
//! / cause-2 latent means 300/500, 240/450 and 380/520 days, censoring as above;
//! each site sends one [`CifCounts`] per group on the pooled grid and the hub sums
//! them. Against `cmprsk::cuminc(time, status, group)`: its `Tests` (statistic,
//! p-value, df) for both causes ([`gray_test`], [`gray_test_competing`]), and every
//! group's estimate, variance and 95% bounds.
//!
//! R (`ONCOFED_RSCRIPT` or `Rscript` on the PATH, with cmprsk) and the Python peer
//! (`ONCOFED_PYTHON` or `.venv/bin/python`) are installed by `scripts/setup-peers`;
//! without them the test fails, it does not skip. Run with `--nocapture` for the
//! measured differences.
//!
//! Asserted: both incidences 1e-12 absolute against R and lifelines at every grid
//! time; Gray's variance of both and the 95% bounds 1e-10 relative against R (the
//! bounds exist on the same grid times on both sides: none where F is 0); Gray's
//! statistic and p-value 1e-10 relative against cuminc's `Tests`, df equal.
//!
//! Measured (December 2026; R 4.2.2 with cmprsk 2.2-11, lifelines 0.30.3; 213 grid
//! times, 242 cause-1 and 150 cause-2 events, 54 times with both causes):
//!
//! | cause | max \|F ours − R\| | max rel \|V ours − R\| | max rel \|95% bound ours − R\| | max \|F ours − lifelines\| | lifelines' delta-method V, relative |
//! |---|---|---|---|---|---|
//! | 1 | 5.6e-17 | 1.7e-16 | 6.3e-16 | 8.9e-16 | 3.0e-2 (another estimator) |
//! | 2 | 5.6e-17 | 1.9e-16 | 8.2e-16 | 2.8e-16 | 4.1e-2 (another estimator) |
//!
//! Three groups (229 grid times, 61 with tied cause-1 and 27 with tied cause-2 events
//! across the groups; n / cause-1 / cause-2 events per group
//! 210/95/45, 189/94/42, 201/80/53):
//!
//! | Gray's test | χ² | p | rel \|χ² ours − R\| | rel \|p ours − R\| |
//! |---|---|---|---|---|
//! | cause 1 | 9.5887812894 | 8.28e-3 | 8.0e-15 | 4.5e-14 |
//! | cause 2 | 1.0409403343 | 0.594 | 1.3e-14 | 6.4e-15 |
//!
//! Per group and cause, max \|F ours − R\| ≤ 5.6e-17, max relative \|V ours − R\| ≤
//! 2.2e-16 and max relative \|95% bound ours − R\| ≤ 1.3e-15.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use support::{python, rscript, workspace};

use oncofed_stats::{
    CifCounts, CifEstimate, CompetingRow, CompetingStatus, GrayTest, aalen_johansen,
    cif_confidence_interval, cif_event_times, cif_site_counts, gray_test, gray_test_competing,
    merge_times,
};
use serde_json::Value;

const SITES: usize = 3;
const ROWS: usize = 600;
const EST_ABS: f64 = 1e-12;
const VAR_REL: f64 = 1e-10;
const TEST_REL: f64 = 1e-10;
const CI_REL: f64 = 1e-10;
/// Groups in the grouped data set, and their cause-1 / cause-2 latent means.
const GROUPS: usize = 3;
const GROUP_MEANS: [(f64, f64); GROUPS] = [(300.0, 500.0), (240.0, 450.0), (380.0, 520.0)];

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

/// One row from latent exponential times with means `c1`, `c2` for the causes
/// and 400 for censoring (at most 730), rounded up to whole days.
fn draw(rng: &mut SplitMix, c1: f64, c2: f64) -> (f64, u8) {
    let (c1, c2, cens) = (
        rng.exponential(c1),
        rng.exponential(c2),
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
}

/// The rows, in order; status 0 censored, 1 cause of interest, 2 competing.
fn generate() -> Vec<(f64, u8)> {
    let mut rng = SplitMix(20_261_204);
    (0..ROWS).map(|_| draw(&mut rng, 300.0, 500.0)).collect()
}

/// The grouped rows, in order: (time, status, group), the group drawn
/// uniformly from 0..GROUPS (independent of the site, row index mod 3) and
/// the causes' means from [`GROUP_MEANS`].
fn generate_grouped() -> Vec<(f64, u8, usize)> {
    let mut rng = SplitMix(20_261_205);
    (0..ROWS)
        .map(|_| {
            let group = ((rng.uniform() * GROUPS as f64).ceil() as usize).clamp(1, GROUPS) - 1;
            let (c1, c2) = GROUP_MEANS[group];
            let (time, status) = draw(&mut rng, c1, c2);
            (time, status, group)
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

/// Federated with groups: the grid round as above, then each site sends one
/// [`CifCounts`] per group on the grid and the hub sums them per group.
fn federated_groups(data: &[(f64, u8, usize)]) -> (Vec<f64>, Vec<CifCounts>) {
    let mut sites: Vec<Vec<(CompetingRow, usize)>> = vec![Vec::new(); SITES];
    for (i, &(time, status, group)) in data.iter().enumerate() {
        sites[i % SITES].push((to_row(&(time, status)), group));
    }
    let of_groups = |rows: &[(CompetingRow, usize)], g: std::ops::Range<usize>| {
        rows.iter()
            .filter(|r| g.contains(&r.1))
            .map(|r| r.0)
            .collect::<Vec<CompetingRow>>()
    };
    let lists: Vec<Vec<f64>> = sites
        .iter()
        .map(|s| cif_event_times(&of_groups(s, 0..GROUPS)).unwrap())
        .collect();
    let grid = merge_times(&lists);
    let mut totals = vec![CifCounts::zeros(grid.len()); GROUPS];
    for site in &sites {
        for (g, total) in totals.iter_mut().enumerate() {
            total
                .add(&cif_site_counts(&of_groups(site, g..g + 1), &grid).unwrap())
                .unwrap();
        }
    }
    (grid, totals)
}

/// One peer curve: times, estimate, variance and the log(−log) bounds (None
/// where the peer printed null; lifelines prints no bounds).
struct Curve {
    time: Vec<f64>,
    est: Vec<f64>,
    var: Vec<Option<f64>>,
    lower: Vec<Option<f64>>,
    upper: Vec<Option<f64>>,
}

fn curve(v: &Value) -> Curve {
    let bound = |key: &str| {
        if v[key].is_null() {
            Vec::new()
        } else {
            floats(&v[key])
        }
    };
    Curve {
        time: floats(&v["time"]).into_iter().map(Option::unwrap).collect(),
        est: floats(&v["est"]).into_iter().map(Option::unwrap).collect(),
        var: floats(&v["var"]),
        lower: bound("lower"),
        upper: bound("upper"),
    }
}

/// Our 95% bounds ([`cif_confidence_interval`] of our estimate and Gray
/// variance) against the peer's, carried forward from its jump times (cuminc):
/// (max relative |Δ bound|, points with bounds). Panics where one side has a
/// bound and the other none (F = 0 or 1 on one side only).
fn compare_ci(times: &[f64], est: &[f64], var: &[f64], peer: &Curve) -> (f64, usize) {
    let (mut worst, mut compared) = (0.0_f64, 0);
    for (j, &t) in times.iter().enumerate() {
        let theirs = match peer.time.partition_point(|&p| p <= t) {
            0 => None,
            i => peer.lower[i - 1].zip(peer.upper[i - 1]),
        };
        let ours = cif_confidence_interval(est[j], var[j]);
        match (ours, theirs) {
            (None, None) => {}
            (Some((lo, up)), Some((r_lo, r_up))) => {
                worst = worst
                    .max((lo - r_lo).abs() / r_lo.abs())
                    .max((up - r_up).abs() / r_up.abs());
                compared += 1;
            }
            _ => panic!("at t = {t}: our interval {ours:?}, R's {theirs:?}"),
        }
    }
    (worst, compared)
}

/// Relative difference of a test row against cuminc's `Tests` row.
fn compare_test(ours: &GrayTest, r: &Value) -> (f64, f64) {
    let (stat, pv) = (r["stat"].as_f64().unwrap(), r["pv"].as_f64().unwrap());
    assert_eq!(ours.df as u64, r["df"].as_u64().unwrap(), "df");
    (
        (ours.chi2 - stat).abs() / stat.abs(),
        (ours.p_value - pv).abs() / pv.abs(),
    )
}

/// Runs R's peer script on `csv`, returning its JSON.
fn run_r(csv: &std::path::Path) -> std::process::Child {
    Command::new(rscript())
        .arg(script("cif_reference.R"))
        .arg(csv)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cif_reference.R does not start ({e}): run scripts/setup-peers"))
}

fn wait(child: std::process::Child, what: &str) -> Value {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{what} failed (run scripts/setup-peers?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{what} prints JSON: {e}"))
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
    let r_child = run_r(&csv);
    let py_child = Command::new(python())
        .arg(script("cif_reference.py"))
        .arg(&csv)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cif_reference.py does not start ({e}): run scripts/setup-peers")
        });
    let ours = federated(&data);
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
        "| cause | max |F ours − R| | max rel |V ours − R| (Gray) | max rel |95% bound ours − R| | max |F ours − lifelines| | max rel |V ours − lifelines| (delta method, not asserted) |"
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
        let (rc, cn) = compare_ci(&ours.times, est, var, &r_curve);
        println!(
            "| {k} | {re:.1e} | {rv:.1e} ({rn} points) | {rc:.1e} ({cn} points) | {pe:.1e} | {pv:.1e} ({pn} points) |"
        );
        if rc > CI_REL || cn == 0 {
            failures.push(format!(
                "{k}: 95% bounds differ from R by {rc:e} relative ({cn} points)"
            ));
        }
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

#[test]
fn gray_test_and_intervals_match_cmprsk_for_three_groups() {
    let data = generate_grouped();
    let dir = std::env::temp_dir().join(format!("oncofed-cif-gray-peer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("competing-groups.csv");
    let mut text = String::from("time,status,group\n");
    for (time, status, group) in &data {
        text.push_str(&format!("{time},{status},{group}\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let r_child = run_r(&csv);
    let (grid, groups) = federated_groups(&data);
    let tests = [
        ("cause1", gray_test(&groups).unwrap()),
        ("cause2", gray_test_competing(&groups).unwrap()),
    ];
    let r = wait(r_child, "R cmprsk peer (groups)");
    std::fs::remove_dir_all(&dir).ok();

    // the pooled counts per group equal the federated sums
    for (g, total) in groups.iter().enumerate() {
        let rows: Vec<CompetingRow> = data
            .iter()
            .filter(|r| r.2 == g)
            .map(|&(t, s, _)| to_row(&(t, s)))
            .collect();
        assert_eq!(*total, cif_site_counts(&rows, &grid).unwrap());
    }
    let per_group: Vec<String> = groups
        .iter()
        .map(|c| {
            format!(
                "{}/{}/{}",
                c.at_risk[0],
                c.events.iter().sum::<u64>(),
                c.competing.iter().sum::<u64>()
            )
        })
        .collect();
    let tied = |cause: fn(&CifCounts) -> &Vec<u64>| {
        (0..grid.len())
            .filter(|&j| groups.iter().map(|c| cause(c)[j]).sum::<u64>() > 1)
            .count()
    };
    println!(
        "{GROUPS} groups, {ROWS} rows over {SITES} sites, {} grid times ({} with tied cause-1, {} with tied cause-2 events); n/cause-1/cause-2 per group: {}",
        grid.len(),
        tied(|c| &c.events),
        tied(|c| &c.competing),
        per_group.join(", ")
    );
    println!("peer: {}", r["version"].as_str().unwrap());
    println!("| test | χ² ours | p ours | rel |χ² ours − R| | rel |p ours − R| |");
    let mut failures = Vec::new();
    for (k, test) in &tests {
        let (d_stat, d_p) = compare_test(test, &r["tests"][k]);
        println!(
            "| {k} | {:.10} | {:.6e} | {d_stat:.1e} | {d_p:.1e} |",
            test.chi2, test.p_value
        );
        if d_stat > TEST_REL || d_p > TEST_REL {
            failures.push(format!(
                "{k}: Gray test differs from cuminc (stat {d_stat:e}, p {d_p:e} relative)"
            ));
        }
    }
    println!("| curve | max |F ours − R| | max rel |V ours − R| | max rel |95% bound ours − R| |");
    for (g, counts) in groups.iter().enumerate() {
        let ours = aalen_johansen(&grid, counts).unwrap();
        for (cause, est, var) in [
            (1, &ours.incidence, &ours.variance),
            (2, &ours.competing_incidence, &ours.competing_variance),
        ] {
            let name = format!("{g} {cause}");
            let peer = curve(&r[&name]);
            let (de, dv, _) = compare(&ours.times, est, var, &peer, true);
            let (dc, cn) = compare_ci(&ours.times, est, var, &peer);
            println!("| {name} | {de:.1e} | {dv:.1e} | {dc:.1e} ({cn} points) |");
            if de > EST_ABS || dv > VAR_REL || dc > CI_REL || cn == 0 {
                failures.push(format!(
                    "group {g}, cause {cause}: estimate {de:e}, variance {dv:e}, bounds {dc:e} ({cn} points)"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("; "));
}
