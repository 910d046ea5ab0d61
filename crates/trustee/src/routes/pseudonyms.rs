//! `POST /v1/pseudonyms` and `POST /v1/pseudonyms/resolve`: a site's patients in,
//! their pseudonym pairs out (see [`crate::db`] for the linkage rules).
//!
//! A record whose IDAT breaks a field bound (`oncofed_idat::bounds`) or whose
//! person withdrew consent (the tombstone, [`crate::db::Refusal`]) is refused
//! alone with an [`ItemError`], nothing of it stored; the rest of the batch is
//! pseudonymised. Each refused withdrawn person is audited under the person.

use crate::auth::SiteCaller;
use crate::db::{LinkItem, Refusal, pseudonymise_each, resolve};
use crate::error::{ApiError, check_batch};
use crate::json::ApiJson;
use crate::{AppState, routes::blocking};
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::post;
use axum::{Json, Router};
use oncofed_trustee_api::{
    ItemError, MAX_BATCH, PseudonymPair, PseudonymiseRequest, PseudonymiseResponse, ResolveRequest,
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
    // Positions of the accepted items in the request.
    let accepted: Vec<usize> = {
        let refused: std::collections::HashSet<usize> = errors.iter().map(|e| e.index).collect();
        (0..total).filter(|i| !refused.contains(i)).collect()
    };
    let n = prepared.len();
    let keys = state.inner.keys.clone();
    let site_for_db = site.clone();
    let results = if prepared.is_empty() {
        Vec::new()
    } else {
        state
            .inner
            .db
            .write(move |conn| pseudonymise_each(conn, &keys, &site_for_db, &prepared))
            .await?
    };
    let mut errors = errors;
    let mut items: Vec<Option<PseudonymPair>> = vec![None; total];
    let mut withdrawn = Vec::new();
    for (index, result) in accepted.into_iter().zip(results) {
        match result {
            Ok(pair) => items[index] = Some(pair),
            Err(Refusal::Withdrawn { person, admissible }) => {
                withdrawn.push((index, person));
                errors.push(withdrawn_error(index, admissible));
            }
        }
    }
    errors.sort_by_key(|e| e.index);
    if !withdrawn.is_empty() {
        audit_withdrawn(&state, &site, &withdrawn).await?;
    }
    if errors.len() > withdrawn.len() {
        tracing::info!(site = %site, refused = errors.len() - withdrawn.len(), "refused over-long IDAT items");
    }
    tracing::debug!(site = %site, items = n, "pseudonymised a batch");
    Ok(Json(PseudonymiseResponse { items, errors }))
}

/// The per-item error of a record whose person withdrew (the tombstone): it
/// names the position and the reason, never a value, and says what to do next.
/// `admissible`: only the resemblance of its identity refused it, so it may be
/// a namesake that staff can admit (`POST /v1/admin/admissions`).
fn withdrawn_error(index: usize, admissible: bool) -> ItemError {
    let message = if admissible {
        format!(
            "items[{index}]: this record's identifying data match a patient who withdrew consent \
             and whose identity the trust centre erased; it was not registered and nothing of it \
             was stored. If it is the same patient, remove them from the export. If it is a \
             different person, ask the trust centre's staff to admit this record (they need the \
             site, the local id and the identifying data as sent), then send it again"
        )
    } else {
        format!(
            "items[{index}]: this patient withdrew consent and the trust centre erased their \
             identity (the local id or insurance number was theirs); they are not registered \
             again and nothing of this record was stored. Remove the patient from the export"
        )
    };
    ItemError {
        index,
        code: ItemError::WITHDRAWN.into(),
        message,
    }
}

/// Audits each refused re-registration of a withdrawn person, under the person
/// (their page in the patients' portal shows it); no personal data.
async fn audit_withdrawn(
    state: &AppState,
    site: &oncofed_model::SiteId,
    refused: &[(usize, i64)],
) -> Result<(), ApiError> {
    tracing::info!(site = %site, refused = refused.len(), "refused records of withdrawn persons");
    for &(index, person) in refused {
        crate::routes::audit::record_about(
            state,
            vec![person],
            site.as_str(),
            "pseudonym.refused_withdrawn",
            &format!("site:{site}"),
            serde_json::json!({ "index": index }),
        )
        .await?;
    }
    Ok(())
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
