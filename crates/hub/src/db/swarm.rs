//! The swarm relay's store: sealed messages between sites, kept as opaque
//! ciphertext and handed only to their addressee (`oncofed-swarm`, issue 15
//! item 5). The hub never holds a key that opens them.

use super::{Db, DbError};
use rusqlite::params;

/// Migration 5: swarm messages, read per run and recipient in sequence order.
pub(super) const MIGRATION: &str = "CREATE TABLE swarm_message (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        run TEXT NOT NULL,
        round INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        sender TEXT NOT NULL,
        recipient TEXT NOT NULL,
        kind TEXT NOT NULL,
        ciphertext BLOB NOT NULL,
        posted_at TEXT NOT NULL
     );
     CREATE INDEX swarm_message_inbox ON swarm_message (run, recipient, seq);";

/// Migration 6: swarm runs granted inside approved projects (the signed
/// grant as JSON); the relay carries messages of granted runs only.
pub(super) const RUN_MIGRATION: &str = "CREATE TABLE swarm_run (
        run TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        grant_json TEXT NOT NULL,
        created_at TEXT NOT NULL
     );";

/// One stored swarm message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmRow {
    /// Sequence number (increasing over the whole table).
    pub seq: u64,
    /// The run.
    pub run: String,
    /// The round.
    pub round: u32,
    /// The leader attempt.
    pub attempt: u32,
    /// The sending site.
    pub sender: String,
    /// The addressed site.
    pub recipient: String,
    /// The message kind (`key`, `update`, `model`, `hash`).
    pub kind: String,
    /// The sealed bytes, as posted.
    pub ciphertext: Vec<u8>,
}

impl Db {
    /// Stores `rows` (all of one run) in one transaction, unless the run
    /// would then hold more than `max_messages` or `max_bytes` of ciphertext;
    /// returns their sequence numbers, or `None` (nothing stored) when full.
    pub fn put_swarm_messages(
        &self,
        run: &str,
        rows: &[SwarmRow],
        max_messages: u64,
        max_bytes: u64,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Vec<u64>>, DbError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let (count, bytes): (i64, i64) = tx.query_row(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(ciphertext)), 0) FROM swarm_message WHERE run = ?1",
            params![run],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let add: u64 = rows.iter().map(|r| r.ciphertext.len() as u64).sum();
        if count as u64 + rows.len() as u64 > max_messages || bytes as u64 + add > max_bytes {
            return Ok(None);
        }
        let at = now.to_rfc3339();
        let mut seqs = Vec::with_capacity(rows.len());
        for row in rows {
            tx.execute(
                "INSERT INTO swarm_message (run, round, attempt, sender, recipient, kind, ciphertext, posted_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    run,
                    row.round,
                    row.attempt,
                    row.sender,
                    row.recipient,
                    row.kind,
                    row.ciphertext,
                    at
                ],
            )?;
            seqs.push(tx.last_insert_rowid() as u64);
        }
        tx.commit()?;
        Ok(Some(seqs))
    }

    /// Up to `limit` messages of `run` addressed to `recipient` after `after`.
    pub fn swarm_messages(
        &self,
        run: &str,
        recipient: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<SwarmRow>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT seq, run, round, attempt, sender, recipient, kind, ciphertext FROM swarm_message
             WHERE run = ?1 AND recipient = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4",
        )?;
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![run, recipient, after, limit as i64], |r| {
            Ok(SwarmRow {
                seq: r.get::<_, i64>(0)? as u64,
                run: r.get(1)?,
                round: r.get(2)?,
                attempt: r.get(3)?,
                sender: r.get(4)?,
                recipient: r.get(5)?,
                kind: r.get(6)?,
                ciphertext: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records a granted swarm run.
    pub fn put_swarm_run(
        &self,
        run: &str,
        project: &str,
        user: &str,
        grant_json: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), DbError> {
        self.conn().execute(
            "INSERT INTO swarm_run (run, project_id, user_id, grant_json, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![run, project, user, grant_json, now.to_rfc3339()],
        )?;
        Ok(())
    }

    /// A granted run's signed grant (JSON), if the run was granted.
    pub fn swarm_run(&self, run: &str) -> Result<Option<String>, DbError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn()
            .query_row(
                "SELECT grant_json FROM swarm_run WHERE run = ?1",
                params![run],
                |r| r.get(0),
            )
            .optional()?)
    }
}
