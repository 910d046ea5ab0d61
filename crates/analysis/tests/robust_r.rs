//! Robust (Lin–Wei sandwich) standard errors of the pooled Cox model, in whole
//! federated runs (`oncofed_analysis::run` over 3 sites in memory, exact sums,
//! default time bins at level-2 limits: cells of 3), against R
//! `coxph(..., robust = TRUE)` on the pooled rows with the run's binned times
//! (`scripts/peers/stats/robust_federated.R`; the test bins the times with
//! the run's reported edges through `time_bin_end`, as the sites do).
//! NCCTG lung, age + sex + ph.ecog (227 rows), Efron and Breslow, without and
//! with strata (age ≥ 65). R is required (`scripts/setup-peers`).
//!
//! Measured (R 4.2.2, survival 3.5-3; largest of |Δβ| / max(|β|, SE),
//! |ΔSE| / SE and |Δz| / |z| over the terms; tolerance 1e-10 on exact sums,
//! the default 1e-9 over the codec, 2^-48 since the wide codec; bins found by
//! the partition search):
//!
//! | model | bins | rounds (robust) | exact sums | codec 2^-48 |
//! |---|---|---|---|---|
//! | Efron | 31 | 12 (2) | 9.7e-15 | 1.9e-14 |
//! | Breslow | 31 | 12 (2) | 1.1e-14 | 9.7e-15 |
//! | Efron, strata | 12 | 13 (2) | 3.3e-14 | 1.1e-13 |
//! | Breslow, strata | 12 | 13 (2) | 7.9e-14 | 1.2e-14 |
//!
//! Over the old 2^-24 codec the codec runs were 1.1e-8 to 3.0e-7 off.
//!
//! The fit takes its last Newton step without another round, so the robust
//! SEs always take two: the risk-set sums and the Gram matrices at the final β.
//!
//! And the refusals: a Gram cell under the minimum cell (exact event days
//! give cells of one or two rows) is refused by the hub's check and by a
//! whole run on exact times; robust SEs with a site-stratified model or with
//! delayed entry are refused before any round.

mod support;

use std::fmt::Write as _;
use std::process::Command;

use serde_json::Value;
use support::{InMemory, TempFile, lung_sites, request, rscript, workspace};

use oncofed_analysis::result::RegressionResult;
use oncofed_analysis::rows::Row;
use oncofed_analysis::site::{compute, vector_len};
use oncofed_analysis::{AnalysisError, AnalysisLimits, AnalysisResult, driver, run};
use oncofed_model::{CodeSystem, SecurityLevel};
use oncofed_protocol::analysis::{Analysis, Computation, Ties, Variable, time_bin_end};
use oncofed_stats::ResidualGram;

/// Coefficients (relative to max(|β|, SE)), robust SEs and z (relative).
const REL: f64 = 1e-8;
/// The same over the secure-aggregation codec (each site vector rounded to
/// 2^-48, `driver::CODEC_RESOLUTION`, the fit at the default tolerance 1e-9).
const CODEC_REL: f64 = 1e-8;

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

/// Lung over 3 sites: values age, sex, ph.ecog, and with `strata` a last
/// value 1 for age ≥ 65, else 0.
fn sites(strata: bool) -> Vec<Vec<Row>> {
    let mut sites = lung_sites(&["age", "sex", "ph.ecog"]);
    if strata {
        for r in sites.iter_mut().flatten() {
            let s = f64::from(u8::from(r.values[0] >= 65.0));
            r.values.push(s);
        }
    }
    sites
}

fn analysis(ties: Ties, strata: bool, extra: Value) -> Analysis {
    let mut json = serde_json::json!({
        "type": "cox",
        "covariates": [column("age"), column("sex"), column("ph.ecog")],
        "ties": ties,
        "robust": true,
    });
    if strata {
        json["strata"] = serde_json::to_value(column("stratum")).unwrap();
    }
    for (k, v) in extra.as_object().into_iter().flatten() {
        json[k] = v.clone();
    }
    serde_json::from_value(json).expect("a valid analysis")
}

fn robust_run(sites: &[Vec<Row>], analysis: Analysis) -> Result<RegressionResult, AnalysisError> {
    robust_run_at(sites, analysis, 0.0)
}

