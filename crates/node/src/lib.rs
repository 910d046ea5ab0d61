//! The site node: what runs inside a hospital, lab or practice.
//!
//! A node ingests the institution's FHIR data, splits identifying from medical
//! data, has the trust centre pseudonymise the patients, and keeps only
//! pseudonyms and harmonised facts in its research store. Its local query path
//! returns only what each patient's consent permits.
//!
//! - [`ingest`]: files and folders of FHIR bundles / NDJSON → trust centre → store,
//!   atomic per bundle, idempotent, with a progress callback.
//! - [`ConsentGate`]: consent answered locally from a snapshot the trust centre's
//!   signed, versioned consent feed keeps fresh (polled outbound); fails closed
//!   when the snapshot is older than its bound.
//! - [`QueryService`]: the consent-filtered local query path (also served over HTTP by [`serve`]).
//! - [`quality`]: the data-quality report (completeness, invalid codes, implausible values).
//! - [`withdrawal`]: polls the trust centre: syncs the consent snapshot, then executes deletion
//!   orders (withdrawals) by erasing the person.
//! - [`imaging`]: DICOM objects from folders or the C-STORE SCP → trust centre →
//!   PS3.15 de-identification → content-addressed archive, image rows and imaging
//!   facts; quarantine with reasons; project deliveries ([`imaging::deliver`]).
//! - [`admin_pages`]: the site admin's pages (ingest runs, quality trends, quarantine,
//!   withdrawals), over the site log ([`site_log`]) in the research store.
//! - [`files`]: owner-only data; warnings about token files and data directories others can read.
//!
//! Identifying data passes through this crate in memory only, on its way from the
//! FHIR parser to the trust-centre client; the store API cannot take it.

pub mod admin_pages;
pub mod agent;
mod batch_csv;
pub mod cells;
mod consent_gate;
mod discover;
pub mod files;
pub mod genomics;
pub mod htsget;
pub mod imaging;
pub mod ingest;
mod persons;
pub mod quality;
mod query;
pub mod serve;
pub mod site_log;
pub mod withdrawal;

pub use consent_gate::{ConsentGate, DEFAULT_MAX_STALENESS, GateError, SnapshotStatus, SyncError};
pub use ingest::{IngestError, IngestOptions, IngestReport, ingest};
pub use oncofed_store::FactFilter;
pub use query::{FactQuery, QueryAnswer, QueryError, QueryService};

use oncofed_store::{ResearchStore, SqliteStore, StoreError};
use std::sync::{Arc, Mutex};

/// A research store shared between the ingest path, the query path and the HTTP
/// server. Calls run on blocking threads; the mutex serialises writers.
pub type SharedStore = Arc<Mutex<Box<dyn ResearchStore>>>;

/// Opens the node's embedded SQLite store in `data_dir` as a [`SharedStore`]. The
/// store creates a missing directory 0700 and keeps its files 0600; an existing
/// directory that group or others can reach is warned about ([`files`]).
pub fn open_store(data_dir: &std::path::Path) -> Result<SharedStore, StoreError> {
    let store = SqliteStore::open_in(data_dir)?;
    files::warn_if_loose_data_dir(data_dir);
    Ok(Arc::new(Mutex::new(Box::new(store))))
}

/// Opens the node's research store in the PostgreSQL database at `url`
/// (migrating it), for a site whose store outgrows one file. The server must be
/// reached over loopback or a Unix socket (no TLS to PostgreSQL yet). Blocking:
/// call it from a blocking thread ([`open_store_at`] does).
pub fn open_postgres_store(url: &str) -> Result<SharedStore, StoreError> {
    let store = oncofed_store::PostgresStore::connect(url)?;
    Ok(Arc::new(Mutex::new(Box::new(store))))
}

/// Where a node keeps its research store.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// The embedded SQLite file in the node's data directory (the default).
    Embedded(std::path::PathBuf),
    /// A PostgreSQL database, by URL.
    Postgres(String),
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Embedded(dir) => f.debug_tuple("Embedded").field(dir).finish(),
            // A URL may hold a password.
            Self::Postgres(_) => f.write_str("Postgres(<url>)"),
        }
    }
}

/// Opens the store at `location` on a blocking thread (PostgreSQL's client must
/// not run on the async workers).
pub async fn open_store_at(location: &StoreLocation) -> Result<SharedStore, StoreError> {
    let location = location.clone();
    tokio::task::spawn_blocking(move || match &location {
        StoreLocation::Embedded(dir) => open_store(dir),
        StoreLocation::Postgres(url) => open_postgres_store(url),
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// Creates the PostgreSQL database `url` names if the server lacks it (one
/// database per site on a shared server); returns whether it was created.
pub async fn create_postgres_database(url: &str) -> Result<bool, StoreError> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        oncofed_store::PostgresStore::create_database_if_missing(&url)
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// Runs `f` with the store on a blocking thread.
pub(crate) async fn with_store<T: Send + 'static>(
    store: &SharedStore,
    f: impl FnOnce(&mut dyn ResearchStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(guard.as_mut())
    })
    .await
    .expect("store task panicked")
}

/// The research pseudonyms of every patient in the store: what a site would
/// contribute to a de-duplicated cross-site count.
pub async fn research_pseudonyms(
    store: &SharedStore,
) -> Result<std::collections::HashSet<oncofed_model::Pseudonym>, StoreError> {
    with_store(store, |s| {
        let mut out = std::collections::HashSet::new();
        s.for_each_patient(&mut |p| {
            out.insert(p.research_pseudonym);
        })?;
        Ok(out)
    })
    .await
}
