//! Side-by-side exactness test against R (the statisticians' reference: `survival`'s
//! `coxph`, `survfit`, `survdiff`) and lifelines, in one run, on two public data sets
//! split into 3 sites (site = data row index mod 3):
//!
//! - the NCCTG lung data (`../shared/data/ncctg-lung-lifelines/lung.csv` beside the
//!   workspace, or `ONCOFED_LUNG_CSV`): Cox on age + sex + ph.ecog (complete cases),
//!   Kaplan–Meier and log-rank by sex, k-group log-rank by ph.ecog (4 levels);
//! - the Rossi recidivism data that ships inside the lifelines package
//!   (`lifelines.datasets.load_rossi()`), written to a temporary CSV at test time by
//!   `scripts/peers/stats/survival_lifelines.py rossi` and deleted after: Cox on
//!   fin + age + race + wexp + mar + paro + prio (weekly times, heavily tied),
//!   Kaplan–Meier and log-rank by fin, k-group log-rank by min(prio, 3).
//!
//! For each, the federated fits (only per-site sums reach the hub) are compared with
//! `scripts/peers/stats/survival_reference.R` (R, from Debian's `r-base-core` and
//! `r-cran-survival`) and `scripts/peers/stats/survival_lifelines.py` (lifelines; for
//! Breslow ties, which lifelines lacks, statsmodels' PHReg), both the pooled fit on
//! the same rows and iterated to the maximum. Both peers are installed by
//! `scripts/setup-peers`; without R the test fails (it does not skip). Run with
//! `--nocapture` for the side-by-side table.
//!
//! Tolerances asserted: Cox coefficients, SEs and log-likelihoods 1e-10 relative;
//! KM medians and their CIs exact; S(t) 1e-12; log-rank χ² 1e-8, p 1e-12 absolute.
//! Measured (December 2026; R 4.2.2 with survival 3.5-3; lifelines 0.30.3, statsmodels
//! 0.15.0): Cox is the largest relative difference over coef, SE and loglik; KM and
//! log-rank the largest absolute difference over S(t), χ², p and expected counts.
//!
//! | data set | model | max \|ours − R\| | max \|ours − lifelines\| |
//! |---|---|---|---|
//! | lung | Cox Efron | 2.1e-14 | 1.3e-12 |
//! | lung | Cox Breslow | 2.2e-14 | 1.0e-14 (statsmodels) |
//! | lung | Cox Efron, strata(site) | 2.0e-14 | 1.3e-12 |
//! | lung | Cox Breslow, strata(site) | 3.9e-15 | 1.3e-14 (statsmodels) |
//! | lung | KM by sex (medians 270, 426 and CIs exact) | 8.9e-16 | 1.1e-16 |
//! | lung | log-rank by sex, by ph.ecog (4 groups) | 5.3e-14 | 7.2e-13 |
//! | Rossi | Cox Efron | 6.6e-14 | 1.6e-14 |
//! | Rossi | Cox Breslow | 1.7e-14 | 2.8e-14 (statsmodels) |
//! | Rossi | Cox Efron, strata(site) | 8.2e-15 | 6.3e-15 |
//! | Rossi | Cox Breslow, strata(site) | 1.3e-14 | 1.9e-14 (statsmodels) |
//! | Rossi | KM by fin (medians not reached in all three) | 6.7e-16 | 1.1e-16 |
//! | Rossi | log-rank by fin, by min(prio, 3) (4 groups) | 2.1e-14 | 2.1e-14 |
//!
//! R and lifelines differ from each other by as much as we differ from either: the
//! federated fits are the pooled fits to floating-point rounding.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use oncofed_stats::{
    CoxFit, KmCounts, SurvivalRow, Ties, TimeEvent, event_times, kaplan_meier, km_site_counts,
    logrank_test, merge_times,
};
use serde_json::Value;
use support::{
    deal, federated_cox, federated_cox_by_site, lung_csv, python, read_csv, rscript, workspace,
};

const SITES: usize = 3;

