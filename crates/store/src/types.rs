//! Rows and batches exchanged with a store.

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

/// Everything one ingest unit (or a chunk of units) writes, applied atomically.
#[derive(Debug, Default, Clone)]
pub struct WriteBatch {
    /// Patients to insert or update.
    pub patients: Vec<PatientRow>,
    /// Facts to insert or update (their patients must exist or be in `patients`).
    pub facts: Vec<StoredFact>,
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
