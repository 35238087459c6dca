//! The engine: runs flows against a state store, never losing or
//! duplicating a record.
//!
//! A run reads from the flow's checkpoint (minus its lookback) in batches.
//! Per batch: keep the newest version of each key, drop versions that are
//! not newer than what the store says was delivered for that key (the
//! idempotency key is the pair entity key + version, kept as a per-key
//! high-water mark so a stale version can never overwrite a newer one), map
//! and validate, upsert (retrying temporary errors, bisecting a batch the
//! sink refuses as a whole), then commit the new checkpoint, the delivered
//! versions and the dead letters in one store transaction. A crash anywhere
//! before that commit means the batch is read again and re-upserted, which
//! idempotent sinks answer with `unchanged`: at-least-once delivery plus
//! idempotency is effectively once.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use super::alert::{Alert, AlertKind, AlertSink, LogAlertSink};
use super::flow::{Flow, OnPermanentFailure, RetryPolicy};
use super::health::{FlowHealth, RunHistory, StoreFacts};
use super::read_ahead::{Batch, Chunk, Lookups, ReadAhead};
use crate::connector::{
    Cursor, Entity, EntityKey, Record, TimeIdCursor, WriteOutcome, WriteResult,
};
use crate::error::{Error, ErrorKind, Result, Retryability};
use crate::layers::retry::honour_retry_after;
use crate::store::Version;
use crate::store::{
    BatchCommit, DeadLetterFilter, DeadLetterId, DeadLetterStatus, Lease, NewDeadLetter, StateStore,
};

/// What one run of a flow did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunReport {
    /// Records read from the source (duplicates included).
    pub read: u64,
    /// Older versions of a key dropped because a newer one was in the batch.
    pub superseded: u64,
    /// Records skipped because this version of the key, or a newer one, was
    /// already delivered (a redelivery, a lookback overlap, a webhook that
    /// beat the poll, or a stale webhook).
    pub already_delivered: u64,
    /// Created in the sink.
    pub created: u64,
    /// Updated in the sink.
    pub updated: u64,
    /// Already equal in the sink.
    pub unchanged: u64,
    /// Sent to the dead-letter queue.
    pub dead_lettered: u64,
    /// Skipped with an alert.
    pub skipped: u64,
    /// Retries of calls and records.
    pub retries: u64,
    /// Batches committed.
    pub batches: u64,
    /// The worst source-change-to-write lag of the run.
    pub max_lag: Option<Duration>,
    /// The checkpoint after the run.
    pub checkpoint: Option<Cursor>,
    /// Why the flow halted, if it did.
    pub halted: Option<Error>,
}

impl RunReport {
    /// Records written or found equal.
    pub fn delivered(&self) -> u64 {
        self.created + self.updated + self.unchanged
    }

    fn processed(&self) -> u64 {
        self.delivered() + self.dead_lettered + self.skipped
    }
}

/// What a replay of a dead letter did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ReplayOutcome {
    /// Delivered; the letter is closed as replayed.
    Delivered(WriteResult),
    /// Failed again; the letter stays open with one more attempt.
    Failed(Error),
    /// A newer version was delivered since; the letter was discarded.
    Superseded(String),
}

/// Runs flows. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    store: Arc<dyn StateStore>,
    alerts: Arc<dyn AlertSink>,
    fence: Option<Fence>,
    history: Arc<RunHistory>,
    /// One run, delivery or replay per flow at a time in this process
    /// (across processes, leases do this).
    flow_locks: Arc<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

/// The lease an engine works under, and until when it may still write.
#[derive(Clone)]
struct Fence {
    lease: Lease,
    /// Microseconds since the epoch; past it no sink call is started.
    writable_until: Arc<AtomicI64>,
}

/// A record that failed for good, with where it was in the batch.
struct Failure<E> {
    position: usize,
    record: Record<E>,
    error: Error,
    attempts: u32,
}

/// The records of a batch that reach the sink, in stream order.
struct Candidate<E> {
    position: usize,
    record: Record<E>,
    /// What the sink receives when a map step changed it; `None` when the
    /// record's entity goes as it is (no copy made).
    mapped: Option<E>,
    /// Sink calls made for it so far.
    attempts: u32,
}

impl<E> Candidate<E> {
    fn failed(self, error: Error) -> Failure<E> {
        Failure {
            position: self.position,
            record: self.record,
            error,
            attempts: self.attempts,
        }
    }

    /// Splits off what the sink receives, so a sink call borrows it without
    /// a copy; [`Shell::with_entity`] puts it back.
    fn take_entity(self) -> (E, Shell<E>) {
        let Record {
            entity,
            external_ref,
            cursor,
            changed_at,
            observed_at,
        } = self.record;
        let record = Record {
            entity: (),
            external_ref,
            cursor,
            changed_at,
            observed_at,
        };
        let (sent, original) = match self.mapped {
            Some(mapped) => (mapped, Some(entity)),
            None => (entity, None),
        };
        let shell = Shell {
            position: self.position,
            record,
            original,
            attempts: self.attempts,
        };
        (sent, shell)
    }
}

/// What a sink call did with one candidate.
enum Outcome<E> {
    /// Acknowledged: only where it was and when it changed are kept.
    Written {
        position: usize,
        changed_at: DateTime<Utc>,
        written: WriteResult,
    },
    /// Rejected or refused, with the candidate for a retry or a failure.
    Failed(Candidate<E>, Error),
}

/// A candidate whose sink-bound entity is out on a sink call.
struct Shell<E> {
    position: usize,
    record: Record<()>,
    /// The entity as read, when a map step changed it.
    original: Option<E>,
    attempts: u32,
}

