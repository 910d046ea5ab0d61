//! Swarm runs inside approved projects (issue 15, item 5).
//!
//! - `POST /v1/swarm/runs` (researcher): start a swarm run of a cell
//!   classifier in a project whose plan names `cell-classifier` and whose
//!   categories hold clinical and pathology data; counted against the
//!   researcher's analysis-run quota, audited; the answer is the hub's
//!   signed grant ([`SignedSwarmGrant`]).
//! - `GET /v1/swarm/runs/{run}` (a participating site, signed request): the
//!   grant, which the site verifies with its pinned hub key before it trains.
//!
//! The relay (`routes::swarm`) carries messages only of granted runs and only
//! between their participants.

use super::analyses::consume_run_quota;
use super::{audit, blocking};
use crate::auth::AsResearcher;
use crate::json::ApiJson;
use crate::query::ApiPath;
use crate::site_request::SiteRequest;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use oncofed_model::DataCategory;
use oncofed_protocol::swarm_grant::{SignedSwarmGrant, SwarmGrant, SwarmRunRequest};

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/swarm/runs", post(start))
        .route("/v1/swarm/runs/{run}", get(grant))
}

/// The participants of granted run `run`; refused when it was not granted.
pub(super) fn participants(state: &AppState, run: &str) -> Result<Vec<String>, ApiError> {
    let text = state
        .inner
        .db
        .swarm_run(run)
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::Invalid(
                "no swarm run of this id was granted: a researcher starts one with POST /v1/swarm/runs"
                    .into(),
            )
        })?;
    let grant: SignedSwarmGrant = serde_json::from_str(&text).map_err(ApiError::internal)?;
    Ok(grant.grant.participants)
}

async fn start(
    AsResearcher(user): AsResearcher,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<SwarmRunRequest>,
) -> Result<Json<SignedSwarmGrant>, ApiError> {
    if req.training.dp.is_some() {
        return Err(ApiError::Invalid(
            "a swarm run has no differential privacy (the round's leader sees each update): run DP-FedAvg as a cell-classifier analysis".into(),
        ));
    }
    req.training.validate(None).map_err(ApiError::Invalid)?;
    blocking(&state, move |s| {
        let refuse = |reason: String| {
            audit(
                s,
                &user.id,
                "swarm.refused",
                &req.project,
                serde_json::json!({ "reason": reason }),
            )?;
            Err(ApiError::Refused(reason))
        };
        let Some(project) = s.inner.db.project(&req.project).map_err(ApiError::internal)? else {
            return refuse(format!("no approved project '{}'", req.project));
        };
        if !project.researchers.contains(&user.id) {
            return refuse(format!("you are not a researcher of project '{}'", project.id));
        }
        if !project.plan.kinds.iter().any(|k| k == "cell-classifier") {
            return refuse(format!(
                "project '{}' is not approved for training cell classifiers (plan.kinds lacks cell-classifier)",
                project.id
            ));
        }
        if ![DataCategory::Clinical, DataCategory::Pathology]
            .iter()
            .all(|c| project.categories.contains(c))
        {
            return refuse(format!(
                "project '{}' is not approved for clinical and pathology data",
                project.id
            ));
        }
        let registered: Vec<String> = s
            .inner
            .db
            .sites()
            .map_err(ApiError::internal)?
            .into_iter()
            .map(|(site, _)| site)
            .collect();
        let mut participants = req.sites.clone().unwrap_or_else(|| registered.clone());
        participants.sort();
        participants.dedup();
        if let Some(unknown) = participants.iter().find(|p| !registered.contains(p)) {
            return Err(ApiError::Invalid(format!("{unknown} is not a registered site")));
        }
        if participants.len() < 2 {
            return Err(ApiError::Invalid(
                "a swarm run needs at least 2 sites".into(),
            ));
        }
        let now = Utc::now();
        consume_run_quota(s, &user.id, &project.id, now)?;
        let run = format!("swarm-{:032x}", rand::random::<u128>());
        let signed = SwarmGrant {
            run: run.clone(),
            project: project.id.clone(),
            researcher: user.id.clone(),
            participants,
            training: req.training.clone(),
            granted_at: now,
        }
        .sign(&s.inner.config.key)
        .map_err(ApiError::internal)?;
        audit(
            s,
            &user.id,
            "swarm.granted",
            &run,
            serde_json::json!({
                "project": project.id, "participants": signed.grant.participants,
                "model": signed.grant.training.name, "rounds": signed.grant.training.rounds,
            }),
        )?;
        let text = serde_json::to_string(&signed).map_err(ApiError::internal)?;
        s.inner
            .db
            .put_swarm_run(&run, &project.id, &user.id, &text, now)
            .map_err(ApiError::internal)?;
        Ok(Json(signed))
    })
    .await
}

async fn grant(
    State(state): State<AppState>,
    ApiPath(run): ApiPath<String>,
    req: SiteRequest,
) -> Result<Json<SignedSwarmGrant>, ApiError> {
    let site = req.site.to_string();
    blocking(&state, move |s| {
        let text = s
            .inner
            .db
            .swarm_run(&run)
            .map_err(ApiError::internal)?
            .ok_or(ApiError::NotFound)?;
        let grant: SignedSwarmGrant = serde_json::from_str(&text).map_err(ApiError::internal)?;
        if !grant.grant.participants.contains(&site) {
            return Err(ApiError::NotFound);
        }
        Ok(Json(grant))
    })
    .await
}
