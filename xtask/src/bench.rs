//! `cargo xtask bench`: speed figures, printed, never asserted.
//!
//! Release builds only: a debug build's figures say nothing about what users get.

use crate::setup::{self, chromium_paths, run};
use crate::{step, Workspace};
use std::process::Command;

/// Runs every benchmark and prints its figures.
pub fn run_all(ws: &Workspace) -> Result<(), String> {
    setup::ensure_build_tools(ws)?;
    setup::ensure_chromium()?;

    step("dataset core, native: 100,000-prompt JSONL import, DPO binarization, Parquet export");
    run(Command::new("cargo")
        .args(["run", "--release", "--quiet", "-p", "prefab-core", "--example", "bench_core"])
        .current_dir(&ws.root))?;

    step("dataset core, wasm in headless Chromium: the same rows");
    let (_, chromedriver) = chromium_paths();
    run(Command::new("cargo")
        .args(["test", "--release", "-p", "prefab-core", "--target", "wasm32-unknown-unknown", "--test", "wasm_bench", "--", "--nocapture"])
        .current_dir(&ws.root)
        .env("PATH", ws.tool_path())
        .env("CHROMEDRIVER", chromedriver))
}
