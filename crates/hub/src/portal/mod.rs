//! The portal: the hub's web pages for researchers, the central office
//! (admins), the use-and-access committee, site admins and auditors.
//!
//! Pages are rendered on the server with `oncofed-web` (layout, sessions,
//! CSRF, language); the JSON API beside them stays the contract for the CLI.
//! A browser signs in once with the user's token (the same one the CLI uses)
//! and then holds only a session cookie. Every handler takes a
//! [`PortalUser`], so an unsigned request never reaches page code; every POST
//! checks the role, the record's owner and the CSRF token, and is audited.
//!
//! Pilot note: the token sign-in stands in for the institutions' identity
//! providers (OIDC, as the FDPG uses); the session layer does not change when
//! that arrives.

pub mod applications;
pub mod catalogue;
pub mod research;
mod sign_in;
pub mod sites;

use crate::config::Role;
use crate::{ApiError, AppState};
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use oncofed_web::{Lang, Markup, NavItem, Page, SignedIn, WebError, html};

/// The service name in every page's header.
pub const SERVICE_NAME: &str = "OncoFed Forschungsportal";

/// What a browser session of the hub holds.
#[derive(Debug, Clone)]
pub struct PortalSession {
    /// The user id from the users file.
    pub id: String,
    /// Their role.
    pub role: Role,
    /// The site a site admin administers.
    pub site: Option<String>,
}

/// A signed-in portal user. As a handler argument it redirects anyone
/// without a live session to the sign-in page before the handler runs.
#[derive(Debug, Clone)]
pub struct PortalUser {
    /// The user id.
    pub id: String,
    /// Their role.
    pub role: Role,
    /// The site of a site admin (always `Some` for [`Role::SiteAdmin`]).
    pub site: Option<String>,
    /// The session's CSRF token, for forms and [`PortalUser::check_csrf`].
    pub csrf: String,
}

impl PortalUser {
    /// Refuses unless the user has `role`.
    pub fn require(&self, role: Role) -> Result<(), WebError> {
        if self.role == role {
            Ok(())
        } else {
            Err(WebError::Forbidden)
        }
    }

    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, token: &str) -> Result<(), WebError> {
        use subtle::ConstantTimeEq;
        if !token.is_empty() && bool::from(self.csrf.as_bytes().ct_eq(token.as_bytes())) {
            Ok(())
        } else {
            Err(WebError::Forbidden)
        }
    }

    /// The site a site admin administers; refuses everyone else.
    pub fn admin_site(&self) -> Result<&str, WebError> {
        match (&self.role, &self.site) {
            (Role::SiteAdmin, Some(site)) => Ok(site),
            _ => Err(WebError::Forbidden),
        }
    }
}

impl FromRequestParts<AppState> for PortalUser {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let session = state
            .inner
            .portal
            .sessions
            .current(&parts.headers)
            .ok_or_else(|| WebError::SignIn(sign_in::LOGIN_PATH.into()))?;
        Ok(Self {
            id: session.data.id,
            role: session.data.role,
            site: session.data.site,
            csrf: session.csrf,
        })
    }
}

/// The portal's session stores (sign-in form and signed-in users).
pub(crate) struct PortalState {
    pub(crate) sessions: oncofed_web::Sessions<PortalSession>,
    pub(crate) pre_sign_in: oncofed_web::Sessions<()>,
}

impl PortalState {
    /// Sessions whose cookies carry `Secure` and `__Host-` when `tls`.
    pub(crate) fn new(tls: bool) -> Self {
        Self {
            sessions: oncofed_web::Sessions::new(oncofed_web::CookieSpec {
                name: "oncofed_hub",
                secure: tls,
            }),
            pre_sign_in: oncofed_web::Sessions::new(oncofed_web::CookieSpec {
                name: "oncofed_hub_sign_in",
                secure: tls,
            }),
        }
    }
}

/// The role as the page shows it.
pub fn role_label(role: Role, lang: Lang) -> &'static str {
    match role {
        Role::Researcher => lang.pick("Forschende", "Researcher"),
        Role::Admin => lang.pick("Geschäftsstelle", "Central office"),
        Role::Auditor => lang.pick("Prüfung", "Auditor"),
        Role::Committee => lang.pick("Use-and-Access-Komitee", "Use and access committee"),
        Role::SiteAdmin => lang.pick("Standort-Administration", "Site administration"),
    }
}

