//! Fine–Gray regression (issue 12, item 4) in whole federated runs
//! (`oncofed_analysis::run` over 3 sites in memory, exact sums, default time
//! bins at level-2 limits: cells of 3), against R `cmprsk::crr` on the pooled
//! rows with the run's binned times (`scripts/peers/stats/finegray_federated.R`;
//! the test bins the times with the run's reported edges through
//! `time_bin_end`, as the sites do). R with cmprsk is required
//! (`scripts/setup-peers`): without it the test fails, it does not skip.
//!
//! Data: synthetic and deterministic (the generator of
//! `crates/stats/tests/finegray_peer.rs`, on whole days): 600 rows, x1 ∈ {0,
//! 1} (P = 0.4), x2 standard normal (6 decimals), x3 ∈ {0, 1, 2, 3};
//! exponential latent times for the event of interest (rate
//! e^{0.5·x1 − 0.3·x2}/300), the competing death (rate e^{0.2·x3}/500) and
//! censoring (mean 400), administrative censoring at the horizon of 730 days.
//! Rows carry the cause last (1 of interest, 2 competing, 0 censored), `event`
//! true for both causes, as `rows::build_row` makes them. Site = row index
//! mod 3. Two models: x1 + x2 + x3, and x1 + x2 + x3 as a categorical
//! covariate (`cat:`, reference 0: R gets the three 0/1 columns).
//!
//! Asserted: coefficients |Δβ| / |β| and crr's standard errors |ΔSE| / SE
//! ≤ 1e-8 against crr with `gtol = 1e-13`; the rounds within the planned
//! budget. Measured (R 4.2.2, cmprsk 2.2-11; 27 bins of ≥ 11 exits, 257
//! events of interest, 184 competing; 14 rounds, 4 Newton iterations;
//! largest of |Δβ|/|β|, |ΔSE|/SE, |Δz|/|z| over the terms, tolerance 1e-10
//! on exact sums):
//!
//! | model | coef, SE, z | loglik |
//! |---|---|---|
//! | x1 + x2 + x3 | 3.8e-12 (x1's coef; SEs ≤ 7.3e-14) | 9.1e-16 |
//! | x1 + x2 + cat(x3) | 1.0e-14 | 1.2e-15 |
//!
//! The 3.8e-12 is crr's own stopping point (the same over the codec at the
//! default tolerance), not a difference of the federated sums.
//!
//! And the refusals: endpoint os (no event of interest), exact days and
//! delayed entry are refused before any round.

mod support;

use std::fmt::Write as _;
use std::process::Command;

use serde_json::{Value, json};
use support::{InMemory, TempFile, request, rscript, workspace};

use oncofed_analysis::result::RegressionResult;
use oncofed_analysis::rows::Row;
use oncofed_analysis::site::{compute, vector_len};
use oncofed_analysis::{AnalysisError, AnalysisLimits, AnalysisResult, Federation, driver, run};
use oncofed_model::SecurityLevel;
use oncofed_protocol::analysis::{Analysis, Computation, Variable, time_bin_end};

/// Coefficients and standard errors, relative.
const REL: f64 = 1e-8;
/// The same over the secure-aggregation codec at the default tolerance.
const CODEC_REL: f64 = 1e-6;
const ROWS: usize = 600;
const HORIZON: u32 = 730;

fn limits() -> AnalysisLimits {
    AnalysisLimits::for_level(SecurityLevel::Pseudonymised)
}

/// SplitMix64: a small deterministic generator.
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

/// The competing-risks cohort dealt to 3 sites: values x1, x2, x3, cause.
fn sites() -> Vec<Vec<Row>> {
    let mut rng = SplitMix(20_270_115);
    let mut sites = vec![Vec::new(); 3];
    for i in 0..ROWS {
        let x1 = f64::from(u8::from(rng.uniform() < 0.4));
        let x2 = (rng.normal() * 1e6).round() / 1e6;
        let x3 = (rng.uniform() * 4.0).floor().min(3.0);
        let c1 = rng.exponential((0.5 * x1 - 0.3 * x2).exp() / 300.0);
        let c2 = rng.exponential((0.2 * x3).exp() / 500.0);
        let cens = rng.exponential(1.0 / 400.0);
        let first = c1.min(c2).min(cens);
        let days = first.floor();
        let (time, cause) = if days > f64::from(HORIZON) {
            (f64::from(HORIZON), 0.0)
        } else if first == c1 {
            (days, 1.0)
        } else if first == c2 {
            (days, 2.0)
        } else {
            (days, 0.0)
        };
        sites[i % 3].push(Row {
            time,
            entry: 0.0,
            event: cause > 0.0,
            dead: cause == 2.0,
            values: vec![x1, x2, x3, cause],
        });
    }
    sites
}

fn var(name: &str) -> Value {
    let v: Variable = name.parse().expect("a variable name");
    serde_json::to_value(v).unwrap()
}

