//! Measures the local engine natively: load time, prefill speed on a
//! ~300-token prompt, and decode speed over 64 tokens, with and without
//! re-quantizing slow weight types to Q8_0.
//!
//! ```text
//! cargo run --release -p prefab-llm --example bench_native [model.gguf]
//! ```
//!
//! The model defaults to `$PREFAB_TEST_MODEL`, else the file `cargo xtask`
//! fetches into `~/.cache/prefab/models/`.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use prefab_llm::{ChatMessage, Engine, GenerationParams, LoadOptions};

const DEFAULT_MODEL: &str = ".cache/prefab/models/SmolLM2-135M-Instruct.Q4_1.gguf";

fn model_path() -> PathBuf {
    if let Some(path) = std::env::args_os().nth(1) {
        return PathBuf::from(path);
    }
    if let Some(path) = std::env::var_os("PREFAB_TEST_MODEL") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    PathBuf::from(home).join(DEFAULT_MODEL)
}

/// A user message of about 300 tokens once templated.
fn long_conversation() -> Vec<ChatMessage> {
    let paragraph = "Mountains form where tectonic plates collide and the crust folds, \
        lifts and breaks. Over millions of years rivers and glaciers carve valleys into them, \
        frost splits their rocks, and wind carries the dust away. ";
    vec![ChatMessage::user(format!(
        "{}Summarize the text above in one sentence.",
        paragraph.repeat(7)
    ))]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = model_path();
    let bytes = std::fs::read(&path).map_err(|error| {
        format!("cannot read {}: {error} (`cargo xtask test` fetches it)", path.display())
    })?;
    println!("model: {} ({} bytes)", path.display(), bytes.len());
    let origin = Instant::now();
    let clock = move || origin.elapsed().as_secs_f64();
    for requantize in [false, true] {
        let options = LoadOptions { requantize, ..LoadOptions::default() };
        let started = Instant::now();
        let engine = Engine::load(&bytes, &options, |_| {})?;
        let load_seconds = started.elapsed().as_secs_f64();
        let info = engine.info().clone();
        let prompt = engine.render_chat(&long_conversation(), true)?;
        let params = GenerationParams { ignore_eos: true, ..GenerationParams::greedy(64) };
        let generation =
            engine.generate(&prompt, &params, &clock, |_| ControlFlow::Continue(()))?;
        let stats = generation.stats;
        println!(
            "requantize={requantize:<5}  load {load_seconds:.2} s  weights {:.1} MB \
             ({} tensors to Q8_0)  prefill {:.1} tok/s ({} tokens)  decode {:.1} tok/s ({} tokens)",
            info.weights_bytes as f64 / 1e6,
            info.requantized_tensors,
            stats.prefill_tokens_per_second,
            stats.prompt_tokens,
            stats.decode_tokens_per_second,
            stats.generated_tokens,
        );
    }
    Ok(())
}
