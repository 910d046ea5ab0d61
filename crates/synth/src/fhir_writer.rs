//! Turns a [`SiteRecord`] into FHIR R4 JSON exactly as `docs/fhir-profile.md` says.
//!
//! Pure functions from drawn data to JSON: no randomness here, so the output's shape
//! can change without changing a single drawn value. Every entry gets
//! `fullUrl` `urn:uuid:<uuid>` and a `PUT` request; every reference inside a patient's
//! resources is the `urn:uuid` of an entry in the same Bundle.

use crate::json::{J, o};
use crate::record::{ConsentKind, ObsValue, Resource, ResourceBody, SiteRecord};
use chrono::{Datelike, Months, NaiveDate};
use oncofed_idat::Kvnr;
use oncofed_model::CodeSystem;

/// UICC TNM and stage group codes (`docs/fhir-profile.md`).
pub const TNM_SYSTEM: &str = "https://www.uicc.org/resources/tnm";
/// SNOMED CT code of the MII onco course observation (oBDS 17, "Status of
/// regression of tumor"); its value is the overall assessment (P, Y, ...).
pub const COURSE_SNOMED: &str = "396432002";
/// MII onco ECOG code system.
pub const ECOG_SYSTEM: &str = "https://www.medizininformatik-initiative.de/fhir/ext/modul-onko/CodeSystem/mii-cs-onko-allgemeiner-leistungszustand-ecog";
/// MII consent policy code system (provision codes).
pub const MII_CONSENT_POLICY_SYSTEM: &str = "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3";
/// MII broad consent policy (`Consent.policy.uri`).
pub const MII_BROAD_CONSENT_POLICY: &str = "urn:oid:2.16.840.1.113883.3.1937.777.24.2.1791";
/// OncoFed consent codes where neither the MII nor HL7 Germany publishes one.
pub const ONCOFED_CONSENT_SYSTEM: &str = "urn:oncofed:consent-policy";
/// Extension carrying the therapy line on a MedicationStatement.
pub const THERAPY_LINE_EXTENSION: &str = "urn:oncofed:therapy-line";
/// UCUM.
const UCUM: &str = "http://unitsofmeasure.org";
const OBS_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";

/// The MII broad consent permits written as nested provisions: (code, name).
/// With `.45` (retrospective medical data) the data a clinic recorded before
/// the consent was signed may be used too, as the ground truth assumes; without
/// it the consent engine withholds facts that originated before the signature.
pub const MII_PERMITS: [(&str, &str); 9] = [
    ("2.16.840.1.113883.3.1937.777.24.5.3.2", "IDAT_erheben"),
    (
        "2.16.840.1.113883.3.1937.777.24.5.3.3",
        "IDAT_speichern_verarbeiten",
    ),
    (
        "2.16.840.1.113883.3.1937.777.24.5.3.4",
        "IDAT_zusammenfuehren_Dritte",
    ),
    (
        "2.16.840.1.113883.3.1937.777.24.5.3.5",
        "IDAT_bereitstellen_EU_DSGVO_NIVEAU",
    ),
    ("2.16.840.1.113883.3.1937.777.24.5.3.6", "MDAT_erheben"),
    (
        "2.16.840.1.113883.3.1937.777.24.5.3.7",
        "MDAT_speichern_verarbeiten",
    ),
    (
        "2.16.840.1.113883.3.1937.777.24.5.3.8",
        "MDAT_wissenschaftlich_nutzen_EU_DSGVO_NIVEAU",
    ),
    (
        "2.16.840.1.113883.3.1937.777.24.5.3.9",
        "MDAT_zusammenfuehren_Dritte",
    ),
    (
        "2.16.840.1.113883.3.1937.777.24.5.3.45",
        "MDAT_retrospektiv_speichern_verarbeiten",
    ),
];

fn date(d: NaiveDate) -> J<'static> {
    J::from(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))
}

fn reference(uuid: &str) -> J<'static> {
    o! { "reference" => format!("urn:uuid:{uuid}") }
}

