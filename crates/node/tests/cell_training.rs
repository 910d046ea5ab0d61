//! Issue 15 at the site: a cell classifier's run is held to the hub's signed
//! plan like every analysis. A hub that asks for less DP noise than the
//! request's ε buys, other local training, another network, a training round
//! in a statistics run, or any training at a site without a cell archive gets
//! the constant refusal; a round within the plan trains and is masked.

mod support;

use oncofed_crypto::SigningKeyPair;
use oncofed_learn::{DpConfig, TrainRound};
use oncofed_node::agent::AnalysisRuns;
use oncofed_node::cells::{self, CellSetup};
use oncofed_node::imaging::ObjectArchive;
use oncofed_protocol::QueryId;
use oncofed_protocol::analysis::{
    Analysis, AnalysisReply, AnalysisRequest, AnalysisStep, CellDp, CellTraining, Computation,
    IndexEvent, Survival,
};
use oncofed_protocol::plan::RunPlan;
use oncofed_secagg::{REFUSAL_TEXT, RoundId};
use support::{Agent, agent_config, ingested_site_1, key_run};

static HUB: std::sync::LazyLock<SigningKeyPair> =
    std::sync::LazyLock::new(SigningKeyPair::generate);

fn training() -> CellTraining {
    let mut t = CellTraining::small("red-team");
    t.rounds = 3;
    t.local.epochs = 1;
    t.dp = Some(CellDp {
        clip_norm: 0.5,
        delta: 1e-5,
    });
    t
}

fn request(analysis: Analysis) -> AnalysisRequest {
    AnalysisRequest {
        project: "p1".into(),
        index: IndexEvent { icd10: "C".into() },
        cohort: None,
        analysis,
        epsilon: Some(1.0),
        wait_seconds: None,
        tolerance: None,
        max_iter: None,
    }
}

