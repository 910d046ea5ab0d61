//! The trust centre's own SQLite store: persons, their site-local ids with IDAT,
//! keyed linkage keys, the site-pseudonym reverse table and the consent registry.
//!
//! One file, `<data_dir>/trustee.db`, created mode 0600 because it holds identities.
//! WAL journal with `synchronous = NORMAL` (a power cut may lose the last
//! transactions, never corrupt the file). Migrations are numbered and tracked in
//! `PRAGMA user_version`; a store written by a newer build is refused.
//!
//! SQLite is synchronous: [`Db`] keeps one writer and one reader connection, each
//! behind a mutex, and runs every call on tokio's blocking pool. With WAL, checks
//! and resolves (reader) do not wait for pseudonymisation batches (writer); a third
//! connection checkpoints on its own thread. The store records a fingerprint of
//! the pseudonym key and refuses to open with another key.

pub(crate) mod consent_feed;
mod consents;
pub(crate) mod deletions;
pub(crate) mod domains;
mod linkage;
pub(crate) mod recontact;

pub(crate) use consents::{ConsentRow, check_consents, insert_admin_consent, insert_site_consents};
pub(crate) use linkage::{
    LinkItem, Person, person_by_row, pseudonymise, register_site_pseudonym, resolve,
};

use rusqlite::{Connection, OptionalExtension};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Why the store failed or refused an operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The data directory or store file could not be prepared.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The store was written by a newer build.
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

