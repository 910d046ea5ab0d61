//! Bearer-token authentication as extractors, so handlers only ever see verified
//! callers. The calling site is taken from its token, never from the request body.

use crate::AppState;
use crate::config::{TokenDigest, constant_time_eq};
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use oncofed_model::SiteId;
use sha2::{Digest, Sha256};

/// Longest bearer token accepted; longer headers are refused before hashing.
const MAX_TOKEN_LEN: usize = 1024;

/// A request from a registered site.
pub(crate) struct SiteCaller(pub SiteId);

/// A request from trust-centre staff holding the admin token.
pub(crate) struct AdminCaller;

/// The SHA-256 of the request's bearer token, if it has one.
fn bearer_digest(parts: &Parts) -> Option<TokenDigest> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return None;
    }
    Some(Sha256::digest(token.as_bytes()).into())
}

impl FromRequestParts<AppState> for SiteCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let site = bearer_digest(parts).and_then(|d| state.inner.sites.site_for(&d).cloned());
        match site {
            Some(site) => Ok(Self(site)),
            None => {
                tracing::warn!(
                    path = parts.uri.path(),
                    "refused a request without a registered site token"
                );
                Err(ApiError::Unauthorized)
            }
        }
    }
}

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ok = match (bearer_digest(parts), state.inner.admin.as_ref()) {
            (Some(given), Some(expected)) => constant_time_eq(&given, expected),
            _ => false,
        };
        if ok {
            Ok(Self)
        } else {
            tracing::warn!(path = parts.uri.path(), "refused an admin request");
            Err(ApiError::Unauthorized)
        }
    }
}
