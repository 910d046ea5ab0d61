//! Which statement about one policy code counts on a date (rules 2–4 of the
//! crate documentation), for a fact of a given date of origin.
//!
//! Two phases, so that the answer never depends on the order consents are
//! stored in: first each consent's own statement about the code (the deepest
//! provision in force that speaks about it, deny on a tie, an explicit deny
//! before a default deny), then across
//! consents: a permit counts only when its consent is *certainly* later than
//! every deny's ([`FhirDateTime::certainly_after`]); otherwise a deny counts.

use crate::model::{
    Consent, ConsentStatus, DocumentKind, FhirDateTime, Period, PolicyCode, Provision,
    ProvisionType,
};
use chrono::{Months, NaiveDate};
use std::cmp::Reverse;

/// How long an OncoFed permit (`genetic-research`, `recontact`,
/// `gdng-objection` lifted) without `period.end` lasts: as long as the MII's
/// scientific-use codes (`P30Y`), because no code system gives one.
const ONCOFED_VALIDITY_YEARS: u32 = 30;

/// The fact a question is about: when it originated and when it is used.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fact {
    /// The date of use asked about.
    pub use_date: NaiveDate,
    /// The fact's date of origin, when the caller knows it. Unknown: it may be
    /// any day up to the date of use.
    pub origin: Option<NaiveDate>,
}

impl Fact {
    /// The day collection windows are checked on: the origin, or (unknown) the
    /// date of use, the latest day the data can have originated.
    pub fn origin_or_use(&self) -> NaiveDate {
        self.origin.unwrap_or(self.use_date)
    }

    /// Whether a provision with data period `dp` speaks about this fact: a
    /// permit only when every possible origin lies inside, a deny whenever one
    /// may (fail closed for an unknown origin).
    fn in_data_period(&self, dp: &Period, kind: ProvisionType) -> bool {
        match (self.origin, kind) {
            (Some(o), _) => dp.contains(o),
            (None, ProvisionType::Permit) => {
                dp.start.is_none() && dp.end.is_none_or(|e| self.use_date <= e)
            }
            (None, ProvisionType::Deny) => dp.start.is_none_or(|s| s <= self.use_date),
        }
    }
}

/// The statement about one code that counts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Statement {
    /// Permit or deny.
    pub kind: ProvisionType,
    /// The document it comes from (tells a withdrawal from a refusal).
    pub document: DocumentKind,
    /// Its consent's `dateTime`.
    pub stamp: FhirDateTime,
    /// First day it is in force (a permit without `period.start`: its
    /// consent's day; a deny without one: always, `NaiveDate::MIN`).
    pub start: NaiveDate,
    /// Last day it is in force (`period.end` on its path, or for a permit
    /// without one the code's `period-of-validity`).
    pub until: Option<NaiveDate>,
    /// Whether it names the code (or its group), or is a blanket deny of a
    /// refusal, withdrawal or bare deny. An *implicit* deny (the default deny
    /// of a consent's root, for what no nested provision permits) withholds
    /// that consent's permission but vetoes no other opt-in.
    pub explicit: bool,
    /// Whether its type was inherited from an enclosing provision.
    pub inherited: bool,
}

impl Statement {
    /// A total key for ties, so selection never depends on input order.
    pub(crate) fn key(&self) -> impl Ord {
        (
            crate::engine::seriousness(self.document),
            self.explicit,
            self.stamp,
            self.start,
            Reverse(self.until.unwrap_or(NaiveDate::MAX)),
            self.inherited,
        )
    }
}

/// Whether provision `p` of `consent` speaks about `code`, and explicitly so.
fn speaks_about(consent: &Consent, p: &Provision, code: PolicyCode) -> Option<bool> {
    if !p.codes.is_empty() {
        let named = p.codes.contains(&code)
            || matches!(code, PolicyCode::Mii(m) if m.parent().is_some_and(|g| p.codes.contains(&PolicyCode::Mii(g))));
        return named.then_some(true);
    }
    // A provision without codes: only a deny says anything (a codeless permit
    // grants nothing: fail closed).
    if p.kind != Some(ProvisionType::Deny) {
        return None;
    }
    let blanket = matches!(
        code,
        PolicyCode::Mii(_) | PolicyCode::GeneticResearch | PolicyCode::Recontact
    );
    if p.provisions.is_empty() {
        // A bare deny (gICS's withdrawal and refusal shape): everything.
        return blanket.then_some(true);
    }
    match consent.document {
        // A Teilwiderruf denies only what its nested provisions name.
        DocumentKind::PartialWithdrawal => None,
        DocumentKind::Refusal | DocumentKind::FullWithdrawal => blanket.then_some(true),
        // A consent's default deny: every MII code no nested provision permits.
        DocumentKind::Consent => matches!(code, PolicyCode::Mii(_)).then_some(false),
    }
}

