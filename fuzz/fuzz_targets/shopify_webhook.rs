//! Shopify webhook payloads: any bytes under any topic (known or not) parse to
//! a record or a clear error, never a panic; what parses validates without
//! panicking; and any header text reads into headers or an error.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use seamwork::adapters::shopify::webhook::{
    INVENTORY_ITEM_NAMESPACE, LOCATION_NAMESPACE, ShopifyHeaders, ShopifyParser, ShopifyRecord,
};
use seamwork::connector::Entity;
use seamwork::mapping::MemoryCrossReferences;
use seamwork::model::{Currency, SystemId};

const TOPICS: [&str; 9] = [
    "orders/create",
    "orders/updated",
    "products/create",
    "products/update",
    "inventory_levels/update",
    "customers/create",
    "customers/update",
    "orders/delete",
    "",
];

fn parser() -> &'static ShopifyParser {
    static PARSER: OnceLock<ShopifyParser> = OnceLock::new();
    PARSER.get_or_init(|| {
        let xrefs = MemoryCrossReferences::new();
        // Small ids the fuzzer finds easily resolve, so levels get built too.
        xrefs.bind(INVENTORY_ITEM_NAMESPACE, "shopify", "1", "SKU-1").unwrap();
        xrefs.bind(LOCATION_NAMESPACE, "shopify", "2", "DC-1").unwrap();
        ShopifyParser::new(SystemId::new("shopify").unwrap(), Currency::USD, Arc::new(xrefs))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let topic = TOPICS[usize::from(selector) % TOPICS.len()];
    match parser().parse(topic, "wh-fuzz", body) {
        Ok(ShopifyRecord::Order(r)) => {
            let _ = r.entity.validate();
            let _ = r.entity.computed_totals(r.entity.totals.paid);
            let _ = r.entity.key();
        }
        Ok(ShopifyRecord::Product(r)) => {
            let _ = r.entity.validate();
        }
        Ok(ShopifyRecord::InventoryLevel(r)) => {
            let _ = r.entity.validate();
        }
        Ok(ShopifyRecord::Customer(r)) => {
            let _ = r.entity.validate();
        }
        Ok(_) => {}
        Err(e) => {
            let _ = e.to_string();
        }
    }
    // The same bytes as header lines `name: value`.
    let text = String::from_utf8_lossy(body);
    let pairs = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()));
    if let Ok(headers) = ShopifyHeaders::from_pairs(pairs) {
        let _ = headers.dedupe_id();
    }
});
