//! FHIR R4 `Procedure` (MII module Prozedur) → a `procedure` fact.

use crate::datatypes::{CodeableConcept, Period, Reference, Text, date, pick_coding, text};
use crate::error::FieldError;
use crate::resources::{Cx, clinical_fact, skip_status};
use crate::{Batch, SubjectFact};
use oncofed_model::{CodeSystem, FactKind, FactValue};
use serde::Deserialize;

/// Code systems of `Procedure.code`, in order of preference.
pub(crate) const CODE_SYSTEMS: &[CodeSystem] = &[CodeSystem::Ops, CodeSystem::Snomed];

/// The mapped elements of FHIR R4 `Procedure`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Procedure<'a> {
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
    #[serde(borrow, default)]
    status: Option<Text<'a>>,
    #[serde(borrow, default)]
    code: Option<CodeableConcept<'a>>,
    #[serde(borrow, default)]
    subject: Option<Reference<'a>>,
    #[serde(borrow, default)]
    performed_date_time: Option<Text<'a>>,
    #[serde(borrow, default)]
    performed_period: Option<Period<'a>>,
}

/// Maps a Procedure: `code` (OPS preferred over SNOMED CT), `performedDateTime` or
/// `performedPeriod.start` / `.end`. `status` `not-done` or `entered-in-error` skips it.
pub(crate) fn map(p: Procedure<'_>, cx: &Cx<'_>, batch: &mut Batch) -> Result<(), FieldError> {
    if skip_status(batch, "Procedure", "status", text(&p.status)) {
        return Ok(());
    }
    let subject = cx.subject(
        &p.subject,
        "subject",
        "every Procedure needs a subject referencing its Patient",
    )?;
    let code = pick_coding(
        p.code.as_ref(),
        "code",
        CODE_SYSTEMS,
        "a Procedure needs a code, e.g. OPS",
    )?;
    let (mut start, mut end) = (date(&p.performed_date_time, "performedDateTime")?, None);
    if let Some(period) = &p.performed_period {
        start = start.or(date(&period.start, "performedPeriod.start")?);
        end = date(&period.end, "performedPeriod.end")?;
    }
    let fact = clinical_fact(FactKind::Procedure, code, FactValue::None, start, end);
    batch.facts.push(SubjectFact {
        subject,
        source_id: cx.source_id(&p.id, 0),
        fact,
    });
    Ok(())
}
