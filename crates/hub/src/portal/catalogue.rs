//! The catalogue's browsable page (issue 17, item 6, R20).
//!
//! - `GET /catalogue`: everyone, signed in or not (the catalogue holds only
//!   figures released under disclosure control); with `Accept:
//!   application/ld+json` or `text/turtle` the same URL answers the
//!   HealthDCAT-AP document instead (content negotiation);
//! - `POST /catalogue/refresh`: admins (the central office) only, CSRF-checked,
//!   audited as `portal.catalogue.refresh` beside the refresh's own
//!   `catalogue.refreshed`.

use super::{PortalSession, PortalUser, SERVICE_NAME, web_error};
use crate::AppState;
use crate::config::Role;
use crate::routes::catalogue::{Format, document, latest};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use oncofed_dcat::{Catalogue, category_text};
use oncofed_web::{Lang, Markup, Page, WebError, csrf_field, html, redirect};
use serde::Deserialize;

/// Where the page lives.
pub const CATALOGUE_PATH: &str = "/catalogue";
/// Where the admins' refresh form posts.
pub const REFRESH_PATH: &str = "/catalogue/refresh";

/// The routes of these pages.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(CATALOGUE_PATH, get(show))
        .route(REFRESH_PATH, post(refresh))
}

/// The signed-in user of this request, if any (the page is public).
fn signed_in(state: &AppState, headers: &HeaderMap) -> Option<PortalUser> {
    let session = state.inner.portal.sessions.current(headers)?;
    let PortalSession { id, role, site } = session.data;
    Some(PortalUser {
        id,
        role,
        site,
        csrf: session.csrf,
    })
}

async fn show(State(state): State<AppState>, headers: HeaderMap, lang: Lang) -> Response {
    if let Some(format) = Format::negotiate(&headers) {
        return document(&state, &headers, format).await;
    }
    let published = match latest(&state).await {
        Ok(p) => p,
        Err(e) => return web_error(e).into_response(),
    };
    let user = signed_in(&state, &headers);
    let admin = user.as_ref().filter(|u| u.role == Role::Admin);
    let body = html! {
        p class="big" { (lang.pick(
            "Welche Daten die Standorte der Föderation halten, je Datenkategorie: beschrieben nach HealthDCAT-AP, dem europäischen Standard für Gesundheitsdatenkataloge (EHDS).",
            "What data the federation's sites hold, per data category: described as HealthDCAT-AP, the European standard for health data catalogues (EHDS)."
        )) }
        p { (lang.pick(
            "Alle Zahlen sind unter Offenlegungskontrolle veröffentlicht: an den Standorten verrauscht und gerundet; Kategorien mit weniger Personen als der Schwellenwert ihrer Sicherheitsstufe erscheinen nicht. Die Daten selbst bleiben an den Standorten; Zugang nur über einen genehmigten Antrag.",
            "Every figure is published under disclosure control: noised and rounded at the sites; categories with fewer persons than the threshold of their security level do not appear. The data stay at the sites; access only through an approved application."
        )) }
        div class="actions" {
            a class="button button-secondary" href="/catalogue.jsonld" type="application/ld+json" { "JSON-LD" }
            a class="button button-secondary" href="/catalogue.ttl" type="text/turtle" { "Turtle" }
            @if let Some(admin) = admin {
                form method="post" action=(REFRESH_PATH) class="inline" {
                    (csrf_field(&admin.csrf))
                    button type="submit" { (lang.pick("Katalog jetzt aktualisieren", "Refresh the catalogue now")) }
                }
            }
        }
        @match &published {
            None => {
                p class="notice" { (lang.pick(
                    "Es wurde noch kein Katalog veröffentlicht.",
                    "No catalogue has been published yet."
                )) }
            }
            Some(p) => {
                p class="muted" {
                    (lang.pick("Veröffentlicht am ", "Published on "))
                    time datetime=(p.at.to_rfc3339()) { (p.at.format("%Y-%m-%d %H:%M UTC")) }
                    " · " (p.catalogue.datasets.len()) (lang.pick(" Datensätze", " datasets"))
                    @if let (Some(answered), Some(asked)) = (p.summary["sites_answered"].as_u64(), p.summary["sites_asked"].as_u64()) {
                        " · " (answered) (lang.pick(" von ", " of ")) (asked) (lang.pick(" Standorten haben geantwortet", " sites answered"))
                    }
                }
                (table(&p.catalogue, lang))
            }
        }
        @if user.is_none() {
            p { a href=(super::sign_in::LOGIN_PATH) { (lang.pick("Anmelden, um einen Antrag zu stellen", "Sign in to apply for data")) } }
        }
    };
    let title = lang.pick("Datenkatalog", "Data catalogue");
    match &user {
        Some(u) => super::page(u, lang, CATALOGUE_PATH, title, body).into_response(),
        None => Page::new(lang, SERVICE_NAME, title, body).into_response(),
    }
}

fn table(catalogue: &Catalogue, lang: Lang) -> Markup {
    let dash = lang.pick("nicht veröffentlicht", "not published");
    html! {
        table class="data" {
            caption { (lang.pick("Datensätze je Standort und Datenkategorie", "Datasets per site and data category")) }
            thead {
                tr {
                    th scope="col" { (lang.pick("Standort", "Site")) }
                    th scope="col" { (lang.pick("Datenkategorie", "Data category")) }
                    th scope="col" { (lang.pick("Sicherheitsstufe", "Security level")) }
                    th scope="col" class="num" { (lang.pick("Personen", "Persons")) }
                    th scope="col" class="num" { (lang.pick("Einträge", "Records")) }
                    th scope="col" { (lang.pick("Zeitraum", "Years")) }
                    th scope="col" { (lang.pick("Kodiersysteme", "Coding systems")) }
                    th scope="col" { (lang.pick("Zugang", "Access")) }
                }
            }
            tbody {
                @for d in &catalogue.datasets {
                    @let text = category_text(d.category);
                    tr {
                        th scope="row" { (d.site.as_str()) }
                        td { (lang.pick(text.name.de, text.name.en)) }
                        td { (u8::from(d.level)) }
                        td class="num" { "≈ " (d.persons) }
                        td class="num" {
                            @match d.records {
                                Some(n) => { "≈ " (n) }
                                None => { span class="muted" { (dash) } }
                            }
                        }
                        td {
                            @match d.coverage {
                                Some(span) => { (span.first) "–" (span.last) }
                                None => { span class="muted" { (dash) } }
                            }
                        }
                        td {
                            @let names: Vec<&str> = d.coding_systems.iter().map(|s| s.name()).collect();
                            (names.join(", "))
                        }
                        td { a href="/portal/applications" { (lang.pick("Antrag stellen", "Apply")) } }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct RefreshForm {
    csrf: String,
}

async fn refresh(
    user: PortalUser,
    State(state): State<AppState>,
    Form(form): Form<RefreshForm>,
) -> Result<Response, WebError> {
    user.require(Role::Admin)?;
    user.check_csrf(&form.csrf)?;
    let summary = crate::catalogue::refresh(&state, &user.id)
        .await
        .map_err(web_error)?;
    let details = serde_json::to_value(&summary).map_err(WebError::internal)?;
    let who = user.clone();
    super::blocking(&state, move |s| {
        super::audit(s, &who, "portal.catalogue.refresh", "catalogue", details)
    })
    .await?;
    Ok(redirect(CATALOGUE_PATH))
}
