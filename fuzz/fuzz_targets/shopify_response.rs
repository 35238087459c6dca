//! Shopify GraphQL answers: parsing the envelope (`data`, `errors`,
//! `extensions.cost`) and mapping every node of each entity's connection
//! never panics, whatever the bytes; nor does re-nesting a bulk JSONL result.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seamwork::adapters::shopify::{ShopifyConfig, decode_answer, parse_bulk_lines, parse_response};
use seamwork::connector::EntityKind;

fuzz_target!(|data: &[u8]| {
    let _ = parse_response(data);
    let _ = parse_bulk_lines(&String::from_utf8_lossy(data));
    let config = ShopifyConfig::new("https://fuzz.myshopify.com", "token".to_string().into());
    for kind in [
        EntityKind::Product,
        EntityKind::Order,
        EntityKind::Customer,
        EntityKind::Location,
        EntityKind::InventoryLevel,
    ] {
        let _ = decode_answer(kind, data, &config);
    }
});
