//! WooCommerce webhooks: signatures checked, repeated deliveries dropped, and
//! every synced topic parsed into the canonical record with exact money.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chrono::{TimeZone, Utc};
use hmac::{Hmac, KeyInit, Mac};
use rust_decimal_macros::dec;
use seamwork::ErrorKind;
use seamwork::adapters::woocommerce::webhook::{WooDelivery, WooIntake, WooWebhooks};
use seamwork::adapters::woocommerce::{WooCommerce, WooConfig};
use seamwork::connector::TimeIdCursor;
use seamwork::model::{
    Currency, DiscountTarget, FinancialStatus, FulfillmentStatus, LocationId, Money, ProductStatus,
    SystemId,
};
use seamwork::store::MemoryStore;
use seamwork::sync::WebhookSecret;
use secrecy::SecretString;

const SECRET: &str = "wc-webhook-secret";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/woocommerce/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The oracle: base64 HMAC-SHA256 of the raw body, as WooCommerce computes it.
fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn hooks() -> WooWebhooks {
    let store = WooCommerce::new(WooConfig::new(
        "http://127.0.0.1:9",
        "ck_test",
        SecretString::from("cs_test"),
        SystemId::new("woo").unwrap(),
        Currency::USD,
        LocationId::new("WEB").unwrap(),
    ))
    .unwrap();
    WooWebhooks::new(
        &store,
        "woo",
        WebhookSecret::new(SECRET),
        Arc::new(MemoryStore::new()),
        Duration::from_secs(7 * 24 * 3600),
    )
}

fn usd(a: rust_decimal::Decimal) -> Money {
    Money::new(a, Currency::USD)
}

