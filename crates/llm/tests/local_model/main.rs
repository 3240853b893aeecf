//! The local engine on the real test model, SmolLM2-135M-Instruct in Q4_1.
//!
//! The model (98 MB) is read from `$PREFAB_TEST_MODEL`, else from
//! `~/.cache/prefab/models/`, where `cargo xtask test` fetches it. Prompts and
//! generations are kept short (at most 32 tokens) so that the suite stays
//! quick; no test looks at wall-clock time.

mod common;

mod bad_input;
mod batch;
mod chat_template;
mod generation;
mod judge;
mod loading;
mod tokenizer;
