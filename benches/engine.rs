//! The sync engine end to end: a memory store → memory ERP flow with its
//! checkpoints, versions and dead letters in a SQLite file (WAL,
//! synchronous = FULL). Each iteration syncs 20,000 inventory levels into an
//! empty ERP under a fresh flow name, so every record is read, checked
//! against the stored versions, validated, written and committed. Building
//! and dropping the empty ERP happen outside the timing. The runtime is
//! multi-threaded, as `#[tokio::main]`'s is. The SQLite file keeps every
//! iteration's versions, so over a bench run it grows to millions of rows,
//! as a store serving many flows does.
//!
//! Two more lines put the number in context: the same flow on the memory
//! state store (the engine without SQLite), and the floor — the same records
//! read and upserted through the contract with no engine at all.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use seamwork::connector::memory::{Dataset, MemoryOptions, MemorySystem, SeedOptions};
use seamwork::connector::{Sink, Source};
use seamwork::model::{InventoryLevel, SystemId};
use seamwork::store::{MemoryStore, SqliteStore, StateStore};
use seamwork::sync::{Engine, FailurePolicy, Flow, FlowOptions, Owner, Sla};

const RECORDS: usize = 20_000;

fn memory(name: &str) -> Arc<MemorySystem> {
    let options = MemoryOptions::default()
        .with_page_size(1_000)
        .with_max_batch(1_000);
    Arc::new(MemorySystem::new(SystemId::new(name).unwrap(), options))
}

/// A fresh flow (new name: no checkpoint, no versions) into an empty ERP.
fn fresh_flow(
    source: &Arc<MemorySystem>,
    run: &AtomicU64,
) -> (Arc<MemorySystem>, Flow<InventoryLevel>) {
    let erp = memory("erp");
    let mut options = FlowOptions::default();
    options.batch_size = 1_000;
    let name = format!("inventory-{}", run.fetch_add(1, Ordering::Relaxed));
    let flow = Flow::<InventoryLevel>::builder(name, source.clone(), erp.clone())
        .owner(Owner::new("bench", "bench@example.com"))
        .failure_policy(FailurePolicy::dead_letter(10))
        .sla(Sla::max_lag(Duration::from_secs(3600 * 24 * 3650)))
        .options(options)
        .build()
        .unwrap();
    (erp, flow)
}

fn engine(c: &mut Criterion) {
    // Tokio's default (`#[tokio::main]`): a multi-threaded runtime, here one
    // worker per core. The engine commits each batch on its own task, which
    // runs while the next batch is read, checked and written.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut seed = SeedOptions::default().with_orders(0);
    seed.products = 1_000; // 4,000 variants × 5 locations
    seed.customers = 0;
    let data = Dataset::generate(&seed).unwrap();
    assert_eq!(data.inventory.len(), RECORDS);
    let source = memory("store");
    source.put_all(data.inventory.clone());
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn StateStore> = Arc::new(
        rt.block_on(SqliteStore::open(dir.path().join("state.db")))
            .unwrap(),
    );
    let stores = [
        ("sqlite", sqlite),
        (
            "memory_store",
            Arc::new(MemoryStore::new()) as Arc<dyn StateStore>,
        ),
    ];
    let run = AtomicU64::new(0);

    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.sample_size(20);
    for (label, store) in stores {
        let engine = Engine::new(store);
        group.bench_function(format!("memory_to_memory_{label}_20k_inventory"), |b| {
            b.to_async(&rt).iter_batched(
                || fresh_flow(&source, &run),
                |(erp, flow)| {
                    let engine = engine.clone();
                    async move {
                        let report = engine.run_once(&flow).await.unwrap();
                        assert_eq!(report.created, RECORDS as u64);
                        (erp, flow) // dropped outside the timing
                    }
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.bench_function("floor_read_and_upsert_20k_inventory", |b| {
        b.to_async(&rt).iter_batched(
            || memory("erp"),
            |erp| {
                let source = source.clone();
                async move {
                    let mut stream = Source::<InventoryLevel>::read(&*source, None).chunks(1_000);
                    let mut written = 0;
                    while let Some(chunk) = stream.next().await {
                        let batch: Vec<InventoryLevel> =
                            chunk.into_iter().map(|r| r.unwrap().entity).collect();
                        written += erp.upsert(&batch).await.unwrap().len();
                    }
                    assert_eq!(written, RECORDS);
                    erp
                }
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
