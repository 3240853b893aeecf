//! The messages the page and the model worker exchange.
//!
//! The worker owns the model weights so that inference never blocks the UI
//! thread. Each request carries an id chosen by the page; every answer names
//! the id it answers, so several requests can be in flight at once and an
//! answer can never be mistaken for another's. Messages travel through
//! `postMessage` as JSON text: plain, debuggable in the browser's console, and
//! the same on both sides because both sides are this code.
//!
//! A conversation with the worker:
//!
//! ```text
//! page                                   worker
//! Load {id: 1, source: Url}        ──►
//!                                  ◄──   Progress {id: 1, stage: download, done, total} …
//!                                  ◄──   Progress {id: 1, stage: weights, done, total} …
//!                                  ◄──   Ready {id: 1, model}
//! Generate {id: 2, messages, params} ──►
//!                                  ◄──   Token {id: 2, text} …
//! Cancel {id: 2}                   ──►   (optional)
//!                                  ◄──   Done {id: 2, text, stats}
//! Score {id: 3, prompt, candidates} ──►
//!                                  ◄──   Scores {id: 3, probs}
//! ```
//!
//! Any request may instead end with `Failed {id, kind, message}`.
//!
//! Several `Generate` requests in flight decode together (up to
//! [`BATCH_SIZE`]), their `Token`s interleaved; a `Score` runs between two
//! tokens; a `Load` waits for the generations before it to end.

use serde::{Deserialize, Serialize};

use crate::chat::{ChatMessage, Prompt};
use crate::error::{Error, ErrorCode};
use crate::generation::{GenerationParams, GenerationStats};
use crate::model_info::{LoadOptions, LoadStage, ModelInfo};

/// How many generations the worker decodes together at most: the page keeps
/// this many `Generate` requests in flight to keep it busy (more wait their
/// turn, as they do while the batch's attention caches hold
/// [`crate::local::KV_BUDGET_BYTES`]). The matrix kernel multiplies 4 tokens
/// per weight block it loads and keeps a chunk of rows in L1 while the
/// next 4 pass; 8 rather than 4 made the pool job 1.45× faster
/// (`cargo xtask bench model`: 61.9 against 42.7 tokens/s on one worker),
/// as the per-step work besides the matrix products is shared by more
/// tokens.
pub const BATCH_SIZE: usize = 8;

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
    /// Load a model, replacing any loaded one. Answered by `Progress`
    /// messages, then `Ready`.
    Load {
        /// The request id the answers will carry.
        id: RequestId,
        /// Where the model file comes from.
        source: ModelSource,
        /// How to load it.
        #[serde(default)]
        options: LoadOptions,
    },
    /// Generate the assistant's answer to a conversation. Answered by
    /// `Token` messages, then `Done`.
    Generate {
        /// The request id the answers will carry.
        id: RequestId,
        /// The conversation, rendered with the model's chat template.
        messages: Vec<ChatMessage>,
        /// Sampling settings; missing fields take their defaults.
        #[serde(default)]
        params: GenerationParams,
    },
    /// Judge: the probability of each candidate (say "1" to "5") being the
    /// model's next token. Answered by `Scores`.
    Score {
        /// The request id the answer will carry.
        id: RequestId,
        /// What the model continues.
        prompt: Prompt,
        /// The candidate answers, each one token.
        candidates: Vec<String>,
    },
    /// Read a file a person brought (prompts, completions) into a table of
    /// its columns and rows, as `prefab_core::prompt_import::read_source`
    /// does: the `File` travels beside the JSON (`[json, file]`). Answered
    /// by `Reading` messages, then `Table`, or `Failed` (kind `import`)
    /// naming the file, line or row. The page runs it in a worker of its
    /// own, so a file that crashes the reader takes only that worker down.
    ReadTable {
        /// The request id the answers will carry.
        id: RequestId,
        /// The file's name (its format comes from it and the content).
        name: String,
    },
    /// Stop the generation with this id early; it ends with `Done` as
    /// usual, its stop reason `cancelled`. Nothing answers the cancel
    /// itself.
    Cancel {
        /// The id of the `Generate` request to stop.
        id: RequestId,
    },
}

impl WorkerRequest {
    /// The request's id (for `Cancel`, the id of the request to stop).
    pub fn id(&self) -> RequestId {
        match self {
            WorkerRequest::Ping { id }
            | WorkerRequest::Load { id, .. }
            | WorkerRequest::Generate { id, .. }
            | WorkerRequest::Score { id, .. }
            | WorkerRequest::ReadTable { id, .. }
            | WorkerRequest::Cancel { id } => *id,
        }
    }
}

