//! The hub refuses a configuration whose parts contradict each other or switch
//! a protection off, at start and with every problem named, instead of
//! misbehaving later (a query deadline past the tasks' lifetime, a zero
//! rounding step, a quota that a burst exceeds).

use crate::HubConfig;
use std::time::Duration;

impl HubConfig {
    /// Checks the configuration; `Err` lists every problem, one per line, in the
    /// words of the `oncofed hub serve` options.
    pub fn validate(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, problem: String| {
            if !ok {
                problems.push(problem);
            }
        };
        let secs = |d: Duration| d.as_secs_f64();
        for (name, d) in [
            ("--task-ttl", self.task_ttl),
            ("--claim-timeout", self.claim_timeout),
            ("--query-deadline", self.query_deadline),
            ("--max-poll", self.max_poll),
            ("--analysis-step-timeout", self.analysis_step_timeout),
            (
                "--analysis-admission-timeout",
                self.analysis_admission_timeout,
            ),
        ] {
            check(!d.is_zero(), format!("{name} must be more than 0 seconds"));
        }
        check(
            self.query_deadline <= self.task_ttl,
            format!(
                "--query-deadline ({} s) must not exceed --task-ttl ({} s): a query would wait for tasks that expired",
                secs(self.query_deadline),
                secs(self.task_ttl)
            ),
        );
        check(
            self.claim_timeout < self.task_ttl,
            format!(
                "--claim-timeout ({} s) must be shorter than --task-ttl ({} s): a lost task could never be handed out again",
                secs(self.claim_timeout),
                secs(self.task_ttl)
            ),
        );
        check(
            self.max_poll < self.task_ttl,
            format!(
                "--max-poll ({} s) must be shorter than --task-ttl ({} s)",
                secs(self.max_poll),
                secs(self.task_ttl)
            ),
        );
        let d = &self.disclosure;
        check(
            d.min_total >= 1,
            "--min-total must be at least 1 (0 switches suppression off)".into(),
        );
        check(
            d.total_rounding >= 1,
            "--total-rounding must be at least 1".into(),
        );
        check(
            d.min_sites_for_breakdown >= 2,
            "--min-sites-for-breakdown must be at least 2 (1 would release single sites' counts)"
                .into(),
        );
        for (name, budget) in [("queries", self.limits), ("analyses", self.analysis_runs)] {
            check(
                budget.per_minute >= 1 && budget.per_week >= budget.per_minute,
                format!(
                    "--{name}-per-minute ({}) must be at least 1 and at most --{name}-per-week ({})",
                    budget.per_minute, budget.per_week
                ),
            );
        }
        check(
            self.site_body_budget >= crate::site_request::MAX_RESULT_BODY,
            format!(
                "the site body budget ({} bytes) must hold at least one largest site body ({} bytes)",
                self.site_body_budget,
                crate::site_request::MAX_RESULT_BODY
            ),
        );
        check(
            self.dataset_epsilon_budget.is_finite() && self.dataset_epsilon_budget >= 0.0,
            "--dataset-epsilon must be a finite number >= 0".into(),
        );
        if let Some(e) = self.default_release_epsilon {
            check(
                e.is_finite() && e > 0.0,
                "--release-epsilon must be a finite number > 0 (0 means exact counts)".into(),
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{HubConfig, Users};

    fn config() -> HubConfig {
        HubConfig::new(
            "/nonexistent",
            oncofed_crypto::SigningKeyPair::generate(),
            Users::default(),
        )
    }

    #[test]
    fn the_defaults_are_valid() {
        config().validate().unwrap();
    }

    #[test]
    fn contradictions_and_switched_off_protections_are_each_named() {
        let mut c = config();
        c.query_deadline = c.task_ttl * 2;
        c.disclosure.total_rounding = 0;
        c.disclosure.min_sites_for_breakdown = 1;
        c.limits.per_week = 0;
        let err = c.validate().unwrap_err();
        for needle in [
            "--query-deadline",
            "--total-rounding",
            "--min-sites-for-breakdown",
            "--queries-per-minute",
        ] {
            assert!(err.contains(needle), "{needle} missing in:\n{err}");
        }
        assert_eq!(err.lines().count(), 4, "{err}");
        let mut c = config();
        c.claim_timeout = c.task_ttl;
        assert!(c.validate().unwrap_err().contains("--claim-timeout"));
    }
}
