//! Feasibility criteria compiled to SQL: every leaf and combinator against a
//! hand-made cohort of 12 patients, random trees against an in-memory reference
//! evaluator of the documented semantics, and injection attempts.

use chrono::{Datelike, NaiveDate};
use oncofed_model::CodeSystem::{Atc, Ecog, Hgnc, Icd10Gm, Icd10Who, IcdO3, Loinc, Ops, RxNorm, Snomed, Tnm};
use oncofed_model::*;
use oncofed_protocol::{Criteria, TnmAxis};
use oncofed_store::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::collections::BTreeSet;

const HB: &str = "718-7";
const STAGE: &str = "21908-9";
const ECOG: &str = "89247-1";
const HISTO: &str = "59847-4";
const FLT3: &str = "HGNC:3765";
const NPM1: &str = "HGNC:7910";

fn psn(n: u8) -> Pseudonym {
    Pseudonym::from_digest(&[n; 10])
}

fn date(s: &str) -> Option<NaiveDate> {
    (!s.is_empty()).then(|| s.parse().unwrap())
}

fn fact(kind: FactKind, code: Coding, value: FactValue, start: &str) -> Fact {
    let category = if kind == FactKind::Molecular { DataCategory::Genetic } else { DataCategory::Clinical };
    Fact { kind, code, modifier: None, value, start: date(start), end: None, category, level: category.intrinsic_level() }
}

fn diag(system: CodeSystem, code: &str, start: &str) -> Fact {
    fact(FactKind::Diagnosis, Coding::new(system, code), FactValue::None, start)
}

fn coded(loinc: &str, system: CodeSystem, code: &str, start: &str) -> Fact {
    let value = FactValue::Code(Coding::new(system, code));
    fact(FactKind::Observation, Coding::new(Loinc, loinc), value, start)
}

fn num(loinc: &str, value: f64, unit: &str, start: &str) -> Fact {
    let value = FactValue::Quantity { value, unit: unit.into() };
    fact(FactKind::Observation, Coding::new(Loinc, loinc), value, start)
}

fn gene(hgnc: &str, present: bool, start: &str) -> Fact {
    let answer = Coding::new(Loinc, if present { "LA9633-4" } else { "LA9634-2" });
    fact(FactKind::Molecular, Coding::new(Hgnc, hgnc), FactValue::Code(answer), start)
}

fn drug(system: CodeSystem, code: &str, start: &str) -> Fact {
    fact(FactKind::Medication, Coding::new(system, code), FactValue::None, start)
}

fn ops(code: &str, start: &str) -> Fact {
    fact(FactKind::Procedure, Coding::new(Ops, code), FactValue::None, start)
}

fn tnm(axis: TnmAxis, code: &str, start: &str) -> Fact {
    coded(axis.loinc(), Tnm, code, start)
}

