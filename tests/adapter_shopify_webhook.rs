//! Shopify webhooks: the documented sample payloads of each topic parsed to
//! exact canonical values; signatures, duplicates and stale deliveries; and
//! deliveries flowing through `Engine::deliver` into a memory sink, where
//! they converge with the records a poll of the same changes produces.

mod shopify_server;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use hmac::{Hmac, KeyInit, Mac};
use rust_decimal_macros::dec;
use seamwork::ErrorKind;
use seamwork::adapters::shopify::webhook::{
    INVENTORY_ITEM_NAMESPACE, LOCATION_NAMESPACE, Received, ShopifyHeaders, ShopifyParser,
    ShopifyRecord, ShopifyWebhooks, Topic, canonical_money,
};
use seamwork::adapters::shopify::{ShopifyAdapter, ShopifyConfig};
use seamwork::connector::memory::{MemoryOptions, MemorySystem};
use seamwork::connector::{Entity, Record, Source, TimeIdCursor};
use seamwork::mapping::MemoryCrossReferences;
use seamwork::model::{
    ChargeKind, ConsentState, Currency, Customer, DiscountTarget, ExternalRef, FinancialStatus,
    FulfillmentStatus, InventoryLevel, Money, Order, Product, ProductStatus, SystemId, WeightUnit,
};
use seamwork::store::{MemoryStore, StateStore, Version};
use seamwork::sync::{Engine, FailurePolicy, Flow, Owner, Sla, WebhookSecret};
use secrecy::SecretString;

const SECRET: &str = "shpss_0123456789abcdef";

