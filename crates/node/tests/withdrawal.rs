//! The withdrawal cascade end to end (issue 5, item 4; R6): three sites hold one
//! person, trust-centre staff record the person's withdrawal, and within 10 s no
//! byte of that person's data is left in any site's store files, the audit trail
//! holds every order and receipt, a sample-destruction order exists, later
//! queries do not include the person, and the person cannot be ingested again
//! (the trust centre's tombstone, issue 18).

mod support;

use oncofed_model::{Pseudonym, Purpose};
use oncofed_node::withdrawal::WithdrawalPoller;
use oncofed_node::{ConsentGate, FactFilter, FactQuery, QueryService};
use oncofed_trustee::{PseudonymKey, TrusteeConfig, hash_token};
use oncofed_trustee_api::{DeletionOrder, DeletionReceipt, TrusteeClient, TrusteeError};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Node, Served, registry, serve, write_bundle};

const SITES: [&str; 3] = ["site-1", "site-2", "site-3"];
const ADMIN: &str = "admin-token-0123456789abcdef-withdrawal";
/// The withdrawn person's haemoglobin: a value no other fact has.
const WITHDRAWN_HB: f64 = 13.371337;
const KEPT_HB: f64 = 9.876543;

fn token(site: &str) -> String {
    format!("token-of-{site}-0123456789abcdef")
}

async fn start_trustee(dir: &Path) -> Served {
    let key = PseudonymKey::from_bytes(vec![5; 32]).unwrap();
    let config = TrusteeConfig::new(dir.join("tc"), key, registry(SITES.map(|s| (s, token(s)))))
        .unwrap()
        .with_admin_token_hash(&hash_token(ADMIN))
        .unwrap();
    serve(config).await
}

/// A bundle with one patient (IDAT that links across sites), a diagnosis and a lab value.
fn patient(local_id: &str, given: &str, birth: &str, hb: f64) -> Vec<serde_json::Value> {
    vec![
        json!({"fullUrl": format!("urn:uuid:{local_id}"),
               "resource": {"resourceType": "Patient", "id": local_id, "gender": "female", "birthDate": birth,
                            "name": [{"use": "official", "family": "Beispiel", "given": [given]}]},
               "request": {"method": "PUT", "url": format!("Patient/{local_id}")}}),
        json!({"fullUrl": format!("urn:uuid:cond-{local_id}"),
               "resource": {"resourceType": "Condition", "id": format!("cond-{local_id}"),
                            "code": {"coding": [{"system": "http://fhir.de/CodeSystem/bfarm/icd-10-gm", "code": "C92.0"}]},
                            "subject": {"reference": format!("urn:uuid:{local_id}")},
                            "onsetDateTime": "2023-02-14"},
               "request": {"method": "PUT", "url": format!("Condition/cond-{local_id}")}}),
        json!({"fullUrl": format!("urn:uuid:obs-{local_id}"),
               "resource": {"resourceType": "Observation", "id": format!("obs-{local_id}"), "status": "final",
                            "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
                            "subject": {"reference": format!("urn:uuid:{local_id}")},
                            "effectiveDateTime": "2024-02-01",
                            "valueQuantity": {"value": hb, "unit": "g/dL", "system": "http://unitsofmeasure.org", "code": "g/dL"}},
               "request": {"method": "PUT", "url": format!("Observation/obs-{local_id}")}}),
    ]
}

struct Site {
    node: Node,
    client: TrusteeClient,
    gate: Arc<ConsentGate>,
}

/// Every byte of the site's store files as they are on disk (database and WAL).
fn disk_bytes(dir: &Path) -> Vec<u8> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.to_string_lossy().ends_with("-shm"))
        .flat_map(|p| std::fs::read(p).unwrap())
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn withdrawal() -> serde_json::Value {
    json!({"resourceType": "Consent", "id": "withdrawal-1", "status": "active", "dateTime": "2026-01-15",
           "provision": {"type": "deny", "code": [{"coding": [{"system": "urn:oncofed:consent-policy", "code": "withdrawal"}]}]}})
}

fn actions(export: &str, action: &str) -> Vec<serde_json::Value> {
    export
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("entry").cloned())
        .filter(|e| e["action"] == action)
        .collect()
}

