//! Fine–Gray regression federated over 3 sites against R `cmprsk::crr` on the
//! pooled rows, in one run: coefficients, crr's sandwich variance (`var`), the
//! inverse information (`invinf`) and the log pseudo-likelihood.
//!
//! Data: synthetic and deterministic, generated here: 600 rows, covariates
//! x1 ∈ {0, 1} (P = 0.4), x2 standard normal, x3 ∈ {0, 1, 2, 3}; exponential
//! latent times for the cause of interest (rate e^{0.5·x1 − 0.3·x2}/300), the
//! competing cause (rate e^{0.2·x3}/500) and censoring (mean 400, administrative
//! at 730 days); the time binned to 30 days (`ceil(t/30)·30`: 23 distinct times,
//! 257 events and 184 competing events, 14 times with both causes, censorings
//! tied with failures at most times). Site =
//! row index mod 3. The test writes the rows to a temporary CSV for
//! `scripts/peers/stats/finegray_reference.R` and deletes it after. Without R
//! (with cmprsk) the test fails, it does not skip.
//!
//! Federated protocol as the hub runs it: exit-time round ([`finegray_times`],
//! [`merge_times`]), counts round ([`cif_site_counts`] → [`FineGrayGrid::from_counts`]),
//! Newton with [`finegray_site_sums`] ([`fit_fine_gray`]), then one round at the final
//! β with [`finegray_site_sums`] and [`finegray_residual_gram`] → [`finegray_variance`].
//!
//! Asserted against crr iterated to the maximum (`gtol = 1e-13`), 1e-8 relative
//! (matrices: |Δ_ij| / √(|R_ii R_jj|)): coef, var, invinf, loglik. The default
//! crr (`gtol = 1e-6`) stops short of the maximum; its difference is printed.
//! Measured: see the table in `finegray.rs`.

mod support;

use std::process::{Command, Stdio};

use oncofed_stats::{
    CifCounts, CompetingRow, CompetingStatus, CoxSiteSums, FineGrayGrid, FineGrayRow,
    NewtonOptions, ResidualGram, Ties, cif_site_counts, finegray_residual_gram, finegray_site_sums,
    finegray_times, finegray_variance, fit_fine_gray, merge_times,
};
use serde_json::Value;
use support::{deal, rscript, workspace};

const SITES: usize = 3;
const ROWS: usize = 600;
const REL: f64 = 1e-8;

/// SplitMix64: a small deterministic generator, so the data need no crate.
struct SplitMix(u64);

