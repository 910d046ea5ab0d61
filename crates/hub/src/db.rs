//! The hub's own SQLite store: registered sites, queries, tasks, user budgets.
//!
//! Tasks are persisted before they are handed out, so a restarted hub loses none:
//! queued and claimed tasks are handed out again (claimed ones after the claim
//! timeout), and results posted after the restart complete their queries.

mod applications;
pub(crate) use applications::Institution;
mod beacon;
mod catalogue;
pub(crate) mod contributions;
pub(crate) use catalogue::Published;
mod projects;
pub(crate) use projects::{BudgetScope, fits};
mod releases;
mod research;
pub(crate) use research::RunDetail;
mod swarm;
pub(crate) use swarm::SwarmRow;

use chrono::{DateTime, Utc};
use oncofed_protocol::api::TaskState;
use oncofed_protocol::{QueryId, TaskId};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Why the hub store failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database could not be opened.
    #[error("cannot open hub store at {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The engine's error.
        source: rusqlite::Error,
    },
    /// A stored value could not be read back.
    #[error("hub store holds an unreadable value: {0}")]
    Corrupt(String),
    /// The engine failed.
    #[error("hub store error: {0}")]
    Engine(#[from] rusqlite::Error),
    /// The store was written by a newer hub.
    #[error("{0}")]
    SchemaTooNew(String),
}

const MIGRATIONS: &[&str] = &[
    "CREATE TABLE site (
        site TEXT PRIMARY KEY,
        public_key TEXT NOT NULL,
        registered_at TEXT NOT NULL
     );
     CREATE TABLE query (
        query_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        criteria TEXT NOT NULL,
        description TEXT NOT NULL,
        created_at TEXT NOT NULL,
        deadline TEXT NOT NULL
     );
     CREATE TABLE task (
        task_id TEXT PRIMARY KEY,
        query_id TEXT NOT NULL REFERENCES query (query_id),
        site TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        envelope TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        claimed_at TEXT,
        outcome TEXT
     );
     CREATE INDEX task_site_state ON task (site, state);
     CREATE INDEX task_query ON task (query_id);
     CREATE TABLE budget (
        user_id TEXT PRIMARY KEY,
        state TEXT NOT NULL
     );",
    projects::MIGRATION,
    // The sweep on every poll filters by state and expiry or claim time: without
    // these indexes it scans the task table, reading every stored envelope on the
    // way (those columns come after it), and a table that grows with every run.
    "CREATE INDEX task_state_expiry ON task (state, expires_at);
     CREATE INDEX task_state_claimed ON task (state, claimed_at);",
    releases::MIGRATION,
    swarm::MIGRATION,
    swarm::RUN_MIGRATION,
    beacon::MIGRATION,
    // The contribution ledger (issue 17, item 4; R19).
    contributions::MIGRATION,
    catalogue::MIGRATION,
    applications::MIGRATION,
];

/// A task row.
#[derive(Debug, Clone)]
pub struct TaskRow {
    /// The task.
    pub task_id: TaskId,
    /// Its query.
    pub query_id: QueryId,
    /// The addressed site.
    pub site: String,
    /// Current state.
    pub state: TaskState,
    /// Times handed out.
    pub attempts: u32,
    /// The sealed task (JSON of a `SignedEnvelope`).
    pub envelope: String,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// The sealed outcome (JSON of a `SignedEnvelope`), once answered.
    pub outcome: Option<String>,
}

/// A query row.
#[derive(Debug, Clone)]
pub struct QueryRow {
    /// The query.
    pub query_id: QueryId,
    /// Who asked.
    pub user_id: String,
    /// Criteria as canonical JSON.
    pub criteria: String,
    /// Criteria in words.
    pub description: String,
    /// After this instant missing sites make the result partial.
    pub deadline: DateTime<Utc>,
}

