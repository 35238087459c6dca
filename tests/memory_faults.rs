//! The memory system's injected faults: reproducible, and never a reason to lose a record.

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use seamwork::connector::memory::{
    Dataset, FaultOptions, MemoryOptions, MemorySystem, SeedOptions,
};
use seamwork::connector::{Cursor, Entity, EntityKey, Sink, Source, WriteResult};
use seamwork::model::{Order, SystemId, Variant};
use seamwork::{Error, ErrorKind};

fn store(faults: FaultOptions, seed: u64) -> (MemorySystem, Dataset) {
    let data = Dataset::generate(&SeedOptions::small()).unwrap();
    let s = MemorySystem::new(
        SystemId::new("store").unwrap(),
        MemoryOptions::default()
            .with_seed(seed)
            .with_page_size(8)
            .with_faults(faults),
    );
    s.put_all(data.orders.clone());
    (s, data)
}

/// Reads until the first error; returns (key, cursor) pairs and the error.
async fn read_until_error(
    s: &MemorySystem,
    since: Option<Cursor>,
) -> (Vec<(EntityKey, Cursor)>, Option<Error>) {
    let mut out = Vec::new();
    let mut stream = Source::<Order>::read(s, since);
    while let Some(item) = stream.next().await {
        match item {
            Ok(r) => out.push((r.entity.key(), r.cursor)),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

#[tokio::test]
async fn same_seed_same_faults() {
    let faults = FaultOptions::none()
        .with_duplicates(100)
        .with_reordering(300)
        .with_transient(50);
    let run = |seed| {
        let faults = faults.clone();
        async move {
            let (s, _) = store(faults, seed);
            let (records, err) = read_until_error(&s, None).await;
            (
                records
                    .into_iter()
                    .map(|(k, c)| (k, c.to_string()))
                    .collect::<Vec<_>>(),
                err.map(|e| e.to_string()),
                s.stats(),
            )
        }
    };
    assert_eq!(run(7).await, run(7).await);
    assert_ne!(
        run(7).await.0,
        run(8).await.0,
        "a different seed changes the delivery"
    );
}

#[tokio::test]
async fn duplicates_and_reordering_never_skip_on_resume() {
    let faults = FaultOptions::none()
        .with_duplicates(150)
        .with_reordering(500);
    let (s, data) = store(faults, 3);
    let all: HashSet<EntityKey> = data.orders.iter().map(Entity::key).collect();
    let (full, err) = read_until_error(&s, None).await;
    assert!(err.is_none());
    assert!(s.stats().duplicates > 0 && s.stats().reordered_pages > 0);
    assert!(full.len() > all.len(), "duplicates were delivered");
    for i in (0..full.len()).step_by(5) {
        let (resumed, err) = read_until_error(&s, Some(full[i].1.clone())).await;
        assert!(err.is_none());
        let mut seen: HashSet<EntityKey> = full[..=i].iter().map(|(k, _)| k.clone()).collect();
        seen.extend(resumed.into_iter().map(|(k, _)| k));
        assert_eq!(
            seen, all,
            "resuming after delivered record #{i} lost records"
        );
    }
}

#[tokio::test]
async fn transient_read_errors_resume_from_the_last_cursor() {
    let faults = FaultOptions::none()
        .with_transient(200)
        .with_rate_limit(100, Some(Duration::from_millis(5)));
    let (s, data) = store(faults, 11);
    let mut seen = HashSet::new();
    let mut cursor = None;
    let mut errors = 0;
    loop {
        let (records, err) = read_until_error(&s, cursor.clone()).await;
        if let Some((_, c)) = records.last() {
            cursor = Some(c.clone());
        }
        seen.extend(records.into_iter().map(|(k, _)| k));
        match err {
            None => break,
            Some(e) => {
                assert!(e.is_retryable(), "{e}");
                if let ErrorKind::RateLimited { retry_after } = e.kind() {
                    assert_eq!(*retry_after, Some(Duration::from_millis(5)));
                }
                errors += 1;
                assert!(errors < 500, "no progress");
            }
        }
    }
    assert!(errors > 0, "faults were injected");
    assert_eq!(seen.len(), data.orders.len());
}

#[tokio::test]
async fn partial_writes_then_retry_write_each_record_once() {
    let data = Dataset::generate(&SeedOptions::small()).unwrap();
    let batch = &data.variants;
    let (mut retried, mut partial) = (0, 0);
    for seed in 0..10 {
        let erp = MemorySystem::new(
            SystemId::new("erp").unwrap(),
            MemoryOptions::default()
                .with_seed(seed)
                .with_faults(FaultOptions::none().with_transient(600)),
        );
        let mut attempts = 0;
        let outcomes = loop {
            attempts += 1;
            match Sink::<Variant>::upsert(&erp, batch).await {
                Ok(o) => break o,
                Err(e) => {
                    assert_eq!(e.kind(), &ErrorKind::Unavailable);
                    let written = erp.len::<Variant>();
                    if written > 0 && written < batch.len() {
                        partial += 1;
                    }
                }
            }
            assert!(attempts < 100);
        };
        if attempts > 1 {
            retried += 1;
        }
        assert_eq!(outcomes.len(), batch.len());
        let created = outcomes
            .iter()
            .filter(|o| matches!(o.result, WriteResult::Created { .. }))
            .count();
        let unchanged = outcomes
            .iter()
            .filter(|o| matches!(o.result, WriteResult::Unchanged { .. }))
            .count();
        assert_eq!(created + unchanged, batch.len(), "seed {seed}");
        assert_eq!(erp.len::<Variant>(), batch.len());
        for v in batch {
            assert_eq!(erp.get::<Variant>(&v.key()).as_ref(), Some(v));
        }
    }
    assert!(
        retried > 0 && partial > 0,
        "timeouts, some after a partial write, were injected"
    );
}

#[tokio::test(start_paused = true)]
async fn latency_is_added_to_every_call() {
    let (s, data) = store(
        FaultOptions::none().with_latency(Duration::from_millis(40)),
        1,
    );
    let started = tokio::time::Instant::now();
    let (records, _) = read_until_error(&s, None).await;
    assert_eq!(records.len(), data.orders.len());
    let pages = s.stats().calls;
    assert_eq!(pages, (data.orders.len() as u64).div_ceil(8));
    assert_eq!(started.elapsed(), Duration::from_millis(40) * pages as u32);
}

#[tokio::test]
async fn oversized_batches_are_refused_whole() {
    let erp = MemorySystem::new(
        SystemId::new("erp").unwrap(),
        MemoryOptions::default().with_max_batch(4),
    );
    let data = Dataset::generate(&SeedOptions::small()).unwrap();
    let err = Sink::<Variant>::upsert(&erp, &data.variants[..5])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unsupported);
    assert!(err.to_string().contains("exceeds max_batch 4"), "{err}");
    assert!(erp.is_empty::<Variant>());
}

#[tokio::test]
async fn writes_during_a_read_are_not_skipped_with_a_frozen_clock() {
    let s = MemorySystem::new(
        SystemId::new("store").unwrap(),
        MemoryOptions::default()
            .with_tick(Duration::ZERO)
            .with_page_size(3),
    );
    let data = Dataset::generate(&SeedOptions::small()).unwrap();
    let mut variants = data.variants.clone();
    variants.sort_by(|a, b| b.sku.cmp(&a.sku)); // insert in descending key order
    s.put_all(variants[..10].iter().cloned());
    // Read one page, then change the system at the same instant.
    let mut stream = Source::<Variant>::read(&s, None);
    let mut cursor = None;
    for _ in 0..3 {
        cursor = Some(stream.next().await.unwrap().unwrap().cursor);
    }
    drop(stream);
    let mut updated = variants[0].clone();
    updated.title = "changed while reading".into();
    s.put(updated.clone());
    s.put(variants[10].clone()); // a new record whose key sorts first
    let rest: Vec<Variant> = Source::<Variant>::read(&s, cursor)
        .map(|r| r.unwrap().entity)
        .collect()
        .await;
    assert_eq!(rest.len(), 7 + 2, "the 7 unread records plus both changes");
    assert!(rest.contains(&updated));
    assert!(rest.contains(&variants[10]));
}

#[tokio::test]
async fn a_foreign_cursor_is_refused_with_its_text() {
    let (s, _) = store(FaultOptions::none(), 1);
    let (records, err) =
        read_until_error(&s, Some(Cursor::new("2026-01-01T00:00:00Z|SKU-1"))).await;
    assert!(records.is_empty());
    let err = err.unwrap();
    assert_eq!(err.kind(), &ErrorKind::InvalidData);
    assert!(err.to_string().contains("SKU-1"), "{err}");
}
