//! A page of the Hugging Face datasets-server `/rows` API.
//!
//! The hub crate fetches `/rows?dataset=…&config=…&split=…&offset=…&length=100`
//! page by page and hands each body here:
//!
//! ```json
//! {"features":[{"feature_idx":0,"name":"prompt","type":{"dtype":"string","_type":"Value"}}],
//!  "rows":[{"row_idx":0,"row":{"prompt":"..."},"truncated_cells":[]}],
//!  "num_rows_total":1000,"num_rows_per_page":100,"partial":false}
//! ```
//!
//! Columns come from `features` (with their declared dtype), each row keeps its
//! `row_idx` for errors, and cells listed in `truncated_cells` are remembered:
//! a truncated prompt is refused rather than imported cut short. Pages are
//! joined with [`SourceTable::append`].

use super::{decode_text, json_error, Format, Location, SourceTable, TableBuilder};
use crate::table::Value;
use crate::{Error, ErrorKind};

/// One `/rows` page.
#[derive(Debug, Clone, PartialEq)]
pub struct RowsPage {
    /// The page's rows.
    pub table: SourceTable,
    /// Rows in the whole split, to know how many pages remain.
    pub num_rows_total: Option<u64>,
    /// Whether datasets-server only read part of the split.
    pub partial: bool,
}

impl RowsPage {
    /// Rows in the whole split: as datasets-server counts them, else this page's.
    pub fn total_rows(&self) -> u64 {
        self.num_rows_total.unwrap_or(self.table.len() as u64)
    }
}

/// Reads one `/rows` response body.
pub fn read_page(bytes: &[u8], file: &str) -> Result<RowsPage, Error> {
    const EXPECTED: &str =
        "a datasets-server /rows response: an object with \"features\" and \"rows\"";
    let text = decode_text(bytes, file, Format::RowsApi.name())?;
    let page: Value = serde_json::from_str(text).map_err(|e| {
        json_error(&e, EXPECTED)
            .in_file(file)
            .at_line(e.line() as u64)
    })?;
    let shape = |found: &Value, expected: &'static str| {
        Error::new(ErrorKind::UnexpectedJson {
            expected,
            found: found.describe(),
        })
        .in_file(file)
    };
    if !matches!(page, Value::Struct(_)) {
        return Err(shape(&page, EXPECTED));
    }
    if let Some(error) = page.get("error") {
        let message = error
            .as_str()
            .map_or_else(|| format!("{error:?}"), str::to_string);
        return Err(Error::new(ErrorKind::RowsApiError { message }).in_file(file));
    }

    let mut builder = TableBuilder::new(file, Format::RowsApi);
    if let Some(Value::List(features)) = page.get("features") {
        for feature in features {
            if let Some(name) = feature.get("name").and_then(Value::as_str) {
                builder.declare(name, &feature_dtype(feature.get("type")));
            }
        }
    }
    let rows = match page.get("rows") {
        Some(Value::List(rows)) => rows,
        Some(other) => return Err(shape(other, "a \"rows\" list").in_column("rows")),
        None => return Err(shape(&Value::Null, "a \"rows\" list").in_column("rows")),
    };
    for (position, entry) in rows.iter().enumerate() {
        let row_idx = match entry.get("row_idx") {
            Some(Value::Int(i)) => u64::try_from(*i).unwrap_or(position as u64),
            _ => position as u64,
        };
        let Some(Value::Struct(cells)) = entry.get("row") else {
            let found = entry.get("row").unwrap_or(&Value::Null);
            return Err(shape(found, "a \"row\" object in each entry of \"rows\"").at_row(row_idx));
        };
        builder.push_object(cells.clone(), Location::Row(row_idx));
        if let Some(Value::List(truncated)) = entry.get("truncated_cells") {
            for column in truncated.iter().filter_map(Value::as_str) {
                builder.mark_truncated(column);
            }
        }
    }
    let num_rows_total = match page.get("num_rows_total") {
        Some(Value::Int(n)) => u64::try_from(*n).ok(),
        _ => None,
    };
    let partial = matches!(page.get("partial"), Some(Value::Bool(true)));
    Ok(RowsPage {
        table: builder.finish(),
        num_rows_total,
        partial,
    })
}

