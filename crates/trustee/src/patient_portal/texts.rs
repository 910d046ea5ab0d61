//! The portal's words: plain, short German (and English) for every state,
//! record and event a person sees. Kept apart from the markup so they can be
//! read and reviewed as text.

use super::choices::Standing;
use crate::config::Ombudsperson;
use crate::consent::{ParsedConsent, PolicyCode, ProvisionType};
use oncofed_consent::DocumentKind;
use oncofed_web::{Lang, Markup, html};

/// The answer for research with routine data.
pub(crate) fn research(lang: Lang, s: Standing) -> &'static str {
    match s {
        Standing::AllowedByDefault => lang.pick(
            "Ja. Ihre Behandlungsdaten dürfen ohne Namen für die Forschung genutzt werden. Das ist die gesetzliche Regel. Sie können jederzeit widersprechen.",
            "Yes. Your treatment data may be used for research without your name. This is the rule set by law. You can object at any time.",
        ),
        Standing::AllowedByConsent | Standing::Partly => lang.pick(
            "Ja. Sie haben eingewilligt, dass Ihre Behandlungsdaten ohne Namen für die Forschung genutzt werden.",
            "Yes. You agreed that your treatment data may be used for research without your name.",
        ),
        Standing::Refused => lang.pick(
            "Nein. Sie haben widersprochen. Ihre Behandlungsdaten werden nicht für neue Forschung genutzt.",
            "No. You objected. Your treatment data is not used for new research.",
        ),
        Standing::Withdrawn => lang.pick(
            "Nein. Sie haben Ihre Einwilligung widerrufen.",
            "No. You withdrew your consent.",
        ),
        Standing::NoOptIn | Standing::NotPermitted => lang.pick(
            "Nein. Ihre Erklärungen erlauben es nicht.",
            "No. Your statements do not allow it.",
        ),
    }
}

/// The answer for research with genetic data.
pub(crate) fn genetic(lang: Lang, s: Standing) -> &'static str {
    match s {
        Standing::AllowedByConsent | Standing::AllowedByDefault | Standing::Partly => lang.pick(
            "Ja. Sie haben eingewilligt, dass Ihre Erbgut-Daten (genetische Daten) ohne Namen für die Forschung genutzt werden.",
            "Yes. You agreed that your genetic data may be used for research without your name.",
        ),
        Standing::NoOptIn => lang.pick(
            "Nein. Für Erbgut-Daten braucht es Ihre ausdrückliche Zustimmung. Sie haben bisher nicht zugestimmt.",
            "No. Genetic data needs your explicit agreement. You have not agreed so far.",
        ),
        Standing::Refused => lang.pick(
            "Nein. Sie haben abgelehnt.",
            "No. You said no.",
        ),
        Standing::Withdrawn => lang.pick(
            "Nein. Sie haben Ihre Einwilligung widerrufen.",
            "No. You withdrew your consent.",
        ),
        Standing::NotPermitted => lang.pick(
            "Nein. Ihre Erklärungen erlauben es nicht.",
            "No. Your statements do not allow it.",
        ),
    }
}

/// The answer for re-contact.
pub(crate) fn recontact(lang: Lang, s: Standing) -> &'static str {
    match s {
        Standing::AllowedByConsent | Standing::AllowedByDefault => lang.pick(
            "Ja. Sie dürfen wieder angesprochen werden, zum Beispiel bei einem wichtigen Befund oder für eine neue Studie. Das geschieht immer über Ihre behandelnde Klinik.",
            "Yes. You may be contacted again, for example about an important finding or a new study. This always happens through your treating hospital.",
        ),
        Standing::Partly => lang.pick(
            "Teilweise. Sie dürfen nur für einige Zwecke wieder angesprochen werden.",
            "Partly. You may be contacted again for some purposes only.",
        ),
        Standing::Withdrawn => lang.pick(
            "Nein. Sie haben Ihre Einwilligung widerrufen.",
            "No. You withdrew your consent.",
        ),
        _ => lang.pick(
            "Nein. Niemand aus der Forschung darf Sie wieder ansprechen.",
            "No. Nobody from research may contact you again.",
        ),
    }
}

