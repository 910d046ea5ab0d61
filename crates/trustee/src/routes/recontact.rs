//! Re-contact through the trustee (R5), with four eyes:
//!
//! | method and path | caller | what |
//! |---|---|---|
//! | `POST /v1/admin/recontact` | staff | file a request ([`RecontactRequest`]); counts as the requester's approval |
//! | `POST /v1/admin/recontact/{id}/approve` | staff | approve; a second, distinct person releases it |
//! | `GET /v1/recontacts` | site | released requests for the calling (treating) site, with its local ids of the person (until 7 days after first delivery) |
//!
//! A request names the person by a site pseudonym; the site of that pseudonym is the
//! treating site and the only one that ever sees the request. Researchers have no
//! route here at all (they hold hub accounts, not trust-centre tokens). Consent rules
//! are in [`crate::db::recontact`]. The audit trail records each step with the staff
//! names and a hash of the stated reason (free text may name people, so the text
//! itself stays in the store).

use crate::AppState;
use crate::auth::{SiteCaller, StaffCaller};
use crate::db::recontact;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::json::ApiJson;
use crate::routes::{audit, blocking};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use oncofed_trustee_api::{RecontactNotices, RecontactRequest, RecontactStatus};
use serde_json::json;
use sha2::{Digest, Sha256};

/// Longest stated reason, in characters.
const MAX_REASON_CHARS: usize = 2_000;

/// The re-contact routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/recontact", post(create))
        .route("/v1/admin/recontact/{id}/approve", post(approve))
        .route("/v1/recontacts", get(released))
}

async fn create(
    State(state): State<AppState>,
    StaffCaller(staff): StaffCaller,
    ApiJson(req): ApiJson<RecontactRequest>,
) -> Result<Json<RecontactStatus>, ApiError> {
    let reason = req.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::invalid(
            "reason",
            "a stated reason of 1-2000 characters is required",
        ));
    }
    let reason_hash = hex::encode(Sha256::digest(reason.as_bytes()));
    let (pseudonym, code, requester) = (req.pseudonym.clone(), req.reason_code, staff.clone());
    let outcome = state
        .inner
        .db
        .write(move |conn| recontact::create(conn, &pseudonym, code, &reason, &requester))
        .await?;
    let (audit_state, status) = (state.clone(), outcome.status.clone());
    blocking(move || {
        audit::record(
            &audit_state,
            &staff,
            "recontact.requested",
            req.pseudonym.as_str(),
            json!({
                "request": outcome.status.id,
                "site": outcome.site,
                "reason_code": req.reason_code,
                "reason_sha256": reason_hash,
                "state": outcome.status.state,
            }),
        )
    })
    .await??;
    Ok(Json(status))
}

async fn approve(
    State(state): State<AppState>,
    StaffCaller(staff): StaffCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RecontactStatus>, ApiError> {
    let approver = staff.clone();
    let outcome = state
        .inner
        .db
        .write(move |conn| recontact::approve(conn, id, &approver))
        .await?
        .ok_or(ApiError::NotFound)?;
    let (audit_state, status) = (state.clone(), outcome.status.clone());
    blocking(move || {
        audit::record(
            &audit_state,
            &staff,
            if outcome.changed {
                "recontact.approved"
            } else {
                "recontact.approval-ignored"
            },
            &format!("recontact/{id}"),
            json!({
                "request": id,
                "site": outcome.site,
                "approvals": outcome.status.approvals,
                "state": outcome.status.state,
            }),
        )
    })
    .await??;
    Ok(Json(status))
}

async fn released(
    State(state): State<AppState>,
    SiteCaller(site): SiteCaller,
) -> Result<Json<RecontactNotices>, ApiError> {
    let site_db = site.clone();
    let (items, first) = state
        .inner
        .db
        .write(move |conn| recontact::released_for(conn, &site_db))
        .await?;
    if !first.is_empty() {
        let audit_state = state.clone();
        blocking(move || {
            audit::record(
                &audit_state,
                site.as_str(),
                "recontact.delivered",
                "recontacts",
                json!({"requests": first}),
            )
        })
        .await??;
    }
    Ok(Json(RecontactNotices { items }))
}