/// The cohort: (patient, facts). Ages at the earliest dated diagnosis in comments.
fn cohort() -> Vec<(PatientRow, Vec<Fact>)> {
    use Sex::{Female as F, Male as M};
    use TnmAxis::{M as Mx, N as Nx, T as Tx};
    use VitalStatus::{Alive, Deceased};
    let patient = |n: u8, sex, birth_year, vital_status| PatientRow {
        pseudonym: psn(n),
        research_pseudonym: psn(n + 100),
        demographics: Demographics { sex, birth_year, vital_status, death_date: None, last_contact: None },
    };
    vec![
        // 1: AML, age 60, FLT3+, NPM1−, Hb 8.5, ECOG 1, midostaurin-like ATC, SCT.
        (patient(1, F, Some(1960), Alive), vec![
            diag(Icd10Gm, "C92.0", "2020-03-01"), coded(HISTO, IcdO3, "9861/3", "2020-03-01"),
            gene(FLT3, true, "2020-03-05"), gene(NPM1, false, "2020-03-05"), num(HB, 8.5, "g/dL", "2020-03-01"),
            coded(ECOG, Ecog, "1", "2020-03-02"), drug(Atc, "L01XC24", "2020-03-10"), ops("8-805.0", "2020-09-01"),
        ]),
        // 2: AML, age 31, FLT3−, NPM1+, Hb 12, ECOG 0, cytarabine.
        (patient(2, M, Some(1990), Alive), vec![
            diag(Icd10Gm, "C92.0", "2021-05-01"), gene(FLT3, false, "2021-05-03"), gene(NPM1, true, "2021-05-03"),
            num(HB, 12.0, "g/dL", "2021-05-01"), coded(ECOG, Ecog, "0", "2021-05-01"), drug(Atc, "L01BC01", "2021-05-05"),
        ]),
        // 3: hypertension at 60, CML at 65, Hb in g/L, never tested.
        (patient(3, F, Some(1950), Deceased), vec![
            diag(Icd10Gm, "I10", "2010-06-01"), diag(Icd10Gm, "C92.1", "2015-01-01"), num(HB, 105.0, "g/L", "2015-01-01"),
        ]),
        // 4: NSCLC coded in ICD-10 WHO, age 74, IIIA T3 N2 M0, ECOG 2, EGFR+.
        (patient(4, M, Some(1945), Deceased), vec![
            diag(Icd10Who, "C34.1", "2019-06-01"), coded(STAGE, Tnm, "IIIA", "2019-06-02"), tnm(Tx, "T3", "2019-06-02"),
            tnm(Nx, "N2", "2019-06-02"), tnm(Mx, "M0", "2019-06-02"), coded(ECOG, Ecog, "2", "2019-06-02"),
            gene("HGNC:3236", true, "2019-06-10"), drug(Atc, "L01XE03", "2019-07-01"), ops("5-324.1", "2019-06-20"),
        ]),
        // 5: breast, age 48, IIA T2 N0 M0, ECOG 0 as an integer, ERBB2+, trastuzumab, mastectomy.
        (patient(5, F, Some(1970), Alive), vec![
            diag(Icd10Gm, "C50.4", "2018-02-01"), coded(HISTO, IcdO3, "8500/3", "2018-02-01"),
            coded(STAGE, Tnm, "IIA", "2018-02-01"), tnm(Tx, "T2", "2018-02-01"), tnm(Nx, "N0", "2018-02-01"),
            tnm(Mx, "M0", "2018-02-01"), num(ECOG, 0.0, "1", "2018-02-01"), gene("HGNC:3430", true, "2018-02-05"),
            drug(Atc, "L01XC03", "2018-03-01"), ops("5-870.a", "2018-02-15"),
        ]),
        // 6: breast, age 42, IV T4b N3 M1, ECOG 3.
        (patient(6, F, Some(1980), Alive), vec![
            diag(Icd10Gm, "C50.9", "2022-01-01"), coded(STAGE, Tnm, "IV", "2022-01-02"), tnm(Tx, "T4b", "2022-01-02"),
            tnm(Nx, "N3", "2022-01-02"), tnm(Mx, "M1", "2022-01-02"), coded(ECOG, Ecog, "3", "2022-01-02"),
        ]),
        // 7: AML, birth year unknown (no age).
        (patient(7, M, None, Alive), vec![diag(Icd10Gm, "C92.0", "2020-01-01")]),
        // 8: no facts at all.
        (patient(8, Sex::Other, Some(2000), VitalStatus::Unknown), vec![]),
        // 9: undated SNOMED diagnosis, undated Hb 9.5.
        (patient(9, M, Some(1955), Alive), vec![diag(Snomed, "109989006", ""), num(HB, 9.5, "g/dL", "")]),
        // 10: AML, age 58, stage "III" (exactly), FLT3+, TP53+, ECOG 4, Hb exactly 10.
        (patient(10, F, Some(1965), Alive), vec![
            diag(Icd10Gm, "C92.0", "2023-07-01"), coded(STAGE, Tnm, "III", "2023-07-01"), gene(FLT3, true, "2023-07-02"),
            gene("HGNC:11998", true, "2023-07-02"), coded(ECOG, Ecog, "4", "2023-07-01"), num(HB, 10.0, "g/dL", "2023-07-01"),
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
            drug(RxNorm, "1791701", "2021-09-10"),
        ]),
    ]
}

fn open() -> (tempfile::TempDir, SqliteStore, Vec<(PatientRow, Vec<Fact>)>) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open_in(dir.path()).unwrap();
    let data = cohort();
    let mut batch = WriteBatch::default();
    for (p, facts) in &data {
        batch.patients.push(p.clone());
        for (i, f) in facts.iter().enumerate() {
            let key = FactKey::derive(&p.pseudonym, &format!("fact/{i}"));
            batch.facts.push(StoredFact { key, pseudonym: p.pseudonym.clone(), fact: f.clone() });
        }
    }
    store.write(&batch).unwrap();
    (dir, store, data)
}

