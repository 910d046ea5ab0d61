//! The SQLite research store: round trips, idempotency, atomicity, deletion.

use chrono::NaiveDate;
use oncofed_model::*;
use oncofed_store::*;

fn psn(n: u8) -> Pseudonym {
    Pseudonym::from_digest(&[n; 10])
}

fn patient(n: u8) -> PatientRow {
    PatientRow {
        pseudonym: psn(n),
        research_pseudonym: psn(n.wrapping_add(100)),
        demographics: Demographics {
            sex: Sex::Female,
            birth_year: Some(1950 + i32::from(n)),
            vital_status: VitalStatus::Alive,
            death_date: None,
            last_contact: NaiveDate::from_ymd_opt(2025, 1, 2),
        },
    }
}

fn fact(n: u8, source: &str, code: &str, category: DataCategory) -> StoredFact {
    StoredFact {
        key: FactKey::derive(&psn(n), source),
        pseudonym: psn(n),
        fact: Fact {
            kind: FactKind::Diagnosis,
            code: Coding::new(CodeSystem::Icd10Gm, code),
            modifier: Some(Coding::new(CodeSystem::IcdO3, "C42.1")),
            value: FactValue::Quantity {
                value: 12.5,
                unit: "g/dL".into(),
            },
            start: NaiveDate::from_ymd_opt(2020, 5, 1),
            end: None,
            category,
            level: category.intrinsic_level(),
        },
    }
}

fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_in(dir.path()).unwrap();
    (dir, store)
}

