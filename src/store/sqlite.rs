//! The SQLite state store: one file, zero set-up, the embedded default.
//!
//! WAL journal, `synchronous = FULL` (a commit the engine was told about
//! survives a power cut), writes in `BEGIN IMMEDIATE` transactions so two
//! writers never deadlock on a lock upgrade. Key lists travel as one JSON
//! parameter (`json_each`), so statements stay static and every value is bound.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Arguments;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool, SqliteTransaction};

use super::sql::{self, micros, time, to_json};
use super::{
    BatchCommit, Checkpoint, DeadLetter, DeadLetterFilter, DeadLetterId, DeadLetterStatus, Lease,
    StateStore, Version, expiry, fenced_out, letter_not_open, reference_conflict,
};
use crate::connector::{Cursor, EntityKey};
use crate::error::{Error, ErrorKind, Result};
use crate::reconcile::{DriftLedger, LedgerKey, RunRecord};

/// Versioned schema; applied in order, each once, on open.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "state store",
        r#"
CREATE TABLE seamwork_checkpoints (
    flow TEXT PRIMARY KEY,
    cursor TEXT NOT NULL,
    saved_at INTEGER NOT NULL
);
CREATE TABLE seamwork_idempotency_keys (
    flow TEXT NOT NULL,
    key TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (flow, key)
) WITHOUT ROWID;
CREATE INDEX seamwork_idempotency_keys_expiry ON seamwork_idempotency_keys (expires_at);
CREATE TABLE seamwork_versions (
    flow TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    changed_at INTEGER NOT NULL,
    fingerprint INTEGER NOT NULL,
    PRIMARY KEY (flow, entity_key)
) WITHOUT ROWID;
CREATE TABLE seamwork_dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    flow TEXT NOT NULL,
    owner TEXT NOT NULL,
    kind TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    external_ref TEXT,
    changed_at INTEGER NOT NULL,
    payload TEXT NOT NULL,
    error TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    first_failed_at INTEGER NOT NULL,
    last_failed_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    is_open INTEGER NOT NULL
);
CREATE UNIQUE INDEX seamwork_dead_letters_open_key ON seamwork_dead_letters (flow, entity_key) WHERE is_open = 1;
CREATE TABLE seamwork_cross_references (
    namespace TEXT NOT NULL,
    system TEXT NOT NULL,
    outside TEXT NOT NULL,
    canonical TEXT NOT NULL,
    PRIMARY KEY (namespace, system, outside),
    UNIQUE (namespace, system, canonical)
);
CREATE TABLE seamwork_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    token INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
"#,
    ),
    (
        2,
        "drift ledger",
        r#"
CREATE TABLE seamwork_drift_runs (
    ledger TEXT NOT NULL,
    seq INTEGER NOT NULL,
    run TEXT NOT NULL,
    PRIMARY KEY (ledger, seq)
) WITHOUT ROWID;
"#,
    ),
];

/// Rows per version upsert statement, largest first: a commit is written in
/// as few statements as these sizes allow, and at most this many distinct
/// statements are ever prepared.
const VERSION_ROWS: [usize; 14] = [
    8192, 4096, 2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1,
];

/// The upsert of `VERSION_ROWS[size]` versions: the flow once, then key,
/// change time and fingerprint per row. A version never replaces a newer one.
fn version_upsert(size: usize) -> &'static str {
    static STATEMENTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let statements = STATEMENTS.get_or_init(|| {
        VERSION_ROWS
            .iter()
            .map(|&n| {
                // Bare `?` only: sqlx looks a numbered parameter up by name,
                // which SQLite answers by scanning every name (quadratic).
                let values = vec!["(?, ?, ?)"; n].join(", ");
                // The flow is the select list's one parameter and VALUES
                // the only FROM term, so SQLite streams the rows through a
                // co-routine; joined to anything (a CTE for the flow) it
                // would first copy them into a temporary B-tree.
                format!(
                    "INSERT INTO seamwork_versions (flow, entity_key, changed_at, fingerprint) \
                     SELECT ?, column1, column2, column3 FROM (VALUES {values}) \
                     WHERE true \
                     ON CONFLICT (flow, entity_key) DO UPDATE SET \
                     changed_at = excluded.changed_at, fingerprint = excluded.fingerprint \
                     WHERE excluded.changed_at >= seamwork_versions.changed_at"
                )
            })
            .collect()
    });
    &statements[size]
}

