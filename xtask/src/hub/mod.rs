//! A local Hugging Face Hub: the subset of huggingface.co's HTTP API that the
//! page and the official clients (`huggingface_hub`, `datasets`,
//! `@huggingface/hub`) use, served from a plain folder.
//!
//! The Hub cannot be reached from the test machines, so Prefab's tests run
//! against this; it is checked with the official clients themselves
//! (`tests/python/hub_clients.py`, `tests/hub-js/`), so what the page is
//! tested against behaves like the real thing. The same server can host a
//! workshop on a LAN: everything lives in the folder given to
//! [`LocalHub::start`], each dataset's `main` checked out as plain files.
//!
//! - [`oauth`]: sign-in (OAuth 2 code flow with PKCE), `/oauth/*`;
//! - [`api`]: whoami, repos, trees, downloads, preupload, commits, pull requests;
//! - [`lfs`]: the git-lfs batch API and uploads;
//! - [`viewer`]: datasets-server under `/datasets-server/`;
//! - [`repo`]: the pure rules (commits, trees, LFS decisions, globs);
//! - [`campaign`]: what a contributor may push to a campaign's pull requests;
//! - [`store`]: state on disk, and who may do what;
//! - [`faults`]: injected failures, and `/_local/*` admin, in test mode only;
//! - [`http`]: requests, replies, CORS, errors;
//! - [`check`]: seeding the test fixtures and running the client checks.

pub mod api;
pub mod campaign;
pub mod check;
pub mod faults;
pub mod http;
pub mod lfs;
pub mod oauth;
pub mod repo;
pub mod store;
pub mod viewer;

use crate::serve::Workers;
use http::{HubError, Reply, Req};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

/// Requests answered at once: the page's parallel uploads, and a client check or two.
const THREADS: usize = 6;

/// How a seeded dataset behaves.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub private: bool,
    /// `Some("manual")`: files and rows only for members and users granted access.
    pub gated: Option<String>,
    /// `false`: datasets-server says the viewer is disabled.
    pub viewer: bool,
}

impl Default for SeedOptions {
    fn default() -> SeedOptions {
        SeedOptions { private: false, gated: None, viewer: true }
    }
}

