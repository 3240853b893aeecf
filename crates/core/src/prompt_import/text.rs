//! Plain text: one prompt per line. Blank lines separate nothing and are
//! skipped; the single column is called `prompt`.

use super::{decode_text, Format, Location, SourceTable, TableBuilder};
use crate::table::Value;
use crate::Error;

/// Reads one prompt per line.
pub(crate) fn read(bytes: &[u8], file: &str) -> Result<SourceTable, Error> {
    let text = decode_text(bytes, file, Format::Text.name())?;
    let mut builder = TableBuilder::new(file, Format::Text);
    builder.declare("prompt", "string");
    for (index, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if !line.trim().is_empty() {
            builder.push_row(vec![Value::str(line)], Location::Line(index as u64 + 1));
        }
    }
    Ok(builder.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_prompt_per_line() {
        let table = read(b"first\r\n\n  \nsecond line\n", "p.txt").unwrap();
        assert_eq!(table.len(), 2);
        assert_eq!(table.cell(1, 0), &Value::str("second line"));
        assert_eq!(table.locations[1], Location::Line(4));
        assert_eq!(table.columns()[0].name, "prompt");
    }
}
