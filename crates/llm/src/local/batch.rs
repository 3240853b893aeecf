//! Several generations decoded together: one pass over the weights gives
//! every running sequence its next token.
//!
//! Decoding one sequence reads every weight of the model for each token; the
//! matrix kernel multiplies a weight block by several tokens once it is
//! loaded, so the samples of a prompt (or any generations asked for at the
//! same time) cost little more together than one alone. Sequences join
//! ([`Batch::start`]) and leave (at their end, or by [`Batch::cancel`]) at
//! any step; each keeps its own seed, stop strings and stats, and gets the
//! very logits it would get alone (see [`super::model::Model::forward_batch`]).
//!
//! A new sequence whose prompt begins like one the batch holds (the other
//! samples of the same prompt, a pool entry's system prompt) starts from a
//! copy of that cache and reads only the rest. The caches of the last few
//! sequences that ended are kept for that too, up to [`KEPT_CACHES`].

use super::model::Cache;
use super::sequence::{Sequence, Step};
use super::{reusable_prefix, Clock, Engine};
use crate::error::Error;
use crate::generation::{Generation, GenerationParams};

/// How many caches of ended sequences are kept for a prefix the next prompt
/// may share. A cache costs `layers × kv_heads × head_dim × 8` bytes per
/// position (46 KB for SmolLM2-135M: ~14 MB for a 300-token prompt).
pub const KEPT_CACHES: usize = 2;

/// The attention caches a worker lets a batch grow to before a new
/// sequence waits: 256 MiB, about 5,700 positions of SmolLM2-135M (eight
/// sequences of ~700 tokens). A sequence already running is never stopped
/// for it; only admissions wait.
pub const KV_BUDGET_BYTES: usize = 256 << 20;

/// What happened to one sequence in a step.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchEvent {
    /// More of its text (whole characters, never part of a stop string).
    Text(String),
    /// It ended; the pieces of text before add up to this text.
    Done(Generation),
}

/// Generations under way, each named by a key of the caller's (a request
/// id).
#[derive(Debug)]
pub struct Batch<K> {
    running: Vec<(K, Sequence)>,
    /// Caches of ended sequences and the tokens each holds, newest last.
    kept: Vec<(Vec<u32>, Cache)>,
}

impl<K> Default for Batch<K> {
    fn default() -> Batch<K> {
        Batch { running: Vec::new(), kept: Vec::new() }
    }
}

impl<K: PartialEq + Clone> Batch<K> {
    /// An empty batch.
    pub fn new() -> Batch<K> {
        Batch::default()
    }

    /// How many sequences are running.
    pub fn len(&self) -> usize {
        self.running.len()
    }

    /// Whether no sequence is running.
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// The memory the running sequences' attention caches take.
    pub fn cache_bytes(&self) -> usize {
        self.running.iter().map(|(_, sequence)| sequence.cache.size_in_bytes()).sum()
    }

    /// Whether a sequence with this key is running.
    pub fn contains(&self, key: &K) -> bool {
        self.running.iter().any(|(k, _)| k == key)
    }

    /// Starts generating after `prompt` (already rendered text): reads the
    /// part of the prompt no running or kept cache holds (all of it when
    /// `params.cache_prompt` is off). The sequence's first text comes with
    /// the next [`Batch::step`].
    pub fn start(
        &mut self,
        engine: &Engine,
        key: K,
        prompt: &str,
        params: &GenerationParams,
        clock: &dyn Clock,
    ) -> Result<(), Error> {
        params.validate()?;
        let started = clock.seconds();
        let tokens = engine.prompt_tokens(prompt)?;
        let cache = if params.cache_prompt { self.cache_for(engine, &tokens) } else { engine.model.new_cache() };
        let sequence = engine.sequence(params, tokens, cache, started, clock)?;
        self.running.push((key, sequence));
        Ok(())
    }

