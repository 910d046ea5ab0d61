//! Regression tests: a consent's default deny (a codeless deny with nested
//! provisions) must not hide a refusal the same consent states elsewhere.
//!
//! Found by `deny_property` (December 2026): per consent the deepest statement
//! ruled, so a default deny nested deeper than an explicit `.1` deny (beside it
//! or inside it) turned the `.6` collection refusal into a mere "withheld";
//! once the consent's period had ended no consent governed the day of use and
//! data collected while collection was refused was permitted by opt-out.

use chrono::NaiveDate;
use oncofed_consent::{Decision, evaluate_fact, parse_consent};
use oncofed_model::DataCategory::Clinical;
use oncofed_model::Purpose;
use serde_json::{Value, json};

const MII: &str = "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3";

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn code(arc: u16) -> Value {
    json!([{"coding": [{"system": MII, "code": format!("{}.{arc}", &MII[8..])}]}])
}

fn consent(provision: Value) -> Value {
    json!({"resourceType": "Consent", "status": "active", "dateTime": "2020-01-01",
           "provision": provision})
}

/// Both purposes, data from `origin` used on `on`.
fn decisions(resource: &Value, on: &str, origin: &str) -> [Decision; 2] {
    let consents = vec![parse_consent(resource).expect("valid consent")];
    [Purpose::Research, Purpose::Feasibility]
        .map(|p| evaluate_fact(&consents, Clinical, p, day(on), day(origin)))
}

/// The default deny is a sibling of the `.1` deny, under an untyped root.
#[test]
fn red_team_a_default_deny_beside_a_refusal_does_not_hide_it() {
    let resource = consent(json!({
        "period": {"end": "2023-07-24"},
        "provision": [
            {"type": "deny", "code": code(1)},
            {"provision": [{"type": "deny", "provision": [{"code": code(7)}]}]}
        ]
    }));
    // Collected on the last day the refusal was in force, used the day after.
    for d in decisions(&resource, "2023-07-25", "2023-07-24") {
        assert!(!d.permits(), "collected under a refusal, permitted: {d:?}");
    }
    // Data that originated after the consent's period is not covered by it.
    for d in decisions(&resource, "2023-07-26", "2023-07-25") {
        assert!(d.permits(), "{d:?}");
    }
}

/// The default deny is nested inside the `.1` deny.
#[test]
fn red_team_a_default_deny_inside_a_refusal_does_not_weaken_it() {
    let resource = consent(json!({
        "type": "deny", "code": code(1), "period": {"end": "2024-10-29"},
        "provision": [{"provision": [{"type": "deny", "code": code(7)}]}]
    }));
    for d in decisions(&resource, "2024-10-30", "2024-10-29") {
        assert!(!d.permits(), "collected under a refusal, permitted: {d:?}");
    }
    // While the refusal is in force, use is denied too.
    for d in decisions(&resource, "2024-10-29", "2024-10-28") {
        assert!(!d.permits(), "{d:?}");
    }
}
