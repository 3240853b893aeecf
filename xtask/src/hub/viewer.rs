//! datasets-server (the dataset viewer's API), under `/datasets-server/`.
//!
//! Configs and splits come from the repo's `main` the way the Hub finds them:
//! the README's YAML `configs:` (`config_name`, `data_files` as a glob, a list
//! of globs, or `[{split, path}]`) if present; else one `default` config whose
//! splits are inferred from file and folder names (`train`, `validation`/
//! `valid`/`dev`/`val`, `test`/`eval`; files naming no split make `train`),
//! keeping the most common data format (Parquet, JSONL, JSON, CSV, TSV).
//! Rows are read with Prefab's own readers (`prefab_core::prompt_import`).
//!
//! Endpoints (query `dataset`, and `config`, `split`, `offset`, `length`):
//! `/is-valid`, `/splits`, `/first-rows`, `/rows` (`length` ≤ 100), `/parquet`
//! (URLs under the virtual revision `refs/convert/parquet`, answered by the
//! resolve endpoint: Parquet files as they are, other formats converted).
//!
//! Errors are `{"error": …}` with `X-Error-Code`, as datasets-server sends them:
//! - 401 `ExternalUnauthenticatedError` — no token, and the dataset is
//!   missing, private or gated;
//! - 404 `ExternalAuthenticatedError` — a token, but no access (or no dataset);
//! - 404 `DisabledViewerError` — the viewer is off (`viewer: false` in the
//!   README, or seeded so): "The dataset viewer has been disabled on this dataset.";
//! - 404 `ResponseNotFound` — no such config or split ("Not found.");
//! - 422 `MissingRequiredParameter` / `InvalidParameter` — bad query;
//! - 501 `EmptyDatasetError` — no data files; 500 `UnexpectedError` — unreadable files.

use super::api::{card_data, resolve_url};
use super::http::{HubError, Reply, Req};
use super::repo::{glob_matches, FileEntry};
use super::store::{self, Repo};
use super::Shared;
use prefab_core::table::{DataType, Field, Table, Value as Cell};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The most rows one `/rows` page may have.
const MAX_LENGTH: usize = 100;

/// One split of one config and the files that make it, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub config: String,
    pub split: String,
    pub files: Vec<String>,
}

const DATA_EXTENSIONS: [&str; 5] = ["parquet", "jsonl", "json", "csv", "tsv"];

fn extension(path: &str) -> &str {
    path.rsplit_once('.').map_or("", |(_, ext)| ext)
}