impl<E> Shell<E> {
    fn with_entity(self, sent: E) -> Candidate<E> {
        let (entity, mapped) = match self.original {
            Some(original) => (original, Some(sent)),
            None => (sent, None),
        };
        let Record {
            external_ref,
            cursor,
            changed_at,
            observed_at,
            ..
        } = self.record;
        Candidate {
            position: self.position,
            record: Record {
                entity,
                external_ref,
                cursor,
                changed_at,
                observed_at,
            },
            mapped,
            attempts: self.attempts,
        }
    }
}

/// A batch delivered up to its commit, and what follows the commit.
struct Handled {
    batch: BatchCommit,
    /// Skipped records, alerted once the commit landed.
    alerts: Vec<AlertKind>,
    /// Why the flow stops after this batch, if it does.
    halt: Option<Error>,
}

impl Handled {
    /// Commits, then acts on what the batch decided.
    async fn commit<E: Entity>(
        self,
        engine: &Engine,
        flow: &Flow<E>,
        report: &mut RunReport,
    ) -> Result<()> {
        let (batch, after) = self.split();
        engine
            .store
            .commit(&flow.name, batch, engine.fence_lease())
            .await?;
        engine.after_commit(flow, report, after, &mut None).await;
        Ok(())
    }

    fn split(self) -> (BatchCommit, AfterCommit) {
        let after = AfterCommit {
            checkpoint: self.batch.cursor.clone(),
            alerts: self.alerts,
            halt: self.halt,
            batches: 1,
        };
        (self.batch, after)
    }
}

/// Handled batches waiting, merged into one commit, for the store to finish
/// the commit before them: while one commit syncs, the next batches pile up
/// and are then committed together (a group commit), so a store's sync
/// latency does not cap the flow at one batch per sync.
struct Queued {
    batch: BatchCommit,
    after: AfterCommit,
    /// Their versions, for the next batch's check.
    overlay: Overlay,
}

impl Queued {
    /// Nothing queued yet: batches come in through [`push`](Self::push).
    fn empty() -> Self {
        Queued {
            batch: BatchCommit::without_cursor(),
            after: AfterCommit {
                checkpoint: None,
                alerts: Vec::new(),
                halt: None,
                batches: 0,
            },
            overlay: Overlay::default(),
        }
    }

    /// Adds a later batch: its checkpoint, and its version of a key where
    /// both have one (the engine records only versions that are newer, or
    /// equal in time and later in the stream).
    fn push(&mut self, handled: Handled) {
        let (batch, after) = handled.split();
        // One pass over the later batch: its versions go into the overlay,
        // and a key that was already there (rare) has its older version
        // dropped from the commit, so a push costs its own size, not the
        // size of everything queued so far.
        let mut requeued = Vec::new();
        for (key, version) in &batch.versions {
            if self.overlay.0.insert(key.clone(), *version).is_some() {
                requeued.push(key);
            }
        }
        if !requeued.is_empty() {
            let requeued: foldhash::HashSet<&EntityKey> = requeued.into_iter().collect();
            self.batch
                .versions
                .retain(|(key, _)| !requeued.contains(key));
        }
        self.batch.versions.extend(batch.versions);
        self.batch.keys.extend(batch.keys);
        self.batch.dead_letters.extend(batch.dead_letters);
        if batch.cursor.is_some() {
            self.batch.cursor = batch.cursor;
            self.after.checkpoint = after.checkpoint;
        }
        self.after.alerts.extend(after.alerts);
        self.after.halt = after.halt;
        self.after.batches += after.batches;
    }
}

/// Most engine batches merged into one waiting commit: bounds what a crash
/// makes the next run read again.
const MAX_QUEUED_BATCHES: u64 = 32;

/// A commit on its way to the store, with what follows it.
struct InFlight {
    commit: CommitTask,
    after: AfterCommit,
    overlay: Overlay,
}

/// A run's commits that are not in the store yet: the one in flight and the
/// batches queued behind it. Also keeps, by landing number, the versions of
/// commits that landed after a read-ahead lookup read the store (each chunk
/// carries the landing count its lookup started at).
#[derive(Default)]
struct Commits {
    in_flight: Option<InFlight>,
    queued: Option<Queued>,
    landings: Arc<AtomicU64>,
    landed: VecDeque<(u64, Overlay)>,
}

impl Commits {
    /// Versions a chunk whose lookup started at landing `seen` may have
    /// missed, oldest first; forgets those every later lookup has seen.
    fn pending(&mut self, seen: u64) -> Vec<&Overlay> {
        self.landed.retain(|(landing, _)| *landing > seen);
        self.landed
            .iter()
            .map(|(_, overlay)| overlay)
            .chain(self.in_flight.as_ref().map(|f| &f.overlay))
            .chain(self.queued.as_ref().map(|q| &q.overlay))
            .collect()
    }

    fn queue(&mut self, handled: Handled) {
        self.queued.get_or_insert_with(Queued::empty).push(handled);
    }

    fn in_flight_finished(&self) -> bool {
        self.in_flight
            .as_ref()
            .is_some_and(|f| f.commit.is_finished())
    }

    /// A queued batch halts the flow once committed.
    fn halts(&self) -> bool {
        self.queued.as_ref().is_some_and(|q| q.after.halt.is_some())
    }

    fn queue_full(&self) -> bool {
        self.queued
            .as_ref()
            .is_some_and(|q| q.after.batches >= MAX_QUEUED_BATCHES)
    }

    /// Starts committing the queued batches when no commit is in flight.
    fn start_queued(&mut self, engine: &Engine, flow: &str) {
        if self.in_flight.is_none()
            && let Some(q) = self.queued.take()
        {
            self.in_flight = Some(InFlight {
                commit: CommitTask::start(engine, flow, q.batch),
                after: q.after,
                overlay: q.overlay,
            });
        }
    }

