//! `POST /v1/admin/admissions` (admin token): staff admit one record that a
//! withdrawn person's tombstone refused, after checking it is a different
//! person (see [`crate::db::admissions`]). The site then sends it again.
//!
//! The admission is written to the audit trail inside its transaction (site,
//! reviewer and a keyed reference to the record, never the local id or IDAT),
//! so an unaudited admission is never stored.

use crate::AppState;
use crate::auth::AdminCaller;
use crate::db::admissions::{Admission, AdmitError, admit};
use crate::db::now;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::linkage::api::{AdmissionRequest, AdmissionResponse};
use crate::routes::audit;
use crate::routes::pseudonyms::check_local_id;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::post;
use axum::{Json, Router};
use oncofed_model::SiteId;

/// Longest reviewer name and reason, in bytes.
const MAX_REVIEWER: usize = 128;
const MAX_REASON: usize = 1000;

/// The admission route.
pub(crate) fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/admin/admissions",
        post(create).layer(DefaultBodyLimit::max(64 * 1024)),
    )
}

/// Checks a free-text field staff fill in: trimmed, 1..=`max` bytes, no
/// control characters.
fn check_text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() || v.len() > max || v.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            &format!("must be 1-{max} bytes without control characters"),
        ));
    }
    Ok(v.to_owned())
}

async fn create(
    State(state): State<AppState>,
    _admin: AdminCaller,
    ApiJson(req): ApiJson<AdmissionRequest>,
) -> Result<Json<AdmissionResponse>, ApiError> {
    let site = SiteId::new(&req.site).map_err(|_| ApiError::invalid("site", "not a site id"))?;
    check_local_id(format_args!("local_id"), &req.local_id)?;
    req.idat
        .check_bounds()
        .map_err(|e| ApiError::invalid(format_args!("idat.{e}"), "out of bounds"))?;
    let reviewer = check_text("reviewer", &req.reviewer, MAX_REVIEWER)?;
    let reason = check_text("reason", &req.reason, MAX_REASON)?;
    let keys = state.inner.keys.clone();
    let audit_state = state.clone();
    let response = AdmissionResponse {
        site: req.site.clone(),
        local_id: req.local_id.clone(),
    };
    let result = state
        .inner
        .db
        .write(move |conn| {
            let a = Admission {
                site: site.as_str(),
                local_id: &req.local_id,
                idat: &req.idat,
                reviewer: &reviewer,
                reason: &reason,
            };
            Ok(admit(conn, &keys, &a, now(), |record_key| {
                // A reference to the admission, not to the record: 8 bytes of a keyed hash.
                let reference = hex::encode(&record_key[..8]);
                audit::record(
                    &audit_state,
                    "admin",
                    "linkage.tombstone.admitted",
                    &format!("site:{site}"),
                    serde_json::json!({
                        "site": site.as_str(),
                        "reviewer": reviewer,
                        "admission": reference,
                    }),
                )
            }))
        })
        .await?;
    match result {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(e),
        Err(AdmitError::NotRefused) => {
            return Err(ApiError::invalid(
                "idat",
                "no tombstone refuses this record (or its local id is registered already): \
                 there is nothing to admit; the site can send it as it is",
            ));
        }
        Err(AdmitError::Final { field, why }) => {
            return Err(ApiError::invalid(
                field,
                &format!("cannot be admitted: {why}; a withdrawal's erasure is final"),
            ));
        }
        Err(AdmitError::Store(e)) => return Err(e.into()),
    }
    // Counts for operators; no ids, no personal data.
    tracing::info!(site = %response.site, "record admitted past a tombstone by trust-centre staff");
    Ok(Json(response))
}
