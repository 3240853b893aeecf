//! Parquet output with the `parquet` crate's low-level column writers.
//!
//! Arrow would do the nesting for us but triples the wasm size, so rows are
//! "shredded" into columns here, Dremel style: every leaf column gets its
//! values plus definition levels (how much of an optional/repeated path is
//! present) and repetition levels (which list a value continues). Lists are
//! written in the standard three-level layout
//! (`group (LIST) { repeated group list { element } }`) so pyarrow reads them
//! as `list<…>` and structs as `struct<…>`.
//!
//! Files are Snappy-compressed (pyarrow's default, readable everywhere) with
//! row groups of [`ROW_GROUP_ROWS`] rows, so the Hub's viewer can page
//! through big files without loading them whole.

use crate::table::{DataType, Field, Table, Value};
use crate::{Error, ErrorKind, VERSION};
use parquet::basic::{Compression, LogicalType, Repetition, Type as PhysicalType};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{SchemaDescriptor, Type, TypePtr};
use std::sync::Arc;

/// Rows per row group.
pub const ROW_GROUP_ROWS: usize = 10_000;

/// The table as a Parquet file.
///
/// Fails only when the table does not fit its own schema (a null in a
/// required column, a string in a bool column): a bug in the export, reported
/// with the column rather than written as a broken file.
pub fn to_parquet(table: &Table) -> Result<Vec<u8>, Error> {
    let fail = |message: String| Error::new(ErrorKind::Write { message });
    let parquet_error = |e: parquet::errors::ParquetError| fail(e.to_string());

    let fields = table
        .schema
        .iter()
        .map(parquet_type)
        .collect::<Result<Vec<_>, _>>()
        .map_err(fail)?;
    let schema = Type::group_type_builder("schema")
        .with_fields(fields)
        .build()
        .map_err(parquet_error)?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by(format!("prefab {VERSION}"))
        .build();
    let schema = Arc::new(schema);
    let descriptor = SchemaDescriptor::new(schema.clone());
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, Arc::new(properties))
        .map_err(parquet_error)?;

    for (chunk_index, chunk) in table.rows.chunks(ROW_GROUP_ROWS).enumerate() {
        let mut leaves = Vec::new();
        for field in &table.schema {
            new_leaves(&field.data_type, &mut leaves);
        }
        for (offset, row) in chunk.iter().enumerate() {
            let row_number = (chunk_index * ROW_GROUP_ROWS + offset) as u64;
            let mut start = 0;
            for (field, value) in table.schema.iter().zip(row) {
                let end = start + leaf_count(&field.data_type);
                shred(value, field, 0, 0, 0, &mut leaves[start..end]).map_err(|message| {
                    Error::new(ErrorKind::Write { message })
                        .at_row(row_number)
                        .in_column(&field.name)
                })?;
                start = end;
            }
        }

        let mut row_group = writer.next_row_group().map_err(parquet_error)?;
        for (index, leaf) in leaves.iter().enumerate() {
            let column = descriptor.column(index);
            let def = (column.max_def_level() > 0).then_some(leaf.def.as_slice());
            let rep = (column.max_rep_level() > 0).then_some(leaf.rep.as_slice());
            let Some(mut writer) = row_group.next_column().map_err(parquet_error)? else {
                return Err(fail("fewer columns in the schema than leaves".to_string()));
            };
            // `typed` matches the physical type chosen in `parquet_type` for
            // the same field, so the two cannot disagree.
            match &leaf.values {
                Values::Bytes(v) => writer.typed::<ByteArrayType>().write_batch(v, def, rep),
                Values::Bool(v) => writer.typed::<BoolType>().write_batch(v, def, rep),
                Values::Int(v) => writer.typed::<Int64Type>().write_batch(v, def, rep),
                Values::Float(v) => writer.typed::<DoubleType>().write_batch(v, def, rep),
            }
            .map_err(parquet_error)?;
            writer.close().map_err(parquet_error)?;
        }
        row_group.close().map_err(parquet_error)?;
    }
    writer.into_inner().map_err(parquet_error)
}

