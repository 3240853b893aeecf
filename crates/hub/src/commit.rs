//! Publishing files to a dataset repo in one commit, as the Hub's own clients do.
//!
//! 1. [`RepoId`] names the repo; [`create_repo_request`] makes it (a 409
//!    means it exists already, which is fine);
//! 2. [`revision_request`] gives the head commit, which becomes the
//!    commit's `parentCommit`, so a concurrent change is a 412, not an overwrite;
//! 3. [`tree_request`] lists what is there, and [`changes`] compares it with
//!    what would be written (git blob ids for regular files, sha256 for LFS):
//!    nothing changed means no commit at all;
//! 4. [`preupload_request`] asks which files go to LFS; [`lfs_batch_request`]
//!    gets an upload address for each LFS object the Hub lacks (the upload is
//!    a plain `PUT` of the bytes, then a verify);
//! 5. [`commit_request`] sends the NDJSON commit: a header, regular files
//!    inline in base64, LFS files by their sha256, deletions; with
//!    `create_pr=1` when the account cannot write to the repo.

use crate::error::{HubError, HubErrorKind};
use crate::http::{encode_component, HttpRequest, HttpResponse};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// A dataset repository: `namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoId {
    /// The user or organization.
    pub namespace: String,
    /// The repository's name.
    pub name: String,
}

impl RepoId {
    /// Reads `namespace/name`.
    pub fn parse(text: &str) -> Result<RepoId, HubError> {
        let id = crate::dataset::DatasetId::parse(text)?;
        match id.as_str().split_once('/') {
            Some((namespace, name)) => Ok(RepoId { namespace: namespace.to_owned(), name: name.to_owned() }),
            None => Err(HubError::new(HubErrorKind::Refused, format!("“{text}” needs a namespace: your username or an organization, as in you/{text}"))),
        }
    }

    /// `namespace/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// A file to publish, with its content ids.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedFile {
    /// Its path in the repo.
    pub path: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// sha256, hex: the LFS object id.
    pub sha256: String,
    /// The git blob id (sha1 of `blob {len}\0` and the bytes), hex.
    pub git_oid: String,
}

impl PlannedFile {
    /// A file with its ids computed.
    pub fn new(path: impl Into<String>, bytes: Vec<u8>) -> PlannedFile {
        let sha256 = hex(&Sha256::digest(&bytes));
        let mut blob = Sha1::new();
        blob.update(format!("blob {}\0", bytes.len()).as_bytes());
        blob.update(&bytes);
        PlannedFile { path: path.into(), git_oid: hex(&blob.finalize()), sha256, bytes }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn api(hub_url: &str, repo: &RepoId) -> String {
    format!("{}/api/datasets/{}", hub_url.trim_end_matches('/'), repo.id())
}

/// The request that creates the dataset repo.
pub fn create_repo_request(hub_url: &str, repo: &RepoId, username: &str, private: bool) -> HttpRequest {
    let mut body = json!({"type": "dataset", "name": repo.name, "private": private});
    if repo.namespace != username {
        body["organization"] = json!(repo.namespace);
    }
    HttpRequest::post_json(format!("{}/api/repos/create", hub_url.trim_end_matches('/')), &body)
}

/// Reads the creation's answer: created, or there already (409).
pub fn read_create_repo(response: &HttpResponse, hub_url: &str, repo: &RepoId) -> Result<(), HubError> {
    if response.ok() || response.status == 409 {
        return Ok(());
    }
    Err(response.error(hub_url, Some(&repo.id())))
}

/// The request for a revision's head commit.
pub fn revision_request(hub_url: &str, repo: &RepoId, revision: &str) -> HttpRequest {
    HttpRequest::get(format!("{}/revision/{}", api(hub_url, repo), encode_component(revision)))
}

#[derive(Deserialize)]
struct RevisionAnswer {
    sha: String,
}

/// The head commit's id.
pub fn read_revision(response: &HttpResponse, hub_url: &str, repo: &RepoId) -> Result<String, HubError> {
    if !response.ok() {
        return Err(response.error(hub_url, Some(&repo.id())));
    }
    Ok(response.json::<RevisionAnswer>("the repo's revision")?.sha)
}

/// A file in the repo, as the tree lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// Its path.
    pub path: String,
    /// The git blob id.
    pub oid: String,
    /// The LFS object id (sha256), for LFS files.
    pub lfs_oid: Option<String>,
}

/// The request for the whole tree at a revision.
pub fn tree_request(hub_url: &str, repo: &RepoId, revision: &str) -> HttpRequest {
    HttpRequest::get(format!("{}/tree/{}?recursive=true", api(hub_url, repo), encode_component(revision)))
}

#[derive(Deserialize)]
struct RawEntry {
    #[serde(rename = "type")]
    kind: String,
    path: String,
    #[serde(default)]
    oid: String,
    #[serde(default)]
    lfs: Option<RawLfs>,
}

#[derive(Deserialize)]
struct RawLfs {
    oid: String,
}

/// The files of the tree (folders left out).
pub fn read_tree(response: &HttpResponse, hub_url: &str, repo: &RepoId) -> Result<Vec<TreeEntry>, HubError> {
    if !response.ok() {
        return Err(response.error(hub_url, Some(&repo.id())));
    }
    let entries: Vec<RawEntry> = response.json("the repo's file tree")?;
    Ok(entries
        .into_iter()
        .filter(|entry| entry.kind == "file")
        .map(|entry| TreeEntry { path: entry.path, oid: entry.oid, lfs_oid: entry.lfs.map(|lfs| lfs.oid) })
        .collect())
}

/// What a commit must do to make the repo hold the planned files.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Changes<'a> {
    /// Files that are missing or differ.
    pub write: Vec<&'a PlannedFile>,
    /// Files under the managed folders that the plan no longer has.
    pub delete: Vec<String>,
}

