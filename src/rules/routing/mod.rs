//! Order routing: which locations ship an order.
//!
//! Locations are data (a new warehouse is a config change): whether they
//! are active, which countries and regions they serve, their priority,
//! coordinates, cost per shipment and carrier cutoff (a local time in the
//! location's IANA time zone). Routing picks the plan with the fewest
//! shipments — one location with every line when there is one, else the
//! smallest set of locations whose stock covers the order, found by an
//! exhaustive search within a budget — and ranks equally short plans by the
//! rules' `order_by` (same-day, priority, haversine distance, cost by
//! default). Splits are allowed or forbidden per order and per line; what no
//! location can ship goes to the fallback (backorder, a fallback location
//! where it serves the order, or reject). No location is ever given more
//! than its stock, over all the lines it ships.
//!
//! ```
//! use chrono::Utc;
//! use rust_decimal_macros::dec;
//! use seamwork::model::{Address, Currency, GeoPoint, LocationId, Money, Order, OrderLine, Sku};
//! use seamwork::rules::{RouteContext, RoutingEngine};
//!
//! let engine = RoutingEngine::from_toml_str(r#"
//!     [[locations]]
//!     id = "DC-EAST"
//!     coordinates = { lat = "40.71", lon = "-74.00" }
//!     serves = [{ country = "US" }]
//!
//!     [[locations]]
//!     id = "DC-WEST"
//!     coordinates = { lat = "34.05", lon = "-118.24" }
//!     serves = [{ country = "US" }]
//!
//!     [[locations]]
//!     id = "STORE-NYC"
//!     active = false
//! "#)?;
//! let (tee, mug) = (Sku::new("TEE")?, Sku::new("MUG")?);
//! let mut stock = engine.stock();
//! for loc in ["DC-EAST", "DC-WEST"] {
//!     stock.set(&tee, &LocationId::new(loc)?, 5)?;
//!     stock.set(&mug, &LocationId::new(loc)?, 5)?;
//! }
//!
//! let usd = |a| Money::new(a, Currency::USD);
//! let mut order = Order::new("1001", Currency::USD, Utc::now());
//! order.lines.push(OrderLine::new("1", tee, 2, usd(dec!(20))));
//! order.lines.push(OrderLine::new("2", mug, 1, usd(dec!(8))));
//! order.shipping_address = Some(Address::new("1 Main St", "San Diego", "US"));
//!
//! let san_diego = GeoPoint { lat: dec!(32.72), lon: dec!(-117.16) };
//! let decision = engine.route(&order, &stock, &RouteContext::new().destination(san_diego))?;
//! assert!(decision.is_filled());
//! assert_eq!(decision.shipments(), [&LocationId::new("DC-WEST")?]);
//! let why = decision.explain();
//! assert!(why.step("locations[DC-EAST]").unwrap().why.contains("ranks after DC-WEST on distance"));
//! assert_eq!(why.step("locations[STORE-NYC]").unwrap().why, "inactive");
//! # Ok::<(), seamwork::Error>(())
//! ```

mod config;
mod decision;
mod engine;
mod stock;

pub use config::{
    Criterion, Fallback, FallbackAction, RoutingLocation, RoutingRules, ServiceArea, SplitRules,
};
pub use decision::{LineAllocation, RoutingDecision, RoutingStatus, Shortfall};
pub use engine::{RouteContext, RoutingEngine};
pub use stock::Stock;

#[cfg(test)]
mod tests;
