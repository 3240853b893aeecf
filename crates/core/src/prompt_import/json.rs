//! A JSON array of objects — what `df.to_json(orient="records")` and many
//! hand-made files hold. Each object is a row; keys become columns.

use super::{decode_text, json_error, Format, Location, SourceTable, TableBuilder};
use crate::table::Value;
use crate::{Error, ErrorKind};

/// Reads a JSON array of objects.
pub(crate) fn read(bytes: &[u8], file: &str) -> Result<SourceTable, Error> {
    let text = decode_text(bytes, file, Format::Json.name())?;
    let value: Value = serde_json::from_str(text).map_err(|e| {
        json_error(&e, "a JSON array of objects")
            .in_file(file)
            .at_line(e.line() as u64)
    })?;
    let Value::List(items) = value else {
        return Err(Error::new(ErrorKind::UnexpectedJson {
            expected: "a JSON array of objects",
            found: value.describe(),
        })
        .in_file(file));
    };
    let mut builder = TableBuilder::new(file, Format::Json);
    for (row, item) in items.into_iter().enumerate() {
        match item {
            Value::Struct(fields) => builder.push_object(fields, Location::Row(row as u64)),
            other => {
                return Err(Error::new(ErrorKind::UnexpectedJson {
                    expected: "an object for each element of the array",
                    found: other.describe(),
                })
                .in_file(file)
                .at_row(row as u64))
            }
        }
    }
    Ok(builder.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_array_of_objects() {
        let table = read(b"[{\"prompt\":\"a\"},\n {\"prompt\":\"b\"}]", "p.json").unwrap();
        assert_eq!(table.len(), 2);
        assert_eq!(table.cell(1, 0), &Value::str("b"));
    }

    #[test]
    fn truncated_array() {
        let msg = read(b"[{\"prompt\":\"a\"},\n {\"prompt\":\"b\"", "p.json")
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("p.json: line 2: invalid JSON: EOF while parsing"),
            "{msg}"
        );
        assert!(msg.contains("expected a JSON array of objects"), "{msg}");
    }

    #[test]
    fn a_value_that_is_not_an_array() {
        let msg = read(b"\"just a string\"", "p.json")
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "p.json: expected a JSON array of objects, found a string"
        );
    }

    #[test]
    fn element_that_is_not_an_object() {
        let msg = read(b"[{\"prompt\":\"a\"}, \"b\"]", "p.json")
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "p.json: row 1: expected an object for each element of the array, found a string"
        );
    }
}
