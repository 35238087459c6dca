//! Clusters: matched pairs joined into groups of records of one person.
//!
//! Plain connected components chain: A matches a hub H, H matches B, and A
//! and B — who have nothing in common — end up as one person. Here pairs are
//! joined strongest first, and two groups merge only if the records across
//! them match on average (average linkage, checked on up to
//! [`ClusterOptions::max_checks`] cross pairs) and the result stays within
//! [`ClusterOptions::max_cluster_size`]. Refused merges are counted.
//!
//! ```
//! use seamwork::identity::cluster::{ClusterOptions, cluster};
//!
//! // 0–1 and 1–2 match strongly, but 0 and 2 are nothing alike.
//! let pairs = [(0, 1, 0.99), (1, 2, 0.98)];
//! let score = |a: u32, b: u32| if a.min(b) == 0 && a.max(b) == 2 { 0.0001 } else { 0.99 };
//! let c = cluster(3, &pairs, &ClusterOptions::default(), score);
//! assert_eq!(c.of[0], c.of[1]);
//! assert_ne!(c.of[1], c.of[2]);
//! assert_eq!(c.refused, 1);
//! ```
// Probabilities are statistics, not money or quantities.
#![allow(clippy::disallowed_types)]

use serde::{Deserialize, Serialize};

/// How pairs become clusters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ClusterOptions {
    /// Two groups merge only if their cross pairs' average match
    /// probability is at least this.
    pub min_average: f64,
    /// No cluster grows beyond this many records.
    pub max_cluster_size: usize,
    /// At most this many cross pairs are scored per merge.
    pub max_checks: usize,
}

impl Default for ClusterOptions {
    /// Average 0.5, at most 50 records, 64 checks.
    fn default() -> Self {
        ClusterOptions {
            min_average: 0.5,
            max_cluster_size: 50,
            max_checks: 64,
        }
    }
}

/// The clusters of a set of records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Clusters {
    /// Cluster number of each record (numbered from 0 in record order).
    pub of: Vec<u32>,
    /// Merges refused by the guard or the size limit.
    pub refused: u64,
}

impl Clusters {
    /// Records per cluster, clusters in number order, records ascending.
    pub fn groups(&self) -> Vec<Vec<u32>> {
        let n = self.of.iter().max().map_or(0, |m| *m as usize + 1);
        let mut groups = vec![Vec::new(); n];
        for (i, &c) in self.of.iter().enumerate() {
            groups[c as usize].push(i as u32);
        }
        groups
    }

    /// Every pair of records in one cluster (for measuring against truth).
    pub fn pairs(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        let groups = self.groups();
        groups.into_iter().flat_map(|g| {
            let g2 = g.clone();
            g.into_iter().enumerate().flat_map(move |(i, a)| {
                g2[i + 1..].iter().map(move |&b| (a, b)).collect::<Vec<_>>()
            })
        })
    }
}

/// Clusters `n` records from matched `pairs` (left, right, probability);
/// `score` gives the probability of any pair for the guard.
pub fn cluster(
    n: usize,
    pairs: &[(u32, u32, f64)],
    options: &ClusterOptions,
    score: impl Fn(u32, u32) -> f64,
) -> Clusters {
    let mut parent: Vec<u32> = (0..n as u32).collect();
    let mut members: Vec<Vec<u32>> = (0..n as u32).map(|i| vec![i]).collect();
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    order.sort_by(|&x, &y| pairs[y].2.total_cmp(&pairs[x].2).then(x.cmp(&y)));
    let find = |parent: &mut Vec<u32>, mut x: u32| {
        while parent[x as usize] != x {
            let up = parent[parent[x as usize] as usize];
            parent[x as usize] = up;
            x = up;
        }
        x
    };
    let mut refused = 0;
    for k in order {
        let (a, b, _) = pairs[k];
        if a as usize >= n || b as usize >= n {
            continue;
        }
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra == rb {
            continue;
        }
        let (ma, mb) = (&members[ra as usize], &members[rb as usize]);
        if ma.len() + mb.len() > options.max_cluster_size {
            refused += 1;
            continue;
        }
        if ma.len() + mb.len() > 2 {
            let cross = ma.len() * mb.len();
            let step = cross.div_ceil(options.max_checks.max(1));
            let (mut sum, mut count) = (0.0, 0usize);
            for c in (0..cross).step_by(step.max(1)) {
                let (x, y) = (ma[c / mb.len()], mb[c % mb.len()]);
                sum += score(x.min(y), x.max(y));
                count += 1;
            }
            if sum / (count.max(1) as f64) < options.min_average {
                refused += 1;
                continue;
            }
        }
        let (big, small) = if ma.len() >= mb.len() {
            (ra, rb)
        } else {
            (rb, ra)
        };
        let moved = std::mem::take(&mut members[small as usize]);
        members[big as usize].extend(moved);
        parent[small as usize] = big;
    }
    // Number clusters in order of their first record.
    let mut number = vec![u32::MAX; n];
    let mut next = 0;
    let mut of = vec![0; n];
    for i in 0..n as u32 {
        let r = find(&mut parent, i) as usize;
        if number[r] == u32::MAX {
            number[r] = next;
            next += 1;
        }
        of[i as usize] = number[r];
    }
    Clusters { of, refused }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_without_hubs() {
        let pairs = [(0, 1, 0.99), (2, 3, 0.97), (1, 4, 0.96)];
        let c = cluster(6, &pairs, &ClusterOptions::default(), |_, _| 0.9);
        assert_eq!(c.of, vec![0, 0, 1, 1, 0, 2]);
        assert_eq!(c.groups(), vec![vec![0, 1, 4], vec![2, 3], vec![5]]);
        let mut p: Vec<_> = c.pairs().collect();
        p.sort();
        assert_eq!(p, vec![(0, 1), (0, 4), (1, 4), (2, 3)]);
        assert_eq!(c.refused, 0);
    }

    #[test]
    fn size_limit_is_kept() {
        let pairs: Vec<_> = (1..10).map(|i| (0, i, 0.99)).collect();
        let o = ClusterOptions {
            max_cluster_size: 4,
            ..ClusterOptions::default()
        };
        let c = cluster(10, &pairs, &o, |_, _| 0.99);
        assert_eq!(c.groups()[0].len(), 4);
        assert_eq!(c.refused, 6);
    }

    #[test]
    fn out_of_range_pairs_are_ignored() {
        let c = cluster(2, &[(0, 5, 0.99)], &ClusterOptions::default(), |_, _| 1.0);
        assert_eq!(c.of, vec![0, 1]);
    }
}
