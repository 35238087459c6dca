//! Blocking: which pairs are compared at all.
//!
//! Comparing every pair of a million records is 5·10¹¹ comparisons; blocking
//! compares only pairs that share a key (the same normalized email, the same
//! phone, the same surname and postcode, the same phonetic name) or sit close
//! in a sorted order of names. Several keys are combined (a pair found by any
//! key is a candidate, compared once), and the [`BlockingReport`] says how
//! many pairs each key produced and — when the truth is known — how many true
//! matches the candidates hold (blocking recall).
//!
//! Blocks larger than [`BlockingIndex::max_block_size`] (a default value
//! shared by thousands, `n/a@none.com`) are skipped and counted, never
//! silently.

use std::hash::Hash;

use serde::{Deserialize, Serialize};

use super::normalize::soundex;
use super::record::PreparedRecord;

/// One way to put records that may match into the same block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BlockingKey {
    /// The same normalized email.
    Email,
    /// The same phone (E.164).
    Phone,
    /// The same surname and postcode.
    SurnamePostcode,
    /// The same Soundex codes of given name and surname, in either order
    /// (swapped names still meet).
    NamePhonetic,
    /// The same given name and postcode (catches surname changes).
    GivenNamePostcode,
    /// Neighbours within `window` places in the order of "surname given name".
    SortedNeighbourhood {
        /// How many records on each side are compared.
        window: usize,
    },
}

impl BlockingKey {
    /// The default combination: email, phone, surname+postcode, phonetic
    /// names and given name+postcode.
    pub fn defaults() -> Vec<BlockingKey> {
        vec![
            BlockingKey::Email,
            BlockingKey::Phone,
            BlockingKey::SurnamePostcode,
            BlockingKey::NamePhonetic,
            BlockingKey::GivenNamePostcode,
        ]
    }

    /// A short name for reports.
    pub fn name(&self) -> String {
        match self {
            BlockingKey::Email => "email".into(),
            BlockingKey::Phone => "phone".into(),
            BlockingKey::SurnamePostcode => "surname+postcode".into(),
            BlockingKey::NamePhonetic => "name soundex".into(),
            BlockingKey::GivenNamePostcode => "given name+postcode".into(),
            BlockingKey::SortedNeighbourhood { window } => {
                format!("sorted neighbourhood (window {window})")
            }
        }
    }

    /// The hashed keys of `r` under this rule (empty when a part is missing).
    fn keys(&self, r: &PreparedRecord, out: &mut Vec<u64>) {
        // A fixed, seedless hasher: the same key hashes the same in every run.
        let h = |parts: &dyn Fn(&mut std::collections::hash_map::DefaultHasher)| {
            let mut s = std::collections::hash_map::DefaultHasher::new();
            parts(&mut s);
            std::hash::Hasher::finish(&s)
        };
        match self {
            BlockingKey::Email => out.extend(r.emails.iter().map(|e| h(&|s| e.hash(s)))),
            BlockingKey::Phone => out.extend(r.phones.iter().map(|p| h(&|s| p.hash(s)))),
            BlockingKey::SurnamePostcode => {
                if let Some(last) = &r.last_name {
                    out.extend(r.postcodes.iter().map(|p| h(&|s| (last, p).hash(s))));
                }
            }
            BlockingKey::GivenNamePostcode => {
                if let Some(first) = &r.first_name {
                    out.extend(r.postcodes.iter().map(|p| h(&|s| (first, p).hash(s))));
                }
            }
            BlockingKey::NamePhonetic => {
                let code = |n: &Option<String>| n.as_deref().and_then(soundex);
                if let (Some(a), Some(b)) = (code(&r.first_name), code(&r.last_name)) {
                    let (x, y) = if a <= b { (a, b) } else { (b, a) };
                    out.push(h(&|s| (&x, &y).hash(s)));
                }
            }
            BlockingKey::SortedNeighbourhood { .. } => {}
        }
    }

    /// The fields this key makes agree by construction (not estimated by EM
    /// on this key's pairs).
    pub(crate) fn fixes(&self) -> &'static [&'static str] {
        match self {
            BlockingKey::Email => &["email"],
            BlockingKey::Phone => &["phone"],
            BlockingKey::SurnamePostcode => &["last_name", "postcode"],
            BlockingKey::GivenNamePostcode => &["first_name", "postcode"],
            BlockingKey::NamePhonetic | BlockingKey::SortedNeighbourhood { .. } => {
                &["first_name", "last_name"]
            }
        }
    }
}

/// Whether pairs are sought within one input or only across inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LinkMode {
    /// Every pair of records (deduplicating one file).
    #[default]
    Dedupe,
    /// Only pairs from different sources (linking systems).
    Link,
}

