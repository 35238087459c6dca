//! The engine commits a full batch while it reads, checks and writes the
//! next one. These tests slow the store's commits down so the overlap
//! always happens, and check what it must not change: a version delivered
//! in the batch whose commit is still in flight is not delivered again, and
//! a commit that fails loses nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use futures::stream;
use seamwork::connector::memory::{MemoryOptions, MemorySystem};
use seamwork::connector::{Capability, Entity, EntityKey, Record, RecordStream, TimeIdCursor};
use seamwork::model::{ExternalRef, InventoryLevel, LocationId, Sku, SystemId};
use seamwork::store::{
    BatchCommit, Checkpoint, DeadLetter, DeadLetterFilter, DeadLetterId, DeadLetterStatus, Lease,
    MemoryStore, StateStore, Version,
};
use seamwork::sync::{Engine, FailurePolicy, Flow, FlowOptions, Owner, RunReport, Sla};
use seamwork::testkit::mocks::MockSource;
use seamwork::{Error, ErrorKind, Result};

/// A store whose commits take a while (and may fail), noting whether the
/// engine read versions while one was under way.
struct SlowCommits {
    inner: MemoryStore,
    committing: AtomicBool,
    read_during_commit: AtomicBool,
    commits: AtomicUsize,
    fail_commit: Option<usize>,
}

impl SlowCommits {
    fn new(inner: MemoryStore, fail_commit: Option<usize>) -> Self {
        SlowCommits {
            inner,
            committing: AtomicBool::new(false),
            read_during_commit: AtomicBool::new(false),
            commits: AtomicUsize::new(0),
            fail_commit,
        }
    }
}

#[async_trait]
impl StateStore for SlowCommits {
    async fn checkpoint(&self, flow: &str) -> Result<Option<Checkpoint>> {
        self.inner.checkpoint(flow).await
    }
    async fn commit(&self, flow: &str, commit: BatchCommit, fence: Option<&Lease>) -> Result<()> {
        self.committing.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(40)).await;
        let n = self.commits.fetch_add(1, Ordering::SeqCst) + 1;
        let result = if self.fail_commit == Some(n) {
            Err(Error::new(ErrorKind::Unavailable, "disk full"))
        } else {
            self.inner.commit(flow, commit, fence).await
        };
        self.committing.store(false, Ordering::SeqCst);
        result
    }
    async fn seen(&self, flow: &str, keys: &[String], now: DateTime<Utc>) -> Result<Vec<bool>> {
        self.inner.seen(flow, keys, now).await
    }
    async fn versions(&self, flow: &str, keys: &[EntityKey]) -> Result<Vec<Option<Version>>> {
        // Long enough for a commit task started just before to be under way.
        tokio::time::sleep(Duration::from_millis(10)).await;
        if self.committing.load(Ordering::SeqCst) {
            self.read_during_commit.store(true, Ordering::SeqCst);
        }
        self.inner.versions(flow, keys).await
    }
    async fn purge_expired_keys(&self, now: DateTime<Utc>) -> Result<u64> {
        self.inner.purge_expired_keys(now).await
    }
    async fn dead_letters(&self, filter: &DeadLetterFilter) -> Result<Vec<DeadLetter>> {
        self.inner.dead_letters(filter).await
    }
    async fn dead_letter(&self, id: DeadLetterId) -> Result<Option<DeadLetter>> {
        self.inner.dead_letter(id).await
    }
    async fn edit_dead_letter(&self, id: DeadLetterId, payload: serde_json::Value) -> Result<()> {
        self.inner.edit_dead_letter(id, payload).await
    }
    async fn resolve_dead_letter(&self, id: DeadLetterId, status: DeadLetterStatus) -> Result<()> {
        self.inner.resolve_dead_letter(id, status).await
    }
    async fn record_dead_letter_failure(
        &self,
        id: DeadLetterId,
        error: &Error,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.inner.record_dead_letter_failure(id, error, at).await
    }
    async fn bind_reference(&self, ns: &str, system: &str, out: &str, canon: &str) -> Result<()> {
        self.inner.bind_reference(ns, system, out, canon).await
    }
    async fn canonical_reference(
        &self,
        ns: &str,
        system: &str,
        out: &str,
    ) -> Result<Option<String>> {
        self.inner.canonical_reference(ns, system, out).await
    }
    async fn outside_reference(&self, ns: &str, system: &str, can: &str) -> Result<Option<String>> {
        self.inner.outside_reference(ns, system, can).await
    }
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>> {
        self.inner.acquire_lease(name, holder, ttl, now).await
    }
    async fn renew_lease(
        &self,
        lease: &Lease,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>> {
        self.inner.renew_lease(lease, ttl, now).await
    }
    async fn release_lease(&self, lease: &Lease) -> Result<()> {
        self.inner.release_lease(lease).await
    }
}

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, minute, 0).unwrap()
}

