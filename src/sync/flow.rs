//! A flow: one entity moving from a source to a sink, with an owner, a
//! failure policy and an SLA that cannot be left out.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use serde::{Deserialize, Serialize};

use crate::connector::{Entity, Sink, Source};
use crate::error::{Error, Result};

/// Who answers for a flow: the team, how to reach them, what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Owner {
    /// The owning team (`erp-integration`).
    pub team: String,
    /// How to reach them (an address, a pager alias, a channel).
    pub contact: String,
    /// Where the runbook for this flow lives, if anywhere.
    pub runbook: Option<String>,
}

impl Owner {
    /// An owner; `team` and `contact` must not be blank.
    pub fn new(team: impl Into<String>, contact: impl Into<String>) -> Self {
        Owner {
            team: team.into(),
            contact: contact.into(),
            runbook: None,
        }
    }

    /// Adds the runbook link.
    pub fn with_runbook(mut self, link: impl Into<String>) -> Self {
        self.runbook = Some(link.into());
        self
    }
}

/// How temporary failures are retried before they count as persistent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    /// The first backoff delay; it doubles each attempt, with jitter.
    pub initial_delay: Duration,
    /// The largest backoff delay (a server's `Retry-After` may ask for more
    /// and is honoured up to `max_retry_after`).
    pub max_delay: Duration,
    /// The longest `Retry-After` the flow will wait. A longer one ends the
    /// retrying at once: a throttled call or record stops the run without
    /// acknowledging its batch (nothing is dead-lettered for throttling),
    /// so a flow never sleeps for hours inside a run; the next run retries.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy with `max_attempts` attempts and the default delays.
    pub fn attempts(max_attempts: u32) -> Self {
        RetryPolicy {
            max_attempts,
            ..RetryPolicy::default()
        }
    }

    /// Sets the backoff range.
    pub fn with_delays(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_delay = initial;
        self.max_delay = max;
        self
    }

    /// The delays between attempts: exponential with jitter, via `backon`.
    pub(crate) fn delays(&self) -> impl Iterator<Item = Duration> + use<> {
        ExponentialBuilder::default()
            .with_min_delay(self.initial_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .with_jitter()
            .build()
    }
}

/// What a record that failed for good does to the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OnPermanentFailure {
    /// Park it in the dead-letter queue and go on (the usual choice).
    DeadLetter,
    /// Stop the flow before that record; the checkpoint stays in front of it
    /// until a person acts. Nothing past a record known to be bad before the
    /// write (map step, validation) is written; when the *sink* refuses a
    /// record, the rest of its chunk was already written (and is recorded as
    /// delivered), but the checkpoint still stops in front of it.
    Halt,
    /// Skip it, alert the owner with the record's key and error, go on.
    SkipAndAlert,
}

/// The answer to "what happens when it fails?".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FailurePolicy {
    /// Retries for temporary errors (whole calls and single records).
    pub retry: RetryPolicy,
    /// What a permanent failure of one record does.
    pub on_permanent: OnPermanentFailure,
    /// Halt the flow when more than this share (per mille) of a run's
    /// records went to the dead-letter queue: a broken mapping should stop,
    /// not fill the queue.
    pub max_dead_letter_per_mille: Option<u32>,
    /// Records a run must have processed before the rate above is judged.
    pub dead_letter_rate_min_records: u64,
}

impl FailurePolicy {
    /// Dead-letter permanent failures and go on; halt when more than
    /// `max_per_mille` ‰ of a run's records (after the first 100) fail.
    pub fn dead_letter(max_per_mille: u32) -> Self {
        FailurePolicy {
            retry: RetryPolicy::default(),
            on_permanent: OnPermanentFailure::DeadLetter,
            max_dead_letter_per_mille: Some(max_per_mille),
            dead_letter_rate_min_records: 100,
        }
    }

    /// Halt on the first permanent failure.
    pub fn halt() -> Self {
        FailurePolicy {
            retry: RetryPolicy::default(),
            on_permanent: OnPermanentFailure::Halt,
            max_dead_letter_per_mille: None,
            dead_letter_rate_min_records: 0,
        }
    }

    /// Skip permanent failures and alert the owner about each.
    pub fn skip_and_alert() -> Self {
        FailurePolicy {
            retry: RetryPolicy::default(),
            on_permanent: OnPermanentFailure::SkipAndAlert,
            max_dead_letter_per_mille: None,
            dead_letter_rate_min_records: 0,
        }
    }

    /// Replaces the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

/// The promise a flow makes: a change in the source reaches the sink within
/// `max_lag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Sla {
    /// The longest acceptable time from a change in the source to its write.
    pub max_lag: Duration,
}

impl Sla {
    /// An SLA of `max_lag`.
    pub fn max_lag(max_lag: Duration) -> Self {
        Sla { max_lag }
    }
}

/// Tuning that has sane defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FlowOptions {
    /// Records per batch (cut further to the sink's `max_batch`).
    pub batch_size: usize,
    /// How far before the checkpoint a run starts reading, for sources whose
    /// `(updated_at, id)` order can be broken by late commits. Only applied
    /// to time|id cursors; the per-key versions make the overlap harmless.
    pub lookback: Duration,
}

