//! Markup of the node's admin pages.

use crate::quality::StoredQuality;
use oncofed_store::{IngestRunRow, QuarantineRow, WithdrawalRow};
use oncofed_web::{Lang, Markup, csrf_field, html};
use std::collections::BTreeSet;

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn outcome_badge(lang: Lang, run: &IngestRunRow) -> Markup {
    match run.outcome.as_str() {
        "completed" if run.units_rejected == 0 => {
            html! { span class="badge badge-ok" { (lang.pick("vollständig", "completed")) } }
        }
        "completed" => {
            html! { span class="badge badge-warn" { (lang.pick("mit Ablehnungen", "with rejections")) } }
        }
        "interrupted" => {
            html! { span class="badge badge-warn" { (lang.pick("unterbrochen", "interrupted")) } }
        }
        _ => html! { span class="badge badge-bad" { (lang.pick("abgebrochen", "stopped")) } },
    }
}

/// The sign-in form.
pub(super) fn login(lang: Lang, csrf: &str, failed: bool) -> Markup {
    html! {
        @if failed {
            p class="error" role="alert" {
                (lang.pick("Anmeldung fehlgeschlagen: das Token stimmt nicht.", "Sign-in failed: the token is wrong."))
            }
        }
        p { (lang.pick(
            "Melden Sie sich mit dem API-Token des Knotens an (die Datei, die `oncofed node serve --api-token-file` liest).",
            "Sign in with the node's API token (the file `oncofed node serve --api-token-file` reads).")) }
        form class="stack" method="post" action=(super::LOGIN_PATH) {
            (csrf_field(csrf))
            label for="token" { (lang.pick("API-Token des Knotens", "The node's API token")) }
            input id="token" name="token" type="password" autocomplete="current-password" required;
            div class="actions" { button type="submit" { (lang.pick("Anmelden", "Sign in")) } }
        }
    }
}

/// The overview: one card per page with its latest state.
pub(super) fn overview(
    lang: Lang,
    run: Option<&IngestRunRow>,
    quality: Option<&StoredQuality>,
    quarantined: Option<&QuarantineRow>,
    withdrawal: Option<&WithdrawalRow>,
) -> Markup {
    html! {
        div class="grid" {
            div class="card" {
                h2 { a href="/admin/ingest" { (lang.pick("Letzter Ingest-Lauf", "Latest ingest run")) } }
                @match run {
                    Some(r) => {
                        p { (when(r.started_at)) " · " (r.source) " · " (outcome_badge(lang, r)) br;
                            (r.units_accepted) (lang.pick(" angenommen, ", " accepted, ")) (r.units_rejected) (lang.pick(" abgelehnt", " rejected")) }
                    },
                    None => { p class="muted" { (lang.pick("Noch kein Lauf.", "No run yet.")) } },
                }
            }
            div class="card" {
                h2 { a href="/admin/quality" { (lang.pick("Datenqualität", "Data quality")) } }
                @match quality {
                    Some(q) => {
                        p { (when(q.at)) br; (q.point.patients) (lang.pick(" Patientinnen und Patienten, ", " patients, "))
                            (q.point.issues.values().sum::<u64>()) (lang.pick(" Auffälligkeiten", " issues")) }
                    },
                    None => { p class="muted" { (lang.pick("Noch kein Bericht: `oncofed node quality` erstellt einen.", "No report yet: `oncofed node quality` makes one.")) } },
                }
            }
            div class="card" {
                h2 { a href="/admin/quarantine" { (lang.pick("Quarantäne", "Quarantine")) } }
                @match quarantined {
                    Some(q) => { p { (lang.pick("Zuletzt: ", "Latest: ")) (when(q.at)) " · " (q.reason_code) } },
                    None => { p class="muted" { (lang.pick("Leer.", "Empty.")) } },
                }
            }
            div class="card" {
                h2 { a href="/admin/withdrawals" { (lang.pick("Widerrufe", "Withdrawals")) } }
                @match withdrawal {
                    Some(w) => { p { (lang.pick("Zuletzt Auftrag ", "Latest order ")) (w.order_id) " · " (when(w.executed_at)) } },
                    None => { p class="muted" { (lang.pick("Noch keine Löschaufträge.", "No deletion orders yet.")) } },
                }
            }
        }
    }
}

