//! seamwork quickstart: copy a store's changes into an ERP through the
//! connector contract while the systems misbehave.
//!
//! Run: `cargo run --release --example quickstart`
//!
//! 1. A memory "store" is seeded with 1,000 variants, 5 locations, 5,000
//!    inventory levels, 2,000 customers and 10,000 orders; a few variants carry
//!    a negative price somebody typed in by hand.
//! 2. Every entity is copied to a memory "ERP" page by page. Both systems
//!    inject faults: timeouts (some after a partial write), rate limits with
//!    `retry_after`, duplicate and out-of-order delivery.
//! 3. The store changes (stock moves, price changes, new orders) and an
//!    incremental run copies only what changed, from the saved checkpoints.
//! 4. Both systems are compared: every valid record must match, and every
//!    invalid one must be reported with its reason — nothing silently dropped.
//!
//! The sync engine proper (ownership, dead letters, state stores) arrives in
//! a later release; this loop shows what the contract guarantees on its own.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use seamwork::connector::memory::{
    Dataset, FaultOptions, MemoryOptions, MemoryStats, MemorySystem, SeedOptions,
};
use seamwork::connector::{Cursor, Entity, EntityKey, Record, Sink, Source, WriteResult};
use seamwork::model::{
    Customer, InventoryLevel, Location, Money, Order, Product, SystemId, Variant,
};
use seamwork::{Error, Result};

/// Attempts per call before a temporary error counts as persistent.
const MAX_ATTEMPTS: u32 = 8;

/// What one copy run did for one entity.
#[derive(Default)]
struct CopyReport {
    read: usize,
    duplicates: usize,
    created: usize,
    updated: usize,
    unchanged: usize,
    rejected: Vec<(EntityKey, Error)>,
    retries: usize,
}

fn backoff(err: &Error, attempt: u32) -> Duration {
    err.retry_after()
        .unwrap_or_else(|| Duration::from_millis(5 << attempt.min(6)))
        .min(Duration::from_millis(200))
}

/// Upserts one batch, retrying the whole batch on temporary errors (safe: upserts are idempotent).
async fn write_batch<E: Entity>(
    sink: &dyn Sink<E>,
    records: Vec<Record<E>>,
    report: &mut CopyReport,
) -> Result<()> {
    // Duplicates and out-of-order delivery: keep the newest change per key.
    let mut newest: HashMap<EntityKey, Record<E>> = HashMap::new();
    let mut order: Vec<EntityKey> = Vec::new();
    for r in records {
        let key = r.entity.key();
        match newest.get(&key) {
            Some(seen) => {
                report.duplicates += 1;
                if r.changed_at >= seen.changed_at {
                    newest.insert(key, r);
                }
            }
            None => {
                order.push(key.clone());
                newest.insert(key, r);
            }
        }
    }
    let batch: Vec<E> = order
        .iter()
        .map(|k| newest.remove(k).expect("kept").entity)
        .collect();
    let mut attempt = 0;
    let outcomes = loop {
        match sink.upsert(&batch).await {
            Ok(outcomes) => break outcomes,
            Err(e) if e.is_retryable() && attempt + 1 < MAX_ATTEMPTS => {
                report.retries += 1;
                tokio::time::sleep(backoff(&e, attempt)).await;
                attempt += 1;
            }
            Err(e) => return Err(e.retries_exhausted()),
        }
    };
    for o in outcomes {
        match o.result {
            WriteResult::Created { .. } => report.created += 1,
            WriteResult::Updated { .. } => report.updated += 1,
            WriteResult::Unchanged { .. } => report.unchanged += 1,
            WriteResult::Rejected { error } => report.rejected.push((o.key, error)),
            _ => {}
        }
    }
    Ok(())
}

