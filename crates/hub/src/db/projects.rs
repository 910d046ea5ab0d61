//! Projects, analysis runs and the privacy-budget ledger.
//!
//! The ledger is append-only: one row per release that spent ε, and the checks
//! and the insert happen in one immediate transaction, so two concurrent
//! releases cannot both pass the check on the same remainder.
//!
//! Every release is charged twice, and must fit both:
//!
//! - the **project budget** (`Project::epsilon_budget`), per (project,
//!   researcher), as the admin approved it;
//! - the **dataset budget** (`HubConfig::dataset_epsilon_budget`), a lifetime
//!   budget of the federation's data shared by every project and researcher:
//!   the sum of all rows of the ledger. One dataset is the whole federation,
//!   because the cohorts of different requests (index diagnoses, criteria)
//!   overlap in ways the hub cannot bound; per-project or per-researcher
//!   ledgers alone let more projects or more accounts multiply the ε spent on
//!   the same patients (issue 11).
//!
//! The accountant is basic (sequential) composition: the ε of releases add up,
//! and a patient's privacy loss over the federation's lifetime is at most the
//! dataset budget.

use super::{Db, DbError, TaskRow, id, time};
use chrono::{DateTime, Utc};
use oncofed_protocol::QueryId;
use oncofed_protocol::analysis::{Project, RunState};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

/// Migration 2: projects, analysis runs, privacy spend.
pub(super) const MIGRATION: &str = "CREATE TABLE project (
        project_id TEXT PRIMARY KEY,
        definition TEXT NOT NULL,
        approved_by TEXT NOT NULL,
        approved_at TEXT NOT NULL
     );
     CREATE TABLE analysis (
        run_id TEXT PRIMARY KEY REFERENCES query (query_id),
        project_id TEXT NOT NULL REFERENCES project (project_id),
        user_id TEXT NOT NULL,
        request TEXT NOT NULL,
        state TEXT NOT NULL,
        result TEXT,
        error TEXT,
        finished_at TEXT
     );
     CREATE TABLE privacy_spend (
        project_id TEXT NOT NULL REFERENCES project (project_id),
        user_id TEXT NOT NULL,
        run_id TEXT NOT NULL,
        epsilon REAL NOT NULL,
        spent_at TEXT NOT NULL
     );
     CREATE INDEX privacy_spend_owner ON privacy_spend (project_id, user_id);";

/// A stored analysis run.
#[derive(Debug, Clone)]
pub struct AnalysisRow {
    /// The researcher who asked.
    pub user_id: String,
    /// Its state.
    pub state: RunState,
    /// The released result (JSON), when done.
    pub result: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Which budget refused a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetScope {
    /// The (project, researcher) budget the admin approved.
    Project,
    /// The federation's lifetime dataset budget, shared by everyone.
    Dataset,
}

/// A release a budget does not cover.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpendRefused {
    /// Which budget.
    pub scope: BudgetScope,
    /// ε already spent against it.
    pub spent: f64,
    /// The budget.
    pub budget: f64,
}

/// Whether `spent + epsilon` stays within `budget`, with a tiny tolerance so
/// that spending a budget in equal parts is not refused by rounding.
pub(crate) fn fits(spent: f64, epsilon: f64, budget: f64) -> bool {
    spent + epsilon <= budget * (1.0 + 1e-12)
}

/// Creates or replaces a project on `conn` (also inside a caller's
/// transaction: an application's approval creates its project atomically).
pub(super) fn insert_project(
    conn: &rusqlite::Connection,
    project: &Project,
    approved_by: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let definition = serde_json::to_string(project).map_err(|e| DbError::Corrupt(e.to_string()))?;
    conn.execute(
        "INSERT INTO project (project_id, definition, approved_by, approved_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (project_id) DO UPDATE SET definition = excluded.definition,
            approved_by = excluded.approved_by, approved_at = excluded.approved_at",
        params![project.id, definition, approved_by, now.to_rfc3339()],
    )?;
    Ok(())
}

pub(super) fn run_state(s: &str) -> RunState {
    match s {
        "done" => RunState::Done,
        "failed" => RunState::Failed,
        _ => RunState::Running,
    }
}

fn run_state_name(s: RunState) -> &'static str {
    match s {
        RunState::Running => "running",
        RunState::Done => "done",
        RunState::Failed => "failed",
    }
}

impl Db {
    /// Creates or replaces a project (an admin's approval).
    pub fn put_project(
        &self,
        project: &Project,
        approved_by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        insert_project(&self.conn(), project, approved_by, now)
    }

