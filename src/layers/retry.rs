//! Retries of temporary failures with exponential back-off and jitter (`backon`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::observe::count_retry;
use super::{Layer, about, delegate_connector};
use crate::connector::{
    Connector, Cursor, Entity, RecordStream, Sink, Source, WriteOutcome, WriteResult,
};
use crate::error::{Error, ErrorKind, Result};

/// How a [`RetryLayer`] retries.
///
/// The `n`-th retry waits `min(min_delay · 2ⁿ⁻¹, max_delay)`, plus up to as
/// much again of random jitter, or the server's `retry_after` when that is
/// longer. After `max_attempts` calls the last error is returned marked
/// [`Retryability::PersistentAfterRetries`](crate::Retryability::PersistentAfterRetries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RetryOptions {
    /// Calls in total, the first included (at least 1; 1 = never retry).
    pub max_attempts: u32,
    /// Wait before the first retry.
    pub min_delay: Duration,
    /// Longest back-off step (jitter may add up to as much again).
    pub max_delay: Duration,
    /// Adds random jitter so that many clients do not retry in step.
    pub jitter: bool,
    /// Seeds the jitter (reproducible runs); `None` seeds from the OS.
    pub jitter_seed: Option<u64>,
    /// A `retry_after` longer than this is not waited for: the error is
    /// returned at once, marked persistent-after-retries.
    pub max_retry_after: Duration,
}

impl Default for RetryOptions {
    fn default() -> Self {
        RetryOptions {
            max_attempts: 5,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
            jitter: true,
            jitter_seed: None,
            max_retry_after: Duration::from_secs(600),
        }
    }
}

impl RetryOptions {
    /// Sets the number of calls in total (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the first and the longest back-off step.
    pub fn with_delays(mut self, min_delay: Duration, max_delay: Duration) -> Self {
        self.min_delay = min_delay;
        self.max_delay = max_delay.max(min_delay);
        self
    }

    /// Turns jitter on or off.
    pub fn with_jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// Seeds the jitter.
    pub fn with_jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = Some(seed);
        self
    }

    /// Sets the longest `retry_after` that is waited for.
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// The back-off steps, one per retry (`max_attempts - 1` of them); never
    /// above `max_delay` (twice that with jitter).
    pub fn backoff(&self) -> impl Iterator<Item = Duration> + Send + use<> {
        let cap = self.step_cap();
        self.builder().build().map(move |d| d.min(cap))
    }

    /// backon multiplies with a float factor, which can overshoot by a few
    /// nanoseconds; steps are clamped to the documented bound.
    fn step_cap(&self) -> Duration {
        let max = self.max_delay.max(self.min_delay);
        if self.jitter {
            max.saturating_mul(2)
        } else {
            max
        }
    }

    fn builder(&self) -> ExponentialBuilder {
        let mut b = ExponentialBuilder::new()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay.max(self.min_delay))
            .with_max_times(self.max_attempts.saturating_sub(1) as usize);
        if self.jitter {
            b = b.with_jitter();
            if let Some(seed) = self.jitter_seed {
                b = b.with_jitter_seed(seed);
            }
        }
        b
    }

    /// The wait before retrying after `err`, or `None` when retrying is over
    /// (attempts used up, or the server asked for a longer wait than allowed).
    fn next_wait(&self, backoff: &mut ExponentialBackoff, err: &Error) -> Option<Duration> {
        let step = backoff.next()?.min(self.step_cap());
        honour_retry_after(step, err.retry_after(), self.max_retry_after)
    }
}

/// The wait before a retry: the backoff `step`, or the server's longer
/// `Retry-After`; `None` when the server asks for more than `max` (retrying
/// sooner would only be throttled again). Shared by the retry layer and the
/// sync engine.
pub(crate) fn honour_retry_after(
    step: Duration,
    retry_after: Option<Duration>,
    max: Duration,
) -> Option<Duration> {
    match retry_after {
        Some(asked) if asked > max => None,
        Some(asked) => Some(step.max(asked)),
        None => Some(step),
    }
}

/// Retries temporary failures (see [`RetryOptions`]); permanent ones pass at once.
///
/// - Sink: a whole-call `Err` retries the batch (upserts are idempotent); a
///   record rejected with a temporary error is retried on its own, with the
///   other such records; permanent rejections are returned as they are.
/// - Source: a stream error resumes the read from the cursor of the last
///   record delivered (or from the original `since`), so nothing is skipped
///   and nothing delivered is repeated. Attempts count failures in a row;
///   a delivered record starts the count again.
#[derive(Debug, Clone, Default)]
pub struct RetryLayer {
    options: RetryOptions,
}

impl RetryLayer {
    /// A retry layer with `options`.
    pub fn new(options: RetryOptions) -> Self {
        RetryLayer { options }
    }

    /// The options.
    pub fn options(&self) -> &RetryOptions {
        &self.options
    }
}

impl<S> Layer<S> for RetryLayer {
    type Output = Retry<S>;

    fn layer(&self, inner: S) -> Retry<S> {
        Retry {
            inner: Arc::new(inner),
            options: Arc::new(self.options.clone()),
        }
    }
}

/// A connector behind a [`RetryLayer`].
pub struct Retry<S> {
    inner: Arc<S>,
    options: Arc<RetryOptions>,
}

delegate_connector!(Retry);

