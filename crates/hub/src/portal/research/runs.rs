//! A run's page (state, released result, KM plot as inline SVG) and its
//! downloads as JSON and CSV. Only the researcher who started a run sees it.

use super::projects::state_badge;
use super::{blocking, is_htmx, researcher};
use crate::db::RunDetail;
use crate::portal::PortalUser;
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use oncofed_analysis::AnalysisResult;
use oncofed_analysis::result::{Cell, DescribeResult, KmResult, RegressionResult};
use oncofed_protocol::QueryId;
use oncofed_protocol::analysis::{AnalysisRequest, RunState};
use oncofed_web::{Lang, Markup, PreEscaped, WebError, html};
use std::fmt::Write;
use std::time::Duration;

/// Longest a page load waits for a running run before it shows "running".
const PAGE_WAIT: Duration = Duration::from_secs(3);

/// The caller's run `id`; anyone else's (or a malformed id) is "not found".
async fn own_run(state: &AppState, user: &str, id: &str) -> Result<RunDetail, WebError> {
    let run_id: QueryId = id.parse().map_err(|_| WebError::NotFound)?;
    let row = blocking(state, move |s| {
        s.inner.db.run_detail(&run_id).map_err(ApiError::internal)
    })
    .await?
    .ok_or(WebError::NotFound)?;
    if row.user_id != user {
        return Err(WebError::NotFound);
    }
    Ok(row)
}

