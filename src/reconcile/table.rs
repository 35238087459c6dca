//! Record sets held in memory for the hash mode: one text buffer per input
//! (a CSV file as read, or rows encoded as CSV), plus a small index per row.
//! Fields are borrowed from the buffer when compared, never copied.

use std::borrow::Cow;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;

use memchr::memchr;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A row that could not be used: reported with its place, left out of the diff.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Problem {
    /// The input's name (file path).
    pub file: String,
    /// 1-based line where the record starts.
    pub line: u64,
    /// 1-based CSV column (field number), when one field is at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(
        file: &str,
        line: u64,
        column: Option<u64>,
        message: impl Into<String>,
    ) -> Self {
        Problem {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    /// The problem as a crate error (`InvalidData`, with file, line and column).
    pub fn to_error(&self) -> Error {
        Error::invalid_data(self.message.clone()).with_file(
            self.file.clone(),
            Some(self.line),
            self.column,
        )
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if let Some(c) = self.column {
            write!(f, ":{c}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a record could not be split: the 1-based field number and the reason.
pub(crate) type SplitError = (usize, &'static str);

/// Splits one CSV record (without its line terminator) into fields,
/// borrowing every field that has no escaped quote.
pub(crate) fn split_record<'t>(
    rec: &'t str,
    out: &mut Vec<Cow<'t, str>>,
) -> std::result::Result<(), SplitError> {
    out.clear();
    let b = rec.as_bytes();
    if memchr(b'"', b).is_none() {
        out.extend(rec.split(',').map(Cow::Borrowed));
        return Ok(());
    }
    let mut i = 0;
    loop {
        let field_no = out.len() + 1;
        if b.get(i) == Some(&b'"') {
            let mut owned: Option<String> = None;
            let mut j = i + 1;
            let mut seg = j;
            let close = loop {
                let Some(p) = memchr(b'"', &b[j..]) else {
                    return Err((field_no, "quoted field is not closed"));
                };
                let q = j + p;
                if b.get(q + 1) == Some(&b'"') {
                    owned
                        .get_or_insert_with(String::new)
                        .push_str(&rec[seg..=q]);
                    j = q + 2;
                    seg = j;
                } else {
                    break q;
                }
            };
            out.push(match owned {
                Some(mut s) => {
                    s.push_str(&rec[seg..close]);
                    Cow::Owned(s)
                }
                None => Cow::Borrowed(&rec[i + 1..close]),
            });
            i = close + 1;
            match b.get(i) {
                None => return Ok(()),
                Some(b',') => i += 1,
                Some(_) => return Err((field_no, "text after a closing quote")),
            }
        } else {
            let end = memchr(b',', &b[i..]).map_or(b.len(), |p| i + p);
            let field = &rec[i..end];
            if field.contains('"') {
                return Err((field_no, "quote inside an unquoted field"));
            }
            out.push(Cow::Borrowed(field));
            if end == b.len() {
                return Ok(());
            }
            i = end + 1;
        }
    }
}

/// The end of the record starting at `pos` (exclusive, before the line
/// terminator) and the number of line breaks inside it. A record continues
/// over line breaks while its quotes are unbalanced.
pub(crate) fn record_end(text: &[u8], pos: usize) -> (usize, usize, usize) {
    let mut end = memchr(b'\n', &text[pos..]).map_or(text.len(), |p| pos + p);
    let mut inner_breaks = 0;
    if memchr(b'"', &text[pos..end]).is_some() {
        let mut quotes = memchr::memchr_iter(b'"', &text[pos..end]).count();
        while quotes % 2 == 1 && end < text.len() {
            let next = memchr(b'\n', &text[end + 1..]).map_or(text.len(), |p| end + 1 + p);
            quotes += memchr::memchr_iter(b'"', &text[end + 1..next]).count();
            inner_breaks += 1;
            end = next;
        }
    }
    let next = (end + 1).min(text.len());
    let trimmed = if end > pos && text[end - 1] == b'\r' {
        end - 1
    } else {
        end
    };
    (trimmed, next, inner_breaks)
}

/// Hashes a key's parts; equal keys hash equal in every table.
pub(crate) fn key_hash<S: AsRef<str>>(parts: impl Iterator<Item = S>) -> u64 {
    let mut h = foldhash::fast::FixedState::with_seed(0x5ea3_3017).build_hasher();
    for p in parts {
        h.write(p.as_ref().as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}

/// The header of an input: its columns and where the key columns are.
pub(crate) fn header_positions(
    name: &str,
    columns: &[String],
    key: &[String],
) -> Result<Vec<usize>> {
    for (i, c) in columns.iter().enumerate() {
        if columns[..i].contains(c) {
            return Err(
                Error::invalid_data(format!("column {c:?} appears twice in the header")).with_file(
                    name,
                    Some(1),
                    Some(i as u64 + 1),
                ),
            );
        }
    }
    key.iter()
        .map(|k| {
            columns.iter().position(|c| c == k).ok_or_else(|| {
                Error::invalid_data(format!(
                    "key column {k:?} is not in the header ({})",
                    columns.join(", ")
                ))
                .with_file(name, Some(1), None)
                .with_field(k.clone())
            })
        })
        .collect()
}

/// Checks a split data record: field count and a non-empty key.
pub(crate) fn check_row(
    fields: &[Cow<'_, str>],
    columns: usize,
    key_idx: &[usize],
    key_names: &[String],
) -> std::result::Result<(), (Option<u64>, String)> {
    if fields.len() != columns {
        let column = (fields.len().min(columns) + 1) as u64;
        return Err((
            Some(column),
            format!("expected {columns} fields, found {}", fields.len()),
        ));
    }
    for (&i, k) in key_idx.iter().zip(key_names) {
        if fields[i].is_empty() {
            return Err((Some(i as u64 + 1), format!("key column {k:?} is empty")));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
struct RowLoc {
    start: u32,
    end: u32,
    line: u32,
}

/// A record set in memory, indexed by key hash for the hash mode.
///
/// ```
/// use seamwork::reconcile::Table;
///
/// let t = Table::from_csv("left.csv", "sku,qty\nA,1\nB,oops,2\n".to_string(), &["sku".to_string()]).unwrap();
/// assert_eq!(t.len(), 1);
/// assert_eq!(t.problems()[0].to_string(), "left.csv:3:3: expected 2 fields, found 3");
/// ```
#[derive(Debug, Clone)]
pub struct Table {
    name: String,
    text: String,
    columns: Vec<String>,
    key_idx: Vec<usize>,
    rows: Vec<RowLoc>,
    index: Vec<(u64, u32)>,
    problems: Vec<Problem>,
    lines: bool,
}

impl Table {
    /// Reads a CSV file (header line first) keyed on `key`.
    pub fn from_file(path: &Path, key: &[String]) -> Result<Table> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| {
            Error::invalid_data(format!("cannot read {name}: {e}"))
                .with_file(name.clone(), None, None)
                .with_source(e)
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let line = memchr::memchr_iter(b'\n', &bytes[..at]).count() as u64 + 1;
            let line_start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |p| p + 1);
            Error::invalid_data("the file is not UTF-8 text").with_file(
                name.clone(),
                Some(line),
                Some((at - line_start) as u64 + 1),
            )
        })?;
        Table::from_csv(&name, text, key)
    }

    /// Parses CSV text (header line first) keyed on `key`. Malformed rows
    /// become [`Problem`]s; a missing header or key column is an error.
    pub fn from_csv(name: &str, text: String, key: &[String]) -> Result<Table> {
        if text.len() >= u32::MAX as usize {
            return Err(Error::invalid_data(
                "input larger than 4 GiB: sort it by key and use the streaming mode",
            )
            .with_file(name, None, None));
        }
        let mut t = Table {
            name: name.to_string(),
            text: String::new(),
            columns: Vec::new(),
            key_idx: Vec::new(),
            rows: Vec::new(),
            index: Vec::new(),
            problems: Vec::new(),
            lines: true,
        };
        let bytes = text.as_bytes();
        let mut fields: Vec<Cow<'_, str>> = Vec::new();
        let (mut pos, mut line) = (0usize, 1u64);
        let mut header = false;
        while pos < bytes.len() {
            let (end, next, breaks) = record_end(bytes, pos);
            let rec = &text[pos..end];
            let at = line;
            line += 1 + breaks as u64;
            let start = pos;
            pos = next;
            if rec.is_empty() {
                continue;
            }
            if let Err((col, msg)) = split_record(rec, &mut fields) {
                if !header {
                    return Err(Error::invalid_data(format!("header: {msg}")).with_file(
                        name,
                        Some(at),
                        Some(col as u64),
                    ));
                }
                t.problems
                    .push(Problem::new(name, at, Some(col as u64), msg));
                continue;
            }
            if !header {
                t.columns = fields.iter().map(|f| f.to_string()).collect();
                t.key_idx = header_positions(name, &t.columns, key)?;
                header = true;
                continue;
            }
            if let Err((col, msg)) = check_row(&fields, t.columns.len(), &t.key_idx, key) {
                t.problems.push(Problem::new(name, at, col, msg));
                continue;
            }
            let row = t.rows.len() as u32;
            t.rows.push(RowLoc {
                start: start as u32,
                end: end as u32,
                line: at.min(u64::from(u32::MAX)) as u32,
            });
            t.index
                .push((key_hash(t.key_idx.iter().map(|&i| &fields[i])), row));
        }
        if !header {
            return Err(Error::invalid_data("no header line").with_file(name, Some(1), None));
        }
        drop(fields);
        t.text = text;
        t.index.sort_unstable();
        Ok(t)
    }

    /// Rows given as values per column (entities flattened, SQL rows),
    /// encoded once as CSV so they share the CSV path.
    pub fn from_rows<R, V>(name: &str, columns: &[String], rows: R, key: &[String]) -> Result<Table>
    where
        R: IntoIterator<Item = V>,
        V: IntoIterator,
        V::Item: AsRef<str>,
    {
        let mut text = String::new();
        write_csv_line(&mut text, columns.iter());
        for row in rows {
            write_csv_line(&mut text, row.into_iter());
        }
        let mut t = Table::from_csv(name, text, key)?;
        t.lines = false;
        Ok(t)
    }

    /// The input's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The header's columns.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Rows taken into the diff (malformed rows excluded).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when no row was usable.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Rows that could not be used, with their place.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    pub(crate) fn index(&self) -> &[(u64, u32)] {
        &self.index
    }

    /// The line of row `row`, when the input is a file.
    pub(crate) fn line(&self, row: u32) -> Option<u64> {
        self.lines.then(|| u64::from(self.rows[row as usize].line))
    }

    /// Splits row `row` into `out` (it was checked when read).
    pub(crate) fn fields<'s>(&'s self, row: u32, out: &mut Vec<Cow<'s, str>>) {
        let loc = self.rows[row as usize];
        let rec = &self.text[loc.start as usize..loc.end as usize];
        if split_record(rec, out).is_err() {
            out.clear();
        }
    }
}

/// Appends one CSV line, quoting fields that need it.
pub(crate) fn write_csv_line<S: AsRef<str>>(out: &mut String, fields: impl Iterator<Item = S>) {
    let (mut n, mut last_empty) = (0, false);
    for (i, f) in fields.enumerate() {
        n += 1;
        if i > 0 {
            out.push(',');
        }
        let f = f.as_ref();
        last_empty = f.is_empty();
        if f.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(f);
        }
    }
    if n == 1 && last_empty {
        // A lone empty field would read back as a blank line.
        out.push_str("\"\"");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> std::result::Result<Vec<String>, SplitError> {
        let mut v = Vec::new();
        split_record(s, &mut v)?;
        Ok(v.into_iter().map(|c| c.into_owned()).collect())
    }

    #[test]
    fn splits_quoted_fields() {
        assert_eq!(split("a,b,").unwrap(), ["a", "b", ""]);
        assert_eq!(
            split(r#""a,1","say ""hi""",c"#).unwrap(),
            ["a,1", r#"say "hi""#, "c"]
        );
        assert_eq!(split(r#""x""#).unwrap(), ["x"]);
        assert_eq!(split(r#""","#).unwrap(), ["", ""]);
        assert_eq!(
            split(r#"a,"b"c"#).unwrap_err(),
            (2, "text after a closing quote")
        );
        assert_eq!(
            split(r#"a,"b"#).unwrap_err(),
            (2, "quoted field is not closed")
        );
        assert_eq!(
            split(r#"a,b"c"#).unwrap_err(),
            (2, "quote inside an unquoted field")
        );
    }

    #[test]
    fn quoted_line_breaks_stay_in_the_record() {
        let key = vec!["id".to_string()];
        let t = Table::from_csv(
            "f.csv",
            "id,note\r\n1,\"two\nlines\"\r\n\r\n2,x\n3\n".into(),
            &key,
        )
        .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.line(1), Some(5));
        assert_eq!(
            t.problems()[0].to_string(),
            "f.csv:6:2: expected 2 fields, found 1"
        );
        let mut f = Vec::new();
        t.fields(0, &mut f);
        assert_eq!(f[1], "two\nlines");
    }

    #[test]
    fn header_errors_are_fatal_and_located() {
        let key = vec!["sku".to_string()];
        let e = Table::from_csv("f.csv", "id,qty\n1,2\n".into(), &key).unwrap_err();
        assert!(
            e.to_string()
                .contains("key column \"sku\" is not in the header"),
            "{e}"
        );
        let e = Table::from_csv("f.csv", "".into(), &key).unwrap_err();
        assert!(e.to_string().contains("no header"), "{e}");
        let t = Table::from_csv("f.csv", "sku,qty\n,2\n".into(), &key).unwrap();
        assert_eq!(
            t.problems()[0].to_string(),
            "f.csv:2:1: key column \"sku\" is empty"
        );
    }

    #[test]
    fn rows_round_trip_through_csv_encoding() {
        let cols: Vec<String> = vec!["k".into()];
        let t = Table::from_rows("rows", &cols, [["a,\"b\"\n"], [""]], &cols).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t.problems().len(), 1); // the empty key is reported, not dropped
        let mut f = Vec::new();
        t.fields(0, &mut f);
        assert_eq!(f[0], "a,\"b\"\n");
    }
}
