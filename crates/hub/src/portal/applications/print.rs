//! The printable view of an application: a document of its own without the
//! portal's navigation, with a print stylesheet (A4, no links' colours,
//! page breaks between sections), so "print to PDF" in any browser makes the
//! application's PDF.

use super::views;
use oncofed_protocol::application::Application;
use oncofed_web::{Lang, Markup, PreEscaped, html};

/// Where the print stylesheet is served (same origin: the CSP allows it).
pub const CSS_PATH: &str = "/portal/applications/print.css";

/// The print stylesheet.
pub const CSS: &str = "@page { size: A4; margin: 18mm 16mm; }
body.print { font-family: Georgia, 'Times New Roman', serif; font-size: 11pt; color: #000; background: #fff; max-width: 48rem; margin: 1rem auto; padding: 0 1rem; }
body.print h1 { font-size: 18pt; margin-bottom: 0.2rem; }
body.print h2 { font-size: 13pt; margin-top: 1.4rem; border-bottom: 1px solid #000; }
body.print dl { display: grid; grid-template-columns: 14rem 1fr; gap: 0.2rem 1rem; }
body.print dt { font-weight: bold; }
body.print dd { margin: 0; }
body.print table { border-collapse: collapse; width: 100%; }
body.print th, body.print td { border: 1px solid #444; padding: 0.2rem 0.4rem; text-align: left; vertical-align: top; }
body.print .badge { border: 1px solid #000; padding: 0 0.3rem; background: #fff; color: #000; }
body.print .screen-only { margin: 1rem 0; }
@media print {
  body.print .screen-only { display: none; }
  body.print a { color: #000; text-decoration: none; }
  body.print section { break-inside: avoid; }
}
";

/// The printable document of `app` (at `version`, or the current one).
pub fn document(app: &Application, version: Option<u32>, lang: Lang) -> Markup {
    let shown = version
        .and_then(|n| app.versions.iter().find(|v| v.number == n))
        .or(app.current());
    let content = shown.map(|v| &v.content).or(app.draft.as_ref());
    let title = content.map(|c| c.title.as_str()).unwrap_or(app.id.as_str());
    html! {
        (PreEscaped("<!DOCTYPE html>"))
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (lang.pick("Antrag", "Application")) " " (app.id) ": " (title) }
                link rel="stylesheet" href=(CSS_PATH);
            }
            body class="print" {
                main id="main" {
                    p class="screen-only" {
                        a href=(format!("/portal/applications/{}", app.id)) { (lang.pick("Zurück zum Antrag", "Back to the application")) }
                    }
                    h1 { (lang.pick("Antrag auf Datennutzung", "Application for data use")) }
                    p {
                        (app.id) " · " (views::stage_label(app.stage, lang))
                        @if let Some(v) = shown {
                            " · " (lang.pick("Version", "version")) " " (v.number)
                            " · " (lang.pick("eingereicht", "submitted")) " " (v.submitted_at.format("%Y-%m-%d %H:%M UTC"))
                            " · SHA-256 " code { (v.sha256) }
                        }
                    }
                    @if let Some(c) = content {
                        section {
                            h2 { (lang.pick("Inhalt", "Content")) }
                            (views::content(c, &app.applicant, &app.id, lang))
                        }
                    }
                    section {
                        h2 { (lang.pick("Standorte", "Sites")) }
                        (views::site_matrix(app, lang))
                    }
                    @if let Some(v) = app.policy_verdict() {
                        section {
                            h2 { (lang.pick("Automatische Genehmigung", "Approval by policy")) }
                            (views::verdict(v, lang))
                        }
                    }
                    section { (views::terms(app, lang)) }
                    section { (views::history(app, lang, false)) }
                }
            }
        }
    }
}
