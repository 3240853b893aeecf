//! The Hub's state, in memory and on disk, and who may do what.
//!
//! On disk, under the served folder `dir`:
//!
//! - `dir/datasets/{namespace}/{name}/…`: each repo's `main` checked out as
//!   plain files, rewritten after every commit to `main`, so an organizer can
//!   later push the folder with `huggingface-cli upload`;
//! - `dir/.hub/repos/datasets/{namespace}/{name}.json`: the repo's settings,
//!   commits (full snapshots), refs (`main`, `refs/pr/N`) and discussions;
//! - `dir/.hub/blobs/{sha256}`: every file's content, regular or LFS, by hash;
//! - `dir/.hub/users.json`: organizations, their members and the tokens;
//! - `dir/.hub/requests.log`: every request and its answer's status (written by `super::answer`).
//!
//! Access: a user writes to their own namespace and to organizations they
//! belong to, with a token that has a write scope (`write-repos`, or `write`
//! for classic tokens). Private repos are invisible to others. Gated repos
//! (`manual`) show their metadata and file list to everyone but their files
//! and rows only to members and to users granted access.

use super::http::{now, HubError};
use super::repo::{Commit, FileEntry};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Access tokens live eight hours, as the Hub's OAuth tokens do.
pub const TOKEN_LIFETIME: u64 = 8 * 3600;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Token {
    pub user: String,
    pub scopes: Vec<String>,
    pub expires_at: u64,
    /// Shown as `auth.accessToken.displayName` by whoami.
    pub name: String,
}

impl Token {
    pub fn can_write(&self) -> bool {
        self.scopes.iter().any(|scope| scope == "write-repos" || scope == "write" || scope == "manage-repos")
    }
    /// Opening pull requests and discussions.
    pub fn can_discuss(&self) -> bool {
        self.can_write() || self.scopes.iter().any(|scope| scope == "write-discussions")
    }
}

/// One event of a discussion's timeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    /// `comment`, `commit` or `status-change`.
    pub kind: String,
    pub author: String,
    pub date: u64,
    /// The comment's text, the commit's subject or the new status.
    pub text: String,
    /// The commit's id, for `commit` events.
    pub oid: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Discussion {
    pub num: u64,
    pub title: String,
    pub author: String,
    pub created_at: u64,
    /// `open`, `closed`, `merged` or `draft`.
    pub status: String,
    pub is_pull_request: bool,
    /// The branch a pull request targets (`main`).
    pub base: String,
    pub merge_commit: Option<String>,
    pub events: Vec<Event>,
}

