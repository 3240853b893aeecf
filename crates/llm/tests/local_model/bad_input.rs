// Every kind of bad input gets its typed error, never a panic.

use std::ops::ControlFlow;

use prefab_llm::{ChatMessage, Engine, Error, ErrorCode, ErrorKind, GenerationParams, LoadOptions};

use crate::common::{engine, model_bytes, no_clock, patched, string_entry};

fn load_error(bytes: &[u8]) -> Error {
    let options = LoadOptions { file_name: Some("model.gguf".into()), ..LoadOptions::default() };
    let error = Engine::load(bytes, &options, |_| {}).expect_err("loading must fail");
    assert_eq!(error.file(), Some("model.gguf"));
    assert!(error.to_string().starts_with("model.gguf: "), "{error}");
    error
}

#[test]
fn a_file_cut_short_is_truncated_and_says_how_long_it_should_be() {
    let bytes = model_bytes();
    let error = load_error(&bytes[..bytes.len() / 2]);
    assert_eq!(
        error.kind(),
        &ErrorKind::Truncated { len: bytes.len() as u64 / 2, needed: Some(bytes.len() as u64) }
    );
    assert!(error.to_string().contains("download it again"), "{error}");
    // Cut inside the metadata, the header itself is incomplete.
    for cut in [3, 20, 1000, 100_000] {
        let error = load_error(&bytes[..cut]);
        assert_eq!(error.code(), ErrorCode::Truncated, "cut at {cut}: {error}");
    }
}

#[test]
fn bytes_that_are_not_gguf_are_refused() {
    let html = b"<!DOCTYPE html><html><body>Not found</body></html>";
    let error = load_error(html);
    assert_eq!(error.kind(), &ErrorKind::NotGguf { found: b"<!DO".to_vec() });
    assert_eq!(load_error(&[]).code(), ErrorCode::NotGguf);
}

#[test]
fn an_unknown_architecture_is_unsupported() {
    let bytes = patched(
        &string_entry("general.architecture", "llama"),
        &string_entry("general.architecture", "gemma"),
    );
    let error = load_error(&bytes);
    assert_eq!(error.kind(), &ErrorKind::UnsupportedArchitecture("gemma".into()));
}

#[test]
fn missing_tokenizer_metadata_is_named() {
    for key in ["tokenizer.ggml.merges", "tokenizer.ggml.tokens", "tokenizer.ggml.model"] {
        // Renaming the key's last letter hides it and keeps the layout.
        let mut hidden = key.as_bytes().to_vec();
        *hidden.last_mut().unwrap() = b'_';
        let error = load_error(&patched(key.as_bytes(), &hidden));
        assert_eq!(error.kind(), &ErrorKind::MissingMetadata(key.into()), "{error}");
    }
}

#[test]
fn a_sentencepiece_tokenizer_is_unsupported() {
    let bytes = patched(
        &string_entry("tokenizer.ggml.model", "gpt2"),
        &string_entry("tokenizer.ggml.model", "t5x_"),
    );
    let error = load_error(&bytes);
    assert_eq!(error.code(), ErrorCode::UnsupportedTokenizer);
    assert!(error.to_string().contains("t5x_"), "{error}");
}

#[test]
fn a_missing_weight_tensor_is_named() {
    let bytes = patched(b"blk.7.ffn_up.weight", b"blk.7.ffn_up.weighx");
    let error = load_error(&bytes);
    assert_eq!(error.kind(), &ErrorKind::MissingTensor("blk.7.ffn_up.weight".into()));
}

#[test]
fn a_prompt_longer_than_the_context_is_refused() {
    let mut engine = engine();
    let long = ChatMessage::user("mountain ".repeat(9000));
    let error = engine
        .generate_chat(std::slice::from_ref(&long), &GenerationParams::greedy(4), &no_clock, |_| {
            ControlFlow::Continue(())
        })
        .unwrap_err();
    let ErrorKind::PromptTooLong { prompt_tokens, context } = *error.kind() else {
        panic!("expected PromptTooLong, got {error}");
    };
    assert_eq!(context, 8192);
    assert!(prompt_tokens > 9000, "{prompt_tokens}");
    let prompt = engine.render_chat(&[long], true).unwrap();
    let error = engine.score(&prompt, &["1".into()]).unwrap_err();
    assert_eq!(error.code(), ErrorCode::PromptTooLong);
}

#[test]
fn invalid_generation_parameters_are_refused_before_any_work() {
    let engine = engine();
    let params = GenerationParams { top_p: 1.5, ..GenerationParams::default() };
    let error =
        engine
            .generate_chat(&[ChatMessage::user("Hi")], &params, &no_clock, |_| {
                ControlFlow::Continue(())
            })
            .unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidParams);
    let error = engine
        .generate("", &GenerationParams::greedy(4), &no_clock, |_| ControlFlow::Continue(()))
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidParams, "an empty prompt: {error}");
}
