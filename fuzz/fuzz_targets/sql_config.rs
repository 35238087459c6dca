//! SQL adapter configuration: parsing any TOML into a `SqlConfig` and
//! checking it never panics, and a configuration that passes the check names
//! only plain identifiers (the only configured text that reaches SQL unbound,
//! besides an operator's own query).
#![no_main]

use libfuzzer_sys::fuzz_target;
use seamwork::adapters::sql::{Relation, SqlConfig};

fn plain(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(config) = toml::from_str::<SqlConfig>(&text) else {
        return;
    };
    if config.check().is_err() {
        return;
    }
    if let Relation::Table(name) = &config.relation {
        let parts: Vec<&str> = name.split('.').collect();
        assert!(parts.len() <= 2 && parts.iter().all(|p| plain(p)), "{name:?}");
    }
    for k in &config.key {
        assert!(plain(k), "key {k:?}");
    }
    assert!(plain(&config.updated_at), "{:?}", config.updated_at);
    if let Some(c) = &config.checksum {
        assert!(plain(&c.column), "{:?}", c.column);
    }
    assert!(config.page_size > 0 && config.max_batch > 0);
});