#[tokio::test]
async fn a_good_signature_is_queued_a_bad_one_refused() {
    let hooks = hooks();
    let body = fixture("order.json");
    let signature = sign(&body);
    let bad = hooks
        .receive(WooDelivery::new(
            "order.created",
            "d-1",
            &sign(b"other"),
            &body,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.kind(), &ErrorKind::Unauthorized);
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    let bad = hooks
        .receive(WooDelivery::new(
            "order.created",
            "d-1",
            &signature,
            &tampered,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.kind(), &ErrorKind::Unauthorized);
    assert_eq!(hooks.orders().queued(), 0);
    let ok = hooks
        .receive(WooDelivery::new("order.created", "d-1", &signature, &body))
        .await
        .unwrap();
    assert_eq!(ok, WooIntake::Queued);
    assert_eq!(hooks.orders().queued(), 1);
}

#[tokio::test]
async fn a_repeated_delivery_id_is_dropped() {
    let hooks = hooks();
    let body = fixture("customer.json");
    let signature = sign(&body);
    for (i, want) in [
        WooIntake::Queued,
        WooIntake::Duplicate,
        WooIntake::Duplicate,
    ]
    .into_iter()
    .enumerate()
    {
        let got = hooks
            .receive(WooDelivery::new(
                "customer.updated",
                "77",
                &signature,
                &body,
            ))
            .await
            .unwrap();
        assert_eq!(got, want, "delivery #{i}");
    }
    // Another delivery of the same customer is a new delivery.
    let got = hooks
        .receive(WooDelivery::new(
            "customer.updated",
            "78",
            &signature,
            &body,
        ))
        .await
        .unwrap();
    assert_eq!(got, WooIntake::Queued);
    assert_eq!(hooks.customers().drain(10).len(), 2);
}

#[tokio::test]
async fn an_order_topic_becomes_the_canonical_order_with_exact_money() {
    let hooks = hooks();
    let body = fixture("order.json");
    hooks
        .receive(WooDelivery::new(
            "order.updated",
            "d-9",
            &sign(&body),
            &body,
        ))
        .await
        .unwrap();
    let rec = hooks.orders().drain(1).pop().unwrap();
    let o = &rec.entity;
    assert_eq!(rec.external_ref.id, "727");
    assert_eq!(rec.external_ref.system.as_str(), "woo");
    let at = Utc.with_ymd_and_hms(2026, 3, 22, 19, 30, 11).unwrap();
    assert_eq!(rec.changed_at, at);
    assert_eq!(
        TimeIdCursor::decode(&rec.cursor).unwrap(),
        TimeIdCursor::new(at, "727")
    );
    assert_eq!(o.number, "727");
    assert_eq!(o.currency, Currency::USD);
    assert!(!o.taxes_included);
    assert_eq!(o.lines.len(), 2);
    let l0 = &o.lines[0];
    assert_eq!(
        (l0.id.as_str(), l0.sku.as_str(), l0.quantity),
        ("315", "WS-1", 2)
    );
    assert_eq!(l0.unit_price, usd(dec!(20.00)));
    assert_eq!(l0.total, Some(usd(dec!(36.00))));
    assert_eq!(l0.discount().unwrap(), usd(dec!(4.00)));
    assert_eq!(l0.tax_lines.len(), 1);
    assert_eq!(l0.tax_lines[0].title, "State Tax");
    assert_eq!(l0.tax_lines[0].rate, dec!(0.08875));
    assert_eq!(l0.tax_lines[0].amount, usd(dec!(3.60)));
    // 10.00 over 3 units is not exact: the unit price is rounded to cents,
    // the reported line total is kept.
    let l1 = &o.lines[1];
    assert_eq!(l1.sku.as_str(), "SYI-BLK");
    assert_eq!(l1.unit_price, usd(dec!(3.33)));
    assert_eq!(l1.total, Some(usd(dec!(9.00))));
    assert_eq!(l1.discount().unwrap(), usd(dec!(1.00)));
    assert_eq!(o.discounts.len(), 1);
    assert_eq!(o.discounts[0].code.as_deref(), Some("10off"));
    assert_eq!(o.discounts[0].target, DiscountTarget::Line);
    assert_eq!(o.discounts[0].amount, usd(dec!(5.00)));
    assert_eq!(o.shipping_lines.len(), 1);
    assert_eq!(o.shipping_lines[0].title, "Flat Rate");
    assert_eq!(o.shipping_lines[0].code.as_deref(), Some("flat_rate"));
    assert_eq!(o.shipping_lines[0].price, usd(dec!(10.00)));
    assert_eq!(o.shipping_lines[0].tax_lines[0].amount, usd(dec!(1)));
    assert_eq!(o.charges.len(), 1);
    assert_eq!(o.charges[0].amount, usd(dec!(2.50)));
    assert_eq!(o.refunds.len(), 1);
    assert_eq!(o.refunds[0].id, "726");
    assert_eq!(o.refunds[0].amount, usd(dec!(9.90)));
    assert_eq!(o.refunds[0].note.as_deref(), Some("Damaged box"));
    assert_eq!(o.totals.subtotal, usd(dec!(45.00)));
    assert_eq!(o.totals.discount_total, usd(dec!(5.00)));
    assert_eq!(o.totals.shipping_total, usd(dec!(10.00)));
    assert_eq!(o.totals.tax_total, usd(dec!(5.50)));
    assert_eq!(o.totals.total, usd(dec!(63.00)));
    assert_eq!(o.totals.paid, usd(dec!(63.00)));
    assert_eq!(o.financial_status, FinancialStatus::PartiallyRefunded);
    assert_eq!(o.fulfillment_status, FulfillmentStatus::Unfulfilled);
    let ship = o.shipping_address.as_ref().unwrap();
    assert_eq!(ship.line2.as_deref(), Some("Suite 300"));
    assert_eq!(ship.region.as_deref(), Some("CA"));
    assert_eq!(
        o.billing_address.as_ref().unwrap().name.as_deref(),
        Some("John Doe")
    );
    assert_eq!(o.customer.as_ref().unwrap().id, "25");
}

#[tokio::test]
async fn a_product_topic_queues_the_variant_and_its_stock() {
    let hooks = hooks();
    let body = fixture("product_simple.json");
    let got = hooks
        .receive(WooDelivery::new(
            "product.updated",
            "p-1",
            &sign(&body),
            &body,
        ))
        .await
        .unwrap();
    assert_eq!(got, WooIntake::Queued);
    let v = hooks.variants().drain(5).pop().unwrap().entity;
    assert_eq!(v.sku.as_str(), "PQ-19");
    assert_eq!(v.product_handle, "premium-quality-19");
    assert_eq!(v.title, "Premium Quality");
    assert_eq!(v.price, usd(dec!(18.99)));
    assert_eq!(v.compare_at_price, Some(usd(dec!(21.99))));
    assert_eq!(v.status, ProductStatus::Active);
    assert!(v.taxable && v.tags.contains("summer"));
    let level = hooks.levels().drain(5).pop().unwrap().entity;
    assert_eq!(level.sku.as_str(), "PQ-19");
    assert_eq!(level.location.as_str(), "WEB");
    assert_eq!((level.on_hand, level.available), (42, 42));
    assert!(!level.oversell_allowed);
}

#[tokio::test]
async fn a_variation_topic_queues_the_variant_without_stock_of_its_own() {
    let hooks = hooks();
    let body = fixture("variation.json");
    hooks
        .receive(WooDelivery::new(
            "product.created",
            "v-1",
            &sign(&body),
            &body,
        ))
        .await
        .unwrap();
    let v = hooks.variants().drain(5).pop().unwrap().entity;
    assert_eq!(v.sku.as_str(), "SYI-BLK");
    assert_eq!(v.product_handle, "wc-732", "the parent was never read");
    assert_eq!(v.options.get("Color").map(String::as_str), Some("Black"));
    assert_eq!(v.price, usd(dec!(9.00)));
    assert_eq!(v.compare_at_price, None);
    assert_eq!(hooks.levels().queued(), 0, "stock is the parent's");
}

#[tokio::test]
async fn a_customer_topic_becomes_the_canonical_customer() {
    let hooks = hooks();
    let body = fixture("customer.json");
    hooks
        .receive(WooDelivery::new(
            "customer.created",
            "c-1",
            &sign(&body),
            &body,
        ))
        .await
        .unwrap();
    let c = hooks.customers().drain(1).pop().unwrap().entity;
    assert_eq!(c.id, "25");
    assert_eq!(c.first_name.as_deref(), Some("John"));
    assert_eq!(c.emails, ["john.doe@example.com", "billing@example.com"]);
    assert_eq!(c.phones, ["(555) 555-5555"]);
    assert_eq!(c.addresses.len(), 2, "billing has a phone, shipping not");
    assert_eq!(c.addresses[0].phone.as_deref(), Some("(555) 555-5555"));
    assert_eq!(c.addresses[1].postcode.as_deref(), Some("94103"));
    assert_eq!(c.external_refs[0].id, "25");
    assert_eq!(
        c.updated_at,
        Utc.with_ymd_and_hms(2026, 3, 21, 19, 9, 30).unwrap()
    );
}

#[tokio::test]
async fn deletions_pings_variable_parents_and_unknown_topics_are_acknowledged_not_queued() {
    let hooks = hooks();
    let deleted = br#"{"id": 794}"#;
    let parent = br#"{"id": 732, "type": "variable", "slug": "ship-your-idea", "date_modified_gmt": "2026-03-23T03:36:38", "variations": [733]}"#;
    for (topic, body) in [
        ("product.deleted", &deleted[..]),
        ("product.updated", &parent[..]),
        ("coupon.updated", &deleted[..]),
    ] {
        let got = hooks
            .receive(WooDelivery::new(topic, "x", &sign(body), body))
            .await
            .unwrap();
        assert!(matches!(got, WooIntake::Ignored(_)), "{topic}: {got:?}");
    }
    let ping = hooks
        .receive(WooDelivery::new("", "", "", b"webhook_id=15"))
        .await
        .unwrap();
    assert!(matches!(ping, WooIntake::Ignored(ref why) if why.contains("ping")));
    assert_eq!(hooks.variants().queued() + hooks.orders().queued(), 0);
}

#[tokio::test]
async fn a_signed_body_that_is_not_an_order_is_invalid_data_naming_the_field() {
    let hooks = hooks();
    let body =
        br#"{"id": 5, "number": "5", "total": "12,00", "date_created_gmt": "2026-01-01T00:00:00"}"#;
    let err = hooks
        .receive(WooDelivery::new(
            "order.created",
            "bad-1",
            &sign(body),
            body,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::InvalidData);
    assert!(err.message().contains("total"), "{err}");
    let truncated = &fixture("order.json")[..200];
    let err = hooks
        .receive(WooDelivery::new(
            "order.created",
            "bad-2",
            &sign(truncated),
            truncated,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::InvalidData);
    assert_eq!(hooks.orders().queued(), 0);
}

/// The fuzz targets' promise, on a budget CI can run: truncated, corrupted
/// and extreme payloads give errors, never panics.
#[test]
fn parsers_never_panic_on_mutated_payloads() {
    use seamwork::adapters::woocommerce::WireContext;
    use seamwork::adapters::woocommerce::webhook::{
        customer_record, level_record, order_record, variant_record,
    };
    let ctx = WireContext {
        system: SystemId::new("woo").unwrap(),
        currency: Currency::USD,
        location: LocationId::new("WEB").unwrap(),
    };
    let slugs = Arc::new(std::sync::RwLock::new(std::collections::HashMap::new()));
    let run = |body: &[u8]| {
        let _ = order_record(body, &ctx);
        let _ = customer_record(body, &ctx);
        let _ = variant_record(body, &ctx, &slugs);
        let _ = level_record(body, &ctx);
    };
    let extremes = [
        "\"79228162514264337593543950335\"",
        "\"-79228162514264337593543950335\"",
        "\"1e400\"",
        "\"0.0000000000000000000000000001\"",
        "\"NaN\"",
        "null",
        "-1",
        "4294967296",
        "1.7976931348623157e308",
        "\"\"",
    ];
    for name in [
        "order.json",
        "customer.json",
        "product_simple.json",
        "variation.json",
    ] {
        let body = fixture(name);
        for cut in (0..body.len()).step_by(7) {
            run(&body[..cut]);
            let mut flipped = body.clone();
            flipped[cut] = b"0\"{}[],:-9.e"[cut % 12];
            run(&flipped);
        }
        // Every scalar value replaced, one at a time, by each extreme.
        let text = String::from_utf8(body).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut paths = Vec::new();
        collect_scalars(&value, &mut Vec::new(), &mut paths);
        for path in &paths {
            for extreme in extremes {
                let mut v = value.clone();
                let mut slot = &mut v;
                for key in path {
                    slot = match key {
                        Key::Field(f) => &mut slot[f.as_str()],
                        Key::Index(i) => &mut slot[*i],
                    };
                }
                *slot = serde_json::from_str(extreme).unwrap_or(serde_json::Value::Null);
                run(&serde_json::to_vec(&v).unwrap());
            }
        }
    }
}

enum Key {
    Field(String),
    Index(usize),
}

fn collect_scalars(v: &serde_json::Value, at: &mut Vec<Key>, out: &mut Vec<Vec<Key>>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, child) in m {
                at.push(Key::Field(k.clone()));
                collect_scalars(child, at, out);
                at.pop();
            }
        }
        serde_json::Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                at.push(Key::Index(i));
                collect_scalars(child, at, out);
                at.pop();
            }
        }
        _ => out.push(
            at.iter()
                .map(|k| match k {
                    Key::Field(f) => Key::Field(f.clone()),
                    Key::Index(i) => Key::Index(*i),
                })
                .collect(),
        ),
    }
}

#[tokio::test]
async fn an_unpriced_product_that_tracks_stock_queues_only_its_stock() {
    let hooks = hooks();
    let mut v: serde_json::Value = serde_json::from_slice(&fixture("product_simple.json")).unwrap();
    v["regular_price"] = serde_json::json!("");
    v["sale_price"] = serde_json::json!("");
    v["stock_quantity"] = serde_json::json!(-2);
    v["backorders"] = serde_json::json!("notify");
    let body = serde_json::to_vec(&v).unwrap();
    let got = hooks
        .receive(WooDelivery::new(
            "product.updated",
            "s-1",
            &sign(&body),
            &body,
        ))
        .await
        .unwrap();
    assert_eq!(got, WooIntake::Queued);
    assert_eq!(hooks.variants().queued(), 0);
    let level = hooks.levels().drain(1).pop().unwrap().entity;
    assert_eq!(
        (level.on_hand, level.committed, level.available),
        (0, 2, -2)
    );
    assert!(level.oversell_allowed);
    let again = hooks
        .receive(WooDelivery::new(
            "product.updated",
            "s-1",
            &sign(&body),
            &body,
        ))
        .await
        .unwrap();
    assert_eq!(again, WooIntake::Duplicate);
}
