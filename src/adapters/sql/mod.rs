//! A table or a query in SQLite (feature `sqlite`) or PostgreSQL (feature
//! `postgres`) as a [`Source`](crate::connector::Source),
//! [`Sink`](crate::connector::Sink) and [`Checksums`](crate::connector::Checksums)
//! of any mappable entity, mapped with a [`MappingSpec`].
//!
//! - **Rows are field trees.** Each row travels as one JSON object, column
//!   name → value, built by the database (`json_object` in SQLite, where
//!   integers stay JSON integers and text stays text; `to_jsonb` in
//!   PostgreSQL, where every number travels as its exact text, so a
//!   `NUMERIC` never passes through a float), and the spec maps it to the
//!   entity. A row the spec cannot map ends the read with an `InvalidData`
//!   error naming its key: it is never skipped. The sink maps the entity
//!   back with [`MappingSpec::to_payload`]: each payload key is a column.
//! - **Incremental reads** page by `(updated_at, key)`:
//!   `WHERE (updated_at, key) > ($1, $2) ORDER BY updated_at, key LIMIT n`,
//!   with a [`TimeIdCursor`](crate::connector::TimeIdCursor), so rows sharing
//!   one `updated_at` are neither skipped nor repeated. A `NULL` `updated_at`
//!   reads as 1970-01-01. In SQLite the column must hold UTC RFC 3339 text
//!   with exactly nine fractional digits (what the sink writes:
//!   `2026-01-01T00:00:00.000000000Z`), since SQLite compares it as text; a
//!   row spelled otherwise ends the read with an `InvalidData` error naming it;
//!   PostgreSQL compares it as `timestamptz` (which keeps microseconds: an
//!   entity whose mapped time has nanoseconds reads back rounded, so it is
//!   never `Unchanged`; use a `TEXT` column to keep them).
//! - **Upserts by key**: `INSERT … ON CONFLICT (key) DO UPDATE`, in one
//!   transaction per batch with a savepoint per record. Each record is
//!   `Created`, `Updated`, `Unchanged` (the stored row maps back to an equal
//!   entity, and nothing is written) or `Rejected` with the reason (invalid
//!   entity, mapping failure, a column the table lacks, a constraint the
//!   database refuses); the rest of the batch is still written. The sink
//!   writes the `updated_at` column from the payload when the spec maps it,
//!   else stamps the current time.
//! - **Checksums** for hash-diff ([`crate::reconcile::hash_diff`]): the
//!   database counts the rows of a key range and, with a
//!   [`ChecksumColumn`], sums the stored per-row
//!   [`row_checksum`](crate::connector::row_checksum)s itself (as two
//!   32-bit halves, so the sum never overflows). The FNV-1a of canonical JSON
//!   is not computed in SQL: the sink stores it on write, and rows whose
//!   column is `NULL` (written by something else, which must clear it when
//!   it changes a row) are fetched and checksummed in this process. Without
//!   the column, or when asked to exclude other fields than the stored
//!   checksum did, every row of the range is fetched and checksummed here.
//!   Ranges compare key text in byte order (`COLLATE "C"` in PostgreSQL), and
//!   the key columns must hold the entity's key parts as they are.
//! - **Safety**: the table, key, `updated_at` and checksum column names
//!   must be plain identifiers (`^[A-Za-z_][A-Za-z0-9_]*$`, the table
//!   optionally `schema.table`); anything else is a `Config` error when the
//!   adapter opens. They are quoted in the SQL text; every value is a bound
//!   parameter. A configured [`Relation::Query`] is trusted SQL from the operator.
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # async fn demo() -> seamwork::Result<()> {
//! use seamwork::adapters::sql::{SqlAdapter, SqlConfig, SqlDatabase};
//! use seamwork::mapping::MappingSpec;
//! use seamwork::model::InventoryLevel;
//!
//! let db = SqlDatabase::sqlite_file("erp.db").await?;
//! let spec = MappingSpec::<InventoryLevel>::from_file("erp_inventory.toml")?;
//! let config = SqlConfig::table("erp", "inventory", &["sku", "site"], "changed_at");
//! let erp = SqlAdapter::open(db, config, spec).await?;
//! # let _ = erp; Ok(()) }
//! ```

mod checksum;
mod config;
mod db;
mod sink;
mod source;

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