    /// Waits for the commit in flight, then acts on what its batches
    /// decided.
    async fn land<E: Entity>(
        &mut self,
        engine: &Engine,
        flow: &Flow<E>,
        report: &mut RunReport,
        resume: &mut Option<Cursor>,
    ) -> Result<()> {
        if let Some(f) = self.in_flight.take() {
            f.commit.await?;
            let landing = self.landings.fetch_add(1, Ordering::SeqCst) + 1;
            self.landed.push_back((landing, f.overlay));
            engine.after_commit(flow, report, f.after, resume).await;
        }
        Ok(())
    }

    /// Commits everything, in order, before the run stops or re-reads.
    async fn land_all<E: Entity>(
        &mut self,
        engine: &Engine,
        flow: &Flow<E>,
        report: &mut RunReport,
        resume: &mut Option<Cursor>,
    ) -> Result<()> {
        self.land(engine, flow, report, resume).await?;
        self.start_queued(engine, &flow.name);
        self.land(engine, flow, report, resume).await
    }
}

/// A commit running as its own task, so that on a multi-threaded runtime it
/// makes progress while the engine works on the next batch. Dropping it
/// (the run was cancelled) aborts the commit, as dropping an awaited commit
/// would.
struct CommitTask(tokio::task::JoinHandle<Result<()>>);

impl CommitTask {
    fn start(engine: &Engine, flow: &str, batch: BatchCommit) -> Self {
        let store = engine.store.clone();
        let flow = flow.to_string();
        let fence = engine.fence_lease().cloned();
        CommitTask(tokio::spawn(async move {
            store.commit(&flow, batch, fence.as_ref()).await
        }))
    }

    fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

impl std::future::Future for CommitTask {
    type Output = Result<()>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<()>> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(|joined| {
            joined.unwrap_or_else(|e| {
                Err(Error::new(
                    ErrorKind::Unexpected,
                    format!("the batch commit task failed: {e}"),
                ))
            })
        })
    }
}

impl Drop for CommitTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What follows a batch's commit.
struct AfterCommit {
    checkpoint: Option<Cursor>,
    alerts: Vec<AlertKind>,
    halt: Option<Error>,
    /// Engine batches in the commit.
    batches: u64,
}

/// The versions of a commit still in flight: the next batch's version check
/// reads the store, which may not have them yet, and lets these win the way
/// the store's own upsert would (a newer or equal change time wins).
#[derive(Default)]
struct Overlay(foldhash::HashMap<EntityKey, Version>);

impl Overlay {
    fn apply(&self, key: &EntityKey, stored: Option<Version>) -> Option<Version> {
        if self.0.is_empty() {
            return stored;
        }
        match (self.0.get(key), stored) {
            (Some(pending), Some(stored)) if stored.changed_at > pending.changed_at => Some(stored),
            (Some(pending), _) => Some(*pending),
            (None, stored) => stored,
        }
    }
}

/// What a batch does to the checkpoint.
#[derive(Clone, Copy)]
enum Checkpointing<'a> {
    /// Pushed records (webhooks): the checkpoint stays.
    Keep,
    /// Polled records: move it, but never to a cursor at or before `floor`
    /// (a lookback re-reads records behind the saved checkpoint).
    Advance { floor: Option<&'a TimeIdCursor> },
}

