//! The researcher's pages at the hub: the feasibility builder (criteria tree,
//! code search, live counts under disclosure control, a "query changed"
//! cue), the researcher's projects with their budgets, analysis forms, run
//! pages with results and plots, and downloads.
//!
//! | method and path | what |
//! |---|---|
//! | `GET /portal/feasibility` | a new query in the builder |
//! | `POST /portal/feasibility` | an edit of the builder (`op`), or `op=run`: count |
//! | `GET /portal/feasibility/{id}` | a query of the caller's with its released counts |
//! | `GET /portal/feasibility/{id}/counts?current=` | the counts alone (htmx polls it) |
//! | `GET /portal/codes?q=&list=` | code search over the shipped code list |
//! | `GET /portal/projects` | the caller's projects |
//! | `GET /portal/projects/{id}` | a project: categories, sites, budget, runs, analysis forms |
//! | `POST /portal/projects/{id}/analyses` | start a run (same path as `POST /v1/analyses`) |
//! | `GET /portal/runs/{id}` | a run of the caller's: state, result, plot |
//! | `GET /portal/runs/{id}/result.json`, `result.csv` | its released result |
//!
//! Every page checks the researcher role; a query, project or run of someone
//! else is answered like one that does not exist (404). Counts and results
//! come from the same functions the JSON API uses (`routes::feasibility`,
//! `routes::analyses`), so the same limits, budgets, releases and audit apply.

mod codes;
mod feasibility;
mod leaves;
mod projects;
mod render;
mod runs;
mod tree;

use crate::{ApiError, AppState, Role};
use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use oncofed_web::WebError;

/// The researcher's routes (merged into the portal router).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/portal/feasibility",
            get(feasibility::new_query).post(feasibility::edit),
        )
        .route("/portal/feasibility/{id}", get(feasibility::show))
        .route("/portal/feasibility/{id}/counts", get(feasibility::counts))
        .route("/portal/codes", get(feasibility::code_search))
        .route("/portal/projects", get(projects::list))
        .route("/portal/projects/{id}", get(projects::show))
        .route("/portal/projects/{id}/analyses", post(projects::submit))
        .route("/portal/runs/{id}", get(runs::show))
        .route("/portal/runs/{id}/result.json", get(runs::json))
        .route("/portal/runs/{id}/result.csv", get(runs::csv))
}

pub(crate) use super::web_error;

/// A refusal's message for a page that shows it in place (`None`: not a
/// refusal to explain, e.g. an internal error).
pub(crate) fn refusal_text(e: &ApiError) -> Option<String> {
    e.client_message()
}

/// Whether htmx sent the request (then a fragment or `HX-Redirect` answers).
pub(crate) fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get("hx-request").is_some_and(|v| v == "true")
}

/// Runs blocking store work for a page.
pub(crate) async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, WebError> {
    crate::routes::blocking(state, f).await.map_err(web_error)
}

/// Refuses anyone but a researcher.
pub(crate) fn researcher(user: &crate::portal::PortalUser) -> Result<(), WebError> {
    if user.role == Role::Researcher {
        Ok(())
    } else {
        Err(WebError::Forbidden)
    }
}
