//! Feasibility criteria compiled to SQL: every leaf and combinator against a
//! hand-made cohort of 12 patients (imaging: the edges of a 90-day window after a
//! diagnosis), and injection attempts. Random trees against
//! the reference evaluator are in `reference.rs`.

use super::Backend;
use chrono::NaiveDate;
use oncofed_criteria::{Criteria, TnmAxis};
use oncofed_model::CodeSystem::{
    Atc, Cytomorphology, Dcm, DicomAttribute, DicomBodyPart, Ecog, Hgnc, Icd10Gm, Icd10Who, IcdO3,
    Loinc, Ops, RxNorm, Snomed, Tnm,
};
use oncofed_model::*;
use oncofed_store::*;

pub const HB: &str = "718-7";
pub const STAGE: &str = "21908-9";
pub const ECOG: &str = "89247-1";
pub const HISTO: &str = "59847-4";
const FLT3: &str = "HGNC:3765";
const NPM1: &str = "HGNC:7910";

pub fn psn(n: u8) -> Pseudonym {
    Pseudonym::from_digest(&[n; 10])
}

fn date(s: &str) -> Option<NaiveDate> {
    (!s.is_empty()).then(|| s.parse().unwrap())
}

fn fact(kind: FactKind, code: (CodeSystem, &str), value: FactValue, start: &str) -> Fact {
    let category = match kind {
        FactKind::Molecular => DataCategory::Genetic,
        FactKind::Imaging => DataCategory::Imaging,
        _ => DataCategory::Clinical,
    };
    let (code, level) = (Coding::new(code.0, code.1), category.intrinsic_level());
    let (modifier, start, end) = (None, date(start), None);
    Fact {
        kind,
        code,
        modifier,
        value,
        start,
        end,
        category,
        level,
    }
}

fn diag(system: CodeSystem, code: &str, start: &str) -> Fact {
    fact(FactKind::Diagnosis, (system, code), FactValue::None, start)
}

fn coded(loinc: &str, system: CodeSystem, code: &str, start: &str) -> Fact {
    let value = FactValue::Code(Coding::new(system, code));
    fact(FactKind::Observation, (Loinc, loinc), value, start)
}

fn num(loinc: &str, value: f64, unit: &str, start: &str) -> Fact {
    let value = FactValue::Quantity {
        value,
        unit: unit.into(),
    };
    fact(FactKind::Observation, (Loinc, loinc), value, start)
}

fn gene(hgnc: &str, present: bool, start: &str) -> Fact {
    let answer = if present { "LA9633-4" } else { "LA9634-2" };
    let value = FactValue::Code(Coding::new(Loinc, answer));
    fact(FactKind::Molecular, (Hgnc, hgnc), value, start)
}

fn drug(system: CodeSystem, code: &str, start: &str) -> Fact {
    fact(FactKind::Medication, (system, code), FactValue::None, start)
}

fn ops(code: &str, start: &str) -> Fact {
    fact(FactKind::Procedure, (Ops, code), FactValue::None, start)
}

fn tnm(axis: TnmAxis, code: &str, start: &str) -> Fact {
    coded(axis.loinc(), Tnm, code, start)
}

/// An imaging series fact as the DICOM ingest writes it (`body_part` "" for none).
fn series(modality: &str, body_part: &str, start: &str) -> Fact {
    let value = FactValue::Quantity {
        value: 120.0,
        unit: "{instances}".into(),
    };
    let mut f = fact(FactKind::Imaging, (Dcm, modality), value, start);
    f.modifier = (!body_part.is_empty()).then(|| Coding::new(DicomBodyPart, body_part));
    f
}

/// A series attribute fact (not a series: never matches the imaging leaf).
fn slice_thickness(mm: f64, start: &str) -> Fact {
    let value = FactValue::Quantity {
        value: mm,
        unit: "mm".into(),
    };
    fact(
        FactKind::Imaging,
        (DicomAttribute, "SliceThickness"),
        value,
        start,
    )
}