/// Numbered migrations; `PRAGMA user_version` is the number applied.
const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    "CREATE TABLE persons (
        id INTEGER PRIMARY KEY,            -- sequential storage handle, never leaves the store
        pid BLOB NOT NULL,                 -- 16 random bytes: the input of the pseudonym MACs
        kvnr_key BLOB,                     -- keyed hash of the insurance number, when known
        created_at INTEGER NOT NULL
    );
    CREATE TABLE local_ids (
        site TEXT NOT NULL,
        local_id TEXT NOT NULL,
        person_id INTEGER NOT NULL REFERENCES persons(id),
        idat TEXT NOT NULL,                -- IdentifyingData as JSON, latest the site sent
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (site, local_id)
    ) WITHOUT ROWID;
    CREATE TABLE blocking_keys (
        key BLOB PRIMARY KEY,              -- HMAC of a normalised linkage key
        person_id INTEGER NOT NULL REFERENCES persons(id)
    ) WITHOUT ROWID;
    CREATE TABLE site_pseudonyms (
        pseudonym TEXT PRIMARY KEY,
        site TEXT NOT NULL,
        person_id INTEGER NOT NULL REFERENCES persons(id)
    ) WITHOUT ROWID;
    CREATE TABLE consents (
        id INTEGER PRIMARY KEY,
        person_id INTEGER NOT NULL REFERENCES persons(id),
        source TEXT NOT NULL,              -- site id, or '@admin' for trust-centre staff
        resource_id TEXT,                  -- Consent.id
        content_hash BLOB NOT NULL,        -- SHA-256 of the canonical JSON
        resource TEXT NOT NULL,            -- the FHIR Consent as received
        received_at INTEGER NOT NULL,
        superseded_by INTEGER REFERENCES consents(id),
        UNIQUE (person_id, content_hash)
    );
    CREATE INDEX consents_current ON consents(person_id) WHERE superseded_by IS NULL;
    CREATE TABLE meta (
        name TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) WITHOUT ROWID;",
    // 2: probabilistic linkage, clerical review, PPRL projects (crate::linkage).
    "ALTER TABLE persons ADD COLUMN merged_into INTEGER REFERENCES persons(id);
    CREATE TABLE linkage_blocks (
        key INTEGER NOT NULL,              -- 64-bit hash of a blocking pass and its value
        site TEXT NOT NULL,
        local_id TEXT NOT NULL,
        PRIMARY KEY (key, site, local_id)
    ) WITHOUT ROWID;
    CREATE TABLE review_items (
        id INTEGER PRIMARY KEY,
        site TEXT NOT NULL,                -- the new record
        local_id TEXT NOT NULL,
        person_id INTEGER NOT NULL REFERENCES persons(id),
        other_site TEXT NOT NULL,          -- the best-scoring earlier record
        other_local_id TEXT NOT NULL,
        other_person_id INTEGER NOT NULL REFERENCES persons(id),
        score REAL NOT NULL,
        created_at INTEGER NOT NULL,
        decision TEXT,                     -- 'match' | 'non-match', NULL while pending
        reviewer TEXT,
        decided_at INTEGER
    );
    CREATE INDEX review_pending ON review_items(id) WHERE decision IS NULL;
    CREATE TABLE pprl_projects (
        name TEXT PRIMARY KEY,
        threshold REAL NOT NULL,           -- Dice coefficient of a link
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE pprl_records (
        project TEXT NOT NULL,
        site TEXT NOT NULL,
        record_id TEXT NOT NULL,
        clk BLOB NOT NULL,                 -- 128-byte Bloom-filter encoding
        link_id TEXT NOT NULL,
        PRIMARY KEY (project, site, record_id)
    ) WITHOUT ROWID;
    CREATE INDEX pprl_records_link ON pprl_records(project, link_id);
    CREATE TABLE pprl_blocks (
        project TEXT NOT NULL,
        key INTEGER NOT NULL,              -- keyed blocking key computed by the site
        site TEXT NOT NULL,
        record_id TEXT NOT NULL,
        PRIMARY KEY (project, key, site, record_id)
    ) WITHOUT ROWID;",
    // 3: withdrawal cascade, re-contact requests, pseudonym domains
    // (db::deletions, db::recontact, db::domains).
    "CREATE TABLE deletion_orders (
        id INTEGER PRIMARY KEY,
        person_id INTEGER NOT NULL REFERENCES persons(id),
        site TEXT NOT NULL,
        pseudonym TEXT NOT NULL,           -- the person's pseudonym in the site's domain
        consent_id INTEGER NOT NULL REFERENCES consents(id), -- the withdrawal it answers
        ordered_at INTEGER NOT NULL,
        done_at INTEGER,
        receipt TEXT,                      -- the site's DeletionReceipt as JSON
        UNIQUE (consent_id, site)
    );
    CREATE INDEX deletion_orders_open ON deletion_orders(site, id) WHERE done_at IS NULL;
    CREATE TABLE sample_destructions (
        id INTEGER PRIMARY KEY,
        person_id INTEGER NOT NULL REFERENCES persons(id),
        consent_id INTEGER NOT NULL UNIQUE REFERENCES consents(id),
        ordered_at INTEGER NOT NULL,
        confirmed_at INTEGER,
        confirmed_by TEXT                  -- staff name
    );
    CREATE TABLE recontact_requests (
        id INTEGER PRIMARY KEY,
        person_id INTEGER NOT NULL REFERENCES persons(id),
        site TEXT NOT NULL,                -- the treating site: the only one that sees it
        pseudonym TEXT NOT NULL,
        reason_code TEXT NOT NULL,
        reason TEXT NOT NULL,
        requester TEXT NOT NULL,           -- staff name
        state TEXT NOT NULL,               -- 'pending' | 'released' | 'refused-by-consent'
        created_at INTEGER NOT NULL,
        released_at INTEGER,
        delivered_at INTEGER               -- first time the site fetched it
    );
    CREATE INDEX recontact_released ON recontact_requests(site, id) WHERE state = 'released';
    CREATE TABLE recontact_approvals (
        request_id INTEGER NOT NULL REFERENCES recontact_requests(id),
        staff TEXT NOT NULL,
        approved_at INTEGER NOT NULL,
        PRIMARY KEY (request_id, staff)
    ) WITHOUT ROWID;
    CREATE TABLE pseudonym_domains (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        parent_id INTEGER REFERENCES pseudonym_domains(id),
        depth INTEGER NOT NULL,            -- 0 root, 1 site, 2 project
        site TEXT,                         -- site allowed to use it (own or inherited)
        alphabet TEXT NOT NULL,
        length INTEGER NOT NULL,
        check_digit TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE domain_pseudonyms (
        domain_id INTEGER NOT NULL REFERENCES pseudonym_domains(id),
        value TEXT NOT NULL,
        pseudonym TEXT NOT NULL,
        PRIMARY KEY (domain_id, value)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX domain_pseudonyms_reverse ON domain_pseudonyms(domain_id, pseudonym);",
    // 4: a person's site pseudonyms by person (the withdrawal cascade finds every
    // site holding a withdrawn person, also one that registers them later).
    "CREATE INDEX site_pseudonyms_person ON site_pseudonyms(person_id, site);",
    // 5: a person's records by person: every automatic link checks the new record
    // against all records of the person it would join (linkage::veto).
    "CREATE INDEX local_ids_person ON local_ids(person_id);",
    // 6: the consent feed's change log (db::consent_feed).
    consent_feed::MIGRATION,
];

/// One open connection with the schema in place.
pub(crate) struct Store {
    pub(crate) conn: Connection,
}

impl Store {
    /// Opens (creating if needed) the store file and brings its schema up to date.
    pub(crate) fn open(path: &Path) -> Result<Self, StoreError> {
        create_private_file(path)?;
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "cache_size", -65_536)?; // 64 MiB
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Checkpoints normally run on the checkpointer thread (see `Db`); this is the
        // backstop should it fall behind: 64 MiB of WAL rather than SQLite's 4 MiB.
        conn.pragma_update(None, "wal_autocheckpoint", 16_384)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.set_prepared_statement_cache_capacity(32);
        migrate(&mut conn)?;
        Ok(Self { conn })
    }
}

