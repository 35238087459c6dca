//! `CsvSource`: every CSV/TSV file in a folder, read in file-name order,
//! resumable from a `(file, line)` cursor.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;

use super::files::{Listed, blocking, changed_at, list_data_files};
use super::format::CsvFormat;
use super::read::{FileLineCursor, RowMapper, bad_line_report, default_extensions};
use crate::connector::{Capability, Connector, Cursor, EntityKind, Record, RecordStream, Source};
use crate::error::{Error, Result};
use crate::mapping::{CrossReferences, Mappable, MappingSpec};
use crate::model::{ExternalRef, SystemId};

/// Reads every CSV/TSV file in a folder through a [`MappingSpec`].
///
/// Files are read in file-name order, rows in file order; the cursor is
/// `(file, line)`, so `read(Some(cursor))` continues after that row. This is
/// incremental as long as files are complete when they appear and later
/// files sort after earlier ones — true of timestamped export names such as
/// [`CsvSink`](super::CsvSink)'s. For an inbox that anyone drops arbitrary
/// names into, use [`DropFolder`](super::DropFolder), which moves files out
/// once their rows are acknowledged instead.
///
/// Rows appended to a file already read are picked up on resume too (they
/// come after the cursor's line). Each file is read whole into memory.
///
/// Hidden files and temp names (`.part`, `.tmp`, ...) are never read. A row
/// that does not map ends the read with an `InvalidData` error naming the
/// file, the line and every failed field: an incremental feed must not skip
/// it silently, so the sync stops there until the file is fixed.
pub struct CsvSource<E> {
    system: SystemId,
    dir: PathBuf,
    mapper: RowMapper<E>,
}

impl<E> std::fmt::Debug for CsvSource<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvSource")
            .field("system", &self.system)
            .field("dir", &self.dir)
            .field("mapper", &self.mapper)
            .finish()
    }
}

impl<E: Mappable> CsvSource<E> {
    /// Reads the files in `dir` as `format`, mapping rows with `spec`.
    pub fn new(
        system: SystemId,
        dir: impl Into<PathBuf>,
        spec: Arc<MappingSpec<E>>,
        format: CsvFormat,
    ) -> Self {
        CsvSource {
            system,
            dir: dir.into(),
            mapper: RowMapper {
                spec,
                format,
                xrefs: None,
                extensions: default_extensions(),
            },
        }
    }

    /// Resolves `lookup` transforms through `xrefs`.
    pub fn with_xrefs(mut self, xrefs: Arc<dyn CrossReferences>) -> Self {
        self.mapper.xrefs = Some(xrefs);
        self
    }

    /// Reads only files ending in these extensions (default `csv`, `tsv`, `txt`; case-insensitive).
    pub fn with_extensions<S: Into<String>>(
        mut self,
        extensions: impl IntoIterator<Item = S>,
    ) -> Self {
        self.mapper.extensions = extensions.into_iter().map(Into::into).collect();
        self
    }

    /// The folder read.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl<E: Mappable> Connector for CsvSource<E> {
    fn system(&self) -> &SystemId {
        &self.system
    }

    fn capability(&self, kind: EntityKind) -> Capability {
        Capability::new().with_incremental(kind == E::KIND)
    }
}

/// Where a read is.
struct ReadState<E> {
    system: SystemId,
    dir: PathBuf,
    mapper: RowMapper<E>,
    since: Option<FileLineCursor>,
    files: Option<VecDeque<Listed>>,
    ready: VecDeque<Result<Record<E>>>,
    done: bool,
}

impl<E: Mappable> Source<E> for CsvSource<E> {
    fn read(&self, since: Option<Cursor>) -> RecordStream<E> {
        let since = match since.as_ref().map(FileLineCursor::decode).transpose() {
            Ok(s) => s,
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
        };
        let state = ReadState {
            system: self.system.clone(),
            dir: self.dir.clone(),
            mapper: self.mapper.clone(),
            since,
            files: None,
            ready: VecDeque::new(),
            done: false,
        };
        futures::stream::unfold(state, |mut st| async move {
            loop {
                if let Some(item) = st.ready.pop_front() {
                    if item.is_err() {
                        st.done = true;
                        st.ready.clear();
                    }
                    return Some((item, st));
                }
                if st.done {
                    return None;
                }
                if st.files.is_none() {
                    let (dir, ext) = (st.dir.clone(), st.mapper.extensions.clone());
                    match blocking(move || list_data_files(&dir, &ext)).await {
                        Ok(files) => st.files = Some(files.into()),
                        Err(e) => {
                            st.done = true;
                            return Some((Err(e), st));
                        }
                    }
                }
                let next = st.files.as_mut().and_then(VecDeque::pop_front);
                let Some(file) = next else {
                    st.done = true;
                    continue;
                };
                if st.since.as_ref().is_some_and(|c| c.file > file.name) {
                    continue;
                }
                let records = read_file(&st, file).await;
                st.ready.extend(records);
            }
        })
        .boxed()
    }
}

/// The records of one file after the cursor; a bad row becomes an error and ends the list.
async fn read_file<E: Mappable>(st: &ReadState<E>, file: Listed) -> Vec<Result<Record<E>>> {
    let mapper = st.mapper.clone();
    let path = file.path.clone();
    let mapped = match blocking(move || mapper.map_file(&path)).await {
        Err(e) => return vec![Err(e)],
        Ok(Err(reason)) => {
            return vec![Err(Error::invalid_data(format!(
                "{}: {reason}",
                file.path.display()
            ))
            .with_system(st.system.as_str())
            .with_entity(E::KIND.name())
            .with_file(file.path.display().to_string(), None, None))];
        }
        Ok(Ok(m)) => m,
    };
    let after = |line: u64| {
        st.since
            .as_ref()
            .is_none_or(|c| c.is_before(&file.name, line))
    };
    let first_bad = mapped.bad.iter().find(|b| after(b.line)).map(|b| b.line);
    let changed = changed_at(file.modified);
    let mut out: Vec<Result<Record<E>>> = mapped
        .rows
        .into_iter()
        .filter(|(line, _)| after(*line) && first_bad.is_none_or(|b| *line < b))
        .map(|(line, entity)| {
            let external = ExternalRef {
                system: st.system.clone(),
                id: entity.key().to_string(),
            };
            Ok(Record::new(
                entity,
                external,
                FileLineCursor::new(&file.name, line).encode(),
                changed,
            ))
        })
        .collect();
    if let Some(line) = first_bad {
        let bad: Vec<_> = mapped.bad.into_iter().filter(|b| b.line == line).collect();
        out.push(Err(Error::invalid_data(format!(
            "{} {}",
            file.path.display(),
            bad_line_report(&bad).trim_end()
        ))
        .with_system(st.system.as_str())
        .with_entity(E::KIND.name())
        .with_file(file.path.display().to_string(), Some(line), None)));
    }
    out
}
