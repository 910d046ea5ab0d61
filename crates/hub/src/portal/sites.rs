//! The site admin's pages at the hub (issue 17, item 4; R19): the projects their
//! site takes part in and the **contribution ledger** (`crate::ledger`), with
//! CSV and JSON exports. Admins and auditors read the ledger across sites.
//!
//! | path | who | what |
//! |---|---|---|
//! | `GET /portal/site/projects` | site admin | approved projects and what the site contributed to each |
//! | `GET /portal/site/ledger` | site admin (own site), admin, auditor (`?site=`) | summary per project and month, entries |
//! | `GET /portal/site/ledger.csv` | same | `?view=entries` (default) or `summary`, audited |
//! | `GET /portal/site/ledger.json` | same | summary and entries, audited |
//!
//! A site admin sees only their own site: asking for another (`?site=`) is
//! refused with 403 on every path ([`ledger_scope`]), the same rule as the JSON
//! API's `GET /v1/ledger`.

mod render;

use super::{PortalUser, audit, blocking, page};
use crate::AppState;
use crate::config::Role;
use crate::ledger::{LedgerExport, entries_csv, summary_csv};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oncofed_web::{Lang, Page, WebError};
use serde::Deserialize;

/// The routes of these pages.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/portal/site/projects", get(projects))
        .route("/portal/site/ledger", get(ledger_page))
        .route("/portal/site/ledger.csv", get(ledger_csv))
        .route("/portal/site/ledger.json", get(ledger_json))
}

/// Whose ledger a reader may see: a site admin only their own site's (another
/// site asked for is refused), admins and auditors any site or all
/// (`None`), every other role nothing.
pub fn ledger_scope(
    role: Role,
    own_site: Option<&str>,
    requested: Option<&str>,
) -> Result<Option<String>, WebError> {
    match role {
        Role::SiteAdmin => {
            let own = own_site.ok_or(WebError::Forbidden)?;
            match requested {
                None => Ok(Some(own.to_owned())),
                Some(site) if site == own => Ok(Some(own.to_owned())),
                Some(_) => Err(WebError::Forbidden),
            }
        }
        Role::Admin | Role::Auditor => Ok(requested.map(str::to_owned)),
        _ => Err(WebError::Forbidden),
    }
}

/// Filters of the ledger pages and exports.
#[derive(Debug, Default, Deserialize)]
pub struct LedgerParams {
    /// A site (admins and auditors; a site admin may name only their own).
    #[serde(default)]
    pub site: Option<String>,
    /// Only this month, `YYYY-MM`.
    #[serde(default)]
    pub period: Option<String>,
    /// Only this project (`-` for feasibility answers, which have none).
    #[serde(default)]
    pub project: Option<String>,
    /// CSV only: `entries` (default) or `summary`.
    #[serde(default)]
    pub view: Option<String>,
}

impl LedgerParams {
    /// Empty fields count as absent (a form submitted with nothing chosen).
    fn normalised(mut self) -> Result<Self, WebError> {
        let clean = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        self.site = clean(self.site);
        self.period = clean(self.period);
        self.project = clean(self.project);
        self.view = clean(self.view);
        if let Some(p) = &self.period {
            let b = p.as_bytes();
            let ok = b.len() == 7
                && b[4] == b'-'
                && b.iter()
                    .enumerate()
                    .all(|(i, c)| i == 4 || c.is_ascii_digit());
            if !ok {
                return Err(WebError::BadRequest(
                    "period: use YYYY-MM, e.g. 2026-12".into(),
                ));
            }
        }
        let id_ok = |s: &str| {
            s.len() <= 64
                && s.bytes().all(|b| {
                    b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || b == b'-'
                        || b == b'_'
                        || b == b'.'
                })
        };
        if self.site.as_deref().is_some_and(|s| !id_ok(s)) {
            return Err(WebError::BadRequest("site: a site id".into()));
        }
        if self.project.as_deref().is_some_and(|s| !id_ok(s)) {
            return Err(WebError::BadRequest(
                "project: a project id, or - for feasibility".into(),
            ));
        }
        Ok(self)
    }

    /// The query string for links to the exports with the same filters.
    fn query(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("site", &self.site),
            ("period", &self.period),
            ("project", &self.project),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k}={v}"));
            }
        }
        parts.join("&")
    }
}

/// The ledger `user` may see under `params`, filtered.
async fn load(
    state: &AppState,
    user: &PortalUser,
    params: &LedgerParams,
) -> Result<LedgerExport, WebError> {
    let scope = ledger_scope(user.role, user.site.as_deref(), params.site.as_deref())?;
    let period = params.period.clone();
    let project = params.project.clone();
    blocking(state, move |s| {
        let mut export = LedgerExport::load(s, scope.as_deref()).map_err(WebError::internal)?;
        export.entries.retain(|e| {
            period.as_deref().is_none_or(|p| e.period == p)
                && project.as_deref().is_none_or(|p| match p {
                    "-" => e.project.is_none(),
                    p => e.project.as_deref() == Some(p),
                })
        });
        export.summary = crate::ledger::summarise(&export.entries);
        Ok(export)
    })
    .await
}