    /// Every project.
    pub fn projects(&self) -> Result<Vec<Project>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT definition FROM project ORDER BY project_id")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(serde_json::from_str(&row?).map_err(|e| DbError::Corrupt(e.to_string()))?);
        }
        Ok(out)
    }

    /// A project by id.
    pub fn project(&self, project_id: &str) -> Result<Option<Project>, DbError> {
        let text: Option<String> = self
            .conn()
            .query_row(
                "SELECT definition FROM project WHERE project_id = ?1",
                [project_id],
                |r| r.get(0),
            )
            .optional()?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| DbError::Corrupt(e.to_string())))
            .transpose()
    }

    /// ε spent by `user_id` in `project_id`.
    pub fn spent(&self, project_id: &str, user_id: &str) -> Result<f64, DbError> {
        Ok(self.conn().query_row(
            "SELECT COALESCE(SUM(epsilon), 0.0) FROM privacy_spend WHERE project_id = ?1 AND user_id = ?2",
            params![project_id, user_id],
            |r| r.get(0),
        )?)
    }

    /// ε spent on the federation's data by everyone (the dataset ledger).
    pub fn dataset_spent(&self) -> Result<f64, DbError> {
        Ok(self.conn().query_row(
            "SELECT COALESCE(SUM(epsilon), 0.0) FROM privacy_spend",
            [],
            |r| r.get(0),
        )?)
    }

    /// Spends `epsilon` if it fits both the project budget of (`project_id`,
    /// `user_id`) and the federation's `dataset_budget`, atomically; refuses
    /// otherwise, naming the budget. Returns the project's new total.
    #[allow(clippy::too_many_arguments)] // the ledger row and both budgets
    pub fn spend(
        &self,
        project_id: &str,
        user_id: &str,
        run_id: &QueryId,
        epsilon: f64,
        budget: f64,
        dataset_budget: f64,
        now: DateTime<Utc>,
    ) -> Result<Result<f64, SpendRefused>, DbError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let spent: f64 = tx.query_row(
            "SELECT COALESCE(SUM(epsilon), 0.0) FROM privacy_spend WHERE project_id = ?1 AND user_id = ?2",
            params![project_id, user_id],
            |r| r.get(0),
        )?;
        if !fits(spent, epsilon, budget) {
            let scope = BudgetScope::Project;
            return Ok(Err(SpendRefused {
                scope,
                spent,
                budget,
            }));
        }
        let everyone: f64 = tx.query_row(
            "SELECT COALESCE(SUM(epsilon), 0.0) FROM privacy_spend",
            [],
            |r| r.get(0),
        )?;
        if !fits(everyone, epsilon, dataset_budget) {
            return Ok(Err(SpendRefused {
                scope: BudgetScope::Dataset,
                spent: everyone,
                budget: dataset_budget,
            }));
        }
        tx.execute(
            "INSERT INTO privacy_spend (project_id, user_id, run_id, epsilon, spent_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![project_id, user_id, run_id.as_str(), epsilon, now.to_rfc3339()],
        )?;
        tx.commit()?;
        Ok(Ok(spent + epsilon))
    }

    /// Records a new run: its query row (so its tasks can reference it) and the analysis row.
    pub fn insert_analysis(
        &self,
        query: &super::QueryRow,
        project_id: &str,
        request: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        self.insert_query(query, now, &[])?;
        self.conn().execute(
            "INSERT INTO analysis (run_id, project_id, user_id, request, state) VALUES (?1, ?2, ?3, ?4, 'running')",
            params![query.query_id.as_str(), project_id, query.user_id, request],
        )?;
        Ok(())
    }

    /// Ends a run with its released result or its error.
    pub fn finish_analysis(
        &self,
        run_id: &QueryId,
        state: RunState,
        result: Option<&str>,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        self.conn().execute(
            "UPDATE analysis SET state = ?2, result = ?3, error = ?4, finished_at = ?5 WHERE run_id = ?1",
            params![run_id.as_str(), run_state_name(state), result, error, now.to_rfc3339()],
        )?;
        Ok(())
    }

    /// Marks runs still `running` as failed (called at start-up: runs live in memory).
    pub fn fail_interrupted_analyses(&self, now: DateTime<Utc>) -> Result<usize, DbError> {
        Ok(self.conn().execute(
            "UPDATE analysis SET state = 'failed', error = 'the hub restarted during the run; submit it again', finished_at = ?1 WHERE state = 'running'",
            [now.to_rfc3339()],
        )?)
    }

    /// Released runs of `kind` (the request's analysis type), oldest first:
    /// (run id, project, result JSON, finished at). The model registry reads
    /// its cell classifiers from here: the released result is the record.
    pub fn released_of_kind(
        &self,
        kind: &str,
    ) -> Result<Vec<(String, String, String, String)>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT run_id, project_id, request, result, finished_at FROM analysis \
             WHERE state = 'done' AND result IS NOT NULL ORDER BY finished_at, run_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?.unwrap_or_default(),
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (run, project, request, result, at) = row?;
            let is_kind =
                serde_json::from_str::<oncofed_protocol::analysis::AnalysisRequest>(&request)
                    .is_ok_and(|r| r.analysis.kind() == kind);
            if is_kind {
                out.push((run, project, result, at));
            }
        }
        Ok(out)
    }

    /// A run by id.
    pub fn analysis(&self, run_id: &QueryId) -> Result<Option<AnalysisRow>, DbError> {
        let row = self
            .conn()
            .query_row(
                "SELECT user_id, state, result, error FROM analysis WHERE run_id = ?1",
                [run_id.as_str()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                    ))
                },
            )
            .optional()?;
        Ok(row.map(|(user_id, state, result, error)| AnalysisRow {
            user_id,
            state: run_state(&state),
            result,
            error,
        }))
    }

    /// Adds tasks to an existing query (the steps of an analysis run).
    pub fn insert_tasks(&self, tasks: &[TaskRow]) -> Result<(), DbError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        super::insert_task_rows(&tx, tasks)?;
        tx.commit()?;
        Ok(())
    }

    /// The given tasks' rows (state and outcome), in no particular order.
    pub fn tasks_by_id(
        &self,
        task_ids: &[oncofed_protocol::TaskId],
    ) -> Result<Vec<TaskRow>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT task_id, query_id, site, state, attempts, envelope, expires_at, outcome FROM task WHERE task_id = ?1",
        )?;
        let mut out = Vec::with_capacity(task_ids.len());
        for task_id in task_ids {
            let row = stmt
                .query_row([task_id.as_str()], |r| {
                    Ok((
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, u32>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, Option<String>>(7)?,
                    ))
                })
                .optional()?;
            if let Some((query_id, site, state, attempts, envelope, expires_at, outcome)) = row {
                out.push(TaskRow {
                    task_id: task_id.clone(),
                    query_id: id(&query_id)?,
                    site,
                    state: super::parse_state(&state)?,
                    attempts,
                    envelope,
                    expires_at: time(&expires_at)?,
                    outcome,
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(id: &str, researcher: &str) -> Project {
        Project {
            id: id.into(),
            title: id.into(),
            researchers: vec![researcher.into()],
            categories: Default::default(),
            epsilon_budget: 1.0,
            plan: Default::default(),
        }
    }

    /// The release-time check (one transaction), which also catches two runs
    /// that both passed admission on the same remainder.
    #[test]
    fn spend_refuses_past_the_dataset_budget_across_projects_and_researchers() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("hub.db")).unwrap();
        let now = Utc::now();
        db.put_project(&project("p1", "alice"), "root", now)
            .unwrap();
        db.put_project(&project("p2", "bob"), "root", now).unwrap();
        let run = QueryId::random();
        assert_eq!(
            db.spend("p1", "alice", &run, 0.5, 1.0, 1.0, now).unwrap(),
            Ok(0.5)
        );
        assert_eq!(
            db.spend("p2", "bob", &run, 0.5, 1.0, 1.0, now).unwrap(),
            Ok(0.5)
        );
        let refused = db.spend("p2", "bob", &run, 0.1, 1.0, 1.0, now).unwrap();
        assert_eq!(
            refused,
            Err(SpendRefused {
                scope: BudgetScope::Dataset,
                spent: 1.0,
                budget: 1.0
            })
        );
        // The project budget still refuses on its own, and names itself.
        let own = db.spend("p1", "alice", &run, 0.6, 1.0, 10.0, now).unwrap();
        assert!(matches!(
            own,
            Err(SpendRefused {
                scope: BudgetScope::Project,
                ..
            })
        ));
        assert_eq!(db.dataset_spent().unwrap(), 1.0);
        assert_eq!(db.spent("p2", "bob").unwrap(), 0.5);
    }
}
