//! Prompt import: from a file a person brings to a list of [`Prompt`]s.
//!
//! Importing is two steps, so the page can show the columns in between:
//!
//! 1. [`read_source`] reads the bytes of a JSONL, JSON, CSV/TSV, Parquet,
//!    plain-text file or a datasets-server `/rows` page into a [`SourceTable`]
//!    (the format comes from the extension and the content, or is given);
//! 2. [`SourceTable::prompts`] takes the prompt column — and optionally an id
//!    and a system-prompt column — chosen by the person or proposed by
//!    [`SourceTable::suggest_mapping`], trims each prompt, and drops empty ones
//!    and exact duplicates, counting both.
//!
//! [`SourceTable::completions`] instead takes prompts with completions already
//! written (a KTO file, another tool's outputs), to be rated as they are.
//!
//! [`import_prompts`] does both at once. Each reader lives in its own module;
//! they all keep where every row came from (line or row) so a bad value can be
//! pointed at. The page reads files in a worker; a table crosses back as
//! [`SourceTable::to_transfer`]'s text (`source/transfer.rs`).

mod csv;
mod decode;
mod detect;
mod json;
mod jsonl;
mod parquet;
pub mod rows_api;
mod source;
mod text;

use crate::Error;

pub(crate) use self::decode::{decode_text, json_error};
pub use self::detect::{detect_format, Format};
pub use self::parquet::read_parquet;
pub use self::source::{Column, ColumnMapping, ImportedCompletions, ImportedPrompts, SourceTable};
pub(crate) use self::source::{Location, TableBuilder};

/// Reads a file into a table of its columns and rows.
///
/// `format` overrides detection (the hub crate passes [`Format::RowsApi`]).
pub fn read_source(
    bytes: &[u8],
    file_name: &str,
    format: Option<Format>,
) -> Result<SourceTable, Error> {
    let format = match format {
        Some(format) => format,
        None => detect_format(file_name, bytes)?,
    };
    let table = match format {
        Format::Jsonl => jsonl::read(bytes, file_name)?,
        Format::Json => json::read(bytes, file_name)?,
        Format::Csv => csv::read(bytes, file_name, b',', format)?,
        Format::Tsv => csv::read(bytes, file_name, b'\t', format)?,
        Format::Parquet => parquet::read(bytes, file_name)?,
        Format::Text => text::read(bytes, file_name)?,
        Format::RowsApi => rows_api::read_page(bytes, file_name)?.table,
    };
    if table.is_empty() {
        return Err(Error::new(crate::ErrorKind::NoRows).in_file(file_name));
    }
    Ok(table)
}

