//! The local engine: a quantized GGUF model run with candle, in the page's
//! Web Worker or natively.
//!
//! The engine is pure computation over a file it is given: it never touches
//! the network, files or the clock on its own, so the same code runs in
//! tests, benchmarks and the browser. The worker fetches the file, hands it
//! to [`Engine::load`] as a [`FileBytes`] that reads it a range at a time,
//! and passes a [`Clock`] (`performance.now()`
//! there, `Instant` natively — `std::time::Instant` panics in wasm32) for
//! the speed figures.
//!
//! A generation is a [`Generator`] that yields text one token at a time, so
//! a worker can return to its event loop between tokens to notice a cancel
//! request; [`Engine::generate`] drives one to the end with a callback that
//! may stop it. A [`Batch`] runs several generations together, one pass over
//! the weights per token of all of them. [`Engine::score`] is the judge: the
//! probabilities of a few candidate answers ("1" to "5") from one forward
//! pass.

mod batch;
mod chat_template;
mod gguf;
mod model;
mod sampling;
mod sequence;
mod text_stream;
mod tokenizer;

use std::ops::ControlFlow;

pub use self::batch::{Batch, BatchEvent, KEPT_CACHES, KV_BUDGET_BYTES};
use self::chat_template::ChatTemplate;
use self::gguf::Gguf;
use self::model::{Cache, Config, Model};
use self::sequence::{Sequence, Step};
use self::tokenizer::Tokenizer;
use crate::chat::{ChatMessage, Prompt};
use crate::error::{Error, ErrorKind};
use crate::file_bytes::FileBytes;
use crate::generation::{Generation, GenerationParams};
use crate::model_info::{LoadOptions, LoadProgress, LoadStage, ModelInfo};

/// A source of time in seconds, for the speed figures in
/// [`GenerationStats`]. Only differences between readings matter.
///
/// Any `Fn() -> f64` is a clock; `|| 0.0` turns timing off.
pub trait Clock {
    /// The time now, in seconds from any fixed start.
    fn seconds(&self) -> f64;
}

impl<F: Fn() -> f64> Clock for F {
    fn seconds(&self) -> f64 {
        self()
    }
}

/// A loaded model with its tokenizer and chat template.
pub struct Engine {
    model: Model,
    tokenizer: Tokenizer,
    template: ChatTemplate,
    info: ModelInfo,
    /// The judge's attention cache after the last prompt it scored: the next
    /// pass reads only what differs (a judge's instructions are the same for
    /// every record).
    scored: Option<Scored>,
}

/// The last prompt the judge read: its tokens, their cache, and the logits
/// that followed.
struct Scored {
    tokens: Vec<u32>,
    cache: Cache,
    logits: Vec<f32>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("info", &self.info).finish_non_exhaustive()
    }
}

impl Engine {
    /// Loads a GGUF model from its file, reporting progress as it goes.
    ///
    /// Metadata, tokenizer and chat template are checked before any weight
    /// is read, so a file that cannot work fails in milliseconds. Each
    /// tensor is read from the file once, when it is built, and the engine
    /// keeps nothing of the file: it may be dropped afterwards.
    pub fn load(
        file: impl FileBytes,
        options: &LoadOptions,
        mut progress: impl FnMut(LoadProgress),
    ) -> Result<Engine, Error> {
        Engine::load_inner(&file, options, &mut progress).map_err(|error| {
            match &options.file_name {
                Some(name) => error.in_file(name.clone()),
                None => error,
            }
        })
    }

    fn load_inner(
        file: &dyn FileBytes,
        options: &LoadOptions,
        progress: &mut dyn FnMut(LoadProgress),
    ) -> Result<Engine, Error> {
        let gguf = Gguf::parse(file)?;
        let config = Config::read(&gguf)?;

        progress(LoadProgress { stage: LoadStage::Tokenizer, done: 0, total: 1 });
        let tokenizer = Tokenizer::from_gguf(&gguf)?;
        let template = ChatTemplate::new(
            gguf.opt_str("tokenizer.chat_template")?,
            &tokenizer.bos_text,
            &tokenizer.eos_text,
        )?;
        progress(LoadProgress { stage: LoadStage::Tokenizer, done: 1, total: 1 });

        let (model, weights) =
            Model::load(&gguf, config, options.max_context, options.requantize, |done, total| {
                progress(LoadProgress { stage: LoadStage::Weights, done, total })
            })?;
        if tokenizer.vocab_size() > model.vocab_size() {
            return Err(Error::new(ErrorKind::InvalidTensor {
                name: "token_embd.weight".into(),
                message: format!(
                    "has {} rows but the vocabulary has {} tokens",
                    model.vocab_size(),
                    tokenizer.vocab_size()
                ),
            }));
        }

        let name = gguf
            .opt_str("general.name")?
            .map(str::to_owned)
            .or_else(|| options.file_name.clone())
            .unwrap_or_else(|| "unnamed model".to_owned());
        let info = ModelInfo {
            name,
            architecture: gguf.str("general.architecture")?.to_owned(),
            parameters: gguf.parameters(),
            context_length: model.context(),
            vocab_size: tokenizer.vocab_size(),
            file_bytes: file.size(),
            weights_bytes: weights.bytes,
            file_tensor_types: gguf.tensor_types(),
            requantized_tensors: weights.requantized,
            chat_template_from_file: template.is_from_file(),
            hub_repository: gguf
                .opt_str("general.source.huggingface.repository")?
                .and_then(crate::model_id::hub_repo_of_metadata),
        };
        Ok(Engine { model, tokenizer, template, info, scored: None })
    }