#[tokio::test]
async fn a_withdrawal_erases_the_person_at_every_site_within_ten_seconds() {
    let tmp = tempfile::tempdir().unwrap();
    let trustee = start_trustee(tmp.path()).await;
    let url = &trustee.url;
    let mut sites = Vec::new();
    for (i, name) in SITES.iter().enumerate() {
        let input = tmp.path().join(format!("{name}.json"));
        let mut entries = patient(&format!("w-{i}"), "Wilma", "1958-03-09", WITHDRAWN_HB);
        entries.extend(patient(&format!("k-{i}"), "Karla", "1971-11-23", KEPT_HB));
        write_bundle(&input, entries);
        let node = Node::new();
        let client = TrusteeClient::new(url, &token(name)).unwrap();
        node.ingest_clean(&client, &[input]).await;
        let gate = Arc::new(ConsentGate::new(client.clone(), Duration::from_secs(60)));
        sites.push(Site { node, client, gate });
    }

    // The person's pseudonyms at each site (and the shared research pseudonym).
    let mut site_psn: Vec<Pseudonym> = Vec::new();
    let mut research = None;
    for (i, s) in sites.iter().enumerate() {
        let pair = s.client.resolve(vec![format!("w-{i}")]).await.unwrap()[0]
            .clone()
            .unwrap();
        research.get_or_insert(pair.research.clone());
        assert_eq!(
            research.as_ref(),
            Some(&pair.research),
            "the three records link to one person"
        );
        site_psn.push(pair.site);
    }
    let research = research.unwrap();
    let hb_bytes = WITHDRAWN_HB.to_be_bytes();

    // Before: the scan finds the person (so it can fail) and queries include them.
    for (s, psn) in sites.iter().zip(&site_psn) {
        support::checkpoint(s.node.dir.path());
        let bytes = disk_bytes(s.node.dir.path());
        assert!(contains(&bytes, psn.as_str().as_bytes()));
        assert!(contains(&bytes, research.as_str().as_bytes()));
        assert!(
            contains(&bytes, &hb_bytes),
            "the distinctive value is stored as an IEEE double"
        );
        let q = QueryService::new(s.node.store.clone(), s.gate.clone());
        let answer = q.facts(&query()).await.unwrap();
        assert!(answer.facts.iter().any(|f| &f.pseudonym == psn));
    }

    // Pollers as `oncofed node agent` runs them (default 2 s interval).
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    for s in &sites {
        let poller = WithdrawalPoller::new(s.client.clone(), s.node.store.clone(), s.gate.clone());
        let mut rx = stop_rx.clone();
        tokio::spawn(poller.run(async move {
            let _ = rx.wait_for(|v| *v).await;
        }));
    }

    // Staff record the withdrawal the person sent to the trust centre.
    let staff = TrusteeClient::new(url, ADMIN).unwrap();
    let withdrawn_at = Instant::now();
    assert_eq!(
        staff
            .record_consent_as_staff(&site_psn[1], withdrawal())
            .await
            .unwrap(),
        1
    );

    // Within 10 s: no byte of the person at any site (database and WAL, read raw).
    let deadline = withdrawn_at + Duration::from_secs(10);
    loop {
        let leftovers: Vec<&str> = sites
            .iter()
            .zip(&site_psn)
            .filter(|(s, psn)| {
                let bytes = disk_bytes(s.node.dir.path());
                contains(&bytes, psn.as_str().as_bytes())
                    || contains(&bytes, research.as_str().as_bytes())
                    || contains(&bytes, &hb_bytes)
            })
            .map(|(s, _)| s.node.dir.path().to_str().unwrap())
            .collect();
        if leftovers.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "withdrawn person's bytes still present after 10 s in {leftovers:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("erased at all sites after {:?}", withdrawn_at.elapsed());

    // The other patient is intact, byte scan included.
    for s in &sites {
        assert!(contains(
            &disk_bytes(s.node.dir.path()),
            &KEPT_HB.to_be_bytes()
        ));
    }

    // Later queries (fresh gates too) never include the person; the kept patient remains.
    for (s, psn) in sites.iter().zip(&site_psn) {
        for gate in [
            s.gate.clone(),
            Arc::new(ConsentGate::new(s.client.clone(), Duration::from_secs(60))),
        ] {
            let answer = QueryService::new(s.node.store.clone(), gate)
                .facts(&query())
                .await
                .unwrap();
            assert!(answer.facts.iter().all(|f| &f.pseudonym != psn));
            assert_eq!(answer.patients, 1);
        }
        let feasible = s
            .node
            .store
            .lock()
            .unwrap()
            .existing_patients(std::slice::from_ref(psn))
            .unwrap();
        assert!(feasible.is_empty());
    }

    // The site log (the site admin's withdrawals page, issue 17) keeps each
    // site's order with its receipt's counts, confirmed; it holds no pseudonym
    // (the byte scan above covers the store files).
    for s in &sites {
        let mut logged = Vec::new();
        for _ in 0..50 {
            logged = s.node.store.lock().unwrap().withdrawals(10).unwrap();
            if logged.first().is_some_and(|w| w.confirmed_at.is_some()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(logged.len(), 1, "one order per site");
        assert_eq!((logged[0].patients_deleted, logged[0].remaining), (1, 0));
        assert_eq!(logged[0].reason, "withdrawal");
        assert!(
            logged[0].confirmed_at.is_some(),
            "the receipt was confirmed"
        );
    }

    // Proof in the audit trail: one order and one receipt per site, one sample order.
    let mut export = String::new();
    for _ in 0..50 {
        export = staff.audit_export().await.unwrap();
        if actions(&export, "deletion.confirmed").len() == SITES.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ordered = actions(&export, "deletion.ordered");
    let confirmed = actions(&export, "deletion.confirmed");
    assert_eq!(ordered.len(), SITES.len());
    assert_eq!(confirmed.len(), SITES.len());
    for (o, psn) in ordered.iter().zip(&site_psn) {
        assert_eq!(o["subject"], psn.as_str());
    }
    for c in &confirmed {
        assert_eq!(c["details"]["patients_deleted"], 1);
        assert_eq!(c["details"]["facts_deleted"], 2);
        assert_eq!(c["details"]["remaining"], 0);
        assert_eq!(c["details"]["digest"].as_str().unwrap().len(), 64);
    }
    assert_eq!(actions(&export, "samples.destruction-ordered").len(), 1);
    let samples = staff.sample_destructions().await.unwrap();
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].pseudonyms.len(), SITES.len());
    assert!(
        staff
            .confirm_sample_destruction(samples[0].id)
            .await
            .unwrap()
    );
    assert!(
        !staff
            .confirm_sample_destruction(samples[0].id)
            .await
            .unwrap()
    );

    // Nothing is left to do, and a site cannot see or confirm another site's orders.
    for s in &sites {
        assert!(s.client.deletion_orders().await.unwrap().is_empty());
    }
    let order_of_site_2 = ordered
        .iter()
        .find(|o| o["details"]["site"] == "site-2")
        .unwrap()["details"]["order"]
        .as_i64()
        .unwrap();
    let forged = DeletionOrder {
        id: order_of_site_2,
        pseudonym: site_psn[1].clone(),
        reason: "withdrawal".into(),
        ordered_at: 0,
    };
    let receipt = DeletionReceipt::new(&forged, 1, 2, 0, "2026-11-28T22:00:00Z".into());
    match sites[0]
        .client
        .confirm_deletion(order_of_site_2, &receipt)
        .await
    {
        Err(TrusteeError::Rejected { status: 404, .. }) => {}
        other => panic!("site-1 confirmed site-2's order: {other:?}"),
    }

    // The site loads its old export again, and another site registers the
    // person under a new id (issue 18, the tombstone): the trust centre refuses
    // the withdrawn patient's unit with an error that names the reason and no
    // value; not a byte of the person comes back.
    let old_export = tmp.path().join("site-1.json");
    let again = sites[0]
        .node
        .ingest(&sites[0].client, &[old_export])
        .await
        .unwrap();
    let newcomer = tmp.path().join("newcomer.json");
    write_bundle(
        &newcomer,
        patient("w-new", "Wilma", "1958-03-09", WITHDRAWN_HB),
    );
    let fresh = sites[2]
        .node
        .ingest(&sites[2].client, &[newcomer])
        .await
        .unwrap();
    for report in [&again, &fresh] {
        assert_eq!(report.units_failed, 1, "{:?}", report.errors);
        assert!(
            report.errors[0].contains("withdrawn"),
            "{:?}",
            report.errors
        );
        for value in ["Wilma", "1958"] {
            assert!(!report.errors[0].contains(value), "{:?}", report.errors);
        }
    }
    for (s, psn) in sites.iter().zip(&site_psn) {
        let bytes = disk_bytes(s.node.dir.path());
        assert!(!contains(&bytes, psn.as_str().as_bytes()));
        assert!(!contains(&bytes, research.as_str().as_bytes()));
        assert!(!contains(&bytes, &hb_bytes), "the person came back");
    }
    let _ = stop_tx.send(true);
}

fn query() -> FactQuery {
    FactQuery {
        filter: FactFilter::default(),
        purpose: Purpose::Research,
        date: None,
    }
}
