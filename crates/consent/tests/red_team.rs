//! Regression tests for issue 10: one per fail-open case (each failed before
//! its fix), then the over-deny cases. Consents are FHIR JSON.

use chrono::NaiveDate;
use oncofed_consent::{
    Basis, Consent, Decision, DenyReason, DocumentKind, DuoCode, MiiCode, PolicyCode,
    RecontactKind, duo_codes, evaluate, evaluate_fact, may_recontact, parse_consent,
};
use oncofed_model::DataCategory::{self, Clinical, Genetic, Pathology};
use oncofed_model::Purpose;
use serde_json::{Value, json};

const MII: &str = "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3";
const BC_172: &str = "urn:oid:2.16.840.1.113883.3.1937.777.24.2.2079";
const FULL_172: &str = "urn:oid:2.16.840.1.113883.3.1937.777.24.2.2722";
const GICS_POLICY: &str = "https://ths-greifswald.de/fhir/CodeSystem/gics/Policy";

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn code(arc: u16) -> Value {
    json!([{"coding": [{"system": MII, "code": format!("2.16.840.1.113883.3.1937.777.24.5.3.{arc}")}]}])
}

fn mii(arc: u16) -> PolicyCode {
    PolicyCode::Mii(MiiCode::from_arc(arc).unwrap())
}

fn parse(resources: &[Value]) -> Vec<Consent> {
    resources
        .iter()
        .map(|r| parse_consent(r).expect("valid consent"))
        .collect()
}

fn permits(consents: &[Consent], category: DataCategory, on: &str) -> bool {
    let a = evaluate(consents, category, Purpose::Research, day(on));
    let b = evaluate(consents, category, Purpose::Feasibility, day(on));
    assert_eq!(a, b, "rule 8");
    a.permits()
}

/// A broad consent 1.7.2 (root deny) with nested provisions (type, arc, period).
fn broad(date_time: &str, nested: &[(&str, u16, Value)]) -> Value {
    let provisions: Vec<Value> = nested
        .iter()
        .map(|(k, a, p)| json!({"type": k, "period": p, "code": code(*a)}))
        .collect();
    json!({"resourceType": "Consent", "status": "active", "dateTime": date_time,
           "policy": [{"uri": BC_172}], "provision": {"type": "deny", "provision": provisions}})
}

/// PATDAT and BIOMAT permitted from `start`, no end (validity decides).
fn full_broad(date_time: &str, start: &str) -> Value {
    let p = json!({"start": start});
    let rows: Vec<(&str, u16, Value)> = [6, 7, 8, 9, 19, 20, 22, 23, 31, 37]
        .iter()
        .map(|&a| ("permit", a, p.clone()))
        .collect();
    broad(date_time, &rows)
}

fn genetic_opt_in(date_time: &str) -> Value {
    json!({"resourceType": "Consent", "status": "active", "dateTime": date_time,
           "provision": {"type": "permit", "code": [{"coding": [{"system": "urn:oncofed:consent-policy", "code": "genetic-research"}]}]}})
}

/// Case 1: gICS writes a withdrawal or refusal as a bare root `deny` without
/// codes. It used to decide nothing, so genetic data stayed permitted.
#[test]
fn red_team_bare_root_deny_withdrawal_denies_genetic_data() {
    let before = [
        full_broad("2023-01-01", "2023-01-01"),
        genetic_opt_in("2023-01-01"),
    ];
    assert!(permits(&parse(&before), Genetic, "2024-06-01"));
    for (policy, reason) in [
        (Some(FULL_172), DenyReason::Withdrawn),
        (None, DenyReason::Refused),
    ] {
        let mut bare = json!({"resourceType": "Consent", "status": "active", "dateTime": "2024-03-01",
                              "provision": {"type": "deny", "period": {"start": "2024-03-01"}}});
        if let Some(uri) = policy {
            bare["policy"] = json!([{ "uri": uri }]);
        }
        let mut all = before.to_vec();
        all.push(bare);
        let consents = parse(&all);
        for c in DataCategory::ALL {
            let d = evaluate(&consents, c, Purpose::Research, day("2024-06-01"));
            assert!(
                matches!(d, Decision::Deny { reason: r, .. } if r == reason),
                "{policy:?} {c:?}: {d:?}"
            );
        }
        for k in RecontactKind::ALL {
            assert!(
                !may_recontact(&consents, day("2024-06-01"), k).permits(),
                "{k:?}"
            );
        }
        assert!(duo_codes(&consents, Genetic, day("2024-06-01")).is_empty());
        // Before the withdrawal's start nothing changes.
        assert!(permits(&consents, Genetic, "2023-06-01"));
    }
}

