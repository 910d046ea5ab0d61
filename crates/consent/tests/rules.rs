//! One table per rule of the crate documentation: nesting, expiry, partial and
//! full withdrawal, refusal, unknown code, version override, genetic opt-in,
//! GDNG objection, re-contact and the DUO mapping. Consents are FHIR JSON.

use chrono::NaiveDate;
use oncofed_consent::{
    Basis, Consent, Decision, DenyReason, DuoCode, MII_POLICY_SYSTEM, MiiCode,
    ONCOFED_POLICY_SYSTEM, PolicyCode, RecontactKind, duo_codes, evaluate, may_recontact,
    parse_consent,
};
use oncofed_model::DataCategory::{self, Clinical, Genetic, Imaging, Pathology, Text};
use oncofed_model::Purpose;
use serde_json::{Value, json};

const BC_172: &str = "urn:oid:2.16.840.1.113883.3.1937.777.24.2.2079";
const BC_16D: &str = "urn:oid:2.16.840.1.113883.3.1937.777.24.2.1790";
const REFUSAL_172: &str = "urn:oid:2.16.840.1.113883.3.1937.777.24.2.4054";
const PARTIAL_172: &str = "urn:oid:2.16.840.1.113883.3.1937.777.24.2.2723";
const FULL_16F: &str = "urn:oid:2.16.840.1.113883.3.1937.777.24.2.2720";

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn mii_code(arc: u16) -> Value {
    json!([{"coding": [{"system": MII_POLICY_SYSTEM, "code": format!("2.16.840.1.113883.3.1937.777.24.5.3.{arc}")}]}])
}

fn oncofed_code(code: &str) -> Value {
    json!([{"coding": [{"system": ONCOFED_POLICY_SYSTEM, "code": code}]}])
}

/// A nested MII provision: (type, arc, period).
fn nested(kind: &str, arc: u16, period: Value) -> Value {
    json!({"type": kind, "period": period, "code": mii_code(arc)})
}

/// An MII document: root deny without code, the given nested provisions.
fn mii_doc(policy: &str, date_time: &str, provisions: Vec<Value>) -> Value {
    json!({"resourceType": "Consent", "status": "active", "dateTime": date_time,
           "policy": [{"uri": policy}], "provision": {"type": "deny", "provision": provisions}})
}

/// A broad consent 1.7.2 permitting the base module and BIOMAT from `date`.
fn full_broad_consent(date: &str) -> Value {
    let p = json!({"start": date});
    mii_doc(
        BC_172,
        date,
        [2, 3, 4, 5, 6, 7, 8, 9, 19, 20, 22, 23, 27, 28, 29, 31]
            .iter()
            .map(|&a| nested("permit", a, p.clone()))
            .collect(),
    )
}

/// A single OncoFed statement at the root.
fn oncofed(code: &str, kind: &str, date_time: &str, period: Value) -> Value {
    json!({"resourceType": "Consent", "status": "active", "dateTime": date_time,
           "provision": {"type": kind, "period": period, "code": oncofed_code(code)}})
}

fn parse(resources: &[Value]) -> Vec<Consent> {
    resources
        .iter()
        .map(|r| parse_consent(r).expect("valid consent"))
        .collect()
}

fn mii(arc: u16) -> PolicyCode {
    PolicyCode::Mii(MiiCode::from_arc(arc).unwrap())
}

fn permit(basis: Basis) -> Decision {
    Decision::Permit { basis }
}

fn deny(reason: DenyReason, code: Option<PolicyCode>) -> Decision {
    Decision::Deny {
        reason,
        code,
        inherited_type: false,
    }
}

type Row = (
    &'static str,
    Vec<Value>,
    DataCategory,
    &'static str,
    Decision,
);

/// Checks each row for both purposes (rule 8).
fn check(rows: Vec<Row>) {
    for (name, resources, category, on, expected) in rows {
        let consents = parse(&resources);
        for purpose in [Purpose::Feasibility, Purpose::Research] {
            assert_eq!(
                evaluate(&consents, category, purpose, day(on)),
                expected,
                "{name} ({purpose})"
            );
        }
    }
}

