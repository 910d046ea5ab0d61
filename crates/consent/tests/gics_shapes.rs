//! Consents as gICS issues them through the TTP-FHIR-Gateway (shapes of the
//! gateway IG, `mosaic-hgw/ttp-fhir-ig`; the fixtures here are OncoFed's own):
//! `$currentPolicyStatesForPerson` (a collection Bundle, one Consent per
//! policy with the gICS code and the MII code side by side) and `$addConsent`
//! (a Parameters `return` holding a collection Bundle with the Consent and its
//! companions), including a withdrawal marked only by its template type.

use chrono::NaiveDate;
use oncofed_consent::gics::{consents_in_response, parse_response};
use oncofed_consent::{
    Decision, DenyReason, DocumentKind, MiiCode, PolicyCode, RecontactKind, duo_codes,
    evaluate_fact, may_recontact,
};
use oncofed_model::DataCategory::{Clinical, Genetic, Imaging};
use oncofed_model::Purpose;
use serde_json::{Value, json};

const GICS: &str = "https://ths-greifswald.de/fhir/CodeSystem/gics/Policy";
const MII: &str = "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3";
const TEMPLATE: &str = "http://fhir.de/ConsentManagement/CodeSystem/TemplateType";

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// One policy state: (gICS name, MII arc, permit/deny, years valid).
fn policy_state(name: &str, arc: u16, kind: &str, years: u32) -> Value {
    json!({"resourceType": "Consent", "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "57016-8"}]}],
        "patient": {"reference": "Patient/p-example", "display": "Pseudonym example"},
        "dateTime": "2023-04-03T09:15:00+02:00",
        "policyRule": {"coding": [{"system": GICS, "code": name}]},
        "provision": {"type": kind,
            "period": {"start": "2023-04-03T09:15:00+02:00", "end": format!("{}-04-03T09:15:00+02:00", 2023 + years)},
            "code": [{"coding": [{"system": GICS, "code": name}]},
                     {"coding": [{"system": MII, "code": format!("2.16.840.1.113883.3.1937.777.24.5.3.{arc}")}]}]}})
}

fn policy_states() -> Value {
    let states = [
        ("IDAT_erheben", 2, "permit", 30),
        ("IDAT_speichern_verarbeiten", 3, "permit", 30),
        ("MDAT_erheben", 6, "permit", 5),
        ("MDAT_speichern_verarbeiten", 7, "permit", 30),
        (
            "MDAT_wissenschaftlich_nutzen_EU_DSGVO_NIVEAU",
            8,
            "permit",
            30,
        ),
        ("MDAT_zusammenfuehren_Dritte", 9, "deny", 30),
        ("BIOMAT_erheben", 19, "permit", 5),
        (
            "BIOMAT_wissenschaftlich_nutzen_EU_DSGVO_NIVEAU",
            22,
            "permit",
            30,
        ),
        ("Rekontaktierung_Zusatzbefund", 31, "deny", 30),
        ("Rekontaktierung_weitere_Studien", 29, "permit", 30),
    ];
    let entries: Vec<Value> = states
        .iter()
        .map(|&(n, a, k, y)| json!({"resource": policy_state(n, a, k, y)}))
        .collect();
    json!({"resourceType": "Bundle", "type": "collection", "entry": entries})
}

fn mii(arc: u16) -> PolicyCode {
    PolicyCode::Mii(MiiCode::from_arc(arc).unwrap())
}

#[test]
fn current_policy_states_for_person() {
    let bundle = policy_states();
    assert_eq!(consents_in_response(&bundle).unwrap().len(), 10);
    let consents = parse_response(&bundle).unwrap();
    // gICS's code and the MII code are read as one statement, not as unknown.
    assert_eq!(consents[2].provision.codes, vec![mii(6)]);
    let on = day("2030-06-01");
    let fact =
        |cat, origin: &str| evaluate_fact(&consents, cat, Purpose::Research, on, day(origin));
    assert!(fact(Clinical, "2024-01-01").permits());
    assert!(fact(Imaging, "2027-12-31").permits());
    assert!(
        !fact(Clinical, "2028-06-01").permits(),
        "after the five-year collection window"
    );
    assert!(fact(Genetic, "2024-01-01").permits());
    assert!(!fact(Genetic, "2029-01-01").permits());
    assert!(duo_codes(&consents, Clinical, on).is_empty(), ".9 refused");
    assert!(may_recontact(&consents, on, RecontactKind::FurtherStudies).permits());
    assert_eq!(
        may_recontact(&consents, on, RecontactKind::AdditionalFindings),
        Decision::Deny {
            reason: DenyReason::Refused,
            code: Some(mii(31)),
            inherited_type: false
        }
    );
}

