//! The site node's research store.
//!
//! A site node keeps its harmonised, pseudonymised data here: one row per patient
//! (keyed by the site pseudonym, holding only coarse demographics), one row per
//! clinical [`Fact`](oncofed_model::Fact), one [`ImageRow`] per de-identified
//! DICOM object (its bytes live in the node's object store, under the row's
//! `object_key`), one [`QuarantineRow`] per object the DICOM ingest refused, and
//! the cytomorphology rows: [`SmearRow`]s, [`CellRow`]s (each cell image's bytes
//! again in the object store) and their [`CellLabelRow`]s. [`ResearchStore`] is the seam between the node's logic and the
//! storage engine, with two backends of identical semantics (one conformance suite
//! runs against both):
//! - [`SqliteStore`], the embedded default: one owner-only file, WAL, versioned
//!   migrations, secure delete;
//! - [`PostgresStore`], for a site that keeps its store on a PostgreSQL server
//!   (blocking client: call it from blocking threads only; schema distributable
//!   with Citus; what a withdrawal's delete does and does not erase there is in its
//!   module docs).
//!
//! Both compile a feasibility [`Criteria`] tree with the same compiler to one SQL
//! statement whose values are all bound parameters.
//!
//! Architecture invariant: this crate does not depend on `oncofed-idat`. Its API only
//! takes model types, so identifying data cannot reach a research store.
//!
//! Writes are atomic: [`ResearchStore::write`] applies a whole [`WriteBatch`] or
//! nothing. Facts carry an idempotency key ([`FactKey`]), so re-ingesting the same
//! source data updates rows in place instead of duplicating them.

mod cells;
mod columns;
mod error;
mod feasibility;
mod genomics;
mod postgres;
pub mod site_log;
mod sqlite;
mod types;

pub use crate::postgres::PostgresStore;
pub use cells::{CellLabelRow, CellListing, CellRow, CellStats, LabelRole, SmearRow};
pub use error::StoreError;
pub use genomics::{GenomicsStats, SequenceFileRow, VariantLookup, VariantRow};
pub use site_log::{IngestRunRow, QualityRunRow, WithdrawalRow};
pub use sqlite::SqliteStore;
pub use types::{
    FactFilter, FactKey, ImageRow, ImageStats, LedgerCharge, LedgerTotals, PatientRow,
    QuarantineRow, StoreStats, StoredFact, WriteBatch, WriteOutcome,
};

use oncofed_criteria::Criteria;
use oncofed_model::Pseudonym;
use std::collections::{HashMap, HashSet};

/// What [`ResearchStore::delete_patient`] removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Deleted {
    /// Whether the patient row existed.
    pub patient: bool,
    /// How many of their facts were deleted.
    pub facts: u64,
    /// The object-store keys of their deleted image rows, in key order, each once
    /// (the node deletes these objects next, for the withdrawal receipt).
    pub images: Vec<String>,
    /// The object-store keys of their deleted cell images, in key order, each
    /// once (with their smears and labels).
    pub cells: Vec<String>,
    /// The object-store keys of their deleted sequencing files, in key order
    /// (with their variant calls).
    pub sequences: Vec<String>,
}

/// The operations a site node needs from its research store.
///
/// Synchronous on purpose: stores are called from a blocking thread, so an engine
/// never has to be async to be plugged in.
pub trait ResearchStore: Send {
    /// Applies a batch atomically: all patients, facts, images and quarantine
    /// entries, or nothing.
    fn write(&mut self, batch: &WriteBatch) -> Result<WriteOutcome, StoreError>;

    /// Facts matching `filter`, each with its patient's pseudonym, in a stable order.
    fn facts(&self, filter: &FactFilter) -> Result<Vec<StoredFact>, StoreError>;

    /// The pseudonyms among `pseudonyms` that have a patient row.
    fn existing_patients(&self, pseudonyms: &[Pseudonym])
    -> Result<HashSet<Pseudonym>, StoreError>;

    /// Calls `visit` for every patient row.
    fn for_each_patient(&self, visit: &mut dyn FnMut(PatientRow)) -> Result<(), StoreError>;

