//! The source table: a file's columns and rows, and taking prompts from them.
//!
//! Every reader fills a [`SourceTable`] through a [`TableBuilder`], keeping
//! where each row came from (a line or a row index) so that a bad value found
//! later, when the prompt column is chosen, can still be pointed at.

use super::Format;
use crate::record::{Backend, Generation, Prompt};
use crate::table::Value;
use crate::{Error, ErrorKind};
use std::collections::{HashMap, HashSet};

// The table as text and back, for the worker that reads files.
mod transfer;

/// A column of a source file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Column {
    /// Its name (for plain text: `prompt`).
    pub name: String,
    /// Its type as the file declares it (Parquet, `/rows` features) or as
    /// its first value shows it: `string`, `int64`, `double`, `bool`, `list`, ….
    pub dtype: String,
}

/// Which columns hold what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMapping {
    /// The column with the prompt text.
    pub prompt: String,
    /// A column with an id for each prompt, kept as [`Prompt::source_id`].
    pub id: Option<String>,
    /// A column with a system prompt for each prompt.
    pub system_prompt: Option<String>,
}

impl ColumnMapping {
    /// Just a prompt column.
    pub fn prompt(column: &str) -> ColumnMapping {
        ColumnMapping {
            prompt: column.to_string(),
            id: None,
            system_prompt: None,
        }
    }
}

/// The prompts taken from a file, and what was left out.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedPrompts {
    /// The prompts, in file order, each once.
    pub prompts: Vec<Prompt>,
    /// Rows dropped because their prompt repeated an earlier one exactly.
    pub duplicates_dropped: usize,
    /// Rows dropped because their prompt was empty or null.
    pub empty_dropped: usize,
}

/// Where a row came from, for errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Location {
    /// A line of a text file, from 1.
    Line(u64),
    /// A row of a Parquet file, JSON array or `/rows` page, from 0.
    Row(u64),
}

impl Location {
    fn place(self, error: Error) -> Error {
        match self {
            Location::Line(line) => error.at_line(line),
            Location::Row(row) => error.at_row(row),
        }
    }
}

/// Column indices of a [`ColumnMapping`].
struct MappedColumns {
    prompt: usize,
    id: Option<usize>,
    system_prompt: Option<usize>,
}

/// Prompts with completions read by [`SourceTable::completions`].
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedCompletions {
    /// The prompts, each once, in the order they first appear.
    pub prompts: Vec<Prompt>,
    /// Each completion with its prompt's id, in file order.
    pub generations: Vec<(String, Generation)>,
    /// Rows dropped because their prompt or completion was empty.
    pub empty_dropped: usize,
    /// Rows dropped because they repeated an earlier row exactly.
    pub duplicates_dropped: usize,
}

/// A file read into columns and rows, before the prompt column is chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceTable {
    file_name: String,
    format: Format,
    columns: Vec<Column>,
    /// A row may be shorter than `columns` when a later JSON object brought
    /// a new key; the missing cells are null.
    rows: Vec<Vec<Value>>,
    pub(super) locations: Vec<Location>,
    /// `(row, column)` cells datasets-server cut short.
    truncated: HashSet<(usize, usize)>,
}

const NULL: Value = Value::Null;

impl SourceTable {
    /// The file this came from.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// The format it was read as.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The columns, in file order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The value in a row and column (by position); null when absent. For previews.
    pub fn cell(&self, row: usize, column: usize) -> &Value {
        self.rows
            .get(row)
            .and_then(|r| r.get(column))
            .unwrap_or(&NULL)
    }

