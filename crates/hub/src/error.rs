//! What went wrong with the Hub, in words a person can act on.
//!
//! The Hub answers errors as a status, an `X-Error-Code` header (`RepoNotFound`,
//! `GatedRepo`, `RevisionNotFound`, …), an `X-Error-Message` header and a JSON
//! body `{"error": "…"}`; datasets-server answers the same way with its own
//! codes. They are read into one [`HubError`] whose kind says what to do next:
//! sign in again, accept a gated dataset's conditions, ask for access, or
//! simply retry (which [`HubError::retry_wait`] tells the backoff policy).

use prefab_core::backoff::{parse_retry_after_ms, RetryWait, Retryable};
use std::fmt;

/// A failed call to the Hub or datasets-server.
#[derive(Debug, Clone, PartialEq)]
pub struct HubError {
    /// What kind of failure.
    pub kind: HubErrorKind,
    /// The server's own words, or ours when it said nothing.
    pub message: String,
    /// The `Retry-After` header of a 429, in milliseconds.
    pub retry_after_ms: Option<f64>,
}

/// The kinds of failure.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HubErrorKind {
    /// 401: no token, or one that expired or was revoked: sign in again.
    SignInNeeded,
    /// 403: signed in, but this account may not do that (write to a repo, read a private one).
    NoAccess,
    /// The dataset is gated and this account has not accepted its conditions.
    Gated {
        /// Where to accept them.
        url: String,
    },
    /// No such repository, revision or file (or a private one this account cannot see).
    NotFound,
    /// datasets-server has no viewer for this dataset, so its rows cannot be read that way.
    ViewerDisabled,
    /// 409 or 412: the repository changed meanwhile (someone else committed).
    Conflict,
    /// 429: too many requests.
    RateLimited,
    /// 5xx.
    Server,
    /// 400, 413 or 422: the server refused the request itself.
    Refused,
    /// No answer the page may read: no network, the server down, or CORS.
    Unreachable,
    /// The answer was not what the Hub sends.
    BadResponse,
    /// The sign-in was refused or did not come back as sent (wrong `state`, an OAuth error).
    SignInFailed,
}

impl HubError {
    /// An error of this kind with this message.
    pub fn new(kind: HubErrorKind, message: impl Into<String>) -> HubError {
        HubError { kind, message: message.into(), retry_after_ms: None }
    }

    /// What an HTTP error answer means. `repo` names the repository asked
    /// about (for the gated link); `hub_url` is the Hub's address.
    pub fn from_response(status: u16, headers: &ErrorHeaders, body: &str, hub_url: &str, repo: Option<&str>) -> HubError {
        let code = headers.error_code.as_deref().unwrap_or_default();
        let message = headers
            .error_message
            .clone()
            .filter(|message| !message.trim().is_empty())
            .or_else(|| body_message(body))
            .unwrap_or_else(|| format!("HTTP {status}"));
        let lower = message.to_lowercase();
        let kind = if code.contains("Gated") || (status == 403 && lower.contains("gated")) {
            let url = match repo {
                Some(repo) => format!("{}/datasets/{repo}", hub_url.trim_end_matches('/')),
                None => hub_url.to_owned(),
            };
            HubErrorKind::Gated { url }
        } else if code.contains("ViewerDisabled") || code.contains("DisabledViewer") || lower.contains("viewer is disabled") {
            HubErrorKind::ViewerDisabled
        } else {
            match status {
                401 => HubErrorKind::SignInNeeded,
                403 => HubErrorKind::NoAccess,
                404 | 410 => HubErrorKind::NotFound,
                409 | 412 => HubErrorKind::Conflict,
                429 => HubErrorKind::RateLimited,
                400 | 413 | 422 => HubErrorKind::Refused,
                500..=599 => HubErrorKind::Server,
                _ => HubErrorKind::BadResponse,
            }
        };
        let retry_after_ms = headers.retry_after.as_deref().and_then(parse_retry_after_ms);
        HubError { kind, message, retry_after_ms }
    }

    /// Whether a person can fix this by signing in again.
    pub fn needs_sign_in(&self) -> bool {
        self.kind == HubErrorKind::SignInNeeded
    }
}

/// The error headers of an answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErrorHeaders {
    /// `X-Error-Code`.
    pub error_code: Option<String>,
    /// `X-Error-Message`.
    pub error_message: Option<String>,
    /// `Retry-After`.
    pub retry_after: Option<String>,
}

/// The message in `{"error": "…"}`, `{"error": {"message": "…"}}` or
/// `{"message": "…"}`; a short plain-text body as it is.
fn body_message(body: &str) -> Option<String> {
    let text = body.trim();
    if text.is_empty() {
        return None;
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) => {
            let field = |value: &serde_json::Value, key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_owned);
            field(&value, "error")
                .or_else(|| value.get("error").and_then(|error| field(error, "message")))
                .or_else(|| field(&value, "message"))
                .or_else(|| field(&value, "error_description"))
        }
        // An HTML error page from a proxy says nothing useful.
        Err(_) if text.starts_with('<') => None,
        Err(_) => Some(text.chars().take(300).collect()),
    }
}

