//! The trust centre's own store: persons, their site-local ids with IDAT, keyed
//! linkage keys, the site-pseudonym reverse table, the consent registry, linkage
//! blocks, the review and PPRL tables, deletion orders, re-contact requests and
//! pseudonym domains.
//!
//! Two backends with one set of queries ([`sql`]: every query is written once, in
//! the SQL both engines accept) and one conformance suite (`db::conformance`, run
//! on both):
//! - SQLite, the embedded default ([`sqlite`]): `<data_dir>/trustee.db`, mode
//!   0600 because it holds identities, WAL, migrations through `oncofed-migrate`;
//! - PostgreSQL ([`postgres`]), for a federation whose identities outgrow one
//!   file: `oncofed trustee serve --store-url postgres://…`, its version in
//!   `trustee_schema` under an advisory lock, loopback or Unix socket only.
//!
//! Both refuse a schema newer than the build, and record a fingerprint of the
//! pseudonym key and refuse to open with another key.
//!
//! The drivers are synchronous: [`Db`] keeps one writer and one reader connection,
//! each behind a mutex, and runs every call on tokio's blocking pool, so checks and
//! resolves (reader) do not wait for pseudonymisation batches (writer). On SQLite a
//! third connection checkpoints the WAL on its own thread; on PostgreSQL one
//! vacuums the growing blocking index ([`postgres::vacuum_loop`]).

pub(crate) mod access_codes;
pub(crate) mod admissions;
#[cfg(test)]
mod conformance;
pub(crate) mod consent_feed;
mod consents;
pub(crate) mod deletions;
pub(crate) mod domains;
mod linkage;
pub(crate) mod patients;
mod pipelined;
pub(crate) mod postgres;
pub(crate) mod recontact;
pub(crate) mod sql;
pub(crate) mod sqlite;
mod tombstones;

pub(crate) use consents::{
    ADMIN_SOURCE, ConsentRow, check_consents, insert_admin_consent, insert_site_consents,
};
#[cfg(test)]
pub(crate) use linkage::pseudonymise;
pub(crate) use linkage::{
    ERASED_IDAT, LinkBatch, LinkItem, Person, Refusal, person_by_row, pid_from, pseudonymise_each,
    register_site_pseudonym, resolve,
};
pub(crate) use sql::{Conn, Row, Tx, params};

use std::path::Path;
use std::sync::{Arc, Mutex};

/// Why the store failed or refused an operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error (its messages name tables and columns, not values).
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL reported an error: its SQLSTATE and message, never the `DETAIL`
    /// that quotes key values (see [`sql::pg_reason`]).
    #[error("postgresql: {0}")]
    Postgres(String),
    /// The PostgreSQL URL was refused before connecting (unparsable, or a host
    /// reached over the network in plain text).
    #[error("trust-centre store URL: {0}")]
    Url(#[from] oncofed_migrate::postgres::TargetError),
    /// The PostgreSQL server could not be reached or refused the login.
    #[error(
        "cannot connect to the trust-centre store at {target}: {reason}; check the URL, the \
         server and its pg_hba.conf"
    )]
    Connect {
        /// `postgres://user@host:port/database`, never the password.
        target: String,
        /// The driver's reason.
        reason: String,
    },
    /// A query expected a row that is not there.
    #[error("a row the store expected is missing")]
    NoRow,
    /// The data directory or store file could not be prepared.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The store was written by a newer build (either backend).
    #[error(
        "store schema version {found} is newer than this build knows ({known}); upgrade oncofed"
    )]
    SchemaTooNew {
        /// Version found in the file.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// A batch item names a local id the calling site never registered.
    #[error("item {index}: local id not registered")]
    UnknownLocalId {
        /// Position in the batch.
        index: usize,
    },
    /// A site pseudonym the trust centre does not know.
    #[error("unknown site pseudonym")]
    UnknownPseudonym,
    /// The store was created with another pseudonym key.
    #[error(
        "the pseudonym key does not match the one this store was created with; \
         restore the original key file (a new key would change every pseudonym)"
    )]
    KeyMismatch,
    /// The store's blocking index was built under another linkage key.
    #[error(
        "the store's linkage index was built under another linkage key: configure the \
         linkage key file it was built with, or re-key it with `oncofed trustee \
         rotate-linkage-key`"
    )]
    LinkageKeyMismatch,
    /// Two persons derived the same pseudonym (80 bits; not expected to happen).
    #[error("pseudonym collision between two persons")]
    PseudonymCollision,
    /// A stored record could not be read back.
    #[error("stored record is unreadable: {0}")]
    Corrupt(String),
    /// The blocking task running the query panicked or was cancelled.
    #[error("store task failed: {0}")]
    Task(String),
}

