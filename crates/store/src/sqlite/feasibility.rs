//! Runs the shared feasibility compiler ([`crate::feasibility`]) on SQLite.

use super::codec;
use crate::StoreError;
use crate::columns::pseudonym;
use crate::feasibility::{Dialect, compile};
use oncofed_criteria::Criteria;
use oncofed_model::Pseudonym;
use rusqlite::Connection;

/// Runs the compiled statement: matching patients as (site, research) pseudonyms.
pub(super) fn run(
    conn: &Connection,
    criteria: &Criteria,
) -> Result<Vec<(Pseudonym, Pseudonym)>, StoreError> {
    let (sql, args) = compile(criteria, Dialect::Sqlite);
    // Not prepare_cached: statements differ per query and would evict the ingest's.
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(codec::values(&args)))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let psn: String = row.get(0)?;
        let research: String = row.get(1)?;
        out.push((
            pseudonym("psn", &psn)?,
            pseudonym("research_psn", &research)?,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sub_query_is_served_by_the_kind_code_index() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut conn).unwrap();
        let c: Criteria = serde_json::from_str(
            r#"{"and": [{"diagnosis": {"icd10": "C92", "morphology": "986"}}, {"age_at_diagnosis": {"min": 18}},
                        {"not": {"marker": {"gene": "HGNC:3765", "present": true}}}, {"stage": {"group": ["IV"]}},
                        {"lab": {"loinc": "718-7", "unit": "g/dL", "op": "<", "value": 10}}, {"tnm": {"t": ["T3"]}},
                        {"ecog": {"max": 2}}, {"therapy": {"atc": "L01"}}, {"procedure": {"ops": "8-805"}}]}"#,
        )
        .unwrap();
        let (sql, args) = compile(&c, Dialect::Sqlite);
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let plan: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(codec::values(&args)), |r| {
                r.get::<_, String>(3)
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let fact_steps: Vec<&String> = plan.iter().filter(|s| s.contains(" f ")).collect();
        assert_eq!(fact_steps.len(), 10, "{plan:#?}");
        // The age leaf groups by patient from the index ordered that way
        // (migration 7), so no temporary B-tree sorts it; every other leaf
        // seeks by kind and code.
        let (age, others): (Vec<&String>, Vec<&String>) = fact_steps
            .into_iter()
            .partition(|s| s.contains("fact_kind_psn_start"));
        assert_eq!(age.len(), 1, "{plan:#?}");
        assert!(
            age[0].contains("COVERING INDEX fact_kind_psn_start (kind=?"),
            "{}",
            age[0]
        );
        for step in others {
            assert!(step.contains("fact_kind_code (kind=?"), "{step}");
        }
        assert!(
            !plan.iter().any(|s| s.contains("TEMP B-TREE FOR GROUP BY")),
            "{plan:#?}"
        );
    }

    #[test]
    fn the_imaging_window_seeks_the_patients_diagnoses_by_index() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut conn).unwrap();
        let c: Criteria = serde_json::from_str(
            r#"{"imaging": {"modality": ["CT"], "body_part": "CHEST", "after_diagnosis": {"max_days": 90}}}"#,
        )
        .unwrap();
        let (sql, args) = compile(&c, Dialect::Sqlite);
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let plan: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(codec::values(&args)), |r| {
                r.get::<_, String>(3)
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let series: Vec<&String> = plan.iter().filter(|s| s.contains(" f ")).collect();
        let diagnoses: Vec<&String> = plan.iter().filter(|s| s.contains(" d ")).collect();
        assert_eq!((series.len(), diagnoses.len()), (1, 1), "{plan:#?}");
        assert!(series[0].contains("fact_kind_code (kind=?"), "{plan:#?}");
        // Correlated on (kind, psn): one patient's diagnoses, not every diagnosis.
        assert!(
            diagnoses[0].contains("fact_kind_psn_start (kind=? AND psn=?"),
            "{plan:#?}"
        );
    }
}
