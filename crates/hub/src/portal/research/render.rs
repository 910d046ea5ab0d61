//! Markup of the feasibility builder: the tree as plain form fields, the
//! released counts, the code lists and the code search.

use super::codes::{self, Code};
use super::feasibility::{Shown, meaning};
use super::tree::{FieldType, LEAVES, LeafKind, Node, Problem, leaf};
use crate::AppState;
use crate::portal::PortalUser;
use oncofed_privacy::{HubDisclosure, Released};
use oncofed_protocol::QueryId;
use oncofed_protocol::api::{QueryStatus, TaskState};
use oncofed_web::{Lang, Markup, Page, csrf_field, html};

const ACTION: &str = "/portal/feasibility";

/// The builder page: tree, counts of the shown query, history, code lists.
pub(super) fn builder_page(
    user: &PortalUser,
    lang: Lang,
    tree: &Node,
    shown: Option<&Shown>,
    error: Option<&str>,
    history: &[(QueryId, String, chrono::DateTime<chrono::Utc>)],
    state: &AppState,
) -> Page {
    let result = tree.to_criteria();
    let problems: Vec<Problem> = result.as_ref().err().cloned().unwrap_or_default();
    let current = result.as_ref().ok().map(meaning);
    let body = html! {
        p.muted {
            (lang.pick(
                "Stellen Sie Bedingungen zusammen und lassen Sie zählen, wie viele Patientinnen und Patienten an den Standorten passen. Zahlen erscheinen nur so, wie die Offenlegungskontrolle sie freigibt.",
                "Combine conditions and count how many patients at the sites fit. Figures appear only as disclosure control releases them."))
        }
        div #builder {
            form.builder method="post" action=(ACTION)
                hx-post=(ACTION) hx-target="#builder" hx-select="#builder" hx-swap="outerHTML" {
                (csrf_field(&user.csrf))
                // Enter in a field applies the edits (the first submit button
                // of a form is its default).
                button.visually-hidden type="submit" name="op" value="update" tabindex="-1" {
                    (lang.pick("Übernehmen", "Apply"))
                }
                @if let Some(s) = shown {
                    input type="hidden" name="shown" value=(s.query.as_str());
                }
                (group(lang, tree, "r", &problems))
                @if let Ok(c) = &result {
                    p.notice { strong { (lang.pick("Abfrage: ", "Query: ")) } (c.describe()) }
                }
                @for p in problems.iter().filter(|p| p.path == "r") {
                    p.error role="alert" { (p.message) }
                }
                @if let Some(e) = error {
                    p.error role="alert" { (e) }
                }
                div.actions {
                    button.button-secondary type="submit" name="op" value="update" {
                        (lang.pick("Änderungen übernehmen", "Apply changes"))
                    }
                    button type="submit" name="op" value="run" {
                        (lang.pick("Zählen", "Count"))
                    }
                }
            }
            @if let Some(s) = shown {
                (counts(lang, s, current.as_deref().unwrap_or(""), &state.inner.config.disclosure))
            }
        }
        section.card aria-labelledby="code-search-heading" {
            h2 #code-search-heading { (lang.pick("Codesuche", "Code search")) }
            (code_search_form(lang, "", None))
            div #code-results {}
        }
        @if !history.is_empty() {
            section aria-labelledby="history-heading" {
                h2 #history-heading { (lang.pick("Ihre letzten Abfragen", "Your recent queries")) }
                ul {
                    @for (id, words, at) in history {
                        li {
                            a href=(format!("{ACTION}/{id}")) { (words) }
                            " " span.muted { "(" (at.format("%Y-%m-%d %H:%M UTC")) ")" }
                        }
                    }
                }
            }
        }
        (datalists())
    };
    crate::portal::page(
        user,
        lang,
        "/portal/feasibility",
        lang.pick("Machbarkeitsabfrage", "Feasibility query"),
        body,
    )
}

fn id_of(path: &str, field: &str) -> String {
    format!("f-{}-{field}", path.replace('.', "-"))
}