impl Changes<'_> {
    /// Whether the repo already holds exactly the plan.
    pub fn is_empty(&self) -> bool {
        self.write.is_empty() && self.delete.is_empty()
    }
}

/// Compares the plan with the tree. Files under `managed` folders (Prefab's
/// own, such as `data/`) that the plan does not have are deleted; every
/// other file of the repo is left alone.
pub fn changes<'a>(plan: &'a [PlannedFile], tree: &[TreeEntry], managed: &[&str]) -> Changes<'a> {
    let same = |file: &PlannedFile, entry: &TreeEntry| match &entry.lfs_oid {
        Some(lfs) => *lfs == file.sha256,
        None => entry.oid == file.git_oid,
    };
    let write = plan.iter().filter(|file| !tree.iter().any(|entry| entry.path == file.path && same(file, entry))).collect();
    let delete = tree
        .iter()
        .filter(|entry| managed.iter().any(|folder| entry.path.starts_with(folder)))
        .filter(|entry| !plan.iter().any(|file| file.path == entry.path))
        .map(|entry| entry.path.clone())
        .collect();
    Changes { write, delete }
}

/// How a file is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadMode {
    /// Inline in the commit, base64.
    Regular,
    /// To LFS storage first, then named in the commit by its sha256.
    Lfs,
}

/// Asks the Hub which files go to LFS; `create_pr` says the commit will open
/// a pull request (as huggingface_hub says it), which an account without
/// write access may do.
pub fn preupload_request(hub_url: &str, repo: &RepoId, revision: &str, files: &[&PlannedFile], create_pr: bool) -> HttpRequest {
    let files: Vec<_> = files
        .iter()
        .map(|file| json!({"path": file.path, "size": file.bytes.len(), "sample": STANDARD.encode(&file.bytes[..file.bytes.len().min(512)])}))
        .collect();
    let query = if create_pr { "?create_pr=1" } else { "" };
    HttpRequest::post_json(format!("{}/preupload/{}{query}", api(hub_url, repo), encode_component(revision)), &json!({"files": files}))
}