/// `GET /portal/runs/{id}`.
pub(super) async fn show(
    user: PortalUser,
    lang: Lang,
    headers: HeaderMap,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    researcher(&user)?;
    let mut run = own_run(&state, &user.id, &id).await?;
    if run.state == RunState::Running && !is_htmx(&headers) {
        let _ = crate::routes::analyses::respond(&state, run.run_id.clone(), PAGE_WAIT).await;
        run = own_run(&state, &user.id, &id).await?;
    }
    let request: Option<AnalysisRequest> = serde_json::from_str(&run.request).ok();
    let kind = request
        .as_ref()
        .map(|r| r.analysis.kind())
        .unwrap_or("analysis");
    let result: Option<AnalysisResult> = run
        .result
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok());
    let me = format!("/portal/runs/{}", run.run_id);
    let running = run.state == RunState::Running;
    let title = format!("{} {kind}", lang.pick("Analyse", "Analysis"));
    let body = html! {
        div #run hx-get=[running.then_some(&me)] hx-trigger=[running.then_some("every 2s")]
            hx-select=[running.then_some("#run")] hx-target=[running.then_some("#run")]
            hx-swap=[running.then_some("outerHTML")] aria-live="polite" {
            dl.card {
                dt { (lang.pick("Projekt", "Project")) }
                dd { a href=(format!("/portal/projects/{}", run.project_id)) { (run.project_id) } }
                dt { (lang.pick("Status", "State")) } dd #run-state { (state_badge(lang, run.state)) }
                dt { (lang.pick("Gestartet", "Submitted")) } dd { (run.submitted_at.format("%Y-%m-%d %H:%M:%S UTC")) }
                @if let Some(end) = run.finished_at {
                    dt { (lang.pick("Beendet", "Finished")) }
                    dd { (end.format("%Y-%m-%d %H:%M:%S UTC")) " (" (format!("{:.1}", (end - run.submitted_at).num_milliseconds() as f64 / 1000.0)) " s)" }
                }
                @if let Some(r) = &request {
                    dt { (lang.pick("Indexdiagnose", "Index diagnosis")) } dd { code { (r.index.icd10) } }
                    @if let Some(c) = &r.cohort { dt { (lang.pick("Kohorte", "Cohort")) } dd { (c.describe()) } }
                    @if let Some(g) = r.analysis.groups() { dt { (lang.pick("Gruppen", "Groups")) } dd { code { (g.name()) } } }
                    @if let Some(e) = r.epsilon { dt { "ε" } dd { (e) } }
                }
            }
            @if running {
                p.muted {
                    (lang.pick("Die Standorte rechnen. ", "The sites are computing. "))
                    a href=(me) { (lang.pick("Aktualisieren", "Refresh")) }
                }
            }
            @if let Some(e) = &run.error { p.error role="alert" { (e) } }
            @if let Some(result) = &result {
                (run_facts(lang, result))
                (render_result(lang, result))
                h2 { (lang.pick("Herunterladen", "Download")) }
                ul.actions {
                    li { a #download-json href=(format!("{me}/result.json")) download { (lang.pick("Ergebnis als JSON", "Result as JSON")) } }
                    li { a #download-csv href=(format!("{me}/result.csv")) download { (lang.pick("Tabelle als CSV", "Table as CSV")) } }
                }
            }
        }
    };
    Ok(crate::portal::page(&user, lang, "/portal/projects", &title, body).into_response())
}

fn run_facts(lang: Lang, result: &AnalysisResult) -> Markup {
    let run = result.run();
    html! {
        p.muted {
            (lang.pick("Standorte: ", "Sites: ")) (run.sites) " · "
            (lang.pick("Zeilen: ", "Rows: ")) (run.rows) " · "
            (lang.pick("Ereignisse: ", "Events: ")) (run.events) " · "
            (lang.pick("Runden: ", "Rounds: ")) (run.rounds)
            @if let Some(e) = run.epsilon { " · ε " (e) }
        }
        @for s in &run.sat_out {
            p.notice { (s.site) ": " (lang.pick("nicht beteiligt – ", "sat out – ")) (s.reason) }
        }
    }
}

fn cell(lang: Lang, c: Cell) -> String {
    match c {
        Some(n) => n.to_string(),
        None => lang.pick("unterdrückt", "suppressed").into(),
    }
}

fn opt(x: Option<f64>, digits: usize) -> String {
    x.map(|v| format!("{v:.digits$}"))
        .unwrap_or_else(|| "–".into())
}

fn render_result(lang: Lang, result: &AnalysisResult) -> Markup {
    match result {
        AnalysisResult::Km(km) => km_markup(lang, km),
        AnalysisResult::Cox(r) | AnalysisResult::FineGray(r) | AnalysisResult::Glm(r) => {
            regression_markup(lang, r)
        }
        AnalysisResult::Describe(d) => describe_markup(lang, d),
        other => html! {
            p { (lang.pick("Dieses Ergebnis wird als JSON angeboten:", "This result is offered as JSON:")) }
            pre { (serde_json::to_string_pretty(other).unwrap_or_default()) }
        },
    }
}

/// The KM plot for inline use: `oncofed_analysis::plot::km_svg` draws with
/// presentation attributes only (no `style`, which the CSP's `style-src
/// 'self'` would block); it gets an image role and an accessible name here.
pub(crate) fn km_figure(km: &KmResult, name: &str) -> String {
    let svg = oncofed_analysis::plot::km_svg(km, name);
    let escaped = name
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;");
    svg.replacen(
        "<svg ",
        &format!(r#"<svg role="img" aria-label="{escaped}" class="km-plot" "#),
        1,
    )
}

fn km_markup(lang: Lang, km: &KmResult) -> Markup {
    let name = lang.pick("Kaplan–Meier-Kurven", "Kaplan–Meier curves");
    html! {
        h2 { (name) }
        figure #km-figure {
            (PreEscaped(km_figure(km, name)))
            figcaption { (lang.pick("Gestrichelt: 95-%-Konfidenzband. Zeit in Tagen seit der Indexdiagnose.", "Dashed: 95 % confidence band. Time in days since the index diagnosis.")) }
        }
        table.data #km-curves {
            caption { (lang.pick("Kurven", "Curves")) }
            thead { tr {
                th scope="col" { (lang.pick("Gruppe", "Group")) }
                th scope="col" { "n" }
                th scope="col" { (lang.pick("Ereignisse", "Events")) }
                th scope="col" { (lang.pick("Median (Tage)", "Median (days)")) }
                th scope="col" { "95 % CI" }
            } }
            tbody {
                @for c in &km.curves {
                    tr {
                        th scope="row" { (c.label) }
                        td { (cell(lang, c.n)) }
                        td { (cell(lang, c.events)) }
                        td { @match (c.median, &c.median_status) {
                            (Some(m), _) => (format!("{m:.0}")),
                            (None, Some(s)) => (s.to_string()),
                            (None, None) => "–",
                        } }
                        td { (opt(c.median_ci.0, 0)) " – " (opt(c.median_ci.1, 0)) }
                    }
                }
            }
        }
        @if let Some(t) = &km.logrank {
            p #logrank { (lang.pick("Log-Rank-Test: ", "Log-rank test: ")) "χ² = " (format!("{:.3}", t.chi2)) ", df = " (t.df) ", p = " (format!("{:.4}", t.p_value)) }
        }
        details {
            summary { (lang.pick("Kurvenwerte", "Curve values")) }
            table.data {
                caption { (lang.pick("Überleben je Zeitpunkt", "Survival at each time")) }
                thead { tr {
                    th scope="col" { (lang.pick("Gruppe", "Group")) }
                    th scope="col" { (lang.pick("Tag", "Day")) }
                    th scope="col" { "S(t)" }
                    th scope="col" { "95 % CI" }
                    th scope="col" { (lang.pick("unter Risiko", "at risk")) }
                } }
                tbody {
                    @for c in &km.curves { @for s in &c.steps {
                        tr {
                            th scope="row" { (c.label) }
                            td { (s.time) }
                            td { (format!("{:.3}", s.survival)) }
                            td { (format!("{:.3} – {:.3}", s.ci_lower, s.ci_upper)) }
                            td { (cell(lang, s.at_risk)) }
                        }
                    } }
                }
            }
        }
    }
}

