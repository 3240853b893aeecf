//! The real third-party services the tests run against, started by xtask.
//!
//! - Python venvs kept in the cache and reinstalled only when their
//!   requirements file changes: the test tools of `tests/python/requirements.txt`
//!   (llama-cpp-python is compiled from source: minutes, once per machine), and
//!   the Hub's official clients of `tests/python/hub_requirements.txt`, apart so
//!   that changing either never reinstalls the other;
//! - llama.cpp's OpenAI-compatible server (llama-cpp-python) serving the test model;
//! - `tests/python/fault_proxy.py` in front of it, injecting the failures
//!   hosted APIs really have (429, 503 loading, 500, cut streams, silence).
//!
//! Both listen on free loopback ports and are stopped when dropped.

use crate::setup::run;
use crate::{step, Workspace};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The test-tools venv's python, installing or updating the venv first if needed.
pub fn ensure_test_python(ws: &Workspace) -> Result<PathBuf, String> {
    ensure_venv(
        ws,
        "test-tools",
        "tests/python/requirements.txt",
        "the Python test tools (llama-cpp-python compiles llama.cpp once: several minutes)",
        LLAMA_CPP_BUILD,
    )
}

/// How llama.cpp is compiled: for a portable AVX2 x86-64, not `-march=native`.
/// A native build uses AMX on CPUs that advertise it, and a sandbox that does
/// not grant AMX to the process kills the server with an invalid opcode on
/// its first chat completion (seen on this project's machines).
const LLAMA_CPP_BUILD: &[(&str, &str)] =
    &[("CMAKE_ARGS", "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON")];

/// The venv with `huggingface_hub` and `datasets`, the local Hub's reference clients.
pub fn ensure_hub_clients_python(ws: &Workspace) -> Result<PathBuf, String> {
    ensure_venv(ws, "hub-clients", "tests/python/hub_requirements.txt", "the Hugging Face Hub's Python clients (huggingface_hub, datasets)", &[])
}

/// The python of the cache's venv `name`, (re)installed from the repository's
/// `requirements` file when that file, or the build environment `env`,
/// changed since the last install.
fn ensure_venv(ws: &Workspace, name: &str, requirements: &str, what: &str, env: &[(&str, &str)]) -> Result<PathBuf, String> {
    let requirements_path = ws.root.join(requirements);
    let mut requirements = std::fs::read_to_string(&requirements_path).map_err(|error| format!("{}: {error}", requirements_path.display()))?;
    for (key, value) in env {
        requirements.push_str(&format!("# built with {key}={value}\n"));
    }
    let venv = ws.cache.join("venvs").join(name);
    let python = venv.join("bin/python");
    let stamp = venv.join("prefab-requirements.txt");
    if std::fs::read_to_string(&stamp).is_ok_and(|installed| installed == requirements) && python.exists() {
        return Ok(python);
    }
    step(&format!("installing {what}"));
    if !python.exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    let cores = std::thread::available_parallelism().map_or(2, |cores| cores.get());
    // No wheel cache: a wheel built before with other flags must not come back.
    let mut install = Command::new(&python);
    install
        .args(["-m", "pip", "install", "--disable-pip-version-check", "--no-cache-dir", "-r"])
        .arg(&requirements_path)
        // CMake (which builds llama.cpp) otherwise compiles one file at a time.
        .env("CMAKE_BUILD_PARALLEL_LEVEL", cores.to_string())
        .envs(env.iter().copied());
    // A venv built with other flags already "has" its packages: build them anew.
    if !env.is_empty() {
        install.arg("--force-reinstall");
    }
    run(&mut install)?;
    std::fs::write(&stamp, requirements).map_err(|error| format!("{}: {error}", stamp.display()))?;
    Ok(python)
}

/// A background process that is killed when this is dropped.
pub struct Service {
    name: &'static str,
    child: Child,
    /// Its base URL, such as `http://127.0.0.1:40123`.
    pub url: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        println!("stopped {}", self.name);
    }
}