fn coding<'a>(system: &'a str, code: &'a str, display: Option<&'a str>) -> J<'a> {
    let mut c = o! { "system" => system, "code" => code };
    if let Some(d) = display {
        c.push("display", d);
    }
    c
}

fn concept<'a>(system: &'a str, code: &'a str, display: Option<&'a str>) -> J<'a> {
    o! { "coding" => vec![coding(system, code, display)] }
}

fn loinc<'a>(code: &'a str, display: &'a str) -> J<'a> {
    concept(CodeSystem::Loinc.uri(), code, Some(display))
}

/// The Bundle entries of one site record: the Patient, then its resources.
pub(crate) fn entries(rec: &SiteRecord) -> Vec<J<'_>> {
    let mut out = Vec::with_capacity(rec.resources.len() + 1);
    out.push(entry(
        &rec.patient_uuid,
        "Patient",
        &rec.local_id,
        patient(rec),
    ));
    let condition = rec
        .resources
        .iter()
        .find(|r| matches!(r.body, ResourceBody::Condition(_)))
        .map(|r| r.uuid.as_str());
    for r in &rec.resources {
        out.push(entry(
            &r.uuid,
            r.resource_type(),
            &r.uuid,
            resource(r, &rec.patient_uuid, condition),
        ));
    }
    out
}

fn entry<'a>(uuid: &str, rtype: &str, id: &str, resource: J<'a>) -> J<'a> {
    o! {
        "fullUrl" => format!("urn:uuid:{uuid}"),
        "resource" => resource,
        "request" => o! { "method" => "PUT", "url" => format!("{rtype}/{id}") },
    }
}

/// A transaction Bundle around `entries`.
pub(crate) fn bundle<'a>(id: &'a str, entries: Vec<J<'a>>) -> J<'a> {
    o! { "resourceType" => "Bundle", "id" => id, "type" => "transaction", "entry" => entries }
}

/// One site record as its own transaction Bundle (the NDJSON line), as a
/// `serde_json::Value` for callers that want to inspect or post it.
///
/// Note: `serde_json::Value` sorts object keys; the files keep FHIR field order.
pub fn patient_bundle(rec: &SiteRecord) -> serde_json::Value {
    serde_json::to_value(bundle(&rec.bundle_uuid, entries(rec))).expect("J always serialises")
}

/// Writes one site record as its own transaction Bundle in compact JSON (no newline),
/// in FHIR field order: the NDJSON line, for callers that stream elsewhere than files.
pub fn write_patient_bundle<W: std::io::Write>(w: W, rec: &SiteRecord) -> serde_json::Result<()> {
    serde_json::to_writer(w, &bundle(&rec.bundle_uuid, entries(rec)))
}

fn patient(rec: &SiteRecord) -> J<'_> {
    let idat = &rec.identity;
    let mut identifiers = vec![o! {
        "use" => "usual",
        "type" => concept("http://terminology.hl7.org/CodeSystem/v2-0203", "MR", None),
        "system" => format!("urn:oncofed:{}:patient-id", rec.site),
        "value" => &rec.local_id,
    }];
    if let Some(k) = &idat.kvnr {
        identifiers.push(o! {
            "use" => "official",
            "type" => concept("http://fhir.de/CodeSystem/identifier-type-de-basis", "KVZ10", None),
            "system" => Kvnr::SYSTEM,
            "value" => k.as_str(),
        });
    }
    let mut official = o! { "use" => "official" };
    if let Some(f) = &idat.family {
        official.push("family", f);
    }
    if !idat.given.is_empty() {
        official.push("given", idat.given.iter().map(J::from).collect::<Vec<_>>());
    }
    let mut names = vec![official];
    if let Some(b) = &idat.birth_name {
        names.push(o! { "use" => "maiden", "family" => b });
    }
    let mut p = o! {
        "resourceType" => "Patient",
        "id" => &rec.local_id,
        "identifier" => identifiers,
        "name" => names,
        "gender" => idat.sex.as_fhir(),
    };
    if let Some(b) = idat.birth_date {
        p.push("birthDate", date(b));
    }
    if let Some(d) = rec.deceased {
        p.push("deceasedDateTime", date(d));
    }
    if let Some(a) = &idat.address {
        let mut addr = o! { "type" => "both" };
        if !a.lines.is_empty() {
            addr.push("line", a.lines.iter().map(J::from).collect::<Vec<_>>());
        }
        if let Some(c) = &a.city {
            addr.push("city", c);
        }
        if let Some(z) = &a.postal_code {
            addr.push("postalCode", z);
        }
        if let Some(c) = &a.country {
            addr.push("country", c);
        }
        p.push("address", vec![addr]);
    }
    p
}

