//! The errors the node reports: where they point and that they never echo personal data.

use oncofed_fhir::{MapError, MapErrorKind, map_document, map_ndjson_line};
use serde_json::{Value, json};

const BUNDLE: &str = include_str!("fixtures/oncology-bundle.json");

fn bundle() -> Value {
    serde_json::from_str(BUNDLE).unwrap()
}

fn doc_err(v: &Value) -> MapError {
    map_document(v.to_string().as_bytes(), "site-1/a.json").expect_err("should fail")
}

fn line_err(v: &Value) -> MapError {
    map_ndjson_line(&v.to_string(), "site-1/b.ndjson", 3).expect_err("should fail")
}

fn observation() -> Value {
    json!({"resourceType": "Observation", "id": "o1",
        "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
        "subject": {"reference": "Patient/p1"},
        "valueQuantity": {"value": 9.5, "code": "g/dL"}})
}

#[test]
fn invalid_json() {
    let e = map_document(b"{\"resourceType\": \"Patient\",, }", "a.json").unwrap_err();
    assert!(
        matches!(
            e.kind,
            MapErrorKind::Json {
                line: 1,
                column: 28,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with("a.json (Patient): invalid JSON at line 1, column 28"),
        "{e}"
    );
    let e = map_document(b"[1, 2]", "a.json").unwrap_err();
    assert_eq!(e.kind, MapErrorKind::NotAnObject);
    let e = map_document(b"  \n ", "a.json").unwrap_err();
    assert_eq!(e.kind, MapErrorKind::Empty);
    let e = map_document(b"{\"a\": \"\xff\"}", "a.json").unwrap_err();
    assert_eq!(e.kind, MapErrorKind::NotUtf8 { line: 1, column: 8 });
    let e = map_ndjson_line("{\"id\": \"x\"}", "b.ndjson", 4).unwrap_err();
    assert_eq!(
        (e.line, e.kind),
        (Some(4), MapErrorKind::MissingResourceType)
    );
}

#[test]
fn truncated_file_reports_position_not_content() {
    let text = bundle().to_string();
    let cut = &text[..text.find("Mustermann").unwrap() + 5];
    let e = map_document(cut.as_bytes(), "site-1/a.json").unwrap_err();
    assert!(
        matches!(e.kind, MapErrorKind::Truncated { line: 1, .. }),
        "{e}"
    );
    assert_eq!(e.entry, Some(0), "{e}");
    assert!(!e.to_string().contains("Muste"), "{e}");
    // Pretty-printed: the line of the document is given.
    let cut = &BUNDLE[..BUNDLE.len() / 2];
    let e = map_document(cut.as_bytes(), "site-1/a.json").unwrap_err();
    assert!(
        matches!(e.kind, MapErrorKind::Truncated { line, .. } if line > 100),
        "{e}"
    );
}

#[test]
fn unknown_resource_type() {
    let e = line_err(&json!({"resourceType": "Observaton", "id": "x"}));
    assert_eq!(
        e.kind,
        MapErrorKind::UnknownResourceType {
            found: "Observaton".into()
        }
    );
    assert!(
        e.to_string().contains("is not a FHIR R4 resource type"),
        "{e}"
    );
    let mut b = bundle();
    b["entry"][4]["resource"]["resourceType"] = json!("Specimens");
    let e = doc_err(&b);
    assert_eq!(e.entry, Some(4));
    // R5-only types are not R4.
    assert!(matches!(
        line_err(&json!({"resourceType": "SubscriptionTopic"})).kind,
        MapErrorKind::UnknownResourceType { .. }
    ));
}

#[test]
fn missing_subject() {
    let mut o = observation();
    o.as_object_mut().unwrap().remove("subject");
    let e = line_err(&o);
    assert_eq!(e.field.as_deref(), Some("subject"));
    assert!(matches!(e.kind, MapErrorKind::Missing { .. }));
    assert_eq!(
        e.to_string(),
        "site-1/b.ndjson line 3 (Observation): field subject: required element is missing; \
         every Observation needs a subject referencing its Patient"
    );
    o["subject"] = json!({"display": "Erika Mustermann"});
    let e = line_err(&o);
    assert_eq!(e.field.as_deref(), Some("subject.reference"));
    assert!(!e.to_string().contains("Erika"));
}

#[test]
fn references() {
    let mut o = observation();
    o["subject"]["reference"] = json!("Group/g1");
    assert_eq!(line_err(&o).kind, MapErrorKind::ReferenceFormat);
    o["subject"]["reference"] = json!("urn:uuid:6b3a0b5e-0000-0000-0000-000000000000");
    let e = line_err(&o);
    assert_eq!(
        (e.kind, e.field.as_deref()),
        (MapErrorKind::UnresolvedReference, Some("subject.reference"))
    );
    // In a Bundle, a urn:uuid must name a Patient entry: here it names the Condition.
    let mut b = bundle();
    b["entry"][3]["resource"]["subject"]["reference"] = b["entry"][2]["fullUrl"].clone();
    let e = doc_err(&b);
    assert_eq!(
        (e.entry, e.kind),
        (Some(3), MapErrorKind::UnresolvedReference)
    );
    o["subject"]["reference"] = json!("Patient/has space");
    assert_eq!(line_err(&o).kind, MapErrorKind::InvalidId);
}

#[test]
fn wrong_code_system() {
    let mut o = observation();
    o["code"]["coding"][0]["system"] = json!("http://example.org/lab-codes");
    let e = line_err(&o);
    assert_eq!(e.field.as_deref(), Some("code.coding"));
    let text = e.to_string();
    assert!(
        text.contains("wrong code system http://example.org/lab-codes"),
        "{text}"
    );
    assert!(
        text.contains("use one of: http://loinc.org, http://snomed.info/sct"),
        "{text}"
    );
    let c = json!({"resourceType": "Condition", "subject": {"reference": "Patient/p"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]}});
    let text = line_err(&c).to_string();
    assert!(
        text.contains("http://fhir.de/CodeSystem/bfarm/icd-10-gm"),
        "{text}"
    );
    let c = json!({"resourceType": "Condition", "subject": {"reference": "Patient/p"}, "code": {"text": "AML"}});
    assert!(matches!(line_err(&c).kind, MapErrorKind::NoCoding { .. }));
}

#[test]
fn quantity_needs_value_and_ucum_code() {
    let mut o = observation();
    o["valueQuantity"] = json!({"value": 9.5});
    let e = line_err(&o);
    assert!(
        e.to_string().starts_with(
            "site-1/b.ndjson line 3 (Observation): field valueQuantity.code: a quantity needs a UCUM unit code"
        ),
        "{e}"
    );
    o["valueQuantity"] = json!({"value": "9,5", "code": "g/dL"});
    let e = line_err(&o);
    assert_eq!(e.field.as_deref(), Some("valueQuantity.value"));
    assert_eq!(
        e.kind,
        MapErrorKind::WrongType {
            expected: "a number".into()
        }
    );
    assert!(!e.to_string().contains("9,5"));
    o["valueQuantity"] = json!({"code": "g/dL"});
    assert_eq!(line_err(&o).kind, MapErrorKind::MissingValue);
}

#[test]
fn invalid_dates() {
    let mut o = observation();
    o["effectiveDateTime"] = json!("2023-02-30");
    let e = line_err(&o);
    assert_eq!(
        (e.field.as_deref(), e.kind),
        (Some("effectiveDateTime"), MapErrorKind::InvalidDate)
    );
    let mut b = bundle();
    b["entry"][13]["resource"]["performedDateTime"] = json!("10.06.2023");
    let e = doc_err(&b);
    assert_eq!(
        (e.entry, e.field.as_deref()),
        (Some(13), Some("performedDateTime"))
    );
}

#[test]
fn molecular_without_gene() {
    let mut b = bundle();
    b["entry"][10]["resource"]
        .as_object_mut()
        .unwrap()
        .remove("component");
    let e = doc_err(&b);
    assert_eq!((e.entry, e.kind), (Some(10), MapErrorKind::MissingGene));
}

#[test]
fn bundle_shape() {
    let mut b = bundle();
    b["type"] = json!("history");
    assert!(matches!(doc_err(&b).kind, MapErrorKind::BundleType { .. }));
    let mut b = bundle();
    b["entry"][5].as_object_mut().unwrap().remove("resource");
    assert_eq!(doc_err(&b).kind, MapErrorKind::EntryWithoutResource);
    let mut b = bundle();
    b["entry"][6]["fullUrl"] = json!(42);
    let e = doc_err(&b);
    assert_eq!((e.entry, e.field.as_deref()), (Some(6), Some("fullUrl")));
    let mut b = bundle();
    b["entry"][6]["resource"]["subject"] = json!("Patient/pat-1");
    let e = doc_err(&b);
    assert_eq!((e.entry, e.field.as_deref()), (Some(6), Some("subject")));
    assert_eq!(
        e.kind,
        MapErrorKind::WrongType {
            expected: "a JSON object".into()
        }
    );
    for t in ["batch", "collection", "searchset", "message"] {
        let mut b = bundle();
        b["type"] = json!(t);
        assert!(
            map_document(b.to_string().as_bytes(), "a.json").is_ok(),
            "{t}"
        );
    }
}

#[test]
fn ten_thousand_entries_one_bad() {
    let patient = json!({"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000001",
        "resource": {"resourceType": "Patient", "id": "p1", "gender": "female"}});
    let obs = |i: usize| {
        let mut o = observation();
        o["id"] = json!(format!("o{i}"));
        o["subject"]["reference"] = json!("urn:uuid:00000000-0000-4000-8000-000000000001");
        json!({"fullUrl": format!("urn:uuid:00000000-0000-4000-8000-{i:012}"), "resource": o})
    };
    let mut entries: Vec<Value> = vec![patient];
    entries.extend((1..10_000).map(obs));
    entries[7321]["resource"]["valueQuantity"]
        .as_object_mut()
        .unwrap()
        .remove("code");
    let b = json!({"resourceType": "Bundle", "type": "collection", "entry": entries});
    let e = doc_err(&b);
    assert_eq!(
        (e.entry, e.field.as_deref()),
        (Some(7321), Some("valueQuantity.code"))
    );
    assert!(
        e.to_string()
            .starts_with("site-1/a.json entry 7321 (Observation): field valueQuantity.code"),
        "{e}"
    );
    entries_ok(b);
}

fn entries_ok(mut b: Value) {
    b["entry"][7321]["resource"]["valueQuantity"]["code"] = json!("g/dL");
    let batch = map_document(b.to_string().as_bytes(), "a.json").unwrap();
    assert_eq!((batch.resources, batch.facts.len()), (10_000, 9_999));
    assert!(batch.facts.iter().all(|f| f.subject == "p1"));
}

#[test]
fn kvnr_check_digit_error_names_the_rule_not_the_value() {
    let mut b = bundle();
    b["entry"][0]["resource"]["identifier"][0]["value"] = json!("A123456781");
    let e = doc_err(&b);
    assert_eq!(e.field.as_deref(), Some("identifier[0].value"));
    assert!(matches!(e.kind, MapErrorKind::Kvnr(_)));
    let text = e.to_string();
    assert!(
        text.contains("check digit") && !text.contains("12345678"),
        "{text}"
    );
}

/// No error about a Patient shows its name, birth date, address or identifiers.
#[test]
fn errors_never_contain_identifying_data() {
    let secrets = [
        "Erika",
        "Mustermann",
        "Gabler",
        "1964",
        "08-12",
        "Hauptstra",
        "Köln",
        "50667",
        "MRN-778899",
        "A12345678",
    ];
    let breakages: [(&str, Value); 9] = [
        ("gender", json!("Erika Mustermann")),
        ("birthDate", json!("1964-08-32")),
        ("birthDate", json!(19640812)),
        ("deceasedDateTime", json!("12.08.1964")),
        ("name", json!({"family": "Mustermann"})),
        ("address", json!([{"city": ["Köln"], "postalCode": 50667}])),
        (
            "identifier",
            json!([{"system": "http://fhir.de/sid/gkv/kvid-10", "value": "A12345678X"}]),
        ),
        ("id", json!("Erika Mustermann 1964-08-12")),
        (
            "identifier",
            json!([{"system": "http://fhir.de/sid/gkv/kvid-10", "value": ["MRN-778899"]}]),
        ),
    ];
    for (field, value) in breakages {
        let mut b = bundle();
        b["entry"][0]["resource"][field] = value.clone();
        for e in [doc_err(&b), line_err(&b["entry"][0]["resource"])] {
            let text = format!("{e} {e:?}");
            for s in secrets {
                assert!(
                    !text.contains(s),
                    "{field}={value}: error leaks {s:?}: {text}"
                );
            }
            assert!(
                e.field.as_deref().is_some_and(|f| f.starts_with(field)),
                "{field}: {e}"
            );
        }
    }
}

/// Red-team defect 4 (issue 9): an absurd name is refused at the site with the
/// element named, like every other error, before it reaches the trust centre;
/// the bounds are the trust centre's (`oncofed_idat::bounds`).
#[test]
fn red_team_absurd_patient_name_is_refused_with_its_field() {
    use oncofed_idat::bounds::{MAX_GIVEN_NAMES, MAX_NAME_CHARS};
    let absurd = format!("Mustermann{}", "x".repeat(100_000));
    let cases: [(&str, Value, &str); 6] = [
        (
            "name",
            json!([{"use": "official", "family": absurd, "given": ["Erika"]}]),
            "name[0].family",
        ),
        (
            "name",
            json!([{"use": "official", "family": "Mustermann", "given": ["Erika"]},
                   {"use": "maiden", "family": "Gabler", "given": ["Erika", absurd]}]),
            "name[1].given[1]",
        ),
        (
            "name",
            json!([{"family": "Mustermann", "given": vec!["Erika"; MAX_GIVEN_NAMES + 1]}]),
            "name[0].given",
        ),
        (
            "address",
            json!([{"line": ["Hauptstraße 12a", absurd], "city": "Köln"}]),
            "address[0].line[1]",
        ),
        (
            "address",
            json!([{"line": ["Hauptstraße 12a"], "postalCode": "5".repeat(10_000)}]),
            "address[0].postalCode",
        ),
        (
            "address",
            json!([{"line": ["Hauptstraße 12a"], "city": absurd}]),
            "address[0].city",
        ),
    ];
    for (element, value, field) in cases {
        let mut b = bundle();
        b["entry"][0]["resource"][element] = value;
        let doc = doc_err(&b);
        assert_eq!(doc.entry, Some(0), "{doc}");
        let line = line_err(&b["entry"][0]["resource"]);
        assert_eq!(line.line, Some(3), "{line}");
        for e in [doc, line] {
            assert_eq!(e.field.as_deref(), Some(field), "{e}");
            assert_eq!(e.resource_type.as_deref(), Some("Patient"));
            assert!(matches!(e.kind, MapErrorKind::IdatBound(_)), "{e}");
            let text = e.to_string();
            assert!(
                text.contains("longer than") || text.contains("more than"),
                "{text}"
            );
            assert!(
                !text.contains("Mustermann") && !text.contains("xxxx"),
                "{text}"
            );
        }
    }
    // At the bound it maps, and the value arrives whole.
    let mut b = bundle();
    let longest = "ü".repeat(MAX_NAME_CHARS);
    b["entry"][0]["resource"]["name"] =
        json!([{"use": "official", "family": longest, "given": ["Erika"]}]);
    let batch = map_document(b.to_string().as_bytes(), "site-1/a.json").unwrap();
    let p = batch
        .patients
        .iter()
        .find(|p| p.local_id == "pat-1")
        .expect("mapped");
    assert_eq!(p.idat.family.as_deref(), Some(longest.as_str()));
    assert!(p.idat.check_bounds().is_ok());
}
