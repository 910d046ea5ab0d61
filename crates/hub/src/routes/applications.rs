//! The application workflow's JSON API (for the CLI, the demo and tests; the
//! portal pages call the same service, `crate::applications`).
//!
//! | method and path | who | body → answer |
//! |---|---|---|
//! | `POST /v1/applications` | researcher | `{content, submit}` → `Application` (approved at once if the policy holds) |
//! | `GET /v1/applications` | anyone signed in | the applications the caller may see |
//! | `GET /v1/applications/{id}` | who may see it | `Application` |
//! | `PUT /v1/applications/{id}/draft` | the applicant | `ApplicationContent` |
//! | `PUT /v1/applications/{id}/ethics?filename=` | the applicant | the PDF (≤ 10 MiB) |
//! | `GET /v1/applications/{id}/ethics?version=N` | who may see it | the PDF |
//! | `POST /v1/applications/{id}/submit` | the applicant | → `Application` |
//! | `POST /v1/applications/{id}/formal-check` | admin (office) | `{pass, reasons}` |
//! | `POST /v1/applications/{id}/sites/{site}` | that site's admin | `SiteDecision` |
//! | `POST /v1/applications/{id}/votes` | committee member | `Vote` |
//! | `POST /v1/applications/{id}/acknowledge` | the applicant, an accepting site's admin | → `Application` |
//! | `GET /v1/applications/policy` | anyone signed in | the approval policy (id, version, SHA-256, text) |
//! | `POST /v1/applications/policy/opt-in` | site admin | `{opt_in}` for their site |
//! | `GET`, `POST /v1/admin/institutions` | admin | registered institutions |
//!
//! An application another researcher owns answers 404, as one that does not exist.

use super::blocking;
use crate::applications::{self as service, workflow::Action};
use crate::auth::User;
use crate::db::Institution;
use crate::json::ApiJson;
use crate::query::{ApiPath, ApiQuery};
use crate::{ApiError, AppState, Role};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use oncofed_protocol::application::{
    Application, ApplicationContent, MAX_ETHICS_BYTES, Party, SiteDecision, Vote,
};
use serde::Deserialize;

/// Audit tag of actions through this API.
const VIA: &str = "api";

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/applications", post(create).get(list))
        .route("/v1/applications/policy", get(policy))
        .route("/v1/applications/policy/opt-in", post(opt_in))
        .route("/v1/applications/{id}", get(fetch))
        .route("/v1/applications/{id}/draft", put(save_draft))
        .route(
            "/v1/applications/{id}/ethics",
            put(upload_ethics)
                .get(download_ethics)
                .layer(DefaultBodyLimit::max(MAX_ETHICS_BYTES + 1)),
        )
        .route("/v1/applications/{id}/submit", post(submit))
        .route("/v1/applications/{id}/formal-check", post(formal_check))
        .route("/v1/applications/{id}/sites/{site}", post(site_decision))
        .route("/v1/applications/{id}/votes", post(vote))
        .route("/v1/applications/{id}/acknowledge", post(acknowledge))
        .route(
            "/v1/admin/institutions",
            post(register_institution).get(institutions),
        )
}

/// `POST /v1/applications`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApplication {
    /// The first draft.
    pub content: ApplicationContent,
    /// Submit it at once (needs the ethics vote: upload it first with a
    /// draft, so this is for re-submissions of complete content).
    #[serde(default)]
    pub submit: bool,
}

async fn create(
    user: User,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateApplication>,
) -> Result<Json<Application>, ApiError> {
    user.require(Role::Researcher)?;
    blocking(&state, move |s| {
        let actor = service::actor(s, &user.id, user.role);
        service::create(s, &actor, body.content, body.submit, VIA).map(Json)
    })
    .await
}

async fn list(
    user: User,
    State(state): State<AppState>,
) -> Result<Json<Vec<Application>>, ApiError> {
    blocking(&state, move |s| {
        let actor = service::actor(s, &user.id, user.role);
        service::list(s, &actor).map(Json)
    })
    .await
}