/// Ingest runs, then the errors of each run that had some.
pub(super) fn ingest_runs(lang: Lang, runs: &[IngestRunRow]) -> Markup {
    html! {
        @if runs.is_empty() {
            p { (lang.pick("Noch kein Ingest-Lauf.", "No ingest run yet.")) }
        } @else {
            table class="data" {
                caption class="visually-hidden" { (lang.pick("Ingest-Läufe, neueste zuerst", "Ingest runs, newest first")) }
                thead { tr {
                    th scope="col" { (lang.pick("Lauf", "Run")) }
                    th scope="col" { (lang.pick("Beginn", "Started")) }
                    th scope="col" { (lang.pick("Ende", "Finished")) }
                    th scope="col" { (lang.pick("Quelle", "Source")) }
                    th scope="col" { (lang.pick("Ergebnis", "Outcome")) }
                    th scope="col" class="num" { (lang.pick("angenommen", "accepted")) }
                    th scope="col" class="num" { (lang.pick("abgelehnt", "rejected")) }
                    th scope="col" class="num" { (lang.pick("Ressourcen", "Resources")) }
                    th scope="col" class="num" { (lang.pick("Fehler", "Errors")) }
                } }
                tbody {
                    @for r in runs {
                        tr {
                            th scope="row" {
                                @if r.errors.is_empty() { "#" (r.id) } @else { a href={ "#run-" (r.id) } { "#" (r.id) } }
                            }
                            td { (when(r.started_at)) }
                            td { (when(r.finished_at)) }
                            td { (r.source) }
                            td { (outcome_badge(lang, r)) }
                            td class="num" { (r.units_accepted) }
                            td class="num" { (r.units_rejected) }
                            td class="num" { (r.resources) }
                            td class="num" { (r.errors_total) }
                        }
                    }
                }
            }
            @for r in runs.iter().filter(|r| !r.errors.is_empty()) {
                h2 id={ "run-" (r.id) } { (lang.pick("Fehler von Lauf ", "Errors of run ")) "#" (r.id) }
                @if r.errors_total > r.errors.len() as u64 {
                    p class="muted" { (r.errors.len()) (lang.pick(" von ", " of ")) (r.errors_total)
                        (lang.pick(" Fehlern gezeigt; der Kommandozeilen-Bericht enthält alle.", " errors shown; the command line report holds all.")) }
                }
                ul { @for e in &r.errors { li { code { (e) } } } }
            }
        }
    }
}

fn trend_cell(lang: Lang, now: Option<f64>, before: Option<f64>, higher_is_better: bool) -> Markup {
    let Some(now) = now else {
        return html! { span class="muted" { "–" } };
    };
    let change = before.map(|b| now - b).filter(|d| d.abs() >= 0.05);
    html! {
        (format!("{now:.1}"))
        @if let Some(d) = change {
            @let better = (d > 0.0) == higher_is_better;
            " "
            span class={ "badge " (if better { "badge-ok" } else { "badge-bad" }) } {
                (if d > 0.0 { "▲ +" } else { "▼ " }) (format!("{d:.1}"))
                span class="visually-hidden" { (if better { lang.pick(" besser", " better") } else { lang.pick(" schlechter", " worse") }) }
            }
        }
    }
}