#[test]
fn round_trip_and_filters() {
    let (_dir, mut store) = open();
    let batch = WriteBatch {
        patients: vec![patient(1), patient(2)],
        facts: vec![
            fact(1, "Condition/a", "C92.0", DataCategory::Clinical),
            fact(2, "Condition/b", "C50.4", DataCategory::Clinical),
            fact(2, "Observation/c", "C92.1", DataCategory::Genetic),
        ],
    };
    let out = store.write(&batch).unwrap();
    assert_eq!(
        out,
        WriteOutcome {
            patients_new: 2,
            facts_new: 3,
            facts_existing: 0
        }
    );
    let c92 = store
        .facts(&FactFilter {
            code_prefix: Some("C92".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(c92.len(), 2);
    let genetic = store
        .facts(&FactFilter {
            category: Some(DataCategory::Genetic),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(genetic.len(), 1);
    assert_eq!(genetic[0], batch.facts[2]);
    let mut patients = Vec::new();
    store.for_each_patient(&mut |p| patients.push(p)).unwrap();
    assert_eq!(patients.len(), 2);
    assert!(patients.contains(&patient(1)));
    // A prefix with SQL wildcards matches literally.
    let none = store
        .facts(&FactFilter {
            code_prefix: Some("C9%".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(none.is_empty());
}

#[test]
fn rewriting_the_same_batch_is_idempotent() {
    let (_dir, mut store) = open();
    let batch = WriteBatch {
        patients: vec![patient(1)],
        facts: vec![fact(1, "Condition/a", "C92.0", DataCategory::Clinical)],
    };
    store.write(&batch).unwrap();
    let again = store.write(&batch).unwrap();
    assert_eq!(
        again,
        WriteOutcome {
            patients_new: 0,
            facts_new: 0,
            facts_existing: 1
        }
    );
    assert_eq!(store.stats().unwrap().facts, 1);
}

#[test]
fn a_failing_batch_writes_nothing() {
    let (_dir, mut store) = open();
    // The second fact's patient does not exist: the foreign key fails the whole batch.
    let batch = WriteBatch {
        patients: vec![patient(1)],
        facts: vec![
            fact(1, "Condition/a", "C92.0", DataCategory::Clinical),
            fact(9, "Condition/x", "C92.0", DataCategory::Clinical),
        ],
    };
    assert!(store.write(&batch).is_err());
    let stats = store.stats().unwrap();
    assert_eq!((stats.patients, stats.facts), (0, 0));
}

#[test]
fn deleting_a_patient_removes_their_facts() {
    let (_dir, mut store) = open();
    let batch = WriteBatch {
        patients: vec![patient(1), patient(2)],
        facts: vec![
            fact(1, "a", "C92.0", DataCategory::Clinical),
            fact(2, "b", "C92.0", DataCategory::Clinical),
        ],
    };
    store.write(&batch).unwrap();
    let deleted = store.delete_patient(&psn(1)).unwrap();
    assert!(deleted.patient && deleted.facts > 0, "{deleted:?}");
    assert_eq!(
        store.delete_patient(&psn(1)).unwrap(),
        oncofed_store::Deleted::default()
    );
    let left = store.facts(&FactFilter::default()).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].pseudonym, psn(2));
    assert_eq!(store.existing_patients(&[psn(1), psn(2)]).unwrap().len(), 1);
}

#[test]
fn reopening_keeps_data_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = SqliteStore::open_in(dir.path()).unwrap();
        store
            .write(&WriteBatch {
                patients: vec![patient(3)],
                facts: vec![],
            })
            .unwrap();
    }
    let store = SqliteStore::open_in(dir.path()).unwrap();
    assert_eq!(store.schema_version().unwrap(), SqliteStore::SCHEMA_VERSION);
    assert_eq!(store.stats().unwrap().patients, 1);
}

/// Issue 9, defect 6: node data directories were 0755 and `research.db` 0644.
#[cfg(unix)]
#[test]
fn red_team_store_directory_and_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node").join("data");
    {
        let mut store = SqliteStore::open_in(&dir).unwrap();
        store
            .write(&WriteBatch {
                patients: vec![patient(1)],
                facts: vec![],
            })
            .unwrap();
        assert_eq!(mode(&tmp.path().join("node")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        for name in ["research.db", "research.db-wal", "research.db-shm"] {
            assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        }
    }
    // A store an older version left world-readable is tightened when opened.
    let db = dir.join("research.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = SqliteStore::open_in(&dir).unwrap();
    assert_eq!(mode(&db), 0o600);
    assert_eq!(store.stats().unwrap().patients, 1);
}

#[test]
fn the_privacy_ledger_charges_new_keys_all_or_none_and_survives_reopening() {
    let (dir, mut store) = open();
    let keys = |ks: &[&str]| ks.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    // Budget 0.3 at 0.1 a key: two strata fit, a repeat is free, a key twice in
    // one release is charged once.
    assert_eq!(
        store
            .charge_releases(&keys(&["a", "b", "a"]), 100_000, 300_000)
            .unwrap(),
        LedgerCharge::Charged {
            new: 2,
            spent: 200_000
        }
    );
    assert_eq!(
        store
            .charge_releases(&keys(&["b"]), 100_000, 300_000)
            .unwrap(),
        LedgerCharge::Repeat { spent: 200_000 }
    );
    // Two new strata would pass the budget: neither is recorded.
    assert_eq!(
        store
            .charge_releases(&keys(&["a", "c", "d"]), 100_000, 300_000)
            .unwrap(),
        LedgerCharge::Refused {
            spent: 200_000,
            needed: 200_000
        }
    );
    drop(store);
    let mut store = SqliteStore::open_in(dir.path()).unwrap();
    assert_eq!(
        store.ledger_totals().unwrap(),
        LedgerTotals {
            releases: 2,
            micro_epsilon: 200_000
        }
    );
    // Exactly at the budget is allowed, one more is not.
    assert!(matches!(
        store
            .charge_releases(&keys(&["c"]), 100_000, 300_000)
            .unwrap(),
        LedgerCharge::Charged {
            new: 1,
            spent: 300_000
        }
    ));
    assert!(matches!(
        store
            .charge_releases(&keys(&["d"]), 100_000, 300_000)
            .unwrap(),
        LedgerCharge::Refused { .. }
    ));
}
