//! FHIR R4 `Observation` (MII modules Laborbefund, Onkologie, Molekulargenetischer
//! Befund, Person/Vitalstatus) → `observation` facts, or a `molecular` fact for a
//! genetic variant assessment (LOINC 69548-6).

use crate::datatypes::{
    CodeableConcept, Period, Quantity, Reference, Text, date, fhir_system, pick_coding, quantity,
    text,
};
use crate::error::{FieldError, MapErrorKind};
use crate::resources::{Cx, clinical_fact, skip_status};
use crate::{Batch, SubjectFact};
use chrono::NaiveDate;
use oncofed_model::{CodeSystem, Coding, DataCategory, Fact, FactKind, FactValue, VitalStatus};
use serde::Deserialize;

/// Code systems of `Observation.code`, in order of preference.
pub(crate) const CODE_SYSTEMS: &[CodeSystem] = &[CodeSystem::Loinc, CodeSystem::Snomed];
/// LOINC "Genetic variant assessment".
pub(crate) const VARIANT_ASSESSMENT: &str = "69548-6";
/// LOINC "Gene studied [ID]".
pub(crate) const GENE_STUDIED: &str = "48018-6";
/// LOINC "Vital status at last contact".
pub(crate) const VITAL_STATUS: &str = "75186-7";

/// The mapped elements of FHIR R4 `Observation`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Observation<'a> {
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
    #[serde(borrow, default)]
    status: Option<Text<'a>>,
    #[serde(borrow, default)]
    code: Option<CodeableConcept<'a>>,
    #[serde(borrow, default)]
    subject: Option<Reference<'a>>,
    #[serde(borrow, default)]
    effective_date_time: Option<Text<'a>>,
    #[serde(borrow, default)]
    effective_period: Option<Period<'a>>,
    #[serde(borrow, default)]
    effective_instant: Option<Text<'a>>,
    #[serde(borrow, default)]
    value_quantity: Option<Quantity<'a>>,
    #[serde(borrow, default)]
    value_codeable_concept: Option<CodeableConcept<'a>>,
    #[serde(default)]
    value_integer: Option<i64>,
    #[serde(borrow, default)]
    component: Vec<Component<'a>>,
}

/// `Observation.component`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Component<'a> {
    #[serde(borrow, default)]
    code: Option<CodeableConcept<'a>>,
    #[serde(borrow, default)]
    value_quantity: Option<Quantity<'a>>,
    #[serde(borrow, default)]
    value_codeable_concept: Option<CodeableConcept<'a>>,
    #[serde(default)]
    value_integer: Option<i64>,
}

/// The first coding of a `CodeableConcept` value in any known system.
fn known_coding(cc: &CodeableConcept<'_>, field: &str) -> Result<Coding, FieldError> {
    for (i, c) in cc.coding.iter().enumerate() {
        if let Some(system) = fhir_system(&c.system) {
            let code = text(&c.code).ok_or_else(|| {
                FieldError::new(
                    format!("{field}.coding[{i}].code"),
                    MapErrorKind::MissingCode,
                )
            })?;
            return Ok(Coding::new(system, code.trim()));
        }
    }
    pick_coding(Some(cc), field, &CodeSystem::ALL, "")
}

/// `value[x]` of an Observation or component: `valueQuantity` (value + UCUM code),
/// `valueCodeableConcept` (first coding in a known system), `valueInteger` (a quantity of
/// unit `1`); other `value[x]` types map to no value.
fn map_value(
    q: &Option<Quantity<'_>>,
    cc: &Option<CodeableConcept<'_>>,
    int: Option<i64>,
    prefix: &str,
) -> Result<FactValue, FieldError> {
    if let Some(q) = q {
        return quantity(q, &format!("{prefix}valueQuantity"));
    }
    if let Some(cc) = cc {
        return known_coding(cc, &format!("{prefix}valueCodeableConcept")).map(FactValue::Code);
    }
    if let Some(i) = int {
        return Ok(FactValue::Quantity {
            value: i as f64,
            unit: "1".to_owned(),
        });
    }
    Ok(FactValue::None)
}

