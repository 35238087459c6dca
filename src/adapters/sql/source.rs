//! Incremental reads: keyset pages ordered by `(updated_at, key)`.

use std::sync::Arc;

use super::db::{Arg, Params};
use super::{Inner, SqlAdapter, cell, parse_time, time_text};
use crate::connector::{Cursor, Page, Record, RecordStream, Source, TimeIdCursor, paginate};
use crate::error::{Error, Result};
use crate::mapping::{ApplyOptions, Mappable};
use crate::model::ExternalRef;

impl<E: Mappable> Source<E> for SqlAdapter<E> {
    fn read(&self, since: Option<Cursor>) -> RecordStream<E> {
        let inner = self.inner.clone();
        paginate(since, move |after| {
            let inner = inner.clone();
            async move { page(&inner, after).await }
        })
    }
}

/// The page of rows after `after`.
async fn page<E: Mappable>(inner: &Arc<Inner<E>>, after: Option<Cursor>) -> Result<Page<E>> {
    let mut p = Params::new(inner.dialect);
    let order: Vec<String> = std::iter::once(inner.changed_at())
        .chain(inner.key.iter().map(|k| inner.key_part(k)))
        .collect();
    let mut select = vec![inner.row_json.clone(), inner.changed_at_text()];
    select.extend(
        inner
            .key
            .iter()
            .map(|k| format!("CAST(src.{} AS TEXT)", k.quoted)),
    );
    let filter = match &after {
        None => String::new(),
        Some(c) => {
            let c = TimeIdCursor::decode(c)?;
            let parts: Vec<&str> = c.id.split('\u{1f}').collect();
            if parts.len() != inner.key.len() {
                return Err(Error::invalid_data(format!(
                    "cursor {:?} has {} key part(s), but {} has {} key column(s)",
                    c.id,
                    parts.len(),
                    inner.from,
                    inner.key.len()
                )));
            }
            let at = p.bind(Arg::Text(time_text(c.at)));
            let mut bounds = vec![inner.time_param(&at)];
            bounds.extend(parts.iter().map(|part| p.bind(Arg::Text(part.to_string()))));
            format!("WHERE ({}) > ({})", order.join(", "), bounds.join(", "))
        }
    };
    let limit = p.bind(Arg::Int(i64::try_from(inner.page_size).unwrap_or(i64::MAX)));
    let sql = format!(
        "SELECT {} FROM {} {filter} ORDER BY {} LIMIT {limit}",
        select.join(", "),
        inner.from,
        order.join(", ")
    );
    let rows = inner
        .db
        .fetch(&sql, &p.args)
        .await
        .map_err(|e| inner.db_error("read a page", &e))?;
    let full = rows.len() >= inner.page_size;
    let opts = ApplyOptions::default();
    let mut records = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut parts = Vec::with_capacity(inner.key.len());
        for i in 0..inner.key.len() {
            parts.push(cell(row, 2 + i, "key column value")?);
        }
        let key = parts.join("\u{1f}");
        let at_text = cell(row, 1, "updated_at")?;
        let at = parse_time(at_text, &key)?;
        // The cursor starts with the time as the sink writes it: compare
        // that instead of formatting the time a second time per row.
        let cursor = TimeIdCursor::new(at, key.clone()).encode();
        let spelled_as_written = cursor
            .as_str()
            .strip_prefix(at_text)
            .is_some_and(|rest| rest.starts_with('|'));
        if inner.dialect == super::Dialect::Sqlite && !spelled_as_written {
            // SQLite orders this column as text: any other spelling of a
            // time sorts wrongly against the cursor and rows get skipped.
            return Err(Error::invalid_data(format!(
                "row {key:?} in {}: updated_at {at_text:?} must be written as {:?} \
                 (UTC, 9 fractional digits), or pages skip rows",
                inner.from,
                time_text(at)
            ))
            .with_field("updated_at"));
        }
        let entity = inner.map_row(row[0].as_deref(), &key, &opts)?;
        let external = ExternalRef::try_new(inner.system.as_str(), key.clone())?;
        records.push(Record::new(entity, external, cursor, at));
    }
    let next = if full {
        records.last().map(|r| r.cursor.clone())
    } else {
        None
    };
    Ok(Page::new(records, next))
}