/// [`robust_run`] with every site vector rounded to `resolution` (0: exact).
fn robust_run_at(
    sites: &[Vec<Row>],
    analysis: Analysis,
    resolution: f64,
) -> Result<RegressionResult, AnalysisError> {
    let mut fed = InMemory {
        sites: sites.to_vec(),
        analysis: analysis.clone(),
        resolution,
    };
    let mut req = request(analysis);
    req.tolerance = Some(if resolution > 0.0 {
        driver::DEFAULT_TOLERANCE
    } else {
        1e-10
    });
    match run(&req, &limits(), &mut fed)? {
        AnalysisResult::Cox(r) => Ok(r),
        other => panic!("not a Cox result: {other:?}"),
    }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

/// R's robust fit of the pooled rows with times binned on `edges`.
fn r_fit(sites: &[Vec<Row>], edges: &[f64], ties: Ties, strata: bool) -> Value {
    let file = TempFile::csv("robust-r");
    let mut text = String::from("time,status,stratum,age,sex,ph.ecog\n");
    for r in sites.iter().flatten() {
        let stratum = r.values.get(3).copied().unwrap_or(0.0);
        writeln!(
            text,
            "{},{},{},{},{},{}",
            time_bin_end(edges, r.time),
            u8::from(r.event),
            stratum,
            r.values[0],
            r.values[1],
            r.values[2]
        )
        .unwrap();
    }
    std::fs::write(&file.0, text).expect("temporary file writable");
    let ties = match ties {
        Ties::Efron => "efron",
        Ties::Breslow => "breslow",
    };
    let out = Command::new(rscript())
        .arg(workspace().join("scripts/peers/stats/robust_federated.R"))
        .arg(&file.0)
        .arg(ties)
        .arg(if strata { "yes" } else { "no" })
        .output()
        .expect("Rscript starts: run scripts/setup-peers");
    assert!(
        out.status.success(),
        "robust_federated.R failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("robust_federated.R prints JSON")
}

#[test]
fn robust_cox_runs_equal_r_coxph_robust_on_the_binned_rows() {
    let mut report = String::new();
    let mut worst: f64 = 0.0;
    for strata in [false, true] {
        let sites = sites(strata);
        for ties in [Ties::Efron, Ties::Breslow] {
            let fit = robust_run(&sites, analysis(ties, strata, serde_json::json!({})))
                .expect("the robust Cox run");
            assert!(fit.model.contains("robust SEs"), "{}", fit.model);
            // the same fit as without robust SEs, in one or two more rounds
            let naive = robust_run(
                &sites,
                analysis(ties, strata, serde_json::json!({"robust": false})),
            )
            .expect("the Cox run");
            assert!(!naive.model.contains("robust"), "{}", naive.model);
            for (a, b) in fit.estimates.iter().zip(&naive.estimates) {
                assert_eq!(a.coef, b.coef);
            }
            let extra = fit.run.rounds - naive.run.rounds;
            assert!((1..=2).contains(&extra), "{extra} extra rounds");
            let edges = &fit.run.time_bins.as_ref().expect("binned").edges;
            let r = r_fit(&sites, edges, ties, strata);
            let (coef, se, z) = (floats(&r["coef"]), floats(&r["robust_se"]), floats(&r["z"]));
            assert_eq!(fit.estimates.len(), coef.len());
            let mut model_worst: f64 = 0.0;
            for (i, e) in fit.estimates.iter().enumerate() {
                let dc = (e.coef - coef[i]).abs() / coef[i].abs().max(se[i]);
                let ds = (e.std_error - se[i]).abs() / se[i];
                let dz = (e.z - z[i]).abs() / z[i].abs();
                writeln!(
                    report,
                    "{ties:?} strata={strata} term {i}: coef {:.15e} / R {:.15e} ({dc:.1e}), robust SE {:.15e} / R {:.15e} ({ds:.1e}), z ({dz:.1e})",
                    e.coef, coef[i], e.std_error, se[i]
                )
                .unwrap();
                model_worst = model_worst.max(dc).max(ds).max(dz);
            }
            writeln!(
                report,
                "{ties:?} strata={strata}: {} bins, {} rounds ({extra} for the robust SEs), largest relative difference {model_worst:.1e}",
                fit.run.time_bins.as_ref().unwrap().bins,
                fit.run.rounds
            )
            .unwrap();
            worst = worst.max(model_worst);
            // over the secure-aggregation codec (2^-48 per site component)
            let coded = robust_run_at(
                &sites,
                analysis(ties, strata, serde_json::json!({})),
                driver::CODEC_RESOLUTION,
            )
            .expect("the robust Cox run over the codec");
            let codec_worst = coded
                .estimates
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    ((e.coef - coef[i]).abs() / coef[i].abs().max(se[i]))
                        .max((e.std_error - se[i]).abs() / se[i])
                })
                .fold(0.0, f64::max);
            writeln!(
                report,
                "{ties:?} strata={strata}, codec 2^-48: largest relative difference {codec_worst:.1e}"
            )
            .unwrap();
            assert!(codec_worst <= CODEC_REL, "codec: {codec_worst:e}");
        }
    }
    eprintln!("{report}");
    assert!(
        worst <= REL,
        "robust SEs differ from R by {worst:e}:\n{report}"
    );
}