    /// A cache holding the longest beginning of `tokens` that a running or
    /// kept sequence holds (never all of them: the last prompt token is
    /// read again, for the logits that follow it). A kept cache is taken,
    /// a running one copied.
    fn cache_for(&mut self, engine: &Engine, tokens: &[u32]) -> Cache {
        let shared_with = |held: &[u32]| reusable_prefix(held, tokens);
        let best_running = self
            .running
            .iter()
            .map(|(_, sequence)| (shared_with(sequence.cached_tokens()), sequence))
            .max_by_key(|(shared, _)| *shared);
        let best_kept = (0..self.kept.len()).map(|i| (shared_with(&self.kept[i].0), i)).max_by_key(|(shared, _)| *shared);
        match (best_running, best_kept) {
            (Some((running, _)), Some((kept, i))) if kept >= running && kept > 0 => self.take_kept(i, kept),
            (None, Some((kept, i))) if kept > 0 => self.take_kept(i, kept),
            (Some((running, sequence)), _) if running > 0 => sequence.cache.prefix(running),
            _ => engine.model.new_cache(),
        }
    }

    fn take_kept(&mut self, index: usize, len: usize) -> Cache {
        let (_, mut cache) = self.kept.remove(index);
        cache.truncate(len);
        cache
    }

    /// Gives every running sequence its next token, in one pass over the
    /// weights, and says what each did. Ended sequences leave the batch.
    ///
    /// After an error (the model failed) the running sequences cannot go
    /// on: the caller ends them with [`Batch::abandon`].
    pub fn step(&mut self, engine: &Engine, clock: &dyn Clock) -> Result<Vec<(K, BatchEvent)>, Error> {
        let context = engine.model.context();
        let mut events = Vec::with_capacity(self.running.len());
        // The token each sequence must read now, if it goes on.
        let mut picked: Vec<Option<[u32; 1]>> = Vec::with_capacity(self.running.len());
        for (key, sequence) in &mut self.running {
            let (token, piece) = match sequence.pick(&engine.tokenizer, context, clock) {
                Some(Step::Read { token, piece }) => (Some([token]), piece),
                Some(Step::Ended { piece }) => (None, piece),
                None => (None, String::new()),
            };
            picked.push(token);
            if !piece.is_empty() {
                events.push((key.clone(), BatchEvent::Text(piece)));
            }
        }
        let mut reading: Vec<(&mut Cache, &[u32])> = self
            .running
            .iter_mut()
            .zip(&picked)
            .filter_map(|((_, sequence), token)| Some((&mut sequence.cache, token.as_ref()?.as_slice())))
            .collect();
        let logits = engine.model.forward_batch(&mut reading)?;
        let going_on = self.running.iter_mut().zip(&picked).filter(|(_, token)| token.is_some());
        for (((_, sequence), _), logits) in going_on.zip(logits) {
            sequence.read(logits);
        }
        let mut index = 0;
        while index < self.running.len() {
            if self.running[index].1.has_ended() {
                let (key, sequence) = self.running.remove(index);
                events.push((key, BatchEvent::Done(self.retire(sequence, clock))));
            } else {
                index += 1;
            }
        }
        Ok(events)
    }

    /// Stops the sequence with this key, returning what it generated (its
    /// stop reason `cancelled`); `None` when no such sequence runs.
    pub fn cancel(&mut self, key: &K, clock: &dyn Clock) -> Option<Generation> {
        let index = self.running.iter().position(|(k, _)| k == key)?;
        let (_, sequence) = self.running.remove(index);
        Some(self.retire(sequence, clock))
    }

    /// Stops every sequence, returning their keys (after a failed step).
    pub fn abandon(&mut self) -> Vec<K> {
        self.running.drain(..).map(|(key, _)| key).collect()
    }

    /// Forgets the kept caches, to give their memory back.
    pub fn forget_kept(&mut self) {
        self.kept.clear();
    }

    /// Finishes an ended or cancelled sequence, keeping its cache.
    fn retire(&mut self, mut sequence: Sequence, clock: &dyn Clock) -> Generation {
        let generation = sequence.finish(clock);
        let tokens = sequence.cached_tokens().to_vec();
        if self.kept.len() == KEPT_CACHES {
            self.kept.remove(0);
        }
        self.kept.push((tokens, sequence.into_cache()));
        generation
    }
}
