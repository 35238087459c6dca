//! What a SQL adapter reads and writes, as configuration, and the checks
//! that keep configured names out of the SQL text unless they are plain
//! identifiers.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Rows per page of a read when the configuration does not say.
pub const DEFAULT_PAGE_SIZE: usize = 500;

/// Records per upsert batch when the configuration does not say.
pub const DEFAULT_MAX_BATCH: usize = 500;

/// Where rows come from: a table (read and written) or a query (read only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Relation {
    /// A table, optionally schema-qualified (`erp.inventory`).
    Table(String),
    /// A `SELECT` statement written by the operator; it is wrapped as a
    /// sub-query, so it is trusted SQL, never built from outside input.
    Query(String),
}

/// A column that holds each row's [`row_checksum`](crate::connector::row_checksum),
/// written by the sink, so the database can sum a range itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChecksumColumn {
    /// The column (a 64-bit integer: `INTEGER` in SQLite, `BIGINT` in PostgreSQL).
    pub column: String,
    /// Top-level entity fields left out of the stored checksum; a checksum
    /// asked with another set is computed in this process instead.
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// The configuration of one [`SqlAdapter`](super::SqlAdapter).
///
/// ```
/// use seamwork::adapters::sql::SqlConfig;
///
/// let config: SqlConfig = toml::from_str(r#"
///     system = "erp"
///     relation = { table = "erp.inventory" }
///     key = ["item_no", "site"]
///     updated_at = "changed_at"
///     page_size = 200
/// "#).unwrap();
/// assert_eq!(config.key.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SqlConfig {
    /// The system the rows belong to (`erp`), used in external references.
    pub system: String,
    /// The table or query.
    pub relation: Relation,
    /// The key columns, in the order of the entity's key parts. For range
    /// checksums they must hold the key parts as they are (no transform).
    pub key: Vec<String>,
    /// The column that says when a row last changed (incremental reads).
    pub updated_at: String,
    /// Rows per page of a read.
    #[serde(default = "default_page_size")]
    pub page_size: usize,
    /// Records per upsert batch.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// A stored per-row checksum, when the table has one.
    #[serde(default)]
    pub checksum: Option<ChecksumColumn>,
}

fn default_page_size() -> usize {
    DEFAULT_PAGE_SIZE
}

fn default_max_batch() -> usize {
    DEFAULT_MAX_BATCH
}

impl SqlConfig {
    /// Reads and writes `table`, keyed by `key`, changes ordered by `updated_at`.
    pub fn table(system: &str, table: &str, key: &[&str], updated_at: &str) -> Self {
        SqlConfig {
            system: system.to_string(),
            relation: Relation::Table(table.to_string()),
            key: key.iter().map(|k| k.to_string()).collect(),
            updated_at: updated_at.to_string(),
            page_size: DEFAULT_PAGE_SIZE,
            max_batch: DEFAULT_MAX_BATCH,
            checksum: None,
        }
    }

    /// Reads the rows of `query` (a trusted `SELECT`), keyed by `key`.
    pub fn query(system: &str, query: &str, key: &[&str], updated_at: &str) -> Self {
        SqlConfig {
            relation: Relation::Query(query.to_string()),
            ..SqlConfig::table(system, "", key, updated_at)
        }
    }

    /// Sets the rows per page of a read.
    pub fn with_page_size(mut self, rows: usize) -> Self {
        self.page_size = rows;
        self
    }

    /// Sets the records per upsert batch.
    pub fn with_max_batch(mut self, records: usize) -> Self {
        self.max_batch = records;
        self
    }

    /// Keeps each row's checksum (leaving out the fields in `exclude`) in `column`.
    pub fn with_checksum_column(mut self, column: &str, exclude: &[&str]) -> Self {
        self.checksum = Some(ChecksumColumn {
            column: column.to_string(),
            exclude: exclude.iter().map(|f| f.to_string()).collect(),
        });
        self
    }
}

/// A configuration whose names have all been checked.
#[derive(Debug)]
pub(crate) struct Checked {
    /// The table, when the relation is one.
    pub table: Option<Ident>,
    /// `<table> AS src` or `(<query>) AS src`.
    pub from: String,
    /// The key columns.
    pub key: Vec<Ident>,
    /// The change-time column.
    pub updated_at: Ident,
    /// The checksum column and the fields its checksums leave out (sorted).
    pub checksum: Option<(Ident, Vec<String>)>,
}