/// What the worker threads share.
pub struct Shared {
    state: Mutex<store::State>,
    codes: Mutex<oauth::Codes>,
    tickets: Mutex<HashMap<String, lfs::Ticket>>,
    faults: Mutex<Vec<faults::Fault>>,
    dir: PathBuf,
    test_mode: bool,
    /// `http://ADDR:PORT`, used when a request has no Host header.
    url: String,
    /// `dir/.hub/requests.log`: one line per request and its status, for reading a failed test.
    log: Mutex<Option<std::fs::File>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, store::State> {
        // A panic in one request must not take the hub down for the others.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The base URL as the caller sees it (a LAN address, 127.0.0.1, …).
    fn base(&self, req: &Req) -> String {
        match req.header("host") {
            Some(host) if !host.is_empty() && !host.contains(['/', ' ']) => format!("http://{host}"),
            _ => self.url.clone(),
        }
    }
}

/// A running hub; it stops when dropped.
pub struct LocalHub {
    shared: Arc<Shared>,
    _workers: Workers,
}

impl LocalHub {
    /// Serves the Hub from `dir` (created if needed) on `addr` (port 0 picks a
    /// free one). `test_mode` enables the `/_local/*` admin endpoints.
    pub fn start(addr: &str, dir: PathBuf, test_mode: bool) -> Result<LocalHub, String> {
        std::fs::create_dir_all(&dir).map_err(|error| format!("{}: {error}", dir.display()))?;
        let state = store::State::load(&dir)?;
        let http = crate::serve::listen(addr)?;
        let bound = http.server_addr().to_ip().ok_or("the hub is not on an IP address")?;
        let host = if bound.ip().is_unspecified() { "127.0.0.1".to_owned() } else { bound.ip().to_string() };
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            codes: Mutex::default(),
            tickets: Mutex::default(),
            faults: Mutex::default(),
            dir: dir.clone(),
            test_mode,
            url: format!("http://{host}:{}", bound.port()),
            log: Mutex::new(std::fs::OpenOptions::new().create(true).append(true).open(dir.join(".hub/requests.log")).ok()),
        });
        let workers = {
            let shared = Arc::clone(&shared);
            Workers::start(http, THREADS, move |request| answer(&shared, request))
        };
        Ok(LocalHub { shared, _workers: workers })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        self.shared.url.clone()
    }

    /// Mints an access token for `user` with these scopes, as OAuth would.
    pub fn issue_token(&self, user: &str, scopes: &[&str]) -> String {
        let token = format!("hf_{}", store::random_string(34));
        let mut state = self.shared.state();
        state.users.tokens.insert(
            token.clone(),
            store::Token { user: user.to_owned(), scopes: scopes.iter().map(|s| s.to_string()).collect(), expires_at: http::now() + store::TOKEN_LIFETIME, name: "issued".into() },
        );
        let _ = state.save_users();
        token
    }

    /// Makes `user` a member (write) of org `org`.
    pub fn add_org_member(&self, org: &str, user: &str) {
        let mut state = self.shared.state();
        state.users.orgs.entry(org.to_owned()).or_default().insert(user.to_owned());
        let _ = state.save_users();
    }

    /// Creates (or replaces) a dataset repo owned by its namespace with these files, as one commit.
    pub fn seed_dataset(&self, repo: &str, files: &[(&str, Vec<u8>)], options: SeedOptions) -> Result<(), String> {
        let (namespace, name) = repo.split_once('/').ok_or_else(|| format!("{repo}: not namespace/name"))?;
        if !store::valid_name(namespace) || !store::valid_name(name) {
            return Err(format!("{repo}: not a valid repo name"));
        }
        let operations: Vec<repo::Operation> = files
            .iter()
            .map(|(path, content)| {
                let sha = store::put_blob(&self.shared.dir, content)?;
                let lfs = repo::upload_mode(path, content.len() as u64, &content[..content.len().min(512)], repo::DEFAULT_GITATTRIBUTES) == "lfs";
                Ok(if lfs {
                    repo::Operation::AddLfs { path: path.to_string(), sha256: sha, size: None }
                } else {
                    repo::Operation::Add { path: path.to_string(), content: content.clone() }
                })
            })
            .collect::<Result<_, String>>()?;
        let mut state = self.shared.state();
        let old_main = state.repos.get(repo).map(|existing| existing.main().files.clone());
        state.repos.remove(repo);
        api::new_repo(&mut state, repo, options.private, namespace)?;
        let dir = state.dir.clone();
        let salt = state.next_salt();
        let entry = state.repos.get_mut(repo).expect("just created");
        entry.gated = options.gated;
        entry.viewer = options.viewer;
        let files = repo::apply(&entry.main().files, &operations, &|sha| store::blob_size(&dir, sha))?;
        let commit = repo::Commit::new(vec![entry.refs["main"].clone()], "Seed the dataset", "", namespace, http::now(), files, salt);
        entry.refs.insert("main".into(), commit.id.clone());
        entry.commits.insert(commit.id.clone(), commit);
        if let Some(old) = &old_main {
            // Files of the replaced repo that the new one lacks leave the checkout too.
            let _ = state.save_repo(repo, Some(old));
        }
        state.save_repo(repo, None)
    }

}

/// Grants `user` access to a gated repo (as accepting its conditions would).
fn grant(state: &mut store::State, repo: &str, user: &str) -> Result<(), HubError> {
    let main = state.repos.get(repo).map(|r| r.main().files.clone()).ok_or_else(|| HubError::new(404, Some("RepoNotFound"), "Repository not found"))?;
    state.repos.get_mut(repo).expect("checked").granted.insert(user.to_owned());
    state.save_repo(repo, Some(&main)).map_err(|error| HubError::new(500, None, error))
}

/// Body limits: an LFS upload is at most a file; a commit carries base64 regular files.
fn body_limit(url: &str) -> u64 {
    if url.starts_with("/lfs-upload/") {
        repo::FILE_MAX
    } else {
        repo::FILE_MAX * 4 / 3 + (1 << 20)
    }
}

fn answer(hub: &Shared, mut request: tiny_http::Request) {
    let limit = body_limit(request.url());
    let req = match Req::read(&mut request, limit) {
        Ok(req) => req,
        Err(error) => {
            let req = Req::new(request.method().as_str(), request.url(), vec![]);
            let _ = request.respond(error.reply().with_cors(&req).into_response());
            return;
        }
    };
    if hub.test_mode {
        let faults_lock = || hub.faults.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Whose token this is, only when a rule is for one user (one lock at a time).
        let user = if faults::any_for_a_user(&faults_lock()) {
            req.bearer().and_then(|bearer| hub.state().users.tokens.get(bearer).map(|token| token.user.clone()))
        } else {
            None
        };
        let injected = faults::take(&mut faults_lock(), &req, user.as_deref());
        match injected {
            Some(faults::Injected::Drop) => {
                hub.log_line(&req, "dropped (fault)");
                // The server is gone behind its proxy, mid-request: the proxy's
                // 503 carries none of the Hub's CORS headers, so a page's fetch
                // fails as on a cut connection (a network error), and Python
                // clients see the 503. (tiny_http cannot close a kept-alive
                // socket, and a browser waits forever on one that says nothing.)
                let gone = tiny_http::Response::from_string("upstream connect error or disconnect/reset before headers")
                    .with_status_code(503)
                    .with_header(tiny_http::Header::from_bytes("Connection", "close").expect("ASCII header"));
                let _ = request.respond(gone);
                return;
            }
            Some(faults::Injected::Reply(reply)) => {
                hub.log_line(&req, &format!("{} (fault)", reply.status));
                let _ = request.respond(reply.with_cors(&req).into_response());
                return;
            }
            None => {}
        }
    }
    let reply = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| route(hub, &req)))
        .unwrap_or_else(|_| Err(HubError::new(500, None, "internal error (see the hub's output)")))
        .unwrap_or_else(|error| error.reply());
    let reply = if req.method == "HEAD" { reply.into_head() } else { reply };
    hub.log_line(&req, &reply.status.to_string());
    let _ = request.respond(reply.with_cors(&req).into_response());
}