fn regression_markup(lang: Lang, r: &RegressionResult) -> Markup {
    html! {
        h2 { (lang.pick("Schätzer", "Estimates")) " (" (r.model) ")" }
        table.data #estimates {
            caption { (lang.pick("Koeffizienten", "Coefficients")) }
            thead { tr {
                th scope="col" { (lang.pick("Term", "Term")) }
                th scope="col" { "β" }
                th scope="col" { "exp(β)" }
                th scope="col" { "SE" }
                th scope="col" { "z" }
                th scope="col" { "p" }
                th scope="col" { "95 % CI exp(β)" }
            } }
            tbody {
                @for (term, e) in r.terms.iter().zip(&r.estimates) {
                    tr {
                        th scope="row" { (term) }
                        td { (format!("{:.4}", e.coef)) }
                        td { (format!("{:.4}", e.exp_coef)) }
                        td { (format!("{:.4}", e.std_error)) }
                        td { (format!("{:.3}", e.z)) }
                        td { (format!("{:.4}", e.p_value)) }
                        td { (format!("{:.3} – {:.3}", e.ci_lower.exp(), e.ci_upper.exp())) }
                    }
                }
            }
        }
        p.muted { (lang.pick("Log-Likelihood ", "Log likelihood ")) (format!("{:.3}", r.loglik)) ", " (r.iterations) (lang.pick(" Iterationen", " iterations")) }
    }
}

fn describe_markup(lang: Lang, d: &DescribeResult) -> Markup {
    html! {
        h2 { (lang.pick("Deskriptive Statistik", "Descriptive statistics")) }
        table.data #describe {
            caption { (lang.pick("Variablen", "Variables")) }
            thead { tr {
                th scope="col" { (lang.pick("Variable", "Variable")) }
                th scope="col" { "n" }
                th scope="col" { (lang.pick("Mittelwert", "Mean")) }
                th scope="col" { "SD" }
                th scope="col" { (lang.pick("Quartile", "Quartiles")) }
            } }
            tbody {
                @for v in &d.variables {
                    tr {
                        th scope="row" { (v.name) }
                        td { (cell(lang, v.n)) }
                        td { (opt(v.mean, 2)) }
                        td { (opt(v.sd, 2)) }
                        td { @if let Some(q) = v.quartiles { (format!("{:.1} / {:.1} / {:.1}", q[0], q[1], q[2])) } @else { "–" } }
                    }
                }
            }
        }
        @if let Some((name, zero, one)) = &d.strata {
            p { (name) ": 0 → " (cell(lang, *zero)) ", 1 → " (cell(lang, *one)) }
        }
    }
}

