//! What can go wrong with a language model, as values.
//!
//! Everything a user can hand the engine — a file picked from disk, a URL, a
//! prompt, sampling settings — may be wrong, and each mistake becomes an
//! [`Error`] that says what was expected, never a panic. The page tells
//! errors apart by [`ErrorCode`], a plain name that travels in the worker
//! protocol; the [`ErrorKind`] behind it keeps the details for the message.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An error from loading or running a language model.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    kind: ErrorKind,
    file: Option<String>,
}

/// The kinds of [`Error`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bytes are not a GGUF file: they do not start with `GGUF`.
    NotGguf {
        /// Up to the first four bytes found instead.
        found: Vec<u8>,
    },
    /// The file ends before the data its header describes: most often an
    /// interrupted download.
    Truncated {
        /// The file's length in bytes.
        len: u64,
        /// The length the header calls for, when the header itself was
        /// complete enough to tell.
        needed: Option<u64>,
    },
    /// The file starts like GGUF but its structure is invalid.
    Malformed(String),
    /// The model's architecture is not one the engine implements.
    UnsupportedArchitecture(String),
    /// A metadata key the engine needs is absent.
    MissingMetadata(String),
    /// A metadata key holds a value of the wrong type or range.
    InvalidMetadata {
        /// The key.
        key: String,
        /// What was expected of its value.
        expected: String,
    },
    /// A weight tensor the architecture needs is absent.
    MissingTensor(String),
    /// A weight tensor has the wrong shape or type.
    InvalidTensor {
        /// The tensor's name in the file.
        name: String,
        /// What is wrong with it.
        message: String,
    },
    /// The file's tokenizer is of a kind the engine cannot build.
    UnsupportedTokenizer(String),
    /// The chat template could not be parsed or rendered.
    ChatTemplate(String),
    /// The prompt does not fit in the model's context window.
    PromptTooLong {
        /// The prompt's length in tokens.
        prompt_tokens: usize,
        /// The context window in tokens.
        context: usize,
    },
    /// A sampling or generation parameter is out of range.
    InvalidParams(String),
    /// The candidates given to the judge cannot be scored.
    InvalidCandidates(String),
    /// The model failed while computing; a bug rather than bad input.
    Inference(String),
    /// The model file could not be downloaded.
    Download(String),
    /// The file could not be read where the browser keeps it (deleted or
    /// changed on disk since it was picked, or a cache entry gone).
    Unreadable {
        /// Where the read started, in bytes from the file's start.
        offset: u64,
        /// What the browser said.
        message: String,
    },
    /// A request needs a model and none is loaded.
    NoModelLoaded,
}

/// The name of an [`ErrorKind`], without its details: what the page matches
/// on when a request fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// See [`ErrorKind::NotGguf`].
    NotGguf,
    /// See [`ErrorKind::Truncated`].
    Truncated,
    /// See [`ErrorKind::Malformed`].
    Malformed,
    /// See [`ErrorKind::UnsupportedArchitecture`].
    UnsupportedArchitecture,
    /// See [`ErrorKind::MissingMetadata`].
    MissingMetadata,
    /// See [`ErrorKind::InvalidMetadata`].
    InvalidMetadata,
    /// See [`ErrorKind::MissingTensor`].
    MissingTensor,
    /// See [`ErrorKind::InvalidTensor`].
    InvalidTensor,
    /// See [`ErrorKind::UnsupportedTokenizer`].
    UnsupportedTokenizer,
    /// See [`ErrorKind::ChatTemplate`].
    ChatTemplate,
    /// See [`ErrorKind::PromptTooLong`].
    PromptTooLong,
    /// See [`ErrorKind::InvalidParams`].
    InvalidParams,
    /// See [`ErrorKind::InvalidCandidates`].
    InvalidCandidates,
    /// See [`ErrorKind::Inference`].
    Inference,
    /// See [`ErrorKind::Download`].
    Download,
    /// See [`ErrorKind::Unreadable`].
    Unreadable,
    /// See [`ErrorKind::NoModelLoaded`].
    NoModelLoaded,
    /// A file brought to import could not be read (a `ReadTable`): the
    /// message names the file, and the line or row.
    Import,
    /// The worker stopped (it crashed, or ran out of memory) before it
    /// answered; the page says so and keeps working.
    WorkerStopped,
}

impl Error {
    /// An error of the given kind, not tied to a file.
    pub fn new(kind: ErrorKind) -> Error {
        Error { kind, file: None }
    }

    /// Names the model file the error is about, for the message.
    pub fn in_file(mut self, file: impl Into<String>) -> Error {
        self.file = Some(file.into());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The name of what went wrong, for the worker protocol.
    pub fn code(&self) -> ErrorCode {
        self.kind.code()
    }

    /// The model file the error is about, when known.
    pub fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }
}

impl ErrorKind {
    /// This kind's name, without its details.
    pub fn code(&self) -> ErrorCode {
        match self {
            ErrorKind::NotGguf { .. } => ErrorCode::NotGguf,
            ErrorKind::Truncated { .. } => ErrorCode::Truncated,
            ErrorKind::Malformed(_) => ErrorCode::Malformed,
            ErrorKind::UnsupportedArchitecture(_) => ErrorCode::UnsupportedArchitecture,
            ErrorKind::MissingMetadata(_) => ErrorCode::MissingMetadata,
            ErrorKind::InvalidMetadata { .. } => ErrorCode::InvalidMetadata,
            ErrorKind::MissingTensor(_) => ErrorCode::MissingTensor,
            ErrorKind::InvalidTensor { .. } => ErrorCode::InvalidTensor,
            ErrorKind::UnsupportedTokenizer(_) => ErrorCode::UnsupportedTokenizer,
            ErrorKind::ChatTemplate(_) => ErrorCode::ChatTemplate,
            ErrorKind::PromptTooLong { .. } => ErrorCode::PromptTooLong,
            ErrorKind::InvalidParams(_) => ErrorCode::InvalidParams,
            ErrorKind::InvalidCandidates(_) => ErrorCode::InvalidCandidates,
            ErrorKind::Inference(_) => ErrorCode::Inference,
            ErrorKind::Download(_) => ErrorCode::Download,
            ErrorKind::Unreadable { .. } => ErrorCode::Unreadable,
            ErrorKind::NoModelLoaded => ErrorCode::NoModelLoaded,
        }
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error::new(kind)
    }
}

