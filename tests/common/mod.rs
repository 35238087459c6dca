//! Shared set-up for the sync-engine tests.
#![allow(dead_code)] // each test file uses a different part

use std::sync::Arc;
use std::time::Duration;

use seamwork::connector::Sink;
use seamwork::connector::memory::{
    Dataset, FaultOptions, MemoryOptions, MemorySystem, SeedOptions,
};
use seamwork::model::{SystemId, Variant};
use seamwork::sync::{FailurePolicy, Flow, FlowOptions, Owner, RetryPolicy, Sla};

/// `n` valid variants (n a multiple of 4).
pub fn variants(n: usize, seed: u64) -> Vec<Variant> {
    let mut options = SeedOptions::default().with_seed(seed).with_orders(0);
    options.products = n / 4;
    options.customers = 0;
    Dataset::generate(&options).unwrap().variants
}

/// A memory system with `faults`, pages of 100 and batches of at most 50.
pub fn system(name: &str, faults: FaultOptions, seed: u64) -> Arc<MemorySystem> {
    let options = MemoryOptions::default()
        .with_seed(seed)
        .with_page_size(100)
        .with_max_batch(50)
        .with_faults(faults);
    Arc::new(MemorySystem::new(SystemId::new(name).unwrap(), options))
}

/// Retries fast enough for tests, patient enough for 30% failures.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy::attempts(12).with_delays(Duration::from_micros(200), Duration::from_millis(5))
}

/// A variant flow store → erp with `policy`.
pub fn variant_flow<S: Sink<Variant> + 'static>(
    name: &str,
    source: &Arc<MemorySystem>,
    sink: &Arc<S>,
    policy: FailurePolicy,
) -> Flow<Variant> {
    let mut options = FlowOptions::default();
    options.batch_size = 100;
    Flow::<Variant>::builder(name, source.clone(), sink.clone())
        .owner(Owner::new("erp-integration", "erp-oncall@example.com"))
        .failure_policy(policy.with_retry(fast_retry()))
        .sla(Sla::max_lag(Duration::from_secs(3600 * 24 * 365 * 10)))
        .options(options)
        .build()
        .unwrap()
}
