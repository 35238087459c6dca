//! Correction plans against the memory system: the dry run lists the writes,
//! applying them through the sinks makes the two systems agree except for
//! what only a person can do.

use futures::executor::block_on;
use seamwork::connector::memory::{Dataset, MemoryOptions, MemorySystem, SeedOptions};
use seamwork::connector::{Entity, EntityKind, WriteResult};
use seamwork::model::{InventoryLevel, LocationId, SystemId};
use seamwork::reconcile::{
    Action, DiffKind, DiffSpec, FieldPolicy, Side, SourceOfTruth, diff_entities, plan_corrections,
};

fn spec() -> DiffSpec {
    DiffSpec::for_entity(EntityKind::InventoryLevel).with_field("updated_at", FieldPolicy::Ignore)
}

#[test]
fn applying_a_plan_makes_the_systems_agree() {
    let erp = MemorySystem::new(
        SystemId::new("erp").unwrap(),
        MemoryOptions::default().with_max_batch(7),
    );
    let store = MemorySystem::new(
        SystemId::new("store").unwrap(),
        MemoryOptions::default().with_max_batch(7),
    );
    let data = Dataset::generate(&SeedOptions::small()).unwrap();
    erp.put_all(data.inventory.iter().cloned());
    let mut levels = data.inventory.clone();
    assert!(levels.len() > 40);
    for l in levels.iter_mut().step_by(5) {
        l.on_hand += 3;
        l.recompute_available();
    }
    for l in levels.iter_mut().skip(2).step_by(9) {
        l.oversell_allowed = !l.oversell_allowed;
    }
    let removed: Vec<InventoryLevel> = levels.drain(..3).collect();
    let mut extra = levels[0].clone();
    extra.location = LocationId::new("POP-UP").unwrap();
    levels.push(extra.clone());
    store.put_all(levels);

    let (left, right) = (erp.all::<InventoryLevel>(), store.all::<InventoryLevel>());
    let report = diff_entities(&left, &right, &spec()).unwrap();
    assert_eq!(report.summary.only_left, 3);
    assert_eq!(report.summary.only_right, 1);
    assert!(report.summary.by_field["on_hand"] > 0);
    assert!(report.summary.by_field["oversell_allowed"] > 0);

    let truth = SourceOfTruth::new(Side::Left).with_field("oversell_allowed", Side::Right);
    let plan = plan_corrections(&left, &right, &report, &truth).unwrap();
    let lines = plan.dry_run();
    assert_eq!(
        lines.len(),
        plan.to_left.len() + plan.to_right.len() + plan.manual.len()
    );
    assert!(
        lines.iter().any(|l| l.starts_with("update ")
            && l.contains("on right: available")
            && l.contains(", on_hand ")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("on left: oversell_allowed")),
        "{lines:#?}"
    );
    assert_eq!(plan.manual.len(), 1);
    assert!(plan.manual[0].contains(&extra.key().to_string()));
    let creates: Vec<_> = plan
        .to_right
        .iter()
        .filter(|c| c.action == Action::Create)
        .map(|c| c.key.clone())
        .collect();
    assert_eq!(creates, removed.iter().map(Entity::key).collect::<Vec<_>>());
    // The dry run wrote nothing.
    assert_eq!(store.all::<InventoryLevel>(), right);

    let applied = block_on(plan.apply(&erp, &store)).unwrap();
    assert_eq!(applied.left.len(), plan.to_left.len());
    assert_eq!(applied.right.len(), plan.to_right.len());
    for o in applied.left.iter().chain(&applied.right) {
        assert!(!matches!(o.result, WriteResult::Rejected { .. }), "{o:?}");
    }

    let after = diff_entities(
        &erp.all::<InventoryLevel>(),
        &store.all::<InventoryLevel>(),
        &spec(),
    )
    .unwrap();
    let kinds: Vec<DiffKind> = after.differences.iter().map(|d| d.kind).collect();
    assert_eq!(kinds, [DiffKind::OnlyRight], "{:#?}", after.differences);
    // The store's oversell flags won on the ERP side.
    for c in &plan.to_left {
        assert_eq!(erp.get::<InventoryLevel>(&c.key).unwrap(), c.record);
    }
}
