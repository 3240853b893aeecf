//! A repository's content, as pure data: files, commits, refs, and the rules
//! the Hub applies to them.
//!
//! - a file is its sha256 (the blob store's key), size, git blob oid and
//!   whether it is stored with LFS; an LFS file's git oid is that of its
//!   pointer, as in git;
//! - a commit is a full snapshot of the files (repos here are small), so
//!   [`apply`] is all or nothing by construction: it builds the new snapshot
//!   or returns the first error;
//! - [`tree`] lists a folder the way `/api/…/tree/{rev}/{path}` does, and
//!   [`tree_page`] cuts it into the Hub's pages, resumed after a cursor;
//! - [`upload_mode`] is the preupload decision: LFS for `.gitattributes`
//!   patterns (the Hub's defaults unless the repo has its own), files of
//!   10 MiB or more, and binary samples.

use serde::{Deserialize, Serialize};
use sha1::{Digest as _, Sha1};
use std::collections::BTreeMap;

/// Files over this size must go through LFS.
pub const REGULAR_MAX: u64 = 10 * 1024 * 1024;
/// No file may be larger than this on the local Hub.
pub const FILE_MAX: u64 = 100 * 1024 * 1024;

/// One file of a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// The content's sha256, in hex: the blob store's key, and the LFS oid.
    pub sha256: String,
    pub size: u64,
    /// The git blob sha1 (of the pointer file for LFS files).
    pub oid: String,
    pub lfs: bool,
}

impl FileEntry {
    pub fn regular(content: &[u8]) -> FileEntry {
        FileEntry { sha256: sha256_hex(content), size: content.len() as u64, oid: git_blob_oid(content), lfs: false }
    }

    pub fn lfs(sha256: &str, size: u64) -> FileEntry {
        FileEntry { sha256: sha256.to_owned(), size, oid: git_blob_oid(lfs_pointer(sha256, size).as_bytes()), lfs: true }
    }
}

/// A commit: its parents, message, author and the whole file list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Commit {
    pub id: String,
    pub parents: Vec<String>,
    pub title: String,
    pub message: String,
    pub author: String,
    pub date: u64,
    pub files: BTreeMap<String, FileEntry>,
}

impl Commit {
    /// A commit with its id computed from everything in it (and `salt`, so two
    /// identical commits made at once still differ).
    pub fn new(parents: Vec<String>, title: &str, message: &str, author: &str, date: u64, files: BTreeMap<String, FileEntry>, salt: u64) -> Commit {
        let mut hash = Sha1::new();
        for parent in &parents {
            hash.update(format!("parent {parent}\n"));
        }
        for (path, file) in &files {
            hash.update(format!("{} {path}\n", file.oid));
        }
        hash.update(format!("author {author} {date} {salt}\n\n{title}\n\n{message}"));
        Commit { id: hex(&hash.finalize()), parents, title: title.to_owned(), message: message.to_owned(), author: author.to_owned(), date, files }
    }
}

/// What a commit does to one path.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// A regular file with its content.
    Add { path: String, content: Vec<u8> },
    /// An LFS file already in the blob store.
    AddLfs { path: String, sha256: String, size: Option<u64> },
    DeleteFile { path: String },
    DeleteFolder { path: String },
}

/// Checks a path inside a repository: relative, no `.`/`..`/empty parts, not in `.git/`.
pub fn check_path(path: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("invalid path {path:?}: {why}"));
    if path.is_empty() {
        return bad("empty");
    }
    if path.starts_with('/') || path.contains('\\') || path.contains('\0') {
        return bad("it must be relative, with / as separator");
    }
    if path.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
        return bad("no empty, . or .. parts");
    }
    if path == ".git" || path.starts_with(".git/") {
        return bad("nothing may be written under .git/");
    }
    if path.len() > 1000 {
        return bad("longer than 1,000 bytes");
    }
    Ok(())
}

