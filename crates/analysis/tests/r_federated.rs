//! Issue 12, "what must be shown": whole federated analysis runs
//! (`oncofed_analysis::run` over 3 sites in memory, only sums reaching the
//! hub, on the default **time bins** the driver finds) against R's `survival`
//! (`coxph`, `survfit`, `survdiff`) on the pooled rows with the same binned
//! times. R bins the unbinned times itself from the run's reported
//! `run.time_bins.edges` (`scripts/peers/stats/federated_reference.R`), so the
//! comparison also checks that the reported edges are the bins the sites used.
//! Limits of level 2 (`AnalysisLimits::for_level(Pseudonymised)`: cells of 3,
//! 3 events per released KM step, bins of 0 or ≥ 3 exits, deaths and
//! censorings); 3 sites, data row i to site i mod 3.
//!
//! 1. **Cox with a categorical covariate** (Efron): NCCTG lung, age + sex +
//!    ECOG as `cat:` with reference 0 and with reference 1, against
//!    `coxph(Surv(t, d) ~ age + sex + factor(ecog, levels = ...))`. Lung has
//!    one ECOG-3 row, under the minimum cell: it is merged into ECOG 2.
//! 2. **k-group Kaplan–Meier**: lung by ECOG (0, 1, 2–3), per curve `n` and
//!    events, the released step times (the release rule applied to R's death
//!    counts), and per released step `at_risk` (rows with binned time ≥ t: R's
//!    `n.risk` at its first time ≥ t), `censored` (R's `n.censor` summed over
//!    `[previous released time, t)`), S(t) and its log-log CI (R's at its last
//!    time ≤ t), each count through the same minimum-cell rule; the median and
//!    its CI bounds where released (a withheld one is printed with R's); the
//!    3-group log-rank χ², df, p, observed and expected against `survdiff`.
//! 3. **Cox with 8 covariates** (all lung has: inst, age, sex, ph.ecog,
//!    ph.karno, pat.karno, meal.cal, wt.loss; inst is a numeric code here, a
//!    test of the arithmetic, not a model), Breslow and Efron; the Newton
//!    iterations and the score at the estimate as the run reports them.
//! 4. **Rossi recidivism** (ships inside lifelines; written to a temporary file
//!    at test time by `scripts/peers/stats/survival_lifelines.py rossi`, never
//!    committed): Cox (Efron, Breslow) on fin, age, race, wexp, mar, paro and
//!    prior convictions banded 0, 1, 2, 3+ as a categorical (reference 0);
//!    KM and the 4-group log-rank by that band. Weeks are the time unit
//!    (horizon 60, steps every 4).
//!
//! Every Cox model runs twice: on exact sums and over the secure-aggregation
//! codec (each site vector rounded to [`driver::CODEC_RESOLUTION`], 2^-48, as
//! `oncofed-secagg`'s `WideFixedPoint` rounds it), both at the default Newton
//! tolerance (1e-9) and both held to [`COX_REL`] = 1e-8. R is required:
//! without `Rscript` (or `ONCOFED_RSCRIPT`) the test fails, naming
//! `scripts/setup-peers`. Run with `--nocapture` for the side-by-side table.
//!
//! Measured (R 4.2.2, survival 3.5-3). Cox: largest |Δβ| / max(|β|, SE) (in
//! brackets |Δβ| / |β|), |ΔSE| / SE and |Δloglik| / |loglik| over all terms;
//! iterations ours / R; max |U| is the largest score component the run reports
//! at its last evaluated β.
//!
//! | data, model | sums | coef | SE | loglik | iter. | max \|U\| |
//! |---|---|---|---|---|---|---|
//! | lung Efron, age + sex + ECOG ref 0 (227 rows, 13 bins) | exact | 5.8e-14 (6.3e-14) | 1.5e-14 | 4.6e-16 | 5 / 5 | 4.7e-12 |
//! | | codec 2^-48 | 4.9e-14 (5.3e-14) | 1.3e-14 | 6.1e-16 | 5 / 5 | 4.3e-12 |
//! | lung Efron, age + sex + ECOG ref 1 | exact | 2.8e-14 (3.0e-14) | 1.3e-14 | 1.5e-16 | 5 / 5 | 2.6e-12 |
//! | | codec 2^-48 | 5.1e-14 (5.6e-14) | 1.6e-14 | 3.1e-16 | 5 / 5 | 6.6e-12 |
//! | lung Breslow, 8 covariates (167 rows, 8 bins) | exact | 3.0e-14 (1.7e-13) | 2.4e-14 | 2.1e-16 | 5 / 4 | 3.3e-11 |
//! | | codec 2^-48 | 1.9e-14 (9.7e-14) | 5.9e-15 | 0 | 5 / 4 | 2.9e-11 |
//! | lung Efron, 8 covariates | exact | 1.6e-13 (2.6e-12) | 2.2e-14 | 4.5e-16 | 5 / 4 | 6.1e-10 |
//! | | codec 2^-48 | 1.7e-13 (2.7e-12) | 1.9e-14 | 2.3e-16 | 5 / 4 | 6.7e-10 |
//! | Rossi Efron, 9 terms (432 rows, 28 bins) | exact | 3.1e-14 (4.8e-14) | 5.9e-15 | 1.2e-15 | 6 / 5 | 1.8e-12 |
//! | | codec 2^-48 | 2.6e-14 (3.9e-14) | 4.5e-15 | 6.9e-16 | 6 / 5 | 1.8e-12 |
//! | Rossi Breslow, 9 terms | exact | 4.0e-14 (5.5e-14) | 3.7e-15 | 1.7e-16 | 6 / 5 | 2.6e-12 |
//! | | codec 2^-48 | 3.0e-14 (4.2e-14) | 5.8e-15 | 3.5e-16 | 6 / 5 | 4.7e-13 |
//!
//! | data, KM | counts and medians | S(t) | CI | χ² (rel.) | p | expected |
//! |---|---|---|---|---|---|---|
//! | lung by ECOG, 3 curves (227 rows, 4 bins; χ² 22.15, df 2) | 26 over 6 steps, all equal | 1.1e-16 | 1.1e-16 | 1.3e-15 | 2.1e-19 | 0 |
//! | Rossi by prio band, 4 curves (432 rows, 3 bins; χ² 13.19, df 3) | 50 over 11 steps, all equal | 5.6e-16 | 4.4e-16 | 1.3e-16 | 5.2e-18 | 3.6e-15 |
//!
//! Reading it: the whole runs are R's fits on the binned times to rounding,
//! over the codec as on exact sums. The Newton decrement at the reported
//! estimate is 2e-14..4e-13 (the sites' `f64` arithmetic, not the codec);
//! Rossi takes one Newton step more than R (6 / 5) to pass the tolerance of
//! 1e-9 and so has its SEs (from the information at the last evaluated β) at
//! 6e-15. Before the wide codec (issue 12), over `FixedPoint::DEFAULT`'s 2^-24
//! at the then default tolerance 1e-7, the codec's rounding of the summed
//! risk-set sums moved the maximum itself: coef 2.4e-8 and 3.2e-8 of
//! max(|β|, SE) on lung (lung ref 0, lung-8 Efron), 1.0e-8 on Rossi Breslow,
//! SEs up to 1.7e-8, in proportion to the resolution (2^-32 gave 2.9e-11..
//! 7.6e-11), and no Newton tolerance removed it; the Rossi SEs were at 1.5e-10
//! (one step of decrement ~1.7e-9 before the estimate).

