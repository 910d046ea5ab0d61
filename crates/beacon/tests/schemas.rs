//! Every response this crate builds, validated by Python `jsonschema` (Draft
//! 2020-12) against the vendored Beacon v2.1.1 schemas, plus a broken document
//! that must fail (so this test can fail).
//!
//! Interpreter: `ONCOFED_BEACON_PYTHON`, else `<workspace>/.venv-c4gh/bin/python`,
//! else `<workspace>/.venv/bin/python`, the first that imports `jsonschema` and
//! `referencing` (`scripts/peers/crypt4gh-requirements.txt` pins them). Missing:
//! skipped with a reason, or a failure when `ONCOFED_REQUIRE_PEERS` is set.
use oncofed_beacon::defence::{DefenceConfig, HubQuery, hub_release};
use oncofed_beacon::granularity::Role;
use oncofed_beacon::model::{
    BeaconIdentity, BooleanResponse, ConfigurationResponse, CountResponse, EntryTypesResponse,
    Environment, ErrorResponse, FilteringTerm, FilteringTermsResponse, Granularity, InfoResponse,
    MapResponse, ReceivedRequestSummary, RequestBody,
};
use oncofed_model::SecurityLevel;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("ONCOFED_BEACON_PYTHON") {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(workspace().join(".venv-c4gh/bin/python"));
    candidates.push(workspace().join(".venv/bin/python"));
    let found = candidates.into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import jsonschema, referencing"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if found.is_none() {
        assert!(
            !oncofed_test_peers::peers_required(),
            "no Python with jsonschema found and ONCOFED_REQUIRE_PEERS is set: run scripts/setup-peers"
        );
        println!(
            "skipped: no Python with jsonschema (set ONCOFED_BEACON_PYTHON or run scripts/setup-peers)"
        );
    }
    found
}

fn identity() -> BeaconIdentity {
    BeaconIdentity {
        beacon_id: "org.example.oncofed.beacon".into(),
        name: "OncoFed Beacon".into(),
        organization_id: "org.example".into(),
        organization_name: "OncoFed test network".into(),
        environment: Environment::Test,
        version: env!("CARGO_PKG_VERSION").into(),
        root_url: "https://hub.example.org/api/beacon".into(),
    }
}

const RESP: &str = "framework/json/responses/";

fn cases() -> Vec<(String, &'static str, Value)> {
    let id = identity();
    let request = RequestBody::from_json(
        br#"{"meta":{"apiVersion":"v2.0","requestedSchemas":[{"entityType":"genomicVariant","schema":"ga4gh-beacon-variant-v2.0.0"}]},
            "query":{"requestParameters":{"assemblyId":"GRCh38","referenceName":"7","start":[140753335],"referenceBases":"A","alternateBases":"T"},
                     "filters":[{"id":"NCIT:C3224"}],"requestedGranularity":"count","pagination":{"skip":0,"limit":10},"testMode":true}}"#,
    )
    .unwrap();
    let summary = ReceivedRequestSummary::of(&request);
    let fp = request.variant_query().unwrap().fingerprint();
    let hub = |role, counts: &[u64]| {
        hub_release(
            counts,
            &DefenceConfig::default(),
            &HubQuery {
                fingerprint: &fp,
                level: SecurityLevel::Genetic,
                role,
                requested: Some(Granularity::Count),
                hub_secret: b"hub secret for tests, 32 bytes!!",
            },
        )
        .unwrap()
    };
    let v = |x: Result<Value, serde_json::Error>| x.unwrap();
    vec![
        (
            "boolean".into(),
            "beaconBooleanResponse.json",
            v(serde_json::to_value(BooleanResponse::new(
                &id,
                summary.clone(),
                true,
                None,
            ))),
        ),
        (
            "count".into(),
            "beaconCountResponse.json",
            v(serde_json::to_value(CountResponse::new(
                &id,
                summary.clone(),
                30,
                None,
            ))),
        ),
        (
            "released boolean".into(),
            "beaconBooleanResponse.json",
            hub(Role::Public, &[3, 4]).to_response(&id, summary.clone()),
        ),
        (
            "released count".into(),
            "beaconCountResponse.json",
            hub(Role::Registered, &[30, 40, 5]).to_response(&id, summary.clone()),
        ),
        (
            "error".into(),
            "beaconErrorResponse.json",
            v(serde_json::to_value(ErrorResponse::new(
                &id,
                summary.clone(),
                400,
                "requestParameters.end: missing",
            ))),
        ),
        (
            "error, unreadable request".into(),
            "beaconErrorResponse.json",
            v(serde_json::to_value(ErrorResponse::new(
                &id,
                ReceivedRequestSummary::unreadable(),
                400,
                "request body: expected value",
            ))),
        ),
        (
            "info".into(),
            "beaconInfoResponse.json",
            v(serde_json::to_value(InfoResponse::new(
                &id,
                "germline and somatic variants",
            ))),
        ),
        (
            "configuration".into(),
            "beaconConfigurationResponse.json",
            v(serde_json::to_value(ConfigurationResponse::new(
                &id,
                &Role::ALL,
            ))),
        ),
        (
            "map".into(),
            "beaconMapResponse.json",
            v(serde_json::to_value(MapResponse::new(&id))),
        ),
        (
            "entry types".into(),
            "beaconEntryTypesResponse.json",
            v(serde_json::to_value(EntryTypesResponse::new(&id))),
        ),
        (
            "filtering terms".into(),
            "beaconFilteringTermsResponse.json",
            v(serde_json::to_value(FilteringTermsResponse::new(
                &id,
                &[FilteringTerm {
                    kind: "ontology term".into(),
                    id: "NCIT:C3224".into(),
                    label: Some("Melanoma".into()),
                    scopes: vec!["genomicVariant".into()],
                }],
                &[("ncit", "NCI Thesaurus", "https://ncit.nci.nih.gov")],
            ))),
        ),
    ]
}

fn validate(py: &Path, cases: &[(String, &str, Value)]) -> Vec<Value> {
    let input: Vec<Value> = cases
        .iter()
        .map(|(name, schema, doc)| json!({ "name": name, "schema": format!("{RESP}{schema}"), "document": doc }))
        .collect();
    let mut child = Command::new(py)
        .arg(workspace().join("scripts/peers/beacon_validate.py"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the validator");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "validator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn every_response_validates_against_the_beacon_v2_schemas() {
    let Some(py) = python() else { return };
    let cases = cases();
    let results = validate(&py, &cases);
    assert_eq!(results.len(), cases.len());
    for r in &results {
        assert_eq!(r["valid"], true, "{}: {}", r["name"], r["errors"]);
    }
    println!("{} response documents valid", results.len());
}

#[test]
fn a_broken_response_fails_validation() {
    let Some(py) = python() else { return };
    let mut cases = cases();
    let (_, _, doc) = &mut cases[1];
    // numTotalResults must be an integer ≥ 0, and returnedGranularity one of the enum.
    doc["responseSummary"]["numTotalResults"] = json!(-3);
    doc["meta"]["returnedGranularity"] = json!("individual");
    let (_, _, err) = &mut cases[4];
    err["error"].as_object_mut().unwrap().remove("errorCode");
    let results = validate(&py, &cases[..5]);
    assert_eq!(results[1]["valid"], false);
    let errors = results[1]["errors"].to_string();
    assert!(
        errors.contains("numTotalResults") && errors.contains("returnedGranularity"),
        "{errors}"
    );
    assert_eq!(results[4]["valid"], false, "{}", results[4]["errors"]);
    assert_eq!(results[0]["valid"], true);
}
