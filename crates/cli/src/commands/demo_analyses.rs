//! The analysis part of `oncofed demo`: an admin approves a project, the researcher
//! runs Kaplan–Meier (by sex; after the first progression), Cox (PFS with a
//! treatment and robust SEs; OS with a categorical covariate, stratified), the
//! cumulative incidence with Gray's test, a Fine–Gray model, logistic
//! regression and a differentially
//! private describe through the hub; the first KM curve is written as SVG.

use oncofed_analysis::AnalysisResult;
use oncofed_model::{CodeSystem, DataCategory};
use oncofed_protocol::analysis::{
    Analysis, AnalysisRequest, Endpoint, Family, IndexEvent, Outcome, Project, RunState, Survival,
    Ties, Variable,
};
use oncofed_testkit::LocalFederation;
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One analysis the demo ran, with what it released or why it was refused.
#[derive(Debug, Serialize)]
pub struct DemoAnalysis {
    /// What was asked, in words.
    pub question: &'static str,
    /// The released result (none when the run was refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<AnalysisResult>,
    /// Why the run was refused: on a small demo cohort a narrow analysis
    /// (survival after a progression, say) can leave a site under the
    /// disclosure minimums, and the demo goes on with the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// The demo's analyses and the plot's path.
#[derive(Debug, Serialize)]
pub struct DemoAnalyses {
    /// The results.
    pub analyses: Vec<DemoAnalysis>,
    /// Where the Kaplan–Meier plot went.
    pub km_plot: PathBuf,
}

fn ecog() -> Variable {
    Variable::Observation {
        system: CodeSystem::Loinc,
        code: "89247-1".into(),
        window_days: None,
    }
}

/// Runs the demo's analyses in project `demo` (approved here for the demo researcher).
pub async fn run(fed: &LocalFederation, dir: &Path) -> anyhow::Result<DemoAnalyses> {
    fed.admin()
        .approve_project(&Project {
            id: "demo".into(),
            title: "OncoFed demo: survival after a cancer diagnosis".into(),
            researchers: vec!["researcher".into()],
            categories: BTreeSet::from([DataCategory::Clinical]),
            // nine releases: eight at the hub's default ε 0.1, describe at 0.5
            epsilon_budget: 2.0,
            plan: Default::default(),
        })
        .await?;
    let request = |analysis, epsilon| AnalysisRequest {
        project: "demo".into(),
        index: IndexEvent { icd10: "C".into() },
        cohort: None,
        analysis,
        epsilon,
        wait_seconds: Some(60),
        tolerance: None,
        max_iter: None,
    };
    let covariates = vec![Variable::Age, Variable::Female, ecog()];
    // a treatment: an antineoplastic drug (ATC L01) up to 90 days after diagnosis
    let treatment = Variable::Treatment {
        system: CodeSystem::Atc,
        prefix: "L01".into(),
        window_days: 90,
    };
    let mut with_treatment = covariates.clone();
    with_treatment.push(treatment.clone());
    let asks = [
        (
            "Kaplan–Meier overall survival by sex",
            request(
                Analysis::KaplanMeier {
                    survival: Survival::default(),
                    groups: Some(Variable::Female),
                    interval_days: 90,
                },
                None,
            ),
        ),
        (
            "Cox model of progression-free survival: age + sex + ECOG + antineoplastic drug (ATC L01) within 90 days (Efron, robust SEs)",
            request(
                Analysis::Cox {
                    survival: Survival {
                        endpoint: Endpoint::ProgressionFree,
                        ..Survival::default()
                    },
                    covariates: with_treatment,
                    ties: Ties::Efron,
                    stratify_by_site: false,
                    strata: None,
                    robust: true,
                },
                None,
            ),
        ),
        (
            "Cox model of overall survival: age + ECOG as a categorical covariate (grades 1 and 2 against 0), stratified by sex",
            request(
                Analysis::Cox {
                    survival: Survival::default(),
                    covariates: vec![
                        Variable::Age,
                        "cat:obs:loinc:89247-1:0,1,2"
                            .parse()
                            .map_err(|e| anyhow::anyhow!("{e}"))?,
                    ],
                    ties: Ties::Efron,
                    stratify_by_site: false,
                    strata: Some(Variable::Female),
                    robust: false,
                },
                None,
            ),
        ),
        (
            "Kaplan–Meier survival after the first progression (time origin: the MII onco course assessment P)",
            request(
                Analysis::KaplanMeier {
                    survival: Survival {
                        origin: "course:P".parse().map_err(|e: String| anyhow::anyhow!(e))?,
                        ..Survival::default()
                    },
                    groups: None,
                    interval_days: 90,
                },
                None,
            ),
        ),
        (
            "cumulative incidence of progression or recurrence by sex, death without it competing (Aalen–Johansen)",
            request(
                Analysis::CumulativeIncidence {
                    survival: Survival {
                        endpoint: Endpoint::ProgressionFree,
                        ..Survival::default()
                    },
                    groups: Some(Variable::Female),
                    interval_days: 180,
                },
                None,
            ),
        ),
        (
            "Fine–Gray model of progression or recurrence, death without it competing: age + sex + antineoplastic drug within 90 days",
            request(
                Analysis::FineGray {
                    survival: Survival {
                        endpoint: Endpoint::ProgressionFree,
                        ..Survival::default()
                    },
                    covariates: vec![Variable::Age, Variable::Female, treatment.clone()],
                },
                None,
            ),
        ),
        (
            "logistic regression of death on age + sex + ECOG",
            request(
                Analysis::Glm {
                    outcome: Outcome::Deceased,
                    covariates,
                    family: Family::Binomial,
                },
                None,
            ),
        ),
        (
            "age at diagnosis, differentially private (ε = 0.5)",
            request(
                Analysis::Describe {
                    variables: vec![Variable::Age],
                    edges: (0..=10).map(|d| f64::from(d * 10)).collect(),
                    strata: Some(Variable::Female),
                },
                Some(0.5),
            ),
        ),
    ];
    let client = fed.researcher();
    let mut analyses = Vec::new();
    let km_plot = dir.join("km.svg");
    let mut plotted = false;
    for (question, req) in asks {
        let response = client.analyze_to_end(&req).await?;
        if response.state != RunState::Done {
            analyses.push(DemoAnalysis {
                question,
                result: None,
                refused: Some(response.error.unwrap_or_else(|| "not released".into())),
            });
            continue;
        }
        let result: AnalysisResult = serde_json::from_value(response.result.unwrap_or_default())?;
        if let AnalysisResult::Km(km) = &result
            && !plotted
        {
            std::fs::write(&km_plot, oncofed_analysis::plot::km_svg(km, question))?;
            plotted = true;
        }
        analyses.push(DemoAnalysis {
            question,
            result: Some(result),
            refused: None,
        });
    }
    Ok(DemoAnalyses { analyses, km_plot })
}

/// Prints the analyses for people.
pub fn print(a: &DemoAnalyses) {
    println!("\nfederated analyses through the hub (secure aggregation; project 'demo'):");
    for x in &a.analyses {
        println!("\n{}", x.question);
        let Some(result) = &x.result else {
            println!(
                "  refused: {}",
                x.refused.as_deref().unwrap_or("not released")
            );
            continue;
        };
        let text = super::analyze::render(result);
        // The KM table is long: show the head of it.
        for line in text.lines().take(14) {
            println!("  {line}");
        }
    }
    println!("\nKaplan–Meier plot: {}", a.km_plot.display());
}
