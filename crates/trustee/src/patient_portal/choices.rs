//! What a person can decide in the portal, as FHIR Consent resources for the
//! consent registry, and what the consent engine makes of everything on record.
//!
//! Each choice is one resource with a fixed `Consent.id` per topic
//! (`portal-research`, `portal-genetic`, `portal-recontact`,
//! `portal-withdrawal`), stored with source `@patient`: a new choice about the
//! same topic supersedes the person's earlier one (a FHIR update), and, being
//! stamped to the second, is certainly later than any consent of an earlier
//! day, so the engine lets it decide (rule 3 of `oncofed-consent`). The codes
//! are OncoFed's (`urn:oncofed:consent-policy`): `gdng-objection` (a deny is
//! the objection under the GDNG opt-out, a later permit lifts it),
//! `genetic-research` (the opt-in genetic data needs), `recontact` (every kind
//! of re-contact) and `withdrawal`.

use crate::consent::{
    Decision, DenyReason, ONCOFED_POLICY_SYSTEM, ParsedConsent, RecontactKind, may_recontact,
};
use chrono::{DateTime, NaiveDate, Utc};
use oncofed_consent::Basis;
use oncofed_model::{DataCategory, Purpose};
use serde_json::{Value, json};

/// A decision a person takes in the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Choice {
    /// Object to research use of routine data (GDNG opt-out), or lift the objection.
    Research {
        /// `true`: allow again; `false`: object.
        allow: bool,
    },
    /// Opt in to (or out of) research with genetic data.
    Genetic {
        /// `true`: opt in.
        allow: bool,
    },
    /// Agree to (or refuse) being contacted again.
    Recontact {
        /// `true`: agree.
        allow: bool,
    },
    /// Withdraw every consent: the withdrawal cascade deletes the person's data.
    Withdraw,
}

impl Choice {
    /// The audit action recording this choice.
    pub(crate) fn action(self) -> &'static str {
        match self {
            Self::Research { allow: true } => "patient.research-allowed",
            Self::Research { allow: false } => "patient.research-objection",
            Self::Genetic { allow: true } => "patient.genetic-opt-in",
            Self::Genetic { allow: false } => "patient.genetic-opt-out",
            Self::Recontact { allow: true } => "patient.recontact-yes",
            Self::Recontact { allow: false } => "patient.recontact-no",
            Self::Withdraw => "patient.withdrawal",
        }
    }

    /// The FHIR Consent recording this choice at `now`.
    pub(crate) fn resource(self, now: DateTime<Utc>) -> Value {
        let (id, code, permit) = match self {
            Self::Research { allow } => ("portal-research", "gdng-objection", allow),
            Self::Genetic { allow } => ("portal-genetic", "genetic-research", allow),
            Self::Recontact { allow } => ("portal-recontact", "recontact", allow),
            Self::Withdraw => ("portal-withdrawal", "withdrawal", false),
        };
        json!({
            "resourceType": "Consent",
            "id": id,
            "status": "active",
            "dateTime": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "provision": {
                "type": if permit { "permit" } else { "deny" },
                "code": [{"coding": [{"system": ONCOFED_POLICY_SYSTEM, "code": code}]}]
            }
        })
    }
}

/// Where a topic stands for the person today, as the page says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Permitted by law unless the person objects (GDNG opt-out).
    AllowedByDefault,
    /// Permitted because the person consented.
    AllowedByConsent,
    /// Some kinds permitted, others not (re-contact only).
    Partly,
    /// Not permitted: the person objected or refused.
    Refused,
    /// Not permitted: an opt-in is needed and there is none.
    NoOptIn,
    /// Not permitted: the person withdrew.
    Withdrawn,
    /// Not permitted for another reason in the consents on record.
    NotPermitted,
}

impl Standing {
    /// Whether use is permitted.
    pub(crate) fn permits(self) -> bool {
        matches!(
            self,
            Self::AllowedByDefault | Self::AllowedByConsent | Self::Partly
        )
    }
}