fn parse(json: &str) -> Criteria {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

/// The patient numbers a query returns (checking the research pseudonyms on the way).
fn run(store: &SqliteStore, c: &Criteria) -> Vec<u8> {
    let rows = store.feasibility(c).unwrap_or_else(|e| panic!("{}: {e}", c.describe()));
    let mut out: Vec<u8> = (1..=12)
        .filter(|&n| rows.iter().any(|(site, _)| *site == psn(n)))
        .inspect(|&n| assert!(rows.contains(&(psn(n), psn(n + 100)))))
        .collect();
    assert_eq!(out.len(), rows.len(), "duplicate or unknown rows");
    out.sort_unstable();
    out
}

/// Checks each (JSON, expected patients) case, and that its negation returns the rest.
fn check(store: &SqliteStore, cases: &[(&str, &[u8])]) {
    for (json, expected) in cases {
        let c = parse(json);
        c.validate().unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(run(store, &c), *expected, "{json}");
        let rest: Vec<u8> = (1..=12).filter(|n| !expected.contains(n)).collect();
        assert_eq!(run(store, &Criteria::not(c)), rest, "NOT {json}");
    }
}

#[test]
fn diagnosis_and_age() {
    let (_dir, store, _) = open();
    check(&store, &[
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
    ]);
}

#[test]
fn demographics_staging_and_ecog() {
    let (_dir, store, _) = open();
    check(&store, &[
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
    ]);
}

#[test]
fn labs_markers_therapies_procedures() {
    let (_dir, store, _) = open();
    let hb = |op: &str, value: &str, unit: &str| format!(r#"{{"lab": {{"loinc": "718-7", "unit": "{unit}", "op": "{op}", "value": {value}}}}}"#);
    check(&store, &[
        (&hb("<", "10", "g/dL"), &[1, 9, 12]), // not 3: g/L is not converted
        (&hb("<=", "10", "g/dL"), &[1, 9, 10, 12]),
        (&hb("=", "10", "g/dL"), &[10]),
        (&hb("!=", "10", "g/dL"), &[1, 2, 9, 12]),
        (&hb(">=", "12", "g/dL"), &[2]),
        (&hb(">", "100", "g/L"), &[3]),
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
    ]);
}

#[test]
fn combinators() {
    let (_dir, store, _) = open();
    let example = r#"{"and": [
        {"diagnosis": {"icd10": "C92.0"}},
        {"age_at_diagnosis": {"min": 18, "max": 65}},
        {"sex": "female"},
        {"not": {"marker": {"gene": "HGNC:3765", "present": true}}},
        {"lab": {"loinc": "718-7", "unit": "g/dL", "op": "<", "value": 10}},
        {"or": [{"stage": {"group": ["III", "IIIA", "IIIB", "IV"]}}, {"ecog": {"max": 2}}]}
    ]}"#;
    check(&store, &[
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
    ]);
}

