//! Consent decisions: the trust centre's adapter to the consent engine
//! (`oncofed-consent`).
//!
//! The engine is pure and lives in its own crate (rules, the MII policy table and
//! its provenance are in that crate's documentation). This module keeps the names
//! the rest of the trust centre uses and maps the engine's [`Decision`] to the
//! wire answer [`ConsentDecision`]:
//!
//! | engine | wire |
//! |---|---|
//! | `Permit` (GDNG opt-out or a consent) | `Permit` |
//! | `Withdrawn`, `PartiallyWithdrawn` | `DenyWithdrawn` |
//! | `Objection`, `Refused`, `UnrecognisedCode`, `NotCollected` | `DenyObjection` |
//! | `NoOptIn` | `DenyNoOptIn` |
//!
//! A pseudonym the trust centre does not know is `DenyUnknown`; the registry
//! decides that before asking the engine (rule 1).

pub use oncofed_consent::{
    Consent as ParsedConsent, ConsentParseError, ConsentStatus, Decision, DenyReason, FhirDateTime,
    ONCOFED_POLICY_SYSTEM, Period, PolicyCode, Provision, ProvisionType, RecontactKind,
    may_recontact, parse_consent, parse_fhir_datetime,
};

use chrono::NaiveDate;
use oncofed_model::{DataCategory, Purpose};
use oncofed_trustee_api::ConsentDecision;

/// The MII broad-consent provision code system.
pub const MII_PROVISION_SYSTEM: &str = oncofed_consent::MII_POLICY_SYSTEM;
/// MII code "MDAT wissenschaftlich nutzen EU DSGVO NIVEAU".
pub const MII_MDAT_SCIENTIFIC_USE: &str = "2.16.840.1.113883.3.1937.777.24.5.3.8";

/// The wire answer for an engine decision (table in the module documentation):
/// [`oncofed_trustee_api::consent_feed::to_wire`], shared with the site nodes'
/// consent snapshots so that both map alike.
pub fn to_wire(decision: Decision) -> ConsentDecision {
    oncofed_trustee_api::consent_feed::to_wire(decision)
}

/// Decides whether data of `category` about a known person may be used for
/// `purpose` on `date`, given all of the person's current consents
/// ([`oncofed_consent::evaluate`], mapped by [`to_wire`]). An empty slice is a
/// person without any consent on record.
pub fn evaluate(
    consents: &[ParsedConsent],
    category: DataCategory,
    purpose: Purpose,
    date: NaiveDate,
) -> ConsentDecision {
    evaluate_origin(consents, category, purpose, date, None)
}

