//! Upserts by key, one outcome per record.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::config::Ident;
use super::db::{Arg, Dialect, Params, Tx, is_temporary};
use super::{Inner, SqlAdapter, time_text};
use crate::connector::{Sink, WriteOutcome, WriteResult, row_checksum};
use crate::error::{Error, ErrorKind, Result};
use crate::mapping::{ApplyOptions, Mappable};

/// The savepoint each record is written under.
const SAVEPOINT: &str = "seamwork_record";

#[async_trait]
impl<E: Mappable> Sink<E> for SqlAdapter<E> {
    async fn upsert(&self, batch: &[E]) -> Result<Vec<WriteOutcome>> {
        let inner = &*self.inner;
        let Some(table) = &inner.table else {
            return Err(Error::config(format!(
                "sql adapter {}: a query cannot be written; configure a table to use it as a sink",
                inner.system
            )));
        };
        if batch.len() > inner.max_batch {
            return Err(Error::invalid_data(format!(
                "sql adapter {}: a batch of {} is over max_batch {}",
                inner.system,
                batch.len(),
                inner.max_batch
            )));
        }
        let now = Utc::now();
        let opts = ApplyOptions::default().with_now(now);
        let mut tx: Option<Tx> = None;
        let mut outcomes = Vec::with_capacity(batch.len());
        for entity in batch {
            let result = match inner.columns_of(entity, now, &opts) {
                Err(e) => WriteResult::rejected(e),
                Ok(row) => {
                    let tx = match &mut tx {
                        Some(tx) => tx,
                        None => tx.insert(
                            inner
                                .db
                                .begin()
                                .await
                                .map_err(|e| inner.db_error("begin a write", &e))?,
                        ),
                    };
                    inner.write_one(tx, table, entity, &row, &opts).await?
                }
            };
            outcomes.push(WriteOutcome::new(entity.key(), result));
        }
        if let Some(tx) = tx {
            tx.commit()
                .await
                .map_err(|e| inner.db_error("commit a write", &e))?;
        }
        Ok(outcomes)
    }
}

