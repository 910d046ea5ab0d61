//! Query-string and path extractors whose rejections are the hub's JSON error
//! body, like [`ApiJson`](crate::json::ApiJson) for bodies: axum's own answer
//! plain text (`?wait=soon` would get `400 Failed to deserialize query string`).

use crate::ApiError;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A query string deserialised as `T`; a malformed one is refused with 400.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(t)| Self(t))
            .map_err(|e| {
                ApiError::Invalid(format!(
                    "query string: {}; see the API table in the hub's docs for its parameters",
                    e.body_text()
                ))
            })
    }
}

/// Path parameters deserialised as `T`; a malformed one (e.g. not UTF-8) is a 404,
/// as a path naming nothing.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| Self(t))
            .map_err(|_| ApiError::NotFound)
    }
}