#[test]
fn injection_attempts_match_nothing_and_harm_nothing() {
    let (_dir, store, _) = open();
    for json in [
        r#"{"diagnosis": {"icd10": "C92' OR 1=1 --"}}"#,
        r#"{"diagnosis": {"icd10": "C92%"}}"#,
        r#"{"diagnosis": {"icd10": "C9_.0"}}"#,
        r#"{"marker": {"gene": "HGNC:3765' OR '1'='1", "present": true}}"#,
        r#"{"lab": {"loinc": "718-7", "unit": "g/dL'); DROP TABLE fact; --", "op": "<", "value": 10}}"#,
        r#"{"tnm": {"t": ["%"], "n": ["') OR 1=1 OR ('"]}}"#,
        r#"{"therapy": {"atc": "L01%"}}"#,
        r#"{"stage": {"group": ["IV' OR '1'='1"]}}"#,
    ] {
        let c = parse(json);
        assert!(c.validate().is_err(), "validation should reject {json}");
        assert_eq!(run(&store, &c), Vec::<u8>::new(), "{json}");
    }
    assert_eq!(store.stats().unwrap().patients, 12);
    assert_eq!(run(&store, &parse(r#"{"diagnosis": {"icd10": "C92"}}"#)), [1, 2, 3, 7, 10]);
}

/// The documented semantics, evaluated directly on the cohort: the oracle for the SQL.
fn eval(c: &Criteria, p: &PatientRow, facts: &[Fact]) -> bool {
    let dated = |f: &Fact, from: Option<NaiveDate>, to: Option<NaiveDate>| {
        (from.is_none() && to.is_none())
            || f.start.is_some_and(|d| from.is_none_or(|a| d >= a) && to.is_none_or(|b| d <= b))
    };
    let value = |f: &Fact| match &f.value {
        FactValue::Code(c) => Some(c.clone()),
        _ => None,
    };
    let obs = |loinc: &str| {
        let loinc = loinc.to_owned();
        facts.iter().filter(move |f| f.kind == FactKind::Observation && f.code == Coding::new(Loinc, &loinc))
    };
    let icd10 = |f: &Fact, prefix: &Option<String>| {
        prefix.as_ref().is_none_or(|x| matches!(f.code.system, Icd10Gm | Icd10Who) && f.code.code.starts_with(x.as_str()))
    };
    let coded = |f: &Fact, system: CodeSystem, ok: &dyn Fn(&str) -> bool| {
        value(f).is_some_and(|c| c.system == system && ok(&c.code))
    };
    let with = |kind: FactKind, system: CodeSystem, prefix: &str, from, to| {
        facts.iter().any(|f| f.kind == kind && f.code.system == system && f.code.code.starts_with(prefix) && dated(f, from, to))
    };
    match c {
        Criteria::And(v) => v.iter().all(|c| eval(c, p, facts)),
        Criteria::Or(v) => v.iter().any(|c| eval(c, p, facts)),
        Criteria::Not(c) => !eval(c, p, facts),
        Criteria::Diagnosis(d) => {
            facts.iter().any(|f| f.kind == FactKind::Diagnosis && icd10(f, &d.icd10) && dated(f, d.from, d.to))
                && d.morphology.as_ref().is_none_or(|m| obs(HISTO).any(|f| coded(f, IcdO3, &|c| c.starts_with(m.as_str()))))
        }
        Criteria::AgeAtDiagnosis(a) => {
            let first = facts.iter().filter(|f| f.kind == FactKind::Diagnosis && icd10(f, &a.icd10)).filter_map(|f| f.start).min();
            match (first, p.demographics.birth_year) {
                (Some(d), Some(born)) => {
                    let age = i64::from(d.year() - born);
                    a.min.is_none_or(|m| age >= i64::from(m)) && a.max.is_none_or(|m| age <= i64::from(m))
                }
                _ => false,
            }
        }
        Criteria::Sex(s) => p.demographics.sex == *s,
        Criteria::VitalStatus(v) => p.demographics.vital_status == *v,
        Criteria::Stage(s) => obs(STAGE).any(|f| dated(f, s.from, s.to) && coded(f, Tnm, &|c| s.group.iter().any(|g| g == c))),
        Criteria::Tnm(t) => TnmAxis::ALL.into_iter().filter(|&a| !t.axis(a).is_empty()).all(|a| {
            obs(a.loinc()).any(|f| dated(f, t.from, t.to) && coded(f, Tnm, &|c| t.axis(a).iter().any(|x| c.starts_with(x.as_str()))))
        }),
        Criteria::Ecog(e) => {
            let (min, max) = (e.min.unwrap_or(0), e.max.unwrap_or(5));
            obs(ECOG).any(|f| {
                dated(f, e.from, e.to)
                    && match &f.value {
                        FactValue::Code(c) => c.system == Ecog && c.code.parse::<u8>().is_ok_and(|g| (min..=max).contains(&g)),
                        FactValue::Quantity { value, .. } => (f64::from(min)..=f64::from(max)).contains(value),
                        FactValue::None => false,
                    }
            })
        }
        Criteria::Lab(l) => obs(&l.loinc).any(|f| {
            dated(f, l.from, l.to) && matches!(&f.value, FactValue::Quantity { value, unit } if *unit == l.unit && l.op.holds(*value, l.value))
        }),
        Criteria::Marker(m) => facts.iter().any(|f| {
            f.kind == FactKind::Molecular && f.code == Coding::new(Hgnc, &m.gene) && dated(f, m.from, m.to)
                && coded(f, Loinc, &|c| c == m.answer())
        }),
        Criteria::Therapy(t) => with(FactKind::Medication, Atc, &t.atc, t.from, t.to),
        Criteria::Procedure(pr) => with(FactKind::Procedure, Ops, &pr.ops, pr.from, pr.to),
    }
}

/// Valid leaves over the cohort's codes, so that random trees select non-trivial sets.
fn leaf() -> impl Strategy<Value = Criteria> {
    let day = prop::option::of(prop::sample::select(vec!["2015-01-01", "2019-06-02", "2020-03-01", "2021-09-01", "2023-12-31"]));
    let range = (day.clone(), day).prop_map(|(a, b)| {
        let (a, b) = (a.and_then(date), b.and_then(date));
        match (a, b) {
            (Some(x), Some(y)) if x > y => (Some(y), Some(x)),
            other => other,
        }
    });
    let pick = |v: &[&'static str]| prop::sample::select(v.to_vec()).prop_map(str::to_owned);
    let bounds = |hi: u32| (prop::option::of(0..=hi), prop::option::of(0..=hi)).prop_map(|(a, b)| match (a, b) {
        (Some(x), Some(y)) if x > y => (Some(y), Some(x)),
        other => other,
    });
    prop_oneof![
        (prop::option::of(pick(&["C", "C9", "C92", "C92.0", "C92.1", "C34", "C50", "D46", "I10"])),
            prop::option::of(pick(&["986", "9861/3", "8500"])), range.clone())
            .prop_map(|(icd10, morphology, (from, to))| parse(&serde_json::json!({"diagnosis":
                {"icd10": icd10, "morphology": morphology, "from": from, "to": to}}).to_string())),
        (bounds(80), prop::option::of(pick(&["C92", "C5"]))).prop_filter("a bound", |((a, b), _)| a.is_some() || b.is_some())
            .prop_map(|((min, max), icd10)| parse(&serde_json::json!({"age_at_diagnosis": {"min": min, "max": max, "icd10": icd10}}).to_string())),
        pick(&["female", "male", "other", "unknown"]).prop_map(|s| parse(&format!(r#"{{"sex": "{s}"}}"#))),
        pick(&["alive", "deceased", "unknown"]).prop_map(|s| parse(&format!(r#"{{"vital_status": "{s}"}}"#))),
        (prop::sample::subsequence(vec!["III", "IIIA", "IIIB", "IIA", "IV"], 1..=3), range.clone())
            .prop_map(|(g, (from, to))| parse(&serde_json::json!({"stage": {"group": g, "from": from, "to": to}}).to_string())),
        (prop::sample::subsequence(vec!["T2", "T3", "T4", "pT3"], 0..=2), prop::sample::subsequence(vec!["N0", "N1", "N3"], 0..=2),
            prop::sample::subsequence(vec!["M0", "M1"], 0..=1))
            .prop_filter("an axis", |(t, n, m)| !(t.is_empty() && n.is_empty() && m.is_empty()))
            .prop_map(|(t, n, m)| parse(&serde_json::json!({"tnm": {"t": t, "n": n, "m": m}}).to_string())),
        (bounds(5), range.clone()).prop_map(|((min, max), (from, to))| parse(&serde_json::json!({"ecog":
            {"min": min, "max": max, "from": from, "to": to}}).to_string())),
        (pick(&["g/dL", "g/L"]), pick(&["<", "<=", "=", ">=", ">", "!="]), prop::sample::select(vec![8.5, 9.0, 10.0, 12.0, 105.0]), range.clone())
            .prop_map(|(unit, op, value, (from, to))| parse(&serde_json::json!({"lab":
                {"loinc": HB, "unit": unit, "op": op, "value": value, "from": from, "to": to}}).to_string())),
        (pick(&[FLT3, NPM1, "HGNC:11998", "HGNC:1097"]), any::<bool>(), range.clone())
            .prop_map(|(gene, present, (from, to))| parse(&serde_json::json!({"marker":
                {"gene": gene, "present": present, "from": from, "to": to}}).to_string())),
        (pick(&["L", "L01", "L01XC", "L01BC01", "L01XE"]), range.clone())
            .prop_map(|(atc, (from, to))| parse(&serde_json::json!({"therapy": {"atc": atc, "from": from, "to": to}}).to_string())),
        (pick(&["8-805", "5", "5-87", "5-4"]), range)
            .prop_map(|(ops, (from, to))| parse(&serde_json::json!({"procedure": {"ops": ops, "from": from, "to": to}}).to_string())),
    ]
}

fn tree() -> impl Strategy<Value = Criteria> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(Criteria::And),
            prop::collection::vec(inner.clone(), 1..4).prop_map(Criteria::Or),
            inner.prop_map(Criteria::not),
        ]
    })
}

#[test]
fn random_trees_match_the_reference_and_negation_complements() {
    let (_dir, store, data) = open();
    let all: BTreeSet<u8> = (1..=12).collect();
    let mut runner = TestRunner::new(Config { cases: 400, ..Config::default() });
    runner
        .run(&tree(), |c| {
            prop_assert!(c.validate().is_ok(), "{}", c.describe());
            let yes: BTreeSet<u8> = run(&store, &c).into_iter().collect();
            let no: BTreeSet<u8> = run(&store, &Criteria::not(c.clone())).into_iter().collect();
            prop_assert!(yes.is_disjoint(&no), "{}", c.describe());
            prop_assert_eq!(yes.union(&no).copied().collect::<BTreeSet<u8>>(), all.clone());
            let expected: BTreeSet<u8> =
                data.iter().enumerate().filter(|(_, (p, f))| eval(&c, p, f)).map(|(i, _)| i as u8 + 1).collect();
            prop_assert_eq!(yes, expected, "{}", c.canonical_json());
            Ok(())
        })
        .unwrap();
}