fn resource<'a>(r: &'a Resource, patient: &str, condition: Option<&str>) -> J<'a> {
    let subject = reference(patient);
    let reason = |j: &mut J<'a>| {
        if let Some(c) = condition {
            j.push("reasonReference", vec![reference(c)]);
        }
    };
    match &r.body {
        ResourceBody::Condition(c) => o! {
            "resourceType" => "Condition",
            "id" => &r.uuid,
            "clinicalStatus" => concept("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", None),
            "verificationStatus" => concept("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", None),
            "code" => o! { "coding" => vec![o! {
                "system" => CodeSystem::Icd10Gm.uri(),
                "version" => c.icd_version.to_string(),
                "code" => c.icd10,
                "display" => c.display,
            }] },
            "bodySite" => vec![concept(CodeSystem::IcdO3.uri(), c.topography, None)],
            "subject" => subject,
            "onsetDateTime" => date(c.onset),
            "recordedDate" => date(c.recorded),
        },
        ResourceBody::Observation(ob) => {
            let (category, focus) = match ob.loinc {
                "69548-6" => ("laboratory", true),
                "59847-4" => ("laboratory", true),
                "21905-5" | "21906-3" | "21907-1" | "21908-9" | COURSE_SNOMED => ("exam", true),
                "89247-1" | "75186-7" => ("survey", false),
                _ => ("laboratory", false),
            };
            let mut categories = vec![concept(OBS_CATEGORY, category, None)];
            if ob.loinc == "69548-6" {
                categories.push(concept(
                    "http://terminology.hl7.org/CodeSystem/v2-0074",
                    "GE",
                    Some("Genetics"),
                ));
            }
            let mut j = o! {
                "resourceType" => "Observation",
                "id" => &r.uuid,
                "status" => "final",
                "category" => categories,
                "code" => if ob.loinc == COURSE_SNOMED {
                    concept(CodeSystem::Snomed.uri(), ob.loinc, Some(ob.display))
                } else {
                    loinc(ob.loinc, ob.display)
                },
                "subject" => subject,
            };
            if let (true, Some(c)) = (focus, condition) {
                j.push("focus", vec![reference(c)]);
            }
            j.push("effectiveDateTime", date(ob.date));
            match &ob.value {
                ObsValue::Quantity { value, unit } => {
                    j.push("valueQuantity", o! { "value" => *value, "unit" => *unit, "system" => UCUM, "code" => *unit });
                }
                ObsValue::Coded {
                    system,
                    code,
                    display,
                } => j.push("valueCodeableConcept", concept(system, code, *display)),
                ObsValue::Marker { marker, present } => {
                    let (code, display) = if *present {
                        ("LA9633-4", "Present")
                    } else {
                        ("LA9634-2", "Absent")
                    };
                    j.push(
                        "valueCodeableConcept",
                        concept(CodeSystem::Loinc.uri(), code, Some(display)),
                    );
                    let mut components = vec![o! {
                        "code" => loinc("48018-6", "Gene studied [ID]"),
                        "valueCodeableConcept" => concept(CodeSystem::Hgnc.uri(), marker.hgnc(), Some(marker.gene())),
                    }];
                    if *marker == crate::Marker::Flt3Itd {
                        components.push(o! {
                            "code" => loinc("48019-4", "DNA change type"),
                            "valueCodeableConcept" => o! { "text" => marker.alteration() },
                        });
                    }
                    j.push("component", components);
                }
            }
            j
        }
        ResourceBody::Procedure(p) => {
            let mut j = o! {
                "resourceType" => "Procedure",
                "id" => &r.uuid,
                "status" => "completed",
                "code" => o! { "coding" => vec![o! {
                    "system" => CodeSystem::Ops.uri(),
                    "version" => p.date.year().to_string(),
                    "code" => p.ops,
                    "display" => p.display,
                }] },
                "subject" => subject,
                "performedDateTime" => date(p.date),
            };
            reason(&mut j);
            j
        }
        ResourceBody::Medication(m) => {
            let mut period = o! { "start" => date(m.start) };
            if let Some(e) = m.end {
                period.push("end", date(e));
            }
            let mut j = o! {
                "resourceType" => "MedicationStatement",
                "id" => &r.uuid,
                "extension" => vec![o! { "url" => THERAPY_LINE_EXTENSION, "valuePositiveInt" => i64::from(m.line) }],
                "status" => if m.end.is_some() { "completed" } else { "active" },
                "medicationCodeableConcept" => concept(CodeSystem::Atc.uri(), m.atc, Some(m.display)),
                "subject" => subject,
                "effectivePeriod" => period,
            };
            reason(&mut j);
            j
        }
        ResourceBody::Consent(c) => consent(&r.uuid, c.kind, c.date, subject),
    }
}