#[derive(Deserialize)]
struct PreuploadAnswer {
    files: Vec<PreuploadFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PreuploadFile {
    path: String,
    upload_mode: String,
}

/// Each file's upload mode; files the Hub did not mention go regular.
pub fn read_preupload(response: &HttpResponse, hub_url: &str, repo: &RepoId, files: &[&PlannedFile]) -> Result<Vec<UploadMode>, HubError> {
    if !response.ok() {
        return Err(response.error(hub_url, Some(&repo.id())));
    }
    let answer: PreuploadAnswer = response.json("the preupload answer")?;
    Ok(files
        .iter()
        .map(|file| match answer.files.iter().find(|f| f.path == file.path) {
            Some(f) if f.upload_mode == "lfs" => UploadMode::Lfs,
            _ => UploadMode::Regular,
        })
        .collect())
}

/// The git-lfs batch request for these objects.
pub fn lfs_batch_request(hub_url: &str, repo: &RepoId, revision: &str, files: &[&PlannedFile]) -> HttpRequest {
    let objects: Vec<_> = files.iter().map(|file| json!({"oid": file.sha256, "size": file.bytes.len()})).collect();
    let body = json!({
        "operation": "upload",
        "transfers": ["basic"],
        "hash_algo": "sha256",
        "objects": objects,
        "ref": {"name": if revision.starts_with("refs/") { revision.to_owned() } else { format!("refs/heads/{revision}") }},
    });
    HttpRequest::post_json(format!("{}/datasets/{}.git/info/lfs/objects/batch", hub_url.trim_end_matches('/'), repo.id()), &body)
        .with_header("Accept", "application/vnd.git-lfs+json")
        .with_header("Content-Type", "application/vnd.git-lfs+json")
}

/// An action the batch API gives: an address and headers to send.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LfsAction {
    /// Where.
    pub href: String,
    /// Headers to send with it.
    #[serde(default)]
    pub header: std::collections::BTreeMap<String, String>,
}

/// What to do for one LFS object: nothing (the Hub has it), or upload then verify.
#[derive(Debug, Clone, PartialEq)]
pub struct LfsObject {
    /// The object id (sha256).
    pub oid: String,
    /// Where to `PUT` the bytes, if the Hub lacks them.
    pub upload: Option<LfsAction>,
    /// Where to confirm the upload, if asked.
    pub verify: Option<LfsAction>,
}

#[derive(Deserialize)]
struct BatchAnswer {
    objects: Vec<BatchObject>,
}

#[derive(Deserialize)]
struct BatchObject {
    oid: String,
    #[serde(default)]
    actions: Option<BatchActions>,
    #[serde(default)]
    error: Option<BatchError>,
}

#[derive(Deserialize)]
struct BatchActions {
    upload: Option<LfsAction>,
    verify: Option<LfsAction>,
}

#[derive(Deserialize)]
struct BatchError {
    #[serde(default)]
    code: u16,
    #[serde(default)]
    message: String,
}

/// Reads the batch answer; an object the Hub refuses is an error naming it.
pub fn read_lfs_batch(response: &HttpResponse, hub_url: &str, repo: &RepoId) -> Result<Vec<LfsObject>, HubError> {
    if !response.ok() {
        return Err(response.error(hub_url, Some(&repo.id())));
    }
    let answer: BatchAnswer = response.json("the LFS batch answer")?;
    answer
        .objects
        .into_iter()
        .map(|object| match object.error {
            Some(error) => Err(HubError::new(HubErrorKind::Refused, format!("LFS object {}: {} (code {})", object.oid, error.message, error.code))),
            None => {
                let (upload, verify) = object.actions.map(|a| (a.upload, a.verify)).unwrap_or_default();
                Ok(LfsObject { oid: object.oid, upload, verify })
            }
        })
        .collect()
}

/// The `PUT` of an LFS object's bytes (to storage, so without the Hub token).
pub fn lfs_upload_request(action: &LfsAction, file: &PlannedFile) -> HttpRequest {
    let mut request = HttpRequest { method: "PUT", url: action.href.clone(), headers: Vec::new(), body: Some(file.bytes.clone()), authorized: false };
    for (name, value) in &action.header {
        request = request.with_header(name, value);
    }
    request
}

/// The verify call after an upload.
pub fn lfs_verify_request(action: &LfsAction, file: &PlannedFile) -> HttpRequest {
    let mut request = HttpRequest::post_json(action.href.clone(), &json!({"oid": file.sha256, "size": file.bytes.len()}))
        .with_header("Accept", "application/vnd.git-lfs+json");
    for (name, value) in &action.header {
        request = request.with_header(name, value);
    }
    request
}

/// The commit itself, as NDJSON.
pub struct CommitPlan<'a> {
    /// The one-line summary.
    pub summary: &'a str,
    /// The commit the revision must still be at.
    pub parent_commit: &'a str,
    /// The files to write, with how each was sent.
    pub write: Vec<(&'a PlannedFile, UploadMode)>,
    /// Paths to delete.
    pub delete: &'a [String],
    /// Open a pull request instead of committing to the revision.
    pub create_pr: bool,
}

