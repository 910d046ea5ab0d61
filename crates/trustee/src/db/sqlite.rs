//! The SQLite backend of the trust-centre store: one owner-only file,
//! `<data_dir>/trustee.db`, WAL with `synchronous = NORMAL` (a power cut may lose
//! the last transactions, never corrupt the file), migrations through
//! `oncofed-migrate` (`PRAGMA user_version`), a store written by a newer build
//! refused.

use super::StoreError;
use rusqlite::Connection;
use std::path::Path;

/// Numbered migrations; `PRAGMA user_version` is the number applied.
pub(crate) const MIGRATIONS: &[&str] = &[
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
    // 6: erasure on withdrawal (db::deletions::erase): when the person's IDAT was
    // erased; their local ids keep an empty `idat` and get no new one.
    "ALTER TABLE persons ADD COLUMN erased_at INTEGER;",
    // 7: the consent feed's change log (db::consent_feed).
    super::consent_feed::MIGRATION_SQLITE,
    // 8: the patients' portal: access codes, usage reports, per-person audit index (db::patients).
    super::patients::MIGRATION_SQLITE,
    // 9: the blocking index at scale (linkage::blocks): comparison records beside
    // the blocks, split blocks. The index is rebuilt on open (blocks::ensure_current).
    "CREATE TABLE linkage_records (
        site TEXT NOT NULL,
        local_id TEXT NOT NULL,
        record BLOB NOT NULL,              -- normalised linkage record (Record::to_bytes)
        PRIMARY KEY (site, local_id)
    ) WITHOUT ROWID;
    CREATE TABLE linkage_splits (
        key INTEGER PRIMARY KEY            -- a block key whose records moved to child keys
    );",
    // 10: a copy of the comparison record in each block row, so a search reads a
    // leaf as one range scan (linkage::blocks). Filled by the rebuild on open.
    "ALTER TABLE linkage_blocks ADD COLUMN record BLOB NOT NULL DEFAULT x'';",
    // 11: staff admissions past a tombstone (db::admissions).
    super::admissions::MIGRATION_SQLITE,
];

/// Opens (creating if needed, mode 0600) the store file with the store's pragmas
/// and brings its schema up to date.
pub(crate) fn open(path: &Path) -> Result<Connection, StoreError> {
    create_private_file(path)?;
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // The linkage index is read and written at random (hashed block keys): a
    // 256 MiB page cache, and reads that map the file (read-only mapping, up to
    // 4 GiB) instead of copying each page out of the OS cache. Both grow only as
    // the store is used; measured on 1 M persons in BENCHMARKS.md.
    conn.pragma_update(None, "cache_size", -262_144)?;
    conn.pragma_update(None, "mmap_size", 1_i64 << 32)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Withdrawal erasure (db::deletions) overwrites what it deletes.
    conn.pragma_update(None, "secure_delete", "ON")?;
    // Checkpoints normally run on the checkpointer thread (see `Db`); this is the
    // backstop should it fall behind: 256 MiB of WAL rather than SQLite's 4 MiB.
    // A pseudonymisation batch of 5,000 records into a store of a million
    // dirties about 100 MiB of scattered pages; with a lower backstop every such
    // commit checkpointed on the writer itself (a sixth of its time).
    conn.pragma_update(None, "wal_autocheckpoint", 65_536)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(64);
    migrate(&mut conn)?;
    Ok(conn)
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

/// Checkpoints after each signalled write until every sender is gone, then once
/// more, truncating the WAL.
pub(crate) fn checkpoint_loop(conn: &Connection, wrote: &std::sync::mpsc::Receiver<()>) {
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

/// Copies the WAL into the file and truncates it (after an erasure). Returns
/// whether the checkpoint was complete (`false` while a reader held a snapshot).
pub(crate) fn truncate_wal(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        Ok(r.get::<_, i64>(0)? == 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_owner_only_and_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = open(&path).unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
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
