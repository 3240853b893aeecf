//! The workloads `cargo xtask bench` times, natively and in the browser.
//!
//! Pure like the rest of the crate: the caller passes its clock
//! (`std::time::Instant` natively, `performance.now()` in a browser), so the
//! same rows are timed the same way on both.

use crate::export::binarize::BinarizePolicy;
use crate::export::dpo::{dpo, DpoOptions};
use crate::prompt_import::{import_prompts, Format};
use crate::record::{Aspect, Generation, Judgment, ParseStatus, Prompt, Record};
use crate::write::parquet::to_parquet;
use crate::Error;

/// One timed step.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// What was timed, such as `jsonl import`.
    pub step: &'static str,
    /// How many rows it handled.
    pub rows: usize,
    /// How long it took, in seconds.
    pub seconds: f64,
    /// Extra facts, such as the size of the input.
    pub detail: String,
}

impl Measurement {
    /// A line such as `jsonl import: 650000 rows/s (100000 rows, 0.154 s, …)`.
    pub fn line(&self) -> String {
        format!(
            "{}: {:.0} rows/s ({} rows, {:.3} s{})",
            self.step,
            self.rows as f64 / self.seconds.max(1e-9),
            self.rows,
            self.seconds,
            self.detail
        )
    }
}

/// Imports `rows` JSONL prompts, then binarizes and writes `rows` DPO rows as
/// Parquet; `now` returns seconds from any fixed start.
pub fn run(rows: usize, now: impl Fn() -> f64) -> Result<Vec<Measurement>, Error> {
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
    let start = now();
    let imported = import_prompts(jsonl.as_bytes(), "bench.jsonl", Some(Format::Jsonl), None)?;
    let import = Measurement {
        step: "jsonl import",
        rows,
        seconds: now() - start,
        detail: format!(", {:.1} MB, {} duplicates dropped", jsonl.len() as f64 / 1e6, imported.duplicates_dropped),
    };

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
    let start = now();
    let export = dpo(&records, &DpoOptions { policy: BinarizePolicy::default(), ..Default::default() });
    let binarize = Measurement { step: "dpo binarize", rows: export.table.len(), seconds: now() - start, detail: String::new() };
    let start = now();
    let bytes = to_parquet(&export.table)?;
    let parquet = Measurement {
        step: "parquet export",
        rows: export.table.len(),
        seconds: now() - start,
        detail: format!(", {:.1} MB", bytes.len() as f64 / 1e6),
    };
    Ok(vec![import, binarize, parquet])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workload_runs_every_step_on_every_row() {
        let ticks = std::cell::Cell::new(0.0);
        let clock = || {
            ticks.set(ticks.get() + 0.5);
            ticks.get()
        };
        let measured = run(200, clock).unwrap();
        let steps: Vec<_> = measured.iter().map(|m| (m.step, m.rows, m.seconds)).collect();
        assert_eq!(steps, [("jsonl import", 200, 0.5), ("dpo binarize", 200, 0.5), ("parquet export", 200, 0.5)]);
        assert!(measured[0].detail.contains("2 duplicates dropped"), "{}", measured[0].detail);
        assert_eq!(measured[2].line().split(':').next(), Some("parquet export"));
    }
}
