//! Applications, their immutable versions, registered institutions, the
//! sites' opt-in to policy approval and the sites of approved projects.
//!
//! An application's changing state (stage, draft, decisions, history) is one
//! JSON row; each submitted version is a row of its own that triggers keep
//! from being changed or deleted. A transition loads, decides and stores in
//! one immediate transaction, so two deciders acting at once cannot both act
//! on the same state (a committee member voting twice in parallel counts
//! once), and an approval creates its project in the same transaction.

use super::{Db, DbError, time};
use crate::applications::workflow::{Refusal, Transition};
use chrono::{DateTime, Utc};
use oncofed_protocol::application::{Application, ApplicationVersion};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::{BTreeMap, BTreeSet};

/// Migration: the application workflow's tables (issue 17, items 1-3).
pub(super) const MIGRATION: &str = "CREATE TABLE application (
        application_id TEXT PRIMARY KEY,
        applicant TEXT NOT NULL,
        stage TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
     );
     CREATE INDEX application_applicant ON application (applicant);
     CREATE TABLE application_version (
        application_id TEXT NOT NULL REFERENCES application (application_id),
        version INTEGER NOT NULL,
        content TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        submitted_at TEXT NOT NULL,
        PRIMARY KEY (application_id, version)
     );
     CREATE TRIGGER application_version_immutable BEFORE UPDATE ON application_version
        BEGIN SELECT RAISE(ABORT, 'submitted application versions are immutable'); END;
     CREATE TRIGGER application_version_kept BEFORE DELETE ON application_version
        BEGIN SELECT RAISE(ABORT, 'submitted application versions are kept'); END;
     CREATE TABLE institution (
        institution_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        registered_by TEXT NOT NULL,
        registered_at TEXT NOT NULL
     );
     CREATE TABLE institution_member (
        user_id TEXT PRIMARY KEY,
        institution_id TEXT NOT NULL REFERENCES institution (institution_id)
     );
     CREATE TABLE policy_opt_in (
        site TEXT NOT NULL,
        policy_id TEXT NOT NULL,
        opted_by TEXT NOT NULL,
        opted_at TEXT NOT NULL,
        PRIMARY KEY (site, policy_id)
     );
     CREATE TABLE project_site (
        project_id TEXT NOT NULL REFERENCES project (project_id),
        site TEXT NOT NULL,
        PRIMARY KEY (project_id, site)
     );";

/// A registered institution and its members.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Institution {
    /// Short id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Member user ids.
    pub members: BTreeSet<String>,
}

fn corrupt(e: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(e.to_string())
}

fn load(conn: &Connection, id: &str) -> Result<Option<Application>, DbError> {
    let state: Option<String> = conn
        .query_row(
            "SELECT state FROM application WHERE application_id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(state) = state else {
        return Ok(None);
    };
    let mut app: Application = serde_json::from_str(&state).map_err(corrupt)?;
    let mut stmt = conn.prepare_cached(
        "SELECT version, content, sha256, submitted_at FROM application_version
         WHERE application_id = ?1 ORDER BY version",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok((
            r.get::<_, u32>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    app.versions.clear();
    for row in rows {
        let (number, content, sha256, at) = row?;
        app.versions.push(ApplicationVersion {
            number,
            content: serde_json::from_str(&content).map_err(corrupt)?,
            sha256,
            submitted_at: time(&at)?,
        });
    }
    Ok(Some(app))
}

/// Stores `app`: new versions appended, the state row written.
fn store(conn: &Connection, app: &Application, now: DateTime<Utc>) -> Result<(), DbError> {
    let stored: u32 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM application_version WHERE application_id = ?1",
        [&app.id],
        |r| r.get(0),
    )?;
    let mut state = app.clone();
    state.versions.clear();
    let state = serde_json::to_string(&state).map_err(corrupt)?;
    conn.execute(
        "INSERT INTO application (application_id, applicant, stage, state, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (application_id) DO UPDATE SET stage = excluded.stage,
            state = excluded.state, updated_at = excluded.updated_at",
        params![
            app.id,
            app.applicant,
            app.stage.as_str(),
            state,
            app.created_at.to_rfc3339(),
            now.to_rfc3339()
        ],
    )?;
    for v in app.versions.iter().filter(|v| v.number > stored) {
        conn.execute(
            "INSERT INTO application_version (application_id, version, content, sha256, submitted_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                app.id,
                v.number,
                serde_json::to_string(&v.content).map_err(corrupt)?,
                v.sha256,
                v.submitted_at.to_rfc3339()
            ],
        )?;
    }
    Ok(())
}

