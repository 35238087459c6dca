//! Tracing spans and `metrics` counters per call.
//!
//! Metrics go to whatever recorder the application installed (Prometheus,
//! StatsD, ...); without one they cost next to nothing. Names are in
//! [`metric_names`]; every metric carries the `system` label, and the
//! per-entity ones the `entity` label.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tracing::Instrument;

use super::stream::Watch;
use super::{Layer, delegate_connector};
use crate::connector::{Connector, Cursor, Entity, RecordStream, Sink, Source, WriteOutcome};
use crate::error::{Error, Result};

/// The metric names the layers emit.
pub mod metric_names {
    /// Counter: calls (`op` = `read`/`upsert`, `outcome` = `ok` or the error kind).
    pub const CALLS: &str = "seamwork_calls_total";
    /// Histogram (seconds): duration of an upsert call, or of a whole read.
    pub const CALL_DURATION: &str = "seamwork_call_duration_seconds";
    /// Counter: records delivered by reads.
    pub const RECORDS_READ: &str = "seamwork_records_read_total";
    /// Counter: records created, updated or unchanged by upserts.
    pub const RECORDS_WRITTEN: &str = "seamwork_records_written_total";
    /// Counter: records rejected by upserts.
    pub const RECORDS_REJECTED: &str = "seamwork_records_rejected_total";
    /// Counter: retries (a second or later attempt of a call or of rejected records).
    pub const RETRIES: &str = "seamwork_retries_total";
    /// Counter: answers in which the server throttled us (`RateLimited`).
    pub const THROTTLED: &str = "seamwork_throttled_total";
    /// Counter: calls that waited for a rate-limit permit.
    pub const LIMITER_WAITS: &str = "seamwork_limiter_waits_total";
    /// Histogram (seconds): time spent waiting for rate-limit permits.
    pub const LIMITER_WAIT: &str = "seamwork_limiter_wait_seconds";
    /// Gauge: circuit breaker state (0 closed, 1 half-open, 2 open).
    pub const BREAKER_STATE: &str = "seamwork_circuit_breaker_state";
    /// Counter: circuit breaker transitions (`to` = `closed`/`half_open`/`open`).
    pub const BREAKER_TRANSITIONS: &str = "seamwork_circuit_breaker_transitions_total";
}

/// Counts a wait for a rate-limit permit (nothing when there was no wait).
pub(crate) fn count_limiter_wait(system: &str, waited: Duration) {
    if !waited.is_zero() {
        metrics::counter!(metric_names::LIMITER_WAITS, "system" => system.to_string()).increment(1);
        metrics::histogram!(metric_names::LIMITER_WAIT, "system" => system.to_string())
            .record(waited);
    }
}

/// Counts one retry of `op`, and a throttle when the error was a rate limit.
pub(crate) fn count_retry(system: &str, entity: &'static str, op: &'static str, err: &Error) {
    metrics::counter!(metric_names::RETRIES, "system" => system.to_string(), "entity" => entity, "op" => op)
        .increment(1);
    count_throttle(system, entity, err);
}

/// Counts a server throttle when `err` is a rate limit.
pub(crate) fn count_throttle(system: &str, entity: &'static str, err: &Error) {
    if matches!(err.kind(), crate::ErrorKind::RateLimited { .. }) {
        metrics::counter!(metric_names::THROTTLED, "system" => system.to_string(), "entity" => entity)
            .increment(1);
    }
}

fn outcome_label(error: Option<&Error>) -> &'static str {
    error.map_or("ok", |e| e.kind().name())
}

/// Adds a tracing span per call and `metrics` counters.
///
/// The span (`seamwork.upsert` / `seamwork.read`) carries `system`, `entity`,
/// `batch_size` (or `since`), then `outcome`, `written`/`rejected` or `records`.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct ObserveLayer;

impl ObserveLayer {
    /// Spans and counters with the default names.
    pub fn new() -> Self {
        ObserveLayer
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Output = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner: Arc::new(inner),
        }
    }
}

/// A connector behind an [`ObserveLayer`].
pub struct Observe<S> {
    inner: Arc<S>,
}

delegate_connector!(Observe);

#[async_trait]
impl<E: Entity, S: Sink<E>> Sink<E> for Observe<S> {
    async fn upsert(&self, batch: &[E]) -> Result<Vec<WriteOutcome>> {
        let system = self.inner.system().as_str().to_string();
        let entity = E::KIND.name();
        let span = tracing::info_span!(
            "seamwork.upsert",
            system = %system,
            entity,
            batch_size = batch.len(),
            outcome = tracing::field::Empty,
            written = tracing::field::Empty,
            rejected = tracing::field::Empty,
        );
        let started = tokio::time::Instant::now();
        let result = self.inner.upsert(batch).instrument(span.clone()).await;
        let outcome = outcome_label(result.as_ref().err());
        span.record("outcome", outcome);
        metrics::counter!(metric_names::CALLS, "system" => system.clone(), "entity" => entity, "op" => "upsert", "outcome" => outcome).increment(1);
        metrics::histogram!(metric_names::CALL_DURATION, "system" => system.clone(), "entity" => entity, "op" => "upsert")
            .record(started.elapsed());
        match &result {
            Ok(outcomes) => {
                let rejected = outcomes.iter().filter(|o| !o.result.is_ok()).count();
                let written = outcomes.len() - rejected;
                span.record("written", written);
                span.record("rejected", rejected);
                metrics::counter!(metric_names::RECORDS_WRITTEN, "system" => system.clone(), "entity" => entity)
                    .increment(written as u64);
                metrics::counter!(metric_names::RECORDS_REJECTED, "system" => system, "entity" => entity)
                    .increment(rejected as u64);
                if rejected > 0 {
                    tracing::warn!(parent: &span, rejected, "records rejected");
                }
            }
            Err(e) => tracing::warn!(parent: &span, error = %e, "upsert failed"),
        }
        result
    }
}

impl<E: Entity, S: Source<E> + 'static> Source<E> for Observe<S> {
    fn read(&self, since: Option<Cursor>) -> RecordStream<E> {
        let system = self.inner.system().as_str().to_string();
        let entity = E::KIND.name();
        let span = tracing::info_span!(
            "seamwork.read",
            system = %system,
            entity,
            since = since.as_ref().map(Cursor::as_str),
            outcome = tracing::field::Empty,
            records = tracing::field::Empty,
        );
        let stream = self.inner.read(since);
        let started = tokio::time::Instant::now();
        // Registered once per read, so counting a record allocates nothing.
        let read_counter = metrics::counter!(metric_names::RECORDS_READ, "system" => system.clone(), "entity" => entity);
        let mut records = 0u64;
        let mut finished = false;
        let hook_span = span.clone();
        Watch::boxed(stream, span, move |item| {
            let error = match item {
                Some(Ok(_)) => {
                    records += 1;
                    read_counter.increment(1);
                    return;
                }
                _ if finished => return,
                Some(Err(e)) => Some(e),
                None => None,
            };
            finished = true;
            let outcome = outcome_label(error);
            hook_span.record("outcome", outcome);
            hook_span.record("records", records);
            if let Some(e) = error {
                tracing::warn!(parent: &hook_span, error = %e, records, "read failed");
            }
            metrics::counter!(metric_names::CALLS, "system" => system.clone(), "entity" => entity, "op" => "read", "outcome" => outcome).increment(1);
            metrics::histogram!(metric_names::CALL_DURATION, "system" => system.clone(), "entity" => entity, "op" => "read")
                .record(started.elapsed());
        })
    }
}