fn sample(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/data/shopify_webhooks/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn usd(amount: rust_decimal::Decimal) -> Money {
    Money::new(amount, Currency::USD)
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

fn xrefs() -> Arc<MemoryCrossReferences> {
    let x = MemoryCrossReferences::new();
    x.bind(
        INVENTORY_ITEM_NAMESPACE,
        "shopify",
        "gid://shopify/InventoryItem/43729076",
        "TEE-BLK-M",
    )
    .unwrap();
    x.bind(LOCATION_NAMESPACE, "shopify", "24826418", "DC-EAST")
        .unwrap();
    Arc::new(x)
}

fn parser() -> ShopifyParser {
    ShopifyParser::new(SystemId::new("shopify").unwrap(), Currency::USD, xrefs())
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn headers(topic: &str, webhook_id: &str, triggered_at: &str, body: &[u8]) -> ShopifyHeaders {
    ShopifyHeaders::from_pairs([
        ("X-Shopify-Topic", topic),
        ("x-shopify-hmac-sha256", sign(body).as_str()),
        ("X-Shopify-Webhook-Id", webhook_id),
        ("X-Shopify-Triggered-At", triggered_at),
        ("X-Shopify-Shop-Domain", "example.myshopify.com"),
        ("X-Shopify-API-Version", "2026-01"),
    ])
    .unwrap()
}

fn receiver<E: seamwork::adapters::shopify::webhook::ShopifyEntity>(
    store: Arc<dyn StateStore>,
) -> ShopifyWebhooks<E> {
    ShopifyWebhooks::new(
        "shopify-hooks",
        WebhookSecret::new(SECRET),
        store,
        Duration::from_secs(48 * 3600),
        Arc::new(parser()),
    )
}

fn order_record(topic: &str, name: &str) -> Record<Order> {
    match parser().parse(topic, "wh-test", &sample(name)).unwrap() {
        ShopifyRecord::Order(r) => *r,
        other => panic!("expected an order, got {other:?}"),
    }
}

#[test]
fn orders_create_becomes_an_exact_canonical_order() {
    let record = order_record("orders/create", "orders_create");
    let o = &record.entity;
    o.validate().unwrap();
    assert_eq!(o.key().as_str(), "#1001");
    assert_eq!(o.currency, Currency::USD);
    assert!(!o.taxes_included);
    assert_eq!(
        o.created_at,
        Utc.with_ymd_and_hms(2026, 3, 2, 15, 15, 42).unwrap()
    );
    assert_eq!(
        o.updated_at,
        Utc.with_ymd_and_hms(2026, 3, 2, 15, 15, 44).unwrap()
    );
    assert_eq!(record.changed_at, o.updated_at);
    assert_eq!(
        record.external_ref,
        ExternalRef::new("shopify", "gid://shopify/Order/5512345678901")
    );
    assert_eq!(
        TimeIdCursor::decode(&record.cursor).unwrap(),
        TimeIdCursor::new(o.updated_at, "gid://shopify/Order/5512345678901")
    );

    assert_eq!(o.lines.len(), 2);
    let ipod = &o.lines[0];
    assert_eq!(
        (ipod.id.as_str(), ipod.sku.as_str(), ipod.title.as_str()),
        ("13999888777001", "IPOD2008PINK", "IPod Nano - 8GB")
    );
    assert_eq!(ipod.quantity, 2);
    assert_eq!(ipod.unit_price, usd(dec!(199.00)));
    assert_eq!(ipod.discount_allocations[0].discount, 0);
    assert_eq!(ipod.discount_allocations[0].amount, usd(dec!(39.80)));
    assert_eq!(ipod.tax_lines[0].title, "NY State Tax");
    assert_eq!(ipod.tax_lines[0].rate, dec!(0.06));
    assert_eq!(ipod.tax_lines[0].amount, usd(dec!(21.49)));
    assert_eq!(ipod.net().unwrap(), usd(dec!(358.20)));
    assert_eq!(o.lines[1].sku.as_str(), "TEE-BLK-M");
    assert_eq!(o.lines[1].discount_allocations[0].amount, usd(dec!(2.50)));

    assert_eq!(o.discounts.len(), 1);
    assert_eq!(o.discounts[0].code.as_deref(), Some("SPRING10"));
    assert_eq!(o.discounts[0].title, "SPRING10");
    assert_eq!(o.discounts[0].target, DiscountTarget::Order);
    assert_eq!(o.discounts[0].amount, usd(dec!(42.30)));

    let ship = &o.shipping_lines[0];
    assert_eq!(ship.title, "Standard Shipping");
    assert_eq!(ship.code.as_deref(), Some("STANDARD"));
    assert_eq!(ship.price, usd(dec!(10.00)));
    assert_eq!(ship.tax_lines[0].amount, usd(dec!(0.60)));

    assert_eq!(o.charges.len(), 1);
    assert_eq!(o.charges[0].kind, ChargeKind::Tip);
    assert_eq!(o.charges[0].amount, usd(dec!(5.00)));

    let t = &o.totals;
    assert_eq!(t.subtotal, usd(dec!(380.70)));
    assert_eq!(t.discount_total, usd(dec!(42.30)));
    assert_eq!(t.shipping_total, usd(dec!(10.00)));
    assert_eq!(t.tax_total, usd(dec!(23.44)));
    assert_eq!(t.total, usd(dec!(419.14)));
    assert_eq!(t.paid, usd(dec!(419.14)));
    // Exact decimal text, scale included: no float ever touched the amounts.
    assert_eq!(t.total.amount().to_string(), "419.14");
    assert_eq!(ipod.unit_price.amount().to_string(), "199.00");

    assert_eq!(o.financial_status, FinancialStatus::Paid);
    assert_eq!(o.fulfillment_status, FulfillmentStatus::Unfulfilled);
    assert!(o.refunds.is_empty());
    assert_eq!(
        o.customer,
        Some(ExternalRef::new(
            "shopify",
            "gid://shopify/Customer/207119551"
        ))
    );
    let billing = o.billing_address.as_ref().unwrap();
    assert_eq!(billing.line1, "123 Amoebobacterieae St");
    assert_eq!(billing.line2, None);
    assert_eq!(billing.country, "CA");
    assert_eq!(billing.region.as_deref(), Some("ON"));
    assert_eq!(billing.postcode.as_deref(), Some("K2P0V6"));
    assert_eq!(billing.name.as_deref(), Some("Jon Snow"));
    let shipping = o.shipping_address.as_ref().unwrap();
    assert_eq!(shipping.line2.as_deref(), Some("Unit 4"));
    assert_eq!(shipping.company.as_deref(), Some("Winterfell Ltd"));
}

#[test]
fn orders_updated_carries_the_refund_and_the_new_statuses() {
    let record = order_record("orders/updated", "orders_updated");
    let o = &record.entity;
    o.validate().unwrap();
    assert_eq!(o.key().as_str(), "#1001");
    assert_eq!(record.changed_at, at("2026-03-04T21:02:10Z"));
    assert_eq!(o.financial_status, FinancialStatus::PartiallyRefunded);
    assert_eq!(o.fulfillment_status, FulfillmentStatus::PartiallyFulfilled);
    assert_eq!(o.refunds.len(), 1);
    let refund = &o.refunds[0];
    assert_eq!(refund.id, "929361463");
    assert_eq!(refund.created_at, at("2026-03-04T21:02:08Z"));
    assert_eq!(refund.note.as_deref(), Some("Wrong size"));
    // Only the successful refund transaction counts; the failed one does not.
    assert_eq!(refund.amount, usd(dec!(23.85)));
    assert_eq!(refund.lines.len(), 1);
    assert_eq!(refund.lines[0].line_id, "13999888777002");
    assert_eq!(refund.lines[0].quantity, 1);
    assert!(refund.lines[0].restock);
    assert_eq!(refund.lines[0].amount, usd(dec!(23.85)));
    // `subtotal` came as the JSON number 22.5: written at the currency's scale.
    assert_eq!(refund.lines[0].amount.amount().to_string(), "23.85");
    assert_eq!(o.refunded().unwrap(), usd(dec!(23.85)));
    // Totals stay the original ones; paid is what was captured.
    assert_eq!(o.totals.total, usd(dec!(419.14)));
    assert_eq!(o.totals.paid, usd(dec!(419.14)));
}

#[test]
fn money_has_one_scale_whichever_api_wrote_it() {
    let text = |d, c| canonical_money(d, c).amount().to_string();
    assert_eq!(text(dec!(25), Currency::USD), "25.00");
    assert_eq!(text(dec!(25.0), Currency::USD), "25.00");
    assert_eq!(text(dec!(25.000), Currency::USD), "25.00");
    assert_eq!(text(dec!(1.0050), Currency::USD), "1.005");
    assert_eq!(text(dec!(-0.00), Currency::USD), "0.00");
    assert_eq!(text(dec!(1500.0), Currency::JPY), "1500");
    assert_eq!(text(dec!(1.2340), Currency::BHD), "1.234");
}

#[test]
fn products_update_becomes_a_product_with_variants() {
    let ShopifyRecord::Product(record) = parser()
        .parse("products/update", "wh-p", &sample("products_update"))
        .unwrap()
    else {
        panic!("not a product");
    };
    let p: &Product = &record.entity;
    p.validate().unwrap();
    assert_eq!(p.key().as_str(), "crew-tee");
    assert_eq!(p.title, "Crew Tee");
    assert_eq!(
        p.description.as_deref(),
        Some("<p>A heavyweight crew-neck tee.</p>")
    );
    assert_eq!(p.vendor.as_deref(), Some("Seamwork Apparel"));
    assert_eq!(p.product_type.as_deref(), Some("Shirts"));
    assert_eq!(p.status, ProductStatus::Active);
    assert_eq!(
        p.tags.iter().map(String::as_str).collect::<Vec<_>>(),
        ["basics", "cotton", "summer"]
    );
    assert_eq!(p.options.len(), 2);
    assert_eq!(p.options[1].name, "Size");
    assert_eq!(p.options[1].values, ["M", "L"]);
    assert_eq!(p.updated_at, at("2026-03-03T17:30:00Z"));
    // A product changes when any of its variants does.
    assert_eq!(record.changed_at, at("2026-03-03T17:31:15Z"));
    assert_eq!(
        record.external_ref.id,
        "gid://shopify/Product/788032119674292922"
    );

    let m = &p.variants[0];
    assert_eq!(m.sku.as_str(), "TEE-BLK-M");
    assert_eq!(m.product_handle, "crew-tee");
    assert_eq!(m.title, "Black / M");
    assert_eq!(m.options.get("Color").map(String::as_str), Some("Black"));
    assert_eq!(m.options.get("Size").map(String::as_str), Some("M"));
    assert_eq!(m.price, usd(dec!(25.00)));
    assert_eq!(m.compare_at_price, Some(usd(dec!(30.00))));
    assert_eq!(m.barcodes.len(), 1);
    assert_eq!(m.barcodes[0].as_str(), "0012345678905");
    let w = m.weight.unwrap();
    assert_eq!((w.value, w.unit), (dec!(0.2), WeightUnit::Kg));
    assert!(m.taxable);
    assert_eq!(m.status, ProductStatus::Active);
    assert!(m.tags.contains("cotton"));

    let l = &p.variants[1];
    assert_eq!(l.sku.as_str(), "TEE-BLK-L");
    assert_eq!(l.price, usd(dec!(27.50)));
    assert_eq!(l.compare_at_price, None);
    assert!(l.barcodes.is_empty());
    let w = l.weight.unwrap();
    assert_eq!((w.value, w.unit), (dec!(7.76), WeightUnit::Oz));
    assert!(!l.taxable);
}

#[test]
fn inventory_levels_resolve_sku_and_location_through_cross_references() {
    let ShopifyRecord::InventoryLevel(record) = parser()
        .parse(
            "inventory_levels/update",
            "wh-i",
            &sample("inventory_levels_update"),
        )
        .unwrap()
    else {
        panic!("not an inventory level");
    };
    let level: &InventoryLevel = &record.entity;
    level.validate().unwrap();
    assert_eq!(level.sku.as_str(), "TEE-BLK-M");
    assert_eq!(level.location.as_str(), "DC-EAST");
    assert_eq!(level.key_text(), "TEE-BLK-M@DC-EAST");
    assert_eq!((level.available, level.on_hand, level.committed), (9, 9, 0));
    assert!(!level.oversell_allowed);
    assert_eq!(level.updated_at, at("2026-03-03T17:45:01Z"));
    assert_eq!(record.changed_at, level.updated_at);
    assert_eq!(
        record.external_ref.id,
        "gid://shopify/InventoryLevel/24826418?inventory_item_id=43729076"
    );

    // Oversold: the smallest consistent state, overselling allowed.
    let body = br#"{"inventory_item_id": 43729076, "location_id": 24826418, "available": -3,
                   "updated_at": "2026-03-03T12:50:00-05:00"}"#;
    let ShopifyRecord::InventoryLevel(oversold) = parser()
        .parse("inventory_levels/update", "wh-j", body)
        .unwrap()
    else {
        panic!("not an inventory level");
    };
    let l = &oversold.entity;
    assert_eq!((l.available, l.on_hand, l.committed), (-3, 0, 3));
    assert!(l.oversell_allowed);
    l.validate().unwrap();

    // Unknown ids are refused, naming them.
    let body = br#"{"inventory_item_id": 777, "location_id": 24826418, "available": 1,
                   "updated_at": "2026-03-03T12:50:00-05:00"}"#;
    let err = parser()
        .parse("inventory_levels/update", "wh-k", body)
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::NotFound);
    let text = err.to_string();
    for needle in [
        "inventory_levels/update",
        "wh-k",
        "inventory item 777",
        "location 24826418",
        "inventory_item",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from {text}");
    }
    let body = br#"{"inventory_item_id": 43729076, "location_id": 999, "available": 1,
                   "updated_at": "2026-03-03T12:50:00-05:00"}"#;
    let err = parser()
        .parse("inventory_levels/update", "wh-l", body)
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::NotFound);
    assert!(
        err.to_string().contains("location 999 is not bound"),
        "{err}"
    );
    assert_eq!(err.context().field.as_deref(), Some("location_id"));
}

