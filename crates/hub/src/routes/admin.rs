//! Site registration (admins only): registration is closed unless an admin opens it per site.

use super::{audit, blocking};
use crate::auth::{AsAdmin, User};
use crate::json::ApiJson;
use crate::{ApiError, AppState, Role};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use oncofed_protocol::api::RegisterSite;

/// `POST /v1/admin/sites`, `GET /v1/admin/sites`.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/admin/sites", post(register).get(list))
}

async fn register(
    AsAdmin(user): AsAdmin,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RegisterSite>,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(&state, move |s| {
        let key = req.public_key.to_string();
        s.inner
            .db
            .put_site(req.site.as_str(), &key, chrono::Utc::now())
            .map_err(ApiError::internal)?;
        s.inner
            .site_keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(req.site.to_string(), req.public_key);
        let details = serde_json::json!({ "fingerprint": req.public_key.fingerprint() });
        audit(s, &user.id, "site.registered", req.site.as_str(), details)?;
        Ok(Json(
            serde_json::json!({ "site": req.site, "fingerprint": req.public_key.fingerprint() }),
        ))
    })
    .await
}

async fn list(
    user: User,
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    user.require(Role::Admin)?;
    let sites = blocking(&state, |s| s.inner.db.sites().map_err(ApiError::internal)).await?;
    let sites: Vec<_> = sites
        .into_iter()
        .map(|(site, key)| serde_json::json!({ "site": site, "public_key": key }))
        .collect();
    Ok(Json(serde_json::Value::Array(sites)))
}
