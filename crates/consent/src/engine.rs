//! The decision rules (numbered as in the crate documentation).

use crate::mii::{Family, Scope};
use crate::model::{Consent, DocumentKind, PolicyCode, ProvisionType};
use crate::statement::{Fact, Statement, standing_denies, unrecognised_deny, verdict};
use crate::{Basis, Decision, DenyReason, RecontactKind, mii::MII_POLICIES};
use chrono::NaiveDate;
use oncofed_model::{DataCategory, Purpose};

/// How serious a document is, for ties between otherwise equal statements.
pub(crate) fn seriousness(d: DocumentKind) -> u8 {
    match d {
        DocumentKind::Consent => 0,
        DocumentKind::Refusal => 1,
        DocumentKind::PartialWithdrawal => 2,
        DocumentKind::FullWithdrawal => 3,
    }
}

/// The MII codes of `scope`, in table order.
fn codes_of(scope: Scope) -> impl Iterator<Item = PolicyCode> {
    MII_POLICIES
        .iter()
        .filter(move |p| p.scope == scope)
        .filter_map(|p| crate::MiiCode::from_arc(p.arc).map(PolicyCode::Mii))
}

/// The day before which data counts as retrospective for statement `s`: its
/// start, or for a deny without one, its consent's day.
fn retro_boundary(s: &Statement) -> NaiveDate {
    if s.start == NaiveDate::MIN {
        s.stamp.first_day
    } else {
        s.start
    }
}

/// Whether an active consent names `code` (or its group) in any provision.
pub(crate) fn named(consents: &[Consent], code: PolicyCode) -> bool {
    fn go(p: &crate::model::Provision, code: PolicyCode) -> bool {
        p.codes.contains(&code)
            || matches!(code, PolicyCode::Mii(m) if m.parent().is_some_and(|g| p.codes.contains(&PolicyCode::Mii(g))))
            || p.provisions.iter().any(|n| go(n, code))
    }
    consents
        .iter()
        .filter(|c| c.status == crate::ConsentStatus::Active)
        .any(|c| go(&c.provision, code))
}

/// The reason a counting deny gives (rule 7).
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
        DenyReason::Withdrawn => 7,
        DenyReason::UnrecognisedCode => 6,
        DenyReason::PartiallyWithdrawn => 5,
        DenyReason::Objection => 4,
        DenyReason::Refused => 3,
        DenyReason::NotCollected => 2,
        DenyReason::NoOptIn => 1,
    }
}

/// The strongest deny found so far (rule 7's order).
#[derive(Default)]
struct Denial(Option<(DenyReason, PolicyCode, bool)>);

impl Denial {
    fn add(&mut self, reason: DenyReason, code: PolicyCode, inherited: bool) {
        if self.0.is_none_or(|(r, ..)| priority(reason) > priority(r)) {
            self.0 = Some((reason, code, inherited));
        }
    }

    fn statement(&mut self, code: PolicyCode, s: &Statement) {
        self.add(deny_reason(code, s), code, s.inherited);
    }

    fn decision(&self) -> Option<Decision> {
        self.0.map(|(reason, code, inherited_type)| Decision::Deny {
            reason,
            code: Some(code),
            inherited_type,
        })
    }
}

/// Whether data of `family` originating on the fact's day was collected
/// inside a permitted window: a collect permit in force on the day of origin,
/// or a retrospective permit in force on the day of use whose start is after
/// the origin. Returns the explicit deny that closed the window, if one did.
///
/// A person's consents that never name a collect code of the family (directly
/// or by its group) do not restrict collection: the window is the answer to
/// the collection question, and a consent only about use did not ask it.
fn collected(
    consents: &[Consent],
    family: Family,
    fact: &Fact,
) -> Result<(), Option<(PolicyCode, Statement)>> {
    let origin = fact.origin_or_use();
    if !codes_of(Scope::Collect(family)).any(|c| named(consents, c))
        && !collection_denied(consents, family, fact)
    {
        return Ok(());
    }
    let mut closed_by = None;
    for code in codes_of(Scope::Collect(family)) {
        match verdict(consents, code, origin, fact) {
            Some(s) if s.kind == ProvisionType::Permit => return Ok(()),
            Some(s) if s.explicit => closed_by = closed_by.or(Some((code, s))),
            _ => {}
        }
    }
    for code in codes_of(Scope::Retrospective(family)) {
        if let Some(s) = verdict(consents, code, fact.use_date, fact)
            && s.kind == ProvisionType::Permit
            && fact.origin.is_some_and(|o| o < s.start)
        {
            return Ok(());
        }
    }
    Err(closed_by)
}

