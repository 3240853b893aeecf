//! Raw generations in the DIBT format: one row per prompt with every
//! generation side by side, and the judge's ratings when there are any.
//!
//! | column | type |
//! |---|---|
//! | `input` | string: the prompt |
//! | `generation_model` | list of the models |
//! | `generation_prompt` | list of the exact rendered prompts |
//! | `raw_generation_responses` | list of the raw outputs |
//! | `generations` | list of the cleaned completions |
//! | `ratings` | list of ratings, null where unread (when judged) |
//! | `rationales` | list of rationales, null where absent (when judged) |

use crate::record::{Aspect, Generation, Judgment, ParseStatus, Record};
use crate::table::{DataType, Field, Table, Value};

/// The raw table; `ratings` and `rationales` are added when any generation
/// has a judgment on `aspect`. Prompts without generations are left out.
pub fn raw_generations(records: &[Record], aspect: Aspect) -> Table {
    let judged = records
        .iter()
        .flat_map(|r| &r.generations)
        .any(|g| judgment_on(g, aspect).is_some());

    let mut schema = vec![
        Field::required("input", DataType::String),
        Field::required("generation_model", DataType::list_of(DataType::String)),
        Field::required("generation_prompt", DataType::list_of(DataType::String)),
        Field::required(
            "raw_generation_responses",
            DataType::list_of(DataType::String),
        ),
        Field::required("generations", DataType::list_of(DataType::String)),
    ];
    if judged {
        schema.push(Field::required(
            "ratings",
            DataType::list_of_nullable(DataType::Float64),
        ));
        schema.push(Field::required(
            "rationales",
            DataType::list_of_nullable(DataType::String),
        ));
    }
    let mut table = Table::new(schema);
    for record in records.iter().filter(|r| !r.generations.is_empty()) {
        let column = |f: &dyn Fn(&Generation) -> Value| {
            Value::List(record.generations.iter().map(f).collect())
        };
        let mut row = vec![
            Value::str(record.prompt.text.as_str()),
            column(&|g| Value::str(g.model_id.as_str())),
            column(&|g| Value::str(g.rendered_prompt.as_str())),
            column(&|g| Value::str(g.raw_text.as_str())),
            column(&|g| Value::str(g.text.as_str())),
        ];
        if judged {
            row.push(column(&|g| match judgment_on(g, aspect) {
                Some(j) if j.status == ParseStatus::Parsed => {
                    j.rating.map_or(Value::Null, Value::Float)
                }
                _ => Value::Null,
            }));
            row.push(column(&|g| {
                judgment_on(g, aspect)
                    .and_then(|j| j.rationale.as_deref())
                    .map_or(Value::Null, Value::str)
            }));
        }
        table.rows.push(row);
    }
    table
}

fn judgment_on(generation: &Generation, aspect: Aspect) -> Option<&Judgment> {
    generation.judgments.iter().find(|j| j.aspect == aspect)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::fixtures::{generation, judged};
    use crate::record::{Prompt, Record};

    #[test]
    fn one_row_per_prompt_with_lists_per_generation() {
        let mut record = Record::new(Prompt::new("Q"));
        record
            .generations
            .push(generation(&record.prompt, "m1", "A1", None));
        record
            .generations
            .push(generation(&record.prompt, "m2", "A2", None));
        let table = raw_generations(
            &[record, Record::new(Prompt::new("empty"))],
            Aspect::OverallRating,
        );
        assert_eq!(
            table.column_names(),
            [
                "input",
                "generation_model",
                "generation_prompt",
                "raw_generation_responses",
                "generations"
            ]
        );
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
        let table = raw_generations(&[record], Aspect::OverallRating);
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
        // Another aspect was not judged: no rating columns.
        assert_eq!(
            raw_generations(&[judged("Q", &[1.0])], Aspect::Honesty)
                .schema
                .len(),
            5
        );
    }
}
