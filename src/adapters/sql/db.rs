//! The two backends behind one small interface: a pool, a transaction, and
//! "run this SQL with these bound values, give me text columns".
//!
//! Every statement the adapter sends selects text (rows as JSON text, times
//! as RFC 3339 text, counts and sums as decimal text), so one decoder serves
//! both backends and no value ever passes through a float.
//!
//! With `sql` but neither `sqlite` nor `postgres`, this compiles with no
//! backend: [`SqlDatabase`] then has no variant, so no adapter can be opened.
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(unused))]

use crate::error::{Error, ErrorKind, Result, Retryability};

/// Binds `$args` to `$sql`, runs it on `$exec` and decodes every column as optional text.
macro_rules! fetch_text {
    ($exec:expr, $sql:expr, $args:expr) => {{
        use sqlx::Row;
        // The SQL text is built only from checked, quoted identifiers and
        // placeholders (or an operator's configured query); values are bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe($sql.to_string()));
        for a in $args {
            q = match a {
                Arg::Null => q.bind(None::<String>),
                Arg::Text(s) => q.bind(s.clone()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        let rows = q.fetch_all($exec).await?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.try_get::<Option<String>, _>(i))
                    .collect::<Result<TextRow, sqlx::Error>>()
            })
            .collect::<Result<Vec<TextRow>, sqlx::Error>>()
    }};
}

/// A bound value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arg {
    /// SQL `NULL`.
    Null,
    /// Text.
    Text(String),
    /// A 64-bit integer.
    Int(i64),
}

/// One result row, every column as text (`None` for SQL `NULL`).
pub(crate) type TextRow = Vec<Option<String>>;

/// Which SQL the statements are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// SQLite (`?` placeholders, binary collation).
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    Sqlite,
    /// PostgreSQL (`$n` placeholders, `COLLATE "C"` for byte order).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Postgres,
}

/// Bound values collected while a statement is written.
#[derive(Debug)]
pub(crate) struct Params {
    dialect: Dialect,
    /// The values, in placeholder order.
    pub args: Vec<Arg>,
}

impl Params {
    /// No values yet.
    pub fn new(dialect: Dialect) -> Self {
        Params {
            dialect,
            args: Vec::new(),
        }
    }

    /// Binds `arg` and returns its placeholder.
    pub fn bind(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        match self.dialect {
            Dialect::Sqlite => "?".to_string(),
            Dialect::Postgres => format!("${}", self.args.len()),
        }
    }
}

/// A database the adapter reads and writes: a SQLite or PostgreSQL pool.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SqlDatabase {
    /// A SQLite database.
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    /// A PostgreSQL database.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
}