/// Relative tolerance on Cox coefficients, SEs and log-likelihoods.
const COX_REL: f64 = 1e-10;

/// A data set and the columns each peer is told (the same arguments for R and Python).
struct Spec {
    name: &'static str,
    csv: PathBuf,
    time: &'static str,
    event: &'static str,
    covariates: &'static [&'static str],
    /// Two levels: KM medians and curves per level, 2-group log-rank.
    by: &'static str,
    /// k levels: k-group log-rank.
    kby: &'static str,
}

impl Spec {
    fn args(&self) -> Vec<String> {
        vec![
            self.csv.display().to_string(),
            self.time.into(),
            self.event.into(),
            self.covariates.join(","),
            self.by.into(),
            self.kby.into(),
        ]
    }
}

/// One data row; `None` where the file has NA or an empty field.
struct Row {
    time: f64,
    event: bool,
    x: Vec<Option<f64>>,
    by: Option<f64>,
    kby: Option<f64>,
}

fn script(name: &str) -> PathBuf {
    workspace().join("scripts/peers/stats").join(name)
}

fn run(mut command: Command, what: &str) -> Value {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{what} does not start ({e}): run scripts/setup-peers"));
    assert!(
        out.status.success(),
        "{what} failed (run scripts/setup-peers?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{what} prints JSON: {e}"))
}

/// Sites hold the data rows with index ≡ site (mod 3), in file order.
fn load_sites(spec: &Spec) -> Vec<Vec<Row>> {
    let (header, rows) = read_csv(&spec.csv, "data set readable");
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim_matches('"') == name)
            .unwrap_or_else(|| panic!("{}: no column {name}", spec.name))
    };
    let (time, event, by, kby) = (col(spec.time), col(spec.event), col(spec.by), col(spec.kby));
    let x: Vec<usize> = spec.covariates.iter().map(|c| col(c)).collect();
    let data = rows.iter().map(|value| Row {
        time: value[time].unwrap(),
        event: value[event].unwrap() == 1.0,
        x: x.iter().map(|&c| value[c]).collect(),
        by: value[by],
        kby: value[kby],
    });
    deal(data, SITES)
}