    fn column_index(&self, name: &str) -> Result<usize, Error> {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| {
                Error::new(ErrorKind::UnknownColumn {
                    name: name.to_string(),
                    columns: self.columns.iter().map(|c| c.name.clone()).collect(),
                })
                .in_file(&self.file_name)
            })
    }

    /// Proposes which columns hold the prompt, an id and a system prompt.
    ///
    /// The prompt column is the first whose name is a usual one (`prompt`,
    /// `instruction`, `question`, …); failing that, the text column with the
    /// longest values, since prompts are the long text in most files.
    pub fn suggest_mapping(&self) -> Result<ColumnMapping, Error> {
        const PROMPT: [&str; 11] = [
            "prompt",
            "instruction",
            "question",
            "input",
            "query",
            "text",
            "problem",
            "content",
            "request",
            "user",
            "message",
        ];
        const ID: [&str; 5] = ["id", "prompt_id", "_id", "uuid", "idx"];
        const SYSTEM: [&str; 3] = ["system_prompt", "system", "system_message"];

        let is_text = |c: &Column| c.dtype == "string" || c.dtype == "null";
        let by_name = |names: &[&str], exclude: Option<&str>| {
            names.iter().find_map(|name| {
                self.columns
                    .iter()
                    .find(|c| c.name.eq_ignore_ascii_case(name) && Some(c.name.as_str()) != exclude)
                    .map(|c| c.name.clone())
            })
        };
        let prompt = PROMPT
            .iter()
            .find_map(|name| {
                self.columns
                    .iter()
                    .find(|c| c.name.eq_ignore_ascii_case(name) && is_text(c))
                    .map(|c| c.name.clone())
            })
            .or_else(|| self.longest_text_column());
        let Some(prompt) = prompt else {
            return Err(Error::new(ErrorKind::NoPromptColumn {
                columns: self.columns.iter().map(|c| c.name.clone()).collect(),
            })
            .in_file(&self.file_name));
        };
        Ok(ColumnMapping {
            id: by_name(&ID, Some(&prompt)),
            system_prompt: by_name(&SYSTEM, Some(&prompt)),
            prompt,
        })
    }

    /// The string column with the greatest mean length over the first rows.
    fn longest_text_column(&self) -> Option<String> {
        let sample = &self.rows[..self.rows.len().min(200)];
        let mut best: Option<(usize, usize)> = None;
        for (index, column) in self.columns.iter().enumerate() {
            if column.dtype != "string" {
                continue;
            }
            let total: usize = sample
                .iter()
                .filter_map(|row| row.get(index).and_then(Value::as_str))
                .map(str::len)
                .sum();
            if best.is_none_or(|(_, longest)| total > longest) {
                best = Some((index, total));
            }
        }
        best.map(|(index, _)| self.columns[index].name.clone())
    }

    /// Takes the prompts from the mapped columns.
    ///
    /// Prompts are trimmed; rows whose prompt is empty or null are dropped, and
    /// so are exact repeats of an earlier prompt (same text, hence same id).
    /// A value that is not text — a number in the prompt column, say — is an
    /// error naming its line or row and column.
    pub fn prompts(&self, mapping: &ColumnMapping) -> Result<ImportedPrompts, Error> {
        let columns = self.mapped_columns(mapping)?;
        let mut seen = HashSet::with_capacity(self.rows.len());
        let mut imported = ImportedPrompts {
            prompts: Vec::new(),
            duplicates_dropped: 0,
            empty_dropped: 0,
        };
        for row in 0..self.rows.len() {
            let Some(prompt) = self.prompt_at(row, &columns)? else {
                imported.empty_dropped += 1;
                continue;
            };
            if !seen.insert(prompt.id.clone()) {
                imported.duplicates_dropped += 1;
                continue;
            }
            imported.prompts.push(prompt);
        }
        if imported.prompts.is_empty() {
            return Err(Error::new(ErrorKind::NoPrompts)
                .in_file(&self.file_name)
                .in_column(&mapping.prompt));
        }
        Ok(imported)
    }

    /// The indices of the prompt, id and system-prompt columns.
    fn mapped_columns(&self, mapping: &ColumnMapping) -> Result<MappedColumns, Error> {
        let optional = |column: &Option<String>| column.as_deref().map(|c| self.column_index(c)).transpose();
        Ok(MappedColumns {
            prompt: self.column_index(&mapping.prompt)?,
            id: optional(&mapping.id)?,
            system_prompt: optional(&mapping.system_prompt)?,
        })
    }

    /// The text of a cell that must be a string (or null, read as empty),
    /// else an error naming the row and column.
    fn text_at(&self, row: usize, column: usize, expected: &'static str) -> Result<&str, Error> {
        match self.cell(row, column) {
            Value::Str(s) => Ok(s.trim()),
            Value::Null => Ok(""),
            other => Err(self.wrong_type(row, column, expected, other)),
        }
    }

    fn wrong_type(&self, row: usize, column: usize, expected: &'static str, found: &Value) -> Error {
        self.locations[row].place(
            Error::new(ErrorKind::WrongType {
                expected,
                found: found.describe(),
            })
            .in_file(&self.file_name)
            .in_column(&self.columns[column].name),
        )
    }

    /// The prompt of one row; `None` when its prompt is empty or null.
    fn prompt_at(&self, row: usize, columns: &MappedColumns) -> Result<Option<Prompt>, Error> {
        let text = self.text_at(row, columns.prompt, "a string (the prompt)")?;
        if text.is_empty() {
            return Ok(None);
        }
        if self.truncated.contains(&(row, columns.prompt)) {
            return Err(self.locations[row].place(
                Error::new(ErrorKind::TruncatedCell)
                    .in_file(&self.file_name)
                    .in_column(&self.columns[columns.prompt].name),
            ));
        }
        let mut prompt = Prompt::new(text);
        if let Some(col) = columns.id {
            prompt.source_id = match self.cell(row, col) {
                Value::Str(s) => Some(s.clone()),
                Value::Int(i) => Some(i.to_string()),
                Value::Null => None,
                other => return Err(self.wrong_type(row, col, "a string or an integer (the id)", other)),
            };
        }
        if let Some(col) = columns.system_prompt {
            let system = self.text_at(row, col, "a string (the system prompt)")?;
            prompt.system_prompt = (!system.is_empty()).then(|| system.to_string());
        }
        Ok(Some(prompt))
    }

    /// The column that most likely holds completions to rate as they are,
    /// by its name (`completion`, `response`, `output`, …), if any.
    pub fn suggest_completion_column(&self) -> Option<&str> {
        self.column_named(&["completion", "response", "output", "answer", "generation", "chosen"])
    }

    /// The column that most likely names the model of each completion.
    pub fn suggest_model_column(&self) -> Option<&str> {
        self.column_named(&["model", "generation_model", "model_name", "model_id"])
    }

    /// The first of `names` that is a column (ignoring case).
    fn column_named(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|name| {
            self.columns.iter().find(|column| column.name.eq_ignore_ascii_case(name)).map(|column| column.name.as_str())
        })
    }

    /// Takes prompts with completions already written — a KTO file
    /// (`prompt`, `completion`), model outputs from elsewhere — so they can be
    /// rated as they are.
    ///
    /// Each row gives one generation of its prompt; rows of the same prompt
    /// become one prompt with several generations (what A vs B and ranking
    /// need). The model is the `model` column's value, else the file's name.
    /// Rows with an empty prompt or completion are dropped and counted, and
    /// so is a row that repeats an earlier one exactly. `imported_at_ms`
    /// stamps every generation (this crate has no clock).
    pub fn completions(
        &self,
        mapping: &ColumnMapping,
        completion: &str,
        model: Option<&str>,
        imported_at_ms: u64,
    ) -> Result<ImportedCompletions, Error> {
        let columns = self.mapped_columns(mapping)?;
        let completion_col = self.column_index(completion)?;
        let model_col = model.map(|c| self.column_index(c)).transpose()?;
        let mut imported = ImportedCompletions {
            prompts: Vec::new(),
            generations: Vec::new(),
            empty_dropped: 0,
            duplicates_dropped: 0,
        };
        let mut prompt_seen = HashSet::new();
        let mut generation_seen = HashSet::new();
        for row in 0..self.rows.len() {
            let prompt = self.prompt_at(row, &columns)?;
            let text = self.text_at(row, completion_col, "a string (the completion)")?;
            let model_id = match model_col {
                Some(column) => self.text_at(row, column, "a string (the model)")?,
                None => "",
            };
            let (Some(prompt), false) = (prompt, text.is_empty()) else {
                imported.empty_dropped += 1;
                continue;
            };
            let mut generation = Generation {
                model_id: if model_id.is_empty() { self.file_name.clone() } else { model_id.to_owned() },
                backend: Backend::Imported { file: self.file_name.clone() },
                raw_text: text.to_owned(),
                text: text.to_owned(),
                created_at_ms: imported_at_ms,
                ..Generation::default()
            };
            generation.id = generation.compute_id(&prompt.id);
            if !generation_seen.insert(generation.id.clone()) {
                imported.duplicates_dropped += 1;
                continue;
            }
            let prompt_id = prompt.id.clone();
            if prompt_seen.insert(prompt_id.clone()) {
                imported.prompts.push(prompt);
            }
            imported.generations.push((prompt_id, generation));
        }
        if imported.generations.is_empty() {
            return Err(Error::new(ErrorKind::NoPrompts).in_file(&self.file_name).in_column(completion));
        }
        Ok(imported)
    }

    /// Adds the rows of another table — the next `/rows` page — matching
    /// columns by name; a column only the other table has is added.
    pub fn append(&mut self, other: SourceTable) {
        let mapping: Vec<usize> = other
            .columns
            .into_iter()
            .map(
                |column| match self.columns.iter().position(|c| c.name == column.name) {
                    Some(index) => index,
                    None => {
                        self.columns.push(column);
                        self.columns.len() - 1
                    }
                },
            )
            .collect();
        let offset = self.rows.len();
        for row in other.rows {
            let mut cells = vec![Value::Null; self.columns.len()];
            for (value, &index) in row.into_iter().zip(&mapping) {
                cells[index] = value;
            }
            self.rows.push(cells);
        }
        self.locations.extend(other.locations);
        self.truncated.extend(
            other
                .truncated
                .into_iter()
                .map(|(r, c)| (r + offset, mapping[c])),
        );
    }
}