impl From<::postgres::Error> for StoreError {
    fn from(e: ::postgres::Error) -> Self {
        let db = e.as_db_error();
        if db.is_some_and(|d| {
            d.code() == &::postgres::error::SqlState::UNIQUE_VIOLATION
                && d.constraint() == Some(PSEUDONYM_CONSTRAINT)
        }) {
            // A new person's pseudonym, inserted without `ON CONFLICT`.
            return Self::PseudonymCollision;
        }
        Self::Postgres(sql::pg_reason(&e))
    }
}

/// PostgreSQL's name of `site_pseudonyms`' primary key.
const PSEUDONYM_CONSTRAINT: &str = "site_pseudonyms_pkey";

impl StoreError {
    /// [`StoreError::PseudonymCollision`] for SQLite's unique-constraint error
    /// on `site_pseudonyms` (PostgreSQL's is mapped in `From`), else `self`.
    pub(crate) fn collision_if_unique(self) -> Self {
        match &self {
            Self::Sqlite(rusqlite::Error::SqliteFailure(f, Some(message)))
                if f.code == rusqlite::ErrorCode::ConstraintViolation
                    && message.contains("site_pseudonyms.pseudonym") =>
            {
                Self::PseudonymCollision
            }
            _ => self,
        }
    }
}

/// The store as the async service uses it: a writer and a reader connection, and
/// a maintenance thread: SQLite's checkpointer, PostgreSQL's vacuum of the
/// blocking index.
///
/// Copying the WAL back into the database (a checkpoint, with its fsyncs) is the
/// slowest part of a write; done by the writer it would stall every fifth batch.
/// The checkpointer thread runs a passive checkpoint on its own connection after
/// writes instead, concurrently with the next batch. The vacuum thread keeps
/// the blocking index's pages all-visible as it grows. Either ends when the
/// last `Db` clone is dropped.
#[derive(Clone)]
pub(crate) struct Db {
    writer: Arc<Mutex<Conn>>,
    reader: Arc<Mutex<Conn>>,
    /// Wakes the maintenance thread after a write: SQLite's checkpointer, or
    /// PostgreSQL's vacuum of the blocking index ([`postgres::vacuum_loop`]).
    wrote: Option<std::sync::mpsc::SyncSender<()>>,
}

