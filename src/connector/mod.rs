//! The connector contract: how seamwork reads from and writes to a system.
//!
//! - [`Entity`]: a model type with a kind and a key.
//! - [`Source<E>`]: a stream of [`Record`]s changed since a [`Cursor`].
//! - [`Sink<E>`]: an idempotent upsert of a batch, one [`WriteOutcome`] per record.
//! - [`Connector`]: the system's id and its [`Capability`] per entity kind.
//! - [`Checksums`]: row counts and checksums of key ranges, for hash-diff.
//! - [`paginate`]: turns "fetch one page" into a record stream.
//! - [`memory`]: the in-memory reference system every test and example uses.
//!
//! ```
//! use std::sync::Arc;
//! use futures::TryStreamExt;
//! use seamwork::connector::memory::{Dataset, MemoryOptions, MemorySystem, SeedOptions};
//! use seamwork::connector::{Sink, Source};
//! use seamwork::model::{Order, SystemId};
//!
//! # futures::executor::block_on(async {
//! let store = MemorySystem::new(SystemId::new("store").unwrap(), MemoryOptions::default());
//! store.load(&Dataset::generate(&SeedOptions::small()).unwrap());
//! let erp = MemorySystem::new(SystemId::new("erp").unwrap(), MemoryOptions::default());
//!
//! let source: Arc<dyn Source<Order>> = Arc::new(store);
//! let sink: Arc<dyn Sink<Order>> = Arc::new(erp.clone());
//! let records: Vec<_> = source.read(None).try_collect().await.unwrap();
//! let orders: Vec<Order> = records.into_iter().map(|r| r.entity).collect();
//! for batch in orders.chunks(100) {
//!     let outcomes = sink.upsert(batch).await.unwrap();
//!     assert!(outcomes.iter().all(|o| o.result.is_ok()));
//! }
//! assert_eq!(erp.len::<Order>(), 60);
//! # });
//! ```

pub mod checksum;
pub mod cursor;
pub mod entity;
pub mod memory;
pub mod paging;
pub mod record;
pub mod traits;

pub use checksum::{Checksums, KeyRange, RangeChecksum, row_checksum};
pub use cursor::{Cursor, TimeIdCursor};
pub use entity::{Entity, EntityKey, EntityKind};
pub use paging::{Page, paginate};
pub use record::{Record, WriteOutcome, WriteResult};
pub use traits::{Capability, Connector, RecordStream, Sink, Source};
