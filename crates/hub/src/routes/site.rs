//! The outbound-only site channel: sites long-poll for sealed tasks and post sealed outcomes.

use super::{audit, blocking};
use crate::query::ApiQuery;
use crate::site_request::{MAX_RESULT_BODY, SiteRequest};
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use oncofed_crypto::SignedEnvelope;
use oncofed_protocol::TaskOutcome;
use oncofed_protocol::api::AUDIT_CHECKPOINT_HEADER;
use serde::Deserialize;
use std::time::Duration;

/// Most tasks handed out in one poll.
const MAX_TASKS_PER_POLL: usize = 16;

/// `GET /v1/site/tasks?wait=S`, `POST /v1/site/results`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/site/tasks", get(tasks))
        .route("/v1/site/results", post(results))
}

#[derive(Deserialize)]
struct PollParams {
    #[serde(default)]
    wait: Option<u64>,
}

/// Hands out the site's queued tasks, waiting up to `wait` seconds for one to appear.
async fn tasks(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<PollParams>,
    req: SiteRequest,
) -> Result<Response, ApiError> {
    let wait = Duration::from_secs(params.wait.unwrap_or(0)).min(state.inner.config.max_poll);
    let until = tokio::time::Instant::now() + wait;
    let wakeup = state.wakeup(req.site.as_str());
    loop {
        let notified = wakeup.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let site = req.site.to_string();
        let claimed = blocking(&state, move |s| {
            let now = Utc::now();
            s.inner
                .db
                .sweep(now, now - s.claim_timeout())
                .map_err(ApiError::internal)?;
            let envelopes = s
                .inner
                .db
                .claim(&site, now, MAX_TASKS_PER_POLL)
                .map_err(ApiError::internal)?;
            let mut out = Vec::with_capacity(envelopes.len());
            let mut audited = 0;
            for e in envelopes {
                let envelope: SignedEnvelope =
                    serde_json::from_str(&e).map_err(ApiError::internal)?;
                if !is_audited_elsewhere(&envelope) {
                    audited += 1;
                }
                out.push(envelope);
            }
            // Analysis steps are audited per run and per aggregation round by the
            // hub's driver (`analysis.rs`), not per message: an audit append is an
            // fsync, and a run exchanges a dozen messages per site. Beacon tasks
            // are audited once per query (`beacon.rs`), which is interactive. The claim and
            // the checkpoint the site takes home are one transaction (one fsync).
            let mut head = None;
            if audited > 0 {
                let (_, checkpoint) = s
                    .inner
                    .audit
                    .append_checkpointed(
                        &site,
                        "task.claimed",
                        &site,
                        serde_json::json!({ "tasks": audited }),
                    )
                    .map_err(ApiError::internal)?;
                head = Some(checkpoint);
            }
            Ok((out, head))
        })
        .await?;
        let (claimed, head) = claimed;
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        if head.is_some() {
            return Ok(with_audit_head(Json(claimed), head));
        }
        if !claimed.is_empty() || left.is_zero() {
            let head = blocking(&state, |s| {
                s.inner.audit.checkpoint().map_err(ApiError::internal)
            })
            .await?;
            return Ok(with_audit_head(Json(claimed), head));
        }
        let _ = tokio::time::timeout(left, notified).await;
    }
}

/// The answer to a poll with the hub's newest signed audit checkpoint in the
/// [`AUDIT_CHECKPOINT_HEADER`]: every site witnesses the trail's head, so a trail
/// later cut back or rewritten no longer matches what the sites kept
/// (`oncofed_audit::observe`, `verify_export_witnessed`).
fn with_audit_head(
    body: Json<Vec<SignedEnvelope>>,
    head: Option<oncofed_audit::Checkpoint>,
) -> Response {
    let mut response = body.into_response();
    let value = head
        .and_then(|c| serde_json::to_string(&c).ok())
        .and_then(|json| HeaderValue::from_str(&json).ok());
    if let Some(value) = value {
        response
            .headers_mut()
            .insert(AUDIT_CHECKPOINT_HEADER, value);
    }
    response
}

/// Whether a sealed task is a step of an analysis run or a Beacon query (its
/// payload's kind tag): both are audited by their own routes.
fn is_audited_elsewhere(envelope: &SignedEnvelope) -> bool {
    #[derive(Deserialize)]
    struct Kind {
        #[serde(rename = "type")]
        tag: String,
    }
    #[derive(Deserialize)]
    struct TaskKindOnly {
        kind: Kind,
    }
    serde_json::from_str::<TaskKindOnly>(&envelope.payload)
        .is_ok_and(|t| t.kind.tag == "analysis" || t.kind.tag == "beacon")
}

/// Accepts a sealed outcome from the site that was sent the task.
async fn results(
    State(state): State<AppState>,
    req: SiteRequest<MAX_RESULT_BODY>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let envelope: SignedEnvelope = serde_json::from_slice(&req.body)
        .map_err(|_| ApiError::Invalid("body must be a sealed task outcome".into()))?;
    let key = state
        .site_key(req.site.as_str())
        .ok_or(ApiError::Unauthorized)?;
    let outcome: TaskOutcome = envelope.open(&key).map_err(|e| {
        tracing::warn!(site = %req.site, error = %e, "outcome with a bad seal refused");
        ApiError::Invalid("the outcome's seal does not verify with this site's key".into())
    })?;
    if outcome.site != req.site {
        return Err(ApiError::Invalid("the outcome names another site".into()));
    }
    let stored = serde_json::to_string(&envelope).map_err(ApiError::internal)?;
    let accepted = blocking(&state, move |s| {
        let ok = outcome.result.is_ok();
        let query = s
            .inner
            .db
            .complete(&outcome.task_id, outcome.site.as_str(), ok, &stored)
            .map_err(ApiError::internal)?;
        // Analysis replies are audited per round, Beacon answers once per query
        // with the released figure only (a site's count below k is never written).
        let elsewhere = matches!(
            outcome.result,
            Ok(oncofed_protocol::TaskAnswer::Analysis(_) | oncofed_protocol::TaskAnswer::Beacon(_))
        );
        if !elsewhere {
            let details = serde_json::json!({
                "task": outcome.task_id, "succeeded": ok, "accepted": query.is_some(),
                "count": outcome.result.as_ref().ok().and_then(|a| a.feasibility()).map(|a| a.count),
            });
            audit(
                s,
                outcome.site.as_str(),
                "result.received",
                outcome.query_id.as_str(),
                details,
            )?;
        }
        Ok(query.is_some())
    })
    .await?;
    state.inner.results.notify_waiters();
    Ok(Json(serde_json::json!({ "accepted": accepted })))
}
