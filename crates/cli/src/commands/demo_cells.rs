//! The demo's cytomorphology part (issue 15): synthetic single-cell images
//! for the haematological part of the cohort, each site ingests its smears
//! through the trust centre, two simulated experts label every cell and an
//! adjudicator settles their disagreements, the validated labels are
//! imported; then a cell classifier is trained across the sites through the
//! hub (secure aggregation; project `cells`, approved for the kind) and
//! compared per site with a model each site trains on its own cells alone.

use oncofed_learn::{EvaluateRound, Evaluation, LocalConfig};
use oncofed_model::DataCategory;
use oncofed_node::QueryService;
use oncofed_node::cells::{CellReport, CellSetup, SplitPart, split_part, training_cells};
use oncofed_node::imaging::ObjectArchive;
use oncofed_protocol::analysis::{
    Analysis, AnalysisRequest, CellTraining, IndexEvent, Project, RunState,
};
use oncofed_protocol::plan::PlanLimits;
use oncofed_testkit::LocalFederation;
use oncofed_validation::{
    Adjudication, AnnotationSet, SimulatedExpert, ValidationPolicy, simulate_annotations,
};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::Path;

/// Share of haematological persons with a smear (solid tumours a twentieth).
pub const SHARE: f64 = 0.04;

/// Cells per smear.
pub const CELLS_PER_SMEAR: usize = 24;

/// One site's expert validation.
#[derive(Debug, Serialize)]
pub struct SiteValidation {
    /// Cells the experts labelled.
    pub cells: usize,
    /// Fleiss' κ of the two experts.
    pub fleiss_kappa: Option<f64>,
    /// Cells they agreed on.
    pub consensus: usize,
    /// Cells the adjudicator decided.
    pub adjudicated: usize,
}

/// Per site: the federated model against the site's own.
#[derive(Debug, Serialize)]
pub struct SiteComparison {
    /// The site.
    pub site: String,
    /// Held-out cells at the site.
    pub test_cells: u64,
    /// Accuracy of the model trained on this site alone, on its own held-out cells.
    pub local_accuracy: f64,
    /// Its macro-F1 there.
    pub local_macro_f1: f64,
    /// Its mean accuracy on the other sites' held-out cells (site shift).
    pub local_accuracy_elsewhere: f64,
    /// The federated model's accuracy on this site's held-out cells (released by the hub).
    pub federated_accuracy: Option<f64>,
    /// Its macro-F1 there.
    pub federated_macro_f1: Option<f64>,
    /// The swarm model's accuracy on this site's held-out cells (scored at the site).
    pub swarm_accuracy: Option<f64>,
    /// Its macro-F1 there.
    pub swarm_macro_f1: Option<f64>,
}