/// Builds a [`SourceTable`] row by row, adding columns as keys appear.
pub(crate) struct TableBuilder {
    table: SourceTable,
    index: HashMap<String, usize>,
}

impl TableBuilder {
    pub(crate) fn new(file_name: &str, format: Format) -> TableBuilder {
        TableBuilder {
            table: SourceTable {
                file_name: file_name.to_string(),
                format,
                columns: Vec::new(),
                rows: Vec::new(),
                locations: Vec::new(),
                truncated: HashSet::new(),
            },
            index: HashMap::new(),
        }
    }

    /// Declares a column ahead of the rows, with its type as the file states it.
    pub(crate) fn declare(&mut self, name: &str, dtype: &str) {
        self.column(name);
        if let Some(&i) = self.index.get(name) {
            self.table.columns[i].dtype = dtype.to_string();
        }
    }

    fn column(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.table.columns.push(Column {
            name: name.to_string(),
            dtype: String::new(),
        });
        self.index
            .insert(name.to_string(), self.table.columns.len() - 1);
        self.table.columns.len() - 1
    }

    /// Adds a row given as `(column, value)` pairs, such as a JSON object.
    pub(crate) fn push_object(&mut self, fields: Vec<(String, Value)>, location: Location) {
        let mut row = Vec::with_capacity(self.table.columns.len().max(fields.len()));
        for (name, value) in fields {
            let i = self.column(&name);
            if row.len() <= i {
                row.resize(i + 1, Value::Null);
            }
            row[i] = value;
        }
        self.table.rows.push(row);
        self.table.locations.push(location);
    }

