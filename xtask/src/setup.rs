//! Installing the tools and building the page.
//!
//! Each `ensure_*` checks first and installs only what is missing or at the
//! wrong version, from the package registries only (crates.io, npm, Debian):
//! nothing is downloaded from anywhere else. Cargo tools go into the cache's
//! `tools/` folder, so every clone on this machine shares one build of them.

use crate::{step, Workspace};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Trunk 0.22 needs a newer rustc than this machine's; 0.21.14 builds on 1.95.
const TRUNK_VERSION: &str = "0.21.14";
/// Debian's wasm-opt 108 silently produces a broken .wasm; npm's binaryen 132 does not.
const BINARYEN_VERSION: &str = "132.0.0";
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Runs a command to completion, its output going straight to ours.
pub fn run(command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    let status = command.status().map_err(|error| format!("could not start {shown}: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

/// The first line a tool prints for `--version`, or `None` if it is not there.
fn version_of(program: &Path) -> Option<String> {
    let output = Command::new(program).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    output.status.success().then(|| text.lines().next().unwrap_or_default().to_owned())
}

/// The Rust target the page and the worker compile to.
pub fn ensure_wasm_target() -> Result<(), String> {
    let output = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|error| format!("could not run rustup: {error}"))?;
    if String::from_utf8_lossy(&output.stdout).lines().any(|line| line.trim() == "wasm32-unknown-unknown") {
        return Ok(());
    }
    step("installing the Rust target wasm32-unknown-unknown");
    run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))
}

/// A tool from crates.io, compiled once into the cache (several minutes on 2 cores).
fn ensure_cargo_tool(ws: &Workspace, krate: &str, version: &str, binary: &str, locked: bool) -> Result<(), String> {
    let installed = ws.cargo_tools().join("bin").join(binary);
    if version_of(&installed).is_some_and(|line| line.split_whitespace().any(|word| word == version)) {
        return Ok(());
    }
    step(&format!("compiling {krate} {version} once for this machine (a few minutes; cargo shows progress)"));
    let mut install = Command::new("cargo");
    install.args(["install", &format!("{krate}@{version}"), "--root"]).arg(ws.cargo_tools());
    if locked {
        install.arg("--locked");
    }
    run(&mut install)
}

/// The `wasm-bindgen` version in Cargo.lock, which the CLI must equal exactly.
pub fn locked_wasm_bindgen_version(ws: &Workspace) -> Result<String, String> {
    let lock_path = ws.root.join("Cargo.lock");
    let lock = std::fs::read_to_string(&lock_path).map_err(|error| format!("{}: {error}", lock_path.display()))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\"" {
            if let Some(version) = lines.next().and_then(|next| next.strip_prefix("version = \"")) {
                return Ok(version.trim_end_matches('"').to_owned());
            }
        }
    }
    Err(format!("{}: no wasm-bindgen package in the lock file", lock_path.display()))
}

/// Where npm puts binaryen's `wasm-opt`.
pub fn binaryen_bin(ws: &Workspace) -> PathBuf {
    ws.cache.join(format!("tools/binaryen-{BINARYEN_VERSION}/node_modules/.bin"))
}

fn ensure_binaryen(ws: &Workspace) -> Result<(), String> {
    let wasm_opt = binaryen_bin(ws).join("wasm-opt");
    let major = BINARYEN_VERSION.split('.').next().unwrap_or_default();
    if version_of(&wasm_opt).is_some_and(|line| line.contains(&format!("version {major}"))) {
        return Ok(());
    }
    step(&format!("installing wasm-opt from the npm package binaryen@{BINARYEN_VERSION}"));
    let folder = ws.cache.join(format!("tools/binaryen-{BINARYEN_VERSION}"));
    std::fs::create_dir_all(&folder).map_err(|error| format!("{}: {error}", folder.display()))?;
    run(Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--save-exact", &format!("binaryen@{BINARYEN_VERSION}")])
        .current_dir(&folder))
}