/// A feature's type as a short name: `string`, `int64`, `list`, `struct`….
fn feature_dtype(feature_type: Option<&Value>) -> String {
    let Some(feature_type) = feature_type else {
        return String::new();
    };
    match (
        feature_type.get("_type").and_then(Value::as_str),
        feature_type.get("dtype").and_then(Value::as_str),
    ) {
        (Some("Value"), Some(dtype)) => match dtype {
            "large_string" => "string".to_string(),
            other => other.to_string(),
        },
        (Some("Sequence" | "List" | "LargeList"), _) => "list".to_string(),
        (Some(other), _) => other.to_ascii_lowercase(),
        // A dict of features is a struct; a bare list is a list.
        (None, _) => match feature_type {
            Value::List(_) => "list".to_string(),
            _ => "struct".to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt_import::{read_source, ColumnMapping};

    const PAGE: &str = r#"{"features":[{"feature_idx":0,"name":"prompt","type":{"dtype":"string","_type":"Value"}},
        {"feature_idx":1,"name":"n","type":{"dtype":"int64","_type":"Value"}}],
        "rows":[{"row_idx":100,"row":{"prompt":"Hi","n":1},"truncated_cells":[]},
                {"row_idx":101,"row":{"prompt":"Long…","n":2},"truncated_cells":["prompt"]}],
        "num_rows_total":5000,"num_rows_per_page":100,"partial":false}"#;

    #[test]
    fn reads_features_rows_and_totals() {
        let page = read_page(PAGE.as_bytes(), "rows").unwrap();
        assert_eq!(page.num_rows_total, Some(5000));
        assert_eq!(page.total_rows(), 5000);
        let uncounted = RowsPage { num_rows_total: None, ..page.clone() };
        assert_eq!(uncounted.total_rows(), page.table.len() as u64);
        assert!(!page.partial);
        let dtypes: Vec<_> = page
            .table
            .columns()
            .iter()
            .map(|c| (c.name.as_str(), c.dtype.as_str()))
            .collect();
        assert_eq!(dtypes, [("prompt", "string"), ("n", "int64")]);
        assert_eq!(page.table.cell(0, 0), &Value::str("Hi"));
    }

    #[test]
    fn truncated_prompt_is_refused() {
        let table = read_source(PAGE.as_bytes(), "rows", Some(Format::RowsApi)).unwrap();
        let msg = table
            .prompts(&ColumnMapping::prompt("prompt"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with(
                "rows: row 101, column \"prompt\": datasets-server truncated this cell"
            ),
            "{msg}"
        );
        assert!(msg.contains("expected the full text"), "{msg}");
    }

    #[test]
    fn server_error() {
        let msg = read_page(br#"{"error":"The dataset does not exist."}"#, "rows")
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "rows: datasets-server answered with an error: The dataset does not exist."
        );
    }

    #[test]
    fn missing_rows() {
        let msg = read_page(br#"{"features":[]}"#, "rows")
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "rows: column \"rows\": expected a \"rows\" list, found null"
        );
    }

    #[test]
    fn entry_without_a_row_object() {
        let msg = read_page(br#"{"rows":[{"row_idx":7,"row":"oops"}]}"#, "rows")
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "rows: row 7: expected a \"row\" object in each entry of \"rows\", found a string"
        );
    }

    #[test]
    fn a_body_that_is_not_an_object() {
        let msg = read_page(b"[1,2]", "rows").unwrap_err().to_string();
        assert!(
            msg.starts_with("rows: expected a datasets-server /rows response"),
            "{msg}"
        );
        assert!(msg.ends_with("found a list"), "{msg}");
    }

    #[test]
    fn html_error_page_instead_of_json() {
        let msg = read_page(b"<html>502 Bad Gateway</html>", "rows")
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("rows: line 1: invalid JSON: expected value at character 1"),
            "{msg}"
        );
    }

    #[test]
    fn empty_page_has_no_rows() {
        let err = read_source(
            br#"{"features":[],"rows":[]}"#,
            "rows",
            Some(Format::RowsApi),
        )
        .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::NoRows);
    }
}
