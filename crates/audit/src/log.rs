//! The audit log store: SQLite, append-only, checkpointed.

use crate::entry::{AuditEntry, Checkpoint, GENESIS_HASH, truncate_to_micros};
use crate::verify::{ExportRecord, VerifyReport, verify};
use crate::{AuditError, canonical_json, schema};
use chrono::{DateTime, Utc};
use oncofed_crypto::{PublicKey, SigningKeyPair};
use rusqlite::{Connection, OptionalExtension as _, Row, Transaction, TransactionBehavior, params};
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// How many entries pass between automatic checkpoints unless configured.
pub const DEFAULT_CHECKPOINT_EVERY: u64 = 100;

/// The hub's audit trail in its own SQLite file (WAL).
///
/// Appends are serialised by an internal mutex and an immediate transaction,
/// so the log is `Send + Sync` and can be shared (`Arc<AuditLog>`) by a tokio
/// service calling it from `spawn_blocking`. Every call is blocking I/O.
pub struct AuditLog {
    conn: Mutex<Connection>,
    key: SigningKeyPair,
    checkpoint_every: u64,
    /// Entries of [`AuditLog::append`] calls waiting for the connection: the
    /// caller that gets it writes all of them in one transaction (group commit).
    queue: Mutex<Queue>,
}

/// An entry ready to be written: actor, action, subject, details (parsed back
/// from their canonical text) and that text.
type Prepared = (String, String, String, serde_json::Value, String);

/// The group-commit queue of [`AuditLog::append`].
#[derive(Default)]
struct Queue {
    next_ticket: u64,
    waiting: Vec<(u64, Prepared)>,
    /// Results of entries another caller wrote, by ticket.
    done: std::collections::HashMap<u64, Result<AuditEntry, String>>,
}

/// Numbers of records written by [`AuditLog::export`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportSummary {
    /// Entry lines written.
    pub entries: u64,
    /// Checkpoint lines written.
    pub checkpoints: u64,
}

const ENTRY_COLUMNS: &str = "seq, at, actor, action, subject, details, prev_hash, hash";
const CHECKPOINT_COLUMNS: &str = "seq, hash, at, signature";

