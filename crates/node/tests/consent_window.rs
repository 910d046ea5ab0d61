//! The node's query path asks about each fact with its date of origin (issue
//! 10, case 6): under a broad consent whose collection window (`.6`, MDAT
//! erheben) closed, a fact collected inside the window is released and one
//! collected after it is withheld, although the use window (`.7`, `.8`) is
//! still open. Against a real trust centre.

use oncofed_model::{Purpose, SiteId};
use oncofed_node::{ConsentGate, FactFilter, FactQuery, IngestOptions, QueryService};
use oncofed_trustee::{PseudonymKey, SiteRegistry, TrusteeConfig, hash_token};
use oncofed_trustee_api::TrusteeClient;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const TOKEN: &str = "token-of-site-w-0123456789abcdef-window";

async fn start_trustee(dir: &std::path::Path) -> String {
    let hash = hash_token(TOKEN);
    let registry =
        SiteRegistry::from_hashes([(SiteId::new("site-w").unwrap(), hash.as_str())]).unwrap();
    let config = TrusteeConfig::new(
        dir.join("tc"),
        PseudonymKey::from_bytes(vec![3; 32]).unwrap(),
        registry,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(oncofed_trustee::launch(
        config,
        listener,
        std::future::pending(),
    ));
    url
}

fn mii(arc: u16, end: &str) -> Value {
    json!({"type": "permit", "period": {"start": "2020-01-01", "end": end},
           "code": [{"coding": [{"system": "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3",
                                 "code": format!("2.16.840.1.113883.3.1937.777.24.5.3.{arc}")}]}]})
}

fn lab(id: &str, date: &str, value: f64) -> Value {
    json!({"fullUrl": format!("urn:uuid:{id}"),
           "resource": {"resourceType": "Observation", "id": id, "status": "final",
                        "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
                        "subject": {"reference": "urn:uuid:p-1"}, "effectiveDateTime": date,
                        "valueQuantity": {"value": value, "unit": "g/dL", "system": "http://unitsofmeasure.org", "code": "g/dL"}},
           "request": {"method": "PUT", "url": format!("Observation/{id}")}})
}

#[tokio::test]
async fn red_team_gate_withholds_facts_collected_after_the_collection_window() {
    let tmp = tempfile::tempdir().unwrap();
    let url = start_trustee(tmp.path()).await;
    let consent = json!({"resourceType": "Consent", "id": "bc-1", "status": "active", "dateTime": "2020-01-01",
        "patient": {"reference": "urn:uuid:p-1"},
        "policy": [{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.2079"}],
        "provision": {"type": "deny", "period": {"start": "2020-01-01", "end": "2049-12-31"},
            "provision": [mii(6, "2022-12-31"), mii(7, "2049-12-31"), mii(8, "2049-12-31")]}});
    let entries = vec![
        json!({"fullUrl": "urn:uuid:p-1",
               "resource": {"resourceType": "Patient", "id": "p-1", "gender": "female", "birthDate": "1960-04-04",
                            "name": [{"use": "official", "family": "Beispiel", "given": ["Frieda"]}]},
               "request": {"method": "PUT", "url": "Patient/p-1"}}),
        json!({"fullUrl": "urn:uuid:bc-1", "resource": consent,
               "request": {"method": "PUT", "url": "Consent/bc-1"}}),
        lab("inside", "2021-06-01", 12.5),
        lab("after", "2024-06-01", 11.25),
    ];
    let input = tmp.path().join("site.json");
    std::fs::write(
        &input,
        serde_json::to_vec(
            &json!({"resourceType": "Bundle", "type": "transaction", "entry": entries}),
        )
        .unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = oncofed_node::open_store(dir.path()).unwrap();
    let client = TrusteeClient::new(&url, TOKEN).unwrap();
    let report = oncofed_node::ingest(
        &store,
        &client,
        &[input],
        &IngestOptions::default(),
        &|_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(report.units_failed, 0, "{:?}", report.errors);
    let gate = Arc::new(ConsentGate::new(client, Duration::from_secs(60)));
    let answer = QueryService::new(store, gate)
        .facts(&FactQuery {
            filter: FactFilter::default(),
            purpose: Purpose::Research,
            date: Some(chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()),
        })
        .await
        .unwrap();
    let starts: Vec<String> = answer
        .facts
        .iter()
        .filter_map(|f| f.fact.start.map(|d| d.to_string()))
        .collect();
    assert_eq!(
        starts,
        ["2021-06-01"],
        "only the fact collected in the window"
    );
    assert_eq!(answer.withheld, 1);
}