/// The `commit` request.
pub fn commit_request(hub_url: &str, repo: &RepoId, revision: &str, plan: &CommitPlan) -> HttpRequest {
    let mut lines = vec![json!({"key": "header", "value": {"summary": plan.summary, "description": "", "parentCommit": plan.parent_commit}})];
    for (file, mode) in &plan.write {
        lines.push(match mode {
            UploadMode::Regular => json!({"key": "file", "value": {"content": STANDARD.encode(&file.bytes), "path": file.path, "encoding": "base64"}}),
            UploadMode::Lfs => json!({"key": "lfsFile", "value": {"path": file.path, "algo": "sha256", "oid": file.sha256, "size": file.bytes.len()}}),
        });
    }
    for path in plan.delete {
        lines.push(json!({"key": "deletedFile", "value": {"path": path}}));
    }
    let body: String = lines.iter().map(|line| format!("{line}\n")).collect();
    let query = if plan.create_pr { "?create_pr=1" } else { "" };
    HttpRequest {
        method: "POST",
        url: format!("{}/commit/{}{query}", api(hub_url, repo), encode_component(revision)),
        headers: vec![("Content-Type".into(), "application/x-ndjson".into())],
        body: Some(body.into_bytes()),
        authorized: true,
    }
}

/// A commit made.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitOutcome {
    /// Its id.
    pub commit_oid: String,
    /// Its page.
    #[serde(default)]
    pub commit_url: String,
    /// The pull request it opened, if any.
    #[serde(default)]
    pub pull_request_url: Option<String>,
}

