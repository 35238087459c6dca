//! The whole pipeline: block, estimate u from random pairs and m by EM,
//! score candidates, keep pairs above the threshold.
// Probabilities are statistics, not money or quantities.
#![allow(clippy::disallowed_types)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use super::blocking::{BlockingIndex, BlockingKey, BlockingReport, Candidate, KeyReport, LinkMode};
use super::cluster::{ClusterOptions, Clusters, cluster};
use super::em::{EmFit, EmOptions, fit, initial_m, lambda_for};
use super::record::{NormalizeOptions, PreparedRecord};
use super::scoring::{
    FLOOR, FieldConfig, FieldModel, FsModel, Levels, MAX_FIELDS, MISSING, Scorer, compare_records,
    term_frequencies,
};
use crate::error::Error;

/// Everything a linking run is configured with; a serde struct (the
/// `[model]` part of a dedupe spec).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LinkOptions {
    /// How fields are normalized.
    pub normalize: NormalizeOptions,
    /// Compared fields.
    pub fields: Vec<FieldConfig>,
    /// Blocking keys, combined.
    pub blocking: Vec<BlockingKey>,
    /// Blocks larger than this are skipped and reported.
    pub max_block_size: usize,
    /// Pairs with a match probability at least this are matches.
    pub threshold: f64,
    /// Random pairs drawn to estimate u.
    pub random_pairs: usize,
    /// At most this many records' candidates train EM (a stride sample).
    pub training_records: usize,
    /// EM stopping rules.
    pub em: EmOptions,
    /// Seed of the random pairs.
    pub seed: u64,
    /// Worker threads; 0 uses every core.
    pub threads: usize,
}

impl Default for LinkOptions {
    /// Default fields and blocking keys, threshold 0.5 (a match is more likely
    /// than not), 300,000 random pairs.
    fn default() -> Self {
        LinkOptions {
            normalize: NormalizeOptions::default(),
            fields: FieldConfig::defaults(),
            blocking: BlockingKey::defaults(),
            max_block_size: 100,
            threshold: 0.5,
            random_pairs: 300_000,
            training_records: 200_000,
            em: EmOptions::default(),
            seed: 7,
            threads: 0,
        }
    }
}

