//! What the CSV source and the drop folder share: reading one file into
//! mapped entities and bad lines, and the `(file, line)` cursor.

use std::path::Path;
use std::sync::Arc;

use chrono::Utc;

use super::files::io_error;
use super::format::{BadLine, CsvFormat, parse_rows};
use crate::connector::Cursor;
use crate::error::{Error, Result};
use crate::mapping::{ApplyOptions, CrossReferences, Mappable, MappingSpec};

/// How rows become entities: the file format, the spec, and cross-references for `lookup`.
pub(crate) struct RowMapper<E> {
    pub spec: Arc<MappingSpec<E>>,
    pub format: CsvFormat,
    pub xrefs: Option<Arc<dyn CrossReferences>>,
    pub extensions: Vec<String>,
}

impl<E> Clone for RowMapper<E> {
    fn clone(&self) -> Self {
        RowMapper {
            spec: Arc::clone(&self.spec),
            format: self.format.clone(),
            xrefs: self.xrefs.clone(),
            extensions: self.extensions.clone(),
        }
    }
}

impl<E> std::fmt::Debug for RowMapper<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowMapper")
            .field("format", &self.format)
            .field("xrefs", &self.xrefs.is_some())
            .field("extensions", &self.extensions)
            .finish()
    }
}

/// The extensions read unless told otherwise.
pub(crate) fn default_extensions() -> Vec<String> {
    ["csv", "tsv", "txt"].map(String::from).to_vec()
}

/// A file read and mapped: every data row is either an entity or a bad line.
pub(crate) struct MappedFile<E> {
    /// Entities with the line each starts on, in file order.
    pub rows: Vec<(u64, E)>,
    /// Rows that did not map, in file order, with every reason.
    pub bad: Vec<BadLine>,
}

impl<E: Mappable> RowMapper<E> {
    /// Reads and maps the file at `path`. `Ok(Err(reason))` is a file that
    /// cannot be read as CSV at all; `Err` is an I/O failure.
    pub fn map_file(&self, path: &Path) -> Result<std::result::Result<MappedFile<E>, String>> {
        let bytes = std::fs::read(path).map_err(|e| io_error(e, "cannot read", path))?;
        Ok(self.map_bytes(&bytes))
    }

    /// Maps a file's bytes (see [`RowMapper::map_file`]).
    pub fn map_bytes(&self, bytes: &[u8]) -> std::result::Result<MappedFile<E>, String> {
        let parsed = parse_rows(&self.format, bytes)?;
        let mut opts = ApplyOptions::default().with_now(Utc::now());
        if let Some(x) = &self.xrefs {
            opts = opts.with_xrefs(x.as_ref());
        }
        let mut out = MappedFile {
            rows: Vec::with_capacity(parsed.len()),
            bad: Vec::new(),
        };
        for row in parsed {
            match row {
                Err(bad) => out.bad.push(bad),
                Ok(row) => match self.spec.apply_with(&row.record, &opts) {
                    Ok(m) => out.rows.push((row.line, m.entity)),
                    Err(e) => out.bad.push(BadLine {
                        line: row.line,
                        reasons: e.failures.iter().map(ToString::to_string).collect(),
                    }),
                },
            }
        }
        Ok(out)
    }
}

/// "After line `line` of file `file`": the cursor of a record read from a file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileLineCursor {
    /// The file name (no folder).
    pub file: String,
    /// The 1-based line the record starts on.
    pub line: u64,
    /// Which version of the file (size and modification time), when known.
    /// The drop folder writes it, so a file dropped again under the same
    /// name is read from its start; `CsvSource` leaves it out (its files
    /// may grow, and appended rows continue after the line).
    pub stamp: Option<String>,
}

impl FileLineCursor {
    /// The point right after the record starting at `line` of `file`.
    pub fn new(file: impl Into<String>, line: u64) -> Self {
        FileLineCursor {
            file: file.into(),
            line,
            stamp: None,
        }
    }

    /// The same point in one version of the file.
    pub fn with_stamp(mut self, stamp: impl Into<String>) -> Self {
        self.stamp = Some(stamp.into());
        self
    }

    /// Whether this cursor points into the file `file` in its version `stamp`
    /// (a cursor without a stamp matches by name alone).
    pub fn points_into(&self, file: &str, stamp: &str) -> bool {
        self.file == file && self.stamp.as_deref().is_none_or(|s| s == stamp)
    }

    /// Encodes as `<file>#<line>`, with `~<stamp>` when the version is known.
    pub fn encode(&self) -> Cursor {
        match &self.stamp {
            Some(stamp) => Cursor::new(format!("{}#{}~{stamp}", self.file, self.line)),
            None => Cursor::new(format!("{}#{}", self.file, self.line)),
        }
    }

    /// Decodes what [`encode`](Self::encode) wrote; anything else is an `InvalidData` error naming the cursor.
    pub fn decode(cursor: &Cursor) -> Result<Self> {
        let bad = |why: &str| {
            Error::invalid_data(format!(
                "cursor {:?} is not a file#line cursor: {why}",
                cursor.as_str()
            ))
        };
        let (file, line) = cursor
            .as_str()
            .rsplit_once('#')
            .ok_or_else(|| bad("no '#'"))?;
        if file.is_empty() {
            return Err(bad("no file name"));
        }
        let (line, stamp) = match line.split_once('~') {
            Some((line, stamp)) if !stamp.is_empty() => (line, Some(stamp)),
            Some(_) => return Err(bad("an empty file version after '~'")),
            None => (line, None),
        };
        let line = line.parse::<u64>().map_err(|e| bad(&e.to_string()))?;
        let cursor = FileLineCursor::new(file, line);
        Ok(match stamp {
            Some(s) => cursor.with_stamp(s),
            None => cursor,
        })
    }

    /// Whether the row at `line` of `file` comes after this cursor.
    pub fn is_before(&self, file: &str, line: u64) -> bool {
        (self.file.as_str(), self.line) < (file, line)
    }
}

/// The lines of an error file: one `line N: reason` per reason, in file order.
pub(crate) fn bad_line_report(bad: &[BadLine]) -> String {
    let mut out = String::new();
    for b in bad {
        for r in &b.reasons {
            out.push_str(&format!("line {}: {r}\n", b.line));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_order() {
        let c = FileLineCursor::new("a#b.csv", 12);
        assert_eq!(FileLineCursor::decode(&c.encode()).unwrap(), c);
        assert!(FileLineCursor::decode(&Cursor::new("x.csv")).is_err());
        assert!(FileLineCursor::decode(&Cursor::new("#3")).is_err());
        assert!(FileLineCursor::decode(&Cursor::new("x.csv#-1")).is_err());
        assert!(c.is_before("a#b.csv", 13));
        assert!(!c.is_before("a#b.csv", 12));
        assert!(c.is_before("b.csv", 1));
        assert!(!c.is_before("A.csv", 99));
        let v = c.clone().with_stamp("120.1700000000123");
        assert_eq!(v.encode().as_str(), "a#b.csv#12~120.1700000000123");
        assert_eq!(FileLineCursor::decode(&v.encode()).unwrap(), v);
        assert!(v.points_into("a#b.csv", "120.1700000000123"));
        assert!(!v.points_into("a#b.csv", "99.1"));
        assert!(c.points_into("a#b.csv", "99.1"));
        assert!(FileLineCursor::decode(&Cursor::new("x.csv#3~")).is_err());
    }
}
