//! The engine's decisions, unit-tested against a mocked sink: retry vs
//! dead-letter vs halt, per-record retries, and bisecting a batch the sink
//! refuses as a whole.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{system, variant_flow, variants};
use seamwork::connector::memory::FaultOptions;
use seamwork::connector::{Capability, Entity, Sink, WriteOutcome, WriteResult};
use seamwork::model::{SystemId, Variant};
use seamwork::store::{DeadLetterFilter, MemoryStore, StateStore};
use seamwork::sync::{Engine, FailurePolicy, Flow, Owner, Sla};
use seamwork::testkit::mocks::MockSink;
use seamwork::{Error, ErrorKind, Result};

fn created(batch: &[Variant]) -> Vec<WriteOutcome> {
    batch
        .iter()
        .map(|v| {
            WriteOutcome::new(
                v.key(),
                WriteResult::Created {
                    external_id: v.sku.to_string(),
                },
            )
        })
        .collect()
}

fn mock_sink(
    answer: impl Fn(&[Variant]) -> Result<Vec<WriteOutcome>> + Send + 'static,
) -> (MockSink<Variant>, Arc<Mutex<Vec<usize>>>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    let mut sink = MockSink::<Variant>::new();
    sink.expect_system()
        .return_const(SystemId::new("erp").unwrap());
    sink.expect_capability().returning(|_| Capability::new());
    sink.expect_upsert().returning(move |batch| {
        seen.lock().unwrap().push(batch.len());
        answer(batch)
    });
    (sink, calls)
}

async fn run(
    sink: MockSink<Variant>,
    n: usize,
    policy: FailurePolicy,
) -> (seamwork::sync::RunReport, Arc<MemoryStore>) {
    let source = system("store", FaultOptions::none(), 1);
    source.put_all(variants(n, 3));
    let store = Arc::new(MemoryStore::new());
    let sink: Arc<dyn Sink<Variant>> = Arc::new(sink);
    let retry = common::fast_retry();
    let flow = Flow::<Variant>::builder("decisions", source, sink)
        .owner(Owner::new("team", "team@example.com"))
        .failure_policy(policy.with_retry(retry))
        .sla(Sla::max_lag(Duration::from_secs(3600 * 24 * 3650)))
        .build()
        .unwrap();
    let report = Engine::new(store.clone()).run_once(&flow).await.unwrap();
    (report, store)
}

