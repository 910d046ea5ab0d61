//! Robust (Lin & Wei sandwich) Cox covariance, federated over 3 sites, against R
//! `survival::coxph(..., robust = TRUE)` on the pooled rows, in one run.
//!
//! Data: the NCCTG lung data (`../shared/data/ncctg-lung-lifelines/lung.csv` beside
//! the workspace, or `ONCOFED_LUNG_CSV`), complete cases on age + sex + ph.ecog
//! (227 rows), times binned to 30-day bins (each time replaced by the end of its
//! bin, `ceil(t/30)·30`: 33 distinct times, heavy ties); site = row index mod 3;
//! for the stratified models stratum = (age ≥ 65). The test writes the rows to a
//! temporary CSV for `scripts/peers/stats/robust_reference.R` and deletes it after.
//!
//! Federated protocol as the hub runs it: grid round ([`CoxGrid::merge`]), Newton
//! with [`cox_site_sums`] per iteration, then one round at the final β in which
//! each site sends [`cox_site_sums`] and [`cox_residual_gram`]; the hub sums both
//! and calls [`cox_robust`]. Without R the test fails (it does not skip).
//!
//! Asserted, 1e-8 relative (matrices: |Δ_ij| / √(|R_ii R_jj|)): coefficients,
//! robust covariance (`fit$var`), naive covariance (`fit$naive.var`) and the
//! meat `Σ L_i L_iᵀ` (`crossprod(residuals(fit, type = "score"))`).
//!
//! Measured (R 4.2.2, survival 3.5-3): see the table in `cox/robust.rs`.

mod support;

use std::process::{Command, Stdio};

use oncofed_stats::{
    CoxGrid, CoxSiteSums, NewtonOptions, ResidualGram, SurvivalRow, Ties, cox_residual_gram,
    cox_robust, cox_site_sums, fit_cox,
};
use serde_json::Value;
use support::{deal, lung_csv, read_csv, rscript, workspace};

const SITES: usize = 3;
const REL: f64 = 1e-8;
const BIN: f64 = 30.0;

/// Complete lung rows with binned times; stratum 1 for age ≥ 65.
fn lung_rows() -> Vec<SurvivalRow> {
    let (header, rows) = read_csv(&lung_csv(), "lung data readable (set ONCOFED_LUNG_CSV)");
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim_matches('"') == name)
            .unwrap()
    };
    let (time, status) = (col("time"), col("status"));
    let x = [col("age"), col("sex"), col("ph.ecog")];
    rows.iter()
        .filter_map(|v| {
            let covariates = x.iter().map(|&c| v[c]).collect::<Option<Vec<f64>>>()?;
            Some(SurvivalRow {
                time: (v[time]? / BIN).ceil() * BIN,
                event: v[status]? == 1.0,
                stratum: u32::from(covariates[0] >= 65.0),
                covariates,
            })
        })
        .collect()
}

fn without_strata(rows: &[SurvivalRow]) -> Vec<SurvivalRow> {
    rows.iter()
        .map(|r| SurvivalRow {
            stratum: 0,
            ..r.clone()
        })
        .collect()
}

/// What the hub ends with: β, the robust result, and the pooled Gram vector.
struct Federated {
    beta: Vec<f64>,
    robust: oncofed_stats::CoxRobust,
    gram: ResidualGram,
    site_grams: Vec<ResidualGram>,
    grid: CoxGrid,
}