/// Maps an Observation.
///
/// - `code` LOINC (preferred) or SNOMED CT; `effectiveDateTime`, `effectivePeriod` or
///   `effectiveInstant` give start (and end).
/// - 69548-6 (genetic variant assessment): one `molecular` fact, category genetic, whose
///   code is the HGNC gene of component 48018-6 and whose value is the LOINC answer of
///   `valueCodeableConcept` (LA9633-4 present, LA9634-2 absent).
/// - otherwise one `observation` fact (`#0`) plus one per coded `component` (`#1`, ...).
/// - 75186-7 with an MII Vitalstatus value also updates the patient's vital status.
/// - `status` `cancelled` or `entered-in-error` skips the resource.
pub(crate) fn map(o: Observation<'_>, cx: &Cx<'_>, batch: &mut Batch) -> Result<(), FieldError> {
    if skip_status(batch, "Observation", "status", text(&o.status)) {
        return Ok(());
    }
    let subject = cx.subject(
        &o.subject,
        "subject",
        "every Observation needs a subject referencing its Patient",
    )?;
    let code = pick_coding(
        o.code.as_ref(),
        "code",
        CODE_SYSTEMS,
        "an Observation needs a code, e.g. LOINC",
    )?;
    let (period_start, end) = match &o.effective_period {
        Some(p) => (
            date(&p.start, "effectivePeriod.start")?,
            date(&p.end, "effectivePeriod.end")?,
        ),
        None => (None, None),
    };
    let start = date(&o.effective_date_time, "effectiveDateTime")?
        .or(period_start)
        .or(date(&o.effective_instant, "effectiveInstant")?);

    if o.code
        .as_ref()
        .is_some_and(|c| c.has(CodeSystem::Loinc, VARIANT_ASSESSMENT))
    {
        let fact = molecular(&o, start, end)?;
        batch.facts.push(SubjectFact {
            subject,
            source_id: cx.source_id(&o.id, 0),
            fact,
        });
        return Ok(());
    }

    let value = map_value(
        &o.value_quantity,
        &o.value_codeable_concept,
        o.value_integer,
        "",
    )?;
    match &value {
        FactValue::Code(Coding {
            system: CodeSystem::VitalStatus,
            code: v,
        }) if code.system == CodeSystem::Loinc && code.code == VITAL_STATUS => {
            let status = match v.as_str() {
                "L" => VitalStatus::Alive,
                "T" => VitalStatus::Deceased,
                _ => VitalStatus::Unknown,
            };
            batch.record_vital_status(&subject, start, status);
        }
        _ => {}
    }
    let mut facts = vec![clinical_fact(
        FactKind::Observation,
        code,
        value,
        start,
        end,
    )];
    for (i, comp) in o.component.iter().enumerate() {
        let prefix = format!("component[{i}].");
        let hint = "a component needs a code, e.g. LOINC";
        let code = pick_coding(
            comp.code.as_ref(),
            &format!("{prefix}code"),
            CODE_SYSTEMS,
            hint,
        )?;
        let value = map_value(
            &comp.value_quantity,
            &comp.value_codeable_concept,
            comp.value_integer,
            &prefix,
        )?;
        facts.push(clinical_fact(
            FactKind::Observation,
            code,
            value,
            start,
            end,
        ));
    }
    for (i, fact) in facts.into_iter().enumerate() {
        batch.facts.push(SubjectFact {
            subject: subject.clone(),
            source_id: cx.source_id(&o.id, i),
            fact,
        });
    }
    Ok(())
}

/// The molecular fact of a 69548-6 observation.
fn molecular(
    o: &Observation<'_>,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
) -> Result<Fact, FieldError> {
    let (i, gene) = o
        .component
        .iter()
        .enumerate()
        .find(|(_, c)| {
            c.code
                .as_ref()
                .is_some_and(|c| c.has(CodeSystem::Loinc, GENE_STUDIED))
        })
        .ok_or_else(|| FieldError::new("component", MapErrorKind::MissingGene))?;
    let hint = "component 48018-6 needs valueCodeableConcept with an HGNC gene, e.g. HGNC:7910";
    let field = format!("component[{i}].valueCodeableConcept");
    let gene = pick_coding(
        gene.value_codeable_concept.as_ref(),
        &field,
        &[CodeSystem::Hgnc],
        hint,
    )?;
    let hint = "a variant assessment needs valueCodeableConcept LOINC LA9633-4 (present) or LA9634-2 (absent)";
    let answer = pick_coding(
        o.value_codeable_concept.as_ref(),
        "valueCodeableConcept",
        &[CodeSystem::Loinc],
        hint,
    )?;
    Ok(Fact {
        kind: FactKind::Molecular,
        code: gene,
        modifier: None,
        value: FactValue::Code(answer),
        start,
        end,
        category: DataCategory::Genetic,
        level: DataCategory::Genetic.intrinsic_level(),
    })
}
