//! The trust-centre API as it travels over HTTP, and a client for it.
//!
//! Site nodes send identifying data (IDAT) here and nowhere else; they get back
//! pseudonyms per domain. They also register FHIR Consent resources and ask, in
//! batches, whether a pseudonym's data may be used for a category and purpose.
//!
//! Every call is authenticated with the calling site's bearer token; the site is
//! taken from the token, never from the request body. Batches keep their order:
//! the `n`-th answer belongs to the `n`-th question.
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `POST /v1/pseudonyms` | [`PseudonymiseRequest`] | [`PseudonymiseResponse`] |
//! | `POST /v1/pseudonyms/resolve` | [`ResolveRequest`] | [`ResolveResponse`] |
//! | `POST /v1/consents` | [`ConsentSubmission`] | [`ConsentSubmissionResponse`] |
//! | `POST /v1/consents/check` | [`ConsentCheckRequest`] | [`ConsentCheckResponse`] |
//! | `GET /v1/deletions` | — | [`DeletionOrders`] |
//! | `POST /v1/deletions/{id}/done` | [`DeletionReceipt`] | [`DeletionConfirmed`] |
//! | `GET /v1/recontacts` | — | [`RecontactNotices`] |
//! | `GET /v1/consent-feed?since=N&nonce=…` | — | [`SignedFeedPage`] ([`consent_feed`]) |
//! | `GET /v1/consent-feed/key` | — | [`FeedKey`] |
//! | `POST /v1/domains/{name}/pseudonyms` | [`DomainPseudonymise`] | [`DomainPseudonyms`] |
//! | `GET /health` | — | `ok` |
//!
//! Staff endpoints (withdrawal follow-up, re-contact approvals, pseudonym domains)
//! are listed in [`orders`] and [`domains`]; access codes for the patients'
//! portal and usage reports in [`patients`]; record linkage (clerical review,
//! PPRL) in [`linkage`].

mod client;
pub mod consent_feed;
pub mod domains;
pub mod linkage;
pub mod orders;
pub mod patients;

pub use client::{TrusteeClient, TrusteeError};
pub use consent_feed::{
    FeedEntry, FeedError, FeedKey, FeedPage, FeedRequest, MAX_FEED_PAGE, SignedFeedPage, decide,
};
pub use domains::*;
pub use orders::*;
pub use patients::*;

use chrono::NaiveDate;
use oncofed_idat::IdentifyingData;
use oncofed_model::{DataCategory, Pseudonym, Purpose};
use serde::{Deserialize, Serialize};

/// Largest batch the trust centre accepts in one call.
pub const MAX_BATCH: usize = 5_000;

/// Asks for the pseudonyms of patients a site holds, identified by their IDAT.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PseudonymiseRequest {
    /// Patients to pseudonymise (at most [`MAX_BATCH`]).
    pub items: Vec<PseudonymiseItem>,
}

/// One patient as a site's source system knows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PseudonymiseItem {
    /// The site's own patient id (e.g. `Patient.id` or the MRN). It stays with the
    /// site and the trust centre; the trust centre maps it to the person.
    pub local_id: String,
    /// The patient's identifying data.
    pub idat: IdentifyingData,
}

/// The pseudonyms of one patient, in each domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PseudonymPair {
    /// Pseudonym in the calling site's own domain: the key of the site's research store.
    pub site: Pseudonym,
    /// Pseudonym in the cross-site research domain: equal for the same person at
    /// every site (exact match on normalised IDAT or insurance number).
    pub research: Pseudonym,
    /// The person's date offset in days (always negative, -1 to
    /// [`MAX_DATE_SHIFT_DAYS`] back): one per person, the same at every site and in
    /// every run, keyed by the trust centre so nobody without its key can
    /// compute it. De-identified images shift every date by it (PS3.15 Retain
    /// Longitudinal Temporal Information with Modified Dates), so the intervals
    /// between a person's studies, at one site or several, survive to the day.
    pub date_offset_days: i32,
}

/// The largest date shift [`PseudonymPair::date_offset_days`] takes, in days
/// back (about two years): enough that a shifted study date does not point to
/// the real day, small enough that seasons and ages stay plausible.
pub const MAX_DATE_SHIFT_DAYS: i32 = 730;