/// Case 2: a withdrawal dated `2024-03-01` (no time) and a consent stamped
/// 10:00 that day. The date-only stamp was ranked at 00:00 UTC and lost.
/// Rule: stamps of unknown order (same calendar day, one of them date-only)
/// resolve to deny; a consent on a later day overrides.
#[test]
fn red_team_date_only_same_day_withdrawal_beats_a_later_stamp() {
    let withdrawal = |dt: &str| {
        json!({"resourceType": "Consent", "status": "active", "dateTime": dt,
               "provision": {"type": "deny", "code": [{"coding": [{"system": "urn:oncofed:consent-policy", "code": "genetic-research"}]}]}})
    };
    let stamped = genetic_opt_in("2024-03-01T10:00:00+01:00");
    for pair in [
        vec![stamped.clone(), withdrawal("2024-03-01")],
        vec![withdrawal("2024-03-01"), stamped.clone()],
        // The other way round: a date-only consent and a withdrawal stamped that day.
        vec![
            genetic_opt_in("2024-03-01"),
            withdrawal("2024-03-01T08:00:00+01:00"),
        ],
    ] {
        assert_eq!(
            evaluate(&parse(&pair), Genetic, Purpose::Research, day("2024-06-01")),
            Decision::Deny {
                reason: DenyReason::Refused,
                code: Some(PolicyCode::GeneticResearch),
                inherited_type: false
            }
        );
    }
    // A re-consent on the next day, and two stamps with times, are ordered.
    assert!(permits(
        &parse(&[withdrawal("2024-03-01"), genetic_opt_in("2024-03-02")]),
        Genetic,
        "2024-06-01"
    ));
    assert!(permits(
        &parse(&[withdrawal("2024-03-01T08:00:00+01:00"), stamped]),
        Genetic,
        "2024-06-01"
    ));
}

/// Case 3: a permit without `period.end` never expired (genetic data in 2060,
/// no DUO time limit); a provision without any period is read explicitly.
#[test]
fn red_team_permit_without_end_expires_by_period_of_validity() {
    // .22 is P30Y from its start 2023-01-01: last day 2052-12-31.
    let consents = parse(&[full_broad("2023-01-01", "2023-01-01")]);
    assert!(permits(&consents, Genetic, "2027-06-01"));
    assert!(!permits(&consents, Genetic, "2060-01-01"));
    assert!(
        duo_codes(&consents, Clinical, day("2025-06-01")).contains(&DuoCode::TimeLimit {
            until: day("2052-12-31")
        })
    );
    // OncoFed's opt-in has no code-system validity: OncoFed gives it P30Y too.
    let opt_in = parse(&[genetic_opt_in("2024-05-01")]);
    assert!(permits(&opt_in, Genetic, "2054-04-30"));
    assert!(!permits(&opt_in, Genetic, "2054-05-01"));
    // No period at all: a permit starts on its consent's day (not before) ...
    assert!(!permits(&opt_in, Genetic, "2024-04-30"));
    // ... and .6 (collect, P5Y) without a period closes the window after five
    // years: data used later is refused as not collected.
    let no_period = parse(&[broad(
        "2020-01-01",
        &[
            ("permit", 6, json!({})),
            ("permit", 7, json!({})),
            ("permit", 8, json!({})),
        ],
    )]);
    assert!(permits(&no_period, Clinical, "2024-12-31"));
    assert_eq!(
        evaluate(&no_period, Clinical, Purpose::Research, day("2025-01-01")),
        Decision::Deny {
            reason: DenyReason::NotCollected,
            code: Some(mii(6)),
            inherited_type: false
        }
    );
    // A deny without a period counts from always, for ever.
    let deny = parse(&[broad("2020-01-01", &[("deny", 8, json!({}))])]);
    assert!(!permits(&deny, Clinical, "1990-01-01"));
    assert!(!permits(&deny, Clinical, "2099-01-01"));
}

