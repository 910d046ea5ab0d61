//! Privacy guarantees of a site node, each proven against a real trust centre:
//! no identifying data in the store file, consent enforced at query time, fail closed.

mod support;

use oncofed_model::{DataCategory, Pseudonym, Purpose};
use oncofed_node::{ConsentGate, FactFilter, FactQuery, QueryService};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use support::{Node, Trustee, ingested_site_1};

/// Every Patient's identifying data in a generated site folder, by local id.
fn identities(dir: &std::path::Path) -> HashMap<String, oncofed_idat::IdentifyingData> {
    let mut out = HashMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        for (i, line) in std::fs::read_to_string(&path).unwrap().lines().enumerate() {
            let batch = oncofed_fhir::map_ndjson_line(line, "test", i + 1).unwrap();
            for p in batch.patients {
                out.insert(p.local_id, p.idat);
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether `needle` occurs in `haystack` as a token of its own: a postal code
/// (five digits) also turns up by chance inside the random pseudonyms and hex
/// digests the store holds, which is no leak; as a value it stands alone.
fn contains_token(haystack: &[u8], needle: &[u8]) -> bool {
    let n = needle.len();
    haystack.windows(n).enumerate().any(|(i, w)| {
        w == needle
            && (i == 0 || !haystack[i - 1].is_ascii_alphanumeric())
            && haystack
                .get(i + n)
                .is_none_or(|b| !b.is_ascii_alphanumeric())
    })
}

#[tokio::test]
async fn no_identifying_data_reaches_the_node_database_file() {
    let (_trustee, cohort, node, report) = ingested_site_1(2, 150, 11).await;
    assert!(report.patients > 50);

    let bytes: Vec<u8> = node.raw_files().into_values().flatten().collect();
    let ids = identities(&cohort.site_dir("site-1"));
    assert_eq!(ids.len(), report.patients);
    let mut checked = 0;
    for (local_id, idat) in &ids {
        // Source ids of patients stay out too (they are hospital identifiers).
        assert!(
            !contains(&bytes, local_id.as_bytes()),
            "a patient's local id is in the store"
        );
        for s in idat.sensitive_strings() {
            let found = if s.bytes().all(|b| b.is_ascii_digit()) {
                contains_token(&bytes, s.as_bytes())
            } else {
                contains(&bytes, s.as_bytes())
            };
            assert!(
                !found,
                "identifying data ({} characters) found in the store",
                s.len()
            );
            checked += 1;
        }
    }
    assert!(
        checked > 5 * ids.len(),
        "the scan must look for names, birth dates, addresses and KVNRs"
    );
    // The scan can fail: the same bytes do contain what the store is meant to hold.
    assert!(contains(&bytes, b"C50") || contains(&bytes, b"C34") || contains(&bytes, b"C18"));
}

async fn service(trustee: &Trustee, node: &Node, ttl: Duration) -> QueryService {
    let gate = Arc::new(ConsentGate::new(trustee.client("site-1"), ttl));
    QueryService::new(node.store.clone(), gate)
}

/// Site pseudonym of every local id of site-1, through the trust centre.
async fn pseudonyms(trustee: &Trustee, local_ids: Vec<String>) -> HashMap<String, Pseudonym> {
    let pairs = trustee
        .client("site-1")
        .resolve(local_ids.clone())
        .await
        .unwrap();
    local_ids
        .into_iter()
        .zip(pairs)
        .map(|(id, p)| (id, p.expect("registered").site))
        .collect()
}

fn query(category: Option<DataCategory>) -> FactQuery {
    FactQuery {
        filter: FactFilter {
            category,
            ..Default::default()
        },
        purpose: Purpose::Research,
        date: None,
    }
}

#[tokio::test]
async fn consent_is_enforced_at_query_time() {
    let (trustee, cohort, node, _) = ingested_site_1(1, 400, 23).await;
    let truth = cohort.truth().by_person();
    let local = cohort.truth().local_ids("site-1");
    let psn = pseudonyms(&trustee, local.keys().cloned().collect()).await;
    let person_of: HashMap<&Pseudonym, &String> = psn.iter().map(|(l, p)| (p, &local[l])).collect();
    let flag = |p: &Pseudonym, col: &str| truth[person_of[p]][col] == "1";

    let q = service(&trustee, &node, Duration::from_secs(60)).await;

    // Opted-out (GDNG objection) and withdrawn patients never come back; everyone else does.
    let clinical = q.facts(&query(Some(DataCategory::Clinical))).await.unwrap();
    let released: HashSet<&Pseudonym> = clinical.facts.iter().map(|f| &f.pseudonym).collect();
    let excluded: Vec<&Pseudonym> = person_of
        .keys()
        .copied()
        .filter(|p| flag(p, "gdng_objection") || flag(p, "withdrawn"))
        .collect();
    assert!(
        !excluded.is_empty(),
        "the cohort must contain objections to test them"
    );
    for p in &excluded {
        assert!(
            !released.contains(p),
            "an opted-out or withdrawn patient came back"
        );
    }
    assert_eq!(released.len(), person_of.len() - excluded.len());
    assert!(clinical.withheld > 0);

    // Genetic observations only with the opt-in.
    let genetic = q.facts(&query(Some(DataCategory::Genetic))).await.unwrap();
    assert!(!genetic.facts.is_empty());
    for f in &genetic.facts {
        assert!(
            flag(&f.pseudonym, "genetic_opt_in") && !flag(&f.pseudonym, "withdrawn"),
            "genetic data without opt-in released"
        );
    }
    assert!(
        genetic.withheld > 0,
        "some patients without opt-in have genetic data"
    );
}

#[tokio::test]
async fn an_objection_takes_effect_for_the_next_query() {
    let (trustee, cohort, node, _) = ingested_site_1(1, 60, 5).await;
    let q = service(&trustee, &node, Duration::ZERO).await;
    let before = q.facts(&query(Some(DataCategory::Clinical))).await.unwrap();
    let victim = before.facts[0].pseudonym.clone();
    let local_id = pseudonyms(
        &trustee,
        cohort.truth().local_ids("site-1").into_keys().collect(),
    )
    .await
    .into_iter()
    .find(|(_, p)| *p == victim)
    .unwrap()
    .0;
    let objection = serde_json::json!({
        "resourceType": "Consent", "id": "objection-1", "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "57016-8"}]}],
        "patient": {"reference": format!("Patient/{local_id}")},
        "dateTime": "2026-01-01",
        "provision": {"type": "deny", "code": [{"coding": [{"system": "urn:oncofed:consent-policy", "code": "gdng-objection"}]}]}
    });
    let item = oncofed_trustee_api::ConsentItem {
        local_id,
        consent: objection,
    };
    trustee
        .client("site-1")
        .submit_consents(vec![item])
        .await
        .unwrap();
    let after = q.facts(&query(Some(DataCategory::Clinical))).await.unwrap();
    assert!(after.facts.iter().all(|f| f.pseudonym != victim));
    assert!(after.facts.len() < before.facts.len());
}

#[tokio::test]
async fn the_query_path_fails_closed_when_the_trust_centre_is_down() {
    let (trustee, _cohort, node, _) = ingested_site_1(1, 30, 3).await;
    let client = trustee.client("site-1");
    trustee.shutdown().await.unwrap();
    let q = QueryService::new(
        node.store.clone(),
        Arc::new(ConsentGate::new(client, Duration::from_secs(60))),
    );
    let err = q.facts(&query(None)).await.unwrap_err();
    assert!(err.to_string().contains("no data is released"), "{err}");
}
