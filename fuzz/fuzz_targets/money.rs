//! Money parsing and JSON: `Money::parse` and `Money`'s `Deserialize` never panic,
//! accepted values round-trip through JSON, and `round` always yields a rounded amount.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seamwork::model::{Currency, Money, RoundingMode};

const MODES: [RoundingMode; 7] = [
    RoundingMode::HalfEven,
    RoundingMode::HalfUp,
    RoundingMode::HalfDown,
    RoundingMode::Down,
    RoundingMode::Up,
    RoundingMode::Floor,
    RoundingMode::Ceiling,
];

fn check(money: Money) {
    let json = serde_json::to_string(&money).expect("Money must serialize");
    let back: Money = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("{json} (from {money:?}) does not deserialize: {e}"));
    assert_eq!(back, money, "JSON round trip through {json}");
    for mode in MODES {
        let rounded = money.round(mode);
        assert!(
            rounded.is_rounded(),
            "{money:?} rounded {mode:?} gives {rounded:?}, not rounded"
        );
        assert_eq!(rounded.currency(), money.currency());
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(money) = Money::parse(&text, Currency::USD) {
        check(money);
    }
    if let Ok(money) = serde_json::from_slice::<Money>(data) {
        check(money);
    }
});
