//! A researcher's projects: categories, sites, budget, runs, and the forms
//! for the analyses the hub offers, submitted through the same function as
//! `POST /v1/analyses` (budget, plan, limits and audit included).

use super::{blocking, refusal_text, researcher, web_error};
use crate::db::RunDetail;
use crate::portal::PortalUser;
use crate::routes::analyses::{projects_of, start_run};
use crate::{ApiError, AppState};
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oncofed_protocol::QueryId;
use oncofed_protocol::analysis::{
    Analysis, AnalysisRequest, Endpoint, IndexEvent, ProjectStatus, RunState, Survival, Ties,
    Variable,
};
use oncofed_protocol::criteria::Criteria;
use oncofed_web::{Lang, Markup, WebError, csrf_field, html};
use serde::Deserialize;

/// `GET /portal/projects`: the caller's projects.
pub(super) async fn list(
    user: PortalUser,
    lang: Lang,
    State(state): State<AppState>,
) -> Result<Response, WebError> {
    researcher(&user)?;
    let uid = user.id.clone();
    let projects = blocking(&state, move |s| projects_of(s, &uid)).await?;
    let title = lang.pick("Ihre Projekte", "Your projects");
    let body = html! {
        @if projects.is_empty() {
            p { (lang.pick("Sie gehören noch keinem genehmigten Projekt an.", "You belong to no approved project yet.")) }
        } @else {
            table.data {
                caption { (title) }
                thead { tr {
                    th scope="col" { (lang.pick("Projekt", "Project")) }
                    th scope="col" { (lang.pick("Datenkategorien", "Data categories")) }
                    th scope="col" { (lang.pick("ε verbraucht / Budget", "ε spent / budget")) }
                } }
                tbody {
                    @for p in &projects {
                        tr {
                            th scope="row" { a href=(format!("/portal/projects/{}", p.project.id)) { (p.project.title) } }
                            td { (categories(p)) }
                            td { (format!("{:.3} / {:.3}", p.epsilon_spent, p.project.epsilon_budget)) }
                        }
                    }
                }
            }
        }
    };
    Ok(crate::portal::page(&user, lang, "/portal/projects", title, body).into_response())
}