    /// What the page shows about the model.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Renders a conversation with the model's chat template; with
    /// `add_generation_prompt`, ready for the model to answer.
    pub fn render_chat(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String, Error> {
        self.template.render(messages, add_generation_prompt)
    }

    /// The text the model continues for a prompt.
    pub fn render(&self, prompt: &Prompt) -> Result<String, Error> {
        match prompt {
            Prompt::Text { text } => Ok(text.clone()),
            Prompt::Chat { messages, answer_prefix } => {
                Ok(self.render_chat(messages, true)? + answer_prefix)
            }
        }
    }

    /// The token ids of a prompt, special tokens such as `<|im_start|>`
    /// recognized, BOS added when the model asks for it.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>, Error> {
        self.tokenizer.encode(text)
    }

    /// The text of token ids, control tokens left out.
    pub fn detokenize(&self, ids: &[u32]) -> String {
        self.tokenizer.decode(ids)
    }

    /// Starts generating after `prompt` (already rendered text): reads the
    /// prompt, then yields tokens through [`Generator::step`].
    pub fn start<'e>(
        &'e self,
        prompt: &str,
        params: &GenerationParams,
        clock: &'e dyn Clock,
    ) -> Result<Generator<'e>, Error> {
        params.validate()?;
        let started = clock.seconds();
        let tokens = self.prompt_tokens(prompt)?;
        let sequence = self.sequence(params, tokens, self.model.new_cache(), started, clock)?;
        Ok(Generator { engine: self, clock, sequence })
    }

    /// Reads the part of the prompt `tokens` that `cache` does not hold (a
    /// beginning of them, or none) and starts a sequence after them;
    /// `started` is the clock's reading when the request began.
    pub(crate) fn sequence(
        &self,
        params: &GenerationParams,
        tokens: Vec<u32>,
        mut cache: Cache,
        started: f64,
        clock: &dyn Clock,
    ) -> Result<Sequence, Error> {
        let held = cache.len();
        let logits = self.model.forward(&mut cache, &tokens[held..])?;
        let read = tokens.len() - held;
        Ok(Sequence::new(params, tokens, read, cache, logits, started, clock.seconds()))
    }

    /// Generates after `prompt` (already rendered text), handing each new
    /// piece of text to `on_text`, which may return `ControlFlow::Break` to
    /// cancel.
    pub fn generate(
        &self,
        prompt: &str,
        params: &GenerationParams,
        clock: &dyn Clock,
        mut on_text: impl FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Generation, Error> {
        let mut generator = self.start(prompt, params, clock)?;
        while let Some(piece) = generator.step()? {
            if !piece.is_empty() && on_text(&piece).is_break() {
                break;
            }
        }
        Ok(generator.finish())
    }

    /// Generates the assistant's answer to a conversation.
    pub fn generate_chat(
        &self,
        messages: &[ChatMessage],
        params: &GenerationParams,
        clock: &dyn Clock,
        on_text: impl FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Generation, Error> {
        let prompt = self.render_chat(messages, true)?;
        self.generate(&prompt, params, clock, on_text)
    }

    /// The probability of each possible next token after `prompt`, indexed
    /// by token id.
    ///
    /// The attention cache of the longest beginning this prompt shares with
    /// the previous one scored is reused, so a judge's fixed instructions
    /// are read once; the probabilities match a fresh pass within float
    /// rounding.
    pub fn next_token_probabilities(&mut self, prompt: &str) -> Result<Vec<f64>, Error> {
        let tokens = self.prompt_tokens(prompt)?;
        let scored = match self.scored.take() {
            Some(scored) if scored.tokens == tokens => scored,
            previous => {
                let (mut cache, held) = match previous {
                    Some(scored) => (scored.cache, scored.tokens),
                    None => (self.model.new_cache(), Vec::new()),
                };
                let shared = reusable_prefix(&held, &tokens);
                cache.truncate(shared);
                let logits = self.model.forward(&mut cache, &tokens[shared..])?;
                Scored { tokens, cache, logits }
            }
        };
        let probabilities = model::softmax(&scored.logits);
        self.scored = Some(scored);
        Ok(probabilities)
    }

    /// The judge: for each candidate, the probability that the model's next
    /// token after `prompt` is that candidate, from one forward pass.
    ///
    /// Each candidate must be exactly one token, and no two the same token,
    /// so that the probabilities are of distinct events and add up to at
    /// most 1. Whether a candidate carries a leading space (`" 5"` rather
    /// than `"5"`) matters: it is another token.
    pub fn score(&mut self, prompt: &str, candidates: &[String]) -> Result<Vec<f64>, Error> {
        let ids = self.candidate_ids(candidates)?;
        let probabilities = self.next_token_probabilities(prompt)?;
        Ok(ids
            .into_iter()
            .map(|id| probabilities.get(id as usize).copied().unwrap_or(0.0))
            .collect())
    }

    fn candidate_ids(&self, candidates: &[String]) -> Result<Vec<u32>, Error> {
        let invalid = |message: String| Error::new(ErrorKind::InvalidCandidates(message));
        if candidates.is_empty() {
            return Err(invalid("there are no candidates".into()));
        }
        let mut ids: Vec<u32> = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            let tokens = self.tokenizer.encode_fragment(candidate)?;
            let &[id] = tokens.as_slice() else {
                return Err(invalid(format!(
                    "{candidate:?} is {} tokens; each candidate must be exactly one token",
                    tokens.len()
                )));
            };
            if let Some(i) = ids.iter().position(|&other| other == id) {
                return Err(invalid(format!(
                    "{candidate:?} and {:?} are the same token",
                    candidates[i]
                )));
            }
            ids.push(id);
        }
        Ok(ids)
    }

    /// The prompt's tokens, checked to be non-empty and to fit the context.
    pub(crate) fn prompt_tokens(&self, prompt: &str) -> Result<Vec<u32>, Error> {
        let tokens = self.tokenizer.encode(prompt)?;
        if tokens.is_empty() {
            return Err(Error::new(ErrorKind::InvalidParams("the prompt is empty".into())));
        }
        if tokens.len() > self.model.context() {
            return Err(Error::new(ErrorKind::PromptTooLong {
                prompt_tokens: tokens.len(),
                context: self.model.context(),
            }));
        }
        Ok(tokens)
    }
}

