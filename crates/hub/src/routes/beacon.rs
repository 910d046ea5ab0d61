//! The federated Beacon v2.1.1 (issue 16): `/beacon/v2/` informational
//! endpoints and `g_variants`, answered by the sites.
//!
//! **Callers.** No token: role `Public`, and every anonymous caller is the one
//! researcher `public` (one rate limit, and at the sites one risk budget per
//! individual: per-caller ids for anonymous users would let anyone reset the
//! budget). A researcher's token: `Registered`. A researcher's token and
//! `?project=<id>` (or the `x-oncofed-project` header) naming an approved
//! project that lists the caller and the category `genetic` or `germline`:
//! `Controlled`. Any other token, or a project that does not qualify, is
//! refused (401/403). Granularity follows `oncofed_beacon::granularity` for the
//! data set's level.
//!
//! **Data set.** Somatic and germline calls of every registered site
//! (`oncofed_node::agent::beacon` says how a site counts); germline data makes
//! it level 3 (`Genetic`), and the beacon joins no clinical data, so not 4.
//!
//! **A query**: parse (`RequestBody`, 400 on any error) → role → granularity
//! check → rate limit and query budget (`admit` over the hub store, 429) → one
//! sealed task per registered site carrying the query, the caller, the beacon
//! size and the hub's defences, valid until the deadline
//! ([`crate::BeaconConfig::deadline`], 10 s) → the answers that arrived →
//! `hub_release` → the boolean or count response, whose `info` names the sites
//! left out. One audit entry per query (caller, role, query fingerprint,
//! granularity, exists and the released count or `suppressed`); the sites'
//! counts are neither audited nor logged.

use super::{audit, blocking};
use crate::db::{QueryRow, TaskRow};
use crate::{AppState, Role as UserRole};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use oncofed_crypto::SignedEnvelope;
use oncofed_model::{DataCategory, SecurityLevel, SiteId};
use oncofed_protocol::api::TaskState;
use oncofed_protocol::beacon::defence::{HubQuery, ResearcherId, hub_release};
use oncofed_protocol::beacon::granularity::{Role, grant};
use oncofed_protocol::beacon::model::{
    ConfigurationResponse, EntryTypesResponse, ErrorResponse, FilteringTermsResponse, InfoResponse,
    MapResponse, ReceivedRequestSummary, RequestBody,
};
use oncofed_protocol::{BeaconTask, QueryId, Task, TaskId, TaskKind};
use serde_json::{Value, json};

/// The researcher id every anonymous caller shares.
pub const PUBLIC_CALLER: &str = "public";
/// Header naming the project of a controlled-access query.
pub const PROJECT_HEADER: &str = "x-oncofed-project";

/// The level of the Beacon data set: somatic and germline calls, unlinked.
pub fn beacon_level() -> SecurityLevel {
    SecurityLevel::of_dataset([DataCategory::Genetic, DataCategory::Germline])
}

/// The `/beacon/v2/` routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/beacon/v2", get(info))
        .route("/beacon/v2/", get(info))
        .route("/beacon/v2/info", get(info))
        .route("/beacon/v2/configuration", get(configuration))
        .route("/beacon/v2/map", get(map))
        .route("/beacon/v2/entry_types", get(entry_types))
        .route("/beacon/v2/filtering_terms", get(filtering_terms))
        .route(
            "/beacon/v2/g_variants",
            get(g_variants_get).post(g_variants_post),
        )
}

fn json_response(status: StatusCode, value: Value) -> Response {
    (status, Json(value)).into_response()
}

async fn info(State(state): State<AppState>) -> Response {
    let id = &state.inner.config.beacon.identity;
    let description = "Somatic and germline variants of the OncoFed sites, counted at each site \
        under consent (genetic opt-in) and per-researcher risk budgets, released by the hub \
        under rare-allele suppression, noise and rounding. Boolean for anonymous callers, \
        counts for registered researchers; never records.";
    to_json(InfoResponse::new(id, description))
}

async fn configuration(State(state): State<AppState>) -> Response {
    to_json(ConfigurationResponse::new(
        &state.inner.config.beacon.identity,
        &Role::ALL,
    ))
}

