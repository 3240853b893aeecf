//! Where a hosted model lives: the endpoint presets people pick from.

use serde::{Deserialize, Serialize};

/// The Hugging Face router's OpenAI-compatible base URL.
pub const HF_ROUTER: &str = "https://router.huggingface.co/v1";

/// An endpoint as a person configures it in Settings.
///
/// The token is deliberately not part of it: endpoints are saved, tokens are
/// kept in memory or sessionStorage only, never in storage that outlives the
/// tab, URLs, logs or exports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Endpoint {
    /// The Hugging Face router: one URL, many providers, the model id chooses.
    HfRouter {
        /// A Hub model id, optionally with a provider suffix (`org/model:provider`).
        model: String,
    },
    /// A dedicated Inference Endpoint (TGI or vLLM behind it).
    InferenceEndpoint {
        /// The endpoint's URL as the Hub shows it.
        url: String,
    },
    /// Any other OpenAI-compatible server: vLLM, Ollama, llama.cpp, TGI.
    Custom {
        /// The base URL the API paths hang from, usually ending in `/v1`.
        base_url: String,
        /// The model name the server expects.
        model: String,
    },
}

impl Endpoint {
    /// The base URL that `/chat/completions` and `/models` hang from.
    pub fn base_url(&self) -> String {
        match self {
            Endpoint::HfRouter { .. } => HF_ROUTER.to_owned(),
            Endpoint::InferenceEndpoint { url } => {
                let url = url.trim().trim_end_matches('/');
                // Inference Endpoints serve the OpenAI API under /v1.
                if url.ends_with("/v1") { url.to_owned() } else { format!("{url}/v1") }
            }
            Endpoint::Custom { base_url, .. } => base_url.trim().trim_end_matches('/').to_owned(),
        }
    }

    /// The model name sent in each request.
    pub fn model(&self) -> &str {
        match self {
            Endpoint::HfRouter { model } | Endpoint::Custom { model, .. } => model.trim(),
            // A dedicated endpoint serves one model; TGI accepts this name for it.
            Endpoint::InferenceEndpoint { .. } => "tgi",
        }
    }

    /// `{base}/chat/completions`.
    pub fn chat_completions_url(&self) -> String {
        format!("{}/chat/completions", self.base_url())
    }

    /// `{base}/models`, which "test connection" lists.
    pub fn models_url(&self) -> String {
        format!("{}/models", self.base_url())
    }

    /// Checks what a person typed before anything is sent.
    pub fn validate(&self) -> Result<(), String> {
        let base = self.base_url();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(format!("{base:?} is not an http:// or https:// URL"));
        }
        if base.contains('?') || base.contains('#') {
            return Err(format!("{base:?}: the base URL takes no query or fragment (and never a token)"));
        }
        if self.model().is_empty() {
            return Err("a model name is needed".to_owned());
        }
        Ok(())
    }

    /// A short name for the model pool and for provenance (`generation_model`).
    pub fn label(&self) -> String {
        match self {
            Endpoint::HfRouter { model } => model.trim().to_owned(),
            Endpoint::InferenceEndpoint { url } => url.trim().trim_end_matches('/').to_owned(),
            Endpoint::Custom { base_url, model } => format!("{} @ {}", model.trim(), base_url.trim()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_give_the_urls_their_servers_serve() {
        let router = Endpoint::HfRouter { model: "meta-llama/Llama-3.1-8B-Instruct:cerebras".into() };
        assert_eq!(router.chat_completions_url(), "https://router.huggingface.co/v1/chat/completions");
        assert_eq!(router.model(), "meta-llama/Llama-3.1-8B-Instruct:cerebras");

        let dedicated = Endpoint::InferenceEndpoint { url: "https://abc.us-east-1.aws.endpoints.huggingface.cloud/".into() };
        assert_eq!(dedicated.models_url(), "https://abc.us-east-1.aws.endpoints.huggingface.cloud/v1/models");
        assert_eq!(dedicated.model(), "tgi");

        let ollama = Endpoint::Custom { base_url: " http://127.0.0.1:11434/v1/ ".into(), model: "smollm2:135m".into() };
        assert_eq!(ollama.chat_completions_url(), "http://127.0.0.1:11434/v1/chat/completions");
    }

    #[test]
    fn bad_endpoints_are_refused_before_anything_is_sent() {
        let no_scheme = Endpoint::Custom { base_url: "localhost:8000/v1".into(), model: "m".into() };
        assert!(no_scheme.validate().unwrap_err().contains("not an http"));
        let with_query = Endpoint::Custom { base_url: "https://x/v1?token=hf_x".into(), model: "m".into() };
        assert!(with_query.validate().unwrap_err().contains("never a token"));
        let no_model = Endpoint::HfRouter { model: "  ".into() };
        assert_eq!(no_model.validate().unwrap_err(), "a model name is needed");
    }
}
