//! Mapping specs in action: a Shopify order and ERP item rows mapped to
//! canonical types and back, with bad records showing their errors.
//!
//! Run: `cargo run --example mapping`
//!
//! Everything it reads is in `examples/mapping/`: two specs (TOML), a
//! Shopify-shaped GraphQL order export (JSON), an ERP item export (CSV with a
//! German number format) and the crosswalk that turns ERP item numbers and
//! warehouse codes into canonical SKUs and locations.

use std::path::PathBuf;

use seamwork::mapping::testing::read_records;
use seamwork::mapping::value::record_from_columns;
use seamwork::mapping::{ApplyOptions, MappingError, MappingSpec, MemoryCrossReferences};
use seamwork::model::{Order, Variant};
use serde_json::Value;

fn file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/mapping")
        .join(name)
}

/// Reads a `;`-separated CSV export into one JSON object per row.
fn read_csv(path: &PathBuf) -> Result<Vec<Value>, Box<dyn std::error::Error>> {
    let mut reader = csv::ReaderBuilder::new().delimiter(b';').from_path(path)?;
    let headers = reader.headers()?.clone();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record?;
        rows.push(record_from_columns(headers.iter().zip(record.iter()))?);
    }
    Ok(rows)
}

/// One line per failed field, so a person can fix them all in one go.
fn print_failure(e: &MappingError) {
    println!(
        "record #{} refused by {} {} mapping v{}:",
        e.record.unwrap_or(0),
        e.system,
        e.entity,
        e.version
    );
    for f in &e.failures {
        println!("    {f}");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let xrefs = MemoryCrossReferences::new();
    xrefs.load_crosswalks(&std::fs::read_to_string(file("crosswalks.toml"))?)?;
    let opts = ApplyOptions::default().with_xrefs(&xrefs);

    println!("== Shopify order (GraphQL JSON) -> Order ==");
    let order_spec = MappingSpec::<Order>::from_file(file("shopify_order.toml"))?;
    let orders = read_records(&file("shopify_orders.json"))?;
    let outcome = order_spec.apply_batch(&orders, &opts, None);
    for m in &outcome.mapped {
        let o = &m.entity;
        println!(
            "record #{} -> order {} ({} line(s), total {}, {:?}) by spec v{}",
            m.record,
            o.number,
            o.lines.len(),
            o.totals.total,
            o.financial_status,
            m.version
        );
        let payload = order_spec.to_payload(o, &opts)?;
        println!(
            "  and back to Shopify's shape: name={} displayFinancialStatus={} lineItems.nodes[0].sku={}",
            payload["name"],
            payload["displayFinancialStatus"],
            payload["lineItems"]["nodes"][0]["sku"]
        );
    }
    for e in &outcome.failed {
        print_failure(e);
    }

    println!("\n== ERP item rows (CSV) -> Variant ==");
    let variant_spec = MappingSpec::<Variant>::from_file(file("erp_variant.toml"))?;
    let rows = read_csv(&file("erp_items.csv"))?;
    let outcome = variant_spec.apply_batch(&rows, &opts, None);
    for m in &outcome.mapped {
        let v = &m.entity;
        let weight = v
            .weight
            .map(|w| w.value.round_dp(1).to_string())
            .unwrap_or_default();
        println!(
            "row #{} -> {} {:?} {} {weight} g {:?} updated {}",
            m.record, v.sku, v.title, v.price, v.status, v.updated_at
        );
        let payload = variant_spec.to_payload(v, &opts)?;
        println!(
            "  and back to the ERP's columns: ITEM_NO={} PRICE={} STATUS={} CHANGED={}",
            payload["ITEM_NO"], payload["PRICE"], payload["STATUS"], payload["CHANGED"]
        );
    }
    for e in &outcome.failed {
        print_failure(e);
    }
    println!(
        "\n{} of {} ERP rows mapped, {} reported with every failed field (nothing dropped).",
        outcome.mapped.len(),
        outcome.len(),
        outcome.failed.len()
    );
    println!(
        "Fields that do not survive the way back: {:?}",
        variant_spec.one_way_fields()
    );
    Ok(())
}
