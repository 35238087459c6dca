//! Inventory availability as data: which quantity each sales channel may publish.
//!
//! Run: `cargo run --release --example inventory_rules`
//!
//! Loads `examples/inventory_rules.toml` (locations, channels, safety stock,
//! a buffer, a channel split, a kit and a pre-order limit), evaluates a small
//! warehouse snapshot, prints what every channel may publish, explains a few
//! numbers step by step, and shows the error a typo in the rules produces.

use std::collections::HashMap;

use chrono::Utc;
use seamwork::model::{InventoryLevel, LocationId, Sku};
use seamwork::rules::{AvailabilityEngine, AvailabilityRules};

fn main() -> Result<(), seamwork::Error> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/inventory_rules.toml");
    let engine = AvailabilityEngine::new(AvailabilityRules::load(path)?)?;
    println!("rules: {path}\n");

    // The catalog says which category each SKU is in.
    let categories: HashMap<Sku, String> = [
        ("TEE-BLK-M", "apparel"),
        ("HOODIE-NEW", "apparel"),
        ("VASE-BLUE", "fragile"),
        ("MUG-WHITE", "fragile"),
        ("TEA-SAMPLER", "food"),
        ("FUEL-CAN", "hazmat"),
    ]
    .into_iter()
    .map(|(s, c)| (sku(s), c.to_string()))
    .collect();

    // A snapshot as the WMS reports it: (sku, location, on_hand, committed, damaged, incoming).
    let rows = [
        ("TEE-BLK-M", "DC-EAST", 120, 14, 0, 0),
        ("TEE-BLK-M", "DC-WEST", 40, 2, 1, 0),
        ("TEE-BLK-M", "STORE-NYC", 6, 0, 0, 0),
        ("TEE-BLK-M", "STORE-SF", 9, 0, 0, 0),
        ("TEE-BLK-M", "3PL-NORTH", 500, 0, 0, 0),
        ("VASE-BLUE", "DC-EAST", 15, 1, 2, 0),
        ("VASE-BLUE", "DC-WEST", 7, 0, 0, 0),
        ("FUEL-CAN", "DC-EAST", 30, 0, 0, 0),
        ("FUEL-CAN", "DC-WEST", 30, 0, 0, 0),
        ("MUG-WHITE", "DC-EAST", 25, 3, 0, 0),
        ("MUG-WHITE", "DC-WEST", 9, 0, 0, 0),
        ("TEA-SAMPLER", "DC-EAST", 12, 0, 0, 0),
        ("TEA-SAMPLER", "STORE-NYC", 30, 0, 0, 0),
        ("HOODIE-NEW", "DC-EAST", 0, 0, 0, 200),
        ("HOODIE-NEW", "DC-WEST", 3, 0, 0, 12),
    ];
    let now = Utc::now();
    let levels: Vec<InventoryLevel> = rows
        .iter()
        .map(|&(s, l, on_hand, committed, damaged, incoming)| {
            let mut level = InventoryLevel::new(sku(s), location(l), now);
            level.on_hand = on_hand;
            level.committed = committed;
            level.damaged = damaged;
            level.incoming = incoming;
            level.recompute_available();
            level
        })
        .collect();

    let report = engine.evaluate(&levels, &categories);

    let channels: Vec<&str> = report.channels().collect();
    print!("{:<12} {:>9}", "sku", "sellable");
    for c in &channels {
        print!(" {c:>12}");
    }
    println!();
    for a in report.skus() {
        print!("{:<12} {:>9}", a.sku().as_str(), a.sellable());
        for c in &channels {
            print!(" {:>12}", a.published(c));
        }
        println!("{}", if a.is_bundle() { "   (kit)" } else { "" });
    }

    for s in ["VASE-BLUE", "GIFT-SET", "HOODIE-NEW", "FUEL-CAN"] {
        if let Some(a) = report.sku(&sku(s)) {
            println!("\n{}", a.explain());
        }
    }

    // A typo in a rule file is refused with the rule and the field.
    let typo = r#"
        [[locations]]
        id = "DC-EAST"
        [[channels]]
        id = "web"
        locations = ["DC-EAST", "DC-WSET"]
        [[bundles]]
        sku = "GIFT-SET"
        components = [{ sku = "MUG-WHITE", quantity = 0 }]
    "#;
    if let Err(e) = AvailabilityRules::from_toml_str(typo) {
        println!("\na rule file with typos is refused:\n  {e}");
    }
    Ok(())
}

fn sku(s: &str) -> Sku {
    Sku::new(s).expect("valid SKU")
}

fn location(s: &str) -> LocationId {
    LocationId::new(s).expect("valid location id")
}
