//! The model registry (issue 15, item 4): every cell classifier the hub
//! released, with its provenance (rounds, sites and cells per round, data
//! and code hashes, metrics per site, DP) and its model card.
//!
//! - `GET /v1/models`: the registered models the caller may see (a
//!   researcher: those of the projects they belong to; an auditor: all).
//! - `GET /v1/models/{id}`: one model's registry record, project, run and
//!   parameters (a site downloads it to classify its own cells).
//! - `GET /v1/models/{id}/card`: its model card (Markdown).
//!
//! The registry is the released results themselves: a model exists here
//! exactly when its training run released it under disclosure control.
//! Every read that returns a model is audited.

use super::{audit, blocking};
use crate::auth::User;
use crate::query::ApiPath;
use crate::{ApiError, AppState, Role};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::routing::get;
use oncofed_analysis::AnalysisResult;
use oncofed_analysis::driver::cells::CellClassifierResult;
use serde::Serialize;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/models", get(list))
        .route("/v1/models/{id}", get(one))
        .route("/v1/models/{id}/card", get(card))
}

/// One registry entry as listed.
#[derive(Debug, Serialize)]
pub struct ModelEntry {
    /// The registry id (a hash over spec, parameters, algorithm, code, data and rounds).
    pub id: String,
    /// The model's name.
    pub name: String,
    /// FedAvg, FedProx(mu=…), DP-…
    pub algorithm: String,
    /// The project it was trained in.
    pub project: String,
    /// The training run.
    pub run: String,
    /// When it was released.
    pub released_at: String,
    /// Accuracy on all sites' held-out cells.
    pub accuracy: f64,
    /// Macro-F1 there.
    pub macro_f1: f64,
}

/// A model with where it came from.
#[derive(Debug, Serialize)]
pub struct ModelDetail {
    /// The project it was trained in.
    pub project: String,
    /// The training run.
    pub run: String,
    /// When it was released.
    pub released_at: String,
    /// The released result: registry record, parameters, evaluation.
    pub model: CellClassifierResult,
}

/// The released cell classifiers `user` may see.
fn visible(state: &AppState, user: &User) -> Result<Vec<ModelDetail>, ApiError> {
    let mine: Option<Vec<String>> = match user.role {
        Role::Auditor => None,
        Role::Researcher => Some(
            state
                .inner
                .db
                .projects()
                .map_err(ApiError::internal)?
                .into_iter()
                .filter(|p| p.researchers.contains(&user.id))
                .map(|p| p.id)
                .collect(),
        ),
        Role::Admin | Role::Committee | Role::SiteAdmin => return Err(ApiError::Forbidden),
    };
    let mut out = Vec::new();
    for (run, project, result, at) in state
        .inner
        .db
        .released_of_kind("cell-classifier")
        .map_err(ApiError::internal)?
    {
        if mine.as_ref().is_some_and(|m| !m.contains(&project)) {
            continue;
        }
        if let Ok(AnalysisResult::CellClassifier(model)) = serde_json::from_str(&result) {
            out.push(ModelDetail {
                project,
                run,
                released_at: at,
                model: *model,
            });
        }
    }
    Ok(out)
}

async fn list(
    user: User,
    State(state): State<AppState>,
) -> Result<Json<Vec<ModelEntry>>, ApiError> {
    blocking(&state, move |s| {
        let models = visible(s, &user)?;
        Ok(Json(
            models
                .into_iter()
                .map(|d| ModelEntry {
                    id: d.model.model.id.clone(),
                    name: d.model.model.name.clone(),
                    algorithm: d.model.model.algorithm.clone(),
                    project: d.project,
                    run: d.run,
                    released_at: d.released_at,
                    accuracy: d.model.pooled.accuracy,
                    macro_f1: d.model.pooled.macro_f1,
                })
                .collect(),
        ))
    })
    .await
}

/// The model `id` if `user` may see it; reading it is audited.
fn find(state: &AppState, user: &User, id: &str) -> Result<ModelDetail, ApiError> {
    let found = visible(state, user)?
        .into_iter()
        .find(|d| d.model.model.id == id)
        .ok_or(ApiError::NotFound)?;
    audit(
        state,
        &user.id,
        "model.read",
        id,
        serde_json::json!({ "project": found.project, "run": found.run }),
    )?;
    Ok(found)
}

async fn one(
    user: User,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ModelDetail>, ApiError> {
    blocking(&state, move |s| Ok(Json(find(s, &user, &id)?))).await
}

async fn card(
    user: User,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<([(header::HeaderName, &'static str); 1], String), ApiError> {
    let text = blocking(&state, move |s| {
        Ok(oncofed_learn::model_card(&find(s, &user, &id)?.model.model))
    })
    .await?;
    Ok((
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        text,
    ))
}
