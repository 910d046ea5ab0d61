//! Issue 11, attack 3 through the whole protocol: the hub computes the same
//! cohort twice, once over four sites and once without the fourth, to read that
//! site's vector as the difference. Every honest site bound the cohort to the
//! first run's site set in its durable ledger, so none confirms the second run's
//! survivor set, no share is revealed and the run fails; a repeat over the
//! identical four sites is answered (it tells the hub nothing new).

mod support;

use oncofed_hub_api::HubClient;
use oncofed_protocol::analysis::{Analysis, AnalysisRequest, IndexEvent, RunState, Variable};
use std::time::Duration;
use support::{Federation, RESEARCHER, approve_for_alice};

fn describe() -> AnalysisRequest {
    AnalysisRequest {
        project: "p1".into(),
        index: IndexEvent { icd10: "C".into() },
        cohort: None,
        analysis: Analysis::Describe {
            variables: vec![Variable::Age],
            edges: vec![],
            strata: None,
        },
        epsilon: None,
        wait_seconds: Some(60),
        tolerance: None,
        max_iter: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn red_team_same_computation_in_two_runs_is_refused() {
    let fed = Federation::build(4, 800, 31).await;
    let dir = tempfile::tempdir().unwrap();
    let hub = fed
        .hub(
            dir.path(),
            oncofed_crypto::SigningKeyPair::generate(),
            |c| {
                c.analysis_admission_timeout = Duration::from_secs(4);
                c.analysis_step_timeout = Duration::from_secs(10);
            },
        )
        .await;
    approve_for_alice(&hub, "p1", "with and without a site").await;
    let alice = HubClient::new(&hub.url, RESEARCHER);

    let all = fed.run_agents(&hub, &[0, 1, 2, 3]);
    let first = alice.analyze_to_end(&describe()).await.unwrap();
    assert_eq!(first.state, RunState::Done, "{:?}", first.error);
    all.send(true).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Site 4 "drops out": the same cohort over the other three. Before the
    // repeat rule this run was Done and its rows differed from the first's by
    // exactly site 4's.
    let three = fed.run_agents(&hub, &[0, 1, 2]);
    let second = alice.analyze_to_end(&describe()).await.unwrap();
    assert_eq!(second.state, RunState::Failed, "{:?}", second.result);
    assert!(second.result.is_none());
    three.send(true).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The identical four sites again: the same sums, confirmed.
    let _again = fed.run_agents(&hub, &[0, 1, 2, 3]);
    let third = alice.analyze_to_end(&describe()).await.unwrap();
    assert_eq!(third.state, RunState::Done, "{:?}", third.error);
    assert_eq!(
        third.result.unwrap()["run"]["rows"],
        first.result.unwrap()["run"]["rows"]
    );
    hub.stop().await;
}
