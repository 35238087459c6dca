//! A time bound per call, and per record wait on reads.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::stream::Deadline;
use super::{Layer, about, delegate_connector};
use crate::connector::{Cursor, Entity, RecordStream, Sink, Source, WriteOutcome};
use crate::error::{Error, Result};

/// Fails a call that takes too long with a temporary `Unavailable` error
/// (so retry retries it and the breaker counts it).
///
/// A sink's `upsert` gets `call` in total; a source's stream gets `item` for
/// each record (the wait for the next record, which includes a page fetch),
/// after which it yields the error and ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutLayer {
    call: Duration,
    item: Duration,
}

impl TimeoutLayer {
    /// `limit` per upsert and per record wait.
    pub fn new(limit: Duration) -> Self {
        TimeoutLayer {
            call: limit,
            item: limit,
        }
    }

    /// A different bound for a source's wait for its next record.
    pub fn with_item_timeout(mut self, item: Duration) -> Self {
        self.item = item;
        self
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Output = Timeout<S>;

    fn layer(&self, inner: S) -> Timeout<S> {
        Timeout {
            inner: Arc::new(inner),
            limits: *self,
        }
    }
}

/// A connector behind a [`TimeoutLayer`].
pub struct Timeout<S> {
    inner: Arc<S>,
    limits: TimeoutLayer,
}

delegate_connector!(Timeout);

#[async_trait]
impl<E: Entity, S: Sink<E>> Sink<E> for Timeout<S> {
    async fn upsert(&self, batch: &[E]) -> Result<Vec<WriteOutcome>> {
        let limit = self.limits.call;
        match tokio::time::timeout(limit, self.inner.upsert(batch)).await {
            Ok(result) => result,
            Err(_) => Err(about::<E>(
                &self.inner,
                Error::unavailable(format!(
                    "upsert of {} records took longer than {} ms",
                    batch.len(),
                    limit.as_millis()
                )),
            )),
        }
    }
}

impl<E: Entity, S: Source<E> + 'static> Source<E> for Timeout<S> {
    fn read(&self, since: Option<Cursor>) -> RecordStream<E> {
        let limit = self.limits.item;
        let inner = Arc::clone(&self.inner);
        Deadline::boxed(self.inner.read(since), limit, move |delivered| {
            let err = Error::unavailable(format!(
                "no record within {} ms after {delivered} records of the read",
                limit.as_millis()
            ));
            about::<E>(&inner, err)
        })
    }
}
