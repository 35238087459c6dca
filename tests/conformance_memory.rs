//! The conformance suite against the memory reference system, for every entity.

use std::time::Duration;

use seamwork::connector::memory::{Dataset, MemoryOptions, MemorySystem, SeedOptions};
use seamwork::connector::{Entity, Source};
use seamwork::model::{
    Customer, InventoryLevel, Location, LocationId, Order, Product, SystemId, Variant,
};
use seamwork::testkit;

fn system(name: &str, options: MemoryOptions) -> MemorySystem {
    MemorySystem::new(SystemId::new(name).unwrap(), options)
}

fn data() -> Dataset {
    Dataset::generate(&SeedOptions::small()).unwrap()
}

async fn source_suite<E: Entity>(records: &[E], page_size: usize) {
    let store = system("store", MemoryOptions::default().with_page_size(page_size));
    store.put_all(records.iter().cloned());
    let source: &dyn Source<E> = &store;
    testkit::check_source(source, records, 200)
        .await
        .unwrap_or_else(|f| panic!("{}: {f}", E::KIND));
}

#[tokio::test]
async fn every_entity_passes_the_source_suite() {
    let d = data();
    source_suite(&d.products, 2).await;
    source_suite(&d.variants, 3).await;
    source_suite(&d.inventory, 7).await;
    source_suite(&d.locations, 1).await;
    source_suite(&d.customers, 8).await;
    source_suite(&d.orders, 9).await;
}

#[tokio::test]
async fn thousands_sharing_one_timestamp_resume_exactly() {
    // A frozen clock: 3,000 levels written in the same instant, read in pages of 128.
    let store = system(
        "store",
        MemoryOptions::default()
            .with_tick(Duration::ZERO)
            .with_page_size(128),
    );
    let d = data();
    let sku = d.variants[0].sku.clone();
    let levels: Vec<InventoryLevel> = (0..3_000)
        .map(|i| {
            let loc = LocationId::new(format!("LOC-{i:05}")).unwrap();
            InventoryLevel::new(sku.clone(), loc, d.inventory[0].updated_at)
        })
        .collect();
    store.put_all(levels.iter().cloned());
    testkit::check_source(&store, &levels, 300).await.unwrap();
}

async fn sink_suite<E: Entity>(erp: &MemorySystem, batch: &[E], invalid: E) {
    testkit::check_sink(erp, batch, invalid)
        .await
        .unwrap_or_else(|f| panic!("{}: {f}", E::KIND));
    testkit::written_records_read_back(erp, erp, batch)
        .await
        .unwrap_or_else(|f| panic!("{}: {f}", E::KIND));
}

#[tokio::test]
async fn every_entity_passes_the_sink_suite() {
    let d = data();
    let erp = system("erp", MemoryOptions::default().with_max_batch(16));

    let mut bad_variant = d.variants[0].clone();
    bad_variant.price = -bad_variant.price;
    sink_suite::<Variant>(&erp, &d.variants[1..], bad_variant).await;

    let mut bad_product = d.products[0].clone();
    bad_product.title = " ".into();
    sink_suite::<Product>(&erp, &d.products[1..], bad_product).await;

    let mut bad_level = d.inventory[0].clone();
    bad_level.available += 1;
    sink_suite::<InventoryLevel>(&erp, &d.inventory[1..], bad_level).await;

    let mut bad_location = d.locations[0].clone();
    bad_location.name.clear();
    sink_suite::<Location>(&erp, &d.locations[1..], bad_location).await;

    let mut bad_customer = d.customers[0].clone();
    bad_customer.emails = vec!["nobody".into()];
    sink_suite::<Customer>(&erp, &d.customers[1..], bad_customer).await;

    let mut bad_order = d.orders[0].clone();
    bad_order.totals.total = bad_order
        .totals
        .total
        .checked_add(bad_order.totals.total)
        .unwrap();
    sink_suite::<Order>(&erp, &d.orders[1..], bad_order).await;
}
