//! One row per MII policy code: what a deny of the code and a permit of it do,
//! written out by hand from the code system's meanings (not derived from the
//! engine's table), and checked through FHIR JSON and the public functions.

use chrono::NaiveDate;
use oncofed_consent::mii::{MII_CODE_PREFIX, MII_POLICIES};
use oncofed_consent::{
    Consent, DuoCode, MII_POLICY_SYSTEM, ONCOFED_POLICY_SYSTEM, RecontactKind, duo_codes, evaluate,
    may_recontact, parse_consent,
};
use oncofed_model::{DataCategory, Purpose};
use serde_json::{Value, json};

/// (arc, what a deny of it stops, what a permit of it grants).
///
/// Tokens: `use:` categories whose use is denied; `share:` categories that may
/// no longer be shared onward (merging with third-party data denied); `rc:`
/// re-contact kinds; `optin:G` a permit is the genetic opt-in; `noneu:`
/// categories whose geographical restriction a permit lifts. Categories:
/// C clinical, G genetic, I imaging, P pathology, T text. Re-contact: a
/// additional findings, l link databases, d further data, s further studies,
/// q questionnaires, r results of significant importance.
#[rustfmt::skip]
const ROWS: &[(u16, &str, &str)] = &[
    // PATDAT: patient data. Retrospective codes (.44-.46) only concern data
    // older than the consent, which an unknown origin never is.
    (1, "use:CGIPT share:CGIPT rc:r", "rc:r"),
    (2, "", ""), (3, "", ""), (4, "", ""), (5, "", ""),
    (6, "use:CGIPT", ""), (7, "use:CGIPT", ""), (8, "use:CGIPT", ""),
    (9, "share:CGIPT", ""),
    (37, "rc:r", "rc:r"),
    (44, "share:CGIPT", ""),
    (45, "", ""), (46, "", ""), (47, "share:CGIPT", ""),
    (48, "", "noneu:CGIPT"), (49, "", "noneu:CGIPT"),
    // KKDAT: insurance data, not held by OncoFed
    (10, "", ""), (11, "", ""), (12, "", ""), (13, "", ""), (38, "", ""),
    (14, "", ""), (15, "", ""), (16, "", ""), (17, "", ""), (39, "", ""),
    // BIOMAT: biomaterial and its analysis data (genetic); pathology is MDAT.
    // A retrospective permit (.50, .52) opens only data older than its start.
    (18, "use:G share:GP", "optin:G"),
    (19, "use:G", ""), (20, "", ""), (21, "", ""),
    (22, "use:G", "optin:G"), (23, "share:GP", ""),
    (24, "", ""), (25, "", ""),
    (50, "use:G share:GP", ""), (51, "", ""),
    (52, "use:G", ""), (53, "share:GP", ""),
    (54, "", "noneu:GP"), (55, "", "noneu:GP"),
    // Rekontaktierung
    (26, "rc:lds", "rc:lds"), (27, "rc:l", "rc:l"), (28, "rc:d", "rc:d"), (29, "rc:s", "rc:s"),
    (30, "rc:a", "rc:a"), (31, "rc:a", "rc:a"),
    // Z1 GECCO83 (NUM/CODEX, COVID-19)
    (32, "", ""), (33, "", ""), (34, "", ""), (40, "", ""), (41, "", ""), (42, "", ""),
    (43, "", ""), (56, "", ""), (35, "", ""), (36, "", ""),
    // Z2 ACRIBiS
    (57, "", ""), (58, "", ""), (59, "", ""), (60, "", ""), (61, "", ""), (62, "", ""),
    // Z3 PROM
    (63, "rc:q", "rc:q"), (64, "", ""), (65, "", ""), (66, "rc:q", "rc:q"),
    // Z4 SNID
    (67, "", ""), (68, "", ""), (69, "", ""), (70, "", ""), (71, "", ""), (72, "", ""),
    (73, "", ""), (74, "", ""), (75, "", ""), (76, "", ""), (77, "", ""), (78, "", ""),
    (79, "", ""), (80, "", ""), (81, "", ""), (82, "", ""), (83, "", ""), (84, "", ""),
    (85, "", ""), (86, "", ""), (87, "", ""), (88, "", ""), (89, "", ""), (90, "", ""),
    (91, "", ""), (92, "", ""), (93, "", ""), (94, "", ""), (95, "", ""), (96, "", ""),
    (97, "", ""), (98, "", ""), (99, "", ""), (100, "", ""), (101, "", ""),
    // Z5 DZPG
    (102, "", ""), (103, "", ""), (104, "", ""), (105, "", ""), (106, "", ""), (107, "", ""),
    (108, "", ""), (109, "", ""), (110, "", ""), (111, "", ""), (112, "", ""), (113, "", ""),
    (114, "", ""), (115, "", ""), (116, "", ""), (117, "", ""), (118, "", ""), (119, "", ""),
    (120, "", ""), (121, "", ""), (122, "", ""), (123, "", ""), (124, "", ""),
];

fn letters(spec: &str, key: &str) -> String {
    spec.split_whitespace()
        .find_map(|t| t.strip_prefix(key))
        .unwrap_or("")
        .to_string()
}

fn letter(c: DataCategory) -> char {
    match c {
        DataCategory::Clinical => 'C',
        // Germline variants follow every rule genetic data does.
        DataCategory::Genetic | DataCategory::Germline => 'G',
        DataCategory::Imaging => 'I',
        DataCategory::Pathology => 'P',
        DataCategory::Text => 'T',
    }
}

