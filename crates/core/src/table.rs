//! Tables: the in-memory shape of an export, and of a Parquet file read back.
//!
//! Every export ([`crate::export`]) builds a [`Table`] — a schema and rows of
//! [`Value`]s — and the writers in [`crate::write`] turn it into JSONL or
//! Parquet. The Parquet reader gives the same shape back, which is what makes
//! the round-trip tests possible. Only the types preference datasets need are
//! here: strings, booleans, integers, floats, lists and structs (for chat
//! messages).

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::fmt;

/// A named, typed column (or a list's element, or a struct's field).
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The column name.
    pub name: String,
    /// The type of its values.
    pub data_type: DataType,
    /// Whether a value may be null.
    pub nullable: bool,
}

impl Field {
    /// A column that is never null.
    pub fn required(name: &str, data_type: DataType) -> Field {
        Field {
            name: name.to_string(),
            data_type,
            nullable: false,
        }
    }

    /// A column whose values may be null.
    pub fn nullable(name: &str, data_type: DataType) -> Field {
        Field {
            name: name.to_string(),
            data_type,
            nullable: true,
        }
    }
}

/// The type of a column's values.
#[derive(Debug, Clone, PartialEq)]
pub enum DataType {
    /// UTF-8 text.
    String,
    /// `true` or `false`.
    Bool,
    /// A 64-bit signed integer.
    Int64,
    /// A 64-bit float.
    Float64,
    /// A list of values of the element field's type.
    List(Box<Field>),
    /// A record of named fields.
    Struct(Vec<Field>),
    /// A type Prefab reads but does not use (dates, bytes, maps…), by name.
    Other(String),
}

impl DataType {
    /// A list whose elements are never null.
    pub fn list_of(data_type: DataType) -> DataType {
        DataType::List(Box::new(Field::required("element", data_type)))
    }

    /// A list whose elements may be null.
    pub fn list_of_nullable(data_type: DataType) -> DataType {
        DataType::List(Box::new(Field::nullable("element", data_type)))
    }

    /// A list of `{role, content}` chat messages, as in TRL's conversational formats.
    pub fn messages() -> DataType {
        DataType::list_of(DataType::Struct(vec![
            Field::required("role", DataType::String),
            Field::required("content", DataType::String),
        ]))
    }
}

/// Arrow-style names (`string`, `bool`, `int64`, `double`, `list<string>`,
/// `struct<role:string,content:string>`): what the pyarrow check compares.
impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::String => write!(f, "string"),
            DataType::Bool => write!(f, "bool"),
            DataType::Int64 => write!(f, "int64"),
            DataType::Float64 => write!(f, "double"),
            DataType::List(element) => write!(f, "list<{}>", element.data_type),
            DataType::Struct(fields) => {
                write!(f, "struct<")?;
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        write!(f, ",")?;
                    }
                    write!(f, "{}:{}", field.name, field.data_type)?;
                }
                write!(f, ">")
            }
            DataType::Other(name) => write!(f, "{name}"),
        }
    }
}

/// One value in a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A list.
    List(Vec<Value>),
    /// A record of named values, in order.
    Struct(Vec<(String, Value)>),
    /// A value of a type Prefab does not use (a date, bytes, a map), kept only
    /// by its type name so an error can say what was found.
    Other(String),
}

impl Value {
    /// A string value.
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    /// The value's type with an article, for messages: "a string", "a number".
    pub fn describe(&self) -> String {
        match self {
            Value::Null => "null".to_string(),
            Value::Bool(_) => "a boolean".to_string(),
            Value::Int(_) | Value::Float(_) => "a number".to_string(),
            Value::Str(_) => "a string".to_string(),
            Value::List(_) => "a list".to_string(),
            Value::Struct(_) => "an object".to_string(),
            Value::Other(name) => format!("a {name}"),
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The field of this name, if this is a struct that has it.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(fields) => fields.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A chat message as a `{role, content}` struct.
    pub fn message(role: &str, content: &str) -> Value {
        Value::Struct(vec![
            ("role".to_string(), Value::str(role)),
            ("content".to_string(), Value::str(content)),
        ])
    }
}

/// A schema and rows of values, one value per column.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// The columns.
    pub schema: Vec<Field>,
    /// The rows; each has one value per column, in schema order.
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new(schema: Vec<Field>) -> Table {
        Table {
            schema,
            rows: Vec::new(),
        }
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The column names, in order.
    pub fn column_names(&self) -> Vec<&str> {
        self.schema.iter().map(|f| f.name.as_str()).collect()
    }

    /// Each row as a JSON-serializable object, keys in schema order: the
    /// JSONL writer serializes these, and the browser can hand them to JS.
    pub fn records(&self) -> impl Iterator<Item = RowRef<'_>> {
        self.rows.iter().map(|row| RowRef {
            schema: &self.schema,
            values: row,
        })
    }
}

/// One row viewed as an object, for serialization.
#[derive(Debug, Clone, Copy)]
pub struct RowRef<'a> {
    schema: &'a [Field],
    values: &'a [Value],
}

impl Serialize for RowRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.schema.len()))?;
        for (field, value) in self.schema.iter().zip(self.values) {
            map.serialize_entry(&field.name, value)?;
        }
        map.end()
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::Float(x) => serializer.serialize_f64(*x),
            Value::Str(s) | Value::Other(s) => serializer.serialize_str(s),
            Value::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Struct(fields) => {
                let mut map = serializer.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// Reading JSON straight into [`Value`]s keeps object keys in file order
/// (the order of columns a person sees) and skips an intermediate tree.
impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> serde::de::Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        serde::Deserialize::deserialize(d)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(i64::try_from(u)
            .map(Value::Int)
            .unwrap_or(Value::Float(u as f64)))
    }

    fn visit_f64<E>(self, x: f64) -> Result<Value, E> {
        Ok(Value::Float(x))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(s))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            fields.push((k, v));
        }
        Ok(Value::Struct(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_type_names_follow_arrow() {
        assert_eq!(
            DataType::messages().to_string(),
            "list<struct<role:string,content:string>>"
        );
        assert_eq!(
            DataType::list_of_nullable(DataType::Float64).to_string(),
            "list<double>"
        );
        assert_eq!(DataType::Bool.to_string(), "bool");
    }

    #[test]
    fn json_keeps_key_order_and_number_kinds() {
        let v: Value = serde_json::from_str(r#"{"b":1,"a":2.5,"c":[true,null],"d":"x"}"#).unwrap();
        assert_eq!(
            v,
            Value::Struct(vec![
                ("b".into(), Value::Int(1)),
                ("a".into(), Value::Float(2.5)),
                (
                    "c".into(),
                    Value::List(vec![Value::Bool(true), Value::Null])
                ),
                ("d".into(), Value::str("x")),
            ])
        );
        assert_eq!(v.get("d"), Some(&Value::str("x")));
        assert_eq!(v.get("zz"), None);
    }

    #[test]
    fn rows_serialize_in_schema_order() {
        let mut table = Table::new(vec![
            Field::required("prompt", DataType::String),
            Field::required("label", DataType::Bool),
        ]);
        table.rows.push(vec![Value::str("Hi"), Value::Bool(true)]);
        let row = table.records().next().unwrap();
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            r#"{"prompt":"Hi","label":true}"#
        );
        assert_eq!(table.column_names(), ["prompt", "label"]);
    }

    #[test]
    fn describe_names_the_type_with_an_article() {
        assert_eq!(Value::Int(3).describe(), "a number");
        assert_eq!(Value::Struct(vec![]).describe(), "an object");
        assert_eq!(Value::Other("date".into()).describe(), "a date");
    }
}
