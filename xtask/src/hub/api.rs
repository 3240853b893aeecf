//! The Hub's repository API: whoami, repo creation and info, trees, file
//! downloads, preupload, commits and pull requests — the paths and JSON of
//! huggingface.co, as `huggingface_hub` and `@huggingface/hub` read them.
//!
//! Revisions in URLs are a branch (`main`), a commit id or `refs/pr/N`,
//! percent-encoded as one segment (`refs%2Fpr%2F1`) or not. Discussions and
//! pull requests share one numbering; a pull request's ref is `refs/pr/N`.
//! Discussion JSON (list and details) follows the Hub: `num`, `title`,
//! `status` (`open`, `closed`, `merged`, `draft`), `isPullRequest`,
//! `createdAt`, `author: {name, …}`, `repo: {name, type}`, and for details
//! `events` (`comment`, `commit`, `status-change`), `changes: {base,
//! mergeCommitId?}`, `filesWithConflicts` (also as `conflictingFiles`) and
//! `gitReference` (`refs/pr/N`).

use super::http::{byte_range, encode_path, iso_date, now, percent_encode, HubError, Reply, Req};
use super::oauth::{avatar, user_sub};
use super::campaign;
use super::repo::{self, Commit, FileEntry, Operation, TreeEntry};
use super::store::{self, Discussion, Event, Repo, State, Token};
use super::Shared;
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Splits a revision off the front of path segments: `refs/pr/1` may come as three.
pub fn split_revision<'a>(rest: &'a [&'a str]) -> Option<(String, &'a [&'a str])> {
    match rest {
        ["refs", kind @ ("pr" | "convert" | "heads"), third, tail @ ..] => Some((format!("refs/{kind}/{third}"), tail)),
        [revision, tail @ ..] => Some((revision.to_string(), tail)),
        [] => None,
    }
}

fn revision_not_found(revision: &str) -> HubError {
    HubError::new(404, Some("RevisionNotFound"), format!("Invalid rev id: {revision}"))
}

fn entry_not_found(path: &str, revision: &str) -> HubError {
    HubError::new(404, Some("EntryNotFound"), format!("{path} does not exist on \"{revision}\""))
}

pub fn whoami(req: &Req, base: &str, state: &State) -> Result<Reply, HubError> {
    let token = state.require_token(req.bearer())?;
    let orgs: Vec<Value> = state
        .orgs_of(&token.user)
        .into_iter()
        .map(|org| json!({"type": "org", "id": user_sub(&org), "name": org, "fullname": org, "avatarUrl": avatar(base, &org), "roleInOrg": "write", "isEnterprise": false}))
        .collect();
    let role = if token.can_write() { "write" } else { "read" };
    Ok(Reply::json(&json!({
        "type": "user",
        "id": user_sub(&token.user),
        "name": token.user,
        "fullname": token.user,
        "email": null,
        "emailVerified": false,
        "isPro": false,
        "canPay": false,
        "avatarUrl": avatar(base, &token.user),
        "periodEnd": null,
        "orgs": orgs,
        "auth": {"type": "access_token", "accessToken": {"displayName": token.name, "role": role, "createdAt": iso_date(token.expires_at.saturating_sub(store::TOKEN_LIFETIME))}},
    })))
}

/// A new repo: `main` with one commit holding the default `.gitattributes`.
pub fn new_repo(state: &mut State, id: &str, private: bool, author: &str) -> Result<(), String> {
    let attributes = repo::DEFAULT_GITATTRIBUTES.as_bytes();
    store::put_blob(&state.dir, attributes)?;
    let files = BTreeMap::from([(".gitattributes".to_owned(), FileEntry::regular(attributes))]);
    let salt = state.next_salt();
    let commit = Commit::new(vec![], "initial commit", "", author, now(), files, salt);
    let repo = Repo {
        id: id.to_owned(),
        private,
        gated: None,
        viewer: true,
        created_at: now(),
        refs: BTreeMap::from([("main".to_owned(), commit.id.clone())]),
        commits: [(commit.id.clone(), commit)].into(),
        discussions: Vec::new(),
        granted: BTreeSet::new(),
    };
    state.repos.insert(id.to_owned(), repo);
    state.save_repo(id, None)
}

/// `POST /api/repos/create`.
pub fn create_repo(req: &Req, base: &str, state: &mut State) -> Result<Reply, HubError> {
    let token = state.require_token(req.bearer())?;
    let body = req.json()?;
    let kind = body["type"].as_str().unwrap_or("model");
    if kind != "dataset" {
        return Err(HubError::bad_request(format!("this local hub only hosts datasets, not {kind}s")));
    }
    let name = body["name"].as_str().unwrap_or_default();
    let (namespace, name) = match (body["organization"].as_str(), name.split_once('/')) {
        (_, Some((namespace, name))) => (namespace.to_owned(), name.to_owned()),
        (Some(org), None) => (org.to_owned(), name.to_owned()),
        (None, None) => (token.user.clone(), name.to_owned()),
    };
    if !store::valid_name(&namespace) || !store::valid_name(&name) {
        return Err(HubError::bad_request(format!("invalid repo name {namespace}/{name}")));
    }
    let id = format!("{namespace}/{name}");
    let url = format!("{base}/datasets/{id}");
    if !state.is_member(&token.user, &namespace) || !token.can_write() {
        return Err(HubError::forbidden(format!("You don't have the rights to create a dataset under the namespace \"{namespace}\"")));
    }
    if state.repos.contains_key(&id) {
        return Err(HubError::new(409, None, "You already created this dataset repo").with("url", url.into()));
    }
    let private = body["private"].as_bool().unwrap_or(false) || matches!(body["visibility"].as_str(), Some("private" | "protected"));
    new_repo(state, &id, private, &token.user).map_err(|error| HubError::new(500, None, error))?;
    Ok(Reply::json(&json!({"url": url, "name": id, "id": user_sub(&id)})))
}

/// `DELETE /api/repos/delete`.
pub fn delete_repo(req: &Req, state: &mut State) -> Result<Reply, HubError> {
    let token = state.require_token(req.bearer())?;
    let body = req.json()?;
    let name = body["name"].as_str().unwrap_or_default();
    let id = match body["organization"].as_str() {
        Some(org) => format!("{org}/{name}"),
        None if name.contains('/') => name.to_owned(),
        None => format!("{}/{name}", token.user),
    };
    state.writable_repo(&id, Some(&token))?;
    state.repos.remove(&id);
    let _ = std::fs::remove_file(state.dir.join(".hub/repos/datasets").join(format!("{id}.json")));
    let _ = std::fs::remove_dir_all(state.dir.join("datasets").join(&id));
    Ok(Reply::json(&json!({})))
}

/// Everything under `/api/datasets/{namespace}/{name}/`.
pub fn dataset(hub: &Shared, req: &Req, base: &str, id: &str, rest: &[&str]) -> Result<Reply, HubError> {
    let method = req.method.as_str();
    match (method, rest) {
        ("GET", []) => info(hub, req, base, id, "main"),
        ("GET", ["revision", revision @ ..]) => {
            let (revision, _) = split_revision(revision).ok_or_else(|| HubError::bad_request("no revision"))?;
            info(hub, req, base, id, &revision)
        }
        ("GET", ["tree", rest @ ..]) => {
            let (revision, path) = split_revision(rest).ok_or_else(|| HubError::bad_request("no revision"))?;
            tree(hub, req, base, id, &revision, &path.join("/"))
        }
        ("POST", ["paths-info", rest @ ..]) => {
            let (revision, _) = split_revision(rest).ok_or_else(|| HubError::bad_request("no revision"))?;
            paths_info(hub, req, id, &revision)
        }
        ("POST", ["preupload", rest @ ..]) => {
            let (revision, _) = split_revision(rest).ok_or_else(|| HubError::bad_request("no revision"))?;
            preupload(hub, req, id, &revision)
        }
        ("POST", ["commit", rest @ ..]) => {
            let (revision, _) = split_revision(rest).ok_or_else(|| HubError::bad_request("no revision"))?;
            commit(hub, req, base, id, &revision)
        }
        ("GET", ["commits", rest @ ..]) => {
            let (revision, _) = split_revision(rest).unwrap_or(("main".to_owned(), &[]));
            commits(hub, req, id, &revision)
        }
        ("GET", ["refs"]) => refs(hub, req, id),
        ("GET", ["discussions"]) => list_discussions(hub, req, base, id),
        ("POST", ["discussions"]) => create_discussion(hub, req, base, id),
        ("GET", ["discussions", num]) => discussion_details(hub, req, base, id, parse_num(num)?),
        ("POST", ["discussions", num, action @ ("merge" | "status" | "comment")]) => discussion_action(hub, req, base, id, parse_num(num)?, action),
        _ => Err(HubError::new(404, None, format!("no route for {method} {}", req.url))),
    }
}

fn parse_num(text: &str) -> Result<u64, HubError> {
    text.parse().map_err(|_| HubError::bad_request(format!("{text} is not a discussion number")))
}

/// The YAML front matter of a README's text: `None` without one, else the parsed value.
pub fn front_matter(text: &str) -> Option<Result<Value, String>> {
    let front = text.strip_prefix("---\n").or_else(|| text.strip_prefix("---\r\n"))?;
    let end = if front.starts_with("---") { 0 } else { front.find("\n---")? + 1 };
    Some(match serde_yaml::from_str::<Value>(&front[..end]) {
        Ok(Value::Null) => Ok(json!({})),
        Ok(value) if value.is_object() => Ok(value),
        Ok(_) => Err("the metadata must be a YAML mapping".to_owned()),
        Err(error) => Err(error.to_string()),
    })
}

/// `POST /api/validate-yaml` (`{"content", "repoType"}`), which `huggingface_hub` calls before uploading a README.
pub fn validate_yaml(req: &Req) -> Result<Reply, HubError> {
    let body = req.json()?;
    match front_matter(body["content"].as_str().unwrap_or_default()) {
        None => Ok(Reply::json(&json!({"errors": [], "warnings": [{"message": "empty or missing yaml metadata in repo card"}]}))),
        Some(Ok(_)) => Ok(Reply::json(&json!({"errors": [], "warnings": []}))),
        Some(Err(error)) => Ok(Reply::json_status(400, &json!({"error": error, "errors": [{"message": error}], "warnings": []}))),
    }
}

/// The README's YAML front matter as JSON, if there is one.
pub fn card_data(dir: &std::path::Path, files: &BTreeMap<String, FileEntry>) -> Option<Value> {
    let readme = files.get("README.md")?;
    let text = String::from_utf8(store::read_blob(dir, &readme.sha256).ok()?).ok()?;
    front_matter(&text)?.ok()
}

fn info(hub: &Shared, req: &Req, base: &str, id: &str, revision: &str) -> Result<Reply, HubError> {
    let state = hub.state();
    let token = state.token(req.bearer()).cloned();
    let repo = state.visible_repo(id, token.as_ref())?;
    let commit = repo.resolve(revision).ok_or_else(|| revision_not_found(revision))?;
    let siblings: Vec<Value> = commit
        .files
        .iter()
        .map(|(path, file)| {
            let mut sibling = json!({"rfilename": path, "size": file.size, "blobId": file.oid});
            if file.lfs {
                sibling["lfs"] = json!({"sha256": file.sha256, "size": file.size, "pointerSize": repo::lfs_pointer(&file.sha256, file.size).len()});
            }
            sibling
        })
        .collect();
    let mut body = json!({
        "_id": user_sub(id),
        "id": id,
        "author": repo.namespace(),
        "sha": commit.id,
        "lastModified": iso_date(commit.date),
        "createdAt": iso_date(repo.created_at),
        "private": repo.private,
        "gated": repo.gated.as_ref().map_or(json!(false), |gated| json!(gated)),
        "disabled": false,
        "downloads": 0,
        "likes": 0,
        "tags": [],
        "siblings": siblings,
        "usedStorage": commit.files.values().map(|file| file.size).sum::<u64>(),
        "url": format!("{base}/datasets/{id}"),
    });
    if let Some(card) = card_data(&state.dir, &commit.files) {
        body["cardData"] = card;
    }
    Ok(Reply::json(&body))
}

fn entry_json(entry: &TreeEntry, last: Option<&Commit>) -> Value {
    let mut value = match entry {
        TreeEntry::File { path, file } => {
            let mut value = json!({"type": "file", "oid": file.oid, "size": file.size, "path": path});
            if file.lfs {
                value["lfs"] = json!({"oid": file.sha256, "size": file.size, "pointerSize": repo::lfs_pointer(&file.sha256, file.size).len()});
            }
            value
        }
        TreeEntry::Directory { path, oid } => json!({"type": "directory", "oid": oid, "size": 0, "path": path}),
    };
    if let Some(commit) = last {
        value["lastCommit"] = json!({"id": commit.id, "title": commit.title, "date": iso_date(commit.date)});
        if matches!(entry, TreeEntry::File { .. }) {
            value["securityFileStatus"] = json!({"status": "safe", "avScan": {"status": "safe", "virusNames": null}, "pickleImportScan": null});
        }
    }
    value
}

/// The newest of the last commits of the files under `entry`.
fn last_commit_of<'a>(entry: &TreeEntry, last: &std::collections::HashMap<String, &'a Commit>) -> Option<&'a Commit> {
    match entry {
        TreeEntry::File { path, .. } => last.get(path).copied(),
        TreeEntry::Directory { path, .. } => {
            let prefix = format!("{path}/");
            last.iter().filter(|(file, _)| file.starts_with(&prefix)).map(|(_, commit)| *commit).max_by_key(|commit| commit.date)
        }
    }
}