/// A per-smear fact as the node's cell ingest writes it (system
/// `cytomorphology`, the specimen as modifier, category pathology).
fn smear(code: &str, value: f64, specimen: &str, start: &str) -> Fact {
    let unit = if code == "blast-percentage" {
        "%"
    } else {
        "{cells}"
    };
    let value = FactValue::Quantity {
        value,
        unit: unit.into(),
    };
    let mut f = fact(FactKind::Observation, (Cytomorphology, code), value, start);
    f.modifier = Some(Coding::new(Cytomorphology, specimen));
    f.category = DataCategory::Pathology;
    f.level = DataCategory::Pathology.intrinsic_level();
    f
}

/// Patients with their facts.
pub type Cohort = Vec<(PatientRow, Vec<Fact>)>;

/// The cohort: (patient, facts). Ages at the earliest dated diagnosis in comments;
/// imaging series with their day after the diagnosis.
#[rustfmt::skip] // a table: one patient per block, facts side by side
pub fn cohort() -> Cohort {
    use Sex::{Female as F, Male as M};
    use TnmAxis::{M as Mx, N as Nx, T as Tx};
    use VitalStatus::{Alive, Deceased};
    let patient = |n: u8, sex, birth_year, vital_status| PatientRow {
        pseudonym: psn(n),
        research_pseudonym: psn(n + 100),
        demographics: Demographics { sex, birth_year, vital_status, death_date: None, last_contact: None },
    };
    vec![
        // 1: AML, age 60, FLT3+, NPM1−, Hb 8.5, ECOG 1, an L01XC drug, stem cell transplant.
        (patient(1, F, Some(1960), Alive), vec![
            diag(Icd10Gm, "C92.0", "2020-03-01"), coded(HISTO, IcdO3, "9861/3", "2020-03-01"),
            gene(FLT3, true, "2020-03-05"), gene(NPM1, false, "2020-03-05"), num(HB, 8.5, "g/dL", "2020-03-01"),
            coded(ECOG, Ecog, "1", "2020-03-02"), drug(Atc, "L01XC24", "2020-03-10"), ops("8-805.0", "2020-09-01"),
            series("CT", "CHEST", "2020-02-20"), series("MR", "HEAD", "2020-03-15"), // before; day 14
            // A bone-marrow smear with 45 % blasts.
            smear("nucleated-cells", 100.0, "bone-marrow", "2020-03-01"), smear("myeloblast", 45.0, "bone-marrow", "2020-03-01"),
            smear("lymphocyte", 0.0, "bone-marrow", "2020-03-01"), smear("blast-percentage", 45.0, "bone-marrow", "2020-03-01"),
        ]),
        // 2: AML, age 31, FLT3−, NPM1+, Hb 12, ECOG 0, cytarabine.
        (patient(2, M, Some(1990), Alive), vec![
            diag(Icd10Gm, "C92.0", "2021-05-01"), gene(FLT3, false, "2021-05-03"), gene(NPM1, true, "2021-05-03"),
            num(HB, 12.0, "g/dL", "2021-05-01"), coded(ECOG, Ecog, "0", "2021-05-01"), drug(Atc, "L01BC01", "2021-05-05"),
            // A blood smear with 20 % blasts exactly, and lymphocytes.
            smear("nucleated-cells", 50.0, "peripheral-blood", "2021-05-01"), smear("myeloblast", 10.0, "peripheral-blood", "2021-05-01"),
            smear("lymphocyte", 30.0, "peripheral-blood", "2021-05-01"), smear("blast-percentage", 20.0, "peripheral-blood", "2021-05-01"),
        ]),
        // 3: hypertension at 60, CML at 65, Hb in g/L, never tested.
        (patient(3, F, Some(1950), Deceased), vec![
            diag(Icd10Gm, "I10", "2010-06-01"), diag(Icd10Gm, "C92.1", "2015-01-01"), num(HB, 105.0, "g/L", "2015-01-01"),
            series("US", "ABDOMEN", "2010-07-01"), // day 30 after I10, before C92.1
        ]),
        // 4: NSCLC coded in ICD-10 WHO, age 74, IIIA T3 N2 M0, ECOG 2, EGFR+.
        (patient(4, M, Some(1945), Deceased), vec![
            diag(Icd10Who, "C34.1", "2019-06-01"), coded(STAGE, Tnm, "IIIA", "2019-06-02"), tnm(Tx, "T3", "2019-06-02"),
            tnm(Nx, "N2", "2019-06-02"), tnm(Mx, "M0", "2019-06-02"), coded(ECOG, Ecog, "2", "2019-06-02"),
            gene("HGNC:3236", true, "2019-06-10"), drug(Atc, "L01XE03", "2019-07-01"), ops("5-324.1", "2019-06-20"),
            series("CT", "CHEST", "2019-06-01"), slice_thickness(1.25, "2019-06-01"), // day 0
        ]),
        // 5: breast, age 48, IIA T2 N0 M0, ECOG 0 as an integer, ERBB2+, trastuzumab, mastectomy.
        (patient(5, F, Some(1970), Alive), vec![
            diag(Icd10Gm, "C50.4", "2018-02-01"), coded(HISTO, IcdO3, "8500/3", "2018-02-01"),
            coded(STAGE, Tnm, "IIA", "2018-02-01"), tnm(Tx, "T2", "2018-02-01"), tnm(Nx, "N0", "2018-02-01"),
            tnm(Mx, "M0", "2018-02-01"), num(ECOG, 0.0, "1", "2018-02-01"), gene("HGNC:3430", true, "2018-02-05"),
            drug(Atc, "L01XC03", "2018-03-01"), ops("5-870.a", "2018-02-15"),
            series("CT", "CHEST", "2018-05-03"), // day 91
        ]),
        // 6: breast, age 42, IV T4b N3 M1, ECOG 3.
        (patient(6, F, Some(1980), Alive), vec![
            diag(Icd10Gm, "C50.9", "2022-01-01"), coded(STAGE, Tnm, "IV", "2022-01-02"), tnm(Tx, "T4b", "2022-01-02"),
            tnm(Nx, "N3", "2022-01-02"), tnm(Mx, "M1", "2022-01-02"), coded(ECOG, Ecog, "3", "2022-01-02"),
            series("CT", "CHEST", "2022-04-01"), // day 90
        ]),
        // 7: AML, birth year unknown (no age).
        (patient(7, M, None, Alive), vec![diag(Icd10Gm, "C92.0", "2020-01-01")]),
        // 8: no facts at all.
        (patient(8, Sex::Other, Some(2000), VitalStatus::Unknown), vec![]),
        // 9: undated SNOMED diagnosis, undated Hb 9.5.
        (patient(9, M, Some(1955), Alive), vec![
            diag(Snomed, "109989006", ""), num(HB, 9.5, "g/dL", ""), series("CT", "CHEST", "2021-01-01"),
        ]),
        // 10: AML, age 58, stage "III" (exactly), FLT3+, TP53+, ECOG 4, Hb exactly 10.
        (patient(10, F, Some(1965), Alive), vec![
            diag(Icd10Gm, "C92.0", "2023-07-01"), coded(STAGE, Tnm, "III", "2023-07-01"), gene(FLT3, true, "2023-07-02"),
            gene("HGNC:11998", true, "2023-07-02"), coded(ECOG, Ecog, "4", "2023-07-01"), num(HB, 10.0, "g/dL", "2023-07-01"),
            // An undated bone-marrow smear with no classified cell: no blast percentage.
            smear("nucleated-cells", 0.0, "bone-marrow", ""), smear("unclassified-cells", 12.0, "bone-marrow", ""),
        ]),
        // 11: colorectal, age 42, IIIB pT3 N1a M0, KRAS+, 5-FU, colectomy.
        (patient(11, M, Some(1975), Deceased), vec![
            diag(Icd10Gm, "C18.7", "2017-04-01"), coded(STAGE, Tnm, "IIIB", "2017-04-02"), tnm(Tx, "pT3", "2017-04-02"),
            tnm(Nx, "N1a", "2017-04-02"), tnm(Mx, "M0", "2017-04-02"), gene("HGNC:6407", true, "2017-04-05"),
            drug(Atc, "L01BC02", "2017-05-01"), ops("5-455.7", "2017-04-20"),
        ]),
        // 12: MDS, age 36, FLT3−, Hb 9, an RxNorm-coded drug.
        (patient(12, Sex::Unknown, Some(1985), Alive), vec![
            diag(Icd10Gm, "D46.9", "2021-09-01"), gene(FLT3, false, "2021-09-02"), num(HB, 9.0, "g/dL", "2021-09-01"),
            drug(RxNorm, "1791701", "2021-09-10"), series("CT", "", "2021-09-05"), // day 4, no body part
        ]),
    ]
}

