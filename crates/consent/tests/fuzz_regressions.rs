//! Inputs found by the fuzz target `consent` (`scripts/fuzz`, crate `fuzz/`),
//! minimised, kept as regression tests.

use chrono::NaiveDate;
use oncofed_consent::{
    Consent, Decision, DenyReason, DuoCode, PolicyCode, duo_codes, evaluate, parse_consent,
};
use oncofed_model::{DataCategory, Purpose};
use serde_json::{Value, json};

const FULL_WITHDRAWAL: &str = "urn:oid:2.16.840.1.113883.3.1937.777.24.2.2720";
const REFUSAL: &str = "urn:oid:2.16.840.1.113883.3.1937.777.24.2.4054";
const MDAT_USE: &str = "2.16.840.1.113883.3.1937.777.24.5.3.8";

fn parse(v: Value) -> Consent {
    parse_consent(&v).unwrap()
}

fn both_orders(a: Consent, b: Consent) -> [Vec<Consent>; 2] {
    [vec![a.clone(), b.clone()], vec![b, a]]
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Minimised crash: two active denies of `gdng-objection` with the same
/// `dateTime`, one in a full-withdrawal document. The first one stored won the
/// tie, so the reason was `Objection` or `Withdrawn` depending on the order.
#[test]
fn equal_denies_give_the_same_reason_in_either_order() {
    let deny = |policy: Option<&str>| {
        let mut c = json!({"resourceType": "Consent", "status": "active", "dateTime": "2024-01-01",
            "provision": {"type": "deny", "code": [{"coding": [
                {"system": "urn:oncofed:consent-policy", "code": "gdng-objection"}]}]}});
        if let Some(uri) = policy {
            c["policy"] = json!([{ "uri": uri }]);
        }
        parse(c)
    };
    for consents in both_orders(deny(Some(FULL_WITHDRAWAL)), deny(None)) {
        assert_eq!(
            evaluate(
                &consents,
                DataCategory::Clinical,
                Purpose::Research,
                day("2024-06-01")
            ),
            Decision::Deny {
                reason: DenyReason::Withdrawn,
                code: Some(PolicyCode::GdngObjection),
                inherited_type: false,
            }
        );
    }
}

/// The case that matters for the withdrawal cascade (which issues deletion
/// orders only on `Withdrawn`): a refusal of MDAT use and a full withdrawal
/// recorded on the same day, both date-only (midnight UTC), stored in either order.
#[test]
fn same_day_refusal_and_full_withdrawal_is_a_withdrawal() {
    let doc = |policy: &str| {
        parse(
            json!({"resourceType": "Consent", "status": "active", "dateTime": "2025-03-10",
            "policy": [{"uri": policy}],
            "provision": {"type": "deny", "code": [{"coding": [
                {"system": "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3", "code": MDAT_USE}]}]}}),
        )
    };
    for consents in both_orders(doc(REFUSAL), doc(FULL_WITHDRAWAL)) {
        let d = evaluate(
            &consents,
            DataCategory::Clinical,
            Purpose::Research,
            day("2025-04-01"),
        );
        assert!(
            matches!(
                d,
                Decision::Deny {
                    reason: DenyReason::Withdrawn,
                    ..
                }
            ),
            "{d:?}"
        );
    }
}

/// Two equal permits that end on different days: the DUO time limit is the
/// earlier end (the conservative one), whatever the order.
#[test]
fn equal_permits_give_the_earlier_time_limit_in_either_order() {
    let permit = |end: &str| {
        parse(
            json!({"resourceType": "Consent", "status": "active", "dateTime": "2024-01-01",
            "provision": {"type": "permit", "period": {"start": "2024-01-01", "end": end},
                "code": [{"coding": [{"system": "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3",
                    "code": MDAT_USE}]}]}}),
        )
    };
    for consents in both_orders(permit("2026-12-31"), permit("2028-12-31")) {
        let duo = duo_codes(&consents, DataCategory::Clinical, day("2025-01-01"));
        assert!(
            duo.contains(&DuoCode::TimeLimit {
                until: day("2026-12-31")
            }),
            "{duo:?}"
        );
    }
}