/// Inserts task rows inside the caller's transaction.
fn insert_task_rows(tx: &rusqlite::Transaction<'_>, tasks: &[TaskRow]) -> Result<(), DbError> {
    for t in tasks {
        tx.execute(
            "INSERT INTO task (task_id, query_id, site, state, attempts, envelope, expires_at) VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6)",
            params![t.task_id.as_str(), t.query_id.as_str(), t.site, state_name(t.state), t.envelope, t.expires_at.to_rfc3339()],
        )?;
    }
    Ok(())
}

fn state_name(s: TaskState) -> &'static str {
    match s {
        TaskState::Queued => "queued",
        TaskState::Claimed => "claimed",
        TaskState::Succeeded => "succeeded",
        TaskState::Failed => "failed",
        TaskState::Expired => "expired",
    }
}

fn parse_state(s: &str) -> Result<TaskState, DbError> {
    Ok(match s {
        "queued" => TaskState::Queued,
        "claimed" => TaskState::Claimed,
        "succeeded" => TaskState::Succeeded,
        "failed" => TaskState::Failed,
        "expired" => TaskState::Expired,
        other => return Err(DbError::Corrupt(format!("task state {other}"))),
    })
}

fn time(s: &str) -> Result<DateTime<Utc>, DbError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| DbError::Corrupt(e.to_string()))
}

fn id<T: std::str::FromStr<Err = String>>(s: &str) -> Result<T, DbError> {
    s.parse().map_err(DbError::Corrupt)
}

/// The hub store. `Sync`: one connection behind a mutex (the hub's writes are small).
pub struct Db {
    conn: Mutex<Connection>,
}

impl Db {
    /// Opens (creating and migrating) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        let open_err = |source| DbError::Open {
            path: path.to_owned(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )
        .map_err(open_err)?;
        match oncofed_migrate::apply(&mut conn, "hub store", MIGRATIONS) {
            Ok(_) => {}
            Err(e @ oncofed_migrate::MigrateError::TooNew { .. }) => {
                return Err(DbError::SchemaTooNew(e.to_string()));
            }
            Err(oncofed_migrate::MigrateError::Sqlite { source, .. }) => return Err(source.into()),
        }
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers (or re-keys) a site.
    pub fn put_site(
        &self,
        site: &str,
        public_key: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        self.conn().execute(
            "INSERT INTO site (site, public_key, registered_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (site) DO UPDATE SET public_key = excluded.public_key",
            params![site, public_key, now.to_rfc3339()],
        )?;
        Ok(())
    }

