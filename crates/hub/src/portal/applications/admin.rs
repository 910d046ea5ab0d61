//! The approval policy page (with the site admins' opt-in) and the admins'
//! register of institutions that the policy's `registered-institution` rule
//! reads.

use super::{VIA, actor, run};
use crate::applications as service;
use crate::db::Institution;
use crate::portal::{PortalUser, page};
use crate::{ApiError, AppState, Role};
use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use oncofed_web::{Lang, WebError, csrf_field, html, redirect};
use serde::Deserialize;

/// The institutions page (the admins' navigation entry).
pub(super) const INSTITUTIONS: &str = "/portal/institutions";

pub(super) async fn policy(
    user: PortalUser,
    lang: Lang,
    State(state): State<AppState>,
) -> Result<Response, WebError> {
    let site = user.site.clone().filter(|_| user.role == Role::SiteAdmin);
    let probe = site.clone();
    let opted = run(&state, move |s| match &probe {
        Some(site) => service::opted_in(s, site),
        None => Ok(false),
    })
    .await?;
    let title = lang.pick(
        "Richtlinie zur automatischen Genehmigung",
        "Automatic approval policy",
    );
    let current = super::NAV_APPLICATIONS;
    let body = match service::policy(&state) {
        None => html! {
            p { (lang.pick("Dieser Hub genehmigt nichts automatisch; jeder Antrag geht den regulären Weg.", "This hub approves nothing automatically; every application goes the manual way.")) }
        },
        Some(p) => html! {
            h2 { (lang.pick(&p.title_de, &p.title_en)) }
            p { (lang.pick("Richtlinie", "Policy")) " " code { (p.id) } ", " (lang.pick("Version", "version")) " " (p.version) ", SHA-256 " code { (p.sha256) } }
            p { (lang.pick(
                "Ein Antrag, der jede dieser Regeln erfüllt, wird beim Einreichen sofort genehmigt; der Prüfvermerk nennt Richtlinie, Version, Prüfsumme und jede erfüllte Regel. Sonst geht er den regulären Weg, und seine Seite nennt die nicht erfüllten Regeln.",
                "An application that meets every one of these rules is approved the moment it is submitted; its audit record names the policy, version, checksum and each rule that held. Otherwise it goes the manual way, and its page names the rules that failed."
            )) }
            table class="data" {
                caption { (lang.pick("Regeln", "Rules")) }
                thead { tr { th scope="col" { (lang.pick("Regel", "Rule")) } th scope="col" { (lang.pick("Inhalt", "What it requires")) } } }
                tbody {
                    @for r in &p.rules {
                        tr { th scope="row" { code { (r.id) } } td { (lang.pick(&r.de, &r.en)) } }
                    }
                }
            }
            @if let Some(site) = &site {
                section class="card" {
                    h2 { (lang.pick("Ihr Standort", "Your site")) " " (site) }
                    p {
                        @if opted {
                            span class="badge badge-ok" { (lang.pick("nimmt an der automatischen Genehmigung teil", "takes part in approval by policy")) }
                        } @else {
                            span class="badge" { (lang.pick("nimmt nicht teil: Anträge an Ihren Standort prüfen Sie selbst", "does not take part: you check applications to your site yourself")) }
                        }
                    }
                    form method="post" action="/portal/applications/policy/opt-in" {
                        (csrf_field(&user.csrf))
                        input type="hidden" name="opt_in" value=(if opted { "false" } else { "true" });
                        button type="submit" {
                            @if opted { (lang.pick("Teilnahme beenden", "Opt out")) }
                            @else { (lang.pick("An der automatischen Genehmigung teilnehmen", "Opt into approval by policy")) }
                        }
                    }
                }
            }
            details {
                summary { (lang.pick("Text der Richtlinie", "The policy's text")) }
                pre { (p.text) }
            }
        },
    };
    Ok(page(&user, lang, current, title, body).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct OptInForm {
    csrf: String,
    opt_in: bool,
}

pub(super) async fn opt_in(
    user: PortalUser,
    State(state): State<AppState>,
    Form(f): Form<OptInForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&f.csrf)?;
    user.require(Role::SiteAdmin)?;
    let a = actor(&state, &user);
    run(&state, move |s| service::set_opt_in(s, &a, f.opt_in, VIA)).await?;
    Ok(redirect("/portal/applications/policy"))
}

pub(super) async fn institutions(
    user: PortalUser,
    lang: Lang,
    State(state): State<AppState>,
) -> Result<Response, WebError> {
    user.require(Role::Admin)?;
    let list = run(&state, |s| {
        s.inner.db.institutions().map_err(ApiError::internal)
    })
    .await?;
    let title = lang.pick("Registrierte Einrichtungen", "Registered institutions");
    let current = INSTITUTIONS;
    let body = html! {
        p { (lang.pick(
            "Die Regel registered-institution der Richtlinie gilt nur für Forschende, die hier einer Einrichtung zugeordnet sind.",
            "The policy's registered-institution rule holds only for researchers assigned to an institution here."
        )) }
        @if list.is_empty() {
            p class="muted" { (lang.pick("Noch keine Einrichtung registriert.", "No institution registered yet.")) }
        } @else {
            table class="data" {
                caption { (title) }
                thead { tr {
                    th scope="col" { (lang.pick("Kennung", "Id")) }
                    th scope="col" { (lang.pick("Name", "Name")) }
                    th scope="col" { (lang.pick("Mitglieder", "Members")) }
                } }
                tbody {
                    @for i in &list {
                        tr { th scope="row" { (i.id) } td { (i.name) } td { (i.members.iter().cloned().collect::<Vec<_>>().join(", ")) } }
                    }
                }
            }
        }
        h2 { (lang.pick("Einrichtung registrieren oder ändern", "Register or change an institution")) }
        form class="stack" method="post" action=(INSTITUTIONS) {
            (csrf_field(&user.csrf))
            label for="inst-id" { (lang.pick("Kennung (a-z, 0-9, -)", "Id (a-z, 0-9, -)")) }
            input id="inst-id" name="id" type="text" required maxlength="64" pattern="[a-z0-9-]+";
            label for="inst-name" { (lang.pick("Name", "Name")) }
            input id="inst-name" name="name" type="text" required maxlength="200";
            label for="inst-members" { (lang.pick("Mitglieder (Hub-Kennungen, durch Komma getrennt)", "Members (hub user ids, comma-separated)")) }
            input id="inst-members" name="members" type="text";
            button type="submit" { (lang.pick("Speichern", "Save")) }
        }
    };
    Ok(page(&user, lang, current, title, body).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct InstitutionForm {
    csrf: String,
    id: String,
    name: String,
    #[serde(default)]
    members: String,
}

pub(super) async fn register(
    user: PortalUser,
    State(state): State<AppState>,
    Form(f): Form<InstitutionForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&f.csrf)?;
    user.require(Role::Admin)?;
    let a = actor(&state, &user);
    let institution = Institution {
        id: f.id.trim().to_owned(),
        name: f.name.trim().to_owned(),
        members: f
            .members
            .split([',', ' ', ';'])
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(String::from)
            .collect(),
    };
    run(&state, move |s| {
        service::register_institution(s, &a, institution, VIA)
    })
    .await?;
    Ok(redirect(INSTITUTIONS))
}