#[test]
fn product_deliveries_bind_inventory_items_for_the_levels_that_follow() {
    let x = Arc::new(MemoryCrossReferences::new());
    let p = ShopifyParser::new(SystemId::new("shopify").unwrap(), Currency::USD, x.clone());
    let body = br#"{"inventory_item_id": 43729077, "location_id": 24826418, "available": 4,
                   "updated_at": "2026-03-03T12:50:00-05:00"}"#;
    x.bind(LOCATION_NAMESPACE, "shopify", "24826418", "DC-EAST")
        .unwrap();
    let before = p
        .parse("inventory_levels/update", "wh-1", body)
        .unwrap_err();
    assert_eq!(before.kind(), &ErrorKind::NotFound);

    let pairs = p
        .inventory_item_skus("products/update", "wh-2", &sample("products_update"))
        .unwrap();
    let texts: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(i, s)| (i.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        texts,
        [
            ("gid://shopify/InventoryItem/43729076", "TEE-BLK-M"),
            ("gid://shopify/InventoryItem/43729077", "TEE-BLK-L"),
        ]
    );
    for (item, sku) in &pairs {
        x.bind(INVENTORY_ITEM_NAMESPACE, "shopify", item, sku.as_str())
            .unwrap();
    }
    let ShopifyRecord::InventoryLevel(level) =
        p.parse("inventory_levels/update", "wh-3", body).unwrap()
    else {
        panic!("not an inventory level");
    };
    assert_eq!(level.entity.key_text(), "TEE-BLK-L@DC-EAST");
    assert_eq!(level.entity.available, 4);

    let no_item = with_field(
        "products_update",
        "/variants/1/inventory_item_id",
        serde_json::Value::Null,
    );
    let err = p
        .inventory_item_skus("products/update", "wh-4", &no_item)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("`variants[1].inventory_item_id` is missing"),
        "{err}"
    );
    let wrong = p.inventory_item_skus("orders/create", "wh-5", &sample("orders_create"));
    assert_eq!(wrong.unwrap_err().kind(), &ErrorKind::Unsupported);
}

