//! The pause between two poll rounds of the agent.
//!
//! A hub that answers at once (an empty task list without waiting, an error, only
//! tasks the agent refuses) would otherwise be polled in a tight loop, burning a
//! core at the site and flooding the hub. [`Backoff`] grows the pause
//! exponentially up to a cap, with jitter so that many sites that lost the hub at
//! the same moment do not come back in lockstep, and starts over once a round
//! brought work.

use std::time::Duration;

/// Exponential back-off with "equal jitter": the `n`-th pause lies in
/// `[s/2, s]` for the step `s = min(cap, initial · 2ⁿ)`, so it never exceeds the cap.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    cap: Duration,
    step: Duration,
}

impl Backoff {
    /// A back-off whose first step is `initial`, doubling up to `cap`.
    pub fn new(initial: Duration, cap: Duration) -> Self {
        let initial = initial.min(cap);
        Self {
            initial,
            cap,
            step: initial,
        }
    }

    /// The next pause (jittered by a random draw); the step then doubles, up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        self.next_delay_with(rand::random::<f64>())
    }

    /// As [`Backoff::next_delay`] with `unit` (in `[0, 1)`) as the random draw, so
    /// that the sequence can be checked exactly.
    pub fn next_delay_with(&mut self, unit: f64) -> Duration {
        let half = self.step / 2;
        let delay = half + half.mul_f64(unit.clamp(0.0, 1.0));
        self.step = self.step.saturating_mul(2).min(self.cap);
        delay
    }

    /// The pause after a round that brought no task and took `elapsed`: the next
    /// delay less the time the round already waited. A long poll that waited at the
    /// hub is followed at once by the next; a round the hub answered at once waits.
    pub fn pause_after_empty_round(&mut self, elapsed: Duration) -> Duration {
        self.next_delay().saturating_sub(elapsed)
    }

    /// Starts over at the first step (after a round that brought a task).
    pub fn reset(&mut self) {
        self.step = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn red_team_agent_backs_off_when_the_hub_answers_at_once() {
        let mut b = Backoff::new(500 * MS, 10_000 * MS);
        // Rounds the hub answered at once: every pause is positive and grows to the cap.
        let pauses: Vec<Duration> = (0..8)
            .map(|_| b.pause_after_empty_round(Duration::ZERO))
            .collect();
        assert!(pauses.iter().all(|p| *p > Duration::ZERO), "{pauses:?}");
        let steps = [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000];
        for (pause, step) in pauses.iter().zip(steps) {
            assert!(*pause >= step / 2 * MS && *pause <= step * MS, "{pauses:?}");
        }
        // A task resets it.
        b.reset();
        let first = b.pause_after_empty_round(Duration::ZERO);
        assert!(first >= 250 * MS && first <= 500 * MS, "{first:?}");
    }

    #[test]
    fn a_long_poll_that_waited_is_not_delayed() {
        let mut b = Backoff::new(500 * MS, 10_000 * MS);
        for _ in 0..20 {
            assert_eq!(
                b.pause_after_empty_round(Duration::from_secs(25)),
                Duration::ZERO
            );
        }
        // A short round after them waits, but never beyond the cap.
        let p = b.pause_after_empty_round(100 * MS);
        assert!(p >= 4_900 * MS && p <= 9_900 * MS, "{p:?}");
    }

    #[test]
    fn jitter_stays_within_half_the_step_and_the_cap() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        assert_eq!(b.next_delay_with(0.0), 500 * MS);
        let high = b.next_delay_with(0.999_999);
        assert!(high > 1_999 * MS && high < 2_000 * MS, "{high:?}");
        assert_eq!(b.next_delay_with(0.5), 3_000 * MS);
        // Out-of-range draws are clamped; thousands of steps neither overflow nor pass the cap.
        assert_eq!(b.next_delay_with(7.0), 8_000 * MS);
        for _ in 0..10_000 {
            assert!(b.next_delay() <= Duration::from_secs(30));
        }
        assert_eq!(b.next_delay_with(-1.0), Duration::from_secs(15));
        // An initial step above the cap is the cap.
        let mut big = Backoff::new(Duration::from_secs(60), Duration::from_secs(30));
        assert_eq!(big.next_delay_with(1.0), Duration::from_secs(30));
    }
}
