//! Ingest guarantees: bad input is rejected with a clear error and changes nothing;
//! re-ingest is idempotent; a missing trust centre stops ingest and loses nothing;
//! real Synthea output ingests.

mod support;

use oncofed_testkit::shared_data;
use serde_json::json;
use std::path::PathBuf;
use support::{Cohort, Node, Trustee};

fn patient_entry(id: &str) -> serde_json::Value {
    json!({
        "fullUrl": format!("urn:uuid:{id}"),
        "resource": {"resourceType": "Patient", "id": id, "gender": "female", "birthDate": "1961-04-03",
                     "name": [{"use": "official", "family": "Schmidt", "given": ["Hannelore"]}]},
        "request": {"method": "PUT", "url": format!("Patient/{id}")}
    })
}

fn lab_entry(patient: &str, n: usize) -> serde_json::Value {
    json!({
        "fullUrl": format!("urn:uuid:obs-{n}"),
        "resource": {"resourceType": "Observation", "id": format!("obs-{n}"), "status": "final",
                     "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
                     "subject": {"reference": format!("urn:uuid:{patient}")},
                     "effectiveDateTime": "2024-02-01",
                     "valueQuantity": {"value": 12.1, "unit": "g/dL", "system": "http://unitsofmeasure.org", "code": "g/dL"}},
        "request": {"method": "PUT", "url": format!("Observation/obs-{n}")}
    })
}

fn bundle(entries: Vec<serde_json::Value>) -> serde_json::Value {
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

/// The malformed inputs the issue names, each with a text its error must contain.
fn malformed_cases() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let good = serde_json::to_vec(&bundle(vec![patient_entry("p1"), lab_entry("p1", 1)])).unwrap();
    let mut unknown_type = bundle(vec![patient_entry("p1"), lab_entry("p1", 1)]);
    unknown_type["entry"][1]["resource"]["resourceType"] = json!("Observaton");
    let mut no_subject = bundle(vec![patient_entry("p1"), lab_entry("p1", 1)]);
    no_subject["entry"][1]["resource"]
        .as_object_mut()
        .unwrap()
        .remove("subject");
    let mut wrong_system = bundle(vec![patient_entry("p1"), lab_entry("p1", 1)]);
    wrong_system["entry"][1]["resource"]["code"]["coding"][0]["system"] =
        json!("http://example.org/lab-codes");
    let mut big: Vec<serde_json::Value> = vec![patient_entry("p1")];
    big.extend((1..10_000).map(|n| lab_entry("p1", n)));
    big[7_777]["resource"]["valueQuantity"] = json!({"value": "twelve", "code": "g/dL"});
    vec![
        (
            "invalid-json.json",
            b"{\"resourceType\": \"Bundle\", \"entry\": [,]}".to_vec(),
            "invalid-json.json",
        ),
        (
            "unknown-type.json",
            serde_json::to_vec(&unknown_type).unwrap(),
            "Observaton",
        ),
        (
            "no-subject.json",
            serde_json::to_vec(&no_subject).unwrap(),
            "subject",
        ),
        (
            "wrong-system.json",
            serde_json::to_vec(&wrong_system).unwrap(),
            "http://example.org/lab-codes",
        ),
        (
            "big.json",
            serde_json::to_vec(&bundle(big)).unwrap(),
            "7777",
        ),
        (
            "truncated.json",
            good[..good.len() / 2].to_vec(),
            "truncated.json",
        ),
    ]
}

#[tokio::test]
async fn malformed_input_is_rejected_clearly_and_leaves_the_store_unchanged() {
    let trustee = Trustee::with_sites(1).await;
    let client = trustee.client("site-1");
    let cohort = Cohort::generate(1, 20, 1);
    let node = Node::new();
    node.ingest(&client, &[cohort.site_dir("site-1")])
        .await
        .unwrap();
    let before = node.snapshot();
    let inputs = tempfile::tempdir().unwrap();
    for (name, bytes, expected) in malformed_cases() {
        let path = inputs.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let report = node
            .ingest(&client, std::slice::from_ref(&path))
            .await
            .unwrap();
        assert_eq!(
            (report.units_ok, report.units_failed),
            (0, 1),
            "{name}: {:?}",
            report.errors
        );
        let error = &report.errors[0];
        assert!(
            error.contains(name),
            "{name}: the error names the file: {error}"
        );
        assert!(
            error.contains(expected),
            "{name}: the error should mention {expected:?}: {error}"
        );
        assert!(
            !error.contains("Hannelore") && !error.contains("Schmidt") && !error.contains("1961"),
            "{name}: personal data in error"
        );
        assert!(node.snapshot() == before, "{name}: the store changed");
    }
}

