//! The browser side of the Hub: `fetch` with retries, sessionStorage for the
//! sign-in, and the flows that chain the pure steps (sign in, read a dataset,
//! publish).
//!
//! The token is sent only in `Authorization` headers, only to the Hub and its
//! datasets-server (never to an LFS storage address), and kept only in this
//! tab's sessionStorage: never in IndexedDB, localStorage, a URL or a log.

use crate::campaign::{self, PullRequest};
use crate::commit::{self, CommitPlan, PlannedFile, RepoId, UploadMode};
use crate::dataset::{DatasetId, DatasetsServer, ReadPlan, Split};
use crate::error::{ErrorHeaders, HubError, HubErrorKind};
use crate::http::{HttpRequest, HttpResponse};
use crate::oauth::{self, Account, Callback, Discovery, OAuthSettings, PendingSignIn, Session, TokenResponse};
use prefab_core::campaign::{parse_records, ContributionFile, Manifest, Source, CONTRIBUTIONS_FOLDER, MANIFEST_PATH, RECORDS_PATH};
use prefab_core::record::Record;
use prefab_core::backoff::{Decision, RetryPolicy, RetryWait, Retryable};
use prefab_core::prompt_import::{read_source, rows_api, Format, SourceTable};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, Request, RequestCache, RequestInit, Response};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &Request) -> js_sys::Promise;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &js_sys::Function, milliseconds: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// sessionStorage key of the signed-in session.
const SESSION_KEY: &str = "prefab.hub.session";
/// sessionStorage key of a sign-in waiting for the provider's answer.
const PENDING_KEY: &str = "prefab.hub.pending";

/// Waits `milliseconds` without blocking.
pub async fn sleep(milliseconds: f64) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, milliseconds);
    });
    let _ = JsFuture::from(promise).await;
}

fn js_error(error: JsValue) -> String {
    error.as_string().or_else(|| js_sys::JSON::stringify(&error).ok().and_then(|s| s.as_string())).unwrap_or_else(|| format!("{error:?}"))
}

/// A Hub at an address, with or without a token.
#[derive(Clone)]
pub struct Hub {
    /// The Hub's address, e.g. `https://huggingface.co`.
    pub hub_url: String,
    token: Option<String>,
    viewer: DatasetsServer,
    policy: RetryPolicy,
}

/// Something worth telling the person while a long call runs.
pub type Progress<'a> = &'a dyn Fn(String);

impl Hub {
    /// The Hub at `hub_url`, signed in with `token` if given.
    pub fn new(hub_url: &str, token: Option<String>) -> Hub {
        let hub_url = oauth::hub_address(hub_url);
        Hub { viewer: DatasetsServer::for_hub(&hub_url), hub_url, token, policy: RetryPolicy { max_attempts: 6, base_delay_ms: 500.0, max_delay_ms: 30_000.0 } }
    }

    /// The Hub of a signed-in session.
    pub fn signed_in(session: &Session) -> Hub {
        Hub::new(&session.hub_url, Some(session.access_token.clone()))
    }

    /// Whether `url` may receive the token: the Hub and its datasets-server only.
    fn trusted(&self, url: &str) -> bool {
        let under = |base: &str| url == base || url.starts_with(&format!("{base}/")) || url.starts_with(&format!("{base}?"));
        under(&self.hub_url) || under(&self.viewer.base)
    }

    /// Sends one request once. A network failure (which includes CORS
    /// refusals and a server that closed the connection) is `Unreachable`,
    /// and so is no whole answer within [`HttpRequest::timeout_ms`].
    pub async fn send_once(&self, request: &HttpRequest) -> Result<HttpResponse, HubError> {
        let controller = AbortController::new().map_err(|error| HubError::new(HubErrorKind::Unreachable, js_error(error)))?;
        let timeout_ms = request.timeout_ms();
        let on_timeout = {
            let controller = controller.clone();
            Closure::once(move || controller.abort())
        };
        let timer = set_timeout(on_timeout.as_ref().unchecked_ref(), timeout_ms);
        let result = self.fetch(request, &controller).await;
        clear_timeout(&timer);
        // The timer is cleared or has fired: the closure can go.
        drop(on_timeout);
        result.map_err(|error| {
            let reason = if controller.signal().aborted() { format!("no answer within {:.0} s", timeout_ms / 1000.0) } else { js_error(error) };
            HubError::new(HubErrorKind::Unreachable, format!("{} {}: {reason}", request.method, strip_query(&request.url)))
        })
    }

