//! The service worker's version, written into `dist/sw.js` after Trunk
//! builds the page: the hash of every file the page is made of, so a build
//! that changes anything is a new version to the browsers that cached the
//! last one, and a rebuild that changes nothing is not.

use sha2::{Digest, Sha256};
use std::path::Path;

/// The line of `sw.js` that names its version.
const VERSION_LINE: &str = "const VERSION = '";

/// Writes the version of the page in `dist` into `dist/sw.js`.
pub fn stamp(dist: &Path) -> Result<String, String> {
    let version = page_version(dist)?;
    let path = dist.join("sw.js");
    let script = std::fs::read_to_string(&path).map_err(|error| format!("reading {}: {error}", path.display()))?;
    std::fs::write(&path, with_version(&script, &version)?).map_err(|error| format!("writing {}: {error}", path.display()))?;
    Ok(version)
}

/// The hash of the files of `dist` (but `sw.js` itself and the Space's README), names included.
fn page_version(dist: &Path) -> Result<String, String> {
    let mut names: Vec<String> = std::fs::read_dir(dist)
        .map_err(|error| format!("reading {}: {error}", dist.display()))?
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "sw.js" && name != "README.md")
        .collect();
    names.sort();
    let mut hash = Sha256::new();
    for name in names {
        let bytes = std::fs::read(dist.join(&name)).map_err(|error| format!("reading {name}: {error}"))?;
        hash.update((name.len() as u64).to_le_bytes());
        hash.update(name.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(&bytes);
    }
    Ok(hash.finalize().iter().take(8).map(|byte| format!("{byte:02x}")).collect())
}

/// `script` with its version line set to `version`.
fn with_version(script: &str, version: &str) -> Result<String, String> {
    let start = script.find(VERSION_LINE).ok_or("sw.js has no `const VERSION = '…';` line")? + VERSION_LINE.len();
    let end = script[start..].find('\'').map(|end| start + end).ok_or("sw.js's version line is not closed")?;
    Ok(format!("{}{version}{}", &script[..start], &script[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_line_is_replaced_and_nothing_else() {
        let script = "// a\nconst VERSION = 'dev';\nconst CACHE = `x-${VERSION}`;\n";
        let stamped = with_version(script, "0123abcd").unwrap();
        assert_eq!(stamped, "// a\nconst VERSION = '0123abcd';\nconst CACHE = `x-${VERSION}`;\n");
        assert_eq!(with_version(&stamped, "ffff").unwrap(), script.replace("dev", "ffff"));
        assert!(with_version("const X = 1;", "v").is_err());
    }

    #[test]
    fn the_version_follows_the_files_but_not_the_worker_itself() {
        let dist = std::env::temp_dir().join(format!("prefab-sw-version-{}", std::process::id()));
        std::fs::create_dir_all(&dist).unwrap();
        std::fs::write(dist.join("index.html"), "<html>").unwrap();
        std::fs::write(dist.join("sw.js"), "const VERSION = 'dev';").unwrap();
        let first = stamp(&dist).unwrap();
        assert_eq!(first.len(), 16);
        assert_eq!(stamp(&dist).unwrap(), first, "stamping changes sw.js only, which is not hashed");
        std::fs::write(dist.join("index.html"), "<html> ").unwrap();
        let second = stamp(&dist).unwrap();
        assert_ne!(second, first);
        assert_eq!(std::fs::read_to_string(dist.join("sw.js")).unwrap(), format!("const VERSION = '{second}';"));
        std::fs::remove_dir_all(&dist).unwrap();
    }
}
