// Generating text: determinism, stop conditions, cancelling, stats.

use std::cell::Cell;
use std::ops::ControlFlow;

use prefab_llm::{ChatMessage, GenerationParams, LoadOptions, StopReason};

use crate::common::{engine, load, no_clock};

fn haiku() -> Vec<ChatMessage> {
    vec![ChatMessage::user("Write a haiku about mountains.")]
}

/// Greedy settings that always run to `max_new_tokens`.
fn fixed_length(max_new_tokens: usize) -> GenerationParams {
    GenerationParams { ignore_eos: true, ..GenerationParams::greedy(max_new_tokens) }
}

#[test]
fn greedy_generation_is_deterministic_and_streams_its_text() {
    let engine = engine();
    let params = GenerationParams::greedy(16);
    let mut pieces = Vec::new();
    let first = engine
        .generate_chat(&haiku(), &params, &no_clock, |piece| {
            pieces.push(piece.to_owned());
            ControlFlow::Continue(())
        })
        .unwrap();
    let second =
        engine.generate_chat(&haiku(), &params, &no_clock, |_| ControlFlow::Continue(())).unwrap();
    assert!(!first.text.trim().is_empty(), "{first:?}");
    assert_eq!(first.text, second.text);
    assert_eq!(pieces.concat(), first.text);
    assert!(first.stats.generated_tokens <= 16);
    let prompt = engine.render_chat(&haiku(), true).unwrap();
    assert_eq!(first.stats.prompt_tokens, engine.tokenize(&prompt).unwrap().len());
}

#[test]
fn max_new_tokens_is_honoured() {
    let engine = engine();
    let generation = engine
        .generate_chat(&haiku(), &fixed_length(5), &no_clock, |_| ControlFlow::Continue(()))
        .unwrap();
    assert_eq!(generation.stats.generated_tokens, 5);
    assert_eq!(generation.stats.stop_reason, StopReason::MaxTokens);
}

#[test]
fn a_stop_string_ends_the_generation_before_it() {
    let engine = engine();
    let full = engine
        .generate_chat(&haiku(), &fixed_length(16), &no_clock, |_| ControlFlow::Continue(()))
        .unwrap();
    // Stop at a piece from the middle of what the model writes anyway.
    let words: Vec<&str> = full.text.split_whitespace().collect();
    assert!(words.len() >= 4, "too little text to pick a stop string from: {:?}", full.text);
    let stop = format!(" {}", words[2]);
    let expected = &full.text[..full.text.find(&stop).unwrap()];

    let params = GenerationParams { stop: vec![stop.clone()], ..fixed_length(16) };
    let mut pieces = Vec::new();
    let stopped = engine
        .generate_chat(&haiku(), &params, &no_clock, |piece| {
            pieces.push(piece.to_owned());
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(stopped.text, expected);
    assert_eq!(stopped.stats.stop_reason, StopReason::StopString);
    assert!(stopped.stats.generated_tokens < full.stats.generated_tokens);
    assert_eq!(pieces.concat(), expected, "no part of the stop string is streamed");
}

#[test]
fn the_callback_can_cancel_mid_generation() {
    let engine = engine();
    let mut received = Vec::new();
    let generation = engine
        .generate_chat(&haiku(), &fixed_length(32), &no_clock, |piece| {
            received.push(piece.to_owned());
            if received.len() == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(generation.stats.stop_reason, StopReason::Cancelled);
    assert_eq!(received.len(), 3);
    assert!((3..32).contains(&generation.stats.generated_tokens), "{:?}", generation.stats);
    assert!(generation.text.starts_with(&received.concat()));
}

#[test]
fn a_generator_yields_one_token_per_step() {
    let engine = engine();
    let prompt = engine.render_chat(&haiku(), true).unwrap();
    let mut generator = engine.start(&prompt, &fixed_length(32), &no_clock).unwrap();
    let mut pieces = String::new();
    for step in 1..=4 {
        pieces.push_str(&generator.step().unwrap().expect("still generating"));
        assert_eq!(generator.generated_tokens(), step);
    }
    let generation = generator.finish();
    assert_eq!(generation.stats.stop_reason, StopReason::Cancelled);
    assert_eq!(generation.stats.generated_tokens, 4);
    assert!(generation.text.starts_with(&pieces));
}

#[test]
fn sampling_with_the_same_seed_repeats_itself() {
    let engine = engine();
    let params = GenerationParams {
        temperature: 0.9,
        top_k: 50,
        top_p: 0.95,
        seed: 1234,
        max_new_tokens: 12,
        ..GenerationParams::default()
    };
    let run = || {
        engine
            .generate_chat(&haiku(), &params, &no_clock, |_| ControlFlow::Continue(()))
            .unwrap()
            .text
    };
    let first = run();
    assert!(!first.is_empty());
    assert_eq!(first, run());
}

#[test]
fn a_full_context_window_ends_the_generation() {
    let prompt_tokens = {
        let engine = engine();
        let prompt = engine.render_chat(&haiku(), true).unwrap();
        engine.tokenize(&prompt).unwrap().len()
    };
    let small =
        load(LoadOptions { max_context: Some(prompt_tokens + 2), ..LoadOptions::default() });
    assert_eq!(small.info().context_length, prompt_tokens + 2);
    let generation = small
        .generate_chat(&haiku(), &fixed_length(32), &no_clock, |_| ControlFlow::Continue(()))
        .unwrap();
    assert_eq!(generation.stats.stop_reason, StopReason::ContextFull);
    // Two tokens fill the window; the third comes from the last logits.
    assert_eq!(generation.stats.generated_tokens, 3);
}

#[test]
fn speeds_are_measured_with_the_injected_clock() {
    let engine = engine();
    // A clock that advances one second per reading: start, end of prefill,
    // end of generation.
    let ticks = Cell::new(0.0);
    let clock = || {
        let now = ticks.get();
        ticks.set(now + 1.0);
        now
    };
    let generation = engine
        .generate_chat(&haiku(), &fixed_length(4), &clock, |_| ControlFlow::Continue(()))
        .unwrap();
    let stats = generation.stats;
    assert_eq!((stats.prefill_seconds, stats.decode_seconds), (1.0, 1.0));
    assert_eq!(stats.prefill_tokens_per_second, stats.prompt_tokens as f64);
    // Four tokens take three forward passes after the prefill: the last
    // token is never fed back.
    assert_eq!(stats.decode_tokens_per_second, 3.0);
}