pub use config::{ChecksumColumn, DEFAULT_MAX_BATCH, DEFAULT_PAGE_SIZE, Relation, SqlConfig};
pub use db::SqlDatabase;

use config::{Ident, literal, quote_any};
use db::{Dialect, TextRow, db_error};

use crate::connector::{Capability, Connector, EntityKind};
use crate::error::{Error, Result};
use crate::mapping::{ApplyOptions, Mappable, MappingSpec};
use crate::model::SystemId;

/// Columns per `json_object` call in SQLite (its default limit is 127 arguments).
const SQLITE_COLUMNS_PER_OBJECT: usize = 60;

/// A SQL table or query as a source, sink and checksum provider of `E`.
///
/// Cloning is cheap (the pool and the compiled statements are shared).
pub struct SqlAdapter<E> {
    inner: Arc<Inner<E>>,
}

impl<E> Clone for SqlAdapter<E> {
    fn clone(&self) -> Self {
        SqlAdapter {
            inner: self.inner.clone(),
        }
    }
}

impl<E> std::fmt::Debug for SqlAdapter<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlAdapter")
            .field("system", &self.inner.system)
            .field("from", &self.inner.from)
            .finish_non_exhaustive()
    }
}

/// Everything checked and written once when the adapter opens.
struct Inner<E> {
    db: SqlDatabase,
    dialect: Dialect,
    system: SystemId,
    spec: MappingSpec<E>,
    /// The table, when the relation is one (sinks need it).
    table: Option<Ident>,
    /// `<table> AS src` or `(<query>) AS src`.
    from: String,
    key: Vec<Ident>,
    updated_at: Ident,
    checksum: Option<(Ident, Vec<String>)>,
    /// The relation's columns, as the database names them.
    columns: Vec<String>,
    /// The expression that makes a row of `src` one JSON object (as text).
    row_json: String,
    page_size: usize,
    max_batch: usize,
}

impl<E: Mappable> SqlAdapter<E> {
    /// Checks `config` against the database and opens the adapter. Names
    /// that are not plain identifiers, or columns the table or query does
    /// not have, are `Config` errors.
    pub async fn open(db: SqlDatabase, config: SqlConfig, spec: MappingSpec<E>) -> Result<Self> {
        let checked = config.checked()?;
        let system = SystemId::new(&config.system)?;
        let dialect = db.dialect();
        let config::Checked {
            table,
            from,
            key,
            updated_at,
            checksum,
        } = checked;
        let columns = db
            .columns(&format!("SELECT * FROM {from}"))
            .await
            .map_err(|e| {
                db_error(
                    system.as_str(),
                    "read the columns of the table or query",
                    &e,
                )
                .with_field("relation")
            })?;
        let mut wanted: Vec<(&Ident, &str)> = key.iter().map(|k| (k, "key column")).collect();
        wanted.push((&updated_at, "updated_at column"));
        if let Some((c, _)) = &checksum {
            wanted.push((c, "checksum column"));
        }
        for (ident, what) in wanted {
            if !columns.contains(&ident.name) {
                return Err(Error::config(format!(
                    "sql adapter: {what} {:?} is not a column of {} (it has: {})",
                    ident.name,
                    from,
                    columns.join(", ")
                ))
                .with_field(what.to_string()));
            }
        }
        let row_json = row_json(dialect, &columns);
        Ok(SqlAdapter {
            inner: Arc::new(Inner {
                db,
                dialect,
                system,
                spec,
                table,
                from,
                key,
                updated_at,
                checksum,
                columns,
                row_json,
                page_size: config.page_size,
                max_batch: config.max_batch,
            }),
        })
    }
}

impl<E> SqlAdapter<E> {
    /// The database this adapter uses.
    pub fn database(&self) -> &SqlDatabase {
        &self.inner.db
    }
}

/// The expression that turns the row `src` into JSON text: scalars as text
/// (exact numbers), booleans and `NULL` as JSON, JSON columns as JSON.
fn row_json(dialect: Dialect, columns: &[String]) -> String {
    match dialect {
        Dialect::Sqlite => {
            let objects: Vec<String> = columns
                .chunks(SQLITE_COLUMNS_PER_OBJECT)
                .map(|chunk| {
                    let pairs: Vec<String> = chunk
                        .iter()
                        .map(|c| format!("{}, src.{}", literal(c), quote_any(c)))
                        .collect();
                    format!("json_object({})", pairs.join(", "))
                })
                .collect();
            objects
                .into_iter()
                .reduce(|a, b| format!("json_patch({a}, {b})"))
                .unwrap_or_else(|| "json_object()".to_string())
        }
        Dialect::Postgres => "(SELECT COALESCE(jsonb_object_agg(e.key, CASE WHEN jsonb_typeof(e.value) = 'number' THEN to_jsonb(e.value #>> '{}') ELSE e.value END), '{}'::jsonb) FROM jsonb_each(to_jsonb(src)) AS e)::text".to_string(),
    }
}