#[test]
fn customers_create_and_update_become_one_canonical_customer() {
    let parse = |topic: &str, name: &str, p: &ShopifyParser| -> Customer {
        match p.parse(topic, "wh-c", &sample(name)).unwrap() {
            ShopifyRecord::Customer(r) => {
                assert_eq!(r.changed_at, r.entity.updated_at);
                r.entity.clone()
            }
            other => panic!("not a customer: {other:?}"),
        }
    };
    let created = parse("customers/create", "customers_create", &parser());
    created.validate().unwrap();
    let gid = "gid://shopify/Customer/706405506930370084";
    // Unbound: the GraphQL id is the canonical id.
    assert_eq!(created.id, gid);
    assert_eq!(created.emails, ["bob@biller.com"]);
    assert!(created.phones.is_empty());
    assert!(created.addresses.is_empty());
    assert_eq!(created.marketing.email, ConsentState::NotSubscribed);
    assert_eq!(created.external_refs, [ExternalRef::new("shopify", gid)]);

    let updated = parse("customers/update", "customers_update", &parser());
    updated.validate().unwrap();
    assert_eq!(updated.key(), created.key());
    assert_eq!(updated.first_name.as_deref(), Some("Bob"));
    assert_eq!(updated.last_name.as_deref(), Some("Biller"));
    assert_eq!(updated.phones, ["+16135550135"]);
    assert_eq!(updated.addresses.len(), 2);
    // The default address comes first.
    assert_eq!(updated.addresses[0].city, "Ottawa");
    assert_eq!(updated.addresses[0].line2.as_deref(), Some("Suite 300"));
    assert_eq!(updated.addresses[1].region.as_deref(), Some("NY"));
    assert_eq!(updated.marketing.email, ConsentState::Subscribed);
    assert_eq!(updated.marketing.sms, ConsentState::NotSubscribed);
    assert_eq!(
        updated.marketing.updated_at,
        Some(at("2026-03-01T14:41:07Z"))
    );
    assert_eq!(
        updated.tags.iter().map(String::as_str).collect::<Vec<_>>(),
        ["vip", "wholesale"]
    );

    // Bound in cross references: the canonical id wins.
    let x = MemoryCrossReferences::new();
    x.bind("customer", "shopify", gid, "cust-42").unwrap();
    let bound = ShopifyParser::new(
        SystemId::new("shopify").unwrap(),
        Currency::USD,
        Arc::new(x),
    );
    assert_eq!(
        parse("customers/update", "customers_update", &bound).id,
        "cust-42"
    );
}

fn with_field(name: &str, pointer: &str, value: serde_json::Value) -> Vec<u8> {
    let mut json: serde_json::Value = serde_json::from_slice(&sample(name)).unwrap();
    *json.pointer_mut(pointer).unwrap() = value;
    serde_json::to_vec(&json).unwrap()
}

