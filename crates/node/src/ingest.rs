//! Ingest: FHIR files → mapping → trust centre → research store.
//!
//! The pipeline has two stages so that both cores work: a blocking reader thread
//! reads and maps files into units ([`crate::discover`]), and the async stage
//! pseudonymises a chunk of units through the trust centre and writes it to the
//! store in one transaction.
//!
//! Guarantees:
//! - **Atomic per unit.** A unit (a bundle, or a bulk export folder) with any
//!   error lands nothing; its error names the file, line, entry and field. Valid
//!   units in the same run still land. With [`IngestOptions::all_or_nothing`] any
//!   error anywhere lands nothing at all.
//! - **Nothing is lost.** A failing trust centre or store stops the run with an
//!   error before the current chunk is written; what was committed before is
//!   complete, and running the same ingest again finishes the job.
//! - **Idempotent.** Facts are keyed by pseudonym and source id ([`oncofed_store::FactKey`]),
//!   and the trust centre maps a (site, local id) pair to the same pseudonyms every time.
//! - **Bounded memory per unit.** An NDJSON line longer than
//!   [`IngestOptions::max_line_bytes`] is skipped unread and rejected; a `.json`
//!   file over [`IngestOptions::max_document_bytes`] is rejected unread. A line
//!   that is not UTF-8 is rejected alone.
//! - **IDAT is transient.** Identifying data moves from the mapper into the
//!   pseudonymisation request and is dropped; the store API cannot take it.

mod chunk;
mod consents;
pub(crate) mod lines;
mod reader;

pub use lines::DEFAULT_MAX_LINE_BYTES;

use crate::SharedStore;
use crate::discover::DiscoverError;
use oncofed_store::{StoreError, WriteBatch, WriteOutcome};
use oncofed_trustee_api::{TrusteeClient, TrusteeError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

/// How an ingest run behaves.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Land nothing if any unit fails (the default lands every valid unit).
    pub all_or_nothing: bool,
    /// Resources per chunk: one trust-centre round and one store transaction each.
    pub chunk_resources: usize,
    /// Longest NDJSON line read, in bytes (default [`DEFAULT_MAX_LINE_BYTES`]). A
    /// longer line is skipped without being held in memory and rejected as its unit.
    pub max_line_bytes: usize,
    /// Largest `.json` file read, in bytes (default [`DEFAULT_MAX_DOCUMENT_BYTES`]);
    /// such a file is read whole, so a larger one is rejected unread.
    pub max_document_bytes: u64,
    /// Set (e.g. by a SIGTERM handler) to stop the run cleanly: the chunk under
    /// way is finished and committed, no further unit is read, and the report
    /// says [`IngestReport::interrupted`]. Running the same ingest again finishes
    /// the job (ingest is idempotent). With `all_or_nothing`, nothing is written.
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// Default cap on one `.json` document: 256 MiB. A document is read whole and
/// mapped in memory (about three times its size at peak); larger exports belong in
/// NDJSON, one Bundle per line.
pub const DEFAULT_MAX_DOCUMENT_BYTES: u64 = 256 * 1024 * 1024;

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            all_or_nothing: false,
            chunk_resources: 20_000,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_document_bytes: DEFAULT_MAX_DOCUMENT_BYTES,
            stop: None,
        }
    }
}

/// What an ingest run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    /// Input files read.
    pub files: usize,
    /// Units (bundles, bulk folders) that landed.
    pub units_ok: usize,
    /// Units rejected; see `errors`.
    pub units_failed: usize,
    /// FHIR resources read in landed units.
    pub resources: usize,
    /// Resources of types that are valid FHIR but not mapped (by type).
    pub not_mapped: BTreeMap<String, usize>,
    /// Patients pseudonymised.
    pub patients: usize,
    /// Consent resources registered at the trust centre.
    pub consents: usize,
    /// What the store writes changed.
    pub written: WriteOutcome,
    /// One line per rejected unit: file, line, entry, field, and what to do.
    pub errors: Vec<String>,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Resources per second over the whole run.
    pub resources_per_second: f64,
    /// The run was stopped ([`IngestOptions::stop`]) before all input was read;
    /// everything counted here is committed, the rest was not read.
    pub interrupted: bool,
    /// What the DICOM part of the run did, when the input held DICOM files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imaging: Option<crate::imaging::ImagingReport>,
    /// What each cell batch of the run did (one report per landed batch; a
    /// batch that failed is in `errors` and `units_failed`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cells: Vec<crate::cells::CellReport>,
    /// What each sequencing batch of the run did (one report per landed batch;
    /// a batch that failed is in `errors` and `units_failed`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sequencing: Vec<crate::genomics::GenomicsReport>,
}

