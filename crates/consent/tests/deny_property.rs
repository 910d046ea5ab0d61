//! Property tests: for random consent sets the engine never permits a
//! (category, purpose, date, origin) that an applicable active deny covers.
//!
//! "Applicable" is spelled out here independently of the engine, by flattening
//! every provision into statements about leaf codes. A deny statement applies
//! when its consent is active, the date lies in its provision's period and in
//! every enclosing period, its `dataPeriod` (intersected along the path) may
//! hold the fact (contains the origin; unknown origin: starts on or before the
//! date), and no permit about the same leaf code outranks it: a deeper one in
//! the same consent, or one whose consent is certainly later (both stamps with
//! a time: a later instant; otherwise a later calendar day than the deny's
//! last). Permits are taken as in force whenever their path is (ignoring
//! validity and data periods), which only makes fewer denies applicable. A
//! deny about a code the engine cannot read always applies.
//!
//! Generated consents include withdrawals without codes (bare denies),
//! date-only and timed stamps on the same day, provisions without periods and
//! data periods; a separate property puts a `modifierExtension` anywhere in a
//! FHIR Consent and expects the resource refused.

use chrono::{Days, NaiveDate};
use oncofed_consent::mii::{Family, MII_POLICIES, Scope};
use oncofed_consent::{
    Consent, ConsentStatus, DocumentKind, FhirDateTime, MiiCode, Period, PolicyCode, Provision,
    ProvisionType, RecontactKind, evaluate, evaluate_fact, may_recontact, parse_consent,
    parse_fhir_datetime,
};
use oncofed_model::{DataCategory, Purpose};
use proptest::prelude::*;
use serde_json::json;

const ORIGIN: NaiveDate = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();

fn day(n: u64) -> NaiveDate {
    ORIGIN.checked_add_days(Days::new(n)).unwrap()
}

/// Codes drawn in consents: groups, use, collect and retrospective codes,
/// sharing, re-contact, a code that decides nothing, the OncoFed codes and an
/// unreadable one.
fn code() -> impl Strategy<Value = PolicyCode> {
    let mii = prop::sample::select(vec![
        1u16, 6, 7, 8, 9, 10, 18, 19, 22, 26, 29, 31, 37, 44, 45, 46, 49, 50, 52, 66,
    ])
    .prop_map(|a| PolicyCode::Mii(MiiCode::from_arc(a).unwrap()));
    prop_oneof![
        6 => mii,
        2 => Just(PolicyCode::GdngObjection),
        2 => Just(PolicyCode::GeneticResearch),
        1 => Just(PolicyCode::Withdrawal),
        1 => Just(PolicyCode::Recontact),
        1 => Just(PolicyCode::Unrecognised),
    ]
}

fn period(open_weight: f64) -> impl Strategy<Value = Period> {
    (
        prop::option::weighted(open_weight, 0u64..3650),
        prop::option::weighted(open_weight, 0u64..3650),
    )
        .prop_map(|(a, b)| {
            let (start, end) = match (a, b) {
                (Some(a), Some(b)) => (Some(day(a.min(b))), Some(day(a.max(b)))),
                (a, b) => (a.map(day), b.map(day)),
            };
            Period { start, end }
        })
}

fn kind() -> impl Strategy<Value = Option<ProvisionType>> {
    prop_oneof![
        1 => Just(None),
        3 => Just(Some(ProvisionType::Permit)),
        3 => Just(Some(ProvisionType::Deny)),
    ]
}

fn node(
    kind: Option<ProvisionType>,
    period: Period,
    data_period: Period,
    codes: Vec<PolicyCode>,
    provisions: Vec<Provision>,
) -> Provision {
    Provision {
        kind,
        period,
        data_period,
        type_inherited: false,
        codes,
        provisions,
    }
}

/// A provision tree as the parser produces it: a missing type is inherited.
/// Codes may be empty (a bare deny is gICS's withdrawal shape); periods and
/// data periods are often missing.
fn provision() -> impl Strategy<Value = Provision> {
    let leaf = (
        kind(),
        period(0.4),
        period(0.15),
        prop::collection::vec(code(), 0..3),
    )
        .prop_map(|(k, p, dp, c)| node(k, p, dp, c, vec![]));
    leaf.prop_recursive(3, 24, 4, |inner| {
        (
            kind(),
            period(0.4),
            period(0.1),
            prop::collection::vec(code(), 0..3),
            prop::collection::vec(inner, 0..4),
        )
            .prop_map(|(k, p, dp, c, n)| node(k, p, dp, c, n))
    })
    .prop_map(|mut p| {
        inherit(&mut p, None);
        p
    })
}

