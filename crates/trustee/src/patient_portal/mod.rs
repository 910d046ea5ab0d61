//! The patients' portal (issue 17, item 5), served by the trust centre: a
//! person signs in with a one-time access code, reads in plain language what
//! they consented to and what was done under it, and decides: object to
//! research use, opt in to genetic research, agree to re-contact, withdraw.
//!
//! | method and path | what |
//! |---|---|
//! | `GET /patient/login`, `POST /patient/login` | sign in with a code ([`signin`]) |
//! | `POST /patient/logout` | sign out |
//! | `GET /patient` | the person's page ([`page`]) |
//! | `POST /patient/research`, `/patient/genetic`, `/patient/recontact` | a choice ([`actions`]) |
//! | `GET /patient/withdraw`, `POST /patient/withdraw` | withdrawal, with a confirmation step |
//!
//! No route names a person: the browser session alone decides whose data is
//! read or changed (it holds the store's row id of the person, which never
//! leaves the trust centre). Every POST checks the session's CSRF token and is
//! recorded in the trust centre's audit trail, indexed under the person so that
//! their page lists it; details carry codes' row ids and decisions, never
//! identifying data. Choices become FHIR Consents in the consent registry
//! ([`choices`]), so the signed consent feed carries them to every site; a
//! withdrawal runs the withdrawal cascade at once.
//!
//! Codes are issued through the API (`crate::routes::patients`) by staff or the
//! treating site. Wrong codes are counted per code (locked after five) and
//! throttled overall ([`Throttle`]).

mod actions;
mod choices;
mod page;
mod signin;
mod texts;

use crate::AppState;
use crate::config::Ombudsperson;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use oncofed_web::{CookieSpec, Sessions, WebError};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The portal's session cookie (`__Host-oncofed_patient` under TLS).
pub(crate) const COOKIE: &str = "oncofed_patient";

/// Where the portal starts.
pub(crate) const HOME: &str = "/patient";

/// The service's name in every page's header.
pub(crate) fn service(lang: oncofed_web::Lang) -> String {
    lang.pick(
        "Patientenportal der Treuhandstelle",
        "Patient portal of the trust centre",
    )
    .to_owned()
}

/// Failed sign-ins accepted per minute over all codes and callers before the
/// portal asks everyone to wait (a brute-force brake on top of the per-code lock).
const FAILED_SIGN_INS_PER_MINUTE: usize = 30;

/// What a patient's session holds: whose data, and which code opened it.
#[derive(Debug, Clone)]
pub(crate) struct PatientSession {
    /// The person's store row id (resolved through merges on every request).
    pub person: i64,
    /// The access code's row id (audit subject).
    pub code: i64,
}

/// The portal's state inside [`AppState`].
pub(crate) struct PortalState {
    pub(crate) sessions: Sessions<PatientSession>,
    /// Short sessions of the sign-in form, binding its CSRF token (login CSRF).
    pub(crate) pre_sign_in: Sessions<()>,
    pub(crate) throttle: Throttle,
    pub(crate) code_validity: Duration,
    pub(crate) ombudsperson: Option<Ombudsperson>,
}

impl PortalState {
    /// The portal's state for a trust centre serving TLS (`secure` cookies) or not.
    pub(crate) fn new(
        secure: bool,
        code_validity: Duration,
        ombudsperson: Option<Ombudsperson>,
    ) -> Self {
        Self {
            sessions: Sessions::new(CookieSpec {
                name: COOKIE,
                secure,
            }),
            pre_sign_in: Sessions::new(CookieSpec {
                name: "oncofed_patient_sign_in",
                secure,
            }),
            throttle: Throttle::default(),
            code_validity,
            ombudsperson,
        }
    }
}

/// Counts failed sign-ins of the last minute over the whole portal.
#[derive(Default)]
pub(crate) struct Throttle {
    failures: Mutex<VecDeque<Instant>>,
}

impl Throttle {
    fn prune(q: &mut VecDeque<Instant>, now: Instant) {
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(60))
        {
            q.pop_front();
        }
    }

    /// Whether sign-ins are paused (too many failures in the last minute).
    pub(crate) fn paused(&self) -> bool {
        let mut q = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Self::prune(&mut q, Instant::now());
        q.len() >= FAILED_SIGN_INS_PER_MINUTE
    }

    /// Counts one failed sign-in.
    pub(crate) fn failed(&self) {
        let mut q = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        Self::prune(&mut q, now);
        q.push_back(now);
    }
}

/// A signed-in patient: the session decides whose data a handler sees.
#[derive(Debug, Clone)]
pub(crate) struct Patient {
    /// The person's store row id as of sign-in.
    pub person: i64,
    /// The access code's row id.
    pub code: i64,
    /// The session's CSRF token.
    pub csrf: String,
    /// The session, to check CSRF tokens and sign out.
    session: oncofed_web::Session<PatientSession>,
}

impl Patient {
    /// Refuses a POST whose form does not carry this session's CSRF token.
    pub(crate) fn check_csrf(&self, token: &str) -> Result<(), WebError> {
        self.session.check_csrf(token)
    }
}

impl FromRequestParts<AppState> for Patient {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let session = state
            .inner
            .portal
            .sessions
            .current(&parts.headers)
            .ok_or_else(|| WebError::SignIn(signin::LOGIN.to_owned()))?;
        Ok(Self {
            person: session.data.person,
            code: session.data.code,
            csrf: session.csrf.clone(),
            session,
        })
    }
}

/// The audit subject of what a session does: its access code, never the person.
pub(crate) fn subject(code: i64) -> String {
    format!("access-code/{code}")
}

/// The portal's routes, with the web layer's security headers and assets.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/",
            axum::routing::get(|| async { oncofed_web::redirect(HOME) }),
        )
        .merge(signin::router())
        .merge(page::router())
        .merge(actions::router())
        .layer(axum::middleware::from_fn(oncofed_web::secure_headers))
        .merge(oncofed_web::assets_router())
}

/// A store error as a web error: logged without personal data, a plain page.
pub(crate) fn store_failed(e: crate::db::StoreError) -> WebError {
    WebError::internal(e)
}

/// An API error (audit, blocking pool) as a web error.
pub(crate) fn api_failed(e: crate::error::ApiError) -> WebError {
    WebError::internal(e)
}