/// The Parquet schema node for a field.
fn parquet_type(field: &Field) -> Result<TypePtr, String> {
    let repetition = if field.nullable {
        Repetition::OPTIONAL
    } else {
        Repetition::REQUIRED
    };
    let primitive = |physical, logical| {
        Type::primitive_type_builder(&field.name, physical)
            .with_repetition(repetition)
            .with_logical_type(logical)
            .build()
    };
    let built = match &field.data_type {
        DataType::String => primitive(PhysicalType::BYTE_ARRAY, Some(LogicalType::String)),
        DataType::Bool => primitive(PhysicalType::BOOLEAN, None),
        DataType::Int64 => primitive(PhysicalType::INT64, None),
        DataType::Float64 => primitive(PhysicalType::DOUBLE, None),
        DataType::List(element) => {
            let element = Field {
                name: "element".to_string(),
                ..(**element).clone()
            };
            let list = Type::group_type_builder("list")
                .with_repetition(Repetition::REPEATED)
                .with_fields(vec![parquet_type(&element)?])
                .build()
                .map_err(|e| e.to_string())?;
            Type::group_type_builder(&field.name)
                .with_repetition(repetition)
                .with_logical_type(Some(LogicalType::List))
                .with_fields(vec![Arc::new(list)])
                .build()
        }
        DataType::Struct(children) => Type::group_type_builder(&field.name)
            .with_repetition(repetition)
            .with_fields(
                children
                    .iter()
                    .map(parquet_type)
                    .collect::<Result<_, _>>()?,
            )
            .build(),
        DataType::Other(name) => {
            return Err(format!(
                "cannot write column {:?} of type {name}",
                field.name
            ))
        }
    };
    built.map(Arc::new).map_err(|e| e.to_string())
}

/// One leaf column being shredded: its non-null values and every level.
struct Leaf {
    values: Values,
    def: Vec<i16>,
    rep: Vec<i16>,
}

enum Values {
    Bytes(Vec<ByteArray>),
    Bool(Vec<bool>),
    Int(Vec<i64>),
    Float(Vec<f64>),
}

fn new_leaves(data_type: &DataType, out: &mut Vec<Leaf>) {
    let values = match data_type {
        DataType::List(element) => return new_leaves(&element.data_type, out),
        DataType::Struct(children) => {
            for child in children {
                new_leaves(&child.data_type, out);
            }
            return;
        }
        DataType::Bool => Values::Bool(Vec::new()),
        DataType::Int64 => Values::Int(Vec::new()),
        DataType::Float64 => Values::Float(Vec::new()),
        DataType::String | DataType::Other(_) => Values::Bytes(Vec::new()),
    };
    out.push(Leaf {
        values,
        def: Vec::new(),
        rep: Vec::new(),
    });
}

fn leaf_count(data_type: &DataType) -> usize {
    match data_type {
        DataType::List(element) => leaf_count(&element.data_type),
        DataType::Struct(children) => children.iter().map(|c| leaf_count(&c.data_type)).sum(),
        _ => 1,
    }
}

