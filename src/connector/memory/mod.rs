//! An in-memory commerce system: the reference `Source` and `Sink` for every entity.
//!
//! It stands in for "the store" and "the ERP" in the quickstart, the tests and
//! the benches. Changes are ordered by `(changed_at, change sequence)` on a
//! simulated, deterministic clock, and read in pages with collision-safe
//! [`TimeIdCursor`]s whose id is the change sequence number. Every write gets
//! a higher sequence, so a change made while a reader is paging lands after
//! the reader's cursor even when the clock is frozen: nothing is skipped. Faults are injected from a seeded generator
//! ([`FaultOptions`]): transient errors, rate limits with `retry_after`,
//! latency, duplicate and out-of-order delivery.
//!
//! ```
//! use futures::TryStreamExt;
//! use seamwork::connector::memory::{MemoryOptions, MemorySystem};
//! use seamwork::connector::{Sink, Source, WriteResult};
//! use seamwork::model::{Location, LocationId, LocationKind, SystemId};
//!
//! # futures::executor::block_on(async {
//! let erp = MemorySystem::new(SystemId::new("erp").unwrap(), MemoryOptions::default());
//! let dc = Location::new(LocationId::new("DC-EAST").unwrap(), "East", LocationKind::Warehouse);
//! let out = erp.upsert(&[dc.clone()]).await.unwrap();
//! assert!(matches!(out[0].result, WriteResult::Created { .. }));
//! let again = erp.upsert(&[dc]).await.unwrap();
//! assert!(matches!(again[0].result, WriteResult::Unchanged { .. }));
//! let read: Vec<_> = Source::<Location>::read(&erp, None).try_collect().await.unwrap();
//! assert_eq!(read.len(), 1);
//! # });
//! ```

mod checksum;
mod faults;
pub mod seed;

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::collections::hash_map::Entry;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use faults::{CallFault, Counters, FaultInjector, fault_result};
pub use faults::{FaultOptions, MemoryStats};
pub use seed::{Dataset, SeedOptions};

use super::cursor::{Cursor, TimeIdCursor, encode_time_id, padded};
use super::entity::{Entity, EntityKey, EntityKind};
use super::paging::{Page, paginate};
use super::record::{Record, WriteOutcome, WriteResult};
use super::traits::{Capability, Connector, RecordStream, Sink, Source};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{ExternalRef, SystemId};

/// How a memory system behaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemoryOptions {
    /// Seed of every random decision (faults, shuffles): same seed, same run.
    pub seed: u64,
    /// Records per page on reads.
    pub page_size: usize,
    /// Largest batch `upsert` accepts (declared in the capability).
    pub max_batch: usize,
    /// The simulated clock's first reading.
    pub clock_start: DateTime<Utc>,
    /// How far the clock moves per write. Zero freezes it, so every write
    /// shares one timestamp (the checkpoint-collision case).
    pub tick: Duration,
    /// Faults to inject.
    pub faults: FaultOptions,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        MemoryOptions {
            seed: 0,
            page_size: 250,
            max_batch: 250,
            clock_start: Utc
                .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
                .single()
                .expect("valid date"),
            tick: Duration::from_millis(1),
            faults: FaultOptions::none(),
        }
    }
}

impl MemoryOptions {
    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the page size (at least 1).
    pub fn with_page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size.max(1);
        self
    }

    /// Sets the largest accepted batch (at least 1).
    pub fn with_max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch.max(1);
        self
    }

    /// Sets the simulated clock's first reading.
    pub fn with_clock_start(mut self, start: DateTime<Utc>) -> Self {
        self.clock_start = start;
        self
    }

    /// Sets the clock step per write (zero freezes the clock).
    pub fn with_tick(mut self, tick: Duration) -> Self {
        self.tick = tick;
        self
    }

    /// Sets the faults.
    pub fn with_faults(mut self, faults: FaultOptions) -> Self {
        self.faults = faults;
        self
    }
}

/// What [`MemorySystem::put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// New record.
    Created,
    /// Changed record (its change time moved forward).
    Updated,
    /// Same content; nothing changed.
    Unchanged,
}

struct Row<E> {
    entity: E,
    /// The system's id is `<system>-<number>`, written out when asked for.
    number: u64,
    change: Change,
}

/// The system's id of row `number`: `<system>-` and at least eight digits.
fn external_id(system: &SystemId, number: u64) -> String {
    let mut id = String::with_capacity(system.as_str().len() + 9);
    id.push_str(system.as_str());
    id.push('-');
    id.push_str(padded(&mut [b'0'; 20], number, 8));
    id
}

/// Where a row sits in the change order: its change time, then the change
/// sequence (unique, increasing with every write). The time is kept as
/// integers so that the change index compares them cheaply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Change {
    secs: i64,
    nanos: u32,
    seq: u64,
}

