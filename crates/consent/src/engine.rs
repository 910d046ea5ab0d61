//! The decision rules (numbered as in the crate documentation).

use crate::mii::Scope;
use crate::model::{Consent, ConsentStatus, DocumentKind, PolicyCode, Provision, ProvisionType};
use crate::{Basis, Decision, DenyReason, RecontactKind, mii::MII_POLICIES};
use chrono::{NaiveDate, NaiveDateTime};
use oncofed_model::{DataCategory, Purpose};

/// The statement about one policy code that counts on a date (rules 2 and 3).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Statement {
    /// Consent `dateTime`, nesting depth, deny-on-tie: the greatest rank counts.
    /// Two statements equal in these are told apart by the more serious document
    /// (a withdrawal over a refusal over a consent), then by the earlier end, so
    /// the answer never depends on the order the consents are stored in.
    rank: Rank,
    /// Permit or deny.
    pub kind: ProvisionType,
    /// The document it comes from (tells a withdrawal from a refusal).
    pub document: DocumentKind,
    /// Last day the statement is in force (the earliest `period.end` on its path).
    pub until: Option<NaiveDate>,
}

/// See [`Statement::rank`]: (`dateTime`, depth, is deny, document seriousness,
/// the end reversed so that the earlier end ranks higher; open is last).
type Rank = (NaiveDateTime, usize, bool, u8, std::cmp::Reverse<NaiveDate>);

/// How serious a document is, for ties between otherwise equal statements.
pub(crate) fn seriousness(d: DocumentKind) -> u8 {
    match d {
        DocumentKind::Consent => 0,
        DocumentKind::Refusal => 1,
        DocumentKind::PartialWithdrawal => 2,
        DocumentKind::FullWithdrawal => 3,
    }
}

/// Whether a provision's codes speak about `code`: directly, or through the MII
/// group `code` belongs to (rule 4).
fn speaks_about(codes: &[PolicyCode], code: PolicyCode) -> bool {
    codes.contains(&code)
        || matches!(code, PolicyCode::Mii(m) if m.parent().is_some_and(|g| codes.contains(&PolicyCode::Mii(g))))
}

/// A typed provision in force on the date asked, with its context.
struct InForce<'a> {
    consent: &'a Consent,
    provision: &'a Provision,
    kind: ProvisionType,
    depth: usize,
    /// The earliest `period.end` on its path.
    until: Option<NaiveDate>,
}

