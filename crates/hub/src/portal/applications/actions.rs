//! The application pages' forms and POST handlers. Each handler checks the
//! CSRF token and the role, then calls the service, which checks ownership
//! and the stage in the workflow and audits the action.

use super::{VIA, actor, button_form, form, run, views};
use crate::applications::{self as service, workflow};
use crate::portal::{PortalUser, page};
use crate::{AppState, Role};
use axum::Form;
use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Response};
use oncofed_protocol::application::{Application, Party, SiteDecision, Stage, Vote};
use oncofed_web::{Lang, Markup, WebError, csrf_field, html, redirect};
use serde::Deserialize;

/// Most fields a posted application form may have (checkbox groups included).
const MAX_FIELDS: usize = 200;

/// A posted form's fields and its uploaded ethics vote (name, bytes), if any.
async fn read(mut mp: Multipart) -> Result<(form::Fields, Option<(String, Vec<u8>)>), WebError> {
    let bad = |_| {
        WebError::BadRequest(
            "the form could not be read; send it again (files up to 10 MiB)".into(),
        )
    };
    let mut fields = form::Fields::new();
    let mut file = None;
    let mut count = 0;
    while let Some(field) = mp.next_field().await.map_err(bad)? {
        count += 1;
        if count > MAX_FIELDS {
            return Err(WebError::BadRequest("the form has too many fields".into()));
        }
        let name = field.name().unwrap_or("").to_owned();
        if name == "ethics" {
            let filename = field.file_name().unwrap_or("").to_owned();
            let bytes = field.bytes().await.map_err(bad)?;
            if !bytes.is_empty() {
                file = Some((filename, bytes.to_vec()));
            }
        } else {
            let text = field.text().await.map_err(bad)?;
            fields.entry(name).or_default().push(text);
        }
    }
    Ok((fields, file))
}

fn csrf_of(fields: &form::Fields) -> &str {
    fields
        .get("csrf")
        .and_then(|v| v.first())
        .map(String::as_str)
        .unwrap_or("")
}

async fn registered_sites(state: &AppState) -> Result<Vec<String>, WebError> {
    run(state, |s| {
        Ok(s.inner
            .db
            .sites()
            .map_err(crate::ApiError::internal)?
            .into_iter()
            .map(|(site, _)| site)
            .collect())
    })
    .await
}

pub(super) async fn new_form(
    user: PortalUser,
    lang: Lang,
    State(state): State<AppState>,
) -> Result<Response, WebError> {
    user.require(Role::Researcher)?;
    let sites = registered_sites(&state).await?;
    let title = lang.pick("Neuer Antrag", "New application");
    let body = html! {
        p { (lang.pick(
            "Füllen Sie den Antrag aus und laden Sie das Ethikvotum hoch. Ein Antrag, der alle Regeln der Richtlinie erfüllt, wird beim Einreichen sofort genehmigt; sonst prüfen ihn Geschäftsstelle, Standorte und Nutzungsausschuss.",
            "Fill in the application and upload the ethics vote. An application that meets every rule of the policy is approved the moment it is submitted; otherwise the office, the sites and the use-and-access committee review it."
        )) " " a href="/portal/applications/policy" { (lang.pick("Zur Richtlinie", "Read the policy")) } }
        (form::render(None, &sites, "/portal/applications/new", &user.csrf, lang))
    };
    Ok(page(&user, lang, super::NAV_APPLICATIONS, title, body).into_response())
}

/// Saves the draft (and the ethics vote), then submits if asked; redirects
/// to the application's page.
async fn save(
    state: &AppState,
    user: &PortalUser,
    id: Option<String>,
    fields: form::Fields,
    file: Option<(String, Vec<u8>)>,
) -> Result<Response, WebError> {
    let content = form::parse(&fields).map_err(WebError::BadRequest)?;
    let submit = fields
        .get("intent")
        .and_then(|v| v.first())
        .is_some_and(|i| i == "submit");
    let a = actor(state, user);
    let id = run(state, move |s| {
        let id = match id {
            Some(id) => {
                service::decide(
                    s,
                    &a,
                    &id,
                    workflow::Action::SaveDraft(Box::new(content)),
                    VIA,
                )?;
                id
            }
            None => service::create(s, &a, content, false, VIA)?.id,
        };
        if let Some((name, bytes)) = file {
            service::upload_ethics(s, &a, &id, &name, &bytes, VIA)?;
        }
        if submit {
            service::submit(s, &a, &id, VIA)?;
        }
        Ok(id)
    })
    .await?;
    Ok(redirect(&format!("/portal/applications/{id}")))
}

