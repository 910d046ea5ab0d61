//! The one SQL surface the trust-centre store's queries are written against, with
//! a SQLite and a PostgreSQL implementation.
//!
//! Every query of the store (`db::*`, `linkage::{blocks, probabilistic, veto,
//! review, pprl}`) is written once, in the SQL both engines accept: `?N`
//! placeholders (rewritten to `$N` for PostgreSQL), `INSERT … ON CONFLICT DO
//! NOTHING`, `RETURNING` for new row ids and inserted keys, integer columns read
//! as `i64`, binary as `Vec<u8>`. A second copy of each query per engine would
//! drift; one copy run by one conformance suite on both (`db::conformance`)
//! cannot. The one difference is the leaf search's `ORDER BY`, which PostgreSQL
//! needs and SQLite must not have (`linkage::blocks::statements`).
//!
//! On PostgreSQL every statement costs the server a protocol cycle, and a
//! statement that is waited for costs a round trip. So the hot path asks for
//! many keys per statement instead of one per key. It sends the writes whose
//! answer it does not need with [`Tx::execute_later`], and independent reads
//! with [`Tx::query_later`]. Those are pipelined on PostgreSQL
//! ([`super::pipelined`]) and run at once on SQLite: same statements, same
//! order, same results.
//!
//! Transactions keep SQLite's semantics on PostgreSQL:
//! - a write transaction ([`Conn::write_tx`]) is `BEGIN IMMEDIATE` on SQLite (one
//!   writer at a time) and, on PostgreSQL, takes the transaction-level advisory
//!   lock [`WRITE_LOCK`] first: writers are serialised across connections and
//!   processes, so linkage decisions (does this insurance number have a person
//!   yet?) never race;
//! - a read transaction ([`Conn::read_tx`]) sees one snapshot: deferred on SQLite,
//!   `REPEATABLE READ, READ ONLY` on PostgreSQL.
//!
//! Engine errors are reduced to what cannot carry a request value before they
//! become a [`StoreError`] (PostgreSQL's `DETAIL` quotes key values, which here
//! can be local ids or pseudonymised values).

use super::StoreError;

pub(crate) use super::pipelined::{PgConn, WRITE_LOCK};

/// A query parameter both engines can bind (integers, floats, text, bytes, and
/// `Option`s of them).
pub(crate) trait Param {
    /// As SQLite binds it.
    fn sqlite(&self) -> &dyn rusqlite::ToSql;
    /// As PostgreSQL binds it.
    fn pg(&self) -> &(dyn postgres::types::ToSql + Sync);
}

impl<T: rusqlite::ToSql + postgres::types::ToSql + Sync> Param for T {
    fn sqlite(&self) -> &dyn rusqlite::ToSql {
        self
    }
    fn pg(&self) -> &(dyn postgres::types::ToSql + Sync) {
        self
    }
}

/// A column type both engines can read.
pub(crate) trait Column:
    rusqlite::types::FromSql + for<'a> postgres::types::FromSql<'a>
{
}

impl<T: rusqlite::types::FromSql + for<'a> postgres::types::FromSql<'a>> Column for T {}

/// Parameters for [`Tx`] methods, like rusqlite's `params!`.
macro_rules! params {
    ($($p:expr),* $(,)?) => {
        &[$(&$p as &dyn $crate::db::sql::Param),*] as &[&dyn $crate::db::sql::Param]
    };
}
pub(crate) use params;

/// An open connection of either engine.
pub(crate) enum Conn {
    /// The embedded store.
    Sqlite(rusqlite::Connection),
    /// A PostgreSQL database (boxed: its configuration is large, and a
    /// connection is made once).
    Postgres(Box<PgConn>),
}

/// What of a PostgreSQL error may be shown: the SQLSTATE and the server's
/// message, never its `DETAIL` (key values) or `WHERE`.
pub(crate) fn pg_reason(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.constraint() {
            Some(c) => format!("{} (constraint {c})", db.code().code()),
            None => format!("{}: {}", db.code().code(), db.message()),
        },
        // Client-side errors (I/O, closed connection, type conversion) name no value.
        None => e.to_string(),
    }
}

impl Conn {
    /// Starts a write transaction (see the module docs).
    pub(crate) fn write_tx(&mut self) -> Result<Tx<'_>, StoreError> {
        match self {
            Conn::Sqlite(c) => Ok(Tx::Sqlite(
                c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?,
            )),
            Conn::Postgres(pg) => Ok(Tx::Postgres(pg.transaction(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
            ))?)),
        }
    }

    /// Starts a read transaction: one snapshot for everything it reads.
    pub(crate) fn read_tx(&mut self) -> Result<Tx<'_>, StoreError> {
        match self {
            Conn::Sqlite(c) => Ok(Tx::Sqlite(c.transaction()?)),
            Conn::Postgres(pg) => Ok(Tx::Postgres(
                pg.transaction("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")?,
            )),
        }
    }
}