/// Everything `trunk build` needs.
pub fn ensure_build_tools(ws: &Workspace) -> Result<(), String> {
    ensure_wasm_target()?;
    ensure_cargo_tool(ws, "trunk", TRUNK_VERSION, "trunk", true)?;
    // Without --locked: the CLI's own lock file pins a crate version this
    // registry lacks.
    let bindgen = locked_wasm_bindgen_version(ws)?;
    ensure_cargo_tool(ws, "wasm-bindgen-cli", &bindgen, "wasm-bindgen", false)?;
    ensure_binaryen(ws)
}

/// Headless Chromium and its driver, from Debian.
pub fn ensure_chromium() -> Result<(), String> {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return Ok(());
    }
    step("installing Chromium and ChromeDriver from Debian's packages");
    apt_install(&["chromium", "chromium-driver"])
}

/// Installs Debian packages (the package list is updated first).
fn apt_install(packages: &[&str]) -> Result<(), String> {
    let apt = |args: &[&str]| run(Command::new("apt-get").args(args).env("DEBIAN_FRONTEND", "noninteractive"));
    apt(&["update"])?;
    let install: Vec<&str> = ["install", "-y", "--no-install-recommends"].into_iter().chain(packages.iter().copied()).collect();
    if apt(&install).is_err() {
        // A dpkg run that stopped midway is mended by `install -f`; then try again.
        apt(&["install", "-y", "-f"])?;
        apt(&install)?;
    }
    Ok(())
}

/// geckodriver's version, from crates.io.
const GECKODRIVER_VERSION: &str = "0.37.1";
const FIREFOX: &str = "/usr/bin/firefox-esr";
const WEBKIT_WEBDRIVER: &str = "/usr/bin/WebKitWebDriver";
const XVFB: &str = "/usr/bin/Xvfb";

/// Where the other engines the end-to-end tests drive are: Firefox ESR and
/// geckodriver, WebKitGTK's driver and browser, and the X server WebKitGTK
/// needs.
pub struct Engines {
    pub geckodriver: PathBuf,
    pub firefox: PathBuf,
    pub webkit_webdriver: PathBuf,
    pub webkit_browser: PathBuf,
    pub xvfb: PathBuf,
}

/// Firefox ESR, WebKitGTK's WebDriver and Xvfb from Debian's packages, and
/// geckodriver compiled from crates.io (once, a few minutes).
pub fn ensure_engines(ws: &Workspace) -> Result<Engines, String> {
    if ![FIREFOX, WEBKIT_WEBDRIVER, XVFB].iter().all(|path| Path::new(path).exists()) || webkit_browser().is_none() {
        step("installing Firefox ESR, WebKitGTK's WebDriver and Xvfb from Debian's packages");
        apt_install(&["firefox-esr", "webkit2gtk-driver", "xvfb"])?;
    }
    ensure_cargo_tool(ws, "geckodriver", GECKODRIVER_VERSION, "geckodriver", true)?;
    Ok(Engines {
        geckodriver: ws.cargo_tools().join("bin/geckodriver"),
        firefox: FIREFOX.into(),
        webkit_webdriver: WEBKIT_WEBDRIVER.into(),
        webkit_browser: webkit_browser().ok_or("WebKitGTK's MiniBrowser is missing after installing webkit2gtk-driver")?,
        xvfb: XVFB.into(),
    })
}

/// WebKitGTK's MiniBrowser, under `/usr/lib/<architecture>/webkit2gtk-4.1/`.
fn webkit_browser() -> Option<PathBuf> {
    std::fs::read_dir("/usr/lib").ok()?.flatten().map(|entry| entry.path().join("webkit2gtk-4.1/MiniBrowser")).find(|path| path.is_file())
}

/// The paths of the Chromium binary and its driver.
pub fn chromium_paths() -> (&'static str, &'static str) {
    (CHROMIUM, CHROMEDRIVER)
}