async fn map(State(state): State<AppState>) -> Response {
    to_json(MapResponse::new(&state.inner.config.beacon.identity))
}

async fn entry_types(State(state): State<AppState>) -> Response {
    to_json(EntryTypesResponse::new(&state.inner.config.beacon.identity))
}

async fn filtering_terms(State(state): State<AppState>) -> Response {
    // No filters are served: a filter would link the variant to clinical data
    // (level 4), which this beacon does not answer.
    to_json(FilteringTermsResponse::new(
        &state.inner.config.beacon.identity,
        &[],
        &[],
    ))
}

fn to_json(doc: impl serde::Serialize) -> Response {
    match serde_json::to_value(doc) {
        Ok(v) => json_response(StatusCode::OK, v),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A Beacon error document with its HTTP status.
fn error(state: &AppState, summary: ReceivedRequestSummary, code: u16, message: &str) -> Response {
    let doc = ErrorResponse::new(&state.inner.config.beacon.identity, summary, code, message);
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match serde_json::to_value(doc) {
        Ok(v) => json_response(status, v),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    if code == 429 {
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("60"),
        );
    }
    response
}

async fn g_variants_get(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let pairs: Vec<(String, String)> = match uri.query() {
        None => Vec::new(),
        Some(q) => match serde_urlencoded_pairs(q) {
            Some(p) => p,
            None => {
                return error(
                    &state,
                    ReceivedRequestSummary::unreadable(),
                    400,
                    "query string: not URL-encoded",
                );
            }
        },
    };
    let (project, rest): (Vec<_>, Vec<_>) = pairs.into_iter().partition(|(k, _)| k == "project");
    let request = RequestBody::from_query_pairs(rest);
    let project = project.into_iter().map(|(_, v)| v).next();
    run(state, headers, project, request).await
}

async fn g_variants_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let project = uri
        .query()
        .and_then(serde_urlencoded_pairs)
        .and_then(|p| p.into_iter().find(|(k, _)| k == "project").map(|(_, v)| v));
    run(state, headers, project, RequestBody::from_json(&body)).await
}

/// Decoded `application/x-www-form-urlencoded` pairs, `None` if malformed.
fn serde_urlencoded_pairs(q: &str) -> Option<Vec<(String, String)>> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
        &format!("/?{q}").parse::<Uri>().ok()?,
    )
    .ok()
    .map(|axum::extract::Query(p)| p)
}

