//! The consent engine (`oncofed-consent`): FHIR Consent → model → decisions.
//!
//! The input is JSON: one Consent resource, or an array of up to
//! [`MAX_CONSENTS`] (all consents of one person). Properties:
//! - [`parse_consent`] never panics; an error's `field` is an element path made
//!   of the parser's vocabulary (`provision.provision[1].period.end`), its text
//!   is short and never contains a [`crate::MARKER`]ed input string (a
//!   Consent may carry names): it is `field: problem` with a fixed problem text;
//! - on what parsed, [`evaluate`], [`may_recontact`] and [`duo_codes`] never
//!   panic, on fixed dates and on every date where a period or `dateTime` starts
//!   or ends (and the days around it);
//! - decisions (and DUO codes) do not depend on the order of the consents, on
//!   duplicates, on consents that are not `active` (rule 2), or on the purpose
//!   (rule 8);
//! - fail closed: with an added active `withdrawal` deny dated after every other
//!   consent, every category is denied as withdrawn and re-contact is denied.

use crate::{assert_no_echo, is_path, json_strings};
use chrono::{NaiveDate, NaiveDateTime};
use oncofed_consent::{
    Consent, ConsentParseError, ConsentStatus, Decision, DenyReason, ONCOFED_POLICY_SYSTEM,
    Provision, RecontactKind, duo_codes, evaluate, may_recontact, parse_consent,
};
use oncofed_model::{DataCategory, Purpose};
use serde_json::{Value, json};

/// Most consents one input is read as (bounds the work per input).
pub const MAX_CONSENTS: usize = 8;

/// The element names a parse error's `field` may contain: FHIR R4 `Consent`'s
/// elements (those the parser reads now and those it may come to read).
const PATH_NAMES: &[&str] = &[
    "(resource)",
    "resourceType",
    "id",
    "status",
    "scope",
    "category",
    "patient",
    "dateTime",
    "performer",
    "organization",
    "sourceAttachment",
    "sourceReference",
    "policy",
    "authority",
    "uri",
    "policyRule",
    "verification",
    "provision",
    "type",
    "period",
    "actor",
    "role",
    "reference",
    "action",
    "securityLabel",
    "purpose",
    "class",
    "code",
    "coding",
    "system",
    "dataPeriod",
    "data",
    "meaning",
    "start",
    "end",
];

/// Parses `data` as one or several Consents and checks the properties of the module docs.
pub fn check(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let items: Vec<&Value> = match &v {
        Value::Array(a) => a.iter().take(MAX_CONSENTS).collect(),
        other => vec![other],
    };
    let mut consents = Vec::new();
    for item in items {
        match parse_consent(item) {
            Ok(c) => consents.push(c),
            Err(e) => check_error(&e, item),
        }
    }
    if !consents.is_empty() {
        check_decisions(&consents);
    }
}

fn check_error(e: &ConsentParseError, input: &Value) {
    assert!(
        is_path(&e.field, PATH_NAMES),
        "error field is not an element path: {:?}",
        e.field
    );
    // The field is a path of fixed names, the problem a fixed text: nothing of the
    // input can reach the message.
    let text = e.to_string();
    assert_eq!(text, format!("{}: {}", e.field, e.problem));
    assert!(text.len() <= 400, "error text of {} bytes", text.len());
    let mut strings = Vec::new();
    json_strings(input, &mut strings);
    assert_no_echo(&text, &strings, 0);
}