impl Engine {
    /// An engine over `store`, alerting through the log.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        Engine {
            store,
            alerts: Arc::new(LogAlertSink),
            fence: None,
            history: Arc::default(),
            flow_locks: Arc::default(),
        }
    }

    /// Sends alerts to `alerts` instead of the log.
    pub fn with_alerts(mut self, alerts: Arc<dyn AlertSink>) -> Self {
        self.alerts = alerts;
        self
    }

    /// Commits only while `lease` is current (several workers sharing a
    /// store): a worker that lost its lease cannot move the checkpoint.
    ///
    /// The engine also refuses to *start* a sink call once the lease may have
    /// lapsed (its expiry, or the earlier horizon set with
    /// [`extend_fence`](Self::extend_fence)): after that another worker may
    /// own the flow, and a late write could overwrite its newer data.
    pub fn with_fence(mut self, lease: Lease) -> Self {
        let until = lease.expires_at.timestamp_micros();
        self.fence = Some(Fence {
            lease,
            writable_until: Arc::new(AtomicI64::new(until)),
        });
        self
    }

    /// Moves the write horizon of the fenced lease (after a renewal). A
    /// worker sets it a safety margin before the lease's expiry, so calls in
    /// flight finish before anyone else can take over.
    pub fn extend_fence(&self, writable_until: DateTime<Utc>) {
        if let Some(fence) = &self.fence {
            fence
                .writable_until
                .store(writable_until.timestamp_micros(), Ordering::SeqCst);
        }
    }

    fn fence_lease(&self) -> Option<&Lease> {
        self.fence.as_ref().map(|f| &f.lease)
    }

    /// `Conflict` when the fenced lease may have lapsed.
    fn check_fence(&self) -> Result<()> {
        match &self.fence {
            Some(f) if Utc::now().timestamp_micros() >= f.writable_until.load(Ordering::SeqCst) => {
                Err(Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "lease `{}` (token {}) may have lapsed; not starting another write",
                        f.lease.name, f.lease.token
                    ),
                )
                .with_retryability(Retryability::Permanent))
            }
            _ => Ok(()),
        }
    }

    async fn lock_flow(&self, name: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self
            .flow_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(name.to_string())
            .or_default()
            .clone();
        lock.lock_owned().await
    }

    /// The store this engine writes to.
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    /// Runs `flow` from its checkpoint until the source has nothing more,
    /// or the flow halts (see [`RunReport::halted`]). `Err` means the state
    /// store itself failed; nothing past the last commit is lost.
    ///
    /// Call it inside a Tokio runtime: the source is read ahead and batches
    /// are committed by tasks of their own (in parallel with the batch being
    /// written on a multi-threaded runtime).
    pub async fn run_once<E: Entity>(&self, flow: &Flow<E>) -> Result<RunReport> {
        let span = tracing::info_span!("flow_run", flow = %flow.name, entity = %E::KIND);
        let _one_at_a_time = self.lock_flow(&flow.name).await;
        let started = Instant::now();
        let report = self.run(flow).instrument(span).await?;
        self.history.record(&flow.name, &report, started.elapsed());
        Ok(report)
    }

    /// The flow's health: its last run in this engine (or, when it has not
    /// run here, the store's checkpoint time, which any worker moves), its
    /// open dead letters and the time since its last success, judged against
    /// its SLA.
    pub async fn health<E: Entity>(&self, flow: &Flow<E>) -> Result<FlowHealth> {
        let open = self
            .store
            .count_dead_letters(&DeadLetterFilter::open(flow.name.clone()))
            .await?;
        let checkpoint = self.store.checkpoint(&flow.name).await?;
        Ok(self.history.assess(
            &flow.name,
            E::KIND,
            &flow.owner,
            flow.sla,
            StoreFacts {
                dead_letters: open,
                checkpoint_saved_at: checkpoint.map(|c| c.saved_at),
                now: Utc::now(),
            },
        ))
    }

    async fn run<E: Entity>(&self, flow: &Flow<E>) -> Result<RunReport> {
        let mut report = RunReport::default();
        let checkpoint = self.store.checkpoint(&flow.name).await?;
        report.checkpoint = checkpoint.as_ref().map(|c| c.cursor.clone());
        // With a lookback, records at or before the saved checkpoint are
        // re-read; their cursors must not move the checkpoint back.
        let floor = match (&checkpoint, flow.options.lookback.is_zero()) {
            (Some(c), false) => TimeIdCursor::decode(&c.cursor).ok(),
            _ => None,
        };
        let since = checkpoint.map(|c| look_back(c.cursor, flow.options.lookback));
        // Where a failed read resumes: the looked-back start until a commit.
        let mut resume = since.clone();
        let mut read_delays = flow.policy.retry.delays();
        // Commits run as tasks of their own while the next batches are read,
        // checked and written (on a multi-threaded runtime, in parallel);
        // batches handled meanwhile queue behind them and are committed
        // together. A read error, the end or a halt commits everything.
        let mut commits = Commits::default();
        let landings = commits.landings.clone();
        let read_from = |since: Option<Cursor>| {
            let lookups = Lookups {
                store: self.store.clone(),
                flow: flow.name.clone(),
                landings: landings.clone(),
            };
            ReadAhead::start(flow.source.read(since), flow.options.batch_size, lookups)
        };
        let mut source = read_from(since);
        loop {
            let Chunk {
                batch,
                stored,
                landings: seen,
                error: read_error,
                finished,
            } = source.next().await;
            let read = batch.len();
            report.read += read as u64;
            let mut handled = Ok(None);
            if read > 0 {
                let advance = Checkpointing::Advance {
                    floor: floor.as_ref(),
                };
                handled = match stored {
                    Ok(stored) => {
                        let pending = commits.pending(seen);
                        self.handle_batch(flow, batch, stored, advance, &mut report, &pending)
                            .await
                    }
                    Err(e) => Err(e),
                };
            }
            // Land a finished commit (its failure ends the run, whatever
            // this step did), and any commit before a failed step returns.
            if handled.is_err() || commits.in_flight_finished() {
                commits.land(self, flow, &mut report, &mut resume).await?;
            }
            if read > 0 {
                // Progress: a later read failure gets a fresh set of retries.
                read_delays = flow.policy.retry.delays();
            }
            if let Some(handled) = handled? {
                commits.queue(handled);
            }
            let last =
                report.halted.is_some() || commits.halts() || read_error.is_some() || finished;
            if last {
                commits
                    .land_all(self, flow, &mut report, &mut resume)
                    .await?;
            } else {
                if commits.queue_full() {
                    commits.land(self, flow, &mut report, &mut resume).await?;
                }
                commits.start_queued(self, &flow.name);
            }
            if report.halted.is_some() {
                break;
            }
            if let Some(error) = read_error {
                let delay = retry_delay(&error, &mut read_delays, &flow.policy.retry);
                let Some(delay) = delay else {
                    let error = error.retries_exhausted();
                    self.halt(flow, &mut report, error).await;
                    break;
                };
                report.retries += 1;
                tracing::warn!(%error, ?delay, "source read failed; resuming from the checkpoint");
                tokio::time::sleep(delay).await;
                source = read_from(resume.clone());
                continue;
            }
            if finished {
                break;
            }
        }
        if let Some(lag) = report.max_lag
            && lag > flow.sla.max_lag
        {
            let what = AlertKind::SlaBreached {
                lag,
                max_lag: flow.sla.max_lag,
            };
            self.alert(flow, what).await;
        }
        Ok(report)
    }

    /// Delivers one batch and commits it.
    async fn process_batch<E: Entity>(
        &self,
        flow: &Flow<E>,
        batch: Vec<Record<E>>,
        checkpointing: Checkpointing<'_>,
        report: &mut RunReport,
    ) -> Result<()> {
        let batch = Batch::of(batch);
        let stored = self.store.versions(&flow.name, &batch.keys).await?;
        match self
            .handle_batch(flow, batch, stored, checkpointing, report, &[])
            .await?
        {
            Some(handled) => handled.commit(self, flow, report).await,
            None => Ok(()),
        }
    }

    /// Delivers one batch up to its commit: version check (against
    /// `stored`, the store's versions of its keys, and `pending`, versions
    /// the store may not have shown yet, oldest first), map, validate, write.
    /// `None` when the flow halted before anything of the batch could be
    /// acknowledged.
    async fn handle_batch<E: Entity>(
        &self,
        flow: &Flow<E>,
        batch: Batch<E>,
        stored: Vec<Option<Version>>,
        checkpointing: Checkpointing<'_>,
        report: &mut RunReport,
        pending: &[&Overlay],
    ) -> Result<Option<Handled>> {
        let now = Utc::now();
        let Batch {
            records: mut batch,
            keys,
            versions,
        } = batch;
        // Only the cursors are needed once the records move on: take them.
        let cursors: Vec<Cursor> = batch
            .iter_mut()
            .map(|r| std::mem::replace(&mut r.cursor, Cursor::new(String::new())))
            .collect();
        let newest = newest_per_key(&keys, &versions);
        report.superseded += (batch.len() - newest.len()) as u64;
        let mut delivered = vec![None; batch.len()];
        for &position in &newest {
            let key = &keys[position];
            let version = pending.iter().fold(stored[position], |stored, overlay| {
                overlay.apply(key, stored)
            });
            delivered[position] = Some(version);
        }

        let mut candidates = Vec::with_capacity(newest.len());
        let mut failures = Vec::new();
        let mut record_versions: Vec<Option<Version>> = vec![None; keys.len()];
        for (position, record) in batch.into_iter().enumerate() {
            // Older versions of a key in this batch are superseded.
            let Some(stored) = delivered[position] else {
                continue;
            };
            // This version, or a newer one, was already handled.
            let version = versions[position];
            if stored.is_some_and(|d| version.is_covered_by(&d)) {
                report.already_delivered += 1;
                continue;
            }
            record_versions[position] = Some(version);
            match prepare_candidate(flow, &record.entity) {
                Ok(mapped) => candidates.push(Candidate {
                    position,
                    record,
                    mapped,
                    attempts: 0,
                }),
                Err(error) => failures.push(Failure {
                    position,
                    record,
                    error,
                    attempts: 1,
                }),
            }
        }

        if flow.policy.on_permanent == OnPermanentFailure::Halt
            && let Some(first) = failures.iter().map(|f| f.position).min()
        {
            // Nothing past a known poisoned record is written.
            candidates.retain(|c| c.position < first);
        }
        let written = match self.write(flow, candidates, &mut failures, report).await {
            Ok(written) => written,
            // The lease may be gone: stop at once, another worker carries on.
            Err(error) if self.check_fence().is_err() => return Err(error),
            Err(error) => {
                // The sink is unreachable, refuses every call, or keeps
                // throttling: nothing of this batch is acknowledged; the next
                // run starts here again.
                self.halt(flow, report, error).await;
                return Ok(None);
            }
        };
        failures.sort_by_key(|f| f.position);

        // A halting policy stops in front of the first failure.
        let halt_on = match flow.policy.on_permanent {
            OnPermanentFailure::Halt => failures.first(),
            _ => None,
        };
        let halt_at = halt_on.map(|f| f.position);
        let cursor = match halt_at {
            Some(0) => None,
            Some(p) => Some(cursors[p - 1].clone()),
            None => cursors.last().cloned(),
        };
        let past_floor = |c: &Cursor, floor: Option<&TimeIdCursor>| {
            floor.is_none_or(|f| TimeIdCursor::decode(c).is_ok_and(|t| t > *f))
        };
        let mut commit = match (cursor, checkpointing) {
            (Some(c), Checkpointing::Advance { floor }) if past_floor(&c, floor) => {
                BatchCommit::new(c)
            }
            _ => BatchCommit::without_cursor(),
        };
        let acknowledged = |position: usize| halt_at.is_none_or(|h| position < h);
        let handled = written.iter().copied().chain(
            failures
                .iter()
                .map(|f| f.position)
                .filter(|&p| acknowledged(p)),
        );
        commit.versions.reserve(written.len() + failures.len());
        for position in handled {
            if let Some(version) = record_versions[position] {
                commit = commit.with_version(keys[position].clone(), version);
            }
        }
        let mut skipped_alerts = Vec::new();
        for failure in failures.iter().filter(|f| acknowledged(f.position)) {
            match flow.policy.on_permanent {
                OnPermanentFailure::DeadLetter => {
                    report.dead_lettered += 1;
                    commit = commit.with_dead_letter(dead_letter(flow, failure, now));
                }
                _ => {
                    report.skipped += 1;
                    skipped_alerts.push(AlertKind::RecordSkipped {
                        key: failure.record.entity.key(),
                        error: failure.error.clone(),
                    });
                }
            }
        }
        // Decided now, acted on once the commit landed.
        let halt = if let Some(f) = halt_on {
            Some(f.error.clone().with_key(f.record.entity.key().to_string()))
        } else if let Some(limit) = flow.policy.max_dead_letter_per_mille {
            let processed = report.processed();
            (processed >= flow.policy.dead_letter_rate_min_records.max(1)
                && report.dead_lettered * 1000 > u64::from(limit) * processed)
                .then(|| {
                    Error::new(
                        ErrorKind::InvalidData,
                        format!(
                            "{} of {} records dead-lettered, over the limit of {limit}‰; \
                             halting so a broken mapping or source does not fill the queue",
                            report.dead_lettered, processed
                        ),
                    )
                })
        } else {
            None
        };
        Ok(Some(Handled {
            batch: commit,
            alerts: skipped_alerts,
            halt,
        }))
    }

    /// Moves the report's checkpoint, sends the batch's alerts and halts
    /// when the batch said so.
    async fn after_commit<E: Entity>(
        &self,
        flow: &Flow<E>,
        report: &mut RunReport,
        after: AfterCommit,
        resume: &mut Option<Cursor>,
    ) {
        report.batches += after.batches;
        if after.checkpoint.is_some() {
            report.checkpoint = after.checkpoint;
            // A failed read resumes from the last commit.
            resume.clone_from(&report.checkpoint);
        }
        for what in after.alerts {
            self.alert(flow, what).await;
        }
        if let Some(error) = after.halt {
            self.halt(flow, report, error).await;
        }
    }

    /// Upserts the candidates; returns the positions delivered and adds
    /// records that failed for good to `failures`. `Err` when the sink cannot
    /// be written at all.
    async fn write<E: Entity>(
        &self,
        flow: &Flow<E>,
        candidates: Vec<Candidate<E>>,
        failures: &mut Vec<Failure<E>>,
        report: &mut RunReport,
    ) -> Result<Vec<usize>> {
        let max_batch = flow
            .sink
            .capability(E::KIND)
            .max_batch
            .unwrap_or(usize::MAX)
            .max(1);
        let mut delivered = Vec::with_capacity(candidates.len());
        let mut pending = candidates;
        let mut delays = flow.policy.retry.delays();
        while !pending.is_empty() {
            let mut retry_later = Vec::new();
            let mut pause: Option<Duration> = None;
            while !pending.is_empty() {
                let chunk: Vec<_> = if pending.len() <= max_batch {
                    std::mem::take(&mut pending)
                } else {
                    pending.drain(..max_batch).collect()
                };
                let outcomes = self.upsert_chunk(flow, chunk, report).await?;
                let written_at = Utc::now();
                for outcome in outcomes {
                    match outcome {
                        Outcome::Written {
                            position,
                            changed_at,
                            written,
                        } => {
                            delivered.push(position);
                            count(report, &written);
                            let lag = (written_at - changed_at).to_std().unwrap_or_default();
                            report.max_lag = Some(report.max_lag.map_or(lag, |m| m.max(lag)));
                        }
                        Outcome::Failed(candidate, error)
                            if error.retryability() == Retryability::Temporary =>
                        {
                            pause = pause.max(error.retry_after());
                            retry_later.push((candidate, error));
                        }
                        Outcome::Failed(candidate, error) => failures.push(candidate.failed(error)),
                    }
                }
            }
            if retry_later.is_empty() {
                break;
            }
            match next_delay(pause, &mut delays, &flow.policy.retry) {
                Some(delay) => {
                    report.retries += retry_later.len() as u64;
                    tokio::time::sleep(delay).await;
                    pending = retry_later.into_iter().map(|(c, _)| c).collect();
                }
                None => {
                    // Throttling is not the records' fault: leave the batch
                    // unacknowledged instead of dead-lettering good records.
                    if let Some((_, throttled)) = retry_later
                        .iter()
                        .find(|(_, e)| matches!(e.kind(), ErrorKind::RateLimited { .. }))
                    {
                        return Err(throttled.clone().retries_exhausted());
                    }
                    for (candidate, error) in retry_later {
                        failures.push(candidate.failed(error.retries_exhausted()));
                    }
                    break;
                }
            }
        }
        Ok(delivered)
    }

    /// One upsert call with whole-call retries; a batch refused as a whole
    /// for bad data is split in halves until the bad records stand alone.
    async fn upsert_chunk<E: Entity>(
        &self,
        flow: &Flow<E>,
        chunk: Vec<Candidate<E>>,
        report: &mut RunReport,
    ) -> Result<Vec<Outcome<E>>> {
        let mut done = Vec::with_capacity(chunk.len());
        let mut work = vec![chunk];
        while let Some(chunk) = work.pop() {
            let (entities, shells): (Vec<E>, Vec<Shell<E>>) =
                chunk.into_iter().map(Candidate::take_entity).unzip();
            let mut delays = flow.policy.retry.delays();
            let mut calls = 0u32;
            let answer = loop {
                calls += 1;
                self.check_fence()?;
                match flow.sink.upsert(&entities).await {
                    Ok(outcomes) => break Ok(outcomes),
                    Err(error) if error.retryability() == Retryability::Temporary => {
                        match retry_delay(&error, &mut delays, &flow.policy.retry) {
                            Some(delay) => {
                                report.retries += 1;
                                tokio::time::sleep(delay).await;
                            }
                            None => break Err(error.retries_exhausted()),
                        }
                    }
                    Err(error) => break Err(error),
                }
            };
            let outcomes = match answer {
                Ok(outcomes) if outcomes.len() == entities.len() => outcomes,
                other => {
                    let chunk = entities
                        .into_iter()
                        .zip(shells)
                        .map(|(entity, shell)| shell.with_entity(entity))
                        .collect();
                    self.refused(flow, chunk, other, calls, &mut work, &mut done)?;
                    continue;
                }
            };
            // Written records need only their place and change time: only
            // the rejected ones are made candidates again.
            for ((entity, mut shell), outcome) in entities.into_iter().zip(shells).zip(outcomes) {
                done.push(match outcome.result {
                    WriteResult::Rejected { error } => {
                        shell.attempts += calls;
                        Outcome::Failed(shell.with_entity(entity), error)
                    }
                    written => Outcome::Written {
                        position: shell.position,
                        changed_at: shell.record.changed_at,
                        written,
                    },
                });
            }
        }
        Ok(done)
    }

    /// A chunk the sink did not answer record by record: a broken answer
    /// ends the run; a refusal for bad data is split in halves (onto
    /// `work`) until the bad records stand alone and fail (into `done`).
    fn refused<E: Entity>(
        &self,
        flow: &Flow<E>,
        chunk: Vec<Candidate<E>>,
        answer: Result<Vec<WriteOutcome>>,
        calls: u32,
        work: &mut Vec<Vec<Candidate<E>>>,
        done: &mut Vec<Outcome<E>>,
    ) -> Result<()> {
        match answer {
            Ok(outcomes) => Err(Error::new(
                ErrorKind::Unexpected,
                format!(
                    "sink {} answered {} outcomes for {} records; it breaks the Sink contract",
                    flow.sink.system(),
                    outcomes.len(),
                    chunk.len()
                ),
            )),
            Err(error) if error.kind() == &ErrorKind::InvalidData && chunk.len() > 1 => {
                let mut left = chunk;
                let right = left.split_off(left.len() / 2);
                work.push(right);
                work.push(left);
                Ok(())
            }
            Err(error) if error.kind() == &ErrorKind::InvalidData => {
                for mut candidate in chunk {
                    candidate.attempts += calls;
                    done.push(Outcome::Failed(candidate, error.clone()));
                }
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    async fn halt<E: Entity>(&self, flow: &Flow<E>, report: &mut RunReport, error: Error) {
        tracing::error!(flow = %flow.name, %error, "flow halted");
        report.halted = Some(error.clone());
        self.alert(flow, AlertKind::Halted { error }).await;
    }

    async fn alert<E: Entity>(&self, flow: &Flow<E>, what: AlertKind) {
        let alert = Alert {
            flow: flow.name.clone(),
            kind: E::KIND,
            owner: flow.owner.clone(),
            what,
            at: Utc::now(),
        };
        self.alerts.send(&alert).await;
    }

    /// Delivers records that were pushed rather than polled (webhooks, see
    /// [`WebhookIntake`](super::WebhookIntake)) through the same steps as a
    /// run, without touching the checkpoint: the poll that follows skips
    /// every version delivered here.
    pub async fn deliver<E: Entity>(
        &self,
        flow: &Flow<E>,
        records: Vec<Record<E>>,
    ) -> Result<RunReport> {
        let _one_at_a_time = self.lock_flow(&flow.name).await;
        let mut report = RunReport {
            read: records.len() as u64,
            ..RunReport::default()
        };
        for batch in chunks(records, flow.options.batch_size) {
            self.process_batch(flow, batch, Checkpointing::Keep, &mut report)
                .await?;
            if report.halted.is_some() {
                break;
            }
        }
        Ok(report)
    }

    /// Replays one open dead letter of `flow` through its map step and sink.
    /// A letter whose version was overtaken by a newer delivered one is
    /// closed as discarded instead: replaying it would move the sink back.
    pub async fn replay<E: Entity>(
        &self,
        flow: &Flow<E>,
        id: DeadLetterId,
    ) -> Result<ReplayOutcome> {
        let _one_at_a_time = self.lock_flow(&flow.name).await;
        let letter = self
            .store
            .dead_letter(id)
            .await?
            .filter(|l| l.flow == flow.name && l.status == DeadLetterStatus::Open)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("no open dead letter {id} in flow `{}`", flow.name),
                )
            })?;
        let delivered = self
            .store
            .versions(&flow.name, std::slice::from_ref(&letter.key))
            .await?;
        if let Some(newer) = delivered[0].filter(|d| d.changed_at > letter.changed_at) {
            let reason = format!(
                "superseded: version {} of {} was delivered after this letter's version {}",
                newer.changed_at, letter.key, letter.changed_at
            );
            let status = DeadLetterStatus::Discarded {
                reason: reason.clone(),
                at: Utc::now(),
            };
            self.store.resolve_dead_letter(id, status).await?;
            return Ok(ReplayOutcome::Superseded(reason));
        }
        let attempt = async {
            let entity: E = serde_json::from_value(letter.payload.clone()).map_err(|e| {
                Error::invalid_data(format!(
                    "dead letter {id}: payload is not a {}: {e}",
                    E::KIND
                ))
            })?;
            let mapped = prepare_entity(flow, entity)?;
            self.check_fence()?;
            let mut outcomes = flow.sink.upsert(std::slice::from_ref(&mapped)).await?;
            match outcomes.pop().map(|o| o.result) {
                Some(WriteResult::Rejected { error }) => Err(error),
                Some(written) => Ok(written),
                None => Err(Error::new(
                    ErrorKind::Unexpected,
                    "sink answered no outcome",
                )),
            }
        };
        match attempt.await {
            Ok(written) => {
                // The letter's version was stored when it was dead-lettered;
                // the edited payload fixes that version, it is not a new one.
                let status = DeadLetterStatus::Replayed { at: Utc::now() };
                self.store.resolve_dead_letter(id, status).await?;
                Ok(ReplayOutcome::Delivered(written))
            }
            Err(error) => {
                self.store
                    .record_dead_letter_failure(id, &error, Utc::now())
                    .await?;
                Ok(ReplayOutcome::Failed(error))
            }
        }
    }

    /// Replays every open dead letter of `flow`, oldest first.
    pub async fn replay_all<E: Entity>(
        &self,
        flow: &Flow<E>,
    ) -> Result<Vec<(DeadLetterId, ReplayOutcome)>> {
        let letters = self
            .store
            .dead_letters(&DeadLetterFilter::open(flow.name.clone()))
            .await?;
        let mut out = Vec::with_capacity(letters.len());
        for letter in letters {
            out.push((letter.id, self.replay(flow, letter.id).await?));
        }
        Ok(out)
    }

    /// Closes a dead letter without delivering it; the reason is required.
    pub async fn discard(&self, id: DeadLetterId, reason: &str) -> Result<()> {
        if reason.trim().is_empty() {
            return Err(Error::config(format!(
                "discarding dead letter {id} needs a reason"
            )));
        }
        let status = DeadLetterStatus::Discarded {
            reason: reason.to_string(),
            at: Utc::now(),
        };
        self.store.resolve_dead_letter(id, status).await
    }
}

