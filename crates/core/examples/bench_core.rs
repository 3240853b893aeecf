//! Times the two steps that see the most rows: importing 100,000 JSONL
//! prompts, and exporting 100,000 DPO rows as Parquet.
//!
//! ```text
//! cargo run --release -p prefab-core --example bench_core
//! ```
//!
//! Both should be linear: doubling the rows (the optional argument, 100,000 by
//! default) should roughly double the times.

use prefab_core::export::binarize::BinarizePolicy;
use prefab_core::export::dpo::{dpo, DpoOptions};
use prefab_core::prompt_import::{import_prompts, Format};
use prefab_core::record::{Aspect, Generation, Judgment, ParseStatus, Prompt, Record};
use prefab_core::write::parquet::to_parquet;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: usize = std::env::args().nth(1).map_or(Ok(100_000), |n| n.parse())?;
    // A JSONL file of `rows` prompts of a realistic length, with an id column
    // and one duplicate in every hundred rows.
    let mut jsonl = String::with_capacity(rows * 200);
    for i in 0..rows {
        let n = if i % 100 == 99 { i - 1 } else { i };
        jsonl.push_str(&format!(
            "{{\"id\":{i},\"prompt\":\"Prompt number {n}: explain, step by step and with an example, how \
             a hash map handles collisions, and when a B-tree is the better choice.\",\"source\":\"bench\"}}\n"
        ));
    }
    let start = Instant::now();
    let imported = import_prompts(jsonl.as_bytes(), "bench.jsonl", Some(Format::Jsonl), None)?;
    let import_time = start.elapsed();
    println!(
        "jsonl import: {:.0} rows/s ({rows} rows, {:.1} MB, {:.3} s, {} duplicates dropped)",
        rows as f64 / import_time.as_secs_f64(),
        jsonl.len() as f64 / 1e6,
        import_time.as_secs_f64(),
        imported.duplicates_dropped
    );

    // `rows` prompts with two judged generations each, so every one gives a DPO pair.
    let records: Vec<Record> = (0..rows)
        .map(|i| {
            let mut record = Record::new(Prompt::new(format!("Prompt {i}: explain hash map collisions.")));
            for (g, rating) in [(0, 5.0), (1, 2.0)] {
                let text = format!("Answer {g} to prompt {i}: a hash map resolves collisions by chaining or probing.");
                record.generations.push(Generation {
                    id: format!("{i}-{g}"),
                    model_id: format!("model-{g}"),
                    raw_text: text.clone(),
                    text,
                    judgments: vec![Judgment {
                        judge_id: "judge".into(),
                        aspect: Aspect::OverallRating,
                        rating: Some(rating),
                        rationale: None,
                        raw_output: String::new(),
                        status: ParseStatus::Parsed,
                        created_at_ms: 0,
                    }],
                    ..Default::default()
                });
            }
            record
        })
        .collect();
    let start = Instant::now();
    let export = dpo(
        &records,
        &DpoOptions {
            policy: BinarizePolicy::default(),
            ..Default::default()
        },
    );
    let binarize_time = start.elapsed();
    let start = Instant::now();
    let bytes = to_parquet(&export.table)?;
    let parquet_time = start.elapsed();
    println!(
        "dpo binarize: {:.0} rows/s ({} rows, {:.3} s)",
        export.table.len() as f64 / binarize_time.as_secs_f64(),
        export.table.len(),
        binarize_time.as_secs_f64()
    );
    println!(
        "parquet export: {:.0} rows/s ({} rows, {:.1} MB, {:.3} s)",
        export.table.len() as f64 / parquet_time.as_secs_f64(),
        export.table.len(),
        bytes.len() as f64 / 1e6,
        parquet_time.as_secs_f64()
    );
    Ok(())
}