/// Records the key's fingerprint in a new store, or checks it against the one
/// recorded: a mistyped key path must not silently start a second pseudonym world.
fn check_key_fingerprint(conn: &Connection, fingerprint: &[u8; 32]) -> Result<(), StoreError> {
    let stored: Option<Vec<u8>> = conn
        .query_row(
            "SELECT value FROM meta WHERE name = 'key_fingerprint'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    match stored {
        Some(v) if v == fingerprint[..] => Ok(()),
        Some(_) => Err(StoreError::KeyMismatch),
        None => {
            conn.execute(
                "INSERT INTO meta (name, value) VALUES ('key_fingerprint', ?1)",
                [&fingerprint[..]],
            )?;
            Ok(())
        }
    }
}

/// Creates an empty store file readable only by the owner, if none exists. SQLite
/// gives its `-wal` and `-shm` files the same permissions.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    match oncofed_migrate::apply(conn, "trust-centre store", MIGRATIONS) {
        Ok(_) => Ok(()),
        Err(oncofed_migrate::MigrateError::TooNew {
            found, supported, ..
        }) => Err(StoreError::SchemaTooNew {
            found,
            known: supported,
        }),
        Err(oncofed_migrate::MigrateError::Sqlite { source, .. }) => Err(source.into()),
    }
}

/// The store as the async service uses it: a writer and a reader connection, and
/// a checkpointer thread.
///
/// Copying the WAL back into the database (a checkpoint, with its fsyncs) is the
/// slowest part of a write; done by the writer it would stall every fifth batch.
/// The checkpointer thread runs a passive checkpoint on its own connection after
/// writes instead, concurrently with the next batch. It ends when the last `Db`
/// clone is dropped.
#[derive(Clone)]
pub(crate) struct Db {
    writer: Arc<Mutex<Store>>,
    reader: Arc<Mutex<Store>>,
    wrote: std::sync::mpsc::SyncSender<()>,
}

impl Db {
    /// Opens both connections on the same file, checks that the store belongs to
    /// the key with `key_fingerprint`, and starts the checkpointer.
    pub(crate) fn open(path: &Path, key_fingerprint: &[u8; 32]) -> Result<Self, StoreError> {
        let writer = Store::open(path)?;
        check_key_fingerprint(&writer.conn, key_fingerprint)?;
        let reader = Store::open(path)?;
        let checkpointer = Store::open(path)?;
        let (wrote, rx) = std::sync::mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("trustee-checkpoint".into())
            .spawn(move || checkpoint_loop(&checkpointer.conn, &rx))
            .map_err(|source| StoreError::Io {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self {
            writer: Arc::new(Mutex::new(writer)),
            reader: Arc::new(Mutex::new(reader)),
            wrote,
        })
    }

    /// Runs `f` with the writer connection on the blocking pool.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let result = run(self.writer.clone(), f).await;
        // Full means a checkpoint is already due; it will see this write too.
        let _ = self.wrote.try_send(());
        result
    }

    /// Runs `f` with the reader connection on the blocking pool.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        run(self.reader.clone(), f).await
    }
}

/// Checkpoints after each signalled write until every sender is gone, then once
/// more, truncating the WAL.
fn checkpoint_loop(conn: &Connection, wrote: &std::sync::mpsc::Receiver<()>) {
    let checkpoint = |mode: &str| {
        if let Err(e) = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(())) {
            tracing::warn!(error = %e, "store checkpoint failed; the writer's automatic checkpoint takes over");
        }
    };
    while wrote.recv().is_ok() {
        checkpoint("PASSIVE");
    }
    checkpoint("TRUNCATE");
}

async fn run<T, F>(store: Arc<Mutex<Store>>, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        // A panic inside `f` drops its transaction, which rolls back, so the
        // connection behind a poisoned lock is consistent and can be reused.
        let mut guard = store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard.conn)
    })
    .await
    .map_err(|e| StoreError::Task(e.to_string()))?
}

/// Seconds since the Unix epoch, for `created_at` columns.
pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_newer_schemas_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        drop(Store::open(&path).unwrap());
        let store = Store::open(&path).unwrap();
        let v: i64 = store
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        let mode: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        store.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(store);
        assert!(matches!(
            Store::open(&path),
            Err(StoreError::SchemaTooNew { found: 99, .. })
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}
