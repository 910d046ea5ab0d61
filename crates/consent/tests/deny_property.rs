//! Property tests: for random consent sets the engine never permits a
//! (category, purpose, date) that an applicable active deny covers.
//!
//! "Applicable" is spelled out here independently of the engine, by flattening
//! every provision into statements about leaf codes: a deny statement applies
//! when its consent is active, the date lies in its provision's period and in
//! every enclosing period, and no statement about the same leaf code outranks it
//! (later consent `dateTime`, then deeper nesting, deny winning ties). A deny
//! about a code the engine cannot read always applies.

use chrono::{Days, NaiveDate};
use oncofed_consent::mii::{MII_POLICIES, Scope};
use oncofed_consent::{
    Consent, ConsentStatus, DocumentKind, MiiCode, Period, PolicyCode, Provision, ProvisionType,
    RecontactKind, evaluate, may_recontact, parse_fhir_datetime,
};
use oncofed_model::{DataCategory, Purpose};
use proptest::prelude::*;

const ORIGIN: NaiveDate = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();

fn day(n: u64) -> NaiveDate {
    ORIGIN.checked_add_days(Days::new(n)).unwrap()
}

/// Codes drawn in consents: groups, use codes, sharing, re-contact, a code that
/// decides nothing, the OncoFed codes and an unreadable one.
fn code() -> impl Strategy<Value = PolicyCode> {
    let mii = prop::sample::select(vec![
        1u16, 6, 8, 9, 10, 18, 22, 26, 29, 31, 37, 44, 46, 49, 52, 66,
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

fn period() -> impl Strategy<Value = Period> {
    (
        prop::option::weighted(0.4, 0u64..3650),
        prop::option::weighted(0.4, 0u64..3650),
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

/// A provision tree as the parser produces it: a missing type is inherited.
fn provision() -> impl Strategy<Value = Provision> {
    let leaf = (kind(), period(), prop::collection::vec(code(), 0..3)).prop_map(
        |(kind, period, codes)| Provision {
            kind,
            period,
            codes,
            provisions: vec![],
        },
    );
    leaf.prop_recursive(3, 24, 4, |inner| {
        (
            kind(),
            period(),
            prop::collection::vec(code(), 0..3),
            prop::collection::vec(inner, 0..4),
        )
            .prop_map(|(kind, period, codes, provisions)| Provision {
                kind,
                period,
                codes,
                provisions,
            })
    })
    .prop_map(|mut p| {
        inherit(&mut p, None);
        p
    })
}

fn inherit(p: &mut Provision, parent: Option<ProvisionType>) {
    p.kind = p.kind.or(parent);
    let k = p.kind;
    for c in &mut p.provisions {
        inherit(c, k);
    }
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
    (status, 0u64..3650, document, provision()).prop_map(|(status, at, document, provision)| {
        Consent {
            resource_id: None,
            status,
            date_time: parse_fhir_datetime(&day(at).to_string()).unwrap(),
            document,
            provision,
        }
    })
}

/// One statement about a leaf code: (code, rank, type).
type Flat = (
    PolicyCode,
    (chrono::NaiveDateTime, usize, bool),
    ProvisionType,
);

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

fn flatten(consents: &[Consent], date: NaiveDate) -> Vec<Flat> {
    fn go(c: &Consent, p: &Provision, date: NaiveDate, depth: usize, out: &mut Vec<Flat>) {
        if !p.period.contains(date) {
            return;
        }
        if let Some(kind) = p.kind {
            for &code in &p.codes {
                for leaf in leaves(code) {
                    out.push((
                        leaf,
                        (c.date_time.instant, depth, kind == ProvisionType::Deny),
                        kind,
                    ));
                }
            }
        }
        for n in &p.provisions {
            go(c, n, date, depth + 1, out);
        }
    }
    let mut out = Vec::new();
    for c in consents
        .iter()
        .filter(|c| c.status == ConsentStatus::Active)
    {
        go(c, &c.provision, date, 0, &mut out);
    }
    out
}

/// Whether a deny of `code` covers use of `category`.
fn covers(code: PolicyCode, category: DataCategory) -> bool {
    match code {
        PolicyCode::Withdrawal | PolicyCode::Unrecognised => true,
        PolicyCode::GdngObjection => category != DataCategory::Genetic,
        PolicyCode::GeneticResearch => category == DataCategory::Genetic,
        PolicyCode::Recontact => false,
        PolicyCode::Mii(m) => {
            matches!(m.policy().scope, Scope::Use { categories, .. } if categories.contains(&category))
        }
    }
}

/// Whether the statement is the top-ranked one about its code.
fn applies(all: &[Flat], s: &Flat) -> bool {
    s.0 == PolicyCode::Unrecognised || all.iter().all(|o| o.0 != s.0 || o.1 <= s.1)
}

fn applicable_deny(consents: &[Consent], category: DataCategory, date: NaiveDate) -> bool {
    let all = flatten(consents, date);
    all.iter()
        .any(|s| s.2 == ProvisionType::Deny && covers(s.0, category) && applies(&all, s))
}

fn applicable_opt_in(consents: &[Consent], date: NaiveDate) -> bool {
    let opt_in = |c: PolicyCode| {
        c == PolicyCode::GeneticResearch
            || matches!(c, PolicyCode::Mii(m) if matches!(m.policy().scope, Scope::Use { opt_in: true, .. }))
    };
    let all = flatten(consents, date);
    all.iter()
        .any(|s| s.2 == ProvisionType::Permit && opt_in(s.0) && applies(&all, s))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// The property the issue asks for, and its converse: the engine's answer is
    /// exactly "no applicable deny (and, for genetic data, an applicable opt-in)".
    #[test]
    fn never_permits_what_an_applicable_deny_covers(
        consents in prop::collection::vec(consent(), 0..6),
        on in 0u64..3650,
    ) {
        let date = day(on);
        for category in DataCategory::ALL {
            let denied = applicable_deny(&consents, category, date);
            for purpose in [Purpose::Feasibility, Purpose::Research] {
                let d = evaluate(&consents, category, purpose, date);
                if denied {
                    prop_assert!(!d.permits(), "{category:?} {purpose}: {d:?}");
                } else if category == DataCategory::Genetic {
                    prop_assert_eq!(d.permits(), applicable_opt_in(&consents, date), "{:?}", d);
                } else {
                    prop_assert!(d.permits(), "{category:?} {purpose}: {d:?}");
                }
            }
        }
    }

    /// A deny recorded after everything else, in force on the date, always wins
    /// for what it covers (later versions override earlier ones).
    #[test]
    fn a_latest_deny_wins(
        consents in prop::collection::vec(consent(), 0..6),
        denied in code(),
        on in 0u64..3650,
    ) {
        let date = day(on);
        let mut all = consents;
        all.push(Consent {
            resource_id: None,
            status: ConsentStatus::Active,
            date_time: parse_fhir_datetime("2031-01-01").unwrap(),
            document: DocumentKind::PartialWithdrawal,
            provision: Provision { kind: Some(ProvisionType::Deny), period: Period::default(), codes: vec![denied], provisions: vec![] },
        });
        for category in DataCategory::ALL {
            if leaves(denied).into_iter().any(|l| covers(l, category)) {
                prop_assert!(!evaluate(&all, category, Purpose::Research, date).permits());
            }
        }
        if matches!(denied, PolicyCode::Withdrawal | PolicyCode::Unrecognised | PolicyCode::Recontact) {
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
    ) {
        let date = day(on);
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
        }
        for k in RecontactKind::ALL {
            if may_recontact(&more, date, k).permits() {
                prop_assert!(may_recontact(&consents, date, k).permits());
            }
        }
    }
}
