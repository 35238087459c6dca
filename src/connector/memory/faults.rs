//! Seeded fault injection for the memory system.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Faults the memory system injects, each with a probability in per-mille
/// (‰, 0–1000) so configs stay exact and free of floats.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FaultOptions {
    /// Chance that a call fails with a temporary `Unavailable` error. A failing
    /// upsert may already have written part of its batch, like a real timeout.
    #[serde(default)]
    pub transient_per_mille: u32,
    /// Chance that a call is refused with `RateLimited`.
    #[serde(default)]
    pub rate_limit_per_mille: u32,
    /// The `retry_after` a rate-limit answer carries (`None`: the header was empty).
    #[serde(default)]
    pub retry_after: Option<Duration>,
    /// Latency added to every call (slept with `tokio::time::sleep`, so a
    /// non-zero latency needs a Tokio runtime).
    #[serde(default)]
    pub latency: Duration,
    /// Chance that a read record is delivered a second time later in its page.
    #[serde(default)]
    pub duplicate_per_mille: u32,
    /// Chance that a page is delivered in shuffled order.
    #[serde(default)]
    pub reorder_per_mille: u32,
}

impl FaultOptions {
    /// No faults.
    pub fn none() -> Self {
        FaultOptions::default()
    }

    /// Sets the transient error chance (‰).
    pub fn with_transient(mut self, per_mille: u32) -> Self {
        self.transient_per_mille = per_mille;
        self
    }

    /// Sets the rate-limit chance (‰) and the `retry_after` it carries.
    pub fn with_rate_limit(mut self, per_mille: u32, retry_after: Option<Duration>) -> Self {
        self.rate_limit_per_mille = per_mille;
        self.retry_after = retry_after;
        self
    }

    /// Sets the latency added to every call.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Sets the duplicate delivery chance (‰).
    pub fn with_duplicates(mut self, per_mille: u32) -> Self {
        self.duplicate_per_mille = per_mille;
        self
    }

    /// Sets the out-of-order page chance (‰).
    pub fn with_reordering(mut self, per_mille: u32) -> Self {
        self.reorder_per_mille = per_mille;
        self
    }
}

/// Counters of what the memory system did and injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemoryStats {
    /// Page fetches and upsert calls.
    pub calls: u64,
    /// Records delivered by reads (duplicates included).
    pub records_read: u64,
    /// Records created, updated or found unchanged by upserts.
    pub records_written: u64,
    /// Of those, records that did not exist before (the effect a duplicate
    /// delivery must never repeat).
    pub records_created: u64,
    /// Of those, records whose content changed.
    pub records_updated: u64,
    /// Records rejected by upserts.
    pub records_rejected: u64,
    /// Injected `Unavailable` errors.
    pub transient_errors: u64,
    /// Injected errors on upserts that had already written part of the batch.
    pub partial_writes: u64,
    /// Injected `RateLimited` errors.
    pub rate_limited: u64,
    /// Injected duplicate deliveries.
    pub duplicates: u64,
    /// Pages delivered out of order.
    pub reordered_pages: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub calls: AtomicU64,
    pub records_read: AtomicU64,
    pub records_written: AtomicU64,
    pub records_created: AtomicU64,
    pub records_updated: AtomicU64,
    pub records_rejected: AtomicU64,
    pub transient_errors: AtomicU64,
    pub partial_writes: AtomicU64,
    pub rate_limited: AtomicU64,
    pub duplicates: AtomicU64,
    pub reordered_pages: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> MemoryStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MemoryStats {
            calls: g(&self.calls),
            records_read: g(&self.records_read),
            records_written: g(&self.records_written),
            records_created: g(&self.records_created),
            records_updated: g(&self.records_updated),
            records_rejected: g(&self.records_rejected),
            transient_errors: g(&self.transient_errors),
            partial_writes: g(&self.partial_writes),
            rate_limited: g(&self.rate_limited),
            duplicates: g(&self.duplicates),
            reordered_pages: g(&self.reordered_pages),
        }
    }
}

/// Draws the faults from one seeded generator, so a run is reproducible.
pub(crate) struct FaultInjector {
    pub options: FaultOptions,
    rng: Mutex<fastrand::Rng>,
    pub counters: Counters,
}

/// How a call should fail, decided before it runs.
pub(crate) enum CallFault {
    None,
    Transient,
    RateLimited,
}

impl FaultInjector {
    pub fn new(options: FaultOptions, seed: u64) -> Self {
        FaultInjector {
            options,
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
            counters: Counters::default(),
        }
    }

    fn roll(&self, per_mille: u32) -> bool {
        per_mille > 0 && self.rng.lock().expect("rng lock").u32(0..1000) < per_mille
    }

    pub fn below(&self, n: usize) -> usize {
        self.rng.lock().expect("rng lock").usize(0..n.max(1))
    }

    pub fn shuffle<T>(&self, items: &mut [T]) {
        self.rng.lock().expect("rng lock").shuffle(items);
    }

    /// Sleeps the configured latency, counts the call, and decides its fault.
    pub async fn begin_call(&self) -> CallFault {
        Counters::add(&self.counters.calls, 1);
        if !self.options.latency.is_zero() {
            tokio::time::sleep(self.options.latency).await;
        }
        if self.roll(self.options.rate_limit_per_mille) {
            Counters::add(&self.counters.rate_limited, 1);
            CallFault::RateLimited
        } else if self.roll(self.options.transient_per_mille) {
            Counters::add(&self.counters.transient_errors, 1);
            CallFault::Transient
        } else {
            CallFault::None
        }
    }

    pub fn rate_limit_error(&self, system: &str, what: &str) -> Error {
        Error::rate_limited(
            self.options.retry_after,
            format!("{system} throttled {what} (injected fault)"),
        )
        .with_system(system)
    }

    pub fn transient_error(&self, system: &str, what: &str) -> Error {
        Error::unavailable(format!("{system} timed out during {what} (injected fault)"))
            .with_system(system)
    }

    pub fn duplicate(&self) -> bool {
        let d = self.roll(self.options.duplicate_per_mille);
        if d {
            Counters::add(&self.counters.duplicates, 1);
        }
        d
    }

    pub fn reorder(&self) -> bool {
        let r = self.roll(self.options.reorder_per_mille);
        if r {
            Counters::add(&self.counters.reordered_pages, 1);
        }
        r
    }
}

/// Turns a decided fault into the error of a call, if any.
pub(crate) fn fault_result(
    injector: &FaultInjector,
    fault: &CallFault,
    system: &str,
    what: &str,
) -> Result<()> {
    match fault {
        CallFault::None => Ok(()),
        CallFault::RateLimited => Err(injector.rate_limit_error(system, what)),
        CallFault::Transient => Err(injector.transient_error(system, what)),
    }
}
