//! Wire types of the review and PPRL endpoints (JSON). Staff and sites build
//! them through [`super::client`]; the service parses them with privacy-safe errors.

use oncofed_idat::IdentifyingData;
use oncofed_linkage::Field;
use oncofed_model::Pseudonym;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A reviewer's decision on a possible match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// Same person: merge the two persons.
    #[serde(rename = "match")]
    Match,
    /// Different persons: keep them apart.
    #[serde(rename = "non-match")]
    NonMatch,
}

impl Decision {
    /// The wire and database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Match => "match",
            Decision::NonMatch => "non-match",
        }
    }
}

impl std::str::FromStr for Decision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "match" => Ok(Decision::Match),
            "non-match" => Ok(Decision::NonMatch),
            _ => Err("expected 'match' or 'non-match'".into()),
        }
    }
}

/// One side of a review item: a record as the trust centre holds it. Contains
/// IDAT: shown to trust-centre staff, never logged (no `Debug`).
#[derive(Clone, Serialize, Deserialize)]
pub struct ReviewRecord {
    /// The site that sent the record.
    pub site: String,
    /// The site's local id of the patient.
    pub local_id: String,
    /// The research pseudonym of the person the record belongs to now.
    pub research_pseudonym: Pseudonym,
    /// The IDAT as stored (`None` if unreadable).
    pub idat: Option<IdentifyingData>,
}

/// One field of the comparison: normalised values, similarity and weight.
#[derive(Clone, Serialize, Deserialize)]
pub struct FieldComparison {
    /// The compared field.
    pub field: Field,
    /// Normalised value of the new record (empty = missing).
    pub new: String,
    /// Normalised value of the earlier record.
    pub earlier: String,
    /// Similarity in `[0, 1]`; `None` when missing on a side (the field drops out).
    pub similarity: Option<f64>,
    /// Fellegi–Sunter agreement weight `log2(m/u)` of the field.
    pub weight: f64,
}

/// A pending possible match.
#[derive(Clone, Serialize, Deserialize)]
pub struct ReviewItem {
    /// Item id, for `POST /v1/admin/review/{id}`.
    pub id: i64,
    /// The EpiLink score when the item was queued.
    pub queued_score: f64,
    /// The score recomputed from the IDAT stored now (sites may have sent updates).
    pub score: f64,
    /// When it was queued (Unix seconds).
    pub created_at: i64,
    /// Whether both records already belong to one person (e.g. merged through another item).
    pub same_person_now: bool,
    /// The record that arrived and was scored.
    pub new: ReviewRecord,
    /// The best-scoring earlier record.
    pub earlier: ReviewRecord,
    /// Field-by-field comparison, in [`Field::ALL`] order.
    pub fields: Vec<FieldComparison>,
}

impl fmt::Debug for ReviewItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ReviewItem({}, score {:.3}, <idat redacted>)",
            self.id, self.score
        )
    }
}

/// Answer of `GET /v1/admin/review`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewList {
    /// Pending items, oldest first (at most `limit`).
    pub items: Vec<ReviewItem>,
    /// All pending items.
    pub pending: i64,
}

/// Body of `POST /v1/admin/review/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewDecisionRequest {
    /// `match` or `non-match`.
    pub decision: Decision,
    /// Who decided (a staff member's name or id), for the audit trail.
    pub reviewer: String,
}

/// Answer of `POST /v1/admin/review/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewDecisionResponse {
    /// The item.
    pub id: i64,
    /// The decision taken.
    pub decision: Decision,
    /// Whether two persons were merged.
    pub merged: bool,
    /// The new record's research pseudonym after the decision (the surviving
    /// person's, after a merge).
    pub research_pseudonym: Pseudonym,
}

/// One encoded record a site sends for a PPRL project.
#[derive(Clone, Serialize, Deserialize)]
pub struct PprlRecord {
    /// The site's id for this record within the project (1-256 bytes); sending
    /// the same id again returns the same link id.
    pub id: String,
    /// The 1024-bit CLK, base64 (128 bytes; `oncofed_linkage::pprl::Clk::to_bytes`).
    pub clk: String,
    /// Keyed blocking keys (`oncofed_linkage::pprl::Encoder::blocking_keys`).
    /// Records are compared only with records sharing a key; a record without
    /// keys gets its own link id.
    #[serde(default)]
    pub blocks: Vec<u64>,
}

impl fmt::Debug for PprlRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PprlRecord({} blocks)", self.blocks.len())
    }
}

/// Body of `POST /v1/pprl/{project}/records`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PprlSubmitRequest {
    /// At most `MAX_BATCH` records.
    pub records: Vec<PprlRecord>,
}

/// The link of one submitted record.
#[derive(Clone, Serialize, Deserialize)]
pub struct PprlLink {
    /// The record id as sent.
    pub id: String,
    /// Project-scoped link id: records with the same link id belong to the same
    /// person. Random, meaningless outside the project.
    pub link_id: String,
    /// Dice coefficient to the record it was linked to (`None`: new link id).
    pub dice: Option<f64>,
}

impl fmt::Debug for PprlLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PprlLink(dice {:?})", self.dice)
    }
}

/// Answer of `POST /v1/pprl/{project}/records`, in request order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PprlSubmitResponse {
    /// One link per record.
    pub links: Vec<PprlLink>,
}

/// Body of `PUT /v1/admin/pprl/{project}`: the project's linkage settings.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct PprlProjectSettings {
    /// Minimum Dice coefficient of a link, in `(0, 1]`. The default is the one
    /// recommended for balanced CLKs (0.84); calibrate it per project.
    pub threshold: f64,
}

/// Body of `POST /v1/admin/admissions`: staff admit one record that a
/// withdrawn person's tombstone refused (error code `withdrawn` with
/// `admissible`), after checking that it is a different person.
#[derive(Clone, Serialize, Deserialize)]
pub struct AdmissionRequest {
    /// The site that sent the record.
    pub site: String,
    /// The site's local id of the record.
    pub local_id: String,
    /// The record's IDAT exactly as the site sends it: the admission holds for
    /// this identity only.
    pub idat: IdentifyingData,
    /// Who admits it (a staff member's name or id), for the audit trail.
    pub reviewer: String,
    /// Why it is a different person (e.g. which documents were checked); kept
    /// with the admission, not in the audit trail.
    pub reason: String,
}

impl fmt::Debug for AdmissionRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdmissionRequest")
            .field("site", &self.site)
            .field("idat", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Answer of `POST /v1/admin/admissions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdmissionResponse {
    /// The site whose record was admitted.
    pub site: String,
    /// Its local id: the site sends the record again to register it.
    pub local_id: String,
}