/// Copies every change after `checkpoint`, advancing it only after a batch is written.
async fn copy<E: Entity>(
    from: &dyn Source<E>,
    to: &dyn Sink<E>,
    checkpoint: &mut Option<Cursor>,
) -> Result<CopyReport> {
    let mut report = CopyReport::default();
    let batch_size = to.capability(E::KIND).max_batch.unwrap_or(100);
    let mut attempt = 0;
    loop {
        let mut stream = from.read(checkpoint.clone());
        let mut batch: Vec<Record<E>> = Vec::new();
        let mut failure = None;
        while let Some(item) = stream.next().await {
            match item {
                Ok(r) => {
                    report.read += 1;
                    batch.push(r);
                    if batch.len() == batch_size {
                        let cursor = batch.last().map(|r| r.cursor.clone());
                        write_batch(to, std::mem::take(&mut batch), &mut report).await?;
                        *checkpoint = cursor;
                    }
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if failure.is_none() && !batch.is_empty() {
            let cursor = batch.last().map(|r| r.cursor.clone());
            write_batch(to, batch, &mut report).await?;
            *checkpoint = cursor;
        }
        match failure {
            None => return Ok(report),
            Some(e) if e.is_retryable() && attempt + 1 < MAX_ATTEMPTS => {
                // Resume from the last checkpoint; records read since are read again.
                report.retries += 1;
                tokio::time::sleep(backoff(&e, attempt)).await;
                attempt += 1;
            }
            Some(e) => return Err(e.retries_exhausted()),
        }
    }
}

fn print_report(entity: &str, r: &CopyReport) {
    println!(
        "  {entity:<16} {:>7} {:>6} {:>8} {:>8} {:>10} {:>9} {:>8}",
        r.read,
        r.duplicates,
        r.created,
        r.updated,
        r.unchanged,
        r.rejected.len(),
        r.retries
    );
    for (key, err) in r.rejected.iter().take(3) {
        println!("      rejected {key}: {err}");
    }
}

/// Checkpoints per entity kind, as a state store would keep them.
#[derive(Default)]
struct Checkpoints {
    locations: Option<Cursor>,
    products: Option<Cursor>,
    variants: Option<Cursor>,
    inventory: Option<Cursor>,
    customers: Option<Cursor>,
    orders: Option<Cursor>,
}

async fn copy_all(store: &MemorySystem, erp: &MemorySystem, cp: &mut Checkpoints) -> Result<usize> {
    println!(
        "  {:<16} {:>7} {:>6} {:>8} {:>8} {:>10} {:>9} {:>8}",
        "entity", "read", "dups", "created", "updated", "unchanged", "rejected", "retries"
    );
    let mut rejected = 0;
    macro_rules! run {
        ($ty:ty, $name:literal, $cp:expr) => {{
            let r = copy::<$ty>(store, erp, $cp).await?;
            print_report($name, &r);
            rejected += r.rejected.len();
        }};
    }
    run!(Location, "locations", &mut cp.locations);
    run!(Product, "products", &mut cp.products);
    run!(Variant, "variants", &mut cp.variants);
    run!(InventoryLevel, "inventory", &mut cp.inventory);
    run!(Customer, "customers", &mut cp.customers);
    run!(Order, "orders", &mut cp.orders);
    Ok(rejected)
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

#[tokio::main]
async fn main() -> Result<()> {
    let started = Instant::now();
    let faults = FaultOptions::none()
        .with_transient(40)
        .with_rate_limit(30, Some(Duration::from_millis(20)))
        .with_duplicates(10)
        .with_reordering(100);
    let store = MemorySystem::new(
        SystemId::new("store")?,
        MemoryOptions::default()
            .with_seed(1)
            .with_faults(faults.clone()),
    );
    let erp = MemorySystem::new(
        SystemId::new("erp")?,
        MemoryOptions::default().with_seed(2).with_faults(faults),
    );

    let data = Dataset::generate(&SeedOptions::default())?;
    store.load(&data);
    // Somebody typed three prices with a minus sign.
    let mut bad_keys = Vec::new();
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

    println!("\n1) initial copy store -> erp (faults injected on both sides)");
    let mut checkpoints = Checkpoints::default();
    copy_all(&store, &erp, &mut checkpoints).await?;

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
    println!(
        "\n2) the store changes: {moves} stock moves, {prices} price changes, {new_orders} new orders"
    );
    println!("   incremental copy from the saved checkpoints");
    copy_all(&store, &erp, &mut checkpoints).await?;

    println!("\n3) reconciliation: store vs erp");
    let diff = differences::<Location>(&store, &erp, &[])
        + differences::<Product>(&store, &erp, &[])
        + differences::<Variant>(&store, &erp, &bad_keys)
        + differences::<InventoryLevel>(&store, &erp, &[])
        + differences::<Customer>(&store, &erp, &[])
        + differences::<Order>(&store, &erp, &[]);
    println!(
        "  {} records differ; {} invalid variants held back and reported (never silently dropped)",
        diff,
        bad_keys.len()
    );
    println!("\nfaults injected:");
    print_faults("store", &store.stats());
    print_faults("erp", &erp.stats());
    println!("\nfinished in {:.2?}", started.elapsed());
    if diff != 0 {
        return Err(seamwork::Error::new(
            seamwork::ErrorKind::Unexpected,
            format!("{diff} records differ after the copy"),
        ));
    }
    Ok(())
}