impl AuditLog {
    /// Opens (creating if needed) the log at `path`, signing checkpoints with
    /// `key` after every `checkpoint_every` entries (0: only on demand; see
    /// [`DEFAULT_CHECKPOINT_EVERY`]).
    ///
    /// The first open records `key`'s public key in the file; opening with
    /// another key fails ([`AuditError::KeyMismatch`]), since a verifier
    /// checks all checkpoints against one key. Key rotation is not supported.
    pub fn open(
        path: impl AsRef<Path>,
        key: SigningKeyPair,
        checkpoint_every: u64,
    ) -> Result<Self, AuditError> {
        let path = path.as_ref();
        let open_err = |source| AuditError::Open {
            path: path.to_owned(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(open_err)?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .map_err(open_err)?;
        // An audit record must survive a power loss once `append` returned.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(open_err)?;
        schema::migrate(&mut conn)?;

        let given = key.public_key();
        conn.execute(
            "INSERT OR IGNORE INTO meta (name, value) VALUES ('signer', ?1)",
            [given.to_string()],
        )?;
        let recorded: String =
            conn.query_row("SELECT value FROM meta WHERE name = 'signer'", [], |r| {
                r.get(0)
            })?;
        if recorded != given.to_string() {
            let expected = recorded
                .parse::<PublicKey>()
                .map_or_else(|_| "<unreadable>".to_owned(), |k| k.fingerprint());
            return Err(AuditError::KeyMismatch {
                path: path.to_owned(),
                expected,
                given: given.fingerprint(),
            });
        }
        Ok(Self {
            conn: Mutex::new(conn),
            key,
            checkpoint_every,
            queue: Mutex::new(Queue::default()),
        })
    }

    /// The key checkpoints are verified with; publish it to auditors.
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// Appends an entry and, if it completes a period of `checkpoint_every`
    /// entries, a checkpoint over it, in one transaction.
    ///
    /// `details` are stored and hashed in canonical form (sorted keys), so the
    /// returned entry's `details` may differ from the argument in key order
    /// only. `actor` and `action` must not be empty.
    pub fn append(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        details: serde_json::Value,
    ) -> Result<AuditEntry, AuditError> {
        // Group commit: concurrent appends (50 sites posting results at once)
        // share one transaction and one sync to disk. Each call queues its
        // entry, then takes the connection; if a caller before it already
        // wrote the entry, it takes that result, else it writes everything
        // queued. Entries are numbered in queue order.
        let prepared = prepare([(actor, action, subject, details)])?
            .pop()
            .expect("one entry prepared");
        let ticket = {
            let mut queue = self.queue();
            queue.next_ticket += 1;
            let ticket = queue.next_ticket;
            queue.waiting.push((ticket, prepared));
            ticket
        };
        let mut conn = self.lock();
        let batch = {
            let mut queue = self.queue();
            if let Some(done) = queue.done.remove(&ticket) {
                return done.map_err(AuditError::GroupCommit);
            }
            std::mem::take(&mut queue.waiting)
        };
        let (tickets, entries): (Vec<u64>, Vec<Prepared>) = batch.into_iter().unzip();
        let written = self.write(&mut conn, entries, false);
        let mut queue = self.queue();
        match written {
            Ok((written, _)) => {
                let mut mine = None;
                for (t, entry) in tickets.into_iter().zip(written) {
                    if t == ticket {
                        mine = Some(entry);
                    } else {
                        queue.done.insert(t, Ok(entry));
                    }
                }
                Ok(mine.expect("the caller's own entry is in the batch it wrote"))
            }
            Err(e) => {
                for t in tickets.into_iter().filter(|t| *t != ticket) {
                    queue.done.insert(t, Err(e.to_string()));
                }
                Err(e)
            }
        }
    }

    /// Appends `(actor, action, subject, details)` entries in order, with the
    /// checkpoints any of them complete, in one transaction: all or none, and
    /// one sync to disk for all (a query to 50 sites issues 50 tasks at once).
    /// The same rules as [`AuditLog::append`] apply to each entry.
    pub fn append_all<'a>(
        &self,
        entries: impl IntoIterator<Item = (&'a str, &'a str, &'a str, serde_json::Value)>,
    ) -> Result<Vec<AuditEntry>, AuditError> {
        Ok(self.append_inner(entries, false)?.0)
    }

    /// Appends an entry and signs a checkpoint over it (unless its period
    /// already ends there), in one transaction: [`AuditLog::append`] followed by
    /// [`AuditLog::checkpoint`] with one sync to disk instead of two. Returns
    /// the entry and the checkpoint over it.
    pub fn append_checkpointed(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        details: serde_json::Value,
    ) -> Result<(AuditEntry, Checkpoint), AuditError> {
        let (mut entries, checkpoint) =
            self.append_inner([(actor, action, subject, details)], true)?;
        let entry = entries.pop().expect("one entry appended");
        Ok((entry, checkpoint.expect("a checkpoint over the entry")))
    }

    /// [`AuditLog::append_all`], and with `checkpoint_last` a checkpoint over
    /// the last entry (the one its period signs, or a new one).
    fn append_inner<'a>(
        &self,
        entries: impl IntoIterator<Item = (&'a str, &'a str, &'a str, serde_json::Value)>,
        checkpoint_last: bool,
    ) -> Result<(Vec<AuditEntry>, Option<Checkpoint>), AuditError> {
        let prepared = prepare(entries)?;
        let mut conn = self.lock();
        self.write(&mut conn, prepared, checkpoint_last)
    }

    /// Writes `prepared` entries in order in one transaction, with the
    /// checkpoints they complete and, with `checkpoint_last`, one over the last.
    fn write(
        &self,
        conn: &mut Connection,
        prepared: Vec<Prepared>,
        checkpoint_last: bool,
    ) -> Result<(Vec<AuditEntry>, Option<Checkpoint>), AuditError> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (mut next_seq, mut prev_hash) = match head(&tx)? {
            Some((seq, hash)) => (seq + 1, hash),
            None => (0, GENESIS_HASH.to_owned()),
        };
        let mut appended = Vec::with_capacity(prepared.len());
        let mut last_checkpoint = None;
        for (actor, action, subject, details, details_text) in prepared {
            let seq = next_seq;
            let mut entry = AuditEntry {
                seq,
                at: truncate_to_micros(Utc::now()),
                actor,
                action,
                subject,
                details,
                prev_hash: prev_hash.clone(),
                hash: String::new(),
            };
            entry.hash = entry.compute_hash();
            tx.execute(
                &format!(
                    "INSERT INTO entries ({ENTRY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                ),
                params![
                    to_sql_seq(seq)?,
                    crate::entry::format_timestamp(&entry.at),
                    entry.actor,
                    entry.action,
                    entry.subject,
                    details_text,
                    entry.prev_hash,
                    entry.hash
                ],
            )?;
            // Entry `seq` ends a period: seq + 1 is a multiple of checkpoint_every.
            last_checkpoint = None;
            if self.checkpoint_every > 0 && seq % self.checkpoint_every == self.checkpoint_every - 1
            {
                let checkpoint = Checkpoint::sign(seq, &entry.hash, entry.at, &self.key);
                insert_checkpoint(&tx, &checkpoint)?;
                last_checkpoint = Some(checkpoint);
            }
            next_seq = seq + 1;
            prev_hash = entry.hash.clone();
            appended.push(entry);
        }
        if checkpoint_last
            && last_checkpoint.is_none()
            && let Some(last) = appended.last()
        {
            let checkpoint = Checkpoint::sign(last.seq, &last.hash, last.at, &self.key);
            insert_checkpoint(&tx, &checkpoint)?;
            last_checkpoint = Some(checkpoint);
        }
        tx.commit()?;
        Ok((appended, last_checkpoint))
    }

    /// Signs a checkpoint over the newest entry now, e.g. before an export so
    /// that the whole exported log is covered. Returns the existing checkpoint
    /// if the newest entry has one, and `None` for an empty log.
    pub fn checkpoint(&self) -> Result<Option<Checkpoint>, AuditError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some((seq, hash)) = head(&tx)? else {
            return Ok(None);
        };
        let existing = tx
            .query_row(
                &format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE seq = ?1"),
                [to_sql_seq(seq)?],
                read_checkpoint_row,
            )
            .optional()?;
        let checkpoint = match existing {
            Some(row) => checkpoint_from_row(row)?,
            None => {
                let checkpoint = Checkpoint::sign(seq, &hash, Utc::now(), &self.key);
                insert_checkpoint(&tx, &checkpoint)?;
                checkpoint
            }
        };
        tx.commit()?;
        Ok(Some(checkpoint))
    }

    /// Up to `limit` entries with `seq >= from_seq`, in order.
    pub fn entries(&self, from_seq: u64, limit: usize) -> Result<Vec<AuditEntry>, AuditError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {ENTRY_COLUMNS} FROM entries WHERE seq >= ?1 ORDER BY seq LIMIT ?2"
        ))?;
        let rows = stmt.query_map(
            params![clamp_seq(from_seq), clamp_limit(limit)],
            read_entry_row,
        )?;
        rows.map(|row| entry_from_row(row?)).collect()
    }

    /// Up to `limit` checkpoints with `seq >= from_seq`, in order.
    pub fn checkpoints(&self, from_seq: u64, limit: usize) -> Result<Vec<Checkpoint>, AuditError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE seq >= ?1 ORDER BY seq LIMIT ?2"
        ))?;
        let rows = stmt.query_map(
            params![clamp_seq(from_seq), clamp_limit(limit)],
            read_checkpoint_row,
        )?;
        rows.map(|row| checkpoint_from_row(row?)).collect()
    }

    /// Writes the whole log as JSON Lines: each entry as `{"entry":{...}}`
    /// in seq order, each checkpoint as `{"checkpoint":{...}}` right after the
    /// entry it covers. Appends wait until the export is done.
    ///
    /// Entries after the last checkpoint are chained but not signed; call
    /// [`checkpoint`](Self::checkpoint) first to cover them.
    pub fn export(&self, writer: impl Write) -> Result<ExportSummary, AuditError> {
        let mut out = std::io::BufWriter::new(writer);
        let mut conn = self.lock();
        let tx = conn.transaction()?; // one snapshot for both tables
        let mut checkpoints = {
            let mut stmt = tx.prepare(&format!(
                "SELECT {CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY seq"
            ))?;
            let rows = stmt.query_map([], read_checkpoint_row)?;
            rows.map(|row| checkpoint_from_row(row?))
                .collect::<Result<Vec<_>, _>>()?
        }
        .into_iter()
        .peekable();
        let mut summary = ExportSummary {
            entries: 0,
            checkpoints: 0,
        };
        let mut stmt = tx.prepare(&format!("SELECT {ENTRY_COLUMNS} FROM entries ORDER BY seq"))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let entry = entry_from_row(read_entry_row(row)?)?;
            let seq = entry.seq;
            write_line(&mut out, &ExportRecord::Entry(entry))?;
            summary.entries += 1;
            while let Some(checkpoint) = checkpoints.next_if(|c| c.seq <= seq) {
                write_line(&mut out, &ExportRecord::Checkpoint(checkpoint))?;
                summary.checkpoints += 1;
            }
        }
        out.flush()?;
        Ok(summary)
    }

    /// Verifies the stored log against this log's own key (loads it whole).
    /// Catches edits made directly in the database file.
    pub fn verify_stored(&self) -> Result<VerifyReport, AuditError> {
        let entries = self.entries(0, usize::MAX)?;
        let checkpoints = self.checkpoints(0, usize::MAX)?;
        Ok(verify(&entries, &checkpoints, &self.public_key()))
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock rolled its transaction back on drop,
        // so the connection is still consistent.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Checks and canonicalises entries before any is written.
fn prepare<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a str, &'a str, serde_json::Value)>,
) -> Result<Vec<Prepared>, AuditError> {
    let mut prepared = Vec::new();
    for (actor, action, subject, details) in entries {
        for (field, value) in [("actor", actor), ("action", action)] {
            if value.is_empty() {
                return Err(AuditError::EmptyField { field });
            }
        }
        // Store exactly what is hashed: the canonical text, parsed back.
        let details_text = canonical_json(&details);
        let details =
            serde_json::from_str(&details_text).map_err(|_| AuditError::InvalidDetails)?;
        prepared.push((
            actor.to_owned(),
            action.to_owned(),
            subject.to_owned(),
            details,
            details_text,
        ));
    }
    Ok(prepared)
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("signer", &self.key.public_key().fingerprint())
            .field("checkpoint_every", &self.checkpoint_every)
            .finish_non_exhaustive()
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<AuditLog>();
};

