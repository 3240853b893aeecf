//! The campaign rule: what a contributor may push to a campaign's pull requests.
//!
//! A campaign is a dataset repo whose `main` holds [`MANIFEST`]
//! (`prefab-campaign.json`). Each contributor opens one pull request on it
//! and pushes batches of ratings to `refs/pr/N` as
//! `contributions/{their user name}/{content hash}.jsonl`. On the real Hub
//! contributors are signed-in accounts and a pull request is theirs alone;
//! in a workshop room on the local Hub people type a name instead of signing
//! in, so the local Hub also keeps contributors out of each other's files.
//!
//! A commit to a pull request ref (or one opening a pull request, `create_pr`)
//! by a token that is not a writer of a campaign repo may only add or update
//! `.jsonl` files of at most [`CONTRIBUTION_MAX`] bytes under
//! `contributions/{that token's user}/`, and may not delete anything; the
//! commit is refused (403) otherwise, with a message naming the path and the
//! rule. Writers (the owner, org members) are not restricted. This rule is
//! the local Hub's own: the real Hub has no such check.

use super::repo::Operation;
use std::collections::BTreeMap;

/// The manifest on `main` that makes a repo a campaign.
pub const MANIFEST: &str = "prefab-campaign.json";
/// The largest contribution file a contributor may push.
pub const CONTRIBUTION_MAX: u64 = 4 * 1024 * 1024;

/// Whether these files (a repo's `main`) make a campaign.
pub fn is_campaign<T>(main: &BTreeMap<String, T>) -> bool {
    main.contains_key(MANIFEST)
}

/// The folder a contributor's files go in: `contributions/{user}/`.
pub fn folder_of(user: &str) -> String {
    format!("contributions/{user}/")
}

/// Checks a non-writer's commit on a campaign: `Ok` if every operation adds
/// or updates a `.jsonl` file of at most 4 MiB under `contributions/{user}/`;
/// else the first offence, naming its path and the rule. `lfs_size` gives the
/// stored size of an LFS object (the size the commit declares is used if the
/// object is not stored; the commit then fails anyway).
pub fn check_contribution(user: &str, operations: &[Operation], lfs_size: &dyn Fn(&str) -> Option<u64>) -> Result<(), String> {
    let folder = folder_of(user);
    let rule = format!(
        "in a campaign ({MANIFEST} on main), {user} may only add or update .jsonl files of at most {} MiB under {folder}",
        CONTRIBUTION_MAX >> 20
    );
    for operation in operations {
        let (path, size) = match operation {
            Operation::Add { path, content } => (path, content.len() as u64),
            Operation::AddLfs { path, sha256, size } => (path, lfs_size(sha256).or(*size).unwrap_or(0)),
            Operation::DeleteFile { path } | Operation::DeleteFolder { path } => {
                return Err(format!("{path}: a contributor may not delete files: {rule}"));
            }
        };
        let inside = path.strip_prefix(&folder).is_some_and(|rest| !rest.is_empty() && rest.split('/').all(|part| !part.is_empty() && part != "." && part != ".."));
        if !inside {
            return Err(format!("{path}: outside {folder}: {rule}"));
        }
        if !path.ends_with(".jsonl") {
            return Err(format!("{path}: not a .jsonl file: {rule}"));
        }
        if size > CONTRIBUTION_MAX {
            return Err(format!("{path}: {size} bytes is too large: {rule}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(path: &str, size: usize) -> Operation {
        Operation::Add { path: path.into(), content: vec![b'x'; size] }
    }

    const NO_LFS: &dyn Fn(&str) -> Option<u64> = &|_| None;

    #[test]
    fn a_campaign_is_a_repo_with_the_manifest_on_main() {
        let main: BTreeMap<String, ()> = [("prefab-campaign.json".to_owned(), ())].into();
        assert!(is_campaign(&main));
        assert!(!is_campaign(&BTreeMap::<String, ()>::from([("README.md".to_owned(), ())])));
    }

    #[test]
    fn contributors_add_and_update_their_own_jsonl_files() {
        let ops = [add("contributions/bob/0a1b2c.jsonl", 100), add("contributions/bob/ff00.jsonl", CONTRIBUTION_MAX as usize)];
        assert_eq!(check_contribution("bob", &ops, NO_LFS), Ok(()));
        assert_eq!(check_contribution("bob", &[], NO_LFS), Ok(()));
        let lfs = Operation::AddLfs { path: "contributions/bob/big.jsonl".into(), sha256: "ab".repeat(32), size: None };
        assert_eq!(check_contribution("bob", std::slice::from_ref(&lfs), &|_| Some(1000)), Ok(()));
    }

    #[test]
    fn anything_else_is_refused_naming_the_path_and_the_rule() {
        let refused = |user: &str, op: Operation| check_contribution(user, &[add("contributions/bob/ok.jsonl", 1), op], NO_LFS).unwrap_err();
        let forged = refused("bob", add("contributions/someone-else/x.jsonl", 10));
        assert!(forged.starts_with("contributions/someone-else/x.jsonl: outside contributions/bob/"), "{forged}");
        assert!(forged.contains("bob may only add or update .jsonl files of at most 4 MiB under contributions/bob/"), "{forged}");
        // A name that merely starts like the user's is another user's folder.
        assert!(refused("bob", add("contributions/bobby/x.jsonl", 1)).contains("outside"));
        assert!(refused("bob", add("contributions/bob.jsonl", 1)).contains("outside"));
        assert!(refused("bob", add("contributions/bob/", 1)).contains("outside"));
        assert!(refused("bob", add("README.md", 1)).contains("outside"));
        assert!(refused("bob", add("prefab-campaign.json", 1)).contains("outside"));
        assert!(refused("bob", add("campaign/records.jsonl", 1)).contains("outside"));
        assert!(refused("bob", add("contributions/bob/x.parquet", 1)).contains("not a .jsonl file"));
        let big = refused("bob", add("contributions/bob/big.jsonl", CONTRIBUTION_MAX as usize + 1));
        assert!(big.contains("4194305 bytes is too large"), "{big}");
        let lfs = Operation::AddLfs { path: "contributions/bob/big.jsonl".into(), sha256: "ab".repeat(32), size: Some(10) };
        assert!(check_contribution("bob", std::slice::from_ref(&lfs), &|_| Some(CONTRIBUTION_MAX + 1)).unwrap_err().contains("too large"));
        assert!(check_contribution("bob", &[lfs], &|_| None).is_ok(), "the declared size counts when the object is not stored");
        let deleted = refused("bob", Operation::DeleteFile { path: "contributions/bob/ok.jsonl".into() });
        assert!(deleted.starts_with("contributions/bob/ok.jsonl: a contributor may not delete files"), "{deleted}");
        assert!(refused("bob", Operation::DeleteFolder { path: "contributions/alice".into() }).contains("may not delete"));
    }
}
