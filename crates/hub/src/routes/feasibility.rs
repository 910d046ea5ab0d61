//! Feasibility queries: researcher in, one sealed task per site out, released figures back.

use super::{audit, audit_all, blocking};
use crate::auth::{AsResearcher, User};
use crate::db::{QueryRow, TaskRow};
use crate::json::ApiJson;
use crate::{ApiError, AppState, Role};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use oncofed_crypto::SignedEnvelope;
use oncofed_model::SiteId;
use oncofed_protocol::api::{FeasibilityRequest, FeasibilityResponse, QueryStatus, TaskState};
use oncofed_protocol::{QueryId, Task, TaskId, TaskKind};
use std::time::Duration;

/// Longest a researcher's request waits for the sites.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// `POST /v1/feasibility`, `GET /v1/feasibility/{id}`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/feasibility", post(submit))
        .route("/v1/feasibility/{id}", get(fetch))
}

async fn submit(
    AsResearcher(user): AsResearcher,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<FeasibilityRequest>,
) -> Result<Json<FeasibilityResponse>, ApiError> {
    req.criteria
        .validate()
        .map_err(|e| ApiError::Invalid(format!("criteria: {e}")))?;
    let wait = Duration::from_secs(req.wait_seconds.unwrap_or(10)).min(MAX_WAIT);
    let user_id = user.id.clone();
    let query_id = blocking(&state, move |s| {
        let now = Utc::now();
        {
            let mut limiter = s.inner.limiter.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(refusal) = limiter.check_and_consume(&user.id, now) {
                audit(s, &user.id, "query.refused", "rate-limit", serde_json::json!({ "reason": refusal.reason }))?;
                return Err(ApiError::RateLimited(refusal));
            }
            let snapshot = serde_json::to_string(&*limiter).map_err(ApiError::internal)?;
            s.inner.db.put_budget("*", &snapshot).map_err(ApiError::internal)?;
        }
        let query_id = QueryId::random();
        let cfg = &s.inner.config;
        let deadline = now + chrono::Duration::from_std(cfg.query_deadline).map_err(ApiError::internal)?;
        let expires_at = now + chrono::Duration::from_std(cfg.task_ttl).map_err(ApiError::internal)?;
        // The meaning's key: a reworded query gets the same sketch key as the original.
        let sketch_key = s.sketch_key(&req.criteria.semantic_key());
        let sites: Vec<String> = s.inner.db.sites().map_err(ApiError::internal)?.into_iter().map(|(site, _)| site).collect();
        let mut tasks = Vec::with_capacity(sites.len());
        for site in &sites {
            let task = Task {
                task_id: TaskId::random(),
                query_id: query_id.clone(),
                site: SiteId::new(site.clone()).map_err(ApiError::internal)?,
                kind: TaskKind::Feasibility { criteria: req.criteria.clone(), sketch_key: sketch_key.clone() },
                issued_at: now,
                expires_at,
            };
            let envelope = SignedEnvelope::seal(&task, &cfg.key).map_err(ApiError::internal)?;
            tasks.push(TaskRow {
                task_id: task.task_id,
                query_id: query_id.clone(),
                site: site.clone(),
                state: TaskState::Queued,
                attempts: 0,
                envelope: serde_json::to_string(&envelope).map_err(ApiError::internal)?,
                expires_at,
                outcome: None,
            });
        }
        let row = QueryRow {
            query_id: query_id.clone(),
            user_id: user.id.clone(),
            criteria: req.criteria.canonical_json(),
            description: req.criteria.describe(),
            deadline,
        };
        s.inner.db.insert_query(&row, now, &tasks).map_err(ApiError::internal)?;
        let details = serde_json::json!({ "criteria": row.description, "sites": sites, "purpose": "feasibility" });
        // The query and its tasks in one transaction: one sync to disk, not one per site.
        let issued = tasks.iter().map(|t| {
            ("hub", "task.issued", t.task_id.as_str(), serde_json::json!({ "query": query_id, "site": t.site }))
        });
        audit_all(s, std::iter::once((user.id.as_str(), "query.submitted", query_id.as_str(), details)).chain(issued))?;
        Ok(query_id)
    })
    .await?;
    for site in state.inner.db.sites().map_err(ApiError::internal)? {
        state.wakeup(&site.0).notify_one();
    }
    wait_for(&state, &query_id, wait).await;
    respond(&state, query_id, user_id).await
}