/// The configs and splits of a repo's files, with the README's front matter `card`.
pub fn splits(files: &BTreeMap<String, FileEntry>, card: Option<&Value>) -> Vec<Split> {
    if let Some(configs) = card.and_then(|card| card["configs"].as_array()) {
        let mut out = Vec::new();
        for config in configs {
            let name = config["config_name"].as_str().unwrap_or("default").to_owned();
            let pairs: Vec<(String, Vec<String>)> = match &config["data_files"] {
                Value::String(glob) => vec![("train".into(), vec![glob.clone()])],
                Value::Array(items) => {
                    let globs: Vec<String> = items.iter().filter_map(|item| item.as_str().map(str::to_owned)).collect();
                    let mut pairs: Vec<(String, Vec<String>)> = items
                        .iter()
                        .filter(|item| item.is_object())
                        .map(|item| {
                            let paths = match &item["path"] {
                                Value::String(path) => vec![path.clone()],
                                Value::Array(paths) => paths.iter().filter_map(|p| p.as_str().map(str::to_owned)).collect(),
                                _ => vec![],
                            };
                            (item["split"].as_str().unwrap_or("train").to_owned(), paths)
                        })
                        .collect();
                    if !globs.is_empty() {
                        pairs.push(("train".into(), globs));
                    }
                    pairs
                }
                _ => vec![],
            };
            for (split, globs) in pairs {
                let matched: Vec<String> = files.keys().filter(|path| globs.iter().any(|glob| glob_matches(glob, path))).cloned().collect();
                if !matched.is_empty() {
                    out.push(Split { config: name.clone(), split, files: matched });
                }
            }
        }
        return out;
    }
    // No configs: the data files of the most common format, split by name.
    let mut by_format: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for path in files.keys() {
        let ext = extension(path);
        if DATA_EXTENSIONS.contains(&ext) {
            by_format.entry(ext).or_default().push(path);
        }
    }
    let Some((_, data)) = by_format.into_iter().max_by_key(|(ext, paths)| (paths.len(), *ext == "parquet")) else { return vec![] };
    let split_of = |path: &str| -> Option<&'static str> {
        path.to_ascii_lowercase().split(['/', '-', '_', '.', ' ']).find_map(|word| match word {
            "train" | "training" => Some("train"),
            "validation" | "valid" | "dev" | "val" => Some("validation"),
            "test" | "testing" | "eval" | "evaluation" => Some("test"),
            _ => None,
        })
    };
    let named = data.iter().any(|path| split_of(path).is_some());
    let mut out: Vec<Split> = Vec::new();
    for name in ["train", "validation", "test"] {
        let matched: Vec<String> = data.iter().filter(|path| if named { split_of(path) == Some(name) } else { name == "train" }).map(|p| (*p).clone()).collect();
        if !matched.is_empty() {
            out.push(Split { config: "default".into(), split: name.into(), files: matched });
        }
    }
    out
}

/// A split's rows, read: the features and each row as JSON.
pub struct SplitData {
    pub features: Vec<(String, Value)>,
    pub rows: Vec<Vec<Value>>,
}

fn feature_type(data_type: &DataType) -> Value {
    let value = |dtype: &str| json!({"dtype": dtype, "_type": "Value"});
    match data_type {
        DataType::String => value("string"),
        DataType::Bool => value("bool"),
        DataType::Int64 => value("int64"),
        DataType::Float64 => value("float64"),
        DataType::List(element) => json!({"feature": feature_type(&element.data_type), "_type": "List"}),
        DataType::Struct(fields) => Value::Object(fields.iter().map(|field| (field.name.clone(), feature_type(&field.data_type))).collect()),
        DataType::Other(name) => value(name),
    }
}

fn cell_json(cell: &Cell) -> Value {
    match cell {
        Cell::Null | Cell::Other(_) => Value::Null,
        Cell::Bool(b) => json!(b),
        Cell::Int(i) => json!(i),
        Cell::Float(f) => json!(f),
        Cell::Str(s) => json!(s),
        Cell::List(items) => Value::Array(items.iter().map(cell_json).collect()),
        Cell::Struct(fields) => Value::Object(fields.iter().map(|(name, value)| (name.clone(), cell_json(value))).collect()),
    }
}

fn data_type_of(dtype: &str) -> DataType {
    match dtype {
        "string" | "null" => DataType::String,
        "bool" => DataType::Bool,
        "int64" => DataType::Int64,
        "double" | "float64" => DataType::Float64,
        other => DataType::Other(other.to_owned()),
    }
}

/// One data file as a table: Parquet with its schema, the rest through Prefab's import readers.
fn read_table(name: &str, bytes: &[u8]) -> Result<Table, String> {
    if extension(name) == "parquet" {
        return prefab_core::prompt_import::read_parquet(bytes, name).map_err(|error| error.to_string());
    }
    let source = prefab_core::prompt_import::read_source(bytes, name, None).map_err(|error| error.to_string())?;
    let schema: Vec<Field> = source.columns().iter().map(|column| Field::nullable(&column.name, data_type_of(&column.dtype))).collect();
    let rows = (0..source.len()).map(|row| (0..schema.len()).map(|column| source.cell(row, column).clone()).collect()).collect();
    Ok(Table { schema, rows })
}

