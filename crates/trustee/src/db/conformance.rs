//! One behavioural suite for both backends of the trust-centre store.
//!
//! The test bodies take a [`Backend`]: one fresh, empty database that
//! [`Backend::conn`] opens (again, migrating it). [`conformance_tests!`]
//! instantiates every body twice, in `sqlite` (a temporary directory) and in
//! `postgres` (a database of its own on the throw-away cluster `oncofed-test-pg`
//! starts; skipped, saying so, with `ONCOFED_SKIP_POSTGRES=1`), so both backends
//! pass exactly the same checks: linkage across sites (also from concurrent
//! connections), resolve, the review queue
//! and merges, PPRL, consents, the consent feed's change log, the withdrawal cascade and its erasure of IDAT,
//! domains, re-contact, migrations and the key check, and the bound on the
//! statements (round trips on PostgreSQL) a new record costs.
//!
//! Unit tests rather than an integration test: the store's functions are
//! crate-private, and the suite checks them below the HTTP layer, where the
//! backends differ.

mod admission;
mod batch;
mod blocking;
mod feed;
mod linkage;
mod portal;
mod registry;
mod schema;
mod withdrawal;

use super::{Conn, Db, StoreError, params};
use crate::config::PseudonymKey;
use crate::keys::Keys;
use chrono::NaiveDate;
use oncofed_idat::{Address, IdentifyingData, Kvnr};
use oncofed_model::{Sex, SiteId};

/// A backend under test: one database of its own.
pub(super) trait Backend: Sync {
    /// Opens (again) the database, migrating it.
    fn conn(&self) -> Conn;
    /// Opens the database as the service does, checking the key fingerprint.
    fn db(&self, key_fingerprint: &[u8; 32]) -> Result<Db, StoreError>;
    /// Overwrites the recorded schema version behind the store's back.
    fn set_version(&self, version: i64);
    /// (the version recorded, the version this build writes).
    fn versions(&self) -> (i64, i64);
    /// After an erasure and `Db::after_erasure`: checks what this backend
    /// promises about the erased `traces` beyond the live tables.
    fn check_after_erasure(&self, traces: &[&str]);
    /// A second, empty store of the same engine.
    fn twin(&self) -> Box<dyn Backend>;
}

/// The embedded backend in a temporary directory.
pub(super) struct Sqlite(tempfile::TempDir);

impl Sqlite {
    fn path(&self) -> std::path::PathBuf {
        self.0.path().join("trustee.db")
    }
}

impl Backend for Sqlite {
    /// `secure_delete` overwrote the old IDAT in the file, and the truncating
    /// checkpoint emptied the WAL: no byte of it is left in either.
    fn check_after_erasure(&self, traces: &[&str]) {
        let wal = self.0.path().join("trustee.db-wal");
        assert_eq!(
            std::fs::metadata(&wal).map_or(0, |m| m.len()),
            0,
            "WAL truncated"
        );
        for file in [self.path(), wal] {
            let bytes = std::fs::read(&file)
                .unwrap_or_default()
                .to_ascii_lowercase();
            for t in traces {
                let found = bytes.windows(t.len()).any(|w| w == t.as_bytes());
                assert!(!found, "{t} still in {}", file.display());
            }
        }
    }
    fn conn(&self) -> Conn {
        Conn::Sqlite(super::sqlite::open(&self.path()).unwrap())
    }
    fn twin(&self) -> Box<dyn Backend> {
        Box::new(Sqlite(tempfile::tempdir().unwrap()))
    }
    fn db(&self, key_fingerprint: &[u8; 32]) -> Result<Db, StoreError> {
        Db::open(&self.path(), key_fingerprint)
    }
    fn set_version(&self, version: i64) {
        let conn = rusqlite::Connection::open(self.path()).unwrap();
        conn.pragma_update(None, "user_version", version).unwrap();
    }
    fn versions(&self) -> (i64, i64) {
        let conn = rusqlite::Connection::open(self.path()).unwrap();
        (
            oncofed_migrate::version(&conn).unwrap(),
            super::sqlite::MIGRATIONS.len() as i64,
        )
    }
}

/// A PostgreSQL database of its own on the test cluster.
pub(super) struct Postgres(oncofed_test_pg::TestDb);