/// The version upserts for `versions` (in that order), largest statements
/// first: each statement's text and its bound values.
fn version_statements<'a>(
    flow: &'a str,
    mut versions: &'a [(EntityKey, Version)],
) -> impl Iterator<Item = Result<(&'static str, SqliteArguments)>> + 'a {
    std::iter::from_fn(move || {
        // The last size is one row, so any rows left find a size.
        let size = VERSION_ROWS.iter().position(|&n| n <= versions.len())?;
        let (these, rest) = versions.split_at(VERSION_ROWS[size]);
        versions = rest;
        let bind = || {
            let mut args = SqliteArguments::default();
            args.reserve(1 + 3 * these.len(), 0);
            args.add(flow)?;
            for (key, version) in these {
                // Shared text: bound without another copy on this side.
                args.add(key.shared())?;
                args.add(micros(version.changed_at))?;
                // The fingerprint's bits are stored as a signed integer.
                args.add(version.fingerprint as i64)?;
            }
            Ok((version_upsert(size), args))
        };
        Some(bind().map_err(bind_error))
    })
}

/// Keys as a JSONB array for `json_each`: each key goes in as raw text, so
/// SQLite neither parses JSON text nor unescapes the composite-key
/// separator per key (that was half the lookup's work).
///
/// JSONB is SQLite's binary JSON (3.45+; the bundled SQLite is newer),
/// specified in its `doc/jsonb.md`. SQLite's docs meant it for SQLite's own
/// use, but it is stored in databases, so its encoding cannot change
/// incompatibly; the lookup proptest and the conformance suite's large
/// commit would catch an SQLite upgrade that reads it differently.
fn keys_jsonb(keys: &[EntityKey]) -> Vec<u8> {
    const TEXTRAW: u8 = 10;
    const ARRAY: u8 = 11;
    let payload: usize = keys
        .iter()
        .map(|k| jsonb_header_len(k.as_str().len()) + k.as_str().len())
        .sum();
    let mut out = Vec::with_capacity(jsonb_header_len(payload) + payload);
    push_jsonb_header(&mut out, ARRAY, payload);
    for key in keys {
        push_jsonb_header(&mut out, TEXTRAW, key.as_str().len());
        out.extend_from_slice(key.as_str().as_bytes());
    }
    out
}

/// Bytes of a JSONB element header for a payload of `size` bytes.
fn jsonb_header_len(size: usize) -> usize {
    match size {
        0..=11 => 1,
        12..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// A JSONB element header: the payload size in the upper nibble when it
/// fits, else a nibble saying how many big-endian size bytes follow (1, 2,
/// 4 or 8).
fn push_jsonb_header(out: &mut Vec<u8>, kind: u8, size: usize) {
    if let Ok(small @ 0..=11) = u8::try_from(size) {
        out.push(small << 4 | kind);
    } else if let Ok(one) = u8::try_from(size) {
        out.extend_from_slice(&[12 << 4 | kind, one]);
    } else if let Ok(two) = u16::try_from(size) {
        out.push(13 << 4 | kind);
        out.extend_from_slice(&two.to_be_bytes());
    } else if let Ok(four) = u32::try_from(size) {
        out.push(14 << 4 | kind);
        out.extend_from_slice(&four.to_be_bytes());
    } else {
        out.push(15 << 4 | kind);
        out.extend_from_slice(&(size as u64).to_be_bytes());
    }
}

/// A [`StateStore`] in a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// The one writing connection.
    pool: SqlitePool,
    /// Connections for the per-batch reads (versions, idempotency keys): in
    /// WAL mode they run while a commit is being written and synced, so the
    /// engine checks its next batch during the previous batch's commit. The
    /// writing pool itself for `:memory:` databases, which cannot be shared.
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the store at `path` and brings its schema
    /// up to date.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30));
        let name = path.display().to_string();
        let store = Self::connect(options.clone(), &name).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .map_err(|e| db_error(&name, e))?;
        Ok(SqliteStore { reader, ..store })
    }

    /// A private in-memory database (tests, benches).
    pub async fn in_memory() -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|e| db_error("sqlite::memory:", e))?;
        Self::connect(options, "sqlite::memory:").await
    }

    async fn connect(options: SqliteConnectOptions, name: &str) -> Result<Self> {
        // One connection: SQLite serializes writers anyway, and a single
        // connection lets `:memory:` databases work and keeps commits ordered.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            // Never recycle the connection: closing it would wipe `:memory:`.
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|e| db_error(name, e))?;
        let migrator = sql::migrator(MIGRATIONS);
        migrator.run(&pool).await.map_err(|e| {
            Error::new(
                ErrorKind::Unexpected,
                format!("migrating state store {name}: {e}"),
            )
        })?;
        Ok(SqliteStore {
            reader: pool.clone(),
            pool,
        })
    }

    async fn write(&self) -> Result<SqliteTransaction<'static>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| db_error("begin", e))
    }
}

