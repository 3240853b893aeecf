//! The Hugging Face Hub, spoken to straight from a static page.
//!
//! - [`oauth`]: sign in with Hugging Face (OAuth 2 with PKCE, no server), or a pasted token;
//! - [`dataset`]: a Hub dataset's configs, splits and rows, through datasets-server;
//! - [`commit`]: publishing files in one commit (preupload, LFS, NDJSON commit,
//!   `parentCommit`, pull requests), and telling when nothing changed;
//! - [`layout`]: where a published dataset's files and card go;
//! - [`campaign`]: a campaign's files, each contributor's pull request, and Collect's reads.
//!
//! All of it builds [`http::HttpRequest`]s and reads [`http::HttpResponse`]s
//! without I/O, so it is tested natively; [`browser`] is the thin `fetch`
//! transport with retries ([`prefab_core::backoff`]) and the flows that chain
//! the steps.

#![deny(missing_docs)]

pub mod campaign;
pub mod commit;
pub mod dataset;
pub mod error;
pub mod http;
pub mod layout;
pub mod oauth;

#[cfg(target_arch = "wasm32")]
pub mod browser;

pub use error::{HubError, HubErrorKind};
