//! Imaging at the site end to end (issue 14): one person with FHIR data and a
//! chest CT at site 1 and an MR at site 2 is one research pseudonym; the stored
//! objects are de-identified with the person's one date offset; a feasibility
//! query combining a diagnosis with an imaging criterion counts right; objects
//! that cannot be linked are quarantined; a project delivery checks consent;
//! a withdrawal deletes the images at both sites.

mod support;

use dicom_core::Tag;
use oncofed_criteria::Criteria;
use oncofed_model::Pseudonym;
use oncofed_node::ConsentGate;
use oncofed_node::imaging::{self, ImagingSetup, ObjectArchive, Outcome};
use oncofed_node::withdrawal::WithdrawalPoller;
use oncofed_trustee::{PseudonymKey, TrusteeConfig, hash_token};
use oncofed_trustee_api::TrusteeClient;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::dicom::{CT, Header, MR, image, walk};
use support::{Node, Served, registry, serve, write_bundle};

const SITES: [&str; 2] = ["site-1", "site-2"];
const ADMIN: &str = "admin-token-0123456789abcdef-imaging";

fn token(site: &str) -> String {
    format!("token-of-{site}-0123456789abcdef")
}

async fn start_trustee(dir: &Path) -> Served {
    let key = PseudonymKey::from_bytes(vec![7; 32]).unwrap();
    let config = TrusteeConfig::new(dir.join("tc"), key, registry(SITES.map(|s| (s, token(s)))))
        .unwrap()
        .with_admin_token_hash(&hash_token(ADMIN))
        .unwrap();
    serve(config).await
}

/// A patient with a lung-cancer diagnosis on `diagnosed`.
fn patient(local_id: &str, given: &str, birth: &str, diagnosed: &str) -> Vec<serde_json::Value> {
    vec![
        json!({"fullUrl": format!("urn:uuid:{local_id}"),
               "resource": {"resourceType": "Patient", "id": local_id, "gender": "female", "birthDate": birth,
                            "name": [{"use": "official", "family": "Beispiel", "given": [given]}]},
               "request": {"method": "PUT", "url": format!("Patient/{local_id}")}}),
        json!({"fullUrl": format!("urn:uuid:cond-{local_id}"),
               "resource": {"resourceType": "Condition", "id": format!("cond-{local_id}"),
                            "code": {"coding": [{"system": "http://fhir.de/CodeSystem/bfarm/icd-10-gm", "code": "C34.1"}]},
                            "subject": {"reference": format!("urn:uuid:{local_id}")},
                            "onsetDateTime": diagnosed},
               "request": {"method": "PUT", "url": format!("Condition/cond-{local_id}")}}),
    ]
}

fn wilma_ct(dir: &Path) -> PathBuf {
    let path = dir.join("ct.dcm");
    support::dicom::wilma_ct(&path);
    path
}

fn setup(dir: &Path) -> ImagingSetup {
    ImagingSetup::new(&[9; 32], ObjectArchive::local(&dir.join("images")).unwrap())
}