#[test]
fn bad_payloads_are_refused_naming_topic_webhook_and_field() {
    let p = parser();
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        (
            "orders/create",
            with_field("orders_create", "/line_items/1/price", "12,50".into()),
            "line_items[1].price",
            "must be a decimal number, not \"12,50\"",
        ),
        (
            "orders/create",
            with_field(
                "orders_create",
                "/line_items/0/sku",
                serde_json::Value::Null,
            ),
            "line_items[0].sku",
            "is missing or empty",
        ),
        (
            "orders/create",
            with_field("orders_create", "/line_items/0/quantity", (-1).into()),
            "line_items[0].quantity",
            "must be between 0",
        ),
        (
            "orders/updated",
            with_field(
                "orders_create",
                "/line_items/0/discount_allocations/0/discount_application_index",
                4.into(),
            ),
            "line_items[0].discount_allocations[0].discount_application_index",
            "points at discount application 4, but the order has 1",
        ),
        (
            "orders/updated",
            with_field(
                "orders_updated",
                "/refunds/0/transactions/0/currency",
                "EUR".into(),
            ),
            "refunds[0].transactions[0].currency",
            "refund transaction in EUR, but the order's amounts are in USD",
        ),
        (
            "orders/updated",
            with_field("orders_create", "/financial_status", "lost".into()),
            "financial_status",
            "\"lost\" is not a known financial status",
        ),
        (
            "orders/create",
            with_field("orders_create", "/currency", "XYZ".into()),
            "currency",
            "XYZ",
        ),
        (
            "orders/create",
            with_field("orders_create", "/updated_at", "yesterday".into()),
            "updated_at",
            "must be an RFC 3339 timestamp",
        ),
        (
            "products/update",
            with_field("products_update", "/variants/1/weight_unit", "stone".into()),
            "variants[1].weight_unit",
            "\"stone\" is not g, kg, oz or lb",
        ),
        (
            "products/update",
            with_field("products_update", "/variants/0/barcode", "12345".into()),
            "variants[0].barcode",
            "",
        ),
        (
            "customers/update",
            with_field("customers_update", "/addresses", "none".into()),
            "addresses",
            "must be an array, not a string",
        ),
        (
            "inventory_levels/update",
            with_field("inventory_levels_update", "/available", "9".into()),
            "available",
            "must be a whole number, not a string",
        ),
        (
            "orders/create",
            b"not json".to_vec(),
            "(body)",
            "is not JSON",
        ),
        (
            "customers/create",
            b"[1, 2]".to_vec(),
            "(body)",
            "must be a JSON object",
        ),
    ];
    for (topic, body, field, why) in cases {
        let err = p.parse(topic, "wh-bad-7", &body).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidData, "{err}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("shopify webhook {topic} (webhook id wh-bad-7)")),
            "{text}"
        );
        assert!(
            text.contains(&format!("`{field}`")),
            "{field} not in {text}"
        );
        assert!(text.contains(why), "{why:?} not in {text}");
        assert_eq!(err.context().field.as_deref(), Some(field));
        assert_eq!(err.context().external_id.as_deref(), Some("wh-bad-7"));
    }

    let unknown = p.parse("carts/update", "wh-u", b"{}").unwrap_err();
    assert_eq!(unknown.kind(), &ErrorKind::Unsupported);
    assert!(
        unknown
            .to_string()
            .contains("\"carts/update\" is not supported")
    );
    assert!(unknown.to_string().contains("orders/create"));
    let wrong_kind = p
        .parse_as::<Order>("products/update", "wh-w", &sample("products_update"))
        .unwrap_err();
    assert_eq!(wrong_kind.kind(), &ErrorKind::Unsupported);
    assert!(
        wrong_kind.to_string().contains("carries a product"),
        "{wrong_kind}"
    );
    assert_eq!(
        "customers/update".parse::<Topic>().unwrap().kind(),
        Customer::KIND
    );
}

#[tokio::test]
async fn signatures_are_checked_on_the_raw_body() {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let hooks = receiver::<Order>(store);
    let body = sample("orders_create");
    let good = headers("orders/create", "wh-1", "2026-03-02T15:15:44Z", &body);
    assert_eq!(hooks.receive(&good, &body).await.unwrap(), Received::Queued);

    // The same JSON re-serialized is not the raw body Shopify signed.
    let reserialized =
        serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(&body).unwrap()).unwrap();
    let bad = hooks.receive(&good, &reserialized).await.unwrap_err();
    assert_eq!(bad.kind(), &ErrorKind::Unauthorized);

    let mut forged = headers(
        "orders/create",
        "wh-2",
        "2026-03-02T15:15:44Z",
        b"other body",
    );
    let err = hooks.receive(&forged, &body).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized);
    forged.hmac = "not base64!".into();
    let err = hooks.receive(&forged, &body).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized);

    // A forged body is refused before it is read: no parse error leaks.
    let junk = b"{\"name\": 5}";
    let signed_for_other = headers("orders/create", "wh-3", "2026-03-02T15:15:44Z", &body);
    let err = hooks.receive(&signed_for_other, junk).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized);

    let missing = ShopifyHeaders::from_pairs([
        ("X-Shopify-Topic", "orders/create"),
        ("X-Shopify-Webhook-Id", "wh-4"),
    ])
    .unwrap_err();
    assert_eq!(missing.kind(), &ErrorKind::Unauthorized);
    assert!(missing.to_string().contains("X-Shopify-Hmac-Sha256"));
    let no_id = ShopifyHeaders::from_pairs([
        ("X-Shopify-Topic", "orders/create"),
        ("X-Shopify-Hmac-Sha256", "abc="),
    ])
    .unwrap_err();
    assert_eq!(no_id.kind(), &ErrorKind::InvalidData);
    assert!(no_id.to_string().contains("X-Shopify-Webhook-Id"));
    let bad_time = ShopifyHeaders::from_pairs([
        ("X-Shopify-Topic", "orders/create"),
        ("X-Shopify-Hmac-Sha256", "abc="),
        ("X-Shopify-Webhook-Id", "wh-5"),
        ("X-Shopify-Triggered-At", "last tuesday"),
    ])
    .unwrap_err();
    assert!(
        bad_time.to_string().contains("X-Shopify-Triggered-At"),
        "{bad_time}"
    );
    assert!(bad_time.to_string().contains("wh-5"), "{bad_time}");

    assert_eq!(hooks.queued(), 1);
    assert!(!format!("{hooks:?}").contains(SECRET));
}