/// Answer to [`PseudonymiseRequest`], in request order.
///
/// A malformed request (schema, local ids, batch size) fails as a whole with an
/// [`ApiErrorBody`]. An item whose IDAT breaks a field bound
/// (`oncofed_idat::bounds`, [`ItemError::IDAT_TOO_LONG`]) or whose person withdrew
/// consent ([`ItemError::WITHDRAWN`]) is refused alone: its entry is `null`,
/// `errors` says why, nothing of it is stored, and the other items are
/// pseudonymised as usual.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PseudonymiseResponse {
    /// One entry per requested item: its pair, or `None` when it was refused.
    pub items: Vec<Option<PseudonymPair>>,
    /// The refused items, by position; empty (and omitted) when none was.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ItemError>,
}

/// Why one item of a batch was refused while the others were processed.
/// Like [`ApiErrorBody`], it never holds a value from the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemError {
    /// Position of the item in the request.
    pub index: usize,
    /// Stable machine-readable code, e.g. [`ItemError::IDAT_TOO_LONG`].
    pub code: String,
    /// The element and what is wrong, e.g.
    /// `items[3].idat.given[0]: a given name is longer than 200 characters`.
    pub message: String,
}

impl ItemError {
    /// Code of an item whose IDAT breaks a field bound (too long, too many entries).
    pub const IDAT_TOO_LONG: &'static str = "idat_too_long";
    /// Code of an item whose person withdrew consent and whose identity the trust
    /// centre erased: it is not registered again, at any site, and nothing of it
    /// is stored. The site keeps none of the patient's data (its deletion order
    /// named the pseudonym) and removes the patient from its export. Where only
    /// the resemblance of the identity refused it (no local id or insurance
    /// number of the withdrawn person), the message says so: if it is a
    /// different person, trust-centre staff can admit the record
    /// (`POST /v1/admin/admissions`) and the site sends it again.
    pub const WITHDRAWN: &'static str = "withdrawn";
}

impl std::fmt::Display for ItemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// Asks for the pseudonyms of patients the site registered before, by local id
/// (resources that reference a patient sent in an earlier batch).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResolveRequest {
    /// The site's local patient ids.
    pub local_ids: Vec<String>,
}

/// Answer to [`ResolveRequest`], in request order; `None` for ids never registered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResolveResponse {
    /// One entry per requested id.
    pub items: Vec<Option<PseudonymPair>>,
}

/// FHIR Consent resources a site received, for the trust centre's consent registry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsentSubmission {
    /// Consents (at most [`MAX_BATCH`]).
    pub items: Vec<ConsentItem>,
}

/// One FHIR R4 Consent resource for a patient of the site.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsentItem {
    /// The site's local id of the patient the consent is about (registered before).
    pub local_id: String,
    /// The FHIR Consent resource as JSON.
    pub consent: serde_json::Value,
}

/// Answer to [`ConsentSubmission`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsentSubmissionResponse {
    /// How many consents were new (re-submissions of the same resource are idempotent).
    pub stored: usize,
}

/// Asks whether data of these pseudonyms may be used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsentCheckRequest {
    /// What the data is to be used for.
    pub purpose: Purpose,
    /// The date of use (consents have validity periods).
    pub date: NaiveDate,
    /// The questions (at most [`MAX_BATCH`]).
    pub items: Vec<ConsentQuestion>,
}

/// One question: this pseudonym (in the calling site's domain), this category,
/// optionally for data of one date of origin.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConsentQuestion {
    /// The patient's site pseudonym.
    pub pseudonym: Pseudonym,
    /// The data category.
    pub category: DataCategory,
    /// The date the data originated (a fact's date), so that the trust centre
    /// can check it against the consent's collection windows and
    /// `dataPeriod`s. Absent (older clients): the data is taken to originate
    /// on the date of use, which cannot open data outside a window but may
    /// refuse older data a window did cover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<NaiveDate>,
}

/// The answer to one consent question. Anything but `Permit` means "no".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConsentDecision {
    /// Use is permitted.
    Permit,
    /// The trust centre does not know this pseudonym (fail closed).
    DenyUnknown,
    /// The person objected (GDNG opt-out) or refused this use.
    DenyObjection,
    /// The person withdrew consent.
    DenyWithdrawn,
    /// The category needs an opt-in (genetic data) that is not on record.
    DenyNoOptIn,
}

impl ConsentDecision {
    /// Whether the use is permitted.
    pub fn permits(self) -> bool {
        self == Self::Permit
    }
}

/// Answer to [`ConsentCheckRequest`], in request order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsentCheckResponse {
    /// One decision per question.
    pub decisions: Vec<ConsentDecision>,
}

/// The error body every trust-centre endpoint returns: a stable code and a generic
/// message. It never echoes identifying data back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// Stable machine-readable code, e.g. `unauthorized`, `batch_too_large`.
    pub code: String,
    /// A human-readable message without personal data.
    pub message: String,
}
