//! Loading mapping specs: any text given as a TOML or JSON spec loads or is
//! refused with located problems — never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seamwork::mapping::MappingSpec;
use seamwork::model::{Order, Variant};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = MappingSpec::<Order>::from_toml(&text, "fuzz.toml") {
        assert!(!e.problems.is_empty());
    }
    let _ = MappingSpec::<Variant>::from_toml(&text, "fuzz.toml");
    let _ = MappingSpec::<Variant>::from_json(&text, "fuzz.json");
});
