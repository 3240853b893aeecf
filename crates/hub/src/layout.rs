//! How a published dataset is laid out in its repo, so that
//! `datasets.load_dataset("user/repo", "dpo")` and the dataset viewer work.
//!
//! Each config is one Parquet file, `data/{config}/train-00000-of-00001.parquet`
//! (the shard naming `datasets` and the Hub's converter use), and the
//! `README.md` card lists the configs with their `data_files` and features;
//! the first is the default, so `load_dataset("user/repo")` loads it. Files
//! under `data/` belong to Prefab: a config that is no longer published is
//! deleted, so the card and the files always agree. The bytes are the same
//! for the same export, so publishing again makes no commit.

use crate::commit::{PlannedFile, RepoId};
use prefab_core::export::card::{CardConfig, DatasetCard};
use prefab_core::table::Table;
use prefab_core::write::parquet::to_parquet;

/// The folders Prefab owns in a published repo.
pub const MANAGED_FOLDERS: [&str; 1] = ["data/"];

/// One table to publish as a config.
#[derive(Debug, Clone)]
pub struct PublishedConfig {
    /// The config name: `kto`, `dpo`, `generations`.
    pub name: String,
    /// The rows.
    pub table: Table,
    /// One line on what it holds, for the card.
    pub description: String,
}

/// Where a config's file goes.
pub fn config_path(name: &str) -> String {
    format!("data/{name}/train-00000-of-00001.parquet")
}

/// The files of the repo: each non-empty config as Parquet, and the card
/// (given with its models and policies; the configs and repo id are filled in here).
pub fn dataset_files(repo: &RepoId, configs: &[PublishedConfig], mut card: DatasetCard) -> Result<Vec<PlannedFile>, prefab_core::Error> {
    let mut files = Vec::new();
    card.repo_id = Some(repo.id());
    card.configs.clear();
    for config in configs.iter().filter(|config| !config.table.is_empty()) {
        let path = config_path(&config.name);
        files.push(PlannedFile::new(path.clone(), to_parquet(&config.table)?));
        card.configs.push(CardConfig {
            name: config.name.clone(),
            path,
            schema: config.table.schema.clone(),
            num_rows: config.table.len(),
            description: config.description.clone(),
        });
    }
    files.push(PlannedFile::new("README.md", card.render().into_bytes()));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prefab_core::export::kto::{kto, KtoOptions};
    use prefab_core::record::{Generation, HumanRating, Prompt, RatingValue, Record};

    /// Two prompts, each with one completion rated 👍 and one 👎.
    fn thumbs_records() -> Vec<Record> {
        (0..2)
            .map(|p| {
                let mut record = Record::new(Prompt::new(format!("prompt {p}")));
                for (g, up) in [(0, true), (1, false)] {
                    let mut generation = Generation { model_id: format!("m{g}"), text: format!("answer {p}.{g}"), ..Default::default() };
                    generation.id = generation.compute_id(&record.prompt.id);
                    record.ratings.push(HumanRating {
                        annotator: "ada".into(),
                        question: "Good?".into(),
                        value: RatingValue::KtoThumbs { generation_id: generation.id.clone(), up },
                        created_at_ms: 1,
                    });
                    record.generations.push(generation);
                }
                record
            })
            .collect()
    }

    #[test]
    fn configs_become_parquet_files_and_the_card_lists_them() {
        let records = thumbs_records();
        let table = kto(&records, &KtoOptions::default()).table;
        assert!(!table.is_empty());
        let repo = RepoId::parse("ada/prefs").unwrap();
        let configs = vec![
            PublishedConfig { name: "kto".into(), table: table.clone(), description: "KTO rows".into() },
            PublishedConfig { name: "dpo".into(), table: Table::new(table.schema.clone()), description: "DPO pairs".into() },
        ];
        let files = dataset_files(&repo, &configs, DatasetCard::new("Prefs", &records)).unwrap();
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        // The empty DPO table is not published.
        assert_eq!(paths, vec!["data/kto/train-00000-of-00001.parquet", "README.md"]);
        assert!(files[0].bytes.starts_with(b"PAR1"));
        let card = String::from_utf8(files[1].bytes.clone()).unwrap();
        assert!(card.contains("- config_name: kto\n  data_files:\n  - split: train\n    path: data/kto/train-00000-of-00001.parquet\n"), "{card}");
        assert!(card.contains("load_dataset(\"ada/prefs\""), "{card}");
        // The same export gives the same bytes, so a second publish is a no-op.
        let again = dataset_files(&repo, &configs, DatasetCard::new("Prefs", &records)).unwrap();
        assert_eq!(files, again);
    }
}
