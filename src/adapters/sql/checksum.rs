//! Range counts and checksums for hash-diff, summed in the database where
//! the table keeps a checksum column (see the module docs for what runs where).

use async_trait::async_trait;

use super::db::{Arg, Params};
use super::{Inner, SqlAdapter, cell};
use crate::connector::{Checksums, EntityKey, KeyRange, RangeChecksum, row_checksum};
use crate::error::{Error, Result};
use crate::mapping::{ApplyOptions, Mappable};

#[async_trait]
impl<E: Mappable> Checksums<E> for SqlAdapter<E> {
    async fn checksum(&self, range: &KeyRange, exclude: &[String]) -> Result<RangeChecksum> {
        let inner = &*self.inner;
        let mut wanted: Vec<String> = exclude.to_vec();
        wanted.sort();
        wanted.dedup();
        let mut sum = RangeChecksum::default();
        let Some((column, _)) = inner
            .checksum
            .as_ref()
            .filter(|(_, stored)| *stored == wanted)
        else {
            // No stored checksum for this field set: every row is checksummed here.
            for entity in inner.rows_in(range, "").await? {
                sum.add(row_checksum(&entity, exclude)?);
            }
            return Ok(sum);
        };
        let mut p = Params::new(inner.dialect);
        let filter = inner.range_filter(range, &mut p);
        let c = &column.quoted;
        let sql = format!(
            "SELECT CAST(COUNT(*) AS TEXT), \
             CAST(COALESCE(SUM((src.{c} >> 32) & 4294967295), 0) AS TEXT), \
             CAST(COALESCE(SUM(src.{c} & 4294967295), 0) AS TEXT) \
             FROM {} WHERE {filter} AND src.{c} IS NOT NULL",
            inner.from
        );
        let rows = inner
            .db
            .fetch(&sql, &p.args)
            .await
            .map_err(|e| inner.db_error("checksum a range", &e))?;
        let row = rows.first().ok_or_else(|| {
            Error::invalid_data("sql adapter: the checksum query returned no row")
        })?;
        let number = |i: usize, what: &str| -> Result<u128> {
            let text = cell(row, i, what)?;
            text.parse::<u128>().map_err(|e| {
                Error::invalid_data(format!("sql adapter: {what} {text:?} is not a count: {e}"))
            })
        };
        let count = number(0, "row count")?;
        let high = number(1, "checksum sum")?;
        let low = number(2, "checksum sum")?;
        sum.count = u64::try_from(count).unwrap_or(u64::MAX);
        // Σ(high·2³² + low) mod 2⁶⁴: the wrapping sum of the stored u64s.
        let total = (high << 32).wrapping_add(low);
        sum.checksum = u64::try_from(total & u128::from(u64::MAX)).unwrap_or_default();
        // Rows whose checksum nobody stored yet are checksummed here.
        for entity in inner
            .rows_in(range, &format!("AND src.{c} IS NULL"))
            .await?
        {
            sum.add(row_checksum(&entity, exclude)?);
        }
        Ok(sum)
    }

    async fn split_keys(&self, range: &KeyRange, parts: usize) -> Result<Vec<EntityKey>> {
        let inner = &*self.inner;
        let key = inner.key_text();
        let mut p = Params::new(inner.dialect);
        let filter = inner.range_filter(range, &mut p);
        let sql = format!(
            "SELECT CAST(COUNT(*) AS TEXT) FROM {} WHERE {filter}",
            inner.from
        );
        let rows = inner
            .db
            .fetch(&sql, &p.args)
            .await
            .map_err(|e| inner.db_error("count a range", &e))?;
        let n: usize = rows
            .first()
            .map(|r| cell(r, 0, "row count"))
            .transpose()?
            .unwrap_or("0")
            .parse()
            .map_err(|e| Error::invalid_data(format!("sql adapter: row count: {e}")))?;
        let parts = parts.clamp(1, n.max(1));
        if parts < 2 {
            return Ok(Vec::new());
        }
        // The same cut points as the memory system: key #(i·n/parts).
        let mut p = Params::new(inner.dialect);
        let filter = inner.range_filter(range, &mut p);
        let picks: Vec<String> = (1..parts)
            .map(|i| p.bind(Arg::Int(i64::try_from(i * n / parts).unwrap_or(i64::MAX))))
            .collect();
        let sql = format!(
            "SELECT s.k FROM (SELECT {key} AS k, ROW_NUMBER() OVER (ORDER BY {key}) - 1 AS i FROM {} WHERE {filter}) AS s WHERE s.i IN ({}) ORDER BY s.k",
            inner.from,
            picks.join(", ")
        );
        let rows = inner
            .db
            .fetch(&sql, &p.args)
            .await
            .map_err(|e| inner.db_error("split a range", &e))?;
        rows.iter()
            .map(|r| cell(r, 0, "key").map(EntityKey::new))
            .collect()
    }

    async fn rows(&self, range: &KeyRange) -> Result<Vec<E>> {
        self.inner.rows_in(range, "").await
    }
}

impl<E: Mappable> Inner<E> {
    /// `key >= start AND key < end` (or `TRUE` sides), binding the bounds.
    fn range_filter(&self, range: &KeyRange, p: &mut Params) -> String {
        let key = self.key_text();
        let mut conds = vec!["1 = 1".to_string()];
        if let Some(start) = &range.start {
            conds.push(format!(
                "{key} >= {}",
                p.bind(Arg::Text(start.as_str().to_string()))
            ));
        }
        if let Some(end) = &range.end {
            conds.push(format!(
                "{key} < {}",
                p.bind(Arg::Text(end.as_str().to_string()))
            ));
        }
        conds.join(" AND ")
    }

    /// The entities of `range` (narrowed by `and`), by key. A row whose
    /// entity key differs from its key columns is an error: ranges would
    /// not compare.
    async fn rows_in(&self, range: &KeyRange, and: &str) -> Result<Vec<E>> {
        let key = self.key_text();
        let mut p = Params::new(self.dialect);
        let filter = self.range_filter(range, &mut p);
        let sql = format!(
            "SELECT {}, {key} FROM {} WHERE {filter} {and} ORDER BY {key}",
            self.row_json, self.from
        );
        let rows = self
            .db
            .fetch(&sql, &p.args)
            .await
            .map_err(|e| self.db_error("read a range", &e))?;
        let opts = ApplyOptions::default();
        rows.iter()
            .map(|row| {
                let key = cell(row, 1, "key")?;
                let entity = self.map_row(row[0].as_deref(), key, &opts)?;
                if entity.key().as_str() != key {
                    return Err(Error::invalid_data(format!(
                        "{}: the row keyed {:?} maps to an entity keyed {:?}; range checksums need key columns that hold the entity's key parts as they are",
                        self.from,
                        key.replace('\u{1f}', "@"),
                        entity.key().to_string()
                    ))
                    .with_system(self.system.as_str()));
                }
                Ok(entity)
            })
            .collect()
    }
}