async fn fetch(
    user: User,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<FeasibilityResponse>, ApiError> {
    let query_id: QueryId = id.parse().map_err(|_| ApiError::NotFound)?;
    let owner = {
        let qid = query_id.clone();
        blocking(&state, move |s| {
            s.inner.db.query(&qid).map_err(ApiError::internal)
        })
        .await?
        .ok_or(ApiError::NotFound)?
        .user_id
    };
    match user.role {
        Role::Auditor => {}
        Role::Researcher if user.id == owner => {}
        // Another researcher's query looks like no query at all.
        Role::Researcher => return Err(ApiError::NotFound),
        Role::Admin | Role::Committee | Role::SiteAdmin => return Err(ApiError::Forbidden),
    }
    respond(&state, query_id, user.id).await
}

/// Waits until every task of the query is final, its deadline passed, or `wait` is over.
pub(crate) async fn wait_for(state: &AppState, query_id: &QueryId, wait: Duration) {
    let until = tokio::time::Instant::now() + wait;
    loop {
        let notified = state.inner.results.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let qid = query_id.clone();
        let done = blocking(state, move |s| {
            let q = s.inner.db.query(&qid).map_err(ApiError::internal)?;
            let tasks = s.inner.db.tasks(&qid).map_err(ApiError::internal)?;
            let final_ = tasks
                .iter()
                .all(|t| !matches!(t.state, TaskState::Queued | TaskState::Claimed));
            Ok(final_ || q.is_none_or(|q| Utc::now() >= q.deadline))
        })
        .await
        .unwrap_or(true);
        if done {
            return;
        }
        let deadline_left = until.saturating_duration_since(tokio::time::Instant::now());
        if deadline_left.is_zero() {
            return;
        }
        // Wake at least every second: the query deadline passes without a notification.
        let _ = tokio::time::timeout(deadline_left.min(Duration::from_secs(1)), notified).await;
    }
}

/// Aggregates, releases and audits the current figures of a query.
async fn respond(
    state: &AppState,
    query_id: QueryId,
    reader: String,
) -> Result<Json<FeasibilityResponse>, ApiError> {
    let response = blocking(state, move |s| {
        let now = Utc::now();
        s.inner
            .db
            .sweep(now, now - s.claim_timeout())
            .map_err(ApiError::internal)?;
        let query = s
            .inner
            .db
            .query(&query_id)
            .map_err(ApiError::internal)?
            .ok_or(ApiError::NotFound)?;
        let tasks = s.inner.db.tasks(&query_id).map_err(ApiError::internal)?;
        let response = crate::aggregate::release(s, &query, &tasks, now);
        // Audit each distinct release once per reader, not every poll.
        let disclosed = serde_json::json!({
            "status": response.status, "total": response.total,
            "per_site": response.per_site, "withheld": response.withheld,
        });
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            disclosed.to_string(),
        ));
        let seen = s
            .inner
            .db
            .last_release(&query_id, &reader)
            .map_err(ApiError::internal)?;
        if seen.as_deref() != Some(digest.as_str()) {
            let details = serde_json::json!({
                "status": response.status, "total": response.total,
                "per_site": response.per_site.is_some(), "withheld": response.withheld.is_some(),
            });
            audit(s, &reader, "release", query_id.as_str(), details)?;
            s.inner
                .db
                .put_release(&query_id, &reader, &digest)
                .map_err(ApiError::internal)?;
        }
        Ok(response)
    })
    .await?;
    if response.status == QueryStatus::Running {
        tracing::debug!(query = %response.query_id, "released a running query's interim figures");
    }
    Ok(Json(response))
}

impl AppState {
    pub(crate) fn claim_timeout(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.inner.config.claim_timeout)
            .unwrap_or(chrono::Duration::seconds(30))
    }
}
