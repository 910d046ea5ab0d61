//! Per-user rate limits and weekly quotas for feasibility queries.
//!
//! Deterministic noise makes *repeating* a query useless, but every *distinct*
//! query gets fresh noise, so an attacker who phrases many queries that each
//! differ by the target patient can average the noise away. The weekly quota
//! bounds how many such queries one user gets; it is the privacy budget of R7
//! level 4, spent per query rather than in ε. `tests/differencing.rs` measures
//! what a quota buys (attacker accuracy against the number of query pairs).
//!
//! Two limits, after the MII feasibility portal (feasibility-backend README,
//! "Privacy and Obfuscation": `PRIVACY_QUOTA_SOFT_CREATE_AMOUNT` = 3 per
//! `PT1M`, `PRIVACY_QUOTA_HARD_CREATE_AMOUNT` = 50 per `P7D`):
//!
//! - **per minute**: a token bucket of `per_minute` tokens refilled at
//!   `per_minute` per minute, implemented as GCRA (generic cell rate
//!   algorithm, ITU-T I.371): one timestamp per user instead of a token count
//!   and a refill time, same behaviour;
//! - **per week**: a *rolling* 7-day window (the last `per_week` query times
//!   per user). Rolling rather than ISO weeks, because with calendar weeks a
//!   user gets twice the quota between Sunday evening and Monday morning.
//!
//! A refused query consumes nothing. The state is plain data (serde), so the
//! hub persists it between restarts; time is always a parameter.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

use crate::ConfigError;

/// The limits per user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryBudget {
    /// Queries per minute (also the burst size).
    pub per_minute: u32,
    /// Queries per rolling 7 days.
    pub per_week: u32,
}

impl Default for QueryBudget {
    /// 3 per minute, 50 per 7 days: the MII feasibility portal defaults. With the
    /// level-2 noise (b = 10), spending all 50 on differencing one patient gives
    /// the attacker about 0.555 accuracy (coin flip 0.5), 0.514 at level 4; see
    /// the table in the crate docs. Halving the quota would buy little (0.534 at
    /// 10 pairs); doubling it costs more (0.564 at 50 pairs).
    fn default() -> Self {
        Self {
            per_minute: 3,
            per_week: 50,
        }
    }
}

/// Why a query was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefusalReason {
    /// More than `per_minute` queries in a short time.
    TooFrequent,
    /// `per_week` queries in the last 7 days.
    WeeklyQuotaExhausted,
}

/// A refused query and when the user may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}: try again at {retry_at}", match reason {
    RefusalReason::TooFrequent => "too many queries in a short time",
    RefusalReason::WeeklyQuotaExhausted => "weekly query quota used up",
})]
pub struct Refusal {
    /// The limit that refused it (the one that frees up last, when both do).
    pub reason: RefusalReason,
    /// The earliest time at which the same query would be accepted.
    pub retry_at: DateTime<Utc>,
}

/// What is left after an accepted query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remaining {
    /// Queries the user could send right now.
    pub this_minute: u32,
    /// Queries left in the rolling 7-day window.
    pub this_week: u32,
}

/// One user's usage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Usage {
    /// GCRA theoretical arrival time: when the bucket is full again.
    tat: Option<DateTime<Utc>>,
    /// Accepted queries in the last 7 days, oldest first.
    week: VecDeque<DateTime<Utc>>,
}

const WEEK: TimeDelta = TimeDelta::days(7);

/// The per-user limiter: a pure state machine over `(user, now)`.
///
/// Its serialised form is validated when read back (a zero limit is refused),
/// so persisted state cannot smuggle in a configuration `new` would reject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "LimiterState", into = "LimiterState")]
pub struct RateLimiter {
    budget: QueryBudget,
    users: BTreeMap<String, Usage>,
}

/// The serialised form of a [`RateLimiter`].
#[derive(Serialize, Deserialize)]
struct LimiterState {
    budget: QueryBudget,
    users: BTreeMap<String, Usage>,
}

impl From<RateLimiter> for LimiterState {
    fn from(l: RateLimiter) -> Self {
        Self {
            budget: l.budget,
            users: l.users,
        }
    }
}

impl TryFrom<LimiterState> for RateLimiter {
    type Error = ConfigError;
    fn try_from(s: LimiterState) -> Result<Self, ConfigError> {
        Ok(Self {
            users: s.users,
            ..Self::new(s.budget)?
        })
    }
}

impl RateLimiter {
    /// A limiter with no history; fails on a zero limit (to block a user, do not ask the limiter).
    pub fn new(budget: QueryBudget) -> Result<Self, ConfigError> {
        if budget.per_minute == 0 || budget.per_week == 0 {
            return Err(ConfigError::ZeroBudget);
        }
        Ok(Self {
            budget,
            users: BTreeMap::new(),
        })
    }