pub(super) async fn create(
    user: PortalUser,
    State(state): State<AppState>,
    mp: Multipart,
) -> Result<Response, WebError> {
    user.require(Role::Researcher)?;
    let (fields, file) = read(mp).await?;
    user.check_csrf(csrf_of(&fields))?;
    save(&state, &user, None, fields, file).await
}

pub(super) async fn edit_form(
    user: PortalUser,
    lang: Lang,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    user.require(Role::Researcher)?;
    let a = actor(&state, &user);
    let app = run(&state, move |s| service::get(s, &a, &id)).await?;
    if app.applicant != user.id || !matches!(app.stage, Stage::Draft | Stage::Rework) {
        return Err(WebError::Forbidden);
    }
    let sites = registered_sites(&state).await?;
    let title = lang.pick("Antrag bearbeiten", "Edit the application");
    let action = format!("/portal/applications/{}/edit", app.id);
    let body = html! {
        @if let Some(r) = app.last_reasons() {
            div class="notice" { strong { (lang.pick("Begründung der Rückgabe", "Reasons for the return")) ": " } (r) }
        }
        (form::render(app.draft.as_ref().or(app.content()), &sites, &action, &user.csrf, lang))
    };
    Ok(page(&user, lang, super::NAV_APPLICATIONS, title, body).into_response())
}

pub(super) async fn edit(
    user: PortalUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
    mp: Multipart,
) -> Result<Response, WebError> {
    user.require(Role::Researcher)?;
    let (fields, file) = read(mp).await?;
    user.check_csrf(csrf_of(&fields))?;
    save(&state, &user, Some(id), fields, file).await
}

/// A form with only the CSRF token.
#[derive(Debug, Deserialize)]
pub(super) struct CsrfOnly {
    csrf: String,
}

pub(super) async fn submit(
    user: PortalUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    user.check_csrf(&f.csrf)?;
    user.require(Role::Researcher)?;
    let a = actor(&state, &user);
    let target = format!("/portal/applications/{id}");
    run(&state, move |s| service::submit(s, &a, &id, VIA)).await?;
    Ok(redirect(&target))
}

/// A decision with a choice and words (reasons or conditions).
#[derive(Debug, Deserialize)]
pub(super) struct Decision {
    csrf: String,
    choice: String,
    #[serde(default)]
    text: String,
}

async fn decide(
    state: &AppState,
    user: &PortalUser,
    id: String,
    action: workflow::Action,
) -> Result<Response, WebError> {
    let a = actor(state, user);
    let target = format!("/portal/applications/{id}");
    run(state, move |s| service::decide(s, &a, &id, action, VIA)).await?;
    Ok(redirect(&target))
}

pub(super) async fn formal_check(
    user: PortalUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(f): Form<Decision>,
) -> Result<Response, WebError> {
    user.check_csrf(&f.csrf)?;
    user.require(Role::Admin)?;
    let pass = match f.choice.as_str() {
        "pass" => true,
        "rework" => false,
        _ => return Err(WebError::BadRequest("choose pass or rework".into())),
    };
    let action = workflow::Action::FormalCheck {
        pass,
        reasons: f.text,
    };
    decide(&state, &user, id, action).await
}

pub(super) async fn site_decision(
    user: PortalUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(f): Form<Decision>,
) -> Result<Response, WebError> {
    user.check_csrf(&f.csrf)?;
    user.require(Role::SiteAdmin)?;
    let site = user.site.clone().ok_or(WebError::Forbidden)?;
    let decision = match f.choice.as_str() {
        "accept" => SiteDecision::Accept,
        "conditions" => SiteDecision::AcceptWithConditions { conditions: f.text },
        "decline" => SiteDecision::Decline { reasons: f.text },
        _ => {
            return Err(WebError::BadRequest(
                "choose accept, conditions or decline".into(),
            ));
        }
    };
    decide(
        &state,
        &user,
        id,
        workflow::Action::SiteDecide { site, decision },
    )
    .await
}

pub(super) async fn vote(
    user: PortalUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(f): Form<Decision>,
) -> Result<Response, WebError> {
    user.check_csrf(&f.csrf)?;
    user.require(Role::Committee)?;
    let vote = match f.choice.as_str() {
        "approve" => Vote::Approve,
        "conditions" => Vote::ApproveWithConditions { conditions: f.text },
        "rework" => Vote::Rework { reasons: f.text },
        "reject" => Vote::Reject { reasons: f.text },
        _ => {
            return Err(WebError::BadRequest(
                "choose approve, conditions, rework or reject".into(),
            ));
        }
    };
    decide(&state, &user, id, workflow::Action::Vote(vote)).await
}

pub(super) async fn acknowledge(
    user: PortalUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    user.check_csrf(&f.csrf)?;
    let party = match (user.role, &user.site) {
        (Role::Researcher, _) => Party::Applicant,
        (Role::SiteAdmin, Some(site)) => Party::Site(site.clone()),
        _ => return Err(WebError::Forbidden),
    };
    decide(&state, &user, id, workflow::Action::Acknowledge(party)).await
}

