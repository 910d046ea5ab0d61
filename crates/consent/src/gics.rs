//! Consents as the MOSAIC gICS consent manager issues them (through the
//! TTP-FHIR-Gateway, profiles of `http://fhir.de/ConsentManagement`).
//!
//! gICS marks what kind of document a Consent is by a `category` coding of the
//! CodeSystem `http://fhir.de/ConsentManagement/CodeSystem/TemplateType`
//! (the MII's own examples carry `CONSENT-OPT-IN` there). A gICS withdrawal
//! may carry no MII document OID in `policy.uri` at all, so the template type
//! alone must be enough to read it as a withdrawal (issue 10, case 7).
//!
//! | template type | document kind | why |
//! |---|---|---|
//! | `CONSENT`, `CONSENT-OPT-IN` | consent | a signed consent |
//! | `CONSENT-OPT-OUT` | consent | its provisions say what is objected to |
//! | `REFUSAL` | refusal | the person refused the consent |
//! | `WITHDRAWAL`, `REVOCATION` | full withdrawal | gICS's "Widerruf"; which data it withdraws is still decided by its provisions, the kind only names the reason and lets the trust centre issue deletion orders when all use is denied |
//! | anything else | refused resource | a template type OncoFed cannot read may be a withdrawal (fail closed) |
//!
//! Sources: the TTP-FHIR-Gateway IG (`mosaic-hgw/ttp-fhir-ig`, search examples
//! `category=…/TemplateType|CONSENT-OPT-IN` and `…|WITHDRAWAL`) and the MII
//! Consent module's examples (2026.0.0). OncoFed's reading of the codes other
//! than `CONSENT-OPT-IN` and `WITHDRAWAL` is not confirmed by a published
//! CodeSystem file; an unknown one refuses the resource.

use crate::fhir::ConsentParseError;
use crate::model::DocumentKind;
use serde_json::{Map, Value};

/// The CodeSystem gICS uses for its template types.
pub const TEMPLATE_TYPE_SYSTEM: &str = "http://fhir.de/ConsentManagement/CodeSystem/TemplateType";

/// The template types OncoFed reads, with the document kind each one means
/// (table in the module documentation).
pub const TEMPLATE_TYPES: [(&str, DocumentKind); 6] = [
    ("CONSENT", DocumentKind::Consent),
    ("CONSENT-OPT-IN", DocumentKind::Consent),
    ("CONSENT-OPT-OUT", DocumentKind::Consent),
    ("REFUSAL", DocumentKind::Refusal),
    ("WITHDRAWAL", DocumentKind::FullWithdrawal),
    ("REVOCATION", DocumentKind::FullWithdrawal),
];

/// The document kind a gICS template type in `Consent.category` names, the
/// most serious one when several are given; `None` without a template type.
pub(crate) fn template_document(
    obj: &Map<String, Value>,
) -> Result<Option<DocumentKind>, ConsentParseError> {
    let Some(categories) = obj.get("category") else {
        return Ok(None);
    };
    let categories = categories.as_array().ok_or_else(|| ConsentParseError {
        field: "category".into(),
        problem: "expected an array of CodeableConcept",
    })?;
    let mut found: Option<DocumentKind> = None;
    for (i, cc) in categories.iter().enumerate() {
        let Some(codings) = cc.get("coding").and_then(Value::as_array) else {
            continue;
        };
        for (j, coding) in codings.iter().enumerate() {
            if coding.get("system").and_then(Value::as_str) != Some(TEMPLATE_TYPE_SYSTEM) {
                continue;
            }
            let field = format!("category[{i}].coding[{j}].code");
            let code =
                coding
                    .get("code")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ConsentParseError {
                        field: field.clone(),
                        problem: "a gICS template type needs a code",
                    })?;
            let kind = TEMPLATE_TYPES
                .iter()
                .find(|(c, _)| *c == code)
                .map(|(_, k)| *k)
                .ok_or(ConsentParseError {
                    field,
                    problem: "unknown gICS template type: it may be a withdrawal, so the Consent is refused (fail closed)",
                })?;
            if found
                .is_none_or(|f| crate::engine::seriousness(kind) > crate::engine::seriousness(f))
            {
                found = Some(kind);
            }
        }
    }
    Ok(found)
}

/// The CodeSystem prefix of gICS policy codes (`…/gics/Policy`, or per domain
/// `…/gics/Policy/<domain>`).
pub const POLICY_SYSTEM_PREFIX: &str = "https://ths-greifswald.de/fhir/CodeSystem/gics/Policy";

