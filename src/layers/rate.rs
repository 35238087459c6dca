//! A fixed request rate, enforced with `governor` (GCRA) on tokio's clock.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use super::clock::{TokioClock, TokioInstant, until};
use super::observe::count_limiter_wait;
use super::stream::{Admit, Gated, Hold};
use super::{Layer, delegate_connector};
use crate::connector::{Connector, Cursor, Entity, RecordStream, Sink, Source, WriteOutcome};
use crate::error::Result;

type Gcra = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<TokioInstant>>;

struct Shared {
    gcra: Gcra,
    quota: Quota,
    waits: AtomicU64,
    waited_ns: AtomicU64,
}

/// Limits calls to a fixed rate with bursts (a `governor` [`Quota`]).
///
/// A sink spends one permit per `upsert`; a source one before its first
/// page and one every `max_page` records after (when the source declares its
/// page size), so each page fetch is paced. Clones share the budget: wrap the
/// source and the sink of one system with clones of one layer.
#[derive(Clone)]
pub struct RateLimitLayer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RateLimitLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("quota", &self.shared.quota)
            .field("waits", &self.waits())
            .finish()
    }
}

impl RateLimitLayer {
    /// Limits to `quota` (rate and burst).
    pub fn new(quota: Quota) -> Self {
        RateLimitLayer {
            shared: Arc::new(Shared {
                gcra: RateLimiter::direct_with_clock(quota, TokioClock),
                quota,
                waits: AtomicU64::new(0),
                waited_ns: AtomicU64::new(0),
            }),
        }
    }

    /// `calls` per second, with a burst of one second's worth (zero is read as one).
    pub fn per_second(calls: u32) -> Self {
        RateLimitLayer::new(Quota::per_second(
            NonZeroU32::new(calls).unwrap_or(NonZeroU32::MIN),
        ))
    }

    /// `calls` per minute, with a burst of one minute's worth (zero is read as one).
    pub fn per_minute(calls: u32) -> Self {
        RateLimitLayer::new(Quota::per_minute(
            NonZeroU32::new(calls).unwrap_or(NonZeroU32::MIN),
        ))
    }

    /// Waits until one call is allowed and returns how long that took. Public
    /// so an adapter can pace requests the layer cannot see.
    pub async fn acquire(&self) -> Duration {
        let mut waited = Duration::ZERO;
        loop {
            match self.shared.gcra.check() {
                Ok(()) => break,
                Err(not_until) => {
                    let wait = until(not_until.earliest_possible()).max(Duration::from_nanos(1));
                    tokio::time::sleep(wait).await;
                    waited += wait;
                }
            }
        }
        if !waited.is_zero() {
            self.shared.waits.fetch_add(1, Ordering::Relaxed);
            let ns = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
            self.shared.waited_ns.fetch_add(ns, Ordering::Relaxed);
        }
        waited
    }

    /// How many calls had to wait for a permit.
    pub fn waits(&self) -> u64 {
        self.shared.waits.load(Ordering::Relaxed)
    }

    /// Total time calls spent waiting for permits.
    pub fn waited(&self) -> Duration {
        Duration::from_nanos(self.shared.waited_ns.load(Ordering::Relaxed))
    }

    /// Waits for a permit and counts the wait in the metrics of `system`.
    async fn pace(&self, system: &str) {
        let waited = self.acquire().await;
        count_limiter_wait(system, waited);
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Output = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner: Arc::new(inner),
            limit: self.clone(),
        }
    }
}

/// A connector behind a [`RateLimitLayer`].
pub struct RateLimit<S> {
    inner: Arc<S>,
    limit: RateLimitLayer,
}

delegate_connector!(RateLimit);

impl<E: Entity, S: Source<E> + 'static> Source<E> for RateLimit<S> {
    fn read(&self, since: Option<Cursor>) -> RecordStream<E> {
        paced_read(
            Arc::clone(&self.inner),
            since,
            self.limit.clone(),
            |l, system| Box::pin(async move { l.pace(&system).await }),
        )
    }
}

#[async_trait]
impl<E: Entity, S: Sink<E>> Sink<E> for RateLimit<S> {
    async fn upsert(&self, batch: &[E]) -> Result<Vec<WriteOutcome>> {
        self.limit.pace(self.inner.system().as_str()).await;
        self.inner.upsert(batch).await
    }
}

/// A pacing step: waits before a page is fetched, and gives what is held
/// until the page's first record arrives (a budget permit, or nothing).
pub(crate) type PaceFn<L, G> = fn(L, String) -> futures::future::BoxFuture<'static, G>;

/// Reads `inner` from `since`, running `pace` before the first record and
/// before every `max_page`-th record after it, i.e. before each page fetch.
pub(crate) fn paced_read<E, S, L, G>(
    inner: Arc<S>,
    since: Option<Cursor>,
    limiter: L,
    pace: PaceFn<L, G>,
) -> RecordStream<E>
where
    E: Entity,
    S: Source<E> + 'static,
    L: Clone + Send + Unpin + 'static,
    G: Hold,
{
    let page = inner.capability(E::KIND).max_page.filter(|&p| p > 0);
    let system = inner.system().as_str().to_string();
    Gated::boxed(inner.read(since), move |pulled| {
        let starts_page = match page {
            Some(p) => pulled % (p as u64) == 0,
            None => pulled == 0,
        };
        if starts_page {
            Admit::Wait(pace(limiter.clone(), system.clone()))
        } else {
            Admit::Pass
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn calls_beyond_the_burst_are_spaced_by_the_rate() {
        let limit = RateLimitLayer::per_second(10);
        let start = Instant::now();
        for _ in 0..30 {
            limit.acquire().await;
        }
        // A burst of 10, then 20 more at 100 ms each.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(1900), "{elapsed:?}");
        assert!(elapsed <= Duration::from_millis(2100), "{elapsed:?}");
        assert_eq!(limit.waits(), 20);
        assert!(limit.waited() >= Duration::from_millis(1900));
    }

    #[tokio::test(start_paused = true)]
    async fn clones_share_one_budget() {
        let a = RateLimitLayer::per_second(2);
        let b = a.clone();
        a.acquire().await;
        a.acquire().await;
        let waited = b.acquire().await;
        assert!(waited >= Duration::from_millis(450), "{waited:?}");
    }
}
