//! Whether to try a failed request again, and after how long.
//!
//! - 429 waits as long as `Retry-After` says;
//! - 503 while a model loads waits its `estimated_time`;
//! - other 5xx, timeouts, cut streams and network errors back off
//!   exponentially with jitter, so many clients do not retry in lockstep;
//! - everything else (a bad token, an unknown model, a refused request, a
//!   cancel) fails at once: trying again cannot help.
//!
//! The policy itself (backoff, caps, jitter) is [`prefab_core::backoff`],
//! shared with the Hub client; this module says what each failure allows.

use super::errors::{ErrorBody, HostedError, HostedErrorKind};
use prefab_core::backoff::{parse_retry_after_ms, RetryWait, Retryable};
pub use prefab_core::backoff::{Decision, RetryPolicy};

/// A failed attempt, as the transport saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// What went wrong.
    pub error: HostedError,
    /// The `Retry-After` header, if the server sent one.
    pub retry_after: Option<String>,
    /// The raw error body, for `estimated_time`.
    pub body: String,
}

impl Retryable for Failure {
    fn retry_wait(&self) -> RetryWait {
        let said = match self.error.kind {
            HostedErrorKind::RateLimited => self.retry_after.as_deref().and_then(parse_retry_after_ms),
            HostedErrorKind::ModelLoading => ErrorBody::parse(&self.body).estimated_time.map(|seconds| seconds * 1000.0),
            HostedErrorKind::Server | HostedErrorKind::Timeout | HostedErrorKind::Unreachable | HostedErrorKind::StreamCut => None,
            _ => return RetryWait::Never,
        };
        said.map_or(RetryWait::Backoff, RetryWait::ServerSaid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: u16, retry_after: Option<&str>, body: &str) -> Failure {
        Failure { error: HostedError::from_status(status, body), retry_after: retry_after.map(str::to_owned), body: body.to_owned() }
    }

    fn network() -> Failure {
        Failure { error: HostedError::new(HostedErrorKind::Unreachable, "connection refused"), retry_after: None, body: String::new() }
    }

    #[test]
    fn rate_limits_wait_as_long_as_retry_after_says() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.decide(1, &failure(429, Some("3"), ""), 0.9), Decision::RetryAfterMs(3000.0));
        assert_eq!(policy.decide(1, &failure(429, Some("0.25"), ""), 0.9), Decision::RetryAfterMs(250.0));
        // An unreadable header falls back to the backoff.
        assert_eq!(policy.decide(1, &failure(429, Some("soon"), ""), 0.0), Decision::RetryAfterMs(250.0));
    }

    #[test]
    fn a_loading_model_is_waited_for_as_estimated() {
        let body = r#"{"error":"Model is currently loading","estimated_time":12.5}"#;
        assert_eq!(RetryPolicy::default().decide(2, &failure(503, None, body), 0.3), Decision::RetryAfterMs(12_500.0));
    }

    #[test]
    fn server_and_network_errors_back_off_exponentially_within_the_jitter_band() {
        let policy = RetryPolicy { max_attempts: 10, base_delay_ms: 100.0, max_delay_ms: 1_000.0 };
        for (attempt, full) in [(1, 100.0), (2, 200.0), (3, 400.0), (4, 800.0), (5, 1_000.0), (9, 1_000.0)] {
            for failed in [failure(500, None, ""), failure(502, None, "<html>bad gateway</html>"), network()] {
                assert_eq!(policy.decide(attempt, &failed, 0.0), Decision::RetryAfterMs(full / 2.0));
                assert_eq!(policy.decide(attempt, &failed, 0.999_999), Decision::RetryAfterMs(full / 2.0 + full / 2.0 * 0.999_999));
            }
        }
    }

    #[test]
    fn waits_are_capped_and_attempts_are_counted() {
        let policy = RetryPolicy { max_attempts: 3, base_delay_ms: 100.0, max_delay_ms: 5_000.0 };
        assert_eq!(policy.decide(1, &failure(429, Some("3600"), ""), 0.5), Decision::RetryAfterMs(5_000.0));
        assert_eq!(policy.decide(2, &failure(500, None, ""), 0.5), Decision::RetryAfterMs(150.0));
        assert_eq!(policy.decide(3, &failure(500, None, ""), 0.5), Decision::GiveUp);
    }

    #[test]
    fn errors_a_retry_cannot_fix_fail_at_once() {
        let policy = RetryPolicy::default();
        for status in [400, 401, 403, 404, 422] {
            assert_eq!(policy.decide(1, &failure(status, None, ""), 0.5), Decision::GiveUp, "HTTP {status}");
        }
        let cancelled = Failure { error: HostedError::new(HostedErrorKind::Cancelled, ""), retry_after: None, body: String::new() };
        assert_eq!(policy.decide(1, &cancelled, 0.5), Decision::GiveUp);
    }
}