#[tokio::test]
async fn valid_bundles_land_next_to_an_invalid_one() {
    let trustee = Trustee::with_sites(1).await;
    let node = Node::new();
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..5)
        .map(|i| {
            let mut b = bundle(vec![
                patient_entry(&format!("p{i}")),
                lab_entry(&format!("p{i}"), i),
            ]);
            if i == 3 {
                b["entry"][1]["resource"]["valueQuantity"]["value"] = json!(null);
            }
            b.to_string()
        })
        .collect();
    let path = dir.path().join("bundles.ndjson");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let report = node
        .ingest(&trustee.client("site-1"), &[path])
        .await
        .unwrap();
    assert_eq!((report.units_ok, report.units_failed), (4, 1));
    assert!(report.errors[0].contains("line 4"), "{}", report.errors[0]);
    assert_eq!(report.written.facts_new, 4);
}

#[tokio::test]
async fn reingesting_the_same_data_creates_no_duplicates() {
    let trustee = Trustee::with_sites(1).await;
    let client = trustee.client("site-1");
    let cohort = Cohort::generate(1, 80, 2);
    let node = Node::new();
    let first = node
        .ingest(&client, &[cohort.site_dir("site-1")])
        .await
        .unwrap();
    assert!(first.written.facts_new > 500);
    let second = node
        .ingest(&client, &[cohort.site_dir("site-1")])
        .await
        .unwrap();
    assert_eq!(second.written.patients_new, 0);
    assert_eq!(second.written.facts_new, 0);
    assert_eq!(second.written.facts_existing, first.written.facts_new);
    let stats = oncofed_node::quality::report(&node.store).await.unwrap();
    assert_eq!(stats.patients as usize, first.patients);
}

#[tokio::test]
async fn a_missing_trust_centre_stops_ingest_and_loses_nothing() {
    let cohort = Cohort::generate(1, 40, 4);
    let node = Node::new();
    let empty = node.snapshot();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead =
        oncofed_trustee_api::TrusteeClient::new(&format!("http://127.0.0.1:{port}"), "token")
            .unwrap();
    let err = node
        .ingest(&dead, &[cohort.site_dir("site-1")])
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("unreachable") && text.contains("nothing of the current chunk was written"),
        "{text}"
    );
    assert!(
        node.snapshot() == empty,
        "nothing may land without pseudonyms"
    );
    // Once the trust centre is back, the same command completes the job.
    let trustee = Trustee::with_sites(1).await;
    let report = node
        .ingest(&trustee.client("site-1"), &[cohort.site_dir("site-1")])
        .await
        .unwrap();
    assert_eq!(report.units_failed, 0);
    assert!(report.patients >= 40);
}

#[tokio::test]
async fn the_synthea_bulk_export_ingests() {
    let trustee = Trustee::with_sites(1).await;
    let node = Node::new();
    let synthea: PathBuf = shared_data().join("synthea-bulk-10-patients");
    let report = node
        .ingest(&trustee.client("site-1"), &[synthea])
        .await
        .unwrap();
    assert_eq!(report.units_failed, 0, "{:?}", report.errors);
    assert_eq!(report.patients, 13);
    assert_eq!(report.not_mapped.get("Encounter"), Some(&1215));
    assert!(report.written.facts_new > 3_000, "{:?}", report.written);
}

#[tokio::test]
async fn a_stopped_ingest_commits_whole_chunks_and_a_rerun_finishes_the_job() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let trustee = Trustee::with_sites(1).await;
    let client = trustee.client("site-1");
    let cohort = Cohort::generate(1, 120, 5);
    let paths = [cohort.site_dir("site-1")];
    // The whole job in one go, for comparison.
    let whole = Node::new().ingest_clean(&client, &paths).await;

    let node = Node::new();
    let stop = Arc::new(AtomicBool::new(false));
    let options = oncofed_node::IngestOptions {
        // Small chunks, so the run has many; the stop comes after the first one
        // is written (what a SIGTERM then does, deterministically).
        chunk_resources: 200,
        stop: Some(stop.clone()),
        ..Default::default()
    };
    let first = oncofed_node::ingest(&node.store, &client, &paths, &options, &|_, _| {
        stop.store(true, Ordering::Relaxed)
    })
    .await
    .unwrap();
    assert!(first.interrupted);
    assert!(
        first.patients > 0 && first.patients < whole.patients,
        "{first:?}"
    );
    // What the report counts is exactly what the store holds: whole chunks only.
    let held = oncofed_node::quality::report(&node.store).await.unwrap();
    assert_eq!(held.patients as usize, first.written.patients_new);

    // Running the same ingest again finishes it; nothing is duplicated.
    let rest = node.ingest_clean(&client, &paths).await;
    assert!(!rest.interrupted);
    let held = oncofed_node::quality::report(&node.store).await.unwrap();
    assert_eq!(held.patients as usize, whole.patients);
    assert_eq!(
        first.written.facts_new + rest.written.facts_new,
        whole.written.facts_new
    );

    // With --all-or-nothing a stopped run writes nothing at all.
    let empty = Node::new();
    let stop = Arc::new(AtomicBool::new(true));
    let options = oncofed_node::IngestOptions {
        all_or_nothing: true,
        stop: Some(stop),
        ..Default::default()
    };
    let report = oncofed_node::ingest(&empty.store, &client, &paths, &options, &|_, _| {})
        .await
        .unwrap();
    assert!(report.interrupted);
    assert_eq!(
        oncofed_node::quality::report(&empty.store)
            .await
            .unwrap()
            .patients,
        0
    );
}