/// Whether an explicit deny stands for a collect code of `family` on the fact's
/// day of origin. A blanket deny (a bare deny, a refusal, a withdrawal) names no
/// code but denies collection all the same: the window is then closed even
/// though no consent asked the collection question by code (found by
/// `deny_property`: an older bare deny let a later `.22` use permit through).
fn collection_denied(consents: &[Consent], family: Family, fact: &Fact) -> bool {
    codes_of(Scope::Collect(family)).any(|code| {
        verdict(consents, code, fact.origin_or_use(), fact)
            .is_some_and(|s| s.kind == ProvisionType::Deny && s.explicit)
    })
}

/// See [`crate::evaluate_fact`]; also returns the end of the permitting statement.
pub(crate) fn decide(
    consents: &[Consent],
    category: DataCategory,
    purpose: Purpose,
    fact: &Fact,
) -> (Decision, Option<NaiveDate>) {
    // Rule 8; a new purpose must be decided here explicitly.
    match purpose {
        Purpose::Feasibility | Purpose::Research => {}
    }
    let on = fact.use_date;
    let genetic = category.is_genetic();
    let mut denial = Denial::default();
    // Vetoes that hold whatever else is permitted (rules 5 and 6).
    if let Some(s) = verdict(consents, PolicyCode::Withdrawal, on, fact)
        && s.kind == ProvisionType::Deny
    {
        denial.statement(PolicyCode::Withdrawal, &s);
    }
    if unrecognised_deny(consents, on, fact) {
        denial.add(
            DenyReason::UnrecognisedCode,
            PolicyCode::Unrecognised,
            false,
        );
    }
    let own = if genetic {
        PolicyCode::GeneticResearch
    } else {
        PolicyCode::GdngObjection
    };
    let own_verdict = verdict(consents, own, on, fact);
    if let Some(s) = own_verdict
        && s.kind == ProvisionType::Deny
        && s.explicit
    {
        denial.statement(own, &s);
    }
    // An explicit refusal to collect medical data counts on the day of origin;
    // one of retrospective data only for data older than its start (so a
    // `.45` deny does not deny data collected under the consent).
    for code in codes_of(Scope::Collect(Family::Mdat)) {
        if let Some(s) = verdict(consents, code, fact.origin_or_use(), fact)
            && s.kind == ProvisionType::Deny
            && s.explicit
        {
            denial.statement(code, &s);
        }
    }
    for code in codes_of(Scope::Retrospective(Family::Mdat)) {
        // Each standing deny with its own boundary: one that covers the fact
        // counts, whichever is the most serious.
        let covering = standing_denies(consents, code, on, fact)
            .into_iter()
            .filter(|s| s.explicit && fact.origin.is_some_and(|o| o < retro_boundary(s)))
            .max_by(|a, b| a.key().cmp(&b.key()));
        if let Some(s) = covering {
            denial.statement(code, &s);
        }
    }
    // Medical data under a broad consent: use window on the day of use,
    // collection window on the day of origin (issue 10, case 6).
    // An explicit deny of a use code denies; a consent's implicit default deny
    // withholds, so that under a governing consent some use code must be
    // permitted (a consent permitting `.8` but silent on `.7` permits).
    let mut withheld = None;
    let mut mdat_permit = None;
    for code in codes_of(Scope::Use(Family::Mdat)) {
        match verdict(consents, code, on, fact) {
            Some(s) if s.kind == ProvisionType::Permit => {
                mdat_permit = mdat_permit.or(Some((code, s.until)));
            }
            Some(s) if s.explicit => denial.statement(code, &s),
            Some(s) => withheld = withheld.or(Some((code, s))),
            None => {}
        }
    }
    if let (None, Some((code, s))) = (mdat_permit, withheld) {
        denial.statement(code, &s);
    }
    let governed = mdat_permit.is_some() || withheld.is_some();
    if governed && denial.0.is_none() {
        match collected(consents, Family::Mdat, fact) {
            Ok(()) => {}
            Err(Some((code, s))) => denial.statement(code, &s),
            Err(None) => denial.add(
                DenyReason::NotCollected,
                codes_of(Scope::Collect(Family::Mdat))
                    .next()
                    .unwrap_or(PolicyCode::Unrecognised),
                false,
            ),
        }
    }
    if let Some(d) = denial.decision() {
        return (d, None);
    }
    if genetic {
        return genetic_opt_in(consents, fact, own_verdict);
    }
    match (mdat_permit, own_verdict) {
        (Some((code, until)), _) => (
            Decision::Permit {
                basis: Basis::Consent(code),
            },
            until,
        ),
        (None, Some(s)) if s.kind == ProvisionType::Permit => (
            Decision::Permit {
                basis: Basis::Consent(own),
            },
            s.until,
        ),
        _ => (
            Decision::Permit {
                basis: Basis::OptOut,
            },
            None,
        ),
    }
}