pub fn read_split(dir: &Path, files: &BTreeMap<String, FileEntry>, split: &Split) -> Result<SplitData, String> {
    let mut data = SplitData { features: Vec::new(), rows: Vec::new() };
    for path in &split.files {
        let entry = files.get(path).ok_or_else(|| format!("{path} is missing"))?;
        let bytes = store::read_blob(dir, &entry.sha256).map_err(|error| error.message)?;
        let table = read_table(path, &bytes)?;
        if data.features.is_empty() {
            data.features = table.schema.iter().map(|field| (field.name.clone(), feature_type(&field.data_type))).collect();
        }
        for row in &table.rows {
            data.rows.push(row.iter().map(cell_json).collect());
        }
    }
    Ok(data)
}

/// A file of the virtual `refs/convert/parquet` revision: `{config}/{split}/{NNNN}.parquet`.
pub fn converted_file(dir: &Path, repo: &Repo, path: &str) -> Option<Vec<u8>> {
    let main = repo.main();
    let card = card_data(dir, &main.files);
    let [config, split, file] = path.split('/').collect::<Vec<_>>()[..] else { return None };
    let index: usize = file.strip_suffix(".parquet")?.parse().ok()?;
    let found = splits(&main.files, card.as_ref()).into_iter().find(|s| s.config == config && s.split == split)?;
    let source = found.files.get(index)?;
    let bytes = store::read_blob(dir, &main.files.get(source)?.sha256).ok()?;
    if extension(source) == "parquet" {
        return Some(bytes);
    }
    let mut table = read_table(source, &bytes).ok()?;
    // Columns of types Prefab does not write become text.
    for (column, field) in table.schema.iter_mut().enumerate() {
        if let DataType::Other(_) = field.data_type {
            field.data_type = DataType::String;
            for row in &mut table.rows {
                let text = cell_json(&row[column]).to_string();
                row[column] = if row[column] == Cell::Null { Cell::Null } else { Cell::Str(text) };
            }
        }
    }
    prefab_core::write::parquet::to_parquet(&table).ok()
}

fn dataset_error(status: u16, code: &'static str, message: &str) -> HubError {
    HubError::new(status, Some(code), message)
}

