//! `cargo xtask test`: every test, in three stages, and one summary line.
//!
//! 1. native: `cargo test` over the default members (pure logic, fast);
//! 2. in the browser: `wasm-bindgen-test` in headless Chromium, for code that
//!    needs a real browser (IndexedDB);
//! 3. the local Hugging Face Hub (`crate::hub`) checked by the official
//!    clients: `huggingface_hub` and `datasets` (pytest) and `@huggingface/hub`
//!    (node's test runner);
//! 4. end to end: Playwright drives headless Chromium against the release
//!    build, served by the same server as `cargo xtask serve`, with the local
//!    Hub (`PREFAB_HUB_URL`) seeded with the fixtures the page tests read.
//!
//! Each stage runs even when an earlier one failed, so one run tells
//! everything; the exit code is non-zero if anything failed.

use crate::hub::{check, LocalHub};
use crate::serve::Server;
use crate::setup::{self, chromium_paths};
use crate::{model, services, step, Workspace};
use std::path::{Path, PathBuf};
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

/// The crates whose tests need a browser.
const BROWSER_CRATES: [&str; 3] = ["prefab-store", "prefab-llm", "prefab-kernels"];

/// Counts across all stages.
#[derive(Default, Debug, PartialEq)]
struct Tally {
    passed: u64,
    failed: u64,
    /// Stages that failed without a failing test to show for it (a build error, a crash).
    broken: Vec<String>,
}

impl Tally {
    /// Adds what one stage printed, and whether it exited successfully.
    fn add_stage(&mut self, stage: &str, output: &str, succeeded: bool) {
        let (passed, failed) = count_results(output);
        self.passed += passed;
        self.failed += failed;
        if !succeeded && failed == 0 {
            self.broken.push(stage.to_owned());
        }
        if succeeded && passed == 0 {
            // A stage that ran no test is not a pass: say so loudly.
            self.broken.push(format!("{stage} (ran no test)"));
        }
    }

    /// Adds one check that has no test runner of its own: it passed or it did not.
    fn add_check(&mut self, passed: bool) {
        if passed { self.passed += 1 } else { self.failed += 1 }
    }

    /// Prints the broken stages and the summary line; an error if anything failed.
    fn finish(&self) -> Result<(), String> {
        for stage in &self.broken {
            println!("xtask: broken stage: {stage}");
        }
        println!("xtask: {}", self.summary());
        if self.failed == 0 && self.broken.is_empty() {
            Ok(())
        } else {
            Err(format!("{} — see the output above", self.summary()))
        }
    }

    fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failed + self.broken.len() as u64)
    }
}

/// Sums the pass and fail counts in a test runner's output: libtest's (cargo
/// and wasm-bindgen-test-runner) `test result:` lines, node's `ℹ pass N` /
/// `# pass N` summary lines and pytest's `== 1 failed, 12 passed in 3.10s ==`
/// (errors count as failures).
fn count_results(output: &str) -> (u64, u64) {
    let number_after = |line: &str, key: &str| -> Option<u64> {
        let rest = &line[line.find(key)? + key.len()..];
        rest.trim_start().split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
    };
    let mut totals = (0, 0);
    for line in output.lines().map(str::trim) {
        if line.starts_with("test result:") {
            // "test result: ok. 3 passed; 0 failed; 0 ignored; ..."
            for part in line.split(';') {
                let mut words = part.split_whitespace().rev();
                let (label, count) = (words.next(), words.next().and_then(|n| n.parse::<u64>().ok()));
                match (label, count) {
                    (Some("passed"), Some(n)) => totals.0 += n,
                    (Some("failed"), Some(n)) => totals.1 += n,
                    _ => {}
                }
            }
        } else if let Some((passed, failed)) = pytest_summary(line) {
            totals.0 += passed;
            totals.1 += failed;
        } else if let Some(summary) = line.strip_prefix("ℹ ").or_else(|| line.strip_prefix("# ")) {
            if summary.starts_with("pass ") {
                totals.0 += number_after(summary, "pass").unwrap_or(0);
            } else if summary.starts_with("fail ") {
                totals.1 += number_after(summary, "fail").unwrap_or(0);
            }
        }
    }
    totals
}

