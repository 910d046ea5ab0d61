//! `POST /v1/pseudonyms` and `POST /v1/pseudonyms/resolve`: a site's patients in,
//! their pseudonym pairs out (see [`crate::db`] for the linkage rules).
//!
//! A record whose IDAT breaks a field bound (`oncofed_idat::bounds`) is refused
//! alone with an [`ItemError`]; the rest of the batch is pseudonymised.

use crate::auth::SiteCaller;
use crate::db::{LinkItem, pseudonymise, resolve};
use crate::error::{ApiError, check_batch};
use crate::json::ApiJson;
use crate::{AppState, routes::blocking};
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::post;
use axum::{Json, Router};
use oncofed_trustee_api::{
    ItemError, MAX_BATCH, PseudonymiseRequest, PseudonymiseResponse, ResolveRequest,
    ResolveResponse,
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
    let total = req.items.len();
    let keys = state.inner.keys.clone();
    // Bounds first (issue 9, defect 4): an over-long record is refused alone,
    // before it costs any linkage work; its error names the field, not the value.
    let (prepared, errors) = blocking(move || {
        let (mut prepared, mut errors) = (Vec::new(), Vec::new());
        for (index, item) in req.items.into_iter().enumerate() {
            if let Err(e) = item.idat.check_bounds() {
                errors.push(ItemError {
                    index,
                    code: ItemError::IDAT_TOO_LONG.into(),
                    message: format!("items[{index}].idat.{e}"),
                });
                continue;
            }
            let idat_json = serde_json::to_string(&item.idat).expect("IDAT serialises");
            prepared.push(LinkItem {
                keys: keys.blocking_keys(&item.idat),
                local_id: item.local_id,
                idat_json,
            });
        }
        (prepared, errors)
    })
    .await?;
    let n = prepared.len();
    let keys = state.inner.keys.clone();
    let site_for_db = site.clone();
    let pairs = if prepared.is_empty() {
        Vec::new()
    } else {
        state
            .inner
            .db
            .write(move |conn| pseudonymise(conn, &keys, &site_for_db, &prepared))
            .await?
    };
    // Pairs come in the order of the accepted items; put the gaps back.
    let mut pairs = pairs.into_iter();
    let mut refused = errors.iter().map(|e| e.index).peekable();
    let items = (0..total)
        .map(|i| {
            if refused.peek() == Some(&i) {
                refused.next();
                None
            } else {
                pairs.next()
            }
        })
        .collect();
    if !errors.is_empty() {
        tracing::info!(site = %site, refused = errors.len(), "refused over-long IDAT items");
    }
    tracing::debug!(site = %site, items = n, "pseudonymised a batch");
    Ok(Json(PseudonymiseResponse { items, errors }))
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
