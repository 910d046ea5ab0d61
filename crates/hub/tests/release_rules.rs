//! Red-team regressions for what the hub releases of a feasibility query
//! (issue 9): figures over a subset of sites, and one audit entry per release.

mod support;

use oncofed_crypto::SigningKeyPair;
use serde_json::json;
use std::time::Duration;
use support::*;

/// Defect 2: with two of three agents stopped, `POST /v1/feasibility` with a
/// short wait returned status `running` with one site's count as the total,
/// while the complete answer withheld the per-site breakdown. Every non-empty
/// subset of live sites is tried: no answer over a strict subset (interim or
/// after the deadline) releases a total or a breakdown, and the complete answer
/// does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_partial_results_bypass_the_breakdown_rule() {
    let fed = Federation::build(3, 600, 31).await;
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path().into(), SigningKeyPair::generate(), |c| {
        c.query_deadline = Duration::from_secs(2);
        c.limits = oncofed_privacy::QueryBudget {
            per_minute: 100,
            per_week: 1000,
        };
    })
    .await;
    fed.register(&hub).await;
    let criteria = json!({"diagnosis": {"icd10": "C"}});
    for mask in 1u32..8 {
        let live: Vec<usize> = (0..3).filter(|i| mask & (1 << i) != 0).collect();
        let agents = fed.run_agents(&hub, &live);
        // First an interim answer (wait 0: the sites are still working), then the
        // answer at the deadline.
        for wait in [0, 10] {
            let (status, body) = feasibility(&hub, RESEARCHER, criteria.clone(), wait).await;
            assert_eq!(status, 200, "{body}");
            if live.len() < 3 {
                assert_ne!(body["status"], "complete", "{live:?}: {body}");
                assert_eq!(body["total"]["kind"], "suppressed", "{live:?}: {body}");
                assert!(body["per_site"].is_null(), "{live:?}: {body}");
            } else if wait > 0 {
                assert_eq!(body["status"], "complete", "{body}");
                assert!(body["total"]["value"].as_u64().is_some(), "{body}");
                assert!(body["per_site"].is_array(), "three sites qualify: {body}");
            } else if body["status"] != "complete" {
                // Interim answers of the complete set are subsets too.
                assert!(body["per_site"].is_array() || body["total"]["kind"] == "suppressed");
            }
        }
        let _ = agents.send(true);
    }
}

/// Defect 6: each `GET /v1/feasibility/{id}` appended an audit entry. A release
/// is audited once per reader and distinct figures, however often it is polled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_polling_a_result_does_not_grow_the_audit_trail() {
    let (fed, hub, _dir, key) = federation_with_hub(2, 200, 32).await;
    let _agents = fed.run_agents(&hub, &[0, 1]);
    let (status, body) = feasibility(&hub, RESEARCHER, json!({"sex": "female"}), 20).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "complete", "{body}");
    let id = body["query_id"].as_str().unwrap().to_owned();

    let http = oncofed_tls::http_client();
    for token in [RESEARCHER, RESEARCHER, RESEARCHER, AUDITOR, AUDITOR] {
        let resp = http
            .get(format!("{}/v1/feasibility/{id}", hub.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
    }
    let log = oncofed_hub_api::HubClient::new(&hub.url, AUDITOR)
        .audit_export()
        .await
        .unwrap();
    let releases: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("\"action\":\"release\"") && l.contains(&id))
        .collect();
    // One for the researcher (the POST's answer, unchanged by the polls), one
    // for the auditor's first read.
    assert_eq!(releases.len(), 2, "{releases:#?}");
    assert!(oncofed_audit::verify_export(log.as_bytes(), &key.public_key()).ok);
}