impl Change {
    fn new(at: DateTime<Utc>, seq: u64) -> Self {
        Change {
            secs: at.timestamp(),
            nanos: at.timestamp_subsec_nanos(),
            seq,
        }
    }

    fn at(self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.secs, self.nanos).expect("made from a DateTime")
    }
}

/// One entity's rows plus the change order.
struct Table<E> {
    rows: foldhash::HashMap<EntityKey, Row<E>>,
    changes: BTreeMap<Change, EntityKey>,
}

impl<E> Default for Table<E> {
    fn default() -> Self {
        Table {
            rows: foldhash::HashMap::default(),
            changes: BTreeMap::new(),
        }
    }
}

/// The cursor right after `change`: its id is the sequence, zero-padded to
/// 20 digits so ids order as numbers.
fn change_cursor(change: Change) -> Cursor {
    encode_time_id(change.at(), padded(&mut [b'0'; 20], change.seq, 20))
}

struct State {
    tables: foldhash::HashMap<TypeId, Box<dyn Any + Send>>,
    clock: DateTime<Utc>,
    tick: chrono::Duration,
    next_id: u64,
    last_seq: u64,
}

impl State {
    fn table<E: Entity>(&mut self) -> &mut Table<E> {
        table_of(&mut self.tables)
    }

    /// Writes `entity` under `key` (its key); a borrowed entity is copied
    /// only when it changes something. One lookup of the key.
    fn put<E: Entity>(
        &mut self,
        system: &SystemId,
        key: EntityKey,
        entity: Cow<'_, E>,
    ) -> (PutOutcome, String) {
        let State {
            tables,
            clock,
            tick,
            next_id,
            last_seq,
        } = self;
        let Table { rows, changes } = table_of::<E>(tables);
        let mut next_change = || {
            let now = *clock;
            *clock += *tick;
            *last_seq += 1;
            Change::new(now, *last_seq)
        };
        match rows.entry(key) {
            Entry::Occupied(mut slot) => {
                let row = slot.get_mut();
                if row.entity == *entity {
                    return (PutOutcome::Unchanged, external_id(system, row.number));
                }
                let at = next_change();
                changes.remove(&row.change);
                row.entity = entity.into_owned();
                row.change = at;
                let id = external_id(system, row.number);
                changes.insert(at, slot.key().clone());
                (PutOutcome::Updated, id)
            }
            Entry::Vacant(slot) => {
                let at = next_change();
                *next_id += 1;
                changes.insert(at, slot.key().clone());
                slot.insert(Row {
                    entity: entity.into_owned(),
                    number: *next_id,
                    change: at,
                });
                (PutOutcome::Created, external_id(system, *next_id))
            }
        }
    }
}

fn table_of<E: Entity>(
    tables: &mut foldhash::HashMap<TypeId, Box<dyn Any + Send>>,
) -> &mut Table<E> {
    tables
        .entry(TypeId::of::<E>())
        .or_insert_with(|| Box::new(Table::<E>::default()))
        .downcast_mut::<Table<E>>()
        .expect("tables are keyed by their entity type")
}

