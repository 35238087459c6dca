//! CSV/TSV files as a source, a drop folder and a sink, for any entity,
//! through a [`MappingSpec`](crate::mapping::MappingSpec).
//!
//! A row is seen as one record tree (`{"ITEM_NO": "100-200", "PRICE": "12,50"}`)
//! that a spec maps to the entity; the sink maps back with
//! [`MappingSpec::to_payload`](crate::mapping::MappingSpec::to_payload).
//!
//! - [`CsvFormat`]: delimiter, quoting, header names or column positions;
//!   UTF-8 with a byte order mark tolerated. Decimal commas are a mapping
//!   option (`{ decimal = { separator = "," } }`), per column, both ways.
//! - [`CsvSource`]: every file in a folder in name order, resumable from a
//!   `(file, line)` [`FileLineCursor`]; a bad row stops the read with an error
//!   naming the file, the line and every failed field.
//! - [`DropFolder`]: an inbox; settled files are read, and moved to
//!   `processed/` or `failed/` (bad lines listed in `<name>.errors.txt`)
//!   only once their rows are acknowledged: a later `read(since)` from a
//!   cursor at or past a file's last row, as the sync engine's next run
//!   does, or [`DropFolder::acknowledge`]. Half-written files are never
//!   picked up (see its rules).
//! - [`CsvSink`]: one new file per batch, written atomically (temp file,
//!   fsync, rename), with a key → fingerprint index beside it so a repeated
//!   batch is `Unchanged`.
//!
//! ```
//! use std::sync::Arc;
//! use futures::TryStreamExt;
//! use seamwork::adapters::csv::{CsvFormat, CsvSource};
//! use seamwork::connector::Source;
//! use seamwork::mapping::MappingSpec;
//! use seamwork::model::{InventoryLevel, SystemId};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("stock-1.csv"), "\u{feff}ITEM;SITE;QTY\nA-1;DC-EAST;12\n").unwrap();
//! let spec = MappingSpec::<InventoryLevel>::from_toml(r#"
//!     system = "erp"
//!     entity = "inventory_level"
//!     version = 1
//!     [fields]
//!     sku = "ITEM"
//!     location = "SITE"
//!     on_hand = { from = "QTY", transforms = ["integer"] }
//!     available = { from = "QTY", transforms = ["integer"] }
//!     updated_at = { now = true }
//! "#, "stock.toml").unwrap();
//! let erp = SystemId::new("erp").unwrap();
//! let source = CsvSource::new(erp, dir.path(), Arc::new(spec), CsvFormat::csv().with_delimiter(b';'));
//! let records: Vec<_> = source.read(None).try_collect().await.unwrap();
//! assert_eq!(records[0].entity.on_hand, 12);
//! assert_eq!(records[0].cursor.as_str(), "stock-1.csv#2");
//! # });
//! ```

mod drop_folder;
mod files;
mod format;
mod read;
mod sink;
mod source;

pub use drop_folder::{Disposition, DropFolder, ERROR_FILE_SUFFIX};
pub use format::{BadLine, Columns, CsvFormat};
pub use read::FileLineCursor;
pub use sink::{CsvSink, DEFAULT_FILE_NAME};
pub use source::CsvSource;

/// One data row of a file: the line it starts on and its entity, or why it is bad.
pub type MappedRow<E> = Result<(u64, E), BadLine>;

/// Parses CSV text and maps every row with `spec`, without touching files:
/// what the source and the drop folder do with one file's bytes. Each row is
/// `(line, entity)` or a [`BadLine`]; `Err` is a file that is not readable
/// CSV at all (UTF-16, a duplicate header column). For fuzzing and for
/// checking a sample export against a spec.
pub fn map_csv<E: crate::mapping::Mappable>(
    spec: std::sync::Arc<crate::mapping::MappingSpec<E>>,
    format: &CsvFormat,
    bytes: &[u8],
) -> Result<Vec<MappedRow<E>>, String> {
    let mapper = read::RowMapper {
        spec,
        format: format.clone(),
        xrefs: None,
        extensions: Vec::new(),
    };
    let mapped = mapper.map_bytes(bytes)?;
    let mut out: Vec<MappedRow<E>> = mapped
        .rows
        .into_iter()
        .map(Ok)
        .chain(mapped.bad.into_iter().map(Err))
        .collect();
    out.sort_by_key(|r| match r {
        Ok((line, _)) => *line,
        Err(b) => b.line,
    });
    Ok(out)
}
