//! The canonical commerce model: plain serde data with validation.
//!
//! Every connector maps its system's records to these types and back. No I/O
//! and no async here; each type's `validate()` names every field and rule it
//! breaks, so bad data is reported where it enters.
//!
//! ```
//! use rust_decimal_macros::dec;
//! use seamwork::model::{Currency, Money, RoundingMode};
//!
//! let price = Money::new(dec!(10.005), Currency::USD);
//! assert_eq!(price.round(RoundingMode::HalfEven).amount(), dec!(10.00));
//! assert_eq!(price.round(RoundingMode::HalfUp).amount(), dec!(10.01));
//! ```

pub mod address;
pub mod customer;
pub mod ids;
pub mod inventory;
pub mod location;
pub mod money;
pub mod order;
pub mod product;
pub mod validation;

pub use address::{Address, GeoPoint};
pub use customer::{ConsentState, Customer, MarketingConsent};
pub use ids::{ExternalRef, Gtin, LocationId, Sku, SystemId};
pub use inventory::InventoryLevel;
pub use location::{Location, LocationKind};
pub use money::{Currency, Money, MoneyError, RoundingMode};
pub use order::{
    ChargeKind, DiscountAllocation, DiscountTarget, FinancialStatus, FulfillmentStatus, Order,
    OrderCharge, OrderDiscount, OrderLine, OrderTotals, Refund, RefundLine, ShippingLine, TaxLine,
};
pub use product::{Product, ProductOption, ProductStatus, Variant, Weight, WeightUnit};
pub use validation::{ValidationErrors, Violation};
