//! Migrations and the key check on both backends.

use super::{Backend, count, idat, item, keys};
use crate::config::PseudonymKey;
use crate::db::{StoreError, params, pseudonymise};
use crate::keys::Keys;
use oncofed_model::Sex;

/// Data survives reopening; the schema is at this build's version.
pub(super) fn reopening_keeps_data_and_the_schema_is_current(b: &dyn Backend) {
    let k = keys();
    let mut conn = b.conn();
    let p = pseudonymise(
        &mut conn,
        &k,
        &super::site("uk-a"),
        &[item(
            &k,
            "1",
            &idat("Ute", "Lang", (1980, 3, 4), Sex::Female, None),
        )],
    )
    .unwrap();
    drop(conn);
    let mut conn = b.conn();
    let r = crate::db::resolve(&mut conn, &k, &super::site("uk-a"), &["1".into()]).unwrap();
    assert_eq!(r[0].as_ref(), Some(&p[0]));
    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM persons", params![]),
        1
    );
    let (found, current) = b.versions();
    assert_eq!(found, current);
}

/// A database written by a newer build is refused, and left as it was.
pub(super) fn a_newer_schema_is_refused_before_anything_is_written(b: &dyn Backend) {
    drop(b.conn());
    let (_, current) = b.versions();
    b.set_version(current + 5);
    let err = b.db(&keys().fingerprint()).err().expect("refused");
    assert!(
        matches!(err, StoreError::SchemaTooNew { found, known } if found == current + 5 && known == current),
        "{err:?}"
    );
    assert_eq!(b.versions().0, current + 5, "nothing written");
}

/// A store opens only with the key it was created with.
pub(super) fn another_key_is_refused(b: &dyn Backend) {
    drop(b.db(&keys().fingerprint()).unwrap());
    drop(b.db(&keys().fingerprint()).unwrap());
    let other = Keys::new(&PseudonymKey::from_bytes(vec![8; 32]).unwrap());
    let err = b.db(&other.fingerprint()).err().expect("refused");
    assert!(matches!(err, StoreError::KeyMismatch), "{err:?}");
    // The message tells the operator what to do and names no key material.
    assert!(err.to_string().contains("restore the original key file"));
}

/// An engine error names the constraint, never the values: PostgreSQL's
/// `DETAIL` ("Key (site, local_id)=(…) already exists") is dropped.
pub(super) fn engine_errors_carry_no_values(b: &dyn Backend) {
    let mut conn = b.conn();
    let mut tx = conn.write_tx().unwrap();
    let person: i64 = tx
        .query_one(
            "INSERT INTO persons (pid, created_at) VALUES (?1, 0) RETURNING id",
            params![&[1u8; 16][..]],
            |r| r.get(0),
        )
        .unwrap();
    let insert = "INSERT INTO local_ids (site, local_id, person_id, idat, updated_at)
                  VALUES ('uk-a', ?1, ?2, ?3, 0)";
    let secret = "Geheimnisvoll-4711";
    tx.execute(insert, params![secret, person, secret]).unwrap();
    let err = tx
        .execute(insert, params![secret, person, secret])
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("4711"), "{text}");
    assert!(text.contains("local_ids"), "{text}");
}

/// A write sent without waiting (pipelined on PostgreSQL) is seen by the next
/// read of its transaction; when it fails, the failure is reported (by that
/// read or by the commit, never lost), carries no value, and nothing of the
/// transaction is stored. A new person's pseudonym colliding is
/// [`StoreError::PseudonymCollision`] on both engines.
pub(super) fn a_failed_write_sent_later_is_never_committed_over(b: &dyn Backend) {
    let mut conn = b.conn();
    let insert = "INSERT INTO local_ids (site, local_id, person_id, idat, updated_at)
                  VALUES ('uk-a', ?1, ?2, ?3, 0)";
    let secret = "Geheimnisvoll-4711";
    let new_person = |tx: &mut crate::db::Tx<'_>, pid: u8| -> i64 {
        tx.query_one(
            "INSERT INTO persons (pid, created_at) VALUES (?1, 0) RETURNING id",
            params![&[pid; 16][..]],
            |r| r.get(0),
        )
        .unwrap()
    };
    let local_ids = |conn: &mut crate::db::Conn| count(conn, "SELECT count(*) FROM local_ids", &[]);
    // Seen by the next read, and committed.
    {
        let mut tx = conn.write_tx().unwrap();
        let person = new_person(&mut tx, 1);
        tx.execute_later(insert, params!["a", person, "{}"])
            .unwrap();
        let seen: i64 = tx
            .query_one("SELECT count(*) FROM local_ids", params![], |r| r.get(0))
            .unwrap();
        assert_eq!(seen, 1);
        tx.commit().unwrap();
    }
    assert_eq!(local_ids(&mut conn), 1);
    // A failure before a read is that read's error (SQLite: at once).
    {
        let mut tx = conn.write_tx().unwrap();
        let person = new_person(&mut tx, 2);
        tx.execute_later(insert, params![secret, person, secret])
            .unwrap();
        let err = tx
            .execute_later(insert, params![secret, person, secret])
            .and_then(|()| {
                tx.query_one("SELECT count(*) FROM persons", params![], |r| {
                    r.get::<i64>(0)
                })
            })
            .unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("4711"), "{text}");
        assert!(text.contains("local_ids"), "{text}");
    }
    // A failure before the commit is the commit's error.
    {
        let mut tx = conn.write_tx().unwrap();
        let person = new_person(&mut tx, 3);
        tx.execute_later(insert, params![secret, person, secret])
            .unwrap();
        let failed = match tx.execute_later(insert, params![secret, person, secret]) {
            Err(e) => e,
            Ok(()) => tx.commit().unwrap_err(),
        };
        assert!(format!("{failed}").contains("local_ids"), "{failed}");
    }
    assert_eq!(
        local_ids(&mut conn),
        1,
        "nothing of the failed transactions"
    );
    assert_eq!(count(&mut conn, "SELECT count(*) FROM persons", &[]), 1);
    // Two persons' pseudonyms colliding, as a batch's flush inserts new ones
    // (without `ON CONFLICT`): the error it maps is `PseudonymCollision`.
    let mut tx = conn.write_tx().unwrap();
    let first = new_person(&mut tx, 4);
    let second = new_person(&mut tx, 5);
    let pseudonym = "TESTPSEUDONYM4711";
    let insert = "INSERT INTO site_pseudonyms (pseudonym, site, person_id) VALUES (?1, 'uk-a', ?2)";
    tx.execute_later(insert, params![pseudonym, first]).unwrap();
    let collision = match tx
        .execute_later(insert, params![pseudonym, second])
        .map_err(StoreError::collision_if_unique)
    {
        Err(e) => e,
        Ok(()) => tx.commit().unwrap_err(),
    };
    assert!(
        matches!(collision, StoreError::PseudonymCollision),
        "{collision:?}"
    );
}

