//! seamwork quickstart: store → ERP flows with owners, SLAs and a durable
//! state store, while both systems misbehave.
//!
//! Run: `cargo run --release --example quickstart`
//!
//! 1. A memory "store" is seeded with 1,000 variants, 5 locations, 5,000
//!    inventory levels, 2,000 customers and 10,000 orders; three variants
//!    carry a negative price somebody typed in by hand.
//! 2. Six flows (locations, products, variants, inventory, customers,
//!    orders) copy the store into a memory "ERP". Each flow has an owner, a
//!    failure policy and an SLA; checkpoints, versions and dead letters live
//!    in a SQLite file in a temporary folder. Both systems inject faults:
//!    timeouts (some after a partial write), rate limits with `retry_after`,
//!    duplicate and out-of-order delivery.
//! 3. The store changes (stock moves, price changes, new orders) and the
//!    flows run again from their checkpoints.
//! 4. The health of every flow is printed, then the dead letters; one is
//!    fixed and replayed.
//! 5. Both systems are compared: every valid record must match, and every
//!    invalid one must wait in the dead-letter queue — nothing silently dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use seamwork::connector::memory::{
    Dataset, FaultOptions, MemoryOptions, MemoryStats, MemorySystem, SeedOptions,
};
use seamwork::connector::{Entity, EntityKey};
use seamwork::model::{
    Customer, InventoryLevel, Location, Money, Order, Product, SystemId, Variant,
};
use seamwork::store::{DeadLetterFilter, SqliteStore, StateStore};
use seamwork::sync::{
    Engine, FailurePolicy, Flow, FlowHealth, Owner, ReplayOutcome, RunReport, Sla,
};
use seamwork::{Error, ErrorKind, Result};

/// The flows of this integration, one per entity, each with its owner and SLA.
struct Flows {
    locations: Flow<Location>,
    products: Flow<Product>,
    variants: Flow<Variant>,
    inventory: Flow<InventoryLevel>,
    customers: Flow<Customer>,
    orders: Flow<Order>,
}

fn flow<E: Entity>(
    name: &str,
    store: &Arc<MemorySystem>,
    erp: &Arc<MemorySystem>,
    owner: &Owner,
    max_lag: Duration,
) -> Result<Flow<E>> {
    Flow::<E>::builder(name, store.clone(), erp.clone())
        .owner(owner.clone())
        .failure_policy(FailurePolicy::dead_letter(20))
        .sla(Sla::max_lag(max_lag))
        .build()
}

impl Flows {
    fn new(store: &Arc<MemorySystem>, erp: &Arc<MemorySystem>) -> Result<Self> {
        let catalog = Owner::new("catalog-team", "catalog-oncall@example.com")
            .with_runbook("https://wiki.example.com/runbooks/catalog-sync");
        let ops = Owner::new("warehouse-ops", "#wms-alerts");
        let orders = Owner::new("order-ops", "order-ops@example.com");
        let crm = Owner::new("crm-team", "crm@example.com");
        let min = |m: u64| Duration::from_secs(60 * m);
        Ok(Flows {
            locations: flow("locations→erp", store, erp, &ops, min(24 * 60))?,
            products: flow("products→erp", store, erp, &catalog, min(60))?,
            variants: flow("variants→erp", store, erp, &catalog, min(15))?,
            inventory: flow("inventory→erp", store, erp, &ops, min(5))?,
            customers: flow("customers→erp", store, erp, &crm, min(24 * 60))?,
            orders: flow("orders→erp", store, erp, &orders, min(2))?,
        })
    }

    async fn run_all(&self, engine: &Engine) -> Result<()> {
        println!(
            "  {:<15} {:>6} {:>8} {:>8} {:>10} {:>9} {:>13} {:>8}",
            "flow",
            "read",
            "created",
            "updated",
            "unchanged",
            "repeated",
            "dead-letters",
            "retries"
        );
        print_run(
            self.locations.name(),
            &engine.run_once(&self.locations).await?,
        );
        print_run(
            self.products.name(),
            &engine.run_once(&self.products).await?,
        );
        print_run(
            self.variants.name(),
            &engine.run_once(&self.variants).await?,
        );
        print_run(
            self.inventory.name(),
            &engine.run_once(&self.inventory).await?,
        );
        print_run(
            self.customers.name(),
            &engine.run_once(&self.customers).await?,
        );
        print_run(self.orders.name(), &engine.run_once(&self.orders).await?);
        Ok(())
    }

