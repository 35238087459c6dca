//! `DropFolder`: an inbox an ERP drops CSV files into. Each settled file is
//! read, and once its rows are acknowledged (a later `read(since)` with a
//! cursor at or past its last row, or [`DropFolder::acknowledge`]) moved to
//! `processed/` or `failed/` with an error file beside it that lists every
//! bad line. Cursors carry the file's version (size and modification
//! time), so a file dropped again under an old name is read from its start.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::StreamExt;

use super::files::{
    Listed, blocking, changed_at, free_name, io_error, list_data_files, sync_dir, write_atomically,
};
use super::format::{BadLine, CsvFormat};
use super::read::{FileLineCursor, RowMapper, bad_line_report, default_extensions};
use crate::connector::{Capability, Connector, Cursor, EntityKind, Record, RecordStream, Source};
use crate::error::Result;
use crate::mapping::{CrossReferences, Mappable, MappingSpec};
use crate::model::{ExternalRef, SystemId};

/// The name ending of the error file written beside a file with bad lines.
pub const ERROR_FILE_SUFFIX: &str = ".errors.txt";

/// Where a file went when it left the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// At least one row was delivered (bad lines, if any, are in the error file).
    Processed,
    /// Nothing could be delivered: the file is unreadable as CSV, or every row was bad.
    Failed,
}

/// An inbox folder of CSV/TSV files, read as a [`Source`].
///
/// **When a file is picked up.** A file is read only when all hold:
/// 1. its name is not hidden (`.x`), a lock file (`~x`) or a temp name
///    (`.part`, `.partial`, `.tmp`, `.temp`, `.filepart`, `.crdownload`, ...),
///    and it has one of the extensions (default `csv`, `tsv`, `txt`);
/// 2. its modification time is at least the settle time old (default 10 s);
/// 3. the previous scan saw it with the same size and modification time
///    (turn off with [`with_stable_scan(false)`](Self::with_stable_scan) when
///    writers rename complete files into place). This catches copies that
///    keep the source's old modification time while still writing.
///
/// So a file still being copied is never read half-written; it is picked up
/// by a later read once it stops changing.
///
/// **What happens to it.** Good rows are delivered in file order, each
/// with a `<file>#<line>` cursor. The file stays in the inbox until its rows
/// are *acknowledged*, then it is moved:
/// - to `processed/` when at least one row was delivered; if some rows were
///   bad, `<name>.errors.txt` beside it lists each with its line number and
///   every reason (every failed field);
/// - to `failed/` when nothing could be delivered (not CSV, a broken header,
///   or every row bad), again with `<name>.errors.txt`. Such a file (and an
///   empty one, which goes to `processed/`) has nothing to acknowledge and
///   is moved as soon as it is read.
///
/// **When a file moves, and why.** A consumer such as the sync engine pulls
/// a batch of rows, writes it to its sink, and only then commits the last
/// cursor; a crash or a failed write in between must not lose the rows. So
/// pulling a file's last row does not move it. It moves when
/// - `read(since)` is called with a cursor at or past the file's last row:
///   the engine passes its committed checkpoint on its next run, so files
///   move on the run after the one that delivered them; or
/// - [`acknowledge`](Self::acknowledge) is called with such a cursor, for
///   callers driving the source by hand.
///
/// "At or past" follows delivery order: a cursor in a later file of the
/// same read covers every file delivered before it. A `read` starts from
/// the cursor it is given, so files delivered by an earlier read that the
/// cursor does not cover are simply read again: rows at or before the
/// cursor in the file it names are skipped (they were delivered and
/// acknowledged), everything else is delivered again. `read(None)` delivers
/// every file still in the inbox from its first row (at-least-once; the
/// engine's per-key versions drop what it already wrote). Which reads
/// delivered what is remembered in memory only: after a restart the saved
/// cursor still settles the file it names, and other unmoved files are
/// delivered once more and move after the next acknowledgement.
///
/// Nothing is dropped silently: every row is either delivered or listed in
/// an error file, and a file leaves the inbox only once that is settled. A
/// name that already exists in the target folder gets a `-2`, `-3`, ...
/// suffix instead of overwriting. A file changed in the inbox since it was
/// read is not moved by an acknowledgement; it is read again.
///
/// Run one read of a folder at a time (one process, one consumer): two
/// concurrent reads could both take the same file, and each read forgets
/// what the one before it delivered.
///
/// The capability is not `incremental`: files leave the inbox once
/// acknowledged, so a read from an old cursor cannot replay them.
pub struct DropFolder<E> {
    system: SystemId,
    inbox: PathBuf,
    processed: PathBuf,
    failed: PathBuf,
    settle: Duration,
    stable_scan: bool,
    mapper: RowMapper<E>,
    seen: Arc<Mutex<HashMap<String, (u64, SystemTime)>>>,
    delivered: Arc<Mutex<Deliveries>>,
}

