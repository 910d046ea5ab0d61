//! Unit tests of the FHIR Consent parser (`fhir.rs`).

use super::*;
use serde_json::json;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

#[test]
fn fhir_datetimes() {
    let y = parse_fhir_datetime("2024").unwrap();
    assert_eq!((y.first_day, y.last_day), (d(2024, 1, 1), d(2024, 12, 31)));
    let m = parse_fhir_datetime("2024-02").unwrap();
    assert_eq!((m.first_day, m.last_day), (d(2024, 2, 1), d(2024, 2, 29)));
    let dec = parse_fhir_datetime("2023-12").unwrap();
    assert_eq!(dec.last_day, d(2023, 12, 31));
    let t = parse_fhir_datetime("2024-03-01T00:30:00+01:00").unwrap();
    assert_eq!(t.first_day, d(2024, 3, 1));
    assert_eq!(t.instant, d(2024, 2, 29).and_hms_opt(23, 30, 0).unwrap());
    assert!(parse_fhir_datetime("2024-03-01T10:00:00.123Z").is_some());
    for bad in [
        "",
        "24",
        "2024-13",
        "2024-02-30",
        "2024-1-01",
        "+024-01-01",
        "2024-03-01T10:00",
        "yesterday",
    ] {
        assert_eq!(parse_fhir_datetime(bad), None, "{bad}");
    }
}

