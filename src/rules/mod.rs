//! Business rules as data: inventory availability, pricing and order routing.
//!
//! The logic integrations really encode, and the logic that changes every
//! week: a new warehouse, a price list for a marketplace, a safety stock for
//! fragile items. Here it is data — serde structs a team edits as TOML — and
//! evaluation is pure, synchronous functions. Every decision comes with an
//! [`Explanation`] that names, step by step, the rule that produced each
//! number.
//!
//! | part | rules | evaluate with | decision |
//! |---|---|---|---|
//! | [`availability`] | [`AvailabilityRules`] | [`AvailabilityEngine::evaluate`] | [`AvailabilityReport`] |
//! | [`pricing`] | [`PricingRules`] | [`PricingEngine::price`] | [`PriceDecision`] |
//! | [`routing`] | [`RoutingRules`] | [`RoutingEngine::route`] | [`RoutingDecision`] |
//!
//! Rule files are checked when loaded: a bad file is an
//! [`ErrorKind::Config`](crate::ErrorKind::Config) error naming the field
//! path and the rule (`price_lists[2].tiers[1].min_quantity (rule "web-usd"):
//! must be ≥ 1, found 0`); TOML syntax errors keep their line and column.
//!
//! Money is `Decimal` with explicit rounding, quantities are integers; the
//! one floating-point computation is the haversine distance
//! ([`haversine_metres`]), which returns whole metres.
//!
//! ```
//! use chrono::Utc;
//! use rust_decimal_macros::dec;
//! use seamwork::model::{Currency, Sku};
//! use seamwork::rules::{PriceRequest, PricingEngine};
//!
//! let pricing = PricingEngine::from_toml_str(r#"
//!     rounding = "half_up"
//!
//!     [[price_lists]]
//!     id = "retail-usd"
//!     currency = "USD"
//!     prices = [{ sku = "TEE-M", price = "20.00", tiers = [{ min_quantity = 10, percent = "-10" }] }]
//!
//!     [[map]]
//!     sku = "TEE-M"
//!     currency = "USD"
//!     price = "15.00"
//! "#)?;
//! let sku = Sku::new("TEE-M")?;
//! let decision = pricing.price(&PriceRequest::new(&sku, 12, Currency::USD, Utc::now()));
//! assert_eq!(decision.unit_price().unwrap().amount(), dec!(18.00));
//! println!("{}", decision.explain());
//! # Ok::<(), seamwork::Error>(())
//! ```

pub mod availability;
mod config;
mod explain;
mod geo;
pub mod pricing;
pub mod routing;

pub use availability::{
    AvailabilityEngine, AvailabilityReport, AvailabilityRules, BackorderRule, BufferRule,
    BundleComponent, BundleRule, Categories, ChannelAvailability, ChannelRule, ChannelShare,
    ChannelSplit, KitAvailability, LocationAvailability, LocationRule, NoCategories,
    SafetyStockRule, SkuAvailability, SplitMode,
};
pub use explain::{Explanation, Step};
pub use geo::haversine_metres;
pub use pricing::{
    CurrencyPrecedence, DiscountSplit, EndingDirection, EndingScope, MapAction, MapRule,
    PriceDecision, PriceEnding, PriceEntry, PriceList, PriceRequest, PricingEngine, PricingRules,
    Rate, RateTable, TaxBasis, TaxInput, TaxRounding, TaxSplit, TaxedAmount, Tier, add_tax,
    allocate_discount, compute_taxes, extract_tax, tax_rounding_tolerance,
};
pub use routing::{
    Criterion, Fallback, FallbackAction, LineAllocation, RouteContext, RoutingDecision,
    RoutingEngine, RoutingLocation, RoutingRules, RoutingStatus, ServiceArea, Shortfall,
    SplitRules, Stock,
};
