//! The compiler's SQL text: parameters only, dialect forms.

use super::*;

const INJECTION: &str = r#"{"and": [{"diagnosis": {"icd10": "C92' OR 1=1 --"}},
                    {"lab": {"loinc": "718-7\"; DROP TABLE fact; --", "unit": "g/dL'", "op": "<", "value": 10}},
                    {"tnm": {"t": ["T1') OR ('1'='1"]}}]}"#;

#[test]
fn user_values_only_ever_appear_as_parameters() {
    let c: Criteria = serde_json::from_str(INJECTION).unwrap();
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let (sql, args) = compile(&c, dialect);
        for needle in ["C92", "DROP", "g/dL", "T1", "'", "\"", "--", "718"] {
            assert!(!sql.contains(needle), "{needle} leaked into {sql}");
        }
        assert!(args.contains(&Param::Text("C92' OR 1=1 --".into())));
        match dialect {
            Dialect::Sqlite => assert_eq!(sql.matches('?').count(), args.len()),
            Dialect::Postgres => {
                assert!(!sql.contains('?'), "{sql}");
                assert_eq!(sql.matches('$').count(), args.len());
                for n in 1..=args.len() {
                    assert!(sql.contains(&format!("${n}")), "${n} missing in {sql}");
                }
            }
        }
    }
}

#[test]
fn postgres_statements_use_booleans_and_typed_parameters() {
    let c: Criteria = serde_json::from_str(
        r#"{"or": [{"and": []}, {"or": []}, {"age_at_diagnosis": {"min": 18}},
                   {"ecog": {"max": 2}}, {"therapy": {"atc": ""}}]}"#,
    )
    .unwrap();
    let (sql, args) = compile(&c, Dialect::Postgres);
    assert!(sql.contains("(TRUE OR FALSE OR "), "{sql}");
    for int_truth in ["WHERE 1", "WHERE 0", "(0", "((1", "AND 0"] {
        assert!(!sql.contains(int_truth), "{int_truth} in {sql}");
    }
    assert!(
        sql.contains("AS BIGINT) - MIN(b.birth_year) BETWEEN"),
        "{sql}"
    );
    assert!(args.contains(&Param::Int64(18)) && args.contains(&Param::Int64(i64::MAX)));
    assert!(args.contains(&Param::Real(2.0)));
    // The empty prefix has no successor: `substr` with an int4 length.
    assert!(sql.contains("substr(f.code, 1, $"), "{sql}");
    assert!(args.contains(&Param::Int32(0)));
}

#[test]
fn prefix_successors_bound_exactly_the_prefixed_strings() {
    assert_eq!(successor("C92"), Some("C93".into()));
    assert_eq!(successor("C9"), Some("C:".into()));
    assert_eq!(successor("8-80"), Some("8-81".into()));
    assert_eq!(successor(""), None);
    assert_eq!(successor("a\u{10FFFF}"), Some("b".into()));
    assert_eq!(successor("\u{D7FF}"), Some("\u{E000}".into()));
    for code in ["C92", "C92.0", "C92.00", "C92\u{10FFFF}"] {
        assert!(code >= "C92" && code < successor("C92").unwrap().as_str());
    }
    assert!("C93" >= successor("C92").unwrap().as_str());
}

#[test]
fn empty_lists_are_identities() {
    let sqlite = |c| compile(&c, Dialect::Sqlite).0;
    assert!(sqlite(Criteria::And(vec![])).contains("WHERE 1 ORDER"));
    assert!(sqlite(Criteria::Or(vec![])).contains("WHERE 0 ORDER"));
    let postgres = |c| compile(&c, Dialect::Postgres).0;
    assert!(postgres(Criteria::And(vec![])).contains("WHERE TRUE ORDER"));
    assert!(postgres(Criteria::Or(vec![])).contains("WHERE FALSE ORDER"));
}

#[test]
fn the_imaging_window_is_correlated_and_dialect_specific() {
    let c: Criteria = serde_json::from_str(
        r#"{"imaging": {"modality": ["CT", "MR"], "body_part": "chest",
            "after_diagnosis": {"icd10": "C34", "min_days": 0, "max_days": 90}}}"#,
    )
    .unwrap();
    let (sqlite, args) = compile(&c, Dialect::Sqlite);
    assert!(
        sqlite.contains("(julianday(f.start_date) - julianday(d.start_date)) BETWEEN ? AND ?"),
        "{sqlite}"
    );
    assert!(sqlite.contains("EXISTS (SELECT 1 FROM fact d WHERE d.psn = f.psn"));
    // ("CT" is in "SELECT": the values are checked among the arguments.)
    for needle in ["MR", "CHEST", "chest", "C34", "90", "'"] {
        assert!(!sqlite.contains(needle), "{needle} leaked into {sqlite}");
    }
    assert!(args.contains(&Param::Text("CT".into())) && args.contains(&Param::Text("C34".into())));
    // The body part is bound upper case; the day bounds as int4.
    assert!(args.contains(&Param::Text("CHEST".into())));
    assert!(args.contains(&Param::Int32(0)) && args.contains(&Param::Int32(90)));
    let (postgres, pargs) = compile(&c, Dialect::Postgres);
    assert!(
        postgres.contains("(CAST(f.start_date AS DATE) - CAST(d.start_date AS DATE)) BETWEEN $"),
        "{postgres}"
    );
    assert_eq!(postgres.matches('$').count(), pargs.len());
    assert_eq!(args, pargs);
}