impl<E> std::fmt::Debug for DropFolder<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DropFolder")
            .field("system", &self.system)
            .field("inbox", &self.inbox)
            .field("processed", &self.processed)
            .field("failed", &self.failed)
            .field("settle", &self.settle)
            .field("stable_scan", &self.stable_scan)
            .field("mapper", &self.mapper)
            .finish()
    }
}

impl<E: Mappable> DropFolder<E> {
    /// Watches `inbox`; moves files to `inbox/processed` and `inbox/failed`.
    pub fn new(
        system: SystemId,
        inbox: impl Into<PathBuf>,
        spec: Arc<MappingSpec<E>>,
        format: CsvFormat,
    ) -> Self {
        let inbox = inbox.into();
        DropFolder {
            system,
            processed: inbox.join("processed"),
            failed: inbox.join("failed"),
            inbox,
            settle: Duration::from_secs(10),
            stable_scan: true,
            mapper: RowMapper {
                spec,
                format,
                xrefs: None,
                extensions: default_extensions(),
            },
            seen: Arc::default(),
            delivered: Arc::default(),
        }
    }

    /// Moves read files with at least one delivered row here.
    pub fn with_processed_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.processed = dir.into();
        self
    }

    /// Moves files that delivered nothing here.
    pub fn with_failed_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.failed = dir.into();
        self
    }

    /// How long a file must go unmodified before it is read.
    pub fn with_settle_time(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    /// Whether a file must also look the same (size, modification time) in
    /// two scans in a row before it is read (default on).
    pub fn with_stable_scan(mut self, yes: bool) -> Self {
        self.stable_scan = yes;
        self
    }

    /// Resolves `lookup` transforms through `xrefs`.
    pub fn with_xrefs(mut self, xrefs: Arc<dyn CrossReferences>) -> Self {
        self.mapper.xrefs = Some(xrefs);
        self
    }

    /// Picks up only files ending in these extensions (default `csv`, `tsv`, `txt`; case-insensitive).
    pub fn with_extensions<S: Into<String>>(
        mut self,
        extensions: impl IntoIterator<Item = S>,
    ) -> Self {
        self.mapper.extensions = extensions.into_iter().map(Into::into).collect();
        self
    }

    /// The inbox folder.
    pub fn inbox(&self) -> &Path {
        &self.inbox
    }

    /// Where processed files go.
    pub fn processed_dir(&self) -> &Path {
        &self.processed
    }

    /// Where failed files go.
    pub fn failed_dir(&self) -> &Path {
        &self.failed
    }

    /// Looks at the inbox and returns the files ready to be read now (see
    /// the type's rules), in name order. Every read scans; calling this
    /// yourself counts as a scan too (a file first seen here is ready in the
    /// next scan if it does not change).
    pub fn scan(&self) -> Result<Vec<PathBuf>> {
        Ok(self.scan_listed()?.into_iter().map(|f| f.path).collect())
    }

    /// Moves every file whose rows `through` covers (see the type's rules)
    /// to `processed/` or `failed/`, and returns where each went. Call it
    /// with the cursor of the last record you have durably handled when you
    /// drive the source yourself; the sync engine needs no call, its next
    /// `read(since)` does the same. Files delivered after `through` stay in
    /// the inbox, still waiting.
    pub fn acknowledge(&self, through: &Cursor) -> Result<Vec<(PathBuf, Disposition)>> {
        let through = FileLineCursor::decode(through)?;
        let covered = lock(&self.delivered).take_covered(&through);
        settle_acknowledged(covered, &self.processed, &self.failed)
    }

    fn scan_listed(&self) -> Result<Vec<Listed>> {
        scan(&self.scanner())
    }

    fn scanner(&self) -> Scanner {
        Scanner {
            inbox: self.inbox.clone(),
            extensions: self.mapper.extensions.clone(),
            settle: self.settle,
            stable_scan: self.stable_scan,
            seen: Arc::clone(&self.seen),
        }
    }
}