    async fn health(&self, engine: &Engine) -> Result<Vec<FlowHealth>> {
        Ok(vec![
            engine.health(&self.locations).await?,
            engine.health(&self.products).await?,
            engine.health(&self.variants).await?,
            engine.health(&self.inventory).await?,
            engine.health(&self.customers).await?,
            engine.health(&self.orders).await?,
        ])
    }
}

fn print_run(name: &str, r: &RunReport) {
    println!(
        "  {name:<15} {:>6} {:>8} {:>8} {:>10} {:>9} {:>13} {:>8}",
        r.read,
        r.created,
        r.updated,
        r.unchanged,
        r.superseded + r.already_delivered,
        r.dead_lettered,
        r.retries
    );
    if let Some(error) = &r.halted {
        println!("      HALTED: {error}");
    }
}

fn print_health(health: &[FlowHealth]) {
    println!(
        "  {:<15} {:<9} {:<14} {:>8} {:>8} {:>6} {:>10}  reasons",
        "flow", "status", "owner", "lag", "SLA", "dlq", "rec/s"
    );
    for h in health {
        let lag = h
            .lag
            .map_or("-".to_string(), |l| format!("{}s", l.as_secs()));
        println!(
            "  {:<15} {:<9} {:<14} {:>8} {:>7}s {:>6} {:>10}  {}",
            h.flow,
            h.status.to_string(),
            h.owner.team,
            lag,
            h.sla.max_lag.as_secs(),
            h.dead_letters,
            h.throughput_per_sec,
            h.reasons.join("; ")
        );
    }
}

/// Records that differ between the systems, ignoring `skip` (the known-invalid ones).
fn differences<E: Entity>(store: &MemorySystem, erp: &MemorySystem, skip: &[EntityKey]) -> usize {
    let theirs: HashMap<EntityKey, E> = erp.all::<E>().into_iter().map(|e| (e.key(), e)).collect();
    store
        .all::<E>()
        .into_iter()
        .filter(|e| !skip.contains(&e.key()))
        .filter(|e| theirs.get(&e.key()) != Some(e))
        .count()
}

fn print_faults(name: &str, s: &MemoryStats) {
    println!(
        "  {name:<6} {} calls, {} timeouts ({} after a partial write), {} rate limits, {} duplicates, {} reordered pages",
        s.calls,
        s.transient_errors,
        s.partial_writes,
        s.rate_limited,
        s.duplicates,
        s.reordered_pages
    );
}

/// Stock moves, price changes and new orders in the store.
fn change_the_store(store: &MemorySystem, data: &Dataset) -> Result<(usize, usize, usize)> {
    let (mut moves, mut prices, mut new_orders) = (0, 0, 0);
    for level in data.inventory.iter().step_by(16).take(300) {
        let mut l = level.clone();
        l.on_hand += 5;
        l.recompute_available();
        store.put(l);
        moves += 1;
    }
    for v in data.variants.iter().skip(1).step_by(40).take(25) {
        let mut v = v.clone();
        v.price = v
            .price
            .checked_add(Money::from_minor(100, v.price.currency()))?;
        store.put(v);
        prices += 1;
    }
    let more = Dataset::generate(&SeedOptions::default().with_seed(7).with_orders(200))?;
    for mut o in more.orders {
        o.number = format!("W{}", o.number.trim_start_matches('#'));
        store.put(o);
        new_orders += 1;
    }
    Ok((moves, prices, new_orders))
}