fn head(tx: &Transaction<'_>) -> Result<Option<(u64, String)>, AuditError> {
    let row: Option<(i64, String)> = tx
        .query_row(
            "SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    row.map(|(seq, hash)| Ok((from_sql_seq(seq)?, hash)))
        .transpose()
}

fn insert_checkpoint(tx: &Transaction<'_>, checkpoint: &Checkpoint) -> Result<(), AuditError> {
    tx.execute(
        &format!("INSERT INTO checkpoints ({CHECKPOINT_COLUMNS}) VALUES (?1, ?2, ?3, ?4)"),
        params![
            to_sql_seq(checkpoint.seq)?,
            checkpoint.hash,
            crate::entry::format_timestamp(&checkpoint.at),
            checkpoint.signature.to_string()
        ],
    )?;
    Ok(())
}

fn write_line(out: &mut impl Write, record: &ExportRecord) -> Result<(), AuditError> {
    serde_json::to_writer(&mut *out, record).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}

type EntryRow = (i64, String, String, String, String, String, String, String);

fn read_entry_row(r: &Row<'_>) -> rusqlite::Result<EntryRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

fn entry_from_row(row: EntryRow) -> Result<AuditEntry, AuditError> {
    let (seq, at, actor, action, subject, details, prev_hash, hash) = row;
    Ok(AuditEntry {
        seq: from_sql_seq(seq)?,
        at: parse_at(seq, &at)?,
        actor,
        action,
        subject,
        details: serde_json::from_str(&details).map_err(|_| AuditError::Corrupt {
            seq,
            reason: "details are not JSON",
        })?,
        prev_hash,
        hash,
    })
}

type CheckpointRow = (i64, String, String, String);

fn read_checkpoint_row(r: &Row<'_>) -> rusqlite::Result<CheckpointRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn checkpoint_from_row(row: CheckpointRow) -> Result<Checkpoint, AuditError> {
    let (seq, hash, at, signature) = row;
    Ok(Checkpoint {
        seq: from_sql_seq(seq)?,
        hash,
        at: parse_at(seq, &at)?,
        signature: signature.parse().map_err(|_| AuditError::Corrupt {
            seq,
            reason: "checkpoint signature is not base64",
        })?,
    })
}

fn parse_at(seq: i64, text: &str) -> Result<DateTime<Utc>, AuditError> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.to_utc())
        .map_err(|_| AuditError::Corrupt {
            seq,
            reason: "timestamp is not RFC 3339",
        })
}

fn from_sql_seq(seq: i64) -> Result<u64, AuditError> {
    u64::try_from(seq).map_err(|_| AuditError::Corrupt {
        seq,
        reason: "negative sequence number",
    })
}

fn to_sql_seq(seq: u64) -> Result<i64, AuditError> {
    i64::try_from(seq).map_err(|_| AuditError::Corrupt {
        seq: i64::MAX,
        reason: "sequence number overflow",
    })
}

fn clamp_seq(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn clamp_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}