#[test]
fn rule_nesting() {
    let open = json!({});
    let deny_with_exception = json!({"resourceType": "Consent", "status": "active", "dateTime": "2024",
        "provision": {"type": "deny", "code": mii_code(8), "provision": [nested("permit", 8, open.clone())]}});
    let permit_with_exception = json!({"resourceType": "Consent", "status": "active", "dateTime": "2024",
        "provision": {"type": "permit", "code": oncofed_code("genetic-research"),
          "provision": [{"type": "deny", "code": oncofed_code("genetic-research")}]}});
    let expired_parent = json!({"resourceType": "Consent", "status": "active", "dateTime": "2020",
        "provision": {"type": "deny", "period": {"end": "2024-12-31"},
          "provision": [{"type": "permit", "code": oncofed_code("genetic-research")}]}});
    let inherited_type = json!({"resourceType": "Consent", "status": "active", "dateTime": "2024",
        "provision": {"type": "deny", "provision": [{"code": mii_code(8)}]}});
    let group_then_child = json!({"resourceType": "Consent", "status": "active", "dateTime": "2024",
        "provision": {"type": "deny", "code": mii_code(26), "provision": [nested("permit", 29, open.clone())]}});
    #[rustfmt::skip]
    check(vec![
        ("nested permit is an exception to its parent's deny", vec![deny_with_exception], Clinical, "2025-06-01", permit(Basis::Consent(mii(8)))),
        ("nested deny is an exception to its parent's permit", vec![permit_with_exception], Genetic, "2025-06-01", deny(DenyReason::Refused, Some(PolicyCode::GeneticResearch))),
        ("nested provision under an expired parent is ignored", vec![expired_parent], Genetic, "2025-06-01", deny(DenyReason::NoOptIn, None)),
        ("nested provision inherits the parent's type, and says so", vec![inherited_type], Clinical, "2025-06-01", Decision::Deny { reason: DenyReason::Refused, code: Some(mii(8)), inherited_type: true }),
    ]);
    // A group deny with a nested child permit: the child is re-contactable, its siblings not.
    let c = parse(&[group_then_child]);
    assert!(may_recontact(&c, day("2025-06-01"), RecontactKind::FurtherStudies).permits());
    assert!(!may_recontact(&c, day("2025-06-01"), RecontactKind::FurtherData).permits());
}

#[test]
fn rule_expiry() {
    let until = json!({"start": "2024-03-01", "end": "2024-03-31T23:00:00+01:00"});
    #[rustfmt::skip]
    check(vec![
        ("deny in force on its first day", vec![oncofed("gdng-objection", "deny", "2024-01-01", until.clone())], Text, "2024-03-01", deny(DenyReason::Objection, Some(PolicyCode::GdngObjection))),
        ("deny in force on its last day", vec![oncofed("gdng-objection", "deny", "2024-01-01", until.clone())], Text, "2024-03-31", deny(DenyReason::Objection, Some(PolicyCode::GdngObjection))),
        ("deny not yet in force", vec![oncofed("gdng-objection", "deny", "2024-01-01", until.clone())], Text, "2024-02-29", permit(Basis::OptOut)),
        ("expired deny says nothing", vec![oncofed("gdng-objection", "deny", "2024-01-01", until.clone())], Text, "2024-04-01", permit(Basis::OptOut)),
        ("expired opt-in says nothing", vec![oncofed("genetic-research", "permit", "2024-01-01", until.clone())], Genetic, "2024-04-01", deny(DenyReason::NoOptIn, None)),
        ("opt-in in force", vec![oncofed("genetic-research", "permit", "2024-01-01", until.clone())], Genetic, "2024-03-15", permit(Basis::Consent(PolicyCode::GeneticResearch))),
        // Issue 10: the default deny of a broad consent outlives its expired permits.
        ("expired permit under a default deny still in force withholds", vec![mii_doc(BC_172, "2020-01-01", vec![nested("permit", 8, json!({"start": "2020-01-01", "end": "2024-12-31"}))])], Clinical, "2025-06-01", deny(DenyReason::Refused, Some(mii(7)))),
        ("expired broad consent falls back to the opt-out", vec![json!({"resourceType": "Consent", "status": "active", "dateTime": "2020-01-01", "policy": [{"uri": BC_172}],
            "provision": {"type": "deny", "period": {"start": "2020-01-01", "end": "2024-12-31"}, "provision": [nested("permit", 8, json!({"start": "2020-01-01", "end": "2024-12-31"}))]}})], Clinical, "2025-06-01", permit(Basis::OptOut)),
        ("expired lift lets the older objection count", vec![oncofed("gdng-objection", "deny", "2020-01-01", json!({})), oncofed("gdng-objection", "permit", "2023-01-01", json!({"end": "2024-12-31"}))], Clinical, "2025-06-01", deny(DenyReason::Objection, Some(PolicyCode::GdngObjection))),
    ]);
}

