//! The shape of a CSV/TSV file: delimiter, quoting, how columns are named,
//! and reading a file's bytes into the rows a mapping spec reads.

use serde_json::Value;

use crate::mapping::value::record_from_columns;

/// How a file's columns are named, i.e. what a spec's `from` refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Columns {
    /// The first row is a header; `from = "PRICE"` names a header column.
    Header,
    /// No header row; columns are named by their 1-based position
    /// (`from = "3"` is the third column). For fixed-layout ERP exports.
    Positions,
    /// No header row; these names, in order, name the columns. A row with
    /// another number of fields is a bad line.
    Named(Vec<String>),
}

/// Delimiter, quoting and column naming of a CSV or TSV file.
///
/// The text must be UTF-8; a leading byte order mark is tolerated (Excel
/// writes one). Decimal commas are not a file option: they belong to the
/// mapping (`{ decimal = { separator = "," } }`), per column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvFormat {
    pub(crate) delimiter: u8,
    pub(crate) quote: Option<u8>,
    pub(crate) escape: Option<u8>,
    pub(crate) columns: Columns,
    pub(crate) crlf: bool,
}

impl Default for CsvFormat {
    fn default() -> Self {
        CsvFormat::csv()
    }
}

impl CsvFormat {
    /// Comma-separated, `"` quotes (doubled inside a field), a header row.
    pub fn csv() -> Self {
        CsvFormat {
            delimiter: b',',
            quote: Some(b'"'),
            escape: None,
            columns: Columns::Header,
            crlf: false,
        }
    }

    /// Tab-separated with a header row. Quoting stays on (as Excel writes
    /// TSV), so a field may still hold a tab or a newline; use
    /// [`without_quoting`](Self::without_quoting) for strict TSV.
    pub fn tsv() -> Self {
        CsvFormat {
            delimiter: b'\t',
            ..CsvFormat::csv()
        }
    }

    /// Separates fields with `delimiter` (`;` for many European exports).
    pub fn with_delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// Quotes fields with `quote` instead of `"`.
    pub fn with_quote(mut self, quote: u8) -> Self {
        self.quote = Some(quote);
        self
    }

    /// Reads quote characters as ordinary text. A sink in this format
    /// rejects a value holding the delimiter, a quote or a line break,
    /// because it could not be written back unambiguously.
    pub fn without_quoting(mut self) -> Self {
        self.quote = None;
        self
    }

    /// Escapes quotes inside a quoted field with `escape` (`\"`) instead of doubling them (`""`).
    pub fn with_escape(mut self, escape: u8) -> Self {
        self.escape = Some(escape);
        self
    }

    /// Names columns as `columns` says (header, positions or given names).
    pub fn with_columns(mut self, columns: Columns) -> Self {
        self.columns = columns;
        self
    }

    /// Ends written lines with CRLF (for Windows tools that insist); reading accepts both.
    pub fn with_crlf(mut self, yes: bool) -> Self {
        self.crlf = yes;
        self
    }

    /// How columns are named.
    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    pub(crate) fn reader_builder(&self) -> csv::ReaderBuilder {
        let mut b = csv::ReaderBuilder::new();
        b.delimiter(self.delimiter)
            .has_headers(false)
            .flexible(true)
            .quoting(self.quote.is_some())
            .quote(self.quote.unwrap_or(b'"'))
            .escape(self.escape)
            .double_quote(self.escape.is_none());
        b
    }

    pub(crate) fn writer_builder(&self) -> csv::WriterBuilder {
        let mut b = csv::WriterBuilder::new();
        b.delimiter(self.delimiter)
            .has_headers(false)
            .flexible(true)
            .quote(self.quote.unwrap_or(b'"'))
            .quote_style(if self.quote.is_some() {
                csv::QuoteStyle::Necessary
            } else {
                csv::QuoteStyle::Never
            })
            .double_quote(self.escape.is_none())
            .escape(self.escape.unwrap_or(b'\\'))
            .terminator(if self.crlf {
                csv::Terminator::CRLF
            } else {
                csv::Terminator::Any(b'\n')
            });
        b
    }
}

