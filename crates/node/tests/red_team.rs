//! Regression tests for the red-team findings on ingest (issue 9, defects 5 and 6):
//! each reproduces one defect and checks that the bad unit alone is rejected, with
//! file and line named, while the good units around it land.

mod support;

use oncofed_node::{IngestOptions, IngestReport};
use oncofed_trustee_api::TrusteeClient;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use support::{Node, Trustee, transaction};

fn patient(id: &str) -> Value {
    json!({"fullUrl": format!("urn:uuid:{id}"),
        "resource": {"resourceType": "Patient", "id": id, "gender": "female", "birthDate": "1949-07-15",
            "name": [{"family": "Kowalski", "given": ["Gertrud"]}]}})
}

fn lab(patient: &str, n: usize) -> Value {
    json!({"fullUrl": format!("urn:uuid:obs-{patient}-{n}"),
        "resource": {"resourceType": "Observation", "id": format!("obs-{patient}-{n}"), "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
            "subject": {"reference": format!("urn:uuid:{patient}")},
            "effectiveDateTime": "2024-02-01",
            "valueQuantity": {"value": 12.1, "unit": "g/dL", "system": "http://unitsofmeasure.org", "code": "g/dL"}}})
}

fn consent(patient: &str) -> Value {
    json!({"fullUrl": format!("urn:uuid:consent-{patient}"),
        "resource": {"resourceType": "Consent", "id": format!("consent-{patient}"), "status": "active",
            "dateTime": "2024-01-01", "patient": {"reference": format!("urn:uuid:{patient}")},
            "provision": {"type": "permit", "code": [{"coding": [
                {"system": "urn:oncofed:consent-policy", "code": "genetic-research"}]}]}}})
}

fn bundle(entries: Vec<Value>) -> String {
    transaction(entries).to_string()
}

/// A good Bundle line: one patient and one lab value.
fn good(id: &str) -> String {
    bundle(vec![patient(id), lab(id, 1)])
}

/// Writes `lines` to `dir/name`, one per line (bytes as given, not necessarily UTF-8).
fn write_lines(dir: &Path, name: &str, lines: &[impl AsRef<[u8]>]) -> PathBuf {
    let path = dir.join(name);
    let lines: Vec<&[u8]> = lines.iter().map(AsRef::as_ref).collect();
    std::fs::write(&path, lines.join(&b'\n')).unwrap();
    path
}

/// Ingests `paths` as `client`; the run itself must succeed (`why` says why).
async fn ingest_via(
    node: &Node,
    client: &TrusteeClient,
    paths: &[PathBuf],
    options: IngestOptions,
    why: &str,
) -> IngestReport {
    oncofed_node::ingest(&node.store, client, paths, &options, &|_, _| {})
        .await
        .expect(why)
}

async fn ingest_with(
    node: &Node,
    trustee: &Trustee,
    paths: &[PathBuf],
    options: IngestOptions,
) -> IngestReport {
    let client = trustee.client("site-1");
    ingest_via(
        node,
        &client,
        paths,
        options,
        "a bad unit must not stop the run",
    )
    .await
}

/// Asserts how many units landed and how many were rejected.
#[track_caller]
fn assert_units(report: &IngestReport, ok: usize, failed: usize) {
    assert_eq!(
        (report.units_ok, report.units_failed),
        (ok, failed),
        "{:?}",
        report.errors
    );
}

fn assert_no_personal_data(errors: &[String]) {
    for e in errors {
        for personal in ["Gertrud", "Kowalski", "1949"] {
            assert!(!e.contains(personal), "personal data in {e}");
        }
    }
}

#[tokio::test]
async fn red_team_malformed_consent_rejects_only_its_bundle() {
    let trustee = Trustee::with_sites(1).await;
    let node = Node::new();
    let dir = tempfile::tempdir().unwrap();
    let mut no_status = consent("p2");
    no_status["resource"]
        .as_object_mut()
        .unwrap()
        .remove("status");
    let mut no_provision = consent("p4");
    no_provision["resource"]
        .as_object_mut()
        .unwrap()
        .remove("provision");
    let lines = [
        good("p1"),
        bundle(vec![patient("p2"), lab("p2", 1), no_status]),
        good("p3"),
        bundle(vec![patient("p4"), lab("p4", 1), no_provision]),
        bundle(vec![patient("p5"), lab("p5", 1), consent("p5")]),
    ];
    let path = write_lines(dir.path(), "consents.ndjson", &lines);
    let report = ingest_with(&node, &trustee, &[path], IngestOptions::default()).await;
    assert_units(&report, 3, 2);
    assert_eq!(report.written.facts_new, 3);
    assert_eq!(report.consents, 1, "the valid consent still registers");
    let [status, provision] = &report.errors[..] else {
        panic!("{:?}", report.errors)
    };
    assert!(
        status.contains("consents.ndjson line 2, entry 2 (Consent): field status"),
        "{status}"
    );
    assert!(
        provision.contains("consents.ndjson line 4, entry 2 (Consent): field provision"),
        "{provision}"
    );
    assert_no_personal_data(&report.errors);
}

