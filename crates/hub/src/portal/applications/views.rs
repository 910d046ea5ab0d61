//! What the application pages show: labels in both languages, the
//! application itself, its per-site status matrix, its history with reasons
//! and the policy's findings. Pure rendering: no access checks here (the
//! handlers decide what reaches a view).

use oncofed_protocol::application::{
    Application, ApplicationContent, Event, Party, PolicyVerdict, SiteDecision, Stage, Vote,
};
use oncofed_web::{Lang, Markup, html};

/// The stage in words.
pub fn stage_label(stage: Stage, lang: Lang) -> &'static str {
    match stage {
        Stage::Draft => lang.pick("Entwurf", "Draft"),
        Stage::FormalCheck => lang.pick("Formale Prüfung", "Formal check"),
        Stage::SiteCheck => lang.pick("Prüfung durch die Standorte", "Site check"),
        Stage::CommitteeVote => lang.pick("Votum des Nutzungsausschusses", "Committee vote"),
        Stage::Acknowledgement => lang.pick("Bestätigung der Auflagen", "Acknowledging the terms"),
        Stage::Approved => lang.pick("Genehmigt", "Approved"),
        Stage::Rework => lang.pick("Zur Überarbeitung zurück", "Returned for rework"),
        Stage::Rejected => lang.pick("Abgelehnt", "Rejected"),
    }
}

/// The badge class of a stage (colour is never the only cue: the label is text).
pub fn stage_badge(stage: Stage) -> &'static str {
    match stage {
        Stage::Approved => "badge badge-ok",
        Stage::Rejected => "badge badge-bad",
        Stage::Rework => "badge badge-warn",
        _ => "badge",
    }
}

/// A stage badge.
pub fn stage(stage: Stage, lang: Lang) -> Markup {
    html! { span class=(stage_badge(stage)) { (stage_label(stage, lang)) } }
}

fn site_cell(decision: Option<&SiteDecision>, lang: Lang) -> Markup {
    match decision {
        None => html! { span class="badge" { (lang.pick("offen", "pending")) } },
        Some(SiteDecision::Accept) => {
            html! { span class="badge badge-ok" { (lang.pick("zugestimmt", "accepted")) } }
        }
        Some(SiteDecision::AcceptWithConditions { conditions }) => html! {
            span class="badge badge-ok" { (lang.pick("zugestimmt mit Auflagen", "accepted with conditions")) }
            " " span class="muted" { (conditions) }
        },
        Some(SiteDecision::Decline { reasons }) => html! {
            span class="badge badge-bad" { (lang.pick("abgelehnt", "declined")) }
            " " span class="muted" { (reasons) }
        },
    }
}