fn categories(p: &ProjectStatus) -> String {
    p.project
        .categories
        .iter()
        .map(|c| format!("{c:?}").to_lowercase())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The caller's project `id` with its runs; anyone else's is "not found".
async fn own_project(
    state: &AppState,
    user: &str,
    id: &str,
) -> Result<(ProjectStatus, Vec<RunDetail>, Vec<String>), WebError> {
    let (uid, pid) = (user.to_owned(), id.to_owned());
    blocking(state, move |s| {
        let Some(project) = projects_of(s, &uid)?
            .into_iter()
            .find(|p| p.project.id == pid)
        else {
            return Err(ApiError::NotFound);
        };
        let runs = s.inner.db.runs_of(&pid, &uid).map_err(ApiError::internal)?;
        let sites = s
            .inner
            .db
            .sites()
            .map_err(ApiError::internal)?
            .into_iter()
            .map(|(site, _)| site)
            .collect();
        Ok((project, runs, sites))
    })
    .await
}

/// `GET /portal/projects/{id}`.
pub(super) async fn show(
    user: PortalUser,
    lang: Lang,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    researcher(&user)?;
    project_page(&user, lang, &state, &id, None, StatusCode::OK).await
}

async fn project_page(
    user: &PortalUser,
    lang: Lang,
    state: &AppState,
    id: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let (p, runs, sites) = own_project(state, &user.id, id).await?;
    let history = super::feasibility::history(state, &user.id).await?;
    let left = (p.project.epsilon_budget - p.epsilon_spent).max(0.0);
    let kinds = &p.project.plan.kinds;
    let default_epsilon = state.inner.config.default_release_epsilon;
    let action = format!("/portal/projects/{}/analyses", p.project.id);
    // The forms propose the longest follow-up the project's plan allows, at most ten years.
    let horizon = p.project.plan.max_horizon_days.min(3650);
    let body = html! {
        @if let Some(e) = error { p.error role="alert" { (e) } }
        dl.card {
            dt { (lang.pick("Projekt-ID", "Project id")) } dd { code { (p.project.id) } }
            dt { (lang.pick("Datenkategorien", "Data categories")) } dd { (categories(&p)) }
            dt { (lang.pick("Standorte", "Sites")) } dd { (sites.join(", ")) }
            dt { (lang.pick("Erlaubte Analysen", "Analyses allowed")) } dd { (kinds.join(", ")) }
            dt { (lang.pick("Privatsphäre-Budget (ε) je Forschende/r", "Privacy budget (ε) per researcher")) }
            dd #budget {
                (format!("{:.3}", p.project.epsilon_budget)) " · "
                (lang.pick("verbraucht ", "spent ")) span #eps-spent { (format!("{:.3}", p.epsilon_spent)) } " · "
                (lang.pick("übrig ", "left ")) span #eps-left { (format!("{left:.3}")) }
            }
        }
        section aria-labelledby="runs-heading" {
            h2 #runs-heading { (lang.pick("Ihre Analysen", "Your analyses")) }
            @if runs.is_empty() {
                p.muted { (lang.pick("Noch keine Analyse.", "No analysis yet.")) }
            } @else {
                table.data #runs {
                    caption { (lang.pick("Ihre Analysen in diesem Projekt", "Your analyses in this project")) }
                    thead { tr {
                        th scope="col" { (lang.pick("Analyse", "Analysis")) }
                        th scope="col" { (lang.pick("Status", "State")) }
                        th scope="col" { (lang.pick("Gestartet", "Submitted")) }
                    } }
                    tbody {
                        @for r in &runs {
                            tr {
                                th scope="row" { a href=(format!("/portal/runs/{}", r.run_id)) { (run_kind(r)) " " code { (&r.run_id.as_str()[..8.min(r.run_id.as_str().len())]) } } }
                                td { (state_badge(lang, r.state)) }
                                td { (r.submitted_at.format("%Y-%m-%d %H:%M:%S UTC")) }
                            }
                        }
                    }
                }
            }
        }
        h2 { (lang.pick("Neue Analyse", "New analysis")) }
        p.muted {
            (lang.pick("Jede Freigabe verbraucht ε aus Ihrem Budget; ohne Angabe gilt ε = ", "Every release spends ε from your budget; without a value ε = "))
            (default_epsilon.map(|e| e.to_string()).unwrap_or_else(|| "–".into()))
            "."
        }
        @if kinds.iter().any(|k| k == "km") {
            (km_form(lang, &user.csrf, &action, &history, horizon))
        }
        @if kinds.iter().any(|k| k == "cox") {
            (cox_form(lang, &user.csrf, &action, &history, horizon))
        }
        @if kinds.iter().any(|k| k == "describe") {
            (describe_form(lang, &user.csrf, &action, &history))
        }
        section.card {
            h3 { (lang.pick("Training eines Modells", "Training a model")) }
            p { (lang.pick(
                "Das föderierte Training eines Zellklassifikators braucht eine Netz- und DP-Konfiguration und die ausdrückliche Freigabe im Analyseplan; es wird über die API (POST /v1/analyses, Typ cell-classifier) oder die CLI gestartet, nicht über dieses Formular.",
                "Federated training of a cell classifier needs a network and DP configuration and explicit approval in the analysis plan; it is started through the API (POST /v1/analyses, type cell-classifier) or the CLI, not through this form.")) }
        }
    };
    let mut response =
        crate::portal::page(user, lang, "/portal/projects", &p.project.title, body).into_response();
    *response.status_mut() = status;
    Ok(response)
}

fn run_kind(r: &RunDetail) -> String {
    serde_json::from_str::<AnalysisRequest>(&r.request)
        .map(|q| q.analysis.kind().to_owned())
        .unwrap_or_default()
}

/// A run state as a badge.
pub(super) fn state_badge(lang: Lang, s: RunState) -> Markup {
    let (class, label) = match s {
        RunState::Running => ("badge badge-warn", lang.pick("läuft", "running")),
        RunState::Done => ("badge badge-ok", lang.pick("fertig", "done")),
        RunState::Failed => ("badge badge-bad", lang.pick("fehlgeschlagen", "failed")),
    };
    html! { span.run-state class=(class) { (label) } }
}

