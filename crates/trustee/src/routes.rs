//! The HTTP resources, one module each with its own `router()`.

pub(crate) mod admin;
pub(crate) mod admissions;
pub(crate) mod audit;
pub(crate) mod consent_feed;
pub(crate) mod consents;
pub(crate) mod deletions;
pub(crate) mod domains;
pub(crate) mod health;
pub(crate) mod patients;
pub(crate) mod pprl;
pub(crate) mod pseudonyms;
pub(crate) mod recontact;
pub(crate) mod review;

use crate::error::ApiError;

/// Runs CPU-bound preparation (MACs, hashing, parsing) off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "blocking task failed");
        ApiError::Internal
    })
}
