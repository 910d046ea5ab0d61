//! Signing in with a one-time access code, and signing out.
//!
//! The sign-in form carries a token bound to a short pre-session cookie (as
//! the hub's), so a foreign page cannot sign a browser in with a code of its
//! choosing (login CSRF); a sign-in always starts a fresh session id. A failed
//! attempt is counted against the code (`db::access_codes`) and the portal's
//! throttle, and audited without the code typed.

use super::{HOME, Patient, PatientSession, subject, texts};
use crate::AppState;
use crate::db::access_codes::{self, Redeemed};
use crate::routes::audit;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use oncofed_web::{Lang, Markup, Page, WebError, csrf_field, html, redirect};
use serde::Deserialize;
use serde_json::json;

/// The sign-in page.
pub(crate) const LOGIN: &str = "/patient/login";

/// The sign-in routes.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(LOGIN, get(form).post(sign_in))
        .route("/patient/logout", post(sign_out))
}

/// Why the form is shown again.
#[derive(Debug, Clone, Copy)]
enum Problem {
    Invalid,
    Locked,
    Expired,
    Used,
    Paused,
}

fn problem_text(lang: Lang, p: Problem) -> &'static str {
    match p {
        Problem::Invalid => lang.pick(
            "Dieser Code stimmt nicht. Bitte prüfen Sie jedes Zeichen und versuchen Sie es noch einmal.",
            "This code is not right. Please check every character and try again.",
        ),
        Problem::Locked => lang.pick(
            "Dieser Code ist gesperrt: Er wurde zu oft falsch eingegeben oder durch einen neuen Code ersetzt. Bitte fragen Sie Ihre Klinik oder die Treuhandstelle nach einem neuen Code.",
            "This code is locked: it was typed wrongly too often or replaced by a new code. Please ask your hospital or the trust centre for a new code.",
        ),
        Problem::Expired => lang.pick(
            "Dieser Code ist abgelaufen. Ein Code gilt 14 Tage. Bitte fragen Sie nach einem neuen Code.",
            "This code has expired. A code is valid for 14 days. Please ask for a new code.",
        ),
        Problem::Used => lang.pick(
            "Dieser Code wurde schon benutzt. Jeder Code gilt nur einmal. Bitte fragen Sie nach einem neuen Code.",
            "This code has already been used. Each code works once only. Please ask for a new code.",
        ),
        Problem::Paused => lang.pick(
            "Gerade gab es zu viele falsche Versuche. Bitte warten Sie eine Minute und versuchen Sie es dann noch einmal.",
            "There were too many wrong attempts just now. Please wait a minute and try again.",
        ),
    }
}

fn login_page(state: &AppState, lang: Lang, csrf: &str, problem: Option<Problem>) -> Page {
    let body: Markup = html! {
        p class="big" { (lang.pick(
            "Hier sehen Sie, wofür Ihre Daten in der Forschung genutzt werden dürfen und wofür sie genutzt wurden. Sie können hier auch selbst entscheiden.",
            "Here you can see what your data may be used for in research and what it was used for. You can also decide for yourself here.")) }
        @if let Some(p) = problem {
            div class="error" role="alert" id="login-error" { p { (problem_text(lang, p)) } }
        }
        form class="stack" method="post" action=(LOGIN) id="login" {
            (csrf_field(csrf))
            label for="code" { (lang.pick("Ihr Zugangscode", "Your access code")) }
            p id="code-help" class="muted" { (lang.pick(
                "Sie finden ihn auf dem Brief Ihrer Klinik oder der Treuhandstelle, zum Beispiel ABCD-EFGH-JKLM-NPQR. Groß- und Kleinschreibung ist egal.",
                "You find it in the letter from your hospital or the trust centre, for example ABCD-EFGH-JKLM-NPQR. Upper or lower case does not matter.")) }
            input type="text" id="code" name="code" class="big" autocomplete="one-time-code"
                autocapitalize="characters" spellcheck="false" required aria-describedby="code-help"
                aria-invalid=[problem.map(|_| "true")];
            button type="submit" { (lang.pick("Anmelden", "Sign in")) }
        }
        (texts::ombudsperson(lang, state.inner.portal.ombudsperson.as_ref()))
    };
    Page::new(
        lang,
        super::service(lang),
        lang.pick("Anmelden", "Sign in"),
        body,
    )
}