    async fn fetch(&self, request: &HttpRequest, controller: &AbortController) -> Result<HttpResponse, JsValue> {
        let headers = Headers::new()?;
        for (name, value) in &request.headers {
            headers.set(name, value)?;
        }
        if request.authorized && self.trusted(&request.url) {
            if let Some(token) = &self.token {
                headers.set("Authorization", &format!("Bearer {token}"))?;
            }
        }
        let init = RequestInit::new();
        init.set_method(request.method);
        init.set_headers(&headers);
        init.set_cache(RequestCache::NoStore);
        init.set_signal(Some(&controller.signal()));
        if let Some(body) = &request.body {
            init.set_body(&js_sys::Uint8Array::from(body.as_slice()));
        }
        let fetched = Request::new_with_str_and_init(&request.url, &init)?;
        let response: Response = JsFuture::from(global_fetch(&fetched)).await?.unchecked_into();
        let header = |name: &str| response.headers().get(name).ok().flatten();
        let error_headers = ErrorHeaders { error_code: header("X-Error-Code"), error_message: header("X-Error-Message"), retry_after: header("Retry-After") };
        let buffer = JsFuture::from(response.array_buffer()?).await?;
        Ok(HttpResponse { status: response.status(), error_headers, body: js_sys::Uint8Array::new(&buffer).to_vec(), link: header("Link") })
    }

    /// Sends a request, trying again after rate limits, server errors and
    /// network failures as the backoff policy says; `progress` hears of each
    /// wait. Any other answer, success or not, is returned for the caller to read.
    pub async fn send(&self, request: &HttpRequest, progress: Progress<'_>) -> Result<HttpResponse, HubError> {
        let mut attempt = 1;
        loop {
            let failure = match self.send_once(request).await {
                Ok(response) if response.ok() => return Ok(response),
                Ok(response) => {
                    let error = response.error(&self.hub_url, None);
                    if error.retry_wait() == RetryWait::Never {
                        return Ok(response);
                    }
                    error
                }
                Err(error) => error,
            };
            match self.policy.decide(attempt, &failure, js_sys::Math::random()) {
                Decision::RetryAfterMs(wait) => {
                    progress(format!("{} — trying again in {:.0} s (attempt {} of {})", failure, (wait / 1000.0).ceil(), attempt + 1, self.policy.max_attempts));
                    sleep(wait).await;
                    attempt += 1;
                }
                Decision::GiveUp => return Err(failure),
            }
        }
    }

    // ---- Reading a dataset --------------------------------------------------

    /// The dataset's configs and splits.
    pub async fn splits(&self, dataset: &DatasetId, progress: Progress<'_>) -> Result<Vec<Split>, HubError> {
        let response = self.send(&self.viewer.splits_request(dataset), progress).await?;
        match self.viewer.read_splits(&response, dataset) {
            Err(refusal) if !response.ok() => {
                let info = self.send(&self.viewer.info_request(dataset), progress).await?;
                Err(self.viewer.explain(refusal, &info, dataset, self.token.is_some()))
            }
            result => result,
        }
    }

    /// One `/rows` page (at most 100 rows) and the split's row count.
    pub async fn rows_page(&self, dataset: &DatasetId, split: &Split, offset: u64, progress: Progress<'_>) -> Result<rows_api::RowsPage, HubError> {
        let response = self.send(&self.viewer.rows_request(dataset, split, offset), progress).await?;
        if !response.ok() {
            return Err(self.viewer.error(&response, dataset));
        }
        rows_api::read_page(&response.body, &DatasetsServer::page_name(dataset, split, offset))
            .map_err(|error| HubError::new(HubErrorKind::BadResponse, error.to_string()))
    }

