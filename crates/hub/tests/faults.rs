//! Issue 13, item 5: faults during an analysis. A site that stops answering
//! during key set-up ends the run in a clear state, naming the site, within
//! the step timeout; nothing is released and no privacy budget is spent. A
//! site that leaves at a round's `Mask` step before any revealed sum lets the
//! run finish on the remaining sites instead: `dropout.rs` (and ARCHITECTURE.md,
//! "Data flow of an analysis", faults).

mod support;

use oncofed_hub_api::HubClient;
use oncofed_protocol::analysis::{
    Analysis, AnalysisRequest, IndexEvent, RunState, Survival, Ties, Variable,
};
use std::time::Duration;
use support::{Federation, Hub, RESEARCHER};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_site_that_leaves_mid_run_ends_it_clearly_and_costs_no_budget() {
    let fed = Federation::build(3, 900, 37).await;
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(
        dir.path().into(),
        oncofed_crypto::SigningKeyPair::generate(),
        |c| c.analysis_step_timeout = Duration::from_secs(3),
    )
    .await;
    fed.register(&hub).await;
    let _agents = fed.run_agents(&hub, &[0, 1]);
    // site-3 takes part in admission (Prepare) and key set-up (Keys), then its
    // process dies: it answers nothing more.
    let leaver = fed.sites[2].agent(&hub);
    let left = tokio::spawn(async move {
        let mut handled = 0;
        while handled < 2 {
            handled += leaver.poll_once().await.unwrap_or(0);
        }
    });
    support::approve_for_alice(&hub, "p1", "a site leaves").await;
    let alice = HubClient::new(&hub.url, RESEARCHER);
    let cox = AnalysisRequest {
        project: "p1".into(),
        index: IndexEvent { icd10: "C".into() },
        cohort: None,
        analysis: Analysis::Cox {
            survival: Survival::default(),
            covariates: vec![Variable::Age],
            ties: Ties::Efron,
            stratify_by_site: false,
            strata: None,
            robust: false,
        },
        epsilon: Some(0.3),
        wait_seconds: Some(60),
        tolerance: None,
        max_iter: None,
    };
    let done = alice.analyze_to_end(&cox).await.unwrap();
    // The leaver handled admission and key set-up: it left mid-run.
    left.await.unwrap();
    assert_eq!(done.state, RunState::Failed, "{done:?}");
    let error = done.error.unwrap_or_default();
    assert!(
        error.contains("site-3") && error.contains("stopped taking part at key set-up"),
        "{error}"
    );
    assert!(done.result.is_none(), "nothing is released");
    let projects = alice.projects().await.unwrap();
    assert_eq!(
        projects[0].epsilon_spent, 0.0,
        "a failed run spends no budget"
    );
    hub.stop().await;
}

/// A hub that restarts while a run is under way fails the run with a clear
/// state instead of leaving it "running" forever; nothing was released, so no
/// budget is spent and the researcher is told to submit it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hub_restart_during_a_run_fails_it_clearly() {
    let fed = Federation::build(3, 300, 38).await;
    let dir = tempfile::tempdir().unwrap();
    let key = oncofed_crypto::SigningKeyPair::generate();
    let hub = Hub::start(dir.path().into(), key.clone(), |_| {}).await;
    fed.register(&hub).await;
    support::approve_for_alice(&hub, "p1", "the hub restarts").await;
    // No agent runs: the run waits in admission when the hub goes down.
    let alice = HubClient::new(&hub.url, RESEARCHER);
    let request = AnalysisRequest {
        wait_seconds: Some(0),
        ..describe_age("p1")
    };
    let started = alice.analyze(&request).await.unwrap();
    assert_eq!(started.state, RunState::Running);
    hub.stop().await;

    let hub = Hub::start(dir.path().into(), key, |_| {}).await;
    let alice = HubClient::new(&hub.url, RESEARCHER);
    let after = alice.analysis(&started.run_id, 0).await.unwrap();
    assert_eq!(after.state, RunState::Failed);
    let error = after.error.unwrap_or_default();
    assert!(
        error.contains("restarted") && error.contains("again"),
        "{error}"
    );
    assert!(after.result.is_none());
    assert_eq!(alice.projects().await.unwrap()[0].epsilon_spent, 0.0);
    hub.stop().await;
}

fn describe_age(project: &str) -> AnalysisRequest {
    AnalysisRequest {
        project: project.into(),
        index: IndexEvent { icd10: "C".into() },
        cohort: None,
        analysis: Analysis::Describe {
            variables: vec![Variable::Age],
            edges: (3..=9).map(|d| f64::from(d * 10)).collect(),
            strata: None,
        },
        epsilon: Some(0.2),
        wait_seconds: Some(60),
        tolerance: None,
        max_iter: None,
    }
}
