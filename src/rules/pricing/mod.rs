//! Pricing: price lists with precedence and validity windows, quantity
//! breaks, percentage adjustments, the minimum advertised price guard,
//! currency conversion, price endings, tax-inclusive ↔ exclusive amounts and
//! exact discount allocation.
//!
//! A request (SKU, quantity, currency, instant, optional channel and
//! customer group) is priced by the first list that applies — by priority,
//! then specificity (channel and group), then a list in the requested
//! currency before one that needs conversion, then file order (see
//! [`CurrencyPrecedence`] for why, and for the alternative). Arithmetic is
//! exact `Decimal` until one rounding to the currency's minor unit with the
//! rules' mode; the price ending (converted prices only, unless told
//! otherwise; never a zero price) and the MAP guard (in its own currency, on
//! its own tax basis) come after it.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use rust_decimal_macros::dec;
//! use seamwork::model::{Currency, Sku};
//! use seamwork::rules::{PriceRequest, PricingEngine};
//!
//! let engine = PricingEngine::from_toml_str(r#"
//!     [[price_lists]]
//!     id = "retail"
//!     currency = "USD"
//!     prices = [{ sku = "MUG", price = "12.00" }]
//!
//!     [[price_lists]]
//!     id = "summer-sale"
//!     currency = "USD"
//!     channel = "web"
//!     priority = 10
//!     based_on = "retail"
//!     adjustment_percent = "-25"
//!     valid_from = 2026-06-01T00:00:00Z
//!     valid_until = 2026-09-01T00:00:00Z
//!
//!     [rates]
//!     base = "USD"
//!     rates = [{ currency = "EUR", rate = "0.92" }]
//!
//!     [[endings]]
//!     currency = "EUR"
//!     ending = "0.99"
//! "#)?;
//! let mug = Sku::new("MUG")?;
//! let july = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
//!
//! let web = engine.price(&PriceRequest::new(&mug, 1, Currency::USD, july).for_channel("web"));
//! assert_eq!(web.unit_price().unwrap().amount(), dec!(9.00));
//! assert_eq!(web.price_list(), Some("summer-sale"));
//!
//! // In EUR: 9.00 x 0.92 = 8.28, then the nearest .99 ending.
//! let eur = engine.price(&PriceRequest::new(&mug, 1, Currency::EUR, july).for_channel("web"));
//! assert_eq!(eur.unit_price().unwrap().amount(), dec!(7.99));
//! assert!(eur.explain().step("rates").is_some());
//! # Ok::<(), seamwork::Error>(())
//! ```

mod config;
mod currency;
mod discount;
mod engine;
mod tax;

pub use config::{
    CurrencyPrecedence, EndingDirection, EndingScope, MapAction, MapRule, PriceEnding, PriceEntry,
    PriceList, PricingRules, Rate, RateTable, Tier,
};
pub use discount::{DiscountSplit, allocate_discount};
pub use engine::{PriceDecision, PriceRequest, PricingEngine};
pub use tax::{
    TaxBasis, TaxInput, TaxRounding, TaxSplit, TaxedAmount, add_tax, compute_taxes, extract_tax,
    tax_rounding_tolerance,
};

#[cfg(test)]
mod tests;
