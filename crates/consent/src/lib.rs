//! The consent engine: may data of one person, in one category, be used for one
//! purpose on one date? Pure, synchronous and fail closed.
//!
//! [`parse_consent`] reads a FHIR R4 `Consent` (JSON) into a [`Consent`];
//! [`evaluate`] decides over all of a person's consents; [`may_recontact`]
//! decides re-contact; [`duo_codes`] says under which GA4GH Data Use Ontology
//! terms permitted data may be shared onward. The trust centre
//! (`oncofed-trustee`) stores the resources and calls these functions; nothing
//! here does I/O.
//!
//! # Codes
//!
//! * MII broad consent, system `urn:oid:2.16.840.1.113883.3.1937.777.24.5.3`:
//!   all 124 codes in [`mii::MII_POLICIES`], each with its module, meaning,
//!   validity, deprecation and what it decides here ([`mii::Scope`]).
//! * OncoFed, system `urn:oncofed:consent-policy` (the MII codes nothing for
//!   these): `gdng-objection` (objection under the GDNG opt-out, § 363 SGB V /
//!   § 6 GDNG), `genetic-research` (opt-in for genetic data), `withdrawal`
//!   (withdrawal of every consent), `recontact` (re-contact for any reason).
//! * `Consent.policy.uri` with an MII document OID (`…777.24.2.*`,
//!   [`model::MII_DOCUMENTS`]) tells a refusal ("Ablehnung") and a partial or
//!   full withdrawal ("Teil-/Komplettwiderruf") from a consent.
//!
//! # Rules
//!
//! 1. A pseudonym the trust centre does not know is denied before the engine is
//!    asked (fail closed). An empty slice is a known person without consents.
//! 2. Only `active` consents count. A provision counts on a date only when the
//!    date lies within its `period` and within every enclosing provision's
//!    period (inclusive, by calendar day): expired and future provisions say
//!    nothing.
//! 3. Per policy code, the statement that counts is the one of greatest rank:
//!    the consent's `dateTime` first (a later consent version, re-consent or
//!    withdrawal overrides an earlier one about the same code), then nesting
//!    depth (a nested provision is an exception to its parent), then deny on a
//!    tie; between statements still equal, the more serious document (full
//!    withdrawal, partial withdrawal, refusal, consent) and then the earlier
//!    end, so the order consents are stored in never matters.
//! 4. An MII group code (`.1` PATDAT, `.18` BIOMAT, `.26`/`.30`
//!    Rekontaktierung, …) speaks about each code of its group, so a partial
//!    withdrawal may name the module or its codes.
//! 5. Unknown means deny: an active `deny` in force whose code the engine cannot
//!    read (a code missing from the tables, or a concept with no MII or OncoFed
//!    coding) denies every category and re-contact. A `permit` of such a code
//!    grants nothing.
//! 6. Use of a category is decided by `withdrawal`, by `gdng-objection`
//!    (non-genetic) or `genetic-research` (genetic), and by every MII code whose
//!    scope is use of that category. Any counting deny among them denies (deny
//!    wins across codes). Otherwise genetic data needs a counting permit of an
//!    opt-in code (`genetic-research`, MII `.22`/`.52` BIOMAT wissenschaftlich
//!    nutzen), else [`DenyReason::NoOptIn`]; every other category is permitted
//!    under the GDNG opt-out, with or without a broad consent.
//! 7. The reason of a deny: `withdrawal` or a Komplettwiderruf document is
//!    [`DenyReason::Withdrawn`], a Teilwiderruf [`DenyReason::PartiallyWithdrawn`],
//!    `gdng-objection` [`DenyReason::Objection`], any other deny (an Ablehnung,
//!    a module refused in a broad consent, a `genetic-research` deny)
//!    [`DenyReason::Refused`]; the most serious one is reported (order at
//!    [`DenyReason`]).
//! 8. Feasibility and research get the same answers: counting is use too.
//! 9. Re-contact ([`may_recontact`]) is opt-in only: a counting permit of an MII
//!    re-contact code of that kind or of OncoFed `recontact`, and no counting
//!    deny among them (nor `withdrawal`, nor rule 5).
//!
//! # Sources and provenance
//!
//! The table follows the MII Kerndatensatz-Modul Consent, IG version 2026.0.0
//! (CodeSystem `2.16.840.1.113883.3.1937.777.24.5.3--20251211153003`, unchanged
//! in 2027.0.0-ballot.rc1), read from the module's public repository
//! (`input/fsh/codesystems/MII_CS_Consent_Policy.fsh`, changelog,
//! `enforcement.md`). German displays, groups, validity and deprecations
//! (`.16`, `.17`, `.41`, `.42`, `.46`, `.47`) are the code system's. The
//! English meanings and the Scope column are OncoFed's reading; unsure points:
//!
//! * The IG's enforcement page (a draft) merges permit periods and subtracts
//!   deny periods per code, so a deny is never lifted; OncoFed lets a later
//!   consent override an earlier one about the same code (rule 3), which lets
//!   a person consent again after a partial withdrawal.
//! * That a BIOMAT scientific-use permit (`.22`, `.52`) is an opt-in for genetic
//!   data rests on the broad consent's text on analyses of biomaterial; a
//!   permit of `.8` (MDAT) is deliberately *not* taken as one.
//! * `.6`/`.7` (collect, store MDAT) are treated like `.8`: a deny denies use.
//!   Their expiry (`P5Y` for collection) does not deny: use falls back to the
//!   GDNG opt-out, which OncoFed takes as the default legal basis (R6).
//! * IDAT codes are the trust centre's business and claims data (KKDAT), the
//!   samples themselves and the add-on modules Z1–Z5 (GECCO, ACRIBiS, PROM,
//!   SNID, DZPG) concern data OncoFed does not hold; they are recorded and
//!   decide nothing here (re-contact for PROM studies excepted).
//! * `.37` "Rekontaktierung Ergebnisse erheblicher Bedeutung" is read as
//!   re-contact about additional findings, like `.31`.
//! * The DUO mapping ([`duo_codes`]) is OncoFed's, not the MII's.