    /// The limits in force.
    pub fn budget(&self) -> QueryBudget {
        self.budget
    }

    /// Changes the limits and keeps the users' history (e.g. after loading persisted state).
    pub fn set_budget(&mut self, budget: QueryBudget) -> Result<(), ConfigError> {
        *self = Self {
            users: std::mem::take(&mut self.users),
            ..Self::new(budget)?
        };
        Ok(())
    }

    /// Time per token: a minute divided by `per_minute`, rounded up (never faster).
    fn interval(&self) -> TimeDelta {
        let ms = 60_000_u64.div_ceil(u64::from(self.budget.per_minute.max(1)));
        TimeDelta::milliseconds(ms as i64)
    }

    /// Accepts and records a query by `user` at `now`, or refuses it without recording.
    pub fn check_and_consume(
        &mut self,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<Remaining, Refusal> {
        let (interval, budget) = (self.interval(), self.budget);
        // GCRA burst tolerance: per_minute − 1 tokens may be used ahead of schedule.
        let tolerance = TimeDelta::milliseconds(
            interval.num_milliseconds() * (i64::from(budget.per_minute) - 1),
        );
        let usage = self.users.entry(user.to_owned()).or_default();
        prune(&mut usage.week, now);

        let tat = usage.tat.map_or(now, |t| t.max(now));
        let minute_retry = (tat - now > tolerance).then(|| tat - tolerance);
        let week_full = usage.week.len() >= budget.per_week as usize;
        let week_retry =
            week_full.then(|| usage.week[usage.week.len() - budget.per_week as usize] + WEEK);
        let refusal = match (minute_retry, week_retry) {
            (None, None) => None,
            (Some(m), Some(w)) if m > w => Some((RefusalReason::TooFrequent, m)),
            (Some(m), None) => Some((RefusalReason::TooFrequent, m)),
            (_, Some(w)) => Some((RefusalReason::WeeklyQuotaExhausted, w)),
        };
        if let Some((reason, retry_at)) = refusal {
            return Err(Refusal { reason, retry_at });
        }

        usage.tat = Some(tat + interval);
        usage.week.push_back(now);
        Ok(remaining(usage, budget, interval, now))
    }

    /// What `user` has left at `now`, without consuming anything.
    pub fn remaining(&self, user: &str, now: DateTime<Utc>) -> Remaining {
        let mut usage = self.users.get(user).cloned().unwrap_or_default();
        prune(&mut usage.week, now);
        remaining(&usage, self.budget, self.interval(), now)
    }

    /// Drops users with nothing in the window and a full bucket at `now` (keeps the state small).
    pub fn forget_idle(&mut self, now: DateTime<Utc>) {
        self.users.retain(|_, u| {
            prune(&mut u.week, now);
            !u.week.is_empty() || u.tat.is_some_and(|t| t > now)
        });
    }
}

/// Removes queries older than 7 days before `now` (a query exactly 7 days old has expired).
fn prune(week: &mut VecDeque<DateTime<Utc>>, now: DateTime<Utc>) {
    while week.front().is_some_and(|&t| t + WEEK <= now) {
        week.pop_front();
    }
}

fn remaining(
    usage: &Usage,
    budget: QueryBudget,
    interval: TimeDelta,
    now: DateTime<Utc>,
) -> Remaining {
    // The bucket holds per_minute tokens; each token the TAT is ahead of now is one used.
    let ahead = usage
        .tat
        .map_or(TimeDelta::zero(), |t| (t - now).max(TimeDelta::zero()));
    let used = (ahead.num_milliseconds().max(0) as u64)
        .div_ceil(interval.num_milliseconds().max(1) as u64);
    let this_minute = u64::from(budget.per_minute).saturating_sub(used) as u32;
    let this_week = budget.per_week.saturating_sub(usage.week.len() as u32);
    Remaining {
        this_minute,
        this_week,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 2, 23, 59, 0).unwrap() // a Sunday evening
    }

    fn limiter() -> RateLimiter {
        RateLimiter::new(QueryBudget::default()).unwrap()
    }

    #[test]
    fn burst_of_three_then_one_every_twenty_seconds() {
        let mut l = limiter();
        let now = t0();
        let rem: Vec<_> = (0..3)
            .map(|_| l.check_and_consume("alice", now).unwrap().this_minute)
            .collect();
        assert_eq!(rem, [2, 1, 0]);
        let refusal = l.check_and_consume("alice", now).unwrap_err();
        assert_eq!(
            refusal,
            Refusal {
                reason: RefusalReason::TooFrequent,
                retry_at: now + TimeDelta::seconds(20)
            }
        );
        let early = now + TimeDelta::seconds(20) - TimeDelta::milliseconds(1);
        assert!(l.check_and_consume("alice", early).is_err());
        assert_eq!(
            l.check_and_consume("alice", now + TimeDelta::seconds(20))
                .unwrap()
                .this_minute,
            0
        );
        // After a full minute of silence the bucket is full again.
        let later = now + TimeDelta::seconds(80);
        assert_eq!(l.remaining("alice", later).this_minute, 3);
        assert_eq!(
            l.remaining("alice", later).this_week,
            46,
            "refusals consumed nothing"
        );
    }

