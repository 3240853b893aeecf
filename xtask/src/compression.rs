//! What `cargo xtask serve` sends for a file, for a room of phones on one
//! Wi-Fi: the page's files compressed (brotli, else gzip), each once and
//! kept in memory until the file changes, and an ETag for every answer, so
//! a page opened again is answered "304 Not Modified" instead of re-sent.
//!
//! Models and other large or already-compressed files go as they are: a
//! quantized GGUF hardly compresses, and compressing 100 MB for each of 50
//! phones would only slow them down.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::UNIX_EPOCH;

/// Files larger than this are sent as they are.
const LARGEST_COMPRESSED: u64 = 32 << 20;

/// How a body is encoded (`Content-Encoding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// As on disk.
    Identity,
    /// `gzip`, level 9.
    Gzip,
    /// `br`, quality 9: close to the best, in a fraction of quality 11's time.
    Brotli,
}

impl Encoding {
    /// The `Content-Encoding` value, `None` for identity.
    pub fn header(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Brotli => Some("br"),
        }
    }

    fn etag_suffix(self) -> &'static str {
        match self {
            Encoding::Identity => "",
            Encoding::Gzip => "-gz",
            Encoding::Brotli => "-br",
        }
    }
}

/// The best encoding a client accepts (`Accept-Encoding`), brotli first;
/// a coding listed with `q=0` is refused.
pub fn preferred(accept_encoding: Option<&str>) -> Encoding {
    let accepted = |name: &str| {
        accept_encoding.unwrap_or_default().split(',').any(|part| {
            let mut pieces = part.split(';').map(str::trim);
            let coding = pieces.next().unwrap_or_default();
            let refused = pieces.any(|parameter| parameter.replace(' ', "").strip_prefix("q=").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q == 0.0)));
            coding.eq_ignore_ascii_case(name) && !refused
        })
    };
    if accepted("br") {
        Encoding::Brotli
    } else if accepted("gzip") {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// Whether a file of this MIME type and size is worth compressing.
pub fn compressible(content_type: &str, size: u64) -> bool {
    let textual = content_type.starts_with("text/") || ["application/wasm", "application/json", "application/manifest+json", "image/svg+xml"].contains(&content_type);
    textual && size <= LARGEST_COMPRESSED
}

/// A file's identity on disk: its size and modification time. A rebuild
/// changes it, and with it the ETag and the cached compressed bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Stamp {
    size: u64,
    modified_nanos: u128,
}

impl Stamp {
    /// The stamp of the file behind `meta`.
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        let modified_nanos = meta.modified().ok().and_then(|time| time.duration_since(UNIX_EPOCH).ok()).map_or(0, |time| time.as_nanos());
        Stamp { size: meta.len(), modified_nanos }
    }

    /// The ETag of this file in `encoding` (a strong one: each encoding is its own representation).
    pub fn etag(self, encoding: Encoding) -> String {
        format!("\"{:x}-{:x}{}\"", self.size, self.modified_nanos, encoding.etag_suffix())
    }
}

/// Whether `If-None-Match` names `etag` (or is `*`).
pub fn not_modified(if_none_match: Option<&str>, etag: &str) -> bool {
    if_none_match.is_some_and(|tags| tags.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag))
}

type Key = (PathBuf, Stamp, Encoding);
/// One body: made by the first client that asks, awaited by the others.
type Slot = Arc<OnceLock<Result<Arc<Vec<u8>>, String>>>;

/// Compressed bodies, made once per file, version and encoding. Clients
/// that ask for one being made wait for it rather than make it again.
#[derive(Default)]
pub struct Compressed {
    bodies: Mutex<HashMap<Key, Slot>>,
}

impl Compressed {
    /// The body of `path` (at `stamp`) in `encoding`.
    pub fn body(&self, path: &Path, stamp: Stamp, encoding: Encoding) -> Result<Arc<Vec<u8>>, String> {
        let slot = {
            let mut bodies = self.bodies.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            // Older versions of this file are of no more use.
            bodies.retain(|(other, other_stamp, _), _| other != path || *other_stamp == stamp);
            Arc::clone(bodies.entry((path.to_path_buf(), stamp, encoding)).or_default())
        };
        slot.get_or_init(|| {
            let bytes = std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))?;
            Ok(Arc::new(compress(&bytes, encoding)))
        })
        .clone()
    }
}

