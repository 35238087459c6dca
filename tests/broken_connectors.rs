//! The conformance suite fails connectors that skip, repeat or drop records.
//!
//! Each broken connector below reproduces a bug seen in real integrations;
//! the suite must catch every one.

use async_trait::async_trait;
use futures::StreamExt;
use seamwork::Result;
use seamwork::connector::memory::{Dataset, MemoryOptions, MemorySystem, SeedOptions};
use seamwork::connector::{
    Capability, Connector, Cursor, Entity, EntityKind, RecordStream, Sink, Source, TimeIdCursor,
    WriteOutcome, WriteResult,
};
use seamwork::model::{InventoryLevel, LocationId, SystemId, Variant};
use seamwork::testkit::{self, ConformanceFailure};

/// Every broken connector wraps a memory system and borrows its identity.
macro_rules! delegate_connector {
    ($ty:ident, $field:tt) => {
        impl Connector for $ty {
            fn system(&self) -> &SystemId {
                self.$field.system()
            }
            fn capability(&self, kind: EntityKind) -> Capability {
                self.$field.capability(kind)
            }
        }
    };
}

/// Which bug a broken source has.
#[derive(Clone, Copy)]
enum Bug {
    /// Resumes with `updated_at > t`: skips every record sharing the checkpoint's timestamp.
    TimestampOnlyCursor,
    /// Resumes with `(updated_at, id) >= cursor`: repeats the checkpoint record.
    InclusiveCursor,
}

struct BrokenSource {
    inner: MemorySystem,
    bug: Bug,
}

delegate_connector!(BrokenSource, inner);

impl<E: Entity> Source<E> for BrokenSource {
    fn read(&self, since: Option<Cursor>) -> RecordStream<E> {
        // Read everything, then filter the way the buggy connector would.
        let all = Source::<E>::read(&self.inner, None);
        let Some(since) = since else { return all };
        let after = TimeIdCursor::decode(&since).unwrap();
        let bug = self.bug;
        all.filter(move |r| {
            let keep = match r {
                Err(_) => true,
                Ok(r) => {
                    let c = TimeIdCursor::decode(&r.cursor).unwrap();
                    match bug {
                        Bug::TimestampOnlyCursor => c.at > after.at,
                        Bug::InclusiveCursor => c >= after,
                    }
                }
            };
            futures::future::ready(keep)
        })
        .boxed()
    }
}

fn colliding_levels(n: usize) -> (MemorySystem, Vec<InventoryLevel>) {
    let store = MemorySystem::new(
        SystemId::new("store").unwrap(),
        MemoryOptions::default()
            .with_tick(std::time::Duration::ZERO)
            .with_page_size(50),
    );
    let d = Dataset::generate(&SeedOptions::small()).unwrap();
    let levels: Vec<InventoryLevel> = (0..n)
        .map(|i| {
            InventoryLevel::new(
                d.variants[0].sku.clone(),
                LocationId::new(format!("L{i:04}")).unwrap(),
                d.inventory[0].updated_at,
            )
        })
        .collect();
    store.put_all(levels.iter().cloned());
    (store, levels)
}

