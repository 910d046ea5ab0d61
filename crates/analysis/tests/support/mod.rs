//! Shared setup for the analysis integration tests: sites held in memory, and
//! a deterministic pseudo-random source.

#![allow(dead_code)]

use oncofed_analysis::rows::Row;
use oncofed_analysis::site::compute;
use oncofed_analysis::{AnalysisError, Federation};
use oncofed_protocol::analysis::{Analysis, AnalysisRequest, Computation, IndexEvent, Ties};
use oncofed_stats::{CoxGrid, NewtonOptions, SurvivalRow, cox_site_sums, fit_cox};

/// Sites in memory; each site vector is rounded to `resolution` (as the
/// secure-aggregation fixed-point codec rounds it) before it is summed, or
/// summed exactly when `resolution` is 0.
pub struct InMemory {
    pub sites: Vec<Vec<Row>>,
    pub analysis: Analysis,
    /// The codec's resolution, or 0 for exact sums.
    pub resolution: f64,
}

impl InMemory {
    /// Sites whose vectors are summed exactly.
    pub fn new(sites: Vec<Vec<Row>>, analysis: Analysis) -> Self {
        InMemory {
            sites,
            analysis,
            resolution: 0.0,
        }
    }
}

impl Federation for InMemory {
    fn sites(&self) -> usize {
        self.sites.len()
    }
    fn sum(&mut self, c: Computation, len: usize) -> Result<Vec<f64>, AnalysisError> {
        let mut total = vec![0.0; len];
        for rows in &self.sites {
            let v = compute(rows, &self.analysis, &c)?;
            assert_eq!(v.len(), len, "layout of {c:?}");
            for (t, x) in total.iter_mut().zip(v) {
                *t += if self.resolution > 0.0 {
                    (x / self.resolution).round() * self.resolution
                } else {
                    x
                };
            }
        }
        Ok(total)
    }
}

/// A request in project `p` for the C34 cohort to run `analysis`, without
/// noise, not waiting.
pub fn request(analysis: Analysis) -> AnalysisRequest {
    AnalysisRequest {
        project: "p".into(),
        index: IndexEvent {
            icd10: "C34".into(),
        },
        cohort: None,
        analysis,
        epsilon: None,
        wait_seconds: None,
        tolerance: None,
        max_iter: None,
    }
}

/// The pooled single-process Cox fit of `all` in exact arithmetic, run to
/// convergence, each row's time taken through `time`: (coef, SE) of each of
/// the `p` covariates.
pub fn pooled_cox(all: &[Row], p: usize, ties: Ties, time: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
    let rows: Vec<SurvivalRow> = all
        .iter()
        .map(|r| SurvivalRow {
            time: time(r.time),
            event: r.event,
            covariates: r.values.clone(),
            stratum: 0,
        })
        .collect();
    let grid = CoxGrid::from_events(&rows).unwrap();
    let options = NewtonOptions {
        tolerance: 1e-13,
        max_iterations: 50,
        ..NewtonOptions::default()
    };
    let fit = fit_cox(p, options, &mut |beta| {
        vec![cox_site_sums(&rows, &grid, beta, ties).unwrap()]
    })
    .unwrap();
    fit.estimates
        .iter()
        .map(|e| (e.coef, e.std_error))
        .collect()
}

/// A deterministic xorshift source of uniform values in [0, 1) from `seed`.
pub fn uniform(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The NCCTG lung data (`../shared/data/ncctg-lung-lifelines/lung.csv`, or
/// `ONCOFED_LUNG_CSV`), complete cases of the covariates `names`, rows dealt to
/// 3 sites.
pub fn lung_sites(names: &[&str]) -> Vec<Vec<Row>> {
    let path = std::env::var_os("ONCOFED_LUNG_CSV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| oncofed_testkit::shared_data().join("ncctg-lung-lifelines/lung.csv"));
    let text = std::fs::read_to_string(&path).expect("lung.csv readable (../shared/data)");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (time, status) = (col("time"), col("status"));
    let mut sites = vec![Vec::new(); 3];
    for (i, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        let value = |c: usize| fields[c].parse::<f64>().ok();
        let values: Option<Vec<f64>> = names.iter().map(|n| value(col(n))).collect();
        let (Some(values), Some(t), Some(s)) = (values, value(time), value(status)) else {
            continue;
        };
        sites[i % 3].push(Row {
            time: t,
            event: s == 1.0,
            dead: s == 1.0,
            values,
            entry: 0.0,
        });
    }
    sites
}

/// The Python with the statistics peers (lifelines, statsmodels):
/// `ONCOFED_PYTHON`, or the workspace's `.venv` from `scripts/setup-peers`.
pub fn python() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("ONCOFED_PYTHON") {
        return p.into();
    }
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    assert!(
        venv.exists(),
        "the Python peer is not installed: run scripts/setup-peers (or set ONCOFED_PYTHON)"
    );
    venv
}

/// The pooled peer figures of `scripts/peers/stats/lung_reference.py`.
pub fn lung_peer() -> serde_json::Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let csv = std::env::var_os("ONCOFED_LUNG_CSV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| oncofed_testkit::shared_data().join("ncctg-lung-lifelines/lung.csv"));
    let out = std::process::Command::new(python())
        .arg(root.join("scripts/peers/stats/lung_reference.py"))
        .arg(csv)
        .output()
        .expect("run the Python peer");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("peer JSON")
}

/// The workspace root.
pub fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `ONCOFED_RSCRIPT` or `Rscript` on the PATH; fails (never skips) when R is
/// missing, naming the script that installs it.
pub fn rscript() -> std::path::PathBuf {
    let r = std::env::var_os("ONCOFED_RSCRIPT")
        .map_or_else(|| "Rscript".into(), std::path::PathBuf::from);
    match std::process::Command::new(&r).arg("--version").output() {
        Ok(out) if out.status.success() => r,
        _ => panic!(
            "R is not installed ({} not found): run scripts/setup-peers",
            r.display()
        ),
    }
}

/// A file in the temporary directory, deleted however the test ends.
pub struct TempFile(pub std::path::PathBuf);

impl TempFile {
    /// `oncofed-<name>-<process>-<thread>.csv` in the temporary directory.
    pub fn csv(name: &str) -> Self {
        TempFile(std::env::temp_dir().join(format!(
            "oncofed-{name}-{}-{:?}.csv",
            std::process::id(),
            std::thread::current().id()
        )))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