/// A tree listing, paged as on the Hub: [`repo::TREE_PAGE`] entries (50 with
/// `expand`), the next page's absolute address in `Link: <…>; rel="next"`
/// (the request's own path and query with `cursor` set), which
/// `huggingface_hub`'s `paginate` and `@huggingface/hub`'s `listFiles` follow.
fn tree(hub: &Shared, req: &Req, base: &str, id: &str, revision: &str, path: &str) -> Result<Reply, HubError> {
    let state = hub.state();
    let token = state.token(req.bearer()).cloned();
    let repo = state.visible_repo(id, token.as_ref())?;
    let commit = repo.resolve(revision).ok_or_else(|| revision_not_found(revision))?;
    let entries = repo::tree(&commit.files, path, req.flag("recursive")).ok_or_else(|| entry_not_found(path, revision))?;
    let expand = req.flag("expand");
    let limit = if expand { repo::TREE_PAGE_EXPANDED } else { repo::TREE_PAGE };
    let (entries, next) = repo::tree_page(entries, req.param("cursor"), limit).map_err(HubError::bad_request)?;
    let last = if expand { repo.last_commits(commit) } else { Default::default() };
    let listing: Vec<Value> = entries.iter().map(|entry| entry_json(entry, last_commit_of(entry, &last))).collect();
    let reply = Reply::json(&Value::Array(listing));
    Ok(match next {
        Some(cursor) => reply.with_header("Link", &format!("<{}>; rel=\"next\"", with_cursor(base, &req.url, &cursor))),
        None => reply,
    })
}

