//! A small static file server for `dist/` and `/models/` (and, for the
//! model benchmark only, `tests/bench/` under `/bench/`).
//!
//! It sends the two headers that make the page cross-origin isolated
//! (`Cross-Origin-Opener-Policy: same-origin`, `Cross-Origin-Embedder-Policy:
//! require-corp`), which a multi-threaded wasm build needs for
//! SharedArrayBuffer, and the MIME types browsers insist on (`application/wasm`
//! for streaming compilation, `text/javascript` for workers). The tests use
//! this same server, so what they check is what `cargo xtask serve` serves.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use tiny_http::{Header, Method, Request, Response, StatusCode};

/// How many requests are answered at once: a thread is held for as long as a
/// browser takes to read a file (the page's wasm, a model download).
const THREADS: usize = 16;

/// A running server; it stops when dropped.
pub struct Server {
    workers: Workers,
    addr: SocketAddr,
}

/// A folder served under a URL prefix: `("/models/", models)` serves
/// `models/a.gguf` as `/models/a.gguf`. The prefix starts and ends with `/`.
pub type Mount = (&'static str, PathBuf);

impl Server {
    /// Listens on `addr` (port 0 picks a free one) and serves `dist` and, under `/models/`, `models`.
    pub fn start(addr: &str, dist: PathBuf, models: PathBuf) -> Result<Server, String> {
        Server::start_with_mounts(addr, dist, models, Vec::new())
    }

    /// Like [`Server::start`], with more folders under their own prefixes.
    /// The model benchmark mounts `tests/bench/` (its page and wllama's
    /// files) this way, so they are same-origin with the worker and get the
    /// same headers, without copying anything into `dist/`.
    pub fn start_with_mounts(addr: &str, dist: PathBuf, models: PathBuf, extra: Vec<Mount>) -> Result<Server, String> {
        let http = listen(addr)?;
        let addr = http.server_addr().to_ip().ok_or("the server is not on an IP address")?;
        // The most specific prefix first; `dist` answers everything else.
        let mut mounts: Vec<Mount> = extra;
        mounts.push(("/models/", models));
        mounts.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        mounts.push(("/", dist));
        let workers = Workers::start(http, THREADS, move |request| answer(request, &mounts));
        Ok(Server { workers, addr })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Blocks until the process is stopped.
    pub fn wait(self) {
        self.workers.wait();
    }
}

/// A tiny_http server listening on `addr`, without Nagle's delay (see [`without_nagle`]).
pub fn listen(addr: &str) -> Result<tiny_http::Server, String> {
    let listener = std::net::TcpListener::bind(addr).map_err(|error| format!("cannot listen on {addr}: {error}"))?;
    tiny_http::Server::from_listener(without_nagle(listener), None).map_err(|error| format!("cannot listen on {addr}: {error}"))
}

/// Sets `TCP_NODELAY` on the listening socket, which the sockets it accepts
/// inherit (Linux, macOS). tiny_http writes a response through a 1 KiB buffer,
/// so any larger answer leaves in two writes; with Nagle's algorithm the
/// second waits for the ACK of the first, which a client on a kept-alive
/// connection delays by 40 ms: every such request took 40 ms or more.
#[cfg(unix)]
fn without_nagle(listener: std::net::TcpListener) -> std::net::TcpListener {
    use std::os::fd::OwnedFd;
    // The same socket seen as a stream for a moment, for `set_nodelay` (a setsockopt on it).
    let socket = std::net::TcpStream::from(OwnedFd::from(listener));
    if let Err(error) = socket.set_nodelay(true) {
        eprintln!("xtask: cannot set TCP_NODELAY ({error}); answers over 1 KiB may be slow");
    }
    std::net::TcpListener::from(OwnedFd::from(socket))
}

#[cfg(not(unix))]
fn without_nagle(listener: std::net::TcpListener) -> std::net::TcpListener {
    listener
}

/// A tiny_http server answered by a few threads; when dropped, the threads
/// are woken, stop and are joined. The static server and the local Hub both
/// run on it.
pub struct Workers {
    http: Arc<tiny_http::Server>,
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Answers every request of `http` with `answer`, on `count` threads.
    pub fn start(http: tiny_http::Server, count: usize, answer: impl Fn(Request) + Send + Sync + 'static) -> Workers {
        let (http, answer) = (Arc::new(http), Arc::new(answer));
        let threads = (0..count)
            .map(|_| {
                let (http, answer) = (Arc::clone(&http), Arc::clone(&answer));
                std::thread::spawn(move || {
                    for request in http.incoming_requests() {
                        answer(request);
                    }
                })
            })
            .collect();
        Workers { http, threads }
    }

    /// Blocks until the process is stopped.
    pub fn wait(mut self) {
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for _ in 0..self.threads.len() {
            self.http.unblock();
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn answer(request: Request, mounts: &[Mount]) {
    let file = match request.method() {
        Method::Get | Method::Head => resolve(request.url(), mounts),
        _ => {
            let _ = request.respond(Response::from_string("only GET and HEAD").with_status_code(405));
            return;
        }
    };
    let opened = file.as_ref().and_then(|path| std::fs::File::open(path).ok().map(|file| (path, file)));
    let _ = match opened {
        Some((path, file)) if path.is_file() => {
            // Always a Content-Length, never chunked: the page shows model
            // download progress from it.
            let mut response = Response::from_file(file)
                .with_chunked_threshold(usize::MAX)
                .with_header(header("Content-Type", content_type(path)));
            for (name, value) in ISOLATION_HEADERS {
                response.add_header(header(name, value));
            }
            request.respond(response)
        }
        _ => request.respond(Response::from_string("not found").with_status_code(StatusCode(404))),
    };
}

/// Sent with every file: cross-origin isolation, and no stale builds after a rebuild.
const ISOLATION_HEADERS: [(&str, &str); 3] = [
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Embedder-Policy", "require-corp"),
    ("Cache-Control", "no-cache"),
];

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("header names and values are ASCII")
}

/// The file a URL path names, or `None` for a path that could leave the
/// served folders. `mounts` is searched in order; the first prefix that
/// matches decides the folder.
fn resolve(url: &str, mounts: &[Mount]) -> Option<PathBuf> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let (root, rest) = mounts.iter().find_map(|(prefix, root)| Some((root, path.strip_prefix(prefix)?)))?;
    let rest = if rest.is_empty() || rest.ends_with('/') { format!("{rest}index.html") } else { rest.to_owned() };
    let safe = rest.split('/').all(|part| !part.is_empty() && part != "." && part != ".." && !part.contains('\\'));
    safe.then(|| root.join(rest))
}

/// The MIME type browsers expect for a file, from its extension.
fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|ext| ext.to_str()).unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" => "application/json",
        "md" | "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mounts `cargo xtask serve` uses, in the order the server searches them.
    fn mounts() -> Vec<Mount> {
        vec![("/models/", PathBuf::from("/m")), ("/", PathBuf::from("/d"))]
    }

    #[test]
    fn paths_map_to_dist_and_models() {
        let mounts = mounts();
        assert_eq!(resolve("/", &mounts), Some(PathBuf::from("/d/index.html")));
        assert_eq!(resolve("/?x=1#/build", &mounts), Some(PathBuf::from("/d/index.html")));
        assert_eq!(resolve("/prefab-app_bg.wasm", &mounts), Some(PathBuf::from("/d/prefab-app_bg.wasm")));
        assert_eq!(resolve("/models/a.gguf", &mounts), Some(PathBuf::from("/m/a.gguf")));
    }

    #[test]
    fn an_extra_mount_serves_its_own_folder() {
        let mut mounts = mounts();
        mounts.insert(0, ("/bench/", PathBuf::from("/b")));
        assert_eq!(resolve("/bench/page/", &mounts), Some(PathBuf::from("/b/page/index.html")));
        assert_eq!(resolve("/bench/x/y.wasm", &mounts), Some(PathBuf::from("/b/x/y.wasm")));
        assert_eq!(resolve("/benchmark.js", &mounts), Some(PathBuf::from("/d/benchmark.js")));
        assert_eq!(resolve("/bench/../etc/passwd", &mounts), None);
    }

    #[test]
    fn paths_that_could_leave_the_folders_are_refused() {
        let mounts = mounts();
        for url in ["/../etc/passwd", "/models/../x", "/a//b", "/a/./b", "/models/..\\x"] {
            assert_eq!(resolve(url, &mounts), None, "{url}");
        }
    }

    #[test]
    fn browsers_get_the_mime_types_they_insist_on() {
        assert_eq!(content_type(Path::new("x_bg.wasm")), "application/wasm");
        assert_eq!(content_type(Path::new("prefab-worker_loader.js")), "text/javascript; charset=utf-8");
        assert_eq!(content_type(Path::new("index.html")), "text/html; charset=utf-8");
        assert_eq!(content_type(Path::new("model.gguf")), "application/octet-stream");
    }

    #[cfg(unix)]
    #[test]
    fn accepted_connections_inherit_no_delay() {
        let listener = without_nagle(std::net::TcpListener::bind("127.0.0.1:0").unwrap());
        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        assert!(accepted.nodelay().unwrap());
    }
}
