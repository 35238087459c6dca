//! Layers around the memory reference system (with injected faults) and
//! around mocks: retry, breaker, timeout, limits, metrics, and a full stack
//! that still passes the conformance suite.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use seamwork::connector::memory::{
    Dataset, FaultOptions, MemoryOptions, MemorySystem, SeedOptions,
};
use seamwork::connector::{
    Capability, Connector, Cursor, Entity, EntityKey, Record, Sink, Source, WriteOutcome,
    WriteResult,
};
use seamwork::layers::{
    AdaptiveLimiter, AdaptiveOptions, AdaptiveRateLimitLayer, BreakerState, CircuitBreakerLayer,
    CircuitBreakerOptions, ConcurrencyLimitLayer, LayerExt, ObserveLayer, RateLimitLayer,
    RetryLayer, RetryOptions, TimeoutLayer, metric_names,
};
use seamwork::model::{ExternalRef, Order, SystemId, Variant};
use seamwork::testkit::mocks::{MockSink, MockSource};
use seamwork::{Error, ErrorKind, Retryability};
use tokio::time::Instant;

fn data(orders: usize) -> Dataset {
    Dataset::generate(&SeedOptions::small().with_orders(orders)).unwrap()
}

fn system(name: &str, options: MemoryOptions) -> MemorySystem {
    MemorySystem::new(SystemId::new(name).unwrap(), options)
}

fn faulty(name: &str, faults: FaultOptions) -> MemorySystem {
    system(
        name,
        MemoryOptions::default()
            .with_seed(7)
            .with_page_size(25)
            .with_max_batch(100)
            .with_faults(faults),
    )
}

/// Quick retries with enough attempts for 30% faults.
fn patient() -> RetryLayer {
    RetryLayer::new(
        RetryOptions::default()
            .with_max_attempts(30)
            .with_delays(Duration::from_millis(10), Duration::from_secs(1))
            .with_jitter_seed(1),
    )
}

#[tokio::test(start_paused = true)]
async fn retry_delivers_every_record_once_in_effect_through_30_percent_faults() {
    let data = data(2_000);
    let erp = faulty("erp", FaultOptions::none().with_transient(300));
    let sink = erp.clone().layer(patient());
    for batch in data.orders.chunks(100) {
        let outcomes = sink.upsert(batch).await.unwrap();
        assert_eq!(outcomes.len(), batch.len());
        for (o, e) in outcomes.iter().zip(batch) {
            assert_eq!(o.key, e.key());
            assert!(o.result.is_ok(), "{:?}", o.result);
        }
    }
    let stats = erp.stats();
    assert!(stats.transient_errors > 10, "{stats:?}");
    assert!(
        stats.partial_writes > 0,
        "partial writes were retried: {stats:?}"
    );
    // Every order is there once, with the content that was sent.
    let mut sent = data.orders.clone();
    sent.sort_by_key(Entity::key);
    assert_eq!(erp.all::<Order>(), sent);
    // Sending everything again changes nothing.
    for batch in data.orders.chunks(100) {
        let again = sink.upsert(batch).await.unwrap();
        assert!(
            again
                .iter()
                .all(|o| matches!(o.result, WriteResult::Unchanged { .. }))
        );
    }
}

