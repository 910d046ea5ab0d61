//! Every row of `docs/fhir-profile.md`, mapped from `fixtures/oncology-bundle.json`.

use chrono::NaiveDate;
use oncofed_fhir::{Batch, SubjectFact, map_document, map_ndjson_line};
use oncofed_model::{
    CodeSystem, Coding, DataCategory, FactKind, FactValue, SecurityLevel, Sex, VitalStatus,
};

const BUNDLE: &str = include_str!("fixtures/oncology-bundle.json");
const P2: &str = "0b6c2f4e-2222-4c6a-9a55-000000000002";

fn batch() -> Batch {
    map_document(BUNDLE.as_bytes(), "site-1/onc.json").unwrap_or_else(|e| panic!("{e}"))
}

fn date(s: &str) -> Option<NaiveDate> {
    Some(s.parse().unwrap())
}

fn fact<'b>(b: &'b Batch, source_id: &str) -> &'b SubjectFact {
    b.facts
        .iter()
        .find(|f| f.source_id == source_id)
        .unwrap_or_else(|| panic!("no fact {source_id}"))
}

fn coding(system: CodeSystem, code: &str) -> Coding {
    Coding::new(system, code)
}

#[test]
fn patient_with_kvnr_names_address_and_demographics() {
    let b = batch();
    assert_eq!(b.patients.len(), 2);
    let p = &b.patients[0];
    assert_eq!(p.local_id, "pat-1");
    assert_eq!(p.idat.kvnr.as_ref().map(|k| k.as_str()), Some("A123456780"));
    assert_eq!(p.idat.family.as_deref(), Some("Mustermann"));
    assert_eq!(p.idat.given, ["Erika", "Maria"]);
    assert_eq!(p.idat.birth_name.as_deref(), Some("Gabler"));
    assert_eq!(p.idat.birth_date, date("1964-08-12"));
    assert_eq!(p.idat.sex, Sex::Female);
    let a = p.idat.address.as_ref().unwrap();
    assert_eq!(a.lines, ["Hauptstraße 12a"]);
    assert_eq!(
        (
            a.postal_code.as_deref(),
            a.city.as_deref(),
            a.country.as_deref()
        ),
        (Some("50667"), Some("Köln"), Some("DE"))
    );
    // The MRN is dropped: it is nowhere in the record.
    assert!(!p.idat.sensitive_strings().iter().any(|s| s.contains("MRN")));
    let d = &p.demographics;
    assert_eq!(
        (d.sex, d.birth_year, d.death_date),
        (Sex::Female, Some(1964), None)
    );
    // Latest 75186-7 (2024-05-01, L) wins over the older X.
    assert_eq!(
        (d.vital_status, d.last_contact),
        (VitalStatus::Alive, date("2024-05-01"))
    );
}

#[test]
fn patient_without_id_partial_birth_date_and_deceased_boolean() {
    let b = batch();
    let p = &b.patients[1];
    assert_eq!(p.local_id, P2, "urn:uuid fullUrl gives the local id");
    assert_eq!(p.idat.family.as_deref(), Some("Schmidt"));
    assert_eq!(p.idat.birth_date, date("1950-03-01"));
    assert_eq!(p.demographics.birth_year, Some(1950));
    assert_eq!(p.demographics.vital_status, VitalStatus::Deceased);
    assert_eq!(p.idat.kvnr, None);
    assert_eq!(fact(&b, "Observation/hb-2#0").subject, P2);
}

#[test]
fn condition_prefers_icd10gm_with_icdo3_topography() {
    let b = batch();
    let f = fact(&b, "Condition/cond-1#0");
    assert_eq!(f.subject, "pat-1");
    assert_eq!(f.fact.kind, FactKind::Diagnosis);
    assert_eq!(f.fact.code, coding(CodeSystem::Icd10Gm, "C92.0"));
    assert_eq!(f.fact.modifier, Some(coding(CodeSystem::IcdO3, "C42.1")));
    assert_eq!(
        f.fact.start,
        date("2023-02-14"),
        "onsetDateTime before recordedDate"
    );
    assert_eq!(
        (f.fact.category, f.fact.level),
        (DataCategory::Clinical, SecurityLevel::Pseudonymised)
    );
    // recordedDate when there is no onset; cross-file Patient/<id> reference kept as the id.
    let x = fact(&b, "Condition/cond-x#0");
    assert_eq!(
        (x.subject.as_str(), x.fact.start),
        ("other-9", date("2022-01-01"))
    );
}

#[test]
fn observations_coded_values() {
    let b = batch();
    let cases = [
        ("tnm-1", "21908-9", coding(CodeSystem::Tnm, "IIIA")),
        ("tnm-t", "21905-5", coding(CodeSystem::Tnm, "T2")),
        ("ecog-1", "89247-1", coding(CodeSystem::Ecog, "1")),
        ("histo-1", "59847-4", coding(CodeSystem::IcdO3, "9861/3")),
        ("vital-1", "75186-7", coding(CodeSystem::VitalStatus, "L")),
    ];
    for (id, loinc, value) in cases {
        let f = &fact(&b, &format!("Observation/{id}#0")).fact;
        assert_eq!(f.kind, FactKind::Observation, "{id}");
        assert_eq!(f.code, coding(CodeSystem::Loinc, loinc), "{id}");
        assert_eq!(f.value, FactValue::Code(value), "{id}");
        assert_eq!(f.category, DataCategory::Clinical, "{id}");
    }
}