mod duo;
mod engine;
mod fhir;
pub mod gics;
pub mod mii;
pub mod model;
mod statement;

pub use duo::{DuoCode, duo_codes};
pub use fhir::{ConsentParseError, parse_consent, parse_fhir_datetime};
pub use mii::{Family, MiiCode, MiiPolicy, Module, Scope};
pub use model::{
    Consent, ConsentStatus, DocumentKind, FhirDateTime, MII_POLICY_SYSTEM, ONCOFED_POLICY_SYSTEM,
    Period, PolicyCode, Provision, ProvisionType,
};

use chrono::NaiveDate;
use oncofed_model::{DataCategory, Purpose};
use serde::Serialize;

/// What a decision rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Basis {
    /// No counting permit, no counting deny: the GDNG opt-out default.
    OptOut,
    /// A counting permit of this code.
    Consent(PolicyCode),
}

/// Why use is denied (rule 7). When several apply, the engine reports, in this
/// order: `Withdrawn`, `UnrecognisedCode`, `PartiallyWithdrawn`, `Objection`,
/// `Refused`, `NotCollected`, `NoOptIn` (a withdrawal stays visible, so the
/// trust centre can act).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum DenyReason {
    /// An opt-in is needed (genetic data, re-contact) and none counts.
    NoOptIn,
    /// A broad consent governs the data, but the data originated outside
    /// every permitted collection window (`.6` collect, `.45` retrospective).
    NotCollected,
    /// The person refused this use (an MII refusal, a module left out, a
    /// `genetic-research` deny).
    Refused,
    /// The person objected under the GDNG opt-out.
    Objection,
    /// The person withdrew the module this use belongs to.
    PartiallyWithdrawn,
    /// The person withdrew every consent.
    Withdrawn,
    /// An active deny the engine cannot read (rule 5).
    UnrecognisedCode,
}