#[tokio::test]
async fn red_team_invalid_utf8_line_rejects_only_that_line() {
    let trustee = Trustee::with_sites(1).await;
    let node = Node::new();
    let dir = tempfile::tempdir().unwrap();
    // Latin-1 "ü" in a family name: what a mis-configured export writes.
    let latin1 = |id: &str| good(id).replace("Kowalski", "M\u{1}ller").into_bytes();
    let broken = |id: &str| {
        let mut b = latin1(id);
        let at = b.iter().position(|&c| c == 1).unwrap();
        b[at] = 0xfc;
        b
    };
    // The first line (the file's classification reads it) and a later one.
    let first = write_lines(
        dir.path(),
        "first.ndjson",
        &[
            broken("a1"),
            good("a2").into_bytes(),
            good("a3").into_bytes(),
        ],
    );
    let later = write_lines(
        dir.path(),
        "later.ndjson",
        &[
            good("b1").into_bytes(),
            broken("b2"),
            good("b3").into_bytes(),
        ],
    );
    let report = ingest_with(&node, &trustee, &[first, later], IngestOptions::default()).await;
    assert_units(&report, 4, 2);
    assert!(
        report.errors[0].contains("first.ndjson line 1: not UTF-8"),
        "{:?}",
        report.errors
    );
    assert!(
        report.errors[1].contains("later.ndjson line 2: not UTF-8"),
        "{:?}",
        report.errors
    );
    assert_eq!(report.written.facts_new, 4);
    assert_no_personal_data(&report.errors);
}

#[tokio::test]
async fn red_team_overlong_line_is_rejected_as_its_unit() {
    let trustee = Trustee::with_sites(1).await;
    let node = Node::new();
    let dir = tempfile::tempdir().unwrap();
    let cap = 4096;
    let mut long = vec![patient("l2")];
    long.extend((1..200).map(|n| lab("l2", n)));
    let long = bundle(long);
    assert!(long.len() > 10 * cap);
    let lines = [good("l1"), long, good("l3")];
    // Over the cap on the first line too: classification must not stumble on it.
    let path = write_lines(dir.path(), "long.ndjson", &lines);
    let first = write_lines(
        dir.path(),
        "long-first.ndjson",
        &[lines[1].clone(), lines[0].clone()],
    );
    let options = IngestOptions {
        max_line_bytes: cap,
        ..Default::default()
    };
    let report = ingest_with(&node, &trustee, &[path, first], options).await;
    assert_units(&report, 3, 2);
    assert!(
        report.errors[0].contains("long-first.ndjson line 1: the line has")
            && report.errors[1].contains("long.ndjson line 2: the line has"),
        "{:?}",
        report.errors
    );
    assert!(
        report.errors[1].contains("over the limit of 4096 bytes"),
        "{}",
        report.errors[1]
    );
}

#[tokio::test]
async fn red_team_oversized_json_document_is_rejected_unread() {
    let trustee = Trustee::with_sites(1).await;
    let node = Node::new();
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small.json");
    std::fs::write(&small, good("s1")).unwrap();
    let big = dir.path().join("big.json");
    let mut entries = vec![patient("s2")];
    entries.extend((1..50).map(|n| lab("s2", n)));
    std::fs::write(&big, bundle(entries)).unwrap();
    let options = IngestOptions {
        max_document_bytes: 2048,
        ..Default::default()
    };
    let report = ingest_with(&node, &trustee, &[small, big], options).await;
    assert_units(&report, 1, 1);
    assert!(
        report.errors[0].contains("big.json: the file has")
            && report.errors[0].contains("over the limit of 2048 bytes"),
        "{}",
        report.errors[0]
    );
}

