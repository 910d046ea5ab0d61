//! The trust-centre store's PostgreSQL connection: `tokio-postgres` driven on a
//! current-thread runtime of the connection's own, with *pipelined* statements.
//!
//! On PostgreSQL every statement that is waited for is a round trip. On a
//! loopback connection the round trip (two process wake-ups) cost more than the
//! statement: the linkage path spent about half its time with both processes
//! idle. So:
//! - a write whose answer nobody reads (a consent-feed entry, a block row) is
//!   *sent* when it is issued ([`PgTx::execute_later`]) and its answer read
//!   later;
//! - a read whose rows are needed a little later is sent the same way
//!   ([`PgTx::query_later`]) and its rows taken when needed ([`PgTx::take`]), so
//!   independent reads share a round trip.
//!
//! The server runs statements in the order they were sent, so every statement
//! sees the ones sent before it, exactly as if each had been waited for. Errors
//! are not lost. Every wait first collects the answers of the statements sent
//! before it, and a failed write is reported (and the transaction rolled back)
//! in place of whatever followed it. [`PgTx::commit`] collects them all before
//! `COMMIT`. This matters because PostgreSQL answers a `COMMIT` of a failed
//! transaction with `ROLLBACK`, not an error: the collection before it is what
//! makes it impossible to commit over a lost write
//! (`db::conformance::schema::a_failed_write_sent_later_is_never_committed_over`).
//!
//! The connection also sets `plan_cache_mode = force_generic_plan`. Every
//! statement is prepared once and runs with other keys over primary keys and
//! exact indexes, and re-planning each run was a quarter of the server's time.
//! A generic plan is made once, maybe while a table is still empty. So the hot
//! statements look keys up one equality at a time (`UNION ALL` of lookups,
//! never `IN (…)`, whose plan made on an empty table stayed a scan).
//!
//! Statements run in the order sent, so a read issued while a window of reads
//! sent ahead is still running waits for all of them. A read that needs only
//! what was committed, not the transaction's own writes, can go instead over a
//! second connection on the same runtime ([`PgTx::query_committed`]), opened
//! when first needed: a scored candidate's person, which had been the longest
//! wait of the linkage path at a million records.
//!
//! The `postgres` crate (the blocking client the rest of the project uses)
//! waits for each statement. So this module drives its asynchronous core
//! itself, as that crate does: a runtime per connection, and `block_on` only
//! off the async workers (`Db` runs the store on tokio's blocking pool).
//!
//! Parameters of a statement sent later are encoded at once, against the
//! prepared statement's parameter types ([`Encoded`]). The pending statement
//! owns them, and the caller's borrowed values can go.

mod beside;

use super::StoreError;
use super::sql::{Param, pg_reason};
use crate::linkage::blocks::SplitKeys;
use beside::Beside;
use bytes::BytesMut;
use oncofed_migrate::postgres::Target;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, NoTls, Row, Statement};

/// The advisory lock every PostgreSQL write transaction takes: "oncotrst" in ASCII.
pub(crate) const WRITE_LOCK: i64 = 0x6f6e_636f_7472_7374;

/// A PostgreSQL connection with its prepared statements (one round trip per
/// statement instead of two) and what it needs to reconnect.
pub(crate) struct PgConn {
    /// `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
    /// `None` only while dropping.
    client: Option<Client>,
    statements: HashMap<String, Statement>,
    /// The second connection, for reads of what was committed
    /// ([`PgTx::query_committed`]); opened when first needed.
    beside: Beside,
    /// The blocking index's split keys, kept between batches by the linkage
    /// (`linkage::blocks::splits`); dropped when a commit fails.
    kept_splits: Option<SplitKeys>,
    target: Target,
}

impl PgConn {
    /// Connects (blocking; not on an async worker).
    pub(crate) fn connect(target: &Target) -> Result<Self, StoreError> {
        let (runtime, client) = open(target)?;
        Ok(Self {
            runtime: Some(runtime),
            client: Some(client),
            statements: HashMap::new(),
            beside: Beside::default(),
            kept_splits: None,
            target: target.clone(),
        })
    }