/// The quality report per field over the stored reports (oldest to newest).
pub(super) fn quality(lang: Lang, history: &[StoredQuality]) -> Markup {
    let fields: BTreeSet<&String> = history
        .iter()
        .flat_map(|q| q.point.completeness.keys())
        .collect();
    let issues: BTreeSet<&String> = history.iter().flat_map(|q| q.point.issues.keys()).collect();
    html! {
        @if history.is_empty() {
            p { (lang.pick(
                "Noch kein gespeicherter Qualitätsbericht. `oncofed node quality` erstellt einen und speichert ihn für den Verlauf.",
                "No stored quality report yet. `oncofed node quality` makes one and keeps it for the trend.")) }
        } @else {
            p { (lang.pick("Die letzten ", "The last ")) (history.len())
                (lang.pick(" Berichte, älteste links. Pfeile zeigen die Änderung zum vorigen Bericht.",
                    " reports, oldest on the left. Arrows show the change from the report before.")) }
            h2 { (lang.pick("Vollständigkeit je Feld (%)", "Completeness per field (%)")) }
            table class="data" {
                caption class="visually-hidden" { (lang.pick("Vollständigkeit je Feld und Bericht", "Completeness per field and report")) }
                thead { tr {
                    th scope="col" { (lang.pick("Feld", "Field")) }
                    @for q in history { th scope="col" class="num" { (q.at.format("%Y-%m-%d %H:%M")) } }
                } }
                tbody {
                    tr {
                        th scope="row" { (lang.pick("Patientinnen und Patienten (Anzahl)", "Patients (count)")) }
                        @for q in history { td class="num" { (q.point.patients) } }
                    }
                    @for f in &fields {
                        tr {
                            th scope="row" { code { (f) } }
                            @for (i, q) in history.iter().enumerate() {
                                td class="num" { (trend_cell(lang,
                                    q.point.completeness.get(*f).map(|c| c.percent),
                                    i.checked_sub(1).and_then(|j| history[j].point.completeness.get(*f)).map(|c| c.percent),
                                    true)) }
                            }
                        }
                    }
                }
            }
            h2 { (lang.pick("Auffälligkeiten je Art (Anzahl)", "Issues per kind (count)")) }
            @if issues.is_empty() {
                p { (lang.pick("Keine gefunden.", "None found.")) }
            } @else {
                table class="data" {
                    caption class="visually-hidden" { (lang.pick("Auffälligkeiten je Art und Bericht", "Issues per kind and report")) }
                    thead { tr {
                        th scope="col" { (lang.pick("Art", "Kind")) }
                        @for q in history { th scope="col" class="num" { (q.at.format("%Y-%m-%d %H:%M")) } }
                    } }
                    tbody {
                        @for k in &issues {
                            tr {
                                th scope="row" { (k) }
                                @for (i, q) in history.iter().enumerate() {
                                    td class="num" { (trend_cell(lang,
                                        Some(q.point.issues.get(*k).copied().unwrap_or(0) as f64),
                                        i.checked_sub(1).map(|j| history[j].point.issues.get(*k).copied().unwrap_or(0) as f64),
                                        false)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Quarantined objects, by reason and one by one.
pub(super) fn quarantine(
    lang: Lang,
    entries: &[QuarantineRow],
    by_reason: &[(String, u64)],
) -> Markup {
    html! {
        p { (lang.pick(
            "Objekte, die der Bild- oder Zell-Ingest abgelehnt hat. Nichts davon wurde gespeichert; der Grund nennt keinen Wert aus dem Objekt.",
            "Objects the imaging or cell ingest refused. None of them was stored; the reason quotes no value from the object.")) }
        @if by_reason.is_empty() {
            p { (lang.pick("Die Quarantäne ist leer.", "The quarantine is empty.")) }
        } @else {
            table class="data" {
                caption { (lang.pick("Nach Grund", "By reason")) }
                thead { tr { th scope="col" { (lang.pick("Grund", "Reason")) } th scope="col" class="num" { (lang.pick("Objekte", "Objects")) } } }
                tbody { @for (code, n) in by_reason { tr { th scope="row" { code { (code) } } td class="num" { (n) } } } }
            }
            table class="data" {
                caption { (lang.pick("Einzeln, neueste zuerst", "One by one, newest first")) }
                thead { tr {
                    th scope="col" { (lang.pick("Zeit", "Time")) }
                    th scope="col" { (lang.pick("Herkunft", "Source")) }
                    th scope="col" { (lang.pick("Grund", "Reason")) }
                    th scope="col" { (lang.pick("Erklärung", "Explanation")) }
                } }
                tbody {
                    @for q in entries {
                        tr {
                            th scope="row" { (when(q.at)) }
                            td { code { (q.source) } }
                            td { code { (q.reason_code) } }
                            td { (q.reason) }
                        }
                    }
                }
            }
        }
    }
}

/// Executed withdrawal orders and their receipts.
pub(super) fn withdrawals(lang: Lang, rows: &[WithdrawalRow]) -> Markup {
    html! {
        p { (lang.pick(
            "Löschaufträge der Treuhandstelle nach einem Widerruf: was der Knoten gelöscht und quittiert hat. Das Pseudonym der Person wird nicht aufbewahrt.",
            "Deletion orders of the trust centre after a withdrawal: what the node deleted and confirmed. The person's pseudonym is not kept.")) }
        @if rows.is_empty() {
            p { (lang.pick("Noch keine Löschaufträge ausgeführt.", "No deletion order executed yet.")) }
        } @else {
            table class="data" {
                caption class="visually-hidden" { (lang.pick("Löschaufträge und Quittungen", "Deletion orders and receipts")) }
                thead { tr {
                    th scope="col" { (lang.pick("Auftrag", "Order")) }
                    th scope="col" { (lang.pick("Grund", "Reason")) }
                    th scope="col" { (lang.pick("Erteilt", "Ordered")) }
                    th scope="col" { (lang.pick("Ausgeführt", "Executed")) }
                    th scope="col" class="num" { (lang.pick("Personen", "Persons")) }
                    th scope="col" class="num" { (lang.pick("Fakten", "Facts")) }
                    th scope="col" class="num" { (lang.pick("Objekte", "Objects")) }
                    th scope="col" class="num" { (lang.pick("danach übrig", "remaining")) }
                    th scope="col" { (lang.pick("Quittung", "Receipt")) }
                } }
                tbody {
                    @for w in rows {
                        tr {
                            th scope="row" { (w.order_id) }
                            td { (w.reason) }
                            td { (when(w.ordered_at)) }
                            td { (when(w.executed_at)) }
                            td class="num" { (w.patients_deleted) }
                            td class="num" { (w.facts_deleted) }
                            td class="num" { (w.objects_deleted) }
                            td class="num" {
                                @if w.remaining == 0 { "0" } @else { span class="badge badge-bad" { (w.remaining) } }
                            }
                            td {
                                @match w.confirmed_at {
                                    Some(t) => { span class="badge badge-ok" { (lang.pick("bestätigt", "confirmed")) } " " (when(t)) },
                                    None => { span class="badge badge-warn" { (lang.pick("nicht bestätigt", "not confirmed")) } },
                                }
                                br;
                                code class="muted" { (w.receipt_digest.get(..16).unwrap_or(w.receipt_digest.as_str())) "…" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Where the site's projects are: the hub's portal (the node learns a
/// project only from the tasks it runs).
pub(super) fn projects(lang: Lang, hub_portal: Option<&str>) -> Markup {
    html! {
        p { (lang.pick(
            "Die Projekte, an denen dieser Standort teilnimmt, und sein Beitragsbuch führt der Forschungs-Hub.",
            "The projects this site takes part in, and its contribution ledger, are kept by the research hub.")) }
        @match hub_portal {
            Some(base) => {
                p {
                    a href={ (base.trim_end_matches('/')) "/portal/site/projects" } { (lang.pick("Projekte des Standorts im Hub-Portal", "The site's projects in the hub portal")) }
                    " · "
                    a href={ (base.trim_end_matches('/')) "/portal/site/ledger" } { (lang.pick("Beitragsbuch im Hub-Portal", "Contribution ledger in the hub portal")) }
                }
            },
            None => {
                p class="muted" { (lang.pick(
                    "Die Adresse des Hub-Portals ist nicht eingestellt (`oncofed node serve --hub-portal URL`).",
                    "The hub portal's address is not set (`oncofed node serve --hub-portal URL`).")) }
            },
        }
    }
}
