//! Row ids for a batch's new persons, and creating them.

use super::Person;
use crate::db::sql::Later;
use crate::db::{StoreError, Tx, params};
use crate::keys::{BlockingKey, PersonId};

/// Row ids for a batch's new persons. On PostgreSQL they are taken from the
/// table's sequence up front, in one statement sent with the batch's first
/// window of reads (`linkage::blocks::ahead`), so creating a person is a write sent without waiting rather than an
/// `INSERT … RETURNING id` waited for (a round trip per new person). Ids not
/// used are skipped, as after any rolled-back insert: a row id is a handle,
/// never shown. SQLite's `RETURNING` is a function call, so it keeps it.
pub(super) struct PersonIds {
    sent: Option<Later<i64>>,
    ids: std::vec::IntoIter<i64>,
}

impl PersonIds {
    /// Reserves `n` ids (PostgreSQL).
    pub(super) fn reserve(tx: &mut Tx<'_>, n: usize) -> Result<Self, StoreError> {
        let sent = if tx.is_postgres() && n > 0 {
            Some(tx.query_later(
                "SELECT nextval(pg_get_serial_sequence('persons', 'id'))
                 FROM generate_series(1::bigint, ?1::bigint)",
                params![n as i64],
                |r| r.get::<i64>(0),
            )?)
        } else {
            None
        };
        Ok(Self {
            sent,
            ids: Vec::new().into_iter(),
        })
    }

    /// The next reserved id, if any (none on SQLite).
    fn next(&mut self, tx: &mut Tx<'_>) -> Result<Option<i64>, StoreError> {
        if let Some(sent) = self.sent.take() {
            self.ids = tx.take(sent)?.into_iter();
        }
        Ok(self.ids.next())
    }
}

/// Creates a person with a random `pid` (the pseudonyms' input) and the
/// record's insurance-number key, if any: with a reserved id (a write sent
/// without waiting), else as `INSERT … RETURNING id`.
pub(super) fn new_person(
    tx: &mut Tx<'_>,
    ids: &mut PersonIds,
    kvnr: Option<BlockingKey>,
    now: i64,
) -> Result<Person, StoreError> {
    let pid: PersonId = rand::random();
    let kvnr = kvnr.as_ref().map(|k| &k[..]);
    let row = match ids.next(tx)? {
        Some(row) => {
            tx.execute_later(
                "INSERT INTO persons (id, pid, kvnr_key, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![row, &pid[..], kvnr, now],
            )?;
            row
        }
        None => tx.query_one(
            "INSERT INTO persons (pid, kvnr_key, created_at) VALUES (?1, ?2, ?3) RETURNING id",
            params![&pid[..], kvnr, now],
            |r| r.get(0),
        )?,
    };
    Ok(Person { row, pid })
}