/// `bytes` encoded as `encoding`.
pub fn compress(bytes: &[u8], encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Identity => bytes.to_vec(),
        Encoding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 3), flate2::Compression::best());
            encoder.write_all(bytes).expect("writing to memory");
            encoder.finish().expect("writing to memory")
        }
        Encoding::Brotli => {
            let mut out = Vec::with_capacity(bytes.len() / 3);
            {
                let mut writer = brotli::CompressorWriter::new(&mut out, 64 << 10, 9, 22);
                writer.write_all(bytes).expect("writing to memory");
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn brotli_is_preferred_then_gzip_and_q0_refuses() {
        assert_eq!(preferred(Some("gzip, deflate, br, zstd")), Encoding::Brotli);
        assert_eq!(preferred(Some("gzip, deflate")), Encoding::Gzip);
        assert_eq!(preferred(Some("br;q=0, gzip;q=0.5")), Encoding::Gzip);
        assert_eq!(preferred(Some("BR")), Encoding::Brotli);
        assert_eq!(preferred(Some("identity")), Encoding::Identity);
        assert_eq!(preferred(None), Encoding::Identity);
        assert_eq!(preferred(Some("brotli-ish")), Encoding::Identity);
    }

    #[test]
    fn the_page_is_compressed_and_models_are_not() {
        assert!(compressible("application/wasm", 4_000_000));
        assert!(compressible("text/javascript; charset=utf-8", 70_000));
        assert!(!compressible("application/octet-stream", 1_000));
        assert!(!compressible("image/png", 1_000));
        assert!(!compressible("application/wasm", 40 << 20));
    }

    #[test]
    fn etags_name_the_version_and_encoding_and_match_as_clients_send_them() {
        let stamp = Stamp { size: 255, modified_nanos: 16 };
        assert_eq!(stamp.etag(Encoding::Identity), "\"ff-10\"");
        assert_eq!(stamp.etag(Encoding::Brotli), "\"ff-10-br\"");
        assert!(not_modified(Some("\"ff-10-br\""), "\"ff-10-br\""));
        assert!(not_modified(Some("\"a\", W/\"ff-10\""), "\"ff-10\""));
        assert!(not_modified(Some("*"), "\"ff-10\""));
        assert!(!not_modified(Some("\"ff-10\""), "\"ff-10-br\""));
        assert!(!not_modified(None, "\"ff-10\""));
    }

    #[test]
    fn compressed_bodies_decode_to_the_file_and_follow_its_changes() {
        let path = std::env::temp_dir().join(format!("prefab-compress-{}.js", std::process::id()));
        let text = "let x = 1;\n".repeat(2000);
        std::fs::write(&path, &text).unwrap();
        let cache = Compressed::default();
        let stamp = Stamp::of(&std::fs::metadata(&path).unwrap());
        let brotli = cache.body(&path, stamp, Encoding::Brotli).unwrap();
        assert!(brotli.len() < text.len() / 20);
        let mut decoded = String::new();
        brotli::Decompressor::new(&brotli[..], 4096).read_to_string(&mut decoded).unwrap();
        assert_eq!(decoded, text);
        let gzip = cache.body(&path, stamp, Encoding::Gzip).unwrap();
        let mut decoded = String::new();
        flate2::read::GzDecoder::new(&gzip[..]).read_to_string(&mut decoded).unwrap();
        assert_eq!(decoded, text);
        assert!(Arc::ptr_eq(&brotli, &cache.body(&path, stamp, Encoding::Brotli).unwrap()), "made once");

        // A new version of the file: a new body, and the old one is dropped.
        std::fs::write(&path, "let y = 2;\n".repeat(10)).unwrap();
        let newer = Stamp { size: 110, modified_nanos: stamp.modified_nanos + 1 };
        let mut decoded = String::new();
        brotli::Decompressor::new(&cache.body(&path, newer, Encoding::Brotli).unwrap()[..], 4096).read_to_string(&mut decoded).unwrap();
        assert_eq!(decoded, "let y = 2;\n".repeat(10));
        assert_eq!(cache.bodies.lock().unwrap().len(), 1);
        std::fs::remove_file(&path).unwrap();
    }
}