impl<E: Mappable> Inner<E> {
    /// One key column as text, in byte order.
    fn key_part(&self, k: &Ident) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("CAST(src.{} AS TEXT)", k.quoted),
            Dialect::Postgres => format!("(CAST(src.{} AS TEXT) COLLATE \"C\")", k.quoted),
        }
    }

    /// The whole key as the text of an [`EntityKey`](crate::connector::EntityKey)
    /// (parts joined by U+001F), in byte order.
    fn key_text(&self) -> String {
        let parts: Vec<String> = self
            .key
            .iter()
            .map(|k| format!("CAST(src.{} AS TEXT)", k.quoted))
            .collect();
        match self.dialect {
            Dialect::Sqlite => format!("({})", parts.join(" || char(31) || ")),
            Dialect::Postgres => format!("(({}) COLLATE \"C\")", parts.join(" || chr(31) || ")),
        }
    }

    /// The change time, comparable: `NULL` reads as the epoch.
    fn changed_at(&self) -> String {
        let c = &self.updated_at.quoted;
        match self.dialect {
            Dialect::Sqlite => format!("COALESCE(src.{c}, '{}')", time_text(DateTime::UNIX_EPOCH)),
            Dialect::Postgres => {
                format!("COALESCE(CAST(src.{c} AS timestamptz), TIMESTAMPTZ 'epoch')")
            }
        }
    }

    /// The change time as RFC 3339 text.
    fn changed_at_text(&self) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("CAST({} AS TEXT)", self.changed_at()),
            Dialect::Postgres => format!("(to_jsonb({}) #>> '{{}}')", self.changed_at()),
        }
    }

    /// A bound time, comparable with [`changed_at`](Self::changed_at).
    fn time_param(&self, placeholder: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => placeholder.to_string(),
            Dialect::Postgres => format!("CAST({placeholder} AS timestamptz)"),
        }
    }

    /// Maps one row (JSON text) to an entity; the error names the row.
    fn map_row(&self, json: Option<&str>, key: &str, opts: &ApplyOptions<'_>) -> Result<E> {
        let row: Value = serde_json::from_str(json.unwrap_or("{}")).map_err(|e| {
            Error::invalid_data(format!(
                "{}: row {key:?} is not readable JSON: {e}",
                self.from
            ))
            .with_system(self.system.as_str())
        })?;
        self.spec
            .apply_with(&row, opts)
            .map(|m| m.entity)
            .map_err(|e| {
                Error::from(e)
                    .with_key(key.replace('\u{1f}', "@"))
                    .with_external_id(key.to_string())
            })
    }

    /// A database error in `what`.
    fn db_error(&self, what: &str, e: &sqlx::Error) -> Error {
        db_error(self.system.as_str(), what, e)
    }
}

/// A column of a text row, or an error naming it when the database gave `NULL`.
fn cell<'r>(row: &'r TextRow, i: usize, what: &str) -> Result<&'r str> {
    row.get(i)
        .and_then(|c| c.as_deref())
        .ok_or_else(|| Error::invalid_data(format!("sql adapter: the database returned no {what}")))
}

/// A time as the fixed-width UTC text SQLite compares correctly.
fn time_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Reads a time the database returned.
fn parse_time(text: &str, key: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            Error::invalid_data(format!(
                "row {key:?}: updated_at {text:?} is not an RFC 3339 time: {e}"
            ))
            .with_field("updated_at")
        })
}

impl<E: Mappable> Connector for SqlAdapter<E> {
    fn system(&self) -> &SystemId {
        &self.inner.system
    }

    fn capability(&self, kind: EntityKind) -> Capability {
        if kind != E::KIND {
            return Capability::new();
        }
        Capability::new()
            .with_incremental(true)
            .with_checksums(true)
            .with_max_batch(Some(self.inner.max_batch))
            .with_max_page(Some(self.inner.page_size))
    }
}
