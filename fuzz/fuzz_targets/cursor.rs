//! Cursor decoding: `TimeIdCursor::decode` never panics, and what it accepts
//! survives `encode` → `decode` unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seamwork::connector::{Cursor, TimeIdCursor};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(decoded) = TimeIdCursor::decode(&Cursor::new(text.as_ref())) {
        let encoded = decoded.encode();
        let again = TimeIdCursor::decode(&encoded)
            .unwrap_or_else(|e| panic!("{encoded:?} (from {decoded:?}) does not decode: {e}"));
        assert_eq!(again, decoded, "round trip through {encoded:?}");
    }
});
