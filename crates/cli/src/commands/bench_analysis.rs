//! `oncofed bench analysis`: federated Cox and logistic regression against the
//! pooled single-process fit.

use crate::output::print_json;
use clap::Args;
use oncofed_analysis::rows::Row;
use oncofed_analysis::site::compute;
use oncofed_analysis::{AnalysisError, AnalysisLimits, AnalysisResult, Federation};
use oncofed_model::{CodeSystem, DataCategory, SecurityLevel, SiteId};
use oncofed_protocol::analysis::{
    Analysis, AnalysisRequest, Computation, Family, IndexEvent, Outcome, Project, RunState,
    Survival, Ties, Variable,
};
use oncofed_synth::SynthConfig;
use oncofed_testkit::LocalFederation;
use serde::Serialize;
use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Instant;

/// Options of `oncofed bench analysis`.
#[derive(Debug, Args)]
pub struct AnalysisBenchArgs {
    /// Run the federation over plain HTTP instead of TLS (to measure what TLS costs).
    #[arg(long)]
    plain_http: bool,
    /// Site counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "3,10")]
    sites: Vec<u32>,
    /// Persons in the federation (≈ 1.15 patient records each: 87,000 give ~100,000).
    #[arg(long, default_value_t = 87_000)]
    persons: u64,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Measurement {
    sites: u32,
    model: String,
    rows: u64,
    federated_seconds: f64,
    admission_seconds: f64,
    aggregation_seconds: f64,
    rounds: usize,
    iterations: usize,
    pooled_selection_seconds: f64,
    pooled_seconds: f64,
    max_coef_difference: f64,
}

/// The pooled fit: one "site" holding every row, summed in memory.
struct Pooled<'a> {
    rows: &'a [Row],
    analysis: &'a Analysis,
}

impl Federation for Pooled<'_> {
    fn sites(&self) -> usize {
        1
    }
    fn sum(&mut self, c: Computation, _len: usize) -> Result<Vec<f64>, AnalysisError> {
        compute(self.rows, self.analysis, &c)
    }
}

fn models() -> Vec<(&'static str, Analysis)> {
    let covariates = vec![
        Variable::Age,
        Variable::Female,
        Variable::Observation {
            system: CodeSystem::Loinc,
            code: "89247-1".into(),
            window_days: None,
        },
    ];
    vec![
        (
            "cox (efron)",
            Analysis::Cox {
                survival: Survival::default(),
                covariates: covariates.clone(),
                ties: Ties::Efron,
                stratify_by_site: false,
                strata: None,
                robust: false,
            },
        ),
        (
            "logistic",
            Analysis::Glm {
                outcome: Outcome::Deceased,
                covariates,
                family: Family::Binomial,
            },
        ),
    ]
}

fn estimates(r: &AnalysisResult) -> (Vec<f64>, usize, usize) {
    match r {
        AnalysisResult::Cox(r) | AnalysisResult::Glm(r) => (
            r.estimates.iter().map(|e| e.coef).collect(),
            r.run.rounds,
            r.iterations,
        ),
        _ => (Vec::new(), 0, 0),
    }
}

