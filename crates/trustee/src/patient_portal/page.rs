//! The person's page: what they decided, in plain language (the consent
//! engine's answers over every consent on record), what was done under it
//! (reported uses, the audit trail's entries about them, deletion orders), and
//! the forms to decide anew.

use super::choices::{Standing, Standings, standings};
use super::signin::csrf;
use super::{HOME, Patient, texts};
use crate::AppState;
use crate::db::patients::{PersonView, person_view};
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oncofed_web::{Lang, Markup, NavItem, Page, SignedIn, WebError, html};
use serde::Deserialize;

/// The page's route.
pub(super) fn router() -> Router<AppState> {
    Router::new().route(HOME, get(show))
}

/// What `?done=` may say after an action (it only picks a message).
#[derive(Debug, Default, Deserialize)]
pub(super) struct Done {
    #[serde(default)]
    done: Option<String>,
}

/// The layout around a patient's page.
pub(super) fn layout(patient: &Patient, lang: Lang, title: &str, body: Markup) -> Page {
    Page {
        lang,
        title: title.to_owned(),
        nav: vec![
            NavItem {
                href: HOME.to_owned(),
                label: lang.pick("Meine Daten", "My data").to_owned(),
                current: title == lang.pick("Meine Daten in der Forschung", "My data in research"),
            },
            NavItem {
                href: "/patient/withdraw".to_owned(),
                label: lang.pick("Widerrufen", "Withdraw").to_owned(),
                current: title != lang.pick("Meine Daten in der Forschung", "My data in research"),
            },
        ],
        signed_in: Some(SignedIn {
            name: lang.pick("Patientin oder Patient", "Patient").to_owned(),
            role_label: lang.pick("Patientenportal", "Patient portal").to_owned(),
            csrf: patient.csrf.clone(),
            logout_action: "/patient/logout".to_owned(),
        }),
        body,
        service: super::service(lang),
    }
}

/// Reads the signed-in person's view.
pub(super) async fn view_of(state: &AppState, patient: &Patient) -> Result<PersonView, WebError> {
    let person = patient.person;
    state
        .inner
        .db
        .read(move |conn| person_view(conn, person))
        .await
        .map_err(super::store_failed)?
        .ok_or(WebError::NotFound)
}

fn date(lang: Lang, secs: i64) -> String {
    let d = chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
    match lang {
        Lang::De => d.format("%d.%m.%Y").to_string(),
        Lang::En => d.format("%Y-%m-%d").to_string(),
    }
}

fn badge(lang: Lang, s: Standing) -> Markup {
    let (class, text) = if s.permits() {
        ("badge badge-ok", lang.pick("Erlaubt", "Allowed"))
    } else {
        ("badge badge-bad", lang.pick("Nicht erlaubt", "Not allowed"))
    };
    html! { span class=(class) { (text) } }
}

fn done_text(lang: Lang, done: &str) -> Option<&'static str> {
    Some(match done {
        "research" | "genetic" | "recontact" => lang.pick(
            "Ihre Entscheidung ist gespeichert. Die Kliniken erfahren sie automatisch.",
            "Your decision is saved. The hospitals learn of it automatically.",
        ),
        "withdraw" => lang.pick(
            "Ihr Widerruf ist gespeichert. Die Kliniken wurden angewiesen, Ihre Forschungsdaten zu löschen.",
            "Your withdrawal is saved. The hospitals were told to delete your research data.",
        ),
        _ => return None,
    })
}

/// One decision card with its form.
#[allow(clippy::too_many_arguments)]
fn decision_card(
    lang: Lang,
    patient: &Patient,
    id: &str,
    heading: &str,
    explain: &str,
    standing: Standing,
    answer: &str,
    action: Option<(&str, &str)>,
) -> Markup {
    html! {
        section class="card" aria-labelledby={ (id) "-heading" } {
            h3 id={ (id) "-heading" } { (heading) }
            p { (explain) }
            p class="big" { (badge(lang, standing)) " " (answer) }
            @if let Some((value, label)) = action {
                form method="post" action={ "/patient/" (id) } id=(id) class="actions" {
                    (csrf(patient))
                    input type="hidden" name="choice" value=(value);
                    button type="submit" { (label) }
                }
            }
        }
    }
}