/// gICS policy names of the MII domain and the MII policy code (last arc) each
/// one means. gICS names its policies after the MII displays with `_` for
/// blanks and umlauts spelt out; the names marked (seen) appear in the MII's
/// and the TTP-FHIR-Gateway's published examples, the others follow the same
/// rule from the CodeSystem's displays (OncoFed's derivation). A name not in
/// the table is foreign: ignored beside a readable code of the same provision,
/// else unrecognised (fail closed).
pub const GICS_POLICIES: [(&str, u16); 33] = [
    ("IDAT_erheben", 2),               // (seen)
    ("IDAT_speichern_verarbeiten", 3), // (seen)
    ("IDAT_zusammenfuehren_Dritte", 4),
    ("IDAT_bereitstellen_EU_DSGVO_NIVEAU", 5),
    ("MDAT_erheben", 6),                                 // (seen)
    ("MDAT_speichern_verarbeiten", 7),                   // (seen)
    ("MDAT_wissenschaftlich_nutzen_EU_DSGVO_NIVEAU", 8), // (seen)
    ("MDAT_zusammenfuehren_Dritte", 9),
    ("Rekontaktierung_Ergebnisse_erheblicher_Bedeutung", 37),
    ("MDAT_retrospektiv_speichern_verarbeiten", 45),
    (
        "MDAT_retrospektiv_wissenschaftlich_nutzen_EU_DSGVO_NIVEAU",
        46,
    ),
    ("MDAT_retrospektiv_zusammenfuehren_Dritte", 47),
    ("MDAT_wissenschaftlich_nutzen_ohne_EU_DSGVO_NIVEAU", 49),
    ("KKDAT_5J_retrospektiv_uebertragen", 11),
    ("KKDAT_5J_retrospektiv_speichern_verarbeiten", 12),
    ("KKDAT_5J_retrospektiv_wissenschaftlich_nutzen", 13),
    ("KKDAT_5J_retrospektiv_uebertragen_KVNR", 38),
    ("KKDAT_5J_prospektiv_uebertragen", 15),
    ("KKDAT_5J_prospektiv_uebertragen_KVNR", 39),
    ("BIOMAT_erheben", 19),            // (seen)
    ("BIOMAT_lagern_verarbeiten", 20), // (seen)
    ("BIOMAT_Eigentum_uebertragen", 21),
    ("BIOMAT_wissenschaftlich_nutzen_EU_DSGVO_NIVEAU", 22), // (seen)
    ("BIOMAT_Analysedaten_zusammenfuehren_Dritte", 23),     // (seen)
    ("BIOMAT_Zusatzmengen_entnehmen", 25),
    ("BIOMAT_retrospektiv_lagern_verarbeiten", 51),
    (
        "BIOMAT_retrospektiv_wissenschaftlich_nutzen_EU_DSGVO_NIVEAU",
        52,
    ),
    (
        "BIOMAT_retrospektiv_Analysedaten_zusammenfuehren_Dritte",
        53,
    ),
    ("BIOMAT_bereitstellen_ohne_EU_DSGVO_NIVEAU", 55),
    ("Rekontaktierung_Verknuepfung_Datenbanken", 27),
    ("Rekontaktierung_weitere_Erhebung", 28),
    ("Rekontaktierung_weitere_Studien", 29),
    ("Rekontaktierung_Zusatzbefund", 31),
];

/// The MII policy code a gICS policy coding means, if `system` is gICS's and
/// the name is in [`GICS_POLICIES`].
pub fn policy_code(system: &str, code: &str) -> Option<crate::PolicyCode> {
    let rest = system.strip_prefix(POLICY_SYSTEM_PREFIX)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    GICS_POLICIES
        .iter()
        .find(|(name, _)| *name == code)
        .and_then(|(_, arc)| crate::MiiCode::from_arc(*arc))
        .map(crate::PolicyCode::Mii)
}

/// How deep gICS responses nest resources (Parameters → Bundle → Bundle →
/// Consent in `$addConsent`); deeper input is refused.
const MAX_RESPONSE_DEPTH: usize = 6;

/// The Consent resources in a gICS response, in document order:
/// `$currentPolicyStatesForPerson` returns a `collection` Bundle with one
/// Consent per policy (one root provision carrying the gICS code and the MII
/// code as two concepts); `$addConsent` returns a `collection` Bundle (or a
/// `Parameters` whose `return` is one) holding, per consent, the Consent and
/// its QuestionnaireResponse, Provenance and Patient, possibly in a nested
/// Bundle. Other resources are skipped; a malformed container is refused.
pub fn consents_in_response(v: &Value) -> Result<Vec<&Value>, ConsentParseError> {
    fn go<'a>(
        v: &'a Value,
        path: String,
        depth: usize,
        out: &mut Vec<&'a Value>,
    ) -> Result<(), ConsentParseError> {
        let bad = |problem| ConsentParseError {
            field: path.clone(),
            problem,
        };
        if depth > MAX_RESPONSE_DEPTH {
            return Err(bad("gICS response nested too deeply"));
        }
        let obj = v
            .as_object()
            .ok_or_else(|| bad("expected a resource object"))?;
        let list = |key: &str| match obj.get(key) {
            None => Ok(&[][..]),
            Some(Value::Array(items)) => Ok(items.as_slice()),
            Some(_) => Err(bad("expected an array")),
        };
        match obj.get("resourceType").and_then(Value::as_str) {
            Some("Consent") => out.push(v),
            Some("Bundle") => {
                for (i, e) in list("entry")?.iter().enumerate() {
                    if let Some(r) = e.get("resource") {
                        go(r, format!("{path}.entry[{i}].resource"), depth + 1, out)?;
                    }
                }
            }
            Some("Parameters") => {
                for (i, p) in list("parameter")?.iter().enumerate() {
                    if let Some(r) = p.get("resource") {
                        go(r, format!("{path}.parameter[{i}].resource"), depth + 1, out)?;
                    }
                }
            }
            Some(_) => {}
            None => return Err(bad("a resource needs a resourceType")),
        }
        Ok(())
    }
    let mut out = Vec::new();
    go(v, "(response)".into(), 0, &mut out)?;
    Ok(out)
}

/// Parses every Consent of a gICS response ([`consents_in_response`]) with
/// [`crate::parse_consent`]; one unreadable Consent refuses the whole
/// response (fail closed: it may be the withdrawal).
pub fn parse_response(v: &Value) -> Result<Vec<crate::Consent>, ConsentParseError> {
    consents_in_response(v)?
        .into_iter()
        .map(crate::parse_consent)
        .collect()
}