/// The engine's answer: permit or deny, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Decision {
    /// Use is permitted.
    Permit {
        /// On what grounds.
        basis: Basis,
    },
    /// Use is denied.
    Deny {
        /// Why.
        reason: DenyReason,
        /// The code whose deny decided, when one did.
        code: Option<PolicyCode>,
        /// Whether the deciding provision had no `type` of its own and
        /// inherited its parent's deny: said so that a reviewer can tell a
        /// written deny from one the resource's nesting implies.
        inherited_type: bool,
    },
}

impl Decision {
    /// Whether use is permitted.
    pub fn permits(&self) -> bool {
        matches!(self, Self::Permit { .. })
    }
}

/// The kinds of re-contact the MII broad consent asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecontactKind {
    /// About additional findings relevant to the person's health (`.31`
    /// Rekontaktierung Zusatzbefund).
    AdditionalFindings,
    /// About results of significant importance for the person's health
    /// (`.37`, PATDAT module). Its own kind so that a permit of one and a deny
    /// of the other do not decide both (issue 10).
    SignificantResults,
    /// To link the person's data with other databases (`.27`).
    LinkDatabases,
    /// To collect further information (`.28`).
    FurtherData,
    /// About taking part in further studies (`.29`).
    FurtherStudies,
    /// About questionnaire (PROM) studies (`.66`, add-on module Z3).
    Questionnaires,
}

impl RecontactKind {
    /// Every kind, in a stable order.
    pub const ALL: [RecontactKind; 6] = [
        Self::AdditionalFindings,
        Self::SignificantResults,
        Self::LinkDatabases,
        Self::FurtherData,
        Self::FurtherStudies,
        Self::Questionnaires,
    ];
}

/// Decides whether data of `category` about a known person may be used for
/// `purpose` on `date`, given all of the person's current consents (rules 2–8
/// of the crate documentation).
///
/// Without a date of origin, data is taken to originate on `date` (the latest
/// day it can have): collection windows are checked on `date`, a permit
/// limited by `dataPeriod` counts only if it covers every day up to `date`,
/// and a deny limited by `dataPeriod` counts if it covers any. Callers that
/// know the fact's date of origin should use [`evaluate_fact`].
pub fn evaluate(
    consents: &[Consent],
    category: DataCategory,
    purpose: Purpose,
    date: NaiveDate,
) -> Decision {
    evaluate_with_end(consents, category, purpose, date, None).0
}

/// Decides whether one fact of `category`, which originated on `origin`, may
/// be used for `purpose` on `date`: use is checked on `date`, the collection
/// window and `dataPeriod` on `origin` (issue 10, cases 5 and 6). A fact whose
/// origin lies after `date` is refused as not collected (it cannot exist yet).
pub fn evaluate_fact(
    consents: &[Consent],
    category: DataCategory,
    purpose: Purpose,
    date: NaiveDate,
    origin: NaiveDate,
) -> Decision {
    if origin > date {
        return Decision::Deny {
            reason: DenyReason::NotCollected,
            code: None,
            inherited_type: false,
        };
    }
    evaluate_with_end(consents, category, purpose, date, Some(origin)).0
}

/// [`evaluate`] or [`evaluate_fact`] with the end of the permitting statement.
pub(crate) fn evaluate_with_end(
    consents: &[Consent],
    category: DataCategory,
    purpose: Purpose,
    date: NaiveDate,
    origin: Option<NaiveDate>,
) -> (Decision, Option<NaiveDate>) {
    let fact = statement::Fact {
        use_date: date,
        origin,
    };
    engine::decide(consents, category, purpose, &fact)
}

/// Decides whether the person may be re-contacted for `kind` on `date` (rule 9):
/// only with a counting opt-in, never after a withdrawal.
pub fn may_recontact(consents: &[Consent], date: NaiveDate, kind: RecontactKind) -> Decision {
    engine::recontact(consents, date, kind)
}
