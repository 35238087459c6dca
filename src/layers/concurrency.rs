//! A bound on calls in flight (a semaphore).

use std::sync::Arc;

use async_trait::async_trait;
use futures::FutureExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::stream::{Admit, Gated};
use super::{Layer, about, delegate_connector};
use crate::connector::{Cursor, Entity, RecordStream, Sink, Source, WriteOutcome};
use crate::error::{Error, ErrorKind, Result};

/// Lets at most `n` calls run at once; the others wait their turn.
///
/// A sink call holds a slot for the whole `upsert`; a source holds one while
/// it waits for its next record (which is when a page is fetched). Clones
/// share the slots.
#[derive(Debug, Clone)]
pub struct ConcurrencyLimitLayer {
    slots: Arc<Semaphore>,
}

impl ConcurrencyLimitLayer {
    /// At most `n` calls at once (zero is read as one).
    pub fn new(n: usize) -> Self {
        ConcurrencyLimitLayer {
            slots: Arc::new(Semaphore::new(n.max(1))),
        }
    }

    /// Slots free right now.
    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }
}

impl<S> Layer<S> for ConcurrencyLimitLayer {
    type Output = ConcurrencyLimit<S>;

    fn layer(&self, inner: S) -> ConcurrencyLimit<S> {
        ConcurrencyLimit {
            inner: Arc::new(inner),
            slots: Arc::clone(&self.slots),
        }
    }
}

/// A connector behind a [`ConcurrencyLimitLayer`].
pub struct ConcurrencyLimit<S> {
    inner: Arc<S>,
    slots: Arc<Semaphore>,
}

delegate_connector!(ConcurrencyLimit);

/// Waits for a slot. The semaphore is never closed, so failing is a bug.
async fn slot(slots: Arc<Semaphore>) -> Result<OwnedSemaphorePermit> {
    slots
        .acquire_owned()
        .await
        .map_err(|_| Error::new(ErrorKind::Unexpected, "concurrency limit closed"))
}

#[async_trait]
impl<E: Entity, S: Sink<E>> Sink<E> for ConcurrencyLimit<S> {
    async fn upsert(&self, batch: &[E]) -> Result<Vec<WriteOutcome>> {
        let _slot = slot(Arc::clone(&self.slots))
            .await
            .map_err(|e| about::<E>(&self.inner, e))?;
        self.inner.upsert(batch).await
    }
}

impl<E: Entity, S: Source<E> + 'static> Source<E> for ConcurrencyLimit<S> {
    fn read(&self, since: Option<Cursor>) -> RecordStream<E> {
        let slots = Arc::clone(&self.slots);
        Gated::boxed(self.inner.read(since), move |_| {
            match Arc::clone(&slots).try_acquire_owned() {
                Ok(slot) => Admit::Now(Some(slot)),
                // The semaphore is never closed; `None` cannot happen.
                Err(_) => Admit::Wait(Box::pin(
                    Arc::clone(&slots).acquire_owned().map(|slot| slot.ok()),
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::memory::{FaultOptions, MemoryOptions, MemorySystem};
    use crate::model::{Location, LocationId, LocationKind, SystemId};
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn calls_beyond_the_limit_wait_for_a_slot() {
        let erp = MemorySystem::new(
            SystemId::new("erp").unwrap(),
            MemoryOptions::default()
                .with_faults(FaultOptions::none().with_latency(Duration::from_secs(1))),
        );
        let layer = ConcurrencyLimitLayer::new(2);
        let sink = Arc::new(layer.clone().layer(erp.clone()));
        let start = tokio::time::Instant::now();
        let calls: Vec<_> = (0..6)
            .map(|i| {
                let sink = Arc::clone(&sink);
                tokio::spawn(async move {
                    let id = LocationId::new(format!("L{i}")).unwrap();
                    sink.upsert(&[Location::new(id, "x", LocationKind::Store)])
                        .await
                })
            })
            .collect();
        for c in calls {
            c.await.unwrap().unwrap();
        }
        // Six one-second calls, two at a time: three rounds.
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        assert_eq!(layer.available(), 2);
        assert_eq!(erp.len::<Location>(), 6);
    }
}