/// Positions of the newest version of each key, in stream order (a later
/// position wins a tie: sources deliver in change order).
fn newest_per_key(keys: &[EntityKey], versions: &[Version]) -> Vec<usize> {
    let mut newest: foldhash::HashMap<&EntityKey, usize> =
        foldhash::HashMap::with_capacity_and_hasher(keys.len(), Default::default());
    for (i, key) in keys.iter().enumerate() {
        let slot = newest.entry(key).or_insert(i);
        if versions[i].changed_at >= versions[*slot].changed_at {
            *slot = i;
        }
    }
    let mut positions: Vec<usize> = newest.into_values().collect();
    positions.sort_unstable();
    positions
}

/// Splits `records` into batches of at most `size`.
fn chunks<T>(records: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut it = records.into_iter().peekable();
    while it.peek().is_some() {
        out.push(it.by_ref().take(size.max(1)).collect());
    }
    out
}

/// What the sink will receive for `entity`: `None` when that is `entity`
/// itself (no map step), else the mapped copy; validated either way.
fn prepare_candidate<E: Entity>(flow: &Flow<E>, entity: &E) -> Result<Option<E>> {
    match &flow.map {
        Some(step) => {
            let mapped = step(entity.clone())?;
            mapped.validate()?;
            Ok(Some(mapped))
        }
        None => {
            entity.validate()?;
            Ok(None)
        }
    }
}