#[tokio::test]
async fn temporary_call_errors_are_retried_then_delivered() {
    let failures = Mutex::new(2);
    let (sink, calls) = mock_sink(move |batch| {
        let mut left = failures.lock().unwrap();
        if *left > 0 {
            *left -= 1;
            return Err(Error::rate_limited(
                Some(Duration::from_millis(1)),
                "slow down",
            ));
        }
        Ok(created(batch))
    });
    let (report, store) = run(sink, 8, FailurePolicy::dead_letter(100)).await;
    assert_eq!(report.created, 8);
    assert_eq!(report.retries, 2);
    assert_eq!(*calls.lock().unwrap(), [8, 8, 8]);
    assert!(
        store
            .dead_letters(&DeadLetterFilter::all())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_permanent_rejection_is_dead_lettered_and_the_rest_delivered() {
    let (sink, _) = mock_sink(|batch| {
        let mut out = created(batch);
        out[3].result =
            WriteResult::rejected(Error::invalid_data("weight unit unknown to the ERP"));
        Ok(out)
    });
    let (report, store) = run(sink, 8, FailurePolicy::dead_letter(500)).await;
    assert_eq!((report.created, report.dead_lettered), (7, 1));
    let letters = store.dead_letters(&DeadLetterFilter::all()).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert!(letters[0].error.message().contains("weight unit"));
    assert!(
        store.checkpoint("decisions").await.unwrap().is_some(),
        "the batch is acknowledged"
    );
}

#[tokio::test]
async fn a_temporary_rejection_is_retried_alone() {
    let first = Mutex::new(true);
    let (sink, calls) = mock_sink(move |batch| {
        let mut out = created(batch);
        let mut first = first.lock().unwrap();
        if *first {
            *first = false;
            out[5].result = WriteResult::rejected(Error::new(ErrorKind::Conflict, "row locked"));
        }
        Ok(out)
    });
    let (report, store) = run(sink, 8, FailurePolicy::dead_letter(100)).await;
    assert_eq!(report.created, 8);
    assert_eq!(*calls.lock().unwrap(), [8, 1]);
    assert!(
        store
            .dead_letters(&DeadLetterFilter::all())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_permanent_call_error_halts_without_acknowledging_anything() {
    let (sink, calls) = mock_sink(|_| Err(Error::new(ErrorKind::Unauthorized, "token revoked")));
    let (report, store) = run(sink, 8, FailurePolicy::dead_letter(100)).await;
    assert_eq!(
        report.halted.map(|e| e.kind().clone()),
        Some(ErrorKind::Unauthorized)
    );
    assert_eq!(
        *calls.lock().unwrap(),
        [8],
        "a permanent error is not retried"
    );
    assert!(store.checkpoint("decisions").await.unwrap().is_none());
    assert!(
        store
            .dead_letters(&DeadLetterFilter::all())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_batch_refused_as_a_whole_is_bisected_to_the_poisoned_record() {
    let poisoned = variants(8, 3)[5].key();
    let p = poisoned.clone();
    let (sink, calls) = mock_sink(move |batch| {
        if batch.iter().any(|v| v.key() == p) {
            Err(Error::invalid_data("the ERP refused the whole batch"))
        } else {
            Ok(created(batch))
        }
    });
    let (report, store) = run(sink, 8, FailurePolicy::dead_letter(500)).await;
    assert_eq!((report.created, report.dead_lettered), (7, 1));
    let letters = store.dead_letters(&DeadLetterFilter::all()).await.unwrap();
    assert_eq!(letters[0].key, poisoned);
    // 8 → 4 + 4 → (2 + 2) → (1 + 1): log2 splits, not one call per record.
    assert_eq!(calls.lock().unwrap().len(), 7);
}

#[tokio::test]
async fn a_failing_source_read_resumes_from_the_checkpoint() {
    let source = system("store", FaultOptions::none().with_transient(300), 4);
    let sink = system("erp", FaultOptions::none(), 5);
    let all = variants(2_000, 6);
    source.put_all(all.clone());
    let engine = Engine::new(Arc::new(MemoryStore::new()));
    let flow = variant_flow("variants", &source, &sink, FailurePolicy::dead_letter(10));
    let report = engine.run_once(&flow).await.unwrap();
    assert!(report.halted.is_none(), "{:?}", report.halted);
    assert!(source.stats().transient_errors > 0);
    assert_eq!(sink.len::<Variant>(), all.len());
    assert_eq!(sink.stats().records_created, all.len() as u64);
}

#[test]
fn a_flow_without_owner_policy_or_sla_names_everything_missing() {
    let a = system("a", FaultOptions::none(), 1);
    let err = Flow::<Variant>::builder("orphan", a.clone(), a)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Config);
    let text = err.to_string();
    for missing in ["no owner", "no failure policy", "no SLA", "orphan"] {
        assert!(text.contains(missing), "{missing} in {text}");
    }
}

#[tokio::test]
async fn halt_on_a_sink_rejection_keeps_the_checkpoint_in_front_of_it() {
    let (sink, _) = mock_sink(|batch| {
        let mut out = created(batch);
        out[3].result = WriteResult::rejected(Error::invalid_data("unknown tax code"));
        Ok(out)
    });
    let (report, store) = run(sink, 8, FailurePolicy::halt()).await;
    let halted = report.halted.expect("halts");
    assert!(halted.message().contains("unknown tax code"), "{halted}");
    assert!(
        store
            .dead_letters(&DeadLetterFilter::all())
            .await
            .unwrap()
            .is_empty()
    );
    // The checkpoint is the cursor of the record before the rejected one.
    let source = system("store", FaultOptions::none(), 1);
    source.put_all(variants(8, 3));
    let records: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(
        seamwork::connector::Source::<Variant>::read(&*source, None),
    )
    .await
    .unwrap();
    let checkpoint = store.checkpoint("decisions").await.unwrap().unwrap();
    assert_eq!(checkpoint.cursor, records[2].cursor);
}

#[tokio::test]
async fn throttling_that_outlasts_the_retries_dead_letters_nothing() {
    let throttled = variants(8, 3)[1].key();
    let (sink, calls) = mock_sink(move |batch| {
        let mut out = created(batch);
        for o in out.iter_mut().filter(|o| o.key == throttled) {
            o.result = WriteResult::rejected(Error::rate_limited(
                Some(Duration::from_millis(1)),
                "per-record API budget spent",
            ));
        }
        Ok(out)
    });
    let (report, store) = run(sink, 8, FailurePolicy::dead_letter(500)).await;
    let halted = report.halted.expect("the run stops, unacknowledged");
    assert!(
        matches!(halted.kind(), ErrorKind::RateLimited { .. }),
        "{halted}"
    );
    assert!(
        store
            .dead_letters(&DeadLetterFilter::all())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.checkpoint("decisions").await.unwrap().is_none());
    assert_eq!(
        calls.lock().unwrap().len(),
        12,
        "one call plus 11 retries of the throttled record"
    );
}

#[tokio::test]
async fn a_fenced_engine_starts_no_write_once_its_lease_may_have_lapsed() {
    let mut sink = MockSink::<Variant>::new();
    sink.expect_system()
        .return_const(SystemId::new("erp").unwrap());
    sink.expect_capability().returning(|_| Capability::new());
    sink.expect_upsert().never();
    let source = system("store", FaultOptions::none(), 1);
    source.put_all(variants(8, 3));
    let store = Arc::new(MemoryStore::new());
    let lease = store
        .acquire_lease(
            "decisions",
            "w1",
            Duration::from_secs(30),
            chrono::Utc::now(),
        )
        .await
        .unwrap()
        .unwrap();
    let engine = Engine::new(store.clone()).with_fence(lease);
    engine.extend_fence(chrono::Utc::now() - chrono::Duration::seconds(1));
    let flow = Flow::<Variant>::builder("decisions", source, Arc::new(sink))
        .owner(Owner::new("team", "team@example.com"))
        .failure_policy(FailurePolicy::dead_letter(100))
        .sla(Sla::max_lag(Duration::from_secs(3600)))
        .build()
        .unwrap();
    let err = engine.run_once(&flow).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Conflict);
    assert!(store.checkpoint("decisions").await.unwrap().is_none());
}
