//! The parsed consent model: a FHIR R4 `Consent` reduced to what decisions read.

use crate::mii::MiiCode;
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// OncoFed's consent code system, for statements the MII does not code
/// (`docs/fhir-profile.md`).
pub const ONCOFED_POLICY_SYSTEM: &str = "urn:oncofed:consent-policy";
/// The MII broad-consent policy code system (`Consent.provision.code`).
pub const MII_POLICY_SYSTEM: &str = "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3";

/// FHIR R4 `Consent.status` (ConsentState).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConsentStatus {
    /// `draft`
    Draft,
    /// `proposed`
    Proposed,
    /// `active`: the only status that counts.
    Active,
    /// `rejected`
    Rejected,
    /// `inactive`
    Inactive,
    /// `entered-in-error`
    EnteredInError,
}

/// FHIR `Consent.provision.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProvisionType {
    /// `permit`
    Permit,
    /// `deny`
    Deny,
}

/// A provision's validity, by calendar day, bounds inclusive; `None` is open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Period {
    /// First day in force.
    pub start: Option<NaiveDate>,
    /// Last day in force.
    pub end: Option<NaiveDate>,
}

impl Period {
    /// Whether `date` lies within the period.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.start.is_none_or(|s| s <= date) && self.end.is_none_or(|e| date <= e)
    }

    /// The overlap of two periods (used for periods nested along a provision
    /// path); may be empty (start after end), which then contains no day.
    pub fn intersect(&self, other: &Period) -> Period {
        Period {
            start: match (self.start, other.start) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
            end: match (self.end, other.end) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        }
    }

    /// Whether the period bounds nothing (neither start nor end).
    pub fn is_open(&self) -> bool {
        self.start.is_none() && self.end.is_none()
    }
}

/// A FHIR `dateTime` (or `date`) reduced to what the rules need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FhirDateTime {
    /// The earliest instant it denotes, in UTC (date-only values: midnight UTC). Orders consents.
    pub instant: NaiveDateTime,
    /// First calendar day it covers (in its own time zone).
    pub first_day: NaiveDate,
    /// Last calendar day it covers (`2024` covers the whole year).
    pub last_day: NaiveDate,
    /// Whether it names a time of day with a zone (`…T10:00:00+01:00`). A
    /// date-only stamp cannot be ordered against another stamp of the same day,
    /// so the engine ranks it by calendar day and lets a deny win such a tie.
    pub precise: bool,
}

impl FhirDateTime {
    /// Whether this stamp is certainly later than `other`: both precise and a
    /// later instant, or (when either is date-only) a later calendar day than
    /// every day `other` may denote. Same-day stamps of unknown order are
    /// neither later nor earlier (issue 10, case 2).
    pub fn certainly_after(&self, other: &FhirDateTime) -> bool {
        if self.precise && other.precise {
            self.instant > other.instant
        } else {
            self.first_day > other.last_day
        }
    }
}

/// What a provision's `code` is about, as far as the engine knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PolicyCode {
    /// An MII broad-consent policy from the table in [`crate::mii`].
    Mii(MiiCode),
    /// `urn:oncofed:consent-policy#gdng-objection`: objection under the GDNG opt-out.
    GdngObjection,
    /// `urn:oncofed:consent-policy#genetic-research`: opt-in for genetic data.
    GeneticResearch,
    /// `urn:oncofed:consent-policy#withdrawal`: withdrawal of all consents.
    Withdrawal,
    /// `urn:oncofed:consent-policy#recontact`: re-contact for any reason
    /// (permit: opt-in to every [`crate::RecontactKind`]; deny: refuses them all).
    Recontact,
    /// A concept the engine cannot interpret: a code of the MII or OncoFed system
    /// that is not in the table, or a concept whose codings are all of other
    /// systems. A `deny` about it denies everything (fail closed); a `permit`
    /// grants nothing.
    Unrecognised,
}

impl PolicyCode {
    /// Recognises one `Coding` by system and code; `None` for other systems.
    /// A code of a known system that is not in the tables is [`Self::Unrecognised`].
    pub fn from_coding(system: &str, code: &str) -> Option<Self> {
        match system {
            ONCOFED_POLICY_SYSTEM => Some(match code {
                "gdng-objection" => Self::GdngObjection,
                "genetic-research" => Self::GeneticResearch,
                "withdrawal" => Self::Withdrawal,
                "recontact" => Self::Recontact,
                _ => Self::Unrecognised,
            }),
            MII_POLICY_SYSTEM => {
                Some(MiiCode::from_oid(code).map_or(Self::Unrecognised, Self::Mii))
            }
            _ => None,
        }
    }
}

/// Which kind of document a Consent is, from `Consent.policy.uri` (or
/// `policyRule`), using the MII version and module codes
/// (CodeSystem `mii-cs-consent-version-modules`, OIDs `…777.24.2.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocumentKind {
    /// An MII broad consent (any version or add-on module) or any other consent.
    Consent,
    /// An MII "Ablehnung": the person refused the broad consent.
    Refusal,
    /// An MII "Teilwiderruf": withdrawal of some modules.
    PartialWithdrawal,
    /// An MII "Komplettwiderruf": withdrawal of the whole consent.
    FullWithdrawal,
}

