//! The node's local HTTP API: the consent-filtered query path for the site's own
//! staff and tools. Bind it to loopback (the CLI's default); it is not the
//! federation endpoint (sites reach the hub outbound only).
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `GET /health` | — | `ok` |
//! | `POST /v1/query` | [`FactQuery`] | [`QueryAnswer`](crate::QueryAnswer) |
//!
//! Every call but `/health` needs `Authorization: Bearer <token>`.

use crate::{FactQuery, QueryError, QueryService};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::sync::Arc;

/// Shared state of the node API.
#[derive(Clone)]
pub struct ApiState {
    query: QueryService,
    token_hash: Arc<[u8; 32]>,
}

impl ApiState {
    /// State for a node API answering queries through `query`, accepting `token`.
    pub fn new(query: QueryService, token: &str) -> Self {
        Self {
            query,
            token_hash: Arc::new(Sha256::digest(token.as_bytes()).into()),
        }
    }
}

/// The node API's router.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/v1/query", post(query))
        .with_state(state)
}

/// Serves the node API on `listener` until `shutdown` completes: HTTPS with
/// `tls`, plain HTTP only on loopback unless `insecure_http` (the API answers
/// with pseudonymised research data, which must not cross a network in the clear).
pub async fn launch(
    state: ApiState,
    listener: tokio::net::TcpListener,
    tls: Option<&oncofed_tls::TlsAcceptor>,
    insecure_http: bool,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    oncofed_tls::check_bind(addr, tls.is_some(), insecure_http)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::PermissionDenied, e.to_string()))?;
    let listener = oncofed_tls::ServiceListener::new(listener, tls)?;
    let edge = oncofed_service::Edge::new("node");
    oncofed_tls::serve(listener, edge.wrap(router(state)), shutdown).await
}

/// A caller that presented the node's token.
struct Authorised;

impl FromRequestParts<ApiState> for Authorised {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorised)?;
        let hash: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        // Comparing hashes keeps the comparison's timing independent of the token.
        if hash == *state.token_hash {
            Ok(Authorised)
        } else {
            Err(ApiError::Unauthorised)
        }
    }
}

async fn query(
    _: Authorised,
    State(state): State<ApiState>,
    Json(q): Json<FactQuery>,
) -> Result<Response, ApiError> {
    let answer = state.query.facts(&q).await?;
    Ok(Json(answer).into_response())
}

/// Errors of the node API: a stable code and a generic message; details go to the log.
#[derive(Debug)]
pub enum ApiError {
    /// Missing or wrong token.
    Unauthorised,
    /// Consent cannot be checked: nothing is released.
    ConsentUnavailable,
    /// Anything else.
    Internal,
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        tracing::warn!(error = %e, "query failed");
        match e {
            QueryError::Consent(_) => Self::ConsentUnavailable,
            QueryError::Store(_) => Self::Internal,
        }
    }
}

#[derive(Serialize)]
struct ErrorBody {
    code: &'static str,
    message: &'static str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            Self::Unauthorised => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or wrong bearer token",
            ),
            Self::ConsentUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "consent_unavailable",
                "the trust centre cannot be reached, so consent cannot be checked and nothing is released",
            ),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error; see the node's log",
            ),
        };
        let mut response = (status, Json(ErrorBody { code, message })).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // The consent check may work again shortly; tell clients when to retry.
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 9, defect 6: busy answers said nothing about when to retry.
    #[test]
    fn red_team_unavailable_answers_carry_retry_after() {
        let response = ApiError::ConsentUnavailable.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers()[axum::http::header::RETRY_AFTER],
            "5",
            "a client is told when to come back"
        );
        let other = ApiError::Unauthorised.into_response();
        assert!(
            other
                .headers()
                .get(axum::http::header::RETRY_AFTER)
                .is_none()
        );
    }
}
