//! Mapping outside records: any JSON record run through the example specs
//! (a Shopify order, an ERP variant row) maps or fails with field errors, and
//! a mapped entity goes back to a payload — never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seamwork::mapping::{ApplyOptions, MappingSpec, MemoryCrossReferences};
use seamwork::model::{Order, Variant};
use std::sync::OnceLock;

struct Specs {
    order: MappingSpec<Order>,
    variant: MappingSpec<Variant>,
    xrefs: MemoryCrossReferences,
}

fn specs() -> &'static Specs {
    static SPECS: OnceLock<Specs> = OnceLock::new();
    SPECS.get_or_init(|| {
        let xrefs = MemoryCrossReferences::new();
        xrefs
            .load_crosswalks(include_str!("../../examples/mapping/crosswalks.toml"))
            .expect("example crosswalks load");
        Specs {
            order: MappingSpec::from_toml(
                include_str!("../../examples/mapping/shopify_order.toml"),
                "order",
            )
            .expect("example spec loads"),
            variant: MappingSpec::from_toml(
                include_str!("../../examples/mapping/erp_variant.toml"),
                "variant",
            )
            .expect("example spec loads"),
            xrefs,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(record) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let s = specs();
    let opts = ApplyOptions::default().with_xrefs(&s.xrefs);
    if let Ok(m) = s.order.apply_with(&record, &opts) {
        let _ = s.order.to_payload(&m.entity, &opts);
    }
    if let Ok(m) = s.variant.apply_with(&record, &opts) {
        let _ = s.variant.to_payload(&m.entity, &opts);
    }
});