#[tokio::test]
async fn repeated_deliveries_and_events_are_taken_in_once() {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let hooks = receiver::<Order>(store.clone());
    let body = sample("orders_create");
    let first = headers("orders/create", "wh-1", "2026-03-02T15:15:44Z", &body);
    assert_eq!(
        hooks.receive(&first, &body).await.unwrap(),
        Received::Queued
    );
    // Shopify's retry: same webhook id.
    assert_eq!(
        hooks.receive(&first, &body).await.unwrap(),
        Received::Duplicate
    );
    // A second receiver on the same store (another process) remembers too.
    let other = receiver::<Order>(store);
    assert_eq!(
        other.receive(&first, &body).await.unwrap(),
        Received::Duplicate
    );

    // One event delivered through two subscriptions: same event id.
    let updated = sample("orders_updated");
    let pairs = |webhook_id: &'static str| {
        let hmac = sign(&updated);
        ShopifyHeaders::from_pairs(vec![
            ("X-Shopify-Topic".to_string(), "orders/updated".to_string()),
            ("X-Shopify-Hmac-Sha256".to_string(), hmac),
            ("X-Shopify-Webhook-Id".to_string(), webhook_id.to_string()),
            ("X-Shopify-Event-Id".to_string(), "ev-98765".to_string()),
        ])
        .unwrap()
    };
    assert_eq!(
        hooks.receive(&pairs("wh-a"), &updated).await.unwrap(),
        Received::Queued
    );
    assert_eq!(
        hooks.receive(&pairs("wh-b"), &updated).await.unwrap(),
        Received::Duplicate
    );
    assert_eq!(hooks.queued(), 2);
    assert_eq!(other.queued(), 0);
}

#[tokio::test]
async fn a_delivery_triggered_before_one_already_taken_is_stale() {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let hooks = receiver::<Order>(store);
    let created = sample("orders_create");
    let updated = sample("orders_updated");
    // The update arrives first; the create's delivery was retried late.
    let newer = headers("orders/updated", "wh-2", "2026-03-04T21:02:10Z", &updated);
    assert_eq!(
        hooks.receive(&newer, &updated).await.unwrap(),
        Received::Queued
    );
    let older = headers("orders/create", "wh-1", "2026-03-02T15:15:44Z", &created);
    assert_eq!(
        hooks.receive(&older, &created).await.unwrap(),
        Received::Stale {
            newest: at("2026-03-04T21:02:10Z"),
            triggered_at: at("2026-03-02T15:15:44Z"),
        }
    );
    // Triggered at the same instant is not stale (the engine decides those).
    let same = headers("orders/updated", "wh-3", "2026-03-04T21:02:10Z", &updated);
    assert_eq!(
        hooks.receive(&same, &updated).await.unwrap(),
        Received::Queued
    );
    // Another order is another resource.
    let other = with_field("orders_create", "/name", "#1002".into());
    let h = headers("orders/create", "wh-4", "2026-03-01T00:00:00Z", &other);
    assert_eq!(hooks.receive(&h, &other).await.unwrap(), Received::Queued);
    // Without a triggered-at, only the engine's version check guards.
    let no_time = ShopifyHeaders::from_pairs([
        ("X-Shopify-Topic", "orders/create"),
        ("X-Shopify-Hmac-Sha256", sign(&created).as_str()),
        ("X-Shopify-Webhook-Id", "wh-5"),
    ])
    .unwrap();
    assert_eq!(
        hooks.receive(&no_time, &created).await.unwrap(),
        Received::Queued
    );
    assert_eq!(hooks.queued(), 4);
}

#[tokio::test]
async fn the_wrong_topic_or_shop_is_refused() {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let hooks = receiver::<Order>(store).only_shop("example.myshopify.com");
    let product = sample("products_update");
    let h = headers("products/update", "wh-1", "2026-03-03T17:31:15Z", &product);
    let err = hooks.receive(&h, &product).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unsupported);
    let h = headers(
        "orders/delete",
        "wh-2",
        "2026-03-03T17:31:15Z",
        b"{\"id\": 1}",
    );
    let err = hooks.receive(&h, b"{\"id\": 1}").await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unsupported);
    assert!(err.to_string().contains("orders/delete"));

    let body = sample("orders_create");
    let other_shop = ShopifyHeaders::from_pairs([
        ("X-Shopify-Topic", "orders/create"),
        ("X-Shopify-Hmac-Sha256", sign(&body).as_str()),
        ("X-Shopify-Webhook-Id", "wh-3"),
        ("X-Shopify-Shop-Domain", "intruder.myshopify.com"),
    ])
    .unwrap();
    let err = hooks.receive(&other_shop, &body).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized);
    assert!(err.to_string().contains("intruder.myshopify.com"));
    assert_eq!(hooks.queued(), 0);
}

fn order_flow(store: &Arc<MemorySystem>, erp: &Arc<MemorySystem>) -> Flow<Order> {
    Flow::<Order>::builder("shopify-orders", store.clone(), erp.clone())
        .owner(Owner::new("commerce", "commerce-oncall@example.com"))
        .failure_policy(FailurePolicy::dead_letter(1000))
        .sla(Sla::max_lag(Duration::from_secs(3600 * 24 * 365 * 10)))
        .build()
        .unwrap()
}

