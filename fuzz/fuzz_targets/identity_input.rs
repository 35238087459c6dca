//! Identity input: any text as a dedupe spec, and any bytes as a customer CSV
//! read through the sample spec (and every field normalizer on each cell),
//! load or are refused with errors naming the line — never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seamwork::identity::DedupeSpec;
use seamwork::identity::normalize::{
    DateOrder, EmailRules, normalize_address_line, normalize_date, normalize_email,
    normalize_given_name, normalize_phone, normalize_postcode, soundex,
};
use std::sync::OnceLock;

fn spec() -> &'static DedupeSpec {
    static SPEC: OnceLock<DedupeSpec> = OnceLock::new();
    SPEC.get_or_init(|| {
        DedupeSpec::from_toml_str(include_str!("../../examples/identity/spec.toml"))
            .expect("sample spec loads")
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = DedupeSpec::from_toml_str(&text);
    let _ = spec().read_csv(data, "fuzz.csv", 0);
    for cell in text.split([',', '\n']).take(64) {
        let _ = normalize_email(cell, EmailRules::Provider);
        let _ = normalize_phone(cell, "US");
        let _ = normalize_given_name(cell, true);
        let _ = normalize_address_line(cell);
        let _ = normalize_postcode(cell, Some("US"));
        let _ = normalize_date(cell, DateOrder::DayFirst);
        let _ = soundex(cell);
    }
});
