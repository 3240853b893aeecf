//! Reading what a chat-completions server answers: stream chunks, whole
//! completions, and the `/models` list.

use super::errors::{ErrorBody, HostedError, HostedErrorKind};
use super::sse::SseEvent;
use serde_json::Value;

/// Token counts, when the server reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Tokens in the rendered prompt.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
}

/// The log-probabilities at one generated token.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenLogprobs {
    /// The token generated.
    pub token: String,
    /// Its log-probability.
    pub logprob: f64,
    /// The most likely tokens at this step with theirs, most likely first.
    pub top: Vec<(String, f64)>,
}

/// What one stream event carried.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    /// More of the completion.
    Delta {
        /// New text (may be empty: role-only or usage-only chunks).
        text: String,
        /// Why generation stopped, on the last chunk.
        finish_reason: Option<String>,
        /// Token counts, usually on the last chunk.
        usage: Option<Usage>,
        /// Log-probabilities of the new tokens, when asked for.
        logprobs: Vec<TokenLogprobs>,
    },
    /// `data: [DONE]`: the stream ended as it should.
    Done,
}

/// A whole (not streamed) completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The generated text.
    pub text: String,
    /// Why generation stopped (`stop`, `length`, …).
    pub finish_reason: Option<String>,
    /// Token counts.
    pub usage: Option<Usage>,
    /// The model that answered, as the server names it.
    pub model: Option<String>,
    /// Log-probabilities, when asked for.
    pub logprobs: Vec<TokenLogprobs>,
}

fn bad(message: impl Into<String>) -> HostedError {
    HostedError::new(HostedErrorKind::BadResponse, message)
}

/// Reads one server-sent event of a chat-completions stream.
pub fn parse_stream_event(event: &SseEvent) -> Result<StreamItem, HostedError> {
    let data = event.data.trim();
    if data == "[DONE]" {
        return Ok(StreamItem::Done);
    }
    let json: Value = serde_json::from_str(data).map_err(|error| bad(format!("a stream chunk is not JSON ({error}): {data}")))?;
    // Errors can come mid-stream, as an `error` event or an `error` field.
    if event.event == "error" || json.get("error").is_some() {
        let body = ErrorBody::parse(data);
        let kind = if body.message.to_lowercase().contains("loading") { HostedErrorKind::ModelLoading } else { HostedErrorKind::Server };
        return Err(HostedError::new(kind, body.message));
    }
    let choice = &json["choices"][0];
    Ok(StreamItem::Delta {
        text: choice["delta"]["content"].as_str().unwrap_or_default().to_owned(),
        finish_reason: choice["finish_reason"].as_str().map(str::to_owned),
        usage: parse_usage(&json["usage"]),
        logprobs: parse_logprobs(&choice["logprobs"]),
    })
}

/// Reads a whole chat completion.
pub fn parse_completion(body: &str) -> Result<Completion, HostedError> {
    let json: Value = serde_json::from_str(body).map_err(|error| bad(format!("the answer is not JSON ({error})")))?;
    let choice = json["choices"].get(0).ok_or_else(|| bad("the answer has no choices"))?;
    let text = choice["message"]["content"].as_str().ok_or_else(|| bad("the answer's first choice has no message content"))?;
    Ok(Completion {
        text: text.to_owned(),
        finish_reason: choice["finish_reason"].as_str().map(str::to_owned),
        usage: parse_usage(&json["usage"]),
        model: json["model"].as_str().map(str::to_owned),
        logprobs: parse_logprobs(&choice["logprobs"]),
    })
}

/// Reads `GET /models`: the ids of the models the server serves.
pub fn parse_model_list(body: &str) -> Result<Vec<String>, HostedError> {
    let json: Value = serde_json::from_str(body).map_err(|error| bad(format!("the model list is not JSON ({error})")))?;
    let models = json["data"].as_array().ok_or_else(|| bad("the model list has no `data` array"))?;
    Ok(models.iter().filter_map(|model| model["id"].as_str().map(str::to_owned)).collect())
}

