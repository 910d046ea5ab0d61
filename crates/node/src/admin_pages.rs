//! The site admin's pages at the node (issue 17, item 4), served by
//! `oncofed node serve` beside its JSON API, on loopback by default:
//!
//! | path | what |
//! |---|---|
//! | `GET /admin` | overview: the latest ingest run, quality report, quarantine and withdrawals |
//! | `GET /admin/ingest` | ingest runs with their errors (file, line, entry, field; no values) |
//! | `GET /admin/quality` | the quality report per field with its trend over the stored reports |
//! | `GET /admin/quarantine` | objects the imaging and cell ingest refused, with reasons |
//! | `GET /admin/withdrawals` | executed withdrawal orders and their receipts |
//! | `GET /admin/projects` | where the site's projects are listed (the hub's portal) |
//! | `GET`, `POST /admin/login`, `POST /admin/logout` | sign-in with the node's API token |
//!
//! Sign-in takes the node's existing API token (the one `POST /v1/query`
//! needs, compared as a digest in constant time); the browser then holds only
//! an `HttpOnly; SameSite=Strict` session cookie (`Secure` and `__Host-` under
//! TLS). The sign-in form carries a token bound to a pre-session cookie (no
//! login CSRF); sign-out is a POST with the session's CSRF token. The pages
//! only read: the site log ([`crate::site_log`]) is written by ingest, the
//! quality report and the withdrawal poller.
//!
//! Nothing on these pages names a person: errors name where, not what;
//! quality trends hold counts; withdrawals hold order ids and counts.

mod render;

use crate::SharedStore;
use axum::Router;
use axum::extract::{Form, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oncofed_web::{CookieSpec, Lang, NavItem, Page, SignedIn, WebError, redirect};
use std::sync::Arc;

/// Where the sign-in form lives.
pub const LOGIN_PATH: &str = "/admin/login";
/// Where the sign-out form posts.
pub const LOGOUT_PATH: &str = "/admin/logout";
/// The service name in every page's header.
pub const SERVICE_NAME: &str = "OncoFed Standortknoten";
/// Rows shown per table (newest first).
const ROWS: usize = 200;
/// Quality reports shown in the trend.
const TREND: usize = 6;

/// What the admin pages need: the store, the token to sign in with, sessions.
#[derive(Clone)]
pub struct AdminPages {
    store: SharedStore,
    token_hash: Arc<[u8; 32]>,
    sessions: oncofed_web::Sessions<()>,
    pre_sign_in: oncofed_web::Sessions<()>,
    hub_portal: Option<String>,
}

impl AdminPages {
    /// Pages over `store`, signed in with `token` (the node's API token);
    /// `tls` when served over HTTPS (cookies `Secure`, `__Host-`);
    /// `hub_portal` is the hub portal's base URL, linked for the projects.
    pub fn new(store: SharedStore, token: &str, tls: bool, hub_portal: Option<String>) -> Self {
        Self {
            store,
            token_hash: Arc::new(oncofed_service::tokens::TokenDigest::of(token).bytes()),
            sessions: oncofed_web::Sessions::new(CookieSpec {
                name: "oncofed_node",
                secure: tls,
            }),
            pre_sign_in: oncofed_web::Sessions::new(CookieSpec {
                name: "oncofed_node_sign_in",
                secure: tls,
            }),
            hub_portal,
        }
    }
}

/// The admin pages' routes with their assets and security headers.
pub fn router(pages: AdminPages) -> Router {
    Router::new()
        .route("/admin", get(overview))
        .route("/admin/ingest", get(ingest))
        .route("/admin/quality", get(quality))
        .route("/admin/quarantine", get(quarantine))
        .route("/admin/withdrawals", get(withdrawals))
        .route("/admin/projects", get(projects))
        .route(LOGIN_PATH, get(login_form).post(login))
        .route(LOGOUT_PATH, axum::routing::post(logout))
        .merge(oncofed_web::assets_router())
        .layer(axum::middleware::from_fn(oncofed_web::secure_headers))
        .with_state(pages)
}

/// A signed-in site admin; anyone else is sent to the sign-in page.
pub struct NodeAdmin {
    csrf: String,
}

impl FromRequestParts<AdminPages> for NodeAdmin {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AdminPages) -> Result<Self, WebError> {
        let session = state
            .sessions
            .current(&parts.headers)
            .ok_or_else(|| WebError::SignIn(LOGIN_PATH.into()))?;
        Ok(Self { csrf: session.csrf })
    }
}

fn nav(lang: Lang, current: &str) -> Vec<NavItem> {
    [
        ("/admin", "Übersicht", "Overview"),
        ("/admin/ingest", "Ingest-Läufe", "Ingest runs"),
        ("/admin/quality", "Datenqualität", "Data quality"),
        ("/admin/quarantine", "Quarantäne", "Quarantine"),
        ("/admin/withdrawals", "Widerrufe", "Withdrawals"),
        ("/admin/projects", "Projekte", "Projects"),
    ]
    .into_iter()
    .map(|(href, de, en)| NavItem {
        href: href.into(),
        label: lang.pick(de, en).into(),
        current: href == current,
    })
    .collect()
}

fn page(
    admin: &NodeAdmin,
    lang: Lang,
    current: &str,
    title: &str,
    body: oncofed_web::Markup,
) -> Page {
    Page {
        nav: nav(lang, current),
        signed_in: Some(SignedIn {
            name: lang
                .pick("Standort-Administration", "Site administration")
                .into(),
            role_label: lang.pick("Knoten", "node").into(),
            csrf: admin.csrf.clone(),
            logout_action: LOGOUT_PATH.into(),
        }),
        ..Page::new(lang, SERVICE_NAME, title, body)
    }
}

