//! File-system steps shared by the CSV source, drop folder and sink: which
//! files count, atomic writes, and running blocking I/O off the async runtime.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::{DateTime, Utc};

use crate::error::{Error, ErrorKind, Result};

/// Name endings of files still being written by common tools (browsers,
/// WinSCP, rsync-style copies, our own sink): never read.
pub(crate) const TEMP_SUFFIXES: &[&str] = &[
    ".part",
    ".partial",
    ".tmp",
    ".temp",
    ".filepart",
    ".crdownload",
    ".download",
    ".swp",
];

/// Whether a file name is one a reader should ignore: hidden (dotfiles,
/// such as the sink's temp and state files) or a temp name of a copy in progress.
pub(crate) fn is_ignored_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    name.starts_with('.')
        || name.starts_with('~')
        || TEMP_SUFFIXES.iter().any(|s| lower.ends_with(s))
}

/// Whether `name` ends in one of `extensions` (case-insensitive, without dots).
pub(crate) fn has_extension(name: &str, extensions: &[String]) -> bool {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// A data file in a folder, with what the directory listing said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    pub modified: SystemTime,
}

impl Listed {
    /// Which version of the file this is (size and modification time): a
    /// file dropped again under the same name is another file, and a cursor
    /// into the old one must not skip the new one's lines.
    pub fn stamp(&self) -> String {
        let nanos = self
            .modified
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{}.{nanos}", self.size)
    }
}

/// The data files directly in `dir` (no sub-folders), sorted by name.
pub(crate) fn list_data_files(dir: &Path, extensions: &[String]) -> Result<Vec<Listed>> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_error(e, "cannot list", dir))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(e, "cannot list", dir))?;
        let Ok(name) = entry.file_name().into_string() else {
            tracing::warn!(dir = %dir.display(), "skipping a file whose name is not UTF-8");
            continue;
        };
        if is_ignored_name(&name) || !has_extension(&name, extensions) {
            continue;
        }
        let path = entry.path();
        let meta = match entry.metadata() {
            Ok(m) => m,
            // Moved away between listing and looking: not ours to read now.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error(e, "cannot look at", &path)),
        };
        if !meta.is_file() {
            continue;
        }
        let modified = meta
            .modified()
            .map_err(|e| io_error(e, "no mtime for", &path))?;
        out.push(Listed {
            name,
            path,
            size: meta.len(),
            modified,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The time a file was last written, as the change time of its records.
pub(crate) fn changed_at(modified: SystemTime) -> DateTime<Utc> {
    DateTime::<Utc>::from(modified)
}

/// An I/O failure naming what was being done and the file; temporary (a
/// full disk or a locked share may recover), so the engine retries.
pub(crate) fn io_error(e: std::io::Error, doing: &str, path: &Path) -> Error {
    Error::unavailable(format!("{doing} {}: {e}", path.display()))
        .with_file(path.display().to_string(), None, None)
        .with_source(e)
}

/// Writes `bytes` to `path` so that no reader ever sees a partial file: a
/// hidden temp file in the same directory is written and fsynced, renamed
/// over `path`, and the directory fsynced so the rename survives a crash.
/// On failure the temp file is removed.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::config(format!("{} has no file name", path.display())))?;
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&temp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&temp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(io_error(e, "cannot write", path));
    }
    sync_dir(dir).map_err(|e| io_error(e, "cannot sync folder", dir))
}

/// Makes a rename inside `dir` durable (a no-op where directories cannot be opened).
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// A name for `name` in `dir` that no file has yet: `name` itself, else
/// `stem-2.ext`, `stem-3.ext`, ... (a re-sent file never overwrites the first).
pub(crate) fn free_name(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s, format!(".{e}")),
        _ => (name, String::new()),
    };
    (2u64..)
        .map(|n| dir.join(format!("{stem}-{n}{ext}")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

/// Runs blocking file work on tokio's blocking pool when inside a tokio
/// runtime, else right here (a plain executor has no pool to hand it to).
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => match handle.spawn_blocking(work).await {
            Ok(r) => r,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(Error::new(
                ErrorKind::Unavailable,
                format!("file work was cancelled: {e}"),
            )),
        },
        Err(_) => work(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignored_names() {
        for n in [
            ".hidden.csv",
            "x.csv.part",
            "X.CSV.TMP",
            "~lock.csv",
            "a.csv.crdownload",
        ] {
            assert!(is_ignored_name(n), "{n}");
        }
        assert!(!is_ignored_name("orders-2026.csv"));
        let ext = vec!["csv".to_string()];
        assert!(has_extension("A.CSV", &ext));
        assert!(!has_extension("a.txt", &ext));
    }

    #[test]
    fn atomic_write_leaves_no_temp_and_free_names_do_not_clash() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        write_atomically(&target, b"a,b\n").unwrap();
        write_atomically(&target, b"a,b\n1,2\n").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"a,b\n1,2\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.csv"]);
        assert_eq!(
            free_name(dir.path(), "out.csv"),
            dir.path().join("out-2.csv")
        );
        assert_eq!(free_name(dir.path(), "new.csv"), dir.path().join("new.csv"));
    }
}
