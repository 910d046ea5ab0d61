//! The application pages (issue 17, items 1–3): researchers write, submit,
//! rework and print applications and follow them per site; the office, the
//! site admins and the committee each have an inbox and decide on the
//! application's page; both sides acknowledge the terms there. Every page is
//! server-rendered and usable without JavaScript; every POST checks role,
//! ownership and the CSRF token and is audited (through the same service as
//! the JSON API, `crate::applications`).
//!
//! | path | who |
//! |---|---|
//! | `GET /portal/applications` | everyone: the applications they may see |
//! | `GET /portal/applications/inbox` | office, site admins, committee: what waits for them |
//! | `GET, POST /portal/applications/new` | researchers |
//! | `GET /portal/applications/{id}[?version=N]` | who may see it; the forms of their role |
//! | `GET, POST /portal/applications/{id}/edit` | the applicant, in draft or rework |
//! | `POST /portal/applications/{id}/{submit,formal-check,site-decision,vote,acknowledge}` | by role |
//! | `GET /portal/applications/{id}/print`, `…/ethics` | who may see it |
//! | `GET /portal/applications/policy`, `POST …/policy/opt-in` | everyone; site admins opt in |
//! | `GET, POST /portal/applications/institutions` | admins |

mod actions;
mod admin;
mod form;
mod print;
mod views;

use crate::applications::{self as service, workflow};
use crate::portal::{PortalUser, page};
use crate::{ApiError, AppState, Role};

/// The navigation entries these pages serve (`portal::nav_entries`).
const NAV_APPLICATIONS: &str = "/portal/applications";
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use oncofed_protocol::application::{Application, MAX_ETHICS_BYTES, Party, SiteDecision, Stage};
use oncofed_web::{Lang, Markup, WebError, csrf_field, html};
use serde::Deserialize;

/// Audit tag of actions through the pages.
const VIA: &str = "portal";

/// The application pages.
pub fn router() -> Router<AppState> {
    let upload = DefaultBodyLimit::max(MAX_ETHICS_BYTES + (256 << 10));
    Router::new()
        .route("/portal/applications", get(list))
        .route("/portal/applications/inbox", get(inbox))
        // the role inboxes of the portal's navigation
        .route("/portal/office", get(inbox))
        .route("/portal/committee", get(inbox))
        .route("/portal/site-checks", get(inbox))
        .route(
            "/portal/applications/new",
            get(actions::new_form).post(actions::create).layer(upload),
        )
        .route(print::CSS_PATH, get(print_css))
        .route("/portal/applications/policy", get(admin::policy))
        .route("/portal/applications/policy/opt-in", post(admin::opt_in))
        .route(
            admin::INSTITUTIONS,
            get(admin::institutions).post(admin::register),
        )
        .route("/portal/applications/{id}", get(detail))
        .route(
            "/portal/applications/{id}/edit",
            get(actions::edit_form).post(actions::edit).layer(upload),
        )
        .route("/portal/applications/{id}/submit", post(actions::submit))
        .route(
            "/portal/applications/{id}/formal-check",
            post(actions::formal_check),
        )
        .route(
            "/portal/applications/{id}/site-decision",
            post(actions::site_decision),
        )
        .route("/portal/applications/{id}/vote", post(actions::vote))
        .route(
            "/portal/applications/{id}/acknowledge",
            post(actions::acknowledge),
        )
        .route("/portal/applications/{id}/print", get(print_view))
        .route("/portal/applications/{id}/ethics", get(ethics))
}

/// Runs store and audit work off the async threads, with page errors.
async fn run<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, WebError> {
    crate::routes::blocking(state, f)
        .await
        .map_err(crate::portal::web_error)
}

fn actor(state: &AppState, user: &PortalUser) -> workflow::Actor {
    service::actor(state, &user.id, user.role)
}

