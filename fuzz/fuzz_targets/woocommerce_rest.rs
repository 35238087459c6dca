//! WooCommerce REST answers: any bytes as a product, order or customer page
//! (and as an error body), mapped to the canonical model, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seamwork::adapters::woocommerce::WireContext;
use seamwork::adapters::woocommerce::wire;
use seamwork::model::{Currency, LocationId, SystemId};

fuzz_target!(|data: &[u8]| {
    let ctx = WireContext {
        system: SystemId::new("woo").unwrap(),
        currency: Currency::EUR,
        location: LocationId::new("WEB").unwrap(),
    };
    if let Ok(products) = wire::parse_products(data) {
        for p in &products {
            let _ = p.cursor();
            let _ = wire::to_level(p, &ctx);
            let _ = wire::to_variant(p, None, "parent", &ctx);
            let _ = wire::to_product(p, &products, &ctx);
        }
    }
    if let Ok(orders) = wire::parse_orders(data) {
        for o in &orders {
            let _ = o.cursor();
            if let Ok(order) = wire::to_order(o, &ctx) {
                let _ = order.validate();
            }
        }
    }
    if let Ok(customers) = wire::parse_customers(data) {
        for c in &customers {
            let _ = c.cursor();
            let _ = wire::to_customer(c, &ctx);
        }
    }
    let _ = wire::describe_error_body(&String::from_utf8_lossy(data));
});