/// The MII consent document OIDs (`…777.24.2.<n>`) the engine tells apart, with
/// their meaning: (last arc, name, kind).
pub const MII_DOCUMENTS: [(u32, &str, DocumentKind); 16] = [
    (1790, "Broad Consent 1.6d", DocumentKind::Consent),
    (4053, "Broad Consent 1.6d Ablehnung", DocumentKind::Refusal),
    (
        2718,
        "Broad Consent 1.6d Komplettwiderruf",
        DocumentKind::FullWithdrawal,
    ),
    (
        2719,
        "Broad Consent 1.6d Teilwiderruf",
        DocumentKind::PartialWithdrawal,
    ),
    (1791, "Broad Consent 1.6f", DocumentKind::Consent),
    (
        2720,
        "Broad Consent 1.6f Komplettwiderruf",
        DocumentKind::FullWithdrawal,
    ),
    (
        2721,
        "Broad Consent 1.6f Teilwiderruf",
        DocumentKind::PartialWithdrawal,
    ),
    (2079, "Broad Consent 1.7.2", DocumentKind::Consent),
    (4054, "Broad Consent 1.7.2 Ablehnung", DocumentKind::Refusal),
    (
        2722,
        "Broad Consent 1.7.2 Komplettwiderruf",
        DocumentKind::FullWithdrawal,
    ),
    (
        2723,
        "Broad Consent 1.7.2 Teilwiderruf",
        DocumentKind::PartialWithdrawal,
    ),
    (
        3542,
        "Broad Consent 1.7.2 Eltern und Sorgeberechtigte fuer Minderjaehrige v1.1",
        DocumentKind::Consent,
    ),
    (
        3543,
        "Broad Consent 1.7.2 7-11 Minderjaehrige v1.1",
        DocumentKind::Consent,
    ),
    (
        3544,
        "Broad Consent 1.7.2 12-17 Minderjaehrige v1.1",
        DocumentKind::Consent,
    ),
    (
        4055,
        "Broad Consent 1.7.2 Vertretende",
        DocumentKind::Consent,
    ),
    (
        184,
        "MII Broad Consent (unversioned)",
        DocumentKind::Consent,
    ),
];

/// Prefix of the MII consent document OIDs.
pub const MII_DOCUMENT_OID_PREFIX: &str = "urn:oid:2.16.840.1.113883.3.1937.777.24.2.";

impl DocumentKind {
    /// The kind a policy URI names, if it is one of [`MII_DOCUMENTS`]. The OID
    /// may be written as `urn:oid:…` or bare (the MII's own ConsentStatus
    /// example writes `2.16.840.1.113883.3.1937.777.24.2.184`), so a bare-OID
    /// Komplettwiderruf is still read as a withdrawal (issue 10, case 7).
    pub fn from_policy_uri(uri: &str) -> Option<Self> {
        let bare = MII_DOCUMENT_OID_PREFIX.strip_prefix("urn:oid:")?;
        let rest = uri
            .strip_prefix(MII_DOCUMENT_OID_PREFIX)
            .or_else(|| uri.strip_prefix(bare))?;
        // Canonical spelling only: digits, no sign, no leading zero.
        if !rest.bytes().all(|b| b.is_ascii_digit()) || rest.starts_with('0') {
            return None;
        }
        let arc: u32 = rest.parse().ok()?;
        MII_DOCUMENTS
            .iter()
            .find(|(n, _, _)| *n == arc)
            .map(|(_, _, kind)| *kind)
    }
}

/// One `Consent.provision` (or a nested one) with what the rules read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Provision {
    /// Its type, inherited from the enclosing provision when absent.
    pub kind: Option<ProvisionType>,
    /// When it is in force.
    pub period: Period,
    /// `provision.dataPeriod`: the data it is about, by date of origin (open:
    /// all data). A permit counts for a fact only inside it, a deny wherever it
    /// may overlap the fact (issue 10, case 5).
    pub data_period: Period,
    /// Whether `type` was absent and inherited from an enclosing provision, so
    /// a deny reason can say the deny was inherited, not written.
    pub type_inherited: bool,
    /// What it is about: one entry per `code` CodeableConcept that carried
    /// anything (duplicates removed).
    pub codes: Vec<PolicyCode>,
    /// Nested provisions (exceptions to this one).
    pub provisions: Vec<Provision>,
}

/// A FHIR Consent reduced to what decisions need (see [`crate::parse_consent`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Consent {
    /// `Consent.id`, when given: a later version with the same id replaces this one
    /// (the registry's job, not the engine's).
    pub resource_id: Option<String>,
    /// `Consent.status`.
    pub status: ConsentStatus,
    /// `Consent.dateTime`: orders consents about the same policy.
    pub date_time: FhirDateTime,
    /// The document kind from `Consent.policy.uri`: tells a withdrawal from a refusal.
    pub document: DocumentKind,
    /// The root provision.
    pub provision: Provision,
}