/// Walks the active consents' provisions in force on `date`, calling `visit`
/// with each one that has a type (rule 2).
fn walk_in_force(consents: &[Consent], date: NaiveDate, visit: &mut dyn FnMut(InForce<'_>)) {
    fn go<'a>(
        consent: &'a Consent,
        p: &'a Provision,
        date: NaiveDate,
        depth: usize,
        until: Option<NaiveDate>,
        visit: &mut dyn FnMut(InForce<'_>),
    ) {
        if !p.period.contains(date) {
            return; // neither this provision nor its exceptions are in force
        }
        let until = match (until, p.period.end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(kind) = p.kind {
            visit(InForce {
                consent,
                provision: p,
                kind,
                depth,
                until,
            });
        }
        for nested in &p.provisions {
            go(consent, nested, date, depth + 1, until, visit);
        }
    }
    for c in consents
        .iter()
        .filter(|c| c.status == ConsentStatus::Active)
    {
        go(c, &c.provision, date, 0, None, visit);
    }
}

/// The statement about `code` that counts on `date`, if any (rules 2–4).
pub(crate) fn verdict(
    consents: &[Consent],
    code: PolicyCode,
    date: NaiveDate,
) -> Option<Statement> {
    let mut best: Option<Statement> = None;
    walk_in_force(consents, date, &mut |f| {
        if speaks_about(&f.provision.codes, code) {
            let rank = (
                f.consent.date_time.instant,
                f.depth,
                f.kind == ProvisionType::Deny,
                seriousness(f.consent.document),
                std::cmp::Reverse(f.until.unwrap_or(NaiveDate::MAX)),
            );
            if best.is_none_or(|b| rank > b.rank) {
                best = Some(Statement {
                    rank,
                    kind: f.kind,
                    document: f.consent.document,
                    until: f.until,
                });
            }
        }
    });
    best
}

/// Rule 5: whether an active deny in force speaks about a code the engine cannot read.
fn unrecognised_deny(consents: &[Consent], date: NaiveDate) -> bool {
    let mut found = false;
    walk_in_force(consents, date, &mut |f| {
        found |=
            f.kind == ProvisionType::Deny && f.provision.codes.contains(&PolicyCode::Unrecognised);
    });
    found
}

/// The codes whose statements decide use of `category` (rule 6), with whether a
/// permit of the code is an opt-in for it.
pub(crate) fn use_codes(category: DataCategory) -> Vec<(PolicyCode, bool)> {
    let mut out = vec![(PolicyCode::Withdrawal, false)];
    if category == DataCategory::Genetic {
        out.push((PolicyCode::GeneticResearch, true));
    } else {
        out.push((PolicyCode::GdngObjection, false));
    }
    for p in &MII_POLICIES {
        if let Scope::Use { categories, opt_in } = p.scope
            && categories.contains(&category)
        {
            let code = crate::MiiCode::from_arc(p.arc).expect("row of the table");
            out.push((PolicyCode::Mii(code), opt_in));
        }
    }
    out
}

/// The reason a counting deny gives (rule 7), with its priority.
fn deny_reason(code: PolicyCode, s: &Statement) -> DenyReason {
    match (code, s.document) {
        (PolicyCode::Withdrawal, _) | (_, DocumentKind::FullWithdrawal) => DenyReason::Withdrawn,
        (_, DocumentKind::PartialWithdrawal) => DenyReason::PartiallyWithdrawn,
        (PolicyCode::GdngObjection, _) => DenyReason::Objection,
        _ => DenyReason::Refused,
    }
}

fn priority(r: DenyReason) -> u8 {
    match r {
        DenyReason::Withdrawn => 6,
        DenyReason::UnrecognisedCode => 5,
        DenyReason::PartiallyWithdrawn => 4,
        DenyReason::Objection => 3,
        DenyReason::Refused => 2,
        DenyReason::NoOptIn => 1,
    }
}

/// The outcome over a set of codes: the strongest counting deny, or the permits.
struct Tally {
    deny: Option<(DenyReason, PolicyCode)>,
    /// A counting permit of an opt-in code (first in table order) and its end.
    opt_in: Option<(PolicyCode, Option<NaiveDate>)>,
    /// A counting permit of any code (first in table order) and its end.
    any_permit: Option<(PolicyCode, Option<NaiveDate>)>,
}

impl Tally {
    /// Adds rule 5: an unreadable deny in force denies too (a withdrawal is
    /// still reported as such, so the trust centre can act on it).
    fn with_unrecognised(mut self, consents: &[Consent], date: NaiveDate) -> Self {
        let reason = DenyReason::UnrecognisedCode;
        if unrecognised_deny(consents, date)
            && self
                .deny
                .is_none_or(|(r, _)| priority(reason) > priority(r))
        {
            self.deny = Some((reason, PolicyCode::Unrecognised));
        }
        self
    }
}

fn tally(consents: &[Consent], codes: &[(PolicyCode, bool)], date: NaiveDate) -> Tally {
    let mut t = Tally {
        deny: None,
        opt_in: None,
        any_permit: None,
    };
    for &(code, opt_in) in codes {
        let Some(s) = verdict(consents, code, date) else {
            continue;
        };
        match s.kind {
            ProvisionType::Deny => {
                let reason = deny_reason(code, &s);
                if t.deny.is_none_or(|(r, _)| priority(reason) > priority(r)) {
                    t.deny = Some((reason, code));
                }
            }
            ProvisionType::Permit => {
                if opt_in && t.opt_in.is_none() {
                    t.opt_in = Some((code, s.until));
                }
                if t.any_permit.is_none() {
                    t.any_permit = Some((code, s.until));
                }
            }
        }
    }
    t
}

/// See [`crate::evaluate`]; also returns the end of the permitting statement.
pub(crate) fn evaluate_with_end(
    consents: &[Consent],
    category: DataCategory,
    purpose: Purpose,
    date: NaiveDate,
) -> (Decision, Option<NaiveDate>) {
    // Rule 8; a new purpose must be decided here explicitly.
    match purpose {
        Purpose::Feasibility | Purpose::Research => {}
    }
    let t = tally(consents, &use_codes(category), date).with_unrecognised(consents, date);
    if let Some((reason, code)) = t.deny {
        return (
            Decision::Deny {
                reason,
                code: Some(code),
            },
            None,
        );
    }
    if category == DataCategory::Genetic {
        match t.opt_in {
            Some((code, until)) => (
                Decision::Permit {
                    basis: Basis::Consent(code),
                },
                until,
            ),
            None => (
                Decision::Deny {
                    reason: DenyReason::NoOptIn,
                    code: None,
                },
                None,
            ),
        }
    } else {
        match t.any_permit {
            Some((code, until)) => (
                Decision::Permit {
                    basis: Basis::Consent(code),
                },
                until,
            ),
            None => (
                Decision::Permit {
                    basis: Basis::OptOut,
                },
                None,
            ),
        }
    }
}

/// See [`crate::may_recontact`].
pub(crate) fn recontact(consents: &[Consent], date: NaiveDate, kind: RecontactKind) -> Decision {
    let mut codes = vec![
        (PolicyCode::Withdrawal, false),
        (PolicyCode::Recontact, true),
    ];
    for p in &MII_POLICIES {
        if p.scope == Scope::Recontact(kind) {
            codes.push((
                PolicyCode::Mii(crate::MiiCode::from_arc(p.arc).expect("row")),
                true,
            ));
        }
    }
    let t = tally(consents, &codes, date).with_unrecognised(consents, date);
    match (t.deny, t.opt_in) {
        (Some((reason, code)), _) => Decision::Deny {
            reason,
            code: Some(code),
        },
        (None, Some((code, _))) => Decision::Permit {
            basis: Basis::Consent(code),
        },
        (None, None) => Decision::Deny {
            reason: DenyReason::NoOptIn,
            code: None,
        },
    }
}

/// Whether a counting deny stops merging `category` with third-party data, and
/// whether a counting permit allows use outside the EU GDPR level.
pub(crate) fn sharing(
    consents: &[Consent],
    category: DataCategory,
    date: NaiveDate,
) -> (bool, bool) {
    let mut merge = Vec::new();
    let mut non_eu = Vec::new();
    for p in &MII_POLICIES {
        let code = PolicyCode::Mii(crate::MiiCode::from_arc(p.arc).expect("row"));
        match p.scope {
            Scope::ThirdPartyMerge(cats) if cats.contains(&category) => merge.push((code, false)),
            Scope::NonEuUse(cats) if cats.contains(&category) => non_eu.push((code, true)),
            _ => {}
        }
    }
    let merge_denied = tally(consents, &merge, date).deny.is_some();
    let t = tally(consents, &non_eu, date);
    (merge_denied, t.deny.is_none() && t.opt_in.is_some())
}
