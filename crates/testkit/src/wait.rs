//! Waiting for a condition instead of sleeping for a guessed time.

use std::time::Duration;
use tokio::time::Instant;

/// How often [`wait_until`] asks again.
const POLL: Duration = Duration::from_millis(20);

/// The condition did not hold within the time allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut(pub Duration);

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "condition not met within {:?}", self.0)
    }
}

impl std::error::Error for TimedOut {}

/// Asks `condition` every 20 ms until it yields `Some`, and returns that value;
/// [`TimedOut`] when `timeout` passes first. The condition is asked at least once.
pub async fn wait_until<T, F, Fut>(mut condition: F, timeout: Duration) -> Result<T, TimedOut>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = condition().await {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            return Err(TimedOut(timeout));
        }
        tokio::time::sleep(POLL.min(deadline - Instant::now())).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn returns_the_first_value_and_times_out_otherwise() {
        let calls = AtomicU32::new(0);
        let got = wait_until(
            || async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                (n == 3).then_some(n)
            },
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(got, Ok(3));
        let never = wait_until(|| async { None::<()> }, Duration::from_millis(50)).await;
        assert_eq!(never, Err(TimedOut(Duration::from_millis(50))));
    }
}
