//! TRL DPO rows: `prompt`, `chosen`, `rejected`, with the scores and models of
//! the pair and the `prompt_id`, one row per prompt that yields a pair.

use super::binarize::{binarize, scores, BinarizePolicy, Dropped};
use super::Style;
use crate::record::Record;
use crate::table::{DataType, Field, Table, Value};

/// What to export.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DpoOptions {
    /// How pairs are chosen.
    pub policy: BinarizePolicy,
    /// Standard or conversational rows.
    pub style: Style,
}

/// What was exported and what was left out.
#[derive(Debug, Clone, PartialEq)]
pub struct DpoReport {
    /// The policy the pairs were chosen by.
    pub policy: BinarizePolicy,
    /// The style of the rows.
    pub style: Style,
    /// Rows written.
    pub rows: usize,
    /// Prompts with fewer than two scored generations.
    pub dropped_too_few: usize,
    /// Prompts whose generations all scored the same.
    pub dropped_tie: usize,
    /// Prompts with no pair as far apart as the minimum margin.
    pub dropped_margin: usize,
}

impl DpoReport {
    /// A paragraph for the dataset card.
    pub fn describe(&self) -> String {
        format!(
            "{} The export has {} pair(s) in TRL's {} DPO format; prompts dropped: {} with fewer than two \
             scored completions, {} where all completions tied, {} below the minimum margin.",
            self.policy.describe(),
            self.rows,
            self.style.name(),
            self.dropped_too_few,
            self.dropped_tie,
            self.dropped_margin
        )
    }
}

/// The DPO table and its report.
#[derive(Debug, Clone, PartialEq)]
pub struct DpoExport {
    /// The rows.
    pub table: Table,
    /// What was kept and dropped, and why.
    pub report: DpoReport,
}

/// The columns of a DPO table in a style.
pub fn schema(style: Style) -> Vec<Field> {
    vec![
        Field::required("prompt", style.data_type()),
        Field::required("chosen", style.data_type()),
        Field::required("rejected", style.data_type()),
        Field::required("score_chosen", DataType::Float64),
        Field::required("score_rejected", DataType::Float64),
        Field::required("chosen_model", DataType::String),
        Field::required("rejected_model", DataType::String),
        Field::required("prompt_id", DataType::String),
    ]
}

/// One DPO row per prompt whose generations binarize into a pair.
pub fn dpo(records: &[Record], options: &DpoOptions) -> DpoExport {
    let policy = options.policy.clone();
    let mut table = Table::new(schema(options.style));
    let mut report = DpoReport {
        policy: policy.clone(),
        style: options.style,
        rows: 0,
        dropped_too_few: 0,
        dropped_tie: 0,
        dropped_margin: 0,
    };
    for record in records {
        let scores = scores(record, &policy.source);
        let (c, r) = match binarize(&scores, &policy, &record.prompt.id) {
            Ok(pair) => pair,
            Err(Dropped::TooFew) => {
                report.dropped_too_few += 1;
                continue;
            }
            Err(Dropped::Tie) => {
                report.dropped_tie += 1;
                continue;
            }
            Err(Dropped::BelowMargin) => {
                report.dropped_margin += 1;
                continue;
            }
        };
        let (chosen, rejected) = (&record.generations[c], &record.generations[r]);
        table.rows.push(vec![
            options.style.prompt(record, chosen),
            options.style.completion(chosen),
            options.style.completion(rejected),
            Value::Float(scores[c].unwrap_or_default()),
            Value::Float(scores[r].unwrap_or_default()),
            Value::str(chosen.model_id.as_str()),
            Value::str(rejected.model_id.as_str()),
            Value::str(record.prompt.id.as_str()),
        ]);
    }
    report.rows = table.len();
    DpoExport { table, report }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::binarize::{PairStrategy, ScoreSource};
    use crate::export::fixtures;

    fn options(style: Style) -> DpoOptions {
        DpoOptions {
            policy: BinarizePolicy {
                source: ScoreSource::Judge { aspect: None, judge: None },
                strategy: PairStrategy::BestVsWorst,
                min_margin: 1.0,
                seed: 0,
            },
            style,
        }
    }

    fn records() -> Vec<crate::record::Record> {
        vec![
            fixtures::judged("pair", &[2.0, 5.0, 3.0]),
            fixtures::judged("tie", &[4.0, 4.0]),
            fixtures::judged("close", &[4.0, 3.5]),
            fixtures::judged("alone", &[4.0]),
        ]
    }

    #[test]
    fn standard_rows_with_scores_models_and_prompt_id() {
        let export = dpo(&records(), &options(Style::Standard));
        assert_eq!(
            export.table.column_names(),
            [
                "prompt",
                "chosen",
                "rejected",
                "score_chosen",
                "score_rejected",
                "chosen_model",
                "rejected_model",
                "prompt_id"
            ]
        );
        assert_eq!(
            export.table.rows,
            vec![vec![
                Value::str("pair"),
                Value::str("answer 1"),
                Value::str("answer 0"),
                Value::Float(5.0),
                Value::Float(2.0),
                Value::str("model-1"),
                Value::str("model-0"),
                Value::str(crate::record::prompt_id("pair")),
            ]]
        );
        let r = &export.report;
        assert_eq!(
            (r.rows, r.dropped_tie, r.dropped_margin, r.dropped_too_few),
            (1, 1, 1, 1)
        );
    }

    #[test]
    fn conversational_rows_carry_the_system_prompt() {
        let export = dpo(&records(), &options(Style::Conversational));
        let row = &export.table.rows[0];
        assert_eq!(
            row[0],
            Value::List(vec![
                Value::message("system", "Be kind."),
                Value::message("user", "pair")
            ])
        );
        assert_eq!(
            row[1],
            Value::List(vec![Value::message("assistant", "answer 1")])
        );
        assert_eq!(export.table.schema[2].data_type, DataType::messages());
    }

    #[test]
    fn report_records_the_policy() {
        let text = dpo(&records(), &options(Style::Standard)).report.describe();
        assert!(
            text.contains(
                "chosen is the highest-scored completion, rejected is the lowest-scored one"
            ),
            "{text}"
        );
        assert!(
            text.contains("1 pair(s) in TRL's standard DPO format"),
            "{text}"
        );
        assert!(
            text.contains("1 where all completions tied, 1 below the minimum margin"),
            "{text}"
        );
    }
}
