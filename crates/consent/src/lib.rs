//! The consent engine: may data of one person, in one category, which
//! originated on one date, be used for one purpose on one date? Pure,
//! synchronous and fail closed.
//!
//! [`parse_consent`] reads a FHIR R4 `Consent` (JSON) into a [`Consent`];
//! [`evaluate_fact`] decides over all of a person's consents for a fact of a
//! known date of origin, [`evaluate`] when the origin is unknown;
//! [`may_recontact`] decides re-contact; [`duo_codes`] says under which GA4GH
//! Data Use Ontology terms permitted data may be shared onward. The trust
//! centre (`oncofed-trustee`) stores the resources and calls these functions;
//! nothing here does I/O.
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
//! * gICS (MOSAIC consent manager): policy codes of
//!   `https://ths-greifswald.de/fhir/CodeSystem/gics/Policy[/<domain>]` mapped
//!   to MII codes, and the template type in `category` ([`gics`]).
//! * `Consent.policy.uri` with an MII document OID (`…777.24.2.*`, written
//!   `urn:oid:…` or bare, [`model::MII_DOCUMENTS`]) or a gICS template type
//!   tells a refusal ("Ablehnung") and a partial or full withdrawal
//!   ("Teil-/Komplettwiderruf") from a consent.
//!
//! # Reading (fail closed)
//!
//! A resource with `implicitRules` or a `modifierExtension` anywhere, an
//! unknown gICS template type, or a malformed element is refused with the
//! element's path ([`ConsentParseError`]). A concept of a known system with a
//! code missing from the tables, or without codings, is
//! [`PolicyCode::Unrecognised`]; a concept whose codings are all of other
//! systems is ignored beside a readable concept of the same provision and
//! unrecognised otherwise.
//!
//! # Rules
//!
//! 1. A pseudonym the trust centre does not know is denied before the engine is
//!    asked (fail closed). An empty slice is a known person without consents.
//! 2. Only `active` consents count. A provision counts on a date only when the
//!    date lies within its `period` and every enclosing provision's period
//!    (inclusive, by calendar day). A deny without `period.start` counts from
//!    always, a permit without one from its consent's day; a permit without
//!    `period.end` of its own ends when its code's `period-of-validity` does
//!    (`P5Y` collect, `P30Y` store and use; OncoFed codes `P30Y`), a deny
//!    without one never ends. `dataPeriod` (intersected along the path)
//!    limits a provision to data of that origin: a permit counts only if it
//!    holds every possible origin of the fact, a deny if it may hold one.
//! 3. Per policy code, each consent's own statement is its deepest provision in
//!    force that speaks about the code (a nested provision is an exception to
//!    its parent), deny on a tie; when that is a deny, an explicit deny the
//!    consent states anywhere rules before its implicit default deny (which
//!    only withholds and must not hide a refusal). Across consents a permit counts only when its
//!    consent is *certainly later* than every deny's: both `dateTime`s with a
//!    time, a later instant; otherwise (either date-only) a later calendar day.
//!    Stamps of unknown order (the same day, one of them date-only) resolve to
//!    deny. Ties are broken by document seriousness (full withdrawal, partial
//!    withdrawal, refusal, consent), then the earlier end, so the order
//!    consents are stored in never matters.
//! 4. What a provision speaks about: its codes, and for an MII group code
//!    (`.1` PATDAT, `.18` BIOMAT, `.26`/`.30` Rekontaktierung, …) each code of
//!    the group. A `deny` without codes: when bare (no nested provisions) or in
//!    a refusal or full withdrawal, every MII code, `genetic-research` and
//!    `recontact` (gICS's withdrawal shape, issue 10); in a consent, every MII
//!    code no nested provision permits, *implicitly* (it withholds the
//!    consent's permission but vetoes no other opt-in); in a partial
//!    withdrawal, nothing beyond its nested provisions. A `permit` without
//!    codes grants nothing.
//! 5. Unknown means deny: an active `deny` in force whose code the engine cannot
//!    read denies every category and re-contact. A `permit` of such a code
//!    grants nothing.
//! 6. Use of a category: `withdrawal`, `gdng-objection` (non-genetic),
//!    `genetic-research` (genetic), explicit denies of `.7`/`.8` (use on the
//!    date of use) and of `.6` (collection, on the date of origin), and a `.45`
//!    deny for data older than its start, deny (deny wins across codes). Under
//!    a broad consent that speaks about MDAT use (`.7`/`.8`), a permit of one
//!    of them is needed, and when the consents name `.6` at all, the fact must
//!    have originated inside a `.6` permit (collection window) or, older than
//!    a `.45`/`.46` permit's start, inside that (retrospective window); else
//!    [`DenyReason::NotCollected`]. Genetic data further needs an opt-in that
//!    covers it: `genetic-research`, `.22` with (if `.19` is named) a `.19`
//!    window at the origin, or `.52` for data older than its start. An
//!    explicit deny of a biomaterial code vetoes `genetic-research` but not
//!    the other window. Non-genetic data without a governing broad consent is
//!    permitted under the GDNG opt-out.
//! 7. The reason of a deny: `withdrawal` or a Komplettwiderruf document is
//!    [`DenyReason::Withdrawn`], a Teilwiderruf [`DenyReason::PartiallyWithdrawn`],
//!    `gdng-objection` [`DenyReason::Objection`], any other deny (an Ablehnung,
//!    a module refused or not permitted in a broad consent, a
//!    `genetic-research` deny) [`DenyReason::Refused`]; the most serious one is
//!    reported (order at [`DenyReason`]); a deny whose provision inherited its
//!    type says so (`inherited_type`).
//! 8. Feasibility and research get the same answers: counting is use too.
//! 9. Re-contact ([`may_recontact`]) is opt-in only: a counting permit of an MII
//!    re-contact code of that kind or of OncoFed `recontact`, and no explicit
//!    counting deny among them (nor `withdrawal`, nor rule 5). `.37` (results
//!    of significant importance) and `.31` (additional findings) are separate
//!    kinds.
//!
//! # Sources and provenance
//!
//! The table follows the MII Kerndatensatz-Modul Consent, IG version 2026.0.0
//! (CodeSystem `2.16.840.1.113883.3.1937.777.24.5.3--20251211153003`, version
//! 1.1.0; the 2027.0.0 ballot keeps codes and meanings but respells 19
//! displays, kept beside them by [`mii::Release`]), read from the module's public repository
//! (`input/fsh/codesystems/MII_CS_Consent_Policy.fsh`, changelog,
//! `enforcement.md`) and its examples (`../shared/data/mii-consent-2026`,
//! tested in `tests/mii_examples.rs`). German displays, groups, validity and
//! deprecations (`.16`, `.17`, `.41`, `.42`, `.46`, `.47`) are the code
//! system's. The English meanings and the Scope column are OncoFed's reading;
//! where OncoFed chooses differently from the IG or TORCH:
//!
//! * The IG's enforcement page (a draft) and TORCH merge permit periods and
//!   subtract deny periods per code in `dateTime` order, checking the
//!   resource's date against them; OncoFed checks the date of origin against
//!   the collection codes and the date of use against the use codes, and lets
//!   a later consent override an earlier one about the same code (rule 3), so
//!   a person may consent again after a withdrawal (a re-consent must permit
//!   the codes again; an OncoFed `withdrawal` code is lifted by nothing but a
//!   later `withdrawal` permit).
//! * After a broad consent has ended entirely (its root deny's period too),
//!   non-genetic data falls back to the GDNG opt-out (R6); the IG knows no
//!   opt-out basis.
//! * That a BIOMAT scientific-use permit (`.22`, `.52`) is an opt-in for genetic
//!   data rests on the broad consent's text on analyses of biomaterial; a
//!   permit of `.8` (MDAT) is deliberately *not* taken as one. Pathology is
//!   routine medical data (MDAT family only).
//! * IDAT codes are the trust centre's business and claims data (KKDAT), the
//!   samples themselves and the add-on modules Z1–Z5 (GECCO, ACRIBiS, PROM,
//!   SNID, DZPG) concern data OncoFed does not hold; they are recorded and
//!   decide nothing here (re-contact for PROM studies excepted).
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

/// Version of the serialised [`Consent`] model (its serde form). The trust
/// centre sends parsed consents to site nodes in this form (the consent feed),
/// so that both evaluate the very same values with this engine; a node refuses
/// a feed of another version rather than guess. Bump it with any change to the
/// shape or meaning of the model types.
pub const MODEL_VERSION: u32 = 1;

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
