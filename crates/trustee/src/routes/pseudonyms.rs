//! `POST /v1/pseudonyms` and `POST /v1/pseudonyms/resolve`: a site's patients in,
//! their pseudonym pairs out (see [`crate::db`] for the linkage rules).

use crate::auth::SiteCaller;
use crate::db::{LinkItem, pseudonymise, resolve};
use crate::error::{ApiError, check_batch};
use crate::json::ApiJson;
use crate::{AppState, routes::blocking};
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::post;
use axum::{Json, Router};
use oncofed_trustee_api::{
    MAX_BATCH, PseudonymiseRequest, PseudonymiseResponse, ResolveRequest, ResolveResponse,
};

/// Longest accepted local id, in bytes.
pub(crate) const MAX_LOCAL_ID_LEN: usize = 256;

/// Body limits: a generous 4 KiB of IDAT per patient, 300 bytes per local id.
const PSEUDONYMISE_BODY_LIMIT: usize = MAX_BATCH * 4096;
const RESOLVE_BODY_LIMIT: usize = MAX_BATCH * 300;

/// The pseudonym routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/pseudonyms",
            post(create).layer(DefaultBodyLimit::max(PSEUDONYMISE_BODY_LIMIT)),
        )
        .route(
            "/v1/pseudonyms/resolve",
            post(lookup).layer(DefaultBodyLimit::max(RESOLVE_BODY_LIMIT)),
        )
}

/// Checks a local id's shape; the error names the field, not the id.
pub(crate) fn check_local_id(field: std::fmt::Arguments<'_>, id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > MAX_LOCAL_ID_LEN || id.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            "must be 1-256 bytes without control characters",
        ));
    }
    Ok(())
}

async fn create(
    State(state): State<AppState>,
    SiteCaller(site): SiteCaller,
    ApiJson(req): ApiJson<PseudonymiseRequest>,
) -> Result<Json<PseudonymiseResponse>, ApiError> {
    check_batch(req.items.len())?;
    for (i, item) in req.items.iter().enumerate() {
        check_local_id(format_args!("items[{i}].local_id"), &item.local_id)?;
    }
    let keys = state.inner.keys.clone();
    let prepared = blocking(move || {
        req.items
            .into_iter()
            .map(|item| {
                let idat_json = serde_json::to_string(&item.idat).expect("IDAT serialises");
                LinkItem {
                    keys: keys.blocking_keys(&item.idat),
                    local_id: item.local_id,
                    idat_json,
                }
            })
            .collect::<Vec<_>>()
    })
    .await?;
    let n = prepared.len();
    let keys = state.inner.keys.clone();
    let site_for_db = site.clone();
    let items = state
        .inner
        .db
        .write(move |conn| pseudonymise(conn, &keys, &site_for_db, &prepared))
        .await?;
    tracing::debug!(site = %site, items = n, "pseudonymised a batch");
    Ok(Json(PseudonymiseResponse { items }))
}

async fn lookup(
    State(state): State<AppState>,
    SiteCaller(site): SiteCaller,
    ApiJson(req): ApiJson<ResolveRequest>,
) -> Result<Json<ResolveResponse>, ApiError> {
    check_batch(req.local_ids.len())?;
    for (i, id) in req.local_ids.iter().enumerate() {
        check_local_id(format_args!("local_ids[{i}]"), id)?;
    }
    let keys = state.inner.keys.clone();
    let items = state
        .inner
        .db
        .read(move |conn| resolve(conn, &keys, &site, &req.local_ids))
        .await?;
    Ok(Json(ResolveResponse { items }))
}