struct Inner {
    system: SystemId,
    options: MemoryOptions,
    state: Mutex<State>,
    faults: FaultInjector,
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("memory system lock poisoned")
    }

    async fn fetch_page<E: Entity>(&self, since: Option<Cursor>) -> Result<Page<E>> {
        let fault = self.faults.begin_call().await;
        let what = format!("read of {} page", E::KIND);
        fault_result(&self.faults, &fault, self.system.as_str(), &what)?;
        let from = match &since {
            Some(c) => Bound::Excluded(self.decode_cursor::<E>(c)?),
            None => Bound::Unbounded,
        };
        let page_size = self.options.page_size;
        // One page is one observation.
        let read_at = Utc::now();
        let (mut records, first) = {
            let mut state = self.state();
            let table = state.table::<E>();
            let mut first = None;
            let mut records = Vec::with_capacity(page_size.saturating_add(1).min(table.rows.len()));
            let changes = table
                .changes
                .range((from, Bound::Unbounded))
                .take(page_size + 1)
                .map(|(&change, key)| {
                    first.get_or_insert(change);
                    let row = &table.rows[key];
                    Record {
                        entity: row.entity.clone(),
                        external_ref: ExternalRef {
                            system: self.system.clone(),
                            id: external_id(&self.system, row.number),
                        },
                        cursor: change_cursor(change),
                        changed_at: change.at(),
                        observed_at: read_at,
                    }
                });
            records.extend(changes);
            (records, first)
        };
        let more = records.len() > page_size;
        records.truncate(page_size);
        let page_end = records.last().map(|r| r.cursor.clone());
        if let Some(first) = first {
            // Just before the page's first record: resuming there repeats the page, never skips.
            let page_start = change_cursor(Change {
                seq: first.seq - 1,
                ..first
            });
            self.disorder(&mut records, page_start);
        }
        Counters::add(&self.faults.counters.records_read, records.len() as u64);
        Ok(Page::new(records, if more { page_end } else { None }))
    }

    fn decode_cursor<E: Entity>(&self, cursor: &Cursor) -> Result<Change> {
        let context = |e: Error| {
            e.with_system(self.system.as_str())
                .with_entity(E::KIND.name())
        };
        let c = TimeIdCursor::decode(cursor).map_err(context)?;
        // An empty id is "before every change at that time" (a lookback).
        if c.id.is_empty() {
            return Ok(Change::new(c.at, 0));
        }
        let seq = c.id.parse::<u64>().map_err(|_| {
            context(Error::invalid_data(format!(
                "cursor {:?} does not end in a change sequence number",
                cursor.as_str()
            )))
        })?;
        Ok(Change::new(c.at, seq))
    }

    /// Injects duplicate and out-of-order delivery while keeping the contract:
    /// resuming from any delivered cursor never skips a record.
    fn disorder<E: Entity>(&self, records: &mut Vec<Record<E>>, page_start: Cursor) {
        let Some(page_end) = records.last().map(|r| r.cursor.clone()) else {
            return;
        };
        if records.len() > 1 && self.faults.reorder() {
            self.faults.shuffle(records);
            for r in records.iter_mut() {
                r.cursor = page_start.clone();
            }
            if let Some(last) = records.last_mut() {
                last.cursor = page_end.clone();
            }
        }
        let mut dups = Vec::new();
        for r in records.iter() {
            if self.faults.duplicate() {
                let mut d = r.clone();
                d.cursor = page_end.clone();
                dups.push(d);
            }
        }
        records.extend(dups);
    }

    async fn upsert<E: Entity>(&self, batch: &[E]) -> Result<Vec<WriteOutcome>> {
        if batch.len() > self.options.max_batch {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "batch of {} {} records exceeds max_batch {}",
                    batch.len(),
                    E::KIND,
                    self.options.max_batch
                ),
            )
            .with_system(self.system.as_str()));
        }
        let fault = self.faults.begin_call().await;
        let what = format!("upsert of {} {}", batch.len(), E::KIND);
        let writable = match fault {
            // A timeout may strike after part of the batch was written.
            CallFault::Transient => {
                let n = self.faults.below(batch.len() + 1);
                if n > 0 {
                    Counters::add(&self.faults.counters.partial_writes, 1);
                }
                n
            }
            CallFault::RateLimited => 0,
            CallFault::None => batch.len(),
        };
        let mut outcomes = Vec::with_capacity(batch.len());
        {
            let mut state = self.state();
            for entity in &batch[..writable] {
                outcomes.push(self.write_one(&mut state, entity));
            }
        }
        fault_result(&self.faults, &fault, self.system.as_str(), &what)?;
        Ok(outcomes)
    }

    fn write_one<E: Entity>(&self, state: &mut State, entity: &E) -> WriteOutcome {
        let key = entity.key();
        if let Err(violations) = Entity::validate(entity) {
            Counters::add(&self.faults.counters.records_rejected, 1);
            let err = Error::from(violations).with_system(self.system.as_str());
            return WriteOutcome::new(key, WriteResult::rejected(err));
        }
        Counters::add(&self.faults.counters.records_written, 1);
        let (outcome, external_id) = state.put(&self.system, key.clone(), Cow::Borrowed(entity));
        let result = match outcome {
            PutOutcome::Created => {
                Counters::add(&self.faults.counters.records_created, 1);
                WriteResult::Created { external_id }
            }
            PutOutcome::Updated => {
                Counters::add(&self.faults.counters.records_updated, 1);
                WriteResult::Updated { external_id }
            }
            PutOutcome::Unchanged => WriteResult::Unchanged { external_id },
        };
        WriteOutcome::new(key, result)
    }
}