#[test]
fn rule_partial_withdrawal() {
    // BIOMAT withdrawn (group code) in 2024: analysis data and tissue go, the rest stays.
    let partial = mii_doc(
        PARTIAL_172,
        "2024-05-01",
        vec![nested("deny", 18, json!({"start": "2024-05-01"}))],
    );
    let by_code = mii_doc(
        PARTIAL_172,
        "2024-05-01",
        vec![nested("deny", 8, json!({"start": "2024-05-01"}))],
    );
    let opt_in = oncofed("genetic-research", "permit", "2023-01-01", json!({}));
    #[rustfmt::skip]
    check(vec![
        ("module withdrawn: genetic", vec![full_broad_consent("2023-01-01"), opt_in.clone(), partial.clone()], Genetic, "2025-06-01", deny(DenyReason::PartiallyWithdrawn, Some(mii(22)))),
        // Pathology is routine medical data (MDAT), not biomaterial analysis data (issue 10).
        ("module withdrawn: pathology stays", vec![full_broad_consent("2023-01-01"), partial.clone()], Pathology, "2025-06-01", permit(Basis::Consent(mii(7)))),
        ("module withdrawn: clinical stays", vec![full_broad_consent("2023-01-01"), partial.clone()], Clinical, "2025-06-01", permit(Basis::Consent(mii(7)))),
        ("before the withdrawal", vec![full_broad_consent("2023-01-01"), opt_in.clone(), partial.clone()], Genetic, "2024-04-30", permit(Basis::Consent(PolicyCode::GeneticResearch))),
        ("MDAT use withdrawn: clinical", vec![full_broad_consent("2023-01-01"), by_code.clone()], Clinical, "2025-06-01", deny(DenyReason::PartiallyWithdrawn, Some(mii(8)))),
        ("MDAT use withdrawn: imaging", vec![full_broad_consent("2023-01-01"), by_code], Imaging, "2025-06-01", deny(DenyReason::PartiallyWithdrawn, Some(mii(8)))),
    ]);
}

