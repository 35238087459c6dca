//! WooCommerce webhook bodies: turning any bytes into an order, customer,
//! variant or stock record (the parsers the webhook intake runs after the
//! signature check) never panics.
#![no_main]

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use libfuzzer_sys::fuzz_target;
use seamwork::adapters::woocommerce::WireContext;
use seamwork::adapters::woocommerce::webhook::{
    customer_record, level_record, order_record, variant_record,
};
use seamwork::model::{Currency, LocationId, SystemId};

fuzz_target!(|data: &[u8]| {
    let ctx = WireContext {
        system: SystemId::new("woo").unwrap(),
        currency: Currency::USD,
        location: LocationId::new("WEB").unwrap(),
    };
    let slugs = Arc::new(RwLock::new(HashMap::from([(732u64, "ship-your-idea".to_string())])));
    let _ = order_record(data, &ctx);
    let _ = customer_record(data, &ctx);
    let _ = variant_record(data, &ctx, &slugs);
    let _ = level_record(data, &ctx);
});
