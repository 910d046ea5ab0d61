//! `GET /health`: liveness for load balancers and the CLI; no authentication, no data.

use crate::AppState;
use axum::Router;
use axum::routing::get;

/// The health route.
pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/health", get(|| async { "ok" }))
}