fn parse_usage(usage: &Value) -> Option<Usage> {
    Some(Usage {
        prompt_tokens: usage["prompt_tokens"].as_u64()?,
        completion_tokens: usage["completion_tokens"].as_u64()?,
    })
}

fn parse_logprobs(logprobs: &Value) -> Vec<TokenLogprobs> {
    let Some(content) = logprobs["content"].as_array() else { return Vec::new() };
    content
        .iter()
        .filter_map(|step| {
            let top = step["top_logprobs"].as_array().map(|top| {
                top.iter().filter_map(|alt| Some((alt["token"].as_str()?.to_owned(), alt["logprob"].as_f64()?))).collect()
            });
            Some(TokenLogprobs { token: step["token"].as_str()?.to_owned(), logprob: step["logprob"].as_f64()?, top: top.unwrap_or_default() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(data: &str) -> SseEvent {
        SseEvent { event: String::new(), data: data.to_owned() }
    }

    #[test]
    fn stream_chunks_give_text_finish_reason_and_usage() {
        let first = r#"{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"Snow"},"finish_reason":null}]}"#;
        let last = r#"{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":16,"completion_tokens":9,"total_tokens":25}}"#;
        assert_eq!(
            parse_stream_event(&event(first)).unwrap(),
            StreamItem::Delta { text: "Snow".into(), finish_reason: None, usage: None, logprobs: vec![] }
        );
        assert_eq!(
            parse_stream_event(&event(last)).unwrap(),
            StreamItem::Delta {
                text: String::new(),
                finish_reason: Some("stop".into()),
                usage: Some(Usage { prompt_tokens: 16, completion_tokens: 9 }),
                logprobs: vec![]
            }
        );
        assert_eq!(parse_stream_event(&event("[DONE]")).unwrap(), StreamItem::Done);
    }

    #[test]
    fn an_error_in_the_middle_of_a_stream_is_an_error() {
        let error = parse_stream_event(&event(r#"{"error":{"message":"CUDA out of memory"}}"#)).unwrap_err();
        assert_eq!((error.kind, error.message.as_str()), (HostedErrorKind::Server, "CUDA out of memory"));
        let error = parse_stream_event(&event("not json")).unwrap_err();
        assert_eq!(error.kind, HostedErrorKind::BadResponse);
    }

    #[test]
    fn whole_completions_with_logprobs() {
        let body = r#"{"model":"smollm2","choices":[{"index":0,"message":{"role":"assistant","content":"4"},"finish_reason":"length",
            "logprobs":{"content":[{"token":"4","logprob":-0.1,"top_logprobs":[{"token":"4","logprob":-0.1},{"token":"5","logprob":-2.5}]}]}}],
            "usage":{"prompt_tokens":30,"completion_tokens":1}}"#;
        let completion = parse_completion(body).unwrap();
        assert_eq!(completion.text, "4");
        assert_eq!(completion.finish_reason.as_deref(), Some("length"));
        assert_eq!(completion.model.as_deref(), Some("smollm2"));
        assert_eq!(completion.usage, Some(Usage { prompt_tokens: 30, completion_tokens: 1 }));
        assert_eq!(completion.logprobs[0].top, [("4".to_owned(), -0.1), ("5".to_owned(), -2.5)]);
    }

    #[test]
    fn answers_of_the_wrong_shape_are_bad_responses() {
        for body in ["", "{}", r#"{"choices":[]}"#, r#"{"choices":[{"message":{}}]}"#] {
            assert_eq!(parse_completion(body).unwrap_err().kind, HostedErrorKind::BadResponse, "{body}");
        }
    }

    #[test]
    fn model_lists() {
        let body = r#"{"object":"list","data":[{"id":"smollm2","object":"model"},{"id":"qwen"}]}"#;
        assert_eq!(parse_model_list(body).unwrap(), ["smollm2", "qwen"]);
        assert_eq!(parse_model_list("[]").unwrap_err().kind, HostedErrorKind::BadResponse);
    }
}