/// Applies operations to a file list. `blob_size` says whether an LFS object
/// is stored (and its size). Fails on the first bad operation; the input is untouched.
pub fn apply(
    files: &BTreeMap<String, FileEntry>,
    operations: &[Operation],
    blob_size: &dyn Fn(&str) -> Option<u64>,
) -> Result<BTreeMap<String, FileEntry>, String> {
    let mut files = files.clone();
    for operation in operations {
        match operation {
            Operation::Add { path, content } => {
                check_path(path)?;
                if content.len() as u64 > REGULAR_MAX {
                    return Err(format!("{path}: a file of {} bytes must be uploaded with LFS (regular files are at most 10 MiB)", content.len()));
                }
                files.retain(|existing, _| !existing.starts_with(&format!("{path}/")));
                files.insert(path.clone(), FileEntry::regular(content));
            }
            Operation::AddLfs { path, sha256, size } => {
                check_path(path)?;
                let stored = blob_size(sha256).ok_or_else(|| format!("{path}: the LFS object {sha256} was never uploaded"))?;
                if size.is_some_and(|size| size != stored) {
                    return Err(format!("{path}: the LFS object {sha256} has {stored} bytes, not {}", size.unwrap_or_default()));
                }
                if stored > FILE_MAX {
                    return Err(format!("{path}: files are at most {} MiB here", FILE_MAX >> 20));
                }
                files.insert(path.clone(), FileEntry::lfs(sha256, stored));
            }
            Operation::DeleteFile { path } => {
                if files.remove(path).is_none() {
                    return Err(format!("cannot delete {path}: no such file"));
                }
            }
            Operation::DeleteFolder { path } => {
                let prefix = format!("{}/", path.trim_end_matches('/'));
                let before = files.len();
                files.retain(|existing, _| !existing.starts_with(&prefix));
                if files.len() == before {
                    return Err(format!("cannot delete the folder {path}: no such folder"));
                }
            }
        }
    }
    // A file cannot also be a folder.
    for path in files.keys() {
        let mut parent = path.as_str();
        while let Some((up, _)) = parent.rsplit_once('/') {
            if files.contains_key(up) {
                return Err(format!("{path} cannot be written: {up} is a file"));
            }
            parent = up;
        }
    }
    Ok(files)
}

/// One line of a tree listing.
#[derive(Debug, Clone, PartialEq)]
pub enum TreeEntry {
    File { path: String, file: FileEntry },
    Directory { path: String, oid: String },
}

impl TreeEntry {
    pub fn path(&self) -> &str {
        match self {
            TreeEntry::File { path, .. } | TreeEntry::Directory { path, .. } => path,
        }
    }
}

/// The entries of folder `dir` ("" for the root), folders first, each group by name;
/// `recursive` lists everything below. `None` if there is no such folder.
pub fn tree(files: &BTreeMap<String, FileEntry>, dir: &str, recursive: bool) -> Option<Vec<TreeEntry>> {
    let dir = dir.trim_matches('/');
    let prefix = if dir.is_empty() { String::new() } else { format!("{dir}/") };
    let below: Vec<(&String, &FileEntry)> = files.iter().filter(|(path, _)| path.starts_with(&prefix)).collect();
    if below.is_empty() && !dir.is_empty() {
        return None;
    }
    let mut folders = BTreeMap::<String, Sha1>::new();
    let mut entries = Vec::new();
    for (path, file) in &below {
        let rest = &path[prefix.len()..];
        let parts: Vec<&str> = rest.split('/').collect();
        // Every folder between `dir` and the file (only the first unless recursive).
        let depth = if recursive { parts.len() - 1 } else { parts.len().min(2) - 1 };
        for level in 1..=depth {
            let folder = format!("{prefix}{}", parts[..level].join("/"));
            folders.entry(folder).or_default().update(format!("{} {path}\n", file.oid));
        }
        if recursive || parts.len() == 1 {
            entries.push(TreeEntry::File { path: (*path).clone(), file: (*file).clone() });
        }
    }
    let mut listing: Vec<TreeEntry> = folders.into_iter().map(|(path, hash)| TreeEntry::Directory { path, oid: hex(&hash.finalize()) }).collect();
    listing.extend(entries);
    Some(listing)
}

/// Tree entries per page, as on the Hub: 1,000, or 50 with `expand` (each
/// entry then carries its last commit).
pub const TREE_PAGE: usize = 1000;
pub const TREE_PAGE_EXPANDED: usize = 50;

/// Where an entry sits in [`tree`]'s order: folders first, then files, each by path.
fn tree_key(entry: &TreeEntry) -> (bool, &str) {
    (matches!(entry, TreeEntry::File { .. }), entry.path())
}

