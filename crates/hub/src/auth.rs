//! Authentication extractors: handlers only ever see verified callers.

use crate::{
    ApiError, AppState, MAX_CLOCK_SKEW_SECS, Role, SIGNATURE_HEADER, SITE_HEADER, TIMESTAMP_HEADER,
};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use oncofed_crypto::Signature;
use oncofed_model::SiteId;

/// A user who presented a valid bearer token.
#[derive(Debug, Clone)]
pub struct User {
    /// The user id from the users file.
    pub id: String,
    /// Their role.
    pub role: Role,
}

impl User {
    /// Refuses unless the user has `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role == role {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

impl FromRequestParts<AppState> for User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        let (id, role) = state
            .inner
            .config
            .users
            .authenticate(token)
            .ok_or(ApiError::Unauthorized)?;
        Ok(Self { id, role })
    }
}

/// A request from a registered site, its signature over method, path, timestamp
/// and body verified against the site's registered public key.
#[derive(Debug)]
pub struct SiteRequest {
    /// The calling site.
    pub site: SiteId,
    /// The request body.
    pub body: Bytes,
}

/// Largest body a site may post. A feasibility outcome with its sketch is ~10 KB;
/// a masked analysis vector costs ~20 bytes of JSON per entry, and a Cox round on
/// a ten-year daily grid with a dozen covariates has a few hundred thousand entries.
const MAX_SITE_BODY: usize = 64 << 20;

impl FromRequest<AppState> for SiteRequest {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let site: SiteId = header(SITE_HEADER)
            .and_then(|s| s.parse().ok())
            .ok_or(ApiError::Unauthorized)?;
        let timestamp: i64 = header(TIMESTAMP_HEADER)
            .and_then(|s| s.parse().ok())
            .ok_or(ApiError::Unauthorized)?;
        let signature: Signature = header(SIGNATURE_HEADER)
            .and_then(|s| s.parse().ok())
            .ok_or(ApiError::Unauthorized)?;
        let key = {
            let keys = state
                .inner
                .site_keys
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            keys.get(site.as_str())
                .cloned()
                .ok_or(ApiError::Unauthorized)?
        };
        let body = axum::body::to_bytes(body, MAX_SITE_BODY)
            .await
            .map_err(|_| ApiError::Invalid("request body too large or unreadable".into()))?;
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let now = chrono::Utc::now().timestamp();
        oncofed_crypto::verify_request(
            &key,
            parts.method.as_str(),
            path,
            timestamp,
            &body,
            &signature,
            now,
            MAX_CLOCK_SKEW_SECS,
        )
        .map_err(|e| {
            tracing::warn!(site = %site, error = %e, "site request refused");
            ApiError::Unauthorized
        })?;
        Ok(Self { site, body })
    }
}
