//! The conformance suite every `Source` and `Sink` must pass, and mocks of the traits.
//!
//! Each check is a public async function returning `Ok(())` or a
//! [`ConformanceFailure`] that names the check and every problem it found, so
//! a connector's own test reads:
//!
//! ```
//! use seamwork::connector::memory::{Dataset, MemoryOptions, MemorySystem, SeedOptions};
//! use seamwork::model::{Variant, SystemId};
//! use seamwork::testkit;
//!
//! # futures::executor::block_on(async {
//! let data = Dataset::generate(&SeedOptions::small()).unwrap();
//! let store = MemorySystem::new(SystemId::new("store").unwrap(), MemoryOptions::default().with_page_size(7));
//! store.put_all(data.variants.clone());
//! testkit::check_source(&store, &data.variants, 50).await.unwrap();
//!
//! let erp = MemorySystem::new(SystemId::new("erp").unwrap(), MemoryOptions::default());
//! let mut invalid = data.variants[0].clone();
//! invalid.price = -invalid.price; // negative price
//! testkit::check_sink(&erp, &data.variants[1..], invalid).await.unwrap();
//! # });
//! ```
//!
//! The suite states the contract for a source read *without* injected faults:
//! a full read yields each record once, and resuming from any record's cursor
//! yields exactly the later records — no skip, no repeat. (Under out-of-order
//! delivery a source may repeat records after a resume, but must never skip
//! one; the memory system's own fault tests check that weaker rule.)

pub mod mocks;
pub mod store;

use std::collections::HashMap;
use std::fmt;

use futures::StreamExt;

use crate::connector::{Cursor, Entity, EntityKey, Record, Sink, Source, WriteResult};

/// A check that did not pass, with every problem it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConformanceFailure {
    /// Name of the check (`full_read_yields_each_record_once`, ...).
    pub check: &'static str,
    /// What was wrong, one line each.
    pub problems: Vec<String>,
}

impl fmt::Display for ConformanceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "conformance check `{}` failed:", self.check)?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConformanceFailure {}

/// Result of one check.
pub type CheckResult = Result<(), ConformanceFailure>;

/// Collects problems; the first [`MAX_PROBLEMS`] are kept verbatim.
struct Problems {
    check: &'static str,
    list: Vec<String>,
    more: usize,
}

/// Problems listed in full per check; the rest are counted.
pub const MAX_PROBLEMS: usize = 20;

impl Problems {
    fn new(check: &'static str) -> Self {
        Problems {
            check,
            list: Vec::new(),
            more: 0,
        }
    }

    fn add(&mut self, problem: String) {
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(problem);
        } else {
            self.more += 1;
        }
    }

    fn finish(mut self) -> CheckResult {
        if self.more > 0 {
            self.list.push(format!("... and {} more", self.more));
        }
        if self.list.is_empty() {
            Ok(())
        } else {
            Err(ConformanceFailure {
                check: self.check,
                problems: self.list,
            })
        }
    }
}

/// Reads every record after `since`, stopping at the first error (recorded as a problem).
async fn read_all<E: Entity>(
    source: &dyn Source<E>,
    since: Option<Cursor>,
    problems: &mut Problems,
) -> Vec<Record<E>> {
    let mut out = Vec::new();
    let mut stream = source.read(since.clone());
    while let Some(item) = stream.next().await {
        match item {
            Ok(r) => out.push(r),
            Err(e) => {
                problems.add(format!(
                    "read after {:?} failed after {} records: {e}",
                    since.as_ref().map(Cursor::as_str),
                    out.len()
                ));
                break;
            }
        }
    }
    out
}

/// Runs every source check: a full read, then resumes (when the source declares incremental reads).
pub async fn check_source<E: Entity>(
    source: &dyn Source<E>,
    expected: &[E],
    max_resumes: usize,
) -> CheckResult {
    full_read_yields_each_record_once(source, expected).await?;
    if source.capability(E::KIND).incremental {
        resume_never_skips_or_repeats(source, max_resumes).await?;
    }
    Ok(())
}

/// A full read yields every expected record exactly once and nothing else.
pub async fn full_read_yields_each_record_once<E: Entity>(
    source: &dyn Source<E>,
    expected: &[E],
) -> CheckResult {
    let mut p = Problems::new("full_read_yields_each_record_once");
    let mut seen: HashMap<EntityKey, (usize, E)> = HashMap::new();
    for r in read_all(source, None, &mut p).await {
        if r.external_ref.system != *source.system() {
            p.add(format!(
                "record {} names system {}, but the source is {}",
                r.entity.key(),
                r.external_ref.system,
                source.system()
            ));
        }
        seen.entry(r.entity.key()).or_insert((0, r.entity)).0 += 1;
    }
    let mut expected_keys = std::collections::HashSet::new();
    for e in expected {
        let key = e.key();
        match seen.get(&key) {
            None => p.add(format!("record {key} was never read")),
            Some((1, got)) if got != e => p.add(format!(
                "record {key} was read with different content than expected"
            )),
            Some((1, _)) => {}
            Some((n, _)) => p.add(format!("record {key} was read {n} times")),
        }
        expected_keys.insert(key);
    }
    for key in seen.keys() {
        if !expected_keys.contains(key) {
            p.add(format!(
                "record {key} was read but is not in the expected set"
            ));
        }
    }
    p.finish()
}