/// Shreds one value of `field` into its leaves.
///
/// `def` is the definition level reached by the parent, `rep` the repetition
/// level this value starts with, `depth` the number of lists around it.
fn shred(
    value: &Value,
    field: &Field,
    def: i16,
    rep: i16,
    depth: i16,
    leaves: &mut [Leaf],
) -> Result<(), String> {
    if *value == Value::Null {
        if !field.nullable {
            return Err(format!("null in the non-nullable field {:?}", field.name));
        }
        for leaf in leaves.iter_mut() {
            leaf.def.push(def);
            leaf.rep.push(rep);
        }
        return Ok(());
    }
    let def = if field.nullable { def + 1 } else { def };
    let mismatch = || {
        format!(
            "expected {} in field {:?}, found {}",
            field.data_type,
            field.name,
            value.describe()
        )
    };
    match (&field.data_type, value) {
        (DataType::List(element), Value::List(items)) => {
            if items.is_empty() {
                // The list is there but has no element: the level stops here.
                for leaf in leaves.iter_mut() {
                    leaf.def.push(def);
                    leaf.rep.push(rep);
                }
            }
            for (i, item) in items.iter().enumerate() {
                let item_rep = if i == 0 { rep } else { depth + 1 };
                shred(item, element, def + 1, item_rep, depth + 1, leaves)?;
            }
            Ok(())
        }
        (DataType::Struct(children), Value::Struct(pairs)) => {
            let mut start = 0;
            for child in children {
                let end = start + leaf_count(&child.data_type);
                let child_value = pairs
                    .iter()
                    .find(|(k, _)| *k == child.name)
                    .map_or(&Value::Null, |(_, v)| v);
                shred(child_value, child, def, rep, depth, &mut leaves[start..end])?;
                start = end;
            }
            Ok(())
        }
        (DataType::List(_) | DataType::Struct(_), _) => Err(mismatch()),
        (_, _) => {
            let leaf = &mut leaves[0];
            match (&mut leaf.values, value) {
                (Values::Bytes(v), Value::Str(s)) => v.push(ByteArray::from(s.as_str())),
                (Values::Bool(v), Value::Bool(b)) => v.push(*b),
                (Values::Int(v), Value::Int(i)) => v.push(*i),
                (Values::Float(v), Value::Float(x)) => v.push(*x),
                (Values::Float(v), Value::Int(i)) => v.push(*i as f64),
                _ => return Err(mismatch()),
            }
            leaf.def.push(def);
            leaf.rep.push(rep);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt_import::read_parquet;
    use proptest::prelude::*;

    fn schema() -> Vec<Field> {
        vec![
            Field::required("prompt", DataType::String),
            Field::required("chosen", DataType::messages()),
            Field::required("label", DataType::Bool),
            Field::nullable("score", DataType::Float64),
            Field::nullable("ratings", DataType::list_of_nullable(DataType::Float64)),
            Field::required("models", DataType::list_of(DataType::String)),
            Field::nullable("n", DataType::Int64),
        ]
    }

    fn sample() -> Table {
        let mut table = Table::new(schema());
        table.rows.push(vec![
            Value::str("p"),
            Value::List(vec![
                Value::message("user", "q"),
                Value::message("assistant", "a"),
            ]),
            Value::Bool(true),
            Value::Float(1.5),
            Value::List(vec![Value::Float(5.0), Value::Null, Value::Float(3.0)]),
            Value::List(vec![Value::str("m1"), Value::str("m2")]),
            Value::Int(7),
        ]);
        table.rows.push(vec![
            Value::str(""),
            Value::List(vec![]),
            Value::Bool(false),
            Value::Null,
            Value::Null,
            Value::List(vec![]),
            Value::Null,
        ]);
        table
    }

    #[test]
    fn starts_and_ends_with_the_magic() {
        let bytes = to_parquet(&sample()).unwrap();
        assert_eq!(&bytes[..4], b"PAR1");
        assert_eq!(&bytes[bytes.len() - 4..], b"PAR1");
    }

    #[test]
    fn round_trips_nested_values_and_nulls() {
        let table = sample();
        let back = read_parquet(&to_parquet(&table).unwrap(), "t.parquet").unwrap();
        assert_eq!(back, table);
    }

    #[test]
    fn many_rows_span_row_groups() {
        let mut table = Table::new(vec![Field::required("i", DataType::Int64)]);
        table.rows = (0..(ROW_GROUP_ROWS as i64 * 2 + 5))
            .map(|i| vec![Value::Int(i)])
            .collect();
        let back = read_parquet(&to_parquet(&table).unwrap(), "t.parquet").unwrap();
        assert_eq!(back.len(), table.len());
        assert_eq!(back.rows.last(), table.rows.last());
    }

    #[test]
    fn empty_table_is_a_valid_file() {
        let table = Table::new(schema());
        let back = read_parquet(&to_parquet(&table).unwrap(), "t.parquet").unwrap();
        assert_eq!(back, table);
    }

    #[test]
    fn a_value_that_does_not_fit_the_schema_is_an_error_not_a_broken_file() {
        let mut table = sample();
        table.rows[1][2] = Value::str("yes");
        let msg = to_parquet(&table).unwrap_err().to_string();
        assert_eq!(
            msg,
            "row 1, column \"label\": cannot write the table: expected bool in field \"label\", found a string"
        );
        table.rows[1][2] = Value::Null;
        let msg = to_parquet(&table).unwrap_err().to_string();
        assert!(
            msg.contains("null in the non-nullable field \"label\""),
            "{msg}"
        );
    }

    fn row() -> impl Strategy<Value = Vec<Value>> {
        let text = any::<String>();
        let score = prop_oneof![
            Just(Value::Null),
            any::<f64>()
                .prop_filter("NaN never equals itself", |x| !x.is_nan())
                .prop_map(Value::Float)
        ];
        let rating = prop_oneof![
            Just(Value::Null),
            (1u8..=5).prop_map(|r| Value::Float(f64::from(r)))
        ];
        let ratings = prop_oneof![
            Just(Value::Null),
            proptest::collection::vec(rating, 0..4).prop_map(Value::List)
        ];
        let n = prop_oneof![Just(Value::Null), any::<i64>().prop_map(Value::Int)];
        (
            text,
            proptest::collection::vec((text, text), 0..3),
            any::<bool>(),
            score,
            ratings,
            proptest::collection::vec(text, 0..3),
            n,
        )
            .prop_map(|(prompt, messages, label, score, ratings, models, n)| {
                vec![
                    Value::Str(prompt),
                    Value::List(messages.iter().map(|(r, c)| Value::message(r, c)).collect()),
                    Value::Bool(label),
                    score,
                    ratings,
                    Value::List(models.into_iter().map(Value::Str).collect()),
                    n,
                ]
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn round_trips_through_the_parquet_reader(rows in proptest::collection::vec(row(), 0..30)) {
            let mut table = Table::new(schema());
            table.rows = rows;
            let back = read_parquet(&to_parquet(&table).unwrap(), "t.parquet").unwrap();
            prop_assert_eq!(back, table);
        }
    }
}
