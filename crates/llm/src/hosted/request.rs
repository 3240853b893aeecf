//! The body of `POST {base}/chat/completions`.

use serde::Serialize;
use serde_json::{json, Value};

pub use crate::chat::ChatMessage;

/// How a server wants a JSON schema for structured output: servers differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
pub enum SchemaDialect {
    /// `{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}`:
    /// OpenAI, vLLM, the Hugging Face router, llama.cpp's own server.
    #[default]
    OpenAi,
    /// `{"type": "json_object", "schema": …}`: llama-cpp-python's server.
    JsonObject,
}

/// What to ask a hosted model, in OpenAI's vocabulary.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    /// The model name the server expects.
    pub model: String,
    /// The conversation, system prompt first.
    pub messages: Vec<ChatMessage>,
    /// Sampling temperature; `None` leaves the server's default.
    pub temperature: Option<f32>,
    /// Nucleus sampling.
    pub top_p: Option<f32>,
    /// The most tokens to generate.
    pub max_tokens: Option<u32>,
    /// For reproducible sampling, where the server supports it.
    pub seed: Option<u64>,
    /// Strings that end the completion.
    pub stop: Vec<String>,
    /// Stream tokens as server-sent events.
    pub stream: bool,
    /// Ask for output that matches this JSON schema (structured output).
    pub json_schema: Option<Value>,
    /// How this server wants the schema written.
    pub schema_dialect: SchemaDialect,
    /// Ask for the log-probabilities of this many most likely tokens at each step.
    pub top_logprobs: Option<u8>,
}

impl ChatRequest {
    /// The JSON body. Fields left unset are left out, so servers that reject
    /// unknown or null fields (some do) see only what was asked for.
    pub fn to_json(&self) -> Value {
        let mut body = json!({ "model": self.model, "messages": self.messages, "stream": self.stream });
        let fields = body.as_object_mut().expect("a JSON object");
        if let Some(temperature) = self.temperature {
            fields.insert("temperature".into(), json!(temperature));
        }
        if let Some(top_p) = self.top_p {
            fields.insert("top_p".into(), json!(top_p));
        }
        if let Some(max_tokens) = self.max_tokens {
            fields.insert("max_tokens".into(), json!(max_tokens));
        }
        if let Some(seed) = self.seed {
            fields.insert("seed".into(), json!(seed));
        }
        if !self.stop.is_empty() {
            fields.insert("stop".into(), json!(self.stop));
        }
        if let Some(schema) = &self.json_schema {
            let format = match self.schema_dialect {
                SchemaDialect::OpenAi => json!({ "type": "json_schema", "json_schema": { "name": "output", "schema": schema, "strict": true } }),
                SchemaDialect::JsonObject => json!({ "type": "json_object", "schema": schema }),
            };
            fields.insert("response_format".into(), format);
        }
        if let Some(top) = self.top_logprobs {
            fields.insert("logprobs".into(), json!(true));
            fields.insert("top_logprobs".into(), json!(top));
        }
        if self.stream {
            // Token counts arrive in the last chunk (OpenAI, vLLM, TGI honour this).
            fields.insert("stream_options".into(), json!({ "include_usage": true }));
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(text: &str) -> ChatMessage {
        ChatMessage::user(text)
    }

    #[test]
    fn only_what_was_asked_for_is_sent() {
        let request = ChatRequest { model: "m".into(), messages: vec![user("hi")], ..Default::default() };
        assert_eq!(
            request.to_json(),
            json!({ "model": "m", "messages": [{ "role": "user", "content": "hi" }], "stream": false })
        );
    }

    #[test]
    fn every_sampling_parameter_has_its_openai_name() {
        let request = ChatRequest {
            model: "m".into(),
            messages: vec![user("hi")],
            temperature: Some(0.5),
            top_p: Some(0.9),
            max_tokens: Some(64),
            seed: Some(7),
            stop: vec!["\n\n".into()],
            stream: true,
            json_schema: Some(json!({ "type": "object" })),
            schema_dialect: SchemaDialect::OpenAi,
            top_logprobs: Some(5),
        };
        let body = request.to_json();
        assert_eq!(body["temperature"], json!(0.5));
        assert_eq!(body["top_p"], json!(0.9_f32));
        assert_eq!(body["max_tokens"], json!(64));
        assert_eq!(body["seed"], json!(7));
        assert_eq!(body["stop"], json!(["\n\n"]));
        assert_eq!(body["stream"], json!(true));
        assert_eq!(body["stream_options"], json!({ "include_usage": true }));
        assert_eq!(body["response_format"]["type"], json!("json_schema"));
        assert_eq!(body["response_format"]["json_schema"]["schema"], json!({ "type": "object" }));
        assert_eq!((body["logprobs"].clone(), body["top_logprobs"].clone()), (json!(true), json!(5)));

        let llama_cpp_python = ChatRequest { schema_dialect: SchemaDialect::JsonObject, ..request };
        assert_eq!(llama_cpp_python.to_json()["response_format"], json!({ "type": "json_object", "schema": { "type": "object" } }));
    }
}
