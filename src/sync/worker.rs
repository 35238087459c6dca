//! Several workers sharing flows: each flow runs under a lease, so only one
//! worker runs it at a time, and a worker that dies is replaced once its
//! lease lapses.
//!
//! A [`Worker`] makes passes over the flows it was given. For each flow it
//! tries to take the flow's lease; if another worker holds it, it moves on.
//! While it runs a flow it renews the lease; if a renewal fails (another
//! worker took over after a pause), the run is dropped at once — safe,
//! because every batch is committed atomically — and every commit is fenced
//! by the lease's token, so a stale worker can never move the checkpoint.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use futures::future::{self, Either};
use serde::{Deserialize, Serialize};

use super::engine::{Engine, RunReport};
use super::flow::Flow;
use crate::connector::Entity;
use crate::error::{Error, Result};
use crate::store::Lease;

/// A flow a worker can run without knowing its entity type.
#[async_trait]
pub trait RunnableFlow: Send + Sync {
    /// The flow's name (also its lease name).
    fn name(&self) -> &str;

    /// One run on `engine`.
    async fn run(&self, engine: &Engine) -> Result<RunReport>;
}

#[async_trait]
impl<E: Entity> RunnableFlow for Flow<E> {
    fn name(&self) -> &str {
        Flow::name(self)
    }

    async fn run(&self, engine: &Engine) -> Result<RunReport> {
        engine.run_once(self).await
    }
}

/// Lease timing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkerOptions {
    /// How long a lease lasts without renewal: how soon a dead worker's
    /// flows are taken over.
    pub lease_ttl: Duration,
    /// How often a running flow's lease is renewed (well under the TTL).
    pub renew_every: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            lease_ttl: Duration::from_secs(30),
            renew_every: Duration::from_secs(10),
        }
    }
}

impl WorkerOptions {
    /// A lease TTL, renewed every third of it.
    pub fn with_lease_ttl(ttl: Duration) -> Self {
        WorkerOptions {
            lease_ttl: ttl,
            renew_every: ttl / 3,
        }
    }
}

/// What a pass did with one flow.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FlowTurn {
    /// Another worker holds the flow's lease.
    Busy,
    /// This worker ran the flow under lease `token`.
    Ran {
        /// The lease's fencing token.
        token: i64,
        /// What the run did.
        report: RunReport,
    },
    /// The lease was lost mid-run (renewal refused or not confirmed in
    /// time, or a fenced write refused); another worker carries on from the
    /// last commit.
    LeaseLost(Error),
    /// The run failed (its state store failed); the other flows still had
    /// their turn.
    Failed(Error),
}

/// One worker among several sharing a state store.
#[derive(Clone)]
pub struct Worker {
    id: String,
    engine: Engine,
    options: WorkerOptions,
}

impl Worker {
    /// A worker named `id` (unique among the workers: host + process id is
    /// a good choice) running flows on `engine`'s store.
    pub fn new(id: impl Into<String>, engine: Engine, options: WorkerOptions) -> Self {
        Worker {
            id: id.into(),
            engine,
            options,
        }
    }

    /// The worker's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Takes each flow's lease in turn, runs the flow if it got it, and
    /// returns what happened per flow, in order; then forgets expired
    /// idempotency keys. `Err` only when the store cannot hand out leases.
    pub async fn pass(&self, flows: &[Arc<dyn RunnableFlow>]) -> Result<Vec<FlowTurn>> {
        let mut turns = Vec::with_capacity(flows.len());
        for flow in flows {
            turns.push(self.turn(flow.as_ref()).await?);
        }
        self.engine.store().purge_expired_keys(Utc::now()).await?;
        Ok(turns)
    }

    /// Until when this worker may start writes under `lease`: a margin of
    /// `renew_every` before it lapses, so calls in flight finish first.
    fn horizon(&self, lease: &Lease) -> chrono::DateTime<Utc> {
        let margin = chrono::Duration::from_std(self.options.renew_every)
            .unwrap_or(chrono::Duration::zero());
        lease.expires_at - margin
    }

    async fn turn(&self, flow: &dyn RunnableFlow) -> Result<FlowTurn> {
        let store = self.engine.store().clone();
        let lease = match store
            .acquire_lease(flow.name(), &self.id, self.options.lease_ttl, Utc::now())
            .await?
        {
            Some(lease) => lease,
            None => return Ok(FlowTurn::Busy),
        };
        let token = lease.token;
        let engine = self.engine.clone().with_fence(lease.clone());
        engine.extend_fence(self.horizon(&lease));
        let run = flow.run(&engine);
        let keep = self.keep_lease(lease.clone(), &engine);
        let turn = match future::select(Box::pin(run), Box::pin(keep)).await {
            Either::Left((Ok(report), _)) => FlowTurn::Ran { token, report },
            Either::Left((Err(e), _)) if e.kind() == &crate::ErrorKind::Conflict => {
                FlowTurn::LeaseLost(e)
            }
            Either::Left((Err(e), _)) => FlowTurn::Failed(e),
            Either::Right((lost, _)) => FlowTurn::LeaseLost(lost),
        };
        store.release_lease(&lease).await?;
        Ok(turn)
    }

    /// Renews `lease` and moves `engine`'s write horizon with it; returns
    /// (ending the run) when a renewal is refused or the horizon passes
    /// without one — a renewal call that hangs does not keep a run alive.
    async fn keep_lease(&self, mut lease: Lease, engine: &Engine) -> Error {
        let store = self.engine.store().clone();
        let lost = |why: &str, lease: &Lease| {
            Error::new(
                crate::ErrorKind::Conflict,
                format!(
                    "worker {} lost the lease on `{}` (token {}): {why}",
                    self.id, lease.name, lease.token
                ),
            )
        };
        loop {
            tokio::time::sleep(self.options.renew_every).await;
            let left = (self.horizon(&lease) - Utc::now())
                .to_std()
                .unwrap_or_default();
            if left.is_zero() {
                return lost("no renewal confirmed in time", &lease);
            }
            let renewal = store.renew_lease(&lease, self.options.lease_ttl, Utc::now());
            match tokio::time::timeout(left, renewal).await {
                Ok(Ok(Some(renewed))) => {
                    lease = renewed;
                    engine.extend_fence(self.horizon(&lease));
                }
                Ok(Ok(None)) => return lost("another worker holds it", &lease),
                // A failed renewal is tried again while the horizon allows.
                Ok(Err(e)) => tracing::warn!(worker = %self.id, error = %e, "lease renewal failed"),
                Err(_) => return lost("the renewal did not answer in time", &lease),
            }
        }
    }
}
