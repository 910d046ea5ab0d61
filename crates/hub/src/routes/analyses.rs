//! Projects and analysis runs.
//!
//! - `POST /v1/admin/projects` (admin): approve a project for named researchers,
//!   data categories and a privacy budget; `GET /v1/admin/projects` lists them.
//! - `GET /v1/projects` (researcher): the caller's projects with ε spent.
//! - `POST /v1/analyses` (researcher, member of the project): start a run,
//!   within the per-user rate limit and weekly quota of analysis runs;
//!   `GET /v1/analyses/{id}?wait=S` its state and released result.
//!
//! Every release is differentially private for its counts of people: with the
//! request's ε, or the hub's `default_release_epsilon` (0.1) when it names none.
//! A release with ε is charged to its project's budget and to the federation's
//! lifetime dataset budget (`HubConfig::dataset_epsilon_budget`, basic
//! composition; see `db::projects`), checked at submission and again, atomically,
//! at release: more researchers or projects do not multiply the ε spent on the
//! same patients.
//!
//! Every approval, submission, refusal, spend and release is audited.

use super::{audit, blocking};
use crate::analysis::{HubFederation, api_error, limits_for};
use crate::auth::{AsAdmin, AsResearcher, User};
use crate::db::{BudgetScope, QueryRow};
use crate::json::ApiJson;
use crate::query::{ApiPath, ApiQuery};
use crate::{ApiError, AppState, Role};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use oncofed_protocol::QueryId;
use oncofed_protocol::analysis::{
    AnalysisRequest, AnalysisResponse, Project, ProjectStatus, RunState,
};
use serde::Deserialize;
use std::time::Duration;

/// Longest a request waits for a run.
const MAX_WAIT: Duration = Duration::from_secs(120);

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/projects", post(approve).get(list_all))
        .route("/v1/projects", get(list_mine))
        .route("/v1/analyses", post(submit))
        .route("/v1/analyses/{id}", get(fetch))
}

async fn approve(
    AsAdmin(user): AsAdmin,
    State(state): State<AppState>,
    ApiJson(project): ApiJson<Project>,
) -> Result<Json<Project>, ApiError> {
    project.validate().map_err(ApiError::Invalid)?;
    blocking(&state, move |s| {
        s.inner
            .db
            .put_project(&project, &user.id, Utc::now())
            .map_err(ApiError::internal)?;
        audit(
            s,
            &user.id,
            "project.approved",
            &project.id,
            serde_json::to_value(&project).map_err(ApiError::internal)?,
        )?;
        Ok(Json(project))
    })
    .await
}

async fn list_all(
    user: User,
    State(state): State<AppState>,
) -> Result<Json<Vec<Project>>, ApiError> {
    if !matches!(user.role, Role::Admin | Role::Auditor) {
        return Err(ApiError::Forbidden);
    }
    blocking(&state, |s| {
        Ok(Json(s.inner.db.projects().map_err(ApiError::internal)?))
    })
    .await
}

async fn list_mine(
    user: User,
    State(state): State<AppState>,
) -> Result<Json<Vec<ProjectStatus>>, ApiError> {
    user.require(Role::Researcher)?;
    blocking(&state, move |s| {
        let mut out = Vec::new();
        for project in s.inner.db.projects().map_err(ApiError::internal)? {
            if project.researchers.contains(&user.id) {
                let epsilon_spent = s
                    .inner
                    .db
                    .spent(&project.id, &user.id)
                    .map_err(ApiError::internal)?;
                out.push(ProjectStatus {
                    project,
                    epsilon_spent,
                });
            }
        }
        Ok(Json(out))
    })
    .await
}

/// Checks project membership, categories and budget; refusals are audited.
fn admit(state: &AppState, user: &str, req: &AnalysisRequest) -> Result<Project, ApiError> {
    let refuse = |reason: String| {
        audit(
            state,
            user,
            "analysis.refused",
            &req.project,
            serde_json::json!({ "reason": reason }),
        )?;
        Err(ApiError::Refused(reason))
    };
    let Some(project) = state
        .inner
        .db
        .project(&req.project)
        .map_err(ApiError::internal)?
    else {
        return refuse(format!("no approved project '{}'", req.project));
    };
    if !project.researchers.iter().any(|r| r == user) {
        return refuse(format!(
            "you are not a researcher of project '{}'",
            project.id
        ));
    }
    let outside: Vec<String> = req
        .categories()
        .into_iter()
        .filter(|c| !project.categories.contains(c))
        .map(|c| format!("{c:?}").to_lowercase())
        .collect();
    if !outside.is_empty() {
        return refuse(format!(
            "project '{}' is not approved for the data categories {}",
            project.id,
            outside.join(", ")
        ));
    }
    // The approval fixes what a run may compute; the run's signed plan follows.
    if let Err(reason) = project.plan.admits(req) {
        return refuse(reason);
    }
    // Exact event days put sums over single deaths in the hub's hands; never
    // for genetic data, whatever the approval says (issue 11, item 3).
    let exact = req.analysis.survival().is_some_and(|s| s.exact_times);
    if exact
        && oncofed_model::SecurityLevel::of_dataset(req.categories())
            >= oncofed_model::SecurityLevel::Genetic
    {
        return refuse("exact event days are never allowed over genetic data".into());
    }
    if let Some(e) = req.epsilon {
        let spent = state
            .inner
            .db
            .spent(&project.id, user)
            .map_err(ApiError::internal)?;
        if !crate::db::fits(spent, e, project.epsilon_budget) {
            return refuse(format!(
                "privacy budget exhausted: spent ε = {spent}, this release needs {e}, the project allows {}",
                project.epsilon_budget
            ));
        }
        // The federation's lifetime budget, whoever spent it.
        let everyone = state.inner.db.dataset_spent().map_err(ApiError::internal)?;
        let dataset = state.inner.config.dataset_epsilon_budget;
        if !crate::db::fits(everyone, e, dataset) {
            return refuse(format!(
                "dataset privacy budget exhausted: all projects together spent ε = {everyone}, this release needs {e}, the federation allows {dataset} in its lifetime"
            ));
        }
    }
    Ok(project)
}

