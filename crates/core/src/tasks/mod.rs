//! Tasks: the prompts Prefab sends to models, and the parsers for what comes back.
//!
//! Each task renders [`crate::chat::ChatMessage`]s (the llm crate applies the
//! model's chat template) and reads the answer. The three follow distilabel's
//! tasks of the same names, with Prefab's own wording:
//!
//! - [`text_generation`]: answer the prompt, optionally under a system prompt;
//! - [`evol_quality`]: rewrite a response to be better, by a seeded choice of
//!   mutation, several times over;
//! - [`ultrafeedback`]: rate several responses to one prompt on an aspect,
//!   as `#### Output for Text i` sections or as JSON.
//!
//! Parsers never fail a batch: what cannot be read is recorded as a parse
//! failure of that one text, with the raw output kept.

pub mod evol_quality;
pub mod text_generation;
pub mod ultrafeedback;