#[test]
fn observations_quantities() {
    let b = batch();
    let cases = [
        ("hb-1", "718-7", 9.8, "g/dL"),
        ("wbc-1", "6690-2", 48.2, "10*3/uL"),
        ("blasts-1", "11150-2", 35.0, "%"),
    ];
    for (id, loinc, value, unit) in cases {
        let f = &fact(&b, &format!("Observation/{id}#0")).fact;
        assert_eq!(f.code, coding(CodeSystem::Loinc, loinc));
        assert_eq!(
            f.value,
            FactValue::Quantity {
                value,
                unit: unit.into()
            },
            "{id}: UCUM code, not the display unit"
        );
    }
    assert_eq!(
        fact(&b, "Observation/hb-1#0").fact.start,
        date("2023-02-14")
    );
}

#[test]
fn molecular_marker_is_genetic() {
    let b = batch();
    let f = &fact(&b, "Observation/mol-1#0").fact;
    assert_eq!(f.kind, FactKind::Molecular);
    assert_eq!(f.code, coding(CodeSystem::Hgnc, "HGNC:7910"));
    assert_eq!(
        f.value,
        FactValue::Code(coding(CodeSystem::Loinc, "LA9633-4"))
    );
    assert_eq!(f.category, DataCategory::Genetic);
    assert_eq!(f.level, DataCategory::Genetic.intrinsic_level());
    assert_eq!(
        b.facts
            .iter()
            .filter(|f| f.source_id.starts_with("Observation/mol-1"))
            .count(),
        1
    );
}

#[test]
fn procedure_and_medications() {
    let b = batch();
    let p = &fact(&b, "Procedure/proc-1#0").fact;
    assert_eq!(
        (p.kind, &p.code, p.start),
        (
            FactKind::Procedure,
            &coding(CodeSystem::Ops, "8-805.00"),
            date("2023-06-10")
        )
    );
    let ms = &fact(&b, "MedicationStatement/ms-1#0").fact;
    assert_eq!(
        (ms.kind, &ms.code),
        (FactKind::Medication, &coding(CodeSystem::Atc, "L01BC01"))
    );
    assert_eq!((ms.start, ms.end), (date("2023-02-21"), date("2023-02-27")));
    let mr = &fact(&b, "MedicationRequest/mr-1#0").fact;
    assert_eq!(
        (&mr.code, mr.start),
        (&coding(CodeSystem::Atc, "L01DB03"), date("2023-02-21"))
    );
    let ma = &fact(&b, "MedicationAdministration/ma-1#0").fact;
    assert_eq!(ma.start, date("2023-02-22"));
}

#[test]
fn consent_goes_whole_to_the_trust_centre_and_encounter_is_counted() {
    let b = batch();
    assert_eq!(b.consents.len(), 1);
    assert_eq!(b.consents[0].subject, "pat-1");
    assert_eq!(
        b.consents[0].resource["policy"][0]["uri"],
        "urn:oid:2.16.840.1.113883.3.1937.777.24.2.1791"
    );
    assert_eq!(b.not_mapped.get("Encounter"), Some(&1));
    assert_eq!(b.resources, 21);
    assert_eq!(b.facts.len(), 17);
}

#[test]
fn single_resources_and_ndjson_lines() {
    let obs = r#"{"resourceType":"Observation","id":"o1","code":{"coding":[{"system":"http://loinc.org","code":"718-7"}]},"subject":{"reference":"Patient/p1"},"valueQuantity":{"value":12,"unit":"g/dL"}}"#;
    let b = map_ndjson_line(obs, "o.ndjson", 1).unwrap();
    assert_eq!(b.facts[0].subject, "p1");
    assert_eq!(
        b.facts[0].fact.value,
        FactValue::Quantity {
            value: 12.0,
            unit: "g/dL".into()
        },
        "unit when no code"
    );
    let b = map_document(obs.as_bytes(), "o.json").unwrap();
    assert_eq!(b.facts.len(), 1);
    // A blank line is nothing; a whole Bundle on one line works too.
    assert_eq!(map_ndjson_line("  \r", "o.ndjson", 2).unwrap().resources, 0);
    let one_line: serde_json::Value = serde_json::from_str(BUNDLE).unwrap();
    assert_eq!(
        map_ndjson_line(&one_line.to_string(), "b.ndjson", 1)
            .unwrap()
            .facts
            .len(),
        17
    );
}