#[test]
fn mii_broad_consent_shape() {
    let c = parse_consent(&json!({
        "resourceType": "Consent", "id": "bc-1", "status": "active", "dateTime": "2023-05-01",
        "policy": [{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.1791"}],
        "provision": {"type": "deny", "period": {"start": "2023-05-01", "end": "2028-04-30"},
            "provision": [{"type": "permit", "period": {"start": "2023-05-01", "end": "2028-04-30"},
                "code": [{"coding": [{"system": "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3",
                    "code": "2.16.840.1.113883.3.1937.777.24.5.3.8", "display": "MDAT wissenschaftlich nutzen"}]},
                    {"coding": [{"system": "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3", "code": "2.16.840.1.113883.3.1937.777.24.5.3.6"}]}]}]}
    }))
    .unwrap();
    assert_eq!(c.resource_id.as_deref(), Some("bc-1"));
    assert_eq!(c.status, ConsentStatus::Active);
    let nested = &c.provision.provisions[0];
    assert_eq!(nested.kind, Some(ProvisionType::Permit));
    let mii = |arc| PolicyCode::Mii(crate::MiiCode::from_arc(arc).unwrap());
    assert_eq!(nested.codes, vec![mii(8), mii(6)]);
    assert_eq!(nested.period.end, Some(d(2028, 4, 30)));
    assert_eq!(c.document, DocumentKind::Consent);
}

#[test]
fn documents_and_unrecognised_concepts() {
    let with = |policy: Value, code: Value| {
        parse_consent(
            &json!({"resourceType": "Consent", "status": "active", "dateTime": "2024",
            "policy": policy, "provision": {"type": "deny", "code": code}}),
        )
    };
    let coding = |system: &str, code: &str| json!([{"coding": [{"system": system, "code": code}]}]);
    let withdrawal = json!([{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.1791"},
                            {"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.2720"}]);
    let c = with(
        withdrawal,
        coding(
            crate::MII_POLICY_SYSTEM,
            "2.16.840.1.113883.3.1937.777.24.5.3.8",
        ),
    )
    .unwrap();
    assert_eq!(c.document, DocumentKind::FullWithdrawal);
    let partial = json!([{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.2723"}]);
    assert_eq!(
        with(partial, json!([])).unwrap().document,
        DocumentKind::PartialWithdrawal
    );
    let refusal = json!([{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.4054"}]);
    assert_eq!(
        with(refusal, json!([])).unwrap().document,
        DocumentKind::Refusal
    );
    let other = json!([{"uri": "https://example.org/policy"}]);
    assert_eq!(
        with(other.clone(), json!([])).unwrap().document,
        DocumentKind::Consent
    );
    // Unknown MII code, unknown OncoFed code, foreign-only concept, text-only concept.
    for code in [
        coding(
            crate::MII_POLICY_SYSTEM,
            "2.16.840.1.113883.3.1937.777.24.5.3.999",
        ),
        coding(crate::ONCOFED_POLICY_SYSTEM, "everything"),
        coding("http://example.org", "gdng-objection"),
        json!([{"text": "Widerspruch"}]),
    ] {
        assert_eq!(
            with(other.clone(), code).unwrap().provision.codes,
            vec![PolicyCode::Unrecognised]
        );
    }
    // A foreign coding beside a known one is ignored.
    let mixed = json!([{"coding": [{"system": "http://example.org", "code": "x"},
                                   {"system": crate::ONCOFED_POLICY_SYSTEM, "code": "withdrawal"}]}]);
    assert_eq!(
        with(other.clone(), mixed).unwrap().provision.codes,
        vec![PolicyCode::Withdrawal]
    );
    assert_eq!(
        with(json!({"uri": "x"}), json!([])).unwrap_err().field,
        "policy"
    );
    assert_eq!(
        with(json!([{"uri": 5}]), json!([])).unwrap_err().field,
        "policy[0].uri"
    );
}

#[test]
fn errors_name_the_field_not_the_value() {
    let base = || {
        json!({"resourceType": "Consent", "status": "active", "dateTime": "2024-01-01",
               "patient": {"reference": "Patient/p1", "display": "Erika Mustermann"},
               "provision": {"type": "deny", "code": [{"coding": [{"system": "urn:oncofed:consent-policy", "code": "withdrawal"}]}]}})
    };
    assert!(parse_consent(&base()).is_ok());
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Mutation, &str)> = vec![
        (
            Box::new(|v| v["resourceType"] = json!("Patient")),
            "resourceType",
        ),
        (
            Box::new(|v| v["status"] = json!("Erika Mustermann")),
            "status",
        ),
        (
            Box::new(|v| _ = v.as_object_mut().unwrap().remove("dateTime")),
            "dateTime",
        ),
        (
            Box::new(|v| v["dateTime"] = json!("12.08.1964")),
            "dateTime",
        ),
        (Box::new(|v| v["id"] = json!("Erika Mustermann")), "id"),
        (
            Box::new(|v| _ = v.as_object_mut().unwrap().remove("provision")),
            "provision",
        ),
        (
            Box::new(|v| v["provision"]["type"] = json!("maybe")),
            "provision.type",
        ),
        (
            Box::new(|v| _ = v["provision"].as_object_mut().unwrap().remove("type")),
            "provision.type",
        ),
        (
            Box::new(|v| v["provision"]["period"] = json!({"end": "Mustermann"})),
            "provision.period.end",
        ),
        (
            Box::new(|v| {
                v["provision"]["period"] = json!({"start": "2025-01-01", "end": "2024-01-01"})
            }),
            "provision.period",
        ),
        (
            Box::new(|v| v["provision"]["code"] = json!("withdrawal")),
            "provision.code",
        ),
        (
            Box::new(|v| {
                v["provision"]["provision"] = json!([{}, {"code": [{"coding": [{"code": 5}]}]}])
            }),
            "provision.provision[1].code[0].coding[0].code",
        ),
    ];
    for (mutate, field) in cases {
        let mut v = base();
        mutate(&mut v);
        let e = parse_consent(&v).unwrap_err();
        assert_eq!(e.field, field, "{e}");
        let msg = e.to_string();
        assert!(
            !msg.contains("Erika") && !msg.contains("Mustermann") && !msg.contains("1964"),
            "{msg}"
        );
    }
}

#[test]
fn nested_provisions_inherit_type_and_depth_is_bounded() {
    let c = parse_consent(
        &json!({"resourceType": "Consent", "status": "active", "dateTime": "2024",
        "provision": {"type": "permit", "provision": [{"code": [{"coding": [
            {"system": "urn:oncofed:consent-policy", "code": "genetic-research"}]}]}]}}),
    )
    .unwrap();
    assert_eq!(c.provision.provisions[0].kind, Some(ProvisionType::Permit));
    let mut deep = json!({"type": "deny"});
    for _ in 0..MAX_DEPTH {
        deep = json!({"provision": [deep]});
    }
    let v = json!({"resourceType": "Consent", "status": "active", "dateTime": "2024", "provision": deep});
    assert_eq!(
        parse_consent(&v).unwrap_err().problem,
        "provisions nested too deeply"
    );
}