/// The cursor that resumes a listing after `entry`: base64url of
/// `{"type", "path"}`, opaque to clients. Naming the last entry rather than
/// an offset keeps the pages of a branch that moves between them free of
/// repeats and gaps for the entries that are there throughout.
pub fn tree_cursor(entry: &TreeEntry) -> String {
    use base64::Engine as _;
    let (file, path) = tree_key(entry);
    let value = serde_json::json!({"type": if file { "file" } else { "directory" }, "path": path});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

fn parse_tree_cursor(cursor: &str) -> Option<(bool, String)> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor.trim_end_matches('=')).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let file = match value["type"].as_str()? {
        "file" => true,
        "directory" => false,
        _ => return None,
    };
    Some((file, value["path"].as_str()?.to_owned()))
}

/// One page of a [`tree`] listing: the `limit` entries after `cursor` (from
/// the start without one), and the cursor of the next page if there are more.
/// `Err` for a cursor this Hub did not make.
pub fn tree_page(listing: Vec<TreeEntry>, cursor: Option<&str>, limit: usize) -> Result<(Vec<TreeEntry>, Option<String>), String> {
    let start = match cursor {
        None => 0,
        Some(cursor) => {
            let (file, path) = parse_tree_cursor(cursor).ok_or_else(|| format!("invalid cursor {cursor:?}"))?;
            listing.iter().position(|entry| tree_key(entry) > (file, path.as_str())).unwrap_or(listing.len())
        }
    };
    let limit = limit.max(1);
    let more = listing.len().saturating_sub(start) > limit;
    let page: Vec<TreeEntry> = listing.into_iter().skip(start).take(limit).collect();
    let next = if more { page.last().map(tree_cursor) } else { None };
    Ok((page, next))
}

/// The Hub's default `.gitattributes` for a new repository: what goes to LFS.
pub const DEFAULT_GITATTRIBUTES: &str = "\
*.7z filter=lfs diff=lfs merge=lfs -text
*.arrow filter=lfs diff=lfs merge=lfs -text
*.bin filter=lfs diff=lfs merge=lfs -text
*.bz2 filter=lfs diff=lfs merge=lfs -text
*.ckpt filter=lfs diff=lfs merge=lfs -text
*.ftz filter=lfs diff=lfs merge=lfs -text
*.gz filter=lfs diff=lfs merge=lfs -text
*.h5 filter=lfs diff=lfs merge=lfs -text
*.joblib filter=lfs diff=lfs merge=lfs -text
*.lfs.* filter=lfs diff=lfs merge=lfs -text
*.lz4 filter=lfs diff=lfs merge=lfs -text
*.mds filter=lfs diff=lfs merge=lfs -text
*.mlmodel filter=lfs diff=lfs merge=lfs -text
*.model filter=lfs diff=lfs merge=lfs -text
*.msgpack filter=lfs diff=lfs merge=lfs -text
*.npy filter=lfs diff=lfs merge=lfs -text
*.npz filter=lfs diff=lfs merge=lfs -text
*.onnx filter=lfs diff=lfs merge=lfs -text
*.ot filter=lfs diff=lfs merge=lfs -text
*.parquet filter=lfs diff=lfs merge=lfs -text
*.pb filter=lfs diff=lfs merge=lfs -text
*.pickle filter=lfs diff=lfs merge=lfs -text
*.pkl filter=lfs diff=lfs merge=lfs -text
*.pt filter=lfs diff=lfs merge=lfs -text
*.pth filter=lfs diff=lfs merge=lfs -text
*.rar filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
saved_model/**/* filter=lfs diff=lfs merge=lfs -text
*.tar.* filter=lfs diff=lfs merge=lfs -text
*.tar filter=lfs diff=lfs merge=lfs -text
*.tflite filter=lfs diff=lfs merge=lfs -text
*.tgz filter=lfs diff=lfs merge=lfs -text
*.wasm filter=lfs diff=lfs merge=lfs -text
*.xz filter=lfs diff=lfs merge=lfs -text
*.zip filter=lfs diff=lfs merge=lfs -text
*.zst filter=lfs diff=lfs merge=lfs -text
*tfevents* filter=lfs diff=lfs merge=lfs -text
# Audio, image and video files
*.mp3 filter=lfs diff=lfs merge=lfs -text
*.ogg filter=lfs diff=lfs merge=lfs -text
*.wav filter=lfs diff=lfs merge=lfs -text
*.flac filter=lfs diff=lfs merge=lfs -text
*.jpg filter=lfs diff=lfs merge=lfs -text
*.jpeg filter=lfs diff=lfs merge=lfs -text
*.png filter=lfs diff=lfs merge=lfs -text
*.webp filter=lfs diff=lfs merge=lfs -text
*.gif filter=lfs diff=lfs merge=lfs -text
*.mp4 filter=lfs diff=lfs merge=lfs -text
*.webm filter=lfs diff=lfs merge=lfs -text
";