#[tokio::main]
async fn main() -> Result<()> {
    let started = Instant::now();
    let faults = FaultOptions::none()
        .with_transient(40)
        .with_rate_limit(30, Some(Duration::from_millis(20)))
        .with_duplicates(10)
        .with_reordering(100);
    // The simulated clocks start a minute ago, so lags are real lags.
    let clock = Utc::now() - chrono::Duration::seconds(60);
    let system = |name: &str, seed: u64| -> Result<Arc<MemorySystem>> {
        let options = MemoryOptions::default()
            .with_seed(seed)
            .with_clock_start(clock)
            .with_faults(faults.clone());
        Ok(Arc::new(MemorySystem::new(SystemId::new(name)?, options)))
    };
    let (store, erp) = (system("store", 1)?, system("erp", 2)?);

    let data = Dataset::generate(&SeedOptions::default())?;
    store.load(&data);
    // Somebody typed three prices with a minus sign.
    let mut bad_keys = Vec::new(); // held back: the ERP has no copy, or a fixed one
    for v in data.variants.iter().step_by(333).take(3) {
        let mut bad = v.clone();
        bad.price = -bad.price;
        bad_keys.push(bad.key());
        store.put(bad);
    }
    println!(
        "seamwork quickstart: store seeded with {} locations, {} products, {} variants, {} inventory levels, {} customers, {} orders",
        data.locations.len(),
        data.products.len(),
        data.variants.len(),
        data.inventory.len(),
        data.customers.len(),
        data.orders.len()
    );

    // Removed when `dir` is dropped, on every way out of `main`.
    let dir = tempfile::tempdir()
        .map_err(|e| Error::config(format!("cannot create a temporary folder: {e}")))?;
    let state = Arc::new(SqliteStore::open(dir.path().join("state.db")).await?);
    let engine = Engine::new(state.clone());
    let flows = Flows::new(&store, &erp)?;
    println!("state store: {}", dir.path().join("state.db").display());

    println!("\n1) first sync store -> erp (faults injected on both sides)");
    flows.run_all(&engine).await?;

    let (moves, prices, new_orders) = change_the_store(&store, &data)?;
    println!(
        "\n2) the store changes: {moves} stock moves, {prices} price changes, {new_orders} new orders;\n   the flows run again from their checkpoints"
    );
    flows.run_all(&engine).await?;

    println!("\n3) health");
    print_health(&flows.health(&engine).await?);

    println!("\n4) dead letters");
    let letters = state.dead_letters(&DeadLetterFilter::all()).await?;
    let mut replayed = 0;
    for l in &letters {
        println!(
            "  #{} {} {} (owner {}, {} attempt(s)): {}",
            l.id, l.flow, l.key, l.owner, l.attempts, l.error
        );
    }
    if let Some(first) = letters.iter().find(|l| l.flow == flows.variants.name()) {
        let mut fixed: Variant = serde_json::from_value(first.payload.clone())?;
        fixed.price = -fixed.price;
        state
            .edit_dead_letter(first.id, serde_json::to_value(&fixed)?)
            .await?;
        // The ERP's own faults may fail a replay; the letter then stays open.
        let mut outcome = engine.replay(&flows.variants, first.id).await?;
        for _ in 0..5 {
            if !matches!(outcome, ReplayOutcome::Failed(_)) {
                break;
            }
            outcome = engine.replay(&flows.variants, first.id).await?;
        }
        println!(
            "  fixed the price of #{} and replayed it: {outcome:?}",
            first.id
        );
        if matches!(outcome, ReplayOutcome::Delivered(_)) {
            replayed += 1;
        }
    }

    println!("\n5) reconciliation: store vs erp");
    let diff = differences::<Location>(&store, &erp, &[])
        + differences::<Product>(&store, &erp, &[])
        + differences::<Variant>(&store, &erp, &bad_keys)
        + differences::<InventoryLevel>(&store, &erp, &[])
        + differences::<Customer>(&store, &erp, &[])
        + differences::<Order>(&store, &erp, &[]);
    let waiting = state
        .dead_letters(&DeadLetterFilter::open("variants→erp"))
        .await?
        .len();
    println!(
        "  {diff} records differ; {replayed} invalid variant fixed and replayed, {waiting} wait in the \
         dead-letter queue (never silently dropped)"
    );
    println!("\nfaults injected:");
    print_faults("store", &store.stats());
    print_faults("erp", &erp.stats());
    println!("\nfinished in {:.2?}", started.elapsed());
    if diff != 0 || waiting + replayed != bad_keys.len() {
        return Err(Error::new(
            ErrorKind::Unexpected,
            format!(
                "{diff} records differ; {waiting} letters wait and {replayed} were replayed for {} invalid records",
                bad_keys.len()
            ),
        ));
    }
    Ok(())
}