impl Default for FlowOptions {
    fn default() -> Self {
        FlowOptions {
            batch_size: 250,
            lookback: Duration::ZERO,
        }
    }
}

/// A per-record step between source and sink (mapping through
/// cross-references, a business rule); an `Err` is a permanent failure of
/// that record.
pub type MapStep<E> = Arc<dyn Fn(E) -> Result<E> + Send + Sync>;

/// One entity moving from a source to a sink. Built by [`FlowBuilder`].
pub struct Flow<E: Entity> {
    pub(crate) name: String,
    pub(crate) owner: Owner,
    pub(crate) policy: FailurePolicy,
    pub(crate) sla: Sla,
    pub(crate) source: Arc<dyn Source<E>>,
    pub(crate) sink: Arc<dyn Sink<E>>,
    pub(crate) map: Option<MapStep<E>>,
    pub(crate) options: FlowOptions,
}

impl<E: Entity> fmt::Debug for Flow<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flow")
            .field("name", &self.name)
            .field("entity", &E::KIND)
            .field("source", &self.source.system())
            .field("sink", &self.sink.system())
            .field("owner", &self.owner)
            .field("policy", &self.policy)
            .field("sla", &self.sla)
            .field("options", &self.options)
            .finish()
    }
}

impl<E: Entity> Flow<E> {
    /// Starts a flow named `name` (unique per store: checkpoints and dead
    /// letters are filed under it).
    pub fn builder(
        name: impl Into<String>,
        source: Arc<dyn Source<E>>,
        sink: Arc<dyn Sink<E>>,
    ) -> FlowBuilder<E> {
        FlowBuilder {
            name: name.into(),
            source,
            sink,
            owner: None,
            policy: None,
            sla: None,
            map: None,
            options: FlowOptions::default(),
        }
    }

    /// The flow's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Who owns it.
    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    /// Its failure policy.
    pub fn policy(&self) -> &FailurePolicy {
        &self.policy
    }

    /// Its SLA.
    pub fn sla(&self) -> Sla {
        self.sla
    }

    /// Its options.
    pub fn options(&self) -> &FlowOptions {
        &self.options
    }
}

/// Builds a [`Flow`]; [`build`](FlowBuilder::build) refuses a flow without an
/// owner, a failure policy and an SLA.
pub struct FlowBuilder<E: Entity> {
    name: String,
    source: Arc<dyn Source<E>>,
    sink: Arc<dyn Sink<E>>,
    owner: Option<Owner>,
    policy: Option<FailurePolicy>,
    sla: Option<Sla>,
    map: Option<MapStep<E>>,
    options: FlowOptions,
}

impl<E: Entity> FlowBuilder<E> {
    /// Who owns the flow (required).
    pub fn owner(mut self, owner: Owner) -> Self {
        self.owner = Some(owner);
        self
    }

    /// What happens when it fails (required).
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// The lag it promises (required).
    pub fn sla(mut self, sla: Sla) -> Self {
        self.sla = Some(sla);
        self
    }

    /// A per-record step between source and sink.
    pub fn map(mut self, step: impl Fn(E) -> Result<E> + Send + Sync + 'static) -> Self {
        self.map = Some(Arc::new(step));
        self
    }

    /// Replaces the options.
    pub fn options(mut self, options: FlowOptions) -> Self {
        self.options = options;
        self
    }

    /// The flow, or one `Config` error listing everything missing or wrong.
    pub fn build(self) -> Result<Flow<E>> {
        let mut problems = Vec::new();
        if self.name.trim().is_empty() {
            problems.push("the flow has no name".to_string());
        }
        match &self.owner {
            None => problems.push("no owner: who answers when this flow fails?".to_string()),
            Some(o) if o.team.trim().is_empty() || o.contact.trim().is_empty() => {
                problems.push("the owner needs a team and a contact".to_string())
            }
            Some(_) => {}
        }
        match &self.policy {
            None => problems.push("no failure policy: what happens when a record fails?".into()),
            Some(p) if p.retry.max_attempts == 0 => {
                problems.push("the retry policy needs at least one attempt".to_string())
            }
            Some(_) => {}
        }
        match &self.sla {
            None => problems.push("no SLA: how late may a change arrive?".to_string()),
            Some(s) if s.max_lag.is_zero() => problems.push("the SLA's max lag is zero".into()),
            Some(_) => {}
        }
        if self.options.batch_size == 0 {
            problems.push("batch_size is zero".to_string());
        }
        let (Some(owner), Some(policy), Some(sla), true) =
            (self.owner, self.policy, self.sla, problems.is_empty())
        else {
            return Err(Error::config(format!(
                "flow `{}` ({}) cannot be built: {}",
                self.name,
                E::KIND,
                problems.join("; ")
            )));
        };
        Ok(Flow {
            name: self.name,
            owner,
            policy,
            sla,
            source: self.source,
            sink: self.sink,
            map: self.map,
            options: self.options,
        })
    }
}
