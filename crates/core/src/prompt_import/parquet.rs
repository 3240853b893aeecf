//! Parquet: the Hub's own format, read with the `parquet` crate's row API.
//!
//! [`read_parquet`] gives a [`Table`] with the file's schema mapped to
//! Prefab's types; it reads back what [`crate::write::parquet`] writes (the
//! round-trip tests rely on it) and what pyarrow and `datasets` write, with
//! Snappy, gzip or LZ4 compression. ZSTD is not built in — its codec is C,
//! which does not build for wasm32 — and is reported as such.

use super::{Format, Location, SourceTable, TableBuilder};
use crate::table::{DataType, Field, Table, Value};
use crate::{Error, ErrorKind};
use bytes::Bytes;
use parquet::basic::{ConvertedType, LogicalType, Repetition, Type as PhysicalType};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field as ParquetField;
use parquet::schema::types::Type;

/// Reads a Parquet file into a table.
///
/// The `parquet` crate can panic on a corrupt file (a flipped byte in a page
/// header, say) rather than return an error. The column ranges it asserts on
/// are checked here first; what remains is caught where panics unwind (native
/// builds and tests) and reported as a corrupt file. Builds with
/// `panic = "abort"` cannot catch it: the page reads files in a worker of
/// their own (`app::file_read`), so such a file ends only that worker.
pub fn read_parquet(bytes: &[u8], file_name: &str) -> Result<Table, Error> {
    std::panic::catch_unwind(|| read_table(bytes, file_name)).unwrap_or_else(|_| {
        Err(Error::new(ErrorKind::Parquet {
            message: "the file is corrupt: its pages do not decode".to_string(),
        })
        .in_file(file_name))
    })
}

fn read_table(bytes: &[u8], file_name: &str) -> Result<Table, Error> {
    let fail = |kind| Error::new(kind).in_file(file_name);
    if !bytes.starts_with(b"PAR1") {
        return Err(fail(ErrorKind::NotParquet));
    }
    if bytes.len() < 12 || !bytes.ends_with(b"PAR1") {
        return Err(fail(ErrorKind::Parquet {
            message:
                "it ends before its footer (a truncated download?); expected \"PAR1\" at the end"
                    .to_string(),
        }));
    }
    let reader = SerializedFileReader::new(Bytes::copy_from_slice(bytes)).map_err(|e| {
        fail(ErrorKind::Parquet {
            message: explain(&e),
        })
    })?;
    check_column_ranges(&reader, bytes.len())
        .map_err(|message| fail(ErrorKind::Parquet { message }))?;
    let schema: Vec<Field> = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .root_schema()
        .get_fields()
        .iter()
        .map(|t| field(t))
        .collect();
    let rows = reader.get_row_iter(None).map_err(|e| {
        fail(ErrorKind::Parquet {
            message: explain(&e),
        })
    })?;
    let mut table = Table::new(schema);
    table
        .rows
        .reserve(reader.metadata().file_metadata().num_rows().max(0) as usize);
    for (index, row) in rows.enumerate() {
        let row = row.map_err(|e| {
            fail(ErrorKind::Parquet {
                message: explain(&e),
            })
            .at_row(index as u64)
        })?;
        table
            .rows
            .push(row.get_column_iter().map(|(_, v)| value(v)).collect());
    }
    Ok(table)
}

/// Every column chunk must lie inside the file; the reader asserts this
/// (and panics) instead of reporting it.
fn check_column_ranges(
    reader: &SerializedFileReader<Bytes>,
    file_len: usize,
) -> Result<(), String> {
    for (g, row_group) in reader.metadata().row_groups().iter().enumerate() {
        for column in row_group.columns() {
            let start = column
                .dictionary_page_offset()
                .unwrap_or_else(|| column.data_page_offset());
            let len = column.compressed_size();
            let fits = start >= 0
                && len >= 0
                && start
                    .checked_add(len)
                    .is_some_and(|end| end <= file_len as i64);
            if !fits {
                return Err(format!(
                    "the footer places column {:?} of row group {g} outside the file (corrupt footer?)",
                    column.column_path().string()
                ));
            }
        }
    }
    Ok(())
}

