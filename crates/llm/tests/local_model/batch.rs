// Batched decoding: generations run together give what each gives alone.

use std::ops::ControlFlow;

use prefab_llm::{Batch, BatchEvent, ChatMessage, Engine, Generation, GenerationParams, StopReason};

use crate::common::{engine, no_clock};

fn question(text: &str) -> String {
    format!("<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n")
}

/// Runs `requests` in one batch, all started before the first step, and
/// returns each one's streamed text and generation, in order.
fn run_batch(engine: &Engine, requests: &[(String, GenerationParams)]) -> Vec<(String, Generation)> {
    let mut batch = Batch::new();
    for (key, (prompt, params)) in requests.iter().enumerate() {
        batch.start(engine, key, prompt, params, &no_clock).unwrap();
    }
    let mut streamed = vec![String::new(); requests.len()];
    let mut done: Vec<Option<Generation>> = vec![None; requests.len()];
    while !batch.is_empty() {
        for (key, event) in batch.step(engine, &no_clock).unwrap() {
            match event {
                BatchEvent::Text(text) => streamed[key].push_str(&text),
                BatchEvent::Done(generation) => done[key] = Some(generation),
            }
        }
    }
    streamed.into_iter().zip(done).map(|(text, generation)| (text, generation.expect("every request ends"))).collect()
}

fn alone(engine: &Engine, prompt: &str, params: &GenerationParams) -> Generation {
    engine.generate(prompt, params, &no_clock, |_| ControlFlow::Continue(())).unwrap()
}

#[test]
fn each_generation_of_a_batch_is_what_it_is_alone() {
    let engine = engine();
    let mountains = question("Write a haiku about mountains.");
    // A stop string from the middle of what the model writes greedily.
    let greedy = alone(&engine, &mountains, &GenerationParams::greedy(20));
    let words: Vec<&str> = greedy.text.split_whitespace().collect();
    assert!(words.len() >= 4, "too little text to pick a stop string from: {greedy:?}");
    let stop = format!(" {}", words[2]);
    let sampled = |seed| GenerationParams { seed, temperature: 0.9, max_new_tokens: 24, ..GenerationParams::default() };
    let requests = vec![
        // Four samples of one prompt (the pool's case): they share its
        // prefill, and differ by seed, length and stop strings.
        (mountains.clone(), GenerationParams::greedy(20)),
        (mountains.clone(), sampled(1)),
        (mountains.clone(), sampled(2)),
        (mountains.clone(), GenerationParams { stop: vec![stop], ..GenerationParams::greedy(32) }),
        // Another prompt, in the same passes.
        (question("What is the capital of France?"), GenerationParams::greedy(12)),
    ];
    let together = run_batch(&engine, &requests);
    for ((prompt, params), (streamed, batched)) in requests.iter().zip(&together) {
        let single = alone(&engine, prompt, params);
        assert_eq!(batched.text, single.text, "{params:?}");
        assert_eq!(streamed, &batched.text, "the streamed pieces add up to the text");
        assert_eq!(batched.stats.generated_tokens, single.stats.generated_tokens);
        assert_eq!(batched.stats.stop_reason, single.stats.stop_reason);
        assert_eq!(batched.stats.prompt_tokens, single.stats.prompt_tokens);
    }
    assert_ne!(together[1].1.text, together[2].1.text, "two seeds, two samples");
    // The first sample read the prompt; the others started from its cache
    // and read only its last token (which gives the logits).
    let prompt_tokens = together[0].1.stats.prompt_tokens;
    let cached: Vec<usize> = together.iter().map(|(_, generation)| generation.stats.cached_prompt_tokens).collect();
    assert_eq!(cached[..4], [0, prompt_tokens - 1, prompt_tokens - 1, prompt_tokens - 1]);
    // The other prompt shares the chat template's opening with them.
    assert!(cached[4] > 0 && cached[4] < together[4].1.stats.prompt_tokens, "{cached:?}");

    // Without `cache_prompt` every prompt is read whole, to the same text.
    let uncached: Vec<_> = requests
        .iter()
        .map(|(prompt, params)| (prompt.clone(), GenerationParams { cache_prompt: false, ..params.clone() }))
        .collect();
    for ((_, whole), (_, cached)) in run_batch(&engine, &uncached).iter().zip(&together) {
        assert_eq!(whole.stats.cached_prompt_tokens, 0);
        assert_eq!(whole.text, cached.text);
    }
    assert_eq!(together[3].1.stats.stop_reason, StopReason::StopString, "{:?}", together[3].1);
}

