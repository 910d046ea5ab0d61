//! The clerical-review queue for trust-centre staff (admin token):
//! `GET /v1/admin/review?limit=N` lists pending possible matches with a
//! field-by-field comparison (IDAT shown to staff here, never logged);
//! `POST /v1/admin/review/{id}` with `{decision, reviewer}` decides one. Every
//! decision is written to the audit trail inside the decision's transaction, so
//! an unaudited decision is never applied; every listing is audited with the ids
//! of the items shown.

use crate::AppState;
use crate::auth::AdminCaller;
use crate::db::now;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::json::ApiJson;
use crate::linkage::api::{ReviewDecisionRequest, ReviewDecisionResponse, ReviewList};
use crate::linkage::review::{DecideError, decide, pending};
use crate::routes::{audit, blocking};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

/// Items returned when the caller gives no limit, and the most ever returned.
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 1000;

/// The review routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/review", get(list))
        .route("/v1/admin/review/{id}", post(decide_item))
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<i64>,
}

async fn list(
    State(state): State<AppState>,
    _admin: AdminCaller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<ReviewList>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be 1-1000"));
    }
    let keys = state.inner.keys.clone();
    let (items, pending) = state
        .inner
        .db
        .read(move |conn| pending(conn, &keys, limit))
        .await?;
    // Showing IDAT to staff is an access to identities: audited, by item ids.
    let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
    let audit_state = state.clone();
    blocking(move || {
        audit::record(
            &audit_state,
            "admin",
            "linkage.review.listed",
            "review",
            serde_json::json!({ "items": ids }),
        )
    })
    .await??;
    Ok(Json(ReviewList { items, pending }))
}

async fn decide_item(
    State(state): State<AppState>,
    _admin: AdminCaller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ReviewDecisionRequest>,
) -> Result<Json<ReviewDecisionResponse>, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::invalid("id", "must be a review item number"))?;
    let reviewer = req.reviewer.trim().to_owned();
    if reviewer.is_empty() || reviewer.len() > 128 || reviewer.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "reviewer",
            "must be 1-128 bytes without control characters",
        ));
    }
    let keys = state.inner.keys.clone();
    let audit_state = state.clone();
    let decision = req.decision;
    let result = state
        .inner
        .db
        .write(move |conn| {
            Ok(decide(conn, &keys, id, decision, &reviewer, now(), |d| {
                crate::routes::audit::record(
                    &audit_state,
                    "admin",
                    "linkage.review.decided",
                    &format!("review/{id}"),
                    serde_json::json!({
                        "review_item": id,
                        "decision": decision.as_str(),
                        "reviewer": reviewer,
                        "score": d.score,
                        "merged": d.merged,
                        "research_pseudonym": d.research,
                    }),
                )
            }))
        })
        .await?;
    let decided = match result {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => return Err(e),
        Err(DecideError::NotPending) => {
            return Err(ApiError::invalid(
                "id",
                "no pending review item with this id",
            ));
        }
        Err(DecideError::Store(e)) => return Err(e.into()),
    };
    tracing::info!(item = id, merged = decided.merged, "review item decided");
    Ok(Json(ReviewDecisionResponse {
        id,
        decision,
        merged: decided.merged,
        research_pseudonym: decided.research,
    }))
}
