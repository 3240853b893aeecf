//! Format detection: which reader a file needs, from its name and its first bytes.
//!
//! The extension decides when it is unambiguous. `.json` is not: it may hold
//! an array, JSON Lines (many `datasets` dumps) or a datasets-server `/rows`
//! answer, so the content decides. A file with no extension or an unknown
//! one is sniffed too (Parquet's magic bytes, a leading `[` or `{`).

use crate::{Error, ErrorKind};

/// A format Prefab reads prompts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Format {
    /// JSON Lines: one JSON object per line (`.jsonl`, `.ndjson`).
    Jsonl,
    /// A JSON array of objects (`.json`).
    Json,
    /// Comma-separated values with a header (`.csv`).
    Csv,
    /// Tab-separated values with a header (`.tsv`).
    Tsv,
    /// Apache Parquet (`.parquet`).
    Parquet,
    /// Plain text, one prompt per line (`.txt`).
    Text,
    /// A page of the Hugging Face datasets-server `/rows` API.
    RowsApi,
}

impl Format {
    /// The format's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "JSON Lines",
            Format::Json => "a JSON array",
            Format::Csv => "CSV",
            Format::Tsv => "TSV",
            Format::Parquet => "Parquet",
            Format::Text => "plain text",
            Format::RowsApi => "a datasets-server /rows page",
        }
    }
}

/// Tells the format from the file name's extension and, when that is missing
/// or ambiguous (`.json` may hold an array, JSON Lines or a `/rows` page),
/// from the content.
pub fn detect_format(file_name: &str, bytes: &[u8]) -> Result<Format, Error> {
    let extension = file_name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .filter(|ext| !ext.contains('/'))
        .unwrap_or_default();
    let format = match extension.as_str() {
        "jsonl" | "ndjson" | "jsonlines" => Format::Jsonl,
        "json" => sniff_json(bytes).unwrap_or(Format::Json),
        "csv" => Format::Csv,
        "tsv" | "tab" => Format::Tsv,
        "parquet" | "pq" => Format::Parquet,
        "txt" | "text" | "md" => Format::Text,
        _ if bytes.starts_with(PARQUET_MAGIC) => Format::Parquet,
        _ => match sniff_json(bytes) {
            Some(format) => format,
            None if extension.is_empty() => Format::Text,
            None => {
                return Err(Error::new(ErrorKind::UnknownFormat { extension }).in_file(file_name))
            }
        },
    };
    Ok(format)
}

pub(crate) const PARQUET_MAGIC: &[u8] = b"PAR1";

/// `[` starts a JSON array; `{` starts JSON Lines, unless the whole file is one
/// object with `rows` (or `error`): a datasets-server answer.
fn sniff_json(bytes: &[u8]) -> Option<Format> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match bytes.iter().find(|b| !b.is_ascii_whitespace())? {
        b'[' => Some(Format::Json),
        b'{' => {
            #[derive(serde::Deserialize)]
            struct Probe {
                rows: Option<serde::de::IgnoredAny>,
                error: Option<serde::de::IgnoredAny>,
            }
            match serde_json::from_slice::<Probe>(bytes) {
                Ok(probe) if probe.rows.is_some() || probe.error.is_some() => Some(Format::RowsApi),
                _ => Some(Format::Jsonl),
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats_from_extension_and_content() {
        let cases: [(&str, &[u8], Format); 10] = [
            ("a.jsonl", b"{}", Format::Jsonl),
            ("a.NDJSON", b"{}", Format::Jsonl),
            ("a.json", b" [ {} ]", Format::Json),
            ("a.json", b"{\"a\":1}\n{\"a\":2}", Format::Jsonl),
            ("a.json", b"{\"features\":[],\"rows\":[]}", Format::RowsApi),
            ("a.csv", b"x", Format::Csv),
            ("a.tsv", b"x", Format::Tsv),
            ("a.txt", b"x", Format::Text),
            ("download", b"PAR1....PAR1", Format::Parquet),
            ("prompts", b"just text", Format::Text),
        ];
        for (name, bytes, expected) in cases {
            assert_eq!(detect_format(name, bytes).unwrap(), expected, "{name}");
        }
        assert_eq!(
            detect_format("rows?offset=0", b"{\"rows\":[]}").unwrap(),
            Format::RowsApi
        );
    }

    #[test]
    fn unknown_extension_is_an_error_naming_it() {
        let err = detect_format("prompts.docx", b"hello").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("prompts.docx: "), "{msg}");
        assert!(msg.contains("the extension .docx"), "{msg}");
        assert!(
            msg.contains("expected .jsonl, .json, .csv, .tsv, .parquet or .txt"),
            "{msg}"
        );
    }
}