impl Db {
    /// Opens the SQLite store at `path`: both connections on the same file,
    /// checks that the store belongs to the key with `key_fingerprint`, and starts
    /// the checkpointer.
    pub(crate) fn open(path: &Path, key_fingerprint: &[u8; 32]) -> Result<Self, StoreError> {
        let mut writer = Conn::Sqlite(sqlite::open(path)?);
        check_key_fingerprint(&mut writer, key_fingerprint)?;
        let reader = Conn::Sqlite(sqlite::open(path)?);
        let checkpointer = sqlite::open(path)?;
        let (wrote, rx) = std::sync::mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("trustee-checkpoint".into())
            .spawn(move || sqlite::checkpoint_loop(&checkpointer, &rx))
            .map_err(|source| StoreError::Io {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self {
            writer: Arc::new(Mutex::new(writer)),
            reader: Arc::new(Mutex::new(reader)),
            wrote: Some(wrote),
        })
    }

    /// Connects to the PostgreSQL store at `url` (two connections), migrates it
    /// and checks the key as [`Db::open`] does. Blocking: call it from a blocking
    /// thread, never from async code.
    pub(crate) fn connect(url: &str, key_fingerprint: &[u8; 32]) -> Result<Self, StoreError> {
        let mut writer = Conn::Postgres(Box::new(postgres::connect(url)?));
        check_key_fingerprint(&mut writer, key_fingerprint)?;
        let reader = Conn::Postgres(Box::new(postgres::connect(url)?));
        let (wrote, rx) = std::sync::mpsc::sync_channel::<()>(1);
        let url = url.to_owned();
        std::thread::Builder::new()
            .name("trustee-vacuum".into())
            .spawn(move || postgres::vacuum_loop(&url, &rx))
            .map_err(|source| StoreError::Io {
                path: "the store's vacuum thread".into(),
                source,
            })?;
        Ok(Self {
            writer: Arc::new(Mutex::new(writer)),
            reader: Arc::new(Mutex::new(reader)),
            wrote: Some(wrote),
        })
    }

    /// Brings the blocking index to this build and checks it against the
    /// linkage key ([`crate::linkage::blocks::ensure_current`]). Blocking: call
    /// it at start-up, before requests are served.
    pub(crate) fn prepare_linkage_index(&self, keys: &crate::keys::Keys) -> Result<(), StoreError> {
        let mut conn = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        crate::linkage::blocks::ensure_current(&mut conn, keys)
    }

    /// Re-keys the blocking index from `old` to `new` in one transaction
    /// ([`crate::linkage::blocks::rotate`]). Blocking.
    pub(crate) fn rotate_linkage_key(
        &self,
        old: &crate::keys::Keys,
        new: &crate::keys::Keys,
    ) -> Result<u64, StoreError> {
        let mut conn = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        crate::linkage::blocks::rotate(&mut conn, old, new)
    }

    /// Runs `f` with the writer connection on the blocking pool.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    {
        let result = run(self.writer.clone(), f).await;
        // Full means a checkpoint is already due; it will see this write too.
        if let Some(wrote) = &self.wrote {
            let _ = wrote.try_send(());
        }
        result
    }

    /// After a sweep erased IDAT (`deletions::erase`): on SQLite a truncating
    /// checkpoint, so the WAL no longer holds pages with the old IDAT (the file
    /// itself overwrites deleted content, `secure_delete`); on PostgreSQL a
    /// `VACUUM (ANALYZE)` of the erased tables, so their dead tuples become
    /// reusable (not overwritten: see ARCHITECTURE.md). Failures are logged, not
    /// returned: the erasure itself is committed.
    pub(crate) async fn after_erasure(&self) {
        let result = run(self.writer.clone(), |conn| match conn {
            Conn::Sqlite(c) => {
                // The checkpointer thread may be mid-checkpoint (SQLITE_BUSY without
                // waiting): try a few times.
                for _ in 0..40 {
                    if sqlite::truncate_wal(c)? {
                        return Ok(());
                    }
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                tracing::warn!("the WAL could not be truncated after an erasure (busy); the next checkpoint overwrites it");
                Ok(())
            }
            Conn::Postgres(pg) => postgres::vacuum_erased(pg),
        })
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "clean-up after a withdrawal erasure failed; it is retried after the next one");
        }
    }

    /// Runs `f` with the reader connection on the blocking pool.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    {
        run(self.reader.clone(), f).await
    }
}

async fn run<T, F>(store: Arc<Mutex<Conn>>, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        // A panic inside `f` drops its transaction, which rolls back, so the
        // connection behind a poisoned lock is consistent and can be reused.
        let mut guard = store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    })
    .await
    .map_err(|e| StoreError::Task(e.to_string()))?
}

/// Records the key's fingerprint in a new store, or checks it against the one
/// recorded: a mistyped key path must not silently start a second pseudonym world.
fn check_key_fingerprint(conn: &mut Conn, fingerprint: &[u8; 32]) -> Result<(), StoreError> {
    let mut tx = conn.write_tx()?;
    let stored: Option<Vec<u8>> = tx.query_opt(
        "SELECT value FROM meta WHERE name = 'key_fingerprint'",
        params![],
        |r| r.get(0),
    )?;
    match stored {
        Some(v) if v == fingerprint[..] => Ok(()),
        Some(_) => Err(StoreError::KeyMismatch),
        None => {
            tx.execute(
                "INSERT INTO meta (name, value) VALUES ('key_fingerprint', ?1)",
                params![&fingerprint[..]],
            )?;
            tx.commit()
        }
    }
}

/// Seconds since the Unix epoch, for `created_at` columns.
pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