    /// Calls `visit` for every fact.
    fn for_each_fact(&self, visit: &mut dyn FnMut(StoredFact)) -> Result<(), StoreError>;

    /// Deletes a patient, all their facts, image rows, smears, cells and cell
    /// labels (withdrawal),
    /// in one transaction. Returns what was deleted, counted by the delete itself
    /// (a withdrawal receipt needs the counts, and counting the whole store around
    /// each delete costs full scans), with the object keys of the deleted images:
    /// the objects themselves live in the node's object store, which the caller
    /// clears next.
    fn delete_patient(&mut self, pseudonym: &Pseudonym) -> Result<Deleted, StoreError>;

    /// The image rows of these patients, ordered by pseudonym, study UID, series
    /// UID and SOP Instance UID.
    fn images_of(&self, pseudonyms: &[Pseudonym]) -> Result<Vec<ImageRow>, StoreError>;

    /// How many image rows (instances) each series has. Every UID asked for is a
    /// key of the answer (0 for a series the store does not hold).
    fn series_instance_counts(
        &self,
        series_uids: &[String],
    ) -> Result<HashMap<String, u64>, StoreError>;

    /// How many distinct series each study has among the image rows. Every UID
    /// asked for is a key of the answer (0 for a study the store does not hold).
    fn study_series_counts(
        &self,
        study_uids: &[String],
    ) -> Result<HashMap<String, u64>, StoreError>;

    /// Objects and bytes per modality, and quarantined objects per reason code.
    fn image_stats(&self) -> Result<ImageStats, StoreError>;

    /// The smears of these persons, in smear-key order.
    fn smears_of(&self, pseudonyms: &[Pseudonym]) -> Result<Vec<SmearRow>, StoreError>;

    /// Every smear of the site, in smear-key order (reports, fact recounts).
    fn all_smears(&self) -> Result<Vec<SmearRow>, StoreError>;

    /// The cells of these smears, in smear-key then cell-key order.
    fn cells_of(&self, smear_keys: &[String]) -> Result<Vec<CellRow>, StoreError>;

    /// The cells among `cell_keys` the store holds, in cell-key order.
    fn cells_by_key(&self, cell_keys: &[String]) -> Result<Vec<CellRow>, StoreError>;

    /// The labels of these cells, in cell-key, role and expert order.
    fn cell_labels_of(&self, cell_keys: &[String]) -> Result<Vec<CellLabelRow>, StoreError>;

    /// Every cell with its smear and its newest validated label (the label
    /// training and evaluation use), in smear-key then cell-key order. Before
    /// consent, which the node applies per person ([`CellListing::smear`]'s
    /// pseudonym, category pathology, the smear's date).
    fn cell_listing(&self) -> Result<Vec<CellListing>, StoreError>;

    /// Smear, cell and label counts for the quality report.
    fn cell_stats(&self) -> Result<CellStats, StoreError>;

    /// The variant calls a lookup selects (Beacon queries), in (pseudonym, call)
    /// order; the caller checks consent per person before counting any.
    fn variant_lookup(&self, lookup: &VariantLookup) -> Result<Vec<VariantRow>, StoreError>;

    /// The variant calls of these persons (analysis rows, deliveries).
    fn variants_of(&self, pseudonyms: &[Pseudonym]) -> Result<Vec<VariantRow>, StoreError>;

    /// The sequencing files of these persons (deliveries).
    fn sequence_files_of(
        &self,
        pseudonyms: &[Pseudonym],
    ) -> Result<Vec<SequenceFileRow>, StoreError>;

    /// Counts of sequencing files and calls, for reports.
    fn genomics_stats(&self) -> Result<GenomicsStats, StoreError>;

