//! Signing in and out of the portal, and the home page.
//!
//! The sign-in form carries a token bound to a short pre-session cookie, so a
//! foreign page cannot sign a browser into someone else's account (login
//! CSRF). A successful sign-in always starts a fresh session id.

use super::{PortalUser, home_cards, page, role_label};
use crate::AppState;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use oncofed_web::{Lang, Page, WebError, csrf_field, html, redirect};

/// Where the sign-in form lives.
pub const LOGIN_PATH: &str = "/portal/login";
/// Where the sign-out form posts.
pub const LOGOUT_PATH: &str = "/portal/logout";

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { redirect("/portal") }))
        .route("/portal", get(home))
        .route(LOGIN_PATH, get(login_form).post(login))
        .route(LOGOUT_PATH, post(logout))
}

async fn home(user: PortalUser, lang: Lang) -> Page {
    let body = html! {
        p class="big" {
            (lang.pick("Angemeldet als ", "Signed in as ")) strong { (user.id) }
            " · " (role_label(user.role, lang))
            @if let Some(site) = &user.site { " · " (lang.pick("Standort ", "site ")) (site) }
        }
        (home_cards(user.role, lang))
    };
    page(
        &user,
        lang,
        "/portal",
        lang.pick("Übersicht", "Overview"),
        body,
    )
}

fn login_page(lang: Lang, csrf: &str, failed: bool) -> Page {
    let body = html! {
        @if failed {
            p class="error" role="alert" {
                (lang.pick("Anmeldung fehlgeschlagen: Kennung oder Zugangstoken stimmen nicht.",
                    "Sign-in failed: the user id or access token is wrong."))
            }
        }
        p { (lang.pick(
            "Melden Sie sich mit Ihrer Kennung und Ihrem Zugangstoken an (dasselbe Token, das die Kommandozeile nutzt).",
            "Sign in with your user id and access token (the same token the command line uses).")) }
        form class="stack" method="post" action=(LOGIN_PATH) {
            (csrf_field(csrf))
            label for="user" { (lang.pick("Kennung", "User id")) }
            input id="user" name="user" type="text" autocomplete="username" required;
            label for="token" { (lang.pick("Zugangstoken", "Access token")) }
            input id="token" name="token" type="password" autocomplete="current-password" required;
            div class="actions" {
                button type="submit" { (lang.pick("Anmelden", "Sign in")) }
            }
        }
        p { a href="/catalogue" { (lang.pick("Datenkatalog ohne Anmeldung ansehen", "Browse the data catalogue without signing in")) } }
    };
    Page::new(
        lang,
        super::SERVICE_NAME,
        lang.pick("Anmeldung", "Sign in"),
        body,
    )
}

async fn login_form(State(state): State<AppState>, lang: Lang) -> Response {
    let (pre, cookie) = state.inner.portal.pre_sign_in.start(());
    let mut response = login_page(lang, &pre.csrf, false).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

/// The sign-in form's fields.
#[derive(serde::Deserialize)]
struct LoginForm {
    csrf: String,
    user: String,
    token: String,
}

async fn login(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let portal = &state.inner.portal;
    let pre = portal
        .pre_sign_in
        .current(&headers)
        .ok_or(WebError::Forbidden)?;
    pre.check_csrf(&form.csrf)?;
    portal.pre_sign_in.end(&headers);
    let users = &state.inner.config.users;
    let verified = users
        .authenticate(form.token.trim())
        .filter(|(id, _)| *id == form.user.trim());
    let Some((id, role)) = verified else {
        let who = form.user.clone();
        super::blocking(&state, move |s| {
            // The typed id is not personal data of a patient; it is kept so
            // an auditor sees guessing. The token never is.
            crate::routes::audit(
                s,
                "portal",
                "portal.sign-in-failed",
                "portal",
                serde_json::json!({ "user": who.chars().take(64).collect::<String>() }),
            )
            .map_err(super::web_error)
        })
        .await?;
        let (pre, cookie) = portal.pre_sign_in.start(());
        let mut response = login_page(lang, &pre.csrf, true).into_response();
        *response.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
        response.headers_mut().append(header::SET_COOKIE, cookie);
        return Ok(response);
    };
    let site = users.site_of(&id).map(str::to_owned);
    let audited = id.clone();
    super::blocking(&state, move |s| {
        crate::routes::audit(
            s,
            &audited,
            "portal.sign-in",
            "portal",
            serde_json::json!({ "role": role }),
        )
        .map_err(super::web_error)
    })
    .await?;
    let (_, cookie) = portal
        .sessions
        .start(super::PortalSession { id, role, site });
    let mut response = redirect("/portal");
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

/// The sign-out form's fields.
#[derive(serde::Deserialize)]
struct LogoutForm {
    csrf: String,
}

async fn logout(
    user: PortalUser,
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let cookie = state.inner.portal.sessions.end(&headers);
    let id = user.id.clone();
    super::blocking(&state, move |s| {
        crate::routes::audit(s, &id, "portal.sign-out", "portal", serde_json::json!({}))
            .map_err(super::web_error)
    })
    .await?;
    let mut response = redirect(LOGIN_PATH);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}
