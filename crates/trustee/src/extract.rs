//! Query-string and path extractors whose rejections are the trust centre's JSON
//! error body, like [`ApiJson`](crate::json::ApiJson) for bodies. axum's own
//! rejections answer in plain text and repeat serde's message; these give a
//! fixed description naming the parameter, never the value sent.

use crate::error::ApiError;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A query string deserialised as `T`; a malformed one is refused with 400.
#[derive(Debug, Clone)]
pub(crate) struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(t)| Self(t))
            .map_err(|_| {
                ApiError::invalid(
                    "query string",
                    "malformed or of the wrong type; see the route's documentation for its parameters",
                )
            })
    }
}

/// Path parameters deserialised as `T`; a malformed one (e.g. an id that is not
/// a number) names nothing, so it is a 404 like any unknown id.
#[derive(Debug, Clone)]
pub(crate) struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| Self(t))
            .map_err(|_| ApiError::NotFound)
    }
}