impl Shared {
    fn log_line(&self, req: &Req, outcome: &str) {
        if let Some(file) = self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).as_mut() {
            let _ = writeln!(file, "{} {} {} -> {outcome}", http::iso_date(http::now()), req.method, req.url);
        }
    }
}

fn route(hub: &Shared, req: &Req) -> Result<Reply, HubError> {
    let base = hub.base(req);
    let segments: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let get = matches!(req.method.as_str(), "GET" | "HEAD");
    match (req.method.as_str(), segments.as_slice()) {
        ("OPTIONS", _) => Ok(Reply::new(204, "text/plain", Vec::new())),
        (_, [".well-known", "openid-configuration"]) if get => Ok(oauth::openid_configuration(&base)),
        (_, ["oauth", "authorize"]) if get => Ok(oauth::authorize_page(req)),
        ("POST", ["oauth", "authorize"]) => {
            let state = hub.state();
            Ok(oauth::authorize_submit(req, &state, &mut hub.codes.lock().unwrap_or_else(|p| p.into_inner())))
        }
        ("POST", ["oauth", "token"]) => {
            let mut state = hub.state();
            Ok(oauth::token(req, &base, &mut state, &mut hub.codes.lock().unwrap_or_else(|p| p.into_inner())))
        }
        (_, ["oauth", "userinfo"]) if get => Ok(oauth::userinfo(req, &base, &hub.state())),
        (_, ["api", "whoami-v2"]) if get => api::whoami(req, &base, &hub.state()),
        ("POST", ["api", "repos", "create"]) => api::create_repo(req, &base, &mut hub.state()),
        ("DELETE", ["api", "repos", "delete"]) => api::delete_repo(req, &mut hub.state()),
        ("POST", ["api", "validate-yaml"]) => api::validate_yaml(req),
        (_, ["api", "datasets", namespace, name, rest @ ..]) => api::dataset(hub, req, &base, &format!("{namespace}/{name}"), rest),
        ("POST", ["datasets", namespace, git, "info", "lfs", "objects", action]) if git.ends_with(".git") => {
            let id = format!("{namespace}/{}", git.trim_end_matches(".git"));
            match *action {
                "batch" => lfs::batch(hub, req, &base, &id),
                "verify" => lfs::verify(hub, req, &id),
                _ => Err(HubError::new(404, None, "unknown LFS endpoint")),
            }
        }
        ("PUT", ["lfs-upload", oid]) => lfs::upload(hub, req, oid),
        (_, ["datasets", namespace, name, kind @ ("resolve" | "raw"), rest @ ..]) if get => {
            api::resolve(hub, req, &format!("{namespace}/{name}"), rest, *kind == "raw")
        }
        (_, ["datasets-server", endpoint]) if get => viewer::handle(hub, req, &base, endpoint),
        (_, ["_local", rest @ ..]) if hub.test_mode => admin(hub, req, rest),
        (_, ["avatars", name]) if get => Ok(avatar_svg(name)),
        (_, []) if get => Ok(Reply::html(200, format!("<!doctype html><title>Local Hub</title><h1>Local Hub</h1><p>A local Hugging Face Hub for Prefab, at {}.</p>", http::html_escape(&base)))),
        (method, _) => Err(HubError::new(404, None, format!("no route for {method} {}", req.url.split('?').next().unwrap_or_default()))),
    }
}

