//! The one error type every endpoint returns: a stable code and a generic message
//! for the caller ([`ApiErrorBody`]), the detail for the log.
//!
//! Invariant: no message carries a value from the request. Field paths come from
//! our own schema (`items[3].idat.birth_date`); values, names, local ids and
//! tokens are never echoed, because the trust centre's inputs are identifying data.

use crate::db::StoreError;
use axum::response::{IntoResponse, Response};
use oncofed_service::Failure;
use oncofed_trustee_api::MAX_BATCH;
use std::fmt;

/// Why a request failed, as the caller sees it.
#[derive(Debug)]
pub enum ApiError {
    /// Missing or unknown bearer token (`401 unauthorized`).
    Unauthorized,
    /// More than [`MAX_BATCH`] items (`413 batch_too_large`).
    BatchTooLarge,
    /// The body exceeds the endpoint's size limit (`413 batch_too_large`).
    BodyTooLarge,
    /// The body does not match the schema (`400 invalid_request`); the message is
    /// built from a field path and a fixed description only.
    InvalidRequest(String),
    /// A batch item names a local id the site never registered (`422 unknown_local_id`).
    UnknownLocalId {
        /// Position of the first such item.
        index: usize,
    },
    /// An admin request names a pseudonym the trust centre does not know (`404 unknown_pseudonym`).
    UnknownPseudonym,
    /// No such endpoint (`404 not_found`).
    NotFound,
    /// Anything else; the detail is logged, not returned (`500 internal`).
    Internal,
}

impl ApiError {
    /// An `invalid_request` naming the element (a path in our schema) and what is wrong.
    pub(crate) fn invalid(field: impl fmt::Display, problem: &str) -> Self {
        Self::InvalidRequest(format!("{field}: {problem}"))
    }

    fn parts(&self) -> (oncofed_service::Failure, &'static str, String) {
        match self {
            Self::Unauthorized => (
                Failure::Unauthorized,
                "unauthorized",
                "missing or unknown bearer token".into(),
            ),
            Self::BatchTooLarge => (
                Failure::TooLarge,
                "batch_too_large",
                format!("a batch holds at most {MAX_BATCH} items; split it"),
            ),
            Self::BodyTooLarge => (
                Failure::TooLarge,
                "batch_too_large",
                "request body too large for this endpoint; send smaller batches".into(),
            ),
            Self::InvalidRequest(m) => (Failure::Invalid, "invalid_request", m.clone()),
            Self::UnknownLocalId { index } => (
                Failure::Unprocessable,
                "unknown_local_id",
                format!("items[{index}]: local id not registered; pseudonymise the patient first"),
            ),
            Self::UnknownPseudonym => (
                Failure::NotFound,
                "unknown_pseudonym",
                "pseudonym not known to the trust centre".into(),
            ),
            Self::NotFound => (Failure::NotFound, "not_found", "no such endpoint".into()),
            Self::Internal => (
                Failure::Internal,
                "internal",
                "internal error; see the trust centre's log".into(),
            ),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (failure, code, message) = self.parts();
        write!(f, "{code} ({}): {message}", failure.status())
    }
}

impl std::error::Error for ApiError {}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UnknownLocalId { index } => Self::UnknownLocalId { index },
            StoreError::UnknownPseudonym => Self::UnknownPseudonym,
            other => {
                // StoreError messages hold SQL and our own texts, never request values.
                tracing::error!(error = %other, "store operation failed");
                Self::Internal
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (failure, code, message) = self.parts();
        oncofed_service::error_response(failure, code, &message, None)
    }
}

/// Refuses batches larger than [`MAX_BATCH`].
pub(crate) fn check_batch(len: usize) -> Result<(), ApiError> {
    if len > MAX_BATCH {
        Err(ApiError::BatchTooLarge)
    } else {
        Ok(())
    }
}
