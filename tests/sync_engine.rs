//! The sync engine under faults: every good record delivered, every bad one
//! dead-lettered with its error, none lost; replay after a fix delivers;
//! halting and skipping policies do what they say.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::{system, variant_flow, variants};
use seamwork::connector::memory::FaultOptions;
use seamwork::connector::{Entity, EntityKey};
use seamwork::model::Variant;
use seamwork::store::{DeadLetterFilter, MemoryStore, SqliteStore, StateStore};
use seamwork::sync::{AlertKind, CollectingAlertSink, Engine, FailurePolicy, ReplayOutcome};
use seamwork::{ErrorKind, Retryability};

/// Every 100th variant gets a negative price: 1% permanently bad records.
fn with_bad_prices(mut all: Vec<Variant>) -> (Vec<Variant>, BTreeSet<EntityKey>) {
    let mut bad = BTreeSet::new();
    for v in all.iter_mut().step_by(100) {
        v.price = -v.price;
        bad.insert(v.key());
    }
    (all, bad)
}

fn keys(vs: &[Variant]) -> BTreeSet<EntityKey> {
    vs.iter().map(Entity::key).collect()
}

#[tokio::test]
async fn faults_lose_nothing_and_bad_records_wait_in_the_dead_letter_queue() {
    let faults = FaultOptions::none()
        .with_transient(300)
        .with_rate_limit(50, Some(Duration::from_millis(1)))
        .with_duplicates(20)
        .with_reordering(20);
    let source = system("store", faults.clone(), 1);
    let sink = system("erp", faults, 2);
    let (all, bad) = with_bad_prices(variants(10_000, 5));
    source.put_all(all.clone());
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::in_memory().await.unwrap());
    let engine = Engine::new(store.clone());
    let flow = variant_flow("variants", &source, &sink, FailurePolicy::dead_letter(100));

    let report = engine.run_once(&flow).await.unwrap();
    assert!(report.halted.is_none(), "{:?}", report.halted);
    assert!(report.retries > 100, "faults were injected: {report:?}");
    let stats = sink.stats();
    assert!(stats.transient_errors > 0 && stats.rate_limited > 0 && stats.partial_writes > 0);

    // Every good record is in the sink, exactly as in the source, created once.
    let good: BTreeSet<EntityKey> = keys(&all).difference(&bad).cloned().collect();
    let delivered = sink.all::<Variant>();
    assert_eq!(keys(&delivered), good);
    for v in &delivered {
        assert_eq!(source.get::<Variant>(&v.key()).as_ref(), Some(v));
    }
    assert_eq!(stats.records_created, good.len() as u64);

    // Every bad one is dead-lettered with its error, owner and payload.
    let letters = store
        .dead_letters(&DeadLetterFilter::open("variants"))
        .await
        .unwrap();
    let lettered: BTreeSet<EntityKey> = letters.iter().map(|l| l.key.clone()).collect();
    assert_eq!(lettered, bad);
    for l in &letters {
        assert_eq!(l.error.kind(), &ErrorKind::InvalidData, "{}", l.error);
        assert!(l.error.to_string().contains("price"), "{}", l.error);
        assert_eq!(l.owner, "erp-integration");
        assert!(l.external_ref.is_some());
    }
    assert_eq!(report.dead_lettered, bad.len() as u64);

    // A second run finds nothing new: the checkpoint covers everything.
    let again = engine.run_once(&flow).await.unwrap();
    assert_eq!(
        again.created + again.updated + again.dead_lettered,
        0,
        "{again:?}"
    );

    // A person fixes the payloads; replay delivers every one.
    for l in &letters {
        let mut fixed: Variant = serde_json::from_value(l.payload.clone()).unwrap();
        fixed.price = -fixed.price;
        store
            .edit_dead_letter(l.id, serde_json::to_value(&fixed).unwrap())
            .await
            .unwrap();
    }
    let mut replayed = engine.replay_all(&flow).await.unwrap();
    // The sink's own faults may fail a replay; those stay open and replay again.
    for _ in 0..10 {
        if replayed
            .iter()
            .all(|(_, o)| matches!(o, ReplayOutcome::Delivered(_)))
        {
            break;
        }
        replayed = engine.replay_all(&flow).await.unwrap();
    }
    assert!(
        store
            .dead_letters(&DeadLetterFilter::open("variants"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(keys(&sink.all::<Variant>()), keys(&all));
    assert_eq!(sink.stats().records_created, all.len() as u64);
}

#[tokio::test]
async fn a_failed_replay_keeps_the_letter_open_with_one_more_attempt() {
    let source = system("store", FaultOptions::none(), 1);
    let sink = system("erp", FaultOptions::none(), 2);
    let (all, bad) = with_bad_prices(variants(200, 6));
    source.put_all(all);
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let engine = Engine::new(store.clone());
    let flow = variant_flow("variants", &source, &sink, FailurePolicy::dead_letter(100));
    engine.run_once(&flow).await.unwrap();
    let letters = store
        .dead_letters(&DeadLetterFilter::open("variants"))
        .await
        .unwrap();
    assert_eq!(letters.len(), bad.len());
    let first = &letters[0];
    match engine.replay(&flow, first.id).await.unwrap() {
        ReplayOutcome::Failed(e) => assert_eq!(e.kind(), &ErrorKind::InvalidData),
        other => panic!("an unfixed payload must fail again: {other:?}"),
    }
    let after = store.dead_letter(first.id).await.unwrap().unwrap();
    assert_eq!(after.attempts, first.attempts + 1);
    assert!(
        engine.discard(first.id, " ").await.is_err(),
        "a discard needs a reason"
    );
    engine.discard(first.id, "variant retired").await.unwrap();
    assert!(
        engine.replay(&flow, first.id).await.is_err(),
        "a discarded letter is closed"
    );
}

#[tokio::test]
async fn halt_policy_stops_in_front_of_the_poisoned_record_until_someone_acts() {
    let source = system("store", FaultOptions::none(), 1);
    let sink = system("erp", FaultOptions::none(), 2);
    let mut all = variants(400, 7);
    all[150].price = -all[150].price;
    let poisoned = all[150].key();
    source.put_all(all.clone());
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let alerts = Arc::new(CollectingAlertSink::new());
    let engine = Engine::new(store.clone()).with_alerts(alerts.clone());
    let flow = variant_flow("variants", &source, &sink, FailurePolicy::halt());

    let report = engine.run_once(&flow).await.unwrap();
    let halted = report.halted.expect("halts");
    assert!(halted.to_string().contains(poisoned.as_str()), "{halted}");
    // Everything before the poisoned record was delivered; nothing dead-lettered.
    assert!(sink.len::<Variant>() >= 150 && sink.len::<Variant>() < 400);
    assert!(sink.get::<Variant>(&poisoned).is_none());
    assert!(
        store
            .dead_letters(&DeadLetterFilter::all())
            .await
            .unwrap()
            .is_empty()
    );
    let halts = alerts
        .alerts()
        .into_iter()
        .filter(|a| matches!(a.what, AlertKind::Halted { .. }))
        .count();
    assert_eq!(halts, 1);

    // Running again halts again at the same record: the checkpoint did not pass it.
    let again = engine.run_once(&flow).await.unwrap();
    assert!(again.halted.is_some());
    assert_eq!(again.created, 0);

    // Fix the record in the source: the flow goes on and finishes.
    let mut fixed = all[150].clone();
    fixed.price = -fixed.price;
    source.put(fixed);
    let done = engine.run_once(&flow).await.unwrap();
    assert!(done.halted.is_none(), "{:?}", done.halted);
    assert_eq!(sink.len::<Variant>(), 400);
    assert_eq!(sink.stats().records_created, 400);
}

#[tokio::test]
async fn skip_and_alert_tells_the_owner_about_each_skipped_record() {
    let source = system("store", FaultOptions::none(), 1);
    let sink = system("erp", FaultOptions::none(), 2);
    let (all, bad) = with_bad_prices(variants(300, 8));
    source.put_all(all);
    let alerts = Arc::new(CollectingAlertSink::new());
    let engine = Engine::new(Arc::new(MemoryStore::new())).with_alerts(alerts.clone());
    let flow = variant_flow("variants", &source, &sink, FailurePolicy::skip_and_alert());
    let report = engine.run_once(&flow).await.unwrap();
    assert_eq!(report.skipped, bad.len() as u64);
    let skipped: BTreeSet<EntityKey> = alerts
        .alerts()
        .into_iter()
        .filter_map(|a| match a.what {
            AlertKind::RecordSkipped { key, .. } => Some(key),
            _ => None,
        })
        .collect();
    assert_eq!(skipped, bad);
    assert!(
        alerts
            .alerts()
            .iter()
            .all(|a| a.owner.team == "erp-integration")
    );
}

#[tokio::test]
async fn too_many_dead_letters_halt_the_flow() {
    let source = system("store", FaultOptions::none(), 1);
    let sink = system("erp", FaultOptions::none(), 2);
    let mut all = variants(1_000, 9);
    for v in all.iter_mut().step_by(5) {
        v.price = -v.price; // 20% bad: a broken mapping, not a stray record
    }
    source.put_all(all);
    let engine = Engine::new(Arc::new(MemoryStore::new()));
    let flow = variant_flow("variants", &source, &sink, FailurePolicy::dead_letter(50));
    let report = engine.run_once(&flow).await.unwrap();
    let halted = report
        .halted
        .clone()
        .expect("halts on the dead-letter rate");
    assert!(
        halted.to_string().contains("over the limit of 50‰"),
        "{halted}"
    );
    assert!(report.read < 1_000, "it stopped early: {report:?}");
}

#[tokio::test]
async fn an_unreachable_sink_halts_without_moving_the_checkpoint() {
    let source = system("store", FaultOptions::none(), 1);
    let sink = system("erp", FaultOptions::none().with_transient(1000), 2);
    source.put_all(variants(200, 10));
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let engine = Engine::new(store.clone());
    let flow = variant_flow("variants", &source, &sink, FailurePolicy::dead_letter(100));
    let report = engine.run_once(&flow).await.unwrap();
    let halted = report.halted.expect("halts");
    assert_eq!(halted.retryability(), Retryability::PersistentAfterRetries);
    assert!(store.checkpoint("variants").await.unwrap().is_none());
    assert!(
        store
            .dead_letters(&DeadLetterFilter::all())
            .await
            .unwrap()
            .is_empty(),
        "an outage is not the records' fault: nothing is dead-lettered"
    );
}

#[tokio::test]
async fn health_says_healthy_degraded_or_failing_and_why() {
    use seamwork::sync::HealthStatus;
    let source = system("store", FaultOptions::none(), 1);
    let sink = system("erp", FaultOptions::none(), 2);
    let mut all = variants(400, 11);
    source.put_all(all.clone());
    let engine = Engine::new(Arc::new(MemoryStore::new()));
    let flow = variant_flow("variants", &source, &sink, FailurePolicy::dead_letter(100));

    let before = engine.health(&flow).await.unwrap();
    assert_eq!(before.status, HealthStatus::Failing);
    assert!(
        before.reasons[0].contains("has not run"),
        "{:?}",
        before.reasons
    );

    engine.run_once(&flow).await.unwrap();
    let clean = engine.health(&flow).await.unwrap();
    assert_eq!(clean.status, HealthStatus::Healthy, "{:?}", clean.reasons);
    assert!(clean.reasons.is_empty() && clean.last_success.is_some());
    assert_eq!(clean.owner.team, "erp-integration");

    all[7].price = -all[7].price;
    source.put(all[7].clone());
    engine.run_once(&flow).await.unwrap();
    let degraded = engine.health(&flow).await.unwrap();
    assert_eq!(degraded.status, HealthStatus::Degraded);
    assert_eq!(degraded.dead_letters, 1);
    assert_eq!(
        degraded.error_per_mille, 1000,
        "1 of 1 record failed in the last run"
    );
    assert!(
        degraded
            .reasons
            .iter()
            .any(|r| r.contains("dead letters wait")),
        "{:?}",
        degraded.reasons
    );

    let halting = variant_flow("variants-halting", &source, &sink, FailurePolicy::halt());
    engine.run_once(&halting).await.unwrap();
    let failing = engine.health(&halting).await.unwrap();
    assert_eq!(failing.status, HealthStatus::Failing);
    assert!(
        failing.reasons.iter().any(|r| r.starts_with("halted")),
        "{:?}",
        failing.reasons
    );
}

#[tokio::test]
async fn versions_with_the_same_change_time_are_told_apart_by_content() {
    use seamwork::connector::memory::{MemoryOptions, MemorySystem};
    use seamwork::model::SystemId;
    use seamwork::sync::{Flow, FlowOptions, Owner, Sla};
    // A frozen clock: every change shares one `updated_at`, as when a system
    // keeps it to the second and a record changes twice within it.
    let frozen = MemoryOptions::default().with_tick(Duration::ZERO);
    let source = Arc::new(MemorySystem::new(
        SystemId::new("store").unwrap(),
        frozen.clone(),
    ));
    let sink = Arc::new(MemorySystem::new(SystemId::new("erp").unwrap(), frozen));
    let mut all = variants(48, 12);
    source.put_all(all.clone());
    let mut options = FlowOptions::default();
    options.lookback = Duration::from_secs(60); // every run re-reads everything
    let flow = Flow::<Variant>::builder("variants", source.clone(), sink.clone())
        .owner(Owner::new("erp-integration", "erp-oncall@example.com"))
        .failure_policy(FailurePolicy::dead_letter(100))
        .sla(Sla::max_lag(Duration::from_secs(3600 * 24 * 3650)))
        .options(options)
        .build()
        .unwrap();
    let engine = Engine::new(Arc::new(SqliteStore::in_memory().await.unwrap()));

    let store = engine.store().clone();
    assert_eq!(engine.run_once(&flow).await.unwrap().created, 48);
    let checkpoint = store
        .checkpoint("variants")
        .await
        .unwrap()
        .map(|c| c.cursor);
    let overlap = engine.run_once(&flow).await.unwrap();
    assert_eq!(
        (overlap.read, overlap.already_delivered, overlap.delivered()),
        (48, 48, 0)
    );
    // Re-reading the lookback window never moves the checkpoint back.
    let after = store
        .checkpoint("variants")
        .await
        .unwrap()
        .map(|c| c.cursor);
    assert_eq!(after, checkpoint);

    for v in all.iter_mut().take(10) {
        v.title = format!("{} v2", v.title);
        source.put(v.clone());
    }
    let changed = engine.run_once(&flow).await.unwrap();
    assert_eq!(
        (changed.updated, changed.already_delivered),
        (10, 38),
        "{changed:?}"
    );
    for v in &all {
        assert_eq!(sink.get::<Variant>(&v.key()).as_ref(), Some(v));
    }
}

#[tokio::test]
async fn another_process_judges_health_from_the_stores_checkpoint() {
    use seamwork::sync::HealthStatus;
    let source = system("store", FaultOptions::none(), 1);
    let sink = system("erp", FaultOptions::none(), 2);
    source.put_all(variants(40, 13));
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let flow = variant_flow("variants", &source, &sink, FailurePolicy::dead_letter(100));
    Engine::new(store.clone()).run_once(&flow).await.unwrap();
    // A fresh engine (another process) on the same store has no run history.
    let health = Engine::new(store).health(&flow).await.unwrap();
    assert_eq!(health.status, HealthStatus::Healthy, "{:?}", health.reasons);
    assert!(health.last_success.is_some());
}