/// Map step, then validation: what the sink will receive (for an entity
/// the caller owns, as a replay does).
fn prepare_entity<E: Entity>(flow: &Flow<E>, entity: E) -> Result<E> {
    Ok(prepare_candidate(flow, &entity)?.unwrap_or(entity))
}

fn count(report: &mut RunReport, written: &WriteResult) {
    match written {
        WriteResult::Created { .. } => report.created += 1,
        WriteResult::Updated { .. } => report.updated += 1,
        _ => report.unchanged += 1,
    }
}

fn dead_letter<E: Entity>(flow: &Flow<E>, f: &Failure<E>, now: DateTime<Utc>) -> NewDeadLetter {
    NewDeadLetter {
        flow: flow.name.clone(),
        owner: flow.owner.team.clone(),
        kind: E::KIND,
        key: f.record.entity.key(),
        external_ref: Some(f.record.external_ref.clone()),
        changed_at: f.record.changed_at,
        payload: serde_json::to_value(&f.record.entity)
            .unwrap_or_else(|e| serde_json::json!({ "unserializable": e.to_string() })),
        error: f.error.clone(),
        attempts: f.attempts.max(1),
        failed_at: now,
    }
}

/// The delay before the next attempt, or `None` when retries ran out or the
/// error is not worth retrying. A server's `Retry-After` wins over the
/// backoff (up to `max_retry_after`).
fn retry_delay(
    error: &Error,
    delays: &mut impl Iterator<Item = Duration>,
    policy: &RetryPolicy,
) -> Option<Duration> {
    if !error.is_retryable() {
        return None;
    }
    next_delay(error.retry_after(), delays, policy)
}