    /// Reopens the connection if the server closed it.
    fn ensure_open(&mut self) -> Result<(), StoreError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.statements.clear();
            // The second connection ran on the old runtime: it goes too.
            let beside = self.beside.take_client();
            // The old runtime goes off this thread, like in `Drop`.
            let (runtime, client) = open(&self.target)?;
            let old = (
                self.runtime.replace(runtime),
                self.client.replace(client),
                beside,
            );
            let _ = std::thread::spawn(move || drop(old)).join();
        }
        Ok(())
    }

    /// Runs `sql` (one or more statements, no parameters) and waits.
    pub(crate) fn batch_execute(&mut self, sql: &str) -> Result<(), StoreError> {
        self.ensure_open()?;
        let (runtime, client) = both(&self.runtime, &self.client);
        Ok(runtime.block_on(client.batch_execute(sql))?)
    }

    /// Starts a transaction with `begin` (waiting for it).
    pub(crate) fn transaction(&mut self, begin: &str) -> Result<PgTx<'_>, StoreError> {
        self.batch_execute(begin)?;
        // By field, so the statement cache can be borrowed beside them.
        let (runtime, client) = both(&self.runtime, &self.client);
        Ok(PgTx {
            runtime,
            client,
            statements: &mut self.statements,
            beside: &mut self.beside,
            kept_splits: &mut self.kept_splits,
            target: &self.target,
            pending: Vec::new(),
            answers: HashMap::new(),
            next_read: 0,
            open: true,
        })
    }
}

/// The runtime and client of a connection, which has both until it is dropped.
fn both<'a>(
    runtime: &'a Option<tokio::runtime::Runtime>,
    client: &'a Option<Client>,
) -> (&'a tokio::runtime::Runtime, &'a Client) {
    match (runtime, client) {
        (Some(r), Some(c)) => (r, c),
        _ => unreachable!("a connection has both until it is dropped"),
    }
}