/// Charges one run to the user's analysis rate limit and weekly quota
/// ([`HubConfig::analysis_runs`](crate::HubConfig::analysis_runs)), after
/// admission so that a refused request costs nothing; refusals are audited.
pub(super) fn consume_run_quota(
    state: &AppState,
    user: &str,
    project: &str,
    now: chrono::DateTime<Utc>,
) -> Result<(), ApiError> {
    let mut limiter = state
        .inner
        .analysis_limiter
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Err(refusal) = limiter.check_and_consume(user, now) {
        audit(
            state,
            user,
            "analysis.refused",
            project,
            serde_json::json!({ "reason": refusal.reason }),
        )?;
        return Err(ApiError::RateLimited(refusal));
    }
    limiter.forget_idle(now);
    let snapshot = serde_json::to_string(&*limiter).map_err(ApiError::internal)?;
    state
        .inner
        .db
        .put_budget(crate::ANALYSIS_LIMITER, &snapshot)
        .map_err(ApiError::internal)
}

async fn submit(
    AsResearcher(user): AsResearcher,
    State(state): State<AppState>,
    ApiJson(mut req): ApiJson<AnalysisRequest>,
) -> Result<Json<AnalysisResponse>, ApiError> {
    // Every release carries counts of people: without an ε of its own it is
    // released under the hub's default ε and charged like any other (issue 11:
    // releases without ε were free and unlimited).
    if req.epsilon.is_none() {
        req.epsilon = state.inner.config.default_release_epsilon;
    }
    oncofed_analysis::driver::validate(&req).map_err(|e| api_error(&e))?;
    let wait = Duration::from_secs(req.wait_seconds.unwrap_or(0)).min(MAX_WAIT);
    let user_id = user.id.clone();
    let request = req.clone();
    let (run_id, project) = blocking(&state, move |s| {
        let project = admit(s, &user.id, &req)?;
        let now = Utc::now();
        consume_run_quota(s, &user.id, &project.id, now)?;
        let run_id = QueryId::random();
        let text = serde_json::to_string(&req).map_err(ApiError::internal)?;
        let row = QueryRow {
            query_id: run_id.clone(),
            user_id: user.id.clone(),
            criteria: text.clone(),
            description: format!("analysis: {}", req.analysis.kind()),
            deadline: now + chrono::Duration::hours(1),
        };
        s.inner
            .db
            .insert_analysis(&row, &project.id, &text, now)
            .map_err(ApiError::internal)?;
        let categories: Vec<String> = req
            .categories()
            .iter()
            .map(|c| format!("{c:?}").to_lowercase())
            .collect();
        audit(
            s,
            &user.id,
            "analysis.submitted",
            run_id.as_str(),
            serde_json::json!({
                "project": project.id, "analysis": req.analysis.kind(),
                "variables": req.analysis.variables().iter().map(|v| v.name()).collect::<Vec<_>>(),
                "categories": categories, "epsilon": req.epsilon,
            }),
        )?;
        Ok((run_id, project))
    })
    .await?;
    tokio::spawn(drive(
        state.clone(),
        run_id.clone(),
        user_id.clone(),
        request,
        project,
    ));
    respond(&state, run_id, wait).await
}