/// Reads a file and takes its prompts in one step; with no mapping, the
/// columns are guessed by [`SourceTable::suggest_mapping`].
pub fn import_prompts(
    bytes: &[u8],
    file_name: &str,
    format: Option<Format>,
    mapping: Option<&ColumnMapping>,
) -> Result<ImportedPrompts, Error> {
    let table = read_source(bytes, file_name, format)?;
    match mapping {
        Some(mapping) => table.prompts(mapping),
        None => table.prompts(&table.suggest_mapping()?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str, file: &str) -> SourceTable {
        read_source(text.as_bytes(), file, None).unwrap()
    }

    #[test]
    fn import_prompts_in_one_step() {
        let imported = import_prompts(b"one\ntwo\n\nthree\n", "p.txt", None, None).unwrap();
        assert_eq!(imported.prompts.len(), 3);
        assert_eq!(imported.prompts[2].text, "three");
    }

    // Bad input: each case checks the message names the file, the place and
    // what was expected.

    fn error(bytes: &[u8], file: &str) -> String {
        import_prompts(bytes, file, None, None)
            .unwrap_err()
            .to_string()
    }

    fn assert_contains(msg: &str, parts: &[&str]) {
        for part in parts {
            assert!(msg.contains(part), "{msg:?} should contain {part:?}");
        }
    }

    #[test]
    fn empty_file() {
        let msg = error(b"", "p.jsonl");
        assert_contains(
            &msg,
            &[
                "p.jsonl: ",
                "the file is empty",
                "expected at least one prompt",
            ],
        );
        let msg = error(b"\xEF\xBB\xBF \n\n", "p.csv");
        assert_contains(&msg, &["p.csv: ", "the file is empty"]);
    }

    #[test]
    fn invalid_utf8_names_line_and_byte() {
        let msg = error(b"ok\nbad \xFF here\n", "p.txt");
        assert_contains(
            &msg,
            &[
                "p.txt: line 2: ",
                "invalid UTF-8 at byte 7",
                "expected UTF-8 text",
            ],
        );
    }

    #[test]
    fn utf16_text() {
        let msg = error(b"\xFF\xFEp\0r\0", "p.csv");
        assert_contains(&msg, &["p.csv: ", "UTF-16", "expected UTF-8"]);
    }

    #[test]
    fn binary_file_as_text() {
        let msg = error(b"abc\n\0\x01\x02", "p.txt");
        assert_contains(
            &msg,
            &["p.txt: line 2: ", "NUL byte at byte 4", "expected text"],
        );
    }

    #[test]
    fn parquet_renamed_as_jsonl() {
        let msg = error(b"PAR1\x00\x00garbage", "p.jsonl");
        assert_contains(
            &msg,
            &[
                "p.jsonl: ",
                "expected JSON Lines, but the content is Parquet",
            ],
        );
    }

    #[test]
    fn excel_file_renamed_as_csv() {
        let msg = error(b"PK\x03\x04\x14\x00", "p.csv");
        assert_contains(&msg, &["p.csv: ", "expected CSV", "ZIP archive"]);
    }

    #[test]
    fn chosen_column_missing() {
        let table = source("{\"question\":\"q\"}\n", "p.jsonl");
        let msg = table
            .prompts(&ColumnMapping::prompt("prompt"))
            .unwrap_err()
            .to_string();
        assert_contains(
            &msg,
            &[
                "p.jsonl: ",
                "no column named \"prompt\"",
                "expected one of \"question\"",
            ],
        );
    }

    #[test]
    fn no_prompt_column() {
        let msg = error(b"{\"n\":1,\"m\":[2]}\n", "p.jsonl");
        assert_contains(
            &msg,
            &[
                "p.jsonl: ",
                "no column looks like a prompt column",
                "\"n\", \"m\"",
            ],
        );
    }

    #[test]
    fn number_in_prompt_column() {
        let msg = error(b"{\"prompt\":\"a\"}\n\n{\"prompt\":42}\n", "p.jsonl");
        assert_contains(
            &msg,
            &[
                "p.jsonl: line 3, column \"prompt\": ",
                "expected a string (the prompt), found a number",
            ],
        );
    }

    #[test]
    fn object_in_id_column() {
        let table = source("[{\"prompt\":\"a\",\"id\":{\"x\":1}}]", "p.json");
        let mapping = ColumnMapping {
            id: Some("id".into()),
            ..ColumnMapping::prompt("prompt")
        };
        let msg = table.prompts(&mapping).unwrap_err().to_string();
        assert_contains(
            &msg,
            &[
                "p.json: row 0, column \"id\": ",
                "expected a string or an integer (the id), found an object",
            ],
        );
    }

    #[test]
    fn list_in_system_column() {
        let table = source("{\"prompt\":\"a\",\"sys\":[\"x\"]}\n", "p.jsonl");
        let mapping = ColumnMapping {
            system_prompt: Some("sys".into()),
            ..ColumnMapping::prompt("prompt")
        };
        let msg = table.prompts(&mapping).unwrap_err().to_string();
        assert_contains(
            &msg,
            &[
                "line 1, column \"sys\"",
                "expected a string (the system prompt), found a list",
            ],
        );
    }

    #[test]
    fn every_prompt_empty() {
        let msg = error(b"prompt,x\n,1\n  ,2\n", "p.csv");
        assert_contains(
            &msg,
            &[
                "p.csv: column \"prompt\": ",
                "every prompt is empty",
                "expected at least one non-empty prompt",
            ],
        );
    }

    #[test]
    fn completions_group_under_their_prompts_and_keep_their_model() {
        let text = concat!(
            r#"{"prompt": "Say hi", "completion": "Hi!", "model": "m1"}"#, "\n",
            r#"{"prompt": "Say hi", "completion": "Hello.", "model": "m2"}"#, "\n",
            r#"{"prompt": "Say hi", "completion": "Hi!", "model": "m1"}"#, "\n",
            r#"{"prompt": "", "completion": "orphan", "model": "m1"}"#, "\n",
            r#"{"prompt": "Count", "completion": "", "model": "m1"}"#, "\n",
            r#"{"prompt": "Count", "completion": "1 2 3", "model": null}"#, "\n",
        );
        let table = source(text, "kto.jsonl");
        assert_eq!((table.suggest_completion_column(), table.suggest_model_column()), (Some("completion"), Some("model")));
        let imported = table.completions(&ColumnMapping::prompt("prompt"), "completion", Some("model"), 42).unwrap();
        let prompts: Vec<&str> = imported.prompts.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(prompts, ["Say hi", "Count"]);
        let rows: Vec<(&str, &str, &str)> = imported
            .generations
            .iter()
            .map(|(prompt_id, g)| (prompt_id.as_str(), g.text.as_str(), g.model_id.as_str()))
            .collect();
        let (hi, count) = (imported.prompts[0].id.as_str(), imported.prompts[1].id.as_str());
        assert_eq!(rows, [(hi, "Hi!", "m1"), (hi, "Hello.", "m2"), (count, "1 2 3", "kto.jsonl")]);
        assert_eq!((imported.empty_dropped, imported.duplicates_dropped), (2, 1));
        let (prompt_id, first) = &imported.generations[0];
        assert_eq!(first.id, first.compute_id(prompt_id));
        assert_eq!(first.backend, crate::record::Backend::Imported { file: "kto.jsonl".into() });
        assert_eq!(first.created_at_ms, 42);
    }

    #[test]
    fn a_completion_that_is_not_text_is_named_by_line_and_column() {
        let table = source("{\"prompt\": \"a\", \"completion\": \"x\"}\n{\"prompt\": \"b\", \"completion\": 7}\n", "out.jsonl");
        let message = table.completions(&ColumnMapping::prompt("prompt"), "completion", None, 0).unwrap_err().to_string();
        assert_contains(&message, &["out.jsonl", "line 2", "completion", "a string (the completion)"]);
        let empty = source("{\"prompt\": \"a\", \"completion\": \"\"}\n", "out.jsonl");
        assert!(empty.completions(&ColumnMapping::prompt("prompt"), "completion", None, 0).is_err());
    }
}
