//! Prefab's dataset core: the pure data and logic of a preference dataset.
//!
//! Prompts come in, generations and judgments are attached to them with their
//! provenance, people rate them, and the result goes out as TRL-ready KTO and
//! DPO rows. Nothing here does I/O, so all of it runs natively and in wasm32
//! alike and is tested natively.

#![deny(missing_docs)]

/// The version of Prefab, shown in the page and reported by the model worker.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
