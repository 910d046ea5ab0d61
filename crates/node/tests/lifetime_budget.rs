//! A site's own lifetime privacy ledger for feasibility releases (issue 11,
//! item 4): every distinct query is charged the ε of its noise in the site's
//! store, repeats and recognised rewordings are free (same keyed noise), and past
//! the site's budget queries are refused, whoever asks and across restarts.
//! Tasks go through the real agent (`Agent::handle`), sealed by the pinned hub key.

mod support;

use chrono::Utc;
use oncofed_crypto::{SignedEnvelope, SigningKeyPair};
use oncofed_model::SiteId;
use oncofed_node::ConsentGate;
use oncofed_node::agent::{
    Agent as SiteAgent, AgentConfig, FEASIBILITY_REFUSAL, LifetimeSpent, lifetime_spent,
};
use oncofed_privacy::Released;
use oncofed_protocol::{Criteria, QueryId, Task, TaskAnswer, TaskId, TaskKind};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use support::{Node, Trustee, agent_config, ingested_site_1};

/// The ε one level-2 count costs with the default disclosure (b = 10).
const EPSILON: f64 = 0.1;

/// A site-1 agent over `node` with a lifetime budget of `budget`.
fn site_agent(trustee: &Trustee, node: &Node, hub: &SigningKeyPair, budget: f64) -> SiteAgent {
    let config = AgentConfig {
        lifetime_epsilon: budget,
        ..agent_config(node, SigningKeyPair::generate(), &[], hub)
    };
    let gate = Arc::new(ConsentGate::new(
        trustee.client("site-1"),
        Duration::from_secs(60),
    ));
    SiteAgent::new(config, node.store.clone(), gate)
}

/// A feasibility task for site-1 sealed by `hub`, in a query of its own: the
/// researcher and project behind it never reach the site.
fn task(hub: &SigningKeyPair, criteria: &Value) -> SignedEnvelope {
    let criteria: Criteria = serde_json::from_value(criteria.clone()).unwrap();
    let task = Task {
        task_id: TaskId::random(),
        query_id: QueryId::random(),
        site: SiteId::new("site-1").unwrap(),
        kind: TaskKind::Feasibility {
            criteria,
            sketch_key: hex::encode(rand::random::<[u8; 32]>()),
        },
        issued_at: Utc::now(),
        expires_at: Utc::now() + chrono::Duration::minutes(5),
    };
    SignedEnvelope::seal(&task, hub).unwrap()
}

/// The site's answer towards the hub: the released count, or the refusal text.
async fn ask(
    agent: &SiteAgent,
    hub: &SigningKeyPair,
    criteria: &Value,
) -> Result<Released, String> {
    let outcome = agent.handle(&task(hub, criteria)).await.unwrap();
    outcome.result.map(|a| match a {
        TaskAnswer::Feasibility(f) => f.count,
        other => panic!("a feasibility task got another answer: {other:?}"),
    })
}