/// pytest's closing line, with or without its `=` rule: `1 failed, 12 passed, 2 warnings in 3.10s`.
fn pytest_summary(line: &str) -> Option<(u64, u64)> {
    let line = line.trim_matches(|c: char| c == '=' || c.is_whitespace());
    let (counts, time) = line.rsplit_once(" in ")?;
    if !time.ends_with('s') || !time.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let mut totals = (0, 0);
    for part in counts.split(", ") {
        let (number, word) = part.split_once(' ')?;
        let number: u64 = number.parse().ok()?;
        match word {
            "passed" => totals.0 += number,
            "failed" | "error" | "errors" => totals.1 += number,
            _ => {}
        }
    }
    Some(totals)
}

/// Runs a command, echoing its output as it comes, and returns that output and success.
fn run_captured(command: &mut Command) -> (String, bool) {
    let shown = format!("{command:?}");
    let mut child = match command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn() {
        Ok(child) => child,
        Err(error) => return (format!("could not start {shown}: {error}"), false),
    };
    let collected = Arc::new(Mutex::new(String::new()));
    let echo = |stream: Box<dyn Read + Send>, to_stderr: bool| {
        let collected = Arc::clone(&collected);
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if to_stderr { eprintln!("{line}") } else { println!("{line}") }
                let mut all = collected.lock().expect("no panics while holding the lock");
                all.push_str(&line);
                all.push('\n');
            }
        })
    };
    let readers = [
        echo(Box::new(child.stdout.take().expect("piped")), false),
        echo(Box::new(child.stderr.take().expect("piped")), true),
    ];
    let succeeded = child.wait().is_ok_and(|status| status.success());
    for reader in readers {
        let _ = reader.join();
    }
    let output = collected.lock().expect("readers are done").clone();
    (output, succeeded)
}

/// Runs every test; the summary line is printed whatever happens.
pub fn run(ws: &Workspace) -> Result<(), String> {
    let mut tally = Tally::default();
    if let Err(error) = stages(ws, &mut tally) {
        eprintln!("xtask: error: {error}");
        tally.broken.push(format!("set-up ({error})"));
    }
    println!();
    tally.finish()
}

fn stages(ws: &Workspace, tally: &mut Tally) -> Result<(), String> {
    setup::ensure_build_tools(ws)?;
    setup::ensure_chromium()?;
    let engines = setup::ensure_engines(ws)?;
    setup::ensure_playwright(ws)?;
    let model = model::ensure_default_model(ws)?;
    let python = services::ensure_test_python(ws)?;
    let hub_python = services::ensure_hub_clients_python(ws)?;
    setup::ensure_hub_js(ws)?;
    let output_dir = ws.test_output();
    std::fs::create_dir_all(&output_dir).map_err(|error| format!("{}: {error}", output_dir.display()))?;
    let (_, chromedriver) = chromium_paths();

    step("native tests (cargo test)");
    let (output, ok) = run_captured(Command::new("cargo").arg("test").current_dir(&ws.root));
    tally.add_stage("native tests", &output, ok);

    step("exported JSONL and Parquet read back by pyarrow, an independent reader");
    let exports = output_dir.join("exports");
    let (_, written) = run_captured(
        Command::new("cargo").args(["run", "--quiet", "-p", "prefab-core", "--example", "write_fixtures", "--"]).arg(&exports).current_dir(&ws.root),
    );
    let checked = written
        && run_captured(Command::new(&python).arg(ws.root.join("tests/python/check_files.py")).arg(exports.join("manifest.json"))).1;
    tally.add_check(checked);

    step("the KTO and DPO exports (standard and conversational, JSONL and Parquet) loaded by `datasets`, as TRL loads them");
    let trl_files = ["kto", "kto_conversational", "dpo", "dpo_conversational"]
        .iter()
        .flat_map(|name| ["jsonl", "parquet"].map(|extension| exports.join(format!("{name}.{extension}"))));
    let loaded = written && run_captured(datasets_command(&hub_python, ws).arg(ws.root.join("tests/python/check_trl.py")).args(trl_files)).1;
    tally.add_check(loaded);

    step("starting llama.cpp's OpenAI-compatible server and the fault proxy for the hosted-inference tests");
    let llama = services::start_llama_server(&python, &model, &output_dir)?;
    let proxy = services::start_fault_proxy(ws, &python, &llama)?;

    step("in-browser tests (wasm-bindgen-test in headless Chromium)");
    let mut browser = Command::new("cargo");
    // Browser tests cannot read the environment at run time: the servers'
    // addresses are compiled in (`option_env!`).
    browser.env("PREFAB_LLAMA_URL", &llama.url).env("PREFAB_PROXY_URL", &proxy.url);
    // The browser tests cover the hosted client and the store; the local
    // engine (candle) is tested natively, so it is not compiled for them.
    browser.args(["test", "--target", "wasm32-unknown-unknown", "--no-default-features"]);
    for krate in BROWSER_CRATES {
        browser.args(["-p", krate]);
    }
    browser.current_dir(&ws.root).env("PATH", ws.tool_path()).env("CHROMEDRIVER", chromedriver);
    let (output, ok) = run_captured(&mut browser);
    tally.add_stage("in-browser tests", &output, ok);

    let hub = start_hub(ws)?;
    hub_client_stages(ws, &hub, &hub_python, tally);

    let dist = match setup::build_dist(ws) {
        Ok(dist) => dist,
        Err(error) => {
            tally.broken.push(format!("release build ({error}); end-to-end tests not run"));
            return Ok(());
        }
    };
    let (output, ok) = end_to_end(ws, dist, &model, &hub, &hub_python, &llama.url, &proxy.url, &engines)?;
    tally.add_stage("end-to-end tests", &output, ok);
    drop((proxy, llama, hub));
    println!("test output (screenshots, logs): {}", output_dir.display());
    Ok(())
}