/// `playwright-core` for the end-to-end tests, from the committed lock file.
/// It drives Debian's Chromium; it never downloads a browser of its own.
pub fn ensure_playwright(ws: &Workspace) -> Result<(), String> {
    ensure_node_modules(&ws.root.join("tests/e2e"), "playwright-core")
}

/// `@huggingface/hub` for the local Hub's JavaScript client check, from its lock file.
pub fn ensure_hub_js(ws: &Workspace) -> Result<(), String> {
    ensure_node_modules(&ws.root.join("tests/hub-js"), "@huggingface/hub")
}

/// The npm packages a folder's committed `package-lock.json` names
/// (`what` says which, for the step's headline), installed with `npm ci`
/// unless they were installed after the lock file last changed.
pub fn ensure_node_modules(folder: &Path, what: &str) -> Result<(), String> {
    let installed = folder.join("node_modules/.package-lock.json");
    let up_to_date = match (std::fs::metadata(&installed), std::fs::metadata(folder.join("package-lock.json"))) {
        (Ok(installed), Ok(lock)) => installed.modified().ok() >= lock.modified().ok(),
        _ => false,
    };
    if up_to_date {
        return Ok(());
    }
    step(&format!("installing {what} (npm ci)"));
    run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(folder))
}

/// Builds the release page into `dist/` and returns that folder.
pub fn build_dist(ws: &Workspace) -> Result<PathBuf, String> {
    ensure_build_tools(ws)?;
    let dist = ws.root.join("dist");
    // Trunk re-runs wasm-opt on both modules even when nothing changed
    // (minutes on 2 cores): skip it when no input changed since the last build.
    let stamp = ws.root.join("target/dist.stamp");
    let inputs = source_fingerprint(&ws.root);
    if dist.join("index.html").is_file() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(inputs.as_str()) {
        step("the release page in dist/ is up to date");
        return Ok(dist);
    }
    // Trunk builds offline (it must never download tools), so the crates are fetched first.
    run(Command::new("cargo").args(["fetch", "--quiet"]).current_dir(&ws.root))?;
    step("building the release page with Trunk into dist/");
    let _ = std::fs::remove_file(&stamp);
    run(Command::new(ws.cargo_tools().join("bin/trunk"))
        .args(["build", "--release"])
        .current_dir(&ws.root)
        .env("PATH", ws.tool_path())
        .env("TRUNK_SKIP_VERSION_CHECK", "true"))?;
    let index = dist.join("index.html");
    let html = std::fs::read_to_string(&index).map_err(|error| format!("reading {}: {error}", index.display()))?;
    std::fs::write(&index, crate::csp::with_policy(&html)?).map_err(|error| format!("writing {}: {error}", index.display()))?;
    crate::service_worker::stamp(&dist)?;
    let _ = std::fs::write(&stamp, inputs);
    Ok(dist)
}

/// What the release page is built from — every file's path, size and
/// modification time under `crates/` and `www/`, and the workspace's
/// manifests — as one line per file: equal fingerprints mean nothing changed.
fn source_fingerprint(root: &Path) -> String {
    fn line(root: &Path, path: &Path, meta: &std::fs::Metadata) -> String {
        let modified = meta.modified().ok().and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |time| time.as_nanos());
        format!("{} {} {modified}", path.strip_prefix(root).unwrap_or(path).display(), meta.len())
    }
    fn walk(root: &Path, folder: &Path, lines: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(folder) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => walk(root, &path, lines),
                Ok(meta) => lines.push(line(root, &path, &meta)),
                Err(_) => {}
            }
        }
    }
    let mut lines = Vec::new();
    for folder in ["crates", "www"] {
        walk(root, &root.join(folder), &mut lines);
    }
    for file in ["Cargo.toml", "Cargo.lock", "Trunk.toml"] {
        if let Ok(meta) = std::fs::metadata(root.join(file)) {
            lines.push(line(root, &root.join(file), &meta));
        }
    }
    lines.sort();
    lines.join("\n")
}
