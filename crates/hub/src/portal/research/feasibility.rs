//! The feasibility builder's handlers: edit the tree by plain form posts,
//! count through the hub's own feasibility machinery, show the release.

use super::tree::{Node, leaf};
use super::{blocking, codes, is_htmx, refusal_text, render, researcher};
use crate::portal::PortalUser;
use crate::routes::feasibility::{released, submit_query, wait_for};
use crate::{ApiError, AppState};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use oncofed_protocol::QueryId;
use oncofed_protocol::api::FeasibilityResponse;
use oncofed_protocol::criteria::Criteria;
use oncofed_web::{Lang, WebError, html};
use serde::Deserialize;
use std::time::Duration;

/// Longest a page load waits for the sites before it shows "running".
const PAGE_WAIT: Duration = Duration::from_secs(3);

/// What the builder page shows besides the tree.
pub(super) struct Shown {
    /// The query whose counts are shown.
    pub query: QueryId,
    /// Its release.
    pub response: FeasibilityResponse,
    /// The meaning key of its criteria (to compare with the builder's).
    pub key: String,
}

/// A short digest of the criteria's meaning: the same for reworded criteria
/// (`Criteria::semantic_key`), different for different ones.
pub(super) fn meaning(criteria: &Criteria) -> String {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(criteria.semantic_key());
    hex::encode(&digest[..12])
}

/// The caller's query `id` with its criteria; anyone else's, an analysis run
/// or a malformed id is "not found".
async fn own_query(
    state: &AppState,
    user: &str,
    id: &str,
) -> Result<(QueryId, Criteria), WebError> {
    let query_id: QueryId = id.parse().map_err(|_| WebError::NotFound)?;
    let qid = query_id.clone();
    let row = blocking(state, move |s| {
        s.inner.db.query(&qid).map_err(ApiError::internal)
    })
    .await?
    .ok_or(WebError::NotFound)?;
    if row.user_id != user {
        return Err(WebError::NotFound);
    }
    let criteria: Criteria = serde_json::from_str(&row.criteria).map_err(|_| WebError::NotFound)?;
    Ok((query_id, criteria))
}

/// The release of the caller's query (audited once per distinct release).
async fn shown(state: &AppState, user: &str, id: &str, wait: Duration) -> Result<Shown, WebError> {
    let (query, criteria) = own_query(state, user, id).await?;
    if !wait.is_zero() {
        wait_for(state, &query, wait).await;
    }
    let response = released(state, query.clone(), user.to_owned())
        .await
        .map_err(super::web_error)?;
    Ok(Shown {
        query,
        response,
        key: meaning(&criteria),
    })
}

/// `GET /portal/feasibility`: a fresh builder with one diagnosis.
pub(super) async fn new_query(
    user: PortalUser,
    lang: Lang,
    State(state): State<AppState>,
) -> Result<Response, WebError> {
    researcher(&user)?;
    let mut tree = Node::group("and");
    if let Some(kind) = leaf("diagnosis") {
        tree.children.push(Node::new_leaf(kind));
    }
    let history = history(&state, &user.id).await?;
    Ok(render::builder_page(&user, lang, &tree, None, None, &history, &state).into_response())
}

/// `GET /portal/feasibility/{id}`: the query's tree and its counts.
pub(super) async fn show(
    user: PortalUser,
    lang: Lang,
    headers: HeaderMap,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    researcher(&user)?;
    let wait = if is_htmx(&headers) {
        Duration::ZERO
    } else {
        PAGE_WAIT
    };
    let (_, criteria) = own_query(&state, &user.id, &id).await?;
    let shown = shown(&state, &user.id, &id, wait).await?;
    let tree = Node::from_criteria(&criteria);
    let history = history(&state, &user.id).await?;
    Ok(
        render::builder_page(&user, lang, &tree, Some(&shown), None, &history, &state)
            .into_response(),
    )
}

/// Query string of the counts fragment.
#[derive(Debug, Deserialize)]
pub(super) struct CountsParams {
    /// The meaning digest of the criteria now in the builder.
    #[serde(default)]
    current: Option<String>,
}

/// `GET /portal/feasibility/{id}/counts`: the counts section alone,
/// polled by htmx while the sites answer.
pub(super) async fn counts(
    user: PortalUser,
    lang: Lang,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<CountsParams>,
) -> Result<Response, WebError> {
    researcher(&user)?;
    let shown = shown(&state, &user.id, &id, Duration::ZERO).await?;
    let current = params.current.unwrap_or_else(|| shown.key.clone());
    Ok(axum::response::Html(
        render::counts(lang, &shown, &current, &state.inner.config.disclosure).into_string(),
    )
    .into_response())
}

