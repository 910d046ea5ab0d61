//! PPRL endpoints: `POST /v1/pprl/{project}/records` (site token) takes a batch of
//! CLK encodings and answers with project-scoped link ids; `PUT /v1/admin/pprl/{project}`
//! (admin token) sets the project's Dice threshold, audited. See
//! `crate::linkage::pprl` for the linking rules and who holds the CLK key.

use crate::AppState;
use crate::auth::{AdminCaller, SiteCaller};
use crate::error::{ApiError, check_batch};
use crate::extract::ApiPath;
use crate::json::ApiJson;
use crate::linkage::api::{PprlProjectSettings, PprlSubmitRequest, PprlSubmitResponse};
use crate::linkage::pprl::{Submitted, set_threshold, submit};
use crate::routes::pseudonyms::check_local_id;
use crate::routes::{audit, blocking};
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{post, put};
use axum::{Json, Router};
use base64::Engine;
use oncofed_linkage::pprl::Clk;
use oncofed_trustee_api::MAX_BATCH;

/// Body limit: base64 CLK (172 bytes), id and a few blocking keys per record.
const SUBMIT_BODY_LIMIT: usize = MAX_BATCH * 1024;

/// Most blocking keys per record.
const MAX_BLOCKS: usize = 32;

/// The PPRL routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/pprl/{project}/records",
            post(records).layer(DefaultBodyLimit::max(SUBMIT_BODY_LIMIT)),
        )
        .route("/v1/admin/pprl/{project}", put(settings))
}

/// Project names: 1-64 of `a-z`, `0-9`, `-`, `_`.
fn check_project(project: &str) -> Result<(), ApiError> {
    let ok = !project.is_empty()
        && project.len() <= 64
        && project
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "project",
            "must be 1-64 of a-z, 0-9, '-', '_'",
        ))
    }
}

async fn records(
    State(state): State<AppState>,
    SiteCaller(site): SiteCaller,
    ApiPath(project): ApiPath<String>,
    ApiJson(req): ApiJson<PprlSubmitRequest>,
) -> Result<Json<PprlSubmitResponse>, ApiError> {
    check_project(&project)?;
    check_batch(req.records.len())?;
    let decoded = blocking(move || {
        req.records
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                check_local_id(format_args!("records[{i}].id"), &r.id)?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(r.clk.as_bytes())
                    .ok()
                    .and_then(|b| <[u8; 128]>::try_from(b).ok())
                    .ok_or_else(|| {
                        ApiError::invalid(
                            format_args!("records[{i}].clk"),
                            "must be 128 bytes (1024 bits) in base64",
                        )
                    })?;
                if r.blocks.len() > MAX_BLOCKS {
                    return Err(ApiError::invalid(
                        format_args!("records[{i}].blocks"),
                        "at most 32 blocking keys",
                    ));
                }
                Ok(Submitted {
                    id: r.id,
                    clk: Clk::from_bytes(&bytes),
                    blocks: r.blocks,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()
    })
    .await??;
    let n = decoded.len();
    let site_name = site.as_str().to_owned();
    let links = state
        .inner
        .db
        .write(move |conn| submit(conn, &project, &site_name, &decoded))
        .await?;
    tracing::debug!(site = %site, records = n, "linked a PPRL batch");
    Ok(Json(PprlSubmitResponse { links }))
}

async fn settings(
    State(state): State<AppState>,
    _admin: AdminCaller,
    ApiPath(project): ApiPath<String>,
    ApiJson(req): ApiJson<PprlProjectSettings>,
) -> Result<Json<PprlProjectSettings>, ApiError> {
    check_project(&project)?;
    if !(req.threshold > 0.0 && req.threshold <= 1.0) {
        return Err(ApiError::invalid("threshold", "must be in (0, 1]"));
    }
    let p = project.clone();
    state
        .inner
        .db
        .write(move |conn| set_threshold(conn, &p, req.threshold))
        .await?;
    let audit_state = state.clone();
    blocking(move || {
        audit::record(
            &audit_state,
            "admin",
            "linkage.pprl.settings",
            &format!("pprl/{project}"),
            serde_json::json!({ "threshold": req.threshold }),
        )
    })
    .await??;
    Ok(Json(req))
}
