//! Language models for Prefab.
//!
//! A model pool mixes a small quantized model running in the page's Web
//! Worker with bigger hosted models. This crate holds what they share — chat
//! messages, generation parameters and stats, errors — the typed protocol the
//! page and the model worker speak, and (with the default `local` feature)
//! the local engine itself: GGUF loading, tokenizer, chat template, sampling
//! and the judge's next-token probabilities, on candle. [`hosted`] is the client
//! for OpenAI-compatible APIs.

#![deny(missing_docs)]

pub mod address;
pub mod chat;
pub mod error;
pub mod file_bytes;
pub mod generation;
pub mod hosted;
#[cfg(feature = "local")]
pub mod local;
pub mod model_check;
pub mod model_id;
pub mod model_info;
#[cfg(target_arch = "wasm32")]
pub mod model_file;
pub mod protocol;

pub use chat::{ChatMessage, Prompt, Role};
pub use error::{Error, ErrorCode, ErrorKind};
pub use file_bytes::FileBytes;
pub use generation::{Generation, GenerationParams, GenerationStats, StopReason};
#[cfg(feature = "local")]
pub use local::{Batch, BatchEvent, Clock, Engine, Generator, KV_BUDGET_BYTES};
pub use model_info::{LoadOptions, LoadProgress, LoadStage, ModelInfo};
