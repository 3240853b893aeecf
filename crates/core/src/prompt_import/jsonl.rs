//! JSON Lines: one JSON object per line, the format `datasets` and most
//! pipelines write. Keys become columns in the order they first appear; blank
//! lines are skipped.

use super::{decode_text, json_error, Format, Location, SourceTable, TableBuilder};
use crate::table::Value;
use crate::{Error, ErrorKind};

/// Reads JSON Lines; each line is parsed on its own, so the cost is linear in
/// the file size and a bad line is reported by its number.
pub(crate) fn read(bytes: &[u8], file: &str) -> Result<SourceTable, Error> {
    let text = decode_text(bytes, file, Format::Jsonl.name())?;
    let mut builder = TableBuilder::new(file, Format::Jsonl);
    for (index, line) in text.split('\n').enumerate() {
        let number = index as u64 + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line).map_err(|e| {
            json_error(&e, "one complete JSON object per line")
                .in_file(file)
                .at_line(number)
        })?;
        match value {
            Value::Struct(fields) => builder.push_object(fields, Location::Line(number)),
            other => {
                return Err(Error::new(ErrorKind::UnexpectedJson {
                    expected: "a JSON object on each line",
                    found: other.describe(),
                })
                .in_file(file)
                .at_line(number))
            }
        }
    }
    Ok(builder.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_objects_skipping_blank_lines_and_bom() {
        let table = read(
            b"\xEF\xBB\xBF{\"prompt\":\"a\"}\r\n\n{\"prompt\":\"b\",\"n\":1}\n",
            "p.jsonl",
        )
        .unwrap();
        assert_eq!(table.len(), 2);
        assert_eq!(table.cell(1, 0), &Value::str("b"));
        assert_eq!(table.columns().len(), 2);
        assert_eq!(table.locations[1], Location::Line(3));
    }

    #[test]
    fn truncated_line() {
        let err = read(b"{\"prompt\":\"a\"}\n{\"prompt\":\"unfinish", "p.jsonl").unwrap_err();
        assert_eq!(err.line(), Some(2));
        let msg = err.to_string();
        assert!(
            msg.starts_with("p.jsonl: line 2: invalid JSON: EOF while parsing a string"),
            "{msg}"
        );
        assert!(msg.contains("truncated?"), "{msg}");
        assert!(
            msg.contains("expected one complete JSON object per line"),
            "{msg}"
        );
    }

    #[test]
    fn syntax_error_names_the_character() {
        let msg = read(b"{\"prompt\": 'single'}\n", "p.jsonl")
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("p.jsonl: line 1: invalid JSON: expected value at character 12"),
            "{msg}"
        );
    }

    #[test]
    fn line_that_is_not_an_object() {
        let msg = read(b"{\"prompt\":\"a\"}\n[\"a\",\"b\"]\n", "p.jsonl")
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "p.jsonl: line 2: expected a JSON object on each line, found a list"
        );
    }

    #[test]
    fn a_whole_json_array_in_a_jsonl_file() {
        let msg = read(b"[{\"prompt\":\"a\"},\n{\"prompt\":\"b\"}]", "p.jsonl")
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("p.jsonl: line 1: invalid JSON"), "{msg}");
        assert!(
            msg.contains("expected one complete JSON object per line"),
            "{msg}"
        );
    }
}
