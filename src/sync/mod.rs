//! The sync engine: flows with an owner, a failure policy and an SLA; runs
//! that never lose or duplicate a record; dead letters a person can fix and
//! replay.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use seamwork::connector::memory::{MemoryOptions, MemorySystem};
//! use seamwork::model::{Location, LocationId, LocationKind, SystemId};
//! use seamwork::store::MemoryStore;
//! use seamwork::sync::{Engine, FailurePolicy, Flow, Owner, Sla};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store_system = Arc::new(MemorySystem::new(SystemId::new("store").unwrap(), MemoryOptions::default()));
//! let erp = Arc::new(MemorySystem::new(SystemId::new("erp").unwrap(), MemoryOptions::default()));
//! store_system.put(Location::new(LocationId::new("DC-1").unwrap(), "Main DC", LocationKind::Warehouse));
//!
//! let flow = Flow::<Location>::builder("locations-to-erp", store_system.clone(), erp.clone())
//!     .owner(Owner::new("erp-integration", "erp-team@example.com"))
//!     .failure_policy(FailurePolicy::dead_letter(50))
//!     .sla(Sla::max_lag(Duration::from_secs(3600 * 24 * 3650)))
//!     .build()
//!     .unwrap();
//! let engine = Engine::new(Arc::new(MemoryStore::new()));
//! let first = engine.run_once(&flow).await.unwrap();
//! assert_eq!(first.created, 1);
//! let second = engine.run_once(&flow).await.unwrap(); // from the checkpoint: nothing new
//! assert_eq!(second.read, 0);
//! # });
//! ```
//!
//! A flow without an owner, a failure policy or an SLA does not build:
//!
//! ```
//! # use std::sync::Arc;
//! # use seamwork::connector::memory::{MemoryOptions, MemorySystem};
//! # use seamwork::model::{Location, SystemId};
//! # use seamwork::sync::Flow;
//! let a = Arc::new(MemorySystem::new(SystemId::new("a").unwrap(), MemoryOptions::default()));
//! let err = Flow::<Location>::builder("orphan", a.clone(), a).build().unwrap_err();
//! assert!(err.to_string().contains("no owner"));
//! ```

mod alert;
mod engine;
mod flow;
mod health;
mod read_ahead;
mod webhook;
mod worker;

#[cfg(feature = "http")]
pub use alert::WebhookAlertSink;
pub use alert::{Alert, AlertKind, AlertSink, CollectingAlertSink, LogAlertSink};
pub use engine::{Engine, ReplayOutcome, RunReport};
pub use flow::{
    FailurePolicy, Flow, FlowBuilder, FlowOptions, MapStep, OnPermanentFailure, Owner, RetryPolicy,
    Sla,
};
pub use health::{FlowHealth, HealthStatus};
pub use webhook::{
    Intake, SignatureEncoding, WebhookDelivery, WebhookIntake, WebhookParser, WebhookSecret,
    verify_signature,
};
pub use worker::{FlowTurn, RunnableFlow, Worker, WorkerOptions};