#[tokio::test(start_paused = true)]
async fn retry_waits_as_long_as_the_server_asked() {
    let data = data(500);
    let erp = faulty(
        "erp",
        FaultOptions::none().with_rate_limit(300, Some(Duration::from_secs(2))),
    );
    let sink = erp.clone().layer(patient());
    let start = Instant::now();
    for batch in data.orders.chunks(100) {
        assert!(
            sink.upsert(batch)
                .await
                .unwrap()
                .iter()
                .all(|o| o.result.is_ok())
        );
    }
    let throttles = erp.stats().rate_limited;
    assert!(throttles > 0);
    // Calls are sequential and take no time: all elapsed time is waiting.
    assert!(
        start.elapsed() >= Duration::from_secs(2) * throttles as u32,
        "{throttles} throttles in {:?}",
        start.elapsed()
    );
    assert_eq!(erp.len::<Order>(), 500);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_limit_is_not_waited_for() {
    let data = data(5);
    let erp = faulty(
        "erp",
        FaultOptions::none().with_rate_limit(1000, Some(Duration::from_secs(3600))),
    );
    let sink = erp.clone().layer(RetryLayer::new(
        RetryOptions::default().with_max_retry_after(Duration::from_secs(60)),
    ));
    let start = Instant::now();
    let err = sink.upsert(&data.orders).await.unwrap_err();
    assert_eq!(err.retryability(), Retryability::PersistentAfterRetries);
    assert_eq!(erp.stats().calls, 1);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn exhausted_retries_are_persistent_and_bounded() {
    let data = data(5);
    let erp = faulty("erp", FaultOptions::none().with_transient(1000));
    let sink = erp.clone().layer(RetryLayer::new(
        RetryOptions::default().with_max_attempts(4),
    ));
    let err = sink.upsert(&data.orders).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable);
    assert_eq!(err.retryability(), Retryability::PersistentAfterRetries);
    assert_eq!(erp.stats().calls, 4);

    let source = faulty("store", FaultOptions::none().with_transient(1000));
    source.put_all(data.orders.clone());
    let layered = source.clone().layer(RetryLayer::new(
        RetryOptions::default().with_max_attempts(3),
    ));
    let items: Vec<_> = Source::<Order>::read(&layered, None).collect().await;
    assert_eq!(items.len(), 1);
    let err = items[0].as_ref().unwrap_err();
    assert_eq!(err.retryability(), Retryability::PersistentAfterRetries);
    assert_eq!(source.stats().calls, 3);
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_are_not_retried() {
    let data = data(5);
    let erp = faulty("erp", FaultOptions::none());
    // More than max_batch: refused as a whole with a permanent error.
    let too_big = system("erp", MemoryOptions::default().with_max_batch(2));
    let sink = too_big.clone().layer(patient());
    let err = sink.upsert(&data.orders).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unsupported);
    assert_eq!(err.retryability(), Retryability::Permanent);
    assert_eq!(
        too_big.stats().calls,
        0,
        "refused before any call was counted"
    );
    // A record that fails validation is rejected once, the rest written.
    let mut batch = data.orders.clone();
    batch[2].lines.clear();
    let outcomes = erp.clone().layer(patient()).upsert(&batch).await.unwrap();
    let rejected: Vec<_> = outcomes.iter().filter(|o| !o.result.is_ok()).collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].key, batch[2].key());
    assert_eq!(erp.stats().calls, 1);
}