#[path = "r_federated/km.rs"]
mod km;
mod support;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use km::km_vs_r;
use serde_json::Value;
use support::{InMemory, TempFile, lung_sites, python, request, rscript, workspace};

use oncofed_analysis::result::{KmResult, MedianStatus, RegressionResult, RunInfo, cell};
use oncofed_analysis::rows::Row;
use oncofed_analysis::{AnalysisLimits, AnalysisResult, driver, run};
use oncofed_model::{CodeSystem, SecurityLevel};
use oncofed_protocol::analysis::{Analysis, Level, Survival, Ties, Variable};

/// Cox coefficients (relative to `max(|β|, SE)`), SEs and the log-likelihood
/// (relative): the aim.
const COX_REL: f64 = 1e-8;
/// S(t) at a released step, absolute.
const S_ABS: f64 = 1e-12;
/// The log-log CI bounds at a released step, absolute.
const CI_ABS: f64 = 1e-12;
/// Log-rank χ² relative, expected counts absolute.
const CHI2_REL: f64 = 1e-10;
/// Log-rank p-value, absolute.
const P_ABS: f64 = 1e-12;

/// The limits the tests run under: level 2 (pseudonymised clinical data),
/// minimum cell 3, 3 events per released KM step.
fn limits() -> AnalysisLimits {
    AnalysisLimits::for_level(SecurityLevel::Pseudonymised)
}

