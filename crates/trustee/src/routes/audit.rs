//! The trust centre's audit trail: `GET /v1/admin/audit/export` (admin token) returns
//! it as JSON Lines (entries and signed checkpoints), verifiable offline with
//! `oncofed audit verify` against the key in `DATA_DIR/audit.key`'s public half,
//! which `GET /v1/admin/audit/key` returns.
//!
//! Other routes record through [`record`]; details never carry IDAT, only
//! pseudonyms, ids and decisions.

use crate::AppState;
use crate::auth::AdminCaller;
use crate::error::ApiError;
use crate::routes::blocking;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

/// The audit routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/audit/export", get(export))
        .route("/v1/admin/audit/key", get(key))
}

/// Appends one entry to the trust centre's audit trail. Blocking (SQLite with
/// `synchronous = FULL`): call it inside [`blocking`]. A failure to audit fails
/// the request: nothing the trust centre decides may go unrecorded.
pub(crate) fn record(
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
        .map_err(|e| {
            tracing::error!(error = %e, action, "audit append failed");
            ApiError::Internal
        })
}

/// [`record`], and indexes the entry under each of `persons` for their page in
/// the patients' portal (`db::patients::index_event`), so a person reads what
/// the trust centre did about them from the audit trail itself. Async: it runs
/// the append on the blocking pool.
pub(crate) async fn record_about(
    state: &AppState,
    persons: Vec<i64>,
    actor: &str,
    action: &str,
    subject: &str,
    details: serde_json::Value,
) -> Result<u64, ApiError> {
    let (st, actor, action_owned, subject) = (
        state.clone(),
        actor.to_owned(),
        action.to_owned(),
        subject.to_owned(),
    );
    let seq = blocking(move || {
        st.inner
            .audit
            .append(&actor, &action_owned, &subject, details)
            .map(|e| e.seq)
            .map_err(|e| {
                tracing::error!(error = %e, action = %action_owned, "audit append failed");
                ApiError::Internal
            })
    })
    .await??;
    if !persons.is_empty() {
        let action = action.to_owned();
        let now = crate::db::now();
        state
            .inner
            .db
            .write(move |conn| crate::db::patients::index_event(conn, &persons, seq, &action, now))
            .await?;
    }
    Ok(seq)
}

async fn export(State(state): State<AppState>, _admin: AdminCaller) -> Result<String, ApiError> {
    blocking(move || {
        record(
            &state,
            "admin",
            "audit.exported",
            "audit",
            serde_json::json!({}),
        )?;
        let audit = &state.inner.audit;
        audit.checkpoint().map_err(|_| ApiError::Internal)?;
        let mut out = Vec::new();
        audit.export(&mut out).map_err(|_| ApiError::Internal)?;
        String::from_utf8(out).map_err(|_| ApiError::Internal)
    })
    .await?
}

async fn key(
    State(state): State<AppState>,
    _admin: AdminCaller,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(serde_json::json!({
        "public_key": state.inner.audit.public_key().to_string()
    })))
}
