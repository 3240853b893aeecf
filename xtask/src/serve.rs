//! A small static file server for `dist/` and `/models/` (and, for the
//! model benchmark only, `tests/bench/` under `/bench/`).
//!
//! It sends the two headers that make the page cross-origin isolated
//! (`Cross-Origin-Opener-Policy: same-origin`, `Cross-Origin-Embedder-Policy:
//! require-corp`), which a multi-threaded wasm build needs for
//! SharedArrayBuffer, and the MIME types browsers insist on (`application/wasm`
//! for streaming compilation, `text/javascript` for workers). The page's
//! files go compressed, every answer has an ETag (see [`crate::compression`]).
//! The tests use this same server, so what they check is what `cargo xtask
//! serve` serves.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use tiny_http::{Header, Method, Request, Response, StatusCode};

use crate::compression::{self, Compressed, Encoding, Stamp};

/// How many requests are answered at once: a thread is held for as long as a
/// browser takes to read a file (the page's wasm, a model download), and a
/// room has dozens of phones.
const THREADS: usize = 64;

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
        mounts.push(("/", dist.clone()));
        let compressed = Arc::new(Compressed::default());
        // The page's files are compressed in the background now, so the
        // first phones do not wait for it.
        let warming = Arc::clone(&compressed);
        std::thread::spawn(move || warm(&warming, &dist));
        let workers = Workers::start(http, THREADS, move |request| answer(request, &mounts, &compressed));
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

fn answer(request: Request, mounts: &[Mount], compressed: &Compressed) {
    let file = match request.method() {
        Method::Get | Method::Head => resolve(request.url(), mounts),
        _ => {
            let _ = request.respond(Response::from_string("only GET and HEAD").with_status_code(405));
            return;
        }
    };
    let opened = file.as_ref().and_then(|path| {
        let file = std::fs::File::open(path).ok()?;
        let meta = file.metadata().ok().filter(std::fs::Metadata::is_file)?;
        Some((path, file, meta))
    });
    let Some((path, file, meta)) = opened else {
        let _ = request.respond(Response::from_string("not found").with_status_code(StatusCode(404)));
        return;
    };
    let content_type = content_type(path);
    let compressible = compression::compressible(content_type, meta.len());
    let encoding = if compressible { compression::preferred(header_value(&request, "Accept-Encoding")) } else { Encoding::Identity };
    let stamp = Stamp::of(&meta);
    let etag = stamp.etag(encoding);
    let mut headers = vec![header("ETag", &etag)];
    headers.extend(ISOLATION_HEADERS.iter().map(|(name, value)| header(name, value)));
    if compressible {
        headers.push(header("Vary", "Accept-Encoding"));
    }
    if compression::not_modified(header_value(&request, "If-None-Match"), &etag) {
        let _ = request.respond(headers.into_iter().fold(Response::empty(304), Response::with_header));
        return;
    }
    headers.push(header("Content-Type", content_type));
    let _ = match encoding.header() {
        None => {
            // Always a Content-Length, never chunked: the page shows model
            // download progress from it.
            let response = Response::from_file(file).with_chunked_threshold(usize::MAX);
            request.respond(headers.into_iter().fold(response, Response::with_header))
        }
        Some(name) => match compressed.body(path, stamp, encoding) {
            Ok(body) => {
                headers.push(header("Content-Encoding", name));
                let response = Response::new(StatusCode(200), Vec::new(), std::io::Cursor::new(body.as_slice()), Some(body.len()), None);
                request.respond(headers.into_iter().fold(response, Response::with_header))
            }
            Err(message) => request.respond(Response::from_string(message).with_status_code(500)),
        },
    };
}

/// The value of a request's header, by name (any case).
fn header_value<'r>(request: &'r Request, name: &'static str) -> Option<&'r str> {
    request.headers().iter().find(|header| header.field.equiv(name)).map(|header| header.value.as_str())
}

