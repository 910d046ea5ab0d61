//! The API side of the patients' portal (wire types in
//! `oncofed_trustee_api::patients`):
//!
//! | method and path | caller | what |
//! |---|---|---|
//! | `POST /v1/admin/access-codes` | staff | a one-time access code for the person behind a site pseudonym |
//! | `POST /v1/access-codes` | site | a one-time access code for one of the site's patients, by local id |
//! | `POST /v1/usage` | site | the site used these persons' data for a project |
//!
//! The code is in the answer only; the store keeps its hash
//! (`db::access_codes`). Every issue and report is audited and indexed under
//! the person, so the person's page lists it.

use crate::AppState;
use crate::auth::{SiteCaller, StaffCaller};
use crate::db::access_codes::{self, PersonRef};
use crate::db::patients;
use crate::error::{ApiError, check_batch};
use crate::json::ApiJson;
use crate::routes::{audit, pseudonyms::check_local_id};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use oncofed_trustee_api::{
    AccessCode, SiteAccessCodeRequest, StaffAccessCodeRequest, UsageRecorded, UsageReport,
    valid_project_id,
};
use serde_json::json;

/// Where a patient signs in with a code.
pub(crate) const SIGN_IN_PATH: &str = "/patient/login";

/// The portal API routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/access-codes", post(issue_by_staff))
        .route("/v1/access-codes", post(issue_by_site))
        .route("/v1/usage", post(usage))
}

async fn issue_by_staff(
    State(state): State<AppState>,
    StaffCaller(staff): StaffCaller,
    ApiJson(req): ApiJson<StaffAccessCodeRequest>,
) -> Result<Json<AccessCode>, ApiError> {
    let who = PersonRef::SitePseudonym(req.pseudonym.as_str().to_owned());
    issue(&state, who, &staff, req.pseudonym.as_str()).await
}

async fn issue_by_site(
    State(state): State<AppState>,
    SiteCaller(site): SiteCaller,
    ApiJson(req): ApiJson<SiteAccessCodeRequest>,
) -> Result<Json<AccessCode>, ApiError> {
    check_local_id(format_args!("local_id"), &req.local_id)?;
    let who = PersonRef::LocalId {
        site: site.as_str().to_owned(),
        local_id: req.local_id,
    };
    issue(&state, who, site.as_str(), &format!("site/{site}")).await
}

async fn issue(
    state: &AppState,
    who: PersonRef,
    issuer: &str,
    subject: &str,
) -> Result<Json<AccessCode>, ApiError> {
    let validity = i64::try_from(state.inner.portal.code_validity.as_secs()).unwrap_or(i64::MAX);
    let issued_by = issuer.to_owned();
    let person_ref = who.clone();
    let now = crate::db::now();
    let code = state
        .inner
        .db
        .write(move |conn| access_codes::issue(conn, &person_ref, &issued_by, now, validity))
        .await?
        .ok_or_else(|| match who {
            PersonRef::SitePseudonym(_) => ApiError::UnknownPseudonym,
            PersonRef::LocalId { .. } => ApiError::invalid(
                "local_id",
                "not registered at this site; pseudonymise the patient first",
            ),
        })?;
    let expires_at = chrono::DateTime::from_timestamp(code.expires_at, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    audit::record_about(
        state,
        vec![code.person],
        issuer,
        "patient.access-code.issued",
        subject,
        json!({"code": code.id, "expires_at": expires_at}),
    )
    .await?;
    Ok(Json(AccessCode {
        code: code.code,
        expires_at,
        sign_in_path: SIGN_IN_PATH.to_owned(),
    }))
}

async fn usage(
    State(state): State<AppState>,
    SiteCaller(site): SiteCaller,
    ApiJson(report): ApiJson<UsageReport>,
) -> Result<Json<UsageRecorded>, ApiError> {
    check_batch(report.pseudonyms.len())?;
    if !valid_project_id(&report.project) {
        return Err(ApiError::invalid(
            "project",
            "1-64 of A-Z, a-z, 0-9, '.', '_', '-'",
        ));
    }
    let (site_db, report_db, now) = (site.clone(), report.clone(), crate::db::now());
    let (persons, unknown) = state
        .inner
        .db
        .write(move |conn| patients::record_usage(conn, &site_db, &report_db, now))
        .await?;
    let recorded = persons.len();
    audit::record_about(
        &state,
        persons,
        site.as_str(),
        "usage.reported",
        &format!("project/{}", report.project),
        json!({
            "kind": report.kind.as_str(),
            "date": report.date.to_string(),
            "persons": recorded,
            "unknown": unknown,
        }),
    )
    .await?;
    Ok(Json(UsageRecorded { recorded, unknown }))
}