fn prepare(run: &QueryId, analysis: Analysis) -> AnalysisStep {
    let plan = RunPlan {
        run: run.clone(),
        request: request(analysis),
        max_rounds: 8,
        max_grid_points: 3651,
        max_abs_beta: 20.0,
    };
    AnalysisStep::Prepare {
        request: plan.request.clone(),
        min_rows: 0,
        max_parameter_ratio: 1.0,
        plan: Box::new(plan.sign(&HUB).unwrap()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_training_rounds_outside_the_signed_plan_are_refused() {
    let (trustee, cohort, node, _) = ingested_site_1(1, 400, 11).await;
    // Smears for most haematological persons, 6 cells each, labels validated
    // from the generator's truth (as an expert panel would).
    let config = oncofed_synth::SynthConfig {
        seed: 11,
        sites: 1,
        persons: 400,
        ..oncofed_synth::SynthConfig::default()
    };
    oncofed_synth::write_cells(&config, &cohort.out(), 1.0, 6).unwrap();
    let archive = ObjectArchive::local(&node.dir.path().join("images")).unwrap();
    let setup = CellSetup::new(archive.clone(), [9; 32]);
    let client = trustee.client("site-1");
    cells::ingest_cells(
        &node.store,
        &client,
        &setup,
        &cohort.site_dir("site-1").join("cells"),
    )
    .await
    .unwrap();
    let truth = oncofed_validation::csv_io::read_truth_file(
        &cohort.out().join("ground-truth/cells-site-1.csv"),
    )
    .unwrap();
    let validated: Vec<oncofed_validation::ValidatedLabel> = truth
        .iter()
        .map(|t| oncofed_validation::ValidatedLabel {
            cell_id: t.cell_id.clone(),
            label: t.class,
            method: oncofed_validation::Method::Consensus,
            experts: vec!["dr-a".into(), "dr-b".into()],
            agreement: 1.0,
            adjudicator: None,
            at: chrono::Utc::now(),
        })
        .collect();
    cells::import_validated(&node.store, &setup.keys, &validated)
        .await
        .unwrap();

    let peer_keys: Vec<SigningKeyPair> = (0..2).map(|_| SigningKeyPair::generate()).collect();
    let peers: Vec<(&str, &SigningKeyPair)> =
        ["site-2", "site-3"].into_iter().zip(&peer_keys).collect();
    let agent = Agent::new(
        &trustee,
        &node,
        agent_config(&node, SigningKeyPair::generate(), &peers, &HUB),
    );
    let refused = Err(REFUSAL_TEXT.to_string());
    let classifier = Analysis::CellClassifier {
        training: training(),
    };

    // A site without a cell archive trains nothing.
    let run = QueryId::random();
    let bare = AnalysisRuns::default();
    assert!(
        agent
            .step(&bare, &run, prepare(&run, classifier.clone()))
            .await
            .is_err()
    );

    let runs = AnalysisRuns::with_cell_archive(archive);
    let run = QueryId::random();
    assert_eq!(
        agent
            .step(&runs, &run, prepare(&run, classifier.clone()))
            .await,
        Ok(AnalysisReply::Admitted)
    );
    let rounds: Vec<RoundId> = (0..6)
        .map(|i| RoundId::new(format!("{run}/{i}")).unwrap())
        .collect();
    let inboxes = key_run(&agent, &runs, &run, &rounds, &peers, 3).await;
    let t = training();
    let want = t.dp_config(Some(1.0)).unwrap().unwrap();
    let round = |dp: Option<DpConfig>| TrainRound {
        spec: t.spec.clone(),
        round: 0,
        global: t.spec.initial_params(1),
        local: t.local.clone(),
        dp,
        sites: 1,
    };
    let mask = |r: usize, computation: Computation| AnalysisStep::Mask {
        round: rounds[r].clone(),
        inbox: inboxes[r].clone(),
        computation,
    };
    let less_noise = DpConfig {
        noise_multiplier: want.noise_multiplier / 4.0,
        ..want.clone()
    };
    let mut more_epochs = round(Some(want.clone()));
    more_epochs.local.epochs = 10;
    let mut wider = round(Some(want.clone()));
    wider.spec.conv_channels = [32, 32];
    wider.global = wider.spec.initial_params(1);
    let mut huge = round(Some(want.clone()));
    huge.global[0] = 1e9;
    for (what, computation) in [
        ("no DP", Computation::Train { round: round(None) }),
        (
            "a quarter of the noise",
            Computation::Train {
                round: round(Some(less_noise)),
            },
        ),
        ("ten epochs", Computation::Train { round: more_epochs }),
        ("another network", Computation::Train { round: wider }),
        ("a parameter of 1e9", Computation::Train { round: huge }),
        ("a statistics round", Computation::GlmStart),
    ] {
        assert_eq!(
            agent.step(&runs, &run, mask(0, computation)).await,
            refused,
            "{what}"
        );
    }
    // Within the plan: the site trains and masks.
    assert!(matches!(
        agent
            .step(
                &runs,
                &run,
                mask(
                    0,
                    Computation::Train {
                        round: round(Some(want))
                    }
                )
            )
            .await,
        Ok(AnalysisReply::Masked { .. })
    ));

    // A training round in a statistics run is refused too.
    let km = Analysis::KaplanMeier {
        survival: Survival::binned(3650),
        groups: None,
        interval_days: 30,
    };
    let run = QueryId::random();
    assert_eq!(
        agent.step(&runs, &run, prepare(&run, km)).await,
        Ok(AnalysisReply::Admitted)
    );
    let round0 = RoundId::new(format!("{run}/0")).unwrap();
    let inbox = key_run(
        &agent,
        &runs,
        &run,
        std::slice::from_ref(&round0),
        &peers,
        3,
    )
    .await;
    assert_eq!(
        agent
            .step(
                &runs,
                &run,
                AnalysisStep::Mask {
                    round: round0,
                    inbox: inbox[0].clone(),
                    computation: Computation::Train { round: round(None) },
                },
            )
            .await,
        refused
    );
}