/// One data row of a file: its first line number and the record tree a spec reads.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    /// 1-based line where the row starts (a quoted field may span lines).
    pub line: u64,
    /// One object, each column a text value.
    pub record: Value,
}

/// A line that could not become a record, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line where the row starts in its file.
    pub line: u64,
    /// What was wrong, one reason per problem (every failed field is listed).
    pub reasons: Vec<String>,
}

/// The UTF-8 byte order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Splits a whole file into rows. `Err` is a problem with the file itself
/// (not text we can read, a broken header): nothing in it can be trusted.
pub(crate) fn parse_rows(
    format: &CsvFormat,
    bytes: &[u8],
) -> Result<Vec<Result<Row, BadLine>>, String> {
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(
            "the file is UTF-16 (byte order mark FF FE / FE FF); export it as UTF-8".into(),
        );
    }
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let mut reader = format.reader_builder().from_reader(bytes);
    let mut records = reader.byte_records();
    let names: Option<Vec<String>> = match &format.columns {
        Columns::Positions => None,
        Columns::Named(names) => {
            // Checked once per file, not found again on every row.
            record_from_columns(names.iter().map(|n| (n.clone(), String::new())))
                .map_err(|e| format!("the configured column names: {e}"))?;
            Some(names.clone())
        }
        Columns::Header => match records.next() {
            None => return Ok(Vec::new()),
            Some(Err(e)) => return Err(format!("the header row cannot be read: {e}")),
            Some(Ok(header)) => {
                let names = header
                    .iter()
                    .enumerate()
                    .map(|(i, h)| {
                        String::from_utf8(h.to_vec())
                            .map_err(|_| format!("header column {} is not UTF-8 text", i + 1))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                // A duplicate header is a file problem: no row of it can be mapped safely.
                record_from_columns(names.iter().map(|n| (n.clone(), String::new())))
                    .map_err(|e| format!("line 1: {e}"))?;
                Some(names)
            }
        },
    };
    let mut rows = Vec::new();
    let mut lines = LineCounter::new(bytes);
    for item in records {
        let record = match item {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
                rows.push(Err(BadLine {
                    line,
                    reasons: vec![format!("not a CSV row: {e}")],
                }));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
        rows.push(row_of(names.as_deref(), &record, line));
    }
    Ok(rows)
}

/// Line numbers of record starts. The csv crate's own line count skips
/// blank lines and miscounts CRLF, and its byte offset may point at the
/// previous line's terminator or at skipped blank lines; so the offset is
/// moved past line breaks and the `\n`s before it are counted here.
struct LineCounter<'a> {
    bytes: &'a [u8],
    at: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            at: 0,
            line: 1,
        }
    }

    /// The 1-based line of the record the reader says starts at `offset` (offsets only grow).
    fn line_at(&mut self, offset: u64) -> u64 {
        let mut start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        while start < self.bytes.len() && matches!(self.bytes[start], b'\r' | b'\n') {
            start += 1;
        }
        if start >= self.at {
            self.line += memchr::memchr_iter(b'\n', &self.bytes[self.at..start]).count() as u64;
            self.at = start;
        }
        self.line
    }
}

