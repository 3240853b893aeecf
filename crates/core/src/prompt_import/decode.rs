//! Decoding text input: UTF-8 checks and JSON error messages shared by the
//! text readers.

use super::detect::PARQUET_MAGIC;
use crate::{Error, ErrorKind};

/// Checks that bytes are UTF-8 text and returns them without a byte-order mark.
///
/// `expected` names the format for the message when the bytes are plainly
/// something else (a Parquet or an Excel file renamed, UTF-16 text).
pub(crate) fn decode_text<'a>(
    bytes: &'a [u8],
    file: &str,
    expected: &'static str,
) -> Result<&'a str, Error> {
    let fail = |kind| Error::new(kind).in_file(file);
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(fail(ErrorKind::Utf16));
    }
    if bytes.starts_with(PARQUET_MAGIC) {
        return Err(fail(ErrorKind::WrongFormat {
            expected,
            found: "Parquet",
        }));
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Err(fail(ErrorKind::WrongFormat {
            expected,
            found: "a ZIP archive (an Excel .xlsx? export it as CSV UTF-8)",
        }));
    }
    let (bom, rest) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (3, rest),
        None => (0, bytes),
    };
    let line_at = |offset: usize| 1 + rest[..offset].iter().filter(|&&b| b == b'\n').count() as u64;
    let text = std::str::from_utf8(rest).map_err(|e| {
        let offset = e.valid_up_to();
        fail(ErrorKind::InvalidUtf8 {
            byte_offset: (bom + offset) as u64,
        })
        .at_line(line_at(offset))
    })?;
    if let Some(offset) = rest.iter().position(|&b| b == 0) {
        return Err(fail(ErrorKind::Binary {
            byte_offset: (bom + offset) as u64,
        })
        .at_line(line_at(offset)));
    }
    if text.trim().is_empty() {
        return Err(fail(ErrorKind::EmptyFile));
    }
    Ok(text)
}

/// A JSON parse error as an [`Error`]: the parser's message without its own
/// "at line 1 column 15" tail, replaced by the character position, and a hint
/// when the text simply stops (a truncated line or download).
pub(crate) fn json_error(error: &serde_json::Error, expected: &'static str) -> Error {
    let full = error.to_string();
    let message = full
        .rfind(" at line ")
        .map_or(full.as_str(), |i| &full[..i]);
    let message = if error.is_eof() {
        format!(
            "{message} at character {} (the text stops early: truncated?)",
            error.column()
        )
    } else {
        format!("{message} at character {}", error.column())
    };
    Error::new(ErrorKind::Json { message, expected })
}
