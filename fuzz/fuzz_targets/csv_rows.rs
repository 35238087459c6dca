//! CSV/TSV rows through a mapping spec: any bytes (BOM or not, any quoting,
//! broken UTF-8, ragged rows) in any of the adapter's formats map to
//! entities or to bad lines with a line number — never a panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use seamwork::adapters::csv::{Columns, CsvFormat, map_csv};
use seamwork::mapping::{ApplyOptions, MappingSpec};
use seamwork::model::Variant;

fn spec() -> Arc<MappingSpec<Variant>> {
    static SPEC: OnceLock<Arc<MappingSpec<Variant>>> = OnceLock::new();
    SPEC.get_or_init(|| {
        Arc::new(
            MappingSpec::from_toml(
                include_str!("../../examples/csv_drop_folder/erp_variant.toml"),
                "erp_variant.toml",
            )
            .expect("example spec loads"),
        )
    })
    .clone()
}

/// The first byte picks the format; the rest is the file.
fn format(choice: u8) -> CsvFormat {
    let base = match choice % 3 {
        0 => CsvFormat::csv().with_delimiter(b';'),
        1 => CsvFormat::tsv(),
        _ => CsvFormat::csv(),
    };
    let base = match (choice / 3) % 3 {
        0 => base,
        1 => base.without_quoting(),
        _ => base.with_escape(b'\\'),
    };
    match (choice / 9) % 3 {
        0 => base,
        1 => base.with_columns(Columns::Positions),
        _ => base.with_columns(Columns::Named(
            ["ITEM_NO", "GROUP", "DESCRIPTION", "PRICE", "CURRENCY", "STATUS", "TAXABLE", "CREATED", "CHANGED"]
                .map(String::from)
                .to_vec(),
        )),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, bytes)) = data.split_first() else {
        return;
    };
    let spec = spec();
    let Ok(rows) = map_csv(spec.clone(), &format(choice), bytes) else {
        return;
    };
    let mut last = 0;
    for row in rows {
        let line = match row {
            Ok((line, entity)) => {
                let _ = spec.to_payload(&entity, &ApplyOptions::default());
                line
            }
            Err(bad) => {
                assert!(!bad.reasons.is_empty(), "a bad line without a reason");
                bad.line
            }
        };
        assert!(line >= 1 && line >= last, "line numbers start at 1 and never go back");
        last = line;
    }
});