/// A transaction of either engine: rolled back when dropped without [`Tx::commit`].
pub(crate) enum Tx<'c> {
    /// SQLite.
    Sqlite(rusqlite::Transaction<'c>),
    /// PostgreSQL, pipelining its writes ([`super::pipelined`]).
    Postgres(super::pipelined::PgTx<'c>),
}

/// The rows of a query sent with [`Tx::query_later`], read with [`Tx::take`].
pub(crate) struct Later<T>(LaterRows<T>);

/// A row mapper kept with a query sent.
type Mapper<T> = Box<dyn FnMut(&Row<'_>) -> Result<T, StoreError>>;

enum LaterRows<T> {
    /// Read at once (SQLite).
    Ready(Vec<T>),
    /// Sent (PostgreSQL): the ticket, and how to map each row.
    Sent(u64, Mapper<T>),
}

/// One result row of either engine.
pub(crate) enum Row<'r> {
    /// SQLite.
    Sqlite(&'r rusqlite::Row<'r>),
    /// PostgreSQL.
    Postgres(&'r postgres::Row),
}

impl Row<'_> {
    /// Column `i` (from 0) as `T`.
    pub(crate) fn get<T: Column>(&self, i: usize) -> Result<T, StoreError> {
        match self {
            Row::Sqlite(r) => Ok(r.get(i)?),
            Row::Postgres(r) => Ok(r.try_get(i)?),
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Statements this thread ran through a [`Tx`]: the conformance suite bounds
    /// a path's statements, each a round trip on PostgreSQL.
    pub(crate) static STATEMENTS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts one statement (tests only).
fn counted() {
    #[cfg(test)]
    STATEMENTS.with(|n| n.set(n.get() + 1));
}

/// The values of one `IN (…)`-style statement with `len` placeholders, unused
/// ones `NULL` (which matches nothing): a statement of fixed shape is prepared
/// once per connection, however many values a call has.
pub(crate) fn padded<T: Copy>(chunk: &[T], len: usize) -> Vec<Option<T>> {
    let mut values: Vec<Option<T>> = chunk.iter().copied().map(Some).collect();
    values.resize(len, None);
    values
}

impl Tx<'_> {
    /// Runs a statement; returns the number of rows it changed.
    pub(crate) fn execute(&mut self, sql: &str, params: &[&dyn Param]) -> Result<u64, StoreError> {
        counted();
        self.execute_uncounted(sql, params)
    }

    /// Runs a write whose result is not needed. On PostgreSQL it is sent now and
    /// its answer collected with the next statement that waits (pipelined, see
    /// [`super::pipelined`]): later statements of the transaction see it, and an
    /// error is reported there at the latest, or by [`Tx::commit`]. On SQLite it
    /// runs at once.
    pub(crate) fn execute_later(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
    ) -> Result<(), StoreError> {
        counted();
        match self {
            Tx::Sqlite(_) => self.execute_uncounted(sql, params).map(drop),
            Tx::Postgres(tx) => tx.execute_later(sql, params),
        }
    }

    fn execute_uncounted(&mut self, sql: &str, params: &[&dyn Param]) -> Result<u64, StoreError> {
        match self {
            Tx::Sqlite(tx) => {
                let p: Vec<&dyn rusqlite::ToSql> = params.iter().map(|p| p.sqlite()).collect();
                Ok(tx.prepare_cached(sql)?.execute(p.as_slice())? as u64)
            }
            Tx::Postgres(tx) => tx.execute(sql, params),
        }
    }

    /// Sends a query whose rows are needed later ([`Tx::take`]): on PostgreSQL
    /// it goes out now, and the rows come with the next statement that waits,
    /// so independent reads share one round trip (see [`super::pipelined`]). On
    /// SQLite it runs at once. `f` maps each row.
    pub(crate) fn query_later<T>(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
        mut f: impl FnMut(&Row<'_>) -> Result<T, StoreError> + 'static,
    ) -> Result<Later<T>, StoreError> {
        match self {
            Tx::Sqlite(_) => Ok(Later(LaterRows::Ready(self.query(sql, params, f)?))),
            Tx::Postgres(tx) => {
                counted();
                let ticket = tx.query_later(sql, params)?;
                Ok(Later(LaterRows::Sent(
                    ticket,
                    Box::new(move |r: &Row<'_>| f(r)),
                )))
            }
        }
    }

    /// Lets go of a [`Tx::query_later`] whose rows are not wanted, without
    /// waiting for them (a failure is still reported, by the next wait).
    pub(crate) fn forget<T>(&mut self, later: Later<T>) -> Result<(), StoreError> {
        match (later.0, self) {
            (LaterRows::Ready(_), _) => Ok(()),
            (LaterRows::Sent(ticket, _), Tx::Postgres(tx)) => tx.forget(ticket),
            (LaterRows::Sent(..), Tx::Sqlite(_)) => {
                unreachable!("SQLite answers a query at once")
            }
        }
    }

    /// The rows of a [`Tx::query_later`].
    pub(crate) fn take<T>(&mut self, later: Later<T>) -> Result<Vec<T>, StoreError> {
        match (later.0, self) {
            (LaterRows::Ready(rows), _) => Ok(rows),
            (LaterRows::Sent(ticket, mut f), Tx::Postgres(tx)) => tx
                .take(ticket)?
                .iter()
                .map(|r| f(&Row::Postgres(r)))
                .collect(),
            (LaterRows::Sent(..), Tx::Sqlite(_)) => {
                unreachable!("SQLite answers a query at once")
            }
        }
    }

    /// Every row, each mapped by `f`.
    pub(crate) fn query<T>(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
        mut f: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        counted();
        match self {
            Tx::Sqlite(tx) => {
                let p: Vec<&dyn rusqlite::ToSql> = params.iter().map(|p| p.sqlite()).collect();
                let mut stmt = tx.prepare_cached(sql)?;
                let mut rows = stmt.query(p.as_slice())?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    out.push(f(&Row::Sqlite(r))?);
                }
                Ok(out)
            }
            Tx::Postgres(tx) => tx
                .query(sql, params)?
                .iter()
                .map(|r| f(&Row::Postgres(r)))
                .collect(),
        }
    }

    /// The first row mapped by `f`, if any.
    pub(crate) fn query_opt<T>(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        counted();
        match self {
            Tx::Sqlite(tx) => {
                let p: Vec<&dyn rusqlite::ToSql> = params.iter().map(|p| p.sqlite()).collect();
                let mut stmt = tx.prepare_cached(sql)?;
                let mut rows = stmt.query(p.as_slice())?;
                match rows.next()? {
                    Some(r) => Ok(Some(f(&Row::Sqlite(r))?)),
                    None => Ok(None),
                }
            }
            Tx::Postgres(tx) => match tx.query(sql, params)?.first() {
                Some(r) => Ok(Some(f(&Row::Postgres(r))?)),
                None => Ok(None),
            },
        }
    }

    /// The first row mapped by `f`, if any, of what was committed before this
    /// transaction, for rows the caller knows it has not changed: on
    /// PostgreSQL read on a second connection, so it is answered at once
    /// instead of after the statements this one has sent ahead
    /// ([`super::pipelined::PgTx::query_committed`]); on SQLite, where a
    /// statement is a function call, read in the transaction. For a lookup by
    /// a unique key: every row is mapped, the first returned.
    pub(crate) fn query_committed_opt<T>(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        Ok(self.query_committed(sql, params, f)?.into_iter().next())
    }

    /// Every row of what was committed, each mapped by `f`; see
    /// [`Tx::query_committed_opt`].
    pub(crate) fn query_committed<T>(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
        mut f: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        match self {
            Tx::Sqlite(_) => self.query(sql, params, f),
            Tx::Postgres(tx) => {
                counted();
                tx.query_committed(sql, params)?
                    .iter()
                    .map(|r| f(&Row::Postgres(r)))
                    .collect()
            }
        }
    }

    /// The first row mapped by `f`; [`StoreError::NoRow`] when there is none.
    pub(crate) fn query_one<T>(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.query_opt(sql, params, f)?.ok_or(StoreError::NoRow)
    }

    /// Whether the query returns a row.
    pub(crate) fn exists(&mut self, sql: &str, params: &[&dyn Param]) -> Result<bool, StoreError> {
        Ok(self.query_opt(sql, params, |_| Ok(()))?.is_some())
    }

    /// The blocking index's split keys kept on the connection between
    /// transactions (PostgreSQL; `linkage::blocks::splits`), taken out.
    pub(crate) fn take_split_keys(&mut self) -> Option<crate::linkage::blocks::SplitKeys> {
        match self {
            Tx::Sqlite(_) => None,
            Tx::Postgres(tx) => tx.take_split_keys(),
        }
    }

    /// Keeps `keys` on the connection if this transaction commits.
    pub(crate) fn keep_split_keys(&mut self, keys: crate::linkage::blocks::SplitKeys) {
        if let Tx::Postgres(tx) = self {
            tx.keep_split_keys(keys);
        }
    }

    /// Commits.
    pub(crate) fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => Ok(tx.commit()?),
            Tx::Postgres(tx) => tx.commit(),
        }
    }

    /// Whether this is a PostgreSQL transaction: for the tests' engine-specific
    /// statements (such as listing tables), and where one engine plans a
    /// statement badly (`linkage::blocks::search`).
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self, Tx::Postgres(..))
    }
}