/// `python` (with `datasets`) set to read local files only, its cache in the test output.
fn datasets_command(python: &Path, ws: &Workspace) -> Command {
    let mut command = Command::new(python);
    command
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env("HF_DATASETS_CACHE", ws.test_output().join("hf-datasets-cache"))
        .env("HF_HOME", ws.test_output().join("hf-home"));
    command
}

/// Starts the local Hub on a fresh folder in the test output, with the page tests' fixtures.
fn start_hub(ws: &Workspace) -> Result<LocalHub, String> {
    let dir = hub_dir(ws);
    let _ = std::fs::remove_dir_all(&dir);
    let hub = LocalHub::start("127.0.0.1:0", dir, true)?;
    check::seed_fixtures(&hub)?;
    step(&format!("local Hugging Face Hub on {} (fixtures: prefab-test/prompts-1k, gated, no-viewer)", hub.url()));
    Ok(hub)
}

fn hub_dir(ws: &Workspace) -> PathBuf {
    ws.test_output().join("hub")
}

/// The official clients against the local Hub: Python, then JavaScript.
fn hub_client_stages(ws: &Workspace, hub: &LocalHub, python: &Path, tally: &mut Tally) {
    let scratch = ws.test_output().join("hub-clients");
    let _ = std::fs::remove_dir_all(&scratch);
    step("the local Hub checked by huggingface_hub and datasets (pytest)");
    let (output, ok) = run_captured(&mut check::python_command(ws, hub, python, &scratch));
    tally.add_stage("Hub clients (Python)", &output, ok);
    step("the local Hub checked by @huggingface/hub (node --test)");
    let (output, ok) = run_captured(&mut check::js_command(ws, hub, &scratch));
    tally.add_stage("Hub clients (JavaScript)", &output, ok);
}

