//! The audit trail for auditors.

use crate::auth::AsAuditor;
use crate::{ApiError, AppState};
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// `GET /v1/audit/export`: the whole trail as JSON Lines (entries and signed checkpoints).
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/audit/export", get(export))
}

async fn export(
    AsAuditor(user): AsAuditor,
    State(state): State<AppState>,
) -> Result<impl IntoResponse, ApiError> {
    let text = super::blocking(&state, move |s| {
        super::audit(
            s,
            &user.id,
            "audit.exported",
            "audit",
            serde_json::json!({}),
        )?;
        s.inner.audit.checkpoint().map_err(ApiError::internal)?;
        let mut out = Vec::new();
        s.inner.audit.export(&mut out).map_err(ApiError::internal)?;
        Ok(out)
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], text))
}
