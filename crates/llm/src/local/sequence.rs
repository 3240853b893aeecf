//! One generation's state: its tokens, its attention cache, how it samples
//! and when it stops.
//!
//! A [`Sequence`] does not run the model itself. Each step it picks a token
//! from the logits it holds ([`Sequence::pick`]); the caller then reads that
//! token through the model, alone ([`super::Generator`]) or in one pass with
//! other sequences' tokens ([`super::Batch`]), and hands back the logits
//! ([`Sequence::read`]). So one sequence behaves exactly the same whether it
//! runs alone or beside others: same sampler, same stop rules, same stats.

use super::model::Cache;
use super::sampling::Sampler;
use super::text_stream::TextStream;
use super::tokenizer::Tokenizer;
use super::Clock;
use crate::generation::{Generation, GenerationParams, GenerationStats, StopReason};

/// What a step of a sequence did.
#[derive(Debug)]
pub(crate) enum Step {
    /// It picked `token`, which must now be read through the model; `piece`
    /// is the text that became final.
    Read { token: u32, piece: String },
    /// It ended; `piece` is the last of its text.
    Ended { piece: String },
}

/// A generation under way.
#[derive(Debug)]
pub(crate) struct Sequence {
    sampler: Sampler,
    stream: TextStream,
    max_new_tokens: usize,
    ignore_eos: bool,
    prompt_tokens: usize,
    /// How many of the prompt's tokens the prefill read: fewer than all
    /// when the cache began as a copy of another sequence's.
    prompt_read: usize,
    /// Prompt and generated tokens.
    history: Vec<u32>,
    /// The keys and values of the tokens read so far.
    pub(crate) cache: Cache,
    /// The logits for the next token.
    logits: Vec<f32>,
    generated: usize,
    decode_forwards: usize,
    started: f64,
    prefilled: f64,
    ended: Option<f64>,
    stop_reason: Option<StopReason>,
}

impl Sequence {
    /// A sequence whose prompt `history` is in `cache` (its last
    /// `prompt_read` tokens read just now), with `logits` the model's output
    /// after it; `started` and `prefilled` are the clock's readings before
    /// and after that read.
    pub(crate) fn new(
        params: &GenerationParams,
        history: Vec<u32>,
        prompt_read: usize,
        cache: Cache,
        logits: Vec<f32>,
        started: f64,
        prefilled: f64,
    ) -> Sequence {
        Sequence {
            sampler: Sampler::new(params),
            stream: TextStream::new(&params.stop),
            max_new_tokens: params.max_new_tokens,
            ignore_eos: params.ignore_eos,
            prompt_tokens: history.len(),
            prompt_read,
            history,
            cache,
            logits,
            generated: 0,
            decode_forwards: 0,
            started,
            prefilled,
            ended: None,
            stop_reason: None,
        }
    }

    /// The tokens the cache holds, in order.
    pub(crate) fn cached_tokens(&self) -> &[u32] {
        &self.history[..self.cache.len().min(self.history.len())]
    }

    /// Picks the next token, or ends the sequence (its end-of-sequence
    /// token, a stop string, its length, or a full `context`). `None` once
    /// it has ended.
    pub(crate) fn pick(&mut self, tokenizer: &Tokenizer, context: usize, clock: &dyn Clock) -> Option<Step> {
        if self.stop_reason.is_some() {
            return None;
        }
        let token = self.sampler.sample(&mut self.logits, &self.history);
        if tokenizer.is_stop(token) && !self.ignore_eos {
            return Some(self.end(String::new(), StopReason::EndOfSequence, clock));
        }
        self.generated += 1;
        self.history.push(token);
        let piece = self.stream.push(&tokenizer.token_bytes(token));
        let reason = if self.stream.stopped() {
            Some(StopReason::StopString)
        } else if self.generated >= self.max_new_tokens {
            Some(StopReason::MaxTokens)
        } else if self.cache.len() >= context {
            Some(StopReason::ContextFull)
        } else {
            None
        };
        Some(match reason {
            Some(reason) => self.end(piece, reason, clock),
            None => Step::Read { token, piece },
        })
    }

    /// Takes the logits that followed the token [`Sequence::pick`] chose.
    pub(crate) fn read(&mut self, logits: Vec<f32>) {
        self.logits = logits;
        self.decode_forwards += 1;
    }

    /// Whether the sequence has ended.
    pub(crate) fn has_ended(&self) -> bool {
        self.stop_reason.is_some()
    }

    /// How many tokens have been generated so far.
    pub(crate) fn generated_tokens(&self) -> usize {
        self.generated
    }

    /// Records why the sequence ended and appends any held-back text.
    fn end(&mut self, mut piece: String, reason: StopReason, clock: &dyn Clock) -> Step {
        piece.push_str(&self.stream.finish());
        self.stop_reason = Some(reason);
        self.ended = Some(clock.seconds());
        Step::Ended { piece }
    }

    /// The text and stats of the generation. One that had not ended counts
    /// as cancelled; its text is what was generated so far.
    pub(crate) fn finish(&mut self, clock: &dyn Clock) -> Generation {
        if self.stop_reason.is_none() {
            self.end(String::new(), StopReason::Cancelled, clock);
        }
        let ended = self.ended.unwrap_or(self.prefilled);
        let prefill_seconds = self.prefilled - self.started;
        let decode_seconds = ended - self.prefilled;
        Generation {
            text: self.stream.text().to_owned(),
            stats: GenerationStats {
                prompt_tokens: self.prompt_tokens,
                cached_prompt_tokens: self.prompt_tokens - self.prompt_read,
                generated_tokens: self.generated,
                prefill_seconds,
                decode_seconds,
                prefill_tokens_per_second: rate(self.prompt_read, prefill_seconds),
                decode_tokens_per_second: rate(self.decode_forwards, decode_seconds),
                stop_reason: self.stop_reason.unwrap_or(StopReason::Cancelled),
            },
        }
    }

    /// Gives up the attention cache (after [`Sequence::finish`]), for a
    /// later sequence that begins the same way.
    pub(crate) fn into_cache(self) -> Cache {
        self.cache
    }
}

/// `count / seconds`, or 0 when no time was measured (a clock that does not
/// move must not produce infinities in the stats).
fn rate(count: usize, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_zero_without_time() {
        assert_eq!(rate(10, 0.0), 0.0);
        assert_eq!(rate(10, 2.0), 5.0);
    }
}
