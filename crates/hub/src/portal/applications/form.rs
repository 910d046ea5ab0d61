//! The application form: rendered with a label for every input, read back
//! from the posted fields into [`ApplicationContent`] with messages that name
//! the field to fix.

use oncofed_model::{DataCategory, Purpose};
use oncofed_protocol::application::{AnalysisPlan, ApplicationContent};
use oncofed_protocol::plan::PlanLimits;
use oncofed_web::{Lang, Markup, csrf_field, html};
use std::collections::{BTreeMap, BTreeSet};

/// Posted fields: name → values (checkbox groups repeat a name).
pub type Fields = BTreeMap<String, Vec<String>>;

fn one<'a>(f: &'a Fields, name: &str) -> &'a str {
    f.get(name)
        .and_then(|v| v.first())
        .map(String::as_str)
        .unwrap_or("")
        .trim()
}

fn list(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split([',', ' ', '\n', '\r', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// Reads the form's fields into content; the message names the field.
pub fn parse(f: &Fields) -> Result<ApplicationContent, String> {
    let number = |name: &str, label: &str| -> Result<f64, String> {
        one(f, name)
            .replace(',', ".")
            .parse::<f64>()
            .map_err(|_| format!("{label}: a number"))
    };
    let mut categories = BTreeSet::new();
    for c in f.get("categories").into_iter().flatten() {
        categories.insert(c.parse::<DataCategory>()?);
    }
    let variables = {
        let text = one(f, "variables");
        if text.is_empty() {
            None
        } else {
            Some(
                list(text)
                    .map(|v| v.parse())
                    .collect::<Result<Vec<_>, String>>()?,
            )
        }
    };
    let kinds: Vec<String> = f.get("kinds").cloned().unwrap_or_default();
    let horizon = number("max_horizon_days", "max_horizon_days")?;
    let duration = number("duration_days", "duration_days")?;
    Ok(ApplicationContent {
        title: one(f, "title").to_owned(),
        purpose: Purpose::Research,
        summary: one(f, "summary").to_owned(),
        categories,
        sites: f.get("sites").into_iter().flatten().cloned().collect(),
        plan: AnalysisPlan {
            kinds,
            variables,
            max_horizon_days: horizon as u32,
            description: one(f, "plan_description").to_owned(),
        },
        duration_days: duration as u32,
        epsilon: number("epsilon", "epsilon")?,
        researchers: list(one(f, "researchers")).collect(),
        ethics: None,
    })
}

fn kind_label(kind: &str, lang: Lang) -> &'static str {
    match kind {
        "describe" => lang.pick("Deskriptive Statistik", "Descriptive statistics"),
        "km" => lang.pick(
            "Kaplan-Meier-Überlebenskurven",
            "Kaplan–Meier survival curves",
        ),
        "cif" => lang.pick(
            "Kumulative Inzidenz (konkurrierende Risiken)",
            "Cumulative incidence (competing risks)",
        ),
        "cox" => lang.pick("Cox-Regression", "Cox regression"),
        "finegray" => lang.pick("Fine-Gray-Regression", "Fine–Gray regression"),
        "glm" => lang.pick(
            "Logistische/Poisson-Regression",
            "Logistic/Poisson regression",
        ),
        "cell-classifier" => lang.pick(
            "Zellklassifikator (trainiertes Modell)",
            "Cell classifier (trained model)",
        ),
        _ => "",
    }
}

/// The form, prefilled with `c` (a draft, or defaults), posting to `action`.
pub fn render(
    c: Option<&ApplicationContent>,
    sites: &[String],
    action: &str,
    csrf: &str,
    lang: Lang,
) -> Markup {
    let defaults = PlanLimits::default();
    let title = c.map(|c| c.title.as_str()).unwrap_or("");
    let summary = c.map(|c| c.summary.as_str()).unwrap_or("");
    let has_cat = |x: DataCategory| {
        c.is_some_and(|c| c.categories.contains(&x)) || (c.is_none() && x == DataCategory::Clinical)
    };
    let has_site = |s: &String| c.is_some_and(|c| c.sites.contains(s));
    let has_kind = |k: &str| {
        c.map_or(k == "km" || k == "describe", |c| {
            c.plan.kinds.iter().any(|x| x == k)
        })
    };
    let variables = c
        .and_then(|c| c.plan.variables.as_ref())
        .map(|v| v.iter().map(|v| v.name()).collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    let horizon = c.map_or(1825, |c| c.plan.max_horizon_days);
    let plan_description = c.map(|c| c.plan.description.as_str()).unwrap_or("");
    let duration = c.map_or(365, |c| c.duration_days);
    let epsilon = c.map_or(1.0, |c| c.epsilon);
    let researchers = c
        .map(|c| c.researchers.iter().cloned().collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    let has_ethics = c.is_some_and(|c| c.ethics.is_some());
    html! {
        form class="stack" method="post" action=(action) enctype="multipart/form-data" {
            (csrf_field(csrf))
            label for="title" { (lang.pick("Titel des Projekts", "Project title")) }
            input id="title" name="title" type="text" required maxlength="200" value=(title);
            label for="summary" { (lang.pick("Fragestellung und Nutzen", "Scientific question and benefit")) }
            textarea id="summary" name="summary" rows="5" { (summary) }
            fieldset {
                legend { (lang.pick("Datenkategorien (bestimmen die Schutzstufe)", "Data categories (they set the security level)")) }
                @for cat in DataCategory::ALL {
                    @let id = format!("cat-{}", cat.as_str());
                    div {
                        input id=(id) type="checkbox" name="categories" value=(cat.as_str()) checked[has_cat(cat)];
                        " " label for=(id) { (cat.as_str()) " (" (lang.pick("Stufe", "level")) " " (u8::from(cat.intrinsic_level())) ")" }
                    }
                }
            }
            fieldset {
                legend { (lang.pick("Standorte", "Sites")) }
                @if sites.is_empty() {
                    p class="muted" { (lang.pick("Noch keine Standorte registriert.", "No sites registered yet.")) }
                }
                @for s in sites {
                    @let id = format!("site-{s}");
                    div {
                        input id=(id) type="checkbox" name="sites" value=(s) checked[has_site(s)];
                        " " label for=(id) { (s) }
                    }
                }
            }
            fieldset {
                legend { (lang.pick("Auswertungsplan: Arten", "Analysis plan: kinds")) }
                @for k in PlanLimits::known_kinds() {
                    @let id = format!("kind-{k}");
                    div {
                        input id=(id) type="checkbox" name="kinds" value=(k) checked[has_kind(&k)];
                        " " label for=(id) { (kind_label(&k, lang)) " (" code { (k) } ")" }
                    }
                }
            }
            label for="variables" { (lang.pick("Variablen (leer: alle der Kategorien), z. B. age, female, obs:loinc:89247-1", "Variables (empty: any of the categories), e.g. age, female, obs:loinc:89247-1")) }
            input id="variables" name="variables" type="text" value=(variables);
            label for="max_horizon_days" { (lang.pick("Längster Beobachtungszeitraum (Tage)", "Longest horizon (days)")) }
            input id="max_horizon_days" name="max_horizon_days" type="number" min="1" max=(defaults.max_horizon_days) value=(horizon);
            label for="plan_description" { (lang.pick("Auswertungsplan in Worten", "Analysis plan in words")) }
            textarea id="plan_description" name="plan_description" rows="4" { (plan_description) }
            label for="duration_days" { (lang.pick("Laufzeit (Tage)", "Duration (days)")) }
            input id="duration_days" name="duration_days" type="number" min="1" max="3650" value=(duration);
            label for="epsilon" { (lang.pick("Privatsphäre-Budget ε je Forschende:r", "Privacy budget ε per researcher")) }
            input id="epsilon" name="epsilon" type="number" min="0.01" max="10" step="0.01" value=(epsilon);
            label for="researchers" { (lang.pick("Weitere Forschende (Hub-Kennungen, durch Komma getrennt)", "Further researchers (hub user ids, comma-separated)")) }
            input id="researchers" name="researchers" type="text" value=(researchers);
            label for="ethics" {
                (lang.pick("Ethikvotum (PDF, höchstens 10 MiB)", "Ethics vote (PDF, at most 10 MiB)"))
                @if has_ethics { " " span class="muted" { (lang.pick("(liegt vor; eine neue Datei ersetzt es)", "(attached; a new file replaces it)")) } }
            }
            input id="ethics" name="ethics" type="file" accept="application/pdf";
            div class="actions" {
                button type="submit" name="intent" value="save" class="button-secondary" { (lang.pick("Entwurf speichern", "Save draft")) }
                button type="submit" name="intent" value="submit" { (lang.pick("Einreichen", "Submit")) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        let mut f = Fields::new();
        for (k, v) in pairs {
            f.entry((*k).to_owned()).or_default().push((*v).to_owned());
        }
        f
    }

    #[test]
    fn a_filled_form_reads_into_valid_content() {
        let f = fields(&[
            ("title", "KM in NSCLC"),
            ("summary", "survival"),
            ("categories", "clinical"),
            ("sites", "site-a"),
            ("sites", "site-b"),
            ("kinds", "km"),
            ("variables", "age, female"),
            ("max_horizon_days", "1825"),
            ("duration_days", "180"),
            ("epsilon", "0,5"),
            ("researchers", "bob carol"),
        ]);
        let c = parse(&f).unwrap();
        c.validate().unwrap();
        assert_eq!(c.sites.len(), 2);
        assert_eq!(c.epsilon, 0.5);
        assert_eq!(c.researchers.len(), 2);
        assert_eq!(c.plan.variables.unwrap().len(), 2);
    }

    #[test]
    fn bad_fields_are_named() {
        let f = fields(&[("categories", "dna")]);
        assert!(parse(&f).unwrap_err().contains("dna"));
        let f = fields(&[
            ("max_horizon_days", "x"),
            ("duration_days", "1"),
            ("epsilon", "1"),
        ]);
        assert!(parse(&f).unwrap_err().starts_with("max_horizon_days"));
    }
}
