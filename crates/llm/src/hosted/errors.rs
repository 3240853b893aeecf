//! What went wrong with a hosted model, in words a person can act on.
//!
//! Servers answer errors in several shapes: OpenAI's `{"error": {"message"}}`,
//! the Hugging Face `{"error": "…", "estimated_time": 20.0}` while a model
//! loads, TGI's `{"error", "error_type"}`, or a proxy's plain text or HTML.
//! They are read into one [`HostedError`] whose kind says what to do next.

use serde_json::Value;
use std::fmt;

/// A failed call to a hosted model.
#[derive(Debug, Clone, PartialEq)]
pub struct HostedError {
    /// What kind of failure, which decides whether a retry can help.
    pub kind: HostedErrorKind,
    /// The server's own words, or ours when it said nothing.
    pub message: String,
}

/// The kinds of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostedErrorKind {
    /// No answer the page may read: a wrong URL, the server down, no network,
    /// or a server that does not allow this page's origin (CORS) — a page
    /// cannot tell these apart.
    Unreachable,
    /// 401/403: a missing, wrong or under-scoped token.
    Unauthorized,
    /// The server does not serve a model of that name.
    UnknownModel,
    /// 429: too many requests.
    RateLimited,
    /// 503 while the model loads (Hugging Face's `estimated_time`).
    ModelLoading,
    /// Any other 5xx.
    Server,
    /// 400/422: the server refused the request itself.
    BadRequest,
    /// No answer within the time allowed.
    Timeout,
    /// The answer was not what an OpenAI-compatible server sends.
    BadResponse,
    /// The stream stopped before it said it was done.
    StreamCut,
    /// Cancelled by the person.
    Cancelled,
}

impl HostedError {
    /// An error of this kind with this message.
    pub fn new(kind: HostedErrorKind, message: impl Into<String>) -> HostedError {
        HostedError { kind, message: message.into() }
    }

    /// The error an HTTP status and its body mean.
    pub fn from_status(status: u16, body: &str) -> HostedError {
        let parsed = ErrorBody::parse(body);
        let kind = match status {
            401 | 403 => HostedErrorKind::Unauthorized,
            404 => HostedErrorKind::UnknownModel,
            408 => HostedErrorKind::Timeout,
            429 => HostedErrorKind::RateLimited,
            503 if parsed.estimated_time.is_some() || parsed.message.to_lowercase().contains("loading") => {
                HostedErrorKind::ModelLoading
            }
            500..=599 => HostedErrorKind::Server,
            _ => HostedErrorKind::BadRequest,
        };
        HostedError::new(kind, format!("HTTP {status}: {}", parsed.message))
    }
}

impl fmt::Display for HostedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let advice = match self.kind {
            HostedErrorKind::Unreachable => {
                "no answer: the server is not running at that address, or it does not allow this page's origin (CORS)"
            }
            HostedErrorKind::Unauthorized => "the token was refused (check it, and that it may call this endpoint)",
            HostedErrorKind::UnknownModel => "the server does not serve this model",
            HostedErrorKind::RateLimited => "too many requests (rate limited)",
            HostedErrorKind::ModelLoading => "the model is still loading",
            HostedErrorKind::Server => "the server failed",
            HostedErrorKind::BadRequest => "the server refused the request",
            HostedErrorKind::Timeout => "no answer in time",
            HostedErrorKind::BadResponse => "the answer was not an OpenAI-compatible one",
            HostedErrorKind::StreamCut => "the stream was cut before it finished",
            HostedErrorKind::Cancelled => "cancelled",
        };
        if self.message.is_empty() { write!(f, "{advice}") } else { write!(f, "{advice}: {}", self.message) }
    }
}

impl std::error::Error for HostedError {}

/// What an error body says, whatever its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorBody {
    /// The message, or the start of the raw text.
    pub message: String,
    /// Seconds until a loading model is ready (Hugging Face).
    pub estimated_time: Option<f64>,
}

impl ErrorBody {
    /// Reads any of the shapes servers use; never fails.
    pub fn parse(body: &str) -> ErrorBody {
        let Ok(json) = serde_json::from_str::<Value>(body) else {
            return ErrorBody { message: first_chars(body.trim(), 300), estimated_time: None };
        };
        let message = match &json["error"] {
            Value::String(text) => text.clone(),
            Value::Object(error) => error.get("message").and_then(Value::as_str).unwrap_or_default().to_owned(),
            _ => json["detail"].as_str().or(json["message"].as_str()).unwrap_or_default().to_owned(),
        };
        let message = if message.is_empty() { first_chars(body.trim(), 300) } else { message };
        ErrorBody { message, estimated_time: json["estimated_time"].as_f64() }
    }
}

fn first_chars(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_error_objects_give_their_message() {
        let body = r#"{"error":{"message":"Invalid API key","type":"invalid_request_error","code":"invalid_api_key"}}"#;
        let error = HostedError::from_status(401, body);
        assert_eq!(error.kind, HostedErrorKind::Unauthorized);
        assert_eq!(error.to_string(), "the token was refused (check it, and that it may call this endpoint): HTTP 401: Invalid API key");
    }

    #[test]
    fn a_loading_model_on_the_hub_says_how_long_to_wait() {
        let body = r#"{"error":"Model HuggingFaceTB/SmolLM2-1.7B-Instruct is currently loading","estimated_time":20.5}"#;
        assert_eq!(ErrorBody::parse(body).estimated_time, Some(20.5));
        assert_eq!(HostedError::from_status(503, body).kind, HostedErrorKind::ModelLoading);
        // A 503 that is not about loading is a plain server failure.
        assert_eq!(HostedError::from_status(503, "Service Unavailable").kind, HostedErrorKind::Server);
    }

    #[test]
    fn tgi_llama_cpp_and_fastapi_shapes_are_read() {
        assert_eq!(ErrorBody::parse(r#"{"error":"Input validation error","error_type":"validation"}"#).message, "Input validation error");
        assert_eq!(
            ErrorBody::parse(r#"{"error":{"code":404,"message":"model not found","type":"not_found_error"}}"#).message,
            "model not found"
        );
        assert_eq!(ErrorBody::parse(r#"{"detail":"Not Found"}"#).message, "Not Found");
    }

    #[test]
    fn plain_text_and_html_bodies_are_kept_short() {
        let html = format!("<html><body>{}</body></html>", "x".repeat(1000));
        let parsed = ErrorBody::parse(&html);
        assert_eq!(parsed.message.chars().count(), 301);
        assert!(parsed.message.ends_with('…'));
        assert_eq!(HostedError::from_status(502, &html).kind, HostedErrorKind::Server);
    }

    #[test]
    fn statuses_map_to_kinds() {
        let kind = |status| HostedError::from_status(status, "").kind;
        assert_eq!(kind(403), HostedErrorKind::Unauthorized);
        assert_eq!(kind(404), HostedErrorKind::UnknownModel);
        assert_eq!(kind(408), HostedErrorKind::Timeout);
        assert_eq!(kind(422), HostedErrorKind::BadRequest);
        assert_eq!(kind(429), HostedErrorKind::RateLimited);
        assert_eq!(kind(500), HostedErrorKind::Server);
    }
}
