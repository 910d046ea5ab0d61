//! The kit's federation end to end: started, asked, audited, stopped.

use oncofed_protocol::api::QueryStatus;
use oncofed_synth::SynthConfig;
use oncofed_testkit::{Cohort, LocalFederation, wait_until};
use std::time::Duration;

/// Whether anything still accepts connections at `url`'s address.
async fn listening(url: &str) -> bool {
    let addr = url.rsplit("//").next().unwrap();
    tokio::net::TcpStream::connect(addr).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_federation_answers_is_audited_and_stops_when_dropped() {
    let cohort = Cohort::generate(2, 60, 11);
    let dir = tempfile::tempdir().unwrap();
    let sites = (1..=2).map(SynthConfig::site_id).collect();
    let mut fed = LocalFederation::builder(dir.path(), sites)
        .tls(false)
        .start()
        .await
        .unwrap();
    assert!(fed.hub_url().starts_with("http://127.0.0.1:"));
    let mut ingested = 0;
    for (i, input) in cohort.site_dirs(2).iter().enumerate() {
        let (service, report) = fed.ingest_site(i, input).await.unwrap();
        ingested += report.patients;
        fed.connect_site(i, &service, 1).await.unwrap();
    }
    let truth = cohort.truth();
    assert_eq!(ingested, truth.records.len());

    let criteria =
        serde_json::from_value(serde_json::json!({"diagnosis": {"icd10": "C"}})).unwrap();
    let answer = fed.researcher().feasibility(criteria, 20).await.unwrap();
    assert_eq!(answer.status, QueryStatus::Complete, "{answer:?}");

    let audit = fed.audit().await.unwrap();
    assert!(audit.report.ok, "{}", audit.report);
    assert_eq!(audit.actions("query.submitted").count(), 1);
    assert_eq!(
        audit.witnesses.len(),
        2,
        "both agents witnessed a checkpoint"
    );

    let (hub, trustee) = (fed.hub_url().to_owned(), fed.trustee_url().to_owned());
    drop(fed);
    for url in [hub, trustee] {
        wait_until(
            || async { (!listening(&url).await).then_some(()) },
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|e| panic!("{url} still listening after drop: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_over_tls_waits_for_every_part() {
    let dir = tempfile::tempdir().unwrap();
    let fed = LocalFederation::builder(dir.path(), vec![SynthConfig::site_id(1)])
        .start()
        .await
        .unwrap();
    assert!(fed.hub_url().starts_with("https://"));
    assert!(fed.pki.as_ref().unwrap().join("ca.pem").is_file());
    let hub = fed.hub_url().to_owned();
    fed.shutdown().await.unwrap();
    assert!(
        !listening(&hub).await,
        "the hub's port is closed once shutdown returns"
    );
}