fn federated(rows: &[SurvivalRow], ties: Ties) -> Federated {
    let sites = deal(rows.iter().cloned(), SITES);
    let p = rows[0].covariates.len();
    let grids: Vec<CoxGrid> = sites
        .iter()
        .map(|s| CoxGrid::from_events(s).unwrap())
        .collect();
    let grid = CoxGrid::merge(&grids);
    let fit = fit_cox(p, NewtonOptions::default(), &mut |beta| {
        sites
            .iter()
            .map(|s| cox_site_sums(s, &grid, beta, ties).unwrap())
            .collect()
    })
    .unwrap();
    let beta: Vec<f64> = fit.estimates.iter().map(|e| e.coef).collect();
    // the final round: sums and Gram matrices at the final β
    let mut sums = CoxSiteSums::zeros(p, grid.points().len(), ties);
    let mut gram = ResidualGram::zeros(p, grid.points().len(), 2);
    let mut site_grams = Vec::new();
    for site in &sites {
        sums.add(&cox_site_sums(site, &grid, &beta, ties).unwrap())
            .unwrap();
        let g = cox_residual_gram(site, &grid, &beta).unwrap();
        gram.add(&g).unwrap();
        site_grams.push(g);
    }
    let robust = cox_robust(&beta, &sums, &grid, &gram).unwrap();
    Federated {
        beta,
        robust,
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

/// max |Δ_ij| / √(|R_ii R_jj|): relative to the scale of the entry.
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
fn robust_cox_matches_r_on_binned_lung() {
    let rows = lung_rows();
    let dir = std::env::temp_dir().join(format!("oncofed-robust-peer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("lung_binned.csv");
    let mut text = String::from("time,status,stratum,age,sex,ph.ecog\n");
    for r in &rows {
        let x = &r.covariates;
        text += &format!(
            "{},{},{},{},{},{}\n",
            r.time,
            u8::from(r.event),
            r.stratum,
            x[0],
            x[1],
            x[2]
        );
    }
    std::fs::write(&csv, text).unwrap();
    let child = Command::new(rscript())
        .arg(workspace().join("scripts/peers/stats/robust_reference.R"))
        .arg(&csv)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("Rscript starts");

    let plain = without_strata(&rows);
    let models = [
        ("breslow", Ties::Breslow, &plain),
        ("efron", Ties::Efron, &plain),
        ("breslow_strata", Ties::Breslow, &rows),
        ("efron_strata", Ties::Efron, &rows),
    ];
    let fits: Vec<Federated> = models
        .iter()
        .map(|(_, ties, data)| federated(data, *ties))
        .collect();

    let out = child.wait_with_output().unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        out.status.success(),
        "R robust peer failed (run scripts/setup-peers?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    println!(
        "lung, {} rows, {}-day bins, {SITES} sites; peer {}",
        rows.len(),
        BIN,
        r["version"].as_str().unwrap()
    );
    println!("| model | coef | robust var | naive var | meat Σ L Lᵀ | robust SEs (ours) |");
    let mut failures = Vec::new();
    for ((key, ..), fit) in models.iter().zip(&fits) {
        let peer = &r[*key];
        let p = fit.beta.len();
        let d = [
            rel_vec(&fit.beta, &floats(&peer["coef"])),
            rel_matrix(&fit.robust.covariance, &floats(&peer["var"]), p),
            rel_matrix(&fit.robust.naive_covariance, &floats(&peer["naive_var"]), p),
            rel_matrix(&fit.robust.meat, &floats(&peer["meat"]), p),
        ];
        let se: Vec<String> = fit
            .robust
            .estimates
            .iter()
            .map(|e| format!("{:.6}", e.std_error))
            .collect();
        println!(
            "| {key} | {:.1e} | {:.1e} | {:.1e} | {:.1e} | {} |",
            d[0],
            d[1],
            d[2],
            d[3],
            se.join(", ")
        );
        if d.iter().any(|&x| x.is_nan() || x > REL) {
            failures.push(format!("{key}: relative differences {d:?}"));
        }
        // the robust SE is not the naive one (the test would not notice a swap)
        assert!(
            (fit.robust.covariance[0] - fit.robust.naive_covariance[0]).abs()
                > 1e-3 * fit.robust.naive_covariance[0]
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("; "));
}

/// The cell of a row, computed independently of the library: the last grid
/// point of its stratum at or before its time, and its status.
fn cell_of(row: &SurvivalRow, grid: &CoxGrid) -> Option<usize> {
    let j = grid
        .points()
        .iter()
        .rposition(|g| g.stratum == row.stratum && g.time <= row.time)?;
    Some(2 * j + usize::from(row.event))
}

#[test]
fn each_gram_cell_aggregates_exactly_one_grid_point_and_status() {
    let rows = lung_rows();
    let fit = federated(&rows, Ties::Efron);
    let sites = deal(rows.iter().cloned(), SITES);
    let cells = 2 * fit.grid.points().len();
    let mut pooled = vec![0.0; cells];
    for (site, gram) in sites.iter().zip(&fit.site_grams) {
        let mut expected = vec![0.0; cells];
        for row in site {
            if let Some(c) = cell_of(row, &fit.grid) {
                expected[c] += 1.0;
            }
        }
        assert_eq!(gram.cell_sizes(), expected);
        pooled.iter_mut().zip(&expected).for_each(|(a, b)| *a += b);
    }
    assert_eq!(fit.gram.cell_sizes(), pooled);
    let smallest = pooled
        .iter()
        .filter(|&&n| n > 0.0)
        .fold(f64::MAX, |m, &n| m.min(n));
    println!("non-empty pooled cells: smallest holds {smallest} rows (the caller checks ≥ k)");

    // a site alone in a cell with one row reveals that row: the cell holds its x
    let lonely = [rows
        .iter()
        .find(|r| r.event && r.stratum == 0)
        .unwrap()
        .clone()];
    let grid = CoxGrid::from_events(&lonely).unwrap();
    let gram = cox_residual_gram(&lonely, &grid, &fit.beta).unwrap();
    assert_eq!(gram.cell_sizes(), vec![0.0, 1.0]);
    let q = 2 * 3 + 2;
    let cell = &gram.values[q * (q + 1) / 2..];
    // row 0 of the packed triangle: x_0·ψ, and ψ holds 1 at 2p: entry (0, 2p) = x_0
    assert_eq!(cell[2 * 3], lonely[0].covariates[0]);
}
