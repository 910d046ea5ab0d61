//! The site's operational log (issue 17, item 4): what the node records for its
//! site admin's pages ([`crate::admin_pages`]) in the research store
//! ([`oncofed_store::site_log`]): every ingest run with its errors, every quality
//! report's figures (for trends), every executed withdrawal order with its
//! receipt.
//!
//! Recording never fails the work it describes: a store that cannot take the
//! log line is warned about, and the ingest or withdrawal keeps its outcome.

use crate::ingest::{IngestError, IngestReport};
use crate::{SharedStore, with_store};
use chrono::{DateTime, Utc};
pub use oncofed_store::{IngestRunRow, WithdrawalRow};

/// The run's row: its counts and error lines, or the kind of failure that
/// stopped it. A failure is named by its kind only (`trust centre`, `store`,
/// `input`): a trust centre's refusal may quote a request, and the page must
/// not show personal data.
pub fn ingest_row(
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
    source: &str,
    outcome: &Result<IngestReport, IngestError>,
) -> IngestRunRow {
    match outcome {
        Ok(report) => IngestRunRow {
            id: 0,
            started_at,
            finished_at,
            source: source.to_owned(),
            outcome: if report.interrupted {
                "interrupted"
            } else {
                "completed"
            }
            .into(),
            units_accepted: report.units_ok as u64,
            units_rejected: report.units_failed as u64,
            resources: report.resources as u64,
            patients: report.patients as u64,
            errors_total: report.errors.len() as u64,
            errors: report.errors.clone(),
        },
        Err(e) => {
            let reason = match e {
                IngestError::Discover(_) => {
                    "the input could not be listed; check the paths given to the ingest"
                }
                IngestError::Trustee(_) => {
                    "the trust centre failed; nothing of the current chunk was written; run the same ingest again"
                }
                IngestError::Store(_) => {
                    "the research store failed; the current chunk was rolled back; see the node's log"
                }
            };
            IngestRunRow {
                id: 0,
                started_at,
                finished_at,
                source: source.to_owned(),
                outcome: "stopped".into(),
                units_accepted: 0,
                units_rejected: 0,
                resources: 0,
                patients: 0,
                errors: vec![reason.to_owned()],
                errors_total: 1,
            }
        }
    }
}

/// Records an ingest run that started at `started_at` and ends now.
pub async fn record_ingest(
    store: &SharedStore,
    started_at: DateTime<Utc>,
    source: &str,
    outcome: &Result<IngestReport, IngestError>,
) {
    record_row(store, ingest_row(started_at, Utc::now(), source, outcome)).await;
}

/// Records an already built ingest-run row (the CLI's DICOM, cell and
/// sequencing parts of a run).
pub async fn record_row(store: &SharedStore, row: IngestRunRow) {
    if let Err(e) = with_store(store, move |s| s.record_ingest_run(&row)).await {
        tracing::warn!(error = %e, "could not record the ingest run in the site log");
    }
}

/// Records an executed withdrawal order with its receipt (before the receipt
/// is confirmed: `confirmed` says whether the trust centre took it).
pub async fn record_withdrawal(store: &SharedStore, row: WithdrawalRow) {
    if let Err(e) = with_store(store, move |s| s.record_withdrawal(&row)).await {
        tracing::warn!(error = %e, "could not record the withdrawal in the site log");
    }
}