#[test]
fn rule_full_withdrawal() {
    let full = mii_doc(
        FULL_16F,
        "2024-05-01",
        [1, 18, 26, 30]
            .iter()
            .map(|&a| nested("deny", a, json!({"start": "2024-05-01"})))
            .collect(),
    );
    let oncofed_withdrawal = oncofed("withdrawal", "deny", "2024-05-01", json!({}));
    let opt_in = oncofed("genetic-research", "permit", "2023-01-01", json!({}));
    let mut rows: Vec<Row> = Vec::new();
    for c in [Clinical, Genetic, Imaging, Pathology, Text] {
        rows.push((
            "MII Komplettwiderruf",
            vec![
                full_broad_consent("2023-01-01"),
                opt_in.clone(),
                full.clone(),
            ],
            c,
            "2025-06-01",
            // Genetic data is denied first by the withdrawal's blanket deny of the opt-in.
            deny(
                DenyReason::Withdrawn,
                Some(if c == Genetic {
                    PolicyCode::GeneticResearch
                } else {
                    mii(6)
                }),
            ),
        ));
        rows.push((
            "OncoFed withdrawal",
            vec![
                full_broad_consent("2023-01-01"),
                opt_in.clone(),
                oncofed_withdrawal.clone(),
            ],
            c,
            "2025-06-01",
            deny(DenyReason::Withdrawn, Some(PolicyCode::Withdrawal)),
        ));
    }
    // Rule 4 of the old trust centre: a later broad consent does not lift an OncoFed withdrawal.
    rows.push((
        "withdrawal outlives a later broad consent",
        vec![oncofed_withdrawal.clone(), full_broad_consent("2025-01-01")],
        Clinical,
        "2025-06-01",
        deny(DenyReason::Withdrawn, Some(PolicyCode::Withdrawal)),
    ));
    check(rows);
    let c = parse(&[full_broad_consent("2023-01-01"), oncofed_withdrawal]);
    for k in RecontactKind::ALL {
        assert_eq!(
            may_recontact(&c, day("2025-06-01"), k),
            deny(DenyReason::Withdrawn, Some(PolicyCode::Withdrawal)),
            "{k:?}"
        );
    }
    let c = parse(&[full_broad_consent("2023-01-01"), full]);
    assert!(!may_recontact(&c, day("2025-06-01"), RecontactKind::AdditionalFindings).permits());
}

#[test]
fn rule_refusal() {
    let refusal = mii_doc(
        REFUSAL_172,
        "2024-01-01",
        [1, 18]
            .iter()
            .map(|&a| nested("deny", a, json!({"start": "2024-01-01"})))
            .collect(),
    );
    let left_out = mii_doc(
        BC_172,
        "2024-01-01",
        vec![nested("permit", 6, json!({})), nested("deny", 8, json!({}))],
    );
    #[rustfmt::skip]
    check(vec![
        ("MII Ablehnung denies clinical", vec![refusal.clone()], Clinical, "2025-06-01", deny(DenyReason::Refused, Some(mii(6)))),
        ("MII Ablehnung denies genetic despite an opt-in", vec![oncofed("genetic-research", "permit", "2023-01-01", json!({})), refusal], Genetic, "2025-06-01", deny(DenyReason::Refused, Some(PolicyCode::GeneticResearch))),
        ("module refused inside a broad consent", vec![left_out], Text, "2025-06-01", deny(DenyReason::Refused, Some(mii(8)))),
        ("genetic research refused", vec![oncofed("genetic-research", "deny", "2024-01-01", json!({}))], Genetic, "2025-06-01", deny(DenyReason::Refused, Some(PolicyCode::GeneticResearch))),
    ]);
}