impl Db {
    /// Stores a new application (in draft).
    pub fn insert_application(&self, app: &Application, now: DateTime<Utc>) -> Result<(), DbError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        store(&tx, app, now)?;
        tx.commit()?;
        Ok(())
    }

    /// An application by id, with its versions.
    pub fn application(&self, id: &str) -> Result<Option<Application>, DbError> {
        load(&self.conn(), id)
    }

    /// Every application, newest first.
    pub fn applications(&self) -> Result<Vec<Application>, DbError> {
        let conn = self.conn();
        let ids: Vec<String> = {
            let mut stmt = conn.prepare_cached(
                "SELECT application_id FROM application ORDER BY created_at DESC, application_id",
            )?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(load(&conn, &id)?);
        }
        Ok(out)
    }

    /// Loads application `id`, lets `decide` move it, and stores the result
    /// (with the project and its sites when it was approved, `approved_by`
    /// recorded) in one immediate transaction. `None`: no such application;
    /// a refusal stores nothing.
    pub fn transition(
        &self,
        id: &str,
        approved_by: &str,
        now: DateTime<Utc>,
        decide: impl FnOnce(&Application) -> Result<Transition, Refusal>,
    ) -> Result<Option<Result<Transition, Refusal>>, DbError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(app) = load(&tx, id)? else {
            return Ok(None);
        };
        let t = match decide(&app) {
            Ok(t) => t,
            Err(refusal) => return Ok(Some(Err(refusal))),
        };
        store(&tx, &t.application, now)?;
        if let Some((project, sites)) = &t.project {
            super::projects::insert_project(&tx, project, approved_by, now)?;
            for site in sites {
                tx.execute(
                    "INSERT OR IGNORE INTO project_site (project_id, site) VALUES (?1, ?2)",
                    params![project.id, site],
                )?;
            }
        }
        tx.commit()?;
        Ok(Some(Ok(t)))
    }

    /// The sites a project runs on, if it was approved through an
    /// application (projects approved directly by an admin run on every
    /// registered site).
    pub fn project_sites(&self, project_id: &str) -> Result<Option<BTreeSet<String>>, DbError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT site FROM project_site WHERE project_id = ?1 ORDER BY site")?;
        let sites: BTreeSet<String> = stmt
            .query_map([project_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok((!sites.is_empty()).then_some(sites))
    }

    /// Registers (or renames) an institution with its members; a member of
    /// another institution moves to this one.
    pub fn put_institution(
        &self,
        institution: &Institution,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO institution (institution_id, name, registered_by, registered_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (institution_id) DO UPDATE SET name = excluded.name",
            params![institution.id, institution.name, by, now.to_rfc3339()],
        )?;
        tx.execute(
            "DELETE FROM institution_member WHERE institution_id = ?1",
            [&institution.id],
        )?;
        for m in &institution.members {
            tx.execute(
                "INSERT INTO institution_member (user_id, institution_id) VALUES (?1, ?2)
                 ON CONFLICT (user_id) DO UPDATE SET institution_id = excluded.institution_id",
                params![m, institution.id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Every registered institution with its members.
    pub fn institutions(&self) -> Result<Vec<Institution>, DbError> {
        let conn = self.conn();
        let mut out: BTreeMap<String, Institution> = BTreeMap::new();
        let mut stmt = conn.prepare_cached("SELECT institution_id, name FROM institution")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (id, name) = row?;
            out.insert(
                id.clone(),
                Institution {
                    id,
                    name,
                    members: BTreeSet::new(),
                },
            );
        }
        let mut stmt =
            conn.prepare_cached("SELECT user_id, institution_id FROM institution_member")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (user, inst) = row?;
            if let Some(i) = out.get_mut(&inst) {
                i.members.insert(user);
            }
        }
        Ok(out.into_values().collect())
    }

    /// The registered institution of each member (user id → institution id).
    pub fn institution_members(&self) -> Result<BTreeMap<String, String>, DbError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT user_id, institution_id FROM institution_member")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records whether `site` opts into approval under policy `policy_id`.
    pub fn set_policy_opt_in(
        &self,
        site: &str,
        policy_id: &str,
        opt_in: bool,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        let conn = self.conn();
        if opt_in {
            conn.execute(
                "INSERT INTO policy_opt_in (site, policy_id, opted_by, opted_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (site, policy_id) DO UPDATE SET opted_by = excluded.opted_by, opted_at = excluded.opted_at",
                params![site, policy_id, by, now.to_rfc3339()],
            )?;
        } else {
            conn.execute(
                "DELETE FROM policy_opt_in WHERE site = ?1 AND policy_id = ?2",
                params![site, policy_id],
            )?;
        }
        Ok(())
    }

    /// Sites that opted into approval under policy `policy_id`.
    pub fn policy_opt_ins(&self, policy_id: &str) -> Result<BTreeSet<String>, DbError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT site FROM policy_opt_in WHERE policy_id = ?1")?;
        let rows = stmt.query_map([policy_id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submitted_versions_cannot_be_changed_or_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("hub.db")).unwrap();
        let conn = db.conn();
        conn.execute(
            "INSERT INTO application (application_id, applicant, stage, state, created_at, updated_at)
             VALUES ('app-1', 'alice', 'draft', '{}', 'x', 'x')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO application_version (application_id, version, content, sha256, submitted_at)
             VALUES ('app-1', 1, '{}', 'aa', 'x')",
            [],
        )
        .unwrap();
        let update = conn.execute(
            "UPDATE application_version SET content = '{\"title\":\"forged\"}'",
            [],
        );
        assert!(update.unwrap_err().to_string().contains("immutable"));
        let delete = conn.execute("DELETE FROM application_version", []);
        assert!(delete.unwrap_err().to_string().contains("kept"));
    }
}
