//! `GET /v1/ledger?site=`: the contribution ledger as JSON for token callers
//! (the CLI, the demo): a site admin gets their own site's, admins and
//! auditors any site's or all (R19). The same rule as the portal's pages
//! (`portal::sites::ledger_scope`); every read is audited.

use super::{audit, blocking};
use crate::auth::User;
use crate::ledger::LedgerExport;
use crate::{ApiError, AppState};
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use oncofed_web::WebError;
use serde::Deserialize;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/ledger", get(ledger))
}

#[derive(Deserialize)]
struct Params {
    #[serde(default)]
    site: Option<String>,
}

async fn ledger(
    user: User,
    State(state): State<AppState>,
    Query(params): Query<Params>,
) -> Result<Json<LedgerExport>, ApiError> {
    let own = state
        .inner
        .config
        .users
        .site_of(&user.id)
        .map(str::to_owned);
    let requested = params.site.filter(|s| !s.is_empty());
    let scope = crate::portal::sites::ledger_scope(user.role, own.as_deref(), requested.as_deref())
        .map_err(|e| match e {
            WebError::Forbidden => ApiError::Forbidden,
            other => ApiError::internal(other),
        })?;
    let export = blocking(&state, move |s| {
        let export = LedgerExport::load(s, scope.as_deref()).map_err(ApiError::internal)?;
        audit(
            s,
            &user.id,
            "ledger.read",
            export.site.as_deref().unwrap_or("all"),
            serde_json::json!({ "entries": export.entries.len() }),
        )?;
        Ok(export)
    })
    .await?;
    Ok(Json(export))
}