/// The shifted Study Date of the one object in `archive_dir`.
fn stored_study_date(archive_dir: &Path) -> chrono::NaiveDate {
    let files: Vec<PathBuf> = walk(archive_dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let object = dicom_object::open_file(&files[0]).unwrap();
    let date = object
        .element(Tag(0x0008, 0x0020))
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    chrono::NaiveDate::parse_from_str(date.trim(), "%Y%m%d").unwrap()
}

fn withdrawal() -> serde_json::Value {
    json!({"resourceType": "Consent", "id": "withdrawal-1", "status": "active", "dateTime": "2026-01-15",
           "provision": {"type": "deny", "code": [{"coding": [{"system": "urn:oncofed:consent-policy", "code": "withdrawal"}]}]}})
}

#[tokio::test]
async fn images_link_count_deliver_and_are_withdrawn_at_both_sites() {
    let tmp = tempfile::tempdir().unwrap();
    let trustee = start_trustee(tmp.path()).await;
    let clients: Vec<TrusteeClient> = SITES
        .iter()
        .map(|s| TrusteeClient::new(&trustee.url, &token(s)).unwrap())
        .collect();

    // Site 1: FHIR for Wilma (diagnosed 2024-01-10) and Karla, a chest CT of Wilma 41 days later.
    let site1 = Node::new();
    let fhir = tmp.path().join("site1.json");
    let mut entries = patient("w-1", "Wilma", "1958-03-09", "2024-01-10");
    entries.extend(patient("k-1", "Karla", "1971-11-23", "2024-01-10"));
    write_bundle(&fhir, entries);
    site1.ingest_clean(&clients[0], &[fhir]).await;
    let in1 = tempfile::tempdir().unwrap();
    wilma_ct(in1.path());
    // Karla's CT is 200 days after her diagnosis: outside a 90-day window.
    image(
        &in1.path().join("karla.dcm"),
        &Header {
            patient_id: "k-1",
            name: "Beispiel^Karla",
            birth: "19711123",
            sop_class: CT,
            modality: "CT",
            body_part: "CHEST",
            study_date: "20240728",
            study: "1.2.826.0.1.3680043.2.1125.2.1",
            series: "1.2.826.0.1.3680043.2.1125.2.2",
            instance: "1.2.826.0.1.3680043.2.1125.2.3",
        },
    );
    // An object without a Patient ID cannot be linked: quarantined, not stored.
    image(
        &in1.path().join("anonymous.dcm"),
        &Header {
            patient_id: "",
            name: "",
            birth: "",
            sop_class: CT,
            modality: "CT",
            body_part: "CHEST",
            study_date: "20240101",
            study: "1.2.3.1",
            series: "1.2.3.2",
            instance: "1.2.3.3",
        },
    );
    std::fs::write(in1.path().join("broken.dcm"), b"not a DICOM file at all").unwrap();
    let setup1 = setup(site1.dir.path());
    let report = imaging::ingest_dicom(
        &site1.store,
        &clients[0],
        &setup1,
        &[in1.path().to_owned()],
        &|_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(report.objects_stored, 2, "{report:?}");
    assert_eq!(
        report.quarantined.get("not-linkable"),
        Some(&1),
        "{report:?}"
    );
    assert_eq!(report.quarantined.get("unreadable"), Some(&1), "{report:?}");
    let quality = oncofed_node::quality::report(&site1.store).await.unwrap();
    assert_eq!(quality.images.objects_by_modality.get("CT"), Some(&2));
    assert_eq!(
        quality.images.quarantined_by_reason.get("not-linkable"),
        Some(&1)
    );

    // Site 2: only an MR of Wilma, under another local id.
    let site2 = Node::new();
    let in2 = tempfile::tempdir().unwrap();
    image(
        &in2.path().join("mr.dcm"),
        &Header {
            patient_id: "B-77",
            name: "Beispiel^Wilma",
            birth: "19580309",
            sop_class: MR,
            modality: "MR",
            body_part: "BRAIN",
            study_date: "20240501",
            study: "1.2.826.0.1.3680043.2.1125.3.1",
            series: "1.2.826.0.1.3680043.2.1125.3.2",
            instance: "1.2.826.0.1.3680043.2.1125.3.3",
        },
    );
    let setup2 = setup(site2.dir.path());
    let report2 = imaging::ingest_dicom(
        &site2.store,
        &clients[1],
        &setup2,
        &[in2.path().to_owned()],
        &|_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(report2.objects_stored, 1, "{report2:?}");
    assert_eq!(report2.face_risk_objects, 1, "a brain MR is a head volume");

    // One person: the FHIR patient, the CT and the MR share the research pseudonym.
    let fhir_pair = clients[0].resolve(vec!["w-1".into()]).await.unwrap()[0]
        .clone()
        .unwrap();
    let ct_pair = clients[0].resolve(vec!["w-1".into()]).await.unwrap()[0]
        .clone()
        .unwrap();
    let mr_pair = clients[1].resolve(vec!["B-77".into()]).await.unwrap()[0]
        .clone()
        .unwrap();
    assert_eq!(fhir_pair.research, ct_pair.research);
    assert_eq!(
        fhir_pair.site, ct_pair.site,
        "one person at site 1, one store key"
    );
    assert_eq!(ct_pair.research, mr_pair.research);

    // Feasibility: diagnosis C34 AND a chest CT within 90 days after it → Wilma only.
    let criteria: Criteria = serde_json::from_value(json!({"and": [
        {"diagnosis": {"icd10": "C34"}},
        {"imaging": {"modality": ["CT"], "body_part": "CHEST", "after_diagnosis": {"icd10": "C34", "max_days": 90}}}
    ]}))
    .unwrap();
    let store = site1.store.clone();
    let matched = tokio::task::spawn_blocking(move || store.lock().unwrap().feasibility(&criteria))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(matched.len(), 1, "{matched:?}");
    assert_eq!(matched[0].0, ct_pair.site);

    // Dates: one offset per person, the same at both sites, so the CT→MR interval (71 days) survives.
    let site1_objects = walk(&site1.dir.path().join("images"));
    let mut ct_date = None;
    for f in &site1_objects {
        let o = dicom_object::open_file(f).unwrap();
        let id = o
            .element(Tag(0x0010, 0x0020))
            .unwrap()
            .to_str()
            .unwrap()
            .trim()
            .to_owned();
        let wilmas = id == ct_pair.site.as_str();
        if wilmas {
            let d = o
                .element(Tag(0x0008, 0x0020))
                .unwrap()
                .to_str()
                .unwrap()
                .trim()
                .to_owned();
            ct_date = Some(chrono::NaiveDate::parse_from_str(&d, "%Y%m%d").unwrap());
        }
        // No identifying value of the headers survives. Wilma's real dates
        // are looked for in her own objects only: another person's shifted
        // date may fall on the same day by chance (offsets are keyed per
        // person and per run), which reveals nothing about Wilma.
        let bytes = std::fs::read(f).unwrap();
        let dates: &[&str] = if wilmas {
            &["19580309", "20240220"]
        } else {
            &[]
        };
        for secret in ["Beispiel", "Wilma", "Karla", "Klinikum"]
            .iter()
            .chain(dates)
        {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in {f:?}"
            );
        }
    }
    let mr_date = stored_study_date(&site2.dir.path().join("images"));
    let ct_date = ct_date.expect("Wilma's CT is stored under her site pseudonym");
    assert_eq!((mr_date - ct_date).num_days(), 71);
    let real = chrono::NaiveDate::from_ymd_opt(2024, 2, 20).unwrap();
    assert_eq!(
        (ct_date - real).num_days(),
        i64::from(ct_pair.date_offset_days)
    );
    assert!(ct_pair.date_offset_days < 0);

    // The same study again: the same UIDs and key, nothing new.
    let again = imaging::store_objects(
        &site1.store,
        &clients[0],
        &setup(site1.dir.path()),
        vec![Ok(imaging::Incoming {
            source: "again".into(),
            object: oncofed_dicom::read::open(&in1.path().join("ct.dcm")).unwrap(),
        })],
    )
    .await
    .unwrap();
    assert!(
        matches!(&again[0], Outcome::Stored { new: false, .. }),
        "{again:?}"
    );
    assert_eq!(walk(&site1.dir.path().join("images")).len(), 2);

    // Delivery to a project folder: Wilma's CT under the project pseudonym;
    // the brain MR at site 2 stays (a face could be reconstructed).
    let key = imaging::deliver::ProjectKey::new([3; 32]);
    let out = tempfile::tempdir().unwrap();
    let gate1 = Arc::new(ConsentGate::new(
        clients[0].clone(),
        Duration::from_secs(60),
    ));
    let mut target = imaging::deliver::FolderTarget(out.path().to_owned());
    let request = |cohort: Vec<Pseudonym>| imaging::deliver::DeliveryRequest {
        project: "P-1".into(),
        key: key.clone(),
        cohort,
        today: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
    };
    let audit_key = oncofed_crypto::SigningKeyPair::generate();
    let audit_file = tmp.path().join("delivery-audit.db");
    let audit = imaging::deliver::DeliveryAudit::open(&audit_file, audit_key.clone(), 16).unwrap();
    let delivered = imaging::deliver::deliver(
        &site1.store,
        &gate1,
        &setup1,
        &audit,
        &request(vec![ct_pair.site.clone()]),
        &mut target,
    )
    .await
    .unwrap();
    assert_eq!(delivered.objects_delivered, 1, "{delivered:?}");
    // The delivery is recorded at the trust centre as a use of the person's
    // data (the patients' portal lists it).
    assert_eq!(
        (delivered.usage_reported, &delivered.usage_report_error),
        (1, &None),
        "{delivered:?}"
    );
    let project_psn = key.pseudonym(&ct_pair.research);
    let files = walk(&out.path().join(&project_psn));
    assert_eq!(files.len(), 1);
    let o = dicom_object::open_file(&files[0]).unwrap();
    assert_eq!(
        o.element(Tag(0x0010, 0x0020))
            .unwrap()
            .to_str()
            .unwrap()
            .trim(),
        project_psn
    );
    let stored_uid = |f: &Path| {
        dicom_object::open_file(f)
            .unwrap()
            .element(Tag(0x0008, 0x0018))
            .unwrap()
            .to_str()
            .unwrap()
            .trim()
            .to_owned()
    };
    let delivered_uid = stored_uid(&files[0]);
    assert!(delivered_uid.starts_with("2.25."));
    assert!(
        site1_objects.iter().all(|f| stored_uid(f) != delivered_uid),
        "project UIDs differ from the site's"
    );
    let gate2 = Arc::new(ConsentGate::new(
        clients[1].clone(),
        Duration::from_secs(60),
    ));
    let out2 = tempfile::tempdir().unwrap();
    let mut target2 = imaging::deliver::FolderTarget(out2.path().to_owned());
    let kept = imaging::deliver::deliver(
        &site2.store,
        &gate2,
        &setup2,
        &audit,
        &request(vec![mr_pair.site.clone()]),
        &mut target2,
    )
    .await
    .unwrap();
    // Both deliveries are in the audit trail, start and end, and it verifies.
    let entries = audit.entries(0, 100).unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "images.delivery.started",
            "images.delivery.finished",
            "images.delivery.started",
            "images.delivery.finished"
        ]
    );
    assert_eq!(entries[1].details["objects_delivered"], 1);
    assert!(
        audit.verify_stored().unwrap().ok,
        "the delivery trail verifies"
    );
    assert_eq!(
        (kept.objects_delivered, kept.objects_withheld_face),
        (0, 1),
        "{kept:?}"
    );

    // Withdrawal: the trust centre orders deletion at both sites; the images go.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    for (node, (client, setup)) in [&site1, &site2]
        .into_iter()
        .zip(clients.iter().zip([&setup1, &setup2]))
    {
        let gate = Arc::new(ConsentGate::new(client.clone(), Duration::from_secs(60)));
        let poller = WithdrawalPoller::new(client.clone(), node.store.clone(), gate)
            .with_archive(setup.archive().clone())
            .with_interval(Duration::from_millis(200));
        let mut rx = stop_rx.clone();
        tokio::spawn(poller.run(async move {
            let _ = rx.wait_for(|v| *v).await;
        }));
    }
    let staff = TrusteeClient::new(&trustee.url, ADMIN).unwrap();
    staff
        .record_consent_as_staff(&ct_pair.site, withdrawal())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let wilma: Vec<Pseudonym> = vec![ct_pair.site.clone(), mr_pair.site.clone()];
    loop {
        let left1 = walk(&site1.dir.path().join("images")).len();
        let left2 = walk(&site2.dir.path().join("images")).len();
        if left1 == 1 && left2 == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "images left after withdrawal: site 1 {left1}, site 2 {left2}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (node, psn) in [&site1, &site2].into_iter().zip(&wilma) {
        let psn = psn.clone();
        let store = node.store.clone();
        let rows = tokio::task::spawn_blocking(move || store.lock().unwrap().images_of(&[psn]))
            .await
            .unwrap()
            .unwrap();
        assert!(rows.is_empty());
    }
    let _ = stop_tx.send(true);
}
