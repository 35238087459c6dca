//! Mapping throughput: one 15-field ERP row → Variant, with and without CEL
//! expressions (`cargo bench --bench mapping`). The expressions are compiled
//! once when the spec loads; the bench measures applying it per record.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use seamwork::mapping::{ApplyOptions, MappingSpec};
use seamwork::model::Variant;
use serde_json::{Value, json};

const PLAIN: &str = r#"
system = "erp"
entity = "variant"
version = 1
[fields]
sku = { from = "ITEM_NO", transforms = ["trim", { case = "upper" }] }
product_handle = { from = "GROUP", transforms = ["trim", { case = "lower" }] }
title = { from = "DESCRIPTION", transforms = ["trim"] }
"options.Size" = "SIZE"
"options.Colour" = "COLOUR"
barcodes = { from = "EAN", transforms = [{ split = { sep = "|" } }] }
"price.amount" = { from = "PRICE", transforms = [{ decimal = { separator = "," } }] }
"price.currency" = "CURRENCY"
"compare_at_price.amount" = { from = "LIST_PRICE", transforms = [{ decimal = { separator = "," } }] }
"compare_at_price.currency" = "CURRENCY"
"weight.value" = { from = "WEIGHT_OZ", transforms = [{ decimal = { separator = "," } }, { unit = { from = "oz", to = "g" } }] }
"weight.unit" = { value = "g" }
status = { from = "STATUS", transforms = [{ map = { A = "active", I = "archived", D = "draft" } }] }
taxable = { from = "TAXABLE", transforms = ["bool"] }
created_at = { from = "CREATED", transforms = [{ datetime = { formats = ["%d.%m.%Y %H:%M"], tz = "Europe/Berlin" } }] }
updated_at = { from = "CHANGED", transforms = [{ datetime = { formats = ["%d.%m.%Y %H:%M"], tz = "Europe/Berlin" } }] }
"#;

fn row(i: usize) -> Value {
    json!({
        "ITEM_NO": format!(" sku-{i:06} "),
        "GROUP": " TEE ",
        "DESCRIPTION": "Classic Tee Black ",
        "SIZE": "M",
        "COLOUR": "Black",
        "EAN": "4006381333931",
        "PRICE": "19,99",
        "LIST_PRICE": "24,99",
        "CURRENCY": "EUR",
        "WEIGHT_OZ": "6,5",
        "STATUS": "A",
        "TAXABLE": "Y",
        "CREATED": "01.02.2026 09:00",
        "CHANGED": "01.03.2026 14:05",
        "WAREHOUSE": "WH-01",
    })
}

fn bench(c: &mut Criterion) {
    let plain = MappingSpec::<Variant>::from_toml(PLAIN, "bench.toml").unwrap();
    let with_expr = MappingSpec::<Variant>::from_toml(
        &PLAIN
            .replace(
                r#"title = { from = "DESCRIPTION", transforms = ["trim"] }"#,
                r#"title = { expr = "DESCRIPTION + ' / ' + SIZE", transforms = ["trim"] }"#,
            )
            .replace(
                r#"taxable = { from = "TAXABLE", transforms = ["bool"] }"#,
                r#"taxable = { expr = "TAXABLE == 'Y'" }"#,
            ),
        "bench_expr.toml",
    )
    .unwrap();
    let rows: Vec<Value> = (0..1_000).map(row).collect();
    let opts = ApplyOptions::default();
    assert!(plain.apply_batch(&rows, &opts, None).failed.is_empty());
    assert!(with_expr.apply_batch(&rows, &opts, None).failed.is_empty());

    let mut group = c.benchmark_group("mapping_15_fields");
    group.throughput(Throughput::Elements(rows.len() as u64));
    group.bench_function("no_expressions", |b| {
        b.iter(|| {
            rows.iter()
                .filter(|r| plain.apply_with(black_box(r), &opts).is_ok())
                .count()
        })
    });
    group.bench_function("two_cel_expressions", |b| {
        b.iter(|| {
            rows.iter()
                .filter(|r| with_expr.apply_with(black_box(r), &opts).is_ok())
                .count()
        })
    });
    group.bench_function("to_payload", |b| {
        let variants: Vec<Variant> = rows
            .iter()
            .map(|r| plain.apply(r).unwrap().entity)
            .collect();
        // The way back must work, or this line would time error paths.
        for v in &variants {
            plain.to_payload(v, &opts).unwrap();
        }
        b.iter(|| {
            variants
                .iter()
                .filter(|v| plain.to_payload(black_box(v), &opts).is_ok())
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