/// Starts llama.cpp's server on the model, as `smollm2`, and waits until it serves.
pub fn start_llama_server(python: &Path, model: &Path, log_dir: &Path) -> Result<Service, String> {
    let port = free_port()?;
    let log = std::fs::File::create(log_dir.join("llama-server.log")).map_err(|error| error.to_string())?;
    let child = Command::new(python)
        .args(["-m", "llama_cpp.server", "--model"])
        .arg(model)
        .args(["--model_alias", "smollm2", "--host", "127.0.0.1", "--port", &port.to_string(), "--n_ctx", "2048"])
        // By default llama-cpp-python ends a streaming answer early, with a
        // normal [DONE], whenever another request waits; the pool sends
        // several at once, so queue them as vLLM and TGI would.
        .args(["--interrupt_requests", "False"])
        .stdout(log.try_clone().map_err(|error| error.to_string())?)
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|error| format!("could not start llama-cpp-python's server: {error}"))?;
    let mut service = Service { name: "llama.cpp server", child, url: format!("http://127.0.0.1:{port}") };
    wait_until_serving(&mut service, "/v1/models", Duration::from_secs(120))?;
    Ok(service)
}

/// Starts the fault-injecting proxy in front of `upstream`.
pub fn start_fault_proxy(ws: &Workspace, python: &Path, upstream: &Service) -> Result<Service, String> {
    let port = free_port()?;
    let child = Command::new(python)
        .arg(ws.root.join("tests/python/fault_proxy.py"))
        .args(["--port", &port.to_string(), "--upstream"])
        .arg(upstream.url.trim_start_matches("http://"))
        .stdin(Stdio::null())
        .spawn()
        .map_err(|error| format!("could not start the fault proxy: {error}"))?;
    let mut service = Service { name: "fault proxy", child, url: format!("http://127.0.0.1:{port}") };
    wait_until_serving(&mut service, "/pass/ready/v1/models", Duration::from_secs(30))?;
    Ok(service)
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|error| format!("no free port: {error}"))?;
    listener.local_addr().map(|addr| addr.port()).map_err(|error| error.to_string())
}

/// Polls `GET path` until it answers 200, the process dies, or time runs out.
fn wait_until_serving(service: &mut Service, path: &str, limit: Duration) -> Result<(), String> {
    let started = Instant::now();
    let address = service.url.trim_start_matches("http://").to_owned();
    while started.elapsed() < limit {
        if let Ok(Some(status)) = service.child.try_wait() {
            return Err(format!("the {} exited ({status}) before it served", service.name));
        }
        if let Ok(mut stream) = TcpStream::connect(&address) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let request = format!("GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n");
            let mut answer = [0u8; 12];
            if stream.write_all(request.as_bytes()).is_ok() && stream.read_exact(&mut answer).is_ok() && answer.ends_with(b"200") {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Err(format!("the {} did not answer {path} at {} within {} s", service.name, service.url, limit.as_secs()))
}

/// An X server in memory (Xvfb) for the browsers that need a display; it
/// stops when dropped.
pub struct Display {
    child: Child,
    name: String,
}

impl Display {
    /// The `DISPLAY` value, `:N`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Xvfb on a free display number; returns once it accepts clients
/// (`-displayfd` prints the number only then).
pub fn start_xvfb(xvfb: &Path) -> Result<Display, String> {
    let mut child = Command::new(xvfb)
        .args(["-displayfd", "1", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("could not start {}: {error}", xvfb.display()))?;
    let mut number = String::new();
    let mut stdout = child.stdout.take().ok_or("Xvfb has no stdout")?;
    let mut byte = [0u8; 1];
    while stdout.read(&mut byte).map_err(|error| format!("reading Xvfb's display number: {error}"))? == 1 && byte[0] != b'\n' {
        number.push(byte[0] as char);
    }
    if number.trim().is_empty() {
        let _ = child.kill();
        return Err("Xvfb exited without a display number".to_owned());
    }
    Ok(Display { child, name: format!(":{}", number.trim()) })
}
