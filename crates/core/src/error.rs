//! Errors: what went wrong, and where.
//!
//! People bring files from everywhere — a spreadsheet export, a `datasets`
//! dump, a hand-written list — so most errors here are about input. Each one
//! names the file and, where it can, the line (text formats) or the row
//! (Parquet, JSON arrays, `/rows` pages) and the column, then says what was
//! expected, so the person can open the file and fix it:
//!
//! ```text
//! prompts.jsonl: line 3, column "prompt": expected a string, found a number
//! ```
//!
//! As in ripgrep, the error is a struct carrying an [`ErrorKind`]; the kind is
//! `#[non_exhaustive]` so new failure modes can be added without breaking callers.

use std::fmt;

/// An error, with where it happened.
///
/// Boxed so that `Result<_, Error>` stays one pointer wide on the happy path.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Debug, Clone, PartialEq)]
struct Inner {
    kind: ErrorKind,
    file: Option<String>,
    line: Option<u64>,
    row: Option<u64>,
    column: Option<String>,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file has no content, or only whitespace.
    EmptyFile,
    /// Bytes that are not UTF-8 where text was expected.
    InvalidUtf8 {
        /// Offset of the first bad byte from the start of the file.
        byte_offset: u64,
    },
    /// UTF-16 text (what Excel saves as "Unicode text"); Prefab reads UTF-8.
    Utf16,
    /// A NUL byte where text was expected: this is a binary file.
    Binary {
        /// Offset of the NUL byte from the start of the file.
        byte_offset: u64,
    },
    /// Neither the extension nor the content is a format Prefab reads.
    UnknownFormat {
        /// The file's extension, without the dot (empty when it has none).
        extension: String,
    },
    /// The content is plainly another format than the one asked for.
    WrongFormat {
        /// The format that was asked for.
        expected: &'static str,
        /// The format the content looks like.
        found: &'static str,
    },
    /// JSON that does not parse.
    Json {
        /// What the JSON parser reported, with the character position.
        message: String,
        /// What the file should hold there.
        expected: &'static str,
    },
    /// Well-formed JSON of the wrong shape.
    UnexpectedJson {
        /// What the file should hold there.
        expected: &'static str,
        /// What it holds instead, with its article ("an array").
        found: String,
    },
    /// A quoted CSV field that is never closed.
    UnterminatedQuote,
    /// Something other than a delimiter or a line end right after a closing quote.
    TextAfterQuote {
        /// The character found after the quote.
        found: char,
    },
    /// A CSV/TSV record with more or fewer fields than the header.
    FieldCount {
        /// Fields in the header.
        expected: usize,
        /// Fields in this record.
        found: usize,
    },
    /// A header that names the same column twice.
    DuplicateColumn {
        /// The repeated name.
        name: String,
    },
    /// A header with an empty column name.
    EmptyColumnName {
        /// The column's position, counted from 1.
        position: usize,
    },
    /// A header but not a single data row.
    NoRows,
    /// The file is not Parquet: it lacks the `PAR1` magic bytes.
    NotParquet,
    /// A Parquet file the reader cannot decode.
    Parquet {
        /// What the Parquet reader reported.
        message: String,
    },
    /// datasets-server answered with an error instead of rows.
    RowsApiError {
        /// The server's message.
        message: String,
    },
    /// datasets-server truncated this cell, so the prompt in it is incomplete.
    TruncatedCell,
    /// No column looks like it holds prompts, and none was chosen.
    NoPromptColumn {
        /// The columns the file has.
        columns: Vec<String>,
    },
    /// The chosen column is not in the file.
    UnknownColumn {
        /// The column asked for.
        name: String,
        /// The columns the file has.
        columns: Vec<String>,
    },
    /// A value of the wrong type.
    WrongType {
        /// The type that was expected.
        expected: &'static str,
        /// The type found, with its article ("a number").
        found: String,
    },
    /// Every prompt in the chosen column is empty.
    NoPrompts,
    /// A stored record whose `schema_version` this version of Prefab cannot read.
    UnsupportedSchemaVersion {
        /// The version found.
        found: u64,
        /// The newest version this Prefab reads.
        supported: u32,
    },
    /// A table does not fit its own schema, so it cannot be written.
    Write {
        /// What does not fit.
        message: String,
    },
}