/// A decision form: radio choices (value, label) and a text for reasons or
/// conditions.
fn choice_form(
    action: &str,
    csrf: &str,
    legend: &str,
    choices: &[(&str, &str)],
    text_label: &str,
    button: &str,
) -> Markup {
    html! {
        form class="stack" method="post" action=(action) {
            (csrf_field(csrf))
            fieldset {
                legend { (legend) }
                @for (i, (value, label)) in choices.iter().enumerate() {
                    @let id = format!("choice-{value}");
                    div {
                        input id=(id) type="radio" name="choice" value=(value) required checked[i == 0];
                        " " label for=(id) { (label) }
                    }
                }
            }
            label for="decision-text" { (text_label) }
            textarea id="decision-text" name="text" rows="3" {}
            button type="submit" { (button) }
        }
    }
}

/// The forms `actor` may use on `app` now.
pub(super) fn forms(app: &Application, actor: &workflow::Actor, csrf: &str, lang: Lang) -> Markup {
    let base = format!("/portal/applications/{}", app.id);
    let is_applicant = actor.role == Role::Researcher && actor.id == app.applicant;
    let words = lang.pick(
        "Begründung oder Auflagen (bei Rückgabe, Auflagen und Ablehnung erforderlich)",
        "Reasons or conditions (required to return, attach conditions or decline)",
    );
    html! {
        @if is_applicant && matches!(app.stage, Stage::Draft | Stage::Rework) {
            section class="card" {
                h2 { (lang.pick("Ihr Entwurf", "Your draft")) }
                div class="actions" {
                    a href=(format!("{base}/edit")) { (lang.pick("Bearbeiten", "Edit")) }
                    (button_form(&format!("{base}/submit"), csrf, lang.pick("Einreichen", "Submit")))
                }
            }
        }
        @if actor.role == Role::Admin && app.stage == Stage::FormalCheck {
            section class="card" {
                h2 { (lang.pick("Formale Prüfung", "Formal check")) }
                (choice_form(&format!("{base}/formal-check"), csrf, lang.pick("Ergebnis", "Outcome"),
                    &[("pass", lang.pick("Formal vollständig: an die Standorte", "Formally complete: on to the sites")),
                      ("rework", lang.pick("Zur Überarbeitung zurück", "Return for rework"))],
                    words, lang.pick("Prüfung abschließen", "Record the check")))
            }
        }
        @if super::waits_for(app, actor) && actor.role == Role::SiteAdmin && app.stage == Stage::SiteCheck {
            section class="card" {
                h2 { (lang.pick("Entscheidung Ihres Standorts", "Your site's decision")) " (" (actor.site.as_deref().unwrap_or("")) ")" }
                (choice_form(&format!("{base}/site-decision"), csrf, lang.pick("Entscheidung", "Decision"),
                    &[("accept", lang.pick("Zustimmen", "Accept")),
                      ("conditions", lang.pick("Mit Auflagen zustimmen", "Accept with conditions")),
                      ("decline", lang.pick("Ablehnen (der Standort nimmt nicht teil)", "Decline (the site does not take part)"))],
                    words, lang.pick("Entscheidung speichern", "Record the decision")))
            }
        }
        @if super::waits_for(app, actor) && actor.role == Role::Committee {
            section class="card" {
                h2 { (lang.pick("Ihr Votum", "Your vote")) }
                p class="muted" { (lang.pick(
                    "Vier-Augen-Prinzip: Genehmigt ist der Antrag erst, wenn zwei verschiedene Mitglieder zustimmen; jedes Mitglied zählt einmal.",
                    "Four eyes: the application is approved only when two distinct members approve; each member counts once."
                )) }
                (choice_form(&format!("{base}/vote"), csrf, lang.pick("Votum", "Vote"),
                    &[("approve", lang.pick("Zustimmen", "Approve")),
                      ("conditions", lang.pick("Mit Auflagen zustimmen", "Approve with conditions")),
                      ("rework", lang.pick("Zur Überarbeitung zurück", "Return for rework")),
                      ("reject", lang.pick("Ablehnen", "Reject"))],
                    words, lang.pick("Votum abgeben", "Cast the vote")))
            }
        }
        @if app.stage == Stage::Acknowledgement && super::waits_for(app, actor) {
            section class="card" {
                h2 { (lang.pick("Auflagen bestätigen", "Acknowledge the terms")) }
                (views::terms(app, lang))
                (button_form(&format!("{base}/acknowledge"), csrf, lang.pick("Ich bestätige die Auflagen", "I acknowledge the terms")))
            }
        }
    }
}
