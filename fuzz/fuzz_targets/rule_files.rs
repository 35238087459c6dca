//! Rule files: any text loads as availability, pricing or routing rules (and
//! builds an engine) or is refused with an error — never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seamwork::rules::{AvailabilityEngine, PricingEngine, RoutingEngine};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = AvailabilityEngine::from_toml_str(&text);
    let _ = PricingEngine::from_toml_str(&text);
    let _ = RoutingEngine::from_toml_str(&text);
});