fn standing(decision: Decision) -> Standing {
    match decision {
        Decision::Permit {
            basis: Basis::OptOut,
        } => Standing::AllowedByDefault,
        Decision::Permit { .. } => Standing::AllowedByConsent,
        Decision::Deny { reason, .. } => match reason {
            DenyReason::Withdrawn | DenyReason::PartiallyWithdrawn => Standing::Withdrawn,
            DenyReason::Objection | DenyReason::Refused => Standing::Refused,
            DenyReason::NoOptIn => Standing::NoOptIn,
            DenyReason::NotCollected | DenyReason::UnrecognisedCode => Standing::NotPermitted,
        },
    }
}

/// The three topics of the page, decided by the consent engine over every
/// current consent of the person (sites', staff's and the person's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Standings {
    /// Research use of routine (non-genetic) data.
    pub research: Standing,
    /// Research use of genetic data.
    pub genetic: Standing,
    /// Re-contact, over every kind.
    pub recontact: Standing,
    /// Whether a full withdrawal is in force.
    pub withdrawn: bool,
}

/// Decides the page's topics on `today`.
pub(crate) fn standings(consents: &[ParsedConsent], today: NaiveDate) -> Standings {
    let research =
        oncofed_consent::evaluate(consents, DataCategory::Clinical, Purpose::Research, today);
    let genetic =
        oncofed_consent::evaluate(consents, DataCategory::Genetic, Purpose::Research, today);
    let permitted = RecontactKind::ALL
        .iter()
        .filter(|k| may_recontact(consents, today, **k).permits())
        .count();
    let recontact = match permitted {
        n if n == RecontactKind::ALL.len() => Standing::AllowedByConsent,
        0 => standing(may_recontact(
            consents,
            today,
            RecontactKind::FurtherStudies,
        )),
        _ => Standing::Partly,
    };
    let withdrawn = matches!(
        research,
        Decision::Deny {
            reason: DenyReason::Withdrawn,
            ..
        }
    );
    Standings {
        research: standing(research),
        genetic: standing(genetic),
        recontact,
        withdrawn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::parse_consent;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn parsed(v: &[Value]) -> Vec<ParsedConsent> {
        v.iter().map(|r| parse_consent(r).unwrap()).collect()
    }

    fn site_objection() -> Value {
        json!({"resourceType": "Consent", "status": "active", "dateTime": "2025-02-01",
               "provision": {"type": "deny", "code": [{"coding": [{"system": ONCOFED_POLICY_SYSTEM, "code": "gdng-objection"}]}]}})
    }

    #[test]
    fn each_choice_moves_the_engine_as_the_page_says() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let now = at("2026-12-04T10:00:00Z");
        let none = standings(&[], today);
        assert_eq!(none.research, Standing::AllowedByDefault);
        assert_eq!(none.genetic, Standing::NoOptIn);
        assert_eq!(none.recontact, Standing::NoOptIn);
        let objected = standings(
            &parsed(&[Choice::Research { allow: false }.resource(now)]),
            today,
        );
        assert_eq!(objected.research, Standing::Refused);
        let genetic = standings(
            &parsed(&[Choice::Genetic { allow: true }.resource(now)]),
            today,
        );
        assert_eq!(genetic.genetic, Standing::AllowedByConsent);
        let recontact = standings(
            &parsed(&[Choice::Recontact { allow: true }.resource(now)]),
            today,
        );
        assert_eq!(recontact.recontact, Standing::AllowedByConsent);
        let withdrawn = standings(
            &parsed(&[
                Choice::Genetic { allow: true }.resource(now),
                Choice::Withdraw.resource(at("2026-12-04T10:05:00Z")),
            ]),
            today,
        );
        assert!(withdrawn.withdrawn);
        assert_eq!(withdrawn.genetic, Standing::Withdrawn);
    }

    #[test]
    fn lifting_an_objection_in_the_portal_outranks_an_earlier_one_from_a_site() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let lifted = standings(
            &parsed(&[
                site_objection(),
                Choice::Research { allow: true }.resource(at("2026-12-04T10:00:00Z")),
            ]),
            today,
        );
        assert!(lifted.research.permits(), "{lifted:?}");
    }
}
