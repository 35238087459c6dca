//! The memory reference system through the contract: full and incremental
//! reads, and idempotent upserts. This is the floor every engine benchmark
//! stands on.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::TryStreamExt;
use seamwork::connector::memory::{Dataset, MemoryOptions, MemorySystem, SeedOptions};
use seamwork::connector::{Sink, Source};
use seamwork::model::{Order, SystemId, Variant};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

fn reads(c: &mut Criterion) {
    let rt = runtime();
    let data = Dataset::generate(&SeedOptions::default()).unwrap();
    let store = MemorySystem::new(SystemId::new("store").unwrap(), MemoryOptions::default());
    store.load(&data);
    let mut group = c.benchmark_group("memory_read");
    group.throughput(Throughput::Elements(data.orders.len() as u64));
    group.bench_function("orders_full_10k", |b| {
        b.to_async(&rt).iter(|| async {
            let n = Source::<Order>::read(&store, None)
                .try_collect::<Vec<_>>()
                .await
                .unwrap()
                .len();
            assert_eq!(n, 10_000);
        })
    });
    // Resume near the end: the cost of an incremental poll that finds 100 changes.
    let all: Vec<_> = rt
        .block_on(Source::<Order>::read(&store, None).try_collect::<Vec<_>>())
        .unwrap();
    let cursor = all[all.len() - 101].cursor.clone();
    group.throughput(Throughput::Elements(100));
    group.bench_function("orders_incremental_100", |b| {
        b.to_async(&rt).iter(|| async {
            let n = Source::<Order>::read(&store, Some(cursor.clone()))
                .try_collect::<Vec<_>>()
                .await
                .unwrap()
                .len();
            assert_eq!(n, 100);
        })
    });
    group.finish();
}

fn upserts(c: &mut Criterion) {
    let rt = runtime();
    let data = Dataset::generate(&SeedOptions::default()).unwrap();
    let erp = MemorySystem::new(SystemId::new("erp").unwrap(), MemoryOptions::default());
    let mut group = c.benchmark_group("memory_upsert");
    group.throughput(Throughput::Elements(data.variants.len() as u64));
    // After the first iteration every record is unchanged: the idempotent replay path.
    group.bench_function("variants_1k_in_batches_of_250", |b| {
        b.to_async(&rt).iter(|| async {
            for batch in data.variants.chunks(250) {
                Sink::<Variant>::upsert(&erp, batch).await.unwrap();
            }
        })
    });
    group.finish();
}

criterion_group!(benches, reads, upserts);
criterion_main!(benches);
