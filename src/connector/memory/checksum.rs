//! Range checksums over the memory system's tables (computed on every call,
//! as a database would).

use async_trait::async_trait;

use super::MemorySystem;
use crate::connector::checksum::{Checksums, KeyRange, RangeChecksum, row_checksum};
use crate::connector::entity::{Entity, EntityKey};
use crate::error::Result;

impl MemorySystem {
    /// The rows of `E` in `range`, ordered by key.
    fn in_range<E: Entity>(&self, range: &KeyRange) -> Vec<(EntityKey, E)> {
        let mut state = self.inner.state();
        let mut rows: Vec<(EntityKey, E)> = state
            .table::<E>()
            .rows
            .iter()
            .filter(|(k, _)| range.contains(k))
            .map(|(k, r)| (k.clone(), r.entity.clone()))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    }
}

#[async_trait]
impl<E: Entity> Checksums<E> for MemorySystem {
    async fn checksum(&self, range: &KeyRange, exclude: &[String]) -> Result<RangeChecksum> {
        // The sum does not depend on order: no copy, no sort.
        let mut state = self.inner.state();
        let mut sum = RangeChecksum::default();
        for (_, row) in state
            .table::<E>()
            .rows
            .iter()
            .filter(|(k, _)| range.contains(k))
        {
            sum.add(row_checksum(&row.entity, exclude)?);
        }
        Ok(sum)
    }

    async fn split_keys(&self, range: &KeyRange, parts: usize) -> Result<Vec<EntityKey>> {
        let mut keys: Vec<EntityKey> = {
            let mut state = self.inner.state();
            let table = state.table::<E>();
            table
                .rows
                .keys()
                .filter(|k| range.contains(k))
                .cloned()
                .collect()
        };
        keys.sort_unstable();
        let parts = parts.clamp(1, keys.len().max(1));
        Ok((1..parts)
            .map(|i| keys[i * keys.len() / parts].clone())
            .collect())
    }

    async fn rows(&self, range: &KeyRange) -> Result<Vec<E>> {
        Ok(self
            .in_range::<E>(range)
            .into_iter()
            .map(|(_, e)| e)
            .collect())
    }
}