/// A consent on record in a few words.
pub(crate) fn consent(lang: Lang, c: &ParsedConsent) -> String {
    let root = &c.provision;
    let first_code = root
        .codes
        .first()
        .or_else(|| root.provisions.iter().find_map(|p| p.codes.first()));
    let permit = root.kind == Some(ProvisionType::Permit);
    let text = match (c.document, first_code) {
        (DocumentKind::FullWithdrawal, _) | (_, Some(PolicyCode::Withdrawal)) => {
            lang.pick("Widerruf der Einwilligung", "Withdrawal of consent")
        }
        (DocumentKind::PartialWithdrawal, _) => lang.pick(
            "Teilweiser Widerruf der Einwilligung",
            "Partial withdrawal of consent",
        ),
        (DocumentKind::Refusal, _) => lang.pick(
            "Ablehnung der breiten Einwilligung",
            "Refusal of the broad consent",
        ),
        (_, Some(PolicyCode::GdngObjection)) if permit => lang.pick(
            "Forschung mit Behandlungsdaten wieder erlaubt",
            "Research with treatment data allowed again",
        ),
        (_, Some(PolicyCode::GdngObjection)) => lang.pick(
            "Widerspruch gegen Forschung mit Behandlungsdaten",
            "Objection to research with treatment data",
        ),
        (_, Some(PolicyCode::GeneticResearch)) if permit => lang.pick(
            "Zustimmung zur Forschung mit Erbgut-Daten",
            "Agreement to research with genetic data",
        ),
        (_, Some(PolicyCode::GeneticResearch)) => lang.pick(
            "Ablehnung der Forschung mit Erbgut-Daten",
            "Refusal of research with genetic data",
        ),
        (_, Some(PolicyCode::Recontact)) if permit => lang.pick(
            "Zustimmung zur erneuten Kontaktaufnahme",
            "Agreement to be contacted again",
        ),
        (_, Some(PolicyCode::Recontact)) => {
            lang.pick("Keine erneute Kontaktaufnahme", "No further contact")
        }
        _ => lang.pick(
            "Einwilligung in die Forschung (Broad Consent der Medizininformatik-Initiative)",
            "Consent to research (broad consent of the Medical Informatics Initiative)",
        ),
    };
    if c.status == crate::consent::ConsentStatus::Active {
        text.to_owned()
    } else {
        format!(
            "{text} {}",
            lang.pick("(nicht mehr gültig)", "(no longer valid)")
        )
    }
}

/// Who recorded a consent.
pub(crate) fn source(lang: Lang, source: &str) -> String {
    match source {
        crate::db::patients::PATIENT_SOURCE => lang
            .pick("Sie selbst, hier im Portal", "You, here in the portal")
            .to_owned(),
        crate::db::ADMIN_SOURCE => lang
            .pick("Die Treuhandstelle", "The trust centre")
            .to_owned(),
        site => format!("{} {site}", lang.pick("Ihre Klinik:", "Your hospital:")),
    }
}

