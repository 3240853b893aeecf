//! How to generate, and what a generation reports.
//!
//! [`GenerationParams`] are the sampling settings every backend understands;
//! they are kept with each generated row as provenance. A finished
//! [`Generation`] carries its text and [`GenerationStats`]: token counts,
//! speeds, and why it stopped.

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};

/// Sampling and stopping settings for one generation.
///
/// Missing fields take their defaults when read from JSON, so the page can
/// send only what the user changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerationParams {
    /// The most tokens to generate.
    pub max_new_tokens: usize,
    /// Softmax temperature; `0` picks the likeliest token every time
    /// (greedy), making the output deterministic.
    pub temperature: f64,
    /// Nucleus sampling: sample among the likeliest tokens whose
    /// probabilities add up to this; `1` turns it off.
    pub top_p: f64,
    /// Sample among this many likeliest tokens; `0` turns it off.
    pub top_k: usize,
    /// Divides the logits of recently seen tokens (multiplies negative ones)
    /// to discourage loops; `1` turns it off.
    pub repetition_penalty: f32,
    /// How many of the latest tokens the repetition penalty looks at.
    pub repeat_last_n: usize,
    /// Seeds the sampler, so a generation can be repeated exactly.
    pub seed: u64,
    /// Generation stops before any of these strings, which are not part of
    /// the output.
    pub stop: Vec<String>,
    /// Keep generating past the end-of-sequence token, up to
    /// `max_new_tokens`: for benchmarks, which need a fixed length.
    pub ignore_eos: bool,
    /// Start from the attention cache of a prompt the worker holds that
    /// begins the same way (the other samples of this prompt, say), reading
    /// only the rest: llama-server's `cache_prompt`. The output is the same
    /// either way; only the prefill's time differs. Benchmarks turn it off
    /// to time a whole prefill.
    pub cache_prompt: bool,
}

impl Default for GenerationParams {
    fn default() -> GenerationParams {
        GenerationParams {
            max_new_tokens: 512,
            temperature: 0.7,
            top_p: 0.9,
            top_k: 40,
            repetition_penalty: 1.1,
            repeat_last_n: 64,
            seed: 0,
            stop: Vec::new(),
            ignore_eos: false,
            cache_prompt: true,
        }
    }
}

impl GenerationParams {
    /// Settings for deterministic output: greedy, no repetition penalty.
    pub fn greedy(max_new_tokens: usize) -> GenerationParams {
        GenerationParams {
            max_new_tokens,
            temperature: 0.0,
            repetition_penalty: 1.0,
            ..GenerationParams::default()
        }
    }

    /// Checks every setting is in range.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |message: String| Err(Error::new(ErrorKind::InvalidParams(message)));
        if self.max_new_tokens == 0 {
            return invalid("max_new_tokens must be at least 1".into());
        }
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return invalid(format!(
                "temperature must be a number at least 0, got {}",
                self.temperature
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return invalid(format!("top_p must be in (0, 1], got {}", self.top_p));
        }
        if !(self.repetition_penalty.is_finite() && self.repetition_penalty > 0.0) {
            return invalid(format!(
                "repetition_penalty must be a number above 0, got {}",
                self.repetition_penalty
            ));
        }
        if self.stop.iter().any(String::is_empty) {
            return invalid("stop strings must not be empty".into());
        }
        Ok(())
    }
}

/// Why a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model produced its end-of-sequence or end-of-turn token.
    EndOfSequence,
    /// The output reached `max_new_tokens`.
    MaxTokens,
    /// The output reached one of the stop strings.
    StopString,
    /// The caller cancelled it.
    Cancelled,
    /// The prompt and output filled the model's context window.
    ContextFull,
}

/// Counts and speeds of one generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationStats {
    /// The prompt's length in tokens.
    pub prompt_tokens: usize,
    /// How many of them came from a cache of a prompt that began the same
    /// way, not read again (see [`GenerationParams::cache_prompt`]).
    #[serde(default)]
    pub cached_prompt_tokens: usize,
    /// How many tokens were generated, including any cut off by a stop
    /// string but not the end-of-sequence token.
    pub generated_tokens: usize,
    /// Seconds spent reading the prompt (the prefill pass): the tokens not
    /// cached.
    pub prefill_seconds: f64,
    /// Seconds spent generating after the prefill.
    pub decode_seconds: f64,
    /// Prompt tokens read per second (cached ones not counted); 0 when the
    /// clock did not move.
    pub prefill_tokens_per_second: f64,
    /// Tokens generated per second after the first; 0 when the clock did not
    /// move.
    pub decode_tokens_per_second: f64,
    /// Why the generation ended.
    pub stop_reason: StopReason,
}

/// A finished generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    /// The generated text, without the stop string or end-of-sequence token.
    pub text: String,
    /// Counts and speeds.
    pub stats: GenerationStats,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn missing_fields_take_their_defaults() {
        let params: GenerationParams =
            serde_json::from_str(r#"{"temperature":0,"stop":["\n\n"]}"#).unwrap();
        assert_eq!(params.temperature, 0.0);
        assert_eq!(params.stop, ["\n\n"]);
        assert_eq!(params.max_new_tokens, GenerationParams::default().max_new_tokens);
        params.validate().unwrap();
    }

    #[test]
    fn out_of_range_settings_are_invalid_params() {
        let cases = [
            GenerationParams { max_new_tokens: 0, ..Default::default() },
            GenerationParams { temperature: -0.5, ..Default::default() },
            GenerationParams { temperature: f64::NAN, ..Default::default() },
            GenerationParams { top_p: 0.0, ..Default::default() },
            GenerationParams { top_p: 1.5, ..Default::default() },
            GenerationParams { repetition_penalty: 0.0, ..Default::default() },
            GenerationParams { stop: vec![String::new()], ..Default::default() },
        ];
        for params in cases {
            let error = params.validate().unwrap_err();
            assert_eq!(error.code(), ErrorCode::InvalidParams, "{params:?}");
        }
    }
}