/// Rows one read sent ahead in the stall test returns.
const MANY_ROWS: i64 = 50_000;

/// A read sent ahead whose answer is large, then a statement waited for
/// before its rows are taken: the wait must collect both. Waiting for the
/// later statement alone stalls on PostgreSQL, because the connection stops
/// reading once the unread rows fill the channel it hands them through, and
/// the later answer is behind them (a lookahead window's searches are such
/// reads). A minute is far more than either engine needs.
pub(super) fn a_large_read_sent_ahead_never_stalls_a_wait(b: &dyn Backend) {
    let mut conn = b.conn();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = conn.read_tx().unwrap();
        let many = format!(
            "WITH RECURSIVE n(i) AS (SELECT CAST(1 AS BIGINT) UNION ALL
               SELECT i + 1 FROM n WHERE i < {MANY_ROWS})
             SELECT i, 'a row long enough to fill buffers quickly' FROM n"
        );
        let sent = tx
            .query_later(&many, params![], |r| r.get::<i64>(0))
            .unwrap();
        let one: i64 = tx
            .query_one("SELECT CAST(1 AS BIGINT)", params![], |r| r.get(0))
            .unwrap();
        let rows = tx.take(sent).unwrap();
        tx.commit().unwrap();
        let _ = done.send((one, rows.len() as i64, rows.last().copied()));
    });
    let got = finished
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("a wait stalled behind rows sent ahead");
    assert_eq!(got, (1, MANY_ROWS, Some(MANY_ROWS)));
}

/// The session-level advisory lock the beside-read test blocks a read sent
/// ahead on (PostgreSQL only; distinct from the store's write lock).
const HELD_BACK: i64 = 0x6265_7369_6465;

/// A read of what was committed ([`crate::db::Tx::query_committed_opt`], how
/// linkage reads a scored candidate's person) is answered while a read sent
/// ahead on the transaction is still running, and does not see the
/// transaction's own write. On PostgreSQL the read sent ahead waits for an
/// advisory lock another connection holds until the committed read has
/// answered: were that read queued behind it on the same connection (as
/// every statement of the transaction is), it would never answer, and the
/// minute runs out. On SQLite, where a statement is a function call, the read
/// runs in the transaction and sees its write.
pub(super) fn a_read_of_what_was_committed_is_not_queued_behind_reads_sent_ahead(b: &dyn Backend) {
    let mut holder = b.conn();
    let mut conn = b.conn();
    let postgres = matches!(conn, crate::db::Conn::Postgres(_));
    let lock = |conn: &mut crate::db::Conn, sql: &str| {
        let mut tx = conn.read_tx().unwrap();
        tx.query(sql, params![HELD_BACK], |_| Ok(())).unwrap();
        tx.commit().unwrap();
    };
    if postgres {
        lock(&mut holder, "SELECT pg_advisory_lock(?1)");
    }
    let (answered, got) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let mut tx = conn.write_tx().unwrap();
        tx.execute_later(
            "INSERT INTO meta (name, value) VALUES ('beside-test', ?1)",
            params![b"written".to_vec()],
        )
        .unwrap();
        let behind = if postgres {
            let sql = "SELECT CAST(1 AS BIGINT) FROM (SELECT pg_advisory_lock_shared(?1)) AS l";
            Some(
                tx.query_later(sql, params![HELD_BACK], |r| r.get::<i64>(0))
                    .unwrap(),
            )
        } else {
            None
        };
        let seen: Option<Vec<u8>> = tx
            .query_committed_opt(
                "SELECT value FROM meta WHERE name = 'beside-test'",
                params![],
                |r| r.get(0),
            )
            .unwrap();
        let _ = answered.send(seen);
        if let Some(behind) = behind {
            assert_eq!(tx.take(behind).unwrap(), vec![1]);
        }
        tx.commit().unwrap();
    });
    let seen = got
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("a read of what was committed waited behind a read sent ahead");
    if postgres {
        assert_eq!(seen, None, "the transaction's own write is not committed");
        lock(&mut holder, "SELECT pg_advisory_unlock(?1)");
    } else {
        assert_eq!(seen, Some(b"written".to_vec()));
    }
    worker.join().unwrap();
}
