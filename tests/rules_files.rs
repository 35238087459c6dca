//! The example rule files load and evaluate, and a broken rule file on disk
//! is refused with its path, line and column.

use std::path::PathBuf;

use seamwork::ErrorKind;
use seamwork::rules::{
    AvailabilityEngine, AvailabilityRules, PricingEngine, PricingRules, RoutingEngine, RoutingRules,
};

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// A file in the temp directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!("seamwork-{}-{name}", std::process::id()));
        std::fs::write(&path, text).expect("write temp file");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn example_rule_files_are_valid() {
    let availability = AvailabilityRules::load(example("inventory_rules.toml")).unwrap();
    assert!(!availability.channels.is_empty());
    AvailabilityEngine::new(availability).unwrap();
    let pricing = PricingRules::load(example("pricing.toml")).unwrap();
    assert!(pricing.price_lists.len() >= 3);
    PricingEngine::new(pricing).unwrap();
    let routing = RoutingRules::load(example("order_routing.toml")).unwrap();
    assert!(routing.locations.len() >= 5);
    RoutingEngine::new(routing).unwrap();
}

#[test]
fn syntax_errors_name_the_file_line_and_column() {
    let file = TempFile::new(
        "pricing.toml",
        "rounding = \"half_up\"\n\n[[price_lists]]\nid = \"retail\"\ncurrency = \"USD\"\nprices = [{ sku = \"A\", price = \"1.00\" }\n",
    );
    let err = PricingRules::load(&file.0).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Config);
    let shown = file.0.display().to_string();
    assert_eq!(err.context().file.as_deref(), Some(shown.as_str()));
    assert_eq!(err.context().line, Some(6));
    assert!(err.message().contains(&format!("{shown}:6:")), "{err}");
}

#[test]
fn rule_errors_name_the_file_rule_and_field() {
    let file = TempFile::new(
        "routing.toml",
        "[[locations]]\nid = \"DC\"\n[fallback]\naction = \"location\"\nlocation = \"DC-TYPO\"\n",
    );
    let err = RoutingRules::load(&file.0).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Config);
    assert_eq!(err.context().field.as_deref(), Some("fallback.location"));
    assert!(
        err.to_string().contains(&file.0.display().to_string()),
        "{err}"
    );
    assert!(
        err.message().contains("unknown location \"DC-TYPO\""),
        "{err}"
    );
}

#[test]
fn type_errors_name_the_file_key_path_and_rule() {
    let file = TempFile::new(
        "availability.toml",
        "[[locations]]\nid = \"DC\"\n\n[[safety_stock]]\nid = \"floor\"\nlocation = \"DC\"\nquantity = -2\n",
    );
    let err = AvailabilityRules::load(&file.0).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Config);
    assert_eq!(
        err.context().field.as_deref(),
        Some("safety_stock[0].quantity")
    );
    assert_eq!(
        (err.context().line, err.context().column),
        (Some(7), Some(12))
    );
    assert!(
        err.message()
            .contains(":7:12: safety_stock[0].quantity (rule \"floor\"): invalid value: integer `-2`, expected u64"),
        "{err}"
    );
    let file = TempFile::new(
        "pricing-type.toml",
        "[[price_lists]]\nid = \"retail\"\ncurrency = \"USD\"\nprices = [{ sku = \"A\", price = \"1.00\", tiers = [{ min_quantity = \"ten\", percent = \"-5\" }] }]\n",
    );
    let err = PricingRules::load(&file.0).unwrap_err();
    assert!(
        err.message().contains(
            "price_lists[0].prices[0].tiers[0].min_quantity (rule \"retail\"): invalid type"
        ),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_a_config_error_naming_it() {
    let err = AvailabilityRules::load("/nonexistent/rules.toml").unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Config);
    assert!(err.message().contains("/nonexistent/rules.toml"), "{err}");
}