impl SqlDatabase {
    /// Opens (creating if missing) a SQLite file: WAL journal, a busy
    /// timeout so concurrent writers wait instead of failing.
    #[cfg(feature = "sqlite")]
    pub async fn sqlite_file(path: impl AsRef<std::path::Path>) -> Result<Self> {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
        let path = path.as_ref();
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| db_error("sqlite", &format!("open {}", path.display()), &e))?;
        Ok(SqlDatabase::Sqlite(pool))
    }

    /// Connects to PostgreSQL at `url`.
    #[cfg(feature = "postgres")]
    pub async fn postgres(url: &str) -> Result<Self> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(url)
            .await
            .map_err(|e| db_error("postgres", "connect", &e))?;
        Ok(SqlDatabase::Postgres(pool))
    }

    /// The SQL dialect of this database.
    pub(crate) fn dialect(&self) -> Dialect {
        match *self {
            #[cfg(feature = "sqlite")]
            SqlDatabase::Sqlite(_) => Dialect::Sqlite,
            #[cfg(feature = "postgres")]
            SqlDatabase::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs `sql` with `args` and returns every row as text.
    pub(crate) async fn fetch(&self, sql: &str, args: &[Arg]) -> Result<Vec<TextRow>, sqlx::Error> {
        match *self {
            #[cfg(feature = "sqlite")]
            SqlDatabase::Sqlite(ref pool) => fetch_text!(pool, sql, args),
            #[cfg(feature = "postgres")]
            SqlDatabase::Postgres(ref pool) => fetch_text!(pool, sql, args),
        }
    }

    /// The column names `sql` (a `SELECT`) returns, without running it.
    pub(crate) async fn columns(&self, sql: &str) -> Result<Vec<String>, sqlx::Error> {
        use sqlx::{Column, Executor, Statement};
        match *self {
            #[cfg(feature = "sqlite")]
            SqlDatabase::Sqlite(ref pool) => {
                let stmt = pool
                    .prepare(sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(
                        sql.to_string(),
                    )))
                    .await?;
                Ok(stmt
                    .columns()
                    .iter()
                    .map(|c| c.name().to_string())
                    .collect())
            }
            #[cfg(feature = "postgres")]
            SqlDatabase::Postgres(ref pool) => {
                let stmt = pool
                    .prepare(sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(
                        sql.to_string(),
                    )))
                    .await?;
                Ok(stmt
                    .columns()
                    .iter()
                    .map(|c| c.name().to_string())
                    .collect())
            }
        }
    }

    /// Starts a write transaction (SQLite: `BEGIN IMMEDIATE`, so two writers
    /// never deadlock on a lock upgrade). Dropped without commit, it rolls back.
    pub(crate) async fn begin(&self) -> Result<Tx, sqlx::Error> {
        match *self {
            #[cfg(feature = "sqlite")]
            SqlDatabase::Sqlite(ref pool) => {
                Ok(Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?))
            }
            #[cfg(feature = "postgres")]
            SqlDatabase::Postgres(ref pool) => Ok(Tx::Postgres(pool.begin().await?)),
        }
    }
}

/// An open write transaction.
pub(crate) enum Tx {
    /// On SQLite.
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    /// On PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    /// Runs `sql` with `args` inside the transaction, every column as text.
    pub async fn fetch(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<TextRow>, sqlx::Error> {
        match *self {
            #[cfg(feature = "sqlite")]
            Tx::Sqlite(ref mut tx) => fetch_text!(&mut **tx, sql, args),
            #[cfg(feature = "postgres")]
            Tx::Postgres(ref mut tx) => fetch_text!(&mut **tx, sql, args),
        }
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            #[cfg(feature = "sqlite")]
            Tx::Sqlite(tx) => tx.commit().await,
            #[cfg(feature = "postgres")]
            Tx::Postgres(tx) => tx.commit().await,
        }
    }
}

/// True for errors worth retrying: I/O, pool, SQLite busy/locked,
/// PostgreSQL serialization failures, deadlocks, lock and statement
/// timeouts. Decided by error codes, never by message text (a constraint
/// on a column named `locked` is not a busy database).
pub(crate) fn is_temporary(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => {
            #[cfg(feature = "sqlite")]
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // Extended codes keep the primary code in the low byte:
                // SQLITE_BUSY = 5, SQLITE_LOCKED = 6.
                let code = db.code().and_then(|c| c.parse::<i32>().ok());
                return code.is_some_and(|c| matches!(c & 0xff, 5 | 6));
            }
            matches!(
                db.code().as_deref(),
                Some("40001" | "40P01" | "55P03" | "57014")
            )
        }
        _ => false,
    }
}

/// Maps a driver error for `system`: temporary ones are `Unavailable` and
/// retryable, the rest `Unexpected` and permanent.
pub(crate) fn db_error(system: &str, what: &str, e: &sqlx::Error) -> Error {
    let (kind, retry) = if is_temporary(e) {
        (ErrorKind::Unavailable, Retryability::Temporary)
    } else {
        (ErrorKind::Unexpected, Retryability::Permanent)
    };
    Error::new(kind, format!("{system} sql adapter, {what}: {e}"))
        .with_retryability(retry)
        .with_system(system)
}
