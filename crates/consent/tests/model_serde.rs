//! The serialised model ([`oncofed_consent::MODEL_VERSION`]) is what the consent
//! feed carries from the trust centre to site nodes: it must round-trip exactly,
//! so that a node decides on the very values the trust centre parsed, and it
//! must refuse values no parse could produce.

use oncofed_consent::{Consent, MII_POLICY_SYSTEM, ONCOFED_POLICY_SYSTEM, parse_consent};
use serde_json::{Value, json};

/// Consents of every shape the engine distinguishes: MII broad consent with
/// nested provisions and data periods, a full withdrawal document, a partial
/// withdrawal, an OncoFed objection, a genetic opt-in, a root deny.
fn samples() -> Vec<Value> {
    let mdat = "2.16.840.1.113883.3.1937.777.24.5.3.8";
    vec![
        json!({"resourceType": "Consent", "id": "bc-1", "status": "active", "dateTime": "2023-01-01",
               "policy": [{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.1791"}],
               "provision": {"type": "deny", "period": {"start": "2023-01-01", "end": "2027-12-31"},
                 "provision": [{"type": "permit", "period": {"start": "2023-01-01", "end": "2027-12-31"},
                   "dataPeriod": {"start": "2020-01-01"},
                   "code": [{"coding": [{"system": MII_POLICY_SYSTEM, "code": mdat}]}]}]}}),
        json!({"resourceType": "Consent", "status": "active", "dateTime": "2024-05-01T10:00:00+02:00",
               "policy": [{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.2720"}],
               "provision": {"type": "deny"}}),
        json!({"resourceType": "Consent", "status": "active", "dateTime": "2024-05-01",
               "policy": [{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.2721"}],
               "provision": {"type": "deny", "provision": [{"period": {"start": "2024-05-01"},
                 "code": [{"coding": [{"system": MII_POLICY_SYSTEM, "code": mdat}]}]}]}}),
        json!({"resourceType": "Consent", "status": "inactive", "dateTime": "2024",
               "provision": {"type": "deny", "code": [{"coding": [{"system": ONCOFED_POLICY_SYSTEM, "code": "gdng-objection"}]}]}}),
        json!({"resourceType": "Consent", "status": "active", "dateTime": "2022-03",
               "provision": {"type": "permit", "code": [{"coding": [{"system": ONCOFED_POLICY_SYSTEM, "code": "genetic-research"}]},
                                                          {"coding": [{"system": "http://example.org", "code": "x"}]}]}}),
        json!({"resourceType": "Consent", "status": "active", "dateTime": "2023",
               "provision": {"type": "deny", "code": [{"coding": [{"system": ONCOFED_POLICY_SYSTEM, "code": "no-such-code"}]}]}}),
    ]
}

#[test]
fn parsed_consents_round_trip_through_their_serde_form() {
    for resource in samples() {
        let parsed = parse_consent(&resource).unwrap();
        let text = serde_json::to_string(&parsed).unwrap();
        let back: Consent = serde_json::from_str(&text).unwrap();
        assert_eq!(back, parsed, "{text}");
    }
}

#[test]
fn an_mii_code_outside_the_table_is_refused() {
    let parsed = parse_consent(&samples()[0]).unwrap();
    let text = serde_json::to_string(&parsed).unwrap();
    assert!(text.contains(r#"{"Mii":8}"#), "{text}");
    let forged = text.replace(r#"{"Mii":8}"#, r#"{"Mii":9999}"#);
    assert!(serde_json::from_str::<Consent>(&forged).is_err());
}
