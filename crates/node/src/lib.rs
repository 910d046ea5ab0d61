//! The site node: what runs inside a hospital, lab or practice.
//!
//! A node ingests the institution's FHIR data, splits identifying from medical
//! data, has the trust centre pseudonymise the patients, and keeps only
//! pseudonyms and harmonised facts in its research store. Its local query path
//! returns only what each patient's consent permits.
//!
//! - [`ingest`]: files and folders of FHIR bundles / NDJSON → trust centre → store,
//!   atomic per bundle, idempotent, with a progress callback.
//! - [`ConsentGate`]: batched, cached, fail-closed consent checks against the trust centre.
//! - [`QueryService`]: the consent-filtered local query path (also served over HTTP by [`serve`]).
//! - [`quality`]: the data-quality report (completeness, invalid codes, implausible values).
//! - [`withdrawal`]: polls the trust centre for deletion orders (withdrawals) and erases the person.
//! - [`files`]: owner-only data; warnings about token files and data directories others can read.
//!
//! Identifying data passes through this crate in memory only, on its way from the
//! FHIR parser to the trust-centre client; the store API cannot take it.

pub mod agent;
mod consent_gate;
mod discover;
pub mod files;
pub mod ingest;
pub mod quality;
mod query;
pub mod serve;
pub mod withdrawal;

pub use consent_gate::{ConsentGate, GateError};
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
