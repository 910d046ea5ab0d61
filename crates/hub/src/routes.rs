//! One module per HTTP resource, each with its own router.

pub mod admin;
pub mod analyses;
pub mod applications;
pub mod audit;
pub mod beacon;
pub mod catalogue;
pub mod feasibility;
pub mod ledger;
pub mod models;
pub mod public;
pub mod site;
pub mod swarm;
pub mod swarm_runs;

use crate::{ApiError, AppState};

/// Runs blocking store or audit work off the async threads.
pub async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || f(&state))
        .await
        .map_err(ApiError::internal)?
}

/// Appends audit entries `(actor, action, subject, details)` in one transaction
/// (one sync to disk); a failure to audit fails the request.
pub fn audit_all<'a>(
    state: &AppState,
    entries: impl IntoIterator<Item = (&'a str, &'a str, &'a str, serde_json::Value)>,
) -> Result<(), ApiError> {
    state
        .inner
        .audit
        .append_all(entries)
        .map(|_| ())
        .map_err(ApiError::internal)
}

/// Appends an audit entry; a failure to audit fails the request (no unaudited access).
pub fn audit(
    state: &AppState,
    actor: &str,
    action: &str,
    subject: &str,
    details: serde_json::Value,
) -> Result<(), ApiError> {
    state
        .inner
        .audit
        .append(actor, action, subject, details)
        .map(|_| ())
        .map_err(ApiError::internal)
}
