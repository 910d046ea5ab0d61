//! FHIR R4 `Condition` (MII module Diagnose) → a `diagnosis` fact.

use crate::Batch;
use crate::SubjectFact;
use crate::datatypes::{
    CodeableConcept, Period, Reference, Text, date, fhir_system, pick_coding, text,
};
use crate::error::{FieldError, MapErrorKind};
use crate::resources::{Cx, clinical_fact, skip_status};
use oncofed_model::{CodeSystem, Coding, FactKind, FactValue};
use serde::Deserialize;

/// Code systems of `Condition.code`, in order of preference.
pub(crate) const CODE_SYSTEMS: &[CodeSystem] = &[
    CodeSystem::Icd10Gm,
    CodeSystem::Icd10Who,
    CodeSystem::Snomed,
];

/// The mapped elements of FHIR R4 `Condition`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Condition<'a> {
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
    #[serde(borrow, default)]
    verification_status: Option<CodeableConcept<'a>>,
    #[serde(borrow, default)]
    code: Option<CodeableConcept<'a>>,
    #[serde(borrow, default)]
    body_site: Vec<CodeableConcept<'a>>,
    #[serde(borrow, default)]
    subject: Option<Reference<'a>>,
    #[serde(borrow, default)]
    onset_date_time: Option<Text<'a>>,
    #[serde(borrow, default)]
    onset_period: Option<Period<'a>>,
    #[serde(borrow, default)]
    recorded_date: Option<Text<'a>>,
    #[serde(borrow, default)]
    abatement_date_time: Option<Text<'a>>,
}

/// Maps a Condition: `code` (ICD-10-GM preferred over ICD-10 WHO over SNOMED CT) is the
/// fact's code, the first ICD-O-3 `bodySite` coding its modifier, `onsetDateTime`
/// (else `onsetPeriod.start`, else `recordedDate`) its start, `abatementDateTime` its end.
/// A `verificationStatus` of `refuted` or `entered-in-error` skips the resource.
pub(crate) fn map(c: Condition<'_>, cx: &Cx<'_>, batch: &mut Batch) -> Result<(), FieldError> {
    let verification = c
        .verification_status
        .as_ref()
        .and_then(|v| v.coding.first())
        .and_then(|v| text(&v.code));
    if skip_status(batch, "Condition", "verificationStatus", verification) {
        return Ok(());
    }
    let subject = cx.subject(
        &c.subject,
        "subject",
        "every Condition needs a subject referencing its Patient",
    )?;
    let code = pick_coding(
        c.code.as_ref(),
        "code",
        CODE_SYSTEMS,
        "a Condition needs a code, e.g. ICD-10-GM",
    )?;
    let mut modifier = None;
    'sites: for (i, site) in c.body_site.iter().enumerate() {
        for (j, coding) in site.coding.iter().enumerate() {
            if fhir_system(&coding.system) == Some(CodeSystem::IcdO3) {
                let code = text(&coding.code).ok_or_else(|| {
                    FieldError::new(
                        format!("bodySite[{i}].coding[{j}].code"),
                        MapErrorKind::MissingCode,
                    )
                })?;
                modifier = Some(Coding::new(CodeSystem::IcdO3, code.trim()));
                break 'sites;
            }
        }
    }
    let onset = date(&c.onset_date_time, "onsetDateTime")?;
    let onset_period = match &c.onset_period {
        Some(p) => date(&p.start, "onsetPeriod.start")?,
        None => None,
    };
    let start = onset
        .or(onset_period)
        .or(date(&c.recorded_date, "recordedDate")?);
    let end = date(&c.abatement_date_time, "abatementDateTime")?;
    let mut fact = clinical_fact(FactKind::Diagnosis, code, FactValue::None, start, end);
    fact.modifier = modifier;
    batch.facts.push(SubjectFact {
        subject,
        source_id: cx.source_id(&c.id, 0),
        fact,
    });
    Ok(())
}
