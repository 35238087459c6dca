//! Entity JSON: deserializing any bytes into the canonical model types never
//! panics, and neither does `validate()` (nor `Order::computed_totals`) on
//! whatever deserializes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seamwork::model::{Customer, InventoryLevel, Location, Order, Product, Variant};

fuzz_target!(|data: &[u8]| {
    if let Ok(order) = serde_json::from_slice::<Order>(data) {
        let _ = order.validate();
        let _ = order.computed_totals(order.totals.paid);
    }
    if let Ok(product) = serde_json::from_slice::<Product>(data) {
        let _ = product.validate();
    }
    if let Ok(variant) = serde_json::from_slice::<Variant>(data) {
        let _ = variant.validate();
    }
    if let Ok(level) = serde_json::from_slice::<InventoryLevel>(data) {
        let _ = level.validate();
    }
    if let Ok(customer) = serde_json::from_slice::<Customer>(data) {
        let _ = customer.validate();
    }
    if let Ok(location) = serde_json::from_slice::<Location>(data) {
        let _ = location.validate();
    }
});