impl Discussion {
    pub fn git_ref(&self) -> Option<String> {
        self.is_pull_request.then(|| format!("refs/pr/{}", self.num))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Repo {
    /// `namespace/name`.
    pub id: String,
    pub private: bool,
    /// `None`, or `"manual"` / `"auto"`.
    pub gated: Option<String>,
    /// False when the dataset viewer is disabled.
    pub viewer: bool,
    pub created_at: u64,
    pub commits: HashMap<String, Commit>,
    /// `main` (and other branches) and `refs/pr/N`, to commit ids.
    pub refs: BTreeMap<String, String>,
    pub discussions: Vec<Discussion>,
    /// Users granted access to a gated repo.
    pub granted: BTreeSet<String>,
}

impl Repo {
    pub fn namespace(&self) -> &str {
        self.id.split('/').next().unwrap_or_default()
    }

    /// The commit a revision names: a branch, `refs/heads/x`, `refs/pr/N`, or a commit id.
    pub fn resolve(&self, revision: &str) -> Option<&Commit> {
        let revision = revision.strip_prefix("refs/heads/").unwrap_or(revision);
        match self.refs.get(revision) {
            Some(id) => self.commits.get(id),
            None => self.commits.get(revision),
        }
    }

    pub fn main(&self) -> &Commit {
        self.resolve("main").expect("every repo has a main branch")
    }

    /// The most recent commit (from `head` back) that changed each path, for `expand=true`.
    pub fn last_commits<'a>(&'a self, head: &'a Commit) -> HashMap<String, &'a Commit> {
        let mut found: HashMap<String, &Commit> = HashMap::new();
        let mut current = Some(head);
        while let Some(commit) = current {
            let parent = commit.parents.first().and_then(|id| self.commits.get(id));
            for (path, file) in &commit.files {
                let changed = parent.is_none_or(|parent| parent.files.get(path) != Some(file));
                if changed && !found.contains_key(path) {
                    found.insert(path.clone(), commit);
                }
            }
            current = parent;
        }
        found
    }

    /// The history of a commit, newest first.
    pub fn history<'a>(&'a self, head: &'a Commit) -> Vec<&'a Commit> {
        let mut out = vec![head];
        while let Some(parent) = out.last().and_then(|commit| commit.parents.first()).and_then(|id| self.commits.get(id)) {
            out.push(parent);
        }
        out
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Users {
    /// Organization → members (all with write access).
    pub orgs: BTreeMap<String, BTreeSet<String>>,
    pub tokens: HashMap<String, Token>,
}

/// Everything the Hub knows, behind one mutex.
pub struct State {
    pub dir: PathBuf,
    pub repos: BTreeMap<String, Repo>,
    pub users: Users,
    /// Counts commits and ids made by this process, for unique ids.
    pub counter: u64,
}

impl State {
    /// Loads what `dir/.hub/` holds (nothing, the first time).
    pub fn load(dir: &Path) -> Result<State, String> {
        let hub = dir.join(".hub");
        std::fs::create_dir_all(hub.join("blobs")).map_err(|error| format!("{}: {error}", hub.display()))?;
        let users = match std::fs::read(hub.join("users.json")) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| format!("{}/users.json: {error}", hub.display()))?,
            Err(_) => Users::default(),
        };
        let mut repos = BTreeMap::new();
        let root = hub.join("repos/datasets");
        for namespace in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            for file in std::fs::read_dir(namespace.path()).into_iter().flatten().flatten() {
                let bytes = std::fs::read(file.path()).map_err(|error| format!("{}: {error}", file.path().display()))?;
                let repo: Repo = serde_json::from_slice(&bytes).map_err(|error| format!("{}: {error}", file.path().display()))?;
                repos.insert(repo.id.clone(), repo);
            }
        }
        Ok(State { dir: dir.to_path_buf(), repos, users, counter: 0 })
    }

    pub fn next_salt(&mut self) -> u64 {
        self.counter += 1;
        self.counter ^ (std::process::id() as u64) << 32
    }

    /// The token's record if it is known and not expired.
    pub fn token(&self, token: Option<&str>) -> Option<&Token> {
        self.users.tokens.get(token?).filter(|token| token.expires_at > now())
    }

    /// The token's record, or 401.
    pub fn require_token(&self, token: Option<&str>) -> Result<Token, HubError> {
        self.token(token).cloned().ok_or_else(HubError::unauthorized)
    }

    pub fn is_org(&self, name: &str) -> bool {
        self.users.orgs.contains_key(name)
    }

    /// Whether `user` may write in `namespace`: their own, or an org they belong to.
    pub fn is_member(&self, user: &str, namespace: &str) -> bool {
        user == namespace || self.users.orgs.get(namespace).is_some_and(|members| members.contains(user))
    }

    pub fn orgs_of(&self, user: &str) -> Vec<String> {
        self.users.orgs.iter().filter(|(_, members)| members.contains(user)).map(|(org, _)| org.clone()).collect()
    }

    /// The repo, if it exists and the caller may see it; else RepoNotFound
    /// (401 without a token, 404 with one, as the Hub answers).
    pub fn visible_repo(&self, id: &str, token: Option<&Token>) -> Result<&Repo, HubError> {
        let not_found = || {
            let status = if token.is_some() { 404 } else { 401 };
            HubError::new(status, Some("RepoNotFound"), "Repository not found")
        };
        let repo = self.repos.get(id).ok_or_else(not_found)?;
        if repo.private && !token.is_some_and(|token| self.is_member(&token.user, repo.namespace())) {
            return Err(not_found());
        }
        Ok(repo)
    }

    /// Like [`State::visible_repo`], and its files may be read: gated repos need access.
    pub fn readable_repo(&self, id: &str, token: Option<&Token>) -> Result<&Repo, HubError> {
        let repo = self.visible_repo(id, token)?;
        if repo.gated.is_some() {
            match token {
                None => {
                    return Err(HubError::new(
                        401,
                        Some("GatedRepo"),
                        format!("Access to dataset {id} is restricted. You must have access to it and be authenticated to access it. Please log in."),
                    ))
                }
                Some(token) if !self.is_member(&token.user, repo.namespace()) && !repo.granted.contains(&token.user) => {
                    return Err(HubError::new(
                        403,
                        Some("GatedRepo"),
                        format!("Access to dataset {id} is restricted and you are not in the authorized list. Visit the dataset page to ask for access."),
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(repo)
    }

    /// The repo, writable by the token's user, or 401/403/404.
    pub fn writable_repo(&self, id: &str, token: Option<&Token>) -> Result<&Repo, HubError> {
        let token = token.ok_or_else(HubError::unauthorized)?;
        let repo = self.visible_repo(id, Some(token))?;
        if !self.is_member(&token.user, repo.namespace()) {
            return Err(HubError::forbidden(format!(
                "You don't have the rights to write to {id}: {} is not a member of {}. Open a pull request instead.",
                token.user,
                repo.namespace()
            )));
        }
        if !token.can_write() {
            return Err(HubError::forbidden("This token has no write scope (write-repos)"));
        }
        Ok(repo)
    }

    /// Writes a repo's record, and its checkout when `main` moved.
    pub fn save_repo(&self, id: &str, old_main: Option<&BTreeMap<String, FileEntry>>) -> Result<(), String> {
        let repo = &self.repos[id];
        let path = self.dir.join(".hub/repos/datasets").join(format!("{id}.json"));
        write_atomically(&path, &serde_json::to_vec(repo).map_err(|error| error.to_string())?)?;
        let main = &repo.main().files;
        if old_main == Some(main) {
            return Ok(());
        }
        let checkout = self.dir.join("datasets").join(id);
        for path in old_main.into_iter().flat_map(|files| files.keys()).filter(|path| !main.contains_key(*path)) {
            let _ = std::fs::remove_file(checkout.join(path));
        }
        for (path, file) in main {
            if old_main.and_then(|old| old.get(path)) != Some(file) || !checkout.join(path).exists() {
                let target = checkout.join(path);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(|error| format!("{}: {error}", parent.display()))?;
                }
                std::fs::copy(self.blob_path(&file.sha256), &target).map_err(|error| format!("{}: {error}", target.display()))?;
            }
        }
        Ok(())
    }

    pub fn save_users(&self) -> Result<(), String> {
        let bytes = serde_json::to_vec_pretty(&self.users).map_err(|error| error.to_string())?;
        write_atomically(&self.dir.join(".hub/users.json"), &bytes)
    }

    pub fn blob_path(&self, sha256: &str) -> PathBuf {
        self.dir.join(".hub/blobs").join(sha256)
    }
}

/// Stores content under its sha256 (and returns the hash); the store is shared by all repos.
pub fn put_blob(dir: &Path, content: &[u8]) -> Result<String, String> {
    let sha = super::repo::sha256_hex(content);
    let path = dir.join(".hub/blobs").join(&sha);
    if !path.exists() {
        write_atomically(&path, content)?;
    }
    Ok(sha)
}

/// The size of a stored blob.
pub fn blob_size(dir: &Path, sha256: &str) -> Option<u64> {
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    std::fs::metadata(dir.join(".hub/blobs").join(sha256)).ok().map(|meta| meta.len())
}

pub fn read_blob(dir: &Path, sha256: &str) -> Result<Vec<u8>, HubError> {
    std::fs::read(dir.join(".hub/blobs").join(sha256)).map_err(|error| HubError::new(500, None, format!("blob {sha256}: {error}")))
}

/// Writes through a temporary file and a rename, so a crash never leaves half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let parent = path.parent().ok_or("no parent folder")?;
    std::fs::create_dir_all(parent).map_err(|error| format!("{}: {error}", parent.display()))?;
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, bytes).map_err(|error| format!("{}: {error}", temporary.display()))?;
    std::fs::rename(&temporary, path).map_err(|error| format!("{}: {error}", path.display()))
}

/// A fresh random string of `length` letters and digits (for tokens, codes, tickets).
pub fn random_string(length: usize) -> String {
    use std::hash::{BuildHasher, Hasher};
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(length);
    while out.len() < length {
        // Each RandomState is seeded from the OS's randomness (per thread, then incremented).
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        let mut bits = hasher.finish();
        for _ in 0..10 {
            if out.len() == length {
                break;
            }
            out.push(ALPHABET[(bits % ALPHABET.len() as u64) as usize] as char);
            bits /= ALPHABET.len() as u64;
        }
    }
    out
}

/// A namespace or repo name the Hub would accept: letters, digits, `-`, `_`, `.`, not starting with `.` or `-`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 96
        && !name.starts_with(['.', '-'])
        && !name.ends_with('.')
        && !name.contains("..")
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_the_hubs() {
        for name in ["prefab-test", "prompts-1k", "a.b", "A_1"] {
            assert!(valid_name(name), "{name}");
        }
        for name in ["", ".hub", "-x", "a/b", "a..b", "x.", "é"] {
            assert!(!valid_name(name), "{name}");
        }
    }

    #[test]
    fn random_strings_differ() {
        let (a, b) = (random_string(34), random_string(34));
        assert_eq!(a.len(), 34);
        assert_ne!(a, b);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn scopes_decide_writing_and_discussing() {
        let token = |scopes: &[&str]| Token { user: "u".into(), scopes: scopes.iter().map(|s| s.to_string()).collect(), expires_at: 0, name: "t".into() };
        assert!(token(&["openid", "write-repos"]).can_write());
        assert!(!token(&["openid", "write-discussions"]).can_write());
        assert!(token(&["write-discussions"]).can_discuss());
        assert!(!token(&["openid", "profile"]).can_discuss());
    }
}
