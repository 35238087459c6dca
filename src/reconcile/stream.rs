//! The streaming mode: both inputs sorted by key, merged record by record,
//! so memory stays bounded whatever their size.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::io::BufRead;

use super::diff::{DiffReport, Difference, Plan, Seen, Tally, duplicate_message};
use super::spec::DiffSpec;
use super::table::{Problem, check_row, header_positions, split_record};
use crate::error::{Error, Result};

/// A CSV input read one record at a time (header line first).
#[derive(Debug)]
pub struct CsvStream<R> {
    name: String,
    reader: R,
    columns: Vec<String>,
    key: Vec<String>,
    key_idx: Vec<usize>,
    line: u64,
    rec: String,
}

impl<R: BufRead> CsvStream<R> {
    /// Reads the header; a missing header or key column is an error naming `name`.
    pub fn new(name: &str, reader: R, key: &[String]) -> Result<Self> {
        let mut s = CsvStream {
            name: name.to_string(),
            reader,
            columns: Vec::new(),
            key: key.to_vec(),
            key_idx: Vec::new(),
            line: 1,
            rec: String::new(),
        };
        let Some(at) = s.next_raw()? else {
            return Err(Error::invalid_data("no header line").with_file(name, Some(1), None));
        };
        let mut fields = Vec::new();
        split_record(&s.rec, &mut fields).map_err(|(col, msg)| {
            Error::invalid_data(format!("header: {msg}")).with_file(
                name,
                Some(at),
                Some(col as u64),
            )
        })?;
        s.columns = fields.iter().map(|f| f.to_string()).collect();
        s.key_idx = header_positions(name, &s.columns, key)?;
        Ok(s)
    }

    /// The header's columns.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The next non-blank record into `self.rec`, with the line it starts on.
    fn next_raw(&mut self) -> Result<Option<u64>> {
        loop {
            self.rec.clear();
            let start = self.line;
            if self.read_line()? == 0 {
                return Ok(None);
            }
            // A quoted field may span lines; count quotes once per line read.
            let mut quotes = memchr::memchr_iter(b'"', self.rec.as_bytes()).count();
            while quotes % 2 == 1 {
                let from = self.rec.len();
                if self.read_line()? == 0 {
                    break;
                }
                quotes += memchr::memchr_iter(b'"', &self.rec.as_bytes()[from..]).count();
            }
            if self.rec.ends_with('\n') {
                self.rec.pop();
            }
            if self.rec.ends_with('\r') {
                self.rec.pop();
            }
            if !self.rec.is_empty() {
                return Ok(Some(start));
            }
        }
    }

    fn read_line(&mut self) -> Result<usize> {
        let n = self.reader.read_line(&mut self.rec).map_err(|e| {
            Error::invalid_data(format!("cannot read {}: {e}", self.name))
                .with_file(self.name.clone(), Some(self.line), None)
                .with_source(e)
        })?;
        if n > 0 {
            self.line += 1;
        }
        Ok(n)
    }
}

/// One side of the merge: the current row and the one before it (to check order).
struct Side<R> {
    stream: CsvStream<R>,
    left: bool,
    cur: Option<(u64, Vec<String>)>,
    prev: Option<(u64, Vec<String>)>,
    rows: u64,
}

impl<R: BufRead> Side<R> {
    fn new(stream: CsvStream<R>, left: bool) -> Self {
        Side {
            stream,
            left,
            cur: None,
            prev: None,
            rows: 0,
        }
    }