/// The sites' decisions in one line, for tables.
fn site_summary(app: &Application, lang: Lang) -> String {
    let Some(v) = app.current() else {
        return String::new();
    };
    v.content
        .sites
        .iter()
        .map(|s| {
            let d = match app.sites.get(s) {
                None => lang.pick("offen", "pending"),
                Some(SiteDecision::Accept) => lang.pick("zugestimmt", "accepted"),
                Some(SiteDecision::AcceptWithConditions { .. }) => {
                    lang.pick("mit Auflagen", "with conditions")
                }
                Some(SiteDecision::Decline { .. }) => lang.pick("abgelehnt", "declined"),
            };
            format!("{s}: {d}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn table(apps: &[&Application], caption: &str, lang: Lang) -> Markup {
    html! {
        @if apps.is_empty() {
            p class="muted" { (caption) ": " (lang.pick("keine", "none")) }
        } @else {
            table class="data" {
                caption { (caption) }
                thead { tr {
                    th scope="col" { (lang.pick("Antrag", "Application")) }
                    th scope="col" { (lang.pick("Titel", "Title")) }
                    th scope="col" { (lang.pick("Stand", "Stage")) }
                    th scope="col" { (lang.pick("Version", "Version")) }
                    th scope="col" { (lang.pick("Standorte", "Sites")) }
                } }
                tbody {
                    @for a in apps {
                        tr {
                            th scope="row" { a href=(format!("/portal/applications/{}", a.id)) { (a.id) } }
                            td { (a.content().map(|c| c.title.as_str()).unwrap_or("")) }
                            td { (views::stage(a.stage, lang)) }
                            td { (a.current().map_or(0, |v| v.number)) }
                            td { (site_summary(a, lang)) }
                        }
                    }
                }
            }
        }
    }
}

async fn list(
    user: PortalUser,
    lang: Lang,
    State(state): State<AppState>,
) -> Result<Response, WebError> {
    let a = actor(&state, &user);
    let apps = run(&state, move |s| service::list(s, &a)).await?;
    let all: Vec<&Application> = apps.iter().collect();
    let title = lang.pick("Anträge", "Applications");
    let body = html! {
        @if user.role == Role::Researcher {
            p { a class="button" href="/portal/applications/new" { (lang.pick("Neuen Antrag stellen", "New application")) } }
        } @else {
            p { a href=(inbox_path(user.role)) { (lang.pick("Zum Eingang", "To the inbox")) } }
        }
        p { a href="/portal/applications/policy" { (lang.pick("Richtlinie zur automatischen Genehmigung", "Automatic approval policy")) } }
        (table(&all, lang.pick("Alle Anträge, die Sie sehen dürfen", "Every application you may see"), lang))
    };
    Ok(page(&user, lang, NAV_APPLICATIONS, title, body).into_response())
}

/// What waits for `user` in `app`.
fn waits_for(app: &Application, user: &workflow::Actor) -> bool {
    match (user.role, app.stage) {
        (Role::Admin, Stage::FormalCheck) => true,
        (Role::SiteAdmin, Stage::SiteCheck) => user.site.as_ref().is_some_and(|s| {
            app.current().is_some_and(|v| v.content.sites.contains(s)) && !app.sites.contains_key(s)
        }),
        (Role::SiteAdmin, Stage::Acknowledgement) => user.site.as_ref().is_some_and(|s| {
            app.accepting_sites().contains(s) && !app.acknowledged.contains(&Party::Site(s.clone()))
        }),
        (Role::Committee, Stage::CommitteeVote) => {
            !app.votes.contains_key(&user.id) && !workflow::is_party_researcher(app, &user.id)
        }
        (Role::Researcher, Stage::Rework | Stage::Draft) => app.applicant == user.id,
        (Role::Researcher, Stage::Acknowledgement) => {
            app.applicant == user.id && !app.acknowledged.contains(&Party::Applicant)
        }
        _ => false,
    }
}

async fn inbox(
    user: PortalUser,
    lang: Lang,
    State(state): State<AppState>,
) -> Result<Response, WebError> {
    let a = actor(&state, &user);
    let who = a.clone();
    let apps = run(&state, move |s| service::list(s, &who)).await?;
    let waiting: Vec<&Application> = apps.iter().filter(|x| waits_for(x, &a)).collect();
    let current = inbox_path(user.role);
    let title = match user.role {
        Role::Admin => lang.pick("Eingang: formale Prüfung", "Inbox: formal check"),
        Role::SiteAdmin => lang.pick(
            "Eingang: Prüfung für Ihren Standort",
            "Inbox: checks for your site",
        ),
        Role::Committee => lang.pick("Eingang: Voten des Ausschusses", "Inbox: committee votes"),
        _ => lang.pick("Eingang", "Inbox"),
    };
    let body = html! {
        @if let Some(site) = &a.site {
            p { (lang.pick("Standort", "Site")) ": " strong { (site) } }
        }
        (table(&waiting, lang.pick("Wartet auf Sie", "Waiting for you"), lang))
        p { a href="/portal/applications" { (lang.pick("Alle Anträge", "All applications")) } }
    };
    Ok(page(&user, lang, current, title, body).into_response())
}

/// The inbox of a role in the navigation.
pub(super) fn inbox_path(role: Role) -> &'static str {
    match role {
        Role::Admin => "/portal/office",
        Role::Committee => "/portal/committee",
        Role::SiteAdmin => "/portal/site-checks",
        _ => NAV_APPLICATIONS,
    }
}

/// `?version=N`.
#[derive(Debug, Deserialize)]
struct VersionQuery {
    #[serde(default)]
    version: Option<u32>,
}

async fn detail(
    user: PortalUser,
    lang: Lang,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<VersionQuery>,
) -> Result<Response, WebError> {
    let a = actor(&state, &user);
    let who = a.clone();
    let app = run(&state, move |s| service::get(s, &who, &id)).await?;
    let shown = q
        .version
        .and_then(|n| app.versions.iter().find(|v| v.number == n));
    let content = shown.map(|v| &v.content).or(app.content());
    let title = content
        .map(|c| c.title.clone())
        .unwrap_or_else(|| app.id.clone());
    let staff = user.role != Role::Researcher;
    let body = html! {
        p {
            (app.id) " · " (views::stage(app.stage, lang))
            @if let Some(p) = &app.project {
                " · " (lang.pick("Projekt", "project")) " " strong { (p) }
            }
            " · " a href=(format!("/portal/applications/{}/print", app.id)) { (lang.pick("Druckansicht", "Printable view")) }
        }
        @if matches!(app.stage, Stage::Rework | Stage::Rejected) {
            @if let Some(r) = app.last_reasons() {
                div class="notice" role="status" {
                    strong { (lang.pick("Begründung", "Reasons")) ": " } (r)
                }
            }
        }
        (actions::forms(&app, &a, &user.csrf, lang))
        @if let Some(v) = app.policy_verdict() {
            section {
                h2 { (lang.pick("Automatische Genehmigung", "Approval by policy")) }
                (views::verdict(v, lang))
            }
        }
        section {
            h2 { (lang.pick("Status je Standort", "Status per site")) }
            (views::site_matrix(&app, lang))
        }
        @if matches!(app.stage, Stage::Acknowledgement | Stage::Approved) {
            section { (views::terms(&app, lang)) }
        }
        section {
            h2 {
                (lang.pick("Inhalt", "Content"))
                @if let Some(v) = shown { " (" (lang.pick("Version", "version")) " " (v.number) ")" }
                @else if matches!(app.stage, Stage::Draft | Stage::Rework) { " (" (lang.pick("Entwurf", "draft")) ")" }
            }
            @if let Some(c) = content { (views::content(c, &app.applicant, &app.id, lang)) }
        }
        @if !app.versions.is_empty() {
            section {
                h2 { (lang.pick("Versionen", "Versions")) }
                ul {
                    @for v in &app.versions {
                        li {
                            a href=(format!("/portal/applications/{}?version={}", app.id, v.number)) {
                                (lang.pick("Version", "Version")) " " (v.number)
                            }
                            " · " (v.submitted_at.format("%Y-%m-%d %H:%M UTC")) " · SHA-256 " code { (&v.sha256[..16]) "…" }
                        }
                    }
                }
            }
        }
        section { (views::history(&app, lang, staff)) }
    };
    Ok(page(&user, lang, inbox_path(user.role), &title, body).into_response())
}

async fn print_view(
    user: PortalUser,
    lang: Lang,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<VersionQuery>,
) -> Result<Response, WebError> {
    let a = actor(&state, &user);
    let app = run(&state, move |s| service::get(s, &a, &id)).await?;
    Ok(axum::response::Html(print::document(&app, q.version, lang).into_string()).into_response())
}

async fn print_css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        print::CSS,
    )
}

async fn ethics(
    user: PortalUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<VersionQuery>,
) -> Result<Response, WebError> {
    let a = actor(&state, &user);
    let (vote, bytes) = run(&state, move |s| service::ethics_file(s, &a, &id, q.version)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"ethics-{}.pdf\"", &vote.sha256[..12]),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// A small POST form with the CSRF token and one button.
fn button_form(action: &str, csrf: &str, label: &str) -> Markup {
    html! {
        form method="post" action=(action) {
            (csrf_field(csrf))
            button type="submit" { (label) }
        }
    }
}