#[tokio::test]
async fn webhooks_flow_through_the_engine_and_converge_with_the_poll() {
    let state: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let shop = Arc::new(MemorySystem::new(
        SystemId::new("shopify").unwrap(),
        MemoryOptions::default(),
    ));
    let erp = Arc::new(MemorySystem::new(
        SystemId::new("erp").unwrap(),
        MemoryOptions::default(),
    ));
    let engine = Engine::new(state.clone());
    let flow = order_flow(&shop, &erp);
    let hooks = receiver::<Order>(state.clone());

    let created = sample("orders_create");
    let h = headers("orders/create", "wh-1", "2026-03-02T15:15:44Z", &created);
    assert_eq!(hooks.receive(&h, &created).await.unwrap(), Received::Queued);
    let report = engine
        .deliver(&flow, hooks.drain(usize::MAX))
        .await
        .unwrap();
    assert_eq!((report.created, report.dead_lettered), (1, 0), "{report:?}");
    let key = seamwork::connector::EntityKey::new("#1001");
    let written: Order = erp.get(&key).unwrap();
    assert_eq!(written.totals.total, usd(dec!(419.14)));

    // The poll of the same change, read through the GraphQL adapter from a
    // local Admin API serving the same order: same key, changed_at and
    // content, so the engine takes it as already delivered.
    let hook = order_record("orders/create", "orders_create");
    let poll = polled::<Order>(|s| {
        s.orders.push((
            "2026-03-02T15:15:44Z".into(),
            5512345678901,
            graphql("order_1001"),
        ))
    })
    .await;
    assert_converged(&hook, &poll);
    let again = engine.deliver(&flow, vec![poll]).await.unwrap();
    assert_eq!(
        (again.already_delivered, again.created, again.updated),
        (1, 0, 0)
    );

    // The update: the refund reaches the sink.
    let updated = sample("orders_updated");
    let h = headers("orders/updated", "wh-2", "2026-03-04T21:02:10Z", &updated);
    assert_eq!(hooks.receive(&h, &updated).await.unwrap(), Received::Queued);
    let report = engine.deliver(&flow, hooks.drain(10)).await.unwrap();
    assert_eq!(report.updated, 1, "{report:?}");
    let written: Order = erp.get(&key).unwrap();
    assert_eq!(written.refunds[0].amount, usd(dec!(23.85)));
    assert_eq!(written.financial_status, FinancialStatus::PartiallyRefunded);

    // Its poll: the refund with numeric ids and line amount = subtotal + tax.
    let hook = order_record("orders/updated", "orders_updated");
    let mut node = graphql("order_1001");
    node["updatedAt"] = "2026-03-04T21:02:10Z".into();
    node["displayFinancialStatus"] = "PARTIALLY_REFUNDED".into();
    node["displayFulfillmentStatus"] = "PARTIALLY_FULFILLED".into();
    node["refunds"] = serde_json::json!([{
        "id": "gid://shopify/Refund/929361463",
        "createdAt": "2026-03-04T21:02:08Z",
        "note": "Wrong size",
        "totalRefundedSet": {"shopMoney": {"amount": "23.85", "currencyCode": "USD"}},
        "refundLineItems": {"nodes": [{
            "lineItem": {"id": "gid://shopify/LineItem/13999888777002"},
            "quantity": 1,
            "restockType": "RETURN",
            "subtotalSet": {"shopMoney": {"amount": "22.5", "currencyCode": "USD"}},
            "totalTaxSet": {"shopMoney": {"amount": "1.35", "currencyCode": "USD"}}
        }]}
    }]);
    let poll = polled::<Order>(|s| {
        s.orders
            .push(("2026-03-04T21:02:10Z".into(), 5512345678901, node))
    })
    .await;
    assert_converged(&hook, &poll);
    let again = engine.deliver(&flow, vec![poll]).await.unwrap();
    assert_eq!(
        (again.already_delivered, again.created, again.updated),
        (1, 0, 0)
    );

    // After a restart (no in-memory marks), Shopify redelivers the create
    // under a new delivery: the engine's version check refuses it.
    let restarted = receiver::<Order>(state.clone());
    let h = headers("orders/create", "wh-late", "2026-03-02T15:15:44Z", &created);
    assert_eq!(
        restarted.receive(&h, &created).await.unwrap(),
        Received::Queued
    );
    let late = engine.deliver(&flow, restarted.drain(10)).await.unwrap();
    assert_eq!((late.already_delivered, late.updated), (1, 0));
    let written: Order = erp.get(&key).unwrap();
    assert_eq!(written.financial_status, FinancialStatus::PartiallyRefunded);
    assert_eq!(erp.stats().records_created, 1);
}