/// What a scan needs, detached from the folder so it can run on the blocking pool.
#[derive(Clone)]
struct Scanner {
    inbox: PathBuf,
    extensions: Vec<String>,
    settle: Duration,
    stable_scan: bool,
    seen: Arc<Mutex<HashMap<String, (u64, SystemTime)>>>,
}

fn scan(s: &Scanner) -> Result<Vec<Listed>> {
    let listed = list_data_files(&s.inbox, &s.extensions)?;
    let now = SystemTime::now();
    let mut seen = s
        .seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut next = HashMap::with_capacity(listed.len());
    let mut ready = Vec::new();
    for f in listed {
        let settled = now
            .duration_since(f.modified)
            .map_or(s.settle.is_zero(), |age| age >= s.settle);
        let stable = !s.stable_scan || seen.get(&f.name) == Some(&(f.size, f.modified));
        next.insert(f.name.clone(), (f.size, f.modified));
        if settled && stable {
            ready.push(f);
        } else {
            tracing::debug!(file = %f.path.display(), settled, stable, "not picked up yet: may still be written");
        }
    }
    *seen = next;
    Ok(ready)
}

impl<E: Mappable> Connector for DropFolder<E> {
    fn system(&self) -> &SystemId {
        &self.system
    }

    fn capability(&self, _kind: EntityKind) -> Capability {
        Capability::new()
    }
}

/// A read file and what to write about it when it is moved.
struct Finish {
    file: Listed,
    delivered: usize,
    bad: Vec<BadLine>,
    file_error: Option<String>,
}

/// A file whose rows a read handed out, waiting for their acknowledgement.
struct Delivery {
    finish: Finish,
    /// The line of its last delivered row: a cursor at or past it covers the file.
    last_line: u64,
}

/// The files the current read has handed rows out of, in delivery order.
#[derive(Default)]
struct Deliveries {
    files: Vec<Delivery>,
}