impl<S: Connector> Retry<S> {
    /// Waits before the next retry after `err`; `false` when retrying is over.
    async fn wait(
        &self,
        backoff: &mut ExponentialBackoff,
        err: &Error,
        entity: &'static str,
        op: &'static str,
    ) -> bool {
        wait_to_retry(
            &self.options,
            self.inner.system().as_str(),
            backoff,
            err,
            entity,
            op,
        )
        .await
    }
}

async fn wait_to_retry(
    options: &RetryOptions,
    system: &str,
    backoff: &mut ExponentialBackoff,
    err: &Error,
    entity: &'static str,
    op: &'static str,
) -> bool {
    let Some(wait) = options.next_wait(backoff, err) else {
        return false;
    };
    count_retry(system, entity, op, err);
    tracing::debug!(system, entity, op, wait_ms = wait.as_millis() as u64, error = %err, "retrying");
    tokio::time::sleep(wait).await;
    true
}

/// The temporary error among rejections that asks for the longest wait.
fn longest_wait<'a>(errors: impl Iterator<Item = &'a Error>) -> Option<Error> {
    errors.max_by_key(|e| e.retry_after()).cloned()
}

#[async_trait]
impl<E: Entity, S: Sink<E>> Sink<E> for Retry<S> {
    async fn upsert(&self, batch: &[E]) -> Result<Vec<WriteOutcome>> {
        let mut backoff = self.options.builder().build();
        let mut settled: Vec<Option<WriteOutcome>> = vec![None; batch.len()];
        let mut pending: Vec<usize> = (0..batch.len()).collect();
        loop {
            let subset: Vec<E>;
            let attempt: &[E] = if pending.len() == batch.len() {
                batch
            } else {
                subset = pending.iter().map(|&i| batch[i].clone()).collect();
                &subset
            };
            let failure = match self.inner.upsert(attempt).await {
                Err(e) if !e.is_retryable() => {
                    return finish_with_call_error(batch, settled, &pending, e);
                }
                Err(e) => e,
                Ok(outcomes) => {
                    if outcomes.len() != attempt.len() {
                        let err = Error::new(
                            ErrorKind::Unexpected,
                            format!(
                                "sink answered {} outcomes for a batch of {} records",
                                outcomes.len(),
                                attempt.len(),
                            ),
                        );
                        return Err(about::<E>(&self.inner, err));
                    }
                    let mut still = Vec::new();
                    for (&i, outcome) in pending.iter().zip(outcomes) {
                        if outcome.result.rejection().is_some_and(Error::is_retryable) {
                            still.push(i);
                        }
                        settled[i] = Some(outcome);
                    }
                    pending = still;
                    let temporary = pending
                        .iter()
                        .filter_map(|&i| settled[i].as_ref()?.result.rejection());
                    match longest_wait(temporary) {
                        None => return Ok(settled.into_iter().flatten().collect()),
                        Some(e) => e,
                    }
                }
            };
            if !self
                .wait(&mut backoff, &failure, E::KIND.name(), "upsert")
                .await
            {
                return finish_with_call_error(
                    batch,
                    settled,
                    &pending,
                    failure.retries_exhausted(),
                );
            }
        }
    }
}

/// Ends a sink call that failed as a whole. When no record has an outcome
/// yet, the error is the answer; otherwise every pending record is rejected
/// with it (its own temporary rejection, when it had one, marked exhausted).
fn finish_with_call_error<E: Entity>(
    batch: &[E],
    mut settled: Vec<Option<WriteOutcome>>,
    pending: &[usize],
    err: Error,
) -> Result<Vec<WriteOutcome>> {
    if settled.iter().all(Option::is_none) {
        return Err(err);
    }
    for &i in pending {
        let reason = match settled[i].as_ref().and_then(|o| o.result.rejection()) {
            Some(own) => own.clone().retries_exhausted(),
            None => err.clone(),
        };
        settled[i] = Some(WriteOutcome::new(
            batch[i].key(),
            WriteResult::rejected(reason),
        ));
    }
    Ok(settled.into_iter().flatten().collect())
}

impl<E: Entity, S: Source<E> + 'static> Source<E> for Retry<S> {
    fn read(&self, since: Option<Cursor>) -> RecordStream<E> {
        struct State<S, E> {
            inner: Arc<S>,
            options: Arc<RetryOptions>,
            stream: RecordStream<E>,
            resume: Option<Cursor>,
            backoff: Option<ExponentialBackoff>,
            done: bool,
        }
        let state = State {
            stream: self.inner.read(since.clone()),
            inner: Arc::clone(&self.inner),
            options: Arc::clone(&self.options),
            resume: since,
            backoff: None,
            done: false,
        };
        futures::stream::unfold(state, |mut st| async move {
            if st.done {
                return None;
            }
            loop {
                match st.stream.next().await? {
                    Ok(record) => {
                        st.resume = Some(record.cursor.clone());
                        st.backoff = None; // progress: the count starts again
                        return Some((Ok(record), st));
                    }
                    Err(e) if e.is_retryable() => {
                        let backoff = st
                            .backoff
                            .get_or_insert_with(|| st.options.builder().build());
                        let system = st.inner.system().as_str().to_string();
                        if wait_to_retry(&st.options, &system, backoff, &e, E::KIND.name(), "read")
                            .await
                        {
                            st.stream = st.inner.read(st.resume.clone());
                            continue;
                        }
                        st.done = true;
                        return Some((Err(e.retries_exhausted()), st));
                    }
                    Err(e) => {
                        st.done = true;
                        return Some((Err(e), st));
                    }
                }
            }
        })
        .boxed()
    }
}