/// The per-site status matrix of the current version: each site's decision
/// and whether it acknowledged the terms.
pub fn site_matrix(app: &Application, lang: Lang) -> Markup {
    let Some(version) = app.current() else {
        return html! { p class="muted" { (lang.pick("Noch nicht eingereicht.", "Not submitted yet.")) } };
    };
    html! {
        table class="data" {
            caption { (lang.pick("Status je Standort", "Status per site")) " (" (lang.pick("Version", "version")) " " (version.number) ")" }
            thead { tr {
                th scope="col" { (lang.pick("Standort", "Site")) }
                th scope="col" { (lang.pick("Entscheidung", "Decision")) }
                th scope="col" { (lang.pick("Auflagen bestätigt", "Terms acknowledged")) }
            } }
            tbody {
                @for site in &version.content.sites {
                    @let decision = app.sites.get(site);
                    tr {
                        th scope="row" { (site) }
                        td { (site_cell(decision, lang)) }
                        td {
                            @if app.acknowledged.contains(&Party::Site(site.clone())) {
                                span class="badge badge-ok" { (lang.pick("ja", "yes")) }
                            } @else if decision.is_some_and(SiteDecision::accepts) {
                                span class="badge" { (lang.pick("noch nicht", "not yet")) }
                            } @else {
                                span class="muted" { "–" }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn categories(c: &ApplicationContent) -> String {
    c.categories
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The application's content as a description list.
pub fn content(c: &ApplicationContent, applicant: &str, app_id: &str, lang: Lang) -> Markup {
    html! {
        dl {
            dt { (lang.pick("Titel", "Title")) } dd { (c.title) }
            dt { (lang.pick("Zweck", "Purpose")) } dd { (c.purpose.as_str()) }
            dt { (lang.pick("Fragestellung", "Scientific question")) } dd { (c.summary) }
            dt { (lang.pick("Datenkategorien", "Data categories")) } dd { (categories(c)) }
            dt { (lang.pick("Schutzstufe", "Security level")) } dd { (u8::from(c.security_level())) }
            dt { (lang.pick("Standorte", "Sites")) } dd { (c.sites.iter().cloned().collect::<Vec<_>>().join(", ")) }
            dt { (lang.pick("Auswertungsarten", "Analysis kinds")) } dd { (c.plan.kinds.join(", ")) }
            dt { (lang.pick("Variablen", "Variables")) }
            dd {
                @match &c.plan.variables {
                    Some(v) => (v.iter().map(|v| v.name()).collect::<Vec<_>>().join(", ")),
                    None => (lang.pick("alle der beantragten Kategorien", "any of the categories asked for")),
                }
            }
            dt { (lang.pick("Längster Beobachtungszeitraum", "Longest horizon")) } dd { (c.plan.max_horizon_days) " " (lang.pick("Tage", "days")) }
            dt { (lang.pick("Auswertungsplan", "Analysis plan")) } dd { (c.plan.description) }
            dt { (lang.pick("Laufzeit", "Duration")) } dd { (c.duration_days) " " (lang.pick("Tage", "days")) }
            dt { (lang.pick("Privatsphäre-Budget ε", "Privacy budget ε")) } dd { (c.epsilon) }
            dt { (lang.pick("Forschende", "Researchers")) } dd { (c.all_researchers(applicant).into_iter().collect::<Vec<_>>().join(", ")) }
            dt { (lang.pick("Ethikvotum", "Ethics vote")) }
            dd {
                @match &c.ethics {
                    Some(e) => {
                        a href=(format!("/portal/applications/{app_id}/ethics")) { (e.filename) }
                        " (" (e.bytes / 1024) " KiB, SHA-256 " code { (&e.sha256[..16]) "…" } ")"
                    }
                    None => span class="badge badge-warn" { (lang.pick("fehlt", "missing")) },
                }
            }
        }
    }
}

/// The policy's findings per rule.
pub fn verdict(v: &PolicyVerdict, lang: Lang) -> Markup {
    html! {
        @if v.approves() {
            p class="notice" { (lang.pick("Alle Regeln der Richtlinie sind erfüllt: automatisch genehmigt.", "Every rule of the policy held: approved automatically.")) }
        } @else {
            p class="notice" {
                (lang.pick("Nicht jede Regel der Richtlinie ist erfüllt; der Antrag geht den regulären Weg. Nicht erfüllt: ", "Not every rule of the policy held; the application goes the manual way. Failed: "))
                strong { (v.failed().join(", ")) }
            }
        }
        table class="data" {
            caption { (lang.pick("Richtlinie", "Policy")) " " (v.policy) " v" (v.version) ", SHA-256 " code { (&v.sha256[..16]) "…" } }
            thead { tr {
                th scope="col" { (lang.pick("Regel", "Rule")) }
                th scope="col" { (lang.pick("Erfüllt", "Held")) }
                th scope="col" { (lang.pick("Befund", "Finding")) }
            } }
            tbody {
                @for r in &v.rules {
                    tr {
                        th scope="row" { (r.rule) }
                        td {
                            @if r.held { span class="badge badge-ok" { (lang.pick("ja", "yes")) } }
                            @else { span class="badge badge-bad" { (lang.pick("nein", "no")) } }
                        }
                        td { (r.finding) }
                    }
                }
            }
        }
    }
}

fn vote_text(v: &Vote, lang: Lang) -> String {
    match v {
        Vote::Approve => lang.pick("stimmt zu", "approves").into(),
        Vote::ApproveWithConditions { conditions } => format!(
            "{}: {conditions}",
            lang.pick("stimmt mit Auflagen zu", "approves with conditions")
        ),
        Vote::Rework { reasons } => {
            format!(
                "{}: {reasons}",
                lang.pick("bittet um Überarbeitung", "asks for rework")
            )
        }
        Vote::Reject { reasons } => format!("{}: {reasons}", lang.pick("lehnt ab", "rejects")),
    }
}

fn event_text(e: &Event, lang: Lang) -> String {
    match e {
        Event::Submitted { version } => format!(
            "{} {version}",
            lang.pick("Eingereicht: Version", "Submitted: version")
        ),
        Event::PolicyChecked { verdict, .. } => {
            if verdict.approves() {
                lang.pick("Richtlinie: alle Regeln erfüllt", "Policy: every rule held")
                    .into()
            } else {
                format!(
                    "{} {}",
                    lang.pick("Richtlinie: nicht erfüllt:", "Policy: failed:"),
                    verdict.failed().join(", ")
                )
            }
        }
        Event::FormalCheck { passed: true, .. } => lang
            .pick("Formale Prüfung bestanden", "Formal check passed")
            .into(),
        Event::FormalCheck { reasons, .. } => format!(
            "{}: {reasons}",
            lang.pick("Formale Prüfung: zurück", "Formal check: returned")
        ),
        Event::Site { site, decision, .. } => {
            let d = match decision {
                SiteDecision::Accept => lang.pick("stimmt zu", "accepts").to_owned(),
                SiteDecision::AcceptWithConditions { conditions } => format!(
                    "{}: {conditions}",
                    lang.pick("stimmt mit Auflagen zu", "accepts with conditions")
                ),
                SiteDecision::Decline { reasons } => {
                    format!("{}: {reasons}", lang.pick("lehnt ab", "declines"))
                }
            };
            format!("{} {site} {d}", lang.pick("Standort", "Site"))
        }
        Event::Vote { vote, .. } => format!(
            "{} {}",
            lang.pick("Ausschussmitglied", "Committee member"),
            vote_text(vote, lang)
        ),
        Event::Acknowledged { party, .. } => match party {
            Party::Applicant => lang
                .pick(
                    "Antragsteller:in bestätigt die Auflagen",
                    "Applicant acknowledged the terms",
                )
                .into(),
            Party::Site(s) => format!(
                "{} {s} {}",
                lang.pick("Standort", "Site"),
                lang.pick("bestätigt die Auflagen", "acknowledged the terms")
            ),
        },
        Event::Approved {
            project, by_policy, ..
        } => format!(
            "{} {project}{}",
            lang.pick("Genehmigt; Projekt", "Approved; project"),
            if *by_policy {
                lang.pick(" (durch Richtlinie)", " (by policy)")
            } else {
                ""
            }
        ),
        Event::ReworkRequested { reasons, .. } => format!(
            "{}: {reasons}",
            lang.pick("Zur Überarbeitung zurück", "Returned for rework")
        ),
        Event::Rejected { reasons, .. } => {
            format!("{}: {reasons}", lang.pick("Abgelehnt", "Rejected"))
        }
    }
}

fn event_version(e: &Event) -> u32 {
    match e {
        Event::Submitted { version }
        | Event::PolicyChecked { version, .. }
        | Event::FormalCheck { version, .. }
        | Event::Site { version, .. }
        | Event::Vote { version, .. }
        | Event::Acknowledged { version, .. }
        | Event::Approved { version, .. }
        | Event::ReworkRequested { version, .. }
        | Event::Rejected { version, .. } => *version,
    }
}

/// The history, oldest first. Committee members are not named to the
/// applicant (`show_actors` false); the office, committee and auditors see
/// who decided.
pub fn history(app: &Application, lang: Lang, show_actors: bool) -> Markup {
    html! {
        table class="data" {
            caption { (lang.pick("Verlauf", "History")) }
            thead { tr {
                th scope="col" { (lang.pick("Zeit (UTC)", "Time (UTC)")) }
                th scope="col" { (lang.pick("Version", "Version")) }
                @if show_actors { th scope="col" { (lang.pick("Wer", "Who")) } }
                th scope="col" { (lang.pick("Was", "What")) }
            } }
            tbody {
                @for h in &app.history {
                    tr {
                        td { (h.at.format("%Y-%m-%d %H:%M:%S")) }
                        td { (event_version(&h.event)) }
                        @if show_actors { td { (h.actor) } }
                        td { (event_text(&h.event, lang)) }
                    }
                }
            }
        }
    }
}

/// The terms both sides acknowledge.
pub fn terms(app: &Application, lang: Lang) -> Markup {
    let terms = app.terms();
    html! {
        h2 { (lang.pick("Auflagen", "Terms")) }
        p { (lang.pick(
            "Es gelten die Nutzungsbedingungen des Verbunds: nur aggregierte Ergebnisse unter Offenlegungskontrolle, das Privatsphäre-Budget des Projekts, die Einwilligung jeder Person an jedem Standort bei jeder Abfrage.",
            "The federation's terms of use apply: aggregate results under disclosure control only, the project's privacy budget, each person's consent enforced at every site on every query."
        )) }
        @if terms.is_empty() {
            p class="muted" { (lang.pick("Keine weiteren Auflagen.", "No further conditions.")) }
        } @else {
            ul { @for t in &terms { li { (t) } } }
        }
    }
}