fn inherit(p: &mut Provision, parent: Option<ProvisionType>) {
    p.type_inherited = p.kind.is_none() && parent.is_some();
    p.kind = p.kind.or(parent);
    let k = p.kind;
    for c in &mut p.provisions {
        inherit(c, k);
    }
}

/// A `dateTime`: date-only or timed at an hour of that day (UTC), so that
/// same-day stamps of both kinds meet.
fn stamp() -> impl Strategy<Value = FhirDateTime> {
    (0u64..3650, prop::option::weighted(0.5, 0u32..24)).prop_map(|(at, hour)| {
        let text = match hour {
            None => day(at).to_string(),
            Some(h) => format!("{}T{h:02}:00:00Z", day(at)),
        };
        parse_fhir_datetime(&text).unwrap()
    })
}

fn consent() -> impl Strategy<Value = Consent> {
    let status = prop_oneof![
        6 => Just(ConsentStatus::Active),
        1 => Just(ConsentStatus::Inactive),
        1 => Just(ConsentStatus::EnteredInError),
        1 => Just(ConsentStatus::Draft),
    ];
    let document = prop::sample::select(vec![
        DocumentKind::Consent,
        DocumentKind::Refusal,
        DocumentKind::PartialWithdrawal,
        DocumentKind::FullWithdrawal,
    ]);
    (status, stamp(), document, provision()).prop_map(|(status, date_time, document, provision)| {
        Consent {
            resource_id: None,
            status,
            date_time,
            document,
            provision,
        }
    })
}

/// One statement about a leaf code.
#[derive(Clone, Copy)]
struct Flat {
    leaf: PolicyCode,
    consent: usize,
    stamp: FhirDateTime,
    depth: usize,
    kind: ProvisionType,
    /// False for a consent's default deny of what no nested provision
    /// permits: it withholds that consent's permission, it does not veto.
    explicit: bool,
}

/// The codes a statement about `code` speaks about: itself, and for an MII group
/// every code of the group.
fn leaves(code: PolicyCode) -> Vec<PolicyCode> {
    let mut out = vec![code];
    if let PolicyCode::Mii(m) = code {
        for p in MII_POLICIES.iter().filter(|p| p.parent == Some(m.arc())) {
            out.push(PolicyCode::Mii(MiiCode::from_arc(p.arc).unwrap()));
        }
    }
    out
}

/// What a provision without codes speaks about (a deny only): a bare one, or
/// one in a refusal or full withdrawal, everything the engine reads; a
/// consent's default deny every MII code; a partial withdrawal's nothing.
fn blanket(c: &Consent, p: &Provision) -> Vec<PolicyCode> {
    let all_mii = || {
        MII_POLICIES
            .iter()
            .map(|p| PolicyCode::Mii(MiiCode::from_arc(p.arc).unwrap()))
    };
    if p.kind != Some(ProvisionType::Deny) {
        return vec![];
    }
    let everything = || {
        all_mii()
            .chain([PolicyCode::GeneticResearch, PolicyCode::Recontact])
            .collect()
    };
    if p.provisions.is_empty() {
        return everything();
    }
    match c.document {
        DocumentKind::PartialWithdrawal => vec![],
        DocumentKind::Refusal | DocumentKind::FullWithdrawal => everything(),
        DocumentKind::Consent => all_mii().collect(),
    }
}

/// The statements in force on `date` that may hold a fact of `origin`
/// (`None`: unknown, up to `date`).
fn flatten(consents: &[Consent], date: NaiveDate, origin: Option<NaiveDate>) -> Vec<Flat> {
    struct Ctx<'a> {
        c: &'a Consent,
        i: usize,
        date: NaiveDate,
        origin: Option<NaiveDate>,
    }
    fn go(
        x: &Ctx<'_>,
        p: &Provision,
        path: Period,
        data: Period,
        depth: usize,
        out: &mut Vec<Flat>,
    ) {
        let path = path.intersect(&p.period);
        let data = data.intersect(&p.data_period);
        let Some(kind) = p.kind else {
            p.provisions
                .iter()
                .for_each(|n| go(x, n, path, data, depth + 1, out));
            return;
        };
        let in_force = match kind {
            ProvisionType::Deny => path.contains(x.date),
            // Generous for permits: from the consent's day when no start.
            ProvisionType::Permit => path.end.is_none_or(|e| x.date <= e),
        };
        let holds = match (kind, x.origin) {
            (ProvisionType::Permit, _) => true,
            (ProvisionType::Deny, Some(o)) => data.contains(o),
            (ProvisionType::Deny, None) => data.start.is_none_or(|s| s <= x.date),
        };
        if in_force && holds {
            let codes: Vec<PolicyCode> = if p.codes.is_empty() {
                blanket(x.c, p)
            } else {
                p.codes.iter().flat_map(|&c| leaves(c)).collect()
            };
            let explicit = !p.codes.is_empty()
                || p.provisions.is_empty()
                || x.c.document != DocumentKind::Consent;
            for leaf in codes {
                out.push(Flat {
                    leaf,
                    consent: x.i,
                    stamp: x.c.date_time,
                    depth,
                    kind,
                    explicit,
                });
            }
        }
        p.provisions
            .iter()
            .for_each(|n| go(x, n, path, data, depth + 1, out));
    }
    let mut out = Vec::new();
    for (i, c) in consents.iter().enumerate() {
        if c.status == ConsentStatus::Active {
            let x = Ctx { c, i, date, origin };
            go(
                &x,
                &c.provision,
                Period::default(),
                Period::default(),
                0,
                &mut out,
            );
        }
    }
    out
}