fn floats(v: &Value) -> Vec<f64> {
    let list = v.as_array().unwrap_or_else(|| panic!("not an array: {v}"));
    list.iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

fn opt(x: Option<f64>) -> f64 {
    x.unwrap_or(f64::NAN)
}

#[derive(Clone, Copy)]
enum Tol {
    /// |a − b| / |b|
    Rel(f64),
    /// |a − b|
    Abs(f64),
}

/// The side-by-side table of one data set; asserts after printing all of it.
struct Table {
    title: String,
    text: String,
    failures: Vec<String>,
    /// The model the next lines belong to, for the summary.
    group: String,
    /// Largest difference to (Python, R) per model, for the summary.
    summary: Vec<(String, f64, f64)>,
}

/// Largest difference; NaN stands for "none" (a median not reached) and equals only NaN.
fn max_diff(ours: &[f64], theirs: &[f64], tol: Tol) -> f64 {
    if ours.len() != theirs.len() {
        return f64::INFINITY;
    }
    ours.iter().zip(theirs).fold(0.0, |m, (&a, &b)| {
        let d = match (a.is_nan(), b.is_nan(), tol) {
            (true, true, _) => 0.0,
            (false, false, Tol::Rel(_)) if a == b => 0.0,
            (false, false, Tol::Rel(_)) => (a - b).abs() / b.abs(),
            (false, false, Tol::Abs(_)) => (a - b).abs(),
            _ => f64::INFINITY,
        };
        f64::max(m, d)
    })
}

fn show(v: &[f64]) -> String {
    match v {
        [x] if x.is_nan() => "not reached".into(),
        [x] => format!("{x:.10e}"),
        _ => format!("({} values)", v.len()),
    }
}

impl Table {
    fn new(title: String) -> Self {
        let text = format!(
            "\n== {title}\n{:<38} {:>17} {:>17} {:>17} {:>9} {:>9} {:>6}\n",
            "quantity", "ours", "Python", "R", "|o−Py|", "|o−R|", "tol"
        );
        Self {
            title,
            text,
            failures: Vec::new(),
            group: String::new(),
            summary: Vec::new(),
        }
    }

    /// One line; `python` empty where the Python peer does not report the quantity.
    fn add(&mut self, what: &str, ours: &[f64], python: &[f64], r: &[f64], tol: Tol) {
        let dp = if python.is_empty() {
            0.0
        } else {
            max_diff(ours, python, tol)
        };
        let dr = max_diff(ours, r, tol);
        let (limit, kind) = match tol {
            Tol::Rel(t) => (t, format!("rel {t:.0e}")),
            Tol::Abs(0.0) => (0.0, "exact".into()),
            Tol::Abs(t) => (t, format!("abs {t:.0e}")),
        };
        let shown_dp = if python.is_empty() {
            "-".into()
        } else {
            format!("{dp:.1e}")
        };
        self.text += &format!(
            "{what:<38} {:>17} {:>17} {:>17} {shown_dp:>9} {dr:>9.1e} {kind}\n",
            show(ours),
            if python.is_empty() {
                "n/a".into()
            } else {
                show(python)
            },
            show(r)
        );
        if !(dp <= limit && dr <= limit) {
            self.failures
                .push(format!("{what}: ours {ours:?}, Python {python:?}, R {r:?}"));
        }
        let group = self.group.clone();
        match self.summary.iter_mut().find(|(g, ..)| *g == group) {
            Some((_, p, q)) => (*p, *q) = (p.max(dp), q.max(dr)),
            None => self.summary.push((group, dp, dr)),
        }
    }

    fn finish(mut self) {
        self.text += &format!("-- {}: max difference per model\n", self.title);
        for (group, dp, dr) in &self.summary {
            self.text += &format!("{group:<38} |ours−Python| {dp:.1e}  |ours−R| {dr:.1e}\n");
        }
        println!("{}", self.text);
        assert!(self.failures.is_empty(), "{}", self.failures.join("\n"));
    }
}

/// Federated Cox: pooled over one shared grid, or stratified by site.
fn cox(sites: &[Vec<Row>], ties: Ties, by_site: bool) -> CoxFit {
    let p = sites[0][0].x.len();
    let rows: Vec<Vec<SurvivalRow>> = sites
        .iter()
        .map(|s| {
            s.iter()
                .filter_map(|r| {
                    Some(SurvivalRow {
                        time: r.time,
                        event: r.event,
                        covariates: r.x.iter().copied().collect::<Option<Vec<f64>>>()?,
                        stratum: 0,
                    })
                })
                .collect()
        })
        .collect();
    if by_site {
        federated_cox_by_site(p, &rows, ties)
    } else {
        federated_cox(p, &rows, ties)
    }
}

fn compare_cox(table: &mut Table, sites: &[Vec<Row>], terms: &[&str], python: &Value, r: &Value) {
    let models = [
        ("cox_efron", Ties::Efron, false),
        ("cox_breslow", Ties::Breslow, false),
        ("cox_efron_strata_site", Ties::Efron, true),
        ("cox_breslow_strata_site", Ties::Breslow, true),
    ];
    for (key, ties, by_site) in models {
        let fit = cox(sites, ties, by_site);
        let (py, rr) = (&python[key], &r[key]);
        assert_eq!(fit.events, rr["events"].as_f64().unwrap(), "{key}: events");
        assert!(
            fit.iterations <= 10,
            "{key}: {} Newton steps",
            fit.iterations
        );
        let name = key.replace('_', " ");
        table.group.clone_from(&name);
        let coef: Vec<f64> = fit.estimates.iter().map(|e| e.coef).collect();
        let se: Vec<f64> = fit.estimates.iter().map(|e| e.std_error).collect();
        let (pc, rc) = (floats(&py["coef"]), floats(&rr["coef"]));
        let (ps, rs) = (floats(&py["se"]), floats(&rr["se"]));
        for (i, term) in terms.iter().enumerate() {
            let c = |v: &[f64]| v.get(i).copied().unwrap_or(f64::NAN);
            table.add(
                &format!("{name} coef[{term}]"),
                &[coef[i]],
                &[c(&pc)],
                &[c(&rc)],
                Tol::Rel(COX_REL),
            );
            table.add(
                &format!("{name} se[{term}]"),
                &[se[i]],
                &[c(&ps)],
                &[c(&rs)],
                Tol::Rel(COX_REL),
            );
        }
        table.add(
            &format!("{name} loglik"),
            &[fit.loglik],
            &[py["loglik"].as_f64().unwrap()],
            &[rr["loglik"].as_f64().unwrap()],
            Tol::Rel(COX_REL),
        );
        table.text += &format!(
            "   ({name}: {} Newton steps here, {} in R; Python peer {})\n",
            fit.iterations, rr["iterations"], py["peer"]
        );
    }
}

/// Summed KM counts over the sites for the rows `keep` selects, on `grid`.
fn counts(sites: &[Vec<Row>], grid: &[f64], keep: &dyn Fn(&Row) -> bool) -> KmCounts {
    let mut total = KmCounts {
        at_risk: vec![0; grid.len()],
        events: vec![0; grid.len()],
    };
    for site in sites {
        let rows = time_events(site, keep);
        total.add(&km_site_counts(&rows, grid).unwrap()).unwrap();
    }
    total
}

fn time_events(site: &[Row], keep: &dyn Fn(&Row) -> bool) -> Vec<TimeEvent> {
    site.iter()
        .filter(|r| keep(r))
        .map(|r| TimeEvent {
            time: r.time,
            event: r.event,
        })
        .collect()
}

/// The grid round: each site sends its distinct event times, the hub merges.
fn grid(sites: &[Vec<Row>], keep: &dyn Fn(&Row) -> bool) -> Vec<f64> {
    merge_times(
        &sites
            .iter()
            .map(|s| event_times(&time_events(s, keep)).unwrap())
            .collect::<Vec<_>>(),
    )
}

fn levels(sites: &[Vec<Row>], get: fn(&Row) -> Option<f64>) -> Vec<f64> {
    let mut all: Vec<f64> = sites.iter().flatten().filter_map(get).collect();
    all.sort_by(f64::total_cmp);
    all.dedup();
    all
}

fn compare_km(table: &mut Table, sites: &[Vec<Row>], column: &str, python: &Value, r: &Value) {
    let (py, rr) = (&python["km_by"], &r["km_by"]);
    table.group = format!("km by {column}: medians, S(t)");
    let by = levels(sites, |r| r.by);
    assert_eq!(by, floats(&rr["levels"]), "KM levels (R)");
    assert_eq!(by, floats(&py["levels"]), "KM levels (Python)");
    for (i, &level) in by.iter().enumerate() {
        let keep = move |r: &Row| r.by == Some(level);
        let g = grid(sites, &keep);
        let km = kaplan_meier(&g, &counts(sites, &g, &keep)).unwrap();
        let at = |v: &Value, key: &str| floats(&v[key])[i];
        for (label, ours, key) in [
            ("median", km.median, "median"),
            ("median ci lower", km.median_ci_lower, "median_ci_lower"),
            ("median ci upper", km.median_ci_upper, "median_ci_upper"),
        ] {
            table.add(
                &format!("km {column}={level} {label}"),
                &[opt(ours)],
                &[at(py, key)],
                &[at(rr, key)],
                Tol::Abs(0.0),
            );
        }
        let curve = |v: &Value, key: &str| floats(&v["curves"][i][key]);
        table.add(
            &format!("km {column}={level} event times"),
            &g,
            &curve(py, "times"),
            &curve(rr, "times"),
            Tol::Abs(0.0),
        );
        table.add(
            &format!("km {column}={level} S(t)"),
            &km.survival,
            &curve(py, "survival"),
            &curve(rr, "survival"),
            Tol::Abs(1e-12),
        );
    }
}

/// Federated log-rank over the levels of `get`: one grid for all groups, counts per level.
fn compare_logrank(
    table: &mut Table,
    sites: &[Vec<Row>],
    (key, label): (&str, &str),
    get: fn(&Row) -> Option<f64>,
    python: &Value,
    r: &Value,
) {
    let levels = levels(sites, get);
    let g = grid(sites, &|r| get(r).is_some());
    let groups: Vec<KmCounts> = levels
        .iter()
        .map(|&level| counts(sites, &g, &|r| get(r) == Some(level)))
        .collect();
    let test = logrank_test(&groups).unwrap();
    let (py, rr) = (&python[key], &r[key]);
    assert_eq!(test.df as u64, rr["df"].as_u64().unwrap(), "{key}: df (R)");
    assert_eq!(
        test.df as u64,
        py["df"].as_u64().unwrap(),
        "{key}: df (Python)"
    );
    let k = levels.len();
    table.group = format!("logrank {label} ({k} groups)");
    table.add(
        &format!("logrank {label} ({k} groups) chi2"),
        &[test.chi2],
        &[py["chi2"].as_f64().unwrap()],
        &[rr["chi2"].as_f64().unwrap()],
        Tol::Abs(1e-8),
    );
    table.add(
        &format!("logrank {label} ({k} groups) p"),
        &[test.p_value],
        &[py["p"].as_f64().unwrap()],
        &[rr["p"].as_f64().unwrap()],
        Tol::Abs(1e-12),
    );
    // lifelines does not report the expected counts
    table.add(
        &format!("logrank {label} expected"),
        &test.expected,
        &[],
        &floats(&rr["expected"]),
        Tol::Abs(1e-9),
    );
}

fn side_by_side(spec: &Spec) {
    let sites = load_sites(spec);
    let mut r = Command::new(rscript());
    r.arg(script("survival_reference.R")).args(spec.args());
    let r = run(r, "the R peer (survival_reference.R)");
    let mut py = Command::new(python());
    py.arg(script("survival_lifelines.py")).args(spec.args());
    let py = run(py, "the Python peer (survival_lifelines.py)");
    let mut table = Table::new(format!(
        "{}: ours (3 sites) vs {} vs {}",
        spec.name,
        py["peer"].as_str().unwrap(),
        r["peer"].as_str().unwrap()
    ));
    compare_cox(&mut table, &sites, spec.covariates, &py, &r);
    compare_km(&mut table, &sites, spec.by, &py, &r);
    compare_logrank(
        &mut table,
        &sites,
        ("logrank_by", spec.by),
        |r| r.by,
        &py,
        &r,
    );
    compare_logrank(
        &mut table,
        &sites,
        ("logrank_kby", spec.kby),
        |r| r.kby,
        &py,
        &r,
    );
    table.finish();
}

#[test]
fn lung_federated_equals_r_and_lifelines() {
    side_by_side(&Spec {
        name: "NCCTG lung",
        csv: lung_csv(),
        time: "time",
        event: "status",
        covariates: &["age", "sex", "ph.ecog"],
        by: "sex",
        kby: "ph.ecog",
    });
}

/// Deletes the temporary data file however the test ends.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn rossi_federated_equals_r_and_lifelines() {
    let file = TempFile(std::env::temp_dir().join(format!(
        "oncofed-rossi-{}-{:?}.csv",
        std::process::id(),
        std::thread::current().id()
    )));
    let out = Command::new(python())
        .arg(script("survival_lifelines.py"))
        .arg("rossi")
        .arg(&file.0)
        .output()
        .expect("the Python peer starts: run scripts/setup-peers");
    assert!(
        out.status.success() && Path::new(&file.0).exists(),
        "writing the Rossi data from lifelines failed (run scripts/setup-peers): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    side_by_side(&Spec {
        name: "Rossi recidivism (lifelines.datasets.load_rossi)",
        csv: file.0.clone(),
        time: "week",
        event: "arrest",
        covariates: &["fin", "age", "race", "wexp", "mar", "paro", "prio"],
        by: "fin",
        kby: "prio_group",
    });
}
