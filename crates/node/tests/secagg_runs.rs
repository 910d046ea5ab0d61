//! Issue 11, attack 3 at the site: a hub that runs the same computation twice,
//! once with and once without a site, by replacing a run with a new `Prepare`
//! or re-keying it once its sessions are spent. The site keeps its run counters
//! in the store's replay ledger, so neither works, not even after a restart,
//! and the hub is told only the constant refusal text.

mod support;

use oncofed_crypto::SigningKeyPair;
use oncofed_model::SiteId;
use oncofed_node::ConsentGate;
use oncofed_node::agent::{AgentConfig, AnalysisRuns, SiteSecret, answer_analysis};
use oncofed_protocol::QueryId;
use oncofed_protocol::analysis::{
    Analysis, AnalysisReply, AnalysisRequest, AnalysisStep, IndexEvent, Variable,
};
use oncofed_secagg::{REFUSAL_TEXT, Roster, RoundId, SitePolicy};
use std::time::Duration;
use support::{Cohort, Node, Trustee};

fn prepare() -> AnalysisStep {
    AnalysisStep::Prepare {
        request: AnalysisRequest {
            project: "p1".into(),
            index: IndexEvent { icd10: "C".into() },
            cohort: None,
            analysis: Analysis::Describe {
                variables: vec![Variable::Age],
                edges: vec![],
                strata: None,
            },
            epsilon: None,
            wait_seconds: None,
        },
        min_rows: 0,
        max_parameter_ratio: 1.0,
    }
}

fn keys(run: &str) -> AnalysisStep {
    AnalysisStep::Keys {
        index: 0,
        threshold: 1,
        rounds: vec![RoundId::new(format!("{run}/0")).unwrap()],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_a_run_is_prepared_and_keyed_once_even_after_a_restart() {
    let trustee = Trustee::start(1).await;
    let cohort = Cohort::generate(1, 400, 5);
    let node = Node::new();
    let report = node
        .ingest(&trustee.client("site-1"), &[cohort.site_dir("site-1")])
        .await
        .unwrap();
    assert_eq!(report.units_failed, 0, "{:?}", report.errors);
    let gate = ConsentGate::new(trustee.client("site-1"), Duration::from_secs(60));
    let key = SigningKeyPair::generate();
    let mut roster = Roster::new();
    roster.insert("site-1", key.public_key()).unwrap();
    let config = AgentConfig {
        site: SiteId::new("site-1").unwrap(),
        hub_url: "http://127.0.0.1:9".into(),
        key,
        hub_key: SigningKeyPair::generate().public_key(),
        secret: SiteSecret::load_or_create(&node.dir.path().join("noise.secret")).unwrap(),
        poll_wait: 1,
        roster,
        secagg: SitePolicy::default(),
    };
    let run = QueryId::random();
    let round_prefix = run.as_str().to_owned();
    let runs = AnalysisRuns::default();
    let step = |runs: &AnalysisRuns, s: AnalysisStep| {
        let (runs, store, gate, config, run) = (
            runs.clone(),
            node.store.clone(),
            &gate,
            &config,
            run.clone(),
        );
        async move { answer_analysis(&runs, &store, gate, config, &run, s).await }
    };
    assert_eq!(
        step(&runs, prepare()).await,
        Ok(AnalysisReply::Admitted),
        "the first Prepare is admitted"
    );
    assert!(matches!(
        step(&runs, keys(&round_prefix)).await,
        Ok(AnalysisReply::Ready { .. })
    ));
    // Keys again (as once the sessions are spent): refused, constant text.
    assert_eq!(
        step(&runs, keys(&round_prefix)).await,
        Err(REFUSAL_TEXT.to_string())
    );
    // A new Prepare for the run, to replace it: refused.
    assert_eq!(step(&runs, prepare()).await, Err(REFUSAL_TEXT.to_string()));
    // Finish, then a site restart (nothing in memory), then Prepare again: the
    // durable ledger still refuses the run id.
    step(&runs, AnalysisStep::Finish).await.unwrap();
    let restarted = AnalysisRuns::default();
    assert_eq!(
        step(&restarted, prepare()).await,
        Err(REFUSAL_TEXT.to_string())
    );
    assert_eq!(restarted.open_runs(), 0);
}