impl Backend for Postgres {
    /// PostgreSQL cannot promise the bytes are gone (dead tuples are not
    /// overwritten; WAL and backups keep them): what is checked is that the
    /// erased tables were vacuumed, so the space is reusable and statistics fresh.
    fn check_after_erasure(&self, _traces: &[&str]) {
        let rows = self
            .0
            .client()
            .query(
                "SELECT relname::text FROM pg_stat_user_tables
                 WHERE relname IN ('local_ids', 'linkage_blocks', 'linkage_records', 'review_items')
                   AND last_vacuum IS NOT NULL ORDER BY relname",
                &[],
            )
            .unwrap();
        let vacuumed: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(
            vacuumed,
            [
                "linkage_blocks",
                "linkage_records",
                "local_ids",
                "review_items"
            ]
        );
    }
    fn twin(&self) -> Box<dyn Backend> {
        Box::new(Postgres(
            oncofed_test_pg::database().expect("the test cluster runs"),
        ))
    }
    fn conn(&self) -> Conn {
        Conn::Postgres(Box::new(
            super::postgres::connect(&self.0.url)
                .unwrap_or_else(|e| panic!("{}: {e}", self.0.name)),
        ))
    }
    fn db(&self, key_fingerprint: &[u8; 32]) -> Result<Db, StoreError> {
        Db::connect(&self.0.url, key_fingerprint)
    }
    fn set_version(&self, version: i64) {
        self.0
            .client()
            .execute(
                &format!("UPDATE {} SET version = $1", super::postgres::LEDGER.table),
                &[&version],
            )
            .unwrap();
    }
    fn versions(&self) -> (i64, i64) {
        // A plain client: the store would refuse a newer schema.
        let mut client = self.0.client();
        (
            oncofed_migrate::postgres::version(&mut client, super::postgres::LEDGER).unwrap(),
            super::postgres::MIGRATIONS.len() as i64,
        )
    }
}

/// Instantiates every conformance test for both backends.
macro_rules! conformance_tests {
    ($($module:ident: $($name:ident),+;)+) => {
        mod sqlite {
            $($(
                #[test]
                fn $name() {
                    super::$module::$name(&super::Sqlite(tempfile::tempdir().unwrap()));
                }
            )+)+
        }
        mod postgres {
            $($(
                #[test]
                fn $name() {
                    let Some(db) = oncofed_test_pg::database() else { return };
                    super::$module::$name(&super::Postgres(db));
                }
            )+)+
        }
    };
}

conformance_tests! {
    linkage: the_same_person_at_two_sites_is_one_person_and_resolves,
        a_vetoed_link_is_queued_for_review_and_a_match_merges,
        pprl_links_across_sites_on_the_dice_coefficient,
        concurrent_writers_on_two_connections_agree;
    registry: consents_are_stored_once_superseded_by_id_and_checked,
        domains_form_a_tree_and_pseudonymise_reversibly,
        recontact_needs_two_staff_and_a_permitting_consent;
    admission: staff_admit_one_refused_namesake_and_nothing_else,
        the_tombstone_filter_is_rebuilt_and_grows;
    withdrawal: a_withdrawal_orders_deletions_and_erases_every_trace_of_idat,
        a_withdrawn_person_is_refused_at_every_door,
        receipts_and_sample_destructions_are_recorded_once,
        the_service_cleans_up_after_an_erasure;
    feed: the_feed_pages_a_sites_persons_in_version_order;
    batch: a_batch_links_as_one_record_at_a_time_would;
    blocking: an_oversized_block_splits_and_keeps_its_records_findable,
        blocking_keys_are_keyed_and_rotate,
        a_new_record_costs_a_bounded_number_of_statements,
        searches_sent_ahead_are_used_unless_the_index_changed,
        placements_sent_ahead_never_miss_a_split,
        kept_split_keys_are_dropped_when_a_rebuild_changes_them,
        a_changed_record_leaves_no_row_under_a_split_key,
        an_index_of_the_previous_scheme_is_rebuilt_on_open;
    portal: access_codes_work_once_lock_and_expire,
        usage_reports_and_the_view_are_per_person;
    schema: reopening_keeps_data_and_the_schema_is_current,
        a_newer_schema_is_refused_before_anything_is_written,
        another_key_is_refused,
        engine_errors_carry_no_values,
        a_failed_write_sent_later_is_never_committed_over,
        a_large_read_sent_ahead_never_stalls_a_wait,
        a_read_of_what_was_committed_is_not_queued_behind_reads_sent_ahead;
}

/// The pseudonym key of the suite.
pub(super) fn keys() -> Keys {
    Keys::new(&key())
}

/// The suite's pseudonym key.
pub(super) fn key() -> PseudonymKey {
    PseudonymKey::from_bytes(vec![7; 32]).unwrap()
}

/// A site id.
pub(super) fn site(s: &str) -> SiteId {
    SiteId::new(s).unwrap()
}

/// IDAT of a synthetic person; `kvnr` as (letter, digit).
pub(super) fn idat(
    given: &str,
    family: &str,
    born: (i32, u32, u32),
    sex: Sex,
    kvnr: Option<(u8, u8)>,
) -> IdentifyingData {
    IdentifyingData {
        given: vec![given.into()],
        family: Some(family.into()),
        birth_name: None,
        birth_date: NaiveDate::from_ymd_opt(born.0, born.1, born.2),
        sex,
        address: Some(Address {
            lines: vec!["Hauptstraße 5".into()],
            postal_code: Some("12345".into()),
            city: Some("Musterstadt".into()),
            country: None,
        }),
        kvnr: kvnr.map(|(letter, d)| Kvnr::from_parts(letter, &[d; 8]).unwrap()),
    }
}