    #[test]
    fn weekly_quota_is_a_rolling_seven_days() {
        let mut l = limiter();
        let start = t0();
        // 50 queries, one every 10 minutes: across the Sunday/Monday boundary.
        for i in 0..50 {
            let rem = l
                .check_and_consume("bob", start + TimeDelta::minutes(10 * i))
                .unwrap();
            assert_eq!(rem.this_week, 49 - i as u32);
        }
        let monday = start + TimeDelta::days(1);
        let refusal = l.check_and_consume("bob", monday).unwrap_err();
        assert_eq!(
            refusal,
            Refusal {
                reason: RefusalReason::WeeklyQuotaExhausted,
                retry_at: start + WEEK
            }
        );
        // Edge: one millisecond before the oldest query expires, still refused; at expiry, accepted.
        assert!(
            l.check_and_consume("bob", start + WEEK - TimeDelta::milliseconds(1))
                .is_err()
        );
        assert_eq!(
            l.check_and_consume("bob", start + WEEK).unwrap().this_week,
            0
        );
        let refusal = l
            .check_and_consume("bob", start + WEEK + TimeDelta::minutes(1))
            .unwrap_err();
        assert_eq!(refusal.retry_at, start + TimeDelta::minutes(10) + WEEK);
    }

    #[test]
    fn the_later_retry_time_wins_when_both_limits_refuse() {
        let mut l = RateLimiter::new(QueryBudget {
            per_minute: 1,
            per_week: 1,
        })
        .unwrap();
        l.check_and_consume("u", t0()).unwrap();
        let r = l.check_and_consume("u", t0()).unwrap_err();
        assert_eq!(
            r,
            Refusal {
                reason: RefusalReason::WeeklyQuotaExhausted,
                retry_at: t0() + WEEK
            }
        );
    }

    #[test]
    fn users_are_independent_and_state_round_trips() {
        let mut l = limiter();
        for _ in 0..3 {
            l.check_and_consume("alice", t0()).unwrap();
        }
        assert!(l.check_and_consume("alice", t0()).is_err());
        assert_eq!(l.check_and_consume("carol", t0()).unwrap().this_minute, 2);
        let json = serde_json::to_string(&l).unwrap();
        let mut back: RateLimiter = serde_json::from_str(&json).unwrap();
        assert_eq!(back, l);
        let refusal = back.check_and_consume("alice", t0()).unwrap_err();
        assert!(
            refusal
                .to_string()
                .starts_with("too many queries in a short time: try again at")
        );
        let zero = json.replace(r#""per_week":50"#, r#""per_week":0"#);
        assert!(
            serde_json::from_str::<RateLimiter>(&zero).is_err(),
            "validated on input"
        );
        // Limits can change without losing history: alice used 3 of the new 4.
        back.set_budget(QueryBudget {
            per_minute: 60,
            per_week: 4,
        })
        .unwrap();
        let later = t0() + TimeDelta::hours(1);
        assert_eq!(back.check_and_consume("alice", later).unwrap().this_week, 0);
        let refusal = back.check_and_consume("alice", later).unwrap_err();
        assert_eq!(refusal.reason, RefusalReason::WeeklyQuotaExhausted);
        assert!(
            refusal
                .to_string()
                .starts_with("weekly query quota used up")
        );
    }

    #[test]
    fn clock_going_backwards_does_not_grant_tokens() {
        let mut l = limiter();
        for _ in 0..3 {
            l.check_and_consume("u", t0()).unwrap();
        }
        assert!(
            l.check_and_consume("u", t0() - TimeDelta::hours(1))
                .is_err()
        );
    }

    #[test]
    fn idle_users_are_forgotten_and_zero_budgets_rejected() {
        let mut l = limiter();
        l.check_and_consume("u", t0()).unwrap();
        l.forget_idle(t0() + TimeDelta::days(1));
        assert_eq!(l.users.len(), 1, "still in the weekly window");
        l.forget_idle(t0() + WEEK);
        assert!(l.users.is_empty());
        assert_eq!(
            RateLimiter::new(QueryBudget {
                per_minute: 0,
                per_week: 5
            }),
            Err(ConfigError::ZeroBudget)
        );
        assert_eq!(
            RateLimiter::new(QueryBudget {
                per_minute: 5,
                per_week: 0
            }),
            Err(ConfigError::ZeroBudget)
        );
    }
}
