//! JSON Lines output: one object per row, keys in schema order.

use crate::table::Table;

/// The table as JSON Lines, each row ended by `\n`.
pub fn to_jsonl(table: &Table) -> Vec<u8> {
    // One growing buffer for the whole file: amortized, never recopied per row.
    let mut out = Vec::with_capacity(table.len() * 256);
    for row in table.records() {
        // Writing our values into a Vec cannot fail: there is no I/O, every
        // map key is a string, and serde_json writes NaN as null.
        let _ = serde_json::to_writer(&mut out, &row);
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt_import::{read_source, Format};
    use crate::table::{DataType, Field, Value};
    use proptest::prelude::*;

    fn schema() -> Vec<Field> {
        vec![
            Field::required("prompt", DataType::String),
            Field::required("completion", DataType::messages()),
            Field::required("label", DataType::Bool),
            Field::nullable("score", DataType::Float64),
            Field::required("ratings", DataType::list_of_nullable(DataType::Float64)),
        ]
    }

    #[test]
    fn writes_one_object_per_line() {
        let mut table = Table::new(schema());
        table.rows.push(vec![
            Value::str("Say \"hi\"\n"),
            Value::List(vec![Value::message("assistant", "hi")]),
            Value::Bool(true),
            Value::Float(4.0),
            Value::List(vec![Value::Float(5.0), Value::Null]),
        ]);
        let text = String::from_utf8(to_jsonl(&table)).unwrap();
        assert_eq!(
            text,
            "{\"prompt\":\"Say \\\"hi\\\"\\n\",\"completion\":[{\"role\":\"assistant\",\"content\":\"hi\"}],\
             \"label\":true,\"score\":4.0,\"ratings\":[5.0,null]}\n"
        );
    }

    fn row() -> impl Strategy<Value = Vec<Value>> {
        let text = any::<String>();
        let score = prop_oneof![Just(Value::Null), (-1e6f64..1e6).prop_map(Value::Float)];
        let rating = prop_oneof![
            Just(Value::Null),
            (1u8..=5).prop_map(|r| Value::Float(f64::from(r)))
        ];
        (
            text,
            proptest::collection::vec((text, text), 0..3),
            any::<bool>(),
            score,
            proptest::collection::vec(rating, 0..4),
        )
            .prop_map(|(prompt, messages, label, score, ratings)| {
                vec![
                    Value::Str(prompt),
                    Value::List(messages.iter().map(|(r, c)| Value::message(r, c)).collect()),
                    Value::Bool(label),
                    score,
                    Value::List(ratings),
                ]
            })
    }

    proptest! {
        #[test]
        fn round_trips_through_the_jsonl_reader(rows in proptest::collection::vec(row(), 1..20)) {
            let mut table = Table::new(schema());
            table.rows = rows;
            let bytes = to_jsonl(&table);
            let back = read_source(&bytes, "t.jsonl", Some(Format::Jsonl)).unwrap();
            prop_assert_eq!(back.len(), table.len());
            for (r, row) in table.rows.iter().enumerate() {
                for (c, value) in row.iter().enumerate() {
                    prop_assert_eq!(back.cell(r, c), value);
                }
            }
        }
    }
}
