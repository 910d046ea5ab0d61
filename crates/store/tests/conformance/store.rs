//! Round trips, idempotency, atomicity, deletion, the replay and privacy ledgers.

use super::Backend;
use chrono::NaiveDate;
use oncofed_model::*;
use oncofed_store::*;

pub fn psn(n: u8) -> Pseudonym {
    Pseudonym::from_digest(&[n; 10])
}

pub fn patient(n: u8) -> PatientRow {
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

pub fn fact(n: u8, source: &str, code: &str, category: DataCategory) -> StoredFact {
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

pub fn round_trip_and_filters(backend: &dyn Backend) {
    let mut store = backend.open();
    let batch = WriteBatch {
        patients: vec![patient(1), patient(2)],
        facts: vec![
            fact(1, "Condition/a", "C92.0", DataCategory::Clinical),
            fact(2, "Condition/b", "C50.4", DataCategory::Clinical),
            fact(2, "Observation/c", "C92.1", DataCategory::Genetic),
        ],
        ..Default::default()
    };
    let out = store.write(&batch).unwrap();
    assert_eq!(
        out,
        WriteOutcome {
            patients_new: 2,
            facts_new: 3,
            facts_existing: 0,
            ..Default::default()
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

pub fn rewriting_the_same_batch_is_idempotent(backend: &dyn Backend) {
    let mut store = backend.open();
    let batch = WriteBatch {
        patients: vec![patient(1)],
        facts: vec![fact(1, "Condition/a", "C92.0", DataCategory::Clinical)],
        ..Default::default()
    };
    store.write(&batch).unwrap();
    let again = store.write(&batch).unwrap();
    assert_eq!(
        again,
        WriteOutcome {
            patients_new: 0,
            facts_new: 0,
            facts_existing: 1,
            ..Default::default()
        }
    );
    assert_eq!(store.stats().unwrap().facts, 1);
}

pub fn a_failing_batch_writes_nothing(backend: &dyn Backend) {
    let mut store = backend.open();
    // The second fact's patient does not exist: the foreign key fails the whole batch.
    let batch = WriteBatch {
        patients: vec![patient(1)],
        facts: vec![
            fact(1, "Condition/a", "C92.0", DataCategory::Clinical),
            fact(9, "Condition/x", "C92.0", DataCategory::Clinical),
        ],
        ..Default::default()
    };
    assert!(store.write(&batch).is_err());
    let stats = store.stats().unwrap();
    assert_eq!((stats.patients, stats.facts), (0, 0));
}

pub fn deleting_a_patient_removes_their_facts(backend: &dyn Backend) {
    let mut store = backend.open();
    let batch = WriteBatch {
        patients: vec![patient(1), patient(2)],
        facts: vec![
            fact(1, "a", "C92.0", DataCategory::Clinical),
            fact(2, "b", "C92.0", DataCategory::Clinical),
        ],
        ..Default::default()
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

pub fn reopening_keeps_data_and_schema(backend: &dyn Backend) {
    {
        let mut store = backend.open();
        store
            .write(&WriteBatch {
                patients: vec![patient(3)],
                facts: vec![],
                ..Default::default()
            })
            .unwrap();
    }
    let store = backend.open();
    let (found, supported) = backend.schema_versions();
    assert_eq!(found, supported);
    assert_eq!(store.stats().unwrap().patients, 1);
    assert_eq!(store.existing_patients(&[psn(3)]).unwrap().len(), 1);
}

pub fn the_privacy_ledger_charges_new_keys_all_or_none_and_survives_reopening(
    backend: &dyn Backend,
) {
    let mut store = backend.open();
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
    let mut store = backend.open();
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

pub fn the_replay_ledger_refuses_repeats_until_expiry(backend: &dyn Backend) {
    let mut store = backend.open();
    let now = chrono::Utc::now();
    let later = now + chrono::Duration::hours(1);
    assert!(!store.task_remembered("t1").unwrap());
    assert!(store.remember_task("t1", later).unwrap());
    assert!(!store.remember_task("t1", later).unwrap(), "a replay");
    assert!(store.task_remembered("t1").unwrap());
    assert!(!store.task_remembered("t2").unwrap());
    // An expired entry is not remembered, and is purged by the next record.
    let past = now - chrono::Duration::seconds(5);
    assert!(store.remember_task("old", past).unwrap());
    assert!(!store.task_remembered("old").unwrap());
    assert!(store.remember_task("t2", later).unwrap());
    assert!(store.remember_task("old", later).unwrap(), "purged, so new");
    drop(store);
    let store = backend.open();
    assert!(store.task_remembered("t1").unwrap() && store.task_remembered("t2").unwrap());
}

pub fn scans_are_ordered_and_stats_count(backend: &dyn Backend) {
    let mut store = backend.open();
    let mut facts = vec![
        fact(2, "b", "C50.4", DataCategory::Clinical),
        fact(1, "a", "C92.0", DataCategory::Genetic),
        fact(1, "c", "C92.1", DataCategory::Clinical),
        fact(3, "d", "I10", DataCategory::Clinical),
    ];
    facts[3].fact.value = FactValue::Code(Coding::new(CodeSystem::Snomed, "123"));
    facts[3].fact.modifier = None;
    facts[3].fact.start = None;
    facts[3].fact.end = NaiveDate::from_ymd_opt(2021, 2, 3);
    let mut deceased = patient(3);
    deceased.demographics.vital_status = VitalStatus::Deceased;
    deceased.demographics.death_date = NaiveDate::from_ymd_opt(2024, 12, 31);
    deceased.demographics.birth_year = None;
    store
        .write(&WriteBatch {
            patients: vec![patient(2), deceased.clone(), patient(1)],
            facts: facts.clone(),
            ..Default::default()
        })
        .unwrap();
    let mut patients = Vec::new();
    store.for_each_patient(&mut |p| patients.push(p)).unwrap();
    let mut expected = vec![patient(1), patient(2), deceased];
    expected.sort_by(|a, b| a.pseudonym.as_str().cmp(b.pseudonym.as_str()));
    assert_eq!(patients, expected);
    let mut scanned = Vec::new();
    store.for_each_fact(&mut |f| scanned.push(f)).unwrap();
    facts.sort_by(|a, b| (a.pseudonym.as_str(), a.key.0).cmp(&(b.pseudonym.as_str(), b.key.0)));
    assert_eq!(scanned, facts);
    assert_eq!(store.facts(&FactFilter::default()).unwrap(), facts);
    let limited = store
        .facts(&FactFilter {
            limit: Some(2),
            kind: Some(FactKind::Diagnosis),
            system: Some(CodeSystem::Icd10Gm),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(limited, facts[..2]);
    let stats = store.stats().unwrap();
    assert_eq!((stats.patients, stats.facts), (3, 4));
    assert_eq!(
        stats.facts_by_category,
        vec![("clinical".to_string(), 3), ("genetic".to_string(), 1)]
    );
}

pub fn repeats_within_one_batch_count_once_and_the_last_wins(backend: &dyn Backend) {
    let mut store = backend.open();
    let first = fact(1, "a", "C92.0", DataCategory::Clinical);
    let mut second = first.clone();
    second.fact.code = Coding::new(CodeSystem::Icd10Gm, "C92.1");
    let mut older = patient(1);
    older.demographics.birth_year = Some(1999);
    let out = store
        .write(&WriteBatch {
            patients: vec![older, patient(1)],
            facts: vec![
                first.clone(),
                fact(1, "b", "C50.1", DataCategory::Clinical),
                second.clone(),
            ],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        out,
        WriteOutcome {
            patients_new: 1,
            facts_new: 2,
            facts_existing: 1,
            ..Default::default()
        }
    );
    let mut patients = Vec::new();
    store.for_each_patient(&mut |p| patients.push(p)).unwrap();
    assert_eq!(patients, [patient(1)]);
    let stored = store.facts(&FactFilter::default()).unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.contains(&second) && !stored.contains(&first));
    // Mixed: one existing (changed back), one new.
    let out = store
        .write(&WriteBatch {
            patients: vec![],
            facts: vec![first.clone(), fact(1, "c", "C18.7", DataCategory::Clinical)],
            ..Default::default()
        })
        .unwrap();
    assert_eq!((out.facts_new, out.facts_existing), (1, 1));
    assert!(
        store
            .facts(&FactFilter::default())
            .unwrap()
            .contains(&first)
    );
}

pub fn a_large_batch_round_trips(backend: &dyn Backend) {
    let mut store = backend.open();
    let mut batch = WriteBatch::default();
    for n in 0..=250u8 {
        batch.patients.push(patient(n));
        for i in 0..12 {
            let code = format!("C{:02}.{}", n % 97, i % 10);
            batch.facts.push(fact(
                n,
                &format!("Condition/{i}"),
                &code,
                DataCategory::Clinical,
            ));
        }
    }
    let out = store.write(&batch).unwrap();
    assert_eq!((out.patients_new, out.facts_new), (251, 251 * 12));
    let mut seen = 0;
    store
        .for_each_fact(&mut |f| {
            assert!(batch.facts.contains(&f));
            seen += 1;
        })
        .unwrap();
    assert_eq!(seen, 251 * 12);
    let again = store.write(&batch).unwrap();
    assert_eq!((again.patients_new, again.facts_existing), (0, 251 * 12));
}

pub fn beacon_budgets_add_up_per_researcher_and_survive_reopening(backend: &dyn Backend) {
    let mut store = backend.open();
    let ids = |ks: &[&str]| ks.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    assert_eq!(
        store.beacon_spent("alice", &ids(&["i1", "i2"])).unwrap(),
        vec![0.0, 0.0]
    );
    store
        .beacon_charge("alice", &[("i1".into(), 0.25), ("i2".into(), 0.5)])
        .unwrap();
    store
        .beacon_charge(
            "alice",
            &[
                ("i1".into(), 0.125),
                // Not charged: zero, negative, not a number.
                ("i2".into(), 0.0),
                ("i2".into(), -1.0),
                ("i2".into(), f64::NAN),
            ],
        )
        .unwrap();
    // Another researcher's accounts are separate.
    store.beacon_charge("bob", &[("i1".into(), 0.5)]).unwrap();
    drop(store);
    let store = backend.open();
    assert_eq!(
        store
            .beacon_spent("alice", &ids(&["i2", "i1", "i3"]))
            .unwrap(),
        vec![0.5, 0.375, 0.0]
    );
    assert_eq!(
        store.beacon_spent("bob", &ids(&["i1", "i2"])).unwrap(),
        vec![0.5, 0.0]
    );
    assert!(store.beacon_spent("alice", &[]).unwrap().is_empty());
}