impl SqlConfig {
    /// Checks every name and limit without touching a database: names that
    /// are not plain identifiers, an empty key or query, and zero sizes are
    /// `Config` errors naming the setting.
    pub fn check(&self) -> Result<()> {
        self.checked().map(|_| ())
    }

    pub(crate) fn checked(&self) -> Result<Checked> {
        crate::model::SystemId::new(&self.system)
            .map_err(|e| Error::config(format!("sql adapter: system: {}", e.message())))?;
        let (table, from) = match &self.relation {
            Relation::Table(name) => {
                let table = Ident::table(name)?;
                let from = format!("{} AS src", table.quoted);
                (Some(table), from)
            }
            Relation::Query(sql) => {
                let sql = sql.trim().trim_end_matches(';').trim();
                if sql.is_empty() {
                    return Err(Error::config("sql adapter: the configured query is empty"));
                }
                (None, format!("({sql}) AS src"))
            }
        };
        if self.key.is_empty() {
            return Err(Error::config("sql adapter: no key column configured").with_field("key"));
        }
        let key = self
            .key
            .iter()
            .map(|k| Ident::column(k, "key column"))
            .collect::<Result<Vec<_>>>()?;
        let updated_at = Ident::column(&self.updated_at, "updated_at column")?;
        let checksum = match &self.checksum {
            Some(c) => {
                let mut exclude = c.exclude.clone();
                exclude.sort();
                exclude.dedup();
                Some((Ident::column(&c.column, "checksum column")?, exclude))
            }
            None => None,
        };
        if self.page_size == 0 || self.max_batch == 0 {
            return Err(Error::config(
                "sql adapter: page_size and max_batch must be at least 1",
            ));
        }
        Ok(Checked {
            table,
            from,
            key,
            updated_at,
            checksum,
        })
    }
}

/// A checked identifier, kept quoted and ready for SQL text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ident {
    /// The name as configured.
    pub name: String,
    /// `"name"` (or `"schema"."name"`).
    pub quoted: String,
}

/// True for `^[A-Za-z_][A-Za-z0-9_]*$`.
fn plain(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63
}

impl Ident {
    /// A column name: a plain identifier, else a `Config` error naming `what`.
    pub fn column(name: &str, what: &str) -> Result<Ident> {
        if !plain(name) {
            return Err(Error::config(format!(
                "sql adapter: {what} {name:?} is not a plain identifier (letters, digits and _, not starting with a digit, at most 63 characters)"
            ))
            .with_field(what.to_string()));
        }
        Ok(Ident {
            name: name.to_string(),
            quoted: format!("\"{name}\""),
        })
    }

    /// A table name, optionally `schema.table`, each part a plain identifier.
    pub fn table(name: &str) -> Result<Ident> {
        let parts: Vec<&str> = name.split('.').collect();
        if parts.len() > 2 || !parts.iter().all(|p| plain(p)) {
            return Err(Error::config(format!(
                "sql adapter: table {name:?} is not a plain identifier or schema.table (letters, digits and _, not starting with a digit)"
            ))
            .with_field("table"));
        }
        Ok(Ident {
            name: name.to_string(),
            quoted: parts
                .iter()
                .map(|p| format!("\"{p}\""))
                .collect::<Vec<_>>()
                .join("."),
        })
    }
}

/// A name read from the database itself (a query's result columns), quoted
/// with its inner quotes doubled; never configuration.
pub(crate) fn quote_any(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `name` as a SQL string literal with its quotes doubled.
pub(crate) fn literal(name: &str) -> String {
    format!("'{}'", name.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn only_plain_identifiers_pass() {
        assert_eq!(
            Ident::column("qty_1", "column").unwrap().quoted,
            "\"qty_1\""
        );
        assert_eq!(
            Ident::table("erp.stock").unwrap().quoted,
            "\"erp\".\"stock\""
        );
        for bad in [
            "",
            "1a",
            "a b",
            "a\"b",
            "a;DROP TABLE x",
            "a--",
            "é",
            "a.b.c",
        ] {
            let err = Ident::table(bad).unwrap_err();
            assert_eq!(err.kind(), &ErrorKind::Config, "{bad}");
        }
        assert!(Ident::column("erp.stock", "column").is_err());
        assert_eq!(quote_any("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
    }
}