/// Why an ingest run stopped. Units that were rejected are not errors of the run;
/// they are listed in [`IngestReport::errors`].
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The input could not be listed.
    #[error(transparent)]
    Discover(#[from] DiscoverError),
    /// The trust centre failed; nothing of the current chunk was written.
    #[error("ingest stopped, nothing of the current chunk was written: {0}")]
    Trustee(#[from] TrusteeError),
    /// The store failed; the current chunk's transaction was rolled back.
    #[error("ingest stopped, the current chunk was rolled back: {0}")]
    Store(#[from] StoreError),
}

/// Ingests `paths` (files or folders of `.json` / `.ndjson`) into `store`,
/// pseudonymising through `trustee`. `progress(done, total)` is called in bytes.
///
/// Every run is recorded in the store's site log for the site admin's pages
/// ([`crate::site_log::record_ingest`]): its counts and error lines, or, when
/// it stopped, the kind of failure (never the failure's text, which may quote
/// the trust centre).
pub async fn ingest(
    store: &SharedStore,
    trustee: &TrusteeClient,
    paths: &[PathBuf],
    options: &IngestOptions,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> Result<IngestReport, IngestError> {
    let started_at = chrono::Utc::now();
    let outcome = run(store, trustee, paths, options, progress).await;
    crate::site_log::record_ingest(store, started_at, "fhir", &outcome).await;
    outcome
}

async fn run(
    store: &SharedStore,
    trustee: &TrusteeClient,
    paths: &[PathBuf],
    options: &IngestOptions,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> Result<IngestReport, IngestError> {
    let started = Instant::now();
    let inputs = crate::discover::discover(paths, options.max_line_bytes)?;
    let limits = reader::Limits {
        max_line: options.max_line_bytes,
        max_document: options.max_document_bytes,
    };
    let mut report = IngestReport {
        files: inputs.iter().map(|i| i.paths().len()).sum(),
        ..Default::default()
    };
    let total_bytes = reader::total_bytes(&inputs);

    if options.all_or_nothing {
        // First pass: map everything without writing; any error ends the run here.
        let mut rx = reader::spawn(inputs.clone(), options.chunk_resources, limits);
        while let Some(units) = rx.recv().await {
            for u in units {
                if let Err(e) = u.batch {
                    report.units_failed += 1;
                    report.errors.push(e);
                }
            }
        }
        if report.units_failed > 0 {
            report.seconds = started.elapsed().as_secs_f64();
            return Ok(report);
        }
    }

    let stopped = || {
        options
            .stop
            .as_ref()
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed))
    };
    let mut pending = WriteBatch::default();
    let mut done_bytes = 0;
    let mut rx = reader::spawn(inputs, options.chunk_resources, limits);
    while let Some(units) = rx.recv().await {
        if stopped() {
            // Dropping the receiver ends the reader thread at its next send.
            report.interrupted = true;
            break;
        }
        done_bytes += units.iter().map(|u| u.bytes).sum::<u64>();
        let batch = chunk::process(store, trustee, units, &mut report).await?;
        if options.all_or_nothing {
            pending.patients.extend(batch.patients);
            pending.facts.extend(batch.facts);
        } else {
            let written = std::time::Instant::now();
            let outcome = crate::with_store(store, move |s| s.write(&batch)).await?;
            tracing::debug!(
                write_ms = written.elapsed().as_millis() as u64,
                "chunk written"
            );
            add_outcome(&mut report.written, outcome);
        }
        progress(done_bytes, total_bytes);
    }
    if options.all_or_nothing {
        if report.units_failed > 0 {
            report
                .errors
                .push("nothing was written because --all-or-nothing is set".into());
        } else if report.interrupted {
            report.errors.push(
                "nothing was written: the run was stopped and --all-or-nothing is set".into(),
            );
        } else {
            let outcome = crate::with_store(store, move |s| s.write(&pending)).await?;
            add_outcome(&mut report.written, outcome);
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    report.resources_per_second = report.resources as f64 / report.seconds.max(1e-9);
    Ok(report)
}

fn add_outcome(total: &mut WriteOutcome, o: WriteOutcome) {
    total.patients_new += o.patients_new;
    total.facts_new += o.facts_new;
    total.facts_existing += o.facts_existing;
}