fn level(sku: &str, on_hand: i64, minute: u32) -> InventoryLevel {
    let mut level = InventoryLevel::new(
        Sku::new(sku).unwrap(),
        LocationId::new("DC-1").unwrap(),
        at(minute),
    );
    level.on_hand = on_hand;
    level.available = on_hand;
    level
}

/// Records in stream order: (sku, on hand, minute changed).
fn records(changes: &[(&str, i64, u32)]) -> Vec<Record<InventoryLevel>> {
    changes
        .iter()
        .enumerate()
        .map(|(i, &(sku, on_hand, minute))| {
            Record::new(
                level(sku, on_hand, minute),
                ExternalRef::new("store", sku),
                TimeIdCursor::new(at(minute), format!("{i:04}")).encode(),
                at(minute),
            )
        })
        .collect()
}

/// A source that streams `changes` from the start on every read.
fn source(changes: &'static [(&'static str, i64, u32)]) -> Arc<MockSource<InventoryLevel>> {
    let mut source = MockSource::<InventoryLevel>::new();
    source
        .expect_system()
        .return_const(SystemId::new("store").unwrap());
    source.expect_capability().returning(|_| Capability::new());
    source
        .expect_read()
        .returning(move |_| -> RecordStream<InventoryLevel> {
            Box::pin(stream::iter(records(changes).into_iter().map(Ok)))
        });
    Arc::new(source)
}

fn flow(source: Arc<MockSource<InventoryLevel>>, erp: Arc<MemorySystem>) -> Flow<InventoryLevel> {
    let mut options = FlowOptions::default();
    options.batch_size = 2;
    Flow::<InventoryLevel>::builder("levels", source, erp)
        .owner(Owner::new("ops", "ops@example.com"))
        .failure_policy(FailurePolicy::dead_letter(10))
        .sla(Sla::max_lag(Duration::from_secs(3600 * 24 * 3650)))
        .options(options)
        .build()
        .unwrap()
}

fn erp() -> Arc<MemorySystem> {
    Arc::new(MemorySystem::new(
        SystemId::new("erp").unwrap(),
        MemoryOptions::default(),
    ))
}

/// A-1 arrives in the first batch and again (same version) in the second,
/// then changes in the third.
const REDELIVERED: &[(&str, i64, u32)] = &[
    ("A-1", 5, 1),
    ("B-1", 3, 2),
    ("A-1", 5, 1),
    ("C-1", 8, 3),
    ("A-1", 6, 4),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_whose_commit_is_in_flight_is_not_delivered_again() {
    let store = Arc::new(SlowCommits::new(MemoryStore::new(), None));
    let erp = erp();
    let flow = flow(source(REDELIVERED), erp.clone());
    let report: RunReport = Engine::new(store.clone()).run_once(&flow).await.unwrap();

    assert!(
        store.read_during_commit.load(Ordering::SeqCst),
        "the next batch was checked while the previous commit was under way"
    );
    assert_eq!(report.read, 5);
    assert_eq!(report.already_delivered, 1, "{report:?}");
    assert_eq!(report.created, 3, "{report:?}");
    assert_eq!(report.updated, 1, "{report:?}");
    assert_eq!(report.unchanged, 0, "A-1 was not written twice: {report:?}");
    assert_eq!(report.batches, 3);
    let stored = store
        .versions("levels", &[level("A-1", 0, 0).key()])
        .await
        .unwrap();
    assert_eq!(stored[0].map(|v| v.changed_at), Some(at(4)));
}

#[tokio::test]
async fn a_commit_that_fails_while_the_next_batch_is_written_loses_nothing() {
    // The second commit fails while the third batch is being written.
    let store = Arc::new(SlowCommits::new(MemoryStore::new(), Some(2)));
    let erp = erp();
    let flow = flow(source(REDELIVERED), erp.clone());
    let engine = Engine::new(store.clone());
    let error = engine.run_once(&flow).await.unwrap_err();
    assert_eq!(error.kind(), &ErrorKind::Unavailable);
    let checkpoint = store.checkpoint("levels").await.unwrap().unwrap();
    assert_eq!(
        TimeIdCursor::decode(&checkpoint.cursor).unwrap().at,
        at(2),
        "only the first batch is acknowledged"
    );

    // The next run starts after the first batch and converges.
    let report = engine.run_once(&flow).await.unwrap();
    assert!(report.halted.is_none(), "{report:?}");
    let mut ids: Vec<(String, i64)> = erp
        .all::<InventoryLevel>()
        .into_iter()
        .map(|l| (l.sku.to_string(), l.on_hand))
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![("A-1".into(), 6), ("B-1".into(), 3), ("C-1".into(), 8)]
    );
}

