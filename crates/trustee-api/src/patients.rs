//! What the patients' portal needs on the wire: one-time access codes (issued
//! by trust-centre staff or the treating site) and usage reports (a site tells
//! the trust centre that it used persons' data for a project, so that each
//! person can read it in the portal).
//!
//! | method and path | caller | body | answer |
//! |---|---|---|---|
//! | `POST /v1/admin/access-codes` | staff | [`StaffAccessCodeRequest`] | [`AccessCode`] |
//! | `POST /v1/access-codes` | site | [`SiteAccessCodeRequest`] | [`AccessCode`] |
//! | `POST /v1/usage` | site | [`UsageReport`] | [`UsageRecorded`] |

use chrono::NaiveDate;
use oncofed_model::Pseudonym;
use serde::{Deserialize, Serialize};

/// Body of `POST /v1/admin/access-codes`: a code for the person behind a site
/// pseudonym (of any site), as staff know persons.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StaffAccessCodeRequest {
    /// The person's pseudonym in any site's domain.
    pub pseudonym: Pseudonym,
}

/// Body of `POST /v1/access-codes`: a code for one of the calling site's
/// patients, named by the site's own local id (the treating site hands the
/// code over in person or by letter).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SiteAccessCodeRequest {
    /// The site's local id of the person, as registered with `POST /v1/pseudonyms`.
    pub local_id: String,
}

/// A newly issued one-time access code. It is shown this once: the trust centre
/// keeps only its hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessCode {
    /// The code, `XXXX-XXXX-XXXX-XXXX` (A–Z and 2–9 without I and O).
    pub code: String,
    /// The last moment it can be used (RFC 3339, UTC).
    pub expires_at: String,
    /// Where the person signs in with it (path on the trust centre).
    pub sign_in_path: String,
}

/// What a site did with persons' data for a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UsageKind {
    /// Sequencing data (a VCF region) was delivered to the project's researcher.
    SequenceDelivery,
    /// Images were delivered to the project (folder or research PACS).
    ImageDelivery,
    /// The person's records were counted in an aggregate analysis result.
    Analysis,
    /// The person's records were used to train a model.
    Training,
}

impl UsageKind {
    /// The wire name (`sequence-delivery`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SequenceDelivery => "sequence-delivery",
            Self::ImageDelivery => "image-delivery",
            Self::Analysis => "analysis",
            Self::Training => "training",
        }
    }

    /// The kind from its wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::SequenceDelivery,
            Self::ImageDelivery,
            Self::Analysis,
            Self::Training,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Body of `POST /v1/usage`: the calling site used the data of these persons
/// (its own pseudonyms) for `project` on `date`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UsageReport {
    /// The approved project's id (1–64 of `A-Z a-z 0-9 . _ -`).
    pub project: String,
    /// What was done.
    pub kind: UsageKind,
    /// The day of use.
    pub date: NaiveDate,
    /// The persons, as pseudonyms of the calling site's domain (at most
    /// [`crate::MAX_BATCH`]).
    pub pseudonyms: Vec<Pseudonym>,
}

/// Answer to `POST /v1/usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecorded {
    /// Persons for whom the use was newly recorded.
    pub recorded: usize,
    /// Pseudonyms the calling site's domain does not know (nothing recorded).
    pub unknown: usize,
}

/// Whether `project` is a valid project id for a usage report.
pub fn valid_project_id(project: &str) -> bool {
    (1..=64).contains(&project.len())
        && project
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