impl SplitMix {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    fn exponential(&mut self, rate: f64) -> f64 {
        -self.uniform().ln() / rate
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn generate() -> Vec<FineGrayRow> {
    let mut rng = SplitMix(20_270_115);
    (0..ROWS)
        .map(|_| {
            let x1 = f64::from(u8::from(rng.uniform() < 0.4));
            // round x2 so the CSV carries it exactly
            let x2 = (rng.normal() * 1e6).round() / 1e6;
            let x3 = (rng.uniform() * 4.0).floor().min(3.0);
            let c1 = rng.exponential((0.5 * x1 - 0.3 * x2).exp() / 300.0);
            let c2 = rng.exponential((0.2 * x3).exp() / 500.0);
            let cens = rng.exponential(1.0 / 400.0).min(730.0);
            let first = c1.min(c2).min(cens);
            let status = if first == c1 {
                CompetingStatus::Event
            } else if first == c2 {
                CompetingStatus::Competing
            } else {
                CompetingStatus::Censored
            };
            FineGrayRow {
                time: (first / 30.0).ceil().max(1.0) * 30.0,
                status,
                covariates: vec![x1, x2, x3],
            }
        })
        .collect()
}

fn plain(rows: &[FineGrayRow]) -> Vec<CompetingRow> {
    rows.iter()
        .map(|r| CompetingRow {
            time: r.time,
            status: r.status,
        })
        .collect()
}

struct Federated {
    beta: Vec<f64>,
    loglik: f64,
    variance: oncofed_stats::FineGrayVariance,
    counts: CifCounts,
    gram: ResidualGram,
    site_grams: Vec<ResidualGram>,
    grid: FineGrayGrid,
}

fn federated(rows: &[FineGrayRow]) -> Federated {
    let sites = deal(rows.iter().cloned(), SITES);
    let p = rows[0].covariates.len();
    let times = merge_times(
        &sites
            .iter()
            .map(|s| finegray_times(s).unwrap())
            .collect::<Vec<_>>(),
    );
    let mut counts = CifCounts::zeros(times.len());
    for site in &sites {
        counts
            .add(&cif_site_counts(&plain(site), &times).unwrap())
            .unwrap();
    }
    let grid = FineGrayGrid::from_counts(&times, &counts).unwrap();
    let fit = fit_fine_gray(p, NewtonOptions::default(), &mut |beta| {
        sites
            .iter()
            .map(|s| finegray_site_sums(s, &grid, beta).unwrap())
            .collect()
    })
    .unwrap();
    let beta: Vec<f64> = fit.estimates.iter().map(|e| e.coef).collect();
    let mut sums = CoxSiteSums::zeros(p, times.len(), Ties::Breslow);
    let mut gram = ResidualGram::zeros(p, times.len(), 3);
    let mut site_grams = Vec::new();
    for site in &sites {
        sums.add(&finegray_site_sums(site, &grid, &beta).unwrap())
            .unwrap();
        let g = finegray_residual_gram(site, &grid, &beta).unwrap();
        gram.add(&g).unwrap();
        site_grams.push(g);
    }
    let variance = finegray_variance(&beta, &sums, &grid, &counts, &gram).unwrap();
    let loglik = oncofed_stats::cox_combine(&sums).unwrap().loglik;
    Federated {
        beta,
        loglik,
        variance,
        counts,
        gram,
        site_grams,
        grid,
    }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn rel_vec(ours: &[f64], r: &[f64]) -> f64 {
    assert_eq!(ours.len(), r.len());
    ours.iter()
        .zip(r)
        .map(|(a, b)| (a - b).abs() / b.abs())
        .fold(0.0, f64::max)
}

fn rel_matrix(ours: &[f64], r: &[f64], p: usize) -> f64 {
    assert_eq!(ours.len(), r.len());
    let mut m = 0.0_f64;
    for i in 0..p {
        for j in 0..p {
            let scale = (r[i * p + i] * r[j * p + j]).abs().sqrt();
            m = m.max((ours[i * p + j] - r[i * p + j]).abs() / scale);
        }
    }
    m
}

#[test]
fn fine_gray_matches_crr_on_tied_binned_data() {
    let rows = generate();
    let dir = std::env::temp_dir().join(format!("oncofed-finegray-peer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("competing.csv");
    let mut text = String::from("time,status,x1,x2,x3\n");
    for r in &rows {
        let status = match r.status {
            CompetingStatus::Censored => 0,
            CompetingStatus::Event => 1,
            CompetingStatus::Competing => 2,
        };
        let x = &r.covariates;
        text += &format!("{},{status},{},{},{}\n", r.time, x[0], x[1], x[2]);
    }
    std::fs::write(&csv, text).unwrap();
    let child = Command::new(rscript())
        .arg(workspace().join("scripts/peers/stats/finegray_reference.R"))
        .arg(&csv)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("Rscript starts");
    let ours = federated(&rows);
    let out = child.wait_with_output().unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        out.status.success(),
        "R crr peer failed (run scripts/setup-peers?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &ours.counts;
    let both = (0..c.events.len())
        .filter(|&j| c.events[j] > 0 && c.competing[j] > 0)
        .count();
    println!(
        "{ROWS} rows, {} times ({both} with both causes), {} events, {} competing; peer {}",
        ours.grid.times.len(),
        c.events.iter().sum::<u64>(),
        c.competing.iter().sum::<u64>(),
        r["version"].as_str().unwrap()
    );
    let p = ours.beta.len();
    let mut failures = Vec::new();
    println!("| crr | coef | var (sandwich) | invinf | loglik |");
    for key in ["tight", "default"] {
        let peer = &r[key];
        assert_eq!(peer["converged"], Value::Bool(true), "crr {key} converged");
        let d = [
            rel_vec(&ours.beta, &floats(&peer["coef"])),
            rel_matrix(&ours.variance.covariance, &floats(&peer["var"]), p),
            rel_matrix(
                &ours.variance.naive_covariance,
                &floats(&peer["naive_var"]),
                p,
            ),
            rel_vec(&[ours.loglik], &[peer["loglik"].as_f64().unwrap()]),
        ];
        println!(
            "| {key} | {:.1e} | {:.1e} | {:.1e} | {:.1e} |",
            d[0], d[1], d[2], d[3]
        );
        if key == "tight" && d.iter().any(|&x| x.is_nan() || x > REL) {
            failures.push(format!("crr {key}: relative differences {d:?}"));
        }
    }
    for e in &ours.variance.estimates {
        println!("coef {:.8} se {:.8}", e.coef, e.std_error);
    }
    assert!(failures.is_empty(), "{}", failures.join("; "));
}

#[test]
fn each_gram_cell_aggregates_exactly_one_time_and_status() {
    let rows = generate();
    let ours = federated(&rows);
    let t = ours.grid.times.len();
    let sites = deal(rows.iter().cloned(), SITES);
    for (site, gram) in sites.iter().zip(&ours.site_grams) {
        let mut expected = vec![0.0; 3 * t];
        for row in site {
            let j = ours.grid.times.iter().position(|&g| g == row.time).unwrap();
            let s = match row.status {
                CompetingStatus::Censored => 0,
                CompetingStatus::Event => 1,
                CompetingStatus::Competing => 2,
            };
            expected[3 * j + s] += 1.0;
        }
        assert_eq!(gram.cell_sizes(), expected);
    }
    // pooled cells are the pooled (time, status) counts the hub already has
    let sizes = ours.gram.cell_sizes();
    let c = &ours.counts;
    for j in 0..t {
        let next = if j + 1 < t { c.at_risk[j + 1] } else { 0 };
        let censored = c.at_risk[j] - c.events[j] - c.competing[j] - next;
        assert_eq!(sizes[3 * j], censored as f64);
        assert_eq!(sizes[3 * j + 1], c.events[j] as f64);
        assert_eq!(sizes[3 * j + 2], c.competing[j] as f64);
    }
    // one row alone in its cell is revealed by the cell: entry (0, 2p) is its x1
    let lonely = [rows[0].clone()];
    let times = finegray_times(&lonely).unwrap();
    let counts = cif_site_counts(&plain(&lonely), &times).unwrap();
    let grid = FineGrayGrid::from_counts(&times, &counts).unwrap();
    let gram = finegray_residual_gram(&lonely, &grid, &ours.beta).unwrap();
    assert_eq!(gram.cell_sizes().iter().sum::<f64>(), 1.0);
    let q = 2 * 3 + 2;
    let cell = gram.cell_sizes().iter().position(|&n| n == 1.0).unwrap();
    assert_eq!(
        gram.values[cell * q * (q + 1) / 2 + 2 * 3],
        lonely[0].covariates[0]
    );
}