fn common_fields(
    lang: Lang,
    kind: &str,
    history: &[(QueryId, String, chrono::DateTime<chrono::Utc>)],
) -> Markup {
    let id = |f: &str| format!("{kind}-{f}");
    html! {
        input type="hidden" name="kind" value=(kind);
        label for=(id("index")) { (lang.pick("Indexdiagnose (ICD-10-Präfix, Beginn der Analysezeit)", "Index diagnosis (ICD-10 prefix, start of analysis time)")) }
        input id=(id("index")) name="index" type="text" required list="codes-icd10" value="C";
        label for=(id("cohort")) { (lang.pick("Kohorte einschränken auf eine Ihrer Abfragen", "Restrict the cohort to one of your queries")) }
        select id=(id("cohort")) name="cohort" {
            option value="" { (lang.pick("keine Einschränkung", "no restriction")) }
            @for (q, words, _) in history { option value=(q.as_str()) { (words) } }
        }
        label for=(id("epsilon")) { (lang.pick("ε für diese Freigabe (leer: Standard)", "ε for this release (empty: default)")) }
        input id=(id("epsilon")) name="epsilon" type="text" inputmode="decimal";
    }
}

fn survival_fields(lang: Lang, kind: &str, horizon: u32) -> Markup {
    let id = |f: &str| format!("{kind}-{f}");
    html! {
        label for=(id("endpoint")) { (lang.pick("Endpunkt", "Endpoint")) }
        select id=(id("endpoint")) name="endpoint" {
            option value="os" { (lang.pick("Gesamtüberleben (OS)", "overall survival (OS)")) }
            option value="pfs" { (lang.pick("progressionsfreies Überleben (PFS)", "progression-free survival (PFS)")) }
            option value="rfs" { (lang.pick("rezidivfreies Überleben (RFS)", "recurrence-free survival (RFS)")) }
        }
        label for=(id("horizon")) { (lang.pick("Nachbeobachtung höchstens (Tage)", "Follow-up at most (days)")) }
        input id=(id("horizon")) name="horizon_days" type="text" inputmode="numeric" value=(horizon);
    }
}

fn km_form(
    lang: Lang,
    csrf: &str,
    action: &str,
    history: &[(QueryId, String, chrono::DateTime<chrono::Utc>)],
    horizon: u32,
) -> Markup {
    html! {
        section.card aria-labelledby="km-heading" {
            h3 #km-heading { "Kaplan–Meier" }
            form.stack #km-form method="post" action=(action) {
                (csrf_field(csrf))
                (common_fields(lang, "km", history))
                (survival_fields(lang, "km", horizon))
                label for="km-groups" { (lang.pick("Gruppen (Variable, z. B. female, gene:EGFR, dx:C34.1; leer: eine Kurve)", "Groups (variable, e.g. female, gene:EGFR, dx:C34.1; empty: one curve)")) }
                input #km-groups name="groups" type="text";
                label for="km-interval" { (lang.pick("Zeitraster (Tage)", "Time grid (days)")) }
                input #km-interval name="interval_days" type="text" inputmode="numeric" value="30";
                button type="submit" { (lang.pick("Kaplan–Meier rechnen", "Run Kaplan–Meier")) }
            }
        }
    }
}

fn cox_form(
    lang: Lang,
    csrf: &str,
    action: &str,
    history: &[(QueryId, String, chrono::DateTime<chrono::Utc>)],
    horizon: u32,
) -> Markup {
    html! {
        section.card aria-labelledby="cox-heading" {
            h3 #cox-heading { (lang.pick("Cox-Regression", "Cox regression")) }
            form.stack #cox-form method="post" action=(action) {
                (csrf_field(csrf))
                (common_fields(lang, "cox", history))
                (survival_fields(lang, "cox", horizon))
                label for="cox-covariates" { (lang.pick("Kovariablen (durch Komma getrennt, z. B. age, female)", "Covariates (comma-separated, e.g. age, female)")) }
                input #cox-covariates name="covariates" type="text" required value="age, female";
                label for="cox-ties" { (lang.pick("Bindungen", "Ties")) }
                select #cox-ties name="ties" { option value="efron" { "Efron" } option value="breslow" { "Breslow" } }
                button type="submit" { (lang.pick("Cox-Modell rechnen", "Fit Cox model")) }
            }
        }
    }
}