/// Where a model file comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelSource {
    /// The worker downloads it (reporting `download` progress).
    Url {
        /// The file's address.
        url: String,
    },
    /// A file the person picked. It does not travel in the JSON text: the
    /// page posts the `File` in the same `postMessage` call, a handle the
    /// worker reads a tensor at a time, so the file is never copied whole.
    File {
        /// The file's name, for messages.
        name: String,
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
        /// The size of the worker's WebAssembly memory in bytes. Wasm
        /// memory grows and never shrinks, so this is also its peak.
        #[serde(default)]
        memory_bytes: u64,
    },
    /// A message could not be handled at all (unreadable, say); the worker
    /// keeps serving. A request that was understood but failed is answered
    /// with `Failed` instead, which says what kind of failure it was.
    Error {
        /// The id of the failed request, when it could be read.
        id: Option<RequestId>,
        /// What went wrong, for the person using the page.
        message: String,
    },
    /// How far a `Load` has come.
    Progress {
        /// The id of the `Load` request.
        id: RequestId,
        /// The current step.
        stage: LoadStage,
        /// Units of the step done (bytes for `download`, tensors for
        /// `weights`).
        done: u64,
        /// Units of the step in all, 0 when unknown.
        total: u64,
    },
    /// The model of a `Load` is ready for requests.
    Ready {
        /// The id of the `Load` request.
        id: RequestId,
        /// What the page shows about the model.
        model: ModelInfo,
    },
    /// A piece of generated text, in order; the pieces of one generation
    /// add up to its `Done` text.
    Token {
        /// The id of the `Generate` request.
        id: RequestId,
        /// The new text (whole characters, never part of a stop string).
        text: String,
    },
    /// A generation ended.
    Done {
        /// The id of the `Generate` request.
        id: RequestId,
        /// The whole generated text, without any stop string.
        text: String,
        /// Token counts, speeds, and why it stopped.
        stats: GenerationStats,
        /// The prompt as the model read it: the conversation after the
        /// model's chat template (what the DIBT format calls
        /// `generation_prompt`).
        #[serde(default)]
        prompt: String,
    },
    /// The answer to `Score`: one probability per candidate, in order.
    Scores {
        /// The id of the `Score` request.
        id: RequestId,
        /// The candidates' probabilities, each in [0, 1], summing to at most
        /// 1.
        probs: Vec<f64>,
    },
    /// How far the reading of a `ReadTable` file has come, in bytes.
    Reading {
        /// The id of the `ReadTable` request.
        id: RequestId,
        /// Bytes read.
        done: u64,
        /// The file's size.
        total: u64,
    },
    /// The table of a `ReadTable`, as `SourceTable::to_transfer`'s text.
    /// The text travels beside this message's JSON (`[json, text]`, not
    /// escaped into it: it can be hundreds of megabytes); the page puts it
    /// back in `table` ([`WorkerResponse::with_payload`]).
    Table {
        /// The id of the `ReadTable` request.
        id: RequestId,
        /// The table's transfer text.
        #[serde(skip)]
        table: String,
    },
    /// A request failed; the worker keeps serving.
    Failed {
        /// The id of the failed request.
        id: RequestId,
        /// What kind of failure, for the page to act on.
        kind: ErrorCode,
        /// What went wrong, for the person using the page.
        message: String,
    },
}

impl WorkerResponse {
    /// Puts the text that travelled beside the JSON back where it belongs
    /// (a `Table`'s); any other answer has none.
    pub fn with_payload(mut self, payload: Option<String>) -> WorkerResponse {
        if let (WorkerResponse::Table { table, .. }, Some(payload)) = (&mut self, payload) {
            *table = payload;
        }
        self
    }

    /// The text that travels beside the JSON, taken out (a `Table`'s).
    pub fn take_payload(&mut self) -> Option<String> {
        match self {
            WorkerResponse::Table { table, .. } => Some(std::mem::take(table)),
            _ => None,
        }
    }

    /// The answer to a request that failed with `error`.
    pub fn failed(id: RequestId, error: &Error) -> WorkerResponse {
        WorkerResponse::Failed { id, kind: error.code(), message: error.to_string() }
    }
}

/// The message a worker sends when it is ready for requests.
pub fn started() -> WorkerResponse {
    WorkerResponse::Started { version: prefab_core::VERSION.to_owned() }
}

/// The answer to a ping.
pub fn pong(id: RequestId, memory_bytes: u64) -> WorkerResponse {
    WorkerResponse::Pong { id, version: prefab_core::VERSION.to_owned(), memory_bytes }
}