#[test]
fn rule_unknown_code_is_deny() {
    let unknown_mii = json!({"resourceType": "Consent", "status": "active", "dateTime": "2024",
        "provision": {"type": "deny", "code": mii_code(999)}});
    let foreign = json!({"resourceType": "Consent", "status": "active", "dateTime": "2024",
        "provision": {"type": "deny", "code": [{"coding": [{"system": "http://example.org/local", "code": "no-research"}]}]}});
    let unknown_permit = json!({"resourceType": "Consent", "status": "active", "dateTime": "2024",
        "provision": {"type": "permit", "code": oncofed_code("genome-sequencing")}});
    let inactive = json!({"resourceType": "Consent", "status": "inactive", "dateTime": "2024",
        "provision": {"type": "deny", "code": mii_code(999)}});
    let unrecognised = deny(DenyReason::UnrecognisedCode, Some(PolicyCode::Unrecognised));
    let mut rows: Vec<Row> = Vec::new();
    for c in [Clinical, Genetic, Imaging, Pathology, Text] {
        rows.push((
            "unknown MII code denied",
            vec![full_broad_consent("2023-01-01"), unknown_mii.clone()],
            c,
            "2025-06-01",
            unrecognised,
        ));
        rows.push((
            "foreign-system deny",
            vec![foreign.clone()],
            c,
            "2025-06-01",
            unrecognised,
        ));
    }
    #[rustfmt::skip]
    rows.extend([
        ("unknown permit grants nothing", vec![unknown_permit], Genetic, "2025-06-01", deny(DenyReason::NoOptIn, None)),
        ("a withdrawal is still reported as one", vec![unknown_mii.clone(), oncofed("withdrawal", "deny", "2024-01-01", json!({}))], Text, "2025-06-01", deny(DenyReason::Withdrawn, Some(PolicyCode::Withdrawal))),
        ("inactive unknown deny does not count", vec![inactive], Clinical, "2025-06-01", permit(Basis::OptOut)),
    ]);
    check(rows);
    let c = parse(&[full_broad_consent("2023-01-01"), unknown_mii]);
    assert_eq!(
        may_recontact(&c, day("2025-06-01"), RecontactKind::FurtherStudies),
        unrecognised
    );
    assert!(duo_codes(&c, Clinical, day("2025-06-01")).is_empty());
}

#[test]
fn rule_version_override() {
    let old_16d = mii_doc(
        BC_16D,
        "2019-02-01",
        vec![
            nested("permit", 8, json!({})),
            nested("permit", 46, json!({})),
        ],
    );
    let refusal = mii_doc(
        REFUSAL_172,
        "2022-01-01",
        vec![nested("deny", 8, json!({}))],
    );
    // A re-consent must permit collection again: the refusal denied it explicitly.
    let new_172 = mii_doc(
        BC_172,
        "2024-01-01",
        [6, 7, 8]
            .iter()
            .map(|&a| nested("permit", a, json!({})))
            .collect(),
    );
    let mut superseded = refusal.clone();
    superseded["status"] = json!("entered-in-error");
    let old_deprecated_deny = mii_doc(BC_16D, "2019-02-01", vec![nested("deny", 46, json!({}))]);
    #[rustfmt::skip]
    check(vec![
        ("old version permits", vec![old_16d.clone()], Clinical, "2020-06-01", permit(Basis::Consent(mii(8)))),
        ("later refusal overrides the old version", vec![old_16d.clone(), refusal.clone()], Clinical, "2023-06-01", deny(DenyReason::Refused, Some(mii(6)))),
        ("new version overrides the refusal", vec![refusal.clone(), old_16d.clone(), new_172.clone()], Clinical, "2024-06-01", permit(Basis::Consent(mii(7)))),
        ("list order does not matter", vec![new_172, refusal, old_16d], Clinical, "2024-06-01", permit(Basis::Consent(mii(7)))),
        ("a status update takes a version out", vec![superseded], Clinical, "2024-06-01", permit(Basis::OptOut)),
        // .46 (deprecated, retrospective) only concerns data older than the consent; the
        // consent's default deny withholds MDAT (tests/red_team.rs decides by origin).
        ("a consent with only a deprecated retrospective deny withholds MDAT", vec![old_deprecated_deny], Clinical, "2024-06-01", deny(DenyReason::Refused, Some(mii(7)))),
        ("same dateTime: deny wins", vec![oncofed("gdng-objection", "permit", "2024-01-01", json!({})), oncofed("gdng-objection", "deny", "2024-01-01", json!({}))], Clinical, "2024-06-01", deny(DenyReason::Objection, Some(PolicyCode::GdngObjection))),
    ]);
}