/// `/_local/faults` (GET, POST, DELETE) and `/_local/grant` (POST `{"repo", "user"}`).
fn admin(hub: &Shared, req: &Req, rest: &[&str]) -> Result<Reply, HubError> {
    let mut faults = hub.faults.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    match (req.method.as_str(), rest) {
        ("GET", ["faults"]) => Ok(Reply::json(&serde_json::to_value(&*faults).unwrap_or_default())),
        ("POST", ["faults"]) => {
            faults.extend(faults::parse(&req.body)?);
            Ok(Reply::json(&serde_json::to_value(&*faults).unwrap_or_default()))
        }
        ("DELETE", ["faults"]) => {
            faults.clear();
            Ok(Reply::json(&serde_json::json!([])))
        }
        ("POST", ["grant"]) => {
            drop(faults);
            let body = req.json()?;
            let (Some(repo), Some(user)) = (body["repo"].as_str(), body["user"].as_str()) else {
                return Err(HubError::bad_request("grant needs {\"repo\", \"user\"}"));
            };
            grant(&mut hub.state(), repo, user)?;
            Ok(Reply::json(&serde_json::json!({"repo": repo, "user": user, "granted": true})))
        }
        _ => Err(HubError::new(404, None, "unknown admin endpoint")),
    }
}

/// A plain initial-letter avatar, so pictures resolve without the internet.
fn avatar_svg(name: &str) -> Reply {
    let name = name.trim_end_matches(".svg");
    let letter = name.chars().next().unwrap_or('?').to_uppercase().to_string();
    let hue = name.bytes().fold(0u32, |hash, b| hash.wrapping_mul(31).wrapping_add(b as u32)) % 360;
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 32 32\"><rect width=\"32\" height=\"32\" rx=\"16\" fill=\"hsl({hue},60%,45%)\"/>\
         <text x=\"16\" y=\"21\" font-size=\"15\" text-anchor=\"middle\" fill=\"#fff\" font-family=\"sans-serif\">{}</text></svg>",
        http::html_escape(&letter)
    );
    Reply::new(200, "image/svg+xml", svg.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree endpoint as a client sees it: 2,500 files (and
    /// `.gitattributes`) come in pages of 1,000 (50 with `expand`), each
    /// naming the next with an absolute `Link` on the address the client
    /// used, until the last.
    #[test]
    fn the_tree_is_paged_with_link_headers() {
        let dir = std::env::temp_dir().join(format!("prefab-hub-pages-{}", store::random_string(8)));
        let hub = LocalHub::start("127.0.0.1:0", dir.clone(), true).unwrap();
        let files: Vec<(String, Vec<u8>)> = (0..2500).map(|i| (format!("shard-{}/f-{i:04}.txt", i % 2), i.to_string().into_bytes())).collect();
        let files: Vec<(&str, Vec<u8>)> = files.iter().map(|(path, content)| (path.as_str(), content.clone())).collect();
        hub.seed_dataset("prefab-test/many", &files, SeedOptions::default()).unwrap();
        let get = |url: &str| {
            let headers = vec![("Host".to_owned(), "10.0.0.7:8001".to_owned()), ("Origin".to_owned(), "http://10.0.0.7:8080".to_owned())];
            let req = Req::new("GET", url, headers);
            route(&hub.shared, &req).unwrap().with_cors(&req)
        };
        for (query, sizes) in [("recursive=true", vec![1000, 1000, 503]), ("recursive=True&expand=True", [50].repeat(50).into_iter().chain([3]).collect())] {
            let first = format!("/api/datasets/prefab-test/many/tree/main?{query}");
            let mut url = first.clone();
            let (mut paths, mut pages) = (Vec::new(), Vec::new());
            loop {
                let reply = get(&url);
                assert_eq!(reply.status, 200);
                assert!(reply.header("Access-Control-Expose-Headers").unwrap().contains("Link"));
                let page: Vec<serde_json::Value> = serde_json::from_slice(&reply.body).unwrap();
                pages.push(page.len());
                paths.extend(page.iter().map(|entry| entry["path"].as_str().unwrap().to_owned()));
                let Some(link) = reply.header("Link") else { break };
                let next = link.strip_prefix("<http://10.0.0.7:8001").and_then(|rest| rest.strip_suffix(">; rel=\"next\"")).unwrap_or_else(|| panic!("{link}"));
                assert!(next.starts_with(&first) && next[first.len()..].starts_with("&cursor="), "{next}");
                url = next.to_owned();
            }
            assert_eq!(pages, sizes, "{query}");
            let mut expected: Vec<String> = ["shard-0", "shard-1", ".gitattributes"].map(String::from).into();
            expected.extend(files.iter().map(|(path, _)| path.to_string()).collect::<std::collections::BTreeSet<_>>());
            assert_eq!(paths, expected, "{query}");
        }
        // A page of a folder, and a cursor the hub did not make.
        assert_eq!(serde_json::from_slice::<Vec<serde_json::Value>>(&get("/api/datasets/prefab-test/many/tree/main/shard-1").body).unwrap().len(), 1000);
        let bad = Req::new("GET", "/api/datasets/prefab-test/many/tree/main?cursor=nope", vec![]);
        assert_eq!(route(&hub.shared, &bad).unwrap_err().status, 400);
        drop(hub);
        let _ = std::fs::remove_dir_all(dir);
    }
}
