//! Regression tests for the red-team findings on the mapper (issue 9, defect 5): a
//! Consent the trust centre would refuse is refused here, naming entry and field, and
//! a line that is not UTF-8 is an error of that line.

use oncofed_fhir::{MapErrorKind, map_ndjson_bytes, map_ndjson_line};
use serde_json::{Value, json};

fn consent() -> Value {
    json!({"resourceType": "Consent", "id": "c1", "status": "active", "dateTime": "2024-01-01",
        "patient": {"reference": "urn:uuid:p1"},
        "policy": [{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.1791"}],
        "provision": {"type": "deny", "provision": [{"type": "permit",
            "code": [{"coding": [{"system": "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3",
                                  "code": "2.16.840.1.113883.3.1937.777.24.5.3.8"}]}]}]}})
}

fn bundle_with(consent: Value) -> String {
    json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:p1", "resource": {"resourceType": "Patient", "id": "p1",
            "gender": "female", "birthDate": "1958-11-23",
            "name": [{"family": "Brandt", "given": ["Waltraud"]}]}},
        {"fullUrl": "urn:uuid:c1", "resource": consent}]})
    .to_string()
}

#[test]
fn red_team_malformed_consent_is_refused_by_the_mapper_like_the_trust_centre() {
    // The valid Consent maps and is the one the trust centre accepts.
    let b = map_ndjson_line(&bundle_with(consent()), "site-1/c.ndjson", 7).unwrap();
    assert_eq!(b.consents.len(), 1);
    assert!(oncofed_consent::parse_consent(&b.consents[0].resource).is_ok());

    type Mutation = fn(&mut Value);
    let cases: [(Mutation, &str); 5] = [
        (
            |c| _ = c.as_object_mut().unwrap().remove("status"),
            "status",
        ),
        (
            |c| _ = c.as_object_mut().unwrap().remove("provision"),
            "provision",
        ),
        (|c| c["status"] = json!("Waltraud"), "status"),
        (
            |c| c["provision"]["provision"][0]["type"] = json!("maybe"),
            "provision.provision[0].type",
        ),
        (|c| c["dateTime"] = json!("23.11.1958"), "dateTime"),
    ];
    for (mutate, field) in cases {
        let mut c = consent();
        mutate(&mut c);
        // The trust centre's parser refuses it with this field ...
        let tc = oncofed_consent::parse_consent(&c).unwrap_err();
        assert_eq!(tc.field, field);
        // ... and so does the mapper, naming file, line, entry and field.
        let e = map_ndjson_line(&bundle_with(c), "site-1/c.ndjson", 7).unwrap_err();
        assert_eq!(
            (
                e.line,
                e.entry,
                e.resource_type.as_deref(),
                e.field.as_deref()
            ),
            (Some(7), Some(1), Some("Consent"), Some(field)),
            "{e}"
        );
        assert_eq!(
            e.kind,
            MapErrorKind::InvalidConsent {
                problem: tc.problem
            }
        );
        let text = e.to_string();
        assert!(
            text.starts_with(&format!(
                "site-1/c.ndjson line 7, entry 1 (Consent): field {field}: invalid Consent"
            )),
            "{text}"
        );
        for personal in ["Waltraud", "Brandt", "1958"] {
            assert!(!text.contains(personal), "{text}");
        }
    }
}

#[test]
fn red_team_invalid_utf8_line_is_an_error_of_that_line() {
    let line =
        b"{\"resourceType\": \"Patient\", \"id\": \"p1\", \"name\": [{\"family\": \"M\xfcller\"}]}";
    let e = map_ndjson_bytes(line, "site-1/p.ndjson", 1).unwrap_err();
    assert_eq!(e.line, Some(1));
    assert_eq!(
        e.kind,
        MapErrorKind::NotUtf8 {
            line: 1,
            column: 63
        }
    );
    assert!(
        e.to_string()
            .starts_with("site-1/p.ndjson line 1: not UTF-8 at line 1, column 63"),
        "{e}"
    );
    // The same bytes as UTF-8 map as usual; a blank line is an empty batch.
    let fixed = String::from_utf8_lossy(line).replace('\u{fffd}', "ü");
    let b = map_ndjson_bytes(fixed.as_bytes(), "site-1/p.ndjson", 1).unwrap();
    assert_eq!(b.patients.len(), 1);
    assert_eq!(
        map_ndjson_bytes(b" \r", "p.ndjson", 2).unwrap().resources,
        0
    );
}
