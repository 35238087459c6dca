//! Loading reconcile specs: any text loads or is refused with an error
//! naming the file — never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seamwork::reconcile::DiffSpec;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match DiffSpec::from_toml(&text, "SPEC.toml") {
        Ok(spec) => assert!(spec.check().is_ok()),
        Err(e) => assert_eq!(e.context().file.as_deref(), Some("SPEC.toml")),
    }
});
