//! Record sets held in memory for the hash mode: one text buffer per input
//! (a CSV file as read, or rows encoded as CSV), plus a small index per row.
//! Fields are borrowed from the buffer when compared, never copied.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;

use memchr::memchr;
use serde::{Deserialize, Serialize};

use super::spec::{DiffSpec, FieldPolicy};
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

/// Seeds of the two key hashes and the field fingerprint.
const SEEDS: [u64; 3] = [0x5ea3_3017, 0x9e37_79b9_7f4a_7c15, 0x2545_f491_4f6c_dd1d];

/// Hashes text parts with one of [`SEEDS`]; equal parts hash equal in every table.
fn hash_parts<S: AsRef<str>>(seed: u64, parts: impl Iterator<Item = S>) -> u64 {
    let mut h = foldhash::fast::FixedState::with_seed(seed).build_hasher();
    for p in parts {
        h.write(p.as_ref().as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}

/// One row in the hash index: a 64-bit hash of the key; a check word (a
/// second, independent key hash xor a fingerprint of the compared fields and
/// their column names); the row; its dimension value's id. Two rows whose
/// hash and check agree are taken as the same key with the same fields
/// (128 bits must collide for a false match); any other pair is compared on
/// its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    pub(crate) hash: u64,
    pub(crate) check: u64,
    pub(crate) row: u32,
    pub(crate) dim: u32,
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
pub(crate) fn check_row<S: AsRef<str>>(
    fields: &[S],
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
        if fields[i].as_ref().is_empty() {
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
/// use seamwork::reconcile::{DiffSpec, Table};
///
/// let spec = DiffSpec::new(["sku"]);
/// let t = Table::from_csv("left.csv", "sku,qty\nA,1\nB,oops,2\n".to_string(), &spec).unwrap();
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
    index: Vec<Vec<Entry>>,
    dims: Vec<String>,
    problems: Vec<Problem>,
    lines: bool,
}

/// Index buckets by the top bits of the key hash: each is small enough to
/// sort in cache, and threads split the work by bucket ranges.
pub(crate) const BUCKETS: usize = 1 << BUCKET_BITS;
const BUCKET_BITS: u32 = 10;

/// The bucket of a key hash.
pub(crate) fn bucket(hash: u64) -> usize {
    (hash >> (64 - BUCKET_BITS)) as usize
}

/// Fills a table record by record.
struct Builder<'s> {
    t: Table,
    spec: &'s DiffSpec,
    layout: Option<Layout>,
    dim_ids: HashMap<String, u32>,
}

impl Builder<'_> {
    /// Takes the header, or checks and indexes a data record.
    fn record<S: AsRef<str>>(
        &mut self,
        fields: &[S],
        start: usize,
        end: usize,
        at: u64,
    ) -> Result<()> {
        let t = &mut self.t;
        let Some(lay) = &self.layout else {
            t.columns = fields.iter().map(|f| f.as_ref().to_string()).collect();
            t.key_idx = header_positions(&t.name, &t.columns, &self.spec.key)?;
            self.layout = Some(Layout::new(&t.columns, self.spec));
            return Ok(());
        };
        if let Err((col, msg)) = check_row(fields, t.columns.len(), &t.key_idx, &self.spec.key) {
            t.problems.push(Problem::new(&t.name, at, col, msg));
            return Ok(());
        }
        let row = t.rows.len() as u32;
        t.rows.push(RowLoc {
            start: start as u32,
            end: end as u32,
            line: at.min(u64::from(u32::MAX)) as u32,
        });
        let dim = match lay.dim_idx {
            None => 0,
            Some(i) => {
                let v = fields[i].as_ref();
                match self.dim_ids.get(v) {
                    Some(&id) => id,
                    None => {
                        let id = t.dims.len() as u32;
                        t.dims.push(v.to_string());
                        self.dim_ids.insert(v.to_string(), id);
                        id
                    }
                }
            }
        };
        let key_parts = || t.key_idx.iter().map(|&i| &fields[i]);
        let hash = hash_parts(SEEDS[0], key_parts());
        let print = hash_parts(lay.print_seed, lay.print_idx.iter().map(|&i| &fields[i]));
        t.index[bucket(hash)].push(Entry {
            hash,
            check: hash_parts(SEEDS[1], key_parts()) ^ print,
            row,
            dim,
        });
        Ok(())
    }
}

/// What a table computes per row, from the spec and the header.
struct Layout {
    /// Compared columns (not key, not ignored), ordered by name.
    print_idx: Vec<usize>,
    /// Hash of those columns' names: tables with other columns never share fingerprints.
    print_seed: u64,
    dim_idx: Option<usize>,
}

impl Layout {
    fn new(columns: &[String], spec: &DiffSpec) -> Layout {
        let mut print: Vec<(&String, usize)> = columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !spec.key.contains(c) && spec.policy(c) != &FieldPolicy::Ignore)
            .map(|(i, c)| (c, i))
            .collect();
        print.sort();
        Layout {
            print_seed: hash_parts(SEEDS[2], print.iter().map(|(c, _)| c)),
            print_idx: print.into_iter().map(|(_, i)| i).collect(),
            dim_idx: spec
                .dimension
                .as_ref()
                .and_then(|d| columns.iter().position(|c| c == d)),
        }
    }
}

impl Table {
    /// Reads a CSV file (header line first) for a diff with `spec`.
    pub fn from_file(path: &Path, spec: &DiffSpec) -> Result<Table> {
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
        Table::from_csv(&name, text, spec)
    }

