//! A circuit breaker: stop calling a system that keeps failing, probe it after a cool-down.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::observe::metric_names;
use super::stream::Watch;
use super::{Layer, about, delegate_connector};
use crate::connector::{Connector, Cursor, Entity, RecordStream, Sink, Source, WriteOutcome};
use crate::error::{Error, ErrorKind, Result};

/// When a [`CircuitBreakerLayer`] opens and when it probes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CircuitBreakerOptions {
    /// Temporary failures in a row that open the breaker (at least 1).
    pub failure_threshold: u32,
    /// How long it stays open before one probe call is let through.
    pub cool_down: Duration,
}

impl Default for CircuitBreakerOptions {
    fn default() -> Self {
        CircuitBreakerOptions {
            failure_threshold: 5,
            cool_down: Duration::from_secs(30),
        }
    }
}

impl CircuitBreakerOptions {
    /// Sets the failures in a row that open the breaker (at least 1).
    pub fn with_failure_threshold(mut self, n: u32) -> Self {
        self.failure_threshold = n.max(1);
        self
    }

    /// Sets the cool-down before a probe.
    pub fn with_cool_down(mut self, cool_down: Duration) -> Self {
        self.cool_down = cool_down;
        self
    }
}

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BreakerState {
    /// Calls pass; failures in a row are counted.
    Closed,
    /// Calls fail fast until the cool-down has passed.
    Open,
    /// One probe call is in flight; its outcome closes or reopens the breaker.
    HalfOpen,
}

impl BreakerState {
    fn name(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    fn code(self) -> u32 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        }
    }
}

struct Machine {
    state: BreakerState,
    failures: u32,
    opened_at: Instant,
    probing: bool,
}

struct Shared {
    options: CircuitBreakerOptions,
    machine: Mutex<Machine>,
}

/// Opens after `failure_threshold` temporary failures in a row; while open,
/// calls fail fast with a temporary `Unavailable` error naming the system;
/// after `cool_down` one probe call goes through and closes it again on
/// success or reopens it on failure.
///
/// Only temporary failures of the system count: a rate limit (the system is
/// up and said when to come back), a permanent error (it answered) and a
/// rejected record do not. Clones share the state, so the source and the sink
/// of one system can share one breaker.
#[derive(Clone)]
pub struct CircuitBreakerLayer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for CircuitBreakerLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreakerLayer")
            .field("options", &self.shared.options)
            .field("state", &self.state())
            .finish()
    }
}

impl Default for CircuitBreakerLayer {
    fn default() -> Self {
        CircuitBreakerLayer::new(CircuitBreakerOptions::default())
    }
}

/// Permission for one call; reports its outcome to the breaker. Dropped
/// without an outcome (the call was cancelled), it frees the probe slot.
struct Ticket {
    shared: Arc<Shared>,
    probe: bool,
    system: String,
    done: bool,
}

impl Ticket {
    fn finish(mut self, error: Option<&Error>) {
        self.done = true;
        let counts = error.is_some_and(|e| {
            e.is_retryable() && !matches!(e.kind(), ErrorKind::RateLimited { .. })
        });
        let mut m = self.shared.lock();
        let before = m.state;
        if counts {
            m.failures = m.failures.saturating_add(1);
            if m.state == BreakerState::HalfOpen
                || m.failures >= self.shared.options.failure_threshold
            {
                m.state = BreakerState::Open;
                m.opened_at = Instant::now();
            }
        } else {
            m.failures = 0;
            m.state = BreakerState::Closed;
        }
        if self.probe {
            m.probing = false;
        }
        let after = m.state;
        drop(m);
        transition(&self.system, before, after);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.probe && !self.done {
            self.shared.lock().probing = false;
        }
    }
}