/// Compresses the page's files (the top of `dist`) in every encoding.
fn warm(compressed: &Compressed, dist: &Path) {
    let Ok(entries) = std::fs::read_dir(dist) else { return };
    for path in entries.flatten().map(|entry| entry.path()) {
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        if meta.is_file() && compression::compressible(content_type(&path), meta.len()) {
            for encoding in [Encoding::Brotli, Encoding::Gzip] {
                let _ = compressed.body(&path, Stamp::of(&meta), encoding);
            }
        }
    }
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
        "webmanifest" => "application/manifest+json",
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

    /// A room: 50 clients load the page and the model at once; each gets
    /// every byte, the page's files compressed, the model as it is; a page
    /// opened again is a 304. Loopback only, bounded in count and time.
    #[test]
    fn fifty_clients_load_the_page_and_the_model_at_once() {
        use crate::room;
        use std::io::Read;
        use std::time::Duration;
        let root = std::env::temp_dir().join(format!("prefab-room-{}", std::process::id()));
        let (dist, models) = (root.join("dist"), root.join("models"));
        std::fs::create_dir_all(&dist).unwrap();
        std::fs::create_dir_all(&models).unwrap();
        let html = "<!doctype html><title>Prefab</title>".repeat(20);
        // A page's wasm is repetitive; a quantized model is not (a simple generator's bytes).
        let wasm: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8 ^ (i / 4096) as u8).collect();
        let mut random = prefab_core::prng::SplitMix64::new(7);
        let model: Vec<u8> = (0..16 << 20).map(|_| random.next_u64() as u8).collect();
        std::fs::write(dist.join("index.html"), &html).unwrap();
        std::fs::write(dist.join("prefab-app_bg.wasm"), &wasm).unwrap();
        std::fs::write(models.join("m.gguf"), &model).unwrap();
        let server = Server::start("127.0.0.1:0", dist, models).unwrap();

        let paths = ["/", "/prefab-app_bg.wasm", "/models/m.gguf"];
        let run = room::room(server.addr(), 50, &paths, &[("Accept-Encoding", "gzip, deflate, br")], Duration::from_secs(60)).unwrap();
        assert_eq!(run.answers.len(), 50);
        for answers in &run.answers {
            let [page, app, gguf] = &answers[..] else { panic!("three answers") };
            assert!(answers.iter().all(|answer| answer.status == 200));
            for (answer, original) in [(page, html.as_bytes()), (app, &wasm[..])] {
                assert_eq!(answer.header("content-encoding"), Some("br"));
                let mut decoded = Vec::new();
                brotli::Decompressor::new(&answer.body[..], 4096).read_to_end(&mut decoded).unwrap();
                assert!(decoded == original, "the decoded body is the file");
            }
            assert_eq!(gguf.header("content-encoding"), None, "a model goes as it is");
            assert!(gguf.body == model);
        }
        let per_client = run.wire_bytes / 50;
        assert!(per_client > model.len() as u64 && per_client < (model.len() + wasm.len() / 2) as u64, "{per_client} bytes each");

        // Opened again: the ETag says nothing changed.
        let first = &run.answers[0][1];
        let etag = first.header("etag").unwrap();
        let again = room::get(server.addr(), "/prefab-app_bg.wasm", &[("Accept-Encoding", "br"), ("If-None-Match", etag)], Duration::from_secs(10)).unwrap();
        assert_eq!((again.status, again.body.len(), again.header("etag")), (304, 0, Some(etag)));
        assert_eq!(again.header("cross-origin-embedder-policy"), Some("require-corp"));
        let plain = room::get(server.addr(), "/prefab-app_bg.wasm", &[("If-None-Match", etag)], Duration::from_secs(10)).unwrap();
        assert_eq!((plain.status, plain.header("content-encoding")), (200, None), "another encoding is another ETag");
        assert!(plain.body == wasm);
        drop(server);
        std::fs::remove_dir_all(&root).unwrap();
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
