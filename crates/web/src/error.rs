//! Errors of a page handler, answered with a small bilingual page.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

/// Why a page cannot be shown or a form not accepted. The texts never carry
/// personal data: handlers pass what the user did wrong, not what they saw.
#[derive(Debug)]
pub enum WebError {
    /// The form or query is wrong; the text says what to correct.
    BadRequest(String),
    /// Signed in, but not allowed (wrong role, someone else's record, a
    /// missing or wrong CSRF token).
    Forbidden,
    /// No such page or record (also for records of others where even their
    /// existence must not show).
    NotFound,
    /// Not signed in: redirect to this sign-in page.
    SignIn(String),
    /// Something failed on the server; logged, not shown.
    Internal,
}

impl WebError {
    /// Logs `error` (which must hold no personal data) and answers 500.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "page handler failed");
        Self::Internal
    }
}

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadRequest(why) => write!(f, "bad request: {why}"),
            Self::Forbidden => f.write_str("forbidden"),
            Self::NotFound => f.write_str("not found"),
            Self::SignIn(_) => f.write_str("sign-in required"),
            Self::Internal => f.write_str("internal error"),
        }
    }
}

impl std::error::Error for WebError {}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, de, en, detail) = match &self {
            Self::BadRequest(why) => (
                StatusCode::BAD_REQUEST,
                "Die Eingabe ist nicht gültig",
                "The input is not valid",
                Some(why.as_str()),
            ),
            Self::Forbidden => (StatusCode::FORBIDDEN, "Kein Zugriff", "Access denied", None),
            Self::NotFound => (StatusCode::NOT_FOUND, "Nicht gefunden", "Not found", None),
            Self::SignIn(to) => return crate::redirect(to),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Ein Fehler ist aufgetreten",
                "Something went wrong",
                None,
            ),
        };
        let body = html! {
            (maud::DOCTYPE)
            html lang="de" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (de) " / " (en) }
                    link rel="stylesheet" href="/static/portal.css";
                }
                body {
                    main id="main" class="error-page" {
                        h1 { (de) }
                        p lang="en" { (en) }
                        @if let Some(detail) = detail { p class="error" { (detail) } }
                        p { a href="/" { "Zur Startseite" } " · " a href="/" lang="en" { "Home" } }
                    }
                }
            }
        };
        (status, crate::page::html_response(body.into_string())).into_response()
    }
}