/// `base` + the request's path and query as sent, with `cursor` replaced.
pub fn with_cursor(base: &str, url: &str, cursor: &str) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let mut pairs: Vec<&str> = query.split('&').filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("cursor")).collect();
    let cursor = format!("cursor={}", percent_encode(cursor));
    pairs.push(&cursor);
    format!("{base}{path}?{}", pairs.join("&"))
}

fn paths_info(hub: &Shared, req: &Req, id: &str, revision: &str) -> Result<Reply, HubError> {
    // `huggingface_hub` sends a form (`paths=a&paths=b&expand=False`), `@huggingface/hub` JSON.
    let (paths, expand) = match req.json() {
        Ok(body) => (
            body["paths"].as_array().map(|paths| paths.iter().filter_map(|p| p.as_str().map(str::to_owned)).collect()).unwrap_or_default(),
            body["expand"].as_bool().unwrap_or(false),
        ),
        Err(_) => {
            let form = req.form();
            let paths: Vec<String> = form.iter().filter(|(key, _)| key == "paths" || key == "paths[]").map(|(_, value)| value.clone()).collect();
            let expand = super::http::form_value(&form, "expand").is_some_and(|value| value.eq_ignore_ascii_case("true") || value == "1");
            (paths, expand)
        }
    };
    let state = hub.state();
    let token = state.token(req.bearer()).cloned();
    let repo = state.visible_repo(id, token.as_ref())?;
    let commit = repo.resolve(revision).ok_or_else(|| revision_not_found(revision))?;
    let last = if expand { repo.last_commits(commit) } else { Default::default() };
    let mut out = Vec::new();
    for path in paths {
        let path = path.trim_matches('/').to_owned();
        let entry = match commit.files.get(&path) {
            Some(file) => TreeEntry::File { path, file: file.clone() },
            None => match repo::tree(&commit.files, &path, true) {
                Some(_) if !path.is_empty() => {
                    let parent = path.rsplit_once('/').map_or("", |(parent, _)| parent);
                    match repo::tree(&commit.files, parent, false).into_iter().flatten().find(|entry| entry.path() == path) {
                        Some(entry) => entry,
                        None => continue,
                    }
                }
                _ => continue,
            },
        };
        out.push(entry_json(&entry, last_commit_of(&entry, &last)));
    }
    Ok(Reply::json(&Value::Array(out)))
}

/// Who may commit where: a branch needs write access; `create_pr` a token
/// that may open pull requests; `refs/pr/N` its author or a writer, while open.
/// On a campaign, [`commit`] then also applies [`campaign::check_contribution`] to non-writers.
fn check_commit_access(state: &State, repo: &Repo, token: &Token, revision: &str, create_pr: bool) -> Result<(), HubError> {
    state.readable_repo(&repo.id, Some(token))?;
    if create_pr {
        return if token.can_discuss() { Ok(()) } else { Err(HubError::forbidden("This token cannot open pull requests (write-discussions)")) };
    }
    if let Some(num) = revision.strip_prefix("refs/pr/") {
        let discussion = repo
            .discussions
            .iter()
            .find(|d| d.is_pull_request && d.num.to_string() == num)
            .ok_or_else(|| revision_not_found(revision))?;
        if !matches!(discussion.status.as_str(), "open" | "draft") {
            return Err(HubError::forbidden(format!("Pull request #{num} is {}", discussion.status)));
        }
        let is_author = discussion.author == token.user && token.can_discuss();
        return if is_author || state.writable_repo(&repo.id, Some(token)).is_ok() {
            Ok(())
        } else {
            Err(HubError::forbidden(format!("Only the author of pull request #{num} or a writer of {} can push to it", repo.id)))
        };
    }
    state.writable_repo(&repo.id, Some(token)).map(|_| ())
}

