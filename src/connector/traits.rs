//! The contracts: `Connector`, `Source<E>`, `Sink<E>` and `Capability`.

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use super::cursor::Cursor;
use super::entity::{Entity, EntityKind};
use super::record::{Record, WriteOutcome};
use crate::error::Result;
use crate::model::SystemId;

/// A stream of records, each a `Result`. After an `Err` item the stream ends;
/// resume with the cursor of the last record you processed.
pub type RecordStream<E> = BoxStream<'static, Result<Record<E>>>;

/// What a connector can do for one entity kind. Layers may change it
/// (a rate limiter may lower `max_batch`); ask the stack you hold.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capability {
    /// `read(Some(cursor))` returns only later changes (else every read is a full read).
    pub incremental: bool,
    /// The system can push changes (webhooks).
    pub webhooks: bool,
    /// The source can compute checksums of key ranges (for hash-diff).
    pub checksums: bool,
    /// The source reports deletions.
    pub deletes: bool,
    /// Largest batch `upsert` accepts; `None` = no limit.
    pub max_batch: Option<usize>,
    /// Largest page a read fetches at once, when known.
    pub max_page: Option<usize>,
}

impl Capability {
    /// Nothing declared (full reads only, no limits known).
    pub fn new() -> Self {
        Capability::default()
    }

    /// Declares incremental reads.
    pub fn with_incremental(mut self, yes: bool) -> Self {
        self.incremental = yes;
        self
    }

    /// Declares webhooks.
    pub fn with_webhooks(mut self, yes: bool) -> Self {
        self.webhooks = yes;
        self
    }

    /// Declares range checksums.
    pub fn with_checksums(mut self, yes: bool) -> Self {
        self.checksums = yes;
        self
    }

    /// Declares deletions.
    pub fn with_deletes(mut self, yes: bool) -> Self {
        self.deletes = yes;
        self
    }

    /// Declares the largest batch a sink accepts.
    pub fn with_max_batch(mut self, max: Option<usize>) -> Self {
        self.max_batch = max;
        self
    }

    /// Declares the page size of reads.
    pub fn with_max_page(mut self, max: Option<usize>) -> Self {
        self.max_page = max;
        self
    }
}

/// A connected system.
pub trait Connector: Send + Sync {
    /// Which system this is (`shopify`, `erp`).
    fn system(&self) -> &SystemId;

    /// What it can do for entities of `kind`.
    fn capability(&self, kind: EntityKind) -> Capability;
}

/// Reads changes of `E` since a cursor.
///
/// Dyn-compatible: `Arc<dyn Source<Order>>` works.
pub trait Source<E: Entity>: Connector {
    /// Every change after `since` (`None` = from the beginning), in an order
    /// such that resuming from any record's cursor never skips a later one.
    fn read(&self, since: Option<Cursor>) -> RecordStream<E>;
}

/// Writes `E` idempotently.
#[async_trait]
pub trait Sink<E: Entity>: Connector {
    /// Upserts a batch by key. Returns one outcome per record, in batch order;
    /// a record that was not written is `Rejected` with the reason, never
    /// reported as written and never left out. `Err` means the call as a whole
    /// failed and its effect is unknown: retrying the same batch is safe.
    async fn upsert(&self, batch: &[E]) -> Result<Vec<WriteOutcome>>;
}

/// A shared connector is a connector, so `Arc<dyn Sink<E>>` can be wrapped in layers.
impl<T: Connector + ?Sized> Connector for std::sync::Arc<T> {
    fn system(&self) -> &SystemId {
        (**self).system()
    }

    fn capability(&self, kind: EntityKind) -> Capability {
        (**self).capability(kind)
    }
}

/// A shared source reads like the source it shares.
impl<E: Entity, T: Source<E> + ?Sized> Source<E> for std::sync::Arc<T> {
    fn read(&self, since: Option<Cursor>) -> RecordStream<E> {
        (**self).read(since)
    }
}

/// A shared sink writes like the sink it shares.
#[async_trait]
impl<E: Entity, T: Sink<E> + ?Sized> Sink<E> for std::sync::Arc<T> {
    async fn upsert(&self, batch: &[E]) -> Result<Vec<WriteOutcome>> {
        (**self).upsert(batch).await
    }
}