impl Deliveries {
    /// Removes and returns the files `through` covers: the file it names,
    /// if the cursor is at or past its last row, and every file delivered
    /// before that one. A cursor naming no delivered file covers nothing.
    fn take_covered(&mut self, through: &FileLineCursor) -> Vec<Finish> {
        let Some(at) = self
            .files
            .iter()
            .rposition(|d| through.points_into(&d.finish.file.name, &d.finish.file.stamp()))
        else {
            return Vec::new();
        };
        let end = if self.files[at].last_line <= through.line {
            at + 1
        } else {
            at
        };
        self.files.drain(..end).map(|d| d.finish).collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Moves acknowledged files, skipping (with a warning) one that was taken
/// away or changed since it was read: a changed file is read again.
fn settle_acknowledged(
    covered: Vec<Finish>,
    processed: &Path,
    failed: &Path,
) -> Result<Vec<(PathBuf, Disposition)>> {
    let mut out = Vec::with_capacity(covered.len());
    for finish in covered {
        let now = match std::fs::metadata(&finish.file.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(file = %finish.file.path.display(), "acknowledged file is no longer in the inbox; nothing to move");
                continue;
            }
            Err(e) => return Err(io_error(e, "cannot look at", &finish.file.path)),
        };
        let modified = now
            .modified()
            .map_err(|e| io_error(e, "no mtime for", &finish.file.path))?;
        if now.len() != finish.file.size || modified != finish.file.modified {
            tracing::warn!(file = %finish.file.path.display(), "file changed since it was read; left in the inbox to be read again");
            continue;
        }
        out.push(settle_file(&finish, processed, failed)?);
    }
    Ok(out)
}

struct DropState<E> {
    system: SystemId,
    processed: PathBuf,
    failed: PathBuf,
    mapper: RowMapper<E>,
    scanner: Scanner,
    since: Option<FileLineCursor>,
    delivered: Arc<Mutex<Deliveries>>,
    started: bool,
    files: Option<VecDeque<Listed>>,
    ready: VecDeque<Record<E>>,
    done: bool,
}

impl<E: Mappable> Source<E> for DropFolder<E> {
    /// Reads every ready file in the inbox. First it moves the files an
    /// earlier read delivered that `since` covers (they are acknowledged)
    /// and forgets the rest, which are read again. When `since` names a file
    /// still in the inbox, that file's rows up to and including its line are
    /// skipped: they were delivered and acknowledged before.
    fn read(&self, since: Option<Cursor>) -> RecordStream<E> {
        let since = match since.as_ref().map(FileLineCursor::decode).transpose() {
            Ok(s) => s,
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
        };
        let state = DropState {
            system: self.system.clone(),
            processed: self.processed.clone(),
            failed: self.failed.clone(),
            mapper: self.mapper.clone(),
            scanner: self.scanner(),
            since,
            delivered: Arc::clone(&self.delivered),
            started: false,
            files: None,
            ready: VecDeque::new(),
            done: false,
        };
        futures::stream::unfold(state, |mut st| async move {
            loop {
                if let Some(r) = st.ready.pop_front() {
                    return Some((Ok(r), st));
                }
                if st.done {
                    return None;
                }
                if !st.started {
                    st.started = true;
                    if let Err(e) = settle_at_start(&st).await {
                        st.done = true;
                        return Some((Err(e), st));
                    }
                }
                let files = match st.files.take() {
                    Some(f) => f,
                    None => {
                        let scanner = st.scanner.clone();
                        match blocking(move || scan(&scanner)).await {
                            Ok(f) => f.into(),
                            Err(e) => {
                                st.done = true;
                                return Some((Err(e), st));
                            }
                        }
                    }
                };
                let mut files: VecDeque<Listed> = files;
                let Some(file) = files.pop_front() else {
                    st.done = true;
                    continue;
                };
                st.files = Some(files);
                if let Err(e) = load(&mut st, file).await {
                    st.done = true;
                    return Some((Err(e), st));
                }
            }
        })
        .boxed()
    }
}

/// A read's first step: moves what `since` acknowledges of the previous
/// read's deliveries and forgets the rest (this read delivers them again).
async fn settle_at_start<E>(st: &DropState<E>) -> Result<()> {
    let previous = std::mem::take(&mut *lock(&st.delivered));
    let covered = match &st.since {
        Some(since) => {
            let mut previous = previous;
            previous.take_covered(since)
        }
        None => Vec::new(),
    };
    if covered.is_empty() {
        return Ok(());
    }
    let (processed, failed) = (st.processed.clone(), st.failed.clone());
    blocking(move || settle_acknowledged(covered, &processed, &failed).map(|_| ())).await
}

/// Moves a file that has nothing (more) to acknowledge right away.
async fn settle_now<E>(st: &DropState<E>, finish: Finish) -> Result<()> {
    let (processed, failed) = (st.processed.clone(), st.failed.clone());
    blocking(move || settle_file(&finish, &processed, &failed).map(|_| ())).await
}

/// Reads one file: queues its good rows (after the cursor) and notes the
/// file as waiting for acknowledgement; a file with nothing to acknowledge
/// is moved at once.
async fn load<E: Mappable>(st: &mut DropState<E>, file: Listed) -> Result<()> {
    let mapper = st.mapper.clone();
    let path = file.path.clone();
    let mapped = match blocking(move || mapper.map_file(&path)).await {
        Err(e) if e.context().file.is_some() && !file.path.exists() => {
            // Taken away between the scan and the read: nothing to do.
            tracing::debug!(file = %file.path.display(), "file vanished before it was read: {e}");
            return Ok(());
        }
        Err(e) => return Err(e),
        Ok(m) => m,
    };
    let mapped = match mapped {
        Ok(m) => m,
        Err(reason) => {
            tracing::warn!(file = %file.path.display(), "cannot read as CSV: {reason}");
            let finish = Finish {
                file,
                delivered: 0,
                bad: Vec::new(),
                file_error: Some(reason),
            };
            return settle_now(st, finish).await;
        }
    };
    if !mapped.bad.is_empty() {
        tracing::warn!(file = %file.path.display(), bad_lines = mapped.bad.len(), "file has bad lines; see its error file");
    }
    let finish = Finish {
        delivered: mapped.rows.len(),
        bad: mapped.bad,
        file_error: None,
        file,
    };
    let Some(last_line) = mapped.rows.last().map(|(line, _)| *line) else {
        // No deliverable rows: nothing to wait for.
        return settle_now(st, finish).await;
    };
    let stamp = finish.file.stamp();
    // Only a cursor into this very file (same name and version) skips rows:
    // a file dropped again under an old name is read from its start.
    let after = st
        .since
        .as_ref()
        .filter(|c| c.points_into(&finish.file.name, &stamp))
        .map(|c| c.line);
    if after.is_some_and(|line| line >= last_line) {
        // Every row was delivered and acknowledged (the process stopped
        // before the file was moved): move it now.
        tracing::info!(file = %finish.file.path.display(), "all rows acknowledged by the cursor");
        return settle_now(st, finish).await;
    }
    let changed = changed_at(finish.file.modified);
    for (line, entity) in mapped.rows {
        if after.is_some_and(|a| a >= line) {
            continue; // delivered and acknowledged before
        }
        let external = ExternalRef {
            system: st.system.clone(),
            id: entity.key().to_string(),
        };
        let cursor = FileLineCursor::new(&finish.file.name, line)
            .with_stamp(stamp.clone())
            .encode();
        st.ready
            .push_back(Record::new(entity, external, cursor, changed));
    }
    lock(&st.delivered)
        .files
        .push(Delivery { finish, last_line });
    Ok(())
}

/// Moves a read file to `processed/` or `failed/`, writing its error file first.
/// Returns where it went.
fn settle_file(f: &Finish, processed: &Path, failed: &Path) -> Result<(PathBuf, Disposition)> {
    let disposition = if f.file_error.is_some() || (f.delivered == 0 && !f.bad.is_empty()) {
        Disposition::Failed
    } else {
        Disposition::Processed
    };
    let dir = match disposition {
        Disposition::Processed => processed,
        Disposition::Failed => failed,
    };
    std::fs::create_dir_all(dir).map_err(|e| io_error(e, "cannot create", dir))?;
    let target = free_name(dir, &f.file.name);
    if f.file_error.is_some() || !f.bad.is_empty() {
        let target_name = target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(&f.file.name);
        let errors = dir.join(format!("{target_name}{ERROR_FILE_SUFFIX}"));
        write_atomically(&errors, error_report(f, disposition).as_bytes())?;
    }
    std::fs::rename(&f.file.path, &target).map_err(|e| io_error(e, "cannot move", &f.file.path))?;
    for d in [dir, f.file.path.parent().unwrap_or(Path::new("."))] {
        sync_dir(d).map_err(|e| io_error(e, "cannot sync folder", d))?;
    }
    tracing::info!(file = %f.file.path.display(), to = %target.display(), delivered = f.delivered, bad_lines = f.bad.len(), "drop-folder file done");
    Ok((target, disposition))
}

/// The error file's text: what happened to the file, then one `line N: reason` per problem.
fn error_report(f: &Finish, disposition: Disposition) -> String {
    let mut out = format!("file: {}\n", f.file.name);
    match &f.file_error {
        Some(reason) => out.push_str(&format!(
            "result: failed; the file cannot be read as CSV: {reason}\n"
        )),
        None => {
            let verdict = match disposition {
                Disposition::Processed => "processed",
                Disposition::Failed => "failed",
            };
            out.push_str(&format!(
                "result: {verdict}; {} row(s) delivered, {} bad line(s) not delivered\n",
                f.delivered,
                f.bad.len()
            ));
            out.push_str(&bad_line_report(&f.bad));
        }
    }
    out
}