fn preupload(hub: &Shared, req: &Req, id: &str, revision: &str) -> Result<Reply, HubError> {
    let body = req.json()?;
    let state = hub.state();
    let token = state.require_token(req.bearer())?;
    let repo = state.visible_repo(id, Some(&token))?;
    check_commit_access(&state, repo, &token, revision, req.flag("create_pr"))?;
    let commit = repo.resolve(revision).ok_or_else(|| revision_not_found(revision))?;
    let attributes = match (body["gitAttributes"].as_str(), commit.files.get(".gitattributes")) {
        (Some(text), _) => text.to_owned(),
        (None, Some(file)) => String::from_utf8_lossy(&store::read_blob(&state.dir, &file.sha256)?).into_owned(),
        (None, None) => repo::DEFAULT_GITATTRIBUTES.to_owned(),
    };
    let mut files = Vec::new();
    for file in body["files"].as_array().ok_or_else(|| HubError::bad_request("\"files\" must be a list"))? {
        let path = file["path"].as_str().ok_or_else(|| HubError::bad_request("a file has no path"))?;
        repo::check_path(path).map_err(HubError::bad_request)?;
        let size = file["size"].as_u64().unwrap_or(0);
        let sample = base64::engine::general_purpose::STANDARD.decode(file["sample"].as_str().unwrap_or_default()).unwrap_or_default();
        let mode = repo::upload_mode(path, size, &sample, &attributes);
        let mut answer = json!({"path": path, "uploadMode": mode, "shouldIgnore": false});
        if let Some(existing) = commit.files.get(path) {
            answer["oid"] = json!(if existing.lfs { &existing.sha256 } else { &existing.oid });
        }
        files.push(answer);
    }
    Ok(Reply::json(&json!({"files": files, "commitOid": commit.id})))
}

/// A commit request, parsed: NDJSON (`{"key": "header" | "file" | "lfsFile" |
/// "deletedFile" | "deletedFolder", "value": …}` per line) or one JSON object
/// (`summary`, `description`, `parentCommit`, `files`, `lfsFiles`, `deletedFiles`, `deletedFolders`).
#[derive(Debug, Default, PartialEq)]
pub struct CommitRequest {
    pub summary: String,
    pub description: String,
    pub parent: Option<String>,
    pub operations: Vec<Operation>,
}

pub fn parse_commit(body: &[u8]) -> Result<CommitRequest, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the commit body is not UTF-8")?;
    let mut request = CommitRequest::default();
    let add = |key: &str, value: &Value, request: &mut CommitRequest| -> Result<(), String> {
        let path = || value["path"].as_str().map(str::to_owned).ok_or_else(|| format!("a {key} has no path"));
        match key {
            "header" => {
                request.summary = value["summary"].as_str().unwrap_or_default().to_owned();
                request.description = value["description"].as_str().unwrap_or_default().to_owned();
                request.parent = value["parentCommit"].as_str().map(str::to_owned);
            }
            "file" => {
                let content = value["content"].as_str().unwrap_or_default();
                let content = match value["encoding"].as_str() {
                    Some("base64") => base64::engine::general_purpose::STANDARD.decode(content).map_err(|error| format!("{}: bad base64: {error}", path().unwrap_or_default()))?,
                    _ => content.as_bytes().to_vec(),
                };
                request.operations.push(Operation::Add { path: path()?, content });
            }
            "lfsFile" => {
                if value["algo"].as_str().is_some_and(|algo| algo != "sha256") {
                    return Err(format!("{}: only sha256 LFS objects", path()?));
                }
                let sha256 = value["oid"].as_str().ok_or_else(|| format!("an lfsFile has no oid"))?.to_ascii_lowercase();
                request.operations.push(Operation::AddLfs { path: path()?, sha256, size: value["size"].as_u64() });
            }
            "deletedFile" => request.operations.push(Operation::DeleteFile { path: path()? }),
            "deletedFolder" => request.operations.push(Operation::DeleteFolder { path: path()? }),
            other => return Err(format!("unknown commit operation {other:?}")),
        }
        Ok(())
    };
    match serde_json::from_str::<Value>(text) {
        Ok(object) if object.is_object() && object.get("key").is_none() => {
            add("header", &object, &mut request)?;
            for (field, key) in [("files", "file"), ("lfsFiles", "lfsFile"), ("deletedFiles", "deletedFile"), ("deletedFolders", "deletedFolder")] {
                for value in object[field].as_array().into_iter().flatten() {
                    add(key, value, &mut request)?;
                }
            }
        }
        _ => {
            for (number, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
                let item: Value = serde_json::from_str(line).map_err(|error| format!("line {}: {error}", number + 1))?;
                let key = item["key"].as_str().ok_or_else(|| format!("line {}: no \"key\"", number + 1))?;
                add(key, &item["value"], &mut request)?;
            }
        }
    }
    Ok(request)
}

fn comment_event(state: &mut State, author: &str, text: &str) -> Event {
    Event { id: format!("{:024x}", state.next_salt()), kind: "comment".into(), author: author.into(), date: now(), text: text.into(), oid: None }
}

