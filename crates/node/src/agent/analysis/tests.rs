//! Tests of the parent module: which facts a request loads.

use super::*;
use oncofed_model::{CodeSystem, Coding, DataCategory, FactValue};
use oncofed_protocol::analysis::Analysis;

/// A categorical covariate loads the facts its inner variable reads.
#[test]
fn a_categorical_covariate_loads_its_inner_variables_facts() {
    let request = AnalysisRequest {
        project: "p".into(),
        index: oncofed_protocol::analysis::IndexEvent {
            icd10: "C34".into(),
        },
        cohort: None,
        analysis: Analysis::Cox {
            survival: Default::default(),
            covariates: ["cat:obs:loinc:89247-1:0,1,2", "cat:tx:atc:L01:0,1"]
                .map(|s| s.parse::<Variable>().unwrap())
                .to_vec(),
            ties: oncofed_protocol::analysis::Ties::Efron,
            stratify_by_site: false,
            strata: None,
            robust: false,
        },
        epsilon: None,
        wait_seconds: None,
        tolerance: None,
        max_iter: None,
    };
    let filters = fact_filters(&request);
    let wanted = |kind, system, code: &str| {
        filters.iter().any(|f| {
            f.kind == Some(kind)
                && f.system == Some(system)
                && f.code_prefix.as_deref() == Some(code)
        })
    };
    assert!(wanted(FactKind::Observation, CodeSystem::Loinc, "89247-1"));
    assert!(wanted(FactKind::Medication, CodeSystem::Atc, "L01"));
    let fact = |kind, system, code: &str| Fact {
        kind,
        code: Coding::new(system, code),
        modifier: None,
        value: FactValue::None,
        start: None,
        end: None,
        category: DataCategory::Clinical,
        level: SecurityLevel::Pseudonymised,
    };
    assert!(relevant(
        &request,
        &fact(FactKind::Observation, CodeSystem::Loinc, "89247-1")
    ));
    assert!(relevant(
        &request,
        &fact(FactKind::Medication, CodeSystem::Atc, "L01XE03")
    ));
    assert!(!relevant(
        &request,
        &fact(FactKind::Observation, CodeSystem::Loinc, "718-7")
    ));
}

#[test]
fn a_course_origin_and_a_first_contact_entry_load_their_facts() {
    let mut request: AnalysisRequest = serde_json::from_value(serde_json::json!({
        "project": "p",
        "index": {"icd10": "C34"},
        "analysis": {
            "type": "kaplan-meier",
            "survival": {"origin": {"first-assessment": {"code": "P"}}},
        },
    }))
    .unwrap();
    let course = Fact {
        kind: FactKind::Observation,
        code: Coding::new(CodeSystem::Snomed, "396432002"),
        modifier: None,
        value: FactValue::None,
        start: None,
        end: None,
        category: DataCategory::Clinical,
        level: SecurityLevel::Pseudonymised,
    };
    let lab = Fact {
        code: Coding::new(CodeSystem::Loinc, "718-7"),
        ..course.clone()
    };
    assert!(relevant(&request, &course) && !relevant(&request, &lab));
    assert!(
        fact_filters(&request)
            .iter()
            .any(|f| f.code_prefix.as_deref() == Some("396432002"))
    );
    // first contact: every record but diagnoses
    if let Some(s) = match &mut request.analysis {
        Analysis::KaplanMeier { survival, .. } => Some(survival),
        _ => None,
    } {
        s.entry = Some(Origin::FirstContact);
    }
    assert!(relevant(&request, &lab));
    let filters = fact_filters(&request);
    for kind in [
        FactKind::Observation,
        FactKind::Medication,
        FactKind::Procedure,
    ] {
        assert!(
            filters
                .iter()
                .any(|f| f.kind == Some(kind) && f.code_prefix.is_none())
        );
    }
}
