//! Inventory availability: which quantity each sales channel may publish.
//!
//! Per SKU and location, sellable stock is what the quantity states leave
//! (`on_hand` minus committed, reserved, safety_stock, damaged and
//! quality_control), minus the most specific safety stock rule (SKU beats
//! category beats location) and a buffer. Channels are fed by the locations
//! they list, when those are active and sell the SKU's category. A location
//! feeding several channels allocates its units between them — evenly by
//! default, or by a split rule (fixed quantities, then percentages,
//! remainder to a named channel) — so the channels together never publish
//! more than there is; a shared pool, where every channel sees every unit,
//! is an explicit opt-in (`mode = "shared"`). Bundles are counted location
//! by location from their components. Backorder rules let channels publish
//! a bounded total of units beyond stock, divided like the stock; without
//! one, nothing beyond sellable is published.
//!
//! ```
//! use chrono::Utc;
//! use seamwork::model::{InventoryLevel, LocationId, Sku};
//! use seamwork::rules::{AvailabilityEngine, NoCategories};
//!
//! let engine = AvailabilityEngine::from_toml_str(r#"
//!     [[locations]]
//!     id = "DC-EAST"
//!     [[locations]]
//!     id = "STORE-1"
//!
//!     [[channels]]
//!     id = "web"
//!     locations = ["DC-EAST"]
//!     [[channels]]
//!     id = "pos"
//!     locations = ["STORE-1"]
//!
//!     [[safety_stock]]
//!     id = "tee-floor"
//!     sku = "TEE-M"
//!     quantity = 2
//!
//!     [buffer]
//!     percent = 10
//! "#)?;
//!
//! let level = |loc: &str, on_hand: i64, committed: i64| {
//!     let mut l = InventoryLevel::new(Sku::new("TEE-M").unwrap(), LocationId::new(loc).unwrap(), Utc::now());
//!     l.on_hand = on_hand;
//!     l.committed = committed;
//!     l
//! };
//! let rows = [level("DC-EAST", 25, 3), level("STORE-1", 4, 0)];
//! let report = engine.evaluate(&rows, &NoCategories);
//! let tee = report.sku(&Sku::new("TEE-M")?).unwrap();
//! // DC-EAST: 25 - 3 = 22, safety 2 -> 20, buffer 10% -> 18.
//! assert_eq!(tee.published("web"), 18);
//! // STORE-1: 4, safety 2 -> 2, buffer 10% of 2 rounded up -> 1.
//! assert_eq!(tee.published("pos"), 1);
//! let why = tee.explain();
//! assert_eq!(why.step("safety_stock[tee-floor]").unwrap().output, "20");
//! # Ok::<(), seamwork::Error>(())
//! ```

mod config;
mod engine;
mod report;
mod split;

pub use config::{
    AvailabilityRules, BackorderRule, BufferRule, BundleComponent, BundleRule, ChannelRule,
    ChannelShare, ChannelSplit, LocationRule, SafetyStockRule, SplitMode,
};
pub(crate) use engine::States;
pub use engine::{AvailabilityEngine, Categories, NoCategories};
pub use report::{
    AvailabilityReport, ChannelAvailability, KitAvailability, LocationAvailability, SkuAvailability,
};

#[cfg(test)]
mod tests;