/// The dates decisions are probed on: fixed ones and every boundary in the consents.
fn probe_dates(consents: &[Consent]) -> Vec<NaiveDate> {
    let mut days: Vec<NaiveDate> = [(1900, 1, 1), (2000, 1, 1), (2024, 6, 15), (2100, 1, 1)]
        .iter()
        .filter_map(|&(y, m, d)| NaiveDate::from_ymd_opt(y, m, d))
        .collect();
    fn walk(p: &Provision, out: &mut Vec<NaiveDate>) {
        out.extend(p.period.start);
        out.extend(p.period.end);
        p.provisions.iter().for_each(|q| walk(q, out));
    }
    let mut bounds = Vec::new();
    for c in consents {
        bounds.push(c.date_time.first_day);
        bounds.push(c.date_time.last_day);
        walk(&c.provision, &mut bounds);
    }
    for d in bounds {
        days.push(d);
        days.extend(d.pred_opt());
        days.extend(d.succ_opt());
    }
    days.sort();
    days.dedup();
    // Bound the work: keep the fixed dates and an even spread of the rest.
    if days.len() > 24 {
        let step = days.len().div_ceil(24);
        days = days.into_iter().step_by(step).collect();
    }
    days
}

/// Every answer the engine gives about `consents` on `date`.
fn answers(consents: &[Consent], date: NaiveDate) -> Vec<Decision> {
    let mut out = Vec::new();
    for category in DataCategory::ALL {
        let feasibility = evaluate(consents, category, Purpose::Feasibility, date);
        let research = evaluate(consents, category, Purpose::Research, date);
        assert_eq!(
            feasibility, research,
            "feasibility and research differ (rule 8)"
        );
        out.push(research);
    }
    for kind in RecontactKind::ALL {
        out.push(may_recontact(consents, date, kind));
    }
    out
}

fn check_decisions(consents: &[Consent]) {
    let reversed: Vec<Consent> = consents.iter().rev().cloned().collect();
    let doubled: Vec<Consent> = consents.iter().chain(consents).cloned().collect();
    let active: Vec<Consent> = consents
        .iter()
        .filter(|c| c.status == ConsentStatus::Active)
        .cloned()
        .collect();
    let withdrawn = with_withdrawal(consents);
    for date in probe_dates(consents) {
        let base = answers(consents, date);
        assert_eq!(
            answers(&reversed, date),
            base,
            "decision depends on the order of consents on {date}"
        );
        assert_eq!(
            answers(&doubled, date),
            base,
            "decision changes with duplicated consents on {date}"
        );
        assert_eq!(
            answers(&active, date),
            base,
            "an inactive consent changes a decision on {date} (rule 2)"
        );
        for category in DataCategory::ALL {
            let duo = duo_codes(consents, category, date);
            assert_eq!(
                duo_codes(&reversed, category, date),
                duo,
                "DUO codes depend on the order of consents on {date}"
            );
            assert_eq!(duo_codes(&doubled, category, date), duo);
        }
        if let Some(withdrawn) = &withdrawn {
            for category in DataCategory::ALL {
                let d = evaluate(withdrawn, category, Purpose::Research, date);
                assert!(
                    matches!(
                        d,
                        Decision::Deny {
                            reason: DenyReason::Withdrawn,
                            ..
                        }
                    ),
                    "{category:?} not withdrawn after a later withdrawal on {date}: {d:?}"
                );
            }
            for kind in RecontactKind::ALL {
                assert!(!may_recontact(withdrawn, date, kind).permits());
            }
        }
    }
}

/// `consents` plus an active `withdrawal` deny one day after the latest of them,
/// built through the parser like any other (`None` when that day does not fit
/// a FHIR `dateTime`).
fn with_withdrawal(consents: &[Consent]) -> Option<Vec<Consent>> {
    let latest: NaiveDateTime = consents.iter().map(|c| c.date_time.instant).max()?;
    let instant = latest.checked_add_signed(chrono::TimeDelta::days(1))?;
    let withdrawal = parse_consent(&json!({
        "resourceType": "Consent", "status": "active",
        "dateTime": instant.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "provision": {"type": "deny", "code": [{"coding": [
            {"system": ONCOFED_POLICY_SYSTEM, "code": "withdrawal"}]}]}
    }))
    .ok()?;
    let mut out = consents.to_vec();
    out.push(withdrawal);
    Some(out)
}