/// A store of `backend` holding the cohort, and the cohort.
pub fn open(backend: &dyn Backend) -> (Box<dyn ResearchStore>, Cohort) {
    let mut store = backend.open();
    let data = cohort();
    let mut batch = WriteBatch::default();
    for (p, facts) in &data {
        batch.patients.push(p.clone());
        for (i, f) in facts.iter().enumerate() {
            let key = FactKey::derive(&p.pseudonym, &format!("fact/{i}"));
            batch.facts.push(StoredFact {
                key,
                pseudonym: p.pseudonym.clone(),
                fact: f.clone(),
            });
        }
    }
    store.write(&batch).unwrap();
    (store, data)
}

pub fn parse(json: &str) -> Criteria {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

/// The patient numbers a query returns (checking the research pseudonyms on the way).
pub fn run(store: &dyn ResearchStore, c: &Criteria) -> Vec<u8> {
    let rows = store
        .feasibility(c)
        .unwrap_or_else(|e| panic!("{}: {e}", c.describe()));
    let mut out: Vec<u8> = (1..=12)
        .filter(|&n| rows.iter().any(|(site, _)| *site == psn(n)))
        .inspect(|&n| assert!(rows.contains(&(psn(n), psn(n + 100)))))
        .collect();
    assert_eq!(out.len(), rows.len(), "duplicate or unknown rows");
    out.sort_unstable();
    out
}

/// Checks each (JSON, expected patients) case, and that its negation returns the rest.
fn check(store: &dyn ResearchStore, cases: &[(&str, &[u8])]) {
    for (json, expected) in cases {
        let c = parse(json);
        c.validate().unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(run(store, &c), *expected, "{json}");
        let rest: Vec<u8> = (1..=12).filter(|n| !expected.contains(n)).collect();
        assert_eq!(run(store, &Criteria::not(c)), rest, "NOT {json}");
    }
}

pub fn diagnosis_and_age(backend: &dyn Backend) {
    let (store, _) = open(backend);
    let store = &*store;
    #[rustfmt::skip]
    let cases: &[(&str, &[u8])] = &[
        (r#"{"diagnosis": {"icd10": "C92.0"}}"#, &[1, 2, 7, 10]),
        (r#"{"diagnosis": {"icd10": "C92"}}"#, &[1, 2, 3, 7, 10]),
        (r#"{"diagnosis": {"icd10": "C34"}}"#, &[4]), // ICD-10 WHO counts too
        (r#"{"diagnosis": {"icd10": "C5"}}"#, &[5, 6]),
        (r#"{"diagnosis": {"morphology": "986"}}"#, &[1]),
        (r#"{"diagnosis": {"icd10": "C50", "morphology": "8500/3"}}"#, &[5]),
        (r#"{"diagnosis": {"icd10": "C92", "morphology": "8500"}}"#, &[]),
        (r#"{"diagnosis": {}}"#, &[1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12]),
        (r#"{"diagnosis": {"from": "1900-01-01"}}"#, &[1, 2, 3, 4, 5, 6, 7, 10, 11, 12]), // undated: no
        (r#"{"diagnosis": {"icd10": "C92.0", "from": "2020-01-01", "to": "2020-12-31"}}"#, &[1, 7]),
        (r#"{"diagnosis": {"to": "2009-12-31"}}"#, &[]),
        (r#"{"age_at_diagnosis": {"min": 18, "max": 65}}"#, &[1, 2, 3, 5, 6, 10, 11, 12]),
        (r#"{"age_at_diagnosis": {"min": 60}}"#, &[1, 3, 4]),
        (r#"{"age_at_diagnosis": {"max": 42}}"#, &[2, 6, 11, 12]),
        (r#"{"age_at_diagnosis": {"min": 61, "max": 65}}"#, &[]), // 3 was 60 at the first diagnosis
        (r#"{"age_at_diagnosis": {"min": 61, "max": 65, "icd10": "C92"}}"#, &[3]), // and 65 at the CML
    ];
    check(store, cases);
}

pub fn demographics_staging_and_ecog(backend: &dyn Backend) {
    let (store, _) = open(backend);
    let store = &*store;
    #[rustfmt::skip]
    let cases: &[(&str, &[u8])] = &[
        (r#"{"sex": "female"}"#, &[1, 3, 5, 6, 10]),
        (r#"{"sex": "male"}"#, &[2, 4, 7, 9, 11]),
        (r#"{"sex": "other"}"#, &[8]),
        (r#"{"sex": "unknown"}"#, &[12]),
        (r#"{"vital_status": "deceased"}"#, &[3, 4, 11]),
        (r#"{"vital_status": "unknown"}"#, &[8]),
        (r#"{"stage": {"group": ["III", "IIIA", "IIIB", "IV"]}}"#, &[4, 6, 10, 11]),
        (r#"{"stage": {"group": ["III"]}}"#, &[10]), // exact, not a prefix
        (r#"{"stage": {"group": ["IIA", "IV"], "from": "2022-01-01"}}"#, &[6]),
        (r#"{"tnm": {"t": ["T3"]}}"#, &[4]), // pT3 does not start with T3
        (r#"{"tnm": {"t": ["T3", "pT3"]}}"#, &[4, 11]),
        (r#"{"tnm": {"t": ["T4"], "m": ["M1"]}}"#, &[6]),
        (r#"{"tnm": {"n": ["N1"]}}"#, &[11]),
        (r#"{"tnm": {"m": ["M0"]}}"#, &[4, 5, 11]),
        (r#"{"tnm": {"t": ["T2"], "m": ["M1"]}}"#, &[]),
        (r#"{"ecog": {"max": 2}}"#, &[1, 2, 4, 5]), // 5 is an integer value
        (r#"{"ecog": {"min": 3}}"#, &[6, 10]),
        (r#"{"ecog": {"min": 0, "max": 0}}"#, &[2, 5]),
        (r#"{"ecog": {}}"#, &[1, 2, 4, 5, 6, 10]),
        (r#"{"ecog": {"max": 4, "to": "2019-12-31"}}"#, &[4, 5]),
    ];
    check(store, cases);
}

pub fn labs_markers_therapies_procedures(backend: &dyn Backend) {
    let (store, _) = open(backend);
    let store = &*store;
    let hb = |op: &str, value: &str, unit: &str| {
        format!(
            r#"{{"lab": {{"loinc": "718-7", "unit": "{unit}", "op": "{op}", "value": {value}}}}}"#
        )
    };
    let hb_cases = [
        (hb("<", "10", "g/dL"), vec![1, 9, 12]), // not 3: g/L is not converted
        (hb("<=", "10", "g/dL"), vec![1, 9, 10, 12]),
        (hb("=", "10", "g/dL"), vec![10]),
        (hb("!=", "10", "g/dL"), vec![1, 2, 9, 12]),
        (hb(">=", "12", "g/dL"), vec![2]),
        (hb(">", "100", "g/L"), vec![3]),
    ];
    for (json, expected) in &hb_cases {
        check(store, &[(json, expected)]);
    }
    #[rustfmt::skip]
    let cases: &[(&str, &[u8])] = &[
        (r#"{"lab": {"loinc": "718-7", "unit": "g/dL", "op": "<=", "value": 10, "from": "2021-01-01"}}"#, &[10, 12]),
        (r#"{"marker": {"gene": "HGNC:3765", "present": true}}"#, &[1, 10]),
        (r#"{"marker": {"gene": "HGNC:3765", "present": false}}"#, &[2, 12]), // tested absent only
        (r#"{"marker": {"gene": "HGNC:7910", "present": true}}"#, &[2]),
        (r#"{"marker": {"gene": "HGNC:3765", "present": true, "to": "2022-12-31"}}"#, &[1]),
        (r#"{"therapy": {"atc": "L01XC"}}"#, &[1, 5]),
        (r#"{"therapy": {"atc": "L01"}}"#, &[1, 2, 4, 5, 11]), // RxNorm-coded drug of 12: no
        (r#"{"therapy": {"atc": "L01BC", "from": "2020-01-01"}}"#, &[2]),
        (r#"{"procedure": {"ops": "8-805"}}"#, &[1]),
        (r#"{"procedure": {"ops": "5-87"}}"#, &[5]),
        (r#"{"procedure": {"ops": "5", "to": "2018-12-31"}}"#, &[5, 11]),
    ];
    check(store, cases);
}

pub fn imaging_series_and_diagnosis_windows(backend: &dyn Backend) {
    let (store, _) = open(backend);
    let store = &*store;
    let chest_ct = |window: &str| {
        format!(
            r#"{{"imaging": {{"modality": ["CT"], "body_part": "CHEST", "after_diagnosis": {window}}}}}"#
        )
    };
    // Chest CTs: 1 before its diagnosis, 4 on day 0, 6 on day 90, 5 on day 91,
    // 9 after an undated diagnosis.
    let windows = [
        (chest_ct(r#"{"max_days": 90}"#), vec![4, 6]),
        (
            chest_ct(r#"{"min_days": 0, "max_days": 91}"#),
            vec![4, 5, 6],
        ),
        (chest_ct(r#"{"min_days": 1, "max_days": 90}"#), vec![6]),
        (chest_ct(r#"{"min_days": 0, "max_days": 0}"#), vec![4]),
        (chest_ct(r#"{"min_days": 91, "max_days": 36500}"#), vec![5]),
        (chest_ct(r#"{"icd10": "C34", "max_days": 90}"#), vec![4]), // ICD-10 WHO counts
        (chest_ct(r#"{"icd10": "C50", "max_days": 91}"#), vec![5, 6]),
        (chest_ct(r#"{"icd10": "C92", "max_days": 36500}"#), vec![]),
    ];
    for (json, expected) in &windows {
        check(store, &[(json, expected)]);
    }
    #[rustfmt::skip]
    let cases: &[(&str, &[u8])] = &[
        (r#"{"imaging": {"modality": ["CT"]}}"#, &[1, 4, 5, 6, 9, 12]), // not the slice thickness
        (r#"{"imaging": {"modality": ["CT"], "body_part": "chest"}}"#, &[1, 4, 5, 6, 9]), // any case
        (r#"{"imaging": {"modality": ["CT"], "body_part": "CHES"}}"#, &[]), // equal, not a prefix
        (r#"{"imaging": {"modality": ["CT", "MR"], "body_part": "HEAD"}}"#, &[1]),
        (r#"{"imaging": {"modality": ["US", "PT"]}}"#, &[3]),
        (r#"{"imaging": {"modality": ["CT"], "from": "2020-01-01", "to": "2021-12-31"}}"#, &[1, 9, 12]),
        (r#"{"imaging": {"modality": ["CT"], "after_diagnosis": {"max_days": 36500}}}"#, &[4, 5, 6, 12]),
        (r#"{"imaging": {"modality": ["US"], "after_diagnosis": {"max_days": 30}}}"#, &[3]), // after I10
        (r#"{"imaging": {"modality": ["US"], "after_diagnosis": {"icd10": "C92", "max_days": 36500}}}"#, &[]),
        (r#"{"imaging": {"modality": ["MR"], "after_diagnosis": {"icd10": "C92.0", "min_days": 14, "max_days": 14}}}"#, &[1]),
        (r#"{"imaging": {"modality": ["MR"], "after_diagnosis": {"min_days": 15, "max_days": 90}}}"#, &[]),
    ];
    check(store, cases);
}

pub fn combinators(backend: &dyn Backend) {
    let (store, _) = open(backend);
    let store = &*store;
    let example = r#"{"and": [
        {"diagnosis": {"icd10": "C92.0"}},
        {"age_at_diagnosis": {"min": 18, "max": 65}},
        {"sex": "female"},
        {"not": {"marker": {"gene": "HGNC:3765", "present": true}}},
        {"lab": {"loinc": "718-7", "unit": "g/dL", "op": "<", "value": 10}},
        {"or": [{"stage": {"group": ["III", "IIIA", "IIIB", "IV"]}}, {"ecog": {"max": 2}}]}
    ]}"#;
    #[rustfmt::skip]
    let cases: &[(&str, &[u8])] = &[
        (example, &[]), // the two C92.0 women of working age are both FLT3+
        (r#"{"and": [{"diagnosis": {"icd10": "C92"}}, {"sex": "female"},
                     {"or": [{"marker": {"gene": "HGNC:3765", "present": true}},
                             {"lab": {"loinc": "718-7", "unit": "g/dL", "op": "<", "value": 10}}]},
                     {"not": {"vital_status": "deceased"}}]}"#, &[1, 10]),
        (r#"{"or": [{"and": [{"sex": "male"}, {"vital_status": "deceased"}]},
                    {"stage": {"group": ["IV"]}},
                    {"not": {"diagnosis": {}}}]}"#, &[4, 6, 8, 11]),
        (r#"{"not": {"not": {"sex": "female"}}}"#, &[1, 3, 5, 6, 10]),
        (r#"{"and": [{"sex": "female"}, {"sex": "male"}]}"#, &[]),
        (r#"{"or": [{"sex": "female"}, {"not": {"sex": "female"}}]}"#, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
        (r#"{"not": {"age_at_diagnosis": {"min": 18, "max": 65}}}"#, &[4, 7, 8, 9]), // unknown age: not in range
        (r#"{"not": {"marker": {"gene": "HGNC:3765", "present": true}}}"#, &[2, 3, 4, 5, 6, 7, 8, 9, 11, 12]),
    ];
    check(store, cases);
}

pub fn injection_attempts_match_nothing_and_harm_nothing(backend: &dyn Backend) {
    let (store, _) = open(backend);
    let store = &*store;
    for json in [
        r#"{"diagnosis": {"icd10": "C92' OR 1=1 --"}}"#,
        r#"{"diagnosis": {"icd10": "C92%"}}"#,
        r#"{"diagnosis": {"icd10": "C9_.0"}}"#,
        r#"{"marker": {"gene": "HGNC:3765' OR '1'='1", "present": true}}"#,
        r#"{"lab": {"loinc": "718-7", "unit": "g/dL'); DROP TABLE fact; --", "op": "<", "value": 10}}"#,
        r#"{"tnm": {"t": ["%"], "n": ["') OR 1=1 OR ('"]}}"#,
        r#"{"therapy": {"atc": "L01%"}}"#,
        r#"{"stage": {"group": ["IV' OR '1'='1"]}}"#,
        r#"{"imaging": {"modality": ["CT' OR 1=1 --"], "body_part": "CHEST') OR ('1'='1"}}"#,
        r#"{"imaging": {"modality": ["%"], "after_diagnosis": {"icd10": "C%", "max_days": 90}}}"#,
    ] {
        let c = parse(json);
        assert!(c.validate().is_err(), "validation should reject {json}");
        assert_eq!(run(store, &c), Vec::<u8>::new(), "{json}");
    }
    assert_eq!(store.stats().unwrap().patients, 12);
    assert_eq!(
        run(store, &parse(r#"{"diagnosis": {"icd10": "C92"}}"#)),
        [1, 2, 3, 7, 10]
    );
}

/// The `cytology` leaf over the per-smear facts: specimen, blast bounds
/// (inclusive), a class present at least once, collection dates.
#[rustfmt::skip]
pub fn cytology_smears_blasts_and_classes(backend: &dyn Backend) {
    let (store, _) = open(backend);
    let cases: &[(&str, &[u8])] = &[
        (r#"{"cytology": {}}"#, &[1, 2, 10]),
        (r#"{"cytology": {"specimen": "bone-marrow"}}"#, &[1, 10]),
        (r#"{"cytology": {"blast_percent_min": 20}}"#, &[1, 2]), // 20 is inclusive
        (r#"{"cytology": {"blast_percent_min": 21}}"#, &[1]),
        (r#"{"cytology": {"blast_percent_max": 20}}"#, &[2]), // 10 has no percentage
        (r#"{"cytology": {"specimen": "peripheral-blood", "blast_percent_min": 30}}"#, &[]),
        (r#"{"cytology": {"class": "lymphocyte"}}"#, &[2]), // a zero count is not presence
        (r#"{"cytology": {"class": "myeloblast", "blast_percent_min": 40}}"#, &[1]),
        (r#"{"cytology": {"from": "2021-01-01"}}"#, &[2]), // the undated smear never matches
        (r#"{"not": {"cytology": {"specimen": "bone-marrow"}}}"#, &[2, 3, 4, 5, 6, 7, 8, 9, 11, 12]),
    ];
    check(&*store, cases);
}