#[test]
fn a_generation_can_join_and_leave_a_running_batch() {
    let engine = engine();
    let params = GenerationParams { ignore_eos: true, ..GenerationParams::greedy(10) };
    let first = question("Name three rivers.");
    let second = question("Name three rivers in Asia.");
    let mut batch = Batch::new();
    batch.start(&engine, "first", &first, &params, &no_clock).unwrap();
    batch.start(&engine, "cancelled", &first, &params, &no_clock).unwrap();
    let mut texts = std::collections::HashMap::<&str, String>::new();
    let mut done = std::collections::HashMap::new();
    let mut record = |events: Vec<(&'static str, BatchEvent)>, texts: &mut std::collections::HashMap<&str, String>| {
        for (key, event) in events {
            match event {
                BatchEvent::Text(text) => texts.entry(key).or_default().push_str(&text),
                BatchEvent::Done(generation) => drop(done.insert(key, generation)),
            }
        }
    };
    for _ in 0..3 {
        record(batch.step(&engine, &no_clock).unwrap(), &mut texts);
    }
    // A prompt that shares the first one's beginning joins mid-way.
    let before = batch.cache_bytes();
    assert!(before > 0);
    batch.start(&engine, "second", &second, &params, &no_clock).unwrap();
    assert!(batch.cache_bytes() > before, "the worker counts every running cache against its budget");
    let cancelled = batch.cancel(&"cancelled", &no_clock).expect("it was running");
    assert!(batch.cancel(&"cancelled", &no_clock).is_none(), "it left the batch");
    while !batch.is_empty() {
        record(batch.step(&engine, &no_clock).unwrap(), &mut texts);
    }
    assert_eq!(batch.cache_bytes(), 0, "ended sequences' caches are kept aside, not counted as running");
    let first_alone = alone(&engine, &first, &params);
    assert_eq!(done["first"].text, first_alone.text);
    assert_eq!(done["second"].text, alone(&engine, &second, &params).text);
    assert_eq!(cancelled.stats.stop_reason, StopReason::Cancelled);
    assert_eq!(cancelled.stats.generated_tokens, 3);
    assert!(first_alone.text.starts_with(&cancelled.text), "{cancelled:?}");
    assert_eq!(texts["cancelled"], cancelled.text);
}

#[test]
fn a_batch_refuses_a_prompt_beyond_the_context_and_goes_on() {
    let engine = engine();
    let mut batch = Batch::new();
    let params = GenerationParams::greedy(4);
    let prompt = question("Hello");
    batch.start(&engine, 1, &prompt, &params, &no_clock).unwrap();
    let long = engine.render_chat(&[ChatMessage::user("word ".repeat(10_000))], true).unwrap();
    let error = batch.start(&engine, 2, &long, &params, &no_clock).unwrap_err();
    assert!(error.to_string().contains("context"), "{error}");
    assert_eq!(batch.len(), 1);
    let mut generated = None;
    while !batch.is_empty() {
        for (_, event) in batch.step(&engine, &no_clock).unwrap() {
            if let BatchEvent::Done(generation) = event {
                generated = Some(generation);
            }
        }
    }
    assert_eq!(generated.unwrap().text, alone(&engine, &prompt, &params).text);
}