fn next_delay(
    retry_after: Option<Duration>,
    delays: &mut impl Iterator<Item = Duration>,
    policy: &RetryPolicy,
) -> Option<Duration> {
    honour_retry_after(delays.next()?, retry_after, policy.max_retry_after)
}

/// Moves a time|id cursor back by `lookback`; other cursors stay as they are.
fn look_back(cursor: Cursor, lookback: Duration) -> Cursor {
    if lookback.is_zero() {
        return cursor;
    }
    match (
        TimeIdCursor::decode(&cursor),
        chrono::Duration::from_std(lookback),
    ) {
        (Ok(c), Ok(back)) => match c.at.checked_sub_signed(back) {
            Some(at) => TimeIdCursor::new(at, "").encode(),
            None => cursor,
        },
        _ => cursor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handled(versions: &[(&str, i64)]) -> Handled {
        let mut batch = BatchCommit::new(Cursor::new("c"));
        for &(key, secs) in versions {
            let at = DateTime::from_timestamp(secs, 0).unwrap();
            batch = batch.with_version(EntityKey::new(key), Version::new(at, secs as u64));
        }
        Handled {
            batch,
            alerts: Vec::new(),
            halt: None,
        }
    }

    /// A key queued again by a later batch is committed once, with the
    /// later version (a store may refuse one statement touching a key
    /// twice), and the overlay answers with the later version.
    #[test]
    fn a_key_queued_twice_is_committed_once_with_its_later_version() {
        let mut queued = Queued::empty();
        queued.push(handled(&[("A", 1), ("B", 1)]));
        queued.push(handled(&[("C", 2)]));
        queued.push(handled(&[("B", 3), ("D", 3)]));
        let mut keys: Vec<(&str, i64)> = queued
            .batch
            .versions
            .iter()
            .map(|(k, v)| (k.as_str(), v.changed_at.timestamp()))
            .collect();
        keys.sort();
        assert_eq!(keys, [("A", 1), ("B", 3), ("C", 2), ("D", 3)]);
        let b = queued.overlay.apply(&EntityKey::new("B"), None);
        assert_eq!(b.map(|v| v.changed_at.timestamp()), Some(3));
        assert_eq!(queued.after.batches, 3);
    }
}