    /// The whole split, starting from its first page (already read for the
    /// preview): the remaining `/rows` pages, or the Parquet files of a big
    /// split. `cancelled` stops it between requests.
    pub async fn read_split(
        &self,
        dataset: &DatasetId,
        split: &Split,
        first: rows_api::RowsPage,
        cancelled: Rc<Cell<bool>>,
        progress: Progress<'_>,
    ) -> Result<SourceTable, HubError> {
        let total = first.total_rows();
        let stopped = || HubError::new(HubErrorKind::Refused, "cancelled; nothing was added");
        match ReadPlan::for_split(total, first.table.len() as u64) {
            ReadPlan::Pages(offsets) => {
                let mut table = first.table;
                for offset in offsets {
                    if cancelled.get() {
                        return Err(stopped());
                    }
                    progress(format!("Read {} of {total} rows…", table.len()));
                    table.append(self.rows_page(dataset, split, offset, progress).await?.table);
                }
                Ok(table)
            }
            ReadPlan::Parquet => {
                let response = self.send(&self.viewer.parquet_request(dataset), progress).await?;
                let files = self.viewer.read_parquet_files(&response, dataset, split)?;
                let mut table: Option<SourceTable> = None;
                for (index, file) in files.iter().enumerate() {
                    if cancelled.get() {
                        return Err(stopped());
                    }
                    progress(format!("Downloading Parquet file {} of {} ({:.1} MB)…", index + 1, files.len(), file.size as f64 / 1e6));
                    let response = self.send(&HttpRequest::get(file.url.clone()), progress).await?;
                    if !response.ok() {
                        return Err(self.viewer.error(&response, dataset));
                    }
                    let part = read_source(&response.body, &file.filename, Some(Format::Parquet))
                        .map_err(|error| HubError::new(HubErrorKind::BadResponse, error.to_string()))?;
                    match &mut table {
                        Some(table) => table.append(part),
                        None => table = Some(part),
                    }
                }
                Ok(table.unwrap_or(first.table))
            }
        }
    }

    // ---- Publishing ---------------------------------------------------------

    /// Publishes `files` to the dataset repo in one commit: creates the repo
    /// if `create` and the account may, commits straight when the account can
    /// write there and opens a pull request otherwise, and makes no commit
    /// when the repo already holds exactly these files.
    pub async fn publish(
        &self,
        repo: &RepoId,
        files: &[PlannedFile],
        account: &Account,
        options: PublishOptions<'_>,
        progress: Progress<'_>,
    ) -> Result<Published, HubError> {
        let hub = &self.hub_url;
        let revision = options.revision;
        let onto_pull_request = revision.starts_with("refs/pr/");
        // Pushing onto one's own pull request needs no write access.
        let mut create_pr = !onto_pull_request && !account.can_write(&repo.namespace);
        if options.create && !create_pr {
            progress(format!("Creating {} if it does not exist…", repo.id()));
            let response = self.send(&commit::create_repo_request(hub, repo, &account.username, options.private), progress).await?;
            commit::read_create_repo(&response, hub, repo)?;
        }
        loop {
            let parent = commit::read_revision(&self.send(&commit::revision_request(hub, repo, revision), progress).await?, hub, repo)?;
            let tree = self.tree(repo, revision, progress).await?;
            let changes = commit::changes(files, &tree, options.managed);
            if changes.is_empty() {
                return Ok(Published::Unchanged { commit: parent });
            }
            progress(format!("Uploading {} files…", changes.write.len()));
            let modes = commit::read_preupload(&self.send(&commit::preupload_request(hub, repo, revision, &changes.write, create_pr), progress).await?, hub, repo, &changes.write)?;
            let lfs: Vec<&PlannedFile> = changes.write.iter().zip(&modes).filter(|(_, mode)| **mode == UploadMode::Lfs).map(|(file, _)| *file).collect();
            if !lfs.is_empty() {
                self.upload_lfs(repo, revision, &lfs, progress).await?;
            }
            let plan = CommitPlan {
                summary: options.summary,
                parent_commit: &parent,
                write: changes.write.iter().copied().zip(modes.iter().copied()).collect(),
                delete: &changes.delete,
                create_pr,
            };
            progress("Committing…".to_owned());
            let response = self.send(&commit::commit_request(hub, repo, revision, &plan), progress).await?;
            match response.status {
                // Without write access after all (an org role the token does not carry): a pull request instead.
                403 if !create_pr && !onto_pull_request => {
                    create_pr = true;
                    continue;
                }
                // A stale parent. If a retried commit had landed before its
                // answer was lost, the files are there now: say so. Otherwise
                // someone else committed: a clear conflict, never an overwrite.
                409 | 412 => {
                    let tree = self.tree(repo, revision, progress).await?;
                    if !create_pr && commit::changes(files, &tree, options.managed).is_empty() {
                        let head = commit::read_revision(&self.send(&commit::revision_request(hub, repo, revision), progress).await?, hub, repo)?;
                        return Ok(Published::Committed { commit: head, url: format!("{hub}/datasets/{}", repo.id()) });
                    }
                    return Err(response.error(hub, Some(&repo.id())));
                }
                _ => {}
            }
            let outcome = commit::read_commit(&response, hub, repo)?;
            return Ok(match outcome.pull_request_url {
                Some(url) => Published::PullRequest { url },
                None => Published::Committed { commit: outcome.commit_oid, url: outcome.commit_url },
            });
        }
    }