/// The sign-in page with a fresh pre-session (its cookie and CSRF token).
fn login_response(
    state: &AppState,
    lang: Lang,
    status: StatusCode,
    problem: Option<Problem>,
) -> Response {
    let (pre, cookie) = state.inner.portal.pre_sign_in.start(());
    let mut response = (status, login_page(state, lang, &pre.csrf, problem)).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

async fn form(State(state): State<AppState>, lang: Lang, headers: HeaderMap) -> Response {
    if state.inner.portal.sessions.current(&headers).is_some() {
        return redirect(HOME);
    }
    login_response(&state, lang, StatusCode::OK, None)
}

/// The sign-in form's body.
#[derive(Debug, Deserialize)]
pub(super) struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

async fn sign_in(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, WebError> {
    let portal = &state.inner.portal;
    let pre = portal
        .pre_sign_in
        .current(&headers)
        .ok_or(WebError::Forbidden)?;
    pre.check_csrf(&form.csrf)?;
    let pre_cookie = portal.pre_sign_in.end(&headers);
    if portal.throttle.paused() {
        tracing::warn!("patient sign-ins paused: too many failures in the last minute");
        return Ok(again(&state, lang, Problem::Paused));
    }
    let now = crate::db::now();
    let outcome = state
        .inner
        .db
        .write(move |conn| access_codes::redeem(conn, &form.code, now))
        .await
        .map_err(super::store_failed)?;
    let problem = match outcome {
        Redeemed::SignedIn { code, person } => {
            audit::record_about(
                &state,
                vec![person],
                "patient",
                "patient.signed-in",
                &subject(code),
                json!({"code": code}),
            )
            .await
            .map_err(super::api_failed)?;
            let (_, cookie) = portal.sessions.start(PatientSession { person, code });
            let mut response = redirect(HOME);
            response
                .headers_mut()
                .append(header::SET_COOKIE, pre_cookie);
            response.headers_mut().append(header::SET_COOKIE, cookie);
            return Ok(response);
        }
        Redeemed::Invalid => Problem::Invalid,
        Redeemed::Locked => Problem::Locked,
        Redeemed::Expired => Problem::Expired,
        Redeemed::Used => Problem::Used,
    };
    portal.throttle.failed();
    let outcome = match problem {
        Problem::Invalid => "invalid",
        Problem::Locked => "locked",
        Problem::Expired => "expired",
        Problem::Used => "used",
        Problem::Paused => "paused",
    };
    audit::record_about(
        &state,
        Vec::new(),
        "patient",
        "patient.sign-in-failed",
        "patient-portal",
        json!({"outcome": outcome}),
    )
    .await
    .map_err(super::api_failed)?;
    Ok(again(&state, lang, problem))
}

fn again(state: &AppState, lang: Lang, problem: Problem) -> Response {
    let status = match problem {
        Problem::Paused => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::UNAUTHORIZED,
    };
    login_response(state, lang, status, Some(problem))
}

/// A form carrying only the CSRF token.
#[derive(Debug, Deserialize)]
pub(super) struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(
    State(state): State<AppState>,
    patient: Patient,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    patient.check_csrf(&form.csrf)?;
    audit::record_about(
        &state,
        Vec::new(),
        "patient",
        "patient.signed-out",
        &subject(patient.code),
        json!({"code": patient.code}),
    )
    .await
    .map_err(super::api_failed)?;
    let cookie = state.inner.portal.sessions.end(&headers);
    let mut response = redirect(LOGIN);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Renders the hidden CSRF field of a patient's form.
pub(super) fn csrf(patient: &Patient) -> Markup {
    csrf_field(&patient.csrf)
}
