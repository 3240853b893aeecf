//! Language models for Prefab.
//!
//! A model pool mixes a small quantized model running in the page's Web Worker
//! with bigger hosted models. This crate holds what both sides share, starting
//! with the typed protocol the page and the model worker speak.

#![deny(missing_docs)]

pub mod hosted;
pub mod protocol;