/// How many years a permit of `code` without `period.end` lasts.
fn validity_years(code: PolicyCode) -> u32 {
    match code {
        PolicyCode::Mii(m) => m
            .policy()
            .validity_years()
            .unwrap_or(ONCOFED_VALIDITY_YEARS),
        _ => ONCOFED_VALIDITY_YEARS,
    }
}

/// Each active consent's own statement about `code` on `date` (phase 1).
fn per_consent(
    consents: &[Consent],
    code: PolicyCode,
    date: NaiveDate,
    fact: &Fact,
) -> Vec<Statement> {
    /// The statements in force found so far in one consent, by kind. Which
    /// one rules is decided after the whole tree is seen ([`Walk::ruling`]),
    /// so the answer does not depend on the order of sibling provisions.
    struct Walk<'a> {
        consent: &'a Consent,
        code: PolicyCode,
        date: NaiveDate,
        fact: &'a Fact,
        permit: Option<(usize, Statement)>,
        explicit_deny: Option<(usize, Statement)>,
        implicit_deny: Option<(usize, Statement)>,
    }
    impl Walk<'_> {
        fn consider(&mut self, depth: usize, s: Statement) {
            let slot = match (s.kind, s.explicit) {
                (ProvisionType::Permit, _) => &mut self.permit,
                (ProvisionType::Deny, true) => &mut self.explicit_deny,
                (ProvisionType::Deny, false) => &mut self.implicit_deny,
            };
            if slot
                .as_ref()
                .is_none_or(|(d, b)| (depth, s.key()) > (*d, b.key()))
            {
                *slot = Some((depth, s));
            }
        }

        /// The statement that rules in this consent: a permit when it is
        /// deeper than every deny (a nested provision is an exception to its
        /// parent; at one depth the deny wins); otherwise a deny, and an
        /// explicit one whenever the consent states one. A consent's default
        /// deny (a codeless deny with nested provisions) only withholds; it
        /// cannot hide a refusal stated elsewhere in the same consent, beside
        /// or around it, e.g. a `.1` deny whose `.6` refuses collection (found
        /// by `deny_property`: the deeper default deny masked the collection
        /// deny and the fact was permitted by opt-out).
        fn ruling(self) -> Option<Statement> {
            let deepest_deny = [self.explicit_deny, self.implicit_deny]
                .iter()
                .flatten()
                .map(|(d, _)| *d)
                .max();
            match self.permit {
                Some((d, p)) if deepest_deny.is_none_or(|dd| d > dd) => Some(p),
                _ => self.explicit_deny.or(self.implicit_deny).map(|(_, s)| s),
            }
        }
    }
    fn go(w: &mut Walk<'_>, p: &Provision, path: Period, data: Period, depth: usize) {
        let path = path.intersect(&p.period);
        let data = data.intersect(&p.data_period);
        if let Some(kind) = p.kind
            && let Some(explicit) = speaks_about(w.consent, p, w.code)
            && w.fact.in_data_period(&data, kind)
        {
            let (start, until) = match kind {
                ProvisionType::Deny => (path.start.unwrap_or(NaiveDate::MIN), path.end),
                ProvisionType::Permit => {
                    let start = path.start.unwrap_or(w.consent.date_time.first_day);
                    let until = match p.period.end {
                        Some(_) => path.end,
                        // No end of its own: the code's period of validity
                        // (issue 10, case 3), within any enclosing end.
                        None => {
                            let by_validity = start
                                .checked_add_months(Months::new(12 * validity_years(w.code)))
                                .and_then(|d| d.pred_opt());
                            match (path.end, by_validity) {
                                (Some(a), Some(b)) => Some(a.min(b)),
                                (a, b) => a.or(b),
                            }
                        }
                    };
                    (start, until)
                }
            };
            if start <= w.date && until.is_none_or(|u| w.date <= u) {
                let s = Statement {
                    kind,
                    document: w.consent.document,
                    stamp: w.consent.date_time,
                    start,
                    until,
                    explicit,
                    inherited: p.type_inherited,
                };
                w.consider(depth, s);
            }
        }
        for nested in &p.provisions {
            go(w, nested, path, data, depth + 1);
        }
    }
    let mut out = Vec::new();
    for consent in consents
        .iter()
        .filter(|c| c.status == ConsentStatus::Active)
    {
        let mut w = Walk {
            consent,
            code,
            date,
            fact,
            permit: None,
            explicit_deny: None,
            implicit_deny: None,
        };
        go(
            &mut w,
            &consent.provision,
            Period::default(),
            Period::default(),
            0,
        );
        out.extend(w.ruling());
    }
    out
}