fn decisions(lang: Lang, patient: &Patient, s: &Standings) -> Markup {
    let open = !s.withdrawn;
    let research_action = open.then(|| {
        if s.research.permits() {
            ("object", lang.pick("Ich widerspreche", "I object"))
        } else {
            ("allow", lang.pick("Wieder erlauben", "Allow again"))
        }
    });
    let genetic_action = open.then(|| {
        if s.genetic.permits() {
            (
                "no",
                lang.pick("Zustimmung zurücknehmen", "Take back my agreement"),
            )
        } else {
            ("yes", lang.pick("Ja, ich stimme zu", "Yes, I agree"))
        }
    });
    let recontact_action = open.then(|| {
        if s.recontact == Standing::AllowedByConsent {
            (
                "no",
                lang.pick(
                    "Nein, bitte nicht mehr ansprechen",
                    "No, please do not contact me",
                ),
            )
        } else {
            (
                "yes",
                lang.pick("Ja, ich bin einverstanden", "Yes, I agree"),
            )
        }
    });
    html! {
        h2 { (lang.pick("Was Sie erlaubt haben", "What you allowed")) }
        @if s.withdrawn {
            div class="notice" { p { (lang.pick(
                "Sie haben Ihre Einwilligung widerrufen. Ihre Daten werden nicht mehr für die Forschung genutzt und in den Kliniken gelöscht. Das lässt sich hier nicht rückgängig machen. Wenn Sie wieder mitmachen möchten, sprechen Sie mit Ihrer Klinik.",
                "You withdrew your consent. Your data is no longer used for research and is deleted at the hospitals. This cannot be undone here. If you want to take part again, talk to your hospital.")) } }
        }
        div class="grid" {
            (decision_card(lang, patient, "research",
                lang.pick("Forschung mit Ihren Behandlungsdaten", "Research with your treatment data"),
                lang.pick("Behandlungsdaten sind zum Beispiel Diagnosen, Befunde und Therapien. Forschende sehen sie nur ohne Namen und Adresse.",
                          "Treatment data are for example diagnoses, findings and therapies. Researchers only see them without name and address."),
                s.research, texts::research(lang, s.research), research_action))
            (decision_card(lang, patient, "genetic",
                lang.pick("Forschung mit Ihren Erbgut-Daten", "Research with your genetic data"),
                lang.pick("Erbgut-Daten sind zum Beispiel Veränderungen im Tumor, die im Labor gefunden wurden. Dafür braucht es Ihre ausdrückliche Zustimmung.",
                          "Genetic data are for example changes in the tumour found by the lab. This needs your explicit agreement."),
                s.genetic, texts::genetic(lang, s.genetic), genetic_action))
            (decision_card(lang, patient, "recontact",
                lang.pick("Wieder angesprochen werden", "Being contacted again"),
                lang.pick("Zum Beispiel, wenn Forschende etwas Wichtiges für Ihre Gesundheit finden, oder für eine neue Studie.",
                          "For example when researchers find something important for your health, or for a new study."),
                s.recontact, texts::recontact(lang, s.recontact), recontact_action))
        }
        @if open {
            p { a href="/patient/withdraw" id="withdraw-link" { (lang.pick("Alles widerrufen und Daten löschen lassen", "Withdraw everything and have the data deleted")) } }
        }
    }
}

