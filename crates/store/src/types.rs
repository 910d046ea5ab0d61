//! Rows and batches exchanged with a store.

use chrono::{DateTime, NaiveDate, Utc};
use oncofed_model::{CodeSystem, DataCategory, Demographics, Fact, FactKind, Pseudonym};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Idempotency key of a fact: a hash of the patient's site pseudonym and the
/// fact's source (resource type, id, position), so that re-ingesting the same
/// source data hits the same row. Source ids are hashed, never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FactKey(pub [u8; 16]);

impl FactKey {
    /// Derives the key from the pseudonym and the source id (e.g. `Observation/abc#0`).
    pub fn derive(pseudonym: &Pseudonym, source_id: &str) -> Self {
        let mut h = Sha256::new();
        h.update(b"oncofed-fact-key\0");
        h.update(pseudonym.as_str().as_bytes());
        h.update([0]);
        h.update(source_id.as_bytes());
        let digest = h.finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        Self(key)
    }
}

/// A patient as the research store holds them: pseudonyms and coarse demographics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatientRow {
    /// Pseudonym in the site's domain (primary key).
    pub pseudonym: Pseudonym,
    /// Pseudonym in the cross-site research domain.
    pub research_pseudonym: Pseudonym,
    /// Sex, birth year, vital status.
    pub demographics: Demographics,
}

/// A fact with its key and its patient's pseudonym.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredFact {
    /// Idempotency key.
    #[serde(skip)]
    pub key: FactKey,
    /// The patient's site pseudonym.
    pub pseudonym: Pseudonym,
    /// The fact.
    #[serde(flatten)]
    pub fact: Fact,
}

/// One de-identified DICOM object (SOP instance) of a patient, as the research
/// store lists it: its de-identified UIDs, what it shows, and where its bytes are
/// (the node's content-addressed object store, not the research store).
///
/// The UIDs are the de-identified ones (PS3.15 Annex E, "Retain UIDs" off): never
/// the UIDs of the source system.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageRow {
    /// De-identified SOP Instance UID (0008,0018); the primary key.
    pub sop_uid: String,
    /// The patient's site pseudonym; the patient must exist or be in the same batch.
    pub pseudonym: Pseudonym,
    /// De-identified Study Instance UID (0020,000D).
    pub study_uid: String,
    /// De-identified Series Instance UID (0020,000E).
    pub series_uid: String,
    /// Modality (0008,0060), e.g. `CT`.
    pub modality: String,
    /// Body Part Examined (0018,0015), upper case, e.g. `CHEST`.
    pub body_part: Option<String>,
    /// Study Date (0008,0020).
    pub study_date: Option<NaiveDate>,
    /// The object's content address in the node's object store.
    pub object_key: String,
    /// The object's size in bytes (stored as a signed 64-bit integer: sizes from
    /// 2^63 bytes on are recorded as 2^63 − 1).
    pub bytes: u64,
    /// A head or neck CT or MR from which a face could be reconstructed: its
    /// release needs defacing first.
    pub face_risk: bool,
}

/// A DICOM object the ingest refused, recorded without any identifying value:
/// where it came from and why (for the operator's report and
/// [`ImageStats::quarantined_by_reason`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuarantineRow {
    /// The file path, or `C-STORE from AE <calling AE title>`: never a value read
    /// from the object.
    pub source: String,
    /// Stable short code, e.g. `unreadable`, `no-patient-id`, `trustee-refused`,
    /// `burned-in-text`, `pixel-unsupported`.
    pub reason_code: String,
    /// The full explanation, free of the object's values.
    pub reason: String,
    /// When it was quarantined.
    pub at: DateTime<Utc>,
}

/// Everything one ingest unit (or a chunk of units) writes, applied atomically.
#[derive(Debug, Default, Clone)]
pub struct WriteBatch {
    /// Patients to insert or update.
    pub patients: Vec<PatientRow>,
    /// Facts to insert or update (their patients must exist or be in `patients`).
    pub facts: Vec<StoredFact>,
    /// Images to insert or update by SOP Instance UID (their patients must exist
    /// or be in `patients`).
    pub images: Vec<ImageRow>,
    /// Refused objects to record (no patient).
    pub quarantine: Vec<QuarantineRow>,
    /// Smears to insert or update by key (their patients must exist or be in
    /// `patients`).
    pub smears: Vec<crate::SmearRow>,
    /// Cells to insert or update by key (their smears must exist or be in `smears`).
    pub cells: Vec<crate::CellRow>,
    /// Cell labels to insert or replace by (cell, role, expert) (their cells must
    /// exist or be in `cells`).
    pub cell_labels: Vec<crate::CellLabelRow>,
    /// Sequencing files to insert or update by object key (their patients must
    /// exist or be in `patients`).
    pub sequence_files: Vec<crate::SequenceFileRow>,
    /// Variant calls to insert or update by key (their files must exist or be in
    /// `sequence_files`).
    pub variants: Vec<crate::VariantRow>,
}

/// What a write changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WriteOutcome {
    /// Patients that were not there before.
    pub patients_new: usize,
    /// Facts that were not there before.
    pub facts_new: usize,
    /// Facts already present (same key), updated in place.
    pub facts_existing: usize,
    /// Images whose SOP Instance UID was not there before.
    pub images_new: usize,
}

/// Image counts for reports.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct ImageStats {
    /// Per modality, in modality order: (modality, objects, bytes).
    pub by_modality: Vec<(String, u64, u64)>,
    /// Quarantined objects per reason code, in code order.
    pub quarantined_by_reason: Vec<(String, u64)>,
}

/// A selection of facts. Empty fields do not restrict.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FactFilter {
    /// Only this kind.
    pub kind: Option<FactKind>,
    /// Only codes of this system.
    pub system: Option<CodeSystem>,
    /// Only codes starting with this prefix (e.g. `C92`).
    pub code_prefix: Option<String>,
    /// Only this category.
    pub category: Option<DataCategory>,
    /// At most this many rows.
    pub limit: Option<usize>,
}

/// Row counts of a store.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// Patients.
    pub patients: u64,
    /// Facts.
    pub facts: u64,
    /// Facts per category name.
    pub facts_by_category: Vec<(String, u64)>,
    /// Image rows (DICOM objects).
    pub images: u64,
}

/// What [`ResearchStore::charge_releases`](crate::ResearchStore::charge_releases)
/// did with one release. Amounts are ε in millionths (micro-ε), so that a sum of
/// charges is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerCharge {
    /// Every key of the release was charged before: nothing new is spent.
    Repeat {
        /// The lifetime total, unchanged.
        spent: u64,
    },
    /// The keys not charged before were recorded.
    Charged {
        /// How many keys were new.
        new: u64,
        /// The lifetime total after this charge.
        spent: u64,
    },
    /// Charging the new keys would pass the budget: nothing was recorded.
    Refused {
        /// The lifetime total, unchanged.
        spent: u64,
        /// What the new keys would have cost.
        needed: u64,
    },
}

/// The lifetime privacy ledger's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LedgerTotals {
    /// Distinct keys charged (releases with fresh noise).
    pub releases: u64,
    /// Their summed cost, ε in millionths.
    pub micro_epsilon: u64,
}