#[test]
fn merge_combines_lines_and_vital_status_across_them() {
    let patient = r#"{"resourceType":"Patient","id":"p1","gender":"male","birthDate":"1970"}"#;
    let vital = r#"{"resourceType":"Observation","id":"v","code":{"coding":[{"system":"http://loinc.org","code":"75186-7"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-01-02","valueCodeableConcept":{"coding":[{"system":"https://www.medizininformatik-initiative.de/fhir/core/modul-person/CodeSystem/Vitalstatus","code":"T"}]}}"#;
    let encounter = r#"{"resourceType":"Encounter","id":"e"}"#;
    for order in [[vital, patient, encounter], [patient, encounter, vital]] {
        let mut all = Batch::default();
        for (i, line) in order.iter().enumerate() {
            all.merge(map_ndjson_line(line, "x.ndjson", i + 1).unwrap());
        }
        let d = &all.patients[0].demographics;
        assert_eq!(
            (d.vital_status, d.last_contact),
            (VitalStatus::Deceased, date("2024-01-02"))
        );
        assert_eq!(
            (all.resources, all.facts.len(), all.not_mapped["Encounter"]),
            (3, 1, 1)
        );
    }
}

#[test]
fn void_resources_are_skipped_and_counted() {
    let refuted = r#"{"resourceType":"Condition","verificationStatus":{"coding":[{"code":"refuted"}]},"code":{"coding":[{"system":"http://fhir.de/CodeSystem/bfarm/icd-10-gm","code":"C92.0"}]},"subject":{"reference":"Patient/p"}}"#;
    let b = map_ndjson_line(refuted, "c.ndjson", 1).unwrap();
    assert!(b.facts.is_empty());
    assert_eq!(
        b.skipped.get("Condition.verificationStatus=refuted"),
        Some(&1)
    );
}

#[test]
fn implausible_values_are_kept_and_flagged() {
    let obs = r#"{"resourceType":"Observation","id":"b","code":{"coding":[{"system":"http://loinc.org","code":"11150-0"}]},"subject":{"reference":"Patient/p"},"valueQuantity":{"value":150,"code":"%"}}"#;
    let b = map_ndjson_line(obs, "o.ndjson", 1).unwrap();
    assert_eq!(
        b.facts[0].fact.value,
        FactValue::Quantity {
            value: 150.0,
            unit: "%".into()
        }
    );
    let findings = oncofed_fhir::quality::plausibility_issues(&b);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].source_id.as_deref(), Some("Observation/b#0"));
}

/// Issue 12, item 4: the MII onco course observation (oBDS 17,
/// `mii-pr-onko-verlauf`, as the module's example `mii-exa-onko-verlauf-tumor`
/// codes it) maps to an overall-assessment fact and one fact per component,
/// each keeping its MII code system, so a progression-free endpoint can read
/// P, Y and the components' R.
#[test]
fn the_mii_onco_course_observation_maps_with_its_components() {
    let mii = "https://www.medizininformatik-initiative.de/fhir/ext/modul-onko/CodeSystem";
    let obs = format!(
        r#"{{"resourceType":"Observation","id":"verlauf-1","status":"final",
        "code":{{"coding":[{{"system":"http://snomed.info/sct","code":"396432002"}}]}},
        "subject":{{"reference":"Patient/p1"}},"effectiveDateTime":"2024-02-08",
        "valueCodeableConcept":{{"coding":[{{"system":"{mii}/mii-cs-onko-verlauf-gesamtbeurteilung","code":"P"}}]}},
        "component":[
          {{"code":{{"coding":[{{"system":"http://snomed.info/sct","code":"277062004"}}]}},
            "valueCodeableConcept":{{"coding":[{{"system":"{mii}/mii-cs-onko-verlauf-primaertumor","code":"T"}}]}}}},
          {{"code":{{"coding":[{{"system":"http://snomed.info/sct","code":"399656008"}}]}},
            "valueCodeableConcept":{{"coding":[{{"system":"{mii}/mii-cs-verlauf-lymphknoten","code":"P"}}]}}}},
          {{"code":{{"coding":[{{"system":"http://snomed.info/sct","code":"399608002"}}]}},
            "valueCodeableConcept":{{"coding":[{{"system":"{mii}/mii-cs-onko-verlauf-fernmetastasen","code":"R"}}]}}}}]}}"#
    )
    .replace('\n', "");
    let b = map_ndjson_line(&obs, "verlauf.ndjson", 1).unwrap();
    let values: Vec<(String, FactValue)> = b
        .facts
        .iter()
        .map(|f| (f.fact.code.code.clone(), f.fact.value.clone()))
        .collect();
    assert_eq!(
        values,
        [
            ("396432002", coding(CodeSystem::OncoCourse, "P")),
            ("277062004", coding(CodeSystem::OncoCourseTumour, "T")),
            ("399656008", coding(CodeSystem::OncoCourseNodes, "P")),
            ("399608002", coding(CodeSystem::OncoCourseMetastases, "R")),
        ]
        .map(|(c, v)| (c.to_owned(), FactValue::Code(v)))
    );
    assert!(b.facts.iter().all(|f| f.fact.start == date("2024-02-08")));
}