/// Reads the commit's answer.
pub fn read_commit(response: &HttpResponse, hub_url: &str, repo: &RepoId) -> Result<CommitOutcome, HubError> {
    if !response.ok() {
        return Err(response.error(hub_url, Some(&repo.id())));
    }
    response.json("the commit's answer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_git_and_lfs() {
        // `printf 'hello\n' | git hash-object --stdin`, and sha256sum.
        let file = PlannedFile::new("a.txt", b"hello\n".to_vec());
        assert_eq!(file.git_oid, "ce013625030ba8dba906f756967f9e9ca394464a");
        assert_eq!(file.sha256, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
    }

    #[test]
    fn repo_ids_need_a_namespace() {
        assert_eq!(RepoId::parse("ada/prefs").unwrap().id(), "ada/prefs");
        assert_eq!(RepoId::parse("prefs").unwrap_err().kind, HubErrorKind::Refused);
    }

    #[test]
    fn an_identical_tree_means_no_commit() {
        let plan = vec![PlannedFile::new("README.md", b"card".to_vec()), PlannedFile::new("data/kto/train-00000-of-00001.parquet", b"PAR1".to_vec())];
        let tree = vec![
            TreeEntry { path: ".gitattributes".into(), oid: "x".into(), lfs_oid: None },
            TreeEntry { path: "README.md".into(), oid: plan[0].git_oid.clone(), lfs_oid: None },
            TreeEntry { path: "data/kto/train-00000-of-00001.parquet".into(), oid: "pointer".into(), lfs_oid: Some(plan[1].sha256.clone()) },
        ];
        assert!(changes(&plan, &tree, &["data/"]).is_empty());
        let mut stale = tree.clone();
        stale[1].oid = "old".into();
        stale.push(TreeEntry { path: "data/dpo/train-00000-of-00001.parquet".into(), oid: "y".into(), lfs_oid: Some("z".into()) });
        let diff = changes(&plan, &stale, &["data/"]);
        assert_eq!(diff.write.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), vec!["README.md"]);
        assert_eq!(diff.delete, vec!["data/dpo/train-00000-of-00001.parquet"]);
        assert_eq!(changes(&plan, &[], &["data/"]).write.len(), 2);
    }

    #[test]
    fn the_commit_is_ndjson_with_the_parent() {
        let regular = PlannedFile::new("README.md", b"card".to_vec());
        let lfs = PlannedFile::new("data/x.parquet", b"PAR1".to_vec());
        let delete = vec!["old.parquet".to_owned()];
        let plan = CommitPlan { summary: "Publish", parent_commit: "abc", write: vec![(&regular, UploadMode::Regular), (&lfs, UploadMode::Lfs)], delete: &delete, create_pr: true };
        let request = commit_request("http://hub/", &RepoId::parse("o/r").unwrap(), "main", &plan);
        assert_eq!(request.url, "http://hub/api/datasets/o/r/commit/main?create_pr=1");
        let lines: Vec<serde_json::Value> = String::from_utf8(request.body.unwrap()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0], json!({"key":"header","value":{"summary":"Publish","description":"","parentCommit":"abc"}}));
        assert_eq!(lines[1], json!({"key":"file","value":{"content":"Y2FyZA==","path":"README.md","encoding":"base64"}}));
        assert_eq!(lines[2], json!({"key":"lfsFile","value":{"path":"data/x.parquet","algo":"sha256","oid":lfs.sha256,"size":4}}));
        assert_eq!(lines[3], json!({"key":"deletedFile","value":{"path":"old.parquet"}}));
    }

    #[test]
    fn revisions_are_encoded_and_pr_refs_kept_in_lfs_refs() {
        let repo = RepoId::parse("o/r").unwrap();
        assert_eq!(revision_request("http://h", &repo, "refs/pr/3").url, "http://h/api/datasets/o/r/revision/refs%2Fpr%2F3");
        let file = PlannedFile::new("a", vec![1]);
        let batch = lfs_batch_request("http://h", &repo, "refs/pr/3", &[&file]);
        let body: serde_json::Value = serde_json::from_slice(batch.body.as_ref().unwrap()).unwrap();
        assert_eq!(body["ref"]["name"], "refs/pr/3");
        assert_eq!(batch.url, "http://h/datasets/o/r.git/info/lfs/objects/batch");
    }

    #[test]
    fn batch_answers_say_what_to_upload() {
        let repo = RepoId::parse("o/r").unwrap();
        let answer = HttpResponse {
            status: 200,
            body: br#"{"transfer":"basic","objects":[{"oid":"a","size":1,"actions":{"upload":{"href":"http://s/a","header":{"X-Amz":"1"}},"verify":{"href":"http://h/verify"}}},{"oid":"b","size":2}]}"#.to_vec(),
            ..Default::default()
        };
        let objects = read_lfs_batch(&answer, "h", &repo).unwrap();
        assert_eq!(objects[0].upload.as_ref().unwrap().header.get("X-Amz").map(String::as_str), Some("1"));
        assert!(objects[1].upload.is_none());
        let refused = HttpResponse { status: 200, body: br#"{"objects":[{"oid":"a","size":1,"error":{"code":422,"message":"too big"}}]}"#.to_vec(), ..Default::default() };
        assert!(read_lfs_batch(&refused, "h", &repo).unwrap_err().message.contains("too big"));
        let file = PlannedFile::new("x", vec![9; 3]);
        let put = lfs_upload_request(objects[0].upload.as_ref().unwrap(), &file);
        assert!(!put.authorized && put.method == "PUT" && put.headers.contains(&("X-Amz".into(), "1".into())));
    }

    #[test]
    fn a_pull_request_is_announced_at_preupload() {
        let repo = RepoId::parse("o/r").unwrap();
        let file = PlannedFile::new("a", vec![1]);
        assert_eq!(preupload_request("http://h", &repo, "main", &[&file], true).url, "http://h/api/datasets/o/r/preupload/main?create_pr=1");
        assert_eq!(preupload_request("http://h", &repo, "main", &[&file], false).url, "http://h/api/datasets/o/r/preupload/main");
    }

    #[test]
    fn a_409_on_create_means_it_exists() {
        let repo = RepoId::parse("o/r").unwrap();
        assert!(read_create_repo(&HttpResponse { status: 409, ..Default::default() }, "h", &repo).is_ok());
        let refused = HttpResponse { status: 403, body: br#"{"error":"no"}"#.to_vec(), ..Default::default() };
        assert_eq!(read_create_repo(&refused, "h", &repo).unwrap_err().kind, HubErrorKind::NoAccess);
        let body = create_repo_request("h", &repo, "ada", true).body.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body, json!({"type":"dataset","name":"r","private":true,"organization":"o"}));
    }
}
