//! The Beacon's state at the hub (issue 16): accepted queries per caller for
//! the rate limit and query budget (`oncofed_beacon::admit` over a
//! [`QueryCounter`] kept here, so a restart resets nothing), and the sequenced
//! persons each site last reported (the beacon size the next tasks carry).

use super::{Db, DbError};
use oncofed_protocol::beacon::defence::{
    QueryCounter, RatePolicy, RateRefusal, ResearcherId, admit,
};
use rusqlite::params;

/// Migration 8: Beacon queries and site sizes.
pub(super) const MIGRATION: &str = "CREATE TABLE beacon_query (
        researcher TEXT NOT NULL,
        at INTEGER NOT NULL
     );
     CREATE INDEX beacon_query_researcher ON beacon_query (researcher, at);
     CREATE TABLE beacon_site (
        site TEXT PRIMARY KEY,
        sequenced INTEGER NOT NULL CHECK (sequenced >= 0)
     );";

/// One caller's accepted queries within the long window, as `admit` sees them.
struct Window {
    times: Vec<u64>,
    recorded: Option<u64>,
}

impl QueryCounter for Window {
    fn count_since(&self, _: &ResearcherId, since: u64) -> u64 {
        self.times.iter().filter(|t| **t >= since).count() as u64
    }

    fn record(&mut self, _: &ResearcherId, at: u64) {
        self.recorded = Some(at);
    }
}

impl Db {
    /// Checks `researcher`'s rate and query budget at `now` (Unix seconds) and
    /// records the query if admitted, in one transaction; entries older than
    /// the long window are dropped.
    pub fn beacon_admit(
        &self,
        researcher: &ResearcherId,
        now: u64,
        policy: &RatePolicy,
    ) -> Result<Result<(), RateRefusal>, DbError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let since = now.saturating_sub(policy.window_secs) as i64;
        tx.execute(
            "DELETE FROM beacon_query WHERE researcher = ?1 AND at < ?2",
            params![researcher.as_str(), since],
        )?;
        let times: Vec<u64> = {
            let mut stmt =
                tx.prepare_cached("SELECT at FROM beacon_query WHERE researcher = ?1")?;
            stmt.query_map([researcher.as_str()], |r| r.get::<_, i64>(0))?
                .map(|t| t.map(|t| t.max(0) as u64))
                .collect::<Result<_, _>>()?
        };
        let mut window = Window {
            times,
            recorded: None,
        };
        let verdict = admit(researcher, now, policy, &mut window);
        if let Some(at) = window.recorded {
            tx.execute(
                "INSERT INTO beacon_query (researcher, at) VALUES (?1, ?2)",
                params![researcher.as_str(), at as i64],
            )?;
        }
        tx.commit()?;
        Ok(verdict)
    }

    /// The beacon size: the sequenced persons the sites last reported, summed.
    pub fn beacon_size(&self) -> Result<Option<u64>, DbError> {
        let (rows, total): (i64, i64) = self.conn().query_row(
            "SELECT COUNT(*), COALESCE(SUM(sequenced), 0) FROM beacon_site",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((rows > 0).then_some(total.max(0) as u64))
    }

    /// Stores what each site reported of its sequenced persons.
    pub fn put_beacon_sizes(&self, sizes: &[(String, u64)]) -> Result<(), DbError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for (site, n) in sizes {
            tx.execute(
                "INSERT INTO beacon_site (site, sequenced) VALUES (?1, ?2)
                 ON CONFLICT (site) DO UPDATE SET sequenced = excluded.sequenced",
                params![site, i64::try_from(*n).unwrap_or(i64::MAX)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}
