//! `CsvSink`: writes batches as new CSV files in an outbox, atomically, and
//! remembers what it wrote so a repeated batch is `Unchanged`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::files::{blocking, io_error, write_atomically};
use super::format::{Columns, CsvFormat};
use crate::connector::{Capability, Connector, EntityKind, Sink, WriteOutcome, WriteResult};
use crate::error::{Error, ErrorKind, Result};
use crate::mapping::value::MAX_INDEX;
use crate::mapping::{ApplyOptions, CrossReferences, Mappable, MappingSpec};
use crate::model::SystemId;

/// The file name pattern used unless told otherwise.
pub const DEFAULT_FILE_NAME: &str = "{entity}-{timestamp}-{seq}.csv";

/// Placeholders a file name pattern may use.
const PLACEHOLDERS: &[&str] = &["entity", "system", "timestamp", "date", "seq"];

/// What the sink remembers between runs, in `.seamwork-csv-sink-<entity>.json` in the outbox.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct SinkState {
    /// The last file sequence number used.
    seq: u64,
    /// Canonical key → fingerprint of the row last written for it.
    written: BTreeMap<String, String>,
}

/// Writes entities as CSV/TSV files in an outbox folder, mapped back to the
/// outside columns with [`MappingSpec::to_payload`].
///
/// **Atomic files.** Each `upsert` that has something to write produces one
/// new file, named by a pattern (default [`DEFAULT_FILE_NAME`]:
/// `variant-20260101T120000123Z-000042.csv`). The rows are written to a hidden
/// temp file (`.<name>.<pid>.tmp`) in the outbox, fsynced, renamed to the
/// final name and the folder fsynced: a reader (an ERP import job) sees the
/// whole file or none of it, and hidden temp names are skipped by every
/// reader in this module.
///
/// **Idempotence.** The sink keeps, per canonical key, a fingerprint of the
/// row it last wrote, in `.seamwork-csv-sink-<entity>.json` beside the files
/// (written atomically after each file). A record whose row matches is
/// `Unchanged` and not written again; a new key is `Created`; a changed row is
/// `Updated` (the new file carries the new row; the ERP applies files in
/// name order). If the process dies between the data file and the state
/// file, the retry writes those rows once more in a new file: a repeat, never
/// a loss. A state file that cannot be read is an error, never silently
/// reset (that would re-send everything).
///
/// The index holds one entry per key ever written (a few dozen bytes each)
/// and belongs to one sink: give each sink (and entity) its own outbox
/// writer process.
///
/// **Rejections.** A record that fails its model's `validate()`, cannot be
/// mapped back, or yields a value a CSV cell cannot hold (a nested object; a
/// delimiter or line break when quoting is off; a column not in a fixed
/// layout) is `Rejected` with the reason; the rest of the batch is written.
pub struct CsvSink<E> {
    system: SystemId,
    outbox: PathBuf,
    spec: Arc<MappingSpec<E>>,
    format: CsvFormat,
    pattern: Vec<Piece>,
    columns: Option<Vec<String>>,
    max_batch: Option<usize>,
    xrefs: Option<Arc<dyn CrossReferences>>,
    state_path: PathBuf,
    state: tokio::sync::Mutex<SinkState>,
}

impl<E> std::fmt::Debug for CsvSink<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvSink")
            .field("system", &self.system)
            .field("outbox", &self.outbox)
            .field("format", &self.format)
            .field("pattern", &self.pattern)
            .field("columns", &self.columns)
            .field("max_batch", &self.max_batch)
            .finish()
    }
}

/// A piece of a file name pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(&'static str),
}

