//! CSV and TSV with a header row, as spreadsheets and pandas write them.
//!
//! Fields may be quoted with `"`, and a quoted field may hold delimiters,
//! newlines and doubled quotes (`""`). The parser is strict where a mistake
//! would silently corrupt prompts — a quote that is never closed swallows the
//! rest of the file, text after a closing quote means the quoting is off — and
//! lenient where it cannot: a quote in the middle of an unquoted field (`5" screen`)
//! is kept as it is. Every record must have as many fields as the header.
//! It is written by hand rather than with the `csv` crate because that crate
//! accepts unterminated quotes without a word.

use super::{decode_text, Format, Location, SourceTable, TableBuilder};
use crate::table::Value;
use crate::{Error, ErrorKind};
use std::collections::HashSet;

/// Reads CSV (`delimiter` `,`) or TSV (`\t`) with a header.
pub(crate) fn read(
    bytes: &[u8],
    file: &str,
    delimiter: u8,
    format: Format,
) -> Result<SourceTable, Error> {
    let text = decode_text(bytes, file, format.name())?;
    let mut records = Records {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        line: 1,
        delimiter,
    };

    let Some((header_line, header)) = records.next_record().map_err(|e| e.in_file(file))? else {
        return Err(Error::new(ErrorKind::EmptyFile).in_file(file));
    };
    let mut builder = TableBuilder::new(file, format);
    let mut names = HashSet::new();
    for (position, name) in header.iter().enumerate() {
        let name = name.trim();
        let fail = |kind| Error::new(kind).in_file(file).at_line(header_line);
        if name.is_empty() {
            return Err(fail(ErrorKind::EmptyColumnName {
                position: position + 1,
            }));
        }
        if !names.insert(name) {
            return Err(fail(ErrorKind::DuplicateColumn {
                name: name.to_string(),
            }));
        }
        builder.declare(name, "string");
    }
    while let Some((line, fields)) = records.next_record().map_err(|e| e.in_file(file))? {
        if fields.len() != header.len() {
            return Err(Error::new(ErrorKind::FieldCount {
                expected: header.len(),
                found: fields.len(),
            })
            .in_file(file)
            .at_line(line));
        }
        builder.push_row(
            fields.into_iter().map(Value::Str).collect(),
            Location::Line(line),
        );
    }
    Ok(builder.finish())
}

/// An iterator over records, tracking line numbers across quoted newlines.
struct Records<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: u64,
    delimiter: u8,
}

