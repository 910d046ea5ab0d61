//! Issue 13, item 5: a site that drops out of an analysis, with real agents.
//!
//! A site that leaves at a round's `Mask` step before any sum of the run was
//! revealed leaves the run: the round closes without it (secure aggregation's
//! dropout recovery) and the run finishes on the remaining sites, naming the
//! site that left with the round, step and time. A site that leaves after a
//! revealed sum fails the run, nothing released, nothing charged. And the
//! researcher never gets the same cohort both with and without the site: the
//! sites' repeat rule binds the cohort to the survivors, so a later run over
//! the full set is refused by the sites themselves.

mod support;

use oncofed_hub_api::HubClient;
use oncofed_protocol::analysis::{
    Analysis, AnalysisRequest, IndexEvent, RunState, Survival, Ties, Variable,
};
use serde_json::Value;
use std::time::Duration;
use support::{AUDITOR, Federation, Hub, RESEARCHER};

/// Short timeouts: a dead site is noticed within seconds.
fn quick(c: &mut oncofed_hub::HubConfig) {
    c.analysis_step_timeout = Duration::from_secs(3);
    c.analysis_admission_timeout = Duration::from_secs(3);
}

/// A Kaplan–Meier run by sex with ε = 0.1 (rows, events and each curve's n and
/// events noised; the curves, medians and log-rank are exact).
fn km() -> AnalysisRequest {
    AnalysisRequest {
        project: "p1".into(),
        index: IndexEvent { icd10: "C".into() },
        cohort: None,
        analysis: Analysis::KaplanMeier {
            survival: Survival::default(),
            groups: Some(Variable::Female),
            interval_days: 30,
        },
        epsilon: Some(0.1),
        wait_seconds: Some(60),
        tolerance: None,
        max_iter: None,
    }
}

/// Runs `agent` for `tasks` tasks (one step per poll: the hub sends the next
/// step only when every site answered the last), then lets its process "die".
fn answer_then_die(agent: oncofed_node::agent::Agent, tasks: usize) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut handled = 0;
        while handled < tasks {
            handled += agent.poll_once().await.unwrap_or(0);
        }
    })
}

/// The exact (not noised) parts of a KM result: each curve's steps, median
/// and its interval, and the log-rank test.
fn exact_parts(km: &Value) -> Value {
    let curves: Vec<Value> = km["curves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            serde_json::json!({
                "label": c["label"], "steps": c["steps"],
                "median": c["median"], "median_ci": c["median_ci"],
            })
        })
        .collect();
    serde_json::json!({ "curves": curves, "logrank": km["logrank"] })
}

async fn audit_log(hub: &Hub) -> String {
    HubClient::new(&hub.url, AUDITOR)
        .audit_export()
        .await
        .unwrap()
}

/// A hub with the quick timeouts, `fed`'s sites registered and project `p1`
/// approved for alice, and alice's client.
async fn hub_with_project(
    fed: &Federation,
    dir: &std::path::Path,
    title: &str,
) -> (Hub, HubClient) {
    let hub = Hub::start(
        dir.into(),
        oncofed_crypto::SigningKeyPair::generate(),
        quick,
    )
    .await;
    fed.register(&hub).await;
    support::approve_for_alice(&hub, "p1", title).await;
    let alice = HubClient::new(&hub.url, RESEARCHER);
    (hub, alice)
}