/// Ten batches of two; B-1 comes back (same version) in the next batch,
/// while both batches wait for the first commit.
const MANY: &[(&str, i64, u32)] = &[
    ("A-1", 1, 1),
    ("A-2", 1, 1),
    ("B-1", 2, 2),
    ("B-2", 2, 2),
    ("C-1", 3, 3),
    ("B-1", 2, 2),
    ("D-1", 4, 4),
    ("D-2", 4, 4),
    ("E-1", 5, 5),
    ("E-2", 5, 5),
    ("C-2", 3, 3),
    ("F-2", 6, 6),
    ("G-1", 7, 7),
    ("G-2", 7, 7),
    ("H-1", 8, 8),
    ("H-2", 8, 8),
    ("I-1", 9, 9),
    ("I-2", 9, 9),
    ("J-1", 10, 10),
    ("J-2", 10, 10),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_waiting_for_a_slow_store_are_committed_together() {
    let store = Arc::new(SlowCommits::new(MemoryStore::new(), None));
    let erp = erp();
    let flow = flow(source(MANY), erp.clone());
    let report = Engine::new(store.clone()).run_once(&flow).await.unwrap();

    assert_eq!(report.batches, 10, "{report:?}");
    let commits = store.commits.load(Ordering::SeqCst);
    assert!(
        commits < 10,
        "batches that waited were merged into fewer commits: {commits}"
    );
    assert_eq!(report.created, 19, "{report:?}");
    assert_eq!(report.already_delivered, 1, "B-1 again: {report:?}");
    assert_eq!(report.unchanged, 0, "{report:?}");
    assert_eq!(erp.len::<InventoryLevel>(), 19);
    let checkpoint = store.inner.checkpoint("levels").await.unwrap().unwrap();
    assert_eq!(TimeIdCursor::decode(&checkpoint.cursor).unwrap().at, at(10));
    let stored = store
        .versions(
            "levels",
            &[level("J-2", 0, 0).key(), level("B-1", 0, 0).key()],
        )
        .await
        .unwrap();
    assert_eq!(stored[0].map(|v| v.changed_at), Some(at(10)));
    assert_eq!(stored[1].map(|v| v.changed_at), Some(at(2)));
}

/// A-1 comes back in the third batch. The third batch's lookup reads the
/// store while the first commit is still syncing; that commit lands while
/// the second batch is written (a slow sink), before the third is checked.
const LANDS_BETWEEN: &[(&str, i64, u32)] = &[
    ("A-1", 1, 1),
    ("B-1", 1, 1),
    ("C-1", 2, 2),
    ("D-1", 2, 2),
    ("A-1", 1, 1),
    ("E-1", 3, 3),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_that_lands_after_the_next_lookup_read_the_store_still_counts() {
    let store = Arc::new(SlowCommits::new(MemoryStore::new(), None));
    let faults =
        seamwork::connector::memory::FaultOptions::none().with_latency(Duration::from_millis(80));
    let erp = Arc::new(MemorySystem::new(
        SystemId::new("erp").unwrap(),
        MemoryOptions::default().with_faults(faults),
    ));
    let flow = flow(source(LANDS_BETWEEN), erp.clone());
    let report = Engine::new(store.clone()).run_once(&flow).await.unwrap();
    assert_eq!(report.already_delivered, 1, "A-1 again: {report:?}");
    assert_eq!(report.unchanged, 0, "A-1 was not written twice: {report:?}");
    assert_eq!(report.created, 5, "{report:?}");
}
