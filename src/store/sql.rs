//! What the SQL state stores share: error mapping, time and JSON columns,
//! dead-letter rows, migrations.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{ColumnIndex, Decode, Row, Type};

use super::DeadLetter;
use crate::connector::EntityKey;
use crate::error::{Error, ErrorKind, Result, Retryability};

/// Maps a driver error: I/O, pool, busy and serialization errors are worth
/// retrying; the rest are bugs or broken databases.
pub(super) fn db_error(system: &str, what: &str, e: sqlx::Error) -> Error {
    let temporary = match &e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => {
            let msg = db.message();
            // SQLite: locked/busy. PostgreSQL: serialization failure, deadlock.
            msg.contains("locked")
                || msg.contains("busy")
                || matches!(db.code().as_deref(), Some("40001" | "40P01"))
        }
        _ => false,
    };
    let (kind, retry) = if temporary {
        (ErrorKind::Unavailable, Retryability::Temporary)
    } else {
        (ErrorKind::Unexpected, Retryability::Permanent)
    };
    Error::new(kind, format!("{system} state store, {what}: {e}"))
        .with_retryability(retry)
        .with_system(system)
}

/// Times are stored as integer microseconds since the epoch.
pub(super) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(super) fn time(us: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| {
        Error::new(
            ErrorKind::Unexpected,
            format!("stored time {us} µs is out of range"),
        )
    })
}

pub(super) fn to_json<T: Serialize>(value: &T) -> Result<String> {
    Ok(serde_json::to_string(value)?)
}

pub(super) fn from_json<T: DeserializeOwned>(column: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| {
        Error::new(
            ErrorKind::Unexpected,
            format!("state store column `{column}` holds unreadable JSON: {e}"),
        )
    })
}

/// A `dead_letters` row (same columns in every SQL store).
pub(super) fn letter_from_row<R>(system: &str, row: &R) -> Result<DeadLetter>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let text = |c: &str| -> Result<String> { row.try_get(c).map_err(|e| db_error(system, c, e)) };
    let int = |c: &str| -> Result<i64> { row.try_get(c).map_err(|e| db_error(system, c, e)) };
    let external_ref: Option<String> = row
        .try_get("external_ref")
        .map_err(|e| db_error(system, "external_ref", e))?;
    Ok(DeadLetter {
        id: int("id")?,
        flow: text("flow")?,
        owner: text("owner")?,
        kind: from_json("kind", &text("kind")?)?,
        key: EntityKey::new(text("entity_key")?),
        external_ref: external_ref
            .map(|t| from_json("external_ref", &t))
            .transpose()?,
        changed_at: time(int("changed_at")?)?,
        payload: from_json("payload", &text("payload")?)?,
        error: from_json("error", &text("error")?)?,
        attempts: u32::try_from(int("attempts")?).unwrap_or(u32::MAX),
        first_failed_at: time(int("first_failed_at")?)?,
        last_failed_at: time(int("last_failed_at")?)?,
        status: from_json("status", &text("status")?)?,
    })
}

/// A migrator over versioned `(version, description, sql)` steps, tracked in
/// `seamwork_migrations`.
pub(super) fn migrator(steps: &[(i64, &'static str, &'static str)]) -> Migrator {
    let migrations = steps
        .iter()
        .map(|(version, description, sql)| {
            Migration::new(
                *version,
                (*description).into(),
                MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(*sql),
                false,
            )
        })
        .collect();
    let mut migrator = Migrator::with_migrations(migrations);
    migrator.dangerous_set_table_name("seamwork_migrations");
    migrator
}
