//! The hosted-model client in headless Chromium, against llama.cpp's real
//! OpenAI-compatible server (llama-cpp-python) serving the test model, and
//! through a proxy that injects the failures hosted APIs have.
//! `cargo xtask test` starts both and compiles their addresses in.
#![cfg(target_arch = "wasm32")]

use prefab_llm::hosted::browser::{Cancel, HostedClient, StreamEvent};
use prefab_llm::hosted::endpoint::Endpoint;
use prefab_llm::hosted::errors::HostedErrorKind;
use prefab_llm::hosted::request::{ChatMessage, ChatRequest, SchemaDialect};
use prefab_llm::hosted::retry::RetryPolicy;
use serde_json::Value;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const MODEL: &str = "smollm2";

fn llama_url() -> &'static str {
    option_env!("PREFAB_LLAMA_URL").expect("PREFAB_LLAMA_URL is compiled in by `cargo xtask test`, which starts the server")
}

fn proxy_url() -> &'static str {
    option_env!("PREFAB_PROXY_URL").expect("PREFAB_PROXY_URL is compiled in by `cargo xtask test`, which starts the proxy")
}

/// A client for the real server, straight.
fn direct() -> HostedClient {
    HostedClient::new(Endpoint::Custom { base_url: format!("{}/v1", llama_url()), model: MODEL.into() }, None)
}

/// A client through the proxy, with the given fault scenario; `key` names the test.
fn through(scenario: &str, key: &str) -> HostedClient {
    let base_url = format!("{}/{scenario}/{key}/v1", proxy_url());
    HostedClient::new(Endpoint::Custom { base_url, model: MODEL.into() }, None)
        .with_policy(RetryPolicy { max_attempts: 3, base_delay_ms: 50.0, max_delay_ms: 5_000.0 })
}

/// What the proxy saw for one test.
async fn hits(key: &str) -> Value {
    let window = web_sys::window().unwrap();
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str(&format!("{}/hits/{key}", proxy_url())))
        .await
        .unwrap()
        .into();
    let text = JsFuture::from(response.text().unwrap()).await.unwrap().as_string().unwrap();
    serde_json::from_str(&text).unwrap()
}

fn haiku(max_tokens: u32) -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::user("Write a haiku about mountains.")],
        temperature: Some(0.0),
        seed: Some(1),
        max_tokens: Some(max_tokens),
        ..Default::default()
    }
}

#[wasm_bindgen_test]
async fn a_streamed_completion_arrives_token_by_token_and_equals_the_whole_one() {
    let mut tokens = Vec::new();
    let streamed = direct()
        .stream(&haiku(24), &Cancel::new(), |event| match event {
            StreamEvent::Token(text) => tokens.push(text.to_owned()),
            StreamEvent::Restart { reason, .. } => panic!("no restart expected: {reason}"),
        })
        .await
        .unwrap();
    assert!(tokens.len() > 3, "tokens: {tokens:?}");
    assert_eq!(tokens.concat(), streamed.text);
    assert!(!streamed.text.trim().is_empty());
    assert!(matches!(streamed.finish_reason.as_deref(), Some("stop" | "length")), "{:?}", streamed.finish_reason);

    // Greedy decoding: the non-streamed answer is the same text.
    let whole = direct().complete(&haiku(24), &Cancel::new()).await.unwrap();
    assert_eq!(whole.text, streamed.text);
    let usage = whole.usage.expect("llama.cpp reports token counts");
    assert!(usage.prompt_tokens > 5 && usage.completion_tokens > 0, "{usage:?}");
}

#[wasm_bindgen_test]
async fn cancel_stops_a_stream_in_the_middle() {
    let cancel = Cancel::new();
    let mut tokens = 0;
    let result = direct()
        .stream(&haiku(200), &cancel, |event| {
            if let StreamEvent::Token(_) = event {
                tokens += 1;
                if tokens == 2 {
                    cancel.cancel();
                }
            }
        })
        .await;
    assert_eq!(result.unwrap_err().kind, HostedErrorKind::Cancelled);
    assert!(tokens < 20, "the stream went on after cancel: {tokens} tokens");
}

