//! An invocation's deadline, as a bound on every call made for it.
//!
//! Classic Lambda stops an invocation at its timeout (and resets the runtime, losing the
//! warm globals); Managed Instances do not stop it at all. Either way the code should stop
//! first, by itself: every call is bounded by the smaller of its own timeout and the time
//! left, so an invocation ends with a clear error of its own instead of a timeout.
//!
//! ```
//! use std::time::Duration;
//! use shared::deadline::{Deadline, Elapsed};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let deadline = Deadline::after(Duration::from_millis(20));
//! // A call with a 2 s timeout of its own is still cut at the invocation's deadline.
//! let slow = tokio::time::sleep(Duration::from_secs(5));
//! assert_eq!(deadline.run(Duration::from_secs(2), slow).await, Err(Elapsed::Deadline));
//! # }
//! ```

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Kept back from Lambda's deadline to post the error response in time.
pub const RESPONSE_MARGIN: Duration = Duration::from_millis(50);

/// When the invocation must have answered, if it has a deadline at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline(Option<Instant>);

/// Which bound stopped a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elapsed {
    /// The call's own timeout.
    Timeout(Duration),
    /// The invocation's deadline.
    Deadline,
}

impl Deadline {
    /// No deadline: only the calls' own timeouts apply.
    pub const NONE: Self = Self(None);

    /// A deadline at `instant`.
    pub fn at(instant: Instant) -> Self {
        Self(Some(instant))
    }

    /// A deadline `duration` from now.
    pub fn after(duration: Duration) -> Self {
        Self::at(Instant::now() + duration)
    }

    /// From Lambda's `Context::deadline` (milliseconds since the Unix epoch), less
    /// `RESPONSE_MARGIN`. Zero (no deadline given) means none. A value too small to be a
    /// date after 2001 is taken as the time left: `cargo lambda watch` sends its timeout
    /// (600000) there, and read as a date it would have passed in 1970.
    pub fn from_epoch_millis(deadline_ms: u64) -> Self {
        const YEAR_2001_MS: u64 = 1_000_000_000_000;
        if deadline_ms == 0 {
            return Self::NONE;
        }
        let left = if deadline_ms < YEAR_2001_MS {
            Duration::from_millis(deadline_ms)
        } else {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            Duration::from_millis(deadline_ms).saturating_sub(now)
        };
        Self::after(left.saturating_sub(RESPONSE_MARGIN))
    }

    /// Time left before the deadline (zero once it passed); `None` without a deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.0
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// How long a call with its own `timeout` may take now, and what stops it then.
    pub fn bound(&self, timeout: Duration) -> (Duration, Elapsed) {
        match self.remaining() {
            Some(left) if left < timeout => (left, Elapsed::Deadline),
            _ => (timeout, Elapsed::Timeout(timeout)),
        }
    }

    /// Runs `call` for at most its own `timeout` and at most until the deadline. Past the
    /// deadline, `call` is not started at all. The error says which bound stopped it.
    pub async fn run<F: Future>(&self, timeout: Duration, call: F) -> Result<F::Output, Elapsed> {
        let (limit, cause) = self.bound(timeout);
        if limit.is_zero() && cause == Elapsed::Deadline {
            return Err(Elapsed::Deadline);
        }
        tokio::time::timeout(limit, call).await.map_err(|_| cause)
    }
}

/// A duration in whole milliseconds, for messages.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_smaller_bound_wins() {
        let second = Duration::from_secs(1);
        assert_eq!(
            Deadline::NONE.bound(second),
            (second, Elapsed::Timeout(second))
        );
        let far = Deadline::after(Duration::from_secs(10));
        assert_eq!(far.bound(second), (second, Elapsed::Timeout(second)));
        let near = Deadline::after(Duration::from_millis(200));
        assert_eq!(
            near.bound(second),
            (Duration::from_millis(200), Elapsed::Deadline)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_past_the_deadline_is_stopped_there() {
        let deadline = Deadline::after(Duration::from_millis(300));
        let start = Instant::now();
        let never = std::future::pending::<()>();
        let result = deadline.run(Duration::from_secs(5), never).await;
        assert_eq!(result, Err(Elapsed::Deadline));
        assert_eq!(start.elapsed(), Duration::from_millis(300));
        // Once it has passed, nothing more starts, not even a call that is ready at once.
        assert_eq!(deadline.remaining(), Some(Duration::ZERO));
        let result = deadline.run(Duration::from_secs(5), async { 1 }).await;
        assert_eq!(result, Err(Elapsed::Deadline));
    }

    #[tokio::test(start_paused = true)]
    async fn lambda_deadlines_keep_a_margin_for_the_response() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let left = Deadline::from_epoch_millis(now_ms + 3_000)
            .remaining()
            .unwrap();
        assert!(
            left <= Duration::from_millis(3_000) - RESPONSE_MARGIN,
            "{left:?}"
        );
        assert!(left > Duration::from_millis(2_800), "{left:?}");
        assert_eq!(
            Deadline::from_epoch_millis(now_ms - 1_000).remaining(),
            Some(Duration::ZERO)
        );
        assert_eq!(Deadline::from_epoch_millis(0), Deadline::NONE);
        // cargo lambda's emulator: the timeout instead of a date.
        let left = Deadline::from_epoch_millis(600_000).remaining().unwrap();
        assert_eq!(left, Duration::from_millis(600_000) - RESPONSE_MARGIN);
    }
}