fn describe_form(
    lang: Lang,
    csrf: &str,
    action: &str,
    history: &[(QueryId, String, chrono::DateTime<chrono::Utc>)],
) -> Markup {
    html! {
        section.card aria-labelledby="describe-heading" {
            h3 #describe-heading { (lang.pick("Deskriptive Statistik", "Descriptive statistics")) }
            form.stack #describe-form method="post" action=(action) {
                (csrf_field(csrf))
                (common_fields(lang, "describe", history))
                label for="describe-variables" { (lang.pick("Variablen (durch Komma getrennt, z. B. age, obs:loinc:718-7)", "Variables (comma-separated, e.g. age, obs:loinc:718-7)")) }
                input #describe-variables name="variables" type="text" required value="age";
                label for="describe-edges" { (lang.pick("Histogrammgrenzen (optional, z. B. 40, 50, 60, 70, 80)", "Histogram edges (optional, e.g. 40, 50, 60, 70, 80)")) }
                input #describe-edges name="edges" type="text";
                label for="describe-strata" { (lang.pick("Schichtung (0/1-Variable, optional, z. B. female)", "Strata (0/1 variable, optional, e.g. female)")) }
                input #describe-strata name="strata" type="text";
                button type="submit" { (lang.pick("Statistik rechnen", "Compute statistics")) }
            }
        }
    }
}

/// The fields of the portal's analysis forms (`POST
/// /portal/projects/{id}/analyses`); every field is text as a
/// browser sends it. Public so that callers (the lead's timed policy walk)
/// can post the same form: `kind` is `km`, `cox` or `describe`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AnalysisForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// `km`, `cox` or `describe`.
    #[serde(default)]
    pub kind: String,
    /// ICD-10 prefix of the index diagnosis.
    #[serde(default)]
    pub index: String,
    /// A feasibility query of the caller's whose criteria restrict the cohort.
    #[serde(default)]
    pub cohort: String,
    /// ε for this release (empty: the hub's default).
    #[serde(default)]
    pub epsilon: String,
    /// `os`, `pfs` or `rfs` (KM, Cox).
    #[serde(default)]
    pub endpoint: String,
    /// Longest follow-up in days (KM, Cox).
    #[serde(default)]
    pub horizon_days: String,
    /// KM: the grouping variable's name (`female`, `gene:EGFR`), or empty.
    #[serde(default)]
    pub groups: String,
    /// KM: the released grid in days.
    #[serde(default)]
    pub interval_days: String,
    /// Cox: covariate names, comma-separated.
    #[serde(default)]
    pub covariates: String,
    /// Cox: `efron` or `breslow`.
    #[serde(default)]
    pub ties: String,
    /// Describe: variable names, comma-separated.
    #[serde(default)]
    pub variables: String,
    /// Describe: histogram edges, comma-separated.
    #[serde(default)]
    pub edges: String,
    /// Describe: a 0/1 strata variable, or empty.
    #[serde(default)]
    pub strata: String,
}

fn variables(text: &str) -> Result<Vec<Variable>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect()
}

fn optional<T: std::str::FromStr>(text: &str, what: &str) -> Result<Option<T>, String> {
    let t = text.trim().replace(',', ".");
    if t.is_empty() {
        return Ok(None);
    }
    t.parse()
        .map(Some)
        .map_err(|_| format!("{what}: '{text}' is not a number"))
}