async fn ledger_page(
    user: PortalUser,
    lang: Lang,
    State(state): State<AppState>,
    Query(params): Query<LedgerParams>,
) -> Result<Page, WebError> {
    let params = params.normalised()?;
    let export = load(&state, &user, &params).await?;
    let sites = if user.role == Role::SiteAdmin {
        Vec::new()
    } else {
        blocking(&state, |s| {
            s.inner
                .db
                .sites()
                .map(|v| v.into_iter().map(|(site, _)| site).collect())
                .map_err(WebError::internal)
        })
        .await?
    };
    let title = match &export.site {
        Some(site) => format!(
            "{} {site}",
            lang.pick("Beitragsbuch des Standorts", "Contribution ledger of site")
        ),
        None => lang
            .pick(
                "Beitragsbuch aller Standorte",
                "Contribution ledger of all sites",
            )
            .to_owned(),
    };
    let body = render::ledger(lang, &export, &params, &params.query(), &sites);
    Ok(page(&user, lang, "/portal/site/ledger", &title, body))
}

async fn ledger_csv(
    user: PortalUser,
    State(state): State<AppState>,
    Query(params): Query<LedgerParams>,
) -> Result<Response, WebError> {
    let params = params.normalised()?;
    let export = load(&state, &user, &params).await?;
    let summary = match params.view.as_deref() {
        None | Some("entries") => false,
        Some("summary") => true,
        Some(_) => return Err(WebError::BadRequest("view: entries or summary".into())),
    };
    let body = if summary {
        summary_csv(&export.summary)
    } else {
        entries_csv(&export.entries)
    };
    exported(&state, &user, &export, "csv").await?;
    let name = format!(
        "attachment; filename=\"oncofed-ledger-{}-{}.csv\"",
        export.site.as_deref().unwrap_or("all"),
        if summary { "summary" } else { "entries" }
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, name),
        ],
        body,
    )
        .into_response())
}

async fn ledger_json(
    user: PortalUser,
    State(state): State<AppState>,
    Query(params): Query<LedgerParams>,
) -> Result<Response, WebError> {
    let params = params.normalised()?;
    let export = load(&state, &user, &params).await?;
    exported(&state, &user, &export, "json").await?;
    Ok(axum::Json(export).into_response())
}

/// Audits an export: who took which site's ledger, in which format, how many entries.
async fn exported(
    state: &AppState,
    user: &PortalUser,
    export: &LedgerExport,
    format: &'static str,
) -> Result<(), WebError> {
    let user = user.clone();
    let subject = export.site.clone().unwrap_or_else(|| "all".into());
    let entries = export.entries.len();
    blocking(state, move |s| {
        audit(
            s,
            &user,
            "portal.ledger-exported",
            &subject,
            serde_json::json!({ "format": format, "entries": entries }),
        )
    })
    .await
}

async fn projects(
    user: PortalUser,
    lang: Lang,
    State(state): State<AppState>,
) -> Result<Page, WebError> {
    let site = user.admin_site()?.to_owned();
    let own = site.clone();
    let (projects, entries, registered) = blocking(&state, move |s| {
        let projects = s.inner.db.projects().map_err(WebError::internal)?;
        let entries = s
            .inner
            .db
            .contributions(Some(&own))
            .map_err(WebError::internal)?;
        let registered = s
            .inner
            .db
            .sites()
            .map_err(WebError::internal)?
            .iter()
            .any(|(id, _)| *id == own);
        Ok((projects, entries, registered))
    })
    .await?;
    let body = render::projects(lang, &site, registered, &projects, &entries);
    Ok(page(
        &user,
        lang,
        "/portal/site/projects",
        lang.pick("Projekte des Standorts", "Site projects"),
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_admin_sees_only_their_own_site() {
        assert_eq!(
            ledger_scope(Role::SiteAdmin, Some("site-1"), None).unwrap(),
            Some("site-1".into())
        );
        assert_eq!(
            ledger_scope(Role::SiteAdmin, Some("site-1"), Some("site-1")).unwrap(),
            Some("site-1".into())
        );
        assert!(ledger_scope(Role::SiteAdmin, Some("site-1"), Some("site-2")).is_err());
        assert!(ledger_scope(Role::SiteAdmin, None, None).is_err());
        assert_eq!(ledger_scope(Role::Auditor, None, None).unwrap(), None);
        assert_eq!(
            ledger_scope(Role::Admin, None, Some("site-2")).unwrap(),
            Some("site-2".into())
        );
        assert!(ledger_scope(Role::Researcher, None, None).is_err());
        assert!(ledger_scope(Role::Committee, None, None).is_err());
    }

    #[test]
    fn filters_are_checked() {
        let p = |period: &str| LedgerParams {
            period: Some(period.into()),
            ..Default::default()
        };
        assert!(p("2026-12").normalised().is_ok());
        assert!(p("").normalised().unwrap().period.is_none());
        assert!(p("2026-1").normalised().is_err());
        assert!(p("2026/12").normalised().is_err());
        let bad_site = LedgerParams {
            site: Some("a&b=c".into()),
            ..Default::default()
        };
        assert!(bad_site.normalised().is_err());
    }
}
