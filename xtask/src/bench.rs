//! `cargo xtask bench`: speed figures, printed, never asserted.
//!
//! Release builds only: a debug build's figures say nothing about what users get.
//!
//! - `core`: the dataset core, natively and as wasm in headless Chromium.
//! - `model`: the local model in the release page's worker against wllama
//!   (llama.cpp in wasm, one thread) on the same GGUF file, in headless
//!   Chromium: load time, prefill and decode speeds, peak wasm memory, and
//!   the ratios. `tests/bench/model_bench.mjs` measures and prints; this
//!   installs what it needs and serves the page.
//! - `rating`: keypress → next item painted in Contribute, p50 and p95, with
//!   10,000 records in the project (`tests/bench/rating_bench.mjs`).

use crate::serve::Server;
use crate::setup::{self, chromium_paths, run};
use crate::{model, step, Workspace};
use std::process::Command;

/// Runs the benchmarks `args` name (`core`, `model`, `rating`; all when none) and prints their figures.
pub fn run_named(ws: &Workspace, args: &[String]) -> Result<(), String> {
    let all = args.is_empty();
    for arg in args {
        if !["core", "model", "rating"].contains(&arg.as_str()) {
            return Err(format!("unknown benchmark {arg}: the benchmarks are core, model and rating"));
        }
    }
    let wanted = |name: &str| all || args.iter().any(|arg| arg == name);
    if wanted("core") {
        core(ws)?;
    }
    if wanted("model") {
        model_against_wllama(ws)?;
    }
    if wanted("rating") {
        rating(ws)?;
    }
    Ok(())
}

fn core(ws: &Workspace) -> Result<(), String> {
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

fn model_against_wllama(ws: &Workspace) -> Result<(), String> {
    setup::ensure_chromium()?;
    let bench = ws.root.join("tests/bench");
    // wllama is a benchmark-only dependency: it lives in tests/bench's own
    // lock file, never in the page.
    setup::ensure_node_modules(&bench, "@wllama/wllama and playwright-core for the model benchmark")?;
    let model = model::ensure_default_model(ws)?;
    let dist = setup::build_dist(ws)?;
    // tests/bench is served under /bench/ next to the release build, so the
    // bench page, wllama's files and our worker share one origin and the
    // cross-origin isolation headers.
    let models = model.parent().expect("the model sits in a folder").to_path_buf();
    let server = Server::start_with_mounts("127.0.0.1:0", dist, models, vec![("/bench/", bench.clone())])?;
    step(&format!("local model in headless Chromium: Prefab's worker against wllama, one thread (http://{})", server.addr()));
    run(bench_script(&bench, "model_bench.mjs", &server).env("PREFAB_MODEL_FILE", model::DEFAULT_MODEL))
}

fn rating(ws: &Workspace) -> Result<(), String> {
    setup::ensure_chromium()?;
    let bench = ws.root.join("tests/bench");
    setup::ensure_node_modules(&bench, "playwright-core for the rating benchmark")?;
    let dist = setup::build_dist(ws)?;
    // Rating needs no model: the completions come in a file.
    let server = Server::start("127.0.0.1:0", dist, ws.cache.join("models"))?;
    step(&format!("rating in headless Chromium: keypress → next item painted with 10,000 records (http://{})", server.addr()));
    run(&mut bench_script(&bench, "rating_bench.mjs", &server))
}

/// `node <script>` in `tests/bench`, pointed at the server and the browser.
fn bench_script(bench: &std::path::Path, script: &str, server: &Server) -> Command {
    let (chromium, _) = chromium_paths();
    let mut command = Command::new("node");
    command
        .arg(script)
        .current_dir(bench)
        .env("PREFAB_URL", format!("http://{}/", server.addr()))
        .env("CHROMIUM", chromium);
    command
}