#[wasm_bindgen_test]
async fn test_connection_lists_models_and_names_an_unknown_model() {
    assert_eq!(direct().test_connection().await.unwrap(), [MODEL]);

    let unknown = HostedClient::new(Endpoint::Custom { base_url: format!("{}/v1", llama_url()), model: "no-such-model".into() }, None);
    let error = unknown.test_connection().await.unwrap_err();
    assert_eq!(error.kind, HostedErrorKind::UnknownModel);
    assert!(error.to_string().contains("\"no-such-model\" is not among the 1 it serves (smollm2)"), "{error}");
}

#[wasm_bindgen_test]
async fn test_connection_names_both_causes_of_no_answer_and_the_origin_to_allow() {
    let origin = web_sys::window().unwrap().location().origin().unwrap();
    // Nothing listens on the discard port; the proxy's no-cors scenario answers without CORS headers.
    let nowhere = HostedClient::new(Endpoint::Custom { base_url: "http://127.0.0.1:9/v1".into(), model: MODEL.into() }, None);
    for (client, key) in [(nowhere, None), (through("no-cors", "no-cors"), Some("no-cors"))] {
        let error = client.test_connection().await.unwrap_err();
        assert_eq!(error.kind, HostedErrorKind::Unreachable, "{error}");
        let text = error.to_string();
        assert!(text.starts_with("no answer: the server is not running at that address, or it does not allow this page's origin (CORS): "), "{text}");
        assert!(text.ends_with(&format!("; if it is running, it must allow the origin {origin}")), "{text}");
        if let Some(key) = key {
            // The server did answer: the browser hid it from the page.
            assert_eq!(hits(key).await["count"], 1);
        }
    }
}

/// Streams through a fault scenario; returns the text and each restart's reason and wait.
async fn stream_through(scenario: &str, key: &str) -> (String, Vec<(HostedErrorKind, f64)>) {
    let mut waits = Vec::new();
    let completion = through(scenario, key)
        .stream(&haiku(8), &Cancel::new(), |event| {
            if let StreamEvent::Restart { reason, wait_ms } = event {
                waits.push((reason.kind, wait_ms));
            }
        })
        .await
        .unwrap();
    (completion.text, waits)
}

#[wasm_bindgen_test]
async fn a_rate_limit_is_waited_out_as_retry_after_says() {
    let (text, waits) = stream_through("rate-limit-once", "rate-limit").await;
    assert!(!text.is_empty());
    assert_eq!(waits, [(HostedErrorKind::RateLimited, 1000.0)]);
    assert_eq!(hits("rate-limit").await["count"], 2);
}

#[wasm_bindgen_test]
async fn a_loading_model_is_waited_for_as_estimated() {
    let (text, waits) = stream_through("loading-once", "loading").await;
    assert!(!text.is_empty());
    assert_eq!(waits, [(HostedErrorKind::ModelLoading, 500.0)]);
    assert_eq!(hits("loading").await["count"], 2);
}

#[wasm_bindgen_test]
async fn a_server_error_is_retried_and_a_lasting_one_given_up_after_the_last_attempt() {
    let recovered = through("error-500-once", "500-once").complete(&haiku(8), &Cancel::new()).await.unwrap();
    assert!(!recovered.text.is_empty());
    assert_eq!(hits("500-once").await["count"], 2);

    let error = through("error-500-always", "500-always").complete(&haiku(8), &Cancel::new()).await.unwrap_err();
    assert_eq!(error.kind, HostedErrorKind::Server);
    assert!(error.to_string().contains("Internal server error"), "{error}");
    assert_eq!(hits("500-always").await["count"], 3);
}

#[wasm_bindgen_test]
async fn a_stream_cut_midway_is_restarted_and_completes() {
    let mut text = String::new();
    let mut restarts = Vec::new();
    let completion = through("cut-once", "cut")
        .stream(&haiku(24), &Cancel::new(), |event| match event {
            StreamEvent::Token(token) => text.push_str(token),
            StreamEvent::Restart { reason, .. } => {
                restarts.push(reason.kind);
                text.clear();
            }
        })
        .await
        .unwrap();
    assert_eq!(restarts, [HostedErrorKind::StreamCut]);
    assert_eq!(text, completion.text);
    let reference = direct().complete(&haiku(24), &Cancel::new()).await.unwrap();
    assert_eq!(completion.text, reference.text);
}