/// The Gram vectors of `sites` for `computation`, summed as the hub sees them.
fn summed_gram(sites: &[Vec<Row>], analysis: &Analysis, computation: &Computation) -> Vec<f64> {
    let len = vector_len(analysis, computation);
    let mut total = vec![0.0; len];
    for rows in sites {
        let v = compute(rows, analysis, computation).expect("a site's Gram vector");
        assert_eq!(v.len(), len);
        total.iter_mut().zip(v).for_each(|(t, x)| *t += x);
    }
    total
}

#[test]
fn a_gram_cell_under_the_minimum_cell_is_refused() {
    let sites = sites(false);
    let analysis = analysis(Ties::Efron, false, serde_json::json!({}));
    let rows: u64 = sites.iter().map(|s| s.len() as u64).sum();
    // exact event days (no bins): cells of one or two rows
    let mut grid: Vec<f64> = sites
        .iter()
        .flatten()
        .filter(|r| r.event)
        .map(|r| r.time)
        .collect();
    grid.sort_by(f64::total_cmp);
    grid.dedup();
    let computation = Computation::CoxResidualGram {
        grid: grid.clone(),
        strata: Vec::new(),
        beta: vec![0.01, -0.5, 0.4],
        ties: Ties::Efron,
        bins: Vec::new(),
    };
    let values = summed_gram(&sites, &analysis, &computation);
    let gram = ResidualGram {
        p: 3,
        points: grid.len(),
        statuses: 2,
        values,
    };
    let sizes = gram.cell_sizes();
    assert!(sizes.iter().any(|&n| n > 0.0 && n < 3.0), "{sizes:?}");
    assert!(sizes.iter().sum::<f64>() <= rows as f64);
    let err = driver::check_gram_cells(&gram, rows, limits().min_cell).unwrap_err();
    assert!(
        matches!(&err, AnalysisError::Disclosure(m) if m.contains("fewer than 3 rows")),
        "{err:?}"
    );
    // the same Gram on time bins of ≥ 3 exits, events and censorings passes
    let fit = robust_run(&sites, analysis.clone()).expect("the binned run");
    let edges = fit.run.time_bins.unwrap().edges;
    let binned_grid: Vec<f64> = edges[1..].iter().map(|e| e - 1.0).collect();
    let computation = Computation::CoxResidualGram {
        grid: binned_grid.clone(),
        strata: Vec::new(),
        beta: fit.estimates.iter().map(|e| e.coef).collect(),
        ties: Ties::Efron,
        bins: edges,
    };
    let gram = ResidualGram {
        p: 3,
        points: binned_grid.len(),
        statuses: 2,
        values: summed_gram(&sites, &analysis, &computation),
    };
    driver::check_gram_cells(&gram, rows, limits().min_cell).expect("binned cells of ≥ 3 rows");
    // and a tampered vector claiming more rows than the run is implausible
    let mut tampered = gram.clone();
    // entry (2p, 2p) of cell 0 in the packed upper triangle, q = 2p + 2 = 8
    let (q, d) = (8, 6);
    let at = d * q + d - d * (d + 1) / 2;
    tampered.values[at] += rows as f64;
    assert!(matches!(
        driver::check_gram_cells(&tampered, rows, 3),
        Err(AnalysisError::Federation(_))
    ));
}

#[test]
fn robust_on_exact_days_is_refused_by_the_cell_rule() {
    let sites = sites(false);
    let analysis = analysis(
        Ties::Efron,
        false,
        serde_json::json!({"survival": {"horizon_days": 3650, "exact_times": true}}),
    );
    let err = robust_run(&sites, analysis).unwrap_err();
    assert!(
        matches!(&err, AnalysisError::Disclosure(m) if m.contains("robust standard errors")),
        "{err:?}"
    );
}

#[test]
fn robust_with_site_strata_or_delayed_entry_is_refused() {
    let sites = sites(false);
    let by_site = analysis(
        Ties::Efron,
        false,
        serde_json::json!({"stratify_by_site": true}),
    );
    let err = robust_run(&sites, by_site).unwrap_err();
    assert!(
        matches!(&err, AnalysisError::Invalid(m) if m.contains("robust standard errors need the pooled model")),
        "{err:?}"
    );
    let entered = analysis(
        Ties::Efron,
        false,
        serde_json::json!({"survival": {"horizon_days": 3650, "entry": "first-contact"}}),
    );
    let err = robust_run(&sites, entered).unwrap_err();
    assert!(
        matches!(&err, AnalysisError::Invalid(m) if m.contains("delayed entry")),
        "{err:?}"
    );
}
