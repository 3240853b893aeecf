//! The Hugging Face Hub, spoken to straight from a static page.
//!
//! Sign-in with OAuth and PKCE, contributions committed to a shared dataset
//! through the commit API, and dataset rows read through datasets-server. The
//! protocol logic is pure and tested natively; the HTTP transport is a thin
//! shell around it.

#![deny(missing_docs)]