/// The navigation of a role: `(path, German, English)`. Each page module
/// owns the paths it serves; add entries here when adding a page.
pub fn nav_entries(role: Role) -> Vec<(&'static str, &'static str, &'static str)> {
    let mut entries = vec![("/portal", "Übersicht", "Overview")];
    match role {
        Role::Researcher => {
            entries.push(("/portal/feasibility", "Machbarkeit", "Feasibility"));
            entries.push(("/portal/applications", "Anträge", "Applications"));
            entries.push(("/portal/projects", "Projekte", "Projects"));
        }
        Role::Admin => {
            entries.push(("/portal/office", "Formalprüfung", "Formal check"));
            entries.push(("/portal/institutions", "Einrichtungen", "Institutions"));
        }
        Role::Committee => {
            entries.push(("/portal/committee", "Voten", "Votes"));
        }
        Role::SiteAdmin => {
            entries.push(("/portal/site-checks", "Standortprüfung", "Site checks"));
            entries.push((
                "/portal/site/projects",
                "Projekte des Standorts",
                "Site projects",
            ));
            entries.push(("/portal/site/ledger", "Beitragsbuch", "Contribution ledger"));
        }
        Role::Auditor => {}
    }
    entries.push(("/catalogue", "Katalog", "Catalogue"));
    entries
}

/// The navigation of `role` with `current` marked.
pub fn nav_for(role: Role, lang: Lang, current: &str) -> Vec<NavItem> {
    nav_entries(role)
        .into_iter()
        .map(|(href, de, en)| NavItem {
            href: href.to_owned(),
            label: lang.pick(de, en).to_owned(),
            current: href == current,
        })
        .collect()
}

/// A page of the portal for a signed-in user, with their navigation;
/// `current` is the navigation entry to mark (the page's own path).
pub fn page(user: &PortalUser, lang: Lang, current: &str, title: &str, body: Markup) -> Page {
    Page {
        nav: nav_for(user.role, lang, current),
        signed_in: Some(SignedIn {
            name: user.id.clone(),
            role_label: role_label(user.role, lang).to_owned(),
            csrf: user.csrf.clone(),
            logout_action: sign_in::LOGOUT_PATH.to_owned(),
        }),
        ..Page::new(lang, SERVICE_NAME, title, body)
    }
}

/// Appends an audit entry for a portal action; a failure to audit fails the
/// action (no unaudited change).
pub fn audit(
    state: &AppState,
    user: &PortalUser,
    action: &str,
    subject: &str,
    details: serde_json::Value,
) -> Result<(), WebError> {
    crate::routes::audit(state, &user.id, action, subject, details).map_err(web_error)
}

/// Maps an API error of shared hub code to the page error a browser sees.
pub fn web_error(e: ApiError) -> WebError {
    match e {
        ApiError::Unauthorized => WebError::SignIn(sign_in::LOGIN_PATH.into()),
        ApiError::Forbidden => WebError::Forbidden,
        ApiError::NotFound => WebError::NotFound,
        other => match other.client_message() {
            Some(message) => WebError::BadRequest(message),
            None => WebError::internal(format!("{other:?}")),
        },
    }
}

/// Runs blocking store or audit work off the async threads, for page handlers.
pub async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&AppState) -> Result<T, WebError> + Send + 'static,
) -> Result<T, WebError> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || f(&state))
        .await
        .map_err(WebError::internal)?
}

/// The portal's routes: sign-in, the home page, every role's pages and the
/// static assets.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(sign_in::router())
        .merge(research::router())
        .merge(applications::router())
        .merge(sites::router())
        .merge(catalogue::router())
        .merge(oncofed_web::assets_router())
}

/// The home page body of a role: one card per navigation entry.
pub(crate) fn home_cards(role: Role, lang: Lang) -> Markup {
    html! {
        div class="grid" {
            @for (href, de, en) in nav_entries(role).into_iter().skip(1) {
                div class="card" {
                    h2 { a href=(href) { (lang.pick(de, en)) } }
                }
            }
        }
    }
}
