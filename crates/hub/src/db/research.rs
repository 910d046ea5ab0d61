//! Read-only views of projects' runs and researchers' queries for the
//! researcher's portal pages: which runs of a project a researcher started,
//! and one run with its project, request and timestamps. No new tables.

use super::{Db, DbError, id, time};
use chrono::{DateTime, Utc};
use oncofed_protocol::QueryId;
use oncofed_protocol::analysis::RunState;
use rusqlite::{OptionalExtension, params};

/// One analysis run as the portal shows it.
#[derive(Debug, Clone)]
pub struct RunDetail {
    /// The run.
    pub run_id: QueryId,
    /// Its project.
    pub project_id: String,
    /// The researcher who started it.
    pub user_id: String,
    /// The request (JSON of `AnalysisRequest`).
    pub request: String,
    /// Its state.
    pub state: RunState,
    /// The released result (JSON), when done.
    pub result: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// When it was submitted.
    pub submitted_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
}

const RUN_COLUMNS: &str = "a.run_id, a.project_id, a.user_id, a.request, a.state, a.result, \
     a.error, q.created_at, a.finished_at FROM analysis a JOIN query q ON q.query_id = a.run_id";

type RawRun = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
);

fn raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRun> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn detail(row: RawRun) -> Result<RunDetail, DbError> {
    let (run, project_id, user_id, request, state, result, error, submitted, finished) = row;
    Ok(RunDetail {
        run_id: id(&run)?,
        project_id,
        user_id,
        request,
        state: super::projects::run_state(&state),
        result,
        error,
        submitted_at: time(&submitted)?,
        finished_at: finished.as_deref().map(time).transpose()?,
    })
}

impl Db {
    /// The runs `user_id` started in `project_id`, newest first.
    pub fn runs_of(&self, project_id: &str, user_id: &str) -> Result<Vec<RunDetail>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {RUN_COLUMNS} WHERE a.project_id = ?1 AND a.user_id = ?2 \
             ORDER BY q.created_at DESC, a.run_id"
        ))?;
        let rows = stmt.query_map(params![project_id, user_id], raw)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(detail(row?)?);
        }
        Ok(out)
    }

    /// One run with its project, request and timestamps.
    pub fn run_detail(&self, run_id: &QueryId) -> Result<Option<RunDetail>, DbError> {
        let row = self
            .conn()
            .query_row(
                &format!("SELECT {RUN_COLUMNS} WHERE a.run_id = ?1"),
                [run_id.as_str()],
                raw,
            )
            .optional()?;
        row.map(detail).transpose()
    }

    /// The feasibility queries `user_id` asked (rows whose criteria are a
    /// feasibility tree: not analysis runs nor Beacon requests), newest
    /// first, at most `limit`: (query, criteria in words, asked at).
    pub fn queries_of(
        &self,
        user_id: &str,
        limit: usize,
    ) -> Result<Vec<(QueryId, String, DateTime<Utc>)>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT q.query_id, q.criteria, q.description, q.created_at FROM query q \
             WHERE q.user_id = ?1 AND NOT EXISTS (SELECT 1 FROM analysis a WHERE a.run_id = q.query_id) \
             ORDER BY q.created_at DESC",
        )?;
        let rows = stmt.query_map(params![user_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (q, criteria, d, at) = row?;
            if serde_json::from_str::<oncofed_protocol::criteria::Criteria>(&criteria).is_err() {
                continue;
            }
            out.push((id(&q)?, d, time(&at)?));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }
}