/// Runs store reads off the async threads.
async fn read<T: Send + 'static>(
    pages: &AdminPages,
    f: impl FnOnce(&dyn oncofed_store::ResearchStore) -> Result<T, oncofed_store::StoreError>
    + Send
    + 'static,
) -> Result<T, WebError> {
    crate::with_store(&pages.store, move |s| f(s))
        .await
        .map_err(WebError::internal)
}

async fn overview(
    admin: NodeAdmin,
    lang: Lang,
    State(pages): State<AdminPages>,
) -> Result<Page, WebError> {
    let (runs, quarantined, withdrawals) = read(&pages, |s| {
        Ok((
            s.ingest_runs(1)?,
            s.quarantine_entries(1)?,
            s.withdrawals(1)?,
        ))
    })
    .await?;
    let quality = crate::quality::history(&pages.store, 1)
        .await
        .map_err(WebError::internal)?;
    let body = render::overview(
        lang,
        runs.first(),
        quality.first(),
        quarantined.first(),
        withdrawals.first(),
    );
    Ok(page(
        &admin,
        lang,
        "/admin",
        lang.pick("Übersicht des Standorts", "Site overview"),
        body,
    ))
}

async fn ingest(
    admin: NodeAdmin,
    lang: Lang,
    State(pages): State<AdminPages>,
) -> Result<Page, WebError> {
    let runs = read(&pages, |s| s.ingest_runs(ROWS)).await?;
    let body = render::ingest_runs(lang, &runs);
    Ok(page(
        &admin,
        lang,
        "/admin/ingest",
        lang.pick("Ingest-Läufe", "Ingest runs"),
        body,
    ))
}

async fn quality(
    admin: NodeAdmin,
    lang: Lang,
    State(pages): State<AdminPages>,
) -> Result<Page, WebError> {
    let mut history = crate::quality::history(&pages.store, TREND)
        .await
        .map_err(WebError::internal)?;
    history.reverse();
    let body = render::quality(lang, &history);
    Ok(page(
        &admin,
        lang,
        "/admin/quality",
        lang.pick("Datenqualität", "Data quality"),
        body,
    ))
}

async fn quarantine(
    admin: NodeAdmin,
    lang: Lang,
    State(pages): State<AdminPages>,
) -> Result<Page, WebError> {
    let (entries, stats) = read(&pages, |s| {
        Ok((s.quarantine_entries(ROWS)?, s.image_stats()?))
    })
    .await?;
    let body = render::quarantine(lang, &entries, &stats.quarantined_by_reason);
    Ok(page(
        &admin,
        lang,
        "/admin/quarantine",
        lang.pick("Quarantäne", "Quarantine"),
        body,
    ))
}

async fn withdrawals(
    admin: NodeAdmin,
    lang: Lang,
    State(pages): State<AdminPages>,
) -> Result<Page, WebError> {
    let rows = read(&pages, |s| s.withdrawals(ROWS)).await?;
    let body = render::withdrawals(lang, &rows);
    Ok(page(
        &admin,
        lang,
        "/admin/withdrawals",
        lang.pick("Widerrufe", "Withdrawals"),
        body,
    ))
}

async fn projects(admin: NodeAdmin, lang: Lang, State(pages): State<AdminPages>) -> Page {
    let body = render::projects(lang, pages.hub_portal.as_deref());
    page(
        &admin,
        lang,
        "/admin/projects",
        lang.pick("Projekte", "Projects"),
        body,
    )
}

async fn login_form(State(pages): State<AdminPages>, lang: Lang) -> Response {
    let (pre, cookie) = pages.pre_sign_in.start(());
    let mut response = login_page(lang, &pre.csrf, false).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

fn login_page(lang: Lang, csrf: &str, failed: bool) -> Page {
    Page::new(
        lang,
        SERVICE_NAME,
        lang.pick("Anmeldung", "Sign in"),
        render::login(lang, csrf, failed),
    )
}

/// The sign-in form's fields.
#[derive(serde::Deserialize)]
struct LoginForm {
    csrf: String,
    token: String,
}

async fn login(
    State(pages): State<AdminPages>,
    lang: Lang,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    use oncofed_service::tokens::TokenDigest;
    let pre = pages
        .pre_sign_in
        .current(&headers)
        .ok_or(WebError::Forbidden)?;
    pre.check_csrf(&form.csrf)?;
    pages.pre_sign_in.end(&headers);
    // Digests compared in constant time: the timing tells nothing about the token.
    if !TokenDigest::of(form.token.trim()).matches(&TokenDigest::from_bytes(*pages.token_hash)) {
        tracing::warn!("node admin sign-in failed");
        let (pre, cookie) = pages.pre_sign_in.start(());
        let mut response = login_page(lang, &pre.csrf, true).into_response();
        *response.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
        response.headers_mut().append(header::SET_COOKIE, cookie);
        return Ok(response);
    }
    tracing::info!("node admin signed in");
    let (_, cookie) = pages.sessions.start(());
    let mut response = redirect("/admin");
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

/// The sign-out form's field.
#[derive(serde::Deserialize)]
struct LogoutForm {
    csrf: String,
}

async fn logout(
    State(pages): State<AdminPages>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Result<Response, WebError> {
    let session = pages
        .sessions
        .current(&headers)
        .ok_or_else(|| WebError::SignIn(LOGIN_PATH.into()))?;
    session.check_csrf(&form.csrf)?;
    let cookie = pages.sessions.end(&headers);
    tracing::info!("node admin signed out");
    let mut response = redirect(LOGIN_PATH);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}