impl<E: Mappable> Inner<E> {
    /// The columns to write for `entity`, or why it cannot be written.
    fn columns_of(
        &self,
        entity: &E,
        now: DateTime<Utc>,
        opts: &ApplyOptions<'_>,
    ) -> Result<Map<String, Value>> {
        let key = entity.key();
        let tag = |e: Error| {
            e.with_key(key.to_string())
                .with_system(self.system.as_str())
                .with_entity(E::KIND.name())
        };
        entity.validate().map_err(|e| tag(e.into()))?;
        let payload = self
            .spec
            .to_payload(entity, opts)
            .map_err(|e| tag(e.into()))?;
        let Value::Object(mut row) = payload else {
            return Err(tag(Error::invalid_data(
                "the mapping did not produce one object of columns",
            )));
        };
        for column in row.keys() {
            Ident::column(column, "column").map_err(tag)?;
            if !self.columns.contains(column) {
                return Err(tag(Error::new(
                    ErrorKind::Config,
                    format!(
                        "the mapping writes column {column:?}, which {} does not have",
                        self.from
                    ),
                )
                .with_field(column.clone())));
            }
        }
        for k in &self.key {
            if row.get(&k.name).is_none_or(Value::is_null) {
                return Err(tag(Error::invalid_data(format!(
                    "the mapping gives no value for key column {:?}",
                    k.name
                ))
                .with_field(k.name.clone())));
            }
        }
        let stamp = match row.get(&self.updated_at.name) {
            Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| {
                    tag(Error::invalid_data(format!(
                        "updated_at column value {s:?} is not an RFC 3339 time: {e}"
                    ))
                    .with_field(self.updated_at.name.clone()))
                })?,
            _ => now,
        };
        row.insert(
            self.updated_at.name.clone(),
            Value::String(time_text(stamp)),
        );
        if let Some((column, exclude)) = &self.checksum {
            let sum = row_checksum(entity, exclude)?;
            row.insert(
                column.name.clone(),
                Value::from(i64::from_ne_bytes(sum.to_ne_bytes())),
            );
        }
        Ok(row)
    }

    /// Writes one record under a savepoint. A database refusal that
    /// retrying cannot fix rejects the record; anything else fails the batch.
    async fn write_one(
        &self,
        tx: &mut Tx,
        table: &Ident,
        entity: &E,
        row: &Map<String, Value>,
        opts: &ApplyOptions<'_>,
    ) -> Result<WriteResult> {
        let external_id = self
            .key
            .iter()
            .map(|k| text_of(&row[&k.name]))
            .collect::<Vec<_>>()
            .join("\u{1f}");
        let key = entity.key();
        let exec = |e: &sqlx::Error, what: &str| self.db_error(what, e).with_key(key.to_string());
        tx.fetch(&format!("SAVEPOINT {SAVEPOINT}"), &[])
            .await
            .map_err(|e| exec(&e, "savepoint"))?;
        match self
            .try_write(tx, table, entity, row, &external_id, opts)
            .await
        {
            Ok(result) => {
                tx.fetch(&format!("RELEASE SAVEPOINT {SAVEPOINT}"), &[])
                    .await
                    .map_err(|e| exec(&e, "release savepoint"))?;
                Ok(result)
            }
            Err(e) if is_temporary(&e) => Err(exec(&e, "write")),
            Err(e) => {
                tx.fetch(&format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}"), &[])
                    .await
                    .map_err(|e| exec(&e, "roll back to savepoint"))?;
                Ok(WriteResult::rejected(
                    Error::invalid_data(format!("{} refused {key}: {e}", table.name))
                        .with_key(key.to_string())
                        .with_system(self.system.as_str())
                        .with_entity(E::KIND.name()),
                ))
            }
        }
    }

    async fn try_write(
        &self,
        tx: &mut Tx,
        table: &Ident,
        entity: &E,
        row: &Map<String, Value>,
        external_id: &str,
        opts: &ApplyOptions<'_>,
    ) -> Result<WriteResult, sqlx::Error> {
        let checksum_sql = match &self.checksum {
            Some((c, _)) => format!("CAST(src.{} AS TEXT)", c.quoted),
            None => "NULL".to_string(),
        };
        let mut p = Params::new(self.dialect);
        let find = match self.dialect {
            Dialect::Sqlite => {
                let conds: Vec<String> = self
                    .key
                    .iter()
                    .map(|k| format!("src.{} = {}", k.quoted, p.bind(arg_of(&row[&k.name]))))
                    .collect();
                format!(
                    "SELECT {}, {checksum_sql} FROM {} AS src WHERE {}",
                    self.row_json,
                    table.quoted,
                    conds.join(" AND ")
                )
            }
            Dialect::Postgres => {
                let json = p.bind(Arg::Text(Value::Object(row.clone()).to_string()));
                let conds: Vec<String> = self
                    .key
                    .iter()
                    .map(|k| format!("src.{0} = p.{0}", k.quoted))
                    .collect();
                format!(
                    "SELECT {}, {checksum_sql} FROM {t} AS src, jsonb_populate_record(NULL::{t}, CAST({json} AS jsonb)) AS p WHERE {}",
                    self.row_json,
                    conds.join(" AND "),
                    t = table.quoted,
                )
            }
        };
        let found = tx.fetch(&find, &p.args).await?;
        if let Some(stored) = found.first() {
            let same_checksum = match &self.checksum {
                None => true,
                Some((c, _)) => {
                    stored.get(1).cloned().flatten().as_deref()
                        == Some(text_of(&row[&c.name]).as_str())
                }
            };
            let before = self.map_row(stored[0].as_deref(), external_id, opts).ok();
            if same_checksum && before.as_ref() == Some(entity) {
                return Ok(WriteResult::Unchanged {
                    external_id: external_id.to_string(),
                });
            }
        }
        let columns: Vec<&String> = row.keys().collect();
        let names: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
        let keys: Vec<&str> = self.key.iter().map(|k| k.quoted.as_str()).collect();
        let updates: Vec<String> = names
            .iter()
            .filter(|n| !keys.contains(&n.as_str()))
            .map(|n| format!("{n} = excluded.{n}"))
            .collect();
        let on_conflict = if updates.is_empty() {
            format!("ON CONFLICT ({}) DO NOTHING", keys.join(", "))
        } else {
            format!(
                "ON CONFLICT ({}) DO UPDATE SET {}",
                keys.join(", "),
                updates.join(", ")
            )
        };
        let mut p = Params::new(self.dialect);
        let write = match self.dialect {
            Dialect::Sqlite => {
                let values: Vec<String> =
                    columns.iter().map(|c| p.bind(arg_of(&row[*c]))).collect();
                format!(
                    "INSERT INTO {} ({}) VALUES ({}) {on_conflict}",
                    table.quoted,
                    names.join(", "),
                    values.join(", ")
                )
            }
            Dialect::Postgres => {
                let json = p.bind(Arg::Text(Value::Object(row.clone()).to_string()));
                let values: Vec<String> = names.iter().map(|n| format!("p.{n}")).collect();
                format!(
                    "INSERT INTO {t} ({}) SELECT {} FROM jsonb_populate_record(NULL::{t}, CAST({json} AS jsonb)) AS p {on_conflict}",
                    names.join(", "),
                    values.join(", "),
                    t = table.quoted,
                )
            }
        };
        tx.fetch(&write, &p.args).await?;
        let external_id = external_id.to_string();
        Ok(if found.is_empty() {
            WriteResult::Created { external_id }
        } else {
            WriteResult::Updated { external_id }
        })
    }
}

/// A payload value as a bound parameter: text, integers, booleans as 0/1,
/// other numbers as their exact text, objects and arrays as JSON text.
fn arg_of(v: &Value) -> Arg {
    match v {
        Value::Null => Arg::Null,
        Value::Bool(b) => Arg::Int(i64::from(*b)),
        Value::Number(n) => n
            .as_i64()
            .map_or_else(|| Arg::Text(n.to_string()), Arg::Int),
        Value::String(s) => Arg::Text(s.clone()),
        other => Arg::Text(other.to_string()),
    }
}

/// A payload value as the text the database shows for it.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