/// A stand-in variable naming a row column (the rows carry the values).
fn column(name: &str) -> Variable {
    Variable::Observation {
        system: CodeSystem::Snomed,
        code: name.into(),
        window_days: None,
    }
}

/// `variable` as a categorical covariate over `levels`, the first the reference.
fn categorical(variable: Variable, levels: &[f64]) -> Variable {
    Variable::Categorical {
        variable: Box::new(variable),
        levels: levels.iter().copied().map(Level).collect(),
    }
}

/// The ECOG observation (LOINC 89247-1), as the lung tests name it.
fn ecog() -> Variable {
    Variable::Observation {
        system: CodeSystem::Loinc,
        code: "89247-1".into(),
        window_days: None,
    }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

fn count(v: &Value) -> u64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}")) as u64
}

/// The pooled rows of all sites as `time,event,<columns>` (unbinned times).
fn write_rows(file: &TempFile, columns: &[&str], sites: &[Vec<Row>]) {
    let mut text = format!("time,event,{}\n", columns.join(","));
    for r in sites.iter().flatten() {
        assert_eq!(r.values.len(), columns.len());
        write!(text, "{},{}", r.time, u8::from(r.event)).unwrap();
        for v in &r.values {
            write!(text, ",{v}").unwrap();
        }
        text.push('\n');
    }
    std::fs::write(&file.0, text).expect("temporary data file writable");
}

/// The run's time-bin edges as R's EDGES argument; the run must have binned.
fn edges(run: &RunInfo) -> String {
    let bins = run
        .time_bins
        .as_ref()
        .expect("the run reports its time bins");
    assert!(!bins.exact && bins.edges.len() > 2, "{bins:?}");
    let e: Vec<String> = bins.edges.iter().map(f64::to_string).collect();
    e.join(",")
}

