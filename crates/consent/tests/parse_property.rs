//! The parser takes outside input: it never panics, and its errors never quote
//! what they were given (a Consent may carry personal data).

use oncofed_consent::parse_consent;
use proptest::prelude::*;
use serde_json::{Value, json};

/// A marker standing for personal data; it must never appear in an error.
const SECRET: &str = "Erika Mustermann 1964";

/// Arbitrary JSON, with the marker among the strings.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        Just(json!(SECRET)),
        prop::sample::select(vec![
            "active",
            "deny",
            "permit",
            "2024",
            "2024-02-30",
            "Consent",
            "urn:oncofed:consent-policy",
            "withdrawal"
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "resourceType",
                        "status",
                        "dateTime",
                        "provision",
                        "type",
                        "period",
                        "start",
                        "end",
                        "code",
                        "coding",
                        "system",
                        "policy",
                        "uri",
                        "id"
                    ]),
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

/// A valid Consent with one element replaced by arbitrary JSON.
fn mutated_consent() -> impl Strategy<Value = Value> {
    let paths = prop::sample::select(vec![
        "/status",
        "/dateTime",
        "/id",
        "/policy",
        "/policy/0/uri",
        "/provision",
        "/provision/type",
        "/provision/period",
        "/provision/period/end",
        "/provision/code",
        "/provision/code/0/coding/0/code",
        "/provision/provision",
        "/provision/provision/0/type",
        "/provision/provision/0/code/0",
    ]);
    (paths, any_json()).prop_map(|(path, v)| {
        let mut c = json!({"resourceType": "Consent", "id": "c-1", "status": "active", "dateTime": "2024-01-01",
            "policy": [{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.2079"}],
            "provision": {"type": "deny", "period": {"start": "2024-01-01"},
              "code": [{"coding": [{"system": "urn:oncofed:consent-policy", "code": "withdrawal"}]}],
              "provision": [{"type": "permit", "code": [{"coding": [{"system": "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3", "code": "2.16.840.1.113883.3.1937.777.24.5.3.8"}]}]}]}});
        if let Some(slot) = c.pointer_mut(path) {
            *slot = v;
        }
        c
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics_nor_echoes(v in prop_oneof![any_json(), mutated_consent()]) {
        if let Err(e) = parse_consent(&v) {
            let msg = e.to_string();
            prop_assert!(!msg.contains("Erika") && !msg.contains("1964"), "{}", msg);
        }
    }
}