/// Case 4: `modifierExtension` and `implicitRules` were ignored.
#[test]
fn red_team_modifier_extension_and_implicit_rules_refuse_the_resource() {
    let base = genetic_opt_in("2024-01-01");
    assert!(parse_consent(&base).is_ok());
    let mut nested = base.clone();
    nested["provision"]["modifierExtension"] =
        json!([{"url": "http://example.org/only-for-project-x", "valueBoolean": true}]);
    let e = parse_consent(&nested).unwrap_err();
    assert_eq!(e.field, "provision.modifierExtension");
    let mut root = base.clone();
    root["modifierExtension"] = json!([{"url": "http://example.org/x", "valueCode": "Mustermann"}]);
    let e = parse_consent(&root).unwrap_err();
    assert_eq!(e.field, "modifierExtension");
    assert!(
        !e.to_string().contains("Mustermann"),
        "no value in the error"
    );
    let mut in_actor = base.clone();
    in_actor["provision"]["actor"] =
        json!([{"modifierExtension": [{"url": "x"}], "reference": {"display": "Dr. Beispiel"}}]);
    assert_eq!(
        parse_consent(&in_actor).unwrap_err().field,
        "provision.actor[0].modifierExtension"
    );
    let mut rules = base;
    rules["implicitRules"] = json!("http://example.org/local-rules");
    assert_eq!(parse_consent(&rules).unwrap_err().field, "implicitRules");
}

/// Case 5: `provision.dataPeriod` was ignored: a retrospective permit (.52)
/// limited to data before 2020 opened all genetic data.
#[test]
fn red_team_data_period_limits_a_retrospective_permit() {
    let c = json!({"resourceType": "Consent", "status": "active", "dateTime": "2022-01-01",
        "policy": [{"uri": BC_172}],
        "provision": {"type": "deny", "period": {"start": "2022-01-01"}, "provision": [
            {"type": "permit", "period": {"start": "2022-01-01"}, "code": code(6)},
            {"type": "permit", "period": {"start": "2022-01-01"}, "code": code(7)},
            {"type": "permit", "period": {"start": "2022-01-01"}, "code": code(8)},
            {"type": "permit", "period": {"start": "2022-01-01"}, "dataPeriod": {"end": "2019-12-31"}, "code": code(45)},
            {"type": "permit", "period": {"start": "2022-01-01"}, "dataPeriod": {"end": "2019-12-31"}, "code": code(52)}]}});
    let consents = parse(&[c]);
    let fact = |cat, origin: &str| {
        evaluate_fact(
            &consents,
            cat,
            Purpose::Research,
            day("2024-06-01"),
            day(origin),
        )
        .permits()
    };
    assert!(fact(Genetic, "2019-06-01"), "inside the data period");
    assert!(
        !fact(Genetic, "2021-06-01"),
        "before the consent, after the data period"
    );
    assert!(
        !fact(Genetic, "2023-06-01"),
        "after the consent: .22 was not permitted"
    );
    assert!(fact(Clinical, "2019-06-01"));
    assert!(!fact(Clinical, "2021-06-01"));
    // Origin unknown: the limited permit cannot cover every possible origin.
    assert!(!permits(&consents, Genetic, "2024-06-01"));
    // A deny limited by its data period denies only that data.
    let deny = parse(&[
        json!({"resourceType": "Consent", "status": "active", "dateTime": "2022-01-01",
        "provision": {"type": "deny", "dataPeriod": {"start": "2021-01-01", "end": "2021-12-31"},
                      "code": [{"coding": [{"system": "urn:oncofed:consent-policy", "code": "gdng-objection"}]}]}}),
    ]);
    let on = day("2024-06-01");
    assert!(!evaluate_fact(&deny, Clinical, Purpose::Research, on, day("2021-05-05")).permits());
    assert!(evaluate_fact(&deny, Clinical, Purpose::Research, on, day("2022-05-05")).permits());
    assert!(
        !evaluate(&deny, Clinical, Purpose::Research, on).permits(),
        "unknown origin"
    );
}