#[wasm_bindgen_test]
async fn a_server_that_never_answers_times_out() {
    let silent = through("silent", "silent")
        .with_timeout_ms(1_000.0)
        .with_policy(RetryPolicy { max_attempts: 1, ..RetryPolicy::default() });
    let error = silent.complete(&haiku(8), &Cancel::new()).await.unwrap_err();
    assert_eq!(error.kind, HostedErrorKind::Timeout);
}

#[wasm_bindgen_test]
async fn a_refused_token_fails_at_once_and_the_token_and_headers_are_sent() {
    let client = HostedClient::new(
        Endpoint::Custom { base_url: format!("{}/unauthorized/auth/v1", proxy_url()), model: MODEL.into() },
        Some("hf_test_token".into()),
    )
    .with_header("X-Workshop", "prefab");
    let error = client.complete(&haiku(8), &Cancel::new()).await.unwrap_err();
    assert_eq!(error.kind, HostedErrorKind::Unauthorized);
    let seen = hits("auth").await;
    assert_eq!(seen["count"], 1, "a refused token is not retried");
    assert_eq!(seen["headers"]["authorization"], "Bearer hf_test_token");
    assert_eq!(seen["headers"]["x-workshop"], "prefab");
    // The token never shows in a debug print.
    assert!(!format!("{client:?}").contains("hf_test_token"));
}

#[wasm_bindgen_test]
async fn the_concurrency_limit_holds_requests_back() {
    for (limit, key) in [(1, "limit-1"), (3, "limit-3")] {
        let client = through("slow", key).with_concurrency(limit);
        let cancel = Cancel::new();
        let requests = (0..3).map(|_| client.list_models(&cancel));
        for models in futures::future::join_all(requests).await {
            assert_eq!(models.unwrap(), [MODEL]);
        }
        assert_eq!(hits(key).await["max_in_flight"], limit as u64, "limit {limit}");
    }
}

#[wasm_bindgen_test]
async fn structured_output_follows_the_schema_and_top_logprobs_come_back() {
    let schema = serde_json::json!({
        "type": "object",
        "properties": { "rating": { "type": "integer", "enum": [1, 2, 3, 4, 5] }, "rationale": { "type": "string" } },
        "required": ["rating", "rationale"]
    });
    let request = ChatRequest {
        messages: vec![ChatMessage::user("Rate this haiku from 1 to 5: 'Snow on the mountain'")],
        temperature: Some(0.0),
        max_tokens: Some(64),
        json_schema: Some(schema),
        schema_dialect: SchemaDialect::JsonObject,
        top_logprobs: Some(3),
        ..Default::default()
    };
    let completion = direct().complete(&request, &Cancel::new()).await.unwrap();
    let judged: Value = serde_json::from_str(&completion.text).unwrap_or_else(|error| panic!("not JSON ({error}): {}", completion.text));
    let rating = judged["rating"].as_i64().unwrap_or_else(|| panic!("no integer rating: {judged}"));
    assert!((1..=5).contains(&rating), "{judged}");
    assert!(judged["rationale"].is_string(), "{judged}");

    assert!(!completion.logprobs.is_empty(), "llama.cpp returns logprobs when asked");
    for step in &completion.logprobs {
        assert!(step.logprob <= 0.0 && step.logprob.is_finite(), "{step:?}");
        // The 3 asked for, most likely first; llama-cpp-python appends the
        // generated token when the schema's grammar forced one outside them.
        assert!(step.top.len() == 3 || (step.top.len() == 4 && step.top[3].0 == step.token), "{step:?}");
        assert!(step.top[..3].windows(2).all(|pair| pair[0].1 >= pair[1].1), "most likely first: {step:?}");
    }
}
