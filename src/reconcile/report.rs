//! Reports of a diff: JSON (stable schema), CSV (one line per field
//! difference), a Markdown summary, and (in `html.rs`) a self-contained
//! HTML report.
//!
//! The JSON schema (`"schema": "seamwork.reconcile/1"`):
//!
//! ```text
//! {
//!   "schema": "seamwork.reconcile/1",
//!   "left": "L.csv", "right": "R.csv", "key": ["sku", "location"],
//!   "summary": { "left_rows", "right_rows", "matched", "only_left", "only_right",
//!                "mismatched", "rejected_rows", "by_field": {"price": 3},
//!                "by_dimension": {"DC": {"matched", "only_left", "only_right", "mismatched"}} },
//!   "differences": [ { "key": {"sku": "A", "location": "DC"}, "kind": "mismatch",
//!                      "left_line": 2, "right_line": 9, "dimension": "DC",
//!                      "fields": [ {"field": "price", "left": "1.00", "right": "1.05", "delta": "0.05"} ] } ],
//!   "problems": [ {"file": "L.csv", "line": 7, "column": 3, "message": "..."} ]
//! }
//! ```
//!
//! `kind` is `only_left`, `only_right` or `mismatch`; `fields` is present for
//! mismatches only; `delta` (right − left, as a decimal string) is `null`
//! when a side is not a number; lines are absent for inputs that are not files.

use std::fmt::Write as _;
use std::io::Write;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::diff::{DiffKind, DiffReport, Difference, FieldDelta, Summary};
use super::table::{Problem, write_csv_line};
use crate::error::{Error, Result};

/// The `schema` value of the JSON report.
pub const REPORT_SCHEMA: &str = "seamwork.reconcile/1";

struct KeyObject<'a>(&'a [String], &'a [String]);

impl Serialize for KeyObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0.iter().zip(self.1) {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[derive(Serialize)]
struct DiffView<'a> {
    key: KeyObject<'a>,
    kind: DiffKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    left_line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    right_line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimension: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    fields: &'a [FieldDelta],
}

struct Differences<'a>(&'a DiffReport);

impl Serialize for Differences<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let r = self.0;
        s.collect_seq(r.differences.iter().map(|d: &Difference| DiffView {
            key: KeyObject(&r.key_columns, &d.key),
            kind: d.kind,
            left_line: d.left_line,
            right_line: d.right_line,
            dimension: d.dimension.as_deref(),
            fields: &d.fields,
        }))
    }
}

#[derive(Serialize)]
struct ReportView<'a> {
    schema: &'static str,
    left: &'a str,
    right: &'a str,
    key: &'a [String],
    summary: &'a Summary,
    differences: Differences<'a>,
    problems: &'a [Problem],
}

impl Serialize for DiffReport {
    /// The documented JSON schema (see the module docs).
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        ReportView {
            schema: REPORT_SCHEMA,
            left: &self.left,
            right: &self.right,
            key: &self.key_columns,
            summary: &self.summary,
            differences: Differences(self),
            problems: &self.problems,
        }
        .serialize(s)
    }
}

fn io_error(what: &str, e: std::io::Error) -> Error {
    Error::unavailable(format!("cannot write the {what}: {e}")).with_source(e)
}

impl DiffReport {
    /// Writes the JSON report.
    pub fn write_json(&self, out: impl Write) -> Result<()> {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
        serde_json::to_writer_pretty(&mut out, self)?;
        out.write_all(b"\n")
            .map_err(|e| io_error("JSON report", e))?;
        out.flush().map_err(|e| io_error("JSON report", e))
    }

    /// Writes one CSV line per field difference (`kind`, the key columns,
    /// `field`, `left`, `right`, `delta`); a key only one side has gets one
    /// line with an empty field.
    pub fn write_csv(&self, out: impl Write) -> Result<()> {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
        let mut line = String::new();
        let mut header = vec!["kind"];
        header.extend(self.key_columns.iter().map(String::as_str));
        header.extend(["field", "left", "right", "delta"]);
        write_csv_line(&mut line, header.into_iter());
        for d in &self.differences {
            let empty = FieldDelta {
                field: String::new(),
                left: String::new(),
                right: String::new(),
                delta: None,
            };
            let fields = if d.fields.is_empty() {
                std::slice::from_ref(&empty)
            } else {
                &d.fields[..]
            };
            for f in fields {
                let delta = f.delta.map(|x| x.to_string()).unwrap_or_default();
                let mut cells: Vec<&str> = vec![d.kind.name()];
                cells.extend(d.key.iter().map(String::as_str));
                cells.extend([f.field.as_str(), &f.left, &f.right, &delta]);
                write_csv_line(&mut line, cells.into_iter());
            }
            if line.len() > 1 << 15 {
                out.write_all(line.as_bytes())
                    .map_err(|e| io_error("CSV report", e))?;
                line.clear();
            }
        }
        out.write_all(line.as_bytes())
            .map_err(|e| io_error("CSV report", e))?;
        out.flush().map_err(|e| io_error("CSV report", e))
    }