/// Genetic data needs an opt-in covering the fact: OncoFed `genetic-research`,
/// or a biomaterial window (`.22` use with `.19` collection at the origin, or
/// `.52` retrospective use of data older than its start). An explicit deny of
/// a biomaterial code vetoes `genetic-research` but not the other window: a
/// `.52` deny does not block data `.22` permits (issue 10, over-deny list).
fn genetic_opt_in(
    consents: &[Consent],
    fact: &Fact,
    own: Option<Statement>,
) -> (Decision, Option<NaiveDate>) {
    let on = fact.use_date;
    let mut veto = Denial::default();
    let permit = |code, until| {
        (
            Decision::Permit {
                basis: Basis::Consent(code),
            },
            until,
        )
    };
    let window = |scope: Scope, at: NaiveDate, veto: &mut Denial| {
        let mut found = None;
        for code in codes_of(scope) {
            match verdict(consents, code, at, fact) {
                Some(s) if s.kind == ProvisionType::Permit => found = found.or(Some((code, s))),
                Some(s) if s.explicit => veto.statement(code, &s),
                _ => {}
            }
        }
        found
    };
    let prospective_use = window(Scope::Use(Family::Biomat), on, &mut veto);
    let collect = window(
        Scope::Collect(Family::Biomat),
        fact.origin_or_use(),
        &mut veto,
    );
    let retro = window(Scope::Retrospective(Family::Biomat), on, &mut veto)
        .filter(|(_, s)| fact.origin.is_some_and(|o| o < s.start));
    if let Some(s) = own
        && s.kind == ProvisionType::Permit
        && veto.0.is_none()
    {
        return permit(PolicyCode::GeneticResearch, s.until);
    }
    let collect_asked = codes_of(Scope::Collect(Family::Biomat)).any(|c| named(consents, c))
        || collection_denied(consents, Family::Biomat, fact);
    if let Some((code, s)) = prospective_use
        && (collect.is_some() || !collect_asked)
    {
        return permit(code, s.until);
    }
    if let Some((code, s)) = retro {
        return permit(code, s.until);
    }
    match veto.decision() {
        Some(d) => (d, None),
        None => (
            Decision::Deny {
                reason: DenyReason::NoOptIn,
                code: None,
                inherited_type: false,
            },
            None,
        ),
    }
}

/// See [`crate::may_recontact`]: opt-in only. Implicit denies (a broad
/// consent's default deny) withhold that consent's permission; explicit ones
/// veto every opt-in for the kind.
pub(crate) fn recontact(consents: &[Consent], date: NaiveDate, kind: RecontactKind) -> Decision {
    let fact = Fact {
        use_date: date,
        origin: None,
    };
    let mut denial = Denial::default();
    if let Some(s) = verdict(consents, PolicyCode::Withdrawal, date, &fact)
        && s.kind == ProvisionType::Deny
    {
        denial.statement(PolicyCode::Withdrawal, &s);
    }
    if unrecognised_deny(consents, date, &fact) {
        denial.add(
            DenyReason::UnrecognisedCode,
            PolicyCode::Unrecognised,
            false,
        );
    }
    let mut opt_in = None;
    let codes = std::iter::once(PolicyCode::Recontact).chain(codes_of(Scope::Recontact(kind)));
    for code in codes {
        match verdict(consents, code, date, &fact) {
            Some(s) if s.kind == ProvisionType::Permit => opt_in = opt_in.or(Some(code)),
            Some(s) if s.explicit => denial.statement(code, &s),
            _ => {}
        }
    }
    match (denial.decision(), opt_in) {
        (Some(d), _) => d,
        (None, Some(code)) => Decision::Permit {
            basis: Basis::Consent(code),
        },
        (None, None) => Decision::Deny {
            reason: DenyReason::NoOptIn,
            code: None,
            inherited_type: false,
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
    let fact = Fact {
        use_date: date,
        origin: None,
    };
    // Per scope: (explicit deny, implicit deny, permit).
    let (mut merge, mut non_eu) = ((false, false, false), (false, false, false));
    for p in &MII_POLICIES {
        let Some(code) = crate::MiiCode::from_arc(p.arc).map(PolicyCode::Mii) else {
            continue;
        };
        let slot = match p.scope {
            Scope::ThirdPartyMerge(cats) if cats.contains(&category) => &mut merge,
            Scope::NonEuUse(cats) if cats.contains(&category) => &mut non_eu,
            _ => continue,
        };
        match verdict(consents, code, date, &fact) {
            Some(s) if s.kind == ProvisionType::Permit => slot.2 = true,
            Some(s) if s.explicit => slot.0 = true,
            Some(_) => slot.1 = true,
            None => {}
        }
    }
    // Merging is stopped by an explicit deny, or by a consent that speaks
    // about merging and permits none of it; use outside the EU needs a permit
    // and no explicit deny.
    let merge_denied = merge.0 || (merge.1 && !merge.2);
    let non_eu_permitted = non_eu.2 && !non_eu.0;
    (merge_denied, non_eu_permitted)
}