/// Whether stamp `a` is certainly later than `b`.
fn later(a: &FhirDateTime, b: &FhirDateTime) -> bool {
    if a.precise && b.precise {
        a.instant > b.instant
    } else {
        a.first_day > b.last_day
    }
}

/// Whether a deny of leaf `code` covers use of `category` whatever else is
/// permitted, with the origin unknown. With a known origin, a biomaterial
/// deny leaves the retrospective window (`.52`) open, so it covers nothing
/// on its own (see [`covers_fact`]).
fn covers(code: PolicyCode, category: DataCategory) -> bool {
    match code {
        PolicyCode::Withdrawal | PolicyCode::Unrecognised => true,
        PolicyCode::GdngObjection => !category.is_genetic(),
        PolicyCode::GeneticResearch => category.is_genetic(),
        PolicyCode::Recontact => false,
        PolicyCode::Mii(m) => match m.policy().scope {
            Scope::Use(Family::Mdat) | Scope::Collect(Family::Mdat) => true,
            Scope::Use(Family::Biomat) | Scope::Collect(Family::Biomat) => category.is_genetic(),
            _ => false,
        },
    }
}

/// [`covers`] for a fact of known origin.
fn covers_fact(code: PolicyCode, category: DataCategory) -> bool {
    let biomat = matches!(code, PolicyCode::Mii(m) if matches!(m.policy().scope, Scope::Use(Family::Biomat) | Scope::Collect(Family::Biomat)));
    !biomat && covers(code, category)
}

/// Whether deny `s` counts for what it covers on its own: explicit only (an
/// implicit default deny withholds a permission, it vetoes nothing).
fn counts(s: &Flat) -> bool {
    s.explicit
}

/// Whether the deny `s` is outranked by a permit about the same leaf.
fn outranked(all: &[Flat], s: &Flat) -> bool {
    s.leaf != PolicyCode::Unrecognised
        && all.iter().any(|o| {
            o.kind == ProvisionType::Permit
                && o.leaf == s.leaf
                && if o.consent == s.consent {
                    o.depth > s.depth
                } else {
                    later(&o.stamp, &s.stamp)
                }
        })
}

