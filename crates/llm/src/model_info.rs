//! Loading a local model: the options, the progress reports, and what the
//! page learns about the model once it is ready.
//!
//! These are plain data so that the worker protocol can carry them and the
//! page can show them without compiling the engine itself.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How to load a GGUF model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadOptions {
    /// Re-quantize weights of types that have no fast kernel in WebAssembly
    /// (Q4_1, Q5_0, Q5_1, Q3_K, Q5_K, Q6_K…) to Q8_0 at load. Decoding gets
    /// several times faster for about 1.7× the memory of those weights; see
    /// the engine's `gguf` module.
    pub requantize: bool,
    /// Caps the context window below the model's own, to bound the memory
    /// the attention cache may grow to.
    pub max_context: Option<usize>,
    /// The file's name, used in error messages and as the model's name when
    /// its metadata has none.
    pub file_name: Option<String>,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions { requantize: true, max_context: None, file_name: None }
    }
}

/// A step of loading a model, reported with [`LoadProgress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadStage {
    /// Fetching the file; counted in bytes.
    Download,
    /// Reading the file from the browser's cache instead; counted in bytes.
    Cache,
    /// Reading (and re-quantizing) weight tensors; counted in tensors.
    Weights,
    /// Building the tokenizer from the file's vocabulary; counted in steps.
    Tokenizer,
}

/// How far loading has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadProgress {
    /// The current step.
    pub stage: LoadStage,
    /// Units of the step done so far.
    pub done: u64,
    /// Units of the step in all, 0 when unknown.
    pub total: u64,
}

/// The most engine workers the page runs a model in, whatever the cores.
pub const MAX_ENGINES: usize = 4;

/// The weights the page's engine workers may hold together (each worker has
/// its own copy): a laptop's browser tab has a few GiB to give.
pub const ENGINES_WEIGHTS_BUDGET: u64 = 1 << 30;

/// How many engine workers to run a model of `weights_bytes` in, given the
/// `cores` the browser reports (`navigator.hardwareConcurrency`): one per
/// core, at most [`MAX_ENGINES`], and no more copies of the weights than fit
/// in [`ENGINES_WEIGHTS_BUDGET`]; always at least one.
pub fn engine_count(weights_bytes: u64, cores: usize) -> usize {
    let fit = ENGINES_WEIGHTS_BUDGET / weights_bytes.max(1);
    cores.min(MAX_ENGINES).min(usize::try_from(fit).unwrap_or(usize::MAX)).max(1)
}

/// What the page knows about a loaded model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The model's name from its metadata, else the file's name.
    pub name: String,
    /// The GGUF architecture, e.g. `llama`.
    pub architecture: String,
    /// How many weights the model has.
    pub parameters: u64,
    /// The context window in tokens the engine will allow.
    pub context_length: usize,
    /// How many tokens the vocabulary holds.
    pub vocab_size: usize,
    /// The file's size in bytes.
    pub file_bytes: u64,
    /// The bytes the weights take in memory once loaded, after any
    /// re-quantization.
    pub weights_bytes: u64,
    /// How many tensors of each type the file holds, e.g. `{"Q4_1": 210}`.
    pub file_tensor_types: BTreeMap<String, usize>,
    /// How many tensors were re-quantized to Q8_0 at load.
    pub requantized_tensors: usize,
    /// Whether the chat template came from the file (`true`) or is the
    /// built-in ChatML fallback (`false`).
    pub chat_template_from_file: bool,
    /// The Hub repo the file's metadata names
    /// (`general.source.huggingface.repository`), read as a repo id
    /// (`owner/name`, see [`crate::model_id::hub_repo_of_metadata`]) when the
    /// file was loaded, when it does: the
    /// generations' model id (see [`crate::model_id`]).
    #[serde(default)]
    pub hub_repository: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_gets_an_engine_per_core_within_the_cap_and_the_memory_budget() {
        let small = 151 << 20; // SmolLM2-135M as the engine holds it
        assert_eq!(engine_count(small, 2), 2);
        assert_eq!(engine_count(small, 16), MAX_ENGINES);
        assert_eq!(engine_count(small, 0), 1, "a browser that reports no cores still gets one");
        let large = 700 << 20; // two copies would not fit in the budget
        assert_eq!(engine_count(large, 8), 1);
        assert_eq!(engine_count(3 << 30, 8), 1, "a model larger than the budget still runs once");
        assert_eq!(engine_count(300 << 20, 8), 3);
    }
}
