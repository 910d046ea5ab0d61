//! FHIR R4 `MedicationStatement`, `MedicationRequest` and `MedicationAdministration`
//! (MII module Medikation) → a `medication` fact.

use crate::datatypes::{CodeableConcept, Period, Reference, Text, date, pick_coding, text};
use crate::error::{FieldError, MapErrorKind};
use crate::resources::{Cx, clinical_fact, skip_status};
use crate::{Batch, SubjectFact};
use oncofed_model::{CodeSystem, FactKind, FactValue};
use serde::Deserialize;

/// Code systems of `medicationCodeableConcept`, in order of preference.
pub(crate) const CODE_SYSTEMS: &[CodeSystem] = &[CodeSystem::Atc, CodeSystem::RxNorm];

/// The mapped elements of the three medication resources (their element names agree;
/// each has only some of them).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Medication<'a> {
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
    #[serde(borrow, default)]
    status: Option<Text<'a>>,
    #[serde(borrow, default)]
    medication_codeable_concept: Option<CodeableConcept<'a>>,
    #[serde(borrow, default)]
    medication_reference: Option<Reference<'a>>,
    #[serde(borrow, default)]
    subject: Option<Reference<'a>>,
    /// MedicationStatement, MedicationAdministration.
    #[serde(borrow, default)]
    effective_date_time: Option<Text<'a>>,
    /// MedicationStatement, MedicationAdministration.
    #[serde(borrow, default)]
    effective_period: Option<Period<'a>>,
    /// MedicationRequest.
    #[serde(borrow, default)]
    authored_on: Option<Text<'a>>,
}

/// Maps a medication resource: `medicationCodeableConcept` (ATC preferred over RxNorm);
/// start and end from `effectivePeriod`, else `effectiveDateTime`, else `authoredOn`.
/// `status` `entered-in-error`, `not-taken`, `not-done` or `cancelled` skips it.
pub(crate) fn map(m: Medication<'_>, cx: &Cx<'_>, batch: &mut Batch) -> Result<(), FieldError> {
    let rt = cx.resource_type;
    if skip_status(batch, rt, "status", text(&m.status)) {
        return Ok(());
    }
    let subject = cx.subject(
        &m.subject,
        "subject",
        "every medication resource needs a subject referencing its Patient",
    )?;
    if m.medication_codeable_concept.is_none() && m.medication_reference.is_some() {
        return Err(FieldError::new(
            "medicationReference",
            MapErrorKind::Unsupported(
                "a Medication reference is not read; put the ATC code in medicationCodeableConcept instead",
            ),
        ));
    }
    let code = pick_coding(
        m.medication_codeable_concept.as_ref(),
        "medicationCodeableConcept",
        CODE_SYSTEMS,
        "a medication needs medicationCodeableConcept, e.g. an ATC code",
    )?;
    let (period_start, end) = match &m.effective_period {
        Some(p) => (
            date(&p.start, "effectivePeriod.start")?,
            date(&p.end, "effectivePeriod.end")?,
        ),
        None => (None, None),
    };
    let effective = date(&m.effective_date_time, "effectiveDateTime")?;
    let authored = date(&m.authored_on, "authoredOn")?;
    let start = period_start.or(effective).or(authored);
    let fact = clinical_fact(FactKind::Medication, code, FactValue::None, start, end);
    batch.facts.push(SubjectFact {
        subject,
        source_id: cx.source_id(&m.id, 0),
        fact,
    });
    Ok(())
}
