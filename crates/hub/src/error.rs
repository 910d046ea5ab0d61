//! The hub's API error: a stable code and a generic message; details go to the log.
//!
//! Every refusal the hub sends, including those of its extractors (bad JSON,
//! wrong content type, body too large, unsigned site request), is this JSON
//! body, so clients parse one shape. Answers that ask the caller to come back
//! later (429, 503) carry `Retry-After` in seconds.

use axum::response::{IntoResponse, Response};

/// `Retry-After` for a rate limit whose exact end the hub does not know.
const DEFAULT_RETRY_AFTER_SECS: u64 = 60;

/// Errors the hub answers with. Messages never contain personal data or secrets.
#[derive(Debug)]
pub enum ApiError {
    /// Missing or wrong credentials.
    Unauthorized,
    /// A signed site request was refused; the message says what to fix
    /// (clock, headers, digest, replay) without saying whether the site exists.
    SiteUnauthorized(&'static str),
    /// Authenticated, but the role does not allow this.
    Forbidden,
    /// No such resource.
    NotFound,
    /// Refused by a project rule, a disclosure rule or the privacy budget; the message names the rule.
    Refused(String),
    /// The request is malformed; the message says what to fix.
    Invalid(String),
    /// The body is larger than this route accepts; the message gives the limit.
    PayloadTooLarge(String),
    /// The body is not declared as JSON.
    UnsupportedMediaType,
    /// Rate limit or quota reached; retry later (`Retry-After: 60`).
    TooManyRequests(String),
    /// A per-user rate limit or quota refused the request; `Retry-After` says
    /// when the same request would be accepted.
    RateLimited(oncofed_privacy::Refusal),
    /// The hub is at a capacity limit (bodies in flight, replay memory); the
    /// caller should retry after `retry_after_secs`.
    Busy {
        /// What is at capacity.
        message: String,
        /// Seconds until a retry may succeed.
        retry_after_secs: u64,
    },
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

impl ApiError {
    /// The message a person may read for a refusal they can act on (a rule,
    /// a malformed input, a limit); `None` for credential and internal errors.
    pub fn client_message(&self) -> Option<String> {
        match self {
            Self::Refused(m) | Self::Invalid(m) | Self::PayloadTooLarge(m) => Some(m.clone()),
            Self::TooManyRequests(m) => Some(m.clone()),
            Self::RateLimited(refusal) => Some(refusal.to_string()),
            Self::Busy { message, .. } => Some(message.clone()),
            Self::UnsupportedMediaType
            | Self::Unauthorized
            | Self::SiteUnauthorized(_)
            | Self::Forbidden
            | Self::NotFound
            | Self::Internal => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        use oncofed_service::Failure;
        let mut retry_after = None;
        let (failure, code, message) = match self {
            Self::Unauthorized => (
                Failure::Unauthorized,
                "unauthorized",
                "missing or invalid credentials".to_owned(),
            ),
            Self::SiteUnauthorized(why) => (
                Failure::Unauthorized,
                "unauthorized",
                format!("signed site request refused: {why}"),
            ),
            Self::Forbidden => (
                Failure::Forbidden,
                "forbidden",
                "your role does not allow this".to_owned(),
            ),
            Self::NotFound => (
                Failure::NotFound,
                "not_found",
                "no such resource".to_owned(),
            ),
            Self::Invalid(m) => (Failure::Invalid, "invalid_request", m),
            Self::PayloadTooLarge(m) => (Failure::TooLarge, "payload_too_large", m),
            Self::UnsupportedMediaType => (
                Failure::UnsupportedMediaType,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`".to_owned(),
            ),
            Self::Refused(m) => (Failure::Forbidden, "refused", m),
            Self::TooManyRequests(m) => {
                retry_after = Some(DEFAULT_RETRY_AFTER_SECS);
                (Failure::TooMany, "rate_limited", m)
            }
            Self::RateLimited(refusal) => {
                let secs = (refusal.retry_at - chrono::Utc::now()).num_milliseconds();
                retry_after = Some((secs.max(0) as u64).div_ceil(1000).max(1));
                (Failure::TooMany, "rate_limited", refusal.to_string())
            }
            Self::Busy {
                message,
                retry_after_secs,
            } => {
                retry_after = Some(retry_after_secs.max(1));
                (Failure::Unavailable, "busy", message)
            }
            Self::Internal => (
                Failure::Internal,
                "internal",
                "internal error; see the hub's log".to_owned(),
            ),
        };
        oncofed_service::error_response(failure, code, &message, retry_after)
    }
}
