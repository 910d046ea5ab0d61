//! Red-team regression (issue 9, defect 6): an audit export cut at a checkpoint
//! still verified. The sites now witness the hub's newest signed checkpoint on
//! every poll; an export cut back behind what a site saw fails verification.

mod support;

use oncofed_audit::{Checkpoint, Problem, verify_export, verify_export_witnessed};
use oncofed_node::agent::{AuditWitness, WITNESS_FILE};
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_truncated_audit_export_is_caught_by_the_sites_witnesses() {
    let (fed, hub, _hub_dir, key) = federation_with_hub(2, 200, 41).await;
    let witness_dir = tempfile::tempdir().unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    for (i, site) in fed.sites.iter().enumerate() {
        let path = witness_dir.path().join(format!("{i}-{WITNESS_FILE}"));
        let witness = AuditWitness::open(&path, key.public_key()).unwrap();
        run_until(site.agent(&hub).with_audit_witness(witness), &stopped);
    }
    let http = oncofed_tls::http_client();
    let export = || async {
        http.get(format!("{}/v1/audit/export", hub.url))
            .bearer_auth(AUDITOR)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    // A first query, then an export: its on-demand checkpoint is the one a
    // dishonest hub would later cut back to.
    let (status, body) = feasibility(&hub, RESEARCHER, json!({"sex": "female"}), 20).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("complete")),
        "{body}"
    );
    let early = export().await;
    // More work; the sites' next polls see the newer head.
    let (status, _) = feasibility(&hub, RESEARCHER, json!({"sex": "male"}), 20).await;
    assert_eq!(status, 200);
    // Wait for each site's witness to move past the early export.
    let early_last = early
        .lines()
        .filter(|l| l.starts_with("{\"entry\""))
        .count() as u64;
    let mut witnessed: Vec<Checkpoint> = Vec::new();
    for _ in 0..100 {
        witnessed = (0..fed.sites.len())
            .filter_map(|i| {
                let path = witness_dir.path().join(format!("{i}-{WITNESS_FILE}"));
                Some(serde_json::from_slice(&std::fs::read(path).ok()?).unwrap())
            })
            .collect();
        if witnessed.len() == fed.sites.len() && witnessed.iter().all(|c| c.seq >= early_last) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        witnessed.len() == fed.sites.len() && witnessed.iter().all(|c| c.seq >= early_last),
        "every site witnessed a checkpoint past entry {early_last}: {witnessed:?}"
    );
    let _ = stop.send(true);

    // The hub serves the early export as if it were the whole trail: it
    // verifies on its own (the defect), not against the sites' witnesses.
    assert!(verify_export(early.as_bytes(), &key.public_key()).ok);
    let report = verify_export_witnessed(early.as_bytes(), &key.public_key(), &witnessed);
    assert!(
        matches!(
            report.first_problem,
            Some(Problem::TruncatedAfterCheckpoint { .. })
        ),
        "{report}"
    );
    // The honest, current export verifies against the same witnesses.
    let now = export().await;
    let report = verify_export_witnessed(now.as_bytes(), &key.public_key(), &witnessed);
    assert!(report.ok, "{report}");
    drop(witness_dir);
}