/// Reads a Parquet file as a prompt source.
pub(crate) fn read(bytes: &[u8], file: &str) -> Result<SourceTable, Error> {
    let table = read_parquet(bytes, file)?;
    let mut builder = TableBuilder::new(file, Format::Parquet);
    for field in &table.schema {
        let dtype = match &field.data_type {
            DataType::List(_) => "list".to_string(),
            DataType::Struct(_) => "struct".to_string(),
            other => other.to_string(),
        };
        builder.declare(&field.name, &dtype);
    }
    for (index, row) in table.rows.into_iter().enumerate() {
        builder.push_row(row, Location::Row(index as u64));
    }
    Ok(builder.finish())
}

/// The parquet crate's message, with a hint for codecs this build lacks.
fn explain(error: &parquet::errors::ParquetError) -> String {
    let message = error.to_string();
    match message.split("Disabled feature at compile time: ").nth(1) {
        Some(codec) => format!(
            "it is compressed with {}, which Prefab cannot decompress; expected Snappy, gzip, LZ4 \
             or no compression (pyarrow's default is Snappy)",
            codec.trim().to_uppercase()
        ),
        None => message.strip_prefix("Parquet error: ").unwrap_or(&message).to_string(),
    }
}

/// A Parquet schema node as a Prefab field.
fn field(t: &Type) -> Field {
    let info = t.get_basic_info();
    let nullable = !info.has_repetition() || info.repetition() == Repetition::OPTIONAL;
    Field {
        name: t.name().to_string(),
        data_type: data_type(t),
        nullable,
    }
}

fn data_type(t: &Type) -> DataType {
    let info = t.get_basic_info();
    let logical = info.logical_type_ref();
    let converted = info.converted_type();
    if t.is_primitive() {
        return match (t.get_physical_type(), logical, converted) {
            (_, Some(LogicalType::Date), _) | (_, _, ConvertedType::DATE) => {
                DataType::Other("date".into())
            }
            (_, Some(LogicalType::Timestamp { .. }), _)
            | (_, _, ConvertedType::TIMESTAMP_MILLIS | ConvertedType::TIMESTAMP_MICROS)
            | (PhysicalType::INT96, _, _) => DataType::Other("timestamp".into()),
            (_, Some(LogicalType::Time { .. }), _) => DataType::Other("time".into()),
            (_, Some(LogicalType::Decimal { .. }), _) | (_, _, ConvertedType::DECIMAL) => {
                DataType::Other("decimal".into())
            }
            (_, Some(LogicalType::Float16), _) => DataType::Float64,
            (PhysicalType::BOOLEAN, _, _) => DataType::Bool,
            (PhysicalType::INT32 | PhysicalType::INT64, _, _) => DataType::Int64,
            (PhysicalType::FLOAT | PhysicalType::DOUBLE, _, _) => DataType::Float64,
            (_, Some(LogicalType::String | LogicalType::Enum | LogicalType::Json), _)
            | (_, _, ConvertedType::UTF8 | ConvertedType::ENUM | ConvertedType::JSON) => {
                DataType::String
            }
            _ => DataType::Other("binary".into()),
        };
    }
    let children = t.get_fields();
    let is_list = matches!(logical, Some(LogicalType::List)) || converted == ConvertedType::LIST;
    let is_map = matches!(logical, Some(LogicalType::Map))
        || matches!(converted, ConvertedType::MAP | ConvertedType::MAP_KEY_VALUE);
    match children {
        [repeated] if is_list => {
            // The standard three-level list is `group (LIST) { repeated group
            // list { element } }`; older writers put the element directly in
            // the repeated node.
            let element = match repeated.get_fields() {
                [element] if repeated.is_group() => field(element),
                _ => Field {
                    nullable: false,
                    ..field(repeated)
                },
            };
            DataType::List(Box::new(element))
        }
        _ if is_map => DataType::Other("map".into()),
        _ => DataType::Struct(children.iter().map(|c| field(c)).collect()),
    }
}