/// Whether a file goes to LFS: `gitattributes` is the repo's (or the
/// commit's) `.gitattributes`, `sample` its first 512 bytes.
pub fn upload_mode(path: &str, size: u64, sample: &[u8], gitattributes: &str) -> &'static str {
    let lfs_by_pattern = gitattributes
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let pattern = words.next().filter(|pattern| !pattern.starts_with('#'))?;
            words.any(|word| word == "filter=lfs").then_some(pattern)
        })
        .any(|pattern| attribute_matches(pattern, path));
    // Not UTF-8 (a character cut at the end of the sample does not count), or a NUL byte.
    let binary = sample.contains(&0) || std::str::from_utf8(sample).is_err_and(|error| error.error_len().is_some());
    if lfs_by_pattern || size >= REGULAR_MAX || binary {
        "lfs"
    } else {
        "regular"
    }
}

/// A `.gitattributes` pattern: one without a slash matches the file name at
/// any depth; one with a slash matches the whole path.
fn attribute_matches(pattern: &str, path: &str) -> bool {
    let pattern = pattern.trim_start_matches('/');
    if pattern.contains('/') {
        glob_matches(pattern, path)
    } else {
        glob_matches(pattern, path.rsplit('/').next().unwrap_or(path))
    }
}

/// Glob matching on paths: `*` and `?` stay within a path part, `**` crosses
/// parts, `[abc]` is a class. What `.gitattributes` and `data_files` use.
pub fn glob_matches(pattern: &str, path: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') if p.get(1) == Some(&b'*') => {
                let rest = &p[2..];
                // `**/` may also match nothing.
                let rest_after_slash = rest.strip_prefix(b"/").unwrap_or(rest);
                (0..=s.len()).any(|i| go(rest, &s[i..])) || go(rest_after_slash, s)
            }
            Some(b'*') => (0..=s.len()).take_while(|&i| i == 0 || s[i - 1] != b'/').any(|i| go(&p[1..], &s[i..])),
            Some(b'?') => s.first().is_some_and(|&c| c != b'/') && go(&p[1..], &s[1..]),
            Some(b'[') => match p.iter().position(|&c| c == b']') {
                Some(close) if close > 1 => s.first().is_some_and(|c| p[1..close].contains(c)) && go(&p[close + 1..], &s[1..]),
                _ => s.first() == Some(&b'[') && go(&p[1..], &s[1..]),
            },
            Some(&c) => s.first() == Some(&c) && go(&p[1..], &s[1..]),
        }
    }
    go(pattern.as_bytes(), path.as_bytes())
}

/// The git-lfs pointer file of an object.
pub fn lfs_pointer(sha256: &str, size: u64) -> String {
    format!("version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n")
}

/// Git's blob id: sha1 of `blob {len}\0` and the content.
pub fn git_blob_oid(content: &[u8]) -> String {
    let mut hash = Sha1::new();
    hash.update(format!("blob {}\0", content.len()));
    hash.update(content);
    hex(&hash.finalize())
}

