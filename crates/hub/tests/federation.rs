//! The federation end to end: a trust centre, the hub and three site nodes whose
//! agents reach the hub outbound only.

mod support;

use oncofed_crypto::{SignedEnvelope, SigningKeyPair};
use oncofed_model::SiteId;
use oncofed_node::agent::Refusal;
use oncofed_protocol::{Criteria, QueryId, Task, TaskId, TaskKind};
use serde_json::json;
use std::time::{Duration, Instant};
use support::*;

fn is(row: &std::collections::BTreeMap<String, String>, col: &str) -> bool {
    row[col] == "1"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_match_the_ground_truth_within_the_documented_noise() {
    let fed = Federation::build(3, 1500, 101).await;
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path().into(), SigningKeyPair::generate(), |c| {
        c.limits = oncofed_privacy::QueryBudget {
            per_minute: 100,
            per_week: 1000,
        };
    })
    .await;
    fed.register(&hub).await;
    let _agents = fed.run_agents(&hub, &[0, 1, 2]);
    let truth = fed.truth();

    let cases = [
        (json!({"diagnosis": {"icd10": "C50"}}), "C50"),
        (json!({"diagnosis": {"icd10": "C34"}}), "C34"),
        (
            json!({"or": [{"diagnosis": {"icd10": "C9"}}, {"diagnosis": {"icd10": "C83"}}]}),
            "C9|C83",
        ),
    ];
    for (criteria, prefix) in cases {
        let (status, body) = feasibility(&hub, RESEARCHER, criteria, 20).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "complete", "{body}");
        let expected = count_truth(&truth, |r| {
            prefix.split('|').any(|p| r["icd10"].starts_with(p))
                && !is(r, "gdng_objection")
                && !is(r, "withdrawn")
        });
        let total = body["total"]["value"]
            .as_u64()
            .unwrap_or_else(|| panic!("suppressed: {body}"));
        // Three sites' Laplace noise (b = 10 each), rounding to 10 at sites and hub,
        // sketch error (~2 %) and linkage misses: allow 4 noise SDs + rounding + 6 %.
        let tolerance = 4.0 * (3.0f64 * 2.0 * 100.0).sqrt() + 35.0 + 0.06 * expected as f64;
        let diff = (total as f64 - expected as f64).abs();
        assert!(
            diff <= tolerance,
            "{prefix}: released {total}, truth {expected}, tolerance {tolerance:.0}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_query_gets_the_identical_answer() {
    let fed = Federation::build(3, 600, 7).await;
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path().into(), SigningKeyPair::generate(), |_| {}).await;
    fed.register(&hub).await;
    let _agents = fed.run_agents(&hub, &[0, 1, 2]);
    let criteria = json!({"diagnosis": {"icd10": "C"}});
    let (_, a) = feasibility(&hub, RESEARCHER, criteria.clone(), 20).await;
    let (_, b) = feasibility(&hub, RESEARCHER, criteria, 20).await;
    assert_eq!(a["status"], "complete");
    assert_eq!(a["total"], b["total"]);
    assert_eq!(a["per_site"], b["per_site"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_site_gives_a_partial_result_not_a_hang() {
    let fed = Federation::build(3, 600, 8).await;
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path().into(), SigningKeyPair::generate(), |c| {
        c.query_deadline = Duration::from_secs(3)
    })
    .await;
    fed.register(&hub).await;
    // site-3's node is down: its agent never runs.
    let _agents = fed.run_agents(&hub, &[0, 1]);
    let started = Instant::now();
    let (status, body) =
        feasibility(&hub, RESEARCHER, json!({"diagnosis": {"icd10": "C"}}), 30).await;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the request must end at the query deadline"
    );
    assert_eq!(body["status"], "partial", "{body}");
    let states: Vec<&str> = body["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states.iter().filter(|s| **s == "succeeded").count(),
        2,
        "{body}"
    );
    // Two of three sites cover a strict subset with fewer than three qualifying
    // sites: releasing their total would give the third site's figure away by
    // difference with a later complete answer (issue 9, defect 2).
    assert_eq!(body["total"]["kind"], "suppressed", "{body}");
    assert!(
        body["withheld"]
            .as_str()
            .is_some_and(|w| w.contains("2 of 3 sites answered")),
        "the researcher is told why: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_hub_completes_the_query() {
    let fed = Federation::build(3, 300, 9).await;
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKeyPair::generate();
    let hub = Hub::start(dir.path().into(), key.clone(), |_| {}).await;
    fed.register(&hub).await;
    // No site is polling yet: the query's tasks wait in the hub's store.
    let (_, body) = feasibility(&hub, RESEARCHER, json!({"diagnosis": {"icd10": "C"}}), 0).await;
    assert_eq!(body["status"], "running", "{body}");
    let query_id = body["query_id"].as_str().unwrap().to_owned();
    hub.stop().await;

    let hub = Hub::start(dir.path().into(), key, |_| {}).await;
    let _agents = fed.run_agents(&hub, &[0, 1, 2]);
    let http = oncofed_tls::http_client();
    let mut last = serde_json::Value::Null;
    for _ in 0..100 {
        last = http
            .get(format!("{}/v1/feasibility/{query_id}", hub.url))
            .bearer_auth(RESEARCHER)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if last["status"] == "complete" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last["status"], "complete", "{last}");
}

fn task(site: &str, expires_in: chrono::Duration) -> Task {
    let now = chrono::Utc::now();
    Task {
        task_id: TaskId::random(),
        query_id: QueryId::random(),
        site: SiteId::new(site).unwrap(),
        kind: TaskKind::Feasibility {
            criteria: serde_json::from_value::<Criteria>(json!({"diagnosis": {"icd10": "C"}}))
                .unwrap(),
            sketch_key: hex::encode([5u8; 32]),
        },
        issued_at: now,
        expires_at: now + expires_in,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_expired_and_misaddressed_tasks_are_refused() {
    let fed = Federation::build(1, 50, 10).await;
    let dir = tempfile::tempdir().unwrap();
    let hub_key = SigningKeyPair::generate();
    let hub = Hub::start(dir.path().into(), hub_key.clone(), |_| {}).await;
    let agent = fed.sites[0].agent(&hub);
    let site = fed.sites[0].id.as_str();

    let valid = SignedEnvelope::seal(&task(site, chrono::Duration::minutes(5)), &hub_key).unwrap();
    assert!(agent.handle(&valid).await.is_ok());
    assert_eq!(agent.handle(&valid).await.unwrap_err(), Refusal::Replayed);

    let forged = SignedEnvelope::seal(
        &task(site, chrono::Duration::minutes(5)),
        &SigningKeyPair::generate(),
    )
    .unwrap();
    assert_eq!(agent.handle(&forged).await.unwrap_err(), Refusal::Forged);

    let mut tampered =
        SignedEnvelope::seal(&task(site, chrono::Duration::minutes(5)), &hub_key).unwrap();
    tampered.payload = tampered.payload.replace("\"C\"", "\"C9\"");
    assert_eq!(agent.handle(&tampered).await.unwrap_err(), Refusal::Forged);

    let expired =
        SignedEnvelope::seal(&task(site, chrono::Duration::seconds(-1)), &hub_key).unwrap();
    assert_eq!(agent.handle(&expired).await.unwrap_err(), Refusal::Expired);

    let elsewhere =
        SignedEnvelope::seal(&task("site-9", chrono::Duration::minutes(5)), &hub_key).unwrap();
    assert_eq!(
        agent.handle(&elsewhere).await.unwrap_err(),
        Refusal::WrongSite
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_enforced_and_the_audit_trail_verifies() {
    let fed = Federation::build(3, 200, 11).await;
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKeyPair::generate();
    let hub = Hub::start(dir.path().into(), key.clone(), |_| {}).await;
    fed.register(&hub).await;
    let _agents = fed.run_agents(&hub, &[0, 1, 2]);

    let criteria = json!({"diagnosis": {"icd10": "C"}});
    assert_eq!(
        feasibility(&hub, ADMIN, criteria.clone(), 1).await.0,
        403,
        "an admin is not a researcher"
    );
    assert_eq!(feasibility(&hub, AUDITOR, criteria.clone(), 1).await.0, 403);
    assert_eq!(
        feasibility(&hub, "no-such-token", criteria.clone(), 1)
            .await
            .0,
        401
    );
    let (status, body) = feasibility(&hub, RESEARCHER, criteria, 20).await;
    assert_eq!(status, 200, "{body}");

    let http = oncofed_tls::http_client();
    let export = |token: &'static str| {
        http.get(format!("{}/v1/audit/export", hub.url))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(export(RESEARCHER).await.unwrap().status().as_u16(), 403);
    let log = export(AUDITOR).await.unwrap().text().await.unwrap();
    let report = oncofed_audit::verify_export(log.as_bytes(), &key.public_key());
    assert!(report.ok, "{report}");
    for action in [
        "site.registered",
        "query.submitted",
        "task.issued",
        "task.claimed",
        "result.received",
        "release",
    ] {
        assert!(
            log.contains(&format!("\"action\":\"{action}\"")),
            "no {action} entry in the audit trail"
        );
    }
    // Editing one entry is detected.
    let edited = log.replacen("\"actor\":\"alice\"", "\"actor\":\"mallory\"", 1);
    let report = oncofed_audit::verify_export(edited.as_bytes(), &key.public_key());
    assert!(!report.ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_refuses_a_burst() {
    let fed = Federation::build(1, 30, 12).await;
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path().into(), SigningKeyPair::generate(), |_| {}).await;
    fed.register(&hub).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            feasibility(&hub, RESEARCHER, json!({"sex": "female"}), 0)
                .await
                .0,
        );
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deduplicated_totals_match_the_ground_truth() {
    let fed = Federation::build(3, 1500, 21).await;
    let truth = fed.truth();
    let criteria: Criteria = serde_json::from_value(json!({"diagnosis": {"icd10": "C"}})).unwrap();
    let key = hex::encode([9u8; 32]);
    let mut sketches = Vec::new();
    for s in &fed.sites {
        let answer = oncofed_node::agent::answer_feasibility(
            &s.store,
            &s.gate,
            &s.id,
            &s.secret,
            &criteria,
            &key,
            oncofed_node::agent::DEFAULT_LIFETIME_EPSILON,
        )
        .await
        .unwrap();
        sketches.push(answer.sketch);
    }
    let mut union = sketches[0].clone();
    for s in &sketches[1..] {
        union.merge(s).unwrap();
    }
    let sum: f64 = sketches.iter().map(|s| s.estimate()).sum();
    let persons = count_truth(&truth, |r| !is(r, "gdng_objection") && !is(r, "withdrawn")) as f64;
    let multi_site = count_truth(&truth, |r| {
        r["n_sites"] != "1" && !is(r, "gdng_objection") && !is(r, "withdrawn")
    });
    let estimate = union.estimate();
    let error = (estimate - persons).abs() / persons;
    assert!(
        error < 0.03,
        "union estimate {estimate:.0} vs {persons} persons ({:.1} %)",
        error * 100.0
    );
    // The plain sum counts multi-site patients more than once; the union does not.
    assert!(
        sum - estimate > 0.5 * multi_site as f64,
        "sum {sum:.0}, union {estimate:.0}, multi-site persons {multi_site}"
    );
}

/// Issue 11: seven equivalent forms of one query (reordered, duplicated clause,
/// double negation, tautology, needless nesting, a range split in two) were seven
/// independent noise draws (430, 430, 390, 370, 410, 420, 390 against 424), so
/// averaging them defeated the noise. Keyed by the criteria's semantic normal
/// form, every site answers each form with the same count and the hub derives
/// the same sketch key, so the released figures are identical.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_reworded_queries_get_the_same_noise() {
    let fed = Federation::build(3, 900, 23).await;
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path().into(), SigningKeyPair::generate(), |c| {
        c.limits = oncofed_privacy::QueryBudget {
            per_minute: 100,
            per_week: 1000,
        };
    })
    .await;
    fed.register(&hub).await;
    let _agents = fed.run_agents(&hub, &[0, 1, 2]);
    let (dx, age, sex) = (
        json!({"diagnosis": {"icd10": "C"}}),
        json!({"age_at_diagnosis": {"min": 18, "max": 90}}),
        json!({"not": {"sex": "male"}}),
    );
    let forms = [
        json!({"and": [dx, age, sex]}),
        json!({"and": [sex, age, dx]}),
        json!({"and": [dx, sex, age, sex]}),
        json!({"and": [dx, {"not": {"not": age}}, sex]}),
        json!({"and": [dx, age, sex, {"or": [{"vital_status": "alive"}, {"not": {"vital_status": "alive"}}]}]}),
        json!({"and": [dx, {"and": [{"and": [sex]}, age]}]}),
        json!({"and": [dx, {"age_at_diagnosis": {"min": 18}}, {"age_at_diagnosis": {"max": 90}}, sex]}),
    ];
    let mut released = Vec::new();
    for form in forms {
        let (status, body) = feasibility(&hub, RESEARCHER, form, 20).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "complete", "{body}");
        assert!(body["total"]["value"].is_u64(), "suppressed: {body}");
        released.push((body["total"].clone(), body["per_site"].clone()));
    }
    for (i, r) in released.iter().enumerate() {
        assert_eq!(r, &released[0], "form {i} was released differently");
    }
}