/// Resuming from a record's cursor yields exactly the records after it in the
/// full read: none skipped, none repeated. Tries every cursor when there are
/// at most `max_resumes` records, else `max_resumes` cursors spread evenly
/// (always including the first and the last).
pub async fn resume_never_skips_or_repeats<E: Entity>(
    source: &dyn Source<E>,
    max_resumes: usize,
) -> CheckResult {
    let mut p = Problems::new("resume_never_skips_or_repeats");
    let full: Vec<(EntityKey, Cursor)> = read_all(source, None, &mut p)
        .await
        .into_iter()
        .map(|r| (r.entity.key(), r.cursor))
        .collect();
    if full.is_empty() {
        p.add("the source is empty; seed it before running the suite".into());
        return p.finish();
    }
    let n = full.len();
    let picks: Vec<usize> = if n <= max_resumes.max(2) {
        (0..n).collect()
    } else {
        let m = max_resumes.max(2);
        let mut v: Vec<usize> = (0..m).map(|i| i * (n - 1) / (m - 1)).collect();
        v.dedup();
        v
    };
    for i in picks {
        let (key, cursor) = &full[i];
        let resumed = read_all(source, Some(cursor.clone()), &mut p).await;
        let want: Vec<&EntityKey> = full[i + 1..].iter().map(|(k, _)| k).collect();
        let resumed: Vec<EntityKey> = resumed.iter().map(|r| r.entity.key()).collect();
        let got: Vec<&EntityKey> = resumed.iter().collect();
        if want != got {
            let first_diff = want
                .iter()
                .zip(&got)
                .position(|(a, b)| a != b)
                .unwrap_or(want.len().min(got.len()));
            p.add(format!(
                "resuming after record #{i} ({key}) gave {} records, expected {}; first difference at #{}: expected {}, got {}",
                got.len(),
                want.len(),
                i + 1 + first_diff,
                want.get(first_diff).map_or("end".to_string(), |k| k.to_string()),
                got.get(first_diff).map_or("end".to_string(), |k| k.to_string()),
            ));
        }
    }
    p.finish()
}

/// Runs every sink check with a valid `batch` (at least two records, none of
/// them in the sink yet) and one record the sink must reject. Batches are cut
/// to the sink's declared `max_batch`.
pub async fn check_sink<E: Entity>(sink: &dyn Sink<E>, batch: &[E], invalid: E) -> CheckResult {
    if batch.len() < 2 {
        return Err(ConformanceFailure {
            check: "check_sink",
            problems: vec![format!(
                "the suite needs a batch of at least 2 records, got {}",
                batch.len()
            )],
        });
    }
    upsert_twice_is_unchanged(sink, batch).await?;
    rejected_records_are_reported(sink, batch, invalid).await?;
    max_batch_is_honoured(sink, batch).await
}

/// Writes `batch` through `sink`, then reads `source` (the same system) in full:
/// every written record must come back equal. This catches a sink that
/// reports success for a record it did not write.
pub async fn written_records_read_back<E: Entity>(
    sink: &dyn Sink<E>,
    source: &dyn Source<E>,
    batch: &[E],
) -> CheckResult {
    let mut p = Problems::new("written_records_read_back");
    for chunk in chunks(sink, batch) {
        if let Err(e) = sink.upsert(chunk).await {
            p.add(format!("upsert of {} records failed: {e}", chunk.len()));
        }
    }
    let found: HashMap<EntityKey, E> = read_all(source, None, &mut p)
        .await
        .into_iter()
        .map(|r| (r.entity.key(), r.entity))
        .collect();
    for e in batch {
        match found.get(&e.key()) {
            None => p.add(format!(
                "{} was reported written but is not in the source",
                e.key()
            )),
            Some(back) if back != e => p.add(format!(
                "{} reads back different from what was written",
                e.key()
            )),
            Some(_) => {}
        }
    }
    p.finish()
}

/// `batch` cut into pieces the sink accepts.
fn chunks<'a, E: Entity>(sink: &dyn Sink<E>, batch: &'a [E]) -> std::slice::Chunks<'a, E> {
    let max = sink
        .capability(E::KIND)
        .max_batch
        .unwrap_or(usize::MAX)
        .max(1);
    batch.chunks(max)
}