pub fn sha256_hex(content: &[u8]) -> String {
    hex(&sha2::Sha256::digest(content))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> BTreeMap<String, FileEntry> {
        entries.iter().map(|(path, content)| (path.to_string(), FileEntry::regular(content.as_bytes()))).collect()
    }

    #[test]
    fn blob_ids_are_gits() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(git_blob_oid(b"hello\n"), "ce013625030ba8dba906f756967f9e9ca394464a");
        assert_eq!(git_blob_oid(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
        let lfs = FileEntry::lfs(&"ab".repeat(32), 1234);
        assert_eq!(lfs.oid, git_blob_oid(lfs_pointer(&"ab".repeat(32), 1234).as_bytes()));
    }

    #[test]
    fn bad_paths_are_refused() {
        for path in ["", "/etc/passwd", "a/../b", "./a", "a//b", ".git/config", ".git", "a\\b"] {
            assert!(check_path(path).is_err(), "{path:?}");
        }
        for path in ["README.md", "data/train-00000-of-00001.parquet", ".gitattributes", "a/.gitkeep", ".github/x"] {
            assert!(check_path(path).is_ok(), "{path:?}");
        }
    }

    #[test]
    fn a_commit_adds_replaces_and_deletes() {
        let before = files(&[("README.md", "old"), ("data/a.jsonl", "{}"), ("data/b.jsonl", "{}"), ("keep.txt", "k")]);
        let stored = |sha: &str| (sha == "ff".repeat(32)).then_some(5);
        let ops = vec![
            Operation::Add { path: "README.md".into(), content: b"new".to_vec() },
            Operation::AddLfs { path: "x.parquet".into(), sha256: "ff".repeat(32), size: Some(5) },
            Operation::DeleteFolder { path: "data".into() },
        ];
        let after = apply(&before, &ops, &stored).unwrap();
        assert_eq!(after.keys().collect::<Vec<_>>(), ["README.md", "keep.txt", "x.parquet"]);
        assert_eq!(after["README.md"], FileEntry::regular(b"new"));
        assert!(after["x.parquet"].lfs);
        let after = apply(&after, &[Operation::DeleteFile { path: "keep.txt".into() }], &stored).unwrap();
        assert!(!after.contains_key("keep.txt"));
    }

    #[test]
    fn a_bad_operation_fails_the_whole_commit() {
        let before = files(&[("a.txt", "a")]);
        let none = |_: &str| None;
        let missing_lfs = [
            Operation::Add { path: "b.txt".into(), content: b"b".to_vec() },
            Operation::AddLfs { path: "c.bin".into(), sha256: "00".repeat(32), size: None },
        ];
        assert!(apply(&before, &missing_lfs, &none).unwrap_err().contains("never uploaded"));
        assert!(apply(&before, &[Operation::DeleteFile { path: "nope".into() }], &none).is_err());
        assert!(apply(&before, &[Operation::Add { path: "../x".into(), content: vec![] }], &none).is_err());
        assert!(apply(&before, &[Operation::Add { path: "a.txt/b".into(), content: vec![] }], &none).unwrap_err().contains("is a file"));
        let wrong_size = [Operation::AddLfs { path: "c.bin".into(), sha256: "00".repeat(32), size: Some(9) }];
        assert!(apply(&before, &wrong_size, &|_| Some(5)).is_err());
    }

    /// Every page of a listing, each checked against the page size.
    fn all_pages(files: &BTreeMap<String, FileEntry>, limit: usize) -> (Vec<String>, usize) {
        let (mut paths, mut pages, mut cursor) = (Vec::new(), 0, None);
        loop {
            let (page, next) = tree_page(tree(files, "", true).unwrap(), cursor.as_deref(), limit).unwrap();
            assert!(page.len() <= limit && !page.is_empty());
            paths.extend(page.iter().map(|entry| entry.path().to_owned()));
            pages += 1;
            match next {
                Some(next) => cursor = Some(next),
                None => return (paths, pages),
            }
        }
    }

    #[test]
    fn trees_come_in_pages_of_a_thousand_that_resume_after_a_cursor() {
        // 2,500 files in 3 folders and at the root: 2,503 entries.
        let contents: Vec<(String, String)> =
            (0..2500).map(|i| (if i % 5 == 4 { format!("f-{i:04}.txt") } else { format!("shard-{}/f-{i:04}.txt", i % 3) }, i.to_string())).collect();
        let many = files(&contents.iter().map(|(path, content)| (path.as_str(), content.as_str())).collect::<Vec<_>>());
        let whole: Vec<String> = tree(&many, "", true).unwrap().iter().map(|entry| entry.path().to_owned()).collect();
        assert_eq!(whole.len(), 2503);
        for (limit, pages) in [(TREE_PAGE, 3), (TREE_PAGE_EXPANDED, 51), (2503, 1), (2502, 2)] {
            assert_eq!(all_pages(&many, limit), (whole.clone(), pages), "pages of {limit}");
        }
        // The first page: folders first, and a cursor that names its last entry (opaque, URL-safe).
        let (first, next) = tree_page(tree(&many, "", true).unwrap(), None, TREE_PAGE).unwrap();
        assert_eq!(first[..3].iter().map(TreeEntry::path).collect::<Vec<_>>(), ["shard-0", "shard-1", "shard-2"]);
        let cursor = next.unwrap();
        assert!(cursor.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{cursor}");
        assert_eq!(parse_tree_cursor(&cursor), Some((true, first[999].path().to_owned())));
        // The branch moves between pages: an entry added before the cursor and the
        // cursor's own entry deleted; what was there throughout comes once, in order.
        let mut moved = many.clone();
        moved.insert("shard-0/a-new.txt".into(), FileEntry::regular(b"new"));
        moved.remove(first[999].path());
        let (rest, _) = tree_page(tree(&moved, "", true).unwrap(), Some(&cursor), usize::MAX).unwrap();
        assert_eq!(rest.iter().map(TreeEntry::path).collect::<Vec<_>>(), whole[1000..]);
        // A directory cursor resumes among the folders; a last page has no cursor.
        let (after, _) = tree_page(tree(&many, "", true).unwrap(), Some(&tree_cursor(&first[1])), 2).unwrap();
        assert_eq!(after.iter().map(TreeEntry::path).collect::<Vec<_>>(), ["shard-2", whole[3].as_str()]);
        assert_eq!(tree_page(tree(&many, "shard-1", false).unwrap(), None, TREE_PAGE).unwrap().1, None);
        assert_eq!(tree_page(vec![], None, TREE_PAGE), Ok((vec![], None)));
        // Cursors this Hub did not make are refused.
        for bad in ["", "not base64!", "e30", &base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, r#"{"type":"x","path":"a"}"#)] {
            assert!(tree_page(tree(&many, "", true).unwrap(), Some(bad), TREE_PAGE).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn trees_list_one_folder_or_all() {
        let files = files(&[("README.md", "r"), ("data/train.parquet", "t"), ("data/x/deep.txt", "d"), ("z.txt", "z")]);
        let names = |entries: Vec<TreeEntry>| entries.iter().map(|e| e.path().to_owned()).collect::<Vec<_>>();
        assert_eq!(names(tree(&files, "", false).unwrap()), ["data", "README.md", "z.txt"]);
        assert_eq!(names(tree(&files, "data", false).unwrap()), ["data/x", "data/train.parquet"]);
        assert_eq!(
            names(tree(&files, "", true).unwrap()),
            ["data", "data/x", "README.md", "data/train.parquet", "data/x/deep.txt", "z.txt"]
        );
        assert!(tree(&files, "nope", false).is_none());
        assert_eq!(tree(&BTreeMap::new(), "", false), Some(vec![]));
    }

    #[test]
    fn lfs_for_patterns_big_files_and_binary_samples() {
        let attributes = DEFAULT_GITATTRIBUTES;
        assert_eq!(upload_mode("data/train-00000-of-00001.parquet", 100, b"PAR1", attributes), "lfs");
        assert_eq!(upload_mode("model.bin", 3, b"abc", attributes), "lfs");
        assert_eq!(upload_mode("saved_model/a/b.txt", 3, b"abc", attributes), "lfs");
        assert_eq!(upload_mode("README.md", 10, b"# Hello", attributes), "regular");
        assert_eq!(upload_mode("data.jsonl", REGULAR_MAX, b"{}", attributes), "lfs");
        assert_eq!(upload_mode("blob.dat", 4, &[0, 1, 2, 3], attributes), "lfs");
        assert_eq!(upload_mode("notes.txt", 4, "é".as_bytes(), attributes), "regular");
        assert_eq!(upload_mode("x.csv", 4, b"a,b", "*.csv filter=lfs diff=lfs merge=lfs -text"), "lfs");
    }

    #[test]
    fn globs() {
        assert!(glob_matches("data/train-*", "data/train-00000-of-00001.parquet"));
        assert!(!glob_matches("data/*", "data/x/y.parquet"));
        assert!(glob_matches("data/**", "data/x/y.parquet"));
        assert!(glob_matches("**/*.parquet", "a.parquet"));
        assert!(glob_matches("**/*.parquet", "x/y/a.parquet"));
        assert!(glob_matches("*.tar.*", "a.tar.gz"));
        assert!(glob_matches("file?.[jc]sv", "file1.csv"));
        assert!(!glob_matches("*.parquet", "a.parquet.txt"));
    }
}