/// Case 6: collecting codes (.6, .19, five years) were read as permission to
/// use on the date asked: data produced after the window was still permitted.
#[test]
fn red_team_collection_window_closes_for_later_data() {
    let window = json!({"start": "2020-09-01", "end": "2025-08-31"});
    let long = json!({"start": "2020-09-01", "end": "2050-08-31"});
    let consents = parse(&[broad(
        "2020-09-01",
        &[
            ("permit", 6, window.clone()),
            ("permit", 7, long.clone()),
            ("permit", 8, long.clone()),
            ("permit", 19, window),
            ("permit", 20, long.clone()),
            ("permit", 22, long),
        ],
    )]);
    let on = day("2030-01-01");
    let fact =
        |cat, origin: &str| evaluate_fact(&consents, cat, Purpose::Research, on, day(origin));
    for cat in [Clinical, Genetic, Pathology] {
        assert!(
            fact(cat, "2024-06-01").permits(),
            "{cat:?} collected inside the window"
        );
        assert!(
            !fact(cat, "2026-06-01").permits(),
            "{cat:?} collected after the window"
        );
        assert!(
            !fact(cat, "2019-06-01").permits(),
            "{cat:?} before the consent, no .45/.52"
        );
    }
    assert_eq!(
        fact(Clinical, "2026-06-01"),
        Decision::Deny {
            reason: DenyReason::NotCollected,
            code: Some(mii(6)),
            inherited_type: false
        }
    );
    assert!(
        !fact(Clinical, "2030-01-02").permits(),
        "origin after the date of use"
    );
}

/// Over-deny: gICS sends its own policy code beside the MII code; the foreign
/// concept made every deny unreadable and denied the whole person.
#[test]
fn over_deny_gics_codes_beside_mii_codes() {
    let gics_and_mii = |kind: &str, gics: &str, arc: u16| {
        json!({"type": kind, "period": {"start": "2023-01-01"}, "code": [
            {"coding": [{"system": GICS_POLICY, "code": gics}]},
            {"coding": [{"system": MII, "code": format!("2.16.840.1.113883.3.1937.777.24.5.3.{arc}")}]}]})
    };
    let c = json!({"resourceType": "Consent", "status": "active", "dateTime": "2023-01-01",
        "category": [{"coding": [{"system": "http://fhir.de/ConsentManagement/CodeSystem/TemplateType", "code": "CONSENT-OPT-IN"}]}],
        "policy": [{"uri": "urn:uuid:5213d78f-2008-4b9e-9f0e-42ec38a1d518"}],
        "provision": {"type": "deny", "period": {"start": "2023-01-01"}, "provision": [
            gics_and_mii("permit", "MDAT_erheben", 6),
            gics_and_mii("permit", "MDAT_speichern_verarbeiten", 7),
            gics_and_mii("permit", "MDAT_wissenschaftlich_nutzen_EU_DSGVO_NIVEAU", 8),
            gics_and_mii("deny", "BIOMAT_Analysedaten_zusammenfuehren_Dritte", 23),
            gics_and_mii("deny", "Rekontaktierung_weitere_Studien_neu", 29)]}});
    let consents = parse(&[c]);
    assert_eq!(consents[0].document, DocumentKind::Consent);
    assert_eq!(
        evaluate(&consents, Clinical, Purpose::Research, day("2024-06-01")),
        Decision::Permit {
            basis: Basis::Consent(mii(7))
        }
    );
    // gICS codes alone are read through the mapping table.
    let alone = json!({"resourceType": "Consent", "status": "active", "dateTime": "2023-01-01",
        "provision": {"type": "deny", "code": [{"coding": [{"system": format!("{GICS_POLICY}/MII"), "code": "MDAT_wissenschaftlich_nutzen_EU_DSGVO_NIVEAU"}]}]}});
    assert_eq!(parse(&[alone])[0].provision.codes, vec![mii(8)]);
    // An unknown gICS code alone is still unreadable: its deny denies all.
    let unknown = json!({"resourceType": "Consent", "status": "active", "dateTime": "2023-01-01",
        "provision": {"type": "deny", "code": [{"coding": [{"system": GICS_POLICY, "code": "SOMETHING_NEW"}]}]}});
    assert!(!permits(&parse(&[unknown]), Clinical, "2024-06-01"));
    // An unknown gICS template type may be a withdrawal: the resource is refused.
    let mut odd = genetic_opt_in("2024-01-01");
    odd["category"] = json!([{"coding": [{"system": "http://fhir.de/ConsentManagement/CodeSystem/TemplateType", "code": "PARTIAL-WHATEVER"}]}]);
    assert_eq!(
        parse_consent(&odd).unwrap_err().field,
        "category[0].coding[0].code"
    );
}

