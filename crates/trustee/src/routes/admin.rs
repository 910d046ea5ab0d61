//! `POST /v1/admin/consents`: trust-centre staff record a consent (typically an
//! objection or withdrawal a patient sent to the trust centre directly) for the
//! person behind a site pseudonym. Needs the admin token.

use crate::AppState;
use crate::auth::AdminCaller;
use crate::db::insert_admin_consent;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::routes::{blocking, consents::prepare_consent};
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::post;
use axum::{Json, Router};
use oncofed_model::Pseudonym;
use oncofed_trustee_api::ConsentSubmissionResponse;
use serde::{Deserialize, Serialize};

/// Body of `POST /v1/admin/consents`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminConsentRequest {
    /// The patient's pseudonym in any site's domain (as printed on the letter or
    /// form the patient sent).
    pub pseudonym: Pseudonym,
    /// The FHIR R4 Consent resource, as for `POST /v1/consents`.
    pub consent: serde_json::Value,
}

/// The admin routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/admin/consents",
        post(record).layer(DefaultBodyLimit::max(1024 * 1024)),
    )
}

async fn record(
    State(state): State<AppState>,
    _admin: AdminCaller,
    ApiJson(req): ApiJson<AdminConsentRequest>,
) -> Result<Json<ConsentSubmissionResponse>, ApiError> {
    let row =
        blocking(move || prepare_consent("consent", &req.consent).map(|row| (req.pseudonym, row)))
            .await??;
    let (pseudonym, row) = row;
    let subject = pseudonym.to_string();
    let stored = state
        .inner
        .db
        .write(move |conn| insert_admin_consent(conn, pseudonym.as_str(), &row))
        .await?;
    // Indexed under the person, so their page in the patients' portal lists it.
    let lookup = vec![subject.clone()];
    let persons: Vec<i64> = state
        .inner
        .db
        .read(move |conn| crate::db::patients::persons_of_pseudonyms(conn, &lookup))
        .await?
        .into_iter()
        .map(|(_, person)| person)
        .collect();
    crate::routes::audit::record_about(
        &state,
        persons,
        "admin",
        "consent.recorded",
        &subject,
        serde_json::json!({ "stored": stored }),
    )
    .await?;
    tracing::info!(stored, "consent recorded by trust-centre staff");
    Ok(Json(ConsentSubmissionResponse { stored }))
}
