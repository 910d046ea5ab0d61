//! Markup of the site admin's hub pages: the ledger (filters, summary, entries,
//! exports) and the site's projects.

use super::LedgerParams;
use crate::db::contributions::{ContributionRow, Figure, ResultKind};
use crate::ledger::LedgerExport;
use oncofed_protocol::analysis::Project;
use oncofed_web::{Lang, Markup, html};
use std::collections::BTreeMap;

/// Entries shown on the page (newest first); the exports hold all.
const PAGE_ENTRIES: usize = 200;

fn figure(lang: Lang, f: Figure) -> Markup {
    match f {
        Figure::Count(n) => html! { (n) },
        Figure::Suppressed => html! {
            span class="badge badge-warn" { (lang.pick("unterdrückt", "suppressed")) }
        },
        Figure::NotSplit => html! {
            span class="muted" { (lang.pick("im Gesamtergebnis", "in the total")) }
        },
        Figure::None => html! { span class="muted" { "–" } },
    }
}

fn kind(lang: Lang, k: ResultKind) -> &'static str {
    match k {
        ResultKind::Feasibility => lang.pick("Machbarkeit", "Feasibility"),
        ResultKind::Analysis => lang.pick("Analyse", "Analysis"),
        ResultKind::Training => lang.pick("Training", "Training"),
    }
}

fn project_cell(lang: Lang, p: Option<&str>) -> Markup {
    match p {
        Some(p) => html! { (p) },
        None => {
            html! { span class="muted" { (lang.pick("ohne Projekt (Machbarkeit)", "no project (feasibility)")) } }
        }
    }
}

/// The ledger page's body.
pub(super) fn ledger(
    lang: Lang,
    export: &LedgerExport,
    params: &LedgerParams,
    query: &str,
    sites: &[String],
) -> Markup {
    let join = if query.is_empty() { "" } else { "&" };
    html! {
        p class="notice" {
            (lang.pick(
                "Für jedes freigegebene Ergebnis: wie viele Personen und Zeilen der Standort beigetragen hat, vergröbert nach den Offenlegungsregeln des Hubs. ",
                "For every released result: how many persons and rows the site contributed, coarsened under the hub's disclosure rules. "))
            (export.disclosure)
        }
        form method="get" action="/portal/site/ledger" class="stack" {
            @if !sites.is_empty() {
                label for="site" { (lang.pick("Standort", "Site")) }
                select id="site" name="site" {
                    option value="" selected[params.site.is_none()] { (lang.pick("alle Standorte", "all sites")) }
                    @for s in sites {
                        option value=(s) selected[params.site.as_deref() == Some(s.as_str())] { (s) }
                    }
                }
            }
            label for="period" { (lang.pick("Monat (JJJJ-MM, leer: alle)", "Month (YYYY-MM, empty: all)")) }
            input id="period" name="period" type="text" inputmode="numeric" pattern="[0-9]{4}-[0-9]{2}"
                value=(params.period.as_deref().unwrap_or(""));
            label for="project" { (lang.pick("Projekt (leer: alle, - : Machbarkeit)", "Project (empty: all, - : feasibility)")) }
            input id="project" name="project" type="text" value=(params.project.as_deref().unwrap_or(""));
            div class="actions" {
                button type="submit" { (lang.pick("Anzeigen", "Show")) }
            }
        }
        div class="actions" {
            a class="button button-secondary" href={ "/portal/site/ledger.csv?" (query) (join) "view=summary" } {
                (lang.pick("Zusammenfassung als CSV", "Summary as CSV"))
            }
            a class="button button-secondary" href={ "/portal/site/ledger.csv?" (query) } {
                (lang.pick("Einträge als CSV", "Entries as CSV"))
            }
            a class="button button-secondary" href={ "/portal/site/ledger.json?" (query) } {
                (lang.pick("Alles als JSON", "Everything as JSON"))
            }
        }
        h2 { (lang.pick("Summe je Projekt und Monat", "Totals per project and month")) }
        @if export.summary.is_empty() {
            p { (lang.pick("Noch keine freigegebenen Ergebnisse mit Beiträgen dieses Standorts.",
                "No released results with contributions of this site yet.")) }
        } @else {
            table class="data" {
                caption class="visually-hidden" { (lang.pick("Beiträge je Standort, Projekt und Monat", "Contributions per site, project and month")) }
                thead { tr {
                    th scope="col" { (lang.pick("Standort", "Site")) }
                    th scope="col" { (lang.pick("Projekt", "Project")) }
                    th scope="col" { (lang.pick("Monat", "Month")) }
                    th scope="col" class="num" { (lang.pick("Ergebnisse", "Results")) }
                    th scope="col" class="num" { (lang.pick("Personen (Summe)", "Persons (sum)")) }
                    th scope="col" class="num" { (lang.pick("davon unterdrückt", "suppressed")) }
                    th scope="col" class="num" { (lang.pick("nur im Gesamtergebnis", "in totals only")) }
                    th scope="col" class="num" { (lang.pick("Zeilen (Summe)", "Rows (sum)")) }
                } }
                tbody {
                    @for s in &export.summary {
                        tr {
                            th scope="row" { (s.site) }
                            td { (project_cell(lang, s.project.as_deref())) }
                            td { (s.period) }
                            td class="num" { (s.results) }
                            td class="num" { (s.persons) }
                            td class="num" { (s.persons_suppressed) }
                            td class="num" { (s.persons_not_split) }
                            td class="num" { (s.rows) }
                        }
                    }
                }
            }
        }
        h2 { (lang.pick("Einträge", "Entries")) }
        @if export.entries.len() > PAGE_ENTRIES {
            p class="muted" { (lang.pick("Die neuesten 200 Einträge; die Exporte enthalten alle.",
                "The newest 200 entries; the exports hold all.")) }
        }
        @if !export.entries.is_empty() {
            table class="data" {
                caption class="visually-hidden" { (lang.pick("Beiträge je freigegebenem Ergebnis", "Contributions per released result")) }
                thead { tr {
                    th scope="col" { (lang.pick("Freigegeben", "Released")) }
                    th scope="col" { (lang.pick("Art", "Kind")) }
                    th scope="col" { (lang.pick("Ergebnis", "Result")) }
                    th scope="col" { (lang.pick("Standort", "Site")) }
                    th scope="col" { (lang.pick("Projekt", "Project")) }
                    th scope="col" class="num" { (lang.pick("Personen", "Persons")) }
                    th scope="col" class="num" { (lang.pick("Zeilen", "Rows")) }
                    th scope="col" class="num" { (lang.pick("Personen im Ergebnis", "Persons in the result")) }
                    th scope="col" class="num" { (lang.pick("Standorte im Ergebnis", "Sites in the result")) }
                } }
                tbody {
                    @for e in export.entries.iter().take(PAGE_ENTRIES) {
                        (entry_row(lang, e))
                    }
                }
            }
        }
    }
}