impl Retryable for HubError {
    fn retry_wait(&self) -> RetryWait {
        match self.kind {
            HubErrorKind::RateLimited => self.retry_after_ms.map_or(RetryWait::Backoff, RetryWait::ServerSaid),
            HubErrorKind::Server | HubErrorKind::Unreachable => RetryWait::Backoff,
            _ => RetryWait::Never,
        }
    }
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let detail = &self.message;
        match &self.kind {
            HubErrorKind::SignInNeeded => {
                write!(f, "Your Hugging Face sign-in has expired or was revoked: sign in again (nothing was lost). ({detail})")
            }
            HubErrorKind::NoAccess => write!(f, "Your Hugging Face account is not allowed to do this: {detail}"),
            HubErrorKind::Gated { url } => {
                write!(f, "This dataset is gated: accept its conditions at {url} while signed in, then try again.")
            }
            HubErrorKind::NotFound => write!(f, "Not found on the Hub (it may not exist, or be private): {detail}"),
            HubErrorKind::ViewerDisabled => {
                write!(f, "This dataset has no dataset viewer, so its rows cannot be read through datasets-server: {detail}")
            }
            HubErrorKind::Conflict => write!(
                f,
                "The repository changed while you were publishing (someone else committed); nothing was overwritten. Try again to publish on top of it. ({detail})"
            ),
            HubErrorKind::RateLimited => write!(f, "The Hub says too many requests; wait a little and try again. ({detail})"),
            HubErrorKind::Server => write!(f, "The Hub had a server error; try again. ({detail})"),
            HubErrorKind::Refused => write!(f, "The Hub refused the request: {detail}"),
            HubErrorKind::Unreachable => write!(f, "The Hub could not be reached (no network, or the server is down): {detail}"),
            HubErrorKind::BadResponse => write!(f, "The Hub answered something unexpected: {detail}"),
            HubErrorKind::SignInFailed => write!(f, "Signing in with Hugging Face did not work: {detail}"),
        }
    }
}

impl std::error::Error for HubError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(code: Option<&str>, message: Option<&str>, retry_after: Option<&str>) -> ErrorHeaders {
        ErrorHeaders {
            error_code: code.map(str::to_owned),
            error_message: message.map(str::to_owned),
            retry_after: retry_after.map(str::to_owned),
        }
    }

    #[test]
    fn statuses_and_codes_become_kinds() {
        let hub = "https://huggingface.co";
        let kind = |status, code: Option<&str>, body: &str| HubError::from_response(status, &headers(code, None, None), body, hub, Some("a/b")).kind;
        assert_eq!(kind(401, None, r#"{"error":"Invalid credentials in Authorization header"}"#), HubErrorKind::SignInNeeded);
        assert_eq!(kind(403, None, r#"{"error":"You don't have the rights to create a dataset under this namespace"}"#), HubErrorKind::NoAccess);
        assert_eq!(
            kind(403, Some("GatedRepo"), r#"{"error":"Access to dataset a/b is restricted"}"#),
            HubErrorKind::Gated { url: "https://huggingface.co/datasets/a/b".into() }
        );
        assert_eq!(kind(404, Some("RepoNotFound"), ""), HubErrorKind::NotFound);
        assert_eq!(kind(501, Some("DatasetViewerDisabledError"), ""), HubErrorKind::ViewerDisabled);
        assert_eq!(kind(412, None, r#"{"error":"A commit has happened since. Please refresh and try again."}"#), HubErrorKind::Conflict);
        assert_eq!(kind(429, None, ""), HubErrorKind::RateLimited);
        assert_eq!(kind(502, None, "<html>Bad gateway</html>"), HubErrorKind::Server);
        assert_eq!(kind(422, None, ""), HubErrorKind::Refused);
    }

    #[test]
    fn the_servers_words_are_kept() {
        let error = HubError::from_response(404, &headers(Some("RepoNotFound"), Some("Repository Not Found for url"), None), "{}", "h", None);
        assert_eq!(error.message, "Repository Not Found for url");
        let error = HubError::from_response(500, &ErrorHeaders::default(), r#"{"error":{"message":"boom"}}"#, "h", None);
        assert_eq!(error.message, "boom");
        let error = HubError::from_response(500, &ErrorHeaders::default(), "<html>x</html>", "h", None);
        assert_eq!(error.message, "HTTP 500");
        assert!(error.to_string().contains("try again"));
    }

    #[test]
    fn only_transient_failures_are_retried() {
        let error = HubError::from_response(429, &headers(None, None, Some("2")), "", "h", None);
        assert_eq!(error.retry_wait(), RetryWait::ServerSaid(2000.0));
        assert_eq!(HubError::new(HubErrorKind::Server, "").retry_wait(), RetryWait::Backoff);
        assert_eq!(HubError::new(HubErrorKind::Unreachable, "").retry_wait(), RetryWait::Backoff);
        for kind in [HubErrorKind::SignInNeeded, HubErrorKind::Conflict, HubErrorKind::NotFound, HubErrorKind::NoAccess] {
            assert_eq!(HubError::new(kind, "").retry_wait(), RetryWait::Never);
        }
    }
}