/// Who is asking: the Beacon role and the id budgets are charged to.
fn caller(
    state: &AppState,
    headers: &HeaderMap,
    project: Option<String>,
) -> Result<(Role, String, Option<String>), (u16, String)> {
    let project = project.or_else(|| {
        headers
            .get(PROJECT_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    let Some(token) = oncofed_service::tokens::bearer_token(headers) else {
        if headers.contains_key(axum::http::header::AUTHORIZATION) {
            return Err((401, "unreadable bearer token".into()));
        }
        return match project {
            Some(_) => Err((401, "a project needs a researcher's token".into())),
            None => Ok((Role::Public, PUBLIC_CALLER.into(), None)),
        };
    };
    let Some((id, role)) = state.inner.config.users.authenticate(token) else {
        return Err((401, "unknown token".into()));
    };
    if role != UserRole::Researcher {
        return Err((403, "only researchers query the beacon with a token".into()));
    }
    let Some(project) = project else {
        return Ok((Role::Registered, id, None));
    };
    let found = state
        .inner
        .db
        .project(&project)
        .map_err(|_| (500, "hub store error".to_owned()))?;
    let qualifies = found.is_some_and(|p| {
        p.researchers.contains(&id)
            && (p.categories.contains(&DataCategory::Genetic)
                || p.categories.contains(&DataCategory::Germline))
    });
    if !qualifies {
        return Err((
            403,
            "the project is not approved for this researcher and genetic or germline data".into(),
        ));
    }
    Ok((Role::Controlled, id, Some(project)))
}

async fn run(
    state: AppState,
    headers: HeaderMap,
    project: Option<String>,
    request: Result<RequestBody, oncofed_protocol::beacon::model::RequestError>,
) -> Response {
    let request = match request {
        Ok(r) => r,
        Err(e) => {
            return error(
                &state,
                ReceivedRequestSummary::unreadable(),
                400,
                &e.to_string(),
            );
        }
    };
    let summary = || ReceivedRequestSummary::of(&request);
    let query = match request.variant_query() {
        Ok(q) => q,
        Err(e) => return error(&state, summary(), 400, &e.to_string()),
    };
    let caller = {
        let (s, h) = (state.clone(), headers.clone());
        tokio::task::spawn_blocking(move || caller(&s, &h, project)).await
    };
    let (role, researcher, project) = match caller {
        Ok(Ok(c)) => c,
        Ok(Err((code, message))) => return error(&state, summary(), code, &message),
        Err(_) => return error(&state, summary(), 500, "internal error"),
    };
    let level = beacon_level();
    let requested = request.query.requested_granularity;
    if let Err(refused) = grant(level, role, requested) {
        return error(
            &state,
            summary(),
            refused.error_code(),
            &refused.to_string(),
        );
    }
    let fingerprint = query.fingerprint();
    let started = tokio::time::Instant::now();
    let asked = {
        let (fp, who) = (fingerprint.clone(), researcher.clone());
        blocking(&state, move |s| issue(s, query, &fp, &who, role))
    }
    .await;
    let (query_id, sites) = match asked {
        Ok(Ok(issued)) => issued,
        Ok(Err(refusal)) => return error(&state, summary(), 429, &refusal),
        Err(e) => {
            tracing::error!(error = ?e, "beacon query not issued");
            return error(&state, summary(), 500, "internal error");
        }
    };
    for site in &sites {
        state.wakeup(site).notify_one();
    }
    let deadline = state.inner.config.beacon.deadline;
    super::feasibility::wait_for(&state, &query_id, deadline).await;
    let answered = {
        let qid = query_id.clone();
        blocking(&state, move |s| collect(s, &qid)).await
    };
    let (counts, answered, missing) = match answered {
        Ok(a) => a,
        Err(_) => return error(&state, summary(), 500, "internal error"),
    };
    if answered.is_empty() {
        let _ = blocking(&state, {
            let (who, fp, qid) = (researcher.clone(), fingerprint.clone(), query_id.clone());
            move |s| {
                audit(
                    s,
                    &who,
                    "beacon.query",
                    qid.as_str(),
                    json!({
                        "role": role.beacon_security_level(), "query": fp,
                        "answer": "unavailable", "sites_missing": missing.len(),
                    }),
                )
            }
        })
        .await;
        return error(
            &state,
            summary(),
            503,
            "no site answered within the deadline",
        );
    }
    let cfg = &state.inner.config.beacon;
    let hub_query = HubQuery {
        fingerprint: &fingerprint,
        level,
        role,
        requested,
        hub_secret: &state.inner.sketch_secret,
    };
    let release = match hub_release(&counts, &cfg.defences, &hub_query) {
        Ok(r) => r,
        Err(refused) => {
            return error(
                &state,
                summary(),
                refused.error_code(),
                &refused.to_string(),
            );
        }
    };
    let mut doc = release.to_response(&cfg.identity, summary());
    if let Some(info) = doc.get_mut("info").and_then(Value::as_object_mut) {
        info.insert(
            "oncofedSites".into(),
            json!({ "asked": answered.len() + missing.len(), "answered": answered.len(),
                    "leftOut": missing }),
        );
    }
    let released = match (release.adjustment, release.count) {
        (oncofed_protocol::beacon::defence::Adjustment::None, Some(c)) => json!(c),
        (oncofed_protocol::beacon::defence::Adjustment::None, None) => Value::Null,
        _ => json!("suppressed"),
    };
    let details = json!({
        "role": role.beacon_security_level(),
        "project": project,
        "query": fingerprint,
        "granularity": release.granularity.as_str(),
        "exists": release.exists,
        "count": released,
        "sites_answered": answered.len(),
        "sites_left_out": missing,
        "ms": started.elapsed().as_millis() as u64,
    });
    let audited = blocking(&state, move |s| {
        audit(s, &researcher, "beacon.query", query_id.as_str(), details)
    })
    .await;
    if audited.is_err() {
        // No unaudited disclosure.
        return error(&state, summary(), 500, "internal error");
    }
    json_response(StatusCode::OK, doc)
}

/// Admits the query and writes one sealed task per registered site; the
/// refusal text when the rate limit or query budget says no (audited).
#[allow(clippy::type_complexity)]
fn issue(
    s: &AppState,
    query: oncofed_protocol::beacon::model::VariantQuery,
    fingerprint: &str,
    researcher: &str,
    role: Role,
) -> Result<Result<(QueryId, Vec<String>), String>, crate::ApiError> {
    use crate::ApiError;
    let cfg = &s.inner.config;
    let now = Utc::now();
    let who = ResearcherId::new(researcher);
    let verdict = s
        .inner
        .db
        .beacon_admit(
            &who,
            now.timestamp().max(0) as u64,
            &cfg.beacon.defences.rate,
        )
        .map_err(ApiError::internal)?;
    if let Err(refusal) = verdict {
        audit(
            s,
            researcher,
            "beacon.refused",
            "rate-limit",
            json!({
                "role": role.beacon_security_level(), "query": fingerprint,
                "reason": refusal.to_string(),
            }),
        )?;
        return Ok(Err(refusal.to_string()));
    }
    let beacon_size = s.inner.db.beacon_size().map_err(ApiError::internal)?;
    let query_id = QueryId::random();
    let deadline =
        now + chrono::Duration::from_std(cfg.beacon.deadline).map_err(ApiError::internal)?;
    let sites: Vec<String> = s
        .inner
        .db
        .sites()
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|(site, _)| site)
        .collect();
    let beacon = BeaconTask {
        query,
        researcher: researcher.to_owned(),
        beacon_size,
        defences: cfg.beacon.defences.clone(),
    };
    let mut tasks = Vec::with_capacity(sites.len());
    for site in &sites {
        let task = Task {
            task_id: TaskId::random(),
            query_id: query_id.clone(),
            site: SiteId::new(site.clone()).map_err(ApiError::internal)?,
            kind: TaskKind::Beacon(Box::new(beacon.clone())),
            issued_at: now,
            // Past the deadline nobody waits for the answer: a site that gets
            // the task later refuses it and charges no budget.
            expires_at: deadline,
        };
        let envelope = SignedEnvelope::seal(&task, &cfg.key).map_err(ApiError::internal)?;
        tasks.push(TaskRow {
            task_id: task.task_id,
            query_id: query_id.clone(),
            site: site.clone(),
            state: TaskState::Queued,
            attempts: 0,
            envelope: serde_json::to_string(&envelope).map_err(ApiError::internal)?,
            expires_at: deadline,
            outcome: None,
        });
    }
    let row = QueryRow {
        query_id: query_id.clone(),
        user_id: researcher.to_owned(),
        criteria: fingerprint.to_owned(),
        description: format!("beacon g_variants {fingerprint}"),
        deadline,
    };
    s.inner
        .db
        .insert_query(&row, now, &tasks)
        .map_err(ApiError::internal)?;
    Ok(Ok((query_id, sites)))
}

/// The sites' counts, the sites that answered and those left out; records the
/// sizes they reported for the next queries' beacon size.
#[allow(clippy::type_complexity)]
fn collect(
    s: &AppState,
    query_id: &QueryId,
) -> Result<(Vec<u64>, Vec<String>, Vec<String>), crate::ApiError> {
    let tasks = s
        .inner
        .db
        .tasks(query_id)
        .map_err(crate::ApiError::internal)?;
    let (mut counts, mut answered, mut missing, mut sizes) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for task in &tasks {
        let answer = crate::aggregate::outcome(task)
            .and_then(|o| o.result.ok())
            .and_then(|a| a.beacon().copied());
        match answer {
            Some(a) if task.state == TaskState::Succeeded => {
                counts.push(a.count);
                answered.push(task.site.clone());
                sizes.push((task.site.clone(), a.sequenced));
            }
            _ => missing.push(task.site.clone()),
        }
    }
    if !sizes.is_empty() {
        s.inner
            .db
            .put_beacon_sizes(&sizes)
            .map_err(crate::ApiError::internal)?;
    }
    Ok((counts, answered, missing))
}