/// A GraphQL node of `tests/data/shopify_graphql/<name>.json`: what the
/// Admin API answers for the same object as the webhook sample.
fn graphql(name: &str) -> serde_json::Value {
    let path = format!(
        "{}/tests/data/shopify_graphql/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The one record a poll of a local Admin API holding `seed` reads (the
/// adapter's real query, paging and mapping).
async fn polled<E>(seed: impl FnOnce(&mut shopify_server::State)) -> Record<E>
where
    E: Entity,
    ShopifyAdapter: Source<E>,
{
    let shop = shopify_server::Shop::new();
    shop.with(seed);
    let server = shop.start().await;
    let config = ShopifyConfig::new(server.uri(), SecretString::from(shopify_server::TOKEN))
        .with_timeout(Duration::from_secs(10));
    let adapter = ShopifyAdapter::new(config).unwrap();
    let mut read: Vec<_> = Source::<E>::read(&adapter, None).collect().await;
    assert_eq!(read.len(), 1, "{read:?}");
    read.pop().unwrap().unwrap()
}

/// Webhook and poll built the same entity at the same instant, so their
/// engine versions (changed_at + fingerprint of the JSON) are equal.
fn assert_converged<E: Entity + std::fmt::Debug + PartialEq + serde::Serialize>(
    hook: &Record<E>,
    poll: &Record<E>,
) {
    assert_eq!(poll.entity, hook.entity);
    assert_eq!(poll.changed_at, hook.changed_at);
    assert_eq!(poll.external_ref, hook.external_ref);
    assert_eq!(
        Version::of(&poll.entity, poll.changed_at),
        Version::of(&hook.entity, hook.changed_at)
    );
}

#[tokio::test]
async fn a_customer_webhook_and_its_poll_build_the_same_version() {
    let hook = match parser()
        .parse("customers/update", "wh-c", &sample("customers_update"))
        .unwrap()
    {
        ShopifyRecord::Customer(r) => *r,
        other => panic!("expected a customer, got {other:?}"),
    };
    let poll = polled::<Customer>(|s| {
        s.customers.push((
            "2026-03-01T14:41:07Z".into(),
            706405506930370084,
            graphql("customer_bob"),
        ))
    })
    .await;
    assert_converged(&hook, &poll);
}

#[tokio::test]
async fn inventory_webhooks_reach_the_sink_under_their_canonical_key() {
    let state: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let shop = Arc::new(MemorySystem::new(
        SystemId::new("shopify").unwrap(),
        MemoryOptions::default(),
    ));
    let wms = Arc::new(MemorySystem::new(
        SystemId::new("wms").unwrap(),
        MemoryOptions::default(),
    ));
    let engine = Engine::new(state.clone());
    let flow = Flow::<InventoryLevel>::builder("shopify-stock", shop.clone(), wms.clone())
        .owner(Owner::new("ops", "ops@example.com"))
        .failure_policy(FailurePolicy::dead_letter(1000))
        .sla(Sla::max_lag(Duration::from_secs(3600 * 24 * 365 * 10)))
        .build()
        .unwrap();
    let hooks = receiver::<InventoryLevel>(state);
    let body = sample("inventory_levels_update");
    let h = headers(
        "inventory_levels/update",
        "wh-i1",
        "2026-03-03T17:45:01Z",
        &body,
    );
    assert_eq!(hooks.receive(&h, &body).await.unwrap(), Received::Queued);
    let report = engine.deliver(&flow, hooks.drain(10)).await.unwrap();
    assert_eq!(report.created, 1, "{report:?}");
    let key = seamwork::connector::EntityKey::composite(&["TEE-BLK-M", "DC-EAST"]);
    let level: InventoryLevel = wms.get(&key).unwrap();
    assert_eq!(level.available, 9);
}

/// Every leaf of every sample replaced by values of the wrong shape, and
/// every sample cut short at many places: always a record or an error
/// (checked under the sample's own topic), never a panic.
#[test]
fn mangled_payloads_give_errors_not_panics() {
    fn leaves(value: &serde_json::Value, path: String, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    leaves(v, format!("{path}/{k}"), out);
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    leaves(v, format!("{path}/{i}"), out);
                }
            }
            _ => out.push(path),
        }
    }
    let replacements: Vec<serde_json::Value> = [
        "null",
        "-1",
        "18446744073709551616",
        "1e300",
        "0.1e-30",
        "\"\"",
        "\"x\"",
        "\"-99999999999999999999999999999.99\"",
        "true",
        "[]",
        "{}",
    ]
    .iter()
    .map(|t| serde_json::from_str(t).unwrap())
    .collect();
    let p = parser();
    let mut outcomes = (0usize, 0usize);
    for (topic, name) in [
        ("orders/create", "orders_create"),
        ("orders/updated", "orders_updated"),
        ("products/update", "products_update"),
        ("inventory_levels/update", "inventory_levels_update"),
        ("customers/create", "customers_create"),
        ("customers/update", "customers_update"),
    ] {
        let body = sample(name);
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let mut paths = Vec::new();
        leaves(&json, String::new(), &mut paths);
        for path in &paths {
            for r in &replacements {
                let mut mangled = json.clone();
                *mangled.pointer_mut(path).unwrap() = r.clone();
                match p.parse(topic, "wh-m", &serde_json::to_vec(&mangled).unwrap()) {
                    Ok(_) => outcomes.0 += 1,
                    Err(e) => {
                        assert!(e.to_string().contains("wh-m"), "{e}");
                        outcomes.1 += 1;
                    }
                }
            }
        }
        let last_brace = body.iter().rposition(|&b| b == b'}').unwrap();
        for cut in (0..last_brace).step_by(7) {
            assert!(p.parse(topic, "wh-m", &body[..cut]).is_err());
        }
    }
    // Both outcomes happen: ignored fields accept anything, read ones refuse.
    assert!(outcomes.0 > 0 && outcomes.1 > 0, "{outcomes:?}");
}