fn bind_error(e: sqlx::error::BoxDynError) -> Error {
    Error::new(
        ErrorKind::Unexpected,
        format!("SQLite state store, binding a value: {e}"),
    )
}

fn db_error(what: &str, e: sqlx::Error) -> Error {
    sql::db_error("sqlite", what, e)
}

fn letter_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<DeadLetter> {
    sql::letter_from_row("sqlite", row)
}

async fn lease_is_current(tx: &mut SqliteTransaction<'static>, lease: &Lease) -> Result<bool> {
    let row = sqlx::query("SELECT holder, token FROM seamwork_leases WHERE name = ?")
        .bind(&lease.name)
        .fetch_optional(&mut **tx)
        .await
        .map_err(|e| db_error("read lease", e))?;
    Ok(match row {
        Some(row) => {
            let holder: String = row.try_get(0).map_err(|e| db_error("holder", e))?;
            let token: i64 = row.try_get(1).map_err(|e| db_error("token", e))?;
            holder == lease.holder && token == lease.token
        }
        None => false,
    })
}

#[async_trait]
impl StateStore for SqliteStore {
    async fn checkpoint(&self, flow: &str) -> Result<Option<Checkpoint>> {
        let row = sqlx::query("SELECT cursor, saved_at FROM seamwork_checkpoints WHERE flow = ?")
            .bind(flow)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| db_error("read checkpoint", e))?;
        row.map(|row| {
            let cursor: String = row.try_get(0).map_err(|e| db_error("cursor", e))?;
            let saved_at: i64 = row.try_get(1).map_err(|e| db_error("saved_at", e))?;
            Ok(Checkpoint {
                cursor: Cursor::new(cursor),
                saved_at: time(saved_at)?,
            })
        })
        .transpose()
    }

    async fn commit(&self, flow: &str, commit: BatchCommit, fence: Option<&Lease>) -> Result<()> {
        let mut tx = self.write().await?;
        if let Some(lease) = fence
            && !lease_is_current(&mut tx, lease).await?
        {
            return Err(fenced_out(lease));
        }
        if let Some(cursor) = &commit.cursor {
            sqlx::query(
                "INSERT INTO seamwork_checkpoints (flow, cursor, saved_at) VALUES (?, ?, ?) \
                 ON CONFLICT (flow) DO UPDATE SET cursor = excluded.cursor, saved_at = excluded.saved_at",
            )
            .bind(flow)
            .bind(cursor.as_str())
            .bind(micros(Utc::now()))
            .execute(&mut *tx)
            .await
            .map_err(|e| db_error("write checkpoint", e))?;
        }
        if !commit.keys.is_empty() {
            let pairs: Vec<(&str, i64)> = commit
                .keys
                .iter()
                .map(|(k, exp)| (k.as_str(), micros(*exp)))
                .collect();
            sqlx::query(
                "INSERT INTO seamwork_idempotency_keys (flow, key, expires_at) \
                 SELECT ?, value ->> 0, value ->> 1 FROM json_each(?) WHERE true \
                 ON CONFLICT (flow, key) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
            )
            .bind(flow)
            .bind(to_json(&pairs)?)
            .execute(&mut *tx)
            .await
            .map_err(|e| db_error("write idempotency keys", e))?;
        }
        // Versions are the bulk of a commit: bound as plain values in
        // multi-row statements of a few fixed sizes (cached once prepared),
        // which SQLite takes far faster than a JSON list to unpack.
        // In key order, each row lands next to the one before it in the
        // primary-key B-tree instead of somewhere random.
        let mut versions = commit.versions;
        versions.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for statement in version_statements(flow, &versions) {
            let (upsert, args) = statement?;
            sqlx::query_with(upsert, args)
                .execute(&mut *tx)
                .await
                .map_err(|e| db_error("write seamwork_versions", e))?;
        }
        for letter in &commit.dead_letters {
            sqlx::query(
                "INSERT INTO seamwork_dead_letters (flow, owner, kind, entity_key, external_ref, changed_at, \
                 payload, error, attempts, first_failed_at, last_failed_at, status, is_open) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) \
                 ON CONFLICT (flow, entity_key) WHERE is_open = 1 DO UPDATE SET \
                 attempts = attempts + excluded.attempts, last_failed_at = excluded.last_failed_at, \
                 error = excluded.error, payload = excluded.payload, external_ref = excluded.external_ref, \
                 changed_at = excluded.changed_at",
            )
            .bind(&letter.flow)
            .bind(&letter.owner)
            .bind(to_json(&letter.kind)?)
            .bind(letter.key.as_str())
            .bind(letter.external_ref.as_ref().map(to_json).transpose()?)
            .bind(micros(letter.changed_at))
            .bind(to_json(&letter.payload)?)
            .bind(to_json(&letter.error)?)
            .bind(i64::from(letter.attempts))
            .bind(micros(letter.failed_at))
            .bind(micros(letter.failed_at))
            .bind(to_json(&DeadLetterStatus::Open)?)
            .execute(&mut *tx)
            .await
            .map_err(|e| db_error("write dead letter", e))?;
        }
        tx.commit().await.map_err(|e| db_error("commit", e))
    }

    async fn seen(&self, flow: &str, keys: &[String], now: DateTime<Utc>) -> Result<Vec<bool>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT j.key FROM json_each(?) j \
             WHERE EXISTS (SELECT 1 FROM seamwork_idempotency_keys k \
                           WHERE k.flow = ? AND k.key = j.value AND k.expires_at > ?)",
        )
        .bind(to_json(&keys)?)
        .bind(flow)
        .bind(micros(now))
        .fetch_all(&self.reader)
        .await
        .map_err(|e| db_error("read idempotency keys", e))?;
        let mut seen = vec![false; keys.len()];
        for row in rows {
            let index: i64 = row.try_get(0).map_err(|e| db_error("key index", e))?;
            if let Some(slot) = usize::try_from(index).ok().and_then(|i| seen.get_mut(i)) {
                *slot = true;
            }
        }
        Ok(seen)
    }

    async fn versions(&self, flow: &str, keys: &[EntityKey]) -> Result<Vec<Option<Version>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // CROSS JOIN keeps json_each as the outer loop (SQLite never reorders
        // it), so each key is one primary-key lookup.
        let rows = sqlx::query(
            "SELECT j.key, v.changed_at, v.fingerprint FROM json_each(?) j \
             CROSS JOIN seamwork_versions v ON v.flow = ? AND v.entity_key = j.value",
        )
        .bind(keys_jsonb(keys))
        .bind(flow)
        .fetch_all(&self.reader)
        .await
        .map_err(|e| db_error("read seamwork_versions", e))?;
        let mut out = vec![None; keys.len()];
        for row in rows {
            let index: i64 = row.try_get(0).map_err(|e| db_error("key index", e))?;
            let at: i64 = row.try_get(1).map_err(|e| db_error("changed_at", e))?;
            let fingerprint: i64 = row.try_get(2).map_err(|e| db_error("fingerprint", e))?;
            if let Some(slot) = usize::try_from(index).ok().and_then(|i| out.get_mut(i)) {
                // The fingerprint's bits were stored as a signed integer.
                *slot = Some(Version::new(time(at)?, fingerprint as u64));
            }
        }
        Ok(out)
    }

    async fn purge_expired_keys(&self, now: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM seamwork_idempotency_keys WHERE expires_at <= ?")
            .bind(micros(now))
            .execute(&self.pool)
            .await
            .map_err(|e| db_error("purge idempotency keys", e))?;
        Ok(done.rows_affected())
    }

    async fn dead_letters(&self, filter: &DeadLetterFilter) -> Result<Vec<DeadLetter>> {
        let limit = filter
            .limit
            .map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let rows = sqlx::query(
            "SELECT * FROM seamwork_dead_letters WHERE (? IS NULL OR flow = ?) AND (? = 0 OR is_open = 1) \
             ORDER BY id LIMIT ?",
        )
        .bind(filter.flow.as_deref())
        .bind(filter.flow.as_deref())
        .bind(filter.open_only)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_error("list dead letters", e))?;
        rows.iter().map(letter_from_row).collect()
    }

    async fn count_dead_letters(&self, filter: &DeadLetterFilter) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM seamwork_dead_letters WHERE (? IS NULL OR flow = ?) \
             AND (? = 0 OR is_open = 1)",
        )
        .bind(filter.flow.as_deref())
        .bind(filter.flow.as_deref())
        .bind(filter.open_only)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| db_error("count dead letters", e))?;
        Ok(n.max(0) as u64)
    }

    async fn dead_letter(&self, id: DeadLetterId) -> Result<Option<DeadLetter>> {
        let row = sqlx::query("SELECT * FROM seamwork_dead_letters WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| db_error("read dead letter", e))?;
        row.as_ref().map(letter_from_row).transpose()
    }

    async fn edit_dead_letter(&self, id: DeadLetterId, payload: serde_json::Value) -> Result<()> {
        let done = sqlx::query(
            "UPDATE seamwork_dead_letters SET payload = ? WHERE id = ? AND is_open = 1",
        )
        .bind(to_json(&payload)?)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("edit dead letter", e))?;
        self.require_open_update(id, done.rows_affected()).await
    }

    async fn resolve_dead_letter(&self, id: DeadLetterId, status: DeadLetterStatus) -> Result<()> {
        if status == DeadLetterStatus::Open {
            return Err(Error::config("a dead letter cannot be resolved to `open`"));
        }
        let done = sqlx::query(
            "UPDATE seamwork_dead_letters SET status = ?, is_open = 0 WHERE id = ? AND is_open = 1",
        )
        .bind(to_json(&status)?)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("resolve dead letter", e))?;
        self.require_open_update(id, done.rows_affected()).await
    }

    async fn record_dead_letter_failure(
        &self,
        id: DeadLetterId,
        error: &Error,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE seamwork_dead_letters SET attempts = attempts + 1, error = ?, last_failed_at = ? \
             WHERE id = ? AND is_open = 1",
        )
        .bind(to_json(error)?)
        .bind(micros(at))
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("update dead letter", e))?;
        self.require_open_update(id, done.rows_affected()).await
    }

    async fn bind_reference(
        &self,
        namespace: &str,
        system: &str,
        outside: &str,
        canonical: &str,
    ) -> Result<()> {
        let mut tx = self.write().await?;
        let existing = sqlx::query(
            "SELECT outside, canonical FROM seamwork_cross_references \
             WHERE namespace = ? AND system = ? AND (outside = ? OR canonical = ?)",
        )
        .bind(namespace)
        .bind(system)
        .bind(outside)
        .bind(canonical)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| db_error("read cross-reference", e))?;
        for row in &existing {
            let o: String = row.try_get(0).map_err(|e| db_error("outside", e))?;
            let c: String = row.try_get(1).map_err(|e| db_error("canonical", e))?;
            if o != outside {
                return Err(reference_conflict(
                    namespace, system, outside, canonical, &o,
                ));
            }
            if c != canonical {
                return Err(reference_conflict(
                    namespace, system, outside, canonical, &c,
                ));
            }
        }
        if existing.is_empty() {
            sqlx::query(
                "INSERT INTO seamwork_cross_references (namespace, system, outside, canonical) VALUES (?, ?, ?, ?)",
            )
            .bind(namespace)
            .bind(system)
            .bind(outside)
            .bind(canonical)
            .execute(&mut *tx)
            .await
            .map_err(|e| db_error("write cross-reference", e))?;
        }
        tx.commit().await.map_err(|e| db_error("commit", e))
    }

    async fn canonical_reference(
        &self,
        namespace: &str,
        system: &str,
        outside: &str,
    ) -> Result<Option<String>> {
        sqlx::query_scalar(
            "SELECT canonical FROM seamwork_cross_references WHERE namespace = ? AND system = ? AND outside = ?",
        )
        .bind(namespace)
        .bind(system)
        .bind(outside)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("read cross-reference", e))
    }

    async fn outside_reference(
        &self,
        namespace: &str,
        system: &str,
        canonical: &str,
    ) -> Result<Option<String>> {
        sqlx::query_scalar(
            "SELECT outside FROM seamwork_cross_references WHERE namespace = ? AND system = ? AND canonical = ?",
        )
        .bind(namespace)
        .bind(system)
        .bind(canonical)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("read cross-reference", e))
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>> {
        let mut tx = self.write().await?;
        let current =
            sqlx::query("SELECT NULL, token, expires_at FROM seamwork_leases WHERE name = ?")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| db_error("read lease", e))?;
        let token = match current {
            Some(row) => {
                let t: i64 = row.try_get(1).map_err(|e| db_error("token", e))?;
                let exp: i64 = row.try_get(2).map_err(|e| db_error("expires_at", e))?;
                if exp > micros(now) {
                    return Ok(None);
                }
                t + 1
            }
            None => 1,
        };
        let lease = Lease {
            name: name.to_string(),
            holder: holder.to_string(),
            token,
            expires_at: expiry(now, ttl),
        };
        sqlx::query(
            "INSERT INTO seamwork_leases (name, holder, token, expires_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = excluded.token, \
             expires_at = excluded.expires_at",
        )
        .bind(name)
        .bind(holder)
        .bind(token)
        .bind(micros(lease.expires_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| db_error("write lease", e))?;
        tx.commit().await.map_err(|e| db_error("commit", e))?;
        Ok(Some(lease))
    }

    async fn renew_lease(
        &self,
        lease: &Lease,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>> {
        let renewed = Lease {
            expires_at: expiry(now, ttl),
            ..lease.clone()
        };
        let done = sqlx::query(
            "UPDATE seamwork_leases SET expires_at = ? WHERE name = ? AND holder = ? AND token = ?",
        )
        .bind(micros(renewed.expires_at))
        .bind(&lease.name)
        .bind(&lease.holder)
        .bind(lease.token)
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("renew lease", e))?;
        Ok((done.rows_affected() == 1).then_some(renewed))
    }

    async fn release_lease(&self, lease: &Lease) -> Result<()> {
        sqlx::query(
            "UPDATE seamwork_leases SET expires_at = ? WHERE name = ? AND holder = ? AND token = ?",
        )
        .bind(micros(DateTime::<Utc>::MIN_UTC))
        .bind(&lease.name)
        .bind(&lease.holder)
        .bind(lease.token)
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("release lease", e))?;
        Ok(())
    }
}