fn parse_pattern(pattern: &str) -> Result<Vec<Piece>> {
    let bad = |why: String| Error::config(format!("file name pattern {pattern:?}: {why}"));
    let mut pieces = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            pieces.push(Piece::Text(rest[..open].to_string()));
        }
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| bad("a `{` is not closed".into()))?;
        let name = &rest[open + 1..open + close];
        let field = PLACEHOLDERS.iter().find(|p| **p == name).ok_or_else(|| {
            bad(format!(
                "unknown placeholder {{{name}}}; use {}",
                PLACEHOLDERS
                    .iter()
                    .map(|p| format!("{{{p}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        pieces.push(Piece::Field(field));
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    let text: String = pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Text(t) => Some(t.as_str()),
            Piece::Field(_) => None,
        })
        .collect();
    if text.contains(['/', '\\', '}']) {
        return Err(bad(
            "must be a plain file name (no `/`, `\\` or stray `}`)".into()
        ));
    }
    if !pieces.contains(&Piece::Field("seq")) {
        return Err(bad(
            "must contain {seq} so that every file gets its own name".into(),
        ));
    }
    if matches!(pieces.first(), Some(Piece::Text(t)) if t.starts_with('.')) {
        return Err(bad(
            "must not start with `.`: readers skip hidden files".into()
        ));
    }
    Ok(pieces)
}

impl<E: Mappable> CsvSink<E> {
    /// A sink writing into `outbox` (created if missing), loading what it
    /// wrote before from its state file there.
    pub fn open(
        system: SystemId,
        outbox: impl Into<PathBuf>,
        spec: Arc<MappingSpec<E>>,
        format: CsvFormat,
    ) -> Result<Self> {
        let outbox = outbox.into();
        std::fs::create_dir_all(&outbox).map_err(|e| io_error(e, "cannot create", &outbox))?;
        let state_path = outbox.join(format!(".seamwork-csv-sink-{}.json", E::KIND.name()));
        let state = match std::fs::read(&state_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::config(format!(
                    "sink state {} is damaged ({e}); move it away only if every file it lists was delivered, or the sink re-sends everything",
                    state_path.display()
                ))
                .with_file(state_path.display().to_string(), Some(e.line() as u64), Some(e.column() as u64))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => SinkState::default(),
            Err(e) => return Err(io_error(e, "cannot read", &state_path)),
        };
        Ok(CsvSink {
            system,
            outbox,
            spec,
            format,
            pattern: parse_pattern(DEFAULT_FILE_NAME)?,
            columns: None,
            max_batch: None,
            xrefs: None,
            state_path,
            state: tokio::sync::Mutex::new(state),
        })
    }

    /// Names files by `pattern`: `{entity}`, `{system}`, `{timestamp}`
    /// (UTC, `20260101T120000123Z`), `{date}` (`20260101`) and `{seq}` (6
    /// digits, required; it survives restarts) around plain text.
    pub fn with_file_name(mut self, pattern: &str) -> Result<Self> {
        self.pattern = parse_pattern(pattern)?;
        Ok(self)
    }

    /// Writes the header columns in this order (default: the mapped columns in name order).
    /// A record mapping to a column not listed is rejected.
    pub fn with_column_order<S: Into<String>>(
        mut self,
        columns: impl IntoIterator<Item = S>,
    ) -> Self {
        self.columns = Some(columns.into_iter().map(Into::into).collect());
        self
    }

    /// Refuses batches larger than `max` (one file never holds more rows).
    pub fn with_max_batch(mut self, max: Option<usize>) -> Self {
        self.max_batch = max;
        self
    }

    /// Resolves `lookup` transforms through `xrefs` on the way back.
    pub fn with_xrefs(mut self, xrefs: Arc<dyn CrossReferences>) -> Self {
        self.xrefs = Some(xrefs);
        self
    }

    /// The outbox folder.
    pub fn outbox(&self) -> &Path {
        &self.outbox
    }

    /// The file the sink keeps its key → fingerprint index in.
    pub fn state_path(&self) -> &Path {
        &self.state_path
    }

    fn file_name(&self, seq: u64) -> String {
        let now = Utc::now();
        self.pattern
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.clone(),
                Piece::Field("entity") => E::KIND.name().to_string(),
                Piece::Field("system") => self.system.as_str().to_string(),
                Piece::Field("timestamp") => now.format("%Y%m%dT%H%M%S%3fZ").to_string(),
                Piece::Field("date") => now.format("%Y%m%d").to_string(),
                Piece::Field(_) => format!("{seq:06}"),
            })
            .collect()
    }

    /// The row `entity` becomes: column → cell text, or why it cannot be written.
    fn row_of(&self, entity: &E, opts: &ApplyOptions<'_>) -> Result<BTreeMap<String, String>> {
        entity.validate()?;
        let payload = self.spec.to_payload(entity, opts)?;
        let key = entity.key();
        let reject = |why: String| {
            Error::invalid_data(format!("{} {key}: {why}", E::KIND.name()))
                .with_entity(E::KIND.name())
                .with_key(key.as_str())
        };
        let Value::Object(fields) = payload else {
            return Err(reject("the mapping produced no columns".into()));
        };
        let mut row = BTreeMap::new();
        for (column, value) in fields {
            let text = match value {
                Value::Null => String::new(),
                Value::String(s) => s,
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                Value::Array(_) | Value::Object(_) => {
                    return Err(reject(format!(
                        "column {column:?} would hold a nested list or object; a CSV cell holds text (map it from a column name, join lists with `split`)"
                    )));
                }
            };
            if let Some(why) = self.cell_problem(&column, &text) {
                return Err(reject(why));
            }
            row.insert(column, text);
        }
        Ok(row)
    }

    /// Why `text` cannot go into `column` in this format, if it cannot.
    fn cell_problem(&self, column: &str, text: &str) -> Option<String> {
        let fixed = match (&self.format.columns, &self.columns) {
            (Columns::Named(names), _) | (_, Some(names)) => Some(names),
            _ => None,
        };
        if let Some(names) = fixed
            && !names.iter().any(|n| n == column)
        {
            return Some(format!(
                "column {column:?} is not one of the sink's columns ({})",
                names.join(", ")
            ));
        }
        if self.format.columns == Columns::Positions
            && fixed.is_none()
            && !column
                .parse::<usize>()
                .is_ok_and(|i| (1..=MAX_INDEX).contains(&i))
        {
            return Some(format!(
                "column {column:?} is not a position (1 to {MAX_INDEX}) in a file without a header"
            ));
        }
        if self.format.quote.is_none() {
            let delimiter = char::from(self.format.delimiter);
            if text.contains(['\n', '\r', delimiter]) {
                return Some(format!(
                    "column {column:?}: {text:?} holds the delimiter or a line break, which a file without quoting cannot hold"
                ));
            }
        }
        None
    }

    /// The header, in the order columns are written.
    fn column_order(&self, rows: &[&BTreeMap<String, String>]) -> Vec<String> {
        if let Columns::Named(names) = &self.format.columns {
            return names.clone();
        }
        if let Some(c) = &self.columns {
            return c.clone();
        }
        let all: BTreeSet<&String> = rows.iter().flat_map(|r| r.keys()).collect();
        if self.format.columns == Columns::Positions {
            let last = all
                .iter()
                .filter_map(|c| c.parse::<usize>().ok())
                .max()
                .unwrap_or(0);
            return (1..=last).map(|i| i.to_string()).collect();
        }
        all.into_iter().cloned().collect()
    }

    fn render(&self, rows: &[&BTreeMap<String, String>]) -> Result<Vec<u8>> {
        let columns = self.column_order(rows);
        let mut w = self.format.writer_builder().from_writer(Vec::new());
        let csv_error =
            |e: csv::Error| Error::new(ErrorKind::Unexpected, format!("cannot render CSV: {e}"));
        if self.format.columns == Columns::Header {
            w.write_record(&columns).map_err(csv_error)?;
        }
        for row in rows {
            w.write_record(
                columns
                    .iter()
                    .map(|c| row.get(c).map_or("", String::as_str)),
            )
            .map_err(csv_error)?;
        }
        w.into_inner()
            .map_err(|e| Error::new(ErrorKind::Unexpected, format!("cannot render CSV: {e}")))
    }
}

/// A fingerprint of a row's content, independent of column order.
fn fingerprint(row: &BTreeMap<String, String>) -> String {
    let mut bytes = Vec::new();
    for (k, v) in row {
        for part in [k, v] {
            bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
            bytes.extend_from_slice(part.as_bytes());
        }
    }
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes))
}