    /// A short Markdown summary: counts, the fields that differ most, the
    /// dimensions with most differences, the first differences and problems.
    pub fn markdown(&self, limit: usize) -> String {
        let s = &self.summary;
        let mut m = String::new();
        let _ = writeln!(m, "# Reconciliation: {} vs {}\n", self.left, self.right);
        let _ = writeln!(m, "| | count |\n|---|---:|");
        for (name, n) in s.counts() {
            let _ = writeln!(m, "| {name} | {n} |");
        }
        if !s.by_field.is_empty() {
            let _ = writeln!(
                m,
                "\n## Mismatches by field\n\n| field | keys |\n|---|---:|"
            );
            for (f, n) in s.fields_by_count() {
                let _ = writeln!(m, "| {} | {n} |", md(f));
            }
        }
        if !s.by_dimension.is_empty() {
            let _ = writeln!(
                m,
                "\n## By dimension\n\n| value | matched | only left | only right | mismatched |\n|---|---:|---:|---:|---:|"
            );
            for (v, c) in &s.by_dimension {
                let _ = writeln!(
                    m,
                    "| {} | {} | {} | {} | {} |",
                    md(v),
                    c.matched,
                    c.only_left,
                    c.only_right,
                    c.mismatched
                );
            }
        }
        if !self.differences.is_empty() {
            let _ = writeln!(
                m,
                "\n## Differences (first {})\n",
                limit.min(self.differences.len())
            );
            let _ = writeln!(m, "| key | kind | fields |\n|---|---|---|");
            for d in self.differences.iter().take(limit) {
                let fields: Vec<String> = d
                    .fields
                    .iter()
                    .map(|f| format!("{}: {} → {}", f.field, f.left, f.right))
                    .collect();
                let _ = writeln!(
                    m,
                    "| {} | {} | {} |",
                    md(&d.key.join(" @ ")),
                    d.kind.name(),
                    md(&fields.join("; "))
                );
            }
        }
        if !self.problems.is_empty() {
            let _ = writeln!(m, "\n## Problems ({})\n", self.problems.len());
            for p in self.problems.iter().take(limit) {
                let _ = writeln!(m, "- {}", md(&p.to_string()));
            }
        }
        m
    }
}

/// Escapes the characters that would break a Markdown table cell.
fn md(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::super::{DiffOptions, DiffSpec, Table, diff_tables};

    fn report() -> super::DiffReport {
        let spec = DiffSpec::new(["sku", "loc"]);
        let l = Table::from_csv(
            "l.csv",
            "sku,loc,qty,note\nA,X,1,a\nB,X,2,b\nC,X,2,c|d\n".into(),
            &spec,
        )
        .unwrap();
        let r = Table::from_csv(
            "r.csv",
            "sku,loc,qty,note\nA,X,1,a\nB,X,5,\"b,\"\nD,X,1,d\nE,1\n".into(),
            &spec,
        )
        .unwrap();
        diff_tables(&l, &r, &spec, &DiffOptions::default()).unwrap()
    }

    #[test]
    fn json_follows_the_documented_schema() {
        let mut out = Vec::new();
        report().write_json(&mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["schema"], "seamwork.reconcile/1");
        assert_eq!(v["summary"]["mismatched"], 1);
        assert_eq!(v["summary"]["by_field"]["qty"], 1);
        let b = &v["differences"][0];
        assert_eq!(b["key"], serde_json::json!({"sku": "B", "loc": "X"}));
        assert_eq!(b["kind"], "mismatch");
        assert_eq!(
            b["fields"][0],
            serde_json::json!({"field": "qty", "left": "2", "right": "5", "delta": "3"})
        );
        assert_eq!(b["fields"][1]["delta"], serde_json::Value::Null);
        assert_eq!(v["differences"][1]["kind"], "only_left");
        assert!(v["differences"][1].get("fields").is_none());
        assert_eq!(v["problems"][0]["line"], 5);
        assert_eq!(v["problems"][0]["column"], 3);
    }

    #[test]
    fn csv_has_one_line_per_field_difference() {
        let mut out = Vec::new();
        report().write_csv(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "kind,sku,loc,field,left,right,delta",
                "mismatch,B,X,qty,2,5,3",
                "mismatch,B,X,note,b,\"b,\",",
                "only_left,C,X,,,,",
                "only_right,D,X,,,,",
            ]
        );
    }

    #[test]
    fn markdown_escapes_cells() {
        let md = report().markdown(10);
        assert!(md.contains("| mismatched | 1 |"), "{md}");
        assert!(md.contains("r.csv:5:3: expected 4 fields, found 2"), "{md}");
        assert!(
            md.contains("| B @ X | mismatch | qty: 2 → 5; note: b → b, |"),
            "{md}"
        );
    }
}
