//! Reading a source ahead of the engine.
//!
//! A task pulls the source's stream into batches while the engine checks and
//! writes the previous one, so a slow page fetch (an HTTP round trip) or the
//! source's own work overlaps with the sink's. Only reading moves ahead:
//! nothing is acknowledged before the engine commits it, so records read
//! ahead of a halt or a crash are simply read again. The task also works
//! out each record's key and version (a hash of its content) and looks the
//! keys up in the state store, which the engine needs first thing; the
//! store answers one batch's lookup while the task reads the next batch.
//!
//! A lookup made ahead may miss commits that land after it read the store.
//! Every chunk says how many commits had landed when its lookup started
//! (`Lookups::landings`); the engine overlays the versions of the ones that
//! landed later, as it does those still in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use tokio::sync::mpsc;

use crate::connector::{Entity, EntityKey, Record, RecordStream};
use crate::error::{Error, ErrorKind};
use crate::store::{StateStore, Version};

/// Records in stream order with each one's key and version.
pub(super) struct Batch<E> {
    pub records: Vec<Record<E>>,
    pub keys: Vec<EntityKey>,
    pub versions: Vec<Version>,
}

impl<E: Entity> Batch<E> {
    pub fn of(records: Vec<Record<E>>) -> Self {
        let keys = records.iter().map(|r| r.entity.key()).collect();
        let versions = records
            .iter()
            .map(|r| Version::of(&r.entity, r.changed_at))
            .collect();
        Batch {
            records,
            keys,
            versions,
        }
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }
}

/// Where the read-ahead task looks a batch's keys up.
pub(super) struct Lookups {
    pub store: Arc<dyn StateStore>,
    pub flow: String,
    /// Commits landed so far; the engine counts them.
    pub landings: Arc<AtomicU64>,
}

/// Up to one batch of records, in stream order, and how the read stopped.
pub(super) struct Chunk<E> {
    pub batch: Batch<E>,
    /// The store's versions of `batch.keys`.
    pub stored: Result<Vec<Option<Version>>, Error>,
    /// Commits landed when the lookup started.
    pub landings: u64,
    /// The read failed after `records`.
    pub error: Option<Error>,
    /// The stream ended after `records`.
    pub finished: bool,
}

/// Up to one batch of records read from a stream, and how the read stopped.
struct Read<E> {
    records: Vec<Record<E>>,
    error: Option<Error>,
    finished: bool,
}

async fn read_batch<E: Entity>(stream: &mut RecordStream<E>, batch_size: usize) -> Read<E> {
    let mut read = Read {
        records: Vec::with_capacity(batch_size),
        error: None,
        finished: false,
    };
    while read.records.len() < batch_size {
        match stream.next().await {
            Some(Ok(record)) => read.records.push(record),
            Some(Err(error)) => {
                read.error = Some(error);
                break;
            }
            None => {
                read.finished = true;
                break;
            }
        }
    }
    read
}

/// A source stream read ahead by its own task; dropping it stops
/// the task.
pub(super) struct ReadAhead<E> {
    batches: mpsc::Receiver<Chunk<E>>,
    task: tokio::task::JoinHandle<()>,
}

impl<E: Entity> ReadAhead<E> {
    /// Starts reading `stream` in batches of `batch_size`.
    pub fn start(mut stream: RecordStream<E>, batch_size: usize, lookups: Lookups) -> Self {
        let batch_size = batch_size.max(1);
        // One batch waiting here, one being looked up while the one after
        // it is read: three ahead at most.
        let (tx, batches) = mpsc::channel(1);
        let task = tokio::spawn(async move {
            let mut read = read_batch(&mut stream, batch_size).await;
            loop {
                let Read {
                    records,
                    error,
                    finished,
                } = read;
                let batch = Batch::of(records);
                let landings = lookups.landings.load(Ordering::SeqCst);
                let lookup = async {
                    if batch.keys.is_empty() {
                        Ok(Vec::new())
                    } else {
                        lookups.store.versions(&lookups.flow, &batch.keys).await
                    }
                };
                let last = error.is_some() || finished;
                // The store looks this batch up while the next one is read.
                let (stored, next) = if last {
                    (lookup.await, None)
                } else {
                    let (stored, next) =
                        futures::join!(lookup, read_batch(&mut stream, batch_size));
                    (stored, Some(next))
                };
                let chunk = Chunk {
                    batch,
                    stored,
                    landings,
                    error,
                    finished,
                };
                if tx.send(chunk).await.is_err() {
                    return;
                }
                match next {
                    Some(next) => read = next,
                    None => return,
                }
            }
        });
        ReadAhead { batches, task }
    }

    /// The next batch. Called again after a chunk that ended the read, or
    /// when the reading task died (a panicking source), it is an error.
    pub async fn next(&mut self) -> Chunk<E> {
        self.batches.recv().await.unwrap_or_else(|| Chunk {
            batch: Batch::of(Vec::new()),
            stored: Ok(Vec::new()),
            landings: 0,
            error: Some(Error::new(
                ErrorKind::Unexpected,
                "the source's read task stopped without ending its stream",
            )),
            finished: false,
        })
    }
}

impl<E> Drop for ReadAhead<E> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use futures::stream;

    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;

    use super::{Lookups, ReadAhead};
    use crate::connector::{Cursor, Record};
    use crate::error::{Error, ErrorKind};
    use crate::model::{ExternalRef, InventoryLevel, LocationId, Sku};
    use crate::store::MemoryStore;

    fn lookups() -> Lookups {
        Lookups {
            store: Arc::new(MemoryStore::new()),
            flow: "levels".into(),
            landings: Arc::new(AtomicU64::new(0)),
        }
    }

    fn record(i: u32) -> Record<InventoryLevel> {
        let sku = Sku::new(format!("S{i}")).unwrap();
        let level = InventoryLevel::new(sku, LocationId::new("DC").unwrap(), Utc::now());
        Record::new(
            level,
            ExternalRef::new("store", i.to_string()),
            Cursor::new(i.to_string()),
            Utc::now(),
        )
    }

    #[tokio::test]
    async fn batches_keep_order_and_end_with_the_stream() {
        let records = (0..5).map(|i| Ok(record(i)));
        let mut ahead = ReadAhead::start(Box::pin(stream::iter(records)), 2, lookups());
        let mut seen = Vec::new();
        loop {
            let chunk = ahead.next().await;
            assert!(chunk.error.is_none());
            assert!(chunk.batch.len() <= 2);
            seen.extend(
                chunk
                    .batch
                    .records
                    .into_iter()
                    .map(|r| r.entity.sku.to_string()),
            );
            if chunk.finished {
                break;
            }
        }
        assert_eq!(seen, ["S0", "S1", "S2", "S3", "S4"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_error_arrives_after_the_records_before_it() {
        let items = vec![
            Ok(record(0)),
            Ok(record(1)),
            Ok(record(2)),
            Err(Error::new(ErrorKind::Unavailable, "page 2 timed out")),
            Ok(record(3)),
        ];
        let mut ahead = ReadAhead::start(Box::pin(stream::iter(items)), 2, lookups());
        let first = ahead.next().await;
        assert_eq!(first.batch.len(), 2);
        let second = ahead.next().await;
        assert_eq!(second.batch.len(), 1);
        assert_eq!(second.error.unwrap().kind(), &ErrorKind::Unavailable);
        assert!(!second.finished);
        // Nothing is read past the error; asking again is an error, not an end.
        let after = ahead.next().await;
        assert!(after.batch.len() == 0 && !after.finished);
        assert_eq!(after.error.unwrap().kind(), &ErrorKind::Unexpected);
    }
}