fn consent<'a>(id: &'a str, kind: ConsentKind, signed: NaiveDate, patient: J<'a>) -> J<'a> {
    let scope = concept(
        "http://terminology.hl7.org/CodeSystem/consentscope",
        "research",
        None,
    );
    let mut category = vec![loinc("57016-8", "Privacy policy acknowledgment Document")];
    let mut j =
        o! { "resourceType" => "Consent", "id" => id, "status" => "active", "scope" => scope };
    let thirty_years = signed
        .checked_add_months(Months::new(360))
        .unwrap_or(signed);
    let period = o! { "start" => date(signed), "end" => date(thirty_years) };
    match kind {
        ConsentKind::BroadConsent => {
            category.push(concept(
                "https://www.medizininformatik-initiative.de/fhir/modul-consent/CodeSystem/mii-cs-consent-consent_category",
                "2.16.840.1.113883.3.1937.777.24.2.184",
                None,
            ));
            let permits: Vec<J> = MII_PERMITS
                .iter()
                .map(|(code, name)| {
                    o! {
                        "type" => "permit",
                        "period" => period.clone(),
                        "code" => vec![concept(MII_CONSENT_POLICY_SYSTEM, code, Some(name))],
                    }
                })
                .collect();
            j.push("category", category);
            j.push("patient", patient);
            j.push("dateTime", date(signed));
            j.push("policy", vec![o! { "uri" => MII_BROAD_CONSENT_POLICY }]);
            j.push(
                "provision",
                o! { "type" => "deny", "period" => period, "provision" => permits },
            );
        }
        ConsentKind::GdngObjection | ConsentKind::GeneticResearch | ConsentKind::Withdrawal => {
            let (code, display, rule) = match kind {
                ConsentKind::GdngObjection => (
                    "gdng-objection",
                    "Widerspruch nach GDNG (§ 363 SGB V)",
                    "deny",
                ),
                ConsentKind::GeneticResearch => (
                    "genetic-research",
                    "Einwilligung in die Forschung mit genetischen Daten",
                    "permit",
                ),
                _ => ("withdrawal", "Widerruf aller Einwilligungen", "deny"),
            };
            let code = concept(ONCOFED_CONSENT_SYSTEM, code, Some(display));
            j.push("category", category);
            j.push("patient", patient);
            j.push("dateTime", date(signed));
            j.push("policyRule", code.clone());
            j.push("provision", o! { "type" => rule, "period" => o! { "start" => date(signed) }, "code" => vec![code] });
        }
    }
    j
}
