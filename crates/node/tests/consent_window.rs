//! The node's query path asks about each fact with its date of origin (issue
//! 10, case 6): under a broad consent whose collection window (`.6`, MDAT
//! erheben) closed, a fact collected inside the window is released and one
//! collected after it is withheld, although the use window (`.7`, `.8`) is
//! still open. Against a real trust centre.

mod support;

use oncofed_model::Purpose;
use oncofed_node::{ConsentGate, FactFilter, FactQuery, QueryService};
use oncofed_trustee::{PseudonymKey, TrusteeConfig};
use oncofed_trustee_api::TrusteeClient;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use support::{Node, Served, registry, serve, write_bundle};

const TOKEN: &str = "token-of-site-w-0123456789abcdef-window";

async fn start_trustee(dir: &std::path::Path) -> Served {
    let key = PseudonymKey::from_bytes(vec![3; 32]).unwrap();
    let config = TrusteeConfig::new(dir.join("tc"), key, registry([("site-w", TOKEN)])).unwrap();
    serve(config).await
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
    let trustee = start_trustee(tmp.path()).await;
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
    write_bundle(&input, entries);
    let node = Node::new();
    let client = TrusteeClient::new(&trustee.url, TOKEN).unwrap();
    node.ingest_clean(&client, &[input]).await;
    let gate = Arc::new(ConsentGate::new(client, Duration::from_secs(60)));
    let answer = QueryService::new(node.store.clone(), gate)
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