    /// Moves to the next usable row; malformed and duplicate rows become
    /// problems, a key out of order is an error.
    fn advance(&mut self, plan: &Plan, t: &mut Tally) -> Result<()> {
        if let Some(c) = self.cur.take() {
            self.prev = Some(c);
        }
        loop {
            let Some(line) = self.stream.next_raw()? else {
                return Ok(());
            };
            let s = &self.stream;
            let mut parts: Vec<Cow<'_, str>> = Vec::with_capacity(s.columns.len());
            if let Err((col, msg)) = split_record(&s.rec, &mut parts) {
                t.problems
                    .push(Problem::new(&s.name, line, Some(col as u64), msg));
                t.summary.rejected_rows += 1;
                continue;
            }
            if let Err((col, msg)) = check_row(&parts, s.columns.len(), &s.key_idx, &s.key) {
                t.problems.push(Problem::new(&s.name, line, col, msg));
                t.summary.rejected_rows += 1;
                continue;
            }
            if let Some((pline, prev)) = &self.prev {
                match plan.same_side_cmp(self.left, prev, &parts) {
                    Ordering::Less => {}
                    Ordering::Equal => {
                        let msg = duplicate_message(&plan.key_of(self.left, &parts), Some(*pline));
                        t.problems.push(Problem::new(&s.name, line, None, msg));
                        t.summary.rejected_rows += 1;
                        continue;
                    }
                    Ordering::Greater => {
                        return Err(Error::invalid_data(format!(
                            "key ({}) sorts before the key ({}) of line {pline}: the streaming mode needs input sorted by key",
                            plan.key_of(self.left, &parts).join(", "),
                            plan.key_of(self.left, prev).join(", "),
                        ))
                        .with_file(s.name.clone(), Some(line), None));
                    }
                }
            }
            let mut fields = self.prev.take().map(|(_, f)| f).unwrap_or_default();
            fields.truncate(parts.len());
            fields.resize_with(parts.len(), String::new);
            for (f, p) in fields.iter_mut().zip(&parts) {
                f.clear();
                f.push_str(p);
            }
            self.cur = Some((line, fields));
            self.rows += 1;
            return Ok(());
        }
    }

    fn seen(&self) -> Option<Seen<'_, String>> {
        self.cur.as_ref().map(|(line, f)| Seen {
            fields: f.as_slice(),
            line: Some(*line),
        })
    }
}

/// Diffs two inputs sorted by key (the streaming mode), collecting every
/// difference. Gives the same report as [`diff_tables`](super::diff_tables)
/// on the same inputs; a key out of order is an error naming its line.
///
/// ```
/// use seamwork::reconcile::{diff_sorted, CsvStream, DiffSpec};
///
/// let spec = DiffSpec::new(["sku"]);
/// let left = CsvStream::new("l.csv", "sku,qty\nA,1\nB,2\n".as_bytes(), &spec.key).unwrap();
/// let right = CsvStream::new("r.csv", "sku,qty\nB,2\nA,1\n".as_bytes(), &spec.key).unwrap();
/// let err = diff_sorted(left, right, &spec).unwrap_err();
/// assert_eq!(err.context().line, Some(3));
/// ```
pub fn diff_sorted<L: BufRead, R: BufRead>(
    left: CsvStream<L>,
    right: CsvStream<R>,
    spec: &DiffSpec,
) -> Result<DiffReport> {
    let mut all = Vec::new();
    let mut report = diff_sorted_with(left, right, spec, |d| all.push(d))?;
    report.differences = all;
    Ok(report)
}

/// [`diff_sorted`] handing each difference to `on_difference` as it is found
/// (in key order) instead of keeping it: memory stays bounded.
pub fn diff_sorted_with<L: BufRead, R: BufRead>(
    left: CsvStream<L>,
    right: CsvStream<R>,
    spec: &DiffSpec,
    mut on_difference: impl FnMut(Difference),
) -> Result<DiffReport> {
    let mut problems = Vec::new();
    let plan = Plan::new(
        spec,
        (&left.name, &left.columns),
        (&right.name, &right.columns),
        &mut problems,
    )?;
    let mut t = Tally::new(&plan);
    t.problems = problems;
    let (mut l, mut r) = (Side::new(left, true), Side::new(right, false));
    l.advance(&plan, &mut t)?;
    r.advance(&plan, &mut t)?;
    loop {
        let step = match (l.seen(), r.seen()) {
            (None, None) => break,
            (Some(a), None) => {
                t.only(&plan, true, a);
                (true, false)
            }
            (None, Some(b)) => {
                t.only(&plan, false, b);
                (false, true)
            }
            (Some(a), Some(b)) => match plan.key_cmp(a.fields, b.fields) {
                Ordering::Less => {
                    t.only(&plan, true, a);
                    (true, false)
                }
                Ordering::Greater => {
                    t.only(&plan, false, b);
                    (false, true)
                }
                Ordering::Equal => {
                    t.both(&plan, a, b);
                    (true, true)
                }
            },
        };
        for d in t.differences.drain(..) {
            on_difference(d);
        }
        if step.0 {
            l.advance(&plan, &mut t)?;
        }
        if step.1 {
            r.advance(&plan, &mut t)?;
        }
    }
    t.summary.left_rows = l.rows;
    t.summary.right_rows = r.rows;
    Ok(t.finish(&plan, spec, (&l.stream.name, &r.stream.name)))
}
