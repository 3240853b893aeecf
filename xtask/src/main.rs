//! `cargo xtask`: everything a new machine needs, in one command.
//!
//! - `serve`: install what is missing, fetch the default model, build the
//!   release page and serve it (with the model under `/models/`).
//! - `test`: the same set-up plus the test tools, then every test: native,
//!   in-browser (wasm-bindgen-test in headless Chromium) and end-to-end
//!   (Playwright against the release build), ending with one summary line.
//! - `dist`: the set-up and the release build into `dist/`, for deployment.
//! - `hub-check` (not listed in the usage): the local Hugging Face Hub
//!   (`hub`) checked by the official clients alone, for quick work on it.
//! - `bench`: speed figures, native and in headless Chromium; printed, never
//!   asserted: the dataset core, and the local model against wllama.
//!
//! Every step is skipped when it is already done, so the second run of any
//! command on a machine only builds what changed.

mod bench;
mod compression;
mod csp;
mod hub;
mod model;
mod room;
mod serve;
mod service_worker;
mod services;
mod setup;
mod test;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  serve [--addr ADDR] [--port PORT] [--hub DIR]
                                      build the page and serve it (default 127.0.0.1:8080;
                                      use --addr 0.0.0.0 for a workshop LAN); with --hub, also
                                      a local Hugging Face Hub on PORT+1 keeping its repos in DIR
                                      (for a room with no internet)
  test                                install the test tools and run every test
  dist [--with-model]                 build the release page into dist/; with --with-model,
                                      the default model too (dist/models/), so the page works
                                      where it is deployed with no other download
  bench [core] [collect] [model] [judge] [rating] [room]
                                      print speed figures (release builds, native and in Chromium):
                                      the dataset core, Collect on 100 people × 200 ratings, the
                                      local model against wllama, the judges, rating in the page,
                                      and a room: a contributor's first load, 50 clients at once
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve_command(&args[1..]),
        Some("test") => test::run(&Workspace::locate()),
        Some("dist") => dist_command(&args[1..]),
        Some("bench") => bench::run_named(&Workspace::locate(), &args[1..]),
        // Not in the usage: starts the local Hub, seeds it and runs only the
        // official clients against it (seconds, for work on the hub).
        Some("hub-check") => test::hub_check(&Workspace::locate()),
        // Not in the usage either: only the end-to-end tests (PREFAB_E2E_ONLY
        // picks files), without the native, in-browser and client stages.
        Some("e2e") => test::e2e_only(&Workspace::locate()),
        Some("help" | "--help" | "-h") => {
            print!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown or missing command\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask dist [--with-model]`.
fn dist_command(args: &[String]) -> Result<(), String> {
    let with_model = match args {
        [] => false,
        [flag] if flag == "--with-model" => true,
        _ => return Err(format!("unknown dist options {args:?}\n{USAGE}")),
    };
    let workspace = Workspace::locate();
    let dist = setup::build_dist(&workspace)?;
    let shipped = dist.join("models");
    if !with_model {
        if shipped.exists() {
            std::fs::remove_dir_all(&shipped).map_err(|error| format!("removing {}: {error}", shipped.display()))?;
            step("dist/models/ removed (the model ships only with --with-model)");
        }
        return Ok(());
    }
    let model = model::ensure_default_model(&workspace)?;
    let target = shipped.join(model::DEFAULT_MODEL);
    if std::fs::metadata(&target).ok().map(|meta| meta.len()) != std::fs::metadata(&model).ok().map(|meta| meta.len()) {
        std::fs::create_dir_all(&shipped).map_err(|error| format!("creating {}: {error}", shipped.display()))?;
        let _ = std::fs::remove_file(&target);
        // A hard link costs no space; another file system needs a copy.
        if std::fs::hard_link(&model, &target).is_err() {
            std::fs::copy(&model, &target).map_err(|error| format!("copying the model into {}: {error}", target.display()))?;
        }
    }
    step(&format!("dist/ ships the default model: dist/models/{} (the page's default model address)", model::DEFAULT_MODEL));
    Ok(())
}

fn serve_command(args: &[String]) -> Result<(), String> {
    let mut addr = "127.0.0.1".to_owned();
    let mut port: u16 = 8080;
    let mut hub_dir: Option<PathBuf> = None;
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))?;
        match flag.as_str() {
            "--addr" => addr = value.clone(),
            "--port" => port = value.parse().map_err(|_| format!("--port {value}: not a port number"))?,
            "--hub" => hub_dir = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown option {flag}\n\n{USAGE}")),
        }
    }
    let workspace = Workspace::locate();
    let dist = setup::build_dist(&workspace)?;
    let models = model::ensure_default_model(&workspace)?;
    let server = serve::Server::start(&format!("{addr}:{port}"), dist, models.parent().unwrap().to_path_buf())?;
    // Kept alive as long as the page is served.
    let _hub = match hub_dir {
        Some(dir) => {
            let hub_port = port.checked_add(1).ok_or("--port leaves no room for the hub on the next port")?;
            let hub = hub::LocalHub::start(&format!("{addr}:{hub_port}"), dir.clone(), false)?;
            println!("==> a local Hugging Face Hub on port {hub_port}, keeping its repos in {} (push them later with huggingface-cli upload)", dir.display());
            println!("    in the page: Settings → Hugging Face → Another Hub: http://<this machine's address>:{hub_port} (locally {}), any OAuth client id; people sign in by typing a name", hub.url());
            Some(hub)
        }
        None => None,
    };
    println!("==> serving Prefab on http://{} (Ctrl-C to stop)", server.addr());
    server.wait();
    Ok(())
}

/// Where things are: the repository and the machine-wide cache.
pub struct Workspace {
    /// The repository's root folder.
    pub root: PathBuf,
    /// Tools and models kept between runs and between clones on this machine:
    /// `$PREFAB_CACHE`, else `$XDG_CACHE_HOME/prefab`, else `~/.cache/prefab`.
    /// It lives outside the repository, so nothing in it can be committed.
    pub cache: PathBuf,
}

impl Workspace {
    fn locate() -> Workspace {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace").to_path_buf();
        let cache = std::env::var_os("PREFAB_CACHE")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|dir| PathBuf::from(dir).join("prefab")))
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/prefab")))
            .unwrap_or_else(|| root.join("target/prefab-cache"));
        Workspace { root, cache }
    }

    /// Where `cargo install --root` puts Trunk and wasm-bindgen (their `bin/`).
    pub fn cargo_tools(&self) -> PathBuf {
        self.cache.join("tools")
    }

    /// The PATH that puts our tools ahead of whatever the machine has.
    pub fn tool_path(&self) -> std::ffi::OsString {
        let ours = [self.cargo_tools().join("bin"), setup::binaryen_bin(self)];
        let theirs = std::env::var_os("PATH").unwrap_or_default();
        std::env::join_paths(ours.into_iter().chain(std::env::split_paths(&theirs))).expect("paths join")
    }

    /// Where test artifacts (screenshots, logs) go.
    pub fn test_output(&self) -> PathBuf {
        self.root.join("target/test-output")
    }
}

/// Prints a step's headline, so a long run reads as a list of steps.
pub fn step(text: &str) {
    println!("==> {text}");
}