fn transition(system: &str, before: BreakerState, after: BreakerState) {
    if before == after {
        return;
    }
    tracing::info!(
        system,
        from = before.name(),
        to = after.name(),
        "circuit breaker"
    );
    metrics::counter!(metric_names::BREAKER_TRANSITIONS, "system" => system.to_string(), "to" => after.name())
        .increment(1);
    metrics::gauge!(metric_names::BREAKER_STATE, "system" => system.to_string()).set(after.code());
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Machine> {
        // The machine is a few integers updated whole: a panic elsewhere leaves it consistent.
        self.machine.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl CircuitBreakerLayer {
    /// A closed breaker with `options`.
    pub fn new(options: CircuitBreakerOptions) -> Self {
        CircuitBreakerLayer {
            shared: Arc::new(Shared {
                options,
                machine: Mutex::new(Machine {
                    state: BreakerState::Closed,
                    failures: 0,
                    opened_at: Instant::now(),
                    probing: false,
                }),
            }),
        }
    }

    /// The current state (an open breaker whose cool-down has passed reads
    /// `Open` until the next call probes).
    pub fn state(&self) -> BreakerState {
        self.shared.lock().state
    }

    /// Asks to make a call; an error when the breaker is open (or half-open
    /// with its probe in flight).
    fn admit(&self, system: &str) -> Result<Ticket> {
        let mut m = self.shared.lock();
        let before = m.state;
        let probe = match m.state {
            BreakerState::Closed => false,
            BreakerState::Open => {
                let open_for = m.opened_at.elapsed();
                if open_for < self.shared.options.cool_down {
                    let wait = self.shared.options.cool_down - open_for;
                    return Err(Error::unavailable(format!(
                        "circuit breaker is open after {} temporary failures in a row; \
                         next probe in {} ms",
                        m.failures,
                        wait.as_millis()
                    )));
                }
                m.state = BreakerState::HalfOpen;
                m.probing = true;
                true
            }
            BreakerState::HalfOpen if m.probing => {
                return Err(Error::unavailable(
                    "circuit breaker is half-open and its probe call is still running",
                ));
            }
            BreakerState::HalfOpen => {
                m.probing = true;
                true
            }
        };
        // The state this call moved to, read under the same lock.
        let after = m.state;
        drop(m);
        transition(system, before, after);
        Ok(Ticket {
            shared: Arc::clone(&self.shared),
            probe,
            system: system.to_string(),
            done: false,
        })
    }
}

impl<S> Layer<S> for CircuitBreakerLayer {
    type Output = CircuitBreaker<S>;

    fn layer(&self, inner: S) -> CircuitBreaker<S> {
        CircuitBreaker {
            inner: Arc::new(inner),
            breaker: self.clone(),
        }
    }
}

/// A connector behind a [`CircuitBreakerLayer`].
pub struct CircuitBreaker<S> {
    inner: Arc<S>,
    breaker: CircuitBreakerLayer,
}

delegate_connector!(CircuitBreaker);

#[async_trait]
impl<E: Entity, S: Sink<E>> Sink<E> for CircuitBreaker<S> {
    async fn upsert(&self, batch: &[E]) -> Result<Vec<WriteOutcome>> {
        let ticket = self
            .breaker
            .admit(self.inner.system().as_str())
            .map_err(|e| about::<E>(&self.inner, e))?;
        let result = self.inner.upsert(batch).await;
        ticket.finish(result.as_ref().err());
        result
    }
}

/// A read admitted by the breaker reports its first outcome: the first
/// record (the system answered), the clean end, or the error.
impl<E: Entity, S: Source<E> + 'static> Source<E> for CircuitBreaker<S> {
    fn read(&self, since: Option<Cursor>) -> RecordStream<E> {
        let ticket = match self.breaker.admit(self.inner.system().as_str()) {
            Ok(t) => t,
            Err(e) => return futures::stream::iter([Err(about::<E>(&self.inner, e))]).boxed(),
        };
        let mut ticket = Some(ticket);
        Watch::boxed(self.inner.read(since), tracing::Span::none(), move |item| {
            if let Some(t) = ticket.take() {
                t.finish(item.and_then(|i| i.as_ref().err()));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(threshold: u32) -> CircuitBreakerLayer {
        CircuitBreakerLayer::new(
            CircuitBreakerOptions::default()
                .with_failure_threshold(threshold)
                .with_cool_down(Duration::from_secs(10)),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_failures_in_a_row_and_probes_after_cool_down() {
        let b = breaker(3);
        let down = Error::unavailable("down");
        for _ in 0..2 {
            b.admit("erp").unwrap().finish(Some(&down));
        }
        assert_eq!(b.state(), BreakerState::Closed);
        // A success in between starts the count again.
        b.admit("erp").unwrap().finish(None);
        for _ in 0..3 {
            b.admit("erp").unwrap().finish(Some(&down));
        }
        assert_eq!(b.state(), BreakerState::Open);
        let err = b.admit("erp").err().unwrap();
        assert_eq!(err.kind(), &ErrorKind::Unavailable);
        assert!(err.message().contains("open after 3"), "{err}");

        tokio::time::advance(Duration::from_secs(10)).await;
        let probe = b.admit("erp").unwrap();
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.admit("erp").is_err(), "one probe at a time");
        probe.finish(Some(&down));
        assert_eq!(b.state(), BreakerState::Open, "a failed probe reopens");

        tokio::time::advance(Duration::from_secs(10)).await;
        b.admit("erp").unwrap().finish(None);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_errors_and_rate_limits_do_not_open_it() {
        let b = breaker(1);
        b.admit("erp")
            .unwrap()
            .finish(Some(&Error::invalid_data("bad")));
        b.admit("erp")
            .unwrap()
            .finish(Some(&Error::rate_limited(None, "slow down")));
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_probe_frees_the_probe_slot() {
        let b = breaker(1);
        b.admit("erp")
            .unwrap()
            .finish(Some(&Error::unavailable("down")));
        tokio::time::advance(Duration::from_secs(10)).await;
        drop(b.admit("erp").unwrap());
        assert!(b.admit("erp").is_ok());
    }
}