/// A trust centre in front of the real one that refuses, as a stricter one would,
/// every consent request holding a Consent whose id starts `refused` (400), and
/// each patient whose local id starts `refused` alone (a per-item error).
async fn refusing_trust_centre(upstream: String) -> String {
    use axum::extract::Request;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let client = oncofed_tls::http_client();
    let app = axum::Router::new().fallback(move |req: Request| {
        let (client, upstream) = (client.clone(), upstream.clone());
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, 64 << 20).await.unwrap();
            if parts.uri.path() == "/v1/consents" {
                let v: Value = serde_json::from_slice(&body).unwrap();
                let refused = v["items"].as_array().unwrap().iter().position(|item| {
                    item["consent"]["id"]
                        .as_str()
                        .is_some_and(|id| id.starts_with("refused"))
                });
                if let Some(i) = refused {
                    let message = format!("items[{i}].consent.meta: refused by a stricter rule");
                    let body = json!({"code": "invalid", "message": message});
                    return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
                }
            }
            let mut forward = client
                .request(parts.method, format!("{upstream}{}", parts.uri))
                .header("content-type", "application/json")
                .body(body.clone());
            if let Some(auth) = parts.headers.get("authorization") {
                forward = forward.header("authorization", auth);
            }
            let answer = forward.send().await.unwrap();
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
            let mut bytes = answer.bytes().await.unwrap().to_vec();
            if parts.uri.path() == "/v1/pseudonyms" && status.is_success() {
                let asked: Value = serde_json::from_slice(&body).unwrap();
                let mut answer: Value = serde_json::from_slice(&bytes).unwrap();
                let mut errors = Vec::new();
                for (i, item) in asked["items"].as_array().unwrap().iter().enumerate() {
                    if item["local_id"].as_str().unwrap().starts_with("refused") {
                        answer["items"][i] = Value::Null;
                        errors.push(json!({"index": i, "code": "idat_too_long",
                            "message": format!("items[{i}].idat.family: a family name is longer than 200 characters")}));
                    }
                }
                answer["errors"] = json!(errors);
                bytes = serde_json::to_vec(&answer).unwrap();
            }
            (status, bytes).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// A trust centre and site-1's client of it through [`refusing_trust_centre`].
async fn behind_refusing_proxy() -> (Trustee, TrusteeClient) {
    let trustee = Trustee::with_sites(1).await;
    let proxy = refusing_trust_centre(trustee.url().to_owned()).await;
    let client = trustee.client_via(&proxy, "site-1");
    (trustee, client)
}

#[tokio::test]
async fn red_team_consent_refused_by_the_trust_centre_rejects_only_its_unit() {
    let (_trustee, client) = behind_refusing_proxy().await;
    let node = Node::new();
    let dir = tempfile::tempdir().unwrap();
    let mut refused = consent("r2");
    refused["resource"]["id"] = json!("refused-r2");
    // Line 4 needs the patient of line 2: when line 2 is rejected, it cannot land either.
    let mut needs_r2 = lab("r2", 9);
    needs_r2["resource"]["subject"]["reference"] = json!("Patient/r2");
    let lines = [
        bundle(vec![patient("r1"), lab("r1", 1), consent("r1")]),
        bundle(vec![patient("r2"), lab("r2", 1), refused]),
        good("r3"),
        bundle(vec![needs_r2]),
        bundle(vec![patient("r5"), lab("r5", 1), consent("r5")]),
    ];
    let path = write_lines(dir.path(), "refused.ndjson", &lines);
    let why = "a refused consent must not stop the run";
    let report = ingest_via(&node, &client, &[path], IngestOptions::default(), why).await;
    assert_units(&report, 3, 2);
    assert_eq!(report.consents, 2);
    assert_eq!(report.written.facts_new, 3);
    assert_eq!(report.written.patients_new, 3);
    let [consent_error, subject_error] = &report.errors[..] else {
        panic!("{:?}", report.errors)
    };
    assert!(
        consent_error.contains("refused.ndjson line 2: the trust centre refused a Consent")
            && consent_error.contains("items[0].consent.meta: refused by a stricter rule"),
        "{consent_error}"
    );
    assert!(
        subject_error.contains("refused.ndjson line 4: field subject.reference"),
        "{subject_error}"
    );
    assert_no_personal_data(&report.errors);
}

#[tokio::test]
async fn red_team_patient_refused_by_the_trust_centre_rejects_only_its_unit() {
    let (_trustee, client) = behind_refusing_proxy().await;
    let node = Node::new();
    let dir = tempfile::tempdir().unwrap();
    let mut needs_refused = lab("refused-q2", 9);
    needs_refused["resource"]["subject"]["reference"] = json!("Patient/refused-q2");
    let lines = [
        good("q1"),
        good("refused-q2"),
        good("q3"),
        bundle(vec![needs_refused]),
    ];
    let path = write_lines(dir.path(), "patients.ndjson", &lines);
    let why = "a refused patient must not stop the run";
    let report = ingest_via(&node, &client, &[path], IngestOptions::default(), why).await;
    assert_units(&report, 2, 2);
    assert_eq!(report.written.patients_new, 2);
    assert!(
        report.errors[0].contains("patients.ndjson line 2: the trust centre refused a Patient")
            && report.errors[0].contains("idat_too_long: idat.family: a family name is longer")
            && !report.errors[0].contains("items["),
        "{}",
        report.errors[0]
    );
    assert!(
        report.errors[1].contains("patients.ndjson line 4: field subject.reference"),
        "{}",
        report.errors[1]
    );
}
