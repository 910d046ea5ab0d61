//! Unauthenticated endpoints: health and the hub's public key.

use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

/// `GET /health`, `GET /v1/hub/key`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/v1/hub/key", get(key))
}

async fn key(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "public_key": state.public_key() }))
}