/// The statement about `code` that counts on `date` for `fact`, if any
/// (phase 2: a permit counts only when certainly later than every deny).
pub(crate) fn verdict(
    consents: &[Consent],
    code: PolicyCode,
    date: NaiveDate,
    fact: &Fact,
) -> Option<Statement> {
    match ruling(consents, code, date, fact) {
        Ruling::Permit(p) => Some(p),
        // The deny that counts: an explicit one before an implicit one (an
        // implicit default deny of a more serious document must not hide an
        // explicit deny), then the most serious.
        Ruling::Deny(denies) => denies
            .into_iter()
            .max_by(|a, b| (a.explicit, a.key()).cmp(&(b.explicit, b.key()))),
        Ruling::Silent => None,
    }
}

/// Every deny about `code` that stands on `date` (none when a permit wins).
/// A caller that asks a further question of the deny (e.g. whether a fact
/// falls before its retrospective boundary) must ask it of each of these:
/// picking one by seriousness first would let an added deny with a different
/// boundary hide one that applies.
pub(crate) fn standing_denies(
    consents: &[Consent],
    code: PolicyCode,
    date: NaiveDate,
    fact: &Fact,
) -> Vec<Statement> {
    match ruling(consents, code, date, fact) {
        Ruling::Deny(denies) => denies,
        Ruling::Permit(_) | Ruling::Silent => Vec::new(),
    }
}

/// What the statements about one code come to.
enum Ruling {
    /// A permit certainly later than every deny.
    Permit(Statement),
    /// The denies that stand: those no permit certainly follows, or, when every
    /// deny is followed by some permit but no permit follows them all, every deny.
    Deny(Vec<Statement>),
    /// No statement about the code.
    Silent,
}

fn ruling(consents: &[Consent], code: PolicyCode, date: NaiveDate, fact: &Fact) -> Ruling {
    let all = per_consent(consents, code, date, fact);
    let (denies, permits): (Vec<Statement>, Vec<Statement>) =
        all.into_iter().partition(|s| s.kind == ProvisionType::Deny);
    let winning_permit = permits
        .iter()
        .filter(|p| denies.iter().all(|d| p.stamp.certainly_after(&d.stamp)))
        .max_by_key(|p| (p.stamp, p.key()));
    if let Some(p) = winning_permit {
        return Ruling::Permit(*p);
    }
    if denies.is_empty() {
        return Ruling::Silent;
    }
    let standing: Vec<Statement> = denies
        .iter()
        .filter(|d| !permits.iter().any(|p| p.stamp.certainly_after(&d.stamp)))
        .copied()
        .collect();
    Ruling::Deny(if standing.is_empty() {
        denies
    } else {
        standing
    })
}

/// Rule 5: whether an active deny in force on `date` speaks about a code the
/// engine cannot read.
pub(crate) fn unrecognised_deny(consents: &[Consent], date: NaiveDate, fact: &Fact) -> bool {
    fn go(p: &Provision, path: Period, data: Period, date: NaiveDate, fact: &Fact) -> bool {
        let path = path.intersect(&p.period);
        let data = data.intersect(&p.data_period);
        (p.kind == Some(ProvisionType::Deny)
            && p.codes.contains(&PolicyCode::Unrecognised)
            && path.contains(date)
            && fact.in_data_period(&data, ProvisionType::Deny))
            || p.provisions.iter().any(|n| go(n, path, data, date, fact))
    }
    consents
        .iter()
        .filter(|c| c.status == ConsentStatus::Active)
        .any(|c| {
            go(
                &c.provision,
                Period::default(),
                Period::default(),
                date,
                fact,
            )
        })
}
