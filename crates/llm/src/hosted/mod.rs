//! Hosted models: any OpenAI-compatible chat-completions API.
//!
//! The Hugging Face router, Inference Endpoints, TGI, vLLM, Ollama and
//! llama.cpp's server all speak `POST {base}/chat/completions`, streamed over
//! server-sent events. Everything here but [`browser`] is pure protocol logic
//! — building requests, parsing the event stream and error bodies, deciding
//! whether and when to retry — so it is tested natively; [`browser`] is the
//! thin `fetch` transport around it.

pub mod endpoint;
pub mod errors;
pub mod request;
pub mod response;
pub mod retry;
pub mod sse;

#[cfg(target_arch = "wasm32")]
pub mod browser;
