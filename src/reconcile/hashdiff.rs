//! Hash-diff: compare two systems that checksum key ranges themselves
//! ([`Checksums`]), bisecting only the ranges that differ and fetching rows
//! only where needed.
//!
//! Cost is counted in row-equivalents: a fetched row costs 1, every call
//! (checksum, split, fetch) costs [`HashDiffOptions::call_cost`]. Fetching
//! everything costs `rows + 2 × call_cost`. Calls beyond those two are
//! budgeted to `max_overhead_percent` of that, so even when every row differs
//! hash-diff costs at most `1 + max_overhead_percent / 100` times a full
//! fetch (rows are never fetched twice). A range is split only when the
//! drift density seen so far says the children it can skip save more than
//! the calls cost: dense drift stops the bisection early, sparse drift goes
//! down to small ranges.

use serde::{Deserialize, Serialize};

use super::diff::DiffReport;
use super::entities::diff_entities;
use super::spec::{DiffSpec, FieldPolicy};
use crate::connector::{Checksums, Entity, KeyRange, RangeChecksum};
use crate::error::Result;

/// How hash-diff trades calls against rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HashDiffOptions {
    /// Children per split.
    pub fan_out: usize,
    /// What one call costs, in fetched rows (latency + query overhead).
    pub call_cost: u64,
    /// Most extra cost over fetching everything, in percent.
    pub max_overhead_percent: u64,
}

impl Default for HashDiffOptions {
    fn default() -> Self {
        HashDiffOptions {
            fan_out: 16,
            call_cost: 50,
            max_overhead_percent: 20,
        }
    }
}

impl HashDiffOptions {
    /// Sets the children per split (at least 2).
    pub fn with_fan_out(mut self, n: usize) -> Self {
        self.fan_out = n.max(2);
        self
    }

    /// Sets the cost of one call in rows (at least 1).
    pub fn with_call_cost(mut self, rows: u64) -> Self {
        self.call_cost = rows.max(1);
        self
    }

    /// Sets the overhead budget in percent of a full fetch.
    pub fn with_max_overhead_percent(mut self, percent: u64) -> Self {
        self.max_overhead_percent = percent;
        self
    }
}

/// What a hash-diff did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HashDiffStats {
    /// Checksum calls (both sides).
    pub checksum_calls: u64,
    /// Split-key calls.
    pub split_calls: u64,
    /// Row-fetch calls (both sides).
    pub fetch_calls: u64,
    /// Rows fetched (both sides).
    pub rows_fetched: u64,
    /// Rows both sides hold.
    pub rows_total: u64,
    /// Cost spent, in rows (see the module docs).
    pub cost: u64,
    /// What fetching everything costs.
    pub full_fetch_cost: u64,
}

struct Run<'a, L: ?Sized, R: ?Sized> {
    left: &'a L,
    right: &'a R,
    exclude: Vec<String>,
    options: &'a HashDiffOptions,
    stats: HashDiffStats,
    /// Calls allowed in all (including the two a full fetch needs).
    budget: u64,
    /// Calls made plus fetch calls reserved for ranges still to fetch.
    committed: u64,
    /// Children checksummed and how many of them differed.
    children: (u64, u64),
    /// Rows of ranges found equal.
    saved_rows: u64,
}

impl<L, R> Run<'_, L, R>
where
    L: ?Sized,
    R: ?Sized,
{
    fn calls(&self) -> u64 {
        self.stats.checksum_calls + self.stats.split_calls + self.stats.fetch_calls
    }

    /// Calls allowed: the two of a full fetch, the overhead budget, and
    /// whatever the rows of equal ranges (never fetched) saved.
    fn budget(&self) -> u64 {
        self.budget + self.saved_rows / self.options.call_cost.max(1)
    }

    /// How many children to split a differing range of `rows` rows into, if
    /// splitting pays off and fits the budget.
    fn split_width(&self, rows: u64) -> Option<u64> {
        // Extra calls for k children: one split, 2k checksums, up to 2k
        // fetches instead of the 2 reserved: 4k − 1.
        let room = self.budget().saturating_sub(self.committed);
        let widest = (self.options.fan_out.max(2) as u64).min((room + 1) / 4);
        // Expected rows skipped: the share of children seen equal so far (prior: half).
        let (seen, differing) = self.children;
        let saved = rows * (seen + 1 - differing) / (seen + 2);
        // The widest split whose checksums cost less than that.
        (2..=widest)
            .rev()
            .find(|k| saved > (1 + 2 * k) * self.options.call_cost)
    }
}

