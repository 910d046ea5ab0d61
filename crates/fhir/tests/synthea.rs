//! The Synthea R4 bulk export (10 patients, US Core) must ingest without error.
//!
//! Run with `--nocapture` to see the counts per fact kind and what is not mapped.

use oncofed_fhir::{Batch, map_ndjson_line, quality};
use oncofed_model::{CodeSystem, FactKind, VitalStatus};
use std::collections::BTreeMap;
use std::path::PathBuf;

const FILES: [&str; 5] = [
    "Patient",
    "Condition",
    "Procedure",
    "MedicationRequest",
    "Encounter",
];

fn dir() -> PathBuf {
    let dir = oncofed_testkit::shared_data().join("synthea-bulk-10-patients");
    assert!(
        dir.is_dir(),
        "the Synthea sample is expected at {} (shared/data/synthea-bulk-10-patients beside the repository)",
        dir.display()
    );
    dir
}

fn ingest() -> Batch {
    let mut all = Batch::default();
    for name in FILES {
        let file = format!("{name}.000.ndjson");
        let text =
            std::fs::read_to_string(dir().join(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        for (i, line) in text.lines().enumerate() {
            all.merge(map_ndjson_line(line, &file, i + 1).unwrap_or_else(|e| panic!("{e}")));
        }
    }
    all
}

#[test]
fn synthea_bulk_export_maps_without_error() {
    let b = ingest();
    let mut per_kind: BTreeMap<&str, usize> = BTreeMap::new();
    let mut per_system: BTreeMap<String, usize> = BTreeMap::new();
    for f in &b.facts {
        *per_kind.entry(f.fact.kind.as_str()).or_default() += 1;
        *per_system
            .entry(format!("{}:{}", f.fact.kind.as_str(), f.fact.code.system))
            .or_default() += 1;
    }
    let findings = quality::plausibility_issues(&b);
    let mut per_issue: BTreeMap<String, usize> = BTreeMap::new();
    for f in &findings {
        let name = format!("{:?}", f.issue);
        *per_issue
            .entry(name.split([' ', '{']).next().unwrap_or("").to_owned())
            .or_default() += 1;
    }
    println!("resources read: {}", b.resources);
    println!("patients: {}", b.patients.len());
    println!("facts per kind: {per_kind:?}");
    println!("facts per kind and code system: {per_system:?}");
    println!("not mapped: {:?}", b.not_mapped);
    println!("skipped: {:?}", b.skipped);
    println!("plausibility findings: {per_issue:?}");

    assert_eq!(b.patients.len(), 13);
    assert_eq!(b.resources, 13 + 555 + 2056 + 1745 + 1215);
    assert_eq!(b.not_mapped.get("Encounter"), Some(&1215));
    assert_eq!(per_kind.get("diagnosis"), Some(&555));
    assert_eq!(per_kind.get("procedure"), Some(&2056));
    assert_eq!(per_kind.get("medication"), Some(&1745));
    assert!(b.skipped.is_empty() && b.consents.is_empty());
    assert!(
        b.facts
            .iter()
            .all(|f| matches!(f.fact.code.system, CodeSystem::Snomed | CodeSystem::RxNorm))
    );
    assert!(
        b.facts.iter().all(|f| f.fact.start.is_some()),
        "every Synthea fact has a date"
    );
    // Every fact's subject is one of the 13 Patients (cross-file Patient/<id> references).
    let ids: Vec<&str> = b.patients.iter().map(|p| p.local_id.as_str()).collect();
    assert!(b.facts.iter().all(|f| ids.contains(&f.subject.as_str())));
    // Synthea writes deceasedDateTime for the dead; no SSN, MRN or passport number is kept.
    let dead = b
        .patients
        .iter()
        .filter(|p| p.demographics.vital_status == VitalStatus::Deceased)
        .count();
    assert_eq!(dead, 3);
    assert!(
        b.patients.iter().all(|p| p.idat.kvnr.is_none()
            && p.idat.family.is_some()
            && p.idat.birth_date.is_some())
    );
    // SNOMED CT check digits and RxNorm forms of real data pass the format checks.
    assert!(!findings.iter().any(|f| matches!(
        f.issue,
        quality::Issue::CodeFormat { .. } | quality::Issue::CheckDigit { .. }
    )));
    let nsclc = b
        .facts
        .iter()
        .filter(|f| f.fact.kind == FactKind::Diagnosis && f.fact.code.code == "254637007")
        .count();
    assert!(nsclc > 0, "the NSCLC diagnoses are there");
}
