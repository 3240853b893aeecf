//! The dataset card: the README.md the Hub shows, with YAML front matter.
//!
//! The front matter tells the Hub what the files are — `configs` with their
//! `data_files` (so the viewer and `load_dataset` find them),
//! `dataset_info.features` (the column types), license, task categories and
//! tags. The body names the models that generated and judged, and the
//! policies that turned ratings into rows, so a reader knows how the data was made.

use crate::record::Record;
use crate::table::{DataType, Field};
use std::collections::BTreeSet;
use std::fmt::Write;

/// One exported file, shown as a config of the dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct CardConfig {
    /// The config name, e.g. `dpo`.
    pub name: String,
    /// The file's path in the dataset repository, e.g. `dpo/train.parquet`.
    pub path: String,
    /// Its columns.
    pub schema: Vec<Field>,
    /// Its number of rows.
    pub num_rows: usize,
    /// One line on what it holds, e.g. "TRL DPO pairs, conversational".
    pub description: String,
}

/// The card's content.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetCard {
    /// The dataset's title.
    pub pretty_name: String,
    /// The repository id, e.g. `user/my-prefs`, for the loading example.
    pub repo_id: Option<String>,
    /// A license id the Hub knows, e.g. `apache-2.0`, or `other`.
    pub license: String,
    /// Hub task categories.
    pub task_categories: Vec<String>,
    /// Hub tags.
    pub tags: Vec<String>,
    /// The exported files.
    pub configs: Vec<CardConfig>,
    /// Models that generated completions.
    pub generation_models: Vec<String>,
    /// Models that judged them.
    pub judge_models: Vec<String>,
    /// How rows were made: the binarization and agreement descriptions.
    pub policies: Vec<String>,
}

impl DatasetCard {
    /// A card with Prefab's defaults and the models found in the records.
    pub fn new(pretty_name: &str, records: &[Record]) -> DatasetCard {
        let mut generation_models = BTreeSet::new();
        let mut judge_models = BTreeSet::new();
        for g in records.iter().flat_map(|r| &r.generations) {
            generation_models.insert(g.model_id.clone());
            judge_models.extend(g.judgments.iter().map(|j| j.judge_id.clone()));
        }
        DatasetCard {
            pretty_name: pretty_name.to_string(),
            repo_id: None,
            license: "other".to_string(),
            task_categories: vec!["text-generation".to_string()],
            tags: vec![
                "prefab".to_string(),
                "preference".to_string(),
                "synthetic".to_string(),
            ],
            configs: Vec::new(),
            generation_models: generation_models.into_iter().collect(),
            judge_models: judge_models.into_iter().collect(),
            policies: Vec::new(),
        }
    }

    /// The README.md text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; `let _` keeps the formatting readable.
        let _ = self.front_matter(&mut out);
        let _ = self.body(&mut out);
        out
    }

    fn front_matter(&self, out: &mut String) -> std::fmt::Result {
        writeln!(out, "---")?;
        writeln!(out, "pretty_name: {}", yaml(&self.pretty_name))?;
        writeln!(out, "license: {}", yaml(&self.license))?;
        list(out, "task_categories", &self.task_categories)?;
        list(out, "tags", &self.tags)?;
        if !self.configs.is_empty() {
            writeln!(out, "configs:")?;
            for (index, config) in self.configs.iter().enumerate() {
                writeln!(out, "- config_name: {}", yaml(&config.name))?;
                if index == 0 && self.configs.len() > 1 {
                    // `load_dataset(repo)` without a config name loads this one.
                    writeln!(out, "  default: true")?;
                }
                writeln!(out, "  data_files:")?;
                writeln!(out, "  - split: train")?;
                writeln!(out, "    path: {}", yaml(&config.path))?;
            }
            // No `splits` entry: `datasets` wants `num_bytes` there, the size
            // in memory once decoded, which only a real load can tell.
            writeln!(out, "dataset_info:")?;
            for config in &self.configs {
                writeln!(out, "- config_name: {}", yaml(&config.name))?;
                writeln!(out, "  features:")?;
                for field in &config.schema {
                    feature(out, field, 2)?;
                }
            }
        }
        writeln!(out, "---")
    }

    fn body(&self, out: &mut String) -> std::fmt::Result {
        writeln!(out, "\n# {}\n", self.pretty_name)?;
        writeln!(
            out,
            "A preference dataset built with Prefab: prompts answered by language models, judged, \
             and rated by people in the browser.\n"
        )?;
        if !self.configs.is_empty() {
            writeln!(out, "## Files\n")?;
            for c in &self.configs {
                let columns: Vec<String> =
                    c.schema.iter().map(|f| format!("`{}`", f.name)).collect();
                writeln!(
                    out,
                    "- `{}` ({} rows, `{}`): {}. Columns: {}.",
                    c.name,
                    c.num_rows,
                    c.path,
                    c.description,
                    columns.join(", ")
                )?;
            }
            writeln!(out)?;
        }
        writeln!(out, "## Models\n")?;
        writeln!(out, "- Generation: {}", names(&self.generation_models))?;
        writeln!(out, "- Judging: {}\n", names(&self.judge_models))?;
        if !self.policies.is_empty() {
            writeln!(out, "## How the rows were made\n")?;
            for policy in &self.policies {
                writeln!(out, "- {policy}")?;
            }
            writeln!(out)?;
        }
        if let Some(config) = self.configs.first() {
            let repo = self.repo_id.as_deref().unwrap_or("<user>/<dataset>");
            writeln!(out, "## Loading\n")?;
            writeln!(out, "```python\nfrom datasets import load_dataset\n")?;
            writeln!(
                out,
                "ds = load_dataset({repo:?}, {:?}, split=\"train\")\n```",
                config.name
            )?;
        }
        Ok(())
    }
}