    /// Every registered site with its public key, by site id.
    pub fn sites(&self) -> Result<Vec<(String, String)>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT site, public_key FROM site ORDER BY site")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Stores a query and its tasks in one transaction.
    pub fn insert_query(
        &self,
        q: &QueryRow,
        created: DateTime<Utc>,
        tasks: &[TaskRow],
    ) -> Result<(), DbError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO query (query_id, user_id, criteria, description, created_at, deadline) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![q.query_id.as_str(), q.user_id, q.criteria, q.description, created.to_rfc3339(), q.deadline.to_rfc3339()],
        )?;
        insert_task_rows(&tx, tasks)?;
        tx.commit()?;
        Ok(())
    }

    /// A query by id.
    pub fn query(&self, query_id: &QueryId) -> Result<Option<QueryRow>, DbError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT query_id, user_id, criteria, description, deadline FROM query WHERE query_id = ?1",
                [query_id.as_str()],
                |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, String>(4)?)),
            )
            .optional()?;
        row.map(|(qid, user_id, criteria, description, deadline)| {
            Ok(QueryRow {
                query_id: id(&qid)?,
                user_id,
                criteria,
                description,
                deadline: time(&deadline)?,
            })
        })
        .transpose()
    }

    /// Marks tasks past their expiry as expired, and hands claimed tasks whose claim
    /// is older than `reclaim_before` back to the queue (the site may have crashed).
    pub fn sweep(&self, now: DateTime<Utc>, reclaim_before: DateTime<Utc>) -> Result<(), DbError> {
        let conn = self.conn();
        conn.execute(
            "UPDATE task SET state = 'expired' WHERE state IN ('queued', 'claimed') AND expires_at <= ?1",
            [now.to_rfc3339()],
        )?;
        conn.execute(
            "UPDATE task SET state = 'queued' WHERE state = 'claimed' AND claimed_at <= ?1",
            [reclaim_before.to_rfc3339()],
        )?;
        Ok(())
    }

    /// Tasks waiting for a site to fetch them, and tasks a site holds, over all
    /// sites (for the hub's metrics).
    pub fn task_counts(&self) -> Result<(u64, u64), DbError> {
        let conn = self.conn();
        let count = |state: &str| -> Result<u64, DbError> {
            let n: i64 =
                conn.query_row("SELECT count(*) FROM task WHERE state = ?1", [state], |r| {
                    r.get(0)
                })?;
            Ok(n as u64)
        };
        Ok((count("queued")?, count("claimed")?))
    }

    /// Claims up to `limit` queued tasks of `site`: marks them claimed and returns their envelopes.
    pub fn claim(
        &self,
        site: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<String>, DbError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let ids: Vec<(String, String)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT task_id, envelope FROM task WHERE site = ?1 AND state = 'queued' AND expires_at > ?2
                 ORDER BY rowid LIMIT ?3",
            )?;
            stmt.query_map(params![site, now.to_rfc3339(), limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<Result<_, _>>()?
        };
        for (task_id, _) in &ids {
            tx.execute(
                "UPDATE task SET state = 'claimed', attempts = attempts + 1, claimed_at = ?2 WHERE task_id = ?1",
                params![task_id, now.to_rfc3339()],
            )?;
        }
        tx.commit()?;
        Ok(ids.into_iter().map(|(_, e)| e).collect())
    }

    /// Records a site's outcome for a task it was sent. Returns the task's query, or
    /// `None` when the task is unknown, belongs to another site or is already final.
    pub fn complete(
        &self,
        task_id: &TaskId,
        site: &str,
        succeeded: bool,
        outcome: &str,
    ) -> Result<Option<QueryId>, DbError> {
        let conn = self.conn();
        let state = if succeeded { "succeeded" } else { "failed" };
        let qid: Option<String> = conn
            .query_row(
                "UPDATE task SET state = ?3, outcome = ?4
                 WHERE task_id = ?1 AND site = ?2 AND state IN ('queued', 'claimed')
                 RETURNING query_id",
                params![task_id.as_str(), site, state, outcome],
                |r| r.get(0),
            )
            .optional()?;
        qid.map(|q| id(&q)).transpose()
    }

    /// The tasks of a query.
    pub fn tasks(&self, query_id: &QueryId) -> Result<Vec<TaskRow>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT task_id, query_id, site, state, attempts, envelope, expires_at, outcome FROM task WHERE query_id = ?1 ORDER BY site",
        )?;
        let rows = stmt.query_map([query_id.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, u32>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, Option<String>>(7)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (task_id, query_id, site, state, attempts, envelope, expires_at, outcome) = row?;
            out.push(TaskRow {
                task_id: id(&task_id)?,
                query_id: id(&query_id)?,
                site,
                state: parse_state(&state)?,
                attempts,
                envelope,
                expires_at: time(&expires_at)?,
                outcome,
            });
        }
        Ok(out)
    }

    /// A user's persisted rate-limit and quota state (JSON), if any.
    pub fn budget(&self, user_id: &str) -> Result<Option<String>, DbError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT state FROM budget WHERE user_id = ?1",
                [user_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Stores a user's rate-limit and quota state.
    pub fn put_budget(&self, user_id: &str, state: &str) -> Result<(), DbError> {
        self.conn().execute(
            "INSERT INTO budget (user_id, state) VALUES (?1, ?2) ON CONFLICT (user_id) DO UPDATE SET state = excluded.state",
            params![user_id, state],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_written_by_a_newer_hub_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.db");
        drop(Db::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        drop(conn);
        match Db::open(&path) {
            Err(DbError::SchemaTooNew(message)) => {
                assert!(
                    message.contains("hub store schema is version 999"),
                    "{message}"
                )
            }
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("a newer hub store was opened"),
        }
    }
}
