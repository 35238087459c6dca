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
    /// The lease was lost mid-run (renewal refused or a fenced commit
    /// refused); another worker carries on from the last commit.
    LeaseLost(Error),
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
    /// returns what happened per flow, in order. `Err` only when the store
    /// itself fails.
    pub async fn pass(&self, flows: &[Arc<dyn RunnableFlow>]) -> Result<Vec<FlowTurn>> {
        let mut turns = Vec::with_capacity(flows.len());
        for flow in flows {
            turns.push(self.turn(flow.as_ref()).await?);
        }
        Ok(turns)
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
        let run = flow.run(&engine);
        let keep = self.keep_lease(lease.clone());
        let turn = match future::select(Box::pin(run), Box::pin(keep)).await {
            Either::Left((Ok(report), _)) => FlowTurn::Ran { token, report },
            Either::Left((Err(e), _)) if e.kind() == &crate::ErrorKind::Conflict => {
                FlowTurn::LeaseLost(e)
            }
            Either::Left((Err(e), _)) => {
                store.release_lease(&lease).await?;
                return Err(e);
            }
            Either::Right((lost, _)) => FlowTurn::LeaseLost(lost),
        };
        store.release_lease(&lease).await?;
        Ok(turn)
    }

    /// Renews `lease` until a renewal fails; returns why.
    async fn keep_lease(&self, mut lease: Lease) -> Error {
        let store = self.engine.store().clone();
        loop {
            tokio::time::sleep(self.options.renew_every).await;
            match store
                .renew_lease(&lease, self.options.lease_ttl, Utc::now())
                .await
            {
                Ok(Some(renewed)) => lease = renewed,
                Ok(None) => {
                    return Error::new(
                        crate::ErrorKind::Conflict,
                        format!(
                            "worker {} lost the lease on `{}` (token {})",
                            self.id, lease.name, lease.token
                        ),
                    );
                }
                Err(e) => return e,
            }
        }
    }
}