fn outcome_count_problems<E: Entity>(p: &mut Problems, batch: &[E], keys: &[EntityKey], run: &str) {
    if keys.len() != batch.len() {
        p.add(format!(
            "{run}: {} outcomes for a batch of {}; every record needs one",
            keys.len(),
            batch.len()
        ));
    }
    for (i, (e, k)) in batch.iter().zip(keys).enumerate() {
        if e.key() != *k {
            p.add(format!(
                "{run}: outcome #{i} is for {k}, but record #{i} is {}",
                e.key()
            ));
        }
    }
}

/// Upserting the same batch twice: the first run creates every record (the
/// batch must be new to the sink), the second reports every record unchanged.
pub async fn upsert_twice_is_unchanged<E: Entity>(sink: &dyn Sink<E>, batch: &[E]) -> CheckResult {
    let mut p = Problems::new("upsert_twice_is_unchanged");
    for run in ["first upsert", "second upsert"] {
        for chunk in chunks(sink, batch) {
            let outcomes = match sink.upsert(chunk).await {
                Err(e) => {
                    p.add(format!("{run} failed: {e}"));
                    continue;
                }
                Ok(outcomes) => outcomes,
            };
            let keys: Vec<EntityKey> = outcomes.iter().map(|o| o.key.clone()).collect();
            outcome_count_problems(&mut p, chunk, &keys, run);
            for o in &outcomes {
                let ok = matches!(
                    (&o.result, run),
                    (WriteResult::Created { .. }, "first upsert")
                        | (WriteResult::Unchanged { .. }, "second upsert")
                );
                if !ok {
                    let want = if run == "first upsert" {
                        "created"
                    } else {
                        "unchanged"
                    };
                    p.add(format!(
                        "{run}: {} was {:?}, expected {want}",
                        o.key, o.result
                    ));
                }
            }
        }
    }
    p.finish()
}

/// A record the sink refuses is reported as rejected with a reason, and the rest of the batch is still written.
pub async fn rejected_records_are_reported<E: Entity>(
    sink: &dyn Sink<E>,
    batch: &[E],
    invalid: E,
) -> CheckResult {
    let mut p = Problems::new("rejected_records_are_reported");
    let room = sink
        .capability(E::KIND)
        .max_batch
        .unwrap_or(usize::MAX)
        .saturating_sub(1);
    let mut mixed: Vec<E> = batch[..batch.len().min(room)].to_vec();
    let at = mixed.len() / 2;
    mixed.insert(at, invalid);
    match sink.upsert(&mixed).await {
        Err(e) => p.add(format!(
            "a batch with one invalid record failed as a whole: {e}"
        )),
        Ok(outcomes) => {
            let keys: Vec<EntityKey> = outcomes.iter().map(|o| o.key.clone()).collect();
            outcome_count_problems(&mut p, &mixed, &keys, "mixed batch");
            for (i, o) in outcomes.iter().enumerate() {
                match (&o.result, i == at) {
                    (WriteResult::Rejected { error: e }, true) if e.message().is_empty() => {
                        p.add(format!("the rejection of {} gives no reason", o.key))
                    }
                    (WriteResult::Rejected { .. }, true) => {}
                    (r, true) => p.add(format!("invalid record {} was reported as {r:?}", o.key)),
                    (WriteResult::Rejected { error: e }, false) => {
                        p.add(format!("valid record {} was rejected: {e}", o.key))
                    }
                    _ => {}
                }
            }
        }
    }
    p.finish()
}

/// A sink that declares `max_batch = n` accepts a batch of `n`; a larger batch
/// is either refused as a whole with an error or fully answered — never
/// answered in part.
pub async fn max_batch_is_honoured<E: Entity>(sink: &dyn Sink<E>, batch: &[E]) -> CheckResult {
    let mut p = Problems::new("max_batch_is_honoured");
    let Some(max) = sink.capability(E::KIND).max_batch else {
        return p.finish();
    };
    let fitting = &batch[..batch.len().min(max)];
    match sink.upsert(fitting).await {
        Err(e) => p.add(format!(
            "a batch of {} (within max_batch {max}) failed: {e}",
            fitting.len()
        )),
        Ok(o) if o.len() != fitting.len() => p.add(format!(
            "{} outcomes for a batch of {}",
            o.len(),
            fitting.len()
        )),
        Ok(_) => {}
    }
    if batch.len() > max {
        let over = &batch[..max + 1];
        if let Ok(o) = sink.upsert(over).await
            && o.len() != over.len()
        {
            p.add(format!(
                "a batch over max_batch ({}) was answered for {} records only",
                over.len(),
                o.len()
            ));
        }
    }
    p.finish()
}