fn entry_row(lang: Lang, e: &ContributionRow) -> Markup {
    html! {
        tr {
            td { (e.released_at.format("%Y-%m-%d %H:%M")) " UTC" }
            td { (kind(lang, e.kind)) }
            th scope="row" { code { (e.result_id) } }
            td { (e.site) }
            td { (project_cell(lang, e.project.as_deref())) }
            td class="num" { (figure(lang, e.persons)) }
            td class="num" { (figure(lang, e.rows)) }
            td class="num" { (figure(lang, e.result_persons)) }
            td class="num" { (e.sites_in_result) }
        }
    }
}

/// The projects page's body: every approved project (analyses go to every
/// registered site) with what this site contributed to it.
pub(super) fn projects(
    lang: Lang,
    site: &str,
    registered: bool,
    projects: &[Project],
    entries: &[ContributionRow],
) -> Markup {
    let mut per_project: BTreeMap<&str, (u64, &str)> = BTreeMap::new();
    for e in entries {
        if let Some(p) = e.project.as_deref() {
            let slot = per_project.entry(p).or_insert((0, ""));
            slot.0 += 1;
            if e.period.as_str() > slot.1 {
                slot.1 = e.period.as_str();
            }
        }
    }
    html! {
        p class="big" { (lang.pick("Standort ", "Site ")) strong { (site) } }
        @if registered {
            p { span class="badge badge-ok" { (lang.pick("beim Hub registriert", "registered at the hub")) } }
        } @else {
            p class="notice" { (lang.pick(
                "Dieser Standort ist beim Hub (noch) nicht registriert: er erhält keine Aufgaben.",
                "This site is not registered at the hub (yet): it receives no tasks.")) }
        }
        p { (lang.pick(
            "Analysen genehmigter Projekte gehen an jeden registrierten Standort; jeder Standort prüft selbst Einwilligung, Mindestzahlen und seinen Datenschutz-Haushalt, bevor er teilnimmt.",
            "Analyses of approved projects go to every registered site; each site checks consent, its minimums and its privacy budget itself before it takes part.")) }
        @if projects.is_empty() {
            p { (lang.pick("Noch keine genehmigten Projekte.", "No approved projects yet.")) }
        } @else {
            table class="data" {
                caption class="visually-hidden" { (lang.pick("Genehmigte Projekte", "Approved projects")) }
                thead { tr {
                    th scope="col" { (lang.pick("Projekt", "Project")) }
                    th scope="col" { (lang.pick("Titel", "Title")) }
                    th scope="col" { (lang.pick("Datenkategorien", "Data categories")) }
                    th scope="col" class="num" { (lang.pick("Forschende", "Researchers")) }
                    th scope="col" class="num" { (lang.pick("Ergebnisse mit Beitrag", "Results contributed to")) }
                    th scope="col" { (lang.pick("Zuletzt", "Latest")) }
                } }
                tbody {
                    @for p in projects {
                        @let (n, last) = per_project.get(p.id.as_str()).copied().unwrap_or((0, ""));
                        tr {
                            th scope="row" {
                                a href={ "/portal/site/ledger?project=" (p.id) } { (p.id) }
                            }
                            td { (p.title) }
                            td { (p.categories.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")) }
                            td class="num" { (p.researchers.len()) }
                            td class="num" { (n) }
                            td { @if last.is_empty() { span class="muted" { "–" } } @else { (last) } }
                        }
                    }
                }
            }
        }
        p { a href="/portal/site/ledger" { (lang.pick("Zum Beitragsbuch", "To the contribution ledger")) } }
    }
}