fn group(lang: Lang, node: &Node, path: &str, problems: &[Problem]) -> Markup {
    let kind_id = id_of(path, "kind");
    let new_id = id_of(path, "new");
    let depth = path.matches('.').count() + 1;
    html! {
        fieldset.group {
            legend {
                @if path == "r" { (lang.pick("Kohorte", "Cohort")) }
                @else { (lang.pick("Untergruppe", "Subgroup")) }
            }
            label for=(kind_id) { (lang.pick("Verknüpfung", "Combine as")) }
            select id=(kind_id) name=(format!("k:{path}")) {
                @for (value, de, en) in [
                    ("and", "alle Bedingungen (UND)", "all conditions (AND)"),
                    ("or", "mindestens eine (ODER)", "at least one (OR)"),
                    ("not", "keine davon (NICHT)", "none of them (NOT)"),
                ] {
                    option value=(value) selected[node.kind == value] { (lang.pick(de, en)) }
                }
            }
            @for p in problems.iter().filter(|p| p.path == path && path != "r") {
                p.error { (p.message) }
            }
            @if node.children.is_empty() {
                p.muted { (lang.pick("Noch keine Bedingung.", "No condition yet.")) }
            }
            ol.conditions {
                @for (i, child) in node.children.iter().enumerate() {
                    @let child_path = format!("{path}.{i}");
                    li {
                        @if child.is_group() { (group(lang, child, &child_path, problems)) }
                        @else { (leaf_fields(lang, child, &child_path, problems)) }
                    }
                }
            }
            div.actions {
                label for=(new_id) { (lang.pick("Neue Bedingung", "New condition")) }
                select id=(new_id) name=(format!("new:{path}")) {
                    @for kind in LEAVES { option value=(kind.key) { (lang.pick(kind.de, kind.en)) } }
                }
                button.button-secondary type="submit" name="op" value=(format!("add:{path}")) {
                    (lang.pick("Bedingung hinzufügen", "Add condition"))
                }
                @if depth + 1 < oncofed_protocol::criteria::Criteria::MAX_DEPTH {
                    button.button-secondary type="submit" name="op" value=(format!("group:{path}")) {
                        (lang.pick("Untergruppe hinzufügen", "Add subgroup"))
                    }
                }
                @if path != "r" {
                    button.button-secondary type="submit" name="op" value=(format!("remove:{path}")) {
                        (lang.pick("Untergruppe entfernen", "Remove subgroup"))
                    }
                }
            }
        }
    }
}

fn leaf_fields(lang: Lang, node: &Node, path: &str, problems: &[Problem]) -> Markup {
    let Some(kind): Option<&LeafKind> = leaf(&node.kind) else {
        return html! { p.error { (lang.pick("Unbekannte Bedingung", "Unknown condition")) } };
    };
    html! {
        fieldset.leaf {
            legend { (lang.pick(kind.de, kind.en)) }
            input type="hidden" name=(format!("k:{path}")) value=(kind.key);
            div.grid {
                @for field in kind.fields {
                    @let id = id_of(path, field.key);
                    @let name = format!("f:{path}:{}", field.key);
                    @let value = node.fields.get(field.key).map(String::as_str).unwrap_or("");
                    div {
                        label for=(id) { (lang.pick(field.de, field.en)) }
                        @match field.ty {
                            FieldType::Choice(choices) => {
                                select id=(id) name=(name) {
                                    @for (v, de, en) in choices {
                                        option value=(v) selected[value == *v] { (lang.pick(de, en)) }
                                    }
                                }
                            }
                            FieldType::Bool => {
                                select id=(id) name=(name) {
                                    option value="true" selected[value != "false"] { (lang.pick("ja", "yes")) }
                                    option value="false" selected[value == "false"] { (lang.pick("nein (getestet, nicht nachgewiesen)", "no (tested, absent)")) }
                                }
                            }
                            FieldType::Date => input id=(id) name=(name) type="date" value=(value);
                            FieldType::Number => input id=(id) name=(name) type="text" inputmode="decimal" value=(value);
                            _ => input id=(id) name=(name) type="text" value=(value) list=[field.list];
                        }
                    }
                }
            }
            @for p in problems.iter().filter(|p| p.path == path) {
                p.error { (p.message) }
            }
            button.button-secondary type="submit" name="op" value=(format!("remove:{path}")) {
                (lang.pick("Bedingung entfernen", "Remove condition"))
            }
        }
    }
}

/// A released count as the API releases it: the number, or below the threshold.
fn figure(lang: Lang, r: Option<Released>, threshold: Option<u64>) -> String {
    match (r, threshold) {
        (Some(Released::Count(n)), _) => n.to_string(),
        (Some(Released::Suppressed), Some(t)) => format!("< {t}"),
        (Some(Released::Suppressed), None) => lang
            .pick("unterdrückt (zu wenige)", "suppressed (too few)")
            .into(),
        (None, _) => "–".into(),
    }
}

