//! Pricing as data: price lists, quantity breaks, a sale window, the
//! minimum advertised price, conversion, endings, tax and discounts.
//!
//! Run: `cargo run --release --example pricing`
//!
//! Loads `examples/pricing.toml`, prices a handful of requests and explains
//! some of them step by step; then shows the one-cent difference between
//! per-line and per-total tax rounding (and the tolerance that accepts
//! exactly it), an order discount spread over lines, and the error a typo in
//! the rules produces.

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use seamwork::model::{Currency, Money, RoundingMode, Sku};
use seamwork::rules::{
    PriceRequest, PricingEngine, PricingRules, TaxBasis, TaxInput, TaxRounding, allocate_discount,
    compute_taxes,
};

fn main() -> Result<(), seamwork::Error> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/pricing.toml");
    let engine = PricingEngine::new(PricingRules::load(path)?)?;
    println!("rules: {path}\n");

    let tee = sku("TEE-BLK-M");
    let hoodie = sku("HOODIE-GRY-L");
    let march = day(2026, 3, 15);
    let may = day(2026, 5, 15);

    let requests = [
        (
            "tee, web, March",
            PriceRequest::new(&tee, 1, Currency::USD, march).for_channel("web"),
        ),
        (
            "tee, web, May",
            PriceRequest::new(&tee, 1, Currency::USD, may).for_channel("web"),
        ),
        (
            "tee x12, store",
            PriceRequest::new(&tee, 12, Currency::USD, may).for_channel("pos"),
        ),
        (
            "tee x60, store",
            PriceRequest::new(&tee, 60, Currency::USD, may).for_channel("pos"),
        ),
        (
            "tee x120, wholesale",
            PriceRequest::new(&tee, 120, Currency::USD, may).for_customer_group("wholesale"),
        ),
        (
            "hoodie, web, March",
            PriceRequest::new(&hoodie, 1, Currency::USD, march).for_channel("web"),
        ),
        ("tee, GBP", PriceRequest::new(&tee, 1, Currency::GBP, may)),
        ("tee, JPY", PriceRequest::new(&tee, 1, Currency::JPY, may)),
        (
            "tee, EUR (list)",
            PriceRequest::new(&tee, 1, Currency::EUR, may),
        ),
        (
            "tee, EUR net of 19% VAT",
            PriceRequest::new(&tee, 1, Currency::EUR, may).with_tax(Decimal::new(19, 2), false),
        ),
        ("tee, CHF", PriceRequest::new(&tee, 1, Currency::CHF, may)),
        (
            "tee x120, wholesale, EUR",
            PriceRequest::new(&tee, 120, Currency::EUR, may).for_customer_group("wholesale"),
        ),
        (
            "hoodie, GBP",
            PriceRequest::new(&hoodie, 1, Currency::GBP, may),
        ),
    ];
    println!(
        "{:<26} {:>14} {:>16}  list",
        "request", "unit price", "line total"
    );
    let mut decisions = Vec::new();
    for (label, request) in &requests {
        let d = engine.price(request);
        let show = |m: Option<Money>| m.map_or("no price".to_string(), |m| m.to_string());
        println!(
            "{label:<26} {:>14} {:>16}  {}",
            show(d.unit_price()),
            show(d.line_total()),
            d.price_list().unwrap_or("-")
        );
        decisions.push(d);
    }
    for i in [0, 5, 6, 10, 11, 12] {
        println!("\n{}", decisions[i].explain());
    }

    // Tax: a store rounds per line, the ERP per total. Both are right; the
    // difference is bounded, so reconciliation can accept exactly that.
    let usd = |minor| Money::from_minor(minor, Currency::USD);
    let ten_percent = Decimal::new(10, 2);
    let lines = [
        TaxInput::new(usd(495), ten_percent),
        TaxInput::new(usd(495), ten_percent),
        TaxInput::new(usd(495), ten_percent),
    ];
    let per_line = compute_taxes(
        &lines,
        TaxBasis::Exclusive,
        TaxRounding::PerLine,
        RoundingMode::HalfUp,
    )?;
    let per_total = compute_taxes(
        &lines,
        TaxBasis::Exclusive,
        TaxRounding::PerTotal,
        RoundingMode::HalfUp,
    )?;
    let diff = per_line.total.tax.checked_sub(per_total.total.tax)?;
    println!("\n{}", per_line.explain());
    println!("{}", per_total.explain());
    println!(
        "per line {} vs per total {}: difference {}, tolerance for 3 lines at one rate {}",
        per_line.total.tax,
        per_total.total.tax,
        diff,
        per_line.tolerance()
    );

    // An order discount spread over the lines, adding up to the cent.
    let discount = allocate_discount(usd(1000), &[usd(1999), usd(499), usd(1249)])?;
    println!("\n{}", discount.explain());

    // A typo in a rule file is refused with the rule and the field.
    let typo = r#"
        [[price_lists]]
        id = "retail-usd"
        currency = "USD"
        prices = [{ sku = "TEE-BLK-M", price = "25.001" }]
        [[price_lists]]
        id = "web-usd"
        currency = "USD"
        based_on = "retail-usd"
        tiers = [{ min_quantity = 10, percent = "-5" }, { min_quantity = 0, percent = "-10" }]
    "#;
    if let Err(e) = PricingRules::from_toml_str(typo) {
        println!("\na rule file with typos is refused:\n  {e}");
    }
    Ok(())
}

fn sku(s: &str) -> Sku {
    Sku::new(s).expect("valid SKU")
}

fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0)
        .single()
        .expect("valid date")
}