#[test]
fn rule_genetic_opt_in() {
    let biomat = mii_doc(BC_172, "2024-01-01", vec![nested("permit", 22, json!({}))]);
    #[rustfmt::skip]
    check(vec![
        ("no opt-in", vec![], Genetic, "2025-06-01", deny(DenyReason::NoOptIn, None)),
        ("a broad consent with BIOMAT is an opt-in", vec![full_broad_consent("2023-01-01")], Genetic, "2025-06-01", permit(Basis::Consent(mii(22)))),
        ("MDAT alone is no genetic opt-in", vec![mii_doc(BC_172, "2023-01-01", vec![nested("permit", 8, json!({}))])], Genetic, "2025-06-01", deny(DenyReason::NoOptIn, None)),
        ("OncoFed opt-in", vec![oncofed("genetic-research", "permit", "2024-01-01", json!({}))], Genetic, "2025-06-01", permit(Basis::Consent(PolicyCode::GeneticResearch))),
        // Genetic data is medical data too: a broad consent without PATDAT withholds it.
        ("BIOMAT without PATDAT withholds genetic data", vec![biomat], Genetic, "2025-06-01", deny(DenyReason::Refused, Some(mii(7)))),
        ("the GDNG objection does not touch the opt-in", vec![oncofed("gdng-objection", "deny", "2024-01-01", json!({})), oncofed("genetic-research", "permit", "2024-01-01", json!({}))], Genetic, "2025-06-01", permit(Basis::Consent(PolicyCode::GeneticResearch))),
        ("draft opt-in does not count", vec![{ let mut c = oncofed("genetic-research", "permit", "2024-01-01", json!({})); c["status"] = json!("draft"); c }], Genetic, "2025-06-01", deny(DenyReason::NoOptIn, None)),
    ]);
}

#[test]
fn rule_gdng_objection() {
    let objection = oncofed("gdng-objection", "deny", "2024-01-01", json!({}));
    let mut rows: Vec<Row> = Vec::new();
    for c in [Clinical, Imaging, Pathology, Text] {
        rows.push((
            "no consent: opt-out default",
            vec![],
            c,
            "2025-06-01",
            permit(Basis::OptOut),
        ));
        rows.push((
            "objection",
            vec![objection.clone()],
            c,
            "2025-06-01",
            deny(DenyReason::Objection, Some(PolicyCode::GdngObjection)),
        ));
        rows.push((
            "objection outweighs a broad consent",
            vec![full_broad_consent("2025-01-01"), objection.clone()],
            c,
            "2025-06-01",
            deny(DenyReason::Objection, Some(PolicyCode::GdngObjection)),
        ));
        rows.push((
            "objection lifted later",
            vec![
                objection.clone(),
                oncofed("gdng-objection", "permit", "2024-09-01", json!({})),
            ],
            c,
            "2025-06-01",
            permit(Basis::Consent(PolicyCode::GdngObjection)),
        ));
        rows.push((
            "objection only from its date",
            vec![oncofed(
                "gdng-objection",
                "deny",
                "2024-01-01",
                json!({"start": "2024-01-01"}),
            )],
            c,
            "2023-12-31",
            permit(Basis::OptOut),
        ));
    }
    check(rows);
}

#[test]
fn recontact_is_opt_in() {
    let on = day("2025-06-01");
    let c = parse(&[full_broad_consent("2023-01-01")]);
    assert_eq!(
        may_recontact(&c, on, RecontactKind::AdditionalFindings),
        permit(Basis::Consent(mii(31)))
    );
    assert_eq!(
        may_recontact(&c, on, RecontactKind::Questionnaires),
        deny(DenyReason::NoOptIn, None)
    );
    assert_eq!(
        may_recontact(&[], on, RecontactKind::AdditionalFindings),
        deny(DenyReason::NoOptIn, None)
    );
    let c = parse(&[
        full_broad_consent("2023-01-01"),
        mii_doc(
            PARTIAL_172,
            "2024-01-01",
            vec![nested("deny", 30, json!({}))],
        ),
    ]);
    assert_eq!(
        may_recontact(&c, on, RecontactKind::AdditionalFindings),
        deny(DenyReason::PartiallyWithdrawn, Some(mii(31)))
    );
    assert!(may_recontact(&c, on, RecontactKind::FurtherStudies).permits());
    // OncoFed `recontact`: every kind, and its deny refuses every kind but no data use.
    let any = parse(&[oncofed("recontact", "permit", "2024-01-01", json!({}))]);
    for k in RecontactKind::ALL {
        assert_eq!(
            may_recontact(&any, on, k),
            permit(Basis::Consent(PolicyCode::Recontact)),
            "{k:?}"
        );
    }
    let none = parse(&[
        full_broad_consent("2023-01-01"),
        oncofed("recontact", "deny", "2024-01-01", json!({})),
    ]);
    for k in RecontactKind::ALL {
        assert_eq!(
            may_recontact(&none, on, k),
            deny(DenyReason::Refused, Some(PolicyCode::Recontact)),
            "{k:?}"
        );
    }
    assert!(evaluate(&none, Clinical, Purpose::Research, on).permits());
}