fn commit(hub: &Shared, req: &Req, base: &str, id: &str, revision: &str) -> Result<Reply, HubError> {
    let request = parse_commit(&req.body).map_err(HubError::bad_request)?;
    let create_pr = req.flag("create_pr");
    // Regular files go to the blob store first (content-addressed: harmless if the commit fails).
    for operation in &request.operations {
        if let Operation::Add { content, .. } = operation {
            store::put_blob(&hub.dir, content).map_err(|error| HubError::new(500, None, error))?;
        }
    }
    let mut state = hub.state();
    let token = state.require_token(req.bearer())?;
    let repo = state.visible_repo(id, Some(&token))?;
    check_commit_access(&state, repo, &token, revision, create_pr)?;
    // A campaign's contributors may touch only their own folder (see `campaign`).
    if campaign::is_campaign(&repo.main().files) && state.writable_repo(id, Some(&token)).is_err() {
        campaign::check_contribution(&token.user, &request.operations, &|sha| store::blob_size(&hub.dir, sha)).map_err(HubError::forbidden)?;
    }
    let head = repo.resolve(revision).ok_or_else(|| revision_not_found(revision))?;
    if !create_pr && !repo.refs.contains_key(revision.strip_prefix("refs/heads/").unwrap_or(revision)) {
        return Err(HubError::bad_request(format!("{revision} is not a branch: commits go to a branch or a pull request")));
    }
    if let Some(parent) = &request.parent {
        if parent != &head.id {
            return Err(HubError::new(412, None, "A commit has happened since. Please refresh and try again."));
        }
    }
    let dir = state.dir.clone();
    let files = repo::apply(&head.files, &request.operations, &|sha| store::blob_size(&dir, sha)).map_err(HubError::bad_request)?;
    let summary = if request.summary.trim().is_empty() { "Upload files".to_owned() } else { request.summary.clone() };
    let head_id = head.id.clone();
    let old_main = repo.main().files.clone();
    let salt = state.next_salt();
    let new = Commit::new(vec![head_id], &summary, &request.description, &token.user, now(), files, salt);
    let new_id = new.id.clone();
    let mut pull_request = None;
    if create_pr {
        let event = comment_event(&mut state, &token.user, &request.description);
        let repo = state.repos.get_mut(id).expect("checked above");
        let num = repo.discussions.len() as u64 + 1;
        repo.discussions.push(Discussion {
            num,
            title: summary.clone(),
            author: token.user.clone(),
            created_at: now(),
            status: "open".into(),
            is_pull_request: true,
            base: revision.strip_prefix("refs/heads/").unwrap_or(revision).to_owned(),
            merge_commit: None,
            events: vec![event],
        });
        repo.refs.insert(format!("refs/pr/{num}"), new_id.clone());
        pull_request = Some(num);
    } else {
        let repo = state.repos.get_mut(id).expect("checked above");
        repo.refs.insert(revision.strip_prefix("refs/heads/").unwrap_or(revision).to_owned(), new_id.clone());
    }
    let pr_num = pull_request.or_else(|| revision.strip_prefix("refs/pr/").and_then(|num| num.parse().ok()));
    let repo = state.repos.get_mut(id).expect("checked above");
    if let Some(discussion) = pr_num.and_then(|num| repo.discussions.iter_mut().find(|d| d.num == num)) {
        discussion.events.push(Event { id: format!("{new_id:.24}"), kind: "commit".into(), author: token.user.clone(), date: now(), text: summary.clone(), oid: Some(new_id.clone()) });
    }
    repo.commits.insert(new_id.clone(), new);
    state.save_repo(id, Some(&old_main)).map_err(|error| HubError::new(500, None, error))?;
    let mut answer = json!({
        "success": true,
        "commitOid": new_id,
        "commitUrl": format!("{base}/datasets/{id}/commit/{new_id}"),
        "commitMessage": summary,
        "hookOutput": "",
    });
    if let Some(num) = pull_request {
        answer["pullRequestUrl"] = json!(format!("{base}/datasets/{id}/discussions/{num}"));
    }
    Ok(Reply::json(&answer))
}

fn commits(hub: &Shared, req: &Req, id: &str, revision: &str) -> Result<Reply, HubError> {
    let state = hub.state();
    let token = state.token(req.bearer()).cloned();
    let repo = state.visible_repo(id, token.as_ref())?;
    let head = repo.resolve(revision).ok_or_else(|| revision_not_found(revision))?;
    let list: Vec<Value> = repo
        .history(head)
        .into_iter()
        .map(|commit| json!({"id": commit.id, "title": commit.title, "message": commit.message, "authors": [{"user": commit.author}], "date": iso_date(commit.date)}))
        .collect();
    Ok(Reply::json(&Value::Array(list)))
}

fn refs(hub: &Shared, req: &Req, id: &str) -> Result<Reply, HubError> {
    let state = hub.state();
    let token = state.token(req.bearer()).cloned();
    let repo = state.visible_repo(id, token.as_ref())?;
    let (mut branches, mut pulls) = (Vec::new(), Vec::new());
    for (name, target) in &repo.refs {
        match name.strip_prefix("refs/pr/") {
            Some(_) => pulls.push(json!({"name": name, "ref": name, "targetCommit": target})),
            None => branches.push(json!({"name": name, "ref": format!("refs/heads/{name}"), "targetCommit": target})),
        }
    }
    let mut body = json!({"branches": branches, "converts": [], "tags": []});
    if req.flag("include_prs") {
        body["pullRequests"] = json!(pulls);
    }
    Ok(Reply::json(&body))
}

fn author_json(base: &str, name: &str) -> Value {
    json!({"name": name, "fullname": name, "avatarUrl": avatar(base, name), "type": "user", "isPro": false, "isHf": false, "isOwner": false})
}

fn discussion_json(base: &str, repo: &Repo, discussion: &Discussion) -> Value {
    json!({
        "num": discussion.num,
        "title": discussion.title,
        "status": discussion.status,
        "createdAt": iso_date(discussion.created_at),
        "isPullRequest": discussion.is_pull_request,
        "author": author_json(base, &discussion.author),
        "repo": {"name": repo.id, "type": "dataset"},
        "pinned": false,
        "numComments": discussion.events.iter().filter(|event| event.kind == "comment").count(),
        "topReactions": [],
        "gitReference": discussion.git_ref(),
    })
}

/// Discussions listed per page by `GET …/discussions`, as on the Hub.
pub const DISCUSSIONS_PER_PAGE: usize = 50;

/// One page of `GET …/discussions`: newest first, filtered by `type`
/// (`pull_request`, `discussion`, else all), `author` and `status` (`open`
/// takes drafts too, `closed` takes merged ones too, else all), page `p`
/// (from 0) of [`DISCUSSIONS_PER_PAGE`].
#[derive(Debug)]
pub struct DiscussionPage<'a> {
    pub discussions: Vec<&'a Discussion>,
    /// How many match every filter (the client pages until `start + len` reaches it).
    pub count: usize,
    pub start: usize,
    /// Closed or merged ones among those of this type and author, whatever `status` asked.
    pub closed: usize,
    pub open: usize,
}

pub fn discussion_page<'a>(all: &'a [Discussion], kind: &str, status: &str, author: Option<&str>, page: usize) -> DiscussionPage<'a> {
    let is_closed = |d: &Discussion| matches!(d.status.as_str(), "closed" | "merged");
    let matching: Vec<&Discussion> = all
        .iter()
        .rev()
        .filter(|d| match kind {
            "pull_request" => d.is_pull_request,
            "discussion" => !d.is_pull_request,
            _ => true,
        })
        .filter(|d| author.is_none_or(|author| author == d.author))
        .collect();
    let closed = matching.iter().filter(|d| is_closed(d)).count();
    let shown: Vec<&Discussion> = matching
        .iter()
        .copied()
        .filter(|d| match status {
            "open" => !is_closed(d),
            "closed" => is_closed(d),
            _ => true,
        })
        .collect();
    let start = page.saturating_mul(DISCUSSIONS_PER_PAGE);
    DiscussionPage {
        discussions: shown.iter().skip(start).take(DISCUSSIONS_PER_PAGE).copied().collect(),
        count: shown.len(),
        start,
        closed,
        open: matching.len() - closed,
    }
}