/// The counts section of a shown query; `current` is the meaning digest of
/// the builder's criteria (empty: incomplete), and the figures are marked
/// outdated when it differs from the query's.
pub(super) fn counts(lang: Lang, shown: &Shown, current: &str, rules: &HubDisclosure) -> Markup {
    let r = &shown.response;
    let running = r.status == QueryStatus::Running;
    let outdated = current != shown.key;
    let poll = format!(
        "/portal/feasibility/{}/counts?current={current}",
        shown.query
    );
    let (badge, label) = match r.status {
        QueryStatus::Running => ("badge badge-warn", lang.pick("läuft", "running")),
        QueryStatus::Complete => ("badge badge-ok", lang.pick("vollständig", "complete")),
        QueryStatus::Partial => ("badge badge-warn", lang.pick("teilweise", "partial")),
    };
    html! {
        section #counts aria-live="polite"
            hx-get=[running.then_some(&poll)] hx-trigger=[running.then_some("every 2s")]
            hx-swap=[running.then_some("outerHTML")] {
            h2 { (lang.pick("Ergebnis", "Result")) }
            @if outdated {
                p.stale.outdated role="status" {
                    span.badge.badge-bad { (lang.pick("veraltet", "outdated")) } " "
                    (lang.pick(
                        "Die Abfrage wurde geändert: diese Zahlen gehören zur vorherigen Abfrage. Zählen Sie neu.",
                        "The query has changed: these figures belong to the previous query. Count again."))
                }
            }
            p { (lang.pick("Abfrage: ", "Query: ")) (r.criteria) }
            p { (lang.pick("Status: ", "Status: ")) span #query-status class=(badge) { (label) } }
            p.big #total {
                (lang.pick("Gesamt: ", "Total: "))
                span #total-figure { (figure(lang, Some(r.total), Some(rules.min_total))) }
            }
            table.data #per-site {
                caption { (lang.pick("Standorte", "Sites")) }
                thead { tr {
                    th scope="col" { (lang.pick("Standort", "Site")) }
                    th scope="col" { (lang.pick("Antwort", "Answer")) }
                    th scope="col" { (lang.pick("Anzahl", "Count")) }
                } }
                tbody {
                    @for site in &r.sites {
                        @let count = r.per_site.as_ref().and_then(|v| v.iter().find(|(s, _)| s == &site.site).map(|(_, c)| *c));
                        tr {
                            th scope="row" { (site.site.as_str()) }
                            td { (task_state(lang, site.state)) }
                            td.figure { @if r.per_site.is_some() { (figure(lang, count, None)) } @else { (lang.pick("zurückgehalten", "withheld")) } }
                        }
                    }
                }
            }
            @if let Some(w) = &r.withheld {
                p.muted { (lang.pick("Keine Aufschlüsselung nach Standort: ", "No breakdown by site: ")) (w) }
            }
            @if running {
                p.muted {
                    (lang.pick("Die Standorte antworten noch. ", "The sites are still answering. "))
                    a href=(format!("{ACTION}/{}", shown.query)) { (lang.pick("Aktualisieren", "Refresh")) }
                }
            }
        }
    }
}

fn task_state(lang: Lang, s: TaskState) -> &'static str {
    match s {
        TaskState::Queued => lang.pick("wartet", "queued"),
        TaskState::Claimed => lang.pick("in Arbeit", "working"),
        TaskState::Succeeded => lang.pick("geantwortet", "answered"),
        TaskState::Failed => lang.pick("abgelehnt oder fehlgeschlagen", "refused or failed"),
        TaskState::Expired => lang.pick("keine Antwort", "no answer"),
    }
}

/// The code lists as `<datalist>`s (suggestions in the code fields, no script).
fn datalists() -> Markup {
    let ids = [
        "codes-icd10",
        "codes-morphology",
        "codes-atc",
        "codes-ops",
        "codes-loinc",
        "codes-unit",
        "codes-hgnc",
        "codes-gene",
        "codes-cell",
        "codes-consequence",
    ];
    html! {
        @for id in ids {
            datalist id=(id) {
                @for c in codes::list(id) { option value=(c.code) { (c.display) } }
            }
        }
    }
}

/// The code search form (GET; htmx fills `#code-results`).
pub(super) fn code_search_form(lang: Lang, q: &str, list: Option<&str>) -> Markup {
    html! {
        form.stack role="search" method="get" action="/portal/codes"
            hx-get="/portal/codes" hx-target="#code-results" hx-swap="innerHTML" {
            label for="code-q" {
                (lang.pick(
                    "Suchbegriff (Code oder Bezeichnung; ICD-10-GM, ICD-O-3, ATC, OPS, LOINC, HGNC-Gene, Zellklassen)",
                    "Search words (code or name; ICD-10-GM, ICD-O-3, ATC, OPS, LOINC, HGNC genes, cell classes)"))
            }
            input #code-q type="search" name="q" value=(q);
            label for="code-list" { (lang.pick("Nur in", "Only in")) }
            select #code-list name="list" {
                option value="" { (lang.pick("allen Listen", "all lists")) }
                @for (id, name) in [
                    ("codes-icd10", "ICD-10-GM"), ("codes-morphology", "ICD-O-3"), ("codes-atc", "ATC"),
                    ("codes-ops", "OPS"), ("codes-loinc", "LOINC"), ("codes-hgnc", "HGNC-ID"),
                    ("codes-gene", "Gene symbol"), ("codes-cell", "Cell class"),
                ] {
                    option value=(id) selected[list == Some(id)] { (name) }
                }
            }
            button type="submit" { (lang.pick("Suchen", "Search")) }
        }
    }
}

/// The hits of a code search as a table.
pub(super) fn code_results(lang: Lang, q: &str, hits: &[&Code]) -> Markup {
    html! {
        @if q.trim().is_empty() {
        } @else if hits.is_empty() {
            p role="status" { (lang.pick("Keine Codes gefunden.", "No codes found.")) }
        } @else {
            table.data #code-table {
                caption { (lang.pick("Gefundene Codes", "Codes found")) " (" (hits.len()) ")" }
                thead { tr {
                    th scope="col" { (lang.pick("System", "System")) }
                    th scope="col" { "Code" }
                    th scope="col" { (lang.pick("Bedeutung", "Meaning")) }
                } }
                tbody {
                    @for c in hits {
                        tr { td { (c.system) } th scope="row" { code { (c.code) } } td { (c.display) } }
                    }
                }
            }
        }
    }
}