/// Answers `GET /datasets-server/{endpoint}`.
pub fn handle(hub: &Shared, req: &Req, base: &str, endpoint: &str) -> Result<Reply, HubError> {
    let dataset = req.param("dataset").filter(|d| !d.is_empty()).ok_or_else(|| {
        dataset_error(422, "MissingRequiredParameter", "Parameter 'dataset' is required")
    })?;
    let state = hub.state();
    let token = state.token(req.bearer()).cloned();
    let repo = state.readable_repo(dataset, token.as_ref()).map_err(|_| match token {
        None => dataset_error(401, "ExternalUnauthenticatedError", "The dataset does not exist, or is not accessible without authentication (private or gated). Please check the spelling of the dataset name or retry with authentication."),
        Some(_) => dataset_error(404, "ExternalAuthenticatedError", "The dataset does not exist, or is not accessible with the current credentials (private or gated). Please check the spelling of the dataset name or retry with other authentication credentials."),
    })?;
    let main = repo.main();
    let card = card_data(&state.dir, &main.files);
    let enabled = repo.viewer && card.as_ref().is_none_or(|card| card["viewer"] != json!(false));
    if endpoint == "is-valid" {
        let ok = enabled && !splits(&main.files, card.as_ref()).is_empty();
        return Ok(Reply::json(&json!({"preview": ok, "viewer": ok, "search": false, "filter": false, "statistics": false})));
    }
    if !enabled {
        return Err(dataset_error(404, "DisabledViewerError", "The dataset viewer has been disabled on this dataset."));
    }
    let all = splits(&main.files, card.as_ref());
    if all.is_empty() {
        return Err(dataset_error(501, "EmptyDatasetError", "The dataset is empty."));
    }
    let chosen: Vec<&Split> = all.iter().filter(|s| req.param("config").is_none_or(|config| config == s.config)).collect();
    match endpoint {
        "splits" => {
            if chosen.is_empty() {
                return Err(dataset_error(404, "ResponseNotFound", "Not found."));
            }
            let list: Vec<Value> = chosen.iter().map(|s| json!({"dataset": dataset, "config": s.config, "split": s.split})).collect();
            Ok(Reply::json(&json!({"splits": list, "pending": [], "failed": []})))
        }
        "parquet" => {
            if chosen.is_empty() {
                return Err(dataset_error(404, "ResponseNotFound", "Not found."));
            }
            let mut list = Vec::new();
            for split in chosen {
                for (index, source) in split.files.iter().enumerate() {
                    let filename = format!("{index:04}.parquet");
                    let path = format!("{}/{}/{filename}", split.config, split.split);
                    let size = match extension(source) {
                        "parquet" => main.files[source].size,
                        _ => converted_file(&state.dir, repo, &path).map_or(0, |bytes| bytes.len() as u64),
                    };
                    list.push(json!({"dataset": dataset, "config": split.config, "split": split.split,
                        "url": resolve_url(base, dataset, "refs/convert/parquet", &path), "filename": filename, "size": size}));
                }
            }
            Ok(Reply::json(&json!({"parquet_files": list, "pending": [], "failed": [], "partial": false})))
        }
        "rows" | "first-rows" => {
            let (Some(config), Some(split_name)) = (req.param("config"), req.param("split")) else {
                return Err(dataset_error(422, "MissingRequiredParameter", "Parameter 'dataset', 'config' and 'split' are required"));
            };
            let split = all.iter().find(|s| s.config == config && s.split == split_name).ok_or_else(|| dataset_error(404, "ResponseNotFound", "Not found."))?;
            let (offset, length) = if endpoint == "rows" { page(req)? } else { (0, MAX_LENGTH) };
            let data = read_split(&state.dir, &main.files, split).map_err(|error| dataset_error(500, "UnexpectedError", &error))?;
            let features: Vec<Value> = data
                .features
                .iter()
                .enumerate()
                .map(|(index, (name, kind))| json!({"feature_idx": index, "name": name, "type": kind}))
                .collect();
            let rows: Vec<Value> = data
                .rows
                .iter()
                .enumerate()
                .skip(offset)
                .take(length)
                .map(|(index, row)| {
                    let object: serde_json::Map<String, Value> = data.features.iter().map(|(name, _)| name.clone()).zip(row.iter().cloned()).collect();
                    json!({"row_idx": index, "row": object, "truncated_cells": []})
                })
                .collect();
            if endpoint == "first-rows" {
                return Ok(Reply::json(&json!({"dataset": dataset, "config": config, "split": split_name, "features": features, "rows": rows, "truncated": data.rows.len() > MAX_LENGTH})));
            }
            Ok(Reply::json(&json!({"features": features, "rows": rows, "num_rows_total": data.rows.len(), "num_rows_per_page": length, "partial": false})))
        }
        _ => Err(HubError::new(404, None, format!("no datasets-server endpoint /{endpoint}"))),
    }
}

