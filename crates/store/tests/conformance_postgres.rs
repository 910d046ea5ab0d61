//! The conformance suite ([`conformance`]) on [`PostgresStore`] against a real
//! PostgreSQL (started by `oncofed-test-pg`: one throw-away cluster per run of this binary, a
//! database per test), and the checks only PostgreSQL has: the schema version
//! table and its advisory lock, the URL's password kept out of messages, no plain
//! text beyond loopback, reconnecting, and the schema's shape for Citus.

mod conformance;
use oncofed_test_pg as pg;

use conformance::Backend;
use conformance::images::image;
use conformance::store::{fact, patient, psn};
use oncofed_model::DataCategory;
use oncofed_store::{PostgresStore, ResearchStore, StoreError, WriteBatch};

/// A database of its own on the test server.
struct Pg(pg::TestDb);

impl Backend for Pg {
    fn open(&self) -> Box<dyn ResearchStore> {
        Box::new(connect(&self.0))
    }

    fn schema_versions(&self) -> (i64, i64) {
        let store = connect(&self.0);
        (
            store.schema_version().unwrap(),
            PostgresStore::SCHEMA_VERSION,
        )
    }
}

fn connect(db: &pg::TestDb) -> PostgresStore {
    PostgresStore::connect(&db.url).unwrap_or_else(|e| panic!("{}: {e}", db.name))
}

fn backend() -> Option<Pg> {
    pg::database().map(Pg)
}

conformance_tests!(backend());

#[test]
fn a_database_newer_than_this_build_is_refused() {
    let Some(db) = pg::database() else { return };
    drop(connect(&db));
    let mut client = db.client();
    client
        .execute("UPDATE oncofed_schema SET version = 99", &[])
        .unwrap();
    let err = PostgresStore::connect(&db.url).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::SchemaTooNew {
                found: 99,
                supported: PostgresStore::SCHEMA_VERSION
            }
        ),
        "{err:?}"
    );
    let version: i64 = client
        .query_one("SELECT version FROM oncofed_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, 99, "nothing written");
}

#[test]
fn nodes_starting_at_once_migrate_once() {
    let Some(db) = pg::database() else { return };
    let barrier = std::sync::Barrier::new(6);
    std::thread::scope(|s| {
        for _ in 0..6 {
            s.spawn(|| {
                barrier.wait();
                connect(&db);
            });
        }
    });
    let store = connect(&db);
    assert_eq!(
        store.schema_version().unwrap(),
        PostgresStore::SCHEMA_VERSION
    );
    let rows: i64 = db
        .client()
        .query_one("SELECT COUNT(*) FROM oncofed_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);
}

#[test]
fn the_password_never_appears_in_debug_output_or_errors() {
    let Some(db) = pg::database() else { return };
    let secret = "s3cret-Pa55word";
    // The test server trusts every local login, so the password is accepted unchecked.
    let url = db.url.replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{secret}@"),
        1,
    );
    assert!(url.contains(secret), "{url}");
    let store = PostgresStore::connect(&url).unwrap();
    assert!(!format!("{store:?}").contains(secret));
    assert!(!store.target().contains(secret));
    assert!(store.target().starts_with("postgres://postgres@127.0.0.1:"));
    for bad in [
        format!("postgres://postgres:{secret}@127.0.0.1:1/x"),
        format!("postgres://postgres:{secret}@127.0.0.1:notaport/x"),
        format!("postgres://postgres:{secret}@db.example.org/x"),
        format!("host=10.1.2.3 user=postgres password={secret}"),
    ] {
        let err = PostgresStore::connect(&bad).unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[test]
fn servers_beyond_loopback_are_refused_without_tls() {
    for url in [
        "postgres://u@db.example.org/x",
        "postgres://u@10.0.0.5:5432/x",
        "postgres://u@localhost,db.example.org/x",
        "host=192.168.1.2 user=u dbname=x",
    ] {
        let err = PostgresStore::connect(url).unwrap_err();
        assert!(
            matches!(err, StoreError::PlainTextRemote { .. }),
            "{url}: {err:?}"
        );
    }
}

#[test]
fn a_dropped_connection_is_reopened() {
    let Some(db) = pg::database() else { return };
    let mut store = connect(&db);
    store
        .write(&WriteBatch {
            patients: vec![patient(1)],
            facts: vec![],
            ..Default::default()
        })
        .unwrap();
    db.admin()
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND application_name = 'oncofed-node'",
            &[&db.name],
        )
        .unwrap();
    // pg_terminate_backend only signals: wait until the backend is gone.
    for _ in 0..100 {
        let left: i64 = db
            .admin()
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity
                 WHERE datname = $1 AND application_name = 'oncofed-node'",
                &[&db.name],
            )
            .unwrap()
            .get(0);
        if left == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The call that finds the connection gone fails; the next one reconnects.
    let _ = store.stats();
    assert_eq!(store.stats().unwrap().patients, 1);
}

#[test]
fn a_withdrawal_deletes_every_person_table_in_one_transaction_and_can_vacuum() {
    let Some(db) = pg::database() else { return };
    let mut store = connect(&db);
    store
        .write(&WriteBatch {
            patients: vec![patient(1), patient(2)],
            facts: vec![
                fact(1, "a", "C92.0", DataCategory::Clinical),
                fact(1, "b", "C92.1", DataCategory::Clinical),
                fact(2, "c", "C50.1", DataCategory::Clinical),
            ],
            images: vec![image(1, "10", "11", "1", "CT")],
            ..Default::default()
        })
        .unwrap();
    // A trigger that fails the patient delete: the fact and image deletes before
    // it must roll back.
    let mut client = db.client();
    client
        .batch_execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RAISE EXCEPTION 'refused'; END $$;
             CREATE TRIGGER refuse BEFORE DELETE ON patient FOR EACH ROW EXECUTE FUNCTION refuse();",
        )
        .unwrap();
    assert!(store.delete_patient(&psn(1)).is_err());
    assert_eq!(store.stats().unwrap().facts, 3);
    assert_eq!(store.images_of(&[psn(1)]).unwrap().len(), 1);
    client
        .batch_execute("DROP TRIGGER refuse ON patient")
        .unwrap();
    let deleted = store.delete_patient(&psn(1)).unwrap();
    assert!(deleted.patient && deleted.facts == 2, "{deleted:?}");
    assert_eq!(deleted.images, ["sha256-1"]);
    store.vacuum_after_withdrawal().unwrap();
    assert_eq!(store.stats().unwrap().facts, 1);
}