async fn suite_result(bug: Bug) -> ConformanceFailure {
    let (store, levels) = colliding_levels(1_000);
    let broken = BrokenSource { inner: store, bug };
    // A full read is fine for both bugs; resuming is where they break.
    testkit::full_read_yields_each_record_once::<InventoryLevel>(&broken, &levels)
        .await
        .unwrap();
    testkit::check_source::<InventoryLevel>(&broken, &levels, 25)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn suite_catches_a_source_that_skips_colliding_timestamps() {
    let failure = suite_result(Bug::TimestampOnlyCursor).await;
    assert_eq!(failure.check, "resume_never_skips_or_repeats");
    assert!(failure.problems[0].contains("gave 0 records"), "{failure}");
}

#[tokio::test]
async fn suite_catches_a_source_that_repeats_the_checkpoint() {
    let failure = suite_result(Bug::InclusiveCursor).await;
    assert_eq!(failure.check, "resume_never_skips_or_repeats");
    assert!(failure.to_string().contains("expected"), "{failure}");
    // Every resume repeats one record.
    assert!(failure.problems.len() >= 20, "{failure}");
}

#[tokio::test]
async fn suite_catches_a_source_that_duplicates() {
    let (store, levels) = colliding_levels(200);
    let dup = DuplicatingSource(store);
    let failure = testkit::full_read_yields_each_record_once::<InventoryLevel>(&dup, &levels)
        .await
        .unwrap_err();
    assert!(
        failure.to_string().contains("was read 2 times"),
        "{failure}"
    );
}

struct DuplicatingSource(MemorySystem);

delegate_connector!(DuplicatingSource, 0);

impl<E: Entity> Source<E> for DuplicatingSource {
    fn read(&self, since: Option<Cursor>) -> RecordStream<E> {
        let first = Source::<E>::read(&self.0, since.clone());
        let again = Source::<E>::read(&self.0, since).take(1);
        first.chain(again).boxed()
    }
}

/// A sink that silently drops the records it cannot write.
struct DroppingSink(MemorySystem);

delegate_connector!(DroppingSink, 0);

#[async_trait]
impl<E: Entity> Sink<E> for DroppingSink {
    async fn upsert(&self, batch: &[E]) -> Result<Vec<WriteOutcome>> {
        let mut outcomes = Sink::<E>::upsert(&self.0, batch).await?;
        outcomes.retain(|o| o.result.is_ok());
        Ok(outcomes)
    }
}

#[tokio::test]
async fn suite_catches_a_sink_that_drops_rejected_records() {
    let d = Dataset::generate(&SeedOptions::small()).unwrap();
    let sink = DroppingSink(MemorySystem::new(
        SystemId::new("erp").unwrap(),
        MemoryOptions::default(),
    ));
    let mut invalid: Variant = d.variants[0].clone();
    invalid.price = -invalid.price;
    let failure = testkit::check_sink::<Variant>(&sink, &d.variants[1..], invalid)
        .await
        .unwrap_err();
    assert_eq!(failure.check, "rejected_records_are_reported");
    assert!(
        failure.to_string().contains("every record needs one"),
        "{failure}"
    );
}

/// A sink that reports "updated" where nothing changed, so a replay looks like new work.
struct NeverUnchangedSink(MemorySystem);

delegate_connector!(NeverUnchangedSink, 0);

#[async_trait]
impl<E: Entity> Sink<E> for NeverUnchangedSink {
    async fn upsert(&self, batch: &[E]) -> Result<Vec<WriteOutcome>> {
        let outcomes = Sink::<E>::upsert(&self.0, batch).await?;
        Ok(outcomes
            .into_iter()
            .map(|o| match o.result {
                WriteResult::Unchanged { external_id } => {
                    WriteOutcome::new(o.key, WriteResult::Updated { external_id })
                }
                _ => o,
            })
            .collect())
    }
}

/// A sink that answers "created" for every valid record and writes nothing.
struct BlackHoleSink(MemorySystem);

delegate_connector!(BlackHoleSink, 0);

#[async_trait]
impl<E: Entity> Sink<E> for BlackHoleSink {
    async fn upsert(&self, batch: &[E]) -> Result<Vec<WriteOutcome>> {
        Ok(batch
            .iter()
            .map(|e| match Entity::validate(e) {
                Ok(()) => WriteOutcome::new(
                    e.key(),
                    WriteResult::Created {
                        external_id: "x".into(),
                    },
                ),
                Err(v) => WriteOutcome::new(e.key(), WriteResult::rejected(v.into())),
            })
            .collect())
    }
}

#[tokio::test]
async fn read_back_catches_a_sink_that_writes_nothing() {
    let d = Dataset::generate(&SeedOptions::small()).unwrap();
    let store = MemorySystem::new(SystemId::new("erp").unwrap(), MemoryOptions::default());
    let sink = BlackHoleSink(store.clone());
    let failure = testkit::written_records_read_back::<Variant>(&sink, &store, &d.variants)
        .await
        .unwrap_err();
    assert!(
        failure.to_string().contains("is not in the source"),
        "{failure}"
    );
    // The real memory sink reads back what it wrote.
    testkit::written_records_read_back::<Variant>(&store, &store, &d.variants)
        .await
        .unwrap();
}

#[tokio::test]
async fn one_record_batches_are_still_checked() {
    let d = Dataset::generate(&SeedOptions::small()).unwrap();
    let one = || {
        MemorySystem::new(
            SystemId::new("erp").unwrap(),
            MemoryOptions::default().with_max_batch(1),
        )
    };
    let mut invalid: Variant = d.variants[0].clone();
    invalid.price = -invalid.price;
    testkit::check_sink::<Variant>(&one(), &d.variants[1..], invalid.clone())
        .await
        .unwrap();
    let failure =
        testkit::check_sink::<Variant>(&NeverUnchangedSink(one()), &d.variants[1..], invalid)
            .await
            .unwrap_err();
    assert!(
        failure.to_string().contains("expected unchanged"),
        "{failure}"
    );
    let too_small = testkit::check_sink::<Variant>(&one(), &d.variants[..1], d.variants[2].clone())
        .await
        .unwrap_err();
    assert!(
        too_small.to_string().contains("at least 2 records"),
        "{too_small}"
    );
}

#[tokio::test]
async fn suite_catches_a_sink_that_is_not_idempotent() {
    let d = Dataset::generate(&SeedOptions::small()).unwrap();
    let sink = NeverUnchangedSink(MemorySystem::new(
        SystemId::new("erp").unwrap(),
        MemoryOptions::default(),
    ));
    let failure = testkit::upsert_twice_is_unchanged::<Variant>(&sink, &d.variants)
        .await
        .unwrap_err();
    assert!(
        failure.to_string().contains("expected unchanged"),
        "{failure}"
    );
}
