//! Layers: retry, rate limits, circuit breaker, timeout, concurrency limit and
//! observability around any [`Source`](crate::connector::Source) or
//! [`Sink`](crate::connector::Sink).
//!
//! A [`Layer`] turns a connector into a wrapped connector that is again a
//! `Source<E>` and/or `Sink<E>` (whatever the inner one is), so layers stack
//! like tower or opendal layers: [`LayerExt::layer`] wraps, and **the layer
//! added last is the outermost**. Every wrapper passes the inner
//! [`Capability`](crate::connector::Capability) through, except where a layer
//! has a reason to change it (the adaptive limiter caps `max_batch` at what
//! its budget can ever afford).
//!
//! ```
//! use std::time::Duration;
//! use futures::TryStreamExt;
//! use seamwork::connector::memory::{FaultOptions, MemoryOptions, MemorySystem};
//! use seamwork::connector::{Sink, Source};
//! use seamwork::layers::{
//!     CircuitBreakerLayer, ConcurrencyLimitLayer, LayerExt, ObserveLayer, RateLimitLayer,
//!     RetryLayer, RetryOptions, TimeoutLayer,
//! };
//! use seamwork::model::{Location, LocationId, LocationKind, SystemId};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
//! // An ERP that times out on 30% of calls.
//! let erp = MemorySystem::new(
//!     SystemId::new("erp").unwrap(),
//!     MemoryOptions::default().with_faults(FaultOptions::none().with_transient(300)),
//! );
//! // Innermost first: timeout per attempt, rate, concurrency, breaker, retry, observe.
//! let sink = erp
//!     .clone()
//!     .layer(TimeoutLayer::new(Duration::from_secs(30)))
//!     .layer(RateLimitLayer::per_second(50))
//!     .layer(ConcurrencyLimitLayer::new(4))
//!     .layer(CircuitBreakerLayer::default())
//!     .layer(RetryLayer::new(RetryOptions::default().with_max_attempts(10)))
//!     .layer(ObserveLayer::new());
//! let dcs: Vec<Location> = (0..20)
//!     .map(|i| Location::new(LocationId::new(format!("DC-{i}")).unwrap(), "dc", LocationKind::Warehouse))
//!     .collect();
//! let outcomes = sink.upsert(&dcs).await.unwrap();
//! assert!(outcomes.iter().all(|o| o.result.is_ok()));
//! assert_eq!(erp.len::<Location>(), 20);
//! # });
//! ```
//!
//! ## Recommended order
//!
//! From the outside in — build it in the reverse order, innermost first:
//!
//! 1. [`ObserveLayer`]: one span and one set of counters per *logical* call,
//!    with the final outcome after retries (the retry layer counts retries).
//! 2. [`RetryLayer`]: retries what is below, so every attempt consults the
//!    breaker, takes a rate-limit permit and has its own timeout.
//! 3. [`CircuitBreakerLayer`]: counts each attempt's failure, and when open
//!    makes the remaining attempts fail fast instead of hammering a system
//!    that is down; the retry's back-off is the breaker's cool-down.
//! 4. [`ConcurrencyLimitLayer`]: a call holds a slot while it waits for its
//!    rate permit, so the permit is taken right before the request is sent and
//!    the pacing the limiter computed is the pacing the server sees.
//! 5. [`RateLimitLayer`] / [`AdaptiveRateLimitLayer`]: every attempt,
//!    retries included, spends budget — the server counts them all; calls the
//!    open breaker refused spend none.
//! 6. [`TimeoutLayer`] innermost: it bounds one attempt, and a timeout is a
//!    temporary `Unavailable` error that the breaker counts and retry retries.
//!
//! Layers hold their state behind an `Arc`: a clone of a layer shares it, so
//! wrapping the source and the sink of one system with clones of one
//! [`RateLimitLayer`] or [`CircuitBreakerLayer`] gives them one budget and one
//! breaker.

mod adaptive;
mod breaker;
mod clock;
mod concurrency;
mod observe;
mod rate;
pub(crate) mod retry;
mod stream;
mod timeout;

use std::sync::Arc;

pub use adaptive::{
    AdaptiveLimiter, AdaptiveOptions, AdaptiveRateLimit, AdaptiveRateLimitLayer, BudgetPermit,
    BudgetSignal, BudgetStats,
};
pub use breaker::{BreakerState, CircuitBreaker, CircuitBreakerLayer, CircuitBreakerOptions};
pub use concurrency::{ConcurrencyLimit, ConcurrencyLimitLayer};
pub use observe::{Observe, ObserveLayer, metric_names};
pub use rate::{RateLimit, RateLimitLayer};
pub use retry::{Retry, RetryLayer, RetryOptions};
pub use timeout::{Timeout, TimeoutLayer};

use crate::connector::{Connector, Entity};
use crate::error::Error;

/// Wraps a connector in another that adds one behaviour (retry, limits, ...).
///
/// The output is again a `Source<E>` or `Sink<E>` when the input is, so
/// layers stack. Implementations are cheap to clone and clones share state.
pub trait Layer<S> {
    /// The wrapped connector.
    type Output;

    /// Wraps `inner`.
    fn layer(&self, inner: S) -> Self::Output;
}

/// `.layer(..)` on every connector, so a stack reads top to bottom.
pub trait LayerExt: Connector + Sized {
    /// Wraps `self` in `layer`; the layer added last is the outermost.
    fn layer<L: Layer<Self>>(self, layer: L) -> L::Output {
        layer.layer(self)
    }
}

impl<C: Connector> LayerExt for C {}

/// Implements `Connector` for a wrapper by asking the inner connector.
macro_rules! delegate_connector {
    ($wrapper:ident) => {
        impl<S: $crate::connector::Connector> $crate::connector::Connector for $wrapper<S> {
            fn system(&self) -> &$crate::model::SystemId {
                self.inner.system()
            }

            fn capability(
                &self,
                kind: $crate::connector::EntityKind,
            ) -> $crate::connector::Capability {
                self.inner.capability(kind)
            }
        }
    };
}
pub(crate) use delegate_connector;

/// Fills the system and entity of an error a layer raised about `inner`.
fn about<E: Entity>(inner: &Arc<impl Connector + ?Sized>, err: Error) -> Error {
    err.with_system(inner.system().as_str())
        .with_entity(E::KIND.name())
}