#[test]
fn the_schema_is_distributable_by_person_and_byte_ordered() {
    let Some(db) = pg::database() else { return };
    drop(connect(&db));
    let mut client = db.client();
    let pk: Vec<String> = client
        .query(
            "SELECT a.attname FROM pg_index i
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
             WHERE i.indrelid = 'fact'::regclass AND i.indisprimary ORDER BY a.attname",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(pk, ["key", "psn"]);
    // The foreign keys are fact.psn, image.psn, smear.psn, sequence_file.psn and
    // variant_call.psn → patient.psn, cell.smear_key → smear, cell_label.cell_key
    // → cell and variant_call.object_key → sequence_file, without cascades,
    // each within one person. (`image` is keyed by its SOP Instance UID and the
    // cell tables by their keyed ids, so they are not co-located by person:
    // see the module docs.)
    let fks: Vec<(String, String)> = client
        .query(
            "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint
             WHERE contype = 'f' ORDER BY 1, 2",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let person_fk = "FOREIGN KEY (psn) REFERENCES patient(psn)".to_string();
    assert_eq!(
        fks,
        [
            (
                "cell".to_string(),
                "FOREIGN KEY (smear_key) REFERENCES smear(smear_key)".to_string()
            ),
            (
                "cell_label".to_string(),
                "FOREIGN KEY (cell_key) REFERENCES cell(cell_key)".to_string()
            ),
            ("fact".to_string(), person_fk.clone()),
            ("image".to_string(), person_fk.clone()),
            ("sequence_file".to_string(), person_fk.clone()),
            ("smear".to_string(), person_fk.clone()),
            (
                "variant_call".to_string(),
                "FOREIGN KEY (object_key) REFERENCES sequence_file(object_key)".to_string()
            ),
            ("variant_call".to_string(), person_fk),
        ]
    );
    // Every text column compares in code-point order, like SQLite.
    let loose: Vec<String> = client
        .query(
            "SELECT table_name || '.' || column_name FROM information_schema.columns
             WHERE table_schema = 'public' AND data_type = 'text'
               AND table_name IN ('patient', 'fact', 'task_seen', 'dp_release', 'image', 'quarantine',
                                  'smear', 'cell', 'cell_label', 'sequence_file', 'variant_call')
               AND collation_name IS DISTINCT FROM 'C'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(loose.is_empty(), "{loose:?}");
}