async fn spent(node_store: &oncofed_node::SharedStore) -> LifetimeSpent {
    lifetime_spent(node_store).await.unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Distinct queries: "some diagnosis, aged at least `k`" for each k.
fn distinct(k: u32) -> Value {
    json!({"and": [{"diagnosis": {"icd10": "C"}}, {"age_at_diagnosis": {"min": k}}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_distinct_queries_exhaust_the_sites_lifetime_budget_whoever_asks() {
    let (trustee, _cohort, node, _) = ingested_site_1(1, 300, 41).await;
    let hub = SigningKeyPair::generate();
    // A budget of ε = 1: ten distinct level-2 counts at ε = 0.1.
    let budget = 1.0;
    let agent = site_agent(&trustee, &node, &hub, budget);

    // Ten distinct queries, each in its own query (as if from ten researchers in
    // different projects, or one hub inventing them): all answered, each charged.
    let mut answers = Vec::new();
    for k in 0..10 {
        let answer = ask(&agent, &hub, &distinct(20 + k)).await;
        assert!(answer.is_ok(), "query {k} within the budget: {answer:?}");
        answers.push(answer.unwrap());
        let s = spent(&node.store).await;
        assert_eq!(s.releases, k as u64 + 1);
        assert!(close(s.epsilon, EPSILON * (k + 1) as f64), "{s:?}");
    }
    assert!(
        answers.iter().any(|a| a.count().is_some()),
        "the cohort is large enough for some counts to be released: {answers:?}"
    );

    // Past the budget: every new query refused with the constant text, nothing
    // charged, whatever it asks (another diagnosis, another sex, more ages).
    let refused = Err(FEASIBILITY_REFUSAL.to_string());
    for criteria in [
        distinct(30),
        json!({"diagnosis": {"icd10": "C50"}}),
        json!({"sex": "female"}),
        json!({"not": {"sex": "female"}}),
    ] {
        assert_eq!(ask(&agent, &hub, &criteria).await, refused, "{criteria}");
    }
    let before_restart = spent(&node.store).await;
    assert_eq!(before_restart.releases, 10);
    assert!(close(before_restart.epsilon, budget));

    // A query released before stays answerable, with the same count: its
    // noise is the same, it reveals nothing new and costs nothing.
    assert_eq!(ask(&agent, &hub, &distinct(23)).await, Ok(answers[3]));
    assert_eq!(spent(&node.store).await, before_restart);

    // The node restarts: the store is closed and opened again from disk.
    drop(agent);
    let Node { dir, store } = node;
    drop(store);
    let node = Node {
        store: oncofed_node::open_store(dir.path()).unwrap(),
        dir,
    };
    let agent = site_agent(&trustee, &node, &hub, budget);
    assert_eq!(
        spent(&node.store).await,
        before_restart,
        "the ledger is durable"
    );
    assert_eq!(ask(&agent, &hub, &distinct(31)).await, refused);
    assert_eq!(
        ask(&agent, &hub, &json!({"diagnosis": {"icd10": "C34"}})).await,
        refused
    );
    assert_eq!(ask(&agent, &hub, &distinct(27)).await, Ok(answers[7]));
    assert_eq!(spent(&node.store).await, before_restart);

    // Only the site can give more: a larger budget admits exactly one more
    // distinct query per ε = 0.1.
    let agent = site_agent(&trustee, &node, &hub, budget + EPSILON);
    assert!(ask(&agent, &hub, &distinct(31)).await.is_ok());
    assert_eq!(ask(&agent, &hub, &distinct(32)).await, refused);
    let after = spent(&node.store).await;
    assert_eq!(after.releases, 11);
    assert!(close(after.epsilon, budget + EPSILON), "{after:?}");
    eprintln!("released within ε = {budget}: {answers:?}; ledger after raising it: {after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_and_reworded_queries_are_charged_once() {
    let (trustee, _cohort, node, _) = ingested_site_1(1, 300, 43).await;
    let hub = SigningKeyPair::generate();
    let agent = site_agent(&trustee, &node, &hub, 10.0);

    let (a, b) = (
        json!({"diagnosis": {"icd10": "C"}}),
        json!({"sex": "female"}),
    );
    let forms = [
        json!({"and": [a, b]}),
        // reordered
        json!({"and": [b, a]}),
        // duplicated clause
        json!({"and": [a, b, a]}),
        // nested
        json!({"and": [a, {"and": [b]}]}),
        // double negation
        json!({"not": {"not": {"and": [a, b]}}}),
        // De Morgan
        json!({"not": {"or": [{"not": a}, {"not": b}]}}),
        // absorption
        json!({"and": [a, b, {"or": [a, {"sex": "male"}]}]}),
    ];
    let first = ask(&agent, &hub, &forms[0]).await.unwrap();
    let charged = spent(&node.store).await;
    assert_eq!(charged.releases, 1);
    assert!(close(charged.epsilon, EPSILON), "{charged:?}");
    // Every form, asked three times each (each in a query of its own): the same
    // answer, no further charge.
    for _ in 0..3 {
        for form in &forms {
            assert_eq!(ask(&agent, &hub, form).await, Ok(first), "{form}");
        }
    }
    assert_eq!(spent(&node.store).await, charged);

    // A rewording the normal form does not decide (prefix containment: the
    // diagnosis written as the union of its chapters' prefixes) is a new query:
    // fresh noise, a fresh charge.
    let unrecognised = json!({"and": [b, {"or": [{"diagnosis": {"icd10": "C"}}, {"diagnosis": {"icd10": "C5"}}]}]});
    assert!(ask(&agent, &hub, &unrecognised).await.is_ok());
    let after = spent(&node.store).await;
    assert_eq!(after.releases, 2);
    assert!(close(after.epsilon, 2.0 * EPSILON), "{after:?}");
    eprintln!(
        "{} answers over {} forms, all {first:?}; ledger {after:?}",
        3 * forms.len() + 1,
        forms.len()
    );
}