/// Runs the benchmark.
pub async fn run(a: AnalysisBenchArgs) -> anyhow::Result<ExitCode> {
    let mut results = Vec::new();
    for &n in &a.sites {
        results.extend(measure(&a, n).await?);
    }
    if a.json {
        print_json(&results)?;
    } else {
        println!(
            "| sites | model | rows | federated total | admission | rounds + fit | rounds | Newton iterations | pooled: row selection | pooled: fit | max |Δβ| |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|");
        for r in &results {
            println!(
                "| {} | {} | {} | {:.2} s | {:.2} s | {:.2} s | {} | {} | {:.2} s | {:.3} s | {:.1e} |",
                r.sites,
                r.model,
                r.rows,
                r.federated_seconds,
                r.admission_seconds,
                r.aggregation_seconds,
                r.rounds,
                r.iterations,
                r.pooled_selection_seconds,
                r.pooled_seconds,
                r.max_coef_difference
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn measure(a: &AnalysisBenchArgs, n: u32) -> anyhow::Result<Vec<Measurement>> {
    let temp = tempfile::tempdir()?;
    let cohort = temp.path().join("cohort");
    let config = SynthConfig {
        seed: 7,
        sites: n,
        persons: a.persons,
        ..SynthConfig::default()
    };
    {
        let cohort = cohort.clone();
        tokio::task::spawn_blocking(move || oncofed_synth::generate(&config, &cohort, &mut |_| {}))
            .await??;
    }
    let sites: Vec<SiteId> = (1..=n).map(SynthConfig::site_id).collect();
    let mut fed = LocalFederation::builder(temp.path(), sites.clone())
        .limits(Default::default())
        .tls(!a.plain_http)
        .start()
        .await?;
    let mut services = Vec::new();
    for (i, site) in sites.iter().enumerate() {
        let (service, _) = fed.ingest_site(i, &cohort.join(site.as_str())).await?;
        fed.connect_site(i, &service, 25).await?;
        services.push(service);
        eprintln!("{n} sites: {site} ingested");
    }
    fed.admin()
        .approve_project(&Project {
            id: "bench".into(),
            title: "analysis benchmark".into(),
            researchers: vec!["researcher".into()],
            categories: BTreeSet::from([DataCategory::Clinical]),
            // each release is charged the hub's default ε (0.1): room for all models
            epsilon_budget: 1.0,
            plan: Default::default(),
        })
        .await?;
    let client = fed.researcher();
    let limits = AnalysisLimits {
        min_sites: 1,
        ..AnalysisLimits::for_level(SecurityLevel::Pseudonymised)
    };
    let mut out = Vec::new();
    for (model, analysis) in models() {
        let request = AnalysisRequest {
            project: "bench".into(),
            index: IndexEvent { icd10: "C".into() },
            cohort: None,
            analysis: analysis.clone(),
            epsilon: None,
            wait_seconds: Some(60),
            tolerance: None,
            max_iter: None,
        };
        let started = Instant::now();
        let response = client.analyze_to_end(&request).await?;
        let federated_seconds = started.elapsed().as_secs_f64();
        if response.state != RunState::Done {
            anyhow::bail!("{model}: {:?}", response.error);
        }
        let federated: AnalysisResult =
            serde_json::from_value(response.result.unwrap_or_default())?;
        let selection = Instant::now();
        let mut rows = Vec::new();
        for s in &services {
            rows.extend(
                oncofed_node::agent::load_rows(&s.store(), &s.gate(), &request)
                    .await
                    .map_err(anyhow::Error::msg)?,
            );
        }
        let pooled_selection_seconds = selection.elapsed().as_secs_f64();
        let started = Instant::now();
        let pooled = oncofed_analysis::run(
            &request,
            &limits,
            &mut Pooled {
                rows: &rows,
                analysis: &analysis,
            },
        )?;
        let pooled_seconds = started.elapsed().as_secs_f64();
        let (fb, rounds, iterations) = estimates(&federated);
        let (pb, _, _) = estimates(&pooled);
        let max_coef_difference = fb
            .iter()
            .zip(&pb)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        eprintln!(
            "{n} sites, {model}: federated {federated_seconds:.2} s ({rounds} rounds; admission {:.2} s), pooled {pooled_seconds:.3} s (+ {pooled_selection_seconds:.2} s row selection)",
            federated.run().admission_seconds.unwrap_or(f64::NAN)
        );
        out.push(Measurement {
            sites: n,
            model: model.into(),
            rows: federated.run().rows,
            federated_seconds,
            admission_seconds: federated.run().admission_seconds.unwrap_or(f64::NAN),
            aggregation_seconds: federated.run().aggregation_seconds.unwrap_or(f64::NAN),
            rounds,
            iterations,
            pooled_selection_seconds,
            pooled_seconds,
            max_coef_difference,
        });
    }
    fed.shutdown().await?;
    Ok(out)
}