/// An `$addConsent` answer: Parameters → return Bundle → per consent a Bundle
/// with the Consent, its QuestionnaireResponse and Provenance; and a Patient.
fn add_consent_response(template: &str, consent_provision: Value, date_time: &str) -> Value {
    let consent = json!({"resourceType": "Consent", "id": "c-1", "status": "active",
        "category": [{"coding": [{"system": "http://loinc.org", "code": "57016-8"}]},
                     {"coding": [{"system": "http://fhir.de/ConsentManagement/CodeSystem/ResultType", "code": "document"}]},
                     {"coding": [{"system": TEMPLATE, "code": template}]}],
        "patient": {"reference": "Patient/p-example"},
        "dateTime": date_time,
        "policy": [{"uri": "urn:uuid:0f4f2c2e-51a8-4d7e-9b0c-4b7e2a9d1c33"}],
        "provision": consent_provision});
    json!({"resourceType": "Parameters", "parameter": [{"name": "return", "resource":
        {"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": {"resourceType": "Bundle", "type": "collection", "entry": [
                {"resource": consent},
                {"resource": {"resourceType": "QuestionnaireResponse", "status": "completed"}},
                {"resource": {"resourceType": "Provenance", "recorded": date_time}}]}},
            {"resource": {"resourceType": "Patient", "id": "p-example"}}]}}]})
}

#[test]
fn add_consent_then_withdrawal_by_template_type() {
    let permit = |name: &str, arc: u16| {
        json!({"type": "permit", "period": {"start": "2023-04-03"}, "code": [
            {"coding": [{"system": GICS, "code": name}]},
            {"coding": [{"system": MII, "code": format!("2.16.840.1.113883.3.1937.777.24.5.3.{arc}")}]}]})
    };
    let consent = add_consent_response(
        "CONSENT-OPT-IN",
        json!({"type": "deny", "period": {"start": "2023-04-03"}, "provision": [
            permit("MDAT_erheben", 6), permit("MDAT_speichern_verarbeiten", 7),
            permit("MDAT_wissenschaftlich_nutzen_EU_DSGVO_NIVEAU", 8)]}),
        "2023-04-03T10:00:00+02:00",
    );
    let mut consents = parse_response(&consent).unwrap();
    assert_eq!(consents.len(), 1);
    assert_eq!(consents[0].document, DocumentKind::Consent);
    let on = day("2025-01-01");
    assert!(
        evaluate_fact(
            &consents,
            Clinical,
            Purpose::Research,
            on,
            day("2024-01-01")
        )
        .permits()
    );
    // The withdrawal: template type WITHDRAWAL, a bare root deny, no MII OID.
    let withdrawal = add_consent_response(
        "WITHDRAWAL",
        json!({"type": "deny", "period": {"start": "2024-09-01"}}),
        "2024-09-01",
    );
    let w = parse_response(&withdrawal).unwrap();
    assert_eq!(w[0].document, DocumentKind::FullWithdrawal);
    consents.extend(w);
    for cat in [Clinical, Genetic, Imaging] {
        let d = evaluate_fact(&consents, cat, Purpose::Research, on, day("2024-01-01"));
        assert!(
            matches!(
                d,
                Decision::Deny {
                    reason: DenyReason::Withdrawn,
                    ..
                }
            ),
            "{cat:?}: {d:?}"
        );
    }
    // One unreadable Consent refuses the response (it could be the withdrawal).
    let mut bad = withdrawal;
    bad["parameter"][0]["resource"]["entry"][0]["resource"]["entry"][0]["resource"]["modifierExtension"] =
        json!([{"url": "http://example.org/x", "valueBoolean": true}]);
    assert!(parse_response(&bad).is_err());
    assert!(consents_in_response(&json!({"resourceType": "Bundle", "entry": {}})).is_err());
}