/// Runs the Playwright files (all, or those `PREFAB_E2E_ONLY` names) against
/// the release build served from `dist`, and returns their output.
#[allow(clippy::too_many_arguments)]
fn end_to_end(ws: &Workspace, dist: PathBuf, model: &Path, hub: &LocalHub, hub_python: &Path, llama_url: &str, proxy_url: &str, engines: &setup::Engines) -> Result<(String, bool), String> {
    let (chromium, _) = chromium_paths();
    // WebKitGTK draws into a window even when driven: an X server of its own.
    let display = services::start_xvfb(&engines.xvfb)?;
    let output_dir = ws.test_output();
    let server = Server::start("127.0.0.1:0", dist, model.parent().expect("models folder").to_path_buf())?;
    step(&format!("end-to-end tests (Playwright, headless Chromium, release build on http://{})", server.addr()));
    let e2e = ws.root.join("tests/e2e");
    let mut files: Vec<_> = std::fs::read_dir(&e2e)
        .map_err(|error| format!("{}: {error}", e2e.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.to_string_lossy().ends_with(".test.mjs"))
        // `PREFAB_E2E_ONLY=hub` runs only the end-to-end files whose name has
        // "hub" in it (`hub,tabs`: either), for a quick turn on one part of the page.
        .filter(|path| {
            std::env::var("PREFAB_E2E_ONLY").map_or(true, |only| {
                let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
                only.split(',').any(|part| name.contains(part.trim()))
            })
        })
        .collect();
    files.sort();
    let mut node = Command::new("node");
    node.args(["--test", "--test-reporter=spec"])
        .args(&files)
        .current_dir(&e2e)
        .env("PREFAB_URL", format!("http://{}/", server.addr()))
        .env("PREFAB_MODEL_FILE", model::DEFAULT_MODEL)
        .env("PREFAB_TEST_OUTPUT", &output_dir)
        // The local Hub, seeded (`hub::check`), and the python that can
        // read a dataset back with `datasets.load_dataset` from it.
        .env("PREFAB_HUB_URL", hub.url())
        .env("PREFAB_HUB_PYTHON", hub_python)
        .env("PREFAB_HUB_TOKEN", hub.issue_token("organizer", &check::SCOPES))
        .env("CHROMIUM", chromium)
        // The other engines (`engines.test.mjs`), driven over WebDriver.
        .env("GECKODRIVER", &engines.geckodriver)
        .env("FIREFOX", &engines.firefox)
        .env("WEBKIT_WEBDRIVER", &engines.webkit_webdriver)
        .env("WEBKIT_BROWSER", &engines.webkit_browser)
        .env("DISPLAY", display.name())
        // llama.cpp's OpenAI-compatible server (a hosted model and judge),
        // and the fault proxy in front of it.
        .env("PREFAB_LLAMA_URL", llama_url)
        .env("PREFAB_PROXY_URL", proxy_url);
    Ok(run_captured(&mut node))
}

/// `cargo xtask e2e`: only the end-to-end files (with `PREFAB_E2E_ONLY`),
/// against the release build, the local Hub and llama.cpp's server: a quick
/// turn on one part of the page.
pub fn e2e_only(ws: &Workspace) -> Result<(), String> {
    setup::ensure_build_tools(ws)?;
    setup::ensure_chromium()?;
    let engines = setup::ensure_engines(ws)?;
    setup::ensure_playwright(ws)?;
    let model = model::ensure_default_model(ws)?;
    let hub_python = services::ensure_hub_clients_python(ws)?;
    let python = services::ensure_test_python(ws)?;
    std::fs::create_dir_all(ws.test_output()).map_err(|error| error.to_string())?;
    let hub = start_hub(ws)?;
    let llama = services::start_llama_server(&python, &model, &ws.test_output())?;
    let proxy = services::start_fault_proxy(ws, &python, &llama)?;
    let dist = setup::build_dist(ws)?;
    let mut tally = Tally::default();
    let (output, ok) = end_to_end(ws, dist, &model, &hub, &hub_python, &llama.url, &proxy.url, &engines)?;
    tally.add_stage("end-to-end tests", &output, ok);
    drop((proxy, llama, hub));
    tally.finish()
}

/// `cargo xtask hub-check`: only the local Hub and its client checks.
pub fn hub_check(ws: &Workspace) -> Result<(), String> {
    let python = services::ensure_hub_clients_python(ws)?;
    setup::ensure_hub_js(ws)?;
    let mut tally = Tally::default();
    let hub = start_hub(ws)?;
    hub_client_stages(ws, &hub, &python, &mut tally);
    drop(hub);
    tally.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_and_node_summaries_are_summed() {
        let output = "\
running 3 tests
test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s
test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out
ℹ tests 4
ℹ pass 4
ℹ fail 0
# pass 1
# fail 1
==================== 1 failed, 12 passed, 2 warnings in 3.10s ====================
5 passed in 0.20s
";
        assert_eq!(count_results(output), (26, 4));
        assert_eq!(pytest_summary("=== 2 passed, 1 error in 1.5s ==="), Some((2, 1)));
        assert_eq!(pytest_summary("the run ended in 3s"), None);
    }

    #[test]
    fn a_failed_stage_without_failing_tests_counts_as_a_failure() {
        let mut tally = Tally::default();
        tally.add_stage("native tests", "error[E0425]: cannot find value `x`", false);
        tally.add_stage("in-browser tests", "test result: ok. 2 passed; 0 failed;", true);
        assert_eq!(tally.summary(), "2 passed, 1 failed");
        assert_eq!(tally.broken, ["native tests"]);
    }

    #[test]
    fn a_stage_that_ran_no_test_is_not_a_pass() {
        let mut tally = Tally::default();
        tally.add_stage("end-to-end tests", "ℹ tests 0\nℹ pass 0\nℹ fail 0\n", true);
        assert_eq!(tally.summary(), "0 passed, 1 failed");
    }
}
