//! Range checksums for hash-diff: a source that can count and checksum the
//! rows of a key range itself (declared by [`Capability::checksums`](super::Capability))
//! lets reconciliation compare two systems while fetching only the ranges
//! that differ. The memory system implements it; the SQL adapter will.
//!
//! Both systems must compute [`row_checksum`] the same way: FNV-1a (64 bit)
//! over the entity's canonical JSON (fields ordered by name) without the
//! excluded top-level fields, summed over the range so that row order does
//! not matter.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::entity::{Entity, EntityKey};
use super::traits::Connector;
use crate::error::Result;

/// Keys from `start` (inclusive) to `end` (exclusive); `None` leaves a side open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct KeyRange {
    /// First key in the range, or unbounded.
    pub start: Option<EntityKey>,
    /// First key after the range, or unbounded.
    pub end: Option<EntityKey>,
}

impl KeyRange {
    /// Every key.
    pub fn all() -> Self {
        KeyRange::default()
    }

    /// Keys from `start` (inclusive) to `end` (exclusive).
    pub fn new(start: Option<EntityKey>, end: Option<EntityKey>) -> Self {
        KeyRange { start, end }
    }

    /// True when `key` is in the range.
    pub fn contains(&self, key: &EntityKey) -> bool {
        self.start.as_ref().is_none_or(|s| key >= s) && self.end.as_ref().is_none_or(|e| key < e)
    }
}

/// How many rows a range holds and their combined checksum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RangeChecksum {
    /// Rows in the range.
    pub count: u64,
    /// Wrapping sum of the rows' [`row_checksum`]s.
    pub checksum: u64,
}

impl RangeChecksum {
    /// Adds one row.
    pub fn add(&mut self, row: u64) {
        self.count += 1;
        self.checksum = self.checksum.wrapping_add(row);
    }
}

/// A source that checksums and serves key ranges of `E` itself.
#[async_trait]
pub trait Checksums<E: Entity>: Connector {
    /// Count and checksum of the rows in `range`, leaving out the top-level
    /// fields named in `exclude` (fields the comparison ignores).
    async fn checksum(&self, range: &KeyRange, exclude: &[String]) -> Result<RangeChecksum>;

    /// Up to `parts − 1` keys, ascending, that cut `range` into parts of
    /// about equal row counts (fewer when the range has fewer rows).
    async fn split_keys(&self, range: &KeyRange, parts: usize) -> Result<Vec<EntityKey>>;

    /// Every row in `range`, ordered by key.
    async fn rows(&self, range: &KeyRange) -> Result<Vec<E>>;
}

/// The checksum of one row (see the module docs).
pub fn row_checksum<E: Entity>(entity: &E, exclude: &[String]) -> Result<u64> {
    let mut value = serde_json::to_value(entity)?;
    if let serde_json::Value::Object(map) = &mut value {
        for field in exclude {
            map.remove(field);
        }
    }
    let text = serde_json::to_vec(&value)?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in entity.key().as_str().bytes().chain([0xff]).chain(text) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LocationId, Sku};
    use chrono::Utc;

    #[test]
    fn excluded_fields_do_not_change_the_checksum() {
        let a = crate::model::InventoryLevel::new(
            Sku::new("A").unwrap(),
            LocationId::new("L").unwrap(),
            Utc::now(),
        );
        let mut b = a.clone();
        b.updated_at += chrono::Duration::seconds(5);
        let ex = vec!["updated_at".to_string()];
        assert_ne!(
            row_checksum(&a, &[]).unwrap(),
            row_checksum(&b, &[]).unwrap()
        );
        assert_eq!(
            row_checksum(&a, &ex).unwrap(),
            row_checksum(&b, &ex).unwrap()
        );
        b.on_hand = 1;
        assert_ne!(
            row_checksum(&a, &ex).unwrap(),
            row_checksum(&b, &ex).unwrap()
        );
        let r = KeyRange::new(Some(EntityKey::new("B")), Some(EntityKey::new("D")));
        assert!(r.contains(&EntityKey::new("B")) && r.contains(&EntityKey::new("C")));
        assert!(!r.contains(&EntityKey::new("D")) && !r.contains(&EntityKey::new("A")));
    }
}