/// Diffs two checksum-capable sources with `spec`, fetching only the key
/// ranges whose checksums differ. Gives the same differences as a full
/// [`diff_entities`]; rows in equal ranges count as matched, and
/// `by_dimension` counts only the fetched rows.
pub async fn hash_diff<E, L, R>(
    left: &L,
    right: &R,
    spec: &DiffSpec,
    options: &HashDiffOptions,
) -> Result<(DiffReport, HashDiffStats)>
where
    E: Entity,
    L: Checksums<E> + ?Sized,
    R: Checksums<E> + ?Sized,
{
    spec.check()?;
    let exclude: Vec<String> = spec
        .fields
        .iter()
        .filter(|(_, p)| **p == FieldPolicy::Ignore)
        .map(|(f, _)| f.clone())
        .collect();
    let c = options.call_cost.max(1);
    let mut run = Run {
        left,
        right,
        exclude,
        options,
        stats: HashDiffStats::default(),
        budget: 0,
        committed: 0,
        children: (0, 0),
        saved_rows: 0,
    };
    let all = KeyRange::all();
    let (lc, rc) = checksums(&mut run, &all).await?;
    let rows = lc.count + rc.count;
    run.stats.rows_total = rows;
    run.stats.full_fetch_cost = rows + 2 * c;
    // The two root checksums are already overhead; the two fetch calls are part of a full fetch.
    run.budget = 2 + run.stats.full_fetch_cost * options.max_overhead_percent / 100 / c;
    run.committed = run.calls() + 2;
    let mut fetch: Vec<KeyRange> = Vec::new();
    let mut queue = vec![(all, lc, rc)];
    while let Some((range, lc, rc)) = queue.pop() {
        if lc == rc {
            run.committed -= 2;
            continue;
        }
        let Some(k) = run.split_width(lc.count + rc.count) else {
            fetch.push(range);
            continue;
        };
        run.stats.split_calls += 1;
        let from_left = lc.count >= rc.count;
        let keys = if from_left {
            Checksums::<E>::split_keys(run.left, &range, k as usize).await?
        } else {
            Checksums::<E>::split_keys(run.right, &range, k as usize).await?
        };
        let mut bounds = vec![range.start.clone()];
        bounds.extend(keys.into_iter().map(Some));
        bounds.push(range.end.clone());
        let parts: Vec<KeyRange> = bounds
            .windows(2)
            .filter(|w| w[0].is_none() || w[1].is_none() || w[0] < w[1])
            .map(|w| KeyRange::new(w[0].clone(), w[1].clone()))
            .collect();
        if parts.len() < 2 {
            run.committed += 1;
            fetch.push(range);
            continue;
        }
        // The parent's reserved fetch becomes one per child, plus the checksums and the split.
        run.committed += 1 + 2 * parts.len() as u64 + 2 * parts.len() as u64 - 2;
        let mut pending_fetch: Option<KeyRange> = None;
        for part in parts {
            let (a, b) = checksums(&mut run, &part).await?;
            run.children.0 += 1;
            if a == b {
                run.committed -= 2;
                run.saved_rows += a.count + b.count;
                if let Some(r) = pending_fetch.take() {
                    fetch.push(r);
                }
                continue;
            }
            run.children.1 += 1;
            if run.split_width(a.count + b.count).is_some() {
                if let Some(r) = pending_fetch.take() {
                    fetch.push(r);
                }
                queue.push((part, a, b));
            } else {
                // Adjacent ranges to fetch are fetched as one.
                pending_fetch = Some(match pending_fetch.take() {
                    Some(prev) => {
                        run.committed -= 2;
                        KeyRange::new(prev.start, part.end)
                    }
                    None => part,
                });
            }
        }
        if let Some(r) = pending_fetch {
            fetch.push(r);
        }
    }
    let (mut lrows, mut rrows) = (Vec::new(), Vec::new());
    for range in &fetch {
        lrows.extend(Checksums::<E>::rows(run.left, range).await?);
        rrows.extend(Checksums::<E>::rows(run.right, range).await?);
        run.stats.fetch_calls += 2;
    }
    run.stats.rows_fetched = (lrows.len() + rrows.len()) as u64;
    run.stats.cost = run.stats.rows_fetched + run.calls() * c;
    let mut report = diff_entities(&lrows, &rrows, spec)?;
    let s = &mut report.summary;
    s.left_rows = lc.count;
    s.right_rows = rc.count;
    s.matched = lc.count.saturating_sub(s.only_left + s.mismatched);
    report.left = format!("left {}", E::KIND);
    report.right = format!("right {}", E::KIND);
    Ok((report, run.stats))
}

async fn checksums<E, L, R>(
    run: &mut Run<'_, L, R>,
    range: &KeyRange,
) -> Result<(RangeChecksum, RangeChecksum)>
where
    E: Entity,
    L: Checksums<E> + ?Sized,
    R: Checksums<E> + ?Sized,
{
    let a = Checksums::<E>::checksum(run.left, range, &run.exclude).await?;
    let b = Checksums::<E>::checksum(run.right, range, &run.exclude).await?;
    run.stats.checksum_calls += 2;
    Ok((a, b))
}
