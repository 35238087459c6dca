//! Crash test: the engine is killed (its future dropped) at more than 1,000
//! random points while it syncs 10,000 records — 1% of them permanently bad —
//! through faulty systems, and restarted from the SQLite file each time (or,
//! every other time, on the same open store, whose connection then carries
//! whatever the kill left behind). A wrapper around the sink logs every
//! *effect* (a key's content changing in the sink, partial writes included).
//! At the end: every good record's final version is in the sink, every bad
//! one waits in the dead-letter queue exactly once, and each key's effects
//! follow its version history in order — nothing created twice, no version
//! applied twice, no key moved back to an older version.

mod common;

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use async_trait::async_trait;
use common::{system, variant_flow, variants};
use seamwork::Result;
use seamwork::connector::memory::{FaultOptions, MemorySystem};
use seamwork::connector::{
    Capability, Connector, Entity, EntityKey, EntityKind, Sink, WriteOutcome,
};
use seamwork::model::{Money, SystemId, Variant};
use seamwork::store::{DeadLetterFilter, SqliteStore, StateStore};
use seamwork::sync::{Engine, FailurePolicy};

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

/// The ERP, watched: after every call (answered or failed) it records each
/// key of the batch whose content in the ERP changed.
struct EffectLog {
    erp: Arc<MemorySystem>,
    effects: Mutex<HashMap<EntityKey, Vec<Variant>>>,
}

impl Connector for EffectLog {
    fn system(&self) -> &SystemId {
        Connector::system(&*self.erp)
    }

    fn capability(&self, kind: EntityKind) -> Capability {
        self.erp.capability(kind)
    }
}

#[async_trait]
impl Sink<Variant> for EffectLog {
    async fn upsert(&self, batch: &[Variant]) -> Result<Vec<WriteOutcome>> {
        let answer = self.erp.upsert(batch).await;
        let mut effects = self.effects.lock().unwrap();
        for v in batch {
            let key = v.key();
            if let Some(now) = self.erp.get::<Variant>(&key) {
                let seen = effects.entry(key).or_default();
                if seen.last() != Some(&now) {
                    seen.push(now);
                }
            }
        }
        answer
    }
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
    let erp = system("erp", faults, 12);
    let sink = Arc::new(EffectLog {
        erp: erp.clone(),
        effects: Mutex::new(HashMap::new()),
    });
    let mut all = variants(10_000, 13);
    let mut bad = Vec::new();
    for v in all.iter_mut().step_by(100) {
        v.price = -v.price;
        bad.push(v.key());
    }
    // Every version each key had in the source, in order.
    let mut history: HashMap<EntityKey, Vec<Variant>> =
        all.iter().map(|v| (v.key(), vec![v.clone()])).collect();
    source.put_all(all.clone());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let flow = variant_flow("variants", &source, &sink, FailurePolicy::dead_letter(50));
    let mut rng = fastrand::Rng::with_seed(14);

    let (mut kills, mut finished_runs, mut changes) = (0u32, 0u32, 0u64);
    let mut open: Option<Arc<SqliteStore>> = None;
    while kills < 1_000 {
        // Every other restart reopens the file, like a new process.
        let store = match open.take() {
            Some(store) if kills % 2 == 1 => store,
            _ => Arc::new(SqliteStore::open(&path).await.unwrap()),
        };
        let engine = Engine::new(store.clone());
        match run_at_most(engine.run_once(&flow), rng.u32(1..=40)).await {
            None => kills += 1,
            Some(report) => {
                let report = report.unwrap();
                assert!(report.halted.is_none(), "{:?}", report.halted);
                finished_runs += 1;
            }
        }
        open = Some(store);
        // The source keeps changing between restarts: prices move (bad
        // records stay bad, so they are dead-lettered again, as one letter).
        for _ in 0..rng.usize(0..4) {
            let i = rng.usize(..all.len());
            let cents = rust_decimal::Decimal::new(rng.i64(100..100_000), 2);
            let sign = if bad.contains(&all[i].key()) { -1 } else { 1 };
            all[i].price = Money::new(
                cents * rust_decimal::Decimal::from(sign),
                all[i].price.currency(),
            );
            all[i].compare_at_price = None;
            source.put(all[i].clone());
            history.get_mut(&all[i].key()).unwrap().push(all[i].clone());
            changes += 1;
        }
    }
    // Let it finish undisturbed (faults still on).
    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    let report = Engine::new(store.clone()).run_once(&flow).await.unwrap();
    assert!(report.halted.is_none(), "{:?}", report.halted);

    println!("{kills} kills, {finished_runs} runs finished between them, {changes} source changes");
    let stats = erp.stats();
    println!("erp: {stats:?}");
    assert!(kills >= 1_000);
    assert!(stats.partial_writes > 0 && stats.transient_errors > 0);
    // Every good record's final version is in the sink, every bad one is not.
    assert_eq!(erp.len::<Variant>(), all.len() - bad.len());
    for v in all.iter().filter(|v| !bad.contains(&v.key())) {
        assert_eq!(
            erp.get::<Variant>(&v.key()).as_ref(),
            Some(v),
            "{}",
            v.key()
        );
    }
    // Every bad record waits in the dead-letter queue, once, at its latest version.
    let letters = store
        .dead_letters(&DeadLetterFilter::open("variants"))
        .await
        .unwrap();
    let mut lettered: Vec<EntityKey> = letters.iter().map(|l| l.key.clone()).collect();
    lettered.sort();
    let mut expected = bad.clone();
    expected.sort();
    assert_eq!(lettered, expected);
    for l in &letters {
        let latest = all.iter().find(|v| v.key() == l.key).unwrap();
        assert_eq!(
            l.payload,
            serde_json::to_value(latest).unwrap(),
            "{}",
            l.key
        );
    }
    // Each key's effects are its versions in order: a subsequence of its
    // history with no repeats — created once, nothing applied twice, never back.
    let effects = sink.effects.lock().unwrap();
    for (key, seen) in effects.iter() {
        let versions = &history[key];
        let mut from = 0;
        for effect in seen {
            let at = versions[from..]
                .iter()
                .position(|v| v == effect)
                .unwrap_or_else(|| {
                    panic!("{key}: effect out of order, repeated or unknown: {effect:?}")
                });
            from += at + 1;
        }
    }
    assert_eq!(stats.records_created, (all.len() - bad.len()) as u64);
}