impl SqliteStore {
    /// Turns "no row updated" into the right error.
    async fn require_open_update(&self, id: DeadLetterId, rows: u64) -> Result<()> {
        if rows == 1 {
            return Ok(());
        }
        let status = self.dead_letter(id).await?.map(|l| l.status);
        Err(letter_not_open(id, status.as_ref()))
    }
}

#[async_trait]
impl DriftLedger for SqliteStore {
    async fn record(&self, key: &LedgerKey, run: RunRecord) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO seamwork_drift_runs (ledger, seq, run) \
             SELECT ?1, coalesce(max(seq), 0) + 1, ?2 FROM seamwork_drift_runs WHERE ledger = ?1",
        )
        .bind(to_json(key)?)
        .bind(to_json(&run)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| db_error("write drift run", e))?;
        tx.commit().await.map_err(|e| db_error("commit", e))
    }

    async fn runs(&self, key: &LedgerKey, last: usize) -> Result<Vec<RunRecord>> {
        let texts: Vec<String> = sqlx::query_scalar(
            "SELECT run FROM (SELECT seq, run FROM seamwork_drift_runs WHERE ledger = ? \
             ORDER BY seq DESC LIMIT ?) ORDER BY seq",
        )
        .bind(to_json(key)?)
        .bind(i64::try_from(last).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_error("read drift runs", e))?;
        texts.iter().map(|t| sql::from_json("run", t)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// Keys of any text and length (JSONB sizes in the header's nibble,
        /// in one and in two bytes; the conformance suite's large commit
        /// takes four) are found again by a lookup, and keys never
        /// committed are not.
        #[test]
        fn looked_up_keys_are_found_whatever_their_text(
            keys in proptest::collection::hash_set(".{0,300}", 1..40),
            pad in 0usize..3_000,
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let store = rt.block_on(SqliteStore::in_memory()).unwrap();
            let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
            let keys: Vec<EntityKey> = keys.iter().map(EntityKey::new).collect();
            let mut commit = BatchCommit::new(Cursor::new("c"));
            for (i, key) in keys.iter().enumerate() {
                commit = commit.with_version(key.clone(), Version::new(at, i as u64));
            }
            rt.block_on(store.commit("f", commit, None)).unwrap();
            // Unknown keys around them make the array's payload long.
            let mut asked = keys.clone();
            asked.extend((0..pad).map(|i| EntityKey::new(format!("unknown-{i}"))));
            let got = rt.block_on(store.versions("f", &asked)).unwrap();
            proptest::prop_assert_eq!(got.len(), asked.len());
            for (i, found) in got.iter().enumerate() {
                let want = (i < keys.len()).then(|| Version::new(at, i as u64));
                proptest::prop_assert_eq!(*found, want, "key {:?}", asked[i]);
            }
        }
    }
}