/// The answer to a model request when no model is loaded.
pub fn no_model_loaded(id: RequestId) -> WorkerResponse {
    WorkerResponse::failed(id, &Error::new(crate::error::ErrorKind::NoModelLoaded))
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
        assert_eq!(request, WorkerRequest::Ping { id: 7 });
        assert_eq!(
            encode(&pong(request.id(), 65536)),
            format!(r#"{{"type":"Pong","id":7,"version":"{}","memory_bytes":65536}}"#, env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn messages_survive_a_round_trip_through_json() {
        let error = WorkerResponse::Error { id: None, message: "no model loaded".into() };
        assert_eq!(encode(&error), r#"{"type":"Error","id":null,"message":"no model loaded"}"#);
        assert_eq!(decode::<WorkerResponse>(&encode(&error)).unwrap(), error);
    }

    #[test]
    fn requests_read_from_the_json_the_page_writes() {
        let load: WorkerRequest = decode(
            r#"{"type":"Load","id":1,"source":{"kind":"url","url":"https://example.org/m.gguf"}}"#,
        )
        .unwrap();
        assert_eq!(
            load,
            WorkerRequest::Load {
                id: 1,
                source: ModelSource::Url { url: "https://example.org/m.gguf".into() },
                options: LoadOptions::default(),
            }
        );
        let generate: WorkerRequest = decode(
            r#"{"type":"Generate","id":2,"messages":[{"role":"user","content":"Hi"}],"params":{"temperature":0}}"#,
        )
        .unwrap();
        let WorkerRequest::Generate { id: 2, messages, params } = &generate else {
            panic!("not a generate request: {generate:?}");
        };
        assert_eq!(messages, &[ChatMessage::user("Hi")]);
        assert_eq!(params.temperature, 0.0);
        assert_eq!(params.max_new_tokens, GenerationParams::default().max_new_tokens);
        let cancel: WorkerRequest = decode(r#"{"type":"Cancel","id":2}"#).unwrap();
        assert_eq!(cancel.id(), 2);
    }

    #[test]
    fn every_new_message_survives_a_round_trip_through_json() {
        use crate::generation::StopReason;
        let requests = [
            WorkerRequest::Load {
                id: 1,
                source: ModelSource::File { name: "m.gguf".into() },
                options: LoadOptions {
                    requantize: false,
                    max_context: Some(2048),
                    file_name: None,
                },
            },
            WorkerRequest::Score {
                id: 3,
                prompt: Prompt::Chat {
                    messages: vec![ChatMessage::user("Rate: 2+2=4")],
                    answer_prefix: "Score: ".into(),
                },
                candidates: vec!["1".into(), "5".into()],
            },
            WorkerRequest::ReadTable { id: 4, name: "prompts.parquet".into() },
        ];
        for request in requests {
            assert_eq!(decode::<WorkerRequest>(&encode(&request)).unwrap(), request);
        }
        let responses = [
            WorkerResponse::Progress { id: 1, stage: LoadStage::Weights, done: 3, total: 272 },
            WorkerResponse::Token { id: 2, text: "Hel".into() },
            WorkerResponse::Done {
                id: 2,
                text: "Hello".into(),
                stats: GenerationStats {
                    prompt_tokens: 12,
                    cached_prompt_tokens: 0,
                    generated_tokens: 2,
                    prefill_seconds: 0.5,
                    decode_seconds: 0.25,
                    prefill_tokens_per_second: 24.0,
                    decode_tokens_per_second: 4.0,
                    stop_reason: StopReason::EndOfSequence,
                },
                prompt: "<|im_start|>user\nHi<|im_end|>\n".into(),
            },
            WorkerResponse::Scores { id: 3, probs: vec![0.25, 0.5] },
            WorkerResponse::Reading { id: 4, done: 8 << 20, total: 200_000_000 },
            WorkerResponse::Failed { id: 4, kind: ErrorCode::Import, message: "p.csv: line 3: …".into() },
        ];
        for response in responses {
            assert_eq!(decode::<WorkerResponse>(&encode(&response)).unwrap(), response);
        }
    }

    #[test]
    fn a_table_travels_beside_the_json_not_inside_it() {
        let table = "{\"rows\": [[\"a long text\"]]}".to_owned();
        let mut response = WorkerResponse::Table { id: 5, table: table.clone() };
        let payload = response.take_payload();
        assert_eq!(payload.as_deref(), Some(table.as_str()));
        let text = encode(&response);
        assert_eq!(text, r#"{"type":"Table","id":5}"#);
        let back = decode::<WorkerResponse>(&text).unwrap().with_payload(payload);
        assert_eq!(back, WorkerResponse::Table { id: 5, table });
        // Other answers have nothing beside them.
        let mut token = WorkerResponse::Token { id: 6, text: "x".into() };
        assert_eq!(token.take_payload(), None);
        assert_eq!(token.clone().with_payload(Some("ignored".into())), token);
    }

    #[test]
    fn a_failure_carries_its_kind_for_the_page() {
        let error = Error::new(crate::error::ErrorKind::PromptTooLong {
            prompt_tokens: 9000,
            context: 8192,
        });
        let text = encode(&WorkerResponse::failed(4, &error));
        assert!(
            text.starts_with(r#"{"type":"Failed","id":4,"kind":"prompt_too_long","message":"#),
            "{text}"
        );
    }

    #[test]
    fn without_a_model_requests_that_need_one_fail_with_no_model_loaded() {
        let WorkerResponse::Failed { id, kind, .. } = no_model_loaded(9) else {
            panic!("expected a failure");
        };
        assert_eq!((id, kind), (9, ErrorCode::NoModelLoaded));
    }

    #[test]
    fn an_unknown_request_is_an_error_that_says_so() {
        let error = decode::<WorkerRequest>(r#"{"type":"Dance","id":1}"#).unwrap_err();
        assert!(error.contains("unknown variant `Dance`"), "{error}");
    }
}