/// [`evaluate`] for data of a known date of origin
/// ([`oncofed_consent::evaluate_fact`]): the collection windows and
/// `dataPeriod`s are checked on `origin`, use on `date`. `None` is [`evaluate`].
/// This is [`oncofed_trustee_api::decide`], the function site nodes answer
/// from their consent snapshots with.
pub fn evaluate_origin(
    consents: &[ParsedConsent],
    category: DataCategory,
    purpose: Purpose,
    date: NaiveDate,
    origin: Option<NaiveDate>,
) -> ConsentDecision {
    oncofed_trustee_api::decide(Some(consents), category, purpose, date, origin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConsentDecision::*;
    use DataCategory::*;
    use serde_json::{Value, json};

    /// A Consent with one coded provision at the root.
    fn consent(code: &str, kind: &str, date_time: &str, period: Value) -> Value {
        let (system, code) = if code == "mdat" {
            (MII_PROVISION_SYSTEM, MII_MDAT_SCIENTIFIC_USE)
        } else {
            (ONCOFED_POLICY_SYSTEM, code)
        };
        json!({"resourceType": "Consent", "status": "active", "dateTime": date_time,
               "provision": {"type": kind, "period": period, "code": [{"coding": [{"system": system, "code": code}]}]}})
    }

    fn status(mut c: Value, s: &str) -> Value {
        c["status"] = json!(s);
        c
    }

    /// An MII broad consent: root deny, nested provision for MDAT of the given type.
    fn mii(nested_type: &str) -> Value {
        json!({"resourceType": "Consent", "status": "active", "dateTime": "2023-01-01",
               "policy": [{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.1791"}],
               "provision": {"type": "deny", "period": {"start": "2023-01-01", "end": "2027-12-31"},
                 "provision": [{"type": nested_type, "period": {"start": "2023-01-01", "end": "2027-12-31"},
                   "code": [{"coding": [{"system": MII_PROVISION_SYSTEM, "code": MII_MDAT_SCIENTIFIC_USE}]}]}]}})
    }

    fn open() -> Value {
        json!({})
    }

    /// The behaviour the trust centre had before the engine moved to its own
    /// crate, for the codes of `docs/fhir-profile.md`, now through the adapter.
    #[test]
    fn wire_answers_for_the_profile_codes() {
        let on = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
        let until_2024 = json!({"end": "2024-12-31"});
        #[rustfmt::skip]
        let table: Vec<(&str, Vec<Value>, DataCategory, ConsentDecision)> = vec![
            ("opt-out default permits clinical", vec![], Clinical, Permit),
            ("genetic needs an opt-in", vec![], Genetic, DenyNoOptIn),
            ("objection denies clinical", vec![consent("gdng-objection", "deny", "2024-01-01", open())], Clinical, DenyObjection),
            ("objection leaves the genetic opt-in alone", vec![consent("gdng-objection", "deny", "2024-01-01", open()), consent("genetic-research", "permit", "2024-01-01", open())], Genetic, Permit),
            ("genetic opt-in permits", vec![consent("genetic-research", "permit", "2024-01-01", open())], Genetic, Permit),
            ("expired genetic opt-in is ignored", vec![consent("genetic-research", "permit", "2024-01-01", until_2024.clone())], Genetic, DenyNoOptIn),
            ("withdrawal denies genetic despite opt-in", vec![consent("genetic-research", "permit", "2023-01-01", open()), consent("withdrawal", "deny", "2024-01-01", open())], Genetic, DenyWithdrawn),
            ("withdrawal outlives a later broad consent", vec![consent("withdrawal", "deny", "2024-01-01", open()), mii("permit")], Clinical, DenyWithdrawn),
            ("inactive withdrawal does not count", vec![status(consent("withdrawal", "deny", "2024-01-01", open()), "inactive")], Clinical, Permit),
            ("MII deny of MDAT is an objection", vec![mii("deny")], Clinical, DenyObjection),
            ("MII permit of MDAT permits", vec![mii("permit")], Clinical, Permit),
            ("MII permit of MDAT is no genetic opt-in", vec![mii("permit")], Genetic, DenyNoOptIn),
            // Issue 10, case 1: a bare root deny (gICS's withdrawal and refusal shape) denies everything.
            ("MII root deny alone denies everything", vec![json!({"resourceType": "Consent", "status": "active", "dateTime": "2023", "provision": {"type": "deny"}})], Clinical, DenyObjection),
            ("later genetic refusal overrides opt-in", vec![consent("genetic-research", "permit", "2022-01-01", open()), consent("genetic-research", "deny", "2024-03-01T10:00:00+01:00", open())], Genetic, DenyObjection),
            ("tie: deny wins", vec![consent("genetic-research", "permit", "2024-01-01", open()), consent("genetic-research", "deny", "2024-01-01", open())], Genetic, DenyObjection),
            // Changed with the engine: a deny the engine cannot read now denies (fail closed).
            ("unknown codes deny", vec![json!({"resourceType": "Consent", "status": "active", "dateTime": "2024",
                "provision": {"type": "deny", "code": [{"coding": [{"system": "http://example.org", "code": "gdng-objection"}]}]}})], Clinical, DenyObjection),
            ("MII partial withdrawal is a withdrawal", vec![mii("permit"), json!({"resourceType": "Consent", "status": "active", "dateTime": "2024-05-01",
                "policy": [{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.2721"}],
                "provision": {"type": "deny", "provision": [{"type": "deny", "period": {"start": "2024-05-01"},
                  "code": [{"coding": [{"system": MII_PROVISION_SYSTEM, "code": MII_MDAT_SCIENTIFIC_USE}]}]}]}})], Clinical, DenyWithdrawn),
        ];
        for (name, resources, category, expected) in table {
            let parsed: Vec<ParsedConsent> = resources
                .iter()
                .map(|r| parse_consent(r).expect(name))
                .collect();
            for purpose in [Purpose::Research, Purpose::Feasibility] {
                assert_eq!(
                    evaluate(&parsed, category, purpose, on),
                    expected,
                    "{name} ({purpose})"
                );
            }
        }
    }
}
