//! Whether downloaded bytes are a model file at all, told before they are
//! kept in the browser's cache or handed to the engine.
//!
//! An address that is not a model's (a Hub page instead of its
//! `resolve/main/….gguf` file, a typo that a static server answers with its
//! `index.html`) must fail with a message that says so, and must leave
//! nothing in the cache: a few kilobytes of HTML listed as a "0.0 MB" model
//! would be offered again on the next visit. The checks are pure, so they
//! are tested natively; `model_file` and the engine call them.

use crate::error::{Error, ErrorKind};

/// The GGUF file's first four bytes.
pub const GGUF_MAGIC: &[u8; 4] = b"GGUF";

/// The fixed part of a GGUF header: magic, version (u32), tensor count and
/// metadata count (u64 each, from version 2 on). [`check_start`] reads
/// these first bytes of a file.
pub const START_BYTES: usize = 24;

/// Whether a `Content-Type` is a web page's: the answer of a page about a
/// model, or of a server's fallback page, never a model file.
pub fn is_web_page(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|value| {
        let media = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        media == "text/html" || media == "application/xhtml+xml"
    })
}

/// Checks that `bytes` start as a GGUF file does: the magic, a version this
/// page reads (1 to 3), and the whole fixed header. Bytes that are a prefix
/// of the magic are a file cut short, not a file of another kind.
pub fn check_start(bytes: &[u8]) -> Result<(), Error> {
    if !bytes.starts_with(GGUF_MAGIC) {
        let found = bytes[..bytes.len().min(4)].to_vec();
        if !found.is_empty() && GGUF_MAGIC.starts_with(&found) {
            return Err(Error::new(ErrorKind::Truncated { len: bytes.len() as u64, needed: None }));
        }
        return Err(Error::new(ErrorKind::NotGguf { found }));
    }
    if bytes.len() < START_BYTES {
        return Err(Error::new(ErrorKind::Truncated { len: bytes.len() as u64, needed: None }));
    }
    let version = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    if !(1..=3).contains(&version) {
        return Err(Error::new(ErrorKind::Malformed(format!("GGUF version {version}; this page reads versions 1 to 3"))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn header(version: u32) -> Vec<u8> {
        let mut bytes = GGUF_MAGIC.to_vec();
        bytes.extend(version.to_le_bytes());
        bytes.extend(0u64.to_le_bytes());
        bytes.extend(0u64.to_le_bytes());
        bytes
    }

    #[test]
    fn a_gguf_start_passes() {
        assert_eq!(check_start(&header(3)), Ok(()));
        assert_eq!(check_start(&header(2)), Ok(()));
    }

    #[test]
    fn web_pages_and_other_files_are_not_gguf() {
        let page = check_start(b"<!DOCTYPE html><html></html>").unwrap_err();
        assert_eq!(page.kind(), &ErrorKind::NotGguf { found: b"<!DO".to_vec() });
        assert_eq!(check_start(b"").unwrap_err().code(), ErrorCode::NotGguf);
        assert_eq!(check_start(b"not found").unwrap_err().code(), ErrorCode::NotGguf);
    }

    #[test]
    fn a_start_cut_short_is_a_truncation() {
        let whole = header(3);
        for cut in 1..whole.len() {
            assert_eq!(check_start(&whole[..cut]).unwrap_err().code(), ErrorCode::Truncated, "cut at {cut}");
        }
    }

    #[test]
    fn an_unknown_version_is_malformed() {
        assert_eq!(check_start(&header(7)).unwrap_err().code(), ErrorCode::Malformed);
        assert_eq!(check_start(&header(0)).unwrap_err().code(), ErrorCode::Malformed);
    }

    #[test]
    fn html_content_types_are_web_pages() {
        assert!(is_web_page(Some("text/html; charset=utf-8")));
        assert!(is_web_page(Some("TEXT/HTML")));
        assert!(is_web_page(Some("application/xhtml+xml")));
        assert!(!is_web_page(Some("application/octet-stream")));
        assert!(!is_web_page(Some("binary/octet-stream")));
        assert!(!is_web_page(None));
    }
}