fn list_discussions(hub: &Shared, req: &Req, base: &str, id: &str) -> Result<Reply, HubError> {
    let state = hub.state();
    let token = state.token(req.bearer()).cloned();
    let repo = state.visible_repo(id, token.as_ref())?;
    let page = match req.param("p") {
        None | Some("") => 0,
        Some(text) => text.parse().map_err(|_| HubError::bad_request(format!("p must be a page number, not {text:?}")))?,
    };
    let page = discussion_page(&repo.discussions, req.param("type").unwrap_or("all"), req.param("status").unwrap_or("all"), req.param("author"), page);
    let list: Vec<Value> = page.discussions.iter().map(|d| discussion_json(base, repo, d)).collect();
    Ok(Reply::json(&json!({
        "discussions": list,
        "count": page.count,
        "start": page.start,
        "numClosedDiscussions": page.closed,
        "numOpenDiscussions": page.open,
    })))
}

/// Files a pull request changes that `main` also changed since the PR branched off, differently.
pub fn conflicts(repo: &Repo, discussion: &Discussion) -> Vec<String> {
    let (Some(pr_head), Some(target)) = (discussion.git_ref().and_then(|r| repo.resolve(&r)), repo.resolve(&discussion.base)) else { return vec![] };
    let target_history: BTreeSet<&str> = repo.history(target).iter().map(|commit| commit.id.as_str()).collect();
    let Some(fork) = repo.history(pr_head).into_iter().find(|commit| target_history.contains(commit.id.as_str())) else { return vec![] };
    let changed = |from: &Commit, to: &Commit| -> BTreeSet<String> {
        from.files.keys().chain(to.files.keys()).filter(|path| from.files.get(*path) != to.files.get(*path)).cloned().collect()
    };
    let ours = changed(fork, pr_head);
    let theirs = changed(fork, target);
    ours.intersection(&theirs).filter(|path| pr_head.files.get(*path) != target.files.get(*path)).cloned().collect()
}

fn details_json(base: &str, repo: &Repo, discussion: &Discussion) -> Value {
    let events: Vec<Value> = discussion
        .events
        .iter()
        .map(|event| {
            let data = match event.kind.as_str() {
                "comment" => json!({"edited": false, "hidden": false, "numEdits": 0, "editors": [event.author],
                    "latest": {"raw": event.text, "html": super::http::html_escape(&event.text), "updatedAt": iso_date(event.date), "author": author_json(base, &event.author)}}),
                "commit" => json!({"subject": event.text, "oid": event.oid}),
                _ => json!({"status": event.text}),
            };
            json!({"id": event.id, "type": event.kind, "createdAt": iso_date(event.date), "author": author_json(base, &event.author), "data": data})
        })
        .collect();
    let mut value = discussion_json(base, repo, discussion);
    value["events"] = json!(events);
    if discussion.is_pull_request {
        let conflicting = conflicts(repo, discussion);
        value["changes"] = json!({"base": format!("refs/heads/{}", discussion.base)});
        if let Some(merge) = &discussion.merge_commit {
            value["changes"]["mergeCommitId"] = json!(merge);
        }
        value["filesWithConflicts"] = json!(conflicting);
        value["conflictingFiles"] = json!(conflicting);
        value["diffUrl"] = json!(format!("{base}/datasets/{}/discussions/{}/files", repo.id, discussion.num));
    }
    value
}

fn discussion_details(hub: &Shared, req: &Req, base: &str, id: &str, num: u64) -> Result<Reply, HubError> {
    let state = hub.state();
    let token = state.token(req.bearer()).cloned();
    let repo = state.visible_repo(id, token.as_ref())?;
    let discussion = repo.discussions.iter().find(|d| d.num == num).ok_or_else(|| HubError::new(404, None, format!("Discussion #{num} not found")))?;
    Ok(Reply::json(&details_json(base, repo, discussion)))
}

/// `POST …/discussions`: a discussion, or an empty pull request (`pullRequest: true`) to push to.
fn create_discussion(hub: &Shared, req: &Req, base: &str, id: &str) -> Result<Reply, HubError> {
    let body = req.json()?;
    let mut state = hub.state();
    let token = state.require_token(req.bearer())?;
    state.readable_repo(id, Some(&token))?;
    if !token.can_discuss() {
        return Err(HubError::forbidden("This token cannot open discussions (write-discussions)"));
    }
    let title = body["title"].as_str().unwrap_or_default().trim().to_owned();
    if title.len() < 3 {
        return Err(HubError::bad_request("The title must have at least 3 characters"));
    }
    let is_pull_request = body["pullRequest"].as_bool().unwrap_or(false);
    let event = comment_event(&mut state, &token.user, body["description"].as_str().unwrap_or_default());
    let repo = state.repos.get_mut(id).expect("checked above");
    let num = repo.discussions.len() as u64 + 1;
    let main_id = repo.refs["main"].clone();
    repo.discussions.push(Discussion {
        num,
        title,
        author: token.user.clone(),
        created_at: now(),
        status: if is_pull_request { "draft" } else { "open" }.into(),
        is_pull_request,
        base: "main".into(),
        merge_commit: None,
        events: vec![event],
    });
    if is_pull_request {
        repo.refs.insert(format!("refs/pr/{num}"), main_id);
    }
    let main = repo.main().files.clone();
    state.save_repo(id, Some(&main)).map_err(|error| HubError::new(500, None, error))?;
    let repo = &state.repos[id];
    Ok(Reply::json(&json!({"num": num, "url": format!("{base}/datasets/{id}/discussions/{num}"), "pullRequest": is_pull_request, "details": details_json(base, repo, repo.discussions.last().expect("just pushed"))})))
}