    /// Parses CSV text (header line first) for a diff with `spec`. Malformed
    /// rows become [`Problem`]s; a missing header or key column is an error.
    pub fn from_csv(name: &str, text: String, spec: &DiffSpec) -> Result<Table> {
        if text.len() >= u32::MAX as usize {
            return Err(Error::invalid_data(
                "input larger than 4 GiB: sort it by key and use the streaming mode",
            )
            .with_file(name, None, None));
        }
        let mut b = Builder {
            t: Table {
                name: name.to_string(),
                text: String::new(),
                columns: Vec::new(),
                key_idx: Vec::new(),
                rows: Vec::new(),
                index: vec![Vec::new(); BUCKETS],
                dims: Vec::new(),
                problems: Vec::new(),
                lines: true,
            },
            spec,
            layout: None,
            dim_ids: HashMap::new(),
        };
        let bytes = text.as_bytes();
        // Reserve for the rows the first lines suggest, so the index is not
        // copied (and faulted in) again as it grows.
        let sample = &bytes[..bytes.len().min(1 << 16)];
        let lines = memchr::memchr_iter(b'\n', sample).count().max(1);
        let estimate = bytes.len() / (sample.len() / lines).max(1) * 21 / 20 + 16;
        b.t.rows.reserve(estimate);
        for bucket in &mut b.t.index {
            bucket.reserve(estimate / BUCKETS * 5 / 4 + 4);
        }
        let (mut pos, mut line) = (0usize, 1u64);
        if memchr(b'"', bytes).is_none() {
            // No quotes anywhere: every ',' and '\n' is a delimiter, found in one pass.
            let mut delims = memchr::memchr2_iter(b',', b'\n', bytes);
            let mut fields: Vec<&str> = Vec::with_capacity(16);
            while pos < bytes.len() {
                fields.clear();
                let (start, mut from) = (pos, pos);
                let end = loop {
                    match delims.next() {
                        Some(i) if bytes[i] == b',' => {
                            fields.push(&text[from..i]);
                            from = i + 1;
                        }
                        Some(i) => break i,
                        None => break bytes.len(),
                    }
                };
                let rec_end = if end > start && bytes[end - 1] == b'\r' {
                    end - 1
                } else {
                    end
                };
                fields.push(&text[from.min(rec_end)..rec_end]);
                let at = line;
                line += 1;
                pos = end + 1;
                if rec_end > start {
                    b.record(&fields, start, rec_end, at)?;
                }
            }
        } else {
            let mut fields: Vec<Cow<'_, str>> = Vec::new();
            while pos < bytes.len() {
                let (end, next, breaks) = record_end(bytes, pos);
                let rec = &text[pos..end];
                let (at, start) = (line, pos);
                line += 1 + breaks as u64;
                pos = next;
                if rec.is_empty() {
                    continue;
                }
                match split_record(rec, &mut fields) {
                    Ok(()) => b.record(&fields, start, end, at)?,
                    Err((col, msg)) if b.layout.is_none() => {
                        return Err(Error::invalid_data(format!("header: {msg}")).with_file(
                            name,
                            Some(at),
                            Some(col as u64),
                        ));
                    }
                    Err((col, msg)) => {
                        b.t.problems
                            .push(Problem::new(name, at, Some(col as u64), msg))
                    }
                }
            }
        }
        if b.layout.is_none() {
            return Err(Error::invalid_data("no header line").with_file(name, Some(1), None));
        }
        let mut t = b.t;
        t.text = text;
        for bucket in &mut t.index {
            // Stable: rows of one hash stay in file order (the first of a duplicate key wins).
            bucket.sort_by_key(|e| e.hash);
        }
        Ok(t)
    }

    /// Rows given as values per column (entities flattened, SQL rows),
    /// encoded once as CSV so they share the CSV path.
    pub fn from_rows<R, V>(
        name: &str,
        columns: &[String],
        rows: R,
        spec: &DiffSpec,
    ) -> Result<Table>
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
        let mut t = Table::from_csv(name, text, spec)?;
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

    pub(crate) fn index(&self) -> &[Vec<Entry>] {
        &self.index
    }

    /// The dimension values, by the id the index entries carry.
    pub(crate) fn dims(&self) -> &[String] {
        &self.dims
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
        let key = DiffSpec::new(["id"]);
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
        let key = DiffSpec::new(["sku"]);
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
    fn files_that_are_not_utf8_are_refused_with_the_place() {
        let path =
            std::env::temp_dir().join(format!("seamwork-reconcile-{}.csv", std::process::id()));
        std::fs::write(&path, b"sku,qty\nA,1\nB,\xff\n").unwrap();
        let e = Table::from_file(&path, &DiffSpec::new(["sku"])).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            (e.context().line, e.context().column),
            (Some(3), Some(3)),
            "{e}"
        );
        let missing = Table::from_file(&path, &DiffSpec::new(["sku"])).unwrap_err();
        assert!(missing.to_string().contains("cannot read"), "{missing}");
    }

    #[test]
    fn rows_round_trip_through_csv_encoding() {
        let cols: Vec<String> = vec!["k".into()];
        let t =
            Table::from_rows("rows", &cols, [["a,\"b\"\n"], [""]], &DiffSpec::new(["k"])).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t.problems().len(), 1); // the empty key is reported, not dropped
        let mut f = Vec::new();
        t.fields(0, &mut f);
        assert_eq!(f[0], "a,\"b\"\n");
    }
}