fn history(lang: Lang, v: &PersonView) -> Markup {
    html! {
        h2 { (lang.pick("Was mit Ihren Daten geschah", "What happened with your data")) }
        section aria-labelledby="usage-heading" {
            h3 id="usage-heading" { (lang.pick("Nutzung in Forschungsprojekten", "Use in research projects")) }
            @if v.usage.is_empty() {
                p id="usage-none" { (lang.pick("Bisher hat keine Klinik gemeldet, dass Ihre Daten an ein Forschungsprojekt gegeben wurden.", "So far no hospital has reported that your data was given to a research project.")) }
            } @else {
                table class="data" id="usage" {
                    caption { (lang.pick("Gemeldete Nutzungen, die neueste zuerst", "Reported uses, newest first")) }
                    thead { tr {
                        th scope="col" { (lang.pick("Datum", "Date")) }
                        th scope="col" { (lang.pick("Projekt", "Project")) }
                        th scope="col" { (lang.pick("Was geschah", "What happened")) }
                        th scope="col" { (lang.pick("Klinik", "Hospital")) }
                    } }
                    tbody { @for u in &v.usage { tr {
                        td { (u.used_on) }
                        th scope="row" { (u.project) }
                        td { (texts::usage_kind(lang, &u.kind)) }
                        td { (u.site) }
                    } } }
                }
            }
        }
        section aria-labelledby="consents-heading" {
            h3 id="consents-heading" { (lang.pick("Ihre Erklärungen", "Your statements")) }
            @if v.consents.is_empty() {
                p { (lang.pick("Es liegt keine Erklärung von Ihnen vor. Dann gilt die gesetzliche Regel.", "There is no statement of yours on record. Then the rule set by law applies.")) }
            } @else {
                table class="data" id="consents" {
                    caption { (lang.pick("Erklärungen, die die Treuhandstelle kennt", "Statements the trust centre knows")) }
                    thead { tr {
                        th scope="col" { (lang.pick("Eingegangen am", "Received on")) }
                        th scope="col" { (lang.pick("Erklärung", "Statement")) }
                        th scope="col" { (lang.pick("Eingetragen von", "Recorded by")) }
                    } }
                    tbody { @for c in &v.consents { tr {
                        td { (date(lang, c.received_at)) }
                        th scope="row" { (texts::consent(lang, &c.consent)) }
                        td { (texts::source(lang, &c.source)) }
                    } } }
                }
            }
        }
        @if !v.deletions.is_empty() || v.erased {
            section aria-labelledby="deletions-heading" {
                h3 id="deletions-heading" { (lang.pick("Löschung", "Deletion")) }
                @if v.erased {
                    p id="erased" { (lang.pick(
                        "Ihr Name, Ihr Geburtsdatum und Ihre Adresse sind bei der Treuhandstelle gelöscht.",
                        "Your name, date of birth and address are deleted at the trust centre.")) }
                }
                ul id="deletions" { @for (site, done) in &v.deletions { li {
                    (site) ": "
                    @if *done { (lang.pick("gelöscht", "deleted")) } @else { (lang.pick("Löschauftrag erteilt, noch nicht bestätigt", "deletion ordered, not yet confirmed")) }
                } } }
            }
        }
        section aria-labelledby="events-heading" {
            h3 id="events-heading" { (lang.pick("Protokoll der Treuhandstelle", "The trust centre's record")) }
            p class="muted" { (lang.pick("Jeder Eintrag steht fälschungssicher im Protokoll der Treuhandstelle. Die Nummer ist seine Stelle darin.", "Every entry is kept tamper-evident in the trust centre's record. The number is its place there.")) }
            table class="data" id="events" {
                caption { (lang.pick("Einträge über Sie, der neueste zuerst", "Entries about you, newest first")) }
                thead { tr {
                    th scope="col" { (lang.pick("Datum", "Date")) }
                    th scope="col" { (lang.pick("Was geschah", "What happened")) }
                    th scope="col" { (lang.pick("Nummer", "Number")) }
                } }
                tbody { @for e in &v.events { tr {
                    td { (date(lang, e.at)) }
                    th scope="row" { (texts::event(lang, &e.action)) }
                    td { (e.audit_seq) }
                } } }
            }
        }
        @if !v.sites.is_empty() {
            p { (lang.pick("Diese Kliniken haben Sie bei der Treuhandstelle angemeldet: ", "These hospitals registered you with the trust centre: ")) (v.sites.join(", ")) }
        }
    }
}

async fn show(
    State(state): State<AppState>,
    patient: Patient,
    lang: Lang,
    Query(done): Query<Done>,
) -> Result<Response, WebError> {
    let view = view_of(&state, &patient).await?;
    let parsed: Vec<_> = view.consents.iter().map(|c| c.consent.clone()).collect();
    let s = standings(&parsed, chrono::Utc::now().date_naive());
    let title = lang.pick("Meine Daten in der Forschung", "My data in research");
    let body = html! {
        @if let Some(text) = done.done.as_deref().and_then(|d| done_text(lang, d)) {
            div class="notice" role="status" id="saved" { p { (text) } }
        }
        p class="big" { (lang.pick(
            "Hier sehen Sie, was Forschende mit Ihren Daten tun dürfen und was bisher geschah. Sie können jederzeit anders entscheiden.",
            "Here you see what researchers may do with your data and what has happened so far. You can change your mind at any time.")) }
        (decisions(lang, &patient, &s))
        (history(lang, &view))
        (texts::ombudsperson(lang, state.inner.portal.ombudsperson.as_ref()))
    };
    Ok(layout(&patient, lang, title, body).into_response())
}