/// A batch item for `idat`.
pub(super) fn item(keys: &Keys, local_id: &str, idat: &IdentifyingData) -> super::LinkItem {
    super::LinkItem {
        local_id: local_id.into(),
        idat_json: serde_json::to_string(idat).unwrap(),
        keys: keys.blocking_keys(idat),
    }
}

/// A consent prepared as the consent routes store it.
pub(super) fn consent(v: serde_json::Value) -> super::ConsentRow {
    crate::routes::consents::prepare_consent("consent", &v).unwrap()
}

/// Every value of every column of every table as text (binary as hex), to search
/// for identifying data that should be gone.
pub(super) fn dump(conn: &mut Conn) -> String {
    let mut tx = conn.read_tx().unwrap();
    let pg = tx.is_postgres();
    let tables: Vec<String> = tx
        .query(
            if pg {
                "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()"
            } else {
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            },
            params![],
            |r| r.get(0),
        )
        .unwrap();
    assert!(tables.len() >= 17, "{tables:?}");
    let mut out = String::new();
    for table in tables {
        let columns: Vec<String> = tx
            .query(
                if pg {
                    "SELECT column_name::text FROM information_schema.columns
                     WHERE table_schema = current_schema() AND table_name = ?1"
                } else {
                    "SELECT name FROM pragma_table_info(?1)"
                },
                params![table],
                |r| r.get(0),
            )
            .unwrap();
        for column in columns {
            let sql = if pg {
                format!("SELECT {column}::text FROM {table}")
            } else {
                format!(
                    "SELECT CASE WHEN typeof({column}) = 'blob' THEN hex({column})
                     ELSE CAST({column} AS TEXT) END FROM {table}"
                )
            };
            for v in tx
                .query(&sql, params![], |r| r.get::<Option<String>>(0))
                .unwrap()
                .into_iter()
                .flatten()
            {
                out.push_str(&v);
                out.push('\n');
            }
        }
    }
    out
}

/// Rows of `sql` (a `SELECT count(*) …`).
pub(super) fn count(conn: &mut Conn, sql: &str, p: &[&dyn super::sql::Param]) -> i64 {
    let mut tx = conn.read_tx().unwrap();
    tx.query_one(sql, p, |r| r.get(0)).unwrap()
}

/// Pseudonymisation throughput on each backend (`cargo test -p oncofed-trustee
/// --lib measure -- --ignored --nocapture`): 10 batches of 500 new persons with
/// insurance numbers at one site, then the same 5,000 again from a second site
/// (every record links by the insurance number).
#[cfg(test)]
mod measure {
    use super::{Backend, idat, item, keys, site};
    use oncofed_model::Sex;

    fn run(name: &str, b: &dyn Backend) {
        let k = keys();
        let mut conn = b.conn();
        let batches: Vec<Vec<_>> = (0..10u32)
            .map(|batch| {
                (0..500u32)
                    .map(|i| {
                        let n = batch * 500 + i;
                        let mut p = idat(
                            &format!("Given{}", n % 997),
                            &format!("Family{n}"),
                            (1930 + (n % 70) as i32, 1 + n % 12, 1 + n % 28),
                            if n % 2 == 0 { Sex::Female } else { Sex::Male },
                            None,
                        );
                        // Everyone at an address of their own: realistic block sizes.
                        if let Some(a) = p.address.as_mut() {
                            a.lines = vec![format!("Weg {}", n % 300)];
                            a.postal_code = Some(format!("{:05}", 10_000 + n * 7 % 89_999));
                        }
                        p.kvnr = Some(
                            oncofed_idat::Kvnr::from_parts(
                                b'A' + (n % 26) as u8,
                                &std::array::from_fn(|j| (n / 10u32.pow(7 - j as u32) % 10) as u8),
                            )
                            .unwrap(),
                        );
                        item(&k, &format!("{n}"), &p)
                    })
                    .collect()
            })
            .collect();
        for s in ["uk-a", "uk-b"] {
            let started = std::time::Instant::now();
            for batch in &batches {
                crate::db::pseudonymise(&mut conn, &k, &site(s), batch).unwrap();
            }
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "{name} {s}: 5000 records in {secs:.2} s ({:.0}/s)",
                5_000.0 / secs
            );
        }
    }

    #[test]
    #[ignore = "a measurement, not a check"]
    fn measure_pseudonymisation() {
        run("sqlite", &super::Sqlite(tempfile::tempdir().unwrap()));
        if let Some(db) = oncofed_test_pg::database() {
            run("postgresql", &super::Postgres(db));
        }
    }
}