/// `offset` (default 0) and `length` (default 100, at most 100) of a `/rows` request.
fn page(req: &Req) -> Result<(usize, usize), HubError> {
    let number = |name: &str, default: i64| -> Result<i64, HubError> {
        req.param(name).map_or(Ok(default), |text| {
            text.parse().map_err(|_| dataset_error(422, "InvalidParameter", &format!("Parameter '{name}' must be an integer")))
        })
    };
    let (offset, length) = (number("offset", 0)?, number("length", MAX_LENGTH as i64)?);
    if offset < 0 {
        return Err(dataset_error(422, "InvalidParameter", "Parameter 'offset' must be positive"));
    }
    if length < 0 {
        return Err(dataset_error(422, "InvalidParameter", "Parameter 'length' must be positive"));
    }
    if length > MAX_LENGTH as i64 {
        return Err(dataset_error(422, "InvalidParameter", &format!("Parameter 'length' must not be greater than {MAX_LENGTH}")));
    }
    Ok((offset as usize, length as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(paths: &[&str]) -> BTreeMap<String, FileEntry> {
        paths.iter().map(|path| (path.to_string(), FileEntry::regular(path.as_bytes()))).collect()
    }

    fn names(splits: &[Split]) -> Vec<(String, String, Vec<String>)> {
        splits.iter().map(|s| (s.config.clone(), s.split.clone(), s.files.clone())).collect()
    }

    #[test]
    fn a_single_data_file_is_default_train() {
        let found = splits(&files(&[".gitattributes", "README.md", "data/train-00000-of-00001.parquet"]), None);
        assert_eq!(names(&found), [("default".into(), "train".into(), vec!["data/train-00000-of-00001.parquet".into()])]);
        let found = splits(&files(&["prompts.jsonl", "README.md"]), None);
        assert_eq!(names(&found), [("default".into(), "train".into(), vec!["prompts.jsonl".into()])]);
    }

    #[test]
    fn splits_are_inferred_from_names() {
        let found = splits(&files(&["data/train-0.parquet", "data/train-1.parquet", "data/test-0.parquet", "data/validation-0.parquet", "notes.csv"]), None);
        let split_names: Vec<_> = found.iter().map(|s| (s.split.as_str(), s.files.len())).collect();
        assert_eq!(split_names, [("train", 2), ("validation", 1), ("test", 1)]);
        assert!(splits(&files(&["README.md"]), None).is_empty());
    }

    #[test]
    fn readme_configs_decide() {
        let card: Value = serde_yaml::from_str(
            "configs:\n- config_name: dpo\n  data_files:\n  - split: train\n    path: dpo/train.parquet\n- config_name: kto\n  data_files: kto/*.jsonl\n- config_name: raw\n  data_files:\n  - split: test\n    path: [raw/a.csv, raw/b.csv]\n",
        )
        .unwrap();
        let found = splits(&files(&["dpo/train.parquet", "kto/x.jsonl", "raw/a.csv", "raw/b.csv", "other.parquet"]), Some(&card));
        assert_eq!(
            names(&found),
            [
                ("dpo".into(), "train".into(), vec!["dpo/train.parquet".into()]),
                ("kto".into(), "train".into(), vec!["kto/x.jsonl".into()]),
                ("raw".into(), "test".into(), vec!["raw/a.csv".into(), "raw/b.csv".into()]),
            ]
        );
    }

    #[test]
    fn features_follow_the_datasets_library() {
        assert_eq!(feature_type(&DataType::String), json!({"dtype": "string", "_type": "Value"}));
        assert_eq!(feature_type(&DataType::Float64), json!({"dtype": "float64", "_type": "Value"}));
        assert_eq!(
            feature_type(&DataType::messages()),
            json!({"feature": {"role": {"dtype": "string", "_type": "Value"}, "content": {"dtype": "string", "_type": "Value"}}, "_type": "List"})
        );
        assert_eq!(cell_json(&Cell::message("user", "hi")), json!({"role": "user", "content": "hi"}));
    }

    #[test]
    fn pages_are_checked() {
        let req = |query: &str| Req::new("GET", &format!("/datasets-server/rows?{query}"), vec![]);
        assert_eq!(page(&req("offset=100&length=100")).unwrap(), (100, 100));
        assert_eq!(page(&req("")).unwrap(), (0, 100));
        assert_eq!(page(&req("length=101")).unwrap_err().status, 422);
        assert_eq!(page(&req("offset=-1")).unwrap_err().code, Some("InvalidParameter"));
    }
}