    /// Every file of the tree at a revision, following the Hub's pages (it
    /// lists 1,000 entries per page: a campaign's contributions grow past that).
    pub async fn tree(&self, repo: &RepoId, revision: &str, progress: Progress<'_>) -> Result<Vec<commit::TreeEntry>, HubError> {
        let mut request = commit::tree_request(&self.hub_url, repo, revision);
        let mut files = Vec::new();
        loop {
            let response = self.send(&request, progress).await?;
            files.extend(commit::read_tree(&response, &self.hub_url, repo)?);
            match response.next_page() {
                // Only the Hub's own addresses get the token (`trusted`).
                Some(next) => request = HttpRequest::get(next),
                None => return Ok(files),
            }
        }
    }

    async fn upload_lfs(&self, repo: &RepoId, revision: &str, files: &[&PlannedFile], progress: Progress<'_>) -> Result<(), HubError> {
        let hub = &self.hub_url;
        let objects = commit::read_lfs_batch(&self.send(&commit::lfs_batch_request(hub, repo, revision, files), progress).await?, hub, repo)?;
        for object in objects {
            let Some(file) = files.iter().find(|file| file.sha256 == object.oid) else { continue };
            if let Some(upload) = &object.upload {
                progress(format!("Uploading {} ({:.1} MB)…", file.path, file.bytes.len() as f64 / 1e6));
                let response = self.send(&commit::lfs_upload_request(upload, file), progress).await?;
                if !response.ok() {
                    return Err(response.error(hub, Some(&repo.id())));
                }
            }
            if let Some(verify) = &object.verify {
                let response = self.send(&commit::lfs_verify_request(verify, file), progress).await?;
                if !response.ok() {
                    return Err(response.error(hub, Some(&repo.id())));
                }
            }
        }
        Ok(())
    }
}

// ---- Campaigns -------------------------------------------------------------

/// How many files Collect reads at once: enough to hide latency, few enough
/// not to trip a rate limit.
const PARALLEL_READS: usize = 6;

impl Hub {
    /// A text file at a revision.
    pub async fn text_file(&self, repo: &RepoId, revision: &str, path: &str, progress: Progress<'_>) -> Result<String, HubError> {
        let response = self.send(&campaign::file_request(&self.hub_url, repo, revision, path), progress).await?;
        campaign::read_file(&response, &self.hub_url, repo, path)
    }

    /// A campaign's manifest and records, from `main`.
    pub async fn read_campaign(&self, repo: &RepoId, progress: Progress<'_>) -> Result<(Manifest, Vec<Record>), HubError> {
        let unreadable = |error: prefab_core::campaign::CampaignError| HubError::new(HubErrorKind::BadResponse, format!("{}: {error}", repo.id()));
        let manifest = Manifest::parse(&self.text_file(repo, "main", MANIFEST_PATH, progress).await?).map_err(unreadable)?;
        let records = parse_records(&self.text_file(repo, "main", RECORDS_PATH, progress).await?).map_err(unreadable)?;
        Ok((manifest, records))
    }

    /// Every pull request of the repo with this status (by `author` if
    /// given), all pages.
    pub async fn pull_requests(&self, repo: &RepoId, author: Option<&str>, status: &str, progress: Progress<'_>) -> Result<Vec<PullRequest>, HubError> {
        let mut all = Vec::new();
        for page in 0.. {
            let response = self.send(&campaign::pull_requests_request(&self.hub_url, repo, author, status, page), progress).await?;
            let (pulls, more) = campaign::read_pull_requests(&response, &self.hub_url, repo)?;
            all.extend(pulls);
            if !more {
                break;
            }
        }
        Ok(all)
    }

