//! Bearer-token authentication as extractors, so handlers only ever see verified
//! callers. The calling site is taken from its token, never from the request body.

use crate::AppState;
use crate::config::TokenDigest;
use crate::error::ApiError;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use oncofed_model::SiteId;
use oncofed_tls::Peer;

/// A request from a registered site.
pub(crate) struct SiteCaller(pub SiteId);

/// A request from trust-centre staff holding the admin token.
pub(crate) struct AdminCaller;

/// The SHA-256 of the request's bearer token, if it has one (read and hashed
/// the way every OncoFed service does, `oncofed_service::tokens`).
fn bearer_digest(parts: &Parts) -> Option<TokenDigest> {
    oncofed_service::tokens::bearer_token(&parts.headers).map(TokenDigest::of)
}

/// Under mutual TLS, whether the connection's verified certificate names `site`:
/// a site's token alone does not authenticate it then.
fn certificate_names(parts: &Parts, state: &AppState, site: &SiteId) -> bool {
    if !state.inner.site_certificates {
        return true;
    }
    let named = parts
        .extensions
        .get::<ConnectInfo<Peer>>()
        .is_some_and(|ConnectInfo(peer)| peer.is_site(site.as_str()));
    if !named {
        tracing::warn!(
            path = parts.uri.path(),
            %site,
            "refused a site token over a connection without that site's certificate"
        );
    }
    named
}

impl FromRequestParts<AppState> for SiteCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let site = bearer_digest(parts).and_then(|d| state.inner.sites.site_for(&d).cloned());
        match site {
            Some(site) if !certificate_names(parts, state, &site) => Err(ApiError::Unauthorized),
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
            (Some(given), Some(expected)) => given.matches(expected),
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

/// A request from a named member of trust-centre staff: a token from the staff
/// file, or the admin token acting as staff member `admin`. Handlers that need two
/// distinct people compare these names.
pub(crate) struct StaffCaller(pub String);

/// The staff member whose token hashes to `given`: `admin` for the admin token.
fn staff_name(state: &AppState, given: &TokenDigest) -> Option<String> {
    if let Some(admin) = state.inner.admin.as_ref()
        && given.matches(admin)
    {
        return Some("admin".to_owned());
    }
    state.inner.staff.name_for(given).map(str::to_owned)
}

impl FromRequestParts<AppState> for StaffCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let name = bearer_digest(parts).and_then(|given| staff_name(state, &given));
        match name {
            Some(name) => Ok(Self(name)),
            None => {
                tracing::warn!(path = parts.uri.path(), "refused a staff request");
                Err(ApiError::Unauthorized)
            }
        }
    }
}

/// A registered site or a staff member, for endpoints open to both (pseudonym
/// domain batches); the handler decides what each may do.
pub(crate) enum SiteOrStaff {
    /// A site's token.
    Site(SiteId),
    /// A staff or the admin token.
    Staff,
}

impl FromRequestParts<AppState> for SiteOrStaff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = bearer_digest(parts).and_then(|given| {
            state
                .inner
                .sites
                .site_for(&given)
                .cloned()
                .map(Self::Site)
                .or_else(|| staff_name(state, &given).map(|_| Self::Staff))
        });
        match caller {
            Some(Self::Site(site)) if !certificate_names(parts, state, &site) => {
                Err(ApiError::Unauthorized)
            }
            Some(caller) => Ok(caller),
            None => {
                tracing::warn!(
                    path = parts.uri.path(),
                    "refused a request without a site or staff token"
                );
                Err(ApiError::Unauthorized)
            }
        }
    }
}