/// The reference order of keys a clean read gives.
async fn clean_keys(data: &Dataset) -> Vec<EntityKey> {
    let clean = system("store", MemoryOptions::default().with_page_size(25));
    clean.put_all(data.orders.clone());
    Source::<Order>::read(&clean, None)
        .map_ok(|r| r.entity.key())
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_source_resumes_after_the_last_record_delivered() {
    let data = data(1_000);
    let store = faulty("store", FaultOptions::none().with_transient(300));
    store.put_all(data.orders.clone());
    let layered = store.clone().layer(patient());
    let keys: Vec<EntityKey> = Source::<Order>::read(&layered, None)
        .map_ok(|r| r.entity.key())
        .try_collect()
        .await
        .unwrap();
    assert!(store.stats().transient_errors > 5, "{:?}", store.stats());
    // Same records in the same order as a read without faults: no skip, no repeat.
    assert_eq!(keys, clean_keys(&data).await);
}

#[tokio::test(start_paused = true)]
async fn a_full_stack_passes_the_conformance_suite_under_faults() {
    let data = data(300);
    let breaker = CircuitBreakerLayer::new(
        CircuitBreakerOptions::default()
            .with_failure_threshold(50)
            .with_cool_down(Duration::from_millis(100)),
    );
    // A budget of 500 points restoring 200/s, one point per call and per record.
    let budget = AdaptiveLimiter::new(AdaptiveOptions::call_limit(500, 200).with_costs(1, 1));
    let stack = |m: MemorySystem| {
        m.layer(TimeoutLayer::new(Duration::from_secs(5)))
            .layer(AdaptiveRateLimitLayer::new(budget.clone()))
            .layer(RateLimitLayer::per_second(100))
            .layer(ConcurrencyLimitLayer::new(2))
            .layer(breaker.clone())
            .layer(patient())
            .layer(ObserveLayer::new())
    };
    // Reads: transient errors and throttles on page fetches.
    let store = faulty(
        "store",
        FaultOptions::none()
            .with_transient(200)
            .with_rate_limit(100, Some(Duration::from_millis(500))),
    );
    store.put_all(data.orders.clone());
    let source = stack(store.clone());
    assert!(source.capability(Order::KIND).incremental);
    seamwork::testkit::check_source::<Order>(&source, &data.orders, 20)
        .await
        .unwrap();
    assert!(store.stats().transient_errors > 0);

    // Writes: throttles (which write nothing, so "created" stays exact).
    let erp = faulty(
        "erp",
        FaultOptions::none().with_rate_limit(200, Some(Duration::from_millis(500))),
    );
    let sink = stack(erp.clone());
    let mut invalid = data.orders[0].clone();
    invalid.lines.clear();
    seamwork::testkit::check_sink::<Order>(&sink, &data.orders[1..], invalid)
        .await
        .unwrap();
    seamwork::testkit::written_records_read_back::<Order>(&sink, &stack(erp.clone()), &data.orders)
        .await
        .unwrap();
    assert!(erp.stats().rate_limited > 0);
    assert_eq!(breaker.state(), BreakerState::Closed);
    // The injected throttles reached the budget, and it paced the rest.
    let stats = budget.stats();
    assert_eq!(
        stats.throttled,
        erp.stats().rate_limited + store.stats().rate_limited
    );
    assert!(stats.waited > Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn timeouts_are_temporary_and_retried() {
    let data = data(5);
    let slow = faulty(
        "erp",
        FaultOptions::none().with_latency(Duration::from_secs(10)),
    );
    let sink = slow
        .clone()
        .layer(TimeoutLayer::new(Duration::from_secs(1)))
        .layer(RetryLayer::new(
            RetryOptions::default().with_max_attempts(3),
        ));
    let err = sink.upsert(&data.orders).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable);
    assert_eq!(err.retryability(), Retryability::PersistentAfterRetries);
    assert!(err.to_string().contains("longer than 1000 ms"), "{err}");
    assert_eq!(err.context().system.as_deref(), Some("erp"));
    assert_eq!(slow.stats().calls, 3);

    slow.put_all(data.orders.clone());
    let source = slow.clone().layer(
        TimeoutLayer::new(Duration::from_secs(60)).with_item_timeout(Duration::from_secs(1)),
    );
    let items: Vec<_> = Source::<Order>::read(&source, None).collect().await;
    assert_eq!(items.len(), 1);
    let err = items[0].as_ref().unwrap_err();
    assert!(err.is_retryable());
    assert!(
        err.to_string()
            .contains("no record within 1000 ms after 0 records"),
        "{err}"
    );
}

// ---- decisions driven by mocks ----

fn order_key(o: &Order) -> String {
    o.number.clone()
}

fn written(batch: &[Order]) -> Vec<WriteOutcome> {
    batch
        .iter()
        .map(|o| {
            WriteOutcome::new(
                o.key(),
                WriteResult::Created {
                    external_id: order_key(o),
                },
            )
        })
        .collect()
}

fn mock_sink() -> MockSink<Order> {
    let mut sink = MockSink::<Order>::new();
    sink.expect_system()
        .return_const(SystemId::new("mock").unwrap());
    sink.expect_capability().returning(|_| Capability::new());
    sink
}

#[tokio::test(start_paused = true)]
async fn only_temporarily_rejected_records_are_retried_and_alone() {
    let data = data(6);
    let batch = data.orders.clone();
    let (busy, bad) = (batch[1].key(), batch[4].key());
    let seen: Arc<Mutex<Vec<Vec<EntityKey>>>> = Arc::default();
    let mut sink = mock_sink();
    let log = Arc::clone(&seen);
    let (busy2, bad2) = (busy.clone(), bad.clone());
    sink.expect_upsert().times(2).returning(move |b: &[Order]| {
        let mut calls = log.lock().unwrap();
        calls.push(b.iter().map(Entity::key).collect());
        let first = calls.len() == 1;
        Ok(b.iter()
            .map(|o| {
                let result = if first && o.key() == busy2 {
                    WriteResult::rejected(Error::new(ErrorKind::Conflict, "row locked"))
                } else if o.key() == bad2 {
                    WriteResult::rejected(Error::invalid_data("no lines"))
                } else {
                    WriteResult::Created {
                        external_id: order_key(o),
                    }
                };
                WriteOutcome::new(o.key(), result)
            })
            .collect())
    });
    let layered = sink.layer(patient());
    let outcomes = layered.upsert(&batch).await.unwrap();
    assert_eq!(seen.lock().unwrap()[1], vec![busy.clone()], "retried alone");
    let keys: Vec<EntityKey> = outcomes.iter().map(|o| o.key.clone()).collect();
    assert_eq!(
        keys,
        batch.iter().map(Entity::key).collect::<Vec<_>>(),
        "batch order"
    );
    assert!(outcomes[1].result.is_ok());
    let permanent = outcomes[4].result.rejection().unwrap();
    assert_eq!(permanent.retryability(), Retryability::Permanent);
}

#[tokio::test(start_paused = true)]
async fn rejections_that_stay_temporary_end_persistent() {
    let data = data(3);
    let mut sink = mock_sink();
    sink.expect_upsert().times(3).returning(|b: &[Order]| {
        let mut out = written(b);
        out[0].result = WriteResult::rejected(Error::new(ErrorKind::Conflict, "row locked"));
        Ok(out)
    });
    let layered = sink.layer(RetryLayer::new(
        RetryOptions::default().with_max_attempts(3),
    ));
    let outcomes = layered.upsert(&data.orders).await.unwrap();
    let e = outcomes[0].result.rejection().unwrap();
    assert_eq!(e.retryability(), Retryability::PersistentAfterRetries);
    assert!(outcomes[1..].iter().all(|o| o.result.is_ok()));
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_fails_the_remaining_retries_fast() {
    let data = data(3);
    let mut sink = mock_sink();
    // Three failures open the breaker; the other seven attempts never reach the system.
    sink.expect_upsert()
        .times(3)
        .returning(|_| Err(Error::unavailable("connection refused")));
    let breaker = CircuitBreakerLayer::new(
        CircuitBreakerOptions::default()
            .with_failure_threshold(3)
            .with_cool_down(Duration::from_secs(3600)),
    );
    let layered = sink.layer(breaker.clone()).layer(RetryLayer::new(
        RetryOptions::default()
            .with_max_attempts(10)
            .with_delays(Duration::from_millis(1), Duration::from_millis(10)),
    ));
    let err = layered.upsert(&data.orders).await.unwrap_err();
    assert_eq!(breaker.state(), BreakerState::Open);
    assert!(err.message().contains("circuit breaker is open"), "{err}");
    assert_eq!(err.context().system.as_deref(), Some("mock"));
    assert_eq!(err.retryability(), Retryability::PersistentAfterRetries);
}

#[tokio::test(start_paused = true)]
async fn a_breaker_closes_after_a_good_probe() {
    let data = data(3);
    let mut sink = mock_sink();
    let mut seq = mockall::Sequence::new();
    sink.expect_upsert()
        .times(2)
        .in_sequence(&mut seq)
        .returning(|_| Err(Error::unavailable("down")));
    sink.expect_upsert()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|b: &[Order]| Ok(written(b)));
    let breaker = CircuitBreakerLayer::new(
        CircuitBreakerOptions::default()
            .with_failure_threshold(2)
            .with_cool_down(Duration::from_secs(5)),
    );
    let layered = sink.layer(breaker.clone());
    for _ in 0..2 {
        assert!(layered.upsert(&data.orders).await.is_err());
    }
    assert!(
        layered
            .upsert(&data.orders)
            .await
            .unwrap_err()
            .message()
            .contains("open")
    );
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(layered.upsert(&data.orders).await.unwrap().len(), 3);
    assert_eq!(breaker.state(), BreakerState::Closed);
}

fn record(o: &Order, n: usize) -> Record<Order> {
    Record::new(
        o.clone(),
        ExternalRef::new("mock", o.number.clone()),
        Cursor::new(format!("c{n}")),
        chrono::Utc::now(),
    )
}

#[tokio::test(start_paused = true)]
async fn a_source_mock_is_resumed_from_the_last_delivered_cursor() {
    let data = data(4);
    let orders = data.orders.clone();
    let mut source = MockSource::<Order>::new();
    source
        .expect_system()
        .return_const(SystemId::new("mock").unwrap());
    let first = orders.clone();
    source
        .expect_read()
        .withf(|since| since.is_none())
        .times(1)
        .returning(move |_| {
            let items = vec![
                Ok(record(&first[0], 0)),
                Ok(record(&first[1], 1)),
                Err(Error::unavailable("connection reset")),
            ];
            futures::stream::iter(items).boxed()
        });
    let rest = orders.clone();
    source
        .expect_read()
        .withf(|since| since.as_ref().map(Cursor::as_str) == Some("c1"))
        .times(1)
        .returning(move |_| {
            futures::stream::iter(vec![Ok(record(&rest[2], 2)), Ok(record(&rest[3], 3))]).boxed()
        });
    let layered = source.layer(patient());
    let got: Vec<String> = layered
        .read(None)
        .map_ok(|r| r.entity.number)
        .try_collect()
        .await
        .unwrap();
    let want: Vec<String> = orders.iter().map(|o| o.number.clone()).collect();
    assert_eq!(got, want);
}

// ---- metrics ----

/// Counters by name and label set, from a recorder local to the test's thread.
#[derive(Default)]
struct Counters(Mutex<HashMap<String, Arc<std::sync::atomic::AtomicU64>>>);

impl Counters {
    fn total(&self, name: &str, label: (&str, &str)) -> u64 {
        let needle = format!("{}={}", label.0, label.1);
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{name}{{")) && k.contains(&needle))
            .map(|(_, v)| v.load(std::sync::atomic::Ordering::Relaxed))
            .sum()
    }
}

impl metrics::Recorder for Counters {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }

    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        let cell = Arc::clone(self.0.lock().unwrap().entry(name).or_default());
        metrics::Counter::from_arc(cell)
    }

    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }

    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn metrics_count_records_retries_and_throttles() {
    let recorder = Counters::default();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let data = data(400);
    let erp = faulty(
        "erp",
        FaultOptions::none()
            .with_transient(200)
            .with_rate_limit(100, Some(Duration::from_millis(100))),
    );
    let sink = erp.clone().layer(patient()).layer(ObserveLayer::new());
    let mut invalid = data.orders[0].clone();
    invalid.lines.clear();
    let mut batch = data.orders[1..].to_vec();
    batch.push(invalid);
    for chunk in batch.chunks(100) {
        sink.upsert(chunk).await.unwrap();
    }
    let stats = erp.stats();
    let sys = ("system", "erp");
    assert_eq!(recorder.total(metric_names::RECORDS_WRITTEN, sys), 399);
    assert_eq!(recorder.total(metric_names::RECORDS_REJECTED, sys), 1);
    assert_eq!(
        recorder.total(metric_names::RETRIES, sys),
        stats.transient_errors + stats.rate_limited
    );
    assert_eq!(
        recorder.total(metric_names::THROTTLED, sys),
        stats.rate_limited
    );
    assert_eq!(recorder.total(metric_names::CALLS, ("outcome", "ok")), 4);

    erp.put_all(data.orders.clone());
    let source = erp.clone().layer(patient()).layer(ObserveLayer::new());
    let n = Source::<Order>::read(&source, None)
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .len();
    assert_eq!(recorder.total(metric_names::RECORDS_READ, sys), n as u64);
}

#[tokio::test]
async fn an_arc_dyn_sink_can_be_layered() {
    let data = data(3);
    let erp = system("erp", MemoryOptions::default());
    let shared: Arc<dyn Sink<Variant>> = Arc::new(erp.clone());
    let layered = shared.layer(ObserveLayer::new());
    let out = layered.upsert(&data.variants[..3]).await.unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(erp.len::<Variant>(), 3);
}

#[tokio::test(start_paused = true)]
async fn reads_are_paced_per_page_and_bounded_per_record() {
    let data = data(50);
    // 50 orders in pages of 10, each page fetch taking 0.5 s.
    let store = system(
        "store",
        MemoryOptions::default()
            .with_page_size(10)
            .with_faults(FaultOptions::none().with_latency(Duration::from_millis(500))),
    );
    store.put_all(data.orders.clone());
    let limit = RateLimitLayer::per_second(1);
    let source = store
        .clone()
        .layer(TimeoutLayer::new(Duration::from_secs(1)))
        .layer(limit.clone())
        .layer(ConcurrencyLimitLayer::new(1));
    let start = Instant::now();
    let n = Source::<Order>::read(&source, None)
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .len();
    assert_eq!(n, 50);
    // Five page fetches with a permit each (the first at once, then one per
    // second; 0.5 s of latency each, under the 1 s bound per record), plus
    // one permit spent at the 50th record, where a sixth page could start.
    assert_eq!(store.stats().calls, 5);
    assert_eq!(limit.waits(), 5);
    assert_eq!(start.elapsed(), Duration::from_secs(5));
}

#[tokio::test]
async fn a_sink_that_drops_outcomes_is_an_unexpected_error_not_a_retry() {
    let data = data(3);
    let mut sink = mock_sink();
    sink.expect_upsert()
        .times(1)
        .returning(|b: &[Order]| Ok(written(&b[..2])));
    let err = sink
        .layer(patient())
        .upsert(&data.orders)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unexpected);
    assert!(
        err.message().contains("2 outcomes for a batch of 3"),
        "{err}"
    );
    assert_eq!(err.context().entity.as_deref(), Some("order"));
}