#[tokio::test]
async fn a_trust_centre_restart_during_ingest_loses_nothing_and_a_rerun_finishes() {
    use oncofed_trustee::{PseudonymKey, TrusteeConfig};
    use std::sync::Mutex;
    let tokens = [("site-1", "token-of-site-1-0123456789abcdef")];
    let tc_dir = tempfile::tempdir().unwrap();
    let config = || {
        let key = PseudonymKey::from_bytes(vec![9u8; 32]).unwrap();
        TrusteeConfig::new(tc_dir.path().join("tc"), key, support::registry(tokens)).unwrap()
    };
    let switch = oncofed_testkit::service::StopSwitch::default();
    let first_run = oncofed_testkit::service::trustee(config(), switch.clone())
        .await
        .unwrap();
    let url = first_run.url.clone();
    let client = oncofed_trustee_api::TrusteeClient::new(&url, tokens[0].1).unwrap();
    let cohort = Cohort::generate(1, 120, 6);
    let paths = [cohort.site_dir("site-1")];

    // The trust centre goes down after the first chunk was written.
    let node = Node::new();
    let stop = Mutex::new(Some(switch));
    let options = oncofed_node::IngestOptions {
        chunk_resources: 200,
        ..Default::default()
    };
    let err = oncofed_node::ingest(&node.store, &client, &paths, &options, &|_, _| {
        if let Some(stop) = stop.lock().unwrap().take() {
            stop.stop();
        }
    })
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("nothing of the current chunk was written"),
        "{err}"
    );
    first_run.shutdown().await.unwrap();
    let held = oncofed_node::quality::report(&node.store)
        .await
        .unwrap()
        .patients;
    assert!(
        held > 0,
        "the first chunk was committed before the trust centre went down"
    );

    // It comes back on the same address with the same store; the same ingest
    // finishes the job with the same pseudonyms (nothing is duplicated).
    let addr = url.trim_start_matches("http://");
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    tokio::spawn(oncofed_trustee::launch(
        config(),
        listener,
        std::future::pending(),
    ));
    let rest = node.ingest_clean(&client, &paths).await;
    assert!(rest.written.patients_new > 0);
    let fresh = Node::new();
    let whole = fresh.ingest_clean(&client, &paths).await;
    let held = oncofed_node::quality::report(&node.store)
        .await
        .unwrap()
        .patients;
    assert_eq!(held as usize, whole.patients);
    // The same persons under the same research pseudonyms as one uninterrupted run.
    assert_eq!(
        oncofed_node::research_pseudonyms(&node.store)
            .await
            .unwrap(),
        oncofed_node::research_pseudonyms(&fresh.store)
            .await
            .unwrap()
    );
}

/// The node API's `/metrics` tell an operator which consent snapshot answers
/// (feed version, age) and how many questions it answered locally.
#[tokio::test]
async fn the_node_api_reports_the_consent_snapshot() {
    let trustee = Trustee::with_sites(1).await;
    let client = trustee.client("site-1");
    let cohort = Cohort::generate(1, 30, 7);
    let node = Node::new();
    node.ingest_clean(&client, &[cohort.site_dir("site-1")])
        .await;
    let gate = std::sync::Arc::new(oncofed_node::ConsentGate::new(
        client,
        std::time::Duration::from_secs(60),
    ));
    let service = oncofed_node::QueryService::new(node.store.clone(), gate);
    let state = oncofed_node::serve::ApiState::new(service, "api-token-0123456789");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(oncofed_node::serve::launch(
        state,
        listener,
        None,
        false,
        std::future::pending(),
    ));
    let http = oncofed_tls::http_client();
    for _ in 0..2 {
        let answer = http
            .post(format!("{url}/v1/query"))
            .bearer_auth("api-token-0123456789")
            .json(&json!({"purpose": "research", "date": "2026-01-01"}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    let text = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing in:\n{text}"))
            .parse()
            .unwrap()
    };
    let answered = value("oncofed_node_consent_questions_answered_locally_total");
    let refused = value("oncofed_node_consent_questions_refused_stale_total");
    let version = value("oncofed_node_consent_snapshot_version");
    let age = value("oncofed_node_consent_snapshot_age_seconds");
    // Both queries were answered from one snapshot, synced once and fresh.
    assert!(
        answered > 0.0 && refused == 0.0,
        "answered {answered}, refused {refused}"
    );
    assert!(
        version >= 30.0,
        "one feed entry per patient at least: {version}"
    );
    assert!((0.0..60.0).contains(&age), "age {age}");
    assert_eq!(value("oncofed_node_consent_feed_pages_refused_total"), 0.0);
}