/// An in-memory commerce system. Cheap to clone; clones share the data.
#[derive(Clone)]
pub struct MemorySystem {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MemorySystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySystem")
            .field("system", &self.inner.system)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl MemorySystem {
    /// An empty system named `system`.
    pub fn new(system: SystemId, options: MemoryOptions) -> Self {
        let tick = chrono::Duration::from_std(options.tick).unwrap_or(chrono::Duration::zero());
        let state = State {
            tables: foldhash::HashMap::default(),
            clock: options.clock_start,
            tick,
            next_id: 0,
            last_seq: 0,
        };
        MemorySystem {
            inner: Arc::new(Inner {
                system,
                faults: FaultInjector::new(options.faults.clone(), options.seed),
                options,
                state: Mutex::new(state),
            }),
        }
    }

    /// The options it was built with.
    pub fn options(&self) -> &MemoryOptions {
        &self.inner.options
    }

    /// Writes `entity` directly (no validation, no faults), as a person or
    /// another process changing the system would.
    pub fn put<E: Entity>(&self, entity: E) -> PutOutcome {
        let key = entity.key();
        self.inner
            .state()
            .put(&self.inner.system, key, Cow::<E>::Owned(entity))
            .0
    }

    /// Writes every entity directly.
    pub fn put_all<E: Entity>(&self, entities: impl IntoIterator<Item = E>) {
        let mut state = self.inner.state();
        for e in entities {
            state.put(&self.inner.system, e.key(), Cow::<E>::Owned(e));
        }
    }

    /// Loads a generated data set: locations, products, variants, inventory, customers, orders.
    pub fn load(&self, data: &Dataset) {
        self.put_all(data.locations.iter().cloned());
        self.put_all(data.products.iter().cloned());
        self.put_all(data.variants.iter().cloned());
        self.put_all(data.inventory.iter().cloned());
        self.put_all(data.customers.iter().cloned());
        self.put_all(data.orders.iter().cloned());
    }

    /// The current record with `key`.
    pub fn get<E: Entity>(&self, key: &EntityKey) -> Option<E> {
        self.inner
            .state()
            .table::<E>()
            .rows
            .get(key)
            .map(|r| r.entity.clone())
    }

    /// The system's id of the record with `key`.
    pub fn external_id<E: Entity>(&self, key: &EntityKey) -> Option<String> {
        self.inner
            .state()
            .table::<E>()
            .rows
            .get(key)
            .map(|r| external_id(&self.inner.system, r.number))
    }

    /// Every record of `E`, ordered by key.
    pub fn all<E: Entity>(&self) -> Vec<E> {
        let mut state = self.inner.state();
        let table = state.table::<E>();
        let mut keys: Vec<&EntityKey> = table.rows.keys().collect();
        keys.sort();
        keys.into_iter()
            .map(|k| table.rows[k].entity.clone())
            .collect()
    }

    /// Number of records of `E`.
    pub fn len<E: Entity>(&self) -> usize {
        self.inner.state().table::<E>().rows.len()
    }

    /// True when there is no record of `E`.
    pub fn is_empty<E: Entity>(&self) -> bool {
        self.len::<E>() == 0
    }

    /// Removes the record with `key` (deletions are not yet part of the change feed).
    pub fn remove<E: Entity>(&self, key: &EntityKey) -> Option<E> {
        let mut state = self.inner.state();
        let table = state.table::<E>();
        let row = table.rows.remove(key)?;
        table.changes.remove(&row.change);
        Some(row.entity)
    }

    /// The simulated clock's current reading (the next write's change time).
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.state().clock
    }

    /// Moves the simulated clock forward.
    pub fn advance_clock(&self, by: Duration) {
        let mut state = self.inner.state();
        state.clock += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
    }

    /// Counters of calls, records and injected faults so far.
    pub fn stats(&self) -> MemoryStats {
        self.inner.faults.counters.snapshot()
    }
}

impl Connector for MemorySystem {
    fn system(&self) -> &SystemId {
        &self.inner.system
    }

    fn capability(&self, _kind: EntityKind) -> Capability {
        Capability::new()
            .with_incremental(true)
            .with_checksums(true)
            .with_max_batch(Some(self.inner.options.max_batch))
            .with_max_page(Some(self.inner.options.page_size))
    }
}

impl<E: Entity> Source<E> for MemorySystem {
    fn read(&self, since: Option<Cursor>) -> RecordStream<E> {
        let inner = Arc::clone(&self.inner);
        paginate(since, move |cursor| {
            let inner = Arc::clone(&inner);
            async move { inner.fetch_page::<E>(cursor).await }
        })
    }
}

#[async_trait]
impl<E: Entity> Sink<E> for MemorySystem {
    async fn upsert(&self, batch: &[E]) -> Result<Vec<WriteOutcome>> {
        self.inner.upsert(batch).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The change index's integer times order changes as their times
        /// (then sequences) do, and give the time back.
        #[test]
        fn changes_order_as_their_times(
            a in -62_000_000_000i64..250_000_000_000,
            b in -62_000_000_000i64..250_000_000_000,
            (na, nb) in (0u32..1_000_000_000, 0u32..1_000_000_000),
            (sa, sb) in (0u64..4, 0u64..4),
        ) {
            let ta = DateTime::from_timestamp(a, na).unwrap();
            let tb = DateTime::from_timestamp(b, nb).unwrap();
            let (ca, cb) = (Change::new(ta, sa), Change::new(tb, sb));
            proptest::prop_assert_eq!(ca.cmp(&cb), (ta, sa).cmp(&(tb, sb)));
            proptest::prop_assert_eq!(ca.at(), ta);
        }
    }
}