fn discussion_action(hub: &Shared, req: &Req, base: &str, id: &str, num: u64, action: &str) -> Result<Reply, HubError> {
    let body = if req.body.iter().all(u8::is_ascii_whitespace) { json!({}) } else { req.json()? };
    let comment = body["comment"].as_str().map(str::trim).filter(|text| !text.is_empty()).map(str::to_owned);
    let mut state = hub.state();
    let token = state.require_token(req.bearer())?;
    let repo = state.readable_repo(id, Some(&token))?;
    let index = repo.discussions.iter().position(|d| d.num == num).ok_or_else(|| HubError::new(404, None, format!("Discussion #{num} not found")))?;
    let discussion = repo.discussions[index].clone();
    let writer = state.writable_repo(id, Some(&token)).is_ok();
    let old_main = repo.main().files.clone();
    let mut new_events = Vec::new();
    if let Some(text) = &comment {
        if !token.can_discuss() {
            return Err(HubError::forbidden("This token cannot comment (write-discussions)"));
        }
        new_events.push(comment_event(&mut state, &token.user, text));
    }
    let answer = match action {
        "comment" => {
            let event = new_events.last().cloned().ok_or_else(|| HubError::bad_request("the comment is empty"))?;
            json!({"newMessage": event_json(base, &event)})
        }
        "status" => {
            let status = body["status"].as_str().unwrap_or_default();
            if !matches!(status, "open" | "closed") {
                return Err(HubError::bad_request("status must be open or closed"));
            }
            if !(writer || discussion.author == token.user && token.can_discuss()) {
                return Err(HubError::forbidden("Only the author or a writer can change the status"));
            }
            let event = Event { id: format!("{:024x}", state.next_salt()), kind: "status-change".into(), author: token.user.clone(), date: now(), text: status.into(), oid: None };
            new_events.push(event.clone());
            state.repos.get_mut(id).expect("checked").discussions[index].status = status.into();
            json!({"newStatus": event_json(base, &event)})
        }
        _ => {
            // merge
            if !discussion.is_pull_request {
                return Err(HubError::bad_request(format!("#{num} is not a pull request")));
            }
            if !writer {
                return Err(HubError::forbidden(format!("Only a writer of {id} can merge pull requests")));
            }
            if !matches!(discussion.status.as_str(), "open" | "draft") {
                return Err(HubError::bad_request(format!("Pull request #{num} is {}", discussion.status)));
            }
            let repo = &state.repos[id];
            let conflicting = conflicts(repo, &discussion);
            if !conflicting.is_empty() {
                return Err(HubError::new(409, None, format!("This pull request has conflicts: {}", conflicting.join(", "))));
            }
            let pr_head = repo.resolve(&format!("refs/pr/{num}")).ok_or_else(|| revision_not_found("refs/pr"))?;
            let target = repo.resolve(&discussion.base).ok_or_else(|| revision_not_found(&discussion.base))?;
            let target_history: BTreeSet<&str> = repo.history(target).iter().map(|commit| commit.id.as_str()).collect();
            let fork = repo.history(pr_head).into_iter().find(|commit| target_history.contains(commit.id.as_str())).unwrap_or(target);
            // Take every change the pull request made since it branched off, on top of the target.
            let mut files = target.files.clone();
            for path in fork.files.keys().chain(pr_head.files.keys()) {
                if fork.files.get(path) != pr_head.files.get(path) {
                    match pr_head.files.get(path) {
                        Some(file) => files.insert(path.clone(), file.clone()),
                        None => files.remove(path),
                    };
                }
            }
            let (target_id, title) = (target.id.clone(), discussion.title.clone());
            let salt = state.next_salt();
            let merged = Commit::new(vec![target_id], &title, &format!("Merge pull request #{num}"), &token.user, now(), files, salt);
            let merged_id = merged.id.clone();
            let event = Event { id: format!("{:024x}", state.next_salt()), kind: "status-change".into(), author: token.user.clone(), date: now(), text: "merged".into(), oid: None };
            new_events.push(event.clone());
            let repo = state.repos.get_mut(id).expect("checked");
            repo.commits.insert(merged_id.clone(), merged);
            repo.refs.insert(discussion.base.clone(), merged_id.clone());
            let entry = &mut repo.discussions[index];
            entry.status = "merged".into();
            entry.merge_commit = Some(merged_id);
            json!({"newStatus": event_json(base, &event)})
        }
    };
    state.repos.get_mut(id).expect("checked").discussions[index].events.extend(new_events);
    state.save_repo(id, Some(&old_main)).map_err(|error| HubError::new(500, None, error))?;
    Ok(Reply::json(&answer))
}

fn event_json(base: &str, event: &Event) -> Value {
    let data = match event.kind.as_str() {
        "comment" => json!({"edited": false, "hidden": false, "numEdits": 0, "latest": {"raw": event.text, "html": super::http::html_escape(&event.text), "updatedAt": iso_date(event.date)}}),
        _ => json!({"status": event.text}),
    };
    json!({"id": event.id, "type": event.kind, "createdAt": iso_date(event.date), "author": author_json(base, &event.author), "data": data})
}

/// `GET|HEAD /datasets/{id}/resolve/{revision}/{path}` (and `raw`, which gives LFS pointers).
pub fn resolve(hub: &Shared, req: &Req, id: &str, rest: &[&str], raw: bool) -> Result<Reply, HubError> {
    let (revision, path) = split_revision(rest).ok_or_else(|| HubError::bad_request("no revision"))?;
    let path = path.join("/");
    let (commit_id, file, content) = {
        let state = hub.state();
        let token = state.token(req.bearer()).cloned();
        let repo = state.readable_repo(id, token.as_ref())?;
        if revision == "refs/convert/parquet" {
            let main = repo.main();
            let content = super::viewer::converted_file(&state.dir, repo, &path).ok_or_else(|| entry_not_found(&path, &revision))?;
            (main.id.clone(), FileEntry::lfs(&repo::sha256_hex(&content), content.len() as u64), Some(content))
        } else {
            let commit = repo.resolve(&revision).ok_or_else(|| revision_not_found(&revision))?;
            let file = commit.files.get(&path).ok_or_else(|| entry_not_found(&path, &revision))?;
            (commit.id.clone(), file.clone(), None)
        }
    };
    let content = match content {
        Some(content) => content,
        None if raw && file.lfs => repo::lfs_pointer(&file.sha256, file.size).into_bytes(),
        None => store::read_blob(&hub.dir, &file.sha256)?,
    };
    let name = path.rsplit('/').next().unwrap_or(&path);
    let mut reply = Reply::new(200, content_type(name), Vec::new())
        .with_header("X-Repo-Commit", &commit_id)
        .with_header("Accept-Ranges", "bytes")
        .with_header("Content-Disposition", &format!("inline; filename*=UTF-8''{}; filename=\"{}\";", percent_encode(name), name.replace('"', "")));
    if file.lfs && !raw {
        reply = reply
            .with_header("ETag", &format!("\"{}\"", file.sha256))
            .with_header("X-Linked-Etag", &format!("\"{}\"", file.sha256))
            .with_header("X-Linked-Size", &file.size.to_string());
    } else {
        reply = reply.with_header("ETag", &format!("\"{}\"", if raw && file.lfs { repo::git_blob_oid(&content) } else { file.oid.clone() }));
    }
    match byte_range(req.header("range"), content.len()) {
        Ok(None) => reply.body = content,
        Ok(Some((start, end))) => {
            reply.status = 206;
            reply = reply.with_header("Content-Range", &format!("bytes {start}-{end}/{}", content.len()));
            reply.body = content[start..=end].to_vec();
        }
        Err(()) => {
            return Ok(HubError::new(416, None, "Requested range not satisfiable").reply().with_header("Content-Range", &format!("bytes */{}", content.len())))
        }
    }
    Ok(reply)
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "md" | "txt" | "csv" | "tsv" => "text/plain; charset=utf-8",
        "json" => "application/json",
        "jsonl" => "application/jsonl",
        _ => "application/octet-stream",
    }
}