/// A value from the row API as a Prefab value.
fn value(field: &ParquetField) -> Value {
    match field {
        ParquetField::Null => Value::Null,
        ParquetField::Bool(b) => Value::Bool(*b),
        ParquetField::Byte(i) => Value::Int(i64::from(*i)),
        ParquetField::Short(i) => Value::Int(i64::from(*i)),
        ParquetField::Int(i) => Value::Int(i64::from(*i)),
        ParquetField::Long(i) => Value::Int(*i),
        ParquetField::UByte(u) => Value::Int(i64::from(*u)),
        ParquetField::UShort(u) => Value::Int(i64::from(*u)),
        ParquetField::UInt(u) => Value::Int(i64::from(*u)),
        ParquetField::ULong(u) => i64::try_from(*u)
            .map(Value::Int)
            .unwrap_or(Value::Float(*u as f64)),
        ParquetField::Float16(x) => Value::Float(x.to_f64()),
        ParquetField::Float(x) => Value::Float(f64::from(*x)),
        ParquetField::Double(x) => Value::Float(*x),
        ParquetField::Str(s) => Value::Str(s.clone()),
        ParquetField::Bytes(_) => Value::Other("binary".into()),
        ParquetField::Decimal(_) => Value::Other("decimal".into()),
        ParquetField::Date(_) => Value::Other("date".into()),
        ParquetField::TimeMillis(_) | ParquetField::TimeMicros(_) => Value::Other("time".into()),
        ParquetField::TimestampMillis(_) | ParquetField::TimestampMicros(_) => {
            Value::Other("timestamp".into())
        }
        ParquetField::Group(row) => Value::Struct(
            row.get_column_iter()
                .map(|(k, v)| (k.clone(), value(v)))
                .collect(),
        ),
        ParquetField::ListInternal(list) => {
            Value::List(list.elements().iter().map(value).collect())
        }
        ParquetField::MapInternal(_) => Value::Other("map".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt_import::{import_prompts, ColumnMapping};
    use crate::write::parquet::to_parquet;

    fn sample() -> Vec<u8> {
        let mut table = Table::new(vec![
            Field::required("prompt", DataType::String),
            Field::nullable("n", DataType::Int64),
        ]);
        table.rows.push(vec![Value::str("first"), Value::Int(1)]);
        table.rows.push(vec![Value::str("second"), Value::Null]);
        to_parquet(&table).unwrap()
    }

    #[test]
    fn reads_prompts_from_parquet() {
        let imported = import_prompts(&sample(), "p.parquet", None, None).unwrap();
        let texts: Vec<_> = imported.prompts.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["first", "second"]);
    }

    #[test]
    fn columns_carry_the_declared_types() {
        let table = read(&sample(), "p.parquet").unwrap();
        let dtypes: Vec<_> = table.columns().iter().map(|c| c.dtype.as_str()).collect();
        assert_eq!(dtypes, ["string", "int64"]);
    }

    /// Written by pyarrow 26 (`tests/data/`): nulls, a large_string, nested
    /// lists and structs, a timestamp, float32, two-row row groups, Snappy.
    const PYARROW: &[u8] = include_bytes!("../../tests/data/pyarrow_snappy.parquet");

    #[test]
    fn reads_what_pyarrow_writes() {
        let table = read(PYARROW, "hf.parquet").unwrap();
        let dtypes: Vec<_> = table
            .columns()
            .iter()
            .map(|c| (c.name.as_str(), c.dtype.as_str()))
            .collect();
        assert_eq!(
            dtypes,
            [
                ("prompt", "string"),
                ("id", "int64"),
                ("system", "string"),
                ("messages", "list"),
                ("tags", "list"),
                ("created", "timestamp"),
                ("score", "double"),
            ]
        );
        assert_eq!(
            table.cell(0, 3),
            &Value::List(vec![Value::message("user", "hi")])
        );
        assert_eq!(table.cell(1, 3), &Value::List(vec![]));
        assert_eq!(table.cell(2, 3), &Value::Null);
        assert_eq!(table.cell(4, 4), &Value::List(vec![Value::Null]));
        assert_eq!(table.cell(0, 6), &Value::Float(1.5));

        let mapping = table.suggest_mapping().unwrap();
        assert_eq!(
            (mapping.id.as_deref(), mapping.system_prompt.as_deref()),
            (Some("id"), Some("system"))
        );
        let imported = table.prompts(&mapping).unwrap();
        let got: Vec<_> = imported
            .prompts
            .iter()
            .map(|p| {
                (
                    p.text.as_str(),
                    p.source_id.as_deref(),
                    p.system_prompt.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("What is Rust?", Some("10"), Some("Be brief.")),
                ("Écris un haïku 🌊", Some("12"), None),
                ("Line one\nline two", Some("14"), Some("Be kind.")),
            ]
        );
        assert_eq!(
            (imported.duplicates_dropped, imported.empty_dropped),
            (1, 1)
        );
    }

    #[test]
    fn nested_schema_from_pyarrow() {
        let table = read_parquet(PYARROW, "hf.parquet").unwrap();
        let messages = &table.schema[3];
        assert_eq!(
            messages.data_type.to_string(),
            "list<struct<role:string,content:string>>"
        );
        assert!(messages.nullable);
        assert_eq!(table.len(), 5);
    }

    #[test]
    fn zstd_compression_is_named() {
        let bytes = include_bytes!("../../tests/data/pyarrow_zstd.parquet");
        let msg = read(bytes, "z.parquet").unwrap_err().to_string();
        assert!(msg.starts_with("z.parquet: "), "{msg}");
        assert!(
            msg.contains("compressed with ZSTD, which Prefab cannot decompress"),
            "{msg}"
        );
        assert!(
            msg.contains("expected Snappy, gzip, LZ4 or no compression"),
            "{msg}"
        );
    }

    #[test]
    fn timestamp_as_prompt_column() {
        let table = read(PYARROW, "hf.parquet").unwrap();
        let msg = table
            .prompts(&ColumnMapping::prompt("created"))
            .unwrap_err()
            .to_string();
        assert_eq!(msg, "hf.parquet: row 0, column \"created\": expected a string (the prompt), found a timestamp");
    }

    #[test]
    fn random_corruption_is_an_error_or_a_table_never_a_panic() {
        // With this seed the flips include footers pointing outside the file
        // (which the reader would assert on) and pages that make it panic.
        let mut rng = crate::prng::SplitMix64::new(1);
        let (mut outside, mut undecodable) = (0, 0);
        for _ in 0..500 {
            let mut bytes = PYARROW.to_vec();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(bytes.len());
                bytes[i] = rng.next_u64() as u8;
            }
            if let Err(err) = read_parquet(&bytes, "bad.parquet") {
                let msg = err.to_string();
                assert!(msg.starts_with("bad.parquet: "), "{msg}");
                assert!(msg.contains("cannot read this Parquet file: "), "{msg}");
                outside += usize::from(msg.contains("outside the file (corrupt footer?)"));
                undecodable += usize::from(msg.contains("its pages do not decode"));
            }
        }
        assert!(outside > 0 && undecodable > 0, "{outside} {undecodable}");
    }

    #[test]
    fn not_a_parquet_file() {
        let msg = read(b"prompt\nhello\n", "p.parquet")
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "p.parquet: not a Parquet file: expected the bytes \"PAR1\" at its start and end"
        );
    }

    #[test]
    fn truncated_parquet_file() {
        let bytes = sample();
        let msg = read(&bytes[..bytes.len() / 2], "p.parquet")
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("p.parquet: cannot read this Parquet file: it ends before its footer"),
            "{msg}"
        );
    }

    #[test]
    fn corrupt_footer() {
        let mut bytes = sample();
        let n = bytes.len();
        // Claim a footer longer than the file.
        bytes[n - 8..n - 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let msg = read(&bytes, "p.parquet").unwrap_err().to_string();
        assert!(
            msg.starts_with("p.parquet: cannot read this Parquet file: "),
            "{msg}"
        );
    }

    #[test]
    fn integer_prompt_column_in_parquet() {
        let table = read(&sample(), "p.parquet").unwrap();
        let msg = table
            .prompts(&ColumnMapping::prompt("n"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "p.parquet: row 0, column \"n\": expected a string (the prompt), found a number"
        );
    }
}