    /// The signed-in person's open pull request on the campaign, opened now
    /// if they have none.
    pub async fn own_pull_request(&self, repo: &RepoId, account: &Account, progress: Progress<'_>) -> Result<u64, HubError> {
        let mine = self.pull_requests(repo, Some(&account.username), "open", progress).await?;
        if let Some(pull) = mine.into_iter().filter(|pull| pull.author == account.username).min_by_key(|pull| pull.num) {
            return Ok(pull.num);
        }
        progress(format!("Opening your pull request on {}…", repo.id()));
        let response = self.send(&campaign::open_pull_request_request(&self.hub_url, repo, &account.username), progress).await?;
        campaign::read_opened(&response, &self.hub_url, repo)
    }

    /// Pushes one contribution file onto the person's pull request (`known`
    /// if the page remembers it; found or opened otherwise) and returns its
    /// number. The same file sent twice makes no second commit. A pull
    /// request the organizer merged or closed meanwhile is replaced by a new one.
    pub async fn contribute(&self, repo: &RepoId, account: &Account, known: Option<u64>, file: &PlannedFile, progress: Progress<'_>) -> Result<u64, HubError> {
        let mut num = match known {
            Some(num) => num,
            None => self.own_pull_request(repo, account, progress).await?,
        };
        let mut first = true;
        loop {
            let revision = format!("refs/pr/{num}");
            let options = PublishOptions { summary: "Add ratings from Prefab", revision: &revision, managed: &[], create: false, private: false };
            match self.publish(repo, std::slice::from_ref(file), account, options, progress).await {
                Ok(_) => return Ok(num),
                Err(error) if first && matches!(error.kind, HubErrorKind::NoAccess | HubErrorKind::NotFound | HubErrorKind::Refused) => {
                    first = false;
                    num = self.own_pull_request(repo, account, progress).await?;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Every contribution file of the campaign: on `main` and on each open
    /// pull request (with its author). `cache` keeps what was read before:
    /// a tree is read again only when its head commit moved, and a file (named
    /// by its content) never twice, so reading again while people rate costs
    /// a few requests, not one per contributor.
    pub async fn read_contributions(&self, repo: &RepoId, cache: &RefCell<ContributionCache>, progress: Progress<'_>) -> Result<Contributions, HubError> {
        let pulls = self.pull_requests(repo, None, "open", progress).await?;
        let heads = campaign::read_refs(&self.send(&campaign::refs_request(&self.hub_url, repo), progress).await?, &self.hub_url, repo)?;
        let mut sources = vec![(Source::Main, "main".to_owned())];
        sources.extend(pulls.iter().map(|pull| (Source::PullRequest { num: pull.num, author: pull.author.clone() }, pull.git_ref())));
        let mut wanted = Vec::new();
        for (source, revision) in &sources {
            let head = heads.get(revision).cloned().unwrap_or_default();
            let known = cache.borrow().trees.get(revision).filter(|(seen, _)| !head.is_empty() && *seen == head).map(|(_, entries)| entries.clone());
            let entries = match known {
                Some(entries) => entries,
                None => {
                    let entries: Vec<commit::TreeEntry> =
                        self.tree(repo, revision, progress).await?.into_iter().filter(|entry| entry.path.starts_with(CONTRIBUTIONS_FOLDER)).collect();
                    cache.borrow_mut().trees.insert(revision.clone(), (head, entries.clone()));
                    entries
                }
            };
            wanted.extend(entries.into_iter().map(|entry| (source.clone(), revision.clone(), entry)));
        }
        let missing: Vec<&(Source, String, commit::TreeEntry)> = wanted.iter().filter(|(_, _, entry)| !cache.borrow().files.contains_key(&entry.oid)).collect();
        for (done, chunk) in missing.chunks(PARALLEL_READS).enumerate() {
            progress(format!("Reading contributions: {} of {} new files…", done * PARALLEL_READS, missing.len()));
            let reads = chunk.iter().map(|(_, revision, entry)| async move { (entry.oid.clone(), self.text_file(repo, revision, &entry.path, progress).await) });
            for (oid, text) in futures::future::join_all(reads).await {
                cache.borrow_mut().files.insert(oid, text?);
            }
        }
        let cache = cache.borrow();
        let files = wanted
            .into_iter()
            .filter_map(|(source, _, entry)| Some(ContributionFile { text: cache.files.get(&entry.oid)?.clone(), source, path: entry.path }))
            .collect();
        Ok(Contributions { files, pull_requests: pulls })
    }

    /// Merges a pull request (the organizer, once collected).
    pub async fn merge(&self, repo: &RepoId, num: u64, progress: Progress<'_>) -> Result<(), HubError> {
        // A draft (how an empty pull request starts) is made ready first; an open one stays open.
        let ready = self.send(&campaign::ready_request(&self.hub_url, repo, num), progress).await?;
        if !ready.ok() && ready.status != 400 {
            return Err(ready.error(&self.hub_url, Some(&repo.id())));
        }
        let response = self.send(&campaign::merge_request(&self.hub_url, repo, num), progress).await?;
        if response.ok() {
            Ok(())
        } else {
            Err(response.error(&self.hub_url, Some(&repo.id())))
        }
    }
}

/// What [`Hub::read_contributions`] read before, to read only what changed.
#[derive(Debug, Default)]
pub struct ContributionCache {
    /// File texts by git blob id.
    files: HashMap<String, String>,
    /// Each revision's head commit when its tree was read, and the
    /// contribution files the tree held.
    trees: HashMap<String, (String, Vec<commit::TreeEntry>)>,
}

/// What [`Hub::read_contributions`] found.
pub struct Contributions {
    /// Every contribution file, with where it was read.
    pub files: Vec<ContributionFile>,
    /// The open pull requests.
    pub pull_requests: Vec<PullRequest>,
}

/// How to publish.
pub struct PublishOptions<'a> {
    /// The commit's summary.
    pub summary: &'a str,
    /// The branch or pull request (`refs/pr/N`) to commit to.
    pub revision: &'a str,
    /// Folders whose files the plan owns: one it no longer has is deleted.
    pub managed: &'a [&'a str],
    /// Create the repo if it does not exist.
    pub create: bool,
    /// Create it private.
    pub private: bool,
}

/// What publishing did.
#[derive(Debug, Clone, PartialEq)]
pub enum Published {
    /// A commit on the repo's main branch.
    Committed {
        /// Its id.
        commit: String,
        /// Its page.
        url: String,
    },
    /// A pull request, for an account that cannot write to the repo.
    PullRequest {
        /// Its page.
        url: String,
    },
    /// The repo already held exactly these files: no commit.
    Unchanged {
        /// The head commit.
        commit: String,
    },
}

fn strip_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

// ---- Signing in ---------------------------------------------------------------

fn session_storage() -> Result<web_sys::Storage, HubError> {
    web_sys::window()
        .and_then(|window| window.session_storage().ok().flatten())
        .ok_or_else(|| HubError::new(HubErrorKind::SignInFailed, "this browser gives the page no sessionStorage"))
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// The signed-in session of this tab, if any and not expired. An expired one is forgotten.
pub fn stored_session() -> Option<Session> {
    let storage = session_storage().ok()?;
    let session: Session = serde_json::from_str(&storage.get_item(SESSION_KEY).ok()??).ok()?;
    if session.expired(now_ms()) {
        let _ = storage.remove_item(SESSION_KEY);
        return None;
    }
    Some(session)
}

fn store_session(session: &Session) -> Result<(), HubError> {
    let text = serde_json::to_string(session).expect("a session serializes");
    session_storage()?.set_item(SESSION_KEY, &text).map_err(|error| HubError::new(HubErrorKind::SignInFailed, js_error(error)))
}

/// Forgets this tab's sign-in.
pub fn sign_out() {
    if let Ok(storage) = session_storage() {
        let _ = storage.remove_item(SESSION_KEY);
        let _ = storage.remove_item(PENDING_KEY);
    }
}

/// The OAuth settings of the Space this page is served from
/// (`window.huggingface.variables`), if it has `hf_oauth: true`.
pub fn space_oauth_settings() -> Option<OAuthSettings> {
    let huggingface = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("huggingface")).ok()?;
    let variables = js_sys::Reflect::get(&huggingface, &JsValue::from_str("variables")).ok()?;
    let text = js_sys::JSON::stringify(&variables).ok()?.as_string()?;
    OAuthSettings::from_space_variables(&serde_json::from_str(&text).ok()?)
}

/// Starts signing in: reads the provider's configuration, keeps a new
/// verifier and state in sessionStorage, and returns where to send the browser.
pub async fn begin_sign_in(settings: OAuthSettings, page_url: &str) -> Result<String, HubError> {
    let hub = Hub::new(&settings.provider_url, None);
    let response = hub.send(&Discovery::request(&settings.provider_url), &|_| {}).await?;
    let discovery = Discovery::read(&response, &settings.provider_url)?;
    let mut random = [0u8; 48];
    web_sys::window()
        .and_then(|window| window.crypto().ok())
        .ok_or_else(|| HubError::new(HubErrorKind::SignInFailed, "this browser has no crypto API"))?
        .get_random_values_with_u8_array(&mut random)
        .map_err(|error| HubError::new(HubErrorKind::SignInFailed, js_error(error)))?;
    let pending = PendingSignIn::new(settings, discovery, page_url, &random);
    let url = pending.authorize_url();
    session_storage()?
        .set_item(PENDING_KEY, &serde_json::to_string(&pending).expect("serializes"))
        .map_err(|error| HubError::new(HubErrorKind::SignInFailed, js_error(error)))?;
    Ok(url)
}

/// Takes a sign-in's answer out of the page's address, if the page was
/// opened by the provider's redirect (`?code=…&state=…`): the code and state
/// leave the address at once (`history.replaceState`, back to the fragment the
/// sign-in began on), and the pending sign-in leaves sessionStorage. Call it
/// before reading the fragment. `None` when the page was not opened that way.
pub fn take_sign_in_answer() -> Option<Result<(PendingSignIn, Callback), HubError>> {
    let window = web_sys::window()?;
    let location = window.location();
    let query = location.search().ok()?;
    let callback = Callback::from_query(&query)?;
    let storage = session_storage().ok()?;
    let pending: Option<PendingSignIn> = storage.get_item(PENDING_KEY).ok().flatten().and_then(|text| serde_json::from_str(&text).ok());
    let _ = storage.remove_item(PENDING_KEY);
    let fragment = pending.as_ref().map(|p| p.return_fragment.clone()).unwrap_or_else(|| location.hash().unwrap_or_default());
    let clean = oauth::clean_address(&location.pathname().unwrap_or_default(), &query, &fragment);
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&clean));
    }
    Some(match pending {
        Some(pending) => Ok((pending, callback)),
        None => Err(HubError::new(HubErrorKind::SignInFailed, "this tab did not start a sign-in (or it was started in another tab); sign in again")),
    })
}