/// (a) and (c): site-4 of four dies after key set-up, before the first `Mask`.
/// The run completes over the other three, equals the same analysis with
/// site-4 sitting out from the start, names site-4 with round, step and time,
/// and charges its ε once. Then the same cohort over all four sites (site-4
/// back) is refused by the other sites' repeat rule: the researcher never
/// holds the figures with and without site-4.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_site_that_leaves_before_the_first_sum_lets_the_run_finish_without_it() {
    let fed = Federation::build(4, 1200, 41).await;
    let dir = tempfile::tempdir().unwrap();
    let (hub, alice) = hub_with_project(&fed, dir.path(), "a site leaves early").await;
    let _agents = fed.run_agents(&hub, &[0, 1, 2]);
    // site-4 answers Prepare, Keys and Share, then dies.
    let leaver = answer_then_die(fed.sites[3].agent(&hub), 3);
    let before = chrono::Utc::now();
    let done = alice.analyze_to_end(&km()).await.unwrap();
    leaver.await.unwrap();
    assert_eq!(done.state, RunState::Done, "{:?}", done.error);
    let with_dropout = done.result.unwrap();
    let run = &with_dropout["run"];
    assert_eq!(run["sites"], 3, "{run}");
    let left = run["left"].as_array().unwrap();
    assert_eq!(left.len(), 1, "{run}");
    assert_eq!(left[0]["site"], "site-4");
    assert_eq!(left[0]["round"], 0);
    assert_eq!(left[0]["step"], "mask");
    assert_eq!(left[0]["reason"], "no answer before the step timeout");
    let at: chrono::DateTime<chrono::Utc> = left[0]["at"].as_str().unwrap().parse().unwrap();
    assert!(at >= before && at <= chrono::Utc::now());
    assert!(run.get("sat_out").is_none(), "site-4 was admitted: {run}");
    let log = audit_log(&hub).await;
    assert!(
        log.lines().any(|l| l.contains("analysis.site_left")
            && l.contains(done.run_id.as_str())
            && l.contains("site-4")),
        "the audit trail records who left"
    );

    // The same analysis on the three survivors alone (site-4 sits out at
    // admission): the repeat rule allows it (the same site set) and the
    // figures are the same.
    let alone = alice.analyze_to_end(&km()).await.unwrap();
    assert_eq!(alone.state, RunState::Done, "{:?}", alone.error);
    let alone = alone.result.unwrap();
    assert_eq!(alone["run"]["sites"], 3);
    assert_eq!(alone["run"]["sat_out"][0]["site"], "site-4");
    assert_eq!(exact_parts(&with_dropout), exact_parts(&alone));
    let spent = alice.projects().await.unwrap()[0].epsilon_spent;
    assert!((spent - 0.2).abs() < 1e-9, "two releases charged: {spent}");

    // Adversary (c): the same cohort over all four sites, site-4 back. The
    // three survivors refuse to confirm a second site set for the cohort, so
    // nothing is unmasked and the with-site-4 figures never exist.
    let _site_4 = fed.run_agents(&hub, &[3]);
    let full = alice.analyze_to_end(&km()).await.unwrap();
    assert_eq!(full.state, RunState::Failed, "{:?}", full.result);
    assert!(
        full.result.is_none(),
        "nothing over the full set is released"
    );
    let error = full.error.unwrap_or_default();
    assert!(
        error.contains("round 0 (confirm)") && error.contains("refused by the site"),
        "{error}"
    );
    // All four were admitted and masked: the refusal came from the sites'
    // repeat rule at the consistency round, not from a missing site.
    let log = audit_log(&hub).await;
    let admission: Value = log
        .lines()
        .find(|l| l.contains("analysis.admission") && l.contains(full.run_id.as_str()))
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap();
    assert_eq!(
        admission["entry"]["details"]["admitted"]
            .as_array()
            .map(Vec::len),
        Some(4),
        "{admission}"
    );
    assert!(
        !log.lines()
            .any(|l| l.contains("analysis.round") && l.contains(full.run_id.as_str()))
    );
    let spent = alice.projects().await.unwrap()[0].epsilon_spent;
    assert!((spent - 0.2).abs() < 1e-9, "the refused run costs nothing");
    hub.stop().await;
}

/// (b): site-4 dies after the first round was revealed (its data are in that
/// sum). The Cox fit cannot go on without it: the run fails, says why, and
/// neither releases nor charges anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_site_that_leaves_after_a_revealed_sum_fails_the_run() {
    let fed = Federation::build(4, 1200, 42).await;
    let dir = tempfile::tempdir().unwrap();
    let (hub, alice) = hub_with_project(&fed, dir.path(), "a site leaves late").await;
    let _agents = fed.run_agents(&hub, &[0, 1, 2]);
    // Prepare, Keys, Share, then round 0's Mask, Confirm and Reveal.
    let leaver = answer_then_die(fed.sites[3].agent(&hub), 6);
    let cox = AnalysisRequest {
        analysis: Analysis::Cox {
            survival: Survival::default(),
            covariates: vec![Variable::Age],
            ties: Ties::Efron,
            stratify_by_site: false,
            strata: None,
            robust: false,
        },
        epsilon: Some(0.3),
        ..km()
    };
    let done = alice.analyze_to_end(&cox).await.unwrap();
    leaver.await.unwrap();
    assert_eq!(done.state, RunState::Failed, "{done:?}");
    let error = done.error.unwrap_or_default();
    assert!(
        error.contains("site-4")
            && error.contains("round 1 (mask)")
            && error.contains("after sums with its data were revealed"),
        "{error}"
    );
    assert!(done.result.is_none(), "nothing is released");
    assert_eq!(
        alice.projects().await.unwrap()[0].epsilon_spent,
        0.0,
        "a failed run spends no budget"
    );
    hub.stop().await;
}

/// Three sites: one leaving would leave fewer than the secure-aggregation
/// threshold (3 of 3), so the run fails naming the site and the rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_site_cannot_leave_when_too_few_would_remain() {
    let fed = Federation::build(3, 900, 43).await;
    let dir = tempfile::tempdir().unwrap();
    let (hub, alice) = hub_with_project(&fed, dir.path(), "too few remain").await;
    let _agents = fed.run_agents(&hub, &[0, 1]);
    let leaver = answer_then_die(fed.sites[2].agent(&hub), 3);
    let done = alice.analyze_to_end(&km()).await.unwrap();
    leaver.await.unwrap();
    assert_eq!(done.state, RunState::Failed, "{done:?}");
    let error = done.error.unwrap_or_default();
    assert!(
        error.contains("site-3") && error.contains("fewer than the 3"),
        "{error}"
    );
    assert!(done.result.is_none());
    assert_eq!(alice.projects().await.unwrap()[0].epsilon_spent, 0.0);
    hub.stop().await;
}
