//! Hash-diff against the memory system: the same differences as a full
//! diff, few rows fetched for sparse drift, and at most ~1.2× the cost of
//! fetching everything when every row differs.

use futures::executor::block_on;
use proptest::prelude::*;
use seamwork::connector::memory::{MemoryOptions, MemorySystem};
use seamwork::connector::{Capability, Connector, EntityKind};
use seamwork::model::{InventoryLevel, LocationId, Sku, SystemId};
use seamwork::reconcile::{
    DiffReport, DiffSpec, FieldPolicy, HashDiffOptions, HashDiffStats, diff_entities, hash_diff,
};

fn spec() -> DiffSpec {
    DiffSpec::for_entity(EntityKind::InventoryLevel).with_field("updated_at", FieldPolicy::Ignore)
}

fn level(i: usize, on_hand: i64) -> InventoryLevel {
    let at = chrono::DateTime::from_timestamp(1_700_000_000 + i as i64, 0).unwrap();
    let mut l = InventoryLevel::new(
        Sku::new(format!("SKU-{:05}", i / 4)).unwrap(),
        LocationId::new(format!("L{}", i % 4)).unwrap(),
        at,
    );
    l.on_hand = on_hand;
    l.available = on_hand;
    l
}

/// Two systems with `rows` levels; `change(i)` says what the right side does
/// with row i: None = same, Some(None) = missing, Some(Some(q)) = on_hand q.
fn systems(
    rows: usize,
    change: impl Fn(usize) -> Option<Option<i64>>,
) -> (MemorySystem, MemorySystem) {
    let l = MemorySystem::new(SystemId::new("erp").unwrap(), MemoryOptions::default());
    let r = MemorySystem::new(SystemId::new("store").unwrap(), MemoryOptions::default());
    for i in 0..rows {
        let base = level(i, (i % 50) as i64);
        l.put(base.clone());
        match change(i) {
            None => {
                // A changed timestamp alone is ignored by the spec and the checksums.
                let mut same = base;
                same.updated_at += chrono::Duration::seconds(30);
                r.put(same);
            }
            Some(None) => {}
            Some(Some(q)) => {
                r.put(level(i, q));
            }
        }
    }
    (l, r)
}

fn both(
    l: &MemorySystem,
    r: &MemorySystem,
    o: &HashDiffOptions,
) -> (DiffReport, DiffReport, HashDiffStats) {
    let full = diff_entities(
        &l.all::<InventoryLevel>(),
        &r.all::<InventoryLevel>(),
        &spec(),
    )
    .unwrap();
    let (hashed, stats) = block_on(hash_diff::<InventoryLevel, _, _>(l, r, &spec(), o)).unwrap();
    (full, hashed, stats)
}

#[test]
fn the_memory_system_declares_checksums() {
    let m = MemorySystem::new(SystemId::new("erp").unwrap(), MemoryOptions::default());
    let cap: Capability = m.capability(EntityKind::InventoryLevel);
    assert!(cap.checksums);
}

#[test]
fn sparse_drift_fetches_little() {
    let (l, r) = systems(4000, |i| match i {
        17 => Some(Some(999)),
        2222 => Some(None),
        3999 => Some(Some(1000)),
        _ => None,
    });
    // Cheap calls: bisect down to small ranges. Dear calls: stop earlier, still half the cost.
    for (call_cost, max_fetched_percent) in [(5, 10), (50, 25)] {
        let o = HashDiffOptions::default().with_call_cost(call_cost);
        let (full, hashed, stats) = both(&l, &r, &o);
        assert_eq!(hashed.differences, full.differences);
        assert_eq!(hashed.summary.matched, full.summary.matched);
        assert_eq!(full.differences.len(), 3);
        assert!(
            stats.rows_fetched * 100 < stats.rows_total * max_fetched_percent,
            "{stats:?}"
        );
        assert!(stats.cost * 2 < stats.full_fetch_cost, "{stats:?}");
    }
}

#[test]
fn dense_drift_costs_at_most_a_fifth_more_than_fetching_everything() {
    for (rows, every) in [(4000, 1), (4000, 2), (3000, 3), (5000, 7)] {
        let (l, r) = systems(rows, |i| (i % every == 0).then_some(Some(1000 + i as i64)));
        let (full, hashed, stats) = both(&l, &r, &HashDiffOptions::default());
        assert_eq!(hashed.differences, full.differences);
        assert!(
            stats.cost * 10 <= stats.full_fetch_cost * 12,
            "every {every}: {stats:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn hash_diff_finds_what_a_full_diff_finds(
        rows in 0usize..600,
        changes in prop::collection::vec((0usize..600, prop::option::of(0i64..60)), 0..40),
        fan_out in 2usize..20,
        call_cost in 1u64..100,
    ) {
        let (l, r) = systems(rows, |i| changes.iter().find(|c| c.0 == i).map(|c| c.1));
        let extra = level(rows + 5, 3); // a key only the right side has
        r.put(extra);
        let o = HashDiffOptions::default().with_fan_out(fan_out).with_call_cost(call_cost);
        let (full, hashed, _) = both(&l, &r, &o);
        prop_assert_eq!(&hashed.differences, &full.differences);
        prop_assert_eq!(hashed.summary.matched, full.summary.matched);
        prop_assert_eq!(hashed.summary.left_rows, full.summary.left_rows);
    }
}
