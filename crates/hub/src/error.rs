//! The hub's API error: a stable code and a generic message; details go to the log.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oncofed_protocol::api::ApiErrorBody;

/// Errors the hub answers with. Messages never contain personal data or secrets.
#[derive(Debug)]
pub enum ApiError {
    /// Missing or wrong credentials.
    Unauthorized,
    /// Authenticated, but the role does not allow this.
    Forbidden,
    /// No such resource.
    NotFound,
    /// Refused by a project rule, a disclosure rule or the privacy budget; the message names the rule.
    Refused(String),
    /// The request is malformed; the message says what to fix.
    Invalid(String),
    /// Rate limit or quota reached; retry later.
    TooManyRequests(String),
    /// Something failed inside the hub.
    Internal,
}

impl ApiError {
    /// Logs an internal failure and hides it from the caller.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::Internal
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or invalid credentials".to_owned(),
            ),
            Self::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "your role does not allow this".to_owned(),
            ),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "no such resource".to_owned(),
            ),
            Self::Invalid(m) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", m),
            Self::Refused(m) => (StatusCode::FORBIDDEN, "refused", m),
            Self::TooManyRequests(m) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited", m),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error; see the hub's log".to_owned(),
            ),
        };
        (
            status,
            Json(ApiErrorBody {
                code: code.to_owned(),
                message,
            }),
        )
            .into_response()
    }
}