/// Over-deny: .45 only extends the collection window backwards; its deny
/// denied all medical data. .52 counted as opt-in for all data and its deny
/// blocked data .22 permits. .22 decided pathology. .37 and .31 were merged.
#[test]
fn over_deny_retrospective_codes_pathology_and_recontact_kinds() {
    let start = json!({"start": "2023-01-01"});
    let consents = parse(&[broad(
        "2023-01-01",
        &[
            ("permit", 6, start.clone()),
            ("permit", 7, start.clone()),
            ("permit", 8, start.clone()),
            ("deny", 45, start.clone()),
            ("permit", 19, start.clone()),
            ("permit", 22, start.clone()),
            ("deny", 52, start.clone()),
            ("permit", 37, start.clone()),
            ("deny", 31, start),
        ],
    )]);
    let on = day("2025-06-01");
    let fact =
        |cat, origin: &str| evaluate_fact(&consents, cat, Purpose::Research, on, day(origin));
    assert!(
        fact(Clinical, "2024-01-01").permits(),
        ".45 deny leaves prospective data"
    );
    assert!(
        !fact(Clinical, "2022-01-01").permits(),
        "retrospective data refused"
    );
    assert!(
        fact(Genetic, "2024-01-01").permits(),
        ".52 deny leaves what .22 permits"
    );
    assert!(!fact(Genetic, "2022-01-01").permits());
    assert!(may_recontact(&consents, on, RecontactKind::SignificantResults).permits());
    assert!(!may_recontact(&consents, on, RecontactKind::AdditionalFindings).permits());
    // .22 deny does not touch pathology (routine medical data).
    let no_biomat = parse(&[broad(
        "2023-01-01",
        &[
            ("permit", 7, json!({})),
            ("permit", 8, json!({})),
            ("deny", 22, json!({})),
        ],
    )]);
    assert!(permits(&no_biomat, Pathology, "2025-06-01"));
    assert!(!permits(&no_biomat, Genetic, "2025-06-01"));
}

