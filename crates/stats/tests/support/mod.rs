//! Shared setup for the peer tests (`lung_peer`, `r_peer`, `cif_peer`): where the
//! workspace, the lung data and the Python peer are, and reading a CSV file
//! into sites.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use oncofed_stats::{
    CoxFit, CoxGrid, NewtonOptions, SurvivalRow, Ties, cox_site_contribution, cox_site_sums,
    fit_cox, fit_cox_stratified_by_site,
};

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `ONCOFED_LUNG_CSV`, or `../shared/data/ncctg-lung-lifelines/lung.csv` beside
/// the workspace.
pub fn lung_csv() -> PathBuf {
    std::env::var_os("ONCOFED_LUNG_CSV")
        .map(PathBuf::from)
        .unwrap_or_else(|| oncofed_testkit::shared_data().join("ncctg-lung-lifelines/lung.csv"))
}

/// The Python with the statistics peers: `ONCOFED_PYTHON`, or the workspace's
/// `.venv` from `scripts/setup-peers`.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("ONCOFED_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = workspace().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "the Python peer is not installed: run scripts/setup-peers (or set ONCOFED_PYTHON)"
    );
    venv
}

/// The header of the CSV file at `path` and its data rows in file order, each
/// field a number or `None` (NA, empty or not a number). Panics with
/// `unreadable` when the file cannot be read.
pub fn read_csv(path: &Path, unreadable: &str) -> (Vec<String>, Vec<Vec<Option<f64>>>) {
    let text = std::fs::read_to_string(path).expect(unreadable);
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|line| line.split(',').map(|f| f.parse::<f64>().ok()).collect())
        .collect();
    (header, rows)
}

/// `items` dealt to `sites` sites: item i to site i mod `sites`, in order.
pub fn deal<T>(items: impl IntoIterator<Item = T>, sites: usize) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = (0..sites).map(|_| Vec::new()).collect();
    for (i, item) in items.into_iter().enumerate() {
        out[i % sites].push(item);
    }
    out
}

/// Cox with `p` covariates fitted over `sites` as the protocol does (default
/// Newton options): the hub merges the sites' event grids, then sums the
/// sites' risk-set sums at each β.
pub fn federated_cox(p: usize, sites: &[Vec<SurvivalRow>], ties: Ties) -> CoxFit {
    let grids: Vec<CoxGrid> = sites
        .iter()
        .map(|r| CoxGrid::from_events(r).unwrap())
        .collect();
    let grid = CoxGrid::merge(&grids);
    fit_cox(p, NewtonOptions::default(), &mut |beta| {
        sites
            .iter()
            .map(|r| cox_site_sums(r, &grid, beta, ties).unwrap())
            .collect()
    })
    .unwrap()
}

/// Cox with `p` covariates stratified by site, fitted over `sites` (default
/// Newton options): each site's own contribution at each β.
pub fn federated_cox_by_site(p: usize, sites: &[Vec<SurvivalRow>], ties: Ties) -> CoxFit {
    fit_cox_stratified_by_site(p, NewtonOptions::default(), &mut |beta| {
        sites
            .iter()
            .map(|r| cox_site_contribution(r, beta, ties).unwrap())
            .collect()
    })
    .unwrap()
}

/// `ONCOFED_RSCRIPT` or `Rscript` on the PATH; fails (never skips) when R is
/// missing, naming the script that installs it.
pub fn rscript() -> PathBuf {
    let r = std::env::var_os("ONCOFED_RSCRIPT").map_or_else(|| "Rscript".into(), PathBuf::from);
    match std::process::Command::new(&r).arg("--version").output() {
        Ok(out) if out.status.success() => r,
        _ => panic!(
            "R is not installed ({} not found): run scripts/setup-peers",
            r.display()
        ),
    }
}