impl<E: Mappable> Connector for CsvSink<E> {
    fn system(&self) -> &SystemId {
        &self.system
    }

    fn capability(&self, _kind: EntityKind) -> Capability {
        Capability::new().with_max_batch(self.max_batch)
    }
}

#[async_trait]
impl<E: Mappable> Sink<E> for CsvSink<E> {
    async fn upsert(&self, batch: &[E]) -> Result<Vec<WriteOutcome>> {
        if let Some(max) = self.max_batch
            && batch.len() > max
        {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "a batch of {} is larger than this sink's max_batch {max}",
                    batch.len()
                ),
            ));
        }
        let mut state = self.state.lock().await;
        let mut next = state.clone();
        let mut opts = ApplyOptions::default();
        if let Some(x) = &self.xrefs {
            opts = opts.with_xrefs(x.as_ref());
        }
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut rows = Vec::new();
        for entity in batch {
            let key = entity.key();
            let external_id = key.to_string();
            let row = match self.row_of(entity, &opts) {
                Ok(row) => row,
                Err(e) => {
                    outcomes.push(WriteOutcome::new(key, WriteResult::rejected(e)));
                    continue;
                }
            };
            let print = fingerprint(&row);
            let result = match next.written.get(key.as_str()) {
                Some(old) if *old == print => WriteResult::Unchanged { external_id },
                Some(_) => WriteResult::Updated { external_id },
                None => WriteResult::Created { external_id },
            };
            if !matches!(result, WriteResult::Unchanged { .. }) {
                next.written.insert(key.as_str().to_string(), print);
                rows.push(row);
            }
            outcomes.push(WriteOutcome::new(key, result));
        }
        if rows.is_empty() {
            return Ok(outcomes);
        }
        let bytes = self.render(&rows.iter().collect::<Vec<_>>())?;
        let mut path;
        loop {
            next.seq += 1;
            path = self.outbox.join(self.file_name(next.seq));
            if !path.exists() {
                break;
            }
        }
        let state_bytes = serde_json::to_vec(&next)?;
        let state_path = self.state_path.clone();
        let file = path.clone();
        blocking(move || {
            write_atomically(&file, &bytes)?;
            write_atomically(&state_path, &state_bytes)
        })
        .await?;
        tracing::info!(file = %path.display(), rows = rows.len(), "CSV sink wrote a file");
        *state = next;
        Ok(outcomes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert_eq!(parse_pattern(DEFAULT_FILE_NAME).unwrap().len(), 6);
        for (bad, why) in [
            ("{entity}.csv", "{seq}"),
            ("{seq}-{time}.csv", "unknown placeholder {time}"),
            ("out/{seq}.csv", "plain file name"),
            (".{seq}.csv", "hidden"),
            ("{seq.csv", "not closed"),
        ] {
            let e = parse_pattern(bad).unwrap_err().to_string();
            assert!(
                e.contains(why) || (why == "hidden" && e.contains("must not start")),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn fingerprints_do_not_run_cells_together() {
        let a: BTreeMap<String, String> = [("a".into(), "bc".into())].into();
        let b: BTreeMap<String, String> = [("ab".into(), "c".into())].into();
        assert_ne!(fingerprint(&a), fingerprint(&b));
    }
}
