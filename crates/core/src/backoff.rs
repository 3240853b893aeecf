//! Whether to try a failed request again, and after how long.
//!
//! Shared by every client that talks to a server the page does not control —
//! hosted models and the Hugging Face Hub. The caller says what a failure
//! allows ([`RetryWait`]): a wait the server asked for (`Retry-After`, a model
//! still loading), the standard backoff (5xx, timeouts, cut connections), or
//! no retry at all (a bad token, a refused request, a cancel). The policy
//! turns that into a wait: exponential with "equal jitter", so many clients do
//! not retry in lockstep, every wait capped, and the number of attempts
//! capped. The caller draws the jitter, so this stays pure and testable.

/// How persistent to be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The backoff before the second attempt, in milliseconds; it doubles each time.
    pub base_delay_ms: f64,
    /// No wait is longer than this, in milliseconds.
    pub max_delay_ms: f64,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy { max_attempts: 5, base_delay_ms: 500.0, max_delay_ms: 60_000.0 }
    }
}

/// What a failure allows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RetryWait {
    /// The server said how long to wait, in milliseconds.
    ServerSaid(f64),
    /// A transient failure: back off.
    Backoff,
    /// Trying again cannot help.
    Never,
}

/// A failure that knows whether a retry can help.
pub trait Retryable {
    /// What this failure allows.
    fn retry_wait(&self) -> RetryWait;
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Wait this many milliseconds, then try again.
    RetryAfterMs(f64),
    /// Stop and report the error.
    GiveUp,
}

impl RetryPolicy {
    /// Decides after failed attempt number `attempt` (1 for the first);
    /// `jitter` is a random number in `[0, 1)`.
    pub fn decide(&self, attempt: u32, failure: &impl Retryable, jitter: f64) -> Decision {
        if attempt >= self.max_attempts {
            return Decision::GiveUp;
        }
        let wait = match failure.retry_wait() {
            RetryWait::ServerSaid(ms) => ms,
            RetryWait::Backoff => self.backoff_ms(attempt, jitter),
            RetryWait::Never => return Decision::GiveUp,
        };
        Decision::RetryAfterMs(wait.clamp(0.0, self.max_delay_ms))
    }

    /// The backoff after attempt number `attempt`: half of the capped
    /// exponential wait is fixed, half random, so it never collapses to zero.
    pub fn backoff_ms(&self, attempt: u32, jitter: f64) -> f64 {
        let exponential = self.base_delay_ms * 2f64.powi(attempt.saturating_sub(1).min(30) as i32);
        let capped = exponential.min(self.max_delay_ms);
        capped / 2.0 + capped / 2.0 * jitter.clamp(0.0, 1.0)
    }
}

/// `Retry-After` in seconds (`"120"`, `"1.5"`), as milliseconds. The
/// HTTP-date form needs a clock and is rare from APIs; callers fall back to
/// the backoff.
pub fn parse_retry_after_ms(value: &str) -> Option<f64> {
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then_some(seconds * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Says(RetryWait);
    impl Retryable for Says {
        fn retry_wait(&self) -> RetryWait {
            self.0
        }
    }

    #[test]
    fn server_waits_are_kept_but_capped() {
        let policy = RetryPolicy { max_attempts: 3, base_delay_ms: 100.0, max_delay_ms: 5_000.0 };
        assert_eq!(policy.decide(1, &Says(RetryWait::ServerSaid(3_000.0)), 0.5), Decision::RetryAfterMs(3_000.0));
        assert_eq!(policy.decide(1, &Says(RetryWait::ServerSaid(3_600_000.0)), 0.5), Decision::RetryAfterMs(5_000.0));
        assert_eq!(policy.decide(3, &Says(RetryWait::ServerSaid(1.0)), 0.5), Decision::GiveUp);
    }

    #[test]
    fn backoff_doubles_within_the_jitter_band_and_never_is_never() {
        let policy = RetryPolicy { max_attempts: 10, base_delay_ms: 100.0, max_delay_ms: 1_000.0 };
        for (attempt, full) in [(1, 100.0), (2, 200.0), (3, 400.0), (5, 1_000.0)] {
            assert_eq!(policy.decide(attempt, &Says(RetryWait::Backoff), 0.0), Decision::RetryAfterMs(full / 2.0));
            assert_eq!(policy.decide(attempt, &Says(RetryWait::Backoff), 1.0), Decision::RetryAfterMs(full));
        }
        assert_eq!(policy.decide(1, &Says(RetryWait::Never), 0.5), Decision::GiveUp);
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        assert_eq!(parse_retry_after_ms("3"), Some(3_000.0));
        assert_eq!(parse_retry_after_ms(" 0.25 "), Some(250.0));
        assert_eq!(parse_retry_after_ms("soon"), None);
        assert_eq!(parse_retry_after_ms("-1"), None);
    }
}
