//! What the layers cost on the fast path (no faults, no waiting): a full read
//! and idempotent upserts through the recommended stack, next to the bare
//! memory system.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::TryStreamExt;
use seamwork::connector::memory::{Dataset, MemoryOptions, MemorySystem, SeedOptions};
use seamwork::connector::{Sink, Source};
use seamwork::layers::{
    CircuitBreakerLayer, ConcurrencyLimitLayer, LayerExt, ObserveLayer, RateLimitLayer, RetryLayer,
    RetryOptions, TimeoutLayer,
};
use seamwork::model::{Order, SystemId};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

/// The recommended stack, with a rate that never makes the bench wait.
fn stack<C>(inner: C) -> impl Source<Order> + Sink<Order>
where
    C: Source<Order> + Sink<Order> + 'static,
{
    inner
        .layer(TimeoutLayer::new(Duration::from_secs(30)))
        .layer(RateLimitLayer::per_second(1_000_000))
        .layer(ConcurrencyLimitLayer::new(4))
        .layer(CircuitBreakerLayer::default())
        .layer(RetryLayer::new(RetryOptions::default()))
        .layer(ObserveLayer::new())
}

fn layered(c: &mut Criterion) {
    let rt = runtime();
    let data = Dataset::generate(&SeedOptions::default()).unwrap();
    let store = MemorySystem::new(SystemId::new("store").unwrap(), MemoryOptions::default());
    store.put_all(data.orders.clone());
    let erp = MemorySystem::new(SystemId::new("erp").unwrap(), MemoryOptions::default());
    let mut group = c.benchmark_group("layers");
    group.throughput(Throughput::Elements(data.orders.len() as u64));
    for (name, source) in [
        (
            "read_10k_bare",
            Box::new(store.clone()) as Box<dyn Source<Order>>,
        ),
        ("read_10k_stacked", Box::new(stack(store.clone()))),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let n = source
                    .read(None)
                    .try_collect::<Vec<_>>()
                    .await
                    .unwrap()
                    .len();
                assert_eq!(n, 10_000);
            })
        });
    }
    for (name, sink) in [
        (
            "upsert_10k_bare",
            Box::new(erp.clone()) as Box<dyn Sink<Order>>,
        ),
        ("upsert_10k_stacked", Box::new(stack(erp.clone()))),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                for batch in data.orders.chunks(250) {
                    sink.upsert(batch).await.unwrap();
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, layered);
criterion_main!(benches);
