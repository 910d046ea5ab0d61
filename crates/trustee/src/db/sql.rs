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
//! needs and SQLite must not have (`linkage::blocks::statements`). On PostgreSQL
//! every statement is a round trip, so the hot path asks for many keys per
//! statement instead of one statement per key.
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
use std::collections::HashMap;

/// The advisory lock every PostgreSQL write transaction takes: "oncotrst" in ASCII.
pub(crate) const WRITE_LOCK: i64 = 0x6f6e_636f_7472_7374;

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

/// A PostgreSQL connection with its prepared statements (one round trip per
/// statement instead of two) and what it needs to reconnect.
pub(crate) struct PgConn {
    /// `None` only while dropping.
    client: Option<postgres::Client>,
    statements: HashMap<String, postgres::Statement>,
    target: oncofed_migrate::postgres::Target,
}

impl PgConn {
    /// Connects (blocking).
    pub(crate) fn connect(target: &oncofed_migrate::postgres::Target) -> Result<Self, StoreError> {
        Ok(Self {
            client: Some(open_pg(target)?),
            statements: HashMap::new(),
            target: target.clone(),
        })
    }

    /// The client, reopened first if the server closed it (migrations, `VACUUM`).
    pub(crate) fn client(&mut self) -> Result<&mut postgres::Client, StoreError> {
        pg_client(&mut self.client, &mut self.statements, &self.target)
    }
}

fn open_pg(target: &oncofed_migrate::postgres::Target) -> Result<postgres::Client, StoreError> {
    target
        .config
        .connect(postgres::NoTls)
        .map_err(|e| StoreError::Connect {
            target: target.described.clone(),
            reason: pg_reason(&e),
        })
}

impl Drop for PgConn {
    fn drop(&mut self) {
        // Closing blocks on the client's own runtime, which panics inside an async
        // context: close on a plain thread, so dropping is safe everywhere.
        if let Some(client) = self.client.take() {
            let _ = std::thread::spawn(move || drop(client)).join();
        }
    }
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
            Conn::Postgres(pg) => {
                let client = pg_client(&mut pg.client, &mut pg.statements, &pg.target)?;
                let mut tx = client.transaction()?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
                Ok(Tx::Postgres(tx, &mut pg.statements))
            }
        }
    }

    /// Starts a read transaction: one snapshot for everything it reads.
    pub(crate) fn read_tx(&mut self) -> Result<Tx<'_>, StoreError> {
        match self {
            Conn::Sqlite(c) => Ok(Tx::Sqlite(c.transaction()?)),
            Conn::Postgres(pg) => {
                let client = pg_client(&mut pg.client, &mut pg.statements, &pg.target)?;
                let tx = client
                    .build_transaction()
                    .isolation_level(postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()?;
                Ok(Tx::Postgres(tx, &mut pg.statements))
            }
        }
    }
}

fn pg_client<'c>(
    client: &'c mut Option<postgres::Client>,
    statements: &mut HashMap<String, postgres::Statement>,
    target: &oncofed_migrate::postgres::Target,
) -> Result<&'c mut postgres::Client, StoreError> {
    if client.as_ref().is_none_or(postgres::Client::is_closed) {
        statements.clear();
        *client = Some(open_pg(target)?);
    }
    Ok(client.as_mut().expect("connection was just opened"))
}

/// A transaction of either engine: rolled back when dropped without [`Tx::commit`].
pub(crate) enum Tx<'c> {
    /// SQLite.
    Sqlite(rusqlite::Transaction<'c>),
    /// PostgreSQL, with the connection's statement cache.
    Postgres(
        postgres::Transaction<'c>,
        &'c mut HashMap<String, postgres::Statement>,
    ),
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

/// `?N` placeholders as PostgreSQL's `$N` (the store's SQL has no other `?`).
fn dollars(sql: &str) -> String {
    sql.replace('?', "$")
}

impl Tx<'_> {
    fn pg_statement(
        tx: &mut postgres::Transaction<'_>,
        cache: &mut HashMap<String, postgres::Statement>,
        sql: &str,
    ) -> Result<postgres::Statement, StoreError> {
        if let Some(s) = cache.get(sql) {
            return Ok(s.clone());
        }
        let statement = tx.prepare(&dollars(sql))?;
        cache.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Runs a statement; returns the number of rows it changed.
    pub(crate) fn execute(&mut self, sql: &str, params: &[&dyn Param]) -> Result<u64, StoreError> {
        counted();
        match self {
            Tx::Sqlite(tx) => {
                let p: Vec<&dyn rusqlite::ToSql> = params.iter().map(|p| p.sqlite()).collect();
                Ok(tx.prepare_cached(sql)?.execute(p.as_slice())? as u64)
            }
            Tx::Postgres(tx, cache) => {
                let statement = Self::pg_statement(tx, cache, sql)?;
                let p: Vec<_> = params.iter().map(|p| p.pg()).collect();
                Ok(tx.execute(&statement, &p)?)
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
            Tx::Postgres(tx, cache) => {
                let statement = Self::pg_statement(tx, cache, sql)?;
                let p: Vec<_> = params.iter().map(|p| p.pg()).collect();
                tx.query(&statement, &p)?
                    .iter()
                    .map(|r| f(&Row::Postgres(r)))
                    .collect()
            }
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
            Tx::Postgres(tx, cache) => {
                let statement = Self::pg_statement(tx, cache, sql)?;
                let p: Vec<_> = params.iter().map(|p| p.pg()).collect();
                match tx.query(&statement, &p)?.first() {
                    Some(r) => Ok(Some(f(&Row::Postgres(r))?)),
                    None => Ok(None),
                }
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

    /// Commits.
    pub(crate) fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => Ok(tx.commit()?),
            Tx::Postgres(tx, _) => Ok(tx.commit()?),
        }
    }

    /// Whether this is a PostgreSQL transaction: for the tests' engine-specific
    /// statements (such as listing tables), and where one engine plans a
    /// statement badly (`linkage::blocks::search`).
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self, Tx::Postgres(..))
    }
}