/// The caller's finished run's result, or 404 (also while it runs).
async fn released_result(
    state: &AppState,
    user: &PortalUser,
    id: &str,
) -> Result<(QueryId, String), WebError> {
    researcher(user)?;
    let run = own_run(state, &user.id, id).await?;
    let text = run.result.ok_or(WebError::NotFound)?;
    Ok((run.run_id, text))
}

fn download(body: String, content_type: &'static str, file: String) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// `GET /portal/runs/{id}/result.json`: the released result as the API returns it.
pub(super) async fn json(
    user: PortalUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let (run, text) = released_result(&state, &user, &id).await?;
    Ok(download(
        text,
        "application/json",
        format!("oncofed-{run}.json"),
    ))
}

/// `GET /portal/runs/{id}/result.csv`: the result's main table.
pub(super) async fn csv(
    user: PortalUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let (run, text) = released_result(&state, &user, &id).await?;
    let result: AnalysisResult = serde_json::from_str(&text).map_err(WebError::internal)?;
    Ok(download(
        result_csv(&result),
        "text/csv; charset=utf-8",
        format!("oncofed-{run}.csv"),
    ))
}

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn csv_cell(c: Cell) -> String {
    c.map(|n| n.to_string())
        .unwrap_or_else(|| "suppressed".into())
}

fn csv_opt(x: Option<f64>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

/// The result's main table as CSV (RFC 4180, full precision): KM steps per
/// curve, regression estimates, or describe's variables; suppressed counts
/// are the word `suppressed`, as in the JSON's `null`.
pub(crate) fn result_csv(result: &AnalysisResult) -> String {
    let mut out = String::new();
    match result {
        AnalysisResult::Km(km) => {
            out.push_str("curve,time,survival,ci_lower,ci_upper,at_risk,censored\r\n");
            for c in &km.curves {
                for s in &c.steps {
                    let _ = write!(
                        out,
                        "{},{},{},{},{},{},{}\r\n",
                        field(&c.label),
                        s.time,
                        s.survival,
                        s.ci_lower,
                        s.ci_upper,
                        csv_cell(s.at_risk),
                        s.censored.map(|n| n.to_string()).unwrap_or_default()
                    );
                }
            }
        }
        AnalysisResult::Cox(r) | AnalysisResult::FineGray(r) | AnalysisResult::Glm(r) => {
            out.push_str("term,coef,exp_coef,std_error,z,p_value,ci_lower,ci_upper\r\n");
            for (t, e) in r.terms.iter().zip(&r.estimates) {
                let _ = write!(
                    out,
                    "{},{},{},{},{},{},{},{}\r\n",
                    field(t),
                    e.coef,
                    e.exp_coef,
                    e.std_error,
                    e.z,
                    e.p_value,
                    e.ci_lower,
                    e.ci_upper
                );
            }
        }
        AnalysisResult::Describe(d) => {
            out.push_str("variable,n,mean,sd,q1,median,q3\r\n");
            for v in &d.variables {
                let q = v.quartiles.map(|q| q.map(|x| x.to_string()));
                let [q1, q2, q3] = q.unwrap_or_default();
                let _ = write!(
                    out,
                    "{},{},{},{},{q1},{q2},{q3}\r\n",
                    field(&v.name),
                    csv_cell(v.n),
                    csv_opt(v.mean),
                    csv_opt(v.sd)
                );
            }
        }
        other => {
            // No table of its own: the run facts.
            let run = other.run();
            out.push_str("sites,rows,events,rounds\r\n");
            let _ = write!(
                out,
                "{},{},{},{}\r\n",
                run.sites, run.rows, run.events, run.rounds
            );
        }
    }
    out
}