/// The swarm run: the same network trained with no aggregator.
#[derive(Debug, Serialize)]
pub struct DemoSwarm {
    /// The run id at the hub's relay.
    pub run: String,
    /// Rounds every site accepted.
    pub rounds: u32,
    /// Whether every site ended with bit-identical parameters.
    pub identical_models: bool,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// What the demo did with cell images.
#[derive(Debug, Serialize)]
pub struct DemoCells {
    /// What the generator wrote.
    pub generated: oncofed_synth::CellsSummary,
    /// Per site: the ingest.
    pub ingest: Vec<(String, CellReport)>,
    /// Per site: the expert validation.
    pub validation: Vec<(String, SiteValidation)>,
    /// The hub's release of the federated classifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub federated: Option<oncofed_analysis::driver::cells::CellClassifierResult>,
    /// Why the training was refused, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// The swarm run (none when it failed: then `swarm_error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swarm: Option<DemoSwarm>,
    /// Why the swarm run failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swarm_error: Option<String>,
    /// Local-only, federated and swarm, per site.
    pub comparison: Vec<SiteComparison>,
    /// Wall time of the federated training run, seconds.
    pub training_seconds: f64,
    /// The registry as the researcher sees it afterwards (`GET /v1/models`).
    pub registry: Vec<serde_json::Value>,
    /// The first lines of the model card (`GET /v1/models/{id}/card`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_card_head: Option<String>,
}

/// The demo's training run.
fn training() -> CellTraining {
    CellTraining {
        rounds: 8,
        ..CellTraining::small("demo-differential")
    }
}

/// Site `i`'s cell set-up in its node folder (the image archive and the key
/// file the imaging part uses).
fn setup(node_dir: &Path) -> anyhow::Result<CellSetup> {
    std::fs::create_dir_all(node_dir)?;
    let key = oncofed_node::imaging::load_or_create_uid_key(&node_dir.join("dicom-uid.key"))?;
    Ok(CellSetup::new(
        ObjectArchive::local(&node_dir.join("images"))?,
        key,
    ))
}

/// Two experts label every cell of the site, an adjudicator settles their
/// disagreements, and the validated set is imported at the site.
async fn validate_site(
    service: &QueryService,
    setup: &CellSetup,
    truth_file: &Path,
    seed: u64,
) -> anyhow::Result<SiteValidation> {
    let truth = oncofed_validation::csv_io::read_truth_file(truth_file)?;
    let experts = [
        SimulatedExpert::new("dr-a", 0.92, seed)?,
        SimulatedExpert::new("dr-b", 0.88, seed + 1)?,
    ];
    let start = chrono::Utc::now();
    let set = AnnotationSet::new(simulate_annotations(&experts, &truth, start))?;
    let kappa = oncofed_validation::agreement(&set)
        .fleiss
        .and_then(|f| f.kappa);
    let policy = ValidationPolicy::default();
    let first = oncofed_validation::validate(&set, &[], policy)?;
    let adjudicator = SimulatedExpert::new("dr-c", 0.97, seed + 2)?;
    let classes: std::collections::HashMap<&str, oncofed_model::CellClass> = truth
        .iter()
        .map(|t| (t.cell_id.as_str(), t.class))
        .collect();
    let adjudications: Vec<Adjudication> = first
        .queue
        .iter()
        .filter_map(|q| {
            let class = *classes.get(q.cell_id.as_str())?;
            Some(Adjudication {
                cell_id: q.cell_id.clone(),
                adjudicator: "dr-c".into(),
                label: adjudicator.label(class, &q.cell_id),
                at: start,
                note: String::new(),
            })
        })
        .collect();
    let validation = oncofed_validation::validate(&set, &adjudications, policy)?;
    oncofed_node::cells::import_validated(&service.store(), &setup.keys, &validation.labels)
        .await?;
    Ok(SiteValidation {
        cells: set.len(),
        fleiss_kappa: kappa,
        consensus: first.labels.len(),
        adjudicated: adjudications.len(),
    })
}

/// The site's consented, validated cells as (training, held-out) datasets.
async fn site_sets(
    service: &QueryService,
    archive: &ObjectArchive,
    spec: &oncofed_learn::ModelSpec,
) -> anyhow::Result<(oncofed_cnn::Dataset, oncofed_cnn::Dataset)> {
    let size = spec.input_size;
    let cells = training_cells(&service.store(), archive, &service.gate(), size).await?;
    let (mut train, mut test) = (
        oncofed_cnn::Dataset::new(size),
        oncofed_cnn::Dataset::new(size),
    );
    for c in cells {
        let Some(index) = c
            .label
            .and_then(|l| spec.classes.iter().position(|k| *k == l))
        else {
            continue;
        };
        match split_part(&c.pseudonym) {
            SplitPart::Training => train.push_rgb(size, size, &c.pixels, Some(index as u8))?,
            SplitPart::Test => test.push_rgb(size, size, &c.pixels, Some(index as u8))?,
            SplitPart::Validation => {}
        }
    }
    Ok((train, test))
}

fn evaluate(
    spec: &oncofed_learn::ModelSpec,
    params: &[f32],
    data: &oncofed_cnn::Dataset,
) -> anyhow::Result<Evaluation> {
    let round = EvaluateRound {
        spec: spec.clone(),
        params: params.to_vec(),
        bins: 10,
    };
    let v = oncofed_cnn::site_evaluate_vector(&round, data)?;
    Ok(Evaluation::from_sum(&round, &v)?)
}

/// Generates, ingests, validates, trains and compares.
pub async fn run(
    fed: &LocalFederation,
    services: &[QueryService],
    config: &oncofed_synth::SynthConfig,
    cohort: &Path,
) -> anyhow::Result<DemoCells> {
    let generated = {
        let (config, cohort) = (config.clone(), cohort.to_owned());
        tokio::task::spawn_blocking(move || {
            oncofed_synth::write_cells(&config, &cohort, SHARE, CELLS_PER_SMEAR)
        })
        .await??
    };
    let mut ingest = Vec::new();
    let mut validation = Vec::new();
    for (i, service) in services.iter().enumerate() {
        let site = fed.sites[i].to_string();
        let setup = setup(&fed.node_dir(i))?;
        let dir = cohort.join(&site).join("cells");
        let report = oncofed_node::cells::ingest_cells(
            &service.store(),
            &fed.trustee_client(i)?,
            &setup,
            &dir,
        )
        .await?;
        ingest.push((site.clone(), report));
        let truth = cohort
            .join("ground-truth")
            .join(format!("cells-{site}.csv"));
        let v = validate_site(service, &setup, &truth, config.seed + 10 * i as u64).await?;
        validation.push((site, v));
    }

    fed.admin()
        .approve_project(&Project {
            id: "cells".into(),
            title: "OncoFed demo: a leukaemic-cell classifier trained across sites".into(),
            researchers: vec!["researcher".into()],
            categories: BTreeSet::from([DataCategory::Clinical, DataCategory::Pathology]),
            epsilon_budget: 1.0,
            plan: PlanLimits {
                kinds: vec!["cell-classifier".into()],
                ..PlanLimits::default()
            },
        })
        .await?;
    let training = training();
    let request = AnalysisRequest {
        project: "cells".into(),
        index: IndexEvent { icd10: "C".into() },
        cohort: None,
        analysis: Analysis::CellClassifier {
            training: training.clone(),
        },
        epsilon: None,
        wait_seconds: Some(120),
        tolerance: None,
        max_iter: None,
    };
    let started = std::time::Instant::now();
    let response = fed.researcher().analyze_to_end(&request).await?;
    let training_seconds = started.elapsed().as_secs_f64();
    let (federated, refused) = if response.state == RunState::Done {
        match serde_json::from_value(response.result.unwrap_or_default())? {
            oncofed_analysis::AnalysisResult::CellClassifier(r) => (Some(*r), None),
            _ => anyhow::bail!("the hub released another kind of result"),
        }
    } else {
        (
            None,
            Some(response.error.unwrap_or_else(|| "not released".into())),
        )
    };

    let registry = fed.researcher().models().await?;
    let model_card_head = match &federated {
        Some(r) => Some(
            fed.researcher()
                .model_card(&r.model.id)
                .await?
                .lines()
                .take(6)
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        None => None,
    };

    // Each site alone: the same network and epochs, on its own cells only.
    let spec = training.spec.clone();
    let mut sets = Vec::new();
    for (i, service) in services.iter().enumerate() {
        let archive = ObjectArchive::local(&fed.node_dir(i).join("images"))?;
        sets.push(site_sets(service, &archive, &spec).await?);
    }
    let (swarm, swarm_model, swarm_error) = match swarm_run(fed, services, &training, &sets).await {
        Ok((s, model)) => (Some(s), Some(model), None),
        Err(e) => (None, None, Some(format!("{e:#}"))),
    };
    let local = LocalConfig {
        epochs: training.rounds * training.local.epochs,
        ..training.local.clone()
    };
    let mut comparison = Vec::new();
    for (i, (train, test)) in sets.iter().enumerate() {
        if train.is_empty() || test.is_empty() {
            continue;
        }
        let (spec2, local2, train2) = (spec.clone(), local.clone(), train.clone());
        let seed = training.seed;
        let params = tokio::task::spawn_blocking(move || {
            oncofed_cnn::train_local(&spec2, &spec2.initial_params(seed), &train2, &local2)
        })
        .await??
        .params;
        let own = evaluate(&spec, &params, test)?;
        let elsewhere: Vec<f64> = sets
            .iter()
            .enumerate()
            .filter(|(j, (_, t))| *j != i && !t.is_empty())
            .map(|(_, (_, t))| evaluate(&spec, &params, t).map(|e| e.accuracy))
            .collect::<anyhow::Result<_>>()?;
        let site = fed.sites[i].to_string();
        let swarm_eval = match &swarm_model {
            Some(m) => Some(evaluate(&spec, m, test)?),
            None => None,
        };
        let fed_eval = federated
            .as_ref()
            .and_then(|r| r.sites.iter().find(|s| s.site == site))
            .and_then(|s| s.evaluation.as_ref());
        comparison.push(SiteComparison {
            site,
            test_cells: own.n,
            local_accuracy: own.accuracy,
            local_macro_f1: own.macro_f1,
            local_accuracy_elsewhere: elsewhere.iter().sum::<f64>() / elsewhere.len().max(1) as f64,
            federated_accuracy: fed_eval.map(|e| e.accuracy),
            federated_macro_f1: fed_eval.map(|e| e.macro_f1),
            swarm_accuracy: swarm_eval.as_ref().map(|e| e.accuracy),
            swarm_macro_f1: swarm_eval.as_ref().map(|e| e.macro_f1),
        });
    }
    Ok(DemoCells {
        generated,
        ingest,
        validation,
        federated,
        refused,
        swarm,
        swarm_error,
        comparison,
        training_seconds,
        registry,
        model_card_head,
    })
}

/// Swarm learning over the hub's relay: every site trains on its own
/// training cells and seals its update to the round's leader; the demo
/// drives the three sites' rounds in step (a site's agent would, on a hub
/// task). Returns the run and the model every site ended with.
async fn swarm_run(
    fed: &LocalFederation,
    services: &[QueryService],
    training: &CellTraining,
    sets: &[(oncofed_cnn::Dataset, oncofed_cnn::Dataset)],
) -> anyhow::Result<(DemoSwarm, Vec<f32>)> {
    use oncofed_node::agent::{Agent, SwarmTrainer};
    anyhow::ensure!(
        sets.iter().all(|(train, _)| !train.is_empty()),
        "a site holds no validated training cells"
    );
    let started = std::time::Instant::now();
    // The researcher starts the run inside the approved project; every site
    // fetches the hub's signed grant and trains what it names.
    let grant = fed
        .researcher()
        .start_swarm_run(&oncofed_protocol::swarm_grant::SwarmRunRequest {
            project: "cells".into(),
            training: training.clone(),
            sites: None,
        })
        .await?;
    let run = grant.grant.run.clone();
    let participants: Vec<String> = fed.sites.iter().map(|s| s.to_string()).collect();
    let mut trainers = Vec::new();
    for (i, service) in services.iter().enumerate() {
        let config = fed.agent_config(i, 5)?;
        let site = oncofed_swarm::SiteConfig {
            name: participants[i].clone(),
            signing: config.key.clone(),
            roster: config.roster.clone(),
            min_sites: 2,
        };
        let agent =
            Agent::new(config, service.store(), service.gate()).with_tls(&fed.site_tls(i))?;
        trainers.push(SwarmTrainer::open(agent, site, &run, sets[i].0.clone()).await?);
    }
    // A stall is a step (the keys, one round) without its end for two minutes;
    // the whole run may take longer on a loaded machine.
    let patience = std::time::Duration::from_secs(120);
    let deadline = std::time::Instant::now() + patience;
    let wait = async |trainers: &mut Vec<SwarmTrainer>,
                      done: &mut Vec<bool>,
                      deadline: std::time::Instant| {
        while done.iter().any(|d| !d) {
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "the swarm run stalled"
            );
            let mut moved = false;
            for (t, d) in trainers.iter_mut().zip(done.iter_mut()) {
                let accepted = t.poll().await?;
                moved |= !accepted.is_empty();
                *d |= !accepted.is_empty();
            }
            if !moved {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
        Ok::<_, anyhow::Error>(())
    };
    // the run keys first
    while !trainers.iter().all(SwarmTrainer::ready) {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "swarm keys did not arrive"
        );
        for t in &mut trainers {
            t.poll().await?;
        }
    }
    for round in 0..training.rounds {
        let mut done = Vec::new();
        for t in &mut trainers {
            done.push(t.start_round(round).await?.is_some());
        }
        wait(
            &mut trainers,
            &mut done,
            std::time::Instant::now() + patience,
        )
        .await?;
    }
    let model = trainers[0].model().to_vec();
    let identical_models = trainers.iter().all(|t| t.model() == model.as_slice());
    Ok((
        DemoSwarm {
            run,
            rounds: training.rounds,
            identical_models,
            seconds: started.elapsed().as_secs_f64(),
        },
        model,
    ))
}

/// Prints the cytomorphology part for people.
pub fn print(c: &DemoCells) {
    println!(
        "\ncell images: {} cells on {} smears generated; per site ingested, validated by two experts and an adjudicator:",
        c.generated.cells, c.generated.smears
    );
    for ((site, ingest), (_, v)) in c.ingest.iter().zip(&c.validation) {
        println!(
            "  {site}: {} cells on {} smears of {} persons; Fleiss κ {}; {} consensus, {} adjudicated",
            ingest.cells,
            ingest.smears,
            ingest.patients,
            v.fleiss_kappa.map_or("-".into(), |k| format!("{k:.2}")),
            v.consensus,
            v.adjudicated
        );
    }
    match (&c.federated, &c.refused) {
        (Some(r), _) => {
            println!(
                "\ncell classifier trained across the sites through the hub in {:.1} s (project 'cells'):",
                c.training_seconds
            );
            for line in super::analyze_render::cell_classifier(r).lines() {
                println!("  {line}");
            }
        }
        (None, Some(why)) => println!("\ncell classifier refused: {why}"),
        (None, None) => {}
    }
    if let Some(head) = &c.model_card_head {
        println!(
            "\nmodel registry: {} model(s); the card begins:",
            c.registry.len()
        );
        for line in head.lines() {
            println!("  {line}");
        }
    }
    match (&c.swarm, &c.swarm_error) {
        (Some(s), _) => println!(
            "\nswarm learning over the hub's relay: {} rounds in {:.1} s, every site holds the same model: {}",
            s.rounds, s.seconds, s.identical_models
        ),
        (None, Some(e)) => println!("\nswarm learning failed: {e}"),
        (None, None) => {}
    }
    println!("\naccuracy on each site's held-out cells:");
    println!(
        "  {:<10} {:>6} {:>12} {:>15} {:>10} {:>8}",
        "site", "cells", "local (own)", "local (others)", "federated", "swarm"
    );
    let show = |a: Option<f64>| a.map_or("-".into(), |a| format!("{a:.3}"));
    for s in &c.comparison {
        println!(
            "  {:<10} {:>6} {:>12.3} {:>15.3} {:>10} {:>8}",
            s.site,
            s.test_cells,
            s.local_accuracy,
            s.local_accuracy_elsewhere,
            show(s.federated_accuracy),
            show(s.swarm_accuracy)
        );
    }
}
