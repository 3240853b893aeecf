//! Writes every export as JSONL and Parquet, a dataset card and a manifest of
//! what each file should hold, into the folder given as the first argument.
//!
//! `tests/pyarrow/check_files.py DIR/manifest.json` then reads the files with
//! pyarrow — an independent reader — and checks the manifest against them:
//!
//! ```text
//! cargo run -p prefab-core --example write_fixtures -- DIR
//! python tests/pyarrow/check_files.py DIR/manifest.json
//! ```

use prefab_core::agreement::AgreementPolicy;
use prefab_core::export::binarize::{BinarizePolicy, PairStrategy, ScoreSource};
use prefab_core::export::card::{CardConfig, DatasetCard};
use prefab_core::export::dpo::{dpo, DpoOptions};
use prefab_core::export::kto::{kto, KtoOptions};
use prefab_core::export::raw::raw_generations;
use prefab_core::export::Style;
use prefab_core::record::{
    Aspect, Backend, Generation, HumanRating, JudgeMode, Judgment, ParseStatus, Prompt, RatingValue, Record,
};
use prefab_core::table::Table;
use prefab_core::write::{jsonl::to_jsonl, parquet::to_parquet};
use serde_json::json;
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: write_fixtures DIR")?;
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir)?;

    let records = records();
    let policy = BinarizePolicy {
        source: ScoreSource::Judge {
            aspect: Some(Aspect::OverallRating),
            judge: None,
        },
        strategy: PairStrategy::BestVsWorst,
        min_margin: 1.0,
        seed: 42,
    };
    let kto_standard = kto(
        &records,
        &KtoOptions {
            policy: AgreementPolicy::Majority,
            style: Style::Standard,
        },
    );
    let kto_chat = kto(
        &records,
        &KtoOptions {
            policy: AgreementPolicy::Majority,
            style: Style::Conversational,
        },
    );
    let dpo_standard = dpo(
        &records,
        &DpoOptions {
            policy: policy.clone(),
            style: Style::Standard,
        },
    );
    let dpo_chat = dpo(
        &records,
        &DpoOptions {
            policy: policy.clone(),
            style: Style::Conversational,
        },
    );
    let raw = raw_generations(&records, &policy.source);

    let exports: [(&str, &str, &Table); 5] = [
        ("kto", "TRL KTO, standard", &kto_standard.table),
        (
            "kto_conversational",
            "TRL KTO, conversational",
            &kto_chat.table,
        ),
        ("dpo", "TRL DPO, standard", &dpo_standard.table),
        (
            "dpo_conversational",
            "TRL DPO, conversational",
            &dpo_chat.table,
        ),
        ("raw", "Raw generations, DIBT format", &raw),
    ];
    let mut card = DatasetCard::new("Prefab fixture", &records);
    card.license = "apache-2.0".into();
    card.policies = vec![
        kto_standard.report.describe(),
        dpo_standard.report.describe(),
    ];
    let mut files = Vec::new();
    for (name, description, table) in exports {
        if table.is_empty() {
            return Err(format!(
                "the {name} export is empty: the fixture records no longer exercise it"
            )
            .into());
        }
        let columns: Vec<_> = table
            .schema
            .iter()
            .map(|f| json!({"name": f.name, "type": f.data_type.to_string()}))
            .collect();
        // The first and last rows, whole, as values to compare.
        let mut values = Vec::new();
        for row in [0, table.len() - 1] {
            for (field, value) in table.schema.iter().zip(&table.rows[row]) {
                values.push(json!({"row": row, "column": field.name, "value": value}));
            }
        }
        for (extension, bytes) in [("jsonl", to_jsonl(table)), ("parquet", to_parquet(table)?)] {
            let path = format!("{name}.{extension}");
            std::fs::write(dir.join(&path), bytes)?;
            files.push(json!({
                "path": path,
                "format": extension,
                "num_rows": table.len(),
                "columns": columns,
                "values": values,
            }));
        }
        card.configs.push(CardConfig {
            name: name.to_string(),
            path: format!("{name}.parquet"),
            schema: table.schema.clone(),
            num_rows: table.len(),
            description: description.to_string(),
        });
    }
    std::fs::write(dir.join("README.md"), card.render())?;
    let card_must_contain: Vec<String> = card
        .configs
        .iter()
        .flat_map(|c| {
            [
                format!("- config_name: {}\n", c.name),
                format!("    path: {}\n", c.path),
            ]
        })
        .chain([
            "license: apache-2.0\n".to_string(),
            "Qwen/Qwen2.5-7B-Instruct".to_string(),
        ])
        .collect();
    let manifest = json!({
        "files": files,
        "card": {"path": "README.md", "contains": card_must_contain},
    });
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)?,
    )?;
    println!(
        "wrote {} files and README.md to {}",
        files.len(),
        dir.display()
    );
    Ok(())
}

/// Three prompts with awkward text (quotes, newlines, emoji), answered by two
/// models, judged, and rated 👍/👎 by three annotators.
fn records() -> Vec<Record> {
    let prompts = [
        ("Explain \"ownership\" in Rust.\nKeep it short.", [4.0, 2.0]),
        ("Écris un haïku sur la mer 🌊", [3.0, 5.0]),
        ("What is 2+2?", [5.0, 1.0]),
    ];
    let models = [
        ("HuggingFaceTB/SmolLM2-360M-Instruct", Backend::Local),
        (
            "Qwen/Qwen2.5-7B-Instruct",
            Backend::Hosted {
                endpoint: "https://router.huggingface.co/v1".into(),
            },
        ),
    ];
    let votes = [[true, true, false], [false, false, true]];
    let mut records = Vec::new();
    for (p, (text, ratings)) in prompts.iter().enumerate() {
        let mut record = Record::new(Prompt::new(*text));
        for (g, ((model, backend), rating)) in models.iter().zip(ratings).enumerate() {
            let answer =
                format!("Answer {g} to prompt {p}: \"quoted\", with a newline\nand an emoji ✨");
            let mut generation = Generation {
                model_id: model.to_string(),
                backend: backend.clone(),
                rendered_prompt: format!(
                    "<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n"
                ),
                system_prompt: (g == 1).then(|| "You are a helpful assistant.".to_string()),
                seed: Some(7),
                raw_text: format!("{answer}<|im_end|>"),
                text: answer,
                created_at_ms: 1_760_000_000_000,
                ..Default::default()
            };
            generation.id = generation.compute_id(&record.prompt.id);
            generation.judgments.push(Judgment {
                judge_id: "Qwen/Qwen2.5-7B-Instruct".into(),
                aspect: Aspect::OverallRating,
                rating: Some(*rating),
                rationale: Some(format!("Rated {rating} because…")),
                raw_output: format!("#### Output for Text {}\nRating: {rating}\n", g + 1),
                status: ParseStatus::Parsed,
                created_at_ms: 1_760_000_000_500,
                mode: JudgeMode::Critique,
                prompt_version: String::new(),
                confidence: None,
            });
            for (annotator, &up) in ["alice", "bob", "carol"].iter().zip(&votes[(p + g) % 2]) {
                record.ratings.push(HumanRating {
                    annotator: annotator.to_string(),
                    question: "Is this a good answer?".into(),
                    value: RatingValue::KtoThumbs {
                        generation_id: generation.id.clone(),
                        up,
                    },
                    created_at_ms: 1_760_000_001_000,
                });
            }
            record.generations.push(generation);
        }
        records.push(record);
    }
    records
}
