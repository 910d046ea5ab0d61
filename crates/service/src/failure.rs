//! One mapping from what went wrong to an HTTP status and the error body, for
//! every service: a bad request is 400 everywhere, a missing or wrong credential
//! 401 with `WWW-Authenticate: Bearer`, and answers that ask the caller to come
//! back later carry `Retry-After`. Each service keeps its own error enum (its
//! codes and messages); only this part is shared.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// What kind of failure a service answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The request is malformed or does not validate (400).
    Invalid,
    /// Missing or wrong credentials (401).
    Unauthorized,
    /// Authenticated, but not allowed, or refused by a rule (403).
    Forbidden,
    /// No such resource or endpoint (404).
    NotFound,
    /// Well-formed but refers to something the service cannot use, item by item (422).
    Unprocessable,
    /// The body is larger than the endpoint accepts (413).
    TooLarge,
    /// The body is not JSON (415).
    UnsupportedMediaType,
    /// A rate limit or quota (429).
    TooMany,
    /// The service is at capacity or a dependency is down (503).
    Unavailable,
    /// Something failed inside the service (500); details only in its log.
    Internal,
}

impl Failure {
    /// The HTTP status of this kind.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Invalid => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooMany => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(serde::Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
}

/// The error response: the status of `failure`, the JSON body `{code, message}`
/// (the edge adds `request_id`), `WWW-Authenticate: Bearer` on 401 and
/// `Retry-After` when given.
pub fn error_response(
    failure: Failure,
    code: &str,
    message: &str,
    retry_after_secs: Option<u64>,
) -> Response {
    let mut response = (failure.status(), Json(Body { code, message })).into_response();
    if failure == Failure::Unauthorized {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if let Some(secs) = retry_after_secs {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    }
    response
}