fn open(target: &Target) -> Result<(tokio::runtime::Runtime, Client), StoreError> {
    let failed = |reason: String| StoreError::Connect {
        target: target.described.clone(),
        reason,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let client = connect_on(&runtime, target)?;
    Ok((runtime, client))
}

/// A connection driven by `runtime`, set up for the store's statements.
fn connect_on(runtime: &tokio::runtime::Runtime, target: &Target) -> Result<Client, StoreError> {
    let failed = |reason: String| StoreError::Connect {
        target: target.described.clone(),
        reason,
    };
    let (client, connection) = runtime
        .block_on(target.async_config.connect(NoTls))
        .map_err(|e| failed(pg_reason(&e)))?;
    // Runs whenever the runtime does (while a statement is waited for); a
    // broken connection shows as a closed client.
    runtime.spawn(async move {
        let _ = connection.await;
    });
    // Every statement is prepared once and run with different keys, over
    // primary keys and exact indexes: one generic plan is right for all, and
    // planning each run anew (PostgreSQL's choice for a statement whose generic
    // plan it estimates dearer, such as the leaf search's union of range
    // scans) was a quarter of the server's time on the linkage path.
    //
    // No JIT: it compiles a statement whose estimated cost passes
    // `jit_above_cost` anew at every run, and a batch read of 64 unions with
    // sub-selects (a generic plan's estimates are rough) took 60 % of the
    // server's time compiling, for statements that run in well under a
    // millisecond (BENCHMARKS.md, "Thirteenth session").
    runtime
        .block_on(client.batch_execute("SET plan_cache_mode = force_generic_plan; SET jit = off"))
        .map_err(|e| failed(pg_reason(&e)))?;
    Ok(client)
}

impl Drop for PgConn {
    fn drop(&mut self) {
        // Dropping a runtime panics inside an async context: drop it on a plain
        // thread, so dropping a connection is safe everywhere.
        let beside = self.beside.take_client();
        let parts = (beside, self.client.take(), self.runtime.take());
        let _ = std::thread::spawn(move || drop(parts)).join();
    }
}

#[cfg(test)]
thread_local! {
    /// Round trips this thread waited for in a [`PgTx`]: the conformance suite
    /// bounds a path's round trips on PostgreSQL.
    pub(crate) static WAITS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts one round trip waited for (tests only).
fn waited() {
    #[cfg(test)]
    WAITS.with(|n| n.set(n.get() + 1));
}

/// A statement sent and not yet answered: a write, whose answer is only
/// checked, or a read, whose rows are kept until taken ([`PgTx::take`]).
enum Pending<'c> {
    Write(Pin<Box<dyn Future<Output = Result<u64, tokio_postgres::Error>> + 'c>>),
    Read(u64, ReadFuture<'c>),
    /// A read whose rows nobody wants ([`PgTx::forget`]).
    Dropped(ReadFuture<'c>),
}

/// The answer of a read sent.
type ReadFuture<'c> = Pin<Box<dyn Future<Output = Result<Vec<Row>, tokio_postgres::Error>> + 'c>>;

/// A transaction on a [`PgConn`]: rolled back when dropped without
/// [`PgTx::commit`].
pub(crate) struct PgTx<'c> {
    runtime: &'c tokio::runtime::Runtime,
    client: &'c Client,
    statements: &'c mut HashMap<String, Statement>,
    /// The connection's second connection ([`PgTx::query_committed`]).
    beside: &'c mut Beside,
    /// The connection's kept split keys ([`PgTx::take_split_keys`]).
    kept_splits: &'c mut Option<SplitKeys>,
    target: &'c Target,
    /// Statements sent and not yet answered, in the order sent.
    pending: Vec<Pending<'c>>,
    /// Answers of reads sent earlier, until taken.
    answers: HashMap<u64, Result<Vec<Row>, tokio_postgres::Error>>,
    /// The ticket of the next read sent.
    next_read: u64,
    /// Neither committed nor rolled back.
    open: bool,
}

/// `?N` placeholders as PostgreSQL's `$N` (the store's SQL has no other `?`).
fn dollars(sql: &str) -> String {
    sql.replace('?', "$")
}

/// Awaits the answers of statements sent, in order, keeping the reads' rows in
/// `answers`; the first failed write is the error.
async fn collect(
    sent: Vec<Pending<'_>>,
    answers: &mut HashMap<u64, Result<Vec<Row>, tokio_postgres::Error>>,
) -> Result<(), tokio_postgres::Error> {
    let mut written = Ok(());
    for sent in sent {
        match sent {
            Pending::Write(write) => {
                if let Err(e) = write.await
                    && written.is_ok()
                {
                    written = Err(e);
                }
            }
            Pending::Read(ticket, read) => {
                answers.insert(ticket, read.await);
            }
            Pending::Dropped(read) => {
                // Nobody wants the rows, but a failure must not go unseen.
                if let Err(e) = read.await
                    && written.is_ok()
                {
                    written = Err(e);
                }
            }
        }
    }
    written
}

impl<'c> PgTx<'c> {
    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let client = self.client;
        let statement = self.wait(client.prepare(&dollars(sql)))?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Waits for `f` after the answers of every statement sent before it
    /// (keeping the reads' rows); a failed write is the error, whatever `f`
    /// gave (it ran in a failed transaction).
    fn wait<T>(
        &mut self,
        f: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, StoreError> {
        waited();
        let pending = std::mem::take(&mut self.pending);
        let answers = &mut self.answers;
        // Both at once: `f` is sent at its first poll (after the pending
        // statements, which were sent when issued), and its answer comes after
        // theirs. Awaiting `f` alone first would deadlock once a pending read's
        // rows fill the channel the connection hands them through: the
        // connection would stop reading before `f`'s answer.
        let (result, written) = self
            .runtime
            .block_on(async move { tokio::join!(f, collect(pending, answers)) });
        written?;
        Ok(result?)
    }

    /// Waits for the answers of the statements sent up to and including the
    /// read `ticket`, but not for those sent after it: rows asked for ahead
    /// (a window of searches) keep coming while these are used. A failed
    /// write among them is the error.
    fn wait_through(&mut self, ticket: u64) -> Result<(), StoreError> {
        let Some(at) = self
            .pending
            .iter()
            .position(|p| matches!(p, Pending::Read(t, _) if *t == ticket))
        else {
            return Ok(());
        };
        waited();
        let after = self.pending.split_off(at + 1);
        let through = std::mem::replace(&mut self.pending, after);
        let answers = &mut self.answers;
        Ok(self.runtime.block_on(collect(through, answers))?)
    }

    /// Encodes `params` for `statement` (see [`Encoded`]).
    fn encode(statement: &Statement, params: &[&dyn Param]) -> Result<Vec<Encoded>, StoreError> {
        if params.len() != statement.params().len() {
            return Err(StoreError::Postgres(format!(
                "statement takes {} parameters, {} given",
                statement.params().len(),
                params.len()
            )));
        }
        statement
            .params()
            .iter()
            .zip(params)
            .map(|(ty, p)| Encoded::of(p.pg(), ty))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Postgres(format!("parameter: {e}")))
    }

    /// Sends a query without waiting for its rows; [`PgTx::take`] reads them
    /// with the ticket returned. A statement issued in between runs after it.
    pub(crate) fn query_later(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
    ) -> Result<u64, StoreError> {
        let statement = self.statement(sql)?;
        let encoded = Self::encode(&statement, params)?;
        let client = self.client;
        let mut read: Pin<Box<dyn Future<Output = _> + 'c>> = Box::pin(async move {
            let refs: Vec<&(dyn ToSql + Sync)> =
                encoded.iter().map(|e| e as &(dyn ToSql + Sync)).collect();
            client.query(&statement, &refs).await
        });
        let ticket = self.next_read;
        self.next_read += 1;
        // The first poll queues the message on the connection, in order.
        match read.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(answer) => {
                self.answers.insert(ticket, answer);
            }
            Poll::Pending => self.pending.push(Pending::Read(ticket, read)),
        }
        Ok(ticket)
    }

    /// The rows of a query sent with [`PgTx::query_later`], waiting if they
    /// have not come yet.
    pub(crate) fn take(&mut self, ticket: u64) -> Result<Vec<Row>, StoreError> {
        if !self.answers.contains_key(&ticket) {
            self.wait_through(ticket)?;
        }
        match self.answers.remove(&ticket) {
            Some(answer) => Ok(answer?),
            None => Err(StoreError::Postgres(
                "a query's rows were taken twice".into(),
            )),
        }
    }

    /// Lets go of a read sent with [`PgTx::query_later`] whose rows are not
    /// wanted, without waiting: its answer is collected and dropped by the
    /// next wait (a failure is still that wait's error).
    pub(crate) fn forget(&mut self, ticket: u64) -> Result<(), StoreError> {
        if let Some(answer) = self.answers.remove(&ticket) {
            return answer.map(drop).map_err(StoreError::from);
        }
        let at = self
            .pending
            .iter()
            .position(|p| matches!(p, Pending::Read(t, _) if *t == ticket));
        if let Some(at) = at
            && let Pending::Read(_, read) = self.pending.remove(at)
        {
            self.pending.insert(at, Pending::Dropped(read));
            return Ok(());
        }
        Err(StoreError::Postgres(
            "a query's rows were let go after they were taken".into(),
        ))
    }

    /// Runs a statement and waits; returns the number of rows it changed.
    pub(crate) fn execute(&mut self, sql: &str, params: &[&dyn Param]) -> Result<u64, StoreError> {
        let statement = self.statement(sql)?;
        let p: Vec<_> = params.iter().map(|p| p.pg()).collect();
        let client = self.client;
        self.wait(client.execute(&statement, &p))
    }

    /// Sends a statement without waiting for its answer (see the module docs);
    /// a parameter that does not fit the statement is an error now.
    pub(crate) fn execute_later(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
    ) -> Result<(), StoreError> {
        let statement = self.statement(sql)?;
        let encoded = Self::encode(&statement, params)?;
        let client = self.client;
        let mut write: Pin<Box<dyn Future<Output = _> + 'c>> = Box::pin(async move {
            let refs: Vec<&(dyn ToSql + Sync)> =
                encoded.iter().map(|e| e as &(dyn ToSql + Sync)).collect();
            client.execute(&statement, &refs).await
        });
        // The first poll encodes the message and queues it on the connection,
        // in order; the answer is collected by the next wait.
        match write.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Err(e)) => Err(e.into()),
            Poll::Ready(Ok(_)) => Ok(()),
            Poll::Pending => {
                self.pending.push(Pending::Write(write));
                Ok(())
            }
        }
    }

    /// Every row of a query (waiting).
    pub(crate) fn query(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
    ) -> Result<Vec<Row>, StoreError> {
        let statement = self.statement(sql)?;
        let p: Vec<_> = params.iter().map(|p| p.pg()).collect();
        let client = self.client;
        self.wait(client.query(&statement, &p))
    }

    /// Every row of a query run on the connection's second connection, which
    /// sees what was committed, not this transaction's own changes: for rows
    /// the caller knows this transaction has not changed. It is not queued
    /// behind the statements sent on this connection (a window of searches
    /// sent ahead), so it is answered in one round trip while those run.
    ///
    /// While this is a write transaction nothing else commits (every writer
    /// takes [`WRITE_LOCK`] first), so it reads the store as this transaction
    /// found it.
    pub(crate) fn query_committed(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
    ) -> Result<Vec<Row>, StoreError> {
        waited();
        self.beside.query(self.runtime, self.target, sql, params)
    }

    /// The split keys kept on the connection, taken for this transaction (see
    /// `linkage::blocks::splits`).
    pub(crate) fn take_split_keys(&mut self) -> Option<SplitKeys> {
        self.kept_splits.take()
    }

    /// Keeps `keys` on the connection for the next transaction: kept only if
    /// this one commits.
    pub(crate) fn keep_split_keys(&mut self, keys: SplitKeys) {
        *self.kept_splits = Some(keys);
    }

    /// Collects every pending answer, then commits.
    pub(crate) fn commit(mut self) -> Result<(), StoreError> {
        let client = self.client;
        let result = self.wait(client.batch_execute("COMMIT"));
        self.open = false;
        if result.is_err() {
            // What was kept for after this transaction describes a store that
            // was not written.
            *self.kept_splits = None;
            self.rollback();
        }
        result
    }

    fn rollback(&mut self) {
        self.pending.clear();
        self.answers.clear();
        let _ = self.runtime.block_on(self.client.batch_execute("ROLLBACK"));
        self.open = false;
    }
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if self.open {
            self.rollback();
        }
    }
}

/// A parameter encoded for its statement's parameter type when the statement
/// was issued, so a statement sent later owns its parameters.
#[derive(Debug)]
struct Encoded(Option<Vec<u8>>);

impl Encoded {
    fn of(
        value: &(dyn ToSql + Sync),
        ty: &Type,
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let mut buf = BytesMut::new();
        Ok(match value.to_sql_checked(ty, &mut buf)? {
            IsNull::Yes => Encoded(None),
            IsNull::No => Encoded(Some(buf.to_vec())),
        })
    }
}

impl ToSql for Encoded {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.0 {
            Some(bytes) => {
                out.extend_from_slice(bytes);
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        }
    }

    /// Checked when it was encoded ([`Encoded::of`]).
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}
