//! The node's local HTTP API: the consent-filtered query path for the site's own
//! staff and tools. Bind it to loopback (the CLI's default); it is not the
//! federation endpoint (sites reach the hub outbound only).
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `GET /health` | — | `ok` |
//! | `POST /v1/query` | [`FactQuery`] | [`QueryAnswer`](crate::QueryAnswer) |
//! | `GET /htsget/variants/{id}` | — | an htsget ticket ([`crate::htsget`]), when grants are served |
//! | `GET /admin/…` | — | the site admin's pages ([`crate::admin_pages`]), when enabled |
//!
//! Every call but `/health` needs `Authorization: Bearer <token>`: the node's
//! token for `/v1/query`, a project researcher's token of a grant for htsget.

use crate::{FactQuery, QueryError, QueryService};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::future::Future;
use std::sync::Arc;

/// Shared state of the node API.
#[derive(Clone)]
pub struct ApiState {
    query: QueryService,
    token_hash: Arc<[u8; 32]>,
    htsget: Option<crate::htsget::HtsgetState>,
    admin: Option<crate::admin_pages::AdminPages>,
}

impl ApiState {
    /// State for a node API answering queries through `query`, accepting `token`.
    pub fn new(query: QueryService, token: &str) -> Self {
        Self {
            query,
            token_hash: Arc::new(oncofed_service::tokens::TokenDigest::of(token).bytes()),
            htsget: None,
            admin: None,
        }
    }

    /// Also serves the site admin's pages ([`crate::admin_pages`]) under `/admin`.
    pub fn with_admin_pages(mut self, pages: crate::admin_pages::AdminPages) -> Self {
        self.admin = Some(pages);
        self
    }

    /// Also serves the htsget endpoint for the projects of `htsget`'s grants.
    pub fn with_htsget(mut self, htsget: crate::htsget::HtsgetState) -> Self {
        self.htsget = Some(htsget);
        self
    }
}

/// The node API's router.
pub fn router(state: ApiState) -> Router {
    let htsget = state.htsget.clone();
    let admin = state.admin.clone();
    let api = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/v1/query", post(query))
        .with_state(state);
    let api = match htsget {
        Some(h) => api.merge(crate::htsget::router(h)),
        None => api,
    };
    match admin {
        Some(pages) => api.merge(crate::admin_pages::router(pages)),
        None => api,
    }
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
    consent_metrics(&edge, state.query.gate());
    oncofed_tls::serve(listener, edge.wrap(router(state)), shutdown).await
}

/// The consent snapshot on `/metrics`: its version and age, questions it
/// answered and questions refused because it was too old, feed pages refused.
fn consent_metrics(edge: &oncofed_service::Edge, gate: Arc<crate::ConsentGate>) {
    let version = edge.gauge(
        "consent_snapshot_version",
        "Consent feed version the node's snapshot holds (0: never synced)",
    );
    let age = edge.gauge(
        "consent_snapshot_age_seconds",
        "Seconds since the consent snapshot last reached the feed's head (-1: never)",
    );
    let answered = edge.counter(
        "consent_questions_answered_locally",
        "Consent questions answered from the node's snapshot",
    );
    let refused = edge.counter(
        "consent_questions_refused_stale",
        "Consent questions refused because the snapshot was too old (fail closed)",
    );
    let pages_refused = edge.counter(
        "consent_feed_pages_refused",
        "Consent feed pages refused: bad signature, replay, rollback or gap",
    );
    let seen = std::sync::Mutex::new((0u64, 0u64, 0u64));
    edge.on_scrape(move || {
        let status = gate.status();
        let (now_answered, now_refused) = gate.question_counts();
        version.set(i64::try_from(status.version).unwrap_or(i64::MAX));
        age.set(status.age.map_or(-1, |a| a.as_secs() as i64));
        let mut last = seen.lock().unwrap_or_else(|p| p.into_inner());
        answered.inc_by(now_answered.saturating_sub(last.0));
        refused.inc_by(now_refused.saturating_sub(last.1));
        pages_refused.inc_by(status.pages_refused.saturating_sub(last.2));
        *last = (now_answered, now_refused, status.pages_refused);
    });
}

/// A caller that presented the node's token.
struct Authorised;

impl FromRequestParts<ApiState> for Authorised {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        use oncofed_service::tokens::{TokenDigest, bearer_token};
        let presented = bearer_token(&parts.headers).ok_or(ApiError::Unauthorized)?;
        // Digests compared in constant time: the timing tells nothing about the token.
        if TokenDigest::of(presented).matches(&TokenDigest::from_bytes(*state.token_hash)) {
            Ok(Authorised)
        } else {
            Err(ApiError::Unauthorized)
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
    Unauthorized,
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        use oncofed_service::{Failure, error_response};
        match self {
            Self::Unauthorized => error_response(
                Failure::Unauthorized,
                "unauthorized",
                "missing or wrong bearer token",
                None,
            ),
            // The consent check may work again shortly: tell clients when to retry.
            Self::ConsentUnavailable => error_response(
                Failure::Unavailable,
                "consent_unavailable",
                "the consent snapshot is too old and cannot be renewed from the trust centre, so nothing is released",
                Some(5),
            ),
            Self::Internal => error_response(
                Failure::Internal,
                "internal",
                "internal error; see the node's log",
                None,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 9, defect 6: busy answers said nothing about when to retry.
    #[test]
    fn red_team_unavailable_answers_carry_retry_after() {
        let response = ApiError::ConsentUnavailable.into_response();
        assert_eq!(
            response.status(),
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            response.headers()[axum::http::header::RETRY_AFTER],
            "5",
            "a client is told when to come back"
        );
        let other = ApiError::Unauthorized.into_response();
        assert!(
            other
                .headers()
                .get(axum::http::header::RETRY_AFTER)
                .is_none()
        );
    }
}