impl Records<'_> {
    /// The next non-blank record and the line it starts on; `None` at the end.
    ///
    /// Slicing `text` at the positions of ASCII delimiters and quotes is safe:
    /// UTF-8 never uses ASCII bytes inside a multi-byte character.
    fn next_record(&mut self) -> Result<Option<(u64, Vec<String>)>, Error> {
        while self.pos < self.bytes.len() {
            let start_line = self.line;
            let mut fields = Vec::new();
            let mut any_quoted = false;
            loop {
                if self.bytes.get(self.pos) == Some(&b'"') {
                    any_quoted = true;
                    fields.push(self.quoted_field()?);
                } else {
                    fields.push(self.unquoted_field());
                }
                match self.bytes.get(self.pos) {
                    Some(&b) if b == self.delimiter => self.pos += 1,
                    _ => break,
                }
            }
            self.end_of_line();
            let blank = !any_quoted && fields.len() == 1 && fields[0].trim().is_empty();
            if !blank {
                return Ok(Some((start_line, fields)));
            }
        }
        Ok(None)
    }

    fn unquoted_field(&mut self) -> String {
        let start = self.pos;
        while let Some(&b) = self.bytes.get(self.pos) {
            if b == self.delimiter || b == b'\n' {
                break;
            }
            self.pos += 1;
        }
        let field = &self.text[start..self.pos];
        field.strip_suffix('\r').unwrap_or(field).to_string()
    }

    fn quoted_field(&mut self) -> Result<String, Error> {
        let open_line = self.line;
        self.pos += 1;
        let mut field = String::new();
        loop {
            let rest = &self.bytes[self.pos..];
            let Some(offset) = rest.iter().position(|&b| b == b'"') else {
                return Err(Error::new(ErrorKind::UnterminatedQuote).at_line(open_line));
            };
            self.line += rest[..offset].iter().filter(|&&b| b == b'\n').count() as u64;
            field.push_str(&self.text[self.pos..self.pos + offset]);
            self.pos += offset + 1;
            if self.bytes.get(self.pos) == Some(&b'"') {
                field.push('"');
                self.pos += 1;
                continue;
            }
            break;
        }
        match self.bytes.get(self.pos) {
            None | Some(b'\n') | Some(b'\r') => Ok(field),
            Some(&b) if b == self.delimiter => Ok(field),
            Some(_) => {
                let found = self.text[self.pos..].chars().next().unwrap_or('?');
                Err(Error::new(ErrorKind::TextAfterQuote { found }).at_line(self.line))
            }
        }
    }

    fn end_of_line(&mut self) {
        if self.bytes.get(self.pos) == Some(&b'\r') {
            self.pos += 1;
        }
        if self.bytes.get(self.pos) == Some(&b'\n') {
            self.pos += 1;
            self.line += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str) -> Result<SourceTable, Error> {
        read(text.as_bytes(), "p.csv", b',', Format::Csv)
    }

    fn strings(table: &SourceTable, column: usize) -> Vec<&str> {
        (0..table.len())
            .map(|r| table.cell(r, column).as_str().unwrap_or("<null>"))
            .collect()
    }

    #[test]
    fn quoted_fields_with_delimiters_newlines_and_quotes() {
        let table = csv("id,prompt\r\n1,\"Hello, world\"\r\n2,\"Two\nlines\"\r\n3,\"She said \"\"hi\"\"\"\n4,plain\n").unwrap();
        assert_eq!(
            strings(&table, 1),
            ["Hello, world", "Two\nlines", "She said \"hi\"", "plain"]
        );
        // The record after the embedded newline starts on line 5.
        assert_eq!(table.locations[2], Location::Line(5));
    }

    #[test]
    fn bom_blank_lines_and_no_final_newline() {
        let table = csv("\u{feff}prompt\n\na\n\nb").unwrap();
        assert_eq!(table.columns()[0].name, "prompt");
        assert_eq!(strings(&table, 0), ["a", "b"]);
    }

    #[test]
    fn lone_quote_inside_an_unquoted_field_is_kept() {
        let table = csv("prompt\nA 5\" screen\n").unwrap();
        assert_eq!(strings(&table, 0), ["A 5\" screen"]);
    }

    #[test]
    fn tsv_with_quoted_tab() {
        let table = read(b"prompt\tid\n\"a\tb\"\t1\n", "p.tsv", b'\t', Format::Tsv).unwrap();
        assert_eq!(strings(&table, 0), ["a\tb"]);
    }

    #[test]
    fn empty_trailing_field_counts() {
        let table = csv("prompt,system\nhi,\n").unwrap();
        assert_eq!(strings(&table, 1), [""]);
    }

    #[test]
    fn unterminated_quote_names_the_line_it_opened_on() {
        let err = csv("prompt\nok\n\"never closed\nmore\nand more\n").unwrap_err();
        assert_eq!(err.line(), Some(3));
        let msg = err.to_string();
        assert!(
            msg.starts_with("p.csv: line 3: a quoted field opened on this line is never closed"),
            "{msg}"
        );
        assert!(msg.contains("expected a closing \""), "{msg}");
    }

    #[test]
    fn text_after_a_closing_quote() {
        let msg = csv("prompt,id\n\"quoted\"x,1\n").unwrap_err().to_string();
        assert!(
            msg.starts_with("p.csv: line 2: 'x' after a closing quote"),
            "{msg}"
        );
        assert!(
            msg.contains("expected a delimiter or the end of the line"),
            "{msg}"
        );
    }

    #[test]
    fn too_many_fields() {
        let msg = csv("prompt,id\na,1\nb,2,extra\n").unwrap_err().to_string();
        assert_eq!(msg, "p.csv: line 3: 3 fields; expected 2, as in the header");
    }

    #[test]
    fn too_few_fields_in_tsv() {
        let msg = read(b"prompt\tid\tsystem\na\t1\n", "p.tsv", b'\t', Format::Tsv)
            .unwrap_err()
            .to_string();
        assert_eq!(msg, "p.tsv: line 2: 2 fields; expected 3, as in the header");
    }

    #[test]
    fn duplicate_column_name() {
        let msg = csv("prompt,id,prompt\na,1,b\n").unwrap_err().to_string();
        assert!(
            msg.starts_with("p.csv: line 1: the header names column \"prompt\" twice"),
            "{msg}"
        );
    }

    #[test]
    fn empty_column_name() {
        let msg = csv("prompt,,id\na,b,c\n").unwrap_err().to_string();
        assert!(
            msg.starts_with("p.csv: line 1: column 2 of the header has no name"),
            "{msg}"
        );
    }

    #[test]
    fn header_without_rows() {
        let msg = super::super::read_source(b"prompt,id\n", "p.csv", None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "p.csv: a header but no rows; expected at least one prompt"
        );
    }
}
