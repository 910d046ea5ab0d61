//! No input makes the mapper panic: random mutations of a valid Bundle (fields deleted,
//! types changed, strings replaced) and every truncation of a small Bundle.

use oncofed_fhir::{map_document, map_ndjson_line};
use proptest::prelude::*;
use serde_json::{Value, json};

const BUNDLE: &str = include_str!("fixtures/oncology-bundle.json");

/// Every path (as keys and indices) to a value in `v`.
fn paths(v: &Value, prefix: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(prefix.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                prefix.push(json!(k));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                prefix.push(json!(i));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn at<'v>(v: &'v mut Value, path: &[Value]) -> Option<&'v mut Value> {
    path.iter().try_fold(v, |v, seg| match seg {
        Value::String(k) => v.get_mut(k.as_str()),
        Value::Number(i) => v.get_mut(i.as_u64()? as usize),
        _ => None,
    })
}

/// A replacement value of another JSON type, or a tricky string.
fn replacement() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(Value::Null)),
        Just(Some(json!(true))),
        Just(Some(json!(-1.5e300))),
        Just(Some(json!(0))),
        Just(Some(json!([]))),
        Just(Some(json!({}))),
        Just(Some(json!([{"a": 1}]))),
        Just(Some(json!("urn:uuid:"))),
        Just(Some(json!("Patient/"))),
        Just(Some(json!("2024-02-30T25:61:00+99:00"))),
        Just(Some(json!("\u{0}\u{feff}†"))),
        ".{0,12}".prop_map(|s| Some(json!(s))),
    ]
}

fn check(text: &str) {
    let _ = map_document(text.as_bytes(), "p.json");
    let _ = map_ndjson_line(text, "p.ndjson", 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_bundles_do_not_panic(picks in proptest::collection::vec((any::<prop::sample::Index>(), replacement()), 1..4)) {
        let mut v: Value = serde_json::from_str(BUNDLE).unwrap();
        for (pick, new) in picks {
            let mut all = Vec::new();
            paths(&v, &mut Vec::new(), &mut all);
            let path = pick.get(&all).clone();
            match (new, path.split_last()) {
                // Delete the element.
                (None, Some((last, parent))) => match (at(&mut v, parent), last) {
                    (Some(Value::Object(m)), Value::String(k)) => { m.remove(k); }
                    (Some(Value::Array(a)), Value::Number(i)) => { a.remove(i.as_u64().unwrap() as usize); }
                    _ => {}
                },
                (Some(new), _) => if let Some(slot) = at(&mut v, &path) { *slot = new },
                (None, None) => {}
            }
        }
        check(&v.to_string());
    }

    #[test]
    fn random_bytes_do_not_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = map_document(&bytes, "r.json");
        let _ = map_ndjson_line(&String::from_utf8_lossy(&bytes), "r.ndjson", 1);
    }
}

#[test]
fn every_truncation_of_a_small_bundle_is_an_error_not_a_panic() {
    let small = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "id": "p", "birthDate": "1970-01-01",
            "identifier": [{"system": "http://fhir.de/sid/gkv/kvid-10", "value": "A123456780"}]}},
        {"resource": {"resourceType": "Observation", "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
            "subject": {"reference": "urn:uuid:1"}, "valueQuantity": {"value": 1.5e1, "code": "g/dL"}}}
    ]})
    .to_string();
    assert!(map_document(small.as_bytes(), "s.json").is_ok());
    for (cut, _) in small.char_indices().skip(1) {
        let text = &small[..cut];
        assert!(
            map_document(text.as_bytes(), "s.json").is_err(),
            "cut at {cut}"
        );
        assert!(
            map_ndjson_line(text, "s.ndjson", 1).is_err(),
            "cut at {cut}"
        );
    }
    // Deep nesting hits serde_json's recursion limit, not the stack.
    let deep = format!(
        "{{\"resourceType\":\"Consent\",\"patient\":{{\"reference\":\"Patient/p\"}},\"x\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    check(&deep);
}