    /// Records that the federation task `task_id` (valid until `expires_at`) runs now.
    /// Returns `false` if it was seen before (a replay). Entries past their expiry
    /// are purged: an expired task is refused on its expiry anyway.
    fn remember_task(
        &mut self,
        task_id: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError>;

    /// Whether `task_id` is in the replay ledger (unexpired), without recording
    /// it: a site's run plan checks a cohort's bound site set this way, since
    /// recording a refused set would make it look bound the next time.
    fn task_remembered(&self, task_id: &str) -> Result<bool, StoreError>;

    /// The site's lifetime privacy ledger, in one transaction: the keys of
    /// `keys` not charged before would each cost `micro_epsilon` (ε in
    /// millionths); if the lifetime total plus that stays within
    /// `budget_micro_epsilon` they are recorded ([`LedgerCharge::Charged`]),
    /// otherwise nothing is ([`LedgerCharge::Refused`]). Keys charged before cost
    /// nothing ([`LedgerCharge::Repeat`] when all are). Entries are never purged.
    fn charge_releases(
        &mut self,
        keys: &[String],
        micro_epsilon: u64,
        budget_micro_epsilon: u64,
    ) -> Result<LedgerCharge, StoreError>;

    /// The lifetime privacy ledger's totals.
    fn ledger_totals(&self) -> Result<LedgerTotals, StoreError>;

    /// The Beacon risk budgets (issue 16; `oncofed_beacon::BudgetLedger` at the
    /// site): what `researcher`'s answers have cost each of `individuals` so
    /// far, in nats, in the order given (0 for one never charged). Individuals
    /// are the node's opaque keys, never pseudonyms.
    fn beacon_spent(
        &self,
        researcher: &str,
        individuals: &[String],
    ) -> Result<Vec<f64>, StoreError>;

    /// Adds each `(individual, cost)` to `researcher`'s accounts in one
    /// transaction (a cost that is not a finite number > 0 is skipped).
    /// Accounts are never purged: a budget that reset would reopen the attack.
    fn beacon_charge(
        &mut self,
        researcher: &str,
        charges: &[(String, f64)],
    ) -> Result<(), StoreError>;

    /// Row counts for reports.
    fn stats(&self) -> Result<StoreStats, StoreError>;

    /// The distinct patients matching a feasibility `criteria` tree, as (site
    /// pseudonym, research pseudonym) pairs in site-pseudonym order.
    ///
    /// The engine evaluates the tree itself (one compiled statement with every
    /// value bound, on SQLite and PostgreSQL alike), so no researcher code runs at
    /// the site. Leaf semantics are
    /// those documented on the criterion types of `oncofed-protocol`. This is before
    /// consent and disclosure control, which the node applies to the result. Callers
    /// should run `Criteria::validate` first: an unvalidated tree is still safe, but
    /// malformed codes silently match nothing and size limits are not enforced here.
    fn feasibility(&self, criteria: &Criteria) -> Result<Vec<(Pseudonym, Pseudonym)>, StoreError>;

    /// Records an ingest run for the site admin's pages ([`site_log`]); the
    /// errors are cut to [`site_log::MAX_RUN_ERRORS`] lines of at most
    /// [`site_log::MAX_ERROR_BYTES`]. Returns the run's id.
    fn record_ingest_run(&mut self, run: &IngestRunRow) -> Result<i64, StoreError>;

    /// The newest `limit` ingest runs, newest first.
    fn ingest_runs(&self, limit: usize) -> Result<Vec<IngestRunRow>, StoreError>;

    /// Records a quality report's figures (JSON, counts only) computed at `at`;
    /// returns its id. Kept for the trend over runs.
    fn record_quality_run(
        &mut self,
        at: chrono::DateTime<chrono::Utc>,
        report: &str,
    ) -> Result<i64, StoreError>;

    /// The newest `limit` quality reports, newest first.
    fn quality_runs(&self, limit: usize) -> Result<Vec<QualityRunRow>, StoreError>;

    /// The newest `limit` quarantine entries, newest first.
    fn quarantine_entries(&self, limit: usize) -> Result<Vec<QuarantineRow>, StoreError>;

    /// Records an executed withdrawal order with its receipt, or updates it
    /// when the order ran again (a lost receipt); a confirmation once recorded
    /// is kept.
    fn record_withdrawal(&mut self, row: &WithdrawalRow) -> Result<(), StoreError>;

    /// The newest `limit` executed withdrawal orders, by order id descending.
    fn withdrawals(&self, limit: usize) -> Result<Vec<WithdrawalRow>, StoreError>;
}
