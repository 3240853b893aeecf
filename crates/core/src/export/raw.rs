//! Raw generations in the DIBT format: one row per prompt with every
//! generation side by side, and a rating and rationale for each.
//!
//! | column | type |
//! |---|---|
//! | `input` | string: the prompt |
//! | `generation_model` | list of the models |
//! | `generation_prompt` | list of what each model was given: the prompt after its chat template for a local model, the messages sent (JSON) for a hosted one |
//! | `raw_generation_responses` | list of the raw outputs |
//! | `generations` | list of the cleaned completions |
//! | `ratings` | list of ratings from the chosen source, null where there is none |
//! | `rationales` | list of the judges' rationales, null where there is none |
//!
//! Every list has one entry per generation, in the same order.

use super::binarize::{scores, ScoreSource};
use crate::record::{Generation, Judgment, Record};
use crate::table::{DataType, Field, Table, Value};

/// The raw table's columns, in order: what the page lists where it offers
/// the export, so that what it promises is what the file has.
pub const COLUMNS: [&str; 7] = [
    "input",
    "generation_model",
    "generation_prompt",
    "raw_generation_responses",
    "generations",
    "ratings",
    "rationales",
];

/// The raw table, rated by `source` (a judge, a panel of judges, or people).
/// Prompts without generations are left out.
pub fn raw_generations(records: &[Record], source: &ScoreSource) -> Table {
    let [input, model, prompt, raw, generations, ratings, rationales] = COLUMNS;
    let schema = vec![
        Field::required(input, DataType::String),
        Field::required(model, DataType::list_of(DataType::String)),
        Field::required(prompt, DataType::list_of(DataType::String)),
        Field::required(raw, DataType::list_of(DataType::String)),
        Field::required(generations, DataType::list_of(DataType::String)),
        Field::required(ratings, DataType::list_of_nullable(DataType::Float64)),
        Field::required(rationales, DataType::list_of_nullable(DataType::String)),
    ];
    let mut table = Table::new(schema);
    for record in records.iter().filter(|r| !r.generations.is_empty()) {
        let column = |f: &dyn Fn(&Generation) -> Value| Value::List(record.generations.iter().map(f).collect());
        let ratings = scores(record, source).into_iter().map(|score| score.map_or(Value::Null, Value::Float)).collect();
        table.rows.push(vec![
            Value::str(record.prompt.text.as_str()),
            column(&|g| Value::str(g.model_id.as_str())),
            column(&|g| Value::str(g.rendered_prompt.as_str())),
            column(&|g| Value::str(g.raw_text.as_str())),
            column(&|g| Value::str(g.text.as_str())),
            Value::List(ratings),
            column(&|g| rationale(g, source).map_or(Value::Null, Value::str)),
        ]);
    }
    table
}

/// The first rationale among the judgments `source` reads.
fn rationale<'a>(generation: &'a Generation, source: &ScoreSource) -> Option<&'a str> {
    let chosen = |j: &Judgment| match source {
        ScoreSource::Judge { judge: Some(label), .. } => j.judge_label() == *label,
        ScoreSource::Judge { aspect, judge: None } => aspect.is_none_or(|a| a == j.aspect),
        _ => true,
    };
    generation.judgments.iter().filter(|j| chosen(j)).find_map(|j| j.rationale.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::fixtures::{generation, judged};
    use crate::record::{Aspect, ParseStatus, Prompt, Record};

    fn panel() -> ScoreSource {
        ScoreSource::Judge { aspect: None, judge: None }
    }

    #[test]
    fn one_row_per_prompt_with_lists_per_generation() {
        let mut record = Record::new(Prompt::new("Q"));
        record
            .generations
            .push(generation(&record.prompt, "m1", "A1", None));
        record
            .generations
            .push(generation(&record.prompt, "m2", "A2", None));
        let table = raw_generations(&[record, Record::new(Prompt::new("empty"))], &panel());
        assert_eq!(
            table.column_names(),
            [
                "input",
                "generation_model",
                "generation_prompt",
                "raw_generation_responses",
                "generations",
                "ratings",
                "rationales"
            ]
        );
        assert_eq!(table.column_names(), COLUMNS);
        assert_eq!(
            table.rows,
            vec![vec![
                Value::str("Q"),
                Value::List(vec![Value::str("m1"), Value::str("m2")]),
                Value::List(vec![
                    Value::str("<user>Q</user>"),
                    Value::str("<user>Q</user>")
                ]),
                Value::List(vec![Value::str("A1</s>"), Value::str("A2</s>")]),
                Value::List(vec![Value::str("A1"), Value::str("A2")]),
                Value::List(vec![Value::Null, Value::Null]),
                Value::List(vec![Value::Null, Value::Null]),
            ]]
        );
    }

    #[test]
    fn ratings_and_rationales_when_judged_with_nulls_for_gaps() {
        let mut record = judged("Q", &[4.0, 2.0]);
        record.generations[1].judgments[0].status = ParseStatus::Failed { reason: "x".into() };
        record
            .generations
            .push(generation(&record.prompt, "m3", "A3", None));
        let table = raw_generations(&[record], &panel());
        assert_eq!(table.column_names()[5..], ["ratings", "rationales"]);
        assert_eq!(
            table.rows[0][5],
            Value::List(vec![Value::Float(4.0), Value::Null, Value::Null])
        );
        assert_eq!(
            table.rows[0][6],
            Value::List(vec![
                Value::str("rated 4"),
                Value::str("rated 2"),
                Value::Null
            ])
        );
        // Another aspect was not judged: the columns are there, empty.
        let honesty = ScoreSource::Judge { aspect: Some(Aspect::Honesty), judge: None };
        assert_eq!(raw_generations(&[judged("Q", &[1.0])], &honesty).rows[0][5..], [Value::List(vec![Value::Null]), Value::List(vec![Value::Null])]);
    }
}