/// Finishes a sign-in taken by [`take_sign_in_answer`]: checks the state,
/// exchanges the code with the verifier, reads who signed in and keeps the
/// session in sessionStorage.
pub async fn finish_sign_in(pending: PendingSignIn, callback: Callback) -> Result<Session, HubError> {
    exchange(pending, &callback).await
}

async fn exchange(pending: PendingSignIn, callback: &Callback) -> Result<Session, HubError> {
    let code = pending.check(callback)?;
    let provider = &pending.settings.provider_url;
    let hub = Hub::new(provider, None);
    let token = TokenResponse::read(&hub.send(&pending.token_request(&code), &|_| {}).await?, provider)?;
    let signed_in = Hub::new(provider, Some(token.access_token.clone()));
    let response = signed_in.send(&HttpRequest::get(pending.discovery.userinfo_endpoint.clone()), &|_| {}).await?;
    let account = Account::from_userinfo(&response, provider)?;
    let session = Session { access_token: token.access_token.clone(), expires_at_ms: token.expires_at_ms(now_ms()), hub_url: provider.clone(), account };
    store_session(&session)?;
    Ok(session)
}

/// Signs in with a pasted access token: checks it with `whoami-v2`.
pub async fn sign_in_with_token(hub_url: &str, token: &str) -> Result<Session, HubError> {
    let hub = Hub::new(hub_url, Some(token.trim().to_owned()));
    let response = hub.send(&Account::whoami_request(&hub.hub_url), &|_| {}).await?;
    let account = Account::from_whoami(&response, &hub.hub_url)?;
    let session = Session { access_token: token.trim().to_owned(), expires_at_ms: None, hub_url: hub.hub_url.clone(), account };
    store_session(&session)?;
    Ok(session)
}
