//! Identifier parsing: `Gtin::parse`, `Sku::new` and `Currency::from_code` never
//! panic, and what they accept is normalized and stable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seamwork::model::{Currency, Gtin, Sku};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    if let Ok(gtin) = Gtin::parse(&text) {
        let digits = gtin.as_str();
        assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{gtin:?}");
        let again = Gtin::parse(digits).expect("parsed GTIN digits must re-parse");
        assert_eq!(again, gtin);
        assert_eq!(gtin.to_gtin14().len(), 14, "{gtin:?}");
    }

    if let Ok(sku) = Sku::new(&*text) {
        let s = sku.as_str();
        assert!(!s.is_empty(), "{sku:?}");
        assert_eq!(s, s.trim(), "SKU is not trimmed");
        let again = Sku::new(s).expect("accepted SKU must re-parse");
        assert_eq!(again, sku);
    }

    if let Ok(currency) = Currency::from_code(&text) {
        let again = Currency::from_code(currency.code()).expect("a currency's own code must parse");
        assert_eq!(again, currency);
    }
});