/// A YAML `key:` followed by a block list.
fn list(out: &mut String, key: &str, items: &[String]) -> std::fmt::Result {
    if items.is_empty() {
        return Ok(());
    }
    writeln!(out, "{key}:")?;
    for item in items {
        writeln!(out, "- {}", yaml(item))?;
    }
    Ok(())
}

/// One `features` entry in the Hub's YAML form (`dtype`, `sequence`, `list`, `struct`).
fn feature(out: &mut String, field: &Field, indent: usize) -> std::fmt::Result {
    let pad = " ".repeat(indent);
    writeln!(out, "{pad}- name: {}", yaml(&field.name))?;
    feature_type(out, &field.data_type, indent + 2)
}

fn feature_type(out: &mut String, data_type: &DataType, indent: usize) -> std::fmt::Result {
    let pad = " ".repeat(indent);
    match data_type {
        DataType::List(element) => match &element.data_type {
            DataType::Struct(children) => {
                writeln!(out, "{pad}list:")?;
                children.iter().try_for_each(|c| feature(out, c, indent))
            }
            DataType::List(_) => {
                writeln!(out, "{pad}sequence:")?;
                feature_type(out, &element.data_type, indent + 2)
            }
            other => writeln!(out, "{pad}sequence: {}", dtype(other)),
        },
        DataType::Struct(children) => {
            writeln!(out, "{pad}struct:")?;
            children.iter().try_for_each(|c| feature(out, c, indent))
        }
        other => writeln!(out, "{pad}dtype: {}", dtype(other)),
    }
}

/// The `datasets` dtype of a primitive type.
fn dtype(data_type: &DataType) -> &str {
    match data_type {
        DataType::String => "string",
        DataType::Bool => "bool",
        DataType::Int64 => "int64",
        DataType::Float64 => "float64",
        DataType::Other(name) => name,
        DataType::List(_) | DataType::Struct(_) => "string",
    }
}

/// A YAML scalar: plain when it is safe, else double-quoted (JSON strings are valid YAML).
fn yaml(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./ ".contains(c))
        && !s.starts_with(['-', ' ', '.'])
        && !s.ends_with(' ')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "null" | "on" | "off"
        )
        && s.parse::<f64>().is_err();
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

fn names(models: &[String]) -> String {
    if models.is_empty() {
        return "none".to_string();
    }
    models
        .iter()
        .map(|m| format!("`{m}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::dpo::{dpo, DpoOptions};
    use crate::export::fixtures::judged;
    use crate::export::Style;

    fn card() -> DatasetCard {
        let records = vec![judged("q", &[5.0, 1.0])];
        let export = dpo(
            &records,
            &DpoOptions {
                style: Style::Conversational,
                ..Default::default()
            },
        );
        let mut card = DatasetCard::new("My prefs: v1", &records);
        card.repo_id = Some("me/prefs".into());
        card.license = "apache-2.0".into();
        card.tags.push("dpo".into());
        card.configs.push(CardConfig {
            name: "dpo".into(),
            path: "dpo/train.parquet".into(),
            schema: export.table.schema.clone(),
            num_rows: export.table.len(),
            description: "TRL DPO pairs, conversational".into(),
        });
        card.policies.push(export.report.describe());
        card
    }

    #[test]
    fn front_matter_has_configs_features_license_and_tags() {
        let text = card().render();
        let front = text.split("---\n").nth(1).unwrap();
        for expected in [
            "pretty_name: \"My prefs: v1\"\n",
            "license: apache-2.0\n",
            "task_categories:\n- text-generation\n",
            "tags:\n- prefab\n- preference\n- synthetic\n- dpo\n",
            "configs:\n- config_name: dpo\n  data_files:\n  - split: train\n    path: dpo/train.parquet\n",
            "dataset_info:\n- config_name: dpo\n  features:\n  - name: prompt\n    list:\n    - name: role\n      dtype: string\n    - name: content\n      dtype: string\n",
            "  - name: score_chosen\n    dtype: float64\n",
        ] {
            assert!(front.contains(expected), "missing {expected:?} in\n{front}");
        }
    }

    #[test]
    fn body_names_models_policies_and_loading() {
        let text = card().render();
        assert!(text.contains("\n# My prefs: v1\n"));
        assert!(text.contains("- Generation: `model-0`, `model-1`"));
        assert!(text.contains("- Judging: `judge`"));
        assert!(text.contains("## How the rows were made\n\n- Pairs were binarized from"));
        assert!(text.contains("ds = load_dataset(\"me/prefs\", \"dpo\", split=\"train\")"));
        assert!(
            text.contains("- `dpo` (1 rows, `dpo/train.parquet`): TRL DPO pairs, conversational.")
        );
    }

    #[test]
    fn list_of_strings_is_a_sequence() {
        let mut out = String::new();
        feature(
            &mut out,
            &Field::required("generations", DataType::list_of(DataType::String)),
            0,
        )
        .unwrap();
        assert_eq!(out, "- name: generations\n  sequence: string\n");
    }

    #[test]
    fn yaml_quotes_only_when_needed() {
        assert_eq!(yaml("text-generation"), "text-generation");
        assert_eq!(yaml("yes"), "\"yes\"");
        assert_eq!(yaml("1.0"), "\"1.0\"");
        assert_eq!(yaml("a: b"), "\"a: b\"");
        assert_eq!(yaml(""), "\"\"");
    }
}