impl std::error::Error for Error {}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        self.kind.fmt(f)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // These two are what a person meets most (a wrong file, a
            // download cut off), so they say so in plain words first.
            ErrorKind::NotGguf { found } if found.is_empty() => {
                write!(f, "this is not a GGUF model file: it is empty")
            }
            ErrorKind::NotGguf { found } if found.starts_with(b"<") => write!(
                f,
                "this is not a GGUF model file but a web page (it starts with {}); use the \
                 address of the .gguf file itself (on the Hub: …/resolve/main/….gguf)",
                show_bytes(found)
            ),
            ErrorKind::NotGguf { found } => write!(
                f,
                "this is not a GGUF model file: a GGUF file starts with \"GGUF\", this one \
                 with {}",
                show_bytes(found)
            ),
            ErrorKind::Truncated { len, needed: Some(needed) } => write!(
                f,
                "this file is cut short: it has {len} bytes but its header describes \
                 {needed}; download it again"
            ),
            ErrorKind::Truncated { len, needed: None } => write!(
                f,
                "this file is cut short: it ends after {len} bytes, inside its header; \
                 download it again"
            ),
            ErrorKind::Malformed(message) => write!(f, "invalid GGUF file: {message}"),
            ErrorKind::UnsupportedArchitecture(arch) => write!(
                f,
                "unsupported model architecture \"{arch}\": expected a llama or qwen2 GGUF"
            ),
            ErrorKind::MissingMetadata(key) => {
                write!(f, "the GGUF file lacks the metadata key \"{key}\"")
            }
            ErrorKind::InvalidMetadata { key, expected } => {
                write!(f, "the GGUF metadata key \"{key}\" should hold {expected}")
            }
            ErrorKind::MissingTensor(name) => {
                write!(f, "the GGUF file lacks the weight tensor \"{name}\"")
            }
            ErrorKind::InvalidTensor { name, message } => {
                write!(f, "the weight tensor \"{name}\" is invalid: {message}")
            }
            ErrorKind::UnsupportedTokenizer(message) => {
                write!(f, "unsupported tokenizer: {message}")
            }
            ErrorKind::ChatTemplate(message) => write!(f, "chat template: {message}"),
            ErrorKind::PromptTooLong { prompt_tokens, context } => write!(
                f,
                "the prompt is {prompt_tokens} tokens long but the model's context holds \
                 {context}; shorten it"
            ),
            ErrorKind::InvalidParams(message) => {
                write!(f, "invalid generation parameters: {message}")
            }
            ErrorKind::InvalidCandidates(message) => {
                write!(f, "cannot score these candidates: {message}")
            }
            ErrorKind::Inference(message) => write!(f, "the model failed: {message}"),
            // The message names the file and the step (download or cache).
            ErrorKind::Download(message) => f.write_str(message),
            ErrorKind::Unreadable { offset, message } => write!(
                f,
                "the file could not be read at byte {offset} ({message}); it may have \
                 been moved or changed since it was picked: pick it again"
            ),
            ErrorKind::NoModelLoaded => write!(f, "no model is loaded"),
        }
    }
}

/// Bytes as text where printable and as `\xNN` escapes where not, so that a
/// message can show what a file starts with.
fn show_bytes(bytes: &[u8]) -> String {
    let mut shown = String::from("\"");
    for &byte in bytes {
        if byte.is_ascii_graphic() || byte == b' ' {
            shown.push(byte as char);
        } else {
            shown.push_str(&format!("\\x{byte:02x}"));
        }
    }
    shown.push('"');
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file_once_and_say_what_it_is_in_plain_words() {
        let error =
            Error::new(ErrorKind::NotGguf { found: b"PK\x03\x04".to_vec() }).in_file("model.zip");
        assert_eq!(
            error.to_string(),
            "model.zip: this is not a GGUF model file: a GGUF file starts with \"GGUF\", \
             this one with \"PK\\x03\\x04\""
        );
        assert_eq!(error.code(), ErrorCode::NotGguf);
        assert_eq!(error.file(), Some("model.zip"));
        let page = Error::new(ErrorKind::NotGguf { found: b"<!DO".to_vec() }).in_file("index.html");
        assert!(page.to_string().starts_with("index.html: this is not a GGUF model file but a web page"), "{page}");
        let cut = Error::new(ErrorKind::Truncated { len: 10, needed: Some(99) }).in_file("m.gguf");
        assert_eq!(
            cut.to_string(),
            "m.gguf: this file is cut short: it has 10 bytes but its header describes 99; \
             download it again"
        );
        for error in [error, page, cut] {
            let file = error.file().unwrap().to_owned();
            assert_eq!(error.to_string().matches(&file).count(), 1, "{error}");
        }
    }

    #[test]
    fn codes_travel_as_snake_case_names() {
        let error = Error::new(ErrorKind::PromptTooLong { prompt_tokens: 9000, context: 8192 });
        assert_eq!(serde_json::to_string(&error.code()).unwrap(), "\"prompt_too_long\"");
        assert!(error.to_string().contains("9000 tokens"), "{error}");
    }
}