/// Runs `federated_reference.R` with `args`.
fn r(args: &[&str]) -> Value {
    let script = workspace().join("scripts/peers/stats/federated_reference.R");
    let out = Command::new(rscript())
        .arg(script)
        .args(args)
        .output()
        .expect("Rscript starts: run scripts/setup-peers");
    assert!(
        out.status.success(),
        "federated_reference.R {} failed (run scripts/setup-peers?): {}",
        args[0],
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("federated_reference.R prints JSON")
}

/// The side-by-side report: every compared number, the largest difference
/// per model and quantity, and the failures, asserted after all is printed.
struct Table {
    text: String,
    failures: Vec<String>,
    /// Per model: (quantity, largest difference) in first-seen order.
    summary: Vec<(String, Vec<(String, f64)>)>,
}

impl Table {
    fn new(title: &str) -> Self {
        Table {
            text: format!("\n==== {title}\n"),
            failures: Vec::new(),
            summary: Vec::new(),
        }
    }

    fn section(&mut self, name: &str) {
        writeln!(self.text, "\n== {name}").unwrap();
        writeln!(
            self.text,
            "{:<44} {:>22} {:>22} {:>9} {:>7}",
            "quantity", "ours", "R", "|Δ|", "tol"
        )
        .unwrap();
        self.summary.push((name.into(), Vec::new()));
    }

    fn note(&mut self, line: &str) {
        writeln!(self.text, "  {line}").unwrap();
    }

    fn record(&mut self, metric: &str, diff: f64) {
        let (_, metrics) = self.summary.last_mut().expect("a section");
        match metrics.iter_mut().find(|(m, _)| m == metric) {
            Some((_, worst)) => *worst = worst.max(diff),
            None => metrics.push((metric.into(), diff)),
        }
    }

    /// A number compared within `tol` (`diff` as the metric defines it); a
    /// NaN difference fails.
    fn close(&mut self, metric: &str, what: &str, ours: f64, theirs: f64, diff: f64, tol: f64) {
        let ok = diff <= tol;
        writeln!(
            self.text,
            "{what:<44} {ours:>22.15e} {theirs:>22.15e} {diff:>9.1e} {tol:>7.0e}{}",
            if ok { "" } else { "  FAIL" }
        )
        .unwrap();
        self.record(metric, if diff.is_nan() { f64::INFINITY } else { diff });
        if !ok {
            self.failures
                .push(format!("{what}: ours {ours:e}, R {theirs:e}, |Δ| {diff:e}"));
        }
    }

    /// A value that must equal R's exactly (counts, degrees of freedom, ...);
    /// quiet unless it differs, counted in the metric `exact mismatches`.
    fn same<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, ours: T, theirs: T) {
        let ok = ours == theirs;
        self.record("exact mismatches", f64::from(u8::from(!ok)));
        if !ok {
            writeln!(self.text, "{what:<44} {ours:?} != R {theirs:?}  FAIL").unwrap();
            self.failures
                .push(format!("{what}: ours {ours:?}, R {theirs:?}"));
        }
    }

    fn finish(mut self) {
        writeln!(self.text, "\n== largest differences per model").unwrap();
        for (name, metrics) in &self.summary {
            let m: Vec<String> = metrics
                .iter()
                .map(|(m, d)| {
                    if m == "exact mismatches" {
                        format!("{m} {}", *d as u64)
                    } else {
                        format!("{m} {d:.1e}")
                    }
                })
                .collect();
            writeln!(self.text, "{name}: {}", m.join(", ")).unwrap();
        }
        eprintln!("{}", self.text);
        assert!(
            self.failures.is_empty(),
            "{} differences to R:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

/// An analysis from its wire form (the request JSON), so that fields added
/// later with defaults (e.g. Cox strata) leave these tests as they are.
fn wire(json: Value) -> Analysis {
    serde_json::from_value(json).expect("a valid analysis")
}

/// A Cox run over `sites` (each site vector rounded to `resolution`, 0 for
/// exact sums) under [`limits`].
fn cox_run(
    sites: &[Vec<Row>],
    covariates: Vec<Variable>,
    ties: Ties,
    survival: Survival,
    resolution: f64,
) -> RegressionResult {
    let analysis = wire(serde_json::json!({
        "type": "cox",
        "survival": survival,
        "covariates": covariates,
        "ties": ties,
    }));
    let mut fed = InMemory {
        sites: sites.to_vec(),
        analysis: analysis.clone(),
        resolution,
    };
    match run(&request(analysis), &limits(), &mut fed).expect("the Cox run") {
        AnalysisResult::Cox(r) => r,
        other => panic!("not a Cox result: {other:?}"),
    }
}

/// A KM run over `sites` (codec rounding) grouped by the rows' only value.
fn km_run(sites: &[Vec<Row>], groups: Variable, survival: Survival, interval: u32) -> KmResult {
    let analysis = wire(serde_json::json!({
        "type": "kaplan-meier",
        "survival": survival,
        "groups": groups,
        "interval_days": interval,
    }));
    let mut fed = InMemory {
        sites: sites.to_vec(),
        analysis: analysis.clone(),
        resolution: driver::CODEC_RESOLUTION,
    };
    match run(&request(analysis), &limits(), &mut fed).expect("the KM run") {
        AnalysisResult::Km(r) => r,
        other => panic!("not a KM result: {other:?}"),
    }
}

/// A Cox model to run and compare: its columns (the rows' values in order)
/// and, for a categorical covariate, its column and levels (reference first).
struct CoxSpec<'a> {
    data: &'a str,
    columns: &'a [&'a str],
    covariates: Vec<Variable>,
    factor: Option<(&'a str, &'a [f64])>,
    survival: Survival,
}

/// Runs `spec` with `ties` on exact sums and over the codec, and compares
/// each run with coxph on the pooled rows binned by that run's edges.
fn cox_vs_r(t: &mut Table, sites: &[Vec<Row>], spec: &CoxSpec<'_>, ties: Ties) {
    let file = TempFile::csv(&format!("r-federated-{}", spec.data));
    write_rows(&file, spec.columns, sites);
    let ties_name = match ties {
        Ties::Efron => "efron",
        Ties::Breslow => "breslow",
    };
    let levels = spec.factor.map(|(c, l)| {
        let l: Vec<String> = l.iter().map(f64::to_string).collect();
        (c, l.join(","))
    });
    for (sums, resolution) in [
        ("exact sums", 0.0),
        ("codec 2^-48", driver::CODEC_RESOLUTION),
    ] {
        let fit = cox_run(
            sites,
            spec.covariates.clone(),
            ties,
            spec.survival.clone(),
            resolution,
        );
        let edges = edges(&fit.run);
        let columns = spec.columns.join(",");
        let path = file.0.display().to_string();
        let mut args = vec!["cox", &path, &edges, ties_name, &columns];
        if let Some((c, l)) = &levels {
            args.extend([*c, l.as_str()]);
        }
        let peer = r(&args);
        let reference = spec
            .factor
            .map_or(String::new(), |(c, l)| format!(" ({c} reference {})", l[0]));
        t.section(&format!(
            "{}: Cox {ties_name}, {} terms{reference}, {sums}",
            spec.data,
            fit.terms.len()
        ));
        compare_cox(t, &fit, &peer, spec.factor.map(|(_, l)| l), COX_REL);
    }
}

/// Compares a Cox run with coxph: n, events, the categorical terms, each
/// coefficient (relative to `max(|β|, SE)`) and SE (relative) and the
/// log-likelihood (relative) within `tol`; notes how it converged.
fn compare_cox(
    t: &mut Table,
    fit: &RegressionResult,
    peer: &Value,
    levels: Option<&[f64]>,
    tol: f64,
) {
    let (coef, se) = (floats(&peer["coef"]), floats(&peer["se"]));
    let bins = fit.run.time_bins.as_ref().unwrap();
    t.note(&format!(
        "{} rows, {} events; {} time bins (narrowest {} days, fewest exits {}); {}",
        fit.run.rows, fit.run.events, bins.bins, bins.narrowest_days, bins.min_exits, peer["peer"]
    ));
    t.same("coefficients", fit.estimates.len(), coef.len());
    t.same("n", fit.run.rows, count(&peer["n"]));
    t.same("events", fit.run.events, count(&peer["events"]));
    // a categorical covariate's terms are its non-reference levels, in order
    if let Some(levels) = levels {
        let r_terms: Vec<String> = peer["terms"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s.as_str()?.strip_prefix("factor(").map(String::from))
            .filter_map(|s| s.rsplit_once(')').map(|(_, l)| l.to_string()))
            .collect();
        let ours: Vec<String> = fit
            .terms
            .iter()
            .filter(|n| n.contains('='))
            .map(|n| n.rsplit_once('=').unwrap().1.to_string())
            .collect();
        let want: Vec<String> = levels[1..].iter().map(f64::to_string).collect();
        t.same("categorical terms (levels)", &ours, &r_terms);
        t.same("categorical terms (as asked)", &ours, &want);
        let reference = format!("={}", levels[0]);
        t.same(
            "reference level",
            fit.references.len() == 1 && fit.references[0].ends_with(&reference),
            true,
        );
    }
    for (i, e) in fit.estimates.iter().enumerate().take(coef.len()) {
        let term = &fit.terms[i];
        let d = (e.coef - coef[i]).abs();
        t.close(
            "coef (of max(|β|,SE))",
            &format!("coef {term}"),
            e.coef,
            coef[i],
            d / coef[i].abs().max(se[i]),
            tol,
        );
        t.record("coef (of |β|)", d / coef[i].abs());
        t.close(
            "SE",
            &format!("SE {term}"),
            e.std_error,
            se[i],
            (e.std_error - se[i]).abs() / se[i],
            tol,
        );
    }
    let loglik = peer["loglik"].as_f64().unwrap();
    t.close(
        "loglik",
        "loglik",
        fit.loglik,
        loglik,
        (fit.loglik - loglik).abs() / loglik.abs(),
        tol,
    );
    let c = fit
        .convergence
        .as_ref()
        .expect("the run reports convergence");
    t.note(&format!(
        "Newton iterations: ours {} ({} rounds, {} halvings), R {}; at our estimate: decrement {:.1e}, max |U| {:.1e} ({})",
        fit.iterations,
        fit.run.rounds,
        c.halvings,
        peer["iterations"],
        c.newton_decrement,
        c.max_abs_score,
        c.criterion
    ));
    t.same(
        "converged (decrement < tolerance)",
        c.newton_decrement < c.tolerance,
        true,
    );
    t.record("iterations", fit.iterations as f64);
    t.record("max |U|", c.max_abs_score);
}

/// Lung's ECOG with the single ECOG-3 row merged into ECOG 2: level 3 is
/// under the minimum cell of 3 (refused by name otherwise, see
/// tests/categorical.rs), so the two worst grades form one level "2".
fn merge_ecog3(sites: &mut [Vec<Row>], column: usize) {
    for r in sites.iter_mut().flatten() {
        if r.values[column] == 3.0 {
            r.values[column] = 2.0;
        }
    }
}

#[test]
fn lung_federated_runs_on_time_bins_equal_r() {
    let mut t = Table::new("NCCTG lung, 3 sites (row i to site i mod 3), time bins");

    // 1. Cox (Efron) with ECOG categorical, reference 0 and reference 1
    let mut sites = lung_sites(&["age", "sex", "ph.ecog"]);
    merge_ecog3(&mut sites, 2);
    for levels in [[0.0, 1.0, 2.0], [1.0, 0.0, 2.0]] {
        let spec = CoxSpec {
            data: "lung",
            columns: &["age", "sex", "ecog"],
            covariates: vec![
                Variable::Age,
                Variable::Female,
                categorical(ecog(), &levels),
            ],
            factor: Some(("ecog", &levels)),
            survival: Survival::default(),
        };
        cox_vs_r(&mut t, &sites, &spec, Ties::Efron);
    }

    // 2. KM by ECOG (0, 1, 2-3) and the 3-group log-rank
    let mut sites = lung_sites(&["ph.ecog"]);
    merge_ecog3(&mut sites, 0);
    let km = km_run(&sites, ecog(), Survival::default(), 30);
    km_vs_r(&mut t, "lung", &sites, "ecog", &km);

    // 3. Cox with all 8 covariates lung has (inst is a numeric code here:
    //    a test of the arithmetic, not a model), Breslow and Efron
    let eight = [
        "inst",
        "age",
        "sex",
        "ph.ecog",
        "ph.karno",
        "pat.karno",
        "meal.cal",
        "wt.loss",
    ];
    let sites = lung_sites(&eight);
    let spec = CoxSpec {
        data: "lung-8",
        columns: &eight,
        covariates: eight.iter().map(|c| column(c)).collect(),
        factor: None,
        survival: Survival::default(),
    };
    for ties in [Ties::Breslow, Ties::Efron] {
        cox_vs_r(&mut t, &sites, &spec, ties);
    }
    t.finish();
}

/// Sites from a CSV file: rows with `time`, `event` (1 = event) and every
/// one of `columns` present, data row i to site i mod 3.
fn csv_sites(path: &Path, time: &str, event: &str, columns: &[&str]) -> Vec<Vec<Row>> {
    let text = std::fs::read_to_string(path).expect("data file readable");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim_matches('"') == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (time, event) = (col(time), col(event));
    let columns: Vec<usize> = columns.iter().map(|c| col(c)).collect();
    let mut sites = vec![Vec::new(); 3];
    for (i, line) in lines.enumerate() {
        let fields: Vec<Option<f64>> = line.split(',').map(|f| f.parse().ok()).collect();
        let values: Option<Vec<f64>> = columns.iter().map(|&c| fields[c]).collect();
        let (Some(values), Some(t), Some(e)) = (values, fields[time], fields[event]) else {
            continue;
        };
        sites[i % 3].push(Row {
            time: t,
            event: e == 1.0,
            dead: e == 1.0,
            values,
            entry: 0.0,
        });
    }
    sites
}

#[test]
fn rossi_federated_runs_on_time_bins_equal_r() {
    // the Rossi data ships inside lifelines: written to a temporary file by
    // the existing peer script (with prio_group = min(prio, 3)), deleted after
    let file = TempFile::csv("r-federated-rossi-data");
    let out = Command::new(python())
        .arg(workspace().join("scripts/peers/stats/survival_lifelines.py"))
        .arg("rossi")
        .arg(&file.0)
        .output()
        .expect("the Python peer starts: run scripts/setup-peers");
    assert!(
        out.status.success() && file.0.exists(),
        "writing the Rossi data from lifelines failed (run scripts/setup-peers): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut t = Table::new(
        "Rossi recidivism (lifelines.datasets.load_rossi), 3 sites (row i to site i mod 3), time bins on weeks",
    );
    // times are weeks 1-52: a horizon of 60 "days" gives coarse bins of 4
    // weeks, refined where every half keeps k = 3
    let survival = Survival::binned(60);

    // 4a. Cox with prior convictions banded 0, 1, 2, 3+ as a categorical
    //     (reference 0), Efron and Breslow
    let columns = ["fin", "age", "race", "wexp", "mar", "paro", "prio_group"];
    let sites = csv_sites(&file.0, "week", "arrest", &columns);
    assert_eq!(sites.iter().map(Vec::len).sum::<usize>(), 432);
    let levels = [0.0, 1.0, 2.0, 3.0];
    let mut covariates: Vec<Variable> = columns[..6].iter().map(|c| column(c)).collect();
    covariates.push(categorical(column("prio_group"), &levels));
    let spec = CoxSpec {
        data: "rossi",
        columns: &columns,
        covariates,
        factor: Some(("prio_group", &levels)),
        survival: survival.clone(),
    };
    for ties in [Ties::Efron, Ties::Breslow] {
        cox_vs_r(&mut t, &sites, &spec, ties);
    }

    // 4b. KM by the prio band (4 groups) and the 4-group log-rank
    let sites = csv_sites(&file.0, "week", "arrest", &["prio_group"]);
    let km = km_run(&sites, column("prio_group"), survival, 4);
    km_vs_r(&mut t, "rossi", &sites, "prio_group", &km);
    t.finish();
}