/// The analysis request a form asks for in `project` (`cohort`: the
/// criteria of the query the form names, looked up by the caller).
pub fn analysis_request(
    project: &str,
    form: &AnalysisForm,
    cohort: Option<Criteria>,
) -> Result<AnalysisRequest, String> {
    let survival = || -> Result<Survival, String> {
        let horizon = optional(&form.horizon_days, "horizon")?.unwrap_or(3650);
        let mut s = Survival::binned(horizon);
        let endpoint = if form.endpoint.is_empty() {
            "os"
        } else {
            form.endpoint.as_str()
        };
        s.endpoint = serde_json::from_value::<Endpoint>(serde_json::json!(endpoint))
            .map_err(|_| format!("unknown endpoint '{endpoint}'"))?;
        Ok(s)
    };
    let optional_variable = |text: &str| -> Result<Option<Variable>, String> {
        let t = text.trim();
        if t.is_empty() {
            Ok(None)
        } else {
            t.parse().map(Some)
        }
    };
    let analysis = match form.kind.as_str() {
        "km" => Analysis::KaplanMeier {
            survival: survival()?,
            groups: optional_variable(&form.groups)?,
            interval_days: optional(&form.interval_days, "interval")?.unwrap_or(30),
        },
        "cox" => Analysis::Cox {
            survival: survival()?,
            covariates: variables(&form.covariates)?,
            ties: if form.ties == "breslow" {
                Ties::Breslow
            } else {
                Ties::Efron
            },
            stratify_by_site: false,
            strata: None,
            robust: false,
        },
        "describe" => Analysis::Describe {
            variables: variables(&form.variables)?,
            edges: form
                .edges
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<f64>()
                        .map_err(|_| format!("edge '{s}' is not a number"))
                })
                .collect::<Result<_, _>>()?,
            strata: optional_variable(&form.strata)?,
        },
        other => {
            return Err(format!(
                "the portal offers km, cox and describe, not '{other}'"
            ));
        }
    };
    let index = form.index.trim();
    if index.is_empty() {
        return Err("an index diagnosis (ICD-10 prefix) is required".into());
    }
    Ok(AnalysisRequest {
        project: project.to_owned(),
        index: IndexEvent {
            icd10: index.to_owned(),
        },
        cohort,
        analysis,
        epsilon: optional(&form.epsilon, "ε")?,
        wait_seconds: None,
        tolerance: None,
        max_iter: None,
    })
}

/// `POST /portal/projects/{id}/analyses`: start a run, then its page.
pub(super) async fn submit(
    user: PortalUser,
    lang: Lang,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<AnalysisForm>,
) -> Result<Response, WebError> {
    researcher(&user)?;
    user.check_csrf(&form.csrf)?;
    // Membership first: someone else's project is "not found", whatever the form says.
    own_project(&state, &user.id, &id).await?;
    let cohort = if form.cohort.is_empty() {
        None
    } else {
        let qid: QueryId = form.cohort.parse().map_err(|_| WebError::NotFound)?;
        let uid = user.id.clone();
        let row = blocking(&state, move |s| {
            s.inner.db.query(&qid).map_err(ApiError::internal)
        })
        .await?
        .filter(|q| q.user_id == uid)
        .ok_or(WebError::NotFound)?;
        Some(serde_json::from_str::<Criteria>(&row.criteria).map_err(|_| WebError::NotFound)?)
    };
    let request = match analysis_request(&id, &form, cohort) {
        Ok(r) => r,
        Err(e) => {
            return project_page(&user, lang, &state, &id, Some(&e), StatusCode::BAD_REQUEST).await;
        }
    };
    let kind = request.analysis.kind();
    let run = match start_run(&state, user.id.clone(), request).await {
        Ok(run) => run,
        Err(e) => {
            return match refusal_text(&e) {
                Some(text) => {
                    project_page(
                        &user,
                        lang,
                        &state,
                        &id,
                        Some(&text),
                        StatusCode::BAD_REQUEST,
                    )
                    .await
                }
                None => Err(web_error(e)),
            };
        }
    };
    let (uid, rid, pid) = (user.id.clone(), run.clone(), id.clone());
    blocking(&state, move |s| {
        crate::routes::audit(
            s,
            &uid,
            "portal.analysis.submitted",
            rid.as_str(),
            serde_json::json!({ "project": pid, "analysis": kind }),
        )
    })
    .await?;
    Ok(oncofed_web::redirect(&format!("/portal/runs/{run}")))
}