/// A generation under way: call [`step`](Generator::step) for each token,
/// then [`finish`](Generator::finish).
pub struct Generator<'e> {
    engine: &'e Engine,
    clock: &'e dyn Clock,
    sequence: Sequence,
}

impl std::fmt::Debug for Generator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator").field("sequence", &self.sequence).finish_non_exhaustive()
    }
}

impl Generator<'_> {
    /// Generates one token. Returns the text that is now final (empty while
    /// a character or a possible stop string is incomplete), or `None` once
    /// the generation has ended. The step that ends it returns the last of
    /// the text, so the pieces add up to [`Generation::text`].
    pub fn step(&mut self) -> Result<Option<String>, Error> {
        let engine = self.engine;
        match self.sequence.pick(&engine.tokenizer, engine.model.context(), self.clock) {
            None => Ok(None),
            Some(Step::Ended { piece }) => Ok(Some(piece)),
            Some(Step::Read { token, piece }) => {
                let logits = engine.model.forward(&mut self.sequence.cache, &[token])?;
                self.sequence.read(logits);
                Ok(Some(piece))
            }
        }
    }

    /// How many tokens have been generated so far.
    pub fn generated_tokens(&self) -> usize {
        self.sequence.generated_tokens()
    }

    /// The text and stats of the generation. One that had not ended counts
    /// as cancelled; its text is what was generated so far.
    pub fn finish(mut self) -> Generation {
        self.sequence.finish(self.clock)
    }
}

/// How many of `tokens`' first positions a cache holding `held` can keep:
/// their shared beginning, less at least the last token, which is read
/// again for the logits that follow it.
pub(crate) fn reusable_prefix(held: &[u32], tokens: &[u32]) -> usize {
    let shared = held.iter().zip(tokens).take_while(|(a, b)| a == b).count();
    shared.min(tokens.len().saturating_sub(1))
}
