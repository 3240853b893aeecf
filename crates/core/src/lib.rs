//! Prefab's dataset core: the pure data and logic of a preference dataset.
//!
//! Prompts come in, generations and judgments are attached to them with their
//! provenance, people rate them, and the result goes out as TRL-ready KTO and
//! DPO rows. Nothing here does I/O, so all of it runs natively and in wasm32
//! alike and is tested natively.
//!
//! The path of the data, module by module:
//!
//! - [`prompt_import`] reads prompts from JSONL, JSON, CSV/TSV, Parquet, plain
//!   text or a datasets-server `/rows` page, and lets the caller pick the columns;
//! - [`record`] is the stored shape: a [`record::Prompt`] with its
//!   [`record::Generation`]s, their [`record::Judgment`]s and the
//!   [`record::HumanRating`]s people gave;
//! - [`tasks`] renders the prompts sent to models (text generation, EvolQuality,
//!   UltraFeedback) and parses what comes back;
//! - [`contribute`] is the rating session the page drives key by key, and
//!   [`record::assemble_records`] puts stored ratings back into records;
//! - [`export`] turns records into the DIBT raw, TRL KTO and TRL DPO tables and
//!   writes the dataset card, [`agreement`] measures how much annotators agree;
//! - [`campaign`] is the shape of a campaign on the Hub — a manifest, the
//!   records, each person's contribution files — and merges what people sent;
//! - [`write`](mod@write) serializes a [`table::Table`] as JSONL or Parquet.
//!
//! Every failure is an [`Error`] that names the file, the line or row, the
//! column and what was expected.

#![deny(missing_docs)]

pub mod agreement;
pub mod backoff;
pub mod bench;
pub mod byte_size;
pub mod campaign;
pub mod chat;
pub mod contribute;
mod error;
pub mod export;
pub mod judge;
pub mod pool_plan;
pub mod prng;
pub mod prompt_import;
pub mod record;
pub mod table;
pub mod tasks;
pub mod write;

pub use error::{Error, ErrorKind};

/// The version of Prefab, shown in the page and reported by the model worker.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
