//! The site's own operational log (issue 17, item 4): what the site admin's pages
//! at the node show. Ingest runs with their errors, each quality report, and the
//! withdrawal orders the node executed with their receipts.
//!
//! Nothing here names a person: errors name file, line, entry and field (the
//! FHIR parser's messages never quote a value), a quality report keeps counts
//! only (no example pseudonyms), and a withdrawal row keeps the trust centre's
//! order id and the receipt's counts, never the withdrawn person's pseudonym
//! (their data are gone, and so is every pointer to them).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Most error lines kept per ingest run; [`IngestRunRow::errors_total`] counts all.
pub const MAX_RUN_ERRORS: usize = 200;
/// Longest error line kept, in bytes (cut at a character boundary).
pub const MAX_ERROR_BYTES: usize = 500;

/// One ingest run as the site admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestRunRow {
    /// The store's id of the run (ignored when recording; assigned by the store).
    pub id: i64,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// When it ended (completed, interrupted or stopped).
    pub finished_at: DateTime<Utc>,
    /// What was read: `fhir`, `dicom`, `cells`, `sequencing` or a `+`-joined mix.
    pub source: String,
    /// `completed`, `interrupted` (a signal; what was counted is committed) or
    /// `stopped` (trust centre or store failed; the current chunk was not written).
    pub outcome: String,
    /// Units (bundles, batches, objects) that landed.
    pub units_accepted: u64,
    /// Units rejected.
    pub units_rejected: u64,
    /// FHIR resources read in landed units.
    pub resources: u64,
    /// Patients pseudonymised.
    pub patients: u64,
    /// Up to [`MAX_RUN_ERRORS`] error lines (file, line, entry, field, what to do).
    pub errors: Vec<String>,
    /// How many error lines the run had in all.
    pub errors_total: u64,
}

impl IngestRunRow {
    /// Cuts the error list and each line to the kept bounds (the store applies
    /// this before writing, so a run with a million bad lines stays small).
    pub fn bounded_errors(errors: &[String]) -> Vec<String> {
        errors
            .iter()
            .take(MAX_RUN_ERRORS)
            .map(|e| {
                if e.len() <= MAX_ERROR_BYTES {
                    return e.clone();
                }
                let mut end = MAX_ERROR_BYTES;
                while !e.is_char_boundary(end) {
                    end -= 1;
                }
                format!("{}…", &e[..end])
            })
            .collect()
    }
}

/// One stored quality report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualityRunRow {
    /// The store's id of the report.
    pub id: i64,
    /// When it was computed.
    pub at: DateTime<Utc>,
    /// The report's figures as JSON (the node's `quality::QualityTrendPoint`:
    /// counts and shares only).
    pub report: String,
}

/// A withdrawal order the node executed, with its receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawalRow {
    /// The trust centre's order id.
    pub order_id: i64,
    /// Why (`withdrawal`).
    pub reason: String,
    /// When the trust centre issued it.
    pub ordered_at: DateTime<Utc>,
    /// When the node executed it (the last time, if it ran again after a lost receipt).
    pub executed_at: DateTime<Utc>,
    /// Patient rows deleted.
    pub patients_deleted: u64,
    /// Fact rows deleted.
    pub facts_deleted: u64,
    /// Objects (images, cell images, sequencing files) deleted from the archive.
    pub objects_deleted: u64,
    /// Patient rows found after the deletion (must be 0).
    pub remaining: u64,
    /// The receipt's digest as sent to the trust centre.
    pub receipt_digest: String,
    /// When the trust centre accepted the receipt; `None` while unconfirmed.
    pub confirmed_at: Option<DateTime<Utc>>,
}