/// One raw row as a record, or why it cannot be one.
fn row_of(names: Option<&[String]>, record: &csv::ByteRecord, line: u64) -> Result<Row, BadLine> {
    let bad = |reason: String| BadLine {
        line,
        reasons: vec![reason],
    };
    let mut values = Vec::with_capacity(record.len());
    for (i, field) in record.iter().enumerate() {
        match std::str::from_utf8(field) {
            Ok(v) => values.push(v.to_string()),
            Err(_) => {
                let col = names
                    .and_then(|n| n.get(i))
                    .map_or_else(|| format!("column {}", i + 1), |n| format!("column {n:?}"));
                return Err(bad(format!("{col} is not UTF-8 text")));
            }
        }
    }
    let record = match names {
        Some(names) if names.len() != values.len() => {
            return Err(bad(format!(
                "has {} field(s), but there are {} column(s)",
                values.len(),
                names.len()
            )));
        }
        Some(names) => record_from_columns(names.iter().cloned().zip(values)),
        None => record_from_columns((1..).map(|i: usize| i.to_string()).zip(values)),
    }
    .map_err(bad)?;
    Ok(Row { line, record })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows(format: &CsvFormat, text: &[u8]) -> Vec<Result<Row, BadLine>> {
        parse_rows(format, text).unwrap()
    }

    #[test]
    fn header_bom_quotes_and_line_numbers() {
        let text = b"\xEF\xBB\xBFSKU,NOTE\nA,\"two\nlines\"\n\nB,plain\nC\n";
        let got = rows(&CsvFormat::csv(), text);
        assert_eq!(got.len(), 3, "{got:?}");
        let a = got[0].as_ref().unwrap();
        assert_eq!(
            (a.line, &a.record),
            (2, &json!({"SKU": "A", "NOTE": "two\nlines"}))
        );
        let b = got[1].as_ref().unwrap();
        assert_eq!(b.line, 5);
        let c = got[2].as_ref().unwrap_err();
        assert_eq!(c.line, 6);
        assert!(
            c.reasons[0].contains("has 1 field(s), but there are 2"),
            "{c:?}"
        );
    }

    #[test]
    fn positions_and_names() {
        let f = CsvFormat::tsv().with_columns(Columns::Positions);
        let got = rows(&f, b"A\t1\nB\t2\t9\n");
        assert_eq!(
            got[1].as_ref().unwrap().record,
            json!({"1": "B", "2": "2", "3": "9"})
        );
        let f = CsvFormat::csv().with_columns(Columns::Named(vec!["sku".into(), "qty".into()]));
        let got = rows(&f, b"A;1\n");
        assert!(got[0].is_err()); // wrong delimiter: one field
        let got = rows(&f.with_delimiter(b';'), b"A;1\n");
        assert_eq!(
            got[0].as_ref().unwrap().record,
            json!({"sku": "A", "qty": "1"})
        );
    }

    #[test]
    fn file_problems() {
        let e = parse_rows(&CsvFormat::csv(), b"A,B,A\n1,2,3\n").unwrap_err();
        assert!(e.contains("\"A\" appears twice"), "{e}");
        let twice = CsvFormat::csv().with_columns(Columns::Named(vec!["a".into(), "a".into()]));
        let e = parse_rows(&twice, b"1,2\n3,4\n").unwrap_err();
        assert!(e.contains("configured column names"), "{e}");
        let e = parse_rows(&CsvFormat::csv(), b"\xFF\xFEA\x00").unwrap_err();
        assert!(e.contains("UTF-16"), "{e}");
        let got = rows(&CsvFormat::csv(), b"A\n\xC3\x28\n");
        assert!(got[0].as_ref().unwrap_err().reasons[0].contains("not UTF-8"));
        assert!(rows(&CsvFormat::csv(), b"").is_empty());
    }

    #[test]
    fn line_numbers_count_blank_lines_and_crlf() {
        let lines = |text: &[u8]| -> Vec<u64> {
            let f = CsvFormat::csv().with_columns(Columns::Positions);
            rows(&f, text)
                .into_iter()
                .map(|r| r.unwrap().line)
                .collect()
        };
        assert_eq!(lines(b"H\nA\n\nB\n"), [1, 2, 4]);
        assert_eq!(lines(b"H\n\"A\nx\"\nB\n"), [1, 2, 4]);
        assert_eq!(lines(b"H\r\nA\r\n\r\n\r\nB\r\nC"), [1, 2, 5, 6]);
        assert_eq!(lines(b"\n\nH\n"), [3]);
    }
}