async fn fetch(
    user: User,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Application>, ApiError> {
    blocking(&state, move |s| {
        let actor = service::actor(s, &user.id, user.role);
        service::get(s, &actor, &id).map(Json)
    })
    .await
}

/// Runs one workflow action for the caller.
async fn run(
    user: User,
    state: AppState,
    id: String,
    action: impl FnOnce(&service::workflow::Actor) -> Result<Action, ApiError> + Send + 'static,
) -> Result<Json<Application>, ApiError> {
    blocking(&state, move |s| {
        let actor = service::actor(s, &user.id, user.role);
        let action = action(&actor)?;
        service::decide(s, &actor, &id, action, VIA).map(Json)
    })
    .await
}

async fn save_draft(
    user: User,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(content): ApiJson<ApplicationContent>,
) -> Result<Json<Application>, ApiError> {
    run(user, state, id, |_| {
        Ok(Action::SaveDraft(Box::new(content)))
    })
    .await
}

async fn submit(
    user: User,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Application>, ApiError> {
    blocking(&state, move |s| {
        let actor = service::actor(s, &user.id, user.role);
        service::submit(s, &actor, &id, VIA).map(Json)
    })
    .await
}

#[derive(Debug, Deserialize)]
struct EthicsQuery {
    #[serde(default)]
    filename: Option<String>,
    #[serde(default)]
    version: Option<u32>,
}

async fn upload_ethics(
    user: User,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<EthicsQuery>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<Application>, ApiError> {
    user.require(Role::Researcher)?;
    let body = body.map_err(|_| {
        ApiError::PayloadTooLarge(format!(
            "the ethics vote may have at most {} MiB",
            MAX_ETHICS_BYTES >> 20
        ))
    })?;
    blocking(&state, move |s| {
        let actor = service::actor(s, &user.id, user.role);
        let name = q.filename.unwrap_or_default();
        service::upload_ethics(s, &actor, &id, &name, &body, VIA).map(Json)
    })
    .await
}

async fn download_ethics(
    user: User,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<EthicsQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let (vote, bytes) = blocking(&state, move |s| {
        let actor = service::actor(s, &user.id, user.role);
        service::ethics_file(s, &actor, &id, q.version)
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"ethics-{}.pdf\"", &vote.sha256[..12]),
            ),
        ],
        bytes,
    ))
}

/// `POST /v1/applications/{id}/formal-check`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormalCheck {
    /// Whether it passed.
    pub pass: bool,
    /// Reasons (required when it did not).
    #[serde(default)]
    pub reasons: String,
}

async fn formal_check(
    user: User,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<FormalCheck>,
) -> Result<Json<Application>, ApiError> {
    run(user, state, id, move |_| {
        Ok(Action::FormalCheck {
            pass: body.pass,
            reasons: body.reasons,
        })
    })
    .await
}

async fn site_decision(
    user: User,
    State(state): State<AppState>,
    ApiPath((id, site)): ApiPath<(String, String)>,
    ApiJson(decision): ApiJson<SiteDecision>,
) -> Result<Json<Application>, ApiError> {
    run(user, state, id, move |_| {
        Ok(Action::SiteDecide { site, decision })
    })
    .await
}

async fn vote(
    user: User,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(vote): ApiJson<Vote>,
) -> Result<Json<Application>, ApiError> {
    run(user, state, id, move |_| Ok(Action::Vote(vote))).await
}

async fn acknowledge(
    user: User,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Application>, ApiError> {
    run(user, state, id, |actor| {
        let party = match (actor.role, &actor.site) {
            (Role::Researcher, _) => Party::Applicant,
            (Role::SiteAdmin, Some(site)) => Party::Site(site.clone()),
            _ => return Err(ApiError::Forbidden),
        };
        Ok(Action::Acknowledge(party))
    })
    .await
}

async fn policy(
    user: User,
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let _ = user;
    let p = service::policy(&state)
        .ok_or_else(|| ApiError::Refused("this hub approves nothing by policy".into()))?;
    let rules: Vec<_> = p
        .rules
        .iter()
        .map(|r| serde_json::json!({ "id": r.id, "en": r.en, "de": r.de }))
        .collect();
    Ok(Json(serde_json::json!({
        "id": p.id, "version": p.version, "sha256": p.sha256,
        "title_en": p.title_en, "title_de": p.title_de, "rules": rules, "text": p.text,
    })))
}

/// `POST /v1/applications/policy/opt-in`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptIn {
    /// Whether the caller's site opts into approval under the policy.
    pub opt_in: bool,
}

async fn opt_in(
    user: User,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<OptIn>,
) -> Result<Json<serde_json::Value>, ApiError> {
    user.require(Role::SiteAdmin)?;
    blocking(&state, move |s| {
        let actor = service::actor(s, &user.id, user.role);
        service::set_opt_in(s, &actor, body.opt_in, VIA)?;
        Ok(Json(
            serde_json::json!({ "site": actor.site, "opt_in": body.opt_in }),
        ))
    })
    .await
}

async fn register_institution(
    user: User,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Institution>,
) -> Result<Json<Institution>, ApiError> {
    user.require(Role::Admin)?;
    blocking(&state, move |s| {
        let actor = service::actor(s, &user.id, user.role);
        service::register_institution(s, &actor, body.clone(), VIA)?;
        Ok(Json(body))
    })
    .await
}

async fn institutions(
    user: User,
    State(state): State<AppState>,
) -> Result<Json<Vec<Institution>>, ApiError> {
    user.require(Role::Admin)?;
    blocking(&state, |s| {
        s.inner
            .db
            .institutions()
            .map(Json)
            .map_err(ApiError::internal)
    })
    .await
}