/// `POST /portal/feasibility`: one edit of the builder, or a count.
///
/// The form holds the whole tree (see `tree.rs`), the CSRF token, `shown`
/// (the query whose counts are on the page) and `op`: `update`, `add:<path>`
/// (with `new:<path>` naming the kind), `group:<path>`, `remove:<path>` or
/// `run`. Edits change nothing on the server and are not audited; a count
/// is (`portal.feasibility.run`, besides the query's own audit entries).
pub(super) async fn edit(
    user: PortalUser,
    lang: Lang,
    headers: HeaderMap,
    State(state): State<AppState>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    researcher(&user)?;
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    user.check_csrf(field("csrf").unwrap_or_default())?;
    let mut tree = Node::from_form(&pairs).unwrap_or_else(|| Node::group("and"));
    let op = field("op").unwrap_or("update");
    let mut error = None;
    if let Some(path) = op.strip_prefix("add:") {
        let kind = field(&format!("new:{path}")).and_then(leaf);
        if let (Some(kind), Some(group)) = (kind, tree.at_mut(path))
            && group.is_group()
        {
            group.children.push(Node::new_leaf(kind));
        }
    } else if let Some(path) = op.strip_prefix("group:") {
        if let Some(group) = tree.at_mut(path).filter(|g| g.is_group())
            && path.matches('.').count() + 2 < Criteria::MAX_DEPTH
        {
            group.children.push(Node::group("or"));
        }
    } else if let Some(path) = op.strip_prefix("remove:") {
        tree.remove(path);
    } else if op == "run" {
        match tree.to_criteria() {
            Ok(criteria) => match submit_query(&state, user.id.clone(), criteria.clone()).await {
                Ok(query) => {
                    let (uid, qid) = (user.id.clone(), query.clone());
                    let description = criteria.describe();
                    blocking(&state, move |s| {
                        crate::routes::audit(
                            s,
                            &uid,
                            "portal.feasibility.run",
                            qid.as_str(),
                            serde_json::json!({ "criteria": description }),
                        )
                    })
                    .await?;
                    let to = format!("/portal/feasibility/{query}");
                    return Ok(if is_htmx(&headers) {
                        let mut r = axum::http::StatusCode::OK.into_response();
                        if let Ok(v) = HeaderValue::from_str(&to) {
                            r.headers_mut().insert("hx-redirect", v);
                        }
                        r
                    } else {
                        oncofed_web::redirect(&to)
                    });
                }
                Err(e) => match refusal_text(&e) {
                    Some(text) => error = Some(text),
                    None => return Err(super::web_error(e)),
                },
            },
            // The problems are shown at their nodes.
            Err(_) => {
                error = Some(
                    lang.pick(
                        "Die Abfrage ist noch unvollständig: siehe die markierten Bedingungen.",
                        "The query is not complete yet: see the marked conditions.",
                    )
                    .to_owned(),
                )
            }
        }
    }
    let shown = match field("shown").filter(|s| !s.is_empty()) {
        Some(id) => shown(&state, &user.id, id, Duration::ZERO).await.ok(),
        None => None,
    };
    let history = history(&state, &user.id).await?;
    Ok(render::builder_page(
        &user,
        lang,
        &tree,
        shown.as_ref(),
        error.as_deref(),
        &history,
        &state,
    )
    .into_response())
}

/// The caller's recent queries: (query, criteria in words, asked at).
pub(super) async fn history(
    state: &AppState,
    user: &str,
) -> Result<Vec<(QueryId, String, chrono::DateTime<chrono::Utc>)>, WebError> {
    let user = user.to_owned();
    blocking(state, move |s| {
        s.inner.db.queries_of(&user, 10).map_err(ApiError::internal)
    })
    .await
}

/// Query string of the code search.
#[derive(Debug, Deserialize)]
pub(super) struct CodeParams {
    /// Words to find.
    #[serde(default)]
    q: String,
    /// One builder list (`codes-icd10`, …), or all.
    #[serde(default)]
    list: String,
}

/// `GET /portal/codes`: search the code list; a fragment for htmx.
pub(super) async fn code_search(
    user: PortalUser,
    lang: Lang,
    headers: HeaderMap,
    Query(params): Query<CodeParams>,
) -> Result<Response, WebError> {
    researcher(&user)?;
    let list = Some(params.list.as_str()).filter(|l| !l.is_empty());
    let hits = codes::search(&params.q, list, 50);
    let results = render::code_results(lang, &params.q, &hits);
    if is_htmx(&headers) {
        return Ok(axum::response::Html(results.into_string()).into_response());
    }
    let body = html! {
        (render::code_search_form(lang, &params.q, list))
        (results)
    };
    Ok(crate::portal::page(
        &user,
        lang,
        "/portal/feasibility",
        lang.pick("Codesuche", "Code search"),
        body,
    )
    .into_response())
}