fn applicable_deny(
    consents: &[Consent],
    category: DataCategory,
    date: NaiveDate,
    origin: Option<NaiveDate>,
) -> bool {
    let all = flatten(consents, date, origin);
    let covers = if origin.is_some() {
        covers_fact
    } else {
        covers
    };
    // Collection codes are about the day of origin.
    let at_origin = origin.map(|o| flatten(consents, o, Some(o)));
    all.iter().any(|s| {
        let is_collect =
            matches!(s.leaf, PolicyCode::Mii(m) if matches!(m.policy().scope, Scope::Collect(_)));
        if is_collect && origin.is_some() {
            return false; // checked on the day of origin below
        }
        s.kind == ProvisionType::Deny
            && counts(s)
            && covers(s.leaf, category)
            && !outranked(&all, s)
    }) || at_origin.is_some_and(|at| {
        at.iter().any(|s| {
            matches!(s.leaf, PolicyCode::Mii(m) if matches!(m.policy().scope, Scope::Collect(_)))
                && s.kind == ProvisionType::Deny
                && counts(s)
                && covers(s.leaf, category)
                && !outranked(&at, s)
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// The property the issue asks for: no applicable deny is ever permitted,
    /// with the origin unknown ([`evaluate`]) or known ([`evaluate_fact`]).
    #[test]
    fn never_permits_what_an_applicable_deny_covers(
        consents in prop::collection::vec(consent(), 0..6),
        on in 0u64..3650,
        back in 0u64..3650,
    ) {
        let date = day(on);
        let origin = day(on.saturating_sub(back));
        for category in DataCategory::ALL {
            let denied = applicable_deny(&consents, category, date, None);
            for purpose in [Purpose::Feasibility, Purpose::Research] {
                let d = evaluate(&consents, category, purpose, date);
                prop_assert!(!denied || !d.permits(), "{category:?} {purpose}: {d:?}");
            }
            if applicable_deny(&consents, category, date, Some(origin)) {
                let d = evaluate_fact(&consents, category, Purpose::Research, date, origin);
                prop_assert!(!d.permits(), "{category:?} from {origin}: {d:?}");
            }
        }
    }

    /// A deny recorded after everything else, in force on the date, always wins
    /// for what it covers (later versions override earlier ones); also a bare
    /// deny without codes (gICS's withdrawal), which covers everything, and a
    /// date-only one on the day of the latest timed consent.
    #[test]
    fn a_latest_deny_wins(
        consents in prop::collection::vec(consent(), 0..6),
        denied in prop::option::weighted(0.8, code()),
        same_day in any::<bool>(),
        on in 0u64..3650,
    ) {
        let date = day(on);
        let latest = consents.iter().map(|c| c.date_time.last_day).max().unwrap_or(ORIGIN);
        let stamp = if same_day { latest } else { day(3700) };
        let mut all = consents;
        all.push(Consent {
            resource_id: None,
            status: ConsentStatus::Active,
            date_time: parse_fhir_datetime(&stamp.to_string()).unwrap(),
            document: DocumentKind::FullWithdrawal,
            provision: node(Some(ProvisionType::Deny), Period::default(), Period::default(), denied.into_iter().collect(), vec![]),
        });
        for category in DataCategory::ALL {
            if denied.is_none_or(|d| leaves(d).into_iter().any(|l| covers(l, category))) {
                prop_assert!(!evaluate(&all, category, Purpose::Research, date).permits(), "{category:?}");
            }
        }
        if denied.is_none_or(|d| matches!(d, PolicyCode::Withdrawal | PolicyCode::Unrecognised | PolicyCode::Recontact)) {
            for k in RecontactKind::ALL {
                prop_assert!(!may_recontact(&all, date, k).permits());
            }
        }
    }

    /// Adding deny-only statements never turns a deny into a permit.
    #[test]
    fn adding_a_deny_never_permits_more(
        consents in prop::collection::vec(consent(), 0..5),
        extra in consent(),
        on in 0u64..3650,
        back in 0u64..3650,
    ) {
        let date = day(on);
        let origin = day(on.saturating_sub(back));
        let mut deny_only = extra;
        fn to_deny(p: &mut Provision) {
            p.kind = Some(ProvisionType::Deny);
            p.provisions.iter_mut().for_each(to_deny);
        }
        to_deny(&mut deny_only.provision);
        let mut more = consents.clone();
        more.push(deny_only);
        for category in DataCategory::ALL {
            if evaluate(&more, category, Purpose::Feasibility, date).permits() {
                prop_assert!(evaluate(&consents, category, Purpose::Feasibility, date).permits());
            }
            if evaluate_fact(&more, category, Purpose::Research, date, origin).permits() {
                prop_assert!(evaluate_fact(&consents, category, Purpose::Research, date, origin).permits());
            }
        }
        for k in RecontactKind::ALL {
            if may_recontact(&more, date, k).permits() {
                prop_assert!(may_recontact(&consents, date, k).permits());
            }
        }
    }

    /// A `modifierExtension` anywhere in a Consent refuses the resource, as
    /// does `implicitRules` (issue 10, case 4).
    #[test]
    fn modifiers_refuse_the_resource(depth in 0usize..4, at_root in any::<bool>(), implicit in any::<bool>()) {
        let code = json!([{"coding": [{"system": "urn:oncofed:consent-policy", "code": "genetic-research"}]}]);
        let mut p = json!({"type": "permit", "code": code});
        if !at_root {
            p["modifierExtension"] = json!([{"url": "http://example.org/only-if", "valueBoolean": true}]);
        }
        for _ in 0..depth {
            p = json!({"type": "permit", "provision": [p]});
        }
        let mut c = json!({"resourceType": "Consent", "status": "active", "dateTime": "2024-01-01", "provision": p});
        if at_root {
            prop_assert!(parse_consent(&c).is_ok(), "a clean resource parses");
        } else {
            let e = parse_consent(&c).unwrap_err();
            prop_assert!(e.field.ends_with("modifierExtension"), "{}", e.field);
        }
        c["modifierExtension"] = json!([{"url": "http://example.org/x", "valueCode": "y"}]);
        let e = parse_consent(&c).unwrap_err();
        prop_assert!(e.field.ends_with("modifierExtension"), "{}", e.field);
        if implicit {
            c.as_object_mut().unwrap().remove("modifierExtension");
            c["implicitRules"] = json!("http://example.org/rules");
            prop_assert_eq!(parse_consent(&c).unwrap_err().field, "implicitRules");
        }
    }
}