impl Error {
    /// An error of this kind, not yet placed in a file.
    pub(crate) fn new(kind: ErrorKind) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                file: None,
                line: None,
                row: None,
                column: None,
            }),
        }
    }

    /// Names the file the error is in.
    pub(crate) fn in_file(mut self, file: &str) -> Error {
        self.inner.file = Some(file.to_string());
        self
    }

    /// Places the error on a line, counted from 1.
    pub(crate) fn at_line(mut self, line: u64) -> Error {
        self.inner.line = Some(line);
        self
    }

    /// Places the error on a row, counted from 0.
    pub(crate) fn at_row(mut self, row: u64) -> Error {
        self.inner.row = Some(row);
        self
    }

    /// Names the column the error is in.
    pub(crate) fn in_column(mut self, column: &str) -> Error {
        self.inner.column = Some(column.to_string());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.inner.kind
    }

    /// The file the error is in, when there is one.
    pub fn file(&self) -> Option<&str> {
        self.inner.file.as_deref()
    }

    /// The line the error is on, counted from 1 (text formats).
    pub fn line(&self) -> Option<u64> {
        self.inner.line
    }

    /// The row the error is in, counted from 0 as pandas and the Hub's viewer
    /// count (Parquet, JSON arrays, `/rows` pages).
    pub fn row(&self) -> Option<u64> {
        self.inner.row
    }

    /// The column the error is in, when it is about one.
    pub fn column(&self) -> Option<&str> {
        self.inner.column.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Inner {
            kind,
            file,
            line,
            row,
            column,
        } = &*self.inner;
        let mut place = Vec::new();
        if let Some(line) = line {
            place.push(format!("line {line}"));
        }
        if let Some(row) = row {
            place.push(format!("row {row}"));
        }
        if let Some(column) = column {
            place.push(format!("column {column:?}"));
        }
        match (file, place.is_empty()) {
            (Some(file), true) => write!(f, "{file}: ")?,
            (Some(file), false) => write!(f, "{file}: {}: ", place.join(", "))?,
            (None, false) => write!(f, "{}: ", place.join(", "))?,
            (None, true) => {}
        }
        write!(f, "{kind}")
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::EmptyFile => write!(f, "the file is empty; expected at least one prompt"),
            ErrorKind::InvalidUtf8 { byte_offset } => write!(
                f,
                "invalid UTF-8 at byte {byte_offset}; expected UTF-8 text (re-save the file as UTF-8)"
            ),
            ErrorKind::Utf16 => write!(
                f,
                "the file is UTF-16 text; expected UTF-8 (re-save it as \"CSV UTF-8\" or UTF-8 text)"
            ),
            ErrorKind::Binary { byte_offset } => write!(
                f,
                "a NUL byte at byte {byte_offset}: this is a binary file, expected text"
            ),
            ErrorKind::UnknownFormat { extension } => {
                let what = if extension.is_empty() {
                    "no extension".to_string()
                } else {
                    format!("the extension .{extension}")
                };
                write!(
                    f,
                    "cannot tell the format from {what} or the content; expected \
                     .jsonl, .json, .csv, .tsv, .parquet or .txt"
                )
            }
            ErrorKind::WrongFormat { expected, found } => {
                write!(f, "expected {expected}, but the content is {found}")
            }
            ErrorKind::Json { message, expected } => {
                write!(f, "invalid JSON: {message}; expected {expected}")
            }
            ErrorKind::UnexpectedJson { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            ErrorKind::UnterminatedQuote => write!(
                f,
                "a quoted field opened on this line is never closed; expected a closing \" \
                 (write a quote inside a quoted field as \"\")"
            ),
            ErrorKind::TextAfterQuote { found } => write!(
                f,
                "{found:?} after a closing quote; expected a delimiter or the end of the line \
                 (write a quote inside a quoted field as \"\")"
            ),
            ErrorKind::FieldCount { expected, found } => write!(
                f,
                "{found} fields; expected {expected}, as in the header"
            ),
            ErrorKind::DuplicateColumn { name } => {
                write!(f, "the header names column {name:?} twice; expected unique names")
            }
            ErrorKind::EmptyColumnName { position } => write!(
                f,
                "column {position} of the header has no name; expected a name for every column"
            ),
            ErrorKind::NoRows => write!(f, "a header but no rows; expected at least one prompt"),
            ErrorKind::NotParquet => write!(
                f,
                "not a Parquet file: expected the bytes \"PAR1\" at its start and end"
            ),
            ErrorKind::Parquet { message } => write!(f, "cannot read this Parquet file: {message}"),
            ErrorKind::RowsApiError { message } => {
                write!(f, "datasets-server answered with an error: {message}")
            }
            ErrorKind::TruncatedCell => write!(
                f,
                "datasets-server truncated this cell, so the prompt is incomplete; \
                 expected the full text (import the dataset's Parquet file instead)"
            ),
            ErrorKind::NoPromptColumn { columns } => write!(
                f,
                "no column looks like a prompt column; expected a text column such as \
                 \"prompt\" or \"instruction\" (the file has {}); choose one",
                list(columns)
            ),
            ErrorKind::UnknownColumn { name, columns } => write!(
                f,
                "no column named {name:?}; expected one of {}",
                list(columns)
            ),
            ErrorKind::WrongType { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            ErrorKind::NoPrompts => {
                write!(f, "every prompt is empty; expected at least one non-empty prompt")
            }
            ErrorKind::UnsupportedSchemaVersion { found, supported } => write!(
                f,
                "schema_version {found} is newer than this Prefab reads (up to {supported}); \
                 expected data saved by this or an older version"
            ),
            ErrorKind::Write { message } => write!(f, "cannot write the table: {message}"),
        }
    }
}

impl std::error::Error for Error {}

/// Column names quoted and joined, for messages.
fn list(columns: &[String]) -> String {
    if columns.is_empty() {
        return "no columns".to_string();
    }
    columns
        .iter()
        .map(|c| format!("{c:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_line_column_and_expectation() {
        let err = Error::new(ErrorKind::WrongType {
            expected: "a string",
            found: "a number".into(),
        })
        .in_file("prompts.jsonl")
        .at_line(3)
        .in_column("prompt");
        assert_eq!(
            err.to_string(),
            "prompts.jsonl: line 3, column \"prompt\": expected a string, found a number"
        );
    }

    #[test]
    fn display_without_place_is_just_the_message() {
        let err = Error::new(ErrorKind::NoRows).in_file("a.csv");
        assert_eq!(
            err.to_string(),
            "a.csv: a header but no rows; expected at least one prompt"
        );
        let err = Error::new(ErrorKind::NoRows);
        assert!(err.to_string().starts_with("a header"));
    }

    #[test]
    fn accessors_report_the_place() {
        let err = Error::new(ErrorKind::NotParquet)
            .in_file("x.parquet")
            .at_row(7)
            .in_column("c");
        assert_eq!(err.file(), Some("x.parquet"));
        assert_eq!(err.row(), Some(7));
        assert_eq!(err.line(), None);
        assert_eq!(err.column(), Some("c"));
        assert_eq!(err.kind(), &ErrorKind::NotParquet);
    }
}