    /// Adds a row whose values are in declared-column order.
    pub(crate) fn push_row(&mut self, row: Vec<Value>, location: Location) {
        self.table.rows.push(row);
        self.table.locations.push(location);
    }

    /// Marks a cell of the last row as truncated.
    pub(crate) fn mark_truncated(&mut self, column: &str) {
        if let (Some(&col), Some(row)) =
            (self.index.get(column), self.table.rows.len().checked_sub(1))
        {
            self.table.truncated.insert((row, col));
        }
    }

    /// The table, with each undeclared column's type taken from its first value.
    pub(crate) fn finish(mut self) -> SourceTable {
        for (i, column) in self.table.columns.iter_mut().enumerate() {
            if column.dtype.is_empty() {
                let first = self
                    .table
                    .rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .find(|v| **v != Value::Null);
                column.dtype = first.map_or("null", dtype_of).to_string();
            }
        }
        self.table
    }
}

fn dtype_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int64",
        Value::Float(_) => "double",
        Value::Str(_) => "string",
        Value::List(_) => "list",
        Value::Struct(_) => "struct",
        Value::Other(_) => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt_import::read_source;

    fn source(text: &str, file: &str) -> SourceTable {
        read_source(text.as_bytes(), file, None).unwrap()
    }

    #[test]
    fn suggests_the_usual_prompt_id_and_system_columns() {
        let table = source(
            "{\"ID\":1,\"system\":\"Be brief.\",\"instruction\":\"Say hi\",\"response\":\"hi\"}\n",
            "a.jsonl",
        );
        let mapping = table.suggest_mapping().unwrap();
        assert_eq!(
            mapping,
            ColumnMapping {
                prompt: "instruction".into(),
                id: Some("ID".into()),
                system_prompt: Some("system".into()),
            }
        );
        let prompts = table.prompts(&mapping).unwrap().prompts;
        assert_eq!(prompts[0].text, "Say hi");
        assert_eq!(prompts[0].source_id.as_deref(), Some("1"));
        assert_eq!(prompts[0].system_prompt.as_deref(), Some("Be brief."));
    }

    #[test]
    fn without_a_usual_name_the_longest_text_column_is_the_prompt() {
        let table = source(
            "key,body\nk1,a long question about things\nk2,another long one\n",
            "a.csv",
        );
        assert_eq!(table.suggest_mapping().unwrap().prompt, "body");
    }

    #[test]
    fn drops_and_counts_duplicates_and_empties() {
        let table = source("prompt\nHello\n  Hello  \n\"\"\nWorld\nHello\n", "a.csv");
        let imported = table.prompts(&ColumnMapping::prompt("prompt")).unwrap();
        let texts: Vec<_> = imported.prompts.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["Hello", "World"]);
        assert_eq!(imported.duplicates_dropped, 2);
        assert_eq!(imported.empty_dropped, 1);
    }

    #[test]
    fn columns_report_types_from_first_values() {
        let table = source("{\"a\":null}\n{\"a\":\"x\",\"b\":2,\"c\":[1]}\n", "a.jsonl");
        let dtypes: Vec<_> = table
            .columns()
            .iter()
            .map(|c| (c.name.as_str(), c.dtype.as_str()))
            .collect();
        assert_eq!(dtypes, [("a", "string"), ("b", "int64"), ("c", "list")]);
        assert_eq!(table.cell(0, 1), &Value::Null);
        assert_eq!(table.cell(1, 1), &Value::Int(2));
        assert_eq!(table.len(), 2);
        assert_eq!(table.format(), Format::Jsonl);
        assert_eq!(table.file_name(), "a.jsonl");
    }

    #[test]
    fn append_matches_columns_by_name() {
        let mut first = source("{\"prompt\":\"a\"}\n", "p1.jsonl");
        let second = source("{\"extra\":1,\"prompt\":\"b\"}\n", "p2.jsonl");
        first.append(second);
        assert_eq!(first.len(), 2);
        assert_eq!(first.cell(1, 0), &Value::str("b"));
        assert_eq!(first.cell(1, 1), &Value::Int(1));
    }
}