fn rc_letter(k: RecontactKind) -> char {
    match k {
        RecontactKind::AdditionalFindings => 'a',
        RecontactKind::SignificantResults => 'r',
        RecontactKind::LinkDatabases => 'l',
        RecontactKind::FurtherData => 'd',
        RecontactKind::FurtherStudies => 's',
        RecontactKind::Questionnaires => 'q',
    }
}

fn concept(system: &str, code: &str) -> Value {
    json!([{"coding": [{"system": system, "code": code}]}])
}

/// An MII broad consent 1.7.2 with one nested provision per code under a root
/// without type, so that each code is tested alone (a root `deny` would also
/// deny, implicitly, every code not permitted: see `rules.rs`).
fn broad_consent(date: &str, nested: &[(&str, String)]) -> Consent {
    let provisions: Vec<Value> = nested
        .iter()
        .map(|(kind, code)| json!({"type": kind, "period": {"start": date}, "code": concept(MII_POLICY_SYSTEM, code)}))
        .collect();
    parse_consent(
        &json!({"resourceType": "Consent", "status": "active", "dateTime": date,
        "policy": [{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.2079"}],
        "provision": {"period": {"start": date}, "provision": provisions}}),
    )
    .expect("valid consent")
}

fn genetic_opt_in() -> Consent {
    parse_consent(&json!({"resourceType": "Consent", "status": "active", "dateTime": "2022-01-01",
        "provision": {"type": "permit", "code": concept(ONCOFED_POLICY_SYSTEM, "genetic-research")}}))
    .expect("valid consent")
}

fn oid(arc: u16) -> String {
    format!("{MII_CODE_PREFIX}{arc}")
}

#[test]
fn every_code_has_a_row() {
    let mut rows: Vec<u16> = ROWS.iter().map(|r| r.0).collect();
    rows.sort_unstable();
    let mut table: Vec<u16> = MII_POLICIES.iter().map(|p| p.arc).collect();
    table.sort_unstable();
    assert_eq!(rows, table);
}

#[test]
fn deny_of_each_code() {
    let on = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
    // Before the deny: genetic opted in, every re-contact permitted.
    let recontact_permits: Vec<(&str, String)> = [27, 28, 29, 31, 37, 66]
        .iter()
        .map(|&a| ("permit", oid(a)))
        .collect();
    for &(arc, deny_spec, _) in ROWS {
        let consents = vec![
            genetic_opt_in(),
            broad_consent("2023-01-01", &recontact_permits),
            broad_consent("2024-01-01", &[("deny", oid(arc))]),
        ];
        let denied_use = letters(deny_spec, "use:");
        let no_sharing = letters(deny_spec, "share:");
        for c in DataCategory::ALL {
            for purpose in [Purpose::Feasibility, Purpose::Research] {
                let d = evaluate(&consents, c, purpose, on);
                assert_eq!(
                    !d.permits(),
                    denied_use.contains(letter(c)),
                    ".{arc} deny, {c:?}, {purpose}: {d:?}"
                );
            }
            let shared = !duo_codes(&consents, c, on).is_empty();
            let expect_shared = !denied_use.contains(letter(c)) && !no_sharing.contains(letter(c));
            assert_eq!(shared, expect_shared, ".{arc} deny, sharing {c:?}");
        }
        let rc = letters(deny_spec, "rc:");
        for k in RecontactKind::ALL {
            let d = may_recontact(&consents, on, k);
            assert_eq!(
                !d.permits(),
                rc.contains(rc_letter(k)),
                ".{arc} deny, re-contact {k:?}: {d:?}"
            );
        }
    }
}

#[test]
fn permit_of_each_code() {
    let on = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
    for &(arc, _, permit_spec) in ROWS {
        let alone = vec![broad_consent("2024-01-01", &[("permit", oid(arc))])];
        let genetic = evaluate(&alone, DataCategory::Genetic, Purpose::Research, on);
        assert_eq!(
            genetic.permits(),
            letters(permit_spec, "optin:") == "G",
            ".{arc} permit, genetic: {genetic:?}"
        );
        for c in [
            DataCategory::Clinical,
            DataCategory::Imaging,
            DataCategory::Pathology,
            DataCategory::Text,
        ] {
            assert!(
                evaluate(&alone, c, Purpose::Feasibility, on).permits(),
                ".{arc} permit, {c:?}"
            );
        }
        let rc = letters(permit_spec, "rc:");
        for k in RecontactKind::ALL {
            let d = may_recontact(&alone, on, k);
            assert_eq!(
                d.permits(),
                rc.contains(rc_letter(k)),
                ".{arc} permit, re-contact {k:?}: {d:?}"
            );
        }
        let with_genetic = vec![genetic_opt_in(), alone[0].clone()];
        let non_eu = letters(permit_spec, "noneu:");
        for c in DataCategory::ALL {
            let terms = duo_codes(&with_genetic, c, on);
            let restricted = terms
                .iter()
                .any(|t| matches!(t, DuoCode::Geographical { .. }));
            assert!(
                terms.contains(&DuoCode::HealthMedicalBiomedical),
                ".{arc} permit, {c:?}: {terms:?}"
            );
            assert_eq!(
                !restricted,
                non_eu.contains(letter(c)),
                ".{arc} permit, region {c:?}: {terms:?}"
            );
        }
    }
}