/// A Fine–Gray analysis of the endpoint `endpoint` with `covariates`, the
/// survival options merged with `survival`.
fn analysis(endpoint: &str, covariates: &[&str], survival: Value) -> Analysis {
    let mut s = json!({"horizon_days": HORIZON, "endpoint": endpoint});
    for (k, v) in survival.as_object().into_iter().flatten() {
        s[k] = v.clone();
    }
    serde_json::from_value(json!({
        "type": "fine-gray",
        "survival": s,
        "covariates": covariates.iter().map(|c| var(c)).collect::<Vec<_>>(),
    }))
    .expect("a valid analysis")
}

fn fine_gray_run(
    sites: &[Vec<Row>],
    analysis: Analysis,
) -> Result<RegressionResult, AnalysisError> {
    let mut fed = InMemory::new(sites.to_vec(), analysis.clone());
    fine_gray_over(&mut fed, analysis, Some(1e-10))
}

/// The run over `fed` at `tolerance` (None: the default).
fn fine_gray_over(
    fed: &mut dyn Federation,
    analysis: Analysis,
    tolerance: Option<f64>,
) -> Result<RegressionResult, AnalysisError> {
    let mut req = request(analysis);
    req.tolerance = tolerance;
    let planned = limits().planned_rounds_for(&req)?;
    let result = run(&req, &limits(), fed)?;
    assert!(
        result.run().rounds <= planned,
        "{} > {planned}",
        result.run().rounds
    );
    match result {
        AnalysisResult::FineGray(r) => Ok(r),
        other => panic!("not a Fine-Gray result: {other:?}"),
    }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

/// crr on the pooled rows with times binned on `edges`; with `categorical`,
/// x3 as its 0/1 columns of levels 1, 2, 3.
fn r_fit(sites: &[Vec<Row>], edges: &[f64], categorical: bool) -> Value {
    let file = TempFile::csv("finegray-r");
    let mut text = String::from(if categorical {
        "time,status,x1,x2,x3_1,x3_2,x3_3\n"
    } else {
        "time,status,x1,x2,x3\n"
    });
    for r in sites.iter().flatten() {
        let v = &r.values;
        let x3 = if categorical {
            (1..=3)
                .map(|l| u8::from(v[2] == f64::from(l)).to_string())
                .collect::<Vec<_>>()
                .join(",")
        } else {
            v[2].to_string()
        };
        writeln!(
            text,
            "{},{},{},{},{x3}",
            time_bin_end(edges, r.time),
            v[3],
            v[0],
            v[1]
        )
        .unwrap();
    }
    std::fs::write(&file.0, text).expect("temporary file writable");
    let out = Command::new(rscript())
        .arg(workspace().join("scripts/peers/stats/finegray_federated.R"))
        .arg(&file.0)
        .output()
        .expect("Rscript starts: run scripts/setup-peers");
    assert!(
        out.status.success(),
        "finegray_federated.R failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("finegray_federated.R prints JSON")
}

#[test]
fn fine_gray_runs_equal_r_crr_on_the_binned_rows() {
    let sites = sites();
    let mut report = String::new();
    let mut worst: f64 = 0.0;
    for categorical in [false, true] {
        let x3 = if categorical {
            "cat:obs:snomed:x3:0,1,2,3"
        } else {
            "obs:snomed:x3"
        };
        let covariates = ["obs:snomed:x1", "obs:snomed:x2", x3];
        let fit = fine_gray_run(&sites, analysis("pfs", &covariates, json!({})))
            .expect("the Fine-Gray run");
        assert_eq!(
            fit.model,
            "fine-gray (subdistribution hazards, crr variance)"
        );
        let bins = fit.run.time_bins.as_ref().expect("binned");
        let r = r_fit(&sites, &bins.edges, categorical);
        let (coef, se, z) = (floats(&r["coef"]), floats(&r["se"]), floats(&r["z"]));
        assert_eq!(fit.estimates.len(), coef.len());
        assert_eq!(fit.terms.len(), coef.len());
        let mut model_worst: f64 = 0.0;
        for (i, e) in fit.estimates.iter().enumerate() {
            let dc = (e.coef - coef[i]).abs() / coef[i].abs();
            let ds = (e.std_error - se[i]).abs() / se[i];
            let dz = (e.z - z[i]).abs() / z[i].abs();
            writeln!(
                report,
                "categorical={categorical} {}: coef {:.15e} / crr {:.15e} ({dc:.1e}), SE {:.15e} / crr {:.15e} ({ds:.1e}), z ({dz:.1e})",
                fit.terms[i], e.coef, coef[i], e.std_error, se[i]
            )
            .unwrap();
            model_worst = model_worst.max(dc).max(ds).max(dz);
        }
        let dl = (fit.loglik - r["loglik"].as_f64().unwrap()).abs()
            / r["loglik"].as_f64().unwrap().abs();
        writeln!(
            report,
            "categorical={categorical}: {} bins (≥ {} exits), {} rounds, {} iterations, {} events of interest / {} competing; largest relative difference {model_worst:.1e}, loglik {dl:.1e} ({})",
            bins.bins,
            bins.min_exits,
            fit.run.rounds,
            fit.iterations,
            r["events"],
            r["competing"],
            r["version"].as_str().unwrap_or("?")
        )
        .unwrap();
        worst = worst.max(model_worst).max(dl);
        // over the secure-aggregation codec (each site component rounded to
        // its resolution), at the default tolerance
        let mut coded = InMemory {
            resolution: driver::CODEC_RESOLUTION,
            ..InMemory::new(sites.clone(), analysis("pfs", &covariates, json!({})))
        };
        let coded = fine_gray_over(&mut coded, analysis("pfs", &covariates, json!({})), None)
            .expect("the Fine-Gray run over the codec");
        let codec_worst = coded
            .estimates
            .iter()
            .enumerate()
            .map(|(i, e)| {
                ((e.coef - coef[i]).abs() / coef[i].abs()).max((e.std_error - se[i]).abs() / se[i])
            })
            .fold(0.0, f64::max);
        writeln!(
            report,
            "categorical={categorical}, codec resolution {:e}: largest relative difference {codec_worst:.1e}",
            driver::CODEC_RESOLUTION
        )
        .unwrap();
        assert!(codec_worst <= CODEC_REL, "codec: {codec_worst:e}\n{report}");
    }
    eprintln!("{report}");
    assert!(
        worst <= REL,
        "Fine-Gray differs from crr by {worst:e}:\n{report}"
    );
}

#[test]
fn fine_gray_without_an_event_of_interest_exact_days_or_delayed_entry_is_refused() {
    let sites = sites();
    let covariates = ["obs:snomed:x1", "obs:snomed:x2"];
    let refused = |analysis: Analysis, phrase: &str| {
        let err = fine_gray_run(&sites, analysis).unwrap_err();
        assert!(
            matches!(&err, AnalysisError::Invalid(m) if m.contains(phrase)),
            "{err:?}"
        );
    };
    refused(
        analysis("os", &covariates, json!({})),
        "needs an event of interest",
    );
    refused(
        analysis("pfs", &covariates, json!({"exact_times": true})),
        "time bins only",
    );
    refused(
        analysis("rfs", &covariates, json!({"entry": "first-contact"})),
        "delayed entry",
    );
}

/// A federation whose `FineGraySums` claim one more event of interest at the
/// first grid time than the competing-risks counts hold.
struct Inflated(InMemory);

impl Federation for Inflated {
    fn sites(&self) -> usize {
        self.0.sites()
    }
    fn sum(&mut self, c: Computation, len: usize) -> Result<Vec<f64>, AnalysisError> {
        let tamper = matches!(c, Computation::FineGraySums { .. });
        let mut v = self.0.sum(c, len)?;
        if tamper {
            v[0] += 1.0;
        }
        Ok(v)
    }
}

#[test]
fn implausible_sums_and_censoring_curves_are_refused() {
    let sites = sites();
    let analysis = analysis("pfs", &["obs:snomed:x1", "obs:snomed:x2"], json!({}));
    // the hub: events of interest in the sums must be those of the counts
    let mut fed = Inflated(InMemory::new(sites.clone(), analysis.clone()));
    let err = fine_gray_over(&mut fed, analysis.clone(), None).unwrap_err();
    assert!(
        matches!(&err, AnalysisError::Federation(m) if m.contains("implausible sums")),
        "{err:?}"
    );
    // a site: the censoring curve must be in (0, 1], 1 first, non-increasing,
    // on a grid holding every bin's end
    let fit = fine_gray_run(&sites, analysis.clone()).expect("the run");
    let edges = fit.run.time_bins.unwrap().edges;
    let grid: Vec<f64> = edges[1..].iter().map(|e| e - 1.0).collect();
    let t = grid.len();
    let sums = |g: Vec<f64>, grid: Vec<f64>| Computation::FineGraySums {
        grid,
        censoring_survival: g,
        beta: vec![0.1, -0.2],
        bins: edges.clone(),
    };
    let falling: Vec<f64> = (0..t).map(|j| 1.0 - j as f64 / (2 * t) as f64).collect();
    let ok = sums(falling.clone(), grid.clone());
    let v = compute(&sites[0], &analysis, &ok).expect("a plausible grid");
    assert_eq!(v.len(), vector_len(&analysis, &ok));
    let mut rising = falling.clone();
    rising.swap(1, 2);
    let mut zero = falling.clone();
    zero[t - 1] = 0.0;
    for bad in [
        sums(rising, grid.clone()),
        sums(zero, grid.clone()),
        sums(vec![1.0; t - 1], grid.clone()),
        sums(vec![1.0; t - 1], grid[1..].to_vec()),
    ] {
        assert!(
            matches!(
                compute(&sites[0], &analysis, &bad),
                Err(AnalysisError::Invalid(_))
            ),
            "{bad:?}"
        );
    }
}