/// What an audit-trail entry about the person means.
pub(crate) fn event(lang: Lang, action: &str) -> &'static str {
    match action {
        "patient.access-code.issued" => lang.pick(
            "Ein Zugangscode für dieses Portal wurde ausgestellt.",
            "An access code for this portal was issued.",
        ),
        "patient.signed-in" => lang.pick(
            "Sie haben sich im Portal angemeldet.",
            "You signed in to the portal.",
        ),
        "patient.research-objection" => lang.pick(
            "Sie haben der Forschung mit Ihren Behandlungsdaten widersprochen.",
            "You objected to research with your treatment data.",
        ),
        "patient.research-allowed" => lang.pick(
            "Sie haben die Forschung mit Ihren Behandlungsdaten wieder erlaubt.",
            "You allowed research with your treatment data again.",
        ),
        "patient.genetic-opt-in" => lang.pick(
            "Sie haben der Forschung mit Ihren Erbgut-Daten zugestimmt.",
            "You agreed to research with your genetic data.",
        ),
        "patient.genetic-opt-out" => lang.pick(
            "Sie haben die Forschung mit Ihren Erbgut-Daten abgelehnt.",
            "You said no to research with your genetic data.",
        ),
        "patient.recontact-yes" => lang.pick(
            "Sie sind einverstanden, wieder angesprochen zu werden.",
            "You agreed to be contacted again.",
        ),
        "patient.recontact-no" => lang.pick(
            "Sie möchten nicht wieder angesprochen werden.",
            "You do not want to be contacted again.",
        ),
        "patient.withdrawal" => lang.pick(
            "Sie haben Ihre Einwilligung widerrufen.",
            "You withdrew your consent.",
        ),
        "deletion.ordered" => lang.pick(
            "Die Treuhandstelle hat eine Klinik angewiesen, Ihre Forschungsdaten zu löschen.",
            "The trust centre told a hospital to delete your research data.",
        ),
        "pseudonym.refused_withdrawn" => lang.pick(
            "Eine Klinik wollte Ihre Daten erneut anmelden. Wegen Ihres Widerrufs hat die Treuhandstelle das abgelehnt; nichts wurde gespeichert.",
            "A hospital tried to register your data again. Because you withdrew, the trust centre refused; nothing was stored.",
        ),
        "usage.reported" => lang.pick(
            "Eine Klinik hat gemeldet, dass Ihre Daten in einem Forschungsprojekt genutzt wurden.",
            "A hospital reported that your data was used in a research project.",
        ),
        "consent.recorded" => lang.pick(
            "Die Treuhandstelle hat eine Erklärung von Ihnen eingetragen.",
            "The trust centre recorded a statement of yours.",
        ),
        _ => lang.pick(
            "Ein Eintrag der Treuhandstelle.",
            "An entry of the trust centre.",
        ),
    }
}

/// What a reported use was.
pub(crate) fn usage_kind(lang: Lang, kind: &str) -> &'static str {
    match kind {
        "sequence-delivery" => lang.pick(
            "Erbgut-Daten (ein Ausschnitt Ihrer Sequenz) wurden an das Projekt gegeben.",
            "Genetic data (part of your sequence) was given to the project.",
        ),
        "image-delivery" => lang.pick(
            "Bilder (zum Beispiel CT oder MRT, ohne Namen) wurden an das Projekt gegeben.",
            "Images (for example CT or MRI, without your name) were given to the project.",
        ),
        "analysis" => lang.pick(
            "Ihre Daten wurden in einer Auswertung mitgezählt. Das Projekt sah nur Gesamtzahlen.",
            "Your data was counted in an analysis. The project saw totals only.",
        ),
        "training" => lang.pick(
            "Ihre Daten wurden zum Trainieren eines Rechenmodells genutzt.",
            "Your data was used to train a computer model.",
        ),
        _ => lang.pick("Ihre Daten wurden genutzt.", "Your data was used."),
    }
}

/// The ombudsperson box, on every page.
pub(crate) fn ombudsperson(lang: Lang, o: Option<&Ombudsperson>) -> Markup {
    html! {
        section class="card" aria-labelledby="ombuds-heading" {
            h2 id="ombuds-heading" { (lang.pick("Fragen oder Sorgen?", "Questions or concerns?")) }
            @match o {
                Some(o) => {
                    p { (lang.pick("Wenden Sie sich an die Ombudsperson. Sie hilft Ihnen unabhängig und vertraulich:", "Contact the ombudsperson. They help you independently and in confidence:")) }
                    p class="big" { (o.name) }
                    ul {
                        @if let Some(phone) = &o.phone { li { (lang.pick("Telefon: ", "Phone: ")) a href={ "tel:" (phone.replace(' ', "")) } { (phone) } } }
                        @if let Some(email) = &o.email { li { (lang.pick("E-Mail: ", "E-mail: ")) a href={ "mailto:" (email) } { (email) } } }
                        @if let Some(address) = &o.address { li { (lang.pick("Post: ", "Post: ")) (address) } }
                    }
                }
                None => {
                    p { (lang.pick(
                        "Fragen Sie in Ihrer behandelnden Klinik nach der Ombudsperson oder dem Datenschutz-Beauftragten der Treuhandstelle. Sie helfen Ihnen unabhängig und vertraulich. Sie können sich auch bei der Datenschutz-Aufsichtsbehörde Ihres Bundeslandes beschweren.",
                        "Ask your treating hospital for the ombudsperson or the trust centre's data protection officer. They help you independently and in confidence. You can also complain to the data protection authority of your federal state.")) }
                }
            }
        }
    }
}
