//! The layout every page shares.

use crate::Lang;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

/// One entry of the navigation bar.
#[derive(Debug, Clone)]
pub struct NavItem {
    /// Where it leads.
    pub href: String,
    /// What it says (already in the page's language).
    pub label: String,
    /// Whether it is the current page (`aria-current="page"`).
    pub current: bool,
}

/// Who is signed in, for the header and its sign-out form.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// Display name (a user id or "Patient/in"; never a patient's name).
    pub name: String,
    /// The role as the page shows it.
    pub role_label: String,
    /// The session's CSRF token (the sign-out form is a POST).
    pub csrf: String,
    /// Where the sign-out form posts.
    pub logout_action: String,
}

/// A full page: layout plus the handler's body.
#[derive(Debug)]
pub struct Page {
    /// Its language.
    pub lang: Lang,
    /// The `<title>` and the `<h1>`.
    pub title: String,
    /// The navigation entries of the signed-in role (empty when signed out).
    pub nav: Vec<NavItem>,
    /// The signed-in user, if any.
    pub signed_in: Option<SignedIn>,
    /// The page's content, below the `<h1>`.
    pub body: Markup,
    /// The service's name in the header (e.g. "OncoFed Forschungsportal").
    pub service: String,
}

impl Page {
    /// A page of `service` with no navigation and nobody signed in.
    pub fn new(
        lang: Lang,
        service: impl Into<String>,
        title: impl Into<String>,
        body: Markup,
    ) -> Self {
        Self {
            lang,
            title: title.into(),
            nav: Vec::new(),
            signed_in: None,
            body,
            service: service.into(),
        }
    }

    /// The whole HTML document.
    pub fn render(&self) -> Markup {
        let lang = self.lang;
        let other = lang.other();
        html! {
            (DOCTYPE)
            html lang=(lang.code()) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false}"#;
                    title { (self.title) " – " (self.service) }
                    link rel="stylesheet" href="/static/portal.css";
                    script src="/static/htmx.min.js" defer {}
                }
                body {
                    a class="skip-link" href="#main" { (lang.pick("Zum Inhalt springen", "Skip to content")) }
                    header class="site-header" {
                        p class="service-name" { a href="/" { (self.service) } }
                        div class="header-tools" {
                            a href={ "?lang=" (other.code()) } lang=(other.code()) hreflang=(other.code()) {
                                (other.pick("Deutsch", "English"))
                            }
                            @if let Some(user) = &self.signed_in {
                                span class="who" { (user.name) " (" (user.role_label) ")" }
                                form method="post" action=(user.logout_action) class="inline" {
                                    (csrf_field(&user.csrf))
                                    button type="submit" class="button-secondary" { (lang.pick("Abmelden", "Sign out")) }
                                }
                            }
                        }
                    }
                    @if !self.nav.is_empty() {
                        nav aria-label=(lang.pick("Hauptnavigation", "Main navigation")) {
                            ul {
                                @for item in &self.nav {
                                    li {
                                        @if item.current {
                                            a href=(item.href) aria-current="page" { (item.label) }
                                        } @else {
                                            a href=(item.href) { (item.label) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    main id="main" tabindex="-1" {
                        h1 { (self.title) }
                        (self.body)
                    }
                    footer class="site-footer" {
                        p { "OncoFed · " (lang.pick(
                            "Föderierte Forschungsdateninfrastruktur für Hämatologie und Onkologie",
                            "Federated research-data infrastructure for haematology and oncology")) }
                    }
                }
            }
        }
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let lang = self.lang;
        let mut response = html_response(self.render().into_string()).into_response();
        // Keep the chosen language for the next pages (not a secret; readable by nobody but this site).
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{}={}; Path=/; SameSite=Strict; Max-Age=31536000",
            crate::lang::LANG_COOKIE,
            lang.code()
        )) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
        response
    }
}

/// An HTML body with its content type.
pub(crate) fn html_response(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

/// The hidden CSRF input every POST form carries.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// 303 See Other to `to` (after a POST, so reloading does not repeat it).
pub fn redirect(to: &str) -> Response {
    let location = HeaderValue::from_str(to).unwrap_or_else(|_| HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_has_landmarks_language_and_escapes_content() {
        let page = Page {
            signed_in: Some(SignedIn {
                name: "r<1>".into(),
                role_label: "Forschende".into(),
                csrf: "tok".into(),
                logout_action: "/portal/logout".into(),
            }),
            nav: vec![NavItem {
                href: "/portal".into(),
                label: "Start".into(),
                current: true,
            }],
            ..Page::new(Lang::De, "OncoFed", "Titel <b>", html! { p { "x" } })
        };
        let text = page.render().into_string();
        assert!(text.starts_with("<!DOCTYPE html><html lang=\"de\">"));
        assert!(text.contains("<main id=\"main\""));
        assert!(text.contains("aria-current=\"page\""));
        assert!(text.contains("Titel &lt;b&gt;"));
        assert!(text.contains("r&lt;1&gt;"));
        assert!(text.contains("name=\"csrf\" value=\"tok\""));
        assert!(!text.contains("style="));
    }
}
