//! The traits are dyn-compatible, and the mockall mocks drive decisions made on top of them.

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use seamwork::connector::memory::{Dataset, MemoryOptions, MemorySystem, SeedOptions};
use seamwork::connector::{
    Cursor, Entity, EntityKind, Record, Sink, Source, WriteOutcome, WriteResult,
};
use seamwork::model::{ExternalRef, Order, SystemId, Variant};
use seamwork::testkit::mocks::{MockSink, MockSource};
use seamwork::{Error, ErrorKind};

#[tokio::test]
async fn memory_system_behind_arc_dyn() {
    let data = Dataset::generate(&SeedOptions::small()).unwrap();
    let store = MemorySystem::new(SystemId::new("store").unwrap(), MemoryOptions::default());
    store.load(&data);
    let sources: Vec<(EntityKind, Arc<dyn Source<Order>>)> =
        vec![(EntityKind::Order, Arc::new(store.clone()))];
    for (kind, source) in sources {
        assert!(source.capability(kind).incremental);
        assert_eq!(source.system().as_str(), "store");
        let n = source
            .read(None)
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .len();
        assert_eq!(n, data.orders.len());
    }
}

/// A tiny decision under test: write a batch, and retry once if the sink says "try later".
async fn write_with_one_retry<E: Entity>(
    sink: &dyn Sink<E>,
    batch: &[E],
) -> Result<Vec<WriteOutcome>, Error> {
    match sink.upsert(batch).await {
        Err(e) if e.is_retryable() => sink.upsert(batch).await,
        other => other,
    }
}

#[tokio::test]
async fn mock_sink_drives_the_retry_decision() {
    let data = Dataset::generate(&SeedOptions::small()).unwrap();
    let mut sink = MockSink::<Variant>::new();
    let mut seq = mockall::Sequence::new();
    sink.expect_upsert()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Err(Error::rate_limited(None, "throttled")));
    sink.expect_upsert()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|batch| {
            Ok(batch
                .iter()
                .map(|v| {
                    WriteOutcome::new(
                        v.key(),
                        WriteResult::Created {
                            external_id: v.sku.to_string(),
                        },
                    )
                })
                .collect())
        });
    let out = write_with_one_retry::<Variant>(&sink, &data.variants[..3])
        .await
        .unwrap();
    assert_eq!(out.len(), 3);

    let mut permanent = MockSink::<Variant>::new();
    permanent
        .expect_upsert()
        .times(1)
        .returning(|_| Err(Error::new(ErrorKind::Unauthorized, "token revoked")));
    let err = write_with_one_retry::<Variant>(&permanent, &data.variants[..1])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized);
}

#[tokio::test]
async fn mock_source_behind_arc_dyn() {
    let data = Dataset::generate(&SeedOptions::small()).unwrap();
    let order = data.orders[0].clone();
    let mut mock = MockSource::<Order>::new();
    mock.expect_read().returning(move |since| {
        assert!(since.is_none());
        let r = Record::new(
            order.clone(),
            ExternalRef::new("mock", "1"),
            Cursor::new("1"),
            order.updated_at,
        );
        futures::stream::iter(vec![Ok(r)]).boxed()
    });
    let source: Arc<dyn Source<Order>> = Arc::new(mock);
    let got: Vec<_> = source.read(None).try_collect().await.unwrap();
    assert_eq!(got[0].entity, data.orders[0]);
}
