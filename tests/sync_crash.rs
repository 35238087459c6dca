//! Crash test: the engine is killed (its future dropped) at more than 1,000
//! random points while it syncs 10,000 records through faulty systems, and
//! restarted from the SQLite file each time. At the end the sink holds every
//! record's final version, and every record was created exactly once.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use common::{system, variant_flow, variants};
use seamwork::connector::Entity;
use seamwork::connector::memory::FaultOptions;
use seamwork::model::{Money, Variant};
use seamwork::store::SqliteStore;
use seamwork::sync::{Engine, FailurePolicy, RunReport};

/// Polls `run` at most `polls` times; `None` means it was killed mid-way
/// (the future is dropped, exactly as when a process dies or a task aborts).
async fn run_at_most<F: Future>(run: F, mut polls: u32) -> Option<F::Output> {
    let mut run = pin!(run);
    std::future::poll_fn(|cx| match run.as_mut().poll(cx) {
        Poll::Ready(out) => Poll::Ready(Some(out)),
        Poll::Pending if polls <= 1 => Poll::Ready(None),
        Poll::Pending => {
            polls -= 1;
            Poll::Pending
        }
    })
    .await
}

async fn restart(path: &std::path::Path) -> Engine {
    Engine::new(Arc::new(SqliteStore::open(path).await.unwrap()))
}

#[tokio::test]
async fn killed_at_a_thousand_random_points_the_sink_sees_each_version_once() {
    let faults = FaultOptions::none()
        .with_transient(100)
        .with_rate_limit(30, Some(Duration::from_millis(1)))
        .with_duplicates(20)
        .with_reordering(20)
        .with_latency(Duration::from_micros(50));
    let source = system("store", faults.clone(), 11);
    let sink = system("erp", faults, 12);
    let mut all = variants(10_000, 13);
    source.put_all(all.clone());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let flow = variant_flow("variants", &source, &sink, FailurePolicy::dead_letter(10));
    let mut rng = fastrand::Rng::with_seed(14);

    let (mut kills, mut finished_runs, mut changes) = (0u32, 0u32, 0u64);
    while kills < 1_000 {
        let engine = restart(&path).await;
        match run_at_most(engine.run_once(&flow), rng.u32(1..=40)).await {
            None => kills += 1,
            Some(report) => {
                let report: RunReport = report.unwrap();
                assert!(report.halted.is_none(), "{:?}", report.halted);
                finished_runs += 1;
            }
        }
        // The source keeps changing between restarts: prices move.
        for _ in 0..rng.usize(0..4) {
            let i = rng.usize(..all.len());
            let cents = rust_decimal::Decimal::new(rng.i64(100..100_000), 2);
            all[i].price = Money::new(cents, all[i].price.currency());
            all[i].compare_at_price = None;
            source.put(all[i].clone());
            changes += 1;
        }
    }
    // Let it finish undisturbed (faults still on).
    let report = restart(&path).await.run_once(&flow).await.unwrap();
    assert!(report.halted.is_none(), "{:?}", report.halted);

    println!("{kills} kills, {finished_runs} runs finished between them, {changes} source changes");
    let stats = sink.stats();
    println!("sink: {stats:?}");
    assert!(kills >= 1_000);
    assert!(stats.partial_writes > 0 && stats.transient_errors > 0);
    // Every record's final version is in the sink ...
    assert_eq!(sink.len::<Variant>(), all.len());
    for v in &all {
        assert_eq!(
            sink.get::<Variant>(&v.key()).as_ref(),
            Some(v),
            "{}",
            v.key()
        );
    }
    // ... each was created exactly once, and no version was applied twice.
    assert_eq!(stats.records_created, all.len() as u64);
    assert!(
        stats.records_updated <= changes,
        "{} updates for {changes} changes",
        stats.records_updated
    );
}