/// One blocking rule's sorted index.
#[derive(Debug, Default)]
struct KeyIndex {
    /// (key hash, record index), sorted.
    entries: Vec<(u64, u32)>,
    /// For sorted neighbourhood: the rank of each record and records by rank.
    rank: Vec<u32>,
    order: Vec<u32>,
    window: usize,
    oversized_blocks: usize,
    oversized_records: usize,
}

/// The blocking indexes of a set of records: ask it for a record's candidates.
#[derive(Debug)]
pub struct BlockingIndex {
    keys: Vec<BlockingKey>,
    indexes: Vec<KeyIndex>,
    /// Blocks with more records than this are skipped (and counted).
    pub max_block_size: usize,
    mode: LinkMode,
}

/// A candidate pair's partner and the keys (bit per rule) that found it.
pub type Candidate = (u32, u32);

impl BlockingIndex {
    /// Indexes `records` under every key (one thread per key).
    ///
    /// Record indexes must fit in `u32`; at most 32 keys.
    pub fn build(
        records: &[PreparedRecord],
        keys: &[BlockingKey],
        max_block_size: usize,
        mode: LinkMode,
    ) -> Self {
        let indexes = std::thread::scope(|scope| {
            let handles: Vec<_> = keys
                .iter()
                .take(32)
                .map(|k| scope.spawn(move || KeyIndex::build(records, k, max_block_size)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        BlockingIndex {
            keys: keys.iter().take(32).cloned().collect(),
            indexes,
            max_block_size,
            mode,
        }
    }

    /// The rules, in bit order.
    pub fn keys(&self) -> &[BlockingKey] {
        &self.keys
    }

    /// Candidates of record `i` with a larger index, each once with the bit
    /// set of the keys that found it, sorted by partner.
    pub fn candidates(&self, records: &[PreparedRecord], i: usize, out: &mut Vec<Candidate>) {
        out.clear();
        let mut hashes = Vec::new();
        let source = records[i].source;
        let keep =
            |j: usize| j > i && (self.mode == LinkMode::Dedupe || records[j].source != source);
        for (bit, (key, index)) in self.keys.iter().zip(&self.indexes).enumerate() {
            let flag = 1u32 << bit;
            if let BlockingKey::SortedNeighbourhood { .. } = key {
                let Some(&r) = index.rank.get(i) else {
                    continue;
                };
                if r == u32::MAX {
                    continue;
                }
                let r = r as usize;
                let lo = r.saturating_sub(index.window);
                let hi = (r + index.window + 1).min(index.order.len());
                for &j in &index.order[lo..hi] {
                    if keep(j as usize) {
                        out.push((j, flag));
                    }
                }
                continue;
            }
            hashes.clear();
            key.keys(&records[i], &mut hashes);
            hashes.sort_unstable();
            hashes.dedup();
            for &h in &hashes {
                let from = index.entries.partition_point(|e| e.0 < h);
                let to = index.entries.partition_point(|e| e.0 <= h);
                if to - from > self.max_block_size {
                    continue;
                }
                for &(_, j) in &index.entries[from..to] {
                    if keep(j as usize) {
                        out.push((j, flag));
                    }
                }
            }
        }
        out.sort_unstable_by_key(|c| c.0);
        out.dedup_by(|later, first| {
            if later.0 == first.0 {
                first.1 |= later.1;
                true
            } else {
                false
            }
        });
    }

    /// Per key: blocks skipped for size and the records in them.
    pub fn oversized(&self) -> Vec<(usize, usize)> {
        self.indexes
            .iter()
            .map(|i| (i.oversized_blocks, i.oversized_records))
            .collect()
    }
}

impl KeyIndex {
    fn build(records: &[PreparedRecord], key: &BlockingKey, max_block_size: usize) -> Self {
        let mut index = KeyIndex::default();
        if let BlockingKey::SortedNeighbourhood { window } = key {
            let name = |r: &PreparedRecord| {
                (
                    r.last_name.clone().unwrap_or_default(),
                    r.first_name.clone().unwrap_or_default(),
                )
            };
            let mut order: Vec<u32> = (0..records.len() as u32)
                .filter(|&i| {
                    let r = &records[i as usize];
                    r.last_name.is_some() || r.first_name.is_some()
                })
                .collect();
            order.sort_by_cached_key(|&i| name(&records[i as usize]));
            index.rank = vec![u32::MAX; records.len()];
            for (rank, &i) in order.iter().enumerate() {
                index.rank[i as usize] = rank as u32;
            }
            index.order = order;
            index.window = *window;
            return index;
        }
        let mut hashes = Vec::new();
        for (i, r) in records.iter().enumerate() {
            hashes.clear();
            key.keys(r, &mut hashes);
            hashes.sort_unstable();
            hashes.dedup();
            index.entries.extend(hashes.iter().map(|&h| (h, i as u32)));
        }
        index.entries.sort_unstable();
        for block in index.entries.chunk_by(|a, b| a.0 == b.0) {
            if block.len() > max_block_size {
                index.oversized_blocks += 1;
                index.oversized_records += block.len();
            }
        }
        index
    }
}

/// How blocking went: pairs per key, pairs overall, skipped blocks and, with
/// known truth, recall.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BlockingReport {
    /// Per key: its name, the candidate pairs it produced (a pair found by
    /// two keys counts for both), blocks skipped as too large, and the
    /// records in them.
    pub per_key: Vec<KeyReport>,
    /// Distinct candidate pairs compared.
    pub candidate_pairs: u64,
    /// Pairs a full comparison would make.
    pub all_pairs: u64,
    /// True matching pairs (when truth is known).
    pub true_pairs: Option<u64>,
    /// True matching pairs among the candidates (when truth is known).
    pub true_pairs_found: Option<u64>,
}

/// One key's line in the [`BlockingReport`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct KeyReport {
    /// The key's name.
    pub key: String,
    /// Candidate pairs it produced.
    pub pairs: u64,
    /// Blocks skipped because they held more than the maximum block size.
    pub oversized_blocks: usize,
    /// Records in those blocks.
    pub oversized_records: usize,
}

impl BlockingReport {
    /// True pairs found ÷ true pairs, when truth was given.
    pub fn recall(&self) -> Option<(u64, u64)> {
        Some((self.true_pairs_found?, self.true_pairs?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(
        id: &str,
        first: &str,
        last: &str,
        email: &str,
        postcode: &str,
        source: u16,
    ) -> PreparedRecord {
        PreparedRecord {
            id: id.into(),
            source,
            first_name: Some(first.into()),
            last_name: Some(last.into()),
            emails: if email.is_empty() {
                vec![]
            } else {
                vec![email.into()]
            },
            postcodes: vec![postcode.into()],
            ..PreparedRecord::default()
        }
    }

    fn all(index: &BlockingIndex, records: &[PreparedRecord]) -> Vec<(usize, u32, u32)> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        for i in 0..records.len() {
            index.candidates(records, i, &mut buf);
            out.extend(buf.iter().map(|&(j, bits)| (i, j, bits)));
        }
        out
    }

    #[test]
    fn keys_combine_and_pairs_come_once() {
        let records = vec![
            rec("a", "john", "smith", "js@x.com", "10001", 0),
            rec("b", "jon", "smyth", "js@x.com", "10001", 0), // email + phonetic
            rec("c", "smith", "john", "", "99999", 0),        // swapped names: phonetic
            rec("d", "mary", "jones", "mj@x.com", "10001", 0),
        ];
        let keys = [
            BlockingKey::Email,
            BlockingKey::SurnamePostcode,
            BlockingKey::NamePhonetic,
        ];
        let index = BlockingIndex::build(&records, &keys, 100, LinkMode::Dedupe);
        let pairs = all(&index, &records);
        assert_eq!(pairs, vec![(0, 1, 0b101), (0, 2, 0b100), (1, 2, 0b100)]);
    }

    #[test]
    fn link_mode_keeps_cross_source_pairs_only() {
        let records = vec![
            rec("a", "john", "smith", "js@x.com", "1", 0),
            rec("b", "john", "smith", "js@x.com", "1", 0),
            rec("c", "john", "smith", "js@x.com", "1", 1),
        ];
        let index = BlockingIndex::build(&records, &[BlockingKey::Email], 100, LinkMode::Link);
        let pairs: Vec<_> = all(&index, &records).iter().map(|p| (p.0, p.1)).collect();
        assert_eq!(pairs, vec![(0, 2), (1, 2)]);
    }

    #[test]
    fn oversized_blocks_are_skipped_and_counted() {
        let records: Vec<_> = (0..5)
            .map(|i| rec(&i.to_string(), "x", "y", "none@none.com", &i.to_string(), 0))
            .collect();
        let index = BlockingIndex::build(&records, &[BlockingKey::Email], 4, LinkMode::Dedupe);
        assert!(all(&index, &records).is_empty());
        assert_eq!(index.oversized(), vec![(1, 5)]);
    }

    #[test]
    fn sorted_neighbourhood_pairs_neighbours() {
        let records = vec![
            rec("a", "ann", "adams", "", "1", 0),
            rec("b", "zed", "zulu", "", "2", 0),
            rec("c", "anne", "adams", "", "3", 0),
        ];
        let keys = [BlockingKey::SortedNeighbourhood { window: 1 }];
        let index = BlockingIndex::build(&records, &keys, 100, LinkMode::Dedupe);
        let pairs: Vec<_> = all(&index, &records).iter().map(|p| (p.0, p.1)).collect();
        // order: adams ann (0), adams anne (2), zulu zed (1)
        assert_eq!(pairs, vec![(0, 2), (1, 2)]);
    }
}