/// Found by `deny_property` (issue 13 session): adding an *older* partial
/// withdrawal of the retrospective group `.44` turned a deny into a permit. The
/// engine picked one deny per code by seriousness (the withdrawal) and asked only
/// that one whether the fact was older than its start; the consent's own deny of
/// `.44`, starting on the day of use, covered the day-old fact but was never
/// asked. Now every standing deny is asked, and an explicit deny is never hidden
/// behind a more serious document's implicit one.
#[test]
fn red_team_an_older_partial_withdrawal_does_not_reopen_retrospective_data() {
    use oncofed_consent::{
        ConsentStatus, DocumentKind, FhirDateTime, Period, Provision, ProvisionType,
    };
    let stamp = |d: &str| {
        let d = day(d);
        FhirDateTime {
            instant: d.and_hms_opt(0, 0, 0).unwrap(),
            first_day: d,
            last_day: d,
            precise: false,
        }
    };
    let provision = |kind, start: Option<&str>, codes, provisions| Provision {
        kind: Some(kind),
        period: Period {
            start: start.map(day),
            end: None,
        },
        data_period: Period::default(),
        type_inherited: false,
        codes,
        provisions,
    };
    // Denies retrospective data (.44 and its members) from 2021-04-07 on, and
    // permits use (.7) and waives the objection.
    let consent = Consent {
        resource_id: None,
        status: ConsentStatus::Active,
        date_time: stamp("2021-01-25"),
        document: DocumentKind::Consent,
        provision: provision(
            ProvisionType::Deny,
            Some("2021-04-07"),
            vec![mii(44)],
            vec![
                provision(
                    ProvisionType::Permit,
                    None,
                    vec![PolicyCode::GdngObjection],
                    vec![],
                ),
                provision(ProvisionType::Permit, None, vec![mii(7)], vec![]),
            ],
        ),
    };
    let withdrawal = Consent {
        resource_id: None,
        status: ConsentStatus::Active,
        date_time: stamp("2020-01-01"),
        document: DocumentKind::PartialWithdrawal,
        provision: provision(ProvisionType::Deny, None, vec![mii(44)], vec![]),
    };
    let (on, origin) = (day("2021-04-07"), day("2021-04-06"));
    for consents in [vec![consent.clone()], vec![consent, withdrawal]] {
        for category in [Clinical, Pathology] {
            let decision =
                oncofed_consent::evaluate_fact(&consents, category, Purpose::Research, on, origin);
            assert!(
                !decision.permits(),
                "{} consents: {decision:?}",
                consents.len()
            );
        }
    }
}

/// Found by `deny_property` (issue 13 session): an older consent with a bare
/// deny (no codes: denies everything, biomaterial collection included) and a
/// later consent permitting biomaterial use (`.22`): genetic data was permitted
/// through the `.22` window because no consent *named* a collection code, so the
/// collection question counted as not asked. A standing explicit deny of a
/// collection code now closes the window.
#[test]
fn red_team_a_blanket_deny_closes_the_biomaterial_collection_window() {
    use oncofed_consent::{
        ConsentStatus, DocumentKind, FhirDateTime, Period, Provision, ProvisionType,
    };
    let stamp = |d: &str| {
        let d = day(d);
        FhirDateTime {
            instant: d.and_hms_opt(0, 0, 0).unwrap(),
            first_day: d,
            last_day: d,
            precise: false,
        }
    };
    let provision = |kind, start: Option<&str>, inherited, codes, provisions| Provision {
        kind,
        period: Period {
            start: start.map(day),
            end: None,
        },
        data_period: Period::default(),
        type_inherited: inherited,
        codes,
        provisions,
    };
    let later_use = Consent {
        resource_id: None,
        status: ConsentStatus::Active,
        date_time: stamp("2020-05-25"),
        document: DocumentKind::Consent,
        provision: provision(
            Some(ProvisionType::Permit),
            Some("2023-05-24"),
            false,
            vec![mii(22)],
            vec![provision(
                Some(ProvisionType::Permit),
                None,
                true,
                vec![PolicyCode::GeneticResearch, mii(1)],
                vec![],
            )],
        ),
    };
    let bare_deny = Consent {
        resource_id: None,
        status: ConsentStatus::Active,
        date_time: stamp("2020-01-01"),
        document: DocumentKind::Consent,
        provision: provision(
            None,
            None,
            false,
            vec![],
            vec![provision(
                Some(ProvisionType::Deny),
                None,
                false,
                vec![],
                vec![],
            )],
        ),
    };
    let on = day("2023-05-24");
    let decision =
        oncofed_consent::evaluate(&[later_use, bare_deny], Genetic, Purpose::Feasibility, on);
    assert!(!decision.permits(), "{decision:?}");
}
