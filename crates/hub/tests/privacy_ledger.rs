//! The lifetime dataset ledger: every ε release, of every project and
//! researcher, is charged against one federation-wide budget.

mod support;

use oncofed_hub::Role;
use oncofed_hub_api::HubClient;
use oncofed_model::DataCategory;
use oncofed_protocol::analysis::{
    Analysis, AnalysisRequest, IndexEvent, Project, RunState, Variable,
};
use std::collections::BTreeSet;
use support::{ADMIN, Federation, Hub, RESEARCHER};

const BOB: &str = "bob-researcher-token-0123456789";

fn describe(project: &str, epsilon: f64) -> AnalysisRequest {
    AnalysisRequest {
        project: project.into(),
        index: IndexEvent { icd10: "C".into() },
        cohort: None,
        analysis: Analysis::Describe {
            variables: vec![Variable::Age],
            edges: (3..=9).map(|d| f64::from(d * 10)).collect(),
            strata: None,
        },
        epsilon: Some(epsilon),
        wait_seconds: Some(60),
        tolerance: None,
        max_iter: None,
    }
}

/// Issue 11: the ledger was per (project, researcher), so two researchers in two
/// projects over the same cohort each spent a whole budget. Now the second
/// release past the dataset budget is refused, whoever asks and in whichever
/// project, while the project budgets alone would still allow it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn red_team_budget_multiplies_across_researchers_and_projects() {
    let fed = Federation::build(3, 900, 31).await;
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(
        dir.path().into(),
        oncofed_crypto::SigningKeyPair::generate(),
        |c| {
            c.users.add_token("bob", Role::Researcher, BOB).unwrap();
            c.dataset_epsilon_budget = 1.0;
        },
    )
    .await;
    fed.register(&hub).await;
    let _agents = fed.run_agents(&hub, &[0, 1, 2]);
    let admin = HubClient::new(&hub.url, ADMIN);
    for (id, researcher) in [("p1", "alice"), ("p2", "bob")] {
        admin
            .approve_project(&Project {
                id: id.into(),
                title: format!("project {id}"),
                researchers: vec![researcher.into()],
                categories: BTreeSet::from([DataCategory::Clinical]),
                epsilon_budget: 1.0,
                plan: Default::default(),
            })
            .await
            .unwrap();
    }
    let (alice, bob) = (
        HubClient::new(&hub.url, RESEARCHER),
        HubClient::new(&hub.url, BOB),
    );

    let first = alice.analyze_to_end(&describe("p1", 0.6)).await.unwrap();
    assert_eq!(first.state, RunState::Done, "{:?}", first.error);
    // Bob's own project has its whole budget left; the dataset has 0.4.
    let err = bob
        .analyze(&describe("p2", 0.6))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("dataset privacy budget"), "{err}");
    let second = bob.analyze_to_end(&describe("p2", 0.4)).await.unwrap();
    assert_eq!(second.state, RunState::Done, "{:?}", second.error);
    // Spent: nothing more for anyone, also within alice's own project budget.
    for (client, project) in [(&alice, "p1"), (&bob, "p2")] {
        let err = client
            .analyze(&describe(project, 0.05))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("dataset privacy budget"), "{project}: {err}");
    }
}

/// Issue 11, item 4: KM, Cox, GLM and describe without ε were free and
/// unlimited. A request without ε is now released under the hub's default ε
/// (counts noised) and charged, until the budget refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn red_team_releases_without_epsilon_are_charged_the_default() {
    use oncofed_protocol::analysis::{Survival, Ties};
    let fed = Federation::build(3, 900, 31).await;
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(
        dir.path().into(),
        oncofed_crypto::SigningKeyPair::generate(),
        |c| c.default_release_epsilon = Some(0.4),
    )
    .await;
    fed.register(&hub).await;
    let _agents = fed.run_agents(&hub, &[0, 1, 2]);
    support::approve_for_alice(&hub, "p1", "default epsilon").await;
    let alice = HubClient::new(&hub.url, RESEARCHER);
    let cox = AnalysisRequest {
        epsilon: None,
        analysis: Analysis::Cox {
            survival: Survival::default(),
            covariates: vec![Variable::Age],
            ties: Ties::Efron,
            stratify_by_site: false,
            strata: None,
            robust: false,
        },
        ..describe("p1", 1.0)
    };
    for _ in 0..2 {
        let done = alice.analyze_to_end(&cox).await.unwrap();
        assert_eq!(done.state, RunState::Done, "{:?}", done.error);
        assert_eq!(done.result.unwrap()["run"]["epsilon"], 0.4);
    }
    let spent = alice.projects().await.unwrap();
    assert!((spent[0].epsilon_spent - 0.8).abs() < 1e-12);
    // 0.8 of the project's 1.0 spent: a third release is refused.
    let err = alice.analyze(&cox).await.unwrap_err().to_string();
    assert!(err.contains("privacy budget"), "{err}");
}
