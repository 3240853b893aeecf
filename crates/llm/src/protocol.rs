//! The messages the page and the model worker exchange.
//!
//! The worker owns the model weights so that inference never blocks the UI
//! thread. Each request carries an id chosen by the page; every answer names
//! the id it answers, so several requests can be in flight at once and an
//! answer can never be mistaken for another's. Messages travel through
//! `postMessage` as JSON text: plain, debuggable in the browser's console, and
//! the same on both sides because both sides are this code.

use serde::{Deserialize, Serialize};

/// A request id, chosen by the page and unique among its requests in flight.
pub type RequestId = u64;

/// What the page asks of the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum WorkerRequest {
    /// Is the worker alive, and which version is it?
    Ping {
        /// The request id the answer will carry.
        id: RequestId,
    },
}

/// What the worker tells the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum WorkerResponse {
    /// Sent once, unasked, when the worker is ready for requests.
    Started {
        /// The worker's version, which must equal the page's.
        version: String,
    },
    /// The answer to [`WorkerRequest::Ping`].
    Pong {
        /// The id of the ping.
        id: RequestId,
        /// The worker's version, which must equal the page's.
        version: String,
    },
    /// A request failed; the worker keeps serving.
    Error {
        /// The id of the failed request, when it could be read.
        id: Option<RequestId>,
        /// What went wrong, for the person using the page.
        message: String,
    },
}

/// The message a worker sends when it is ready for requests.
pub fn started() -> WorkerResponse {
    WorkerResponse::Started { version: prefab_core::VERSION.to_owned() }
}

/// The worker's answer to one request: pure, so it is tested natively.
pub fn answer(request: &WorkerRequest) -> WorkerResponse {
    match request {
        WorkerRequest::Ping { id } => WorkerResponse::Pong {
            id: *id,
            version: prefab_core::VERSION.to_owned(),
        },
    }
}

/// Reads a message of either direction from its JSON text.
pub fn decode<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|error| format!("unreadable worker message: {error}"))
}

/// Writes a message of either direction as JSON text.
pub fn encode<T: Serialize>(message: &T) -> String {
    // Serializing these enums cannot fail: they hold only strings and numbers.
    serde_json::to_string(message).expect("worker messages always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_is_answered_with_the_crate_version_and_the_same_id() {
        let request: WorkerRequest = decode(r#"{"type":"Ping","id":7}"#).unwrap();
        assert_eq!(
            answer(&request),
            WorkerResponse::Pong { id: 7, version: env!("CARGO_PKG_VERSION").to_owned() }
        );
    }

    #[test]
    fn messages_survive_a_round_trip_through_json() {
        let error = WorkerResponse::Error { id: None, message: "no model loaded".into() };
        assert_eq!(encode(&error), r#"{"type":"Error","id":null,"message":"no model loaded"}"#);
        assert_eq!(decode::<WorkerResponse>(&encode(&error)).unwrap(), error);
    }

    #[test]
    fn an_unknown_request_is_an_error_that_says_so() {
        let error = decode::<WorkerRequest>(r#"{"type":"Dance","id":1}"#).unwrap_err();
        assert!(error.contains("unknown variant `Dance`"), "{error}");
    }
}
