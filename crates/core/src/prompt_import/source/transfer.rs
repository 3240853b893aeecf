//! A [`SourceTable`] as JSON text and back, exactly: the page reads files in
//! a worker, and the table it shows comes back over `postMessage`.
//!
//! [`Value`]'s own JSON form is the natural one (a float is a number, an
//! unknown type its name as a string), which loses what the import needs to
//! tell apart: `NaN`, an `Other` against a string. The transfer form keeps
//! every variant, and a float's exact bits.

use super::{Column, Format, Location, SourceTable};
use crate::table::Value;
use serde::{Deserialize, Serialize};

/// One cell, every variant kept.
#[derive(Serialize, Deserialize)]
enum Cell {
    N,
    B(bool),
    I(i64),
    /// The float's bits: exact, `NaN` and infinities included.
    F(u64),
    S(String),
    L(Vec<Cell>),
    R(Vec<(String, Cell)>),
    O(String),
}

impl From<&Value> for Cell {
    fn from(value: &Value) -> Cell {
        match value {
            Value::Null => Cell::N,
            Value::Bool(b) => Cell::B(*b),
            Value::Int(i) => Cell::I(*i),
            Value::Float(x) => Cell::F(x.to_bits()),
            Value::Str(s) => Cell::S(s.clone()),
            Value::List(items) => Cell::L(items.iter().map(Cell::from).collect()),
            Value::Struct(fields) => Cell::R(fields.iter().map(|(name, value)| (name.clone(), Cell::from(value))).collect()),
            Value::Other(name) => Cell::O(name.clone()),
        }
    }
}

impl From<Cell> for Value {
    fn from(cell: Cell) -> Value {
        match cell {
            Cell::N => Value::Null,
            Cell::B(b) => Value::Bool(b),
            Cell::I(i) => Value::Int(i),
            Cell::F(bits) => Value::Float(f64::from_bits(bits)),
            Cell::S(s) => Value::Str(s),
            Cell::L(items) => Value::List(items.into_iter().map(Value::from).collect()),
            Cell::R(fields) => Value::Struct(fields.into_iter().map(|(name, cell)| (name, Value::from(cell))).collect()),
            Cell::O(name) => Value::Other(name),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Wire {
    file_name: String,
    format: Format,
    columns: Vec<Column>,
    rows: Vec<Vec<Cell>>,
    locations: Vec<Location>,
    truncated: Vec<(usize, usize)>,
}

impl SourceTable {
    /// The table as JSON text, every value exact.
    pub fn to_transfer(&self) -> String {
        let wire = Wire {
            file_name: self.file_name.clone(),
            format: self.format,
            columns: self.columns.clone(),
            rows: self.rows.iter().map(|row| row.iter().map(Cell::from).collect()).collect(),
            locations: self.locations.clone(),
            truncated: self.truncated.iter().copied().collect(),
        };
        serde_json::to_string(&wire).expect("a table's transfer form is plain data")
    }

    /// A table from [`SourceTable::to_transfer`]'s text.
    pub fn from_transfer(text: &str) -> Result<SourceTable, String> {
        let wire: Wire = serde_json::from_str(text).map_err(|error| format!("the table from the file reader did not decode: {error}"))?;
        Ok(SourceTable {
            file_name: wire.file_name,
            format: wire.format,
            columns: wire.columns,
            rows: wire.rows.into_iter().map(|row| row.into_iter().map(Value::from).collect()).collect(),
            locations: wire.locations,
            truncated: wire.truncated.into_iter().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::SourceTable;
    use crate::prompt_import::read_source;
    use crate::table::Value;

    #[test]
    fn a_table_comes_back_exactly_nan_and_unknown_types_included() {
        let jsonl = b"{\"prompt\": \"Hi\", \"score\": 1.5, \"n\": 3, \"tags\": [\"a\", {\"k\": null}]}\n{\"prompt\": \"Yo\", \"extra\": true}\n";
        let table = read_source(jsonl, "mixed.jsonl", None).unwrap();
        assert_eq!(SourceTable::from_transfer(&table.to_transfer()).unwrap(), table);
        // Values JSON cannot carry as themselves.
        let cells = vec![Value::Float(f64::NAN), Value::Float(f64::NEG_INFINITY), Value::Other("date32".into()), Value::Float(-0.0)];
        let odd = SourceTable { rows: vec![cells; table.rows.len()], truncated: [(1, 0)].into(), ..table };
        let back = SourceTable::from_transfer(&odd.to_transfer()).unwrap();
        assert!(matches!(back.rows[0][0], Value::Float(x) if x.is_nan()));
        assert_eq!(back.rows[0][1], Value::Float(f64::NEG_INFINITY));
        assert_eq!(back.rows[0][2], Value::Other("date32".into()));
        assert!(matches!(back.rows[0][3], Value::Float(x) if x == 0.0 && x.is_sign_negative()));
        assert_eq!((back.locations, back.truncated), (odd.locations, odd.truncated));
        assert!(SourceTable::from_transfer("{\"file_name\": 1}").is_err());
    }
}
