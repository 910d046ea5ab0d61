//! The person's decisions: each a POST form with the session's CSRF token,
//! stored as a Consent in the registry (`super::choices`), audited and indexed
//! under the person; withdrawal asks for confirmation first and then runs the
//! withdrawal cascade at once.

use super::choices::{Choice, standings};
use super::page::{layout, view_of};
use super::signin::csrf;
use super::{HOME, Patient, subject, texts};
use crate::AppState;
use crate::db::patients::insert_patient_consent;
use crate::routes::{audit, consents::prepare_consent, deletions};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use oncofed_web::{Lang, WebError, html, redirect};
use serde::Deserialize;
use serde_json::json;

/// The action routes.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/patient/research", post(research))
        .route("/patient/genetic", post(genetic))
        .route("/patient/recontact", post(recontact))
        .route("/patient/withdraw", get(confirm_withdrawal).post(withdraw))
}

/// A decision form: the CSRF token and the choice.
#[derive(Debug, Deserialize)]
pub(super) struct ChoiceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    choice: String,
}

/// The withdrawal form: the CSRF token and the confirmation box.
#[derive(Debug, Deserialize)]
pub(super) struct WithdrawForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: Option<String>,
}

fn yes_no(choice: &str, yes: &str, no: &str) -> Result<bool, WebError> {
    match choice {
        c if c == yes => Ok(true),
        c if c == no => Ok(false),
        _ => Err(WebError::BadRequest("choice".into())),
    }
}

async fn research(
    State(state): State<AppState>,
    patient: Patient,
    Form(form): Form<ChoiceForm>,
) -> Result<Response, WebError> {
    patient.check_csrf(&form.csrf)?;
    let allow = yes_no(&form.choice, "allow", "object")?;
    decide(&state, &patient, Choice::Research { allow }, "research").await
}

async fn genetic(
    State(state): State<AppState>,
    patient: Patient,
    Form(form): Form<ChoiceForm>,
) -> Result<Response, WebError> {
    patient.check_csrf(&form.csrf)?;
    let allow = yes_no(&form.choice, "yes", "no")?;
    decide(&state, &patient, Choice::Genetic { allow }, "genetic").await
}

async fn recontact(
    State(state): State<AppState>,
    patient: Patient,
    Form(form): Form<ChoiceForm>,
) -> Result<Response, WebError> {
    patient.check_csrf(&form.csrf)?;
    let allow = yes_no(&form.choice, "yes", "no")?;
    decide(&state, &patient, Choice::Recontact { allow }, "recontact").await
}

/// Records `choice` for the session's person, audits it and, for a withdrawal,
/// issues the cascade's orders; then back to the page with a notice.
async fn decide(
    state: &AppState,
    patient: &Patient,
    choice: Choice,
    done: &str,
) -> Result<Response, WebError> {
    let view = view_of(state, patient).await?;
    let parsed: Vec<_> = view.consents.iter().map(|c| c.consent.clone()).collect();
    if standings(&parsed, chrono::Utc::now().date_naive()).withdrawn {
        // Nothing but a new consent at the hospital undoes a withdrawal.
        return Err(WebError::BadRequest(
            "Sie haben widerrufen; um wieder mitzumachen, sprechen Sie mit Ihrer Klinik. / \
             You withdrew; to take part again, talk to your hospital."
                .into(),
        ));
    }
    let resource = choice.resource(chrono::Utc::now());
    let row = prepare_consent("consent", &resource).map_err(super::api_failed)?;
    let person = patient.person;
    let person = state
        .inner
        .db
        .write(move |conn| insert_patient_consent(conn, person, &row))
        .await
        .map_err(super::store_failed)?
        .ok_or(WebError::NotFound)?;
    audit::record_about(
        state,
        vec![person],
        "patient",
        choice.action(),
        &subject(patient.code),
        json!({"code": patient.code, "via": "patient-portal"}),
    )
    .await
    .map_err(super::api_failed)?;
    if choice == Choice::Withdraw {
        // Orders now, not at the next site poll: the page can say so.
        deletions::sweep(state).await.map_err(super::api_failed)?;
    }
    Ok(redirect(&format!("{HOME}?done={done}")))
}

fn withdrawal_page(
    state: &AppState,
    patient: &Patient,
    lang: Lang,
    missing_confirmation: bool,
) -> Response {
    let title = lang.pick("Einwilligung widerrufen", "Withdraw consent");
    let body = html! {
        p class="big" { (lang.pick(
            "Wenn Sie widerrufen, werden Ihre Daten nicht mehr für die Forschung genutzt. Die Kliniken löschen Ihre Forschungsdaten, und Proben werden vernichtet. Ihre Behandlung ändert sich dadurch nicht.",
            "If you withdraw, your data is no longer used for research. The hospitals delete your research data, and samples are destroyed. Your treatment does not change.")) }
        p { (lang.pick(
            "Ergebnisse, die schon veröffentlicht sind, enthalten keine Namen und können nicht mehr zurückgeholt werden. Den Widerruf können Sie hier nicht rückgängig machen.",
            "Results that are already published contain no names and cannot be taken back. You cannot undo the withdrawal here.")) }
        p { (lang.pick(
            "Wenn Sie nur nicht mehr an neuer Forschung teilnehmen möchten, genügt auf der Übersicht ein Widerspruch.",
            "If you only do not want to take part in new research, an objection on the overview is enough.")) }
        @if missing_confirmation {
            div class="error" role="alert" id="confirm-error" { p { (lang.pick(
                "Bitte setzen Sie das Häkchen, wenn Sie wirklich widerrufen möchten.",
                "Please tick the box if you really want to withdraw.")) } }
        }
        form method="post" action="/patient/withdraw" id="withdraw" class="stack" {
            (csrf(patient))
            div {
                input type="checkbox" id="confirm" name="confirm" value="yes" required
                    aria-invalid=[missing_confirmation.then_some("true")];
                " "
                label for="confirm" { (lang.pick(
                    "Ja, ich widerrufe meine Einwilligung. Meine Forschungsdaten sollen gelöscht werden.",
                    "Yes, I withdraw my consent. My research data shall be deleted.")) }
            }
            div class="actions" {
                button type="submit" { (lang.pick("Endgültig widerrufen", "Withdraw for good")) }
                " "
                a href=(HOME) class="button-secondary" { (lang.pick("Abbrechen", "Cancel")) }
            }
        }
        (texts::ombudsperson(lang, state.inner.portal.ombudsperson.as_ref()))
    };
    let status = if missing_confirmation {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (status, layout(patient, lang, title, body)).into_response()
}

async fn confirm_withdrawal(
    State(state): State<AppState>,
    patient: Patient,
    lang: Lang,
) -> Response {
    withdrawal_page(&state, &patient, lang, false)
}

async fn withdraw(
    State(state): State<AppState>,
    patient: Patient,
    lang: Lang,
    Form(form): Form<WithdrawForm>,
) -> Result<Response, WebError> {
    patient.check_csrf(&form.csrf)?;
    if form.confirm.as_deref() != Some("yes") {
        return Ok(withdrawal_page(&state, &patient, lang, true));
    }
    decide(&state, &patient, Choice::Withdraw, "withdraw").await
}