/// Runs the analysis to its end and records the outcome.
async fn drive(
    state: AppState,
    run_id: QueryId,
    user: String,
    request: AnalysisRequest,
    project: Project,
) {
    let handle = tokio::runtime::Handle::current();
    let s = state.clone();
    let rid = run_id.clone();
    let req = request.clone();
    let plan_limits = project.plan.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let limits = limits_for(&s, &req);
        let started = std::time::Instant::now();
        let mut fed = HubFederation::prepare(&s, &handle, rid, &req, &limits, &plan_limits)?;
        let admission = started.elapsed().as_secs_f64();
        let result = oncofed_analysis::run(&req, &limits, &mut fed);
        fed.finish();
        result.map(|mut r| {
            r.run_mut().sat_out = fed.sat_out().to_vec();
            r.run_mut().left = fed.left().to_vec();
            r.run_mut().admission_seconds = Some(admission);
            r.run_mut().aggregation_seconds = Some(started.elapsed().as_secs_f64() - admission);
            r
        })
    })
    .await;
    let s = state.clone();
    let finished = blocking(&state, move |_| {
        let now = Utc::now();
        let outcome = match outcome {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err("the run failed inside the hub".to_string()),
        };
        let outcome = match (outcome, request.epsilon) {
            (Ok(result), Some(e)) => match s
                .inner
                .db
                .spend(
                    &project.id,
                    &user,
                    &run_id,
                    e,
                    project.epsilon_budget,
                    s.inner.config.dataset_epsilon_budget,
                    now,
                )
                .map_err(ApiError::internal)?
            {
                Ok(total) => {
                    audit(
                        &s,
                        &user,
                        "privacy.spent",
                        run_id.as_str(),
                        serde_json::json!({ "project": project.id, "epsilon": e, "total": total }),
                    )?;
                    Ok(result)
                }
                Err(refused) => Err(match refused.scope {
                    BudgetScope::Project => format!(
                        "privacy budget exhausted: spent ε = {}, the project allows {}",
                        refused.spent, refused.budget
                    ),
                    BudgetScope::Dataset => format!(
                        "dataset privacy budget exhausted: all projects together spent ε = {}, the federation allows {} in its lifetime",
                        refused.spent, refused.budget
                    ),
                }),
            },
            (o, _) => o,
        };
        match outcome {
            Ok(result) => {
                let text = serde_json::to_string(&result).map_err(ApiError::internal)?;
                s.inner
                    .db
                    .finish_analysis(&run_id, RunState::Done, Some(&text), None, now)
                    .map_err(ApiError::internal)?;
                let run = result.run();
                audit(
                    &s,
                    "hub",
                    "analysis.released",
                    run_id.as_str(),
                    serde_json::json!({
                        "project": project.id, "user": user, "sites": run.sites,
                        "rows": run.rows, "rounds": run.rounds, "epsilon": run.epsilon,
                    }),
                )
            }
            Err(reason) => {
                s.inner
                    .db
                    .finish_analysis(&run_id, RunState::Failed, None, Some(&reason), now)
                    .map_err(ApiError::internal)?;
                audit(
                    &s,
                    "hub",
                    "analysis.failed",
                    run_id.as_str(),
                    serde_json::json!({ "project": project.id, "user": user, "reason": reason }),
                )
            }
        }
    })
    .await;
    if let Err(e) = finished {
        tracing::error!(error = ?e, "could not record an analysis outcome");
    }
    state.inner.results.notify_waiters();
}

#[derive(Deserialize)]
struct WaitParams {
    #[serde(default)]
    wait: Option<u64>,
}

async fn fetch(
    user: User,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<WaitParams>,
) -> Result<Json<AnalysisResponse>, ApiError> {
    let run_id: QueryId = id.parse().map_err(|_| ApiError::NotFound)?;
    let rid = run_id.clone();
    let row = blocking(&state, move |s| {
        s.inner.db.analysis(&rid).map_err(ApiError::internal)
    })
    .await?
    .ok_or(ApiError::NotFound)?;
    match user.role {
        Role::Auditor => {}
        Role::Researcher if user.id == row.user_id => {}
        Role::Researcher => return Err(ApiError::NotFound),
        Role::Admin | Role::Committee | Role::SiteAdmin => return Err(ApiError::Forbidden),
    }
    let wait = Duration::from_secs(params.wait.unwrap_or(0)).min(MAX_WAIT);
    respond(&state, run_id, wait).await
}

/// The run's state, waiting up to `wait` for it to end.
async fn respond(
    state: &AppState,
    run_id: QueryId,
    wait: Duration,
) -> Result<Json<AnalysisResponse>, ApiError> {
    let until = tokio::time::Instant::now() + wait;
    loop {
        let notified = state.inner.results.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let rid = run_id.clone();
        let row = blocking(state, move |s| {
            s.inner.db.analysis(&rid).map_err(ApiError::internal)
        })
        .await?
        .ok_or(ApiError::NotFound)?;
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        if row.state != RunState::Running || left.is_zero() {
            return Ok(Json(AnalysisResponse {
                run_id,
                state: row.state,
                result: row
                    .result
                    .as_deref()
                    .and_then(|r| serde_json::from_str(r).ok()),
                error: row.error,
            }));
        }
        let _ = tokio::time::timeout(left.min(Duration::from_secs(1)), notified).await;
    }
}