/// `{base}/datasets/{id}/resolve/{revision}/{path}`.
pub fn resolve_url(base: &str, id: &str, revision: &str, path: &str) -> String {
    format!("{base}/datasets/{id}/resolve/{}/{}", percent_encode(revision), encode_path(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_may_span_segments() {
        assert_eq!(split_revision(&["main", "data", "x.parquet"]), Some(("main".into(), &["data", "x.parquet"][..])));
        assert_eq!(split_revision(&["refs/pr/3", "a"]), Some(("refs/pr/3".into(), &["a"][..])));
        assert_eq!(split_revision(&["refs", "pr", "3", "a"]), Some(("refs/pr/3".into(), &["a"][..])));
        assert_eq!(split_revision(&[]), None);
    }

    #[test]
    fn commits_parse_from_ndjson_and_json() {
        let ndjson = concat!(
            r#"{"key":"header","value":{"summary":"Add","description":"d","parentCommit":"abc"}}"#, "\n",
            r#"{"key":"file","value":{"content":"aGk=","path":"a.txt","encoding":"base64"}}"#, "\n",
            r#"{"key":"lfsFile","value":{"path":"b.parquet","algo":"sha256","oid":"FF","size":3}}"#, "\n",
            r#"{"key":"deletedFile","value":{"path":"c.txt"}}"#, "\n",
            r#"{"key":"deletedFolder","value":{"path":"d"}}"#, "\n",
        );
        let parsed = parse_commit(ndjson.as_bytes()).unwrap();
        assert_eq!((parsed.summary.as_str(), parsed.parent.as_deref()), ("Add", Some("abc")));
        assert_eq!(
            parsed.operations,
            [
                Operation::Add { path: "a.txt".into(), content: b"hi".to_vec() },
                Operation::AddLfs { path: "b.parquet".into(), sha256: "ff".into(), size: Some(3) },
                Operation::DeleteFile { path: "c.txt".into() },
                Operation::DeleteFolder { path: "d".into() },
            ]
        );
        let json = r#"{"summary":"S","files":[{"path":"a.txt","content":"hi"}],"deletedFiles":[{"path":"c.txt"}]}"#;
        let parsed = parse_commit(json.as_bytes()).unwrap();
        assert_eq!(parsed.summary, "S");
        assert_eq!(parsed.operations.len(), 2);
        assert!(parse_commit(br#"{"key":"nope","value":{}}"#).is_err());
        assert!(parse_commit(b"{not json").is_err());
    }

    #[test]
    fn readme_front_matter() {
        assert_eq!(front_matter("---\nlicense: mit\nviewer: false\n---\n# Hi\n"), Some(Ok(json!({"license": "mit", "viewer": false}))));
        assert_eq!(front_matter("---\n---\n# Empty\n"), Some(Ok(json!({}))));
        assert_eq!(front_matter("# No metadata\n"), None);
        assert!(front_matter("---\nconfigs: [\n---\n").unwrap().is_err());
    }

    #[test]
    fn the_next_tree_page_is_the_same_request_with_a_cursor() {
        let base = "http://192.168.1.5:8001";
        assert_eq!(
            with_cursor(base, "/api/datasets/a/b/tree/refs%2Fpr%2F1/data?recursive=True&expand=False", "eyJ9"),
            "http://192.168.1.5:8001/api/datasets/a/b/tree/refs%2Fpr%2F1/data?recursive=True&expand=False&cursor=eyJ9"
        );
        assert_eq!(with_cursor(base, "/api/datasets/a/b/tree/main?cursor=old&recursive=1", "new"), format!("{base}/api/datasets/a/b/tree/main?recursive=1&cursor=new"));
        assert_eq!(with_cursor(base, "/api/datasets/a/b/tree/main", "c"), format!("{base}/api/datasets/a/b/tree/main?cursor=c"));
    }

    #[test]
    fn discussions_come_newest_first_in_pages_of_fifty() {
        let discussion = |num: u64, author: &str, is_pull_request: bool, status: &str| Discussion {
            num,
            title: format!("#{num}"),
            author: author.into(),
            created_at: num,
            status: status.into(),
            is_pull_request,
            base: "main".into(),
            merge_commit: None,
            events: vec![],
        };
        // 120: every third a pull request by bob (draft, open, merged in turn), the rest alice's discussions.
        let all: Vec<Discussion> = (1..=120)
            .map(|num| match num % 3 {
                0 => discussion(num, "bob", true, ["draft", "open", "merged"][(num as usize / 3) % 3]),
                _ => discussion(num, "alice", false, if num % 10 == 1 { "closed" } else { "open" }),
            })
            .collect();
        let nums = |page: &DiscussionPage| page.discussions.iter().map(|d| d.num).collect::<Vec<_>>();
        let first = discussion_page(&all, "all", "all", None, 0);
        assert_eq!((first.count, first.start, first.discussions.len()), (120, 0, 50));
        assert_eq!(nums(&first)[..3], [120, 119, 118]);
        let last = discussion_page(&all, "all", "all", None, 2);
        assert_eq!((last.start, nums(&last).len(), nums(&last).last()), (100, 20, Some(&1)));
        assert!(discussion_page(&all, "all", "all", None, 3).discussions.is_empty());
        // Bob's open pull requests: drafts count as open; merged ones as closed.
        let bobs = discussion_page(&all, "pull_request", "open", Some("bob"), 0);
        assert_eq!((bobs.count, bobs.closed, bobs.open), (27, 13, 27));
        assert!(bobs.discussions.iter().all(|d| d.is_pull_request && d.author == "bob" && d.status != "merged"));
        let merged = discussion_page(&all, "pull_request", "closed", None, 0);
        assert_eq!((merged.count, merged.closed), (13, 13));
        assert_eq!(discussion_page(&all, "discussion", "all", Some("bob"), 0).count, 0);
        assert_eq!(discussion_page(&all, "discussion", "closed", None, 0).count, 8);
    }
}