impl LinkOptions {
    /// Threads to use: `threads`, or every core when it is 0.
    pub(crate) fn worker_threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        }
    }

    /// Checks field count, comparator thresholds, configured weights and the threshold.
    pub fn check(&self) -> Result<(), Error> {
        let bad = |what: String| Err(Error::config(what));
        if self.fields.is_empty() || self.fields.len() > MAX_FIELDS {
            return bad(format!(
                "fields: between 1 and {MAX_FIELDS} fields, found {}",
                self.fields.len()
            ));
        }
        if self.blocking.is_empty() || self.blocking.len() > 32 {
            return bad(format!(
                "blocking: between 1 and 32 keys, found {}",
                self.blocking.len()
            ));
        }
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return bad(format!(
                "threshold: must be between 0 and 1 (exclusive), found {}",
                self.threshold
            ));
        }
        for (i, f) in self.fields.iter().enumerate() {
            let name = f.field.name();
            if let Err(e) = f.comparator.check() {
                return bad(format!("fields[{i}] ({name}).comparator: {e}"));
            }
            for (what, p) in [("m", &f.m), ("u", &f.u)] {
                if let Some(p) = p {
                    let sum: f64 = p.iter().sum();
                    if p.len() != f.comparator.levels()
                        || p.iter().any(|v| !(*v > 0.0 && *v <= 1.0))
                        || (sum - 1.0).abs() > 1e-6
                    {
                        return bad(format!(
                            "fields[{i}] ({name}).{what}: {} probabilities in (0, 1] summing to 1, one per level, found {p:?}",
                            f.comparator.levels()
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// A pair kept as a match: record indexes (left < right) and its score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScoredPair {
    /// Index of the first record.
    pub left: u32,
    /// Index of the second record.
    pub right: u32,
    /// Match probability.
    pub probability: f64,
}

/// One EM session: the pairs of one blocking key, without its own fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EmSession {
    /// The blocking key whose pairs trained it.
    pub key: String,
    /// Training pairs.
    pub pairs: u64,
    /// The fit.
    pub fit: EmFit,
}

/// What a run produced and how it got there.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LinkOutput {
    /// Matches above the threshold, sorted by (left, right).
    pub pairs: Vec<ScoredPair>,
    /// The scorer (model, term frequencies) for explanations and clustering.
    pub scorer: Scorer,
    /// Blocking counts and recall.
    pub blocking: BlockingReport,
    /// EM sessions.
    pub em: Vec<EmSession>,
}

impl LinkOutput {
    /// Clusters the matched pairs of `records` (the records this output came
    /// from), guarding merges with the scorer.
    pub fn clusters(&self, records: &[PreparedRecord], options: &ClusterOptions) -> Clusters {
        let pairs: Vec<(u32, u32, f64)> = self
            .pairs
            .iter()
            .map(|p| (p.left, p.right, p.probability))
            .collect();
        cluster(records.len(), &pairs, options, |a, b| {
            self.scorer
                .score(&records[a as usize], &records[b as usize])
        })
    }
}

/// Progress callback: (stage, done, total).
pub type Progress<'a> = &'a (dyn Fn(&str, usize, usize) + Sync);

/// Runs `work` on chunks of `0..n` on `threads` threads and returns the
/// chunk results in order.
pub(crate) fn par_chunks<T: Send>(
    n: usize,
    threads: usize,
    chunk: usize,
    work: impl Fn(std::ops::Range<usize>) -> T + Sync,
) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let mut parts: Vec<(usize, T)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let start = next.fetch_add(chunk, Ordering::Relaxed);
                        if start >= n {
                            break;
                        }
                        out.push((start, work(start..(start + chunk).min(n))));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    parts.sort_by_key(|p| p.0);
    parts.into_iter().map(|p| p.1).collect()
}

/// Finds matching pairs among prepared records.
#[derive(Debug, Clone)]
pub struct Linker {
    options: LinkOptions,
}

impl Linker {
    /// A linker with checked options.
    pub fn new(options: LinkOptions) -> Result<Self, Error> {
        options.check()?;
        Ok(Linker { options })
    }

    /// The options.
    pub fn options(&self) -> &LinkOptions {
        &self.options
    }

    fn threads(&self) -> usize {
        self.options.worker_threads()
    }

    /// Links or deduplicates `records`; `truth` (an entity number per record)
    /// adds blocking recall to the report.
    pub fn run(
        &self,
        records: &[PreparedRecord],
        mode: LinkMode,
        truth: Option<&[u32]>,
        progress: Option<Progress<'_>>,
    ) -> Result<LinkOutput, Error> {
        if records.len() > u32::MAX as usize - 1 {
            return Err(Error::invalid_data("more than 4 billion records"));
        }
        if let Some(t) = truth
            && t.len() != records.len()
        {
            return Err(Error::invalid_data(format!(
                "truth has {} entries for {} records",
                t.len(),
                records.len()
            )));
        }
        let o = &self.options;
        let say = |stage: &str, done: usize, total: usize| {
            if let Some(p) = progress {
                p(stage, done, total);
            }
        };
        let threads = self.threads();
        say("blocking index", 0, records.len());
        let index = BlockingIndex::build(records, &o.blocking, o.max_block_size, mode);
        let tf = term_frequencies(&o.fields, records);
        say("estimating u from random pairs", 0, o.random_pairs);
        let u = self.estimate_u(records, mode, threads);
        say("training m by EM", 0, records.len().min(o.training_records));
        let (model, sessions) = self.estimate_m(records, mode, &index, u, threads);
        let scorer = Scorer::new(o.fields.clone(), model, tf);
        say("scoring candidate pairs", 0, records.len());
        let scored = AtomicUsize::new(0);
        let parts = par_chunks(records.len(), threads, 2048, |range| {
            let mut buf: Vec<Candidate> = Vec::new();
            let mut pairs = Vec::new();
            let mut per_key = vec![0u64; index.keys().len()];
            let (mut candidates, mut found) = (0u64, 0u64);
            for i in range.clone() {
                index.candidates(records, i, &mut buf);
                candidates += buf.len() as u64;
                for &(j, bits) in &buf {
                    for (k, n) in per_key.iter_mut().enumerate() {
                        *n += u64::from(bits >> k & 1);
                    }
                    if truth.is_some_and(|t| t[i] == t[j as usize]) {
                        found += 1;
                    }
                    let p = scorer.score(&records[i], &records[j as usize]);
                    if p >= o.threshold {
                        pairs.push(ScoredPair {
                            left: i as u32,
                            right: j,
                            probability: p,
                        });
                    }
                }
            }
            let done = scored.fetch_add(range.len(), Ordering::Relaxed) + range.len();
            if done % (1 << 17) < range.len() {
                say("scoring candidate pairs", done, records.len());
            }
            (pairs, per_key, candidates, found)
        });
        let mut report = BlockingReport {
            per_key: index
                .keys()
                .iter()
                .zip(index.oversized())
                .map(|(k, (blocks, recs))| KeyReport {
                    key: k.name(),
                    pairs: 0,
                    oversized_blocks: blocks,
                    oversized_records: recs,
                })
                .collect(),
            all_pairs: all_pairs(records, mode),
            ..BlockingReport::default()
        };
        let mut pairs = Vec::new();
        let mut found_total = 0;
        for (p, per_key, candidates, found) in parts {
            pairs.extend(p);
            report.candidate_pairs += candidates;
            found_total += found;
            for (r, n) in report.per_key.iter_mut().zip(per_key) {
                r.pairs += n;
            }
        }
        if let Some(t) = truth {
            report.true_pairs = Some(true_pairs(records, t, mode));
            report.true_pairs_found = Some(found_total);
        }
        say("done", records.len(), records.len());
        Ok(LinkOutput {
            pairs,
            scorer,
            blocking: report,
            em: sessions,
        })
    }

    /// u per field and level from random pairs (or as configured).
    fn estimate_u(
        &self,
        records: &[PreparedRecord],
        mode: LinkMode,
        threads: usize,
    ) -> Vec<Vec<f64>> {
        let o = &self.options;
        let mut counts: Vec<Vec<u64>> = o
            .fields
            .iter()
            .map(|f| vec![0; f.comparator.levels()])
            .collect();
        let n = records.len();
        let tally = |counts: &mut Vec<Vec<u64>>, i: usize, j: usize| {
            let (levels, _) = compare_records(&o.fields, &records[i], &records[j]);
            for (c, &l) in counts.iter_mut().zip(&levels) {
                if l != MISSING {
                    c[usize::from(l)] += 1;
                }
            }
        };
        let needed = o.fields.iter().any(|f| f.u.is_none());
        if needed && all_pairs(records, mode) <= o.random_pairs as u64 {
            // Few records: every pair instead of a sample.
            for i in 0..n {
                for j in i + 1..n {
                    if mode == LinkMode::Dedupe || records[i].source != records[j].source {
                        tally(&mut counts, i, j);
                    }
                }
            }
        } else if n >= 2 && needed {
            // 16 fixed slices, each with its own seed: the same sample
            // whatever the number of threads.
            let slice = o.random_pairs.div_ceil(16).max(1);
            let parts = par_chunks(o.random_pairs, threads, slice, |range| {
                let mut local = vec_like(&counts);
                let mut rng = fastrand::Rng::with_seed(
                    o.seed ^ (range.start as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                let (mut drawn, mut tries) = (0, 0);
                while drawn < range.len() && tries < range.len() * 20 {
                    tries += 1;
                    let (i, j) = (rng.usize(..n), rng.usize(..n));
                    if i == j || (mode == LinkMode::Link && records[i].source == records[j].source)
                    {
                        continue;
                    }
                    drawn += 1;
                    tally(&mut local, i, j);
                }
                local
            });
            for part in parts {
                for (c, p) in counts.iter_mut().zip(part) {
                    for (x, y) in c.iter_mut().zip(p) {
                        *x += y;
                    }
                }
            }
        }
        o.fields
            .iter()
            .zip(counts)
            .map(|(f, c)| {
                if let Some(u) = &f.u {
                    return u.clone();
                }
                // Add-half smoothing: a level never seen among random pairs is
                // rare, not impossible.
                let total = c.iter().sum::<u64>() as f64 + 0.5 * c.len() as f64;
                c.iter()
                    .map(|&k| ((k as f64 + 0.5) / total).max(FLOOR))
                    .collect()
            })
            .collect()
    }

    /// m by EM, one session per blocking key (its own fields left out), then
    /// λ over all candidates.
    fn estimate_m(
        &self,
        records: &[PreparedRecord],
        mode: LinkMode,
        index: &BlockingIndex,
        u: Vec<Vec<f64>>,
        threads: usize,
    ) -> (FsModel, Vec<EmSession>) {
        let o = &self.options;
        let stride = records.len().div_ceil(o.training_records.max(1)).max(1);
        let sampled: Vec<usize> = (0..records.len()).step_by(stride).collect();
        let parts = par_chunks(sampled.len(), threads, 1024, |range| {
            let mut counts: HashMap<(Levels, u32), u64> = HashMap::new();
            let mut buf = Vec::new();
            for &i in &sampled[range] {
                index.candidates(records, i, &mut buf);
                for &(j, bits) in &buf {
                    let (levels, _) = compare_records(&o.fields, &records[i], &records[j as usize]);
                    *counts.entry((levels, bits)).or_default() += 1;
                }
            }
            counts
        });
        let mut counts: HashMap<(Levels, u32), u64> = HashMap::new();
        for part in parts {
            for (k, v) in part {
                *counts.entry(k).or_default() += v;
            }
        }
        let levels: Vec<usize> = o.fields.iter().map(|f| f.comparator.levels()).collect();
        let start: Vec<Vec<f64>> = o
            .fields
            .iter()
            .zip(&levels)
            .map(|(f, &l)| f.m.clone().unwrap_or_else(|| initial_m(l)))
            .collect();
        let mut sessions = Vec::new();
        let mut sum_m: Vec<Vec<f64>> = levels.iter().map(|&l| vec![0.0; l]).collect();
        let mut weight = vec![0.0; o.fields.len()];
        for (bit, key) in index.keys().iter().enumerate() {
            let mut patterns: HashMap<Levels, u64> = HashMap::new();
            for ((l, bits), c) in &counts {
                if bits >> bit & 1 == 1 {
                    *patterns.entry(*l).or_default() += c;
                }
            }
            // Sorted: float sums in EM must not depend on hash-map order.
            let mut patterns: Vec<(Levels, u64)> = patterns.into_iter().collect();
            patterns.sort_unstable_by_key(|p| p.0);
            let estimate: Vec<bool> = o
                .fields
                .iter()
                .map(|f| f.m.is_none() && !key.fixes().contains(&f.field.name()))
                .collect();
            let fitted = fit(&patterns, &u, &start, &estimate, 0.5, &o.em);
            for f in 0..o.fields.len() {
                if estimate[f] && fitted.expected_matches > 0.0 {
                    weight[f] += fitted.expected_matches;
                    for (s, m) in sum_m[f].iter_mut().zip(&fitted.m[f]) {
                        *s += fitted.expected_matches * m;
                    }
                }
            }
            sessions.push(EmSession {
                key: key.name(),
                pairs: patterns.iter().map(|p| p.1).sum(),
                fit: fitted,
            });
        }
        let m: Vec<Vec<f64>> = (0..o.fields.len())
            .map(|f| {
                if weight[f] > 0.0 {
                    sum_m[f]
                        .iter()
                        .map(|s| (s / weight[f]).max(FLOOR))
                        .collect()
                } else {
                    start[f].clone()
                }
            })
            .collect();
        let mut all: HashMap<Levels, u64> = HashMap::new();
        for ((l, _), c) in &counts {
            *all.entry(*l).or_default() += c;
        }
        let mut all: Vec<(Levels, u64)> = all.into_iter().collect();
        all.sort_unstable_by_key(|p| p.0);
        // The training candidates come from every `stride`-th record, so
        // they stand for 1/stride of all pairs.
        let population = all_pairs(records, mode) as f64 / stride as f64;
        let lambda = lambda_for(&all, &u, &m, population, &o.em);
        let model = FsModel {
            fields: o
                .fields
                .iter()
                .zip(m)
                .zip(u)
                .map(|((f, m), u)| FieldModel {
                    name: f.field.name().to_string(),
                    m,
                    u,
                })
                .collect(),
            lambda,
        };
        (model, sessions)
    }
}

/// Zeroed counts of the same shape.
fn vec_like(counts: &[Vec<u64>]) -> Vec<Vec<u64>> {
    counts.iter().map(|c| vec![0; c.len()]).collect()
}

fn all_pairs(records: &[PreparedRecord], mode: LinkMode) -> u64 {
    let n = records.len() as u64;
    let total = n * n.saturating_sub(1) / 2;
    match mode {
        LinkMode::Dedupe => total,
        LinkMode::Link => {
            let mut per_source: HashMap<u16, u64> = HashMap::new();
            for r in records {
                *per_source.entry(r.source).or_default() += 1;
            }
            total
                - per_source
                    .values()
                    .map(|c| c * c.saturating_sub(1) / 2)
                    .sum::<u64>()
        }
    }
}

/// True matching pairs for `truth` in `mode`.
pub(crate) fn true_pairs(records: &[PreparedRecord], truth: &[u32], mode: LinkMode) -> u64 {
    let mut groups: HashMap<u32, Vec<u16>> = HashMap::new();
    for (r, &t) in records.iter().zip(truth) {
        groups.entry(t).or_default().push(r.source);
    }
    groups
        .values()
        .map(|sources| {
            let n = sources.len() as u64;
            let mut total = n * n.saturating_sub(1) / 2;
            if mode == LinkMode::Link {
                let mut per: HashMap<u16, u64> = HashMap::new();
                for s in sources {
                    *per.entry(*s).or_default() += 1;
                }
                total -= per
                    .values()
                    .map(|c| c * c.saturating_sub(1) / 2)
                    .sum::<u64>();
            }
            total
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        assert!(LinkOptions::default().check().is_ok());
        let o = LinkOptions {
            threshold: 1.5,
            ..LinkOptions::default()
        };
        assert!(o.check().unwrap_err().to_string().contains("threshold"));
        let mut o = LinkOptions::default();
        o.fields[2].m = Some(vec![0.5, 0.4]);
        let e = o.check().unwrap_err().to_string();
        assert!(e.contains("fields[2] (email).m"), "{e}");
        let mut o = LinkOptions::default();
        o.blocking.clear();
        assert!(o.check().is_err());
    }

    #[test]
    fn configured_weights_are_used_as_given() {
        use crate::identity::generate::{GeneratorOptions, generate};
        let g = generate(&GeneratorOptions::default().with_entities(200));
        let records = g.prepared(&NormalizeOptions::default());
        let mut o = LinkOptions::default();
        o.fields[2].m = Some(vec![0.1, 0.9]);
        o.fields[2].u = Some(vec![0.99, 0.01]);
        let out = Linker::new(o)
            .unwrap()
            .run(&records, LinkMode::Dedupe, None, None)
            .unwrap();
        let email = &out.scorer.model().fields[2];
        assert_eq!(
            (email.m.as_slice(), email.u.as_slice()),
            (&[0.1, 0.9][..], &[0.99, 0.01][..])
        );
        // The learned ones moved away from their start.
        assert_ne!(out.scorer.model().fields[0].m, initial_m(4));
    }

    #[test]
    fn parallel_chunks_keep_order() {
        let out = par_chunks(10_000, 2, 7, |r| r.start);
        assert_eq!(out, (0..10_000).step_by(7).collect::<Vec<_>>());
    }

    #[test]
    fn pair_counts_per_mode() {
        let rec = |s| PreparedRecord {
            source: s,
            ..PreparedRecord::default()
        };
        let records = vec![rec(0), rec(0), rec(1), rec(1)];
        assert_eq!(all_pairs(&records, LinkMode::Dedupe), 6);
        assert_eq!(all_pairs(&records, LinkMode::Link), 4);
        let truth = [1, 1, 1, 2];
        assert_eq!(true_pairs(&records, &truth, LinkMode::Dedupe), 3);
        assert_eq!(true_pairs(&records, &truth, LinkMode::Link), 2);
    }
}