#[test]
fn duo_mapping() {
    let on = day("2025-06-01");
    let bc = parse(&[full_broad_consent("2023-01-01")]);
    assert_eq!(
        duo_codes(&bc, Clinical, on),
        vec![
            DuoCode::HealthMedicalBiomedical,
            DuoCode::EthicsApproval,
            DuoCode::Geographical {
                region: "EU/EEA (GDPR level)"
            },
            // A permit without `period.end` lasts its period of validity (P30Y).
            DuoCode::TimeLimit {
                until: day("2052-12-31")
            }
        ]
    );
    let ids: Vec<&str> = duo_codes(&bc, Clinical, on)
        .iter()
        .map(|t| t.id())
        .collect();
    assert_eq!(
        ids,
        ["DUO:0000006", "DUO:0000021", "DUO:0000022", "DUO:0000025"]
    );
    let limited = parse(&[mii_doc(
        BC_172,
        "2023-01-01",
        // Merging with third-party data (.9) permitted, or nothing may be shared.
        vec![
            json!({"type": "permit", "period": {"end": "2027-12-31"}, "code": mii_code(8)}),
            nested("permit", 9, json!({})),
        ],
    )]);
    assert!(duo_codes(&limited, Text, on).contains(&DuoCode::TimeLimit {
        until: day("2027-12-31")
    }));
    let non_eu = parse(&[mii_doc(
        BC_172,
        "2023-01-01",
        vec![
            nested("permit", 8, json!({})),
            nested("permit", 9, json!({})),
            nested("permit", 49, json!({})),
        ],
    )]);
    assert_eq!(
        duo_codes(&non_eu, Clinical, on),
        vec![
            DuoCode::HealthMedicalBiomedical,
            DuoCode::EthicsApproval,
            DuoCode::TimeLimit {
                until: day("2052-12-31")
            }
        ]
    );
    let silent_on_merging = parse(&[mii_doc(
        BC_172,
        "2023-01-01",
        vec![nested("permit", 8, json!({}))],
    )]);
    assert!(
        duo_codes(&silent_on_merging, Clinical, on).is_empty(),
        "a broad consent's default deny withholds merging"
    );
    assert!(
        duo_codes(&[], Genetic, on).is_empty(),
        "no opt-in: nothing to share"
    );
    let no_merge = parse(&[mii_doc(
        BC_172,
        "2023-01-01",
        vec![nested("permit", 8, json!({})), nested("deny", 9, json!({}))],
    )]);
    assert!(evaluate(&no_merge, Clinical, Purpose::Research, on).permits());
    assert!(
        duo_codes(&no_merge, Clinical, on).is_empty(),
        "merging with third parties refused"
    );
    for t in [
        DuoCode::HealthMedicalBiomedical,
        DuoCode::EthicsApproval,
        DuoCode::Geographical { region: "x" },
        DuoCode::TimeLimit { until: on },
    ] {
        assert!(
            t.id().starts_with("DUO:00000") && !t.shorthand().is_empty() && !t.label().is_empty()
        );
    }
}
