//! The Shopify GraphQL adapter against a local server speaking Shopify's wire
//! format: conformance (source and sink), pacing, throttles, version drift
//! and malformed answers.

mod shopify_server;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde_json::json;
use shopify_server::{L, P, Q, Scripted, Shop, TOKEN, V};

use seamwork::adapters::shopify::{ShopifyAdapter, ShopifyConfig};
use seamwork::connector::{Connector, Cursor, Record, Sink, Source, WriteResult};
use seamwork::error::ErrorKind;
use seamwork::layers::AdaptiveOptions;
use seamwork::model::{
    Address, ConsentState, Currency, Customer, DiscountAllocation, DiscountTarget, ExternalRef,
    FinancialStatus, FulfillmentStatus, InventoryLevel, Location, LocationId, LocationKind, Money,
    Order, OrderDiscount, OrderLine, OrderTotals, Product, ProductOption, ProductStatus, Refund,
    RefundLine, ShippingLine, Sku, TaxLine, Variant, Weight, WeightUnit,
};
use seamwork::testkit;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn stamp(i: usize) -> String {
    // Three records share each second: ties are broken by id.
    let base = t("2026-03-01T10:00:00Z") + chrono::Duration::seconds((i / 3) as i64);
    base.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn usd(s: &str) -> Money {
    Money::new(Decimal::from_str(s).unwrap(), Currency::USD)
}

/// Products whose ids cross a digit boundary (95, 98, 101, …) so text order ≠ number order.
fn seed_products(shop: &Shop, n: usize) {
    shop.with(|s| {
        for i in 0..n {
            let id = 95 + 3 * i as u64;
            let handle = format!("tee-{i}");
            let variants = ["S", "M"]
                .iter()
                .enumerate()
                .map(|(k, size)| V {
                    id: id * 10 + k as u64,
                    item: id * 100 + k as u64,
                    sku: format!("TEE-{i}-{size}"),
                    title: size.to_string(),
                    price: format!("{}.50", 10 + i),
                    compare_at: (k == 1).then(|| format!("{}.00", 20 + i)),
                    barcode: (k == 0).then(|| "4006381333931".to_string()),
                    options: vec![("Size".into(), size.to_string())],
                    created: stamp(i),
                    updated: stamp(i),
                    policy: if k == 1 { "CONTINUE" } else { "DENY" },
                    grams: (k == 0).then(|| "250".to_string()),
                })
                .collect();
            s.products.push(P {
                id,
                handle,
                title: format!("Tee {i}"),
                status: if i % 5 == 4 { "DRAFT" } else { "ACTIVE" },
                vendor: "Acme".into(),
                tags: vec!["summer".into(), "cotton".into()],
                options: vec![("Size".into(), vec!["S".into(), "M".into()])],
                created: stamp(i),
                updated: stamp(i),
                variants,
            });
        }
    });
}

/// What the canonical product of a seeded one must be (written from the fixture, not the adapter).
fn expected_product(p: &P) -> Product {
    let mut out = Product::new(p.handle.clone(), p.title.clone(), t(&p.created));
    out.updated_at = t(&p.updated);
    out.vendor = Some(p.vendor.clone());
    out.status = match p.status {
        "DRAFT" => ProductStatus::Draft,
        _ => ProductStatus::Active,
    };
    out.tags = p.tags.iter().cloned().collect();
    out.options = p
        .options
        .iter()
        .map(|(n, vs)| ProductOption {
            name: n.clone(),
            values: vs.clone(),
        })
        .collect();
    out.variants = p.variants.iter().map(|v| expected_variant(p, v)).collect();
    out
}

fn expected_variant(p: &P, v: &V) -> Variant {
    let mut out = Variant::new(
        Sku::new(&v.sku).unwrap(),
        p.handle.clone(),
        usd(&v.price),
        t(&v.created),
    );
    out.updated_at = t(&v.updated);
    out.title = v.title.clone();
    out.compare_at_price = v.compare_at.as_deref().map(usd);
    out.status = match p.status {
        "DRAFT" => ProductStatus::Draft,
        _ => ProductStatus::Active,
    };
    out.barcodes = v
        .barcode
        .iter()
        .map(|b| seamwork::model::Gtin::parse(b).unwrap())
        .collect();
    out.options = v.options.iter().cloned().collect::<BTreeMap<_, _>>();
    // A variant carries its product's tags (as the webhook builds it).
    out.tags = p.tags.iter().cloned().collect();
    out.weight = v.grams.as_ref().map(|g| Weight {
        value: Decimal::from_str(g).unwrap(),
        unit: WeightUnit::G,
    });
    out
}

fn seed_locations_and_levels(shop: &Shop) {
    shop.with(|s| {
        for (id, name) in [(7, "Reno DC"), (12, "Store Berlin"), (105, "Overflow")] {
            s.locations.push(L {
                id,
                name: name.into(),
                active: id != 105,
            });
        }
        for p in s.products.clone() {
            for v in &p.variants {
                for loc in [7u64, 12] {
                    s.levels.insert(
                        (v.item, loc),
                        Q {
                            on_hand: (v.item % 17) as i64 + 10,
                            committed: 2,
                            reserved: 1,
                            incoming: 5,
                            safety_stock: 1,
                            damaged: (loc == 12) as i64,
                            quality_control: 0,
                            updated: stamp(3),
                        },
                    );
                }
            }
        }
    });
}

async fn adapter(shop: &Shop, page: usize) -> (wiremock::MockServer, ShopifyAdapter) {
    let server = shop.start().await;
    let config = ShopifyConfig::new(server.uri(), SecretString::from(TOKEN))
        .with_page_size(page)
        .with_timeout(Duration::from_secs(10));
    let a = ShopifyAdapter::new(config).unwrap();
    (server, a)
}

async fn read_all<E: seamwork::connector::Entity>(
    source: &dyn Source<E>,
    since: Option<Cursor>,
) -> Vec<seamwork::error::Result<Record<E>>> {
    source.read(since).collect().await
}

#[tokio::test]
async fn products_and_variants_pass_the_source_suite() {
    let shop = Shop::new();
    seed_products(&shop, 14);
    let (_server, a) = adapter(&shop, 4).await;
    let expected: Vec<Product> = shop.with(|s| s.products.iter().map(expected_product).collect());
    testkit::check_source::<Product>(&a, &expected, 40)
        .await
        .unwrap();
    let variants: Vec<Variant> = expected.iter().flat_map(|p| p.variants.clone()).collect();
    testkit::check_source::<Variant>(&a, &variants, 40)
        .await
        .unwrap();
    // An update moves the product to the end; resuming from the last cursor yields only it.
    let all = read_all::<Product>(&a, None).await;
    let last = all.last().unwrap().as_ref().unwrap().cursor.clone();
    shop.with(|s| s.products[0].updated = "2026-03-02T00:00:00Z".into());
    let after: Vec<_> = read_all::<Product>(&a, Some(last)).await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].as_ref().unwrap().entity.handle, "tee-0");
    assert_eq!(a.stats().throttled, 0);
}

#[tokio::test]
async fn a_large_full_read_runs_as_one_bulk_operation() {
    let shop = Shop::new();
    seed_products(&shop, 14);
    let server = shop.start().await;
    let config = ShopifyConfig::new(server.uri(), SecretString::from(TOKEN))
        .with_page_size(4)
        .with_bulk(Some(10), Duration::from_millis(20));
    let a = ShopifyAdapter::new(config).unwrap();
    let expected: Vec<Product> = shop.with(|s| s.products.iter().map(expected_product).collect());
    // The full reads go through the bulk operation; resumes page.
    testkit::check_source::<Product>(&a, &expected, 40)
        .await
        .unwrap();
    let variants: Vec<Variant> = expected.iter().flat_map(|p| p.variants.clone()).collect();
    testkit::check_source::<Variant>(&a, &variants, 40)
        .await
        .unwrap();
    let ops = shop.with(|s| s.stats.operations.clone());
    assert!(ops.iter().any(|o| o == "BulkProducts"), "{ops:?}");
    assert!(
        ops.iter().filter(|o| *o == "BulkStatus").count() >= 3,
        "{ops:?}"
    );
}

#[tokio::test]
async fn locations_and_inventory_levels_read_with_every_quantity_state() {
    let shop = Shop::new();
    seed_products(&shop, 5);
    seed_locations_and_levels(&shop);
    let (_server, a) = adapter(&shop, 3).await;
    let mut reno = Location::new(
        LocationId::new("7").unwrap(),
        "Reno DC",
        LocationKind::Warehouse,
    );
    let mut address = Address::new("1 Dock Rd", "Reno", "US");
    address.region = Some("NV".into());
    address.postcode = Some("89501".into());
    reno.address = Some(address.clone());
    let mut berlin = reno.clone();
    berlin.id = LocationId::new("12").unwrap();
    berlin.name = "Store Berlin".into();
    let mut overflow = reno.clone();
    overflow.id = LocationId::new("105").unwrap();
    overflow.name = "Overflow".into();
    overflow.active = false;
    testkit::check_source::<Location>(&a, &[reno, berlin, overflow], 10)
        .await
        .unwrap();

    let expected: Vec<InventoryLevel> = shop.with(|s| {
        s.levels
            .iter()
            .map(|((item, loc), q)| {
                let v = s
                    .products
                    .iter()
                    .flat_map(|p| &p.variants)
                    .find(|v| v.item == *item)
                    .unwrap();
                let mut l = InventoryLevel::new(
                    Sku::new(&v.sku).unwrap(),
                    LocationId::new(loc.to_string()).unwrap(),
                    t(&q.updated),
                );
                l.on_hand = q.on_hand;
                l.committed = q.committed;
                l.reserved = q.reserved;
                l.incoming = q.incoming;
                l.safety_stock = q.safety_stock;
                l.damaged = q.damaged;
                l.quality_control = q.quality_control;
                l.oversell_allowed = v.policy == "CONTINUE";
                l.recompute_available();
                l
            })
            .collect()
    });
    assert_eq!(expected.len(), 20);
    testkit::check_source::<InventoryLevel>(&a, &expected, 40)
        .await
        .unwrap();
    // Positional cursors resume exactly, mid-page and across locations.
    testkit::resume_never_skips_or_repeats::<InventoryLevel>(&a, 40)
        .await
        .unwrap();
    testkit::resume_never_skips_or_repeats::<Location>(&a, 10)
        .await
        .unwrap();
    for l in read_all::<InventoryLevel>(&a, None).await {
        l.unwrap().entity.validate().unwrap();
    }
}

fn money_set(amount: &str) -> serde_json::Value {
    json!({"shopMoney": {"amount": amount, "currencyCode": "USD"}})
}

/// An order in Shopify's shape and the canonical order it must become.
fn order_fixture(i: usize) -> (String, u64, serde_json::Value, Order) {
    let id = 5_000 + 7 * i as u64;
    let updated = stamp(i);
    let node = json!({
        "id": format!("gid://shopify/Order/{id}"),
        "name": format!("#{}", 1001 + i),
        "currencyCode": "USD",
        "taxesIncluded": false,
        "displayFinancialStatus": if i.is_multiple_of(2) { "PAID" } else { "PARTIALLY_REFUNDED" },
        "displayFulfillmentStatus": if i.is_multiple_of(2) { "UNFULFILLED" } else { "FULFILLED" },
        "createdAt": "2026-02-28T09:00:00Z",
        "updatedAt": updated,
        "customer": {"id": "gid://shopify/Customer/77"},
        "billingAddress": {"address1": "5 Main St", "address2": null, "city": "Austin", "provinceCode": "TX", "zip": "73301", "countryCode": "US", "phone": null, "company": null, "firstName": "Ada", "lastName": "Lovelace"},
        "shippingAddress": null,
        "discountApplications": {"nodes": [
            {"index": 0, "targetType": "LINE_ITEM", "allocationMethod": "ACROSS", "code": "SPRING10"}
        ]},
        "lineItems": {"nodes": [
            {"id": format!("gid://shopify/LineItem/{}", id * 10), "sku": "TEE-0-S", "title": "Tee 0 - S", "quantity": 2,
             "originalUnitPriceSet": money_set("10.50"),
             "discountAllocations": [{"allocatedAmountSet": money_set("2.10"), "discountApplication": {"index": 0}}],
             "taxLines": [{"title": "TX State Tax", "rate": 0.0625, "priceSet": money_set("1.18")}]},
            {"id": format!("gid://shopify/LineItem/{}", id * 10 + 1), "sku": "TEE-1-M", "title": "Tee 1 - M", "quantity": 1,
             "originalUnitPriceSet": money_set("11.50"),
             "discountAllocations": [{"allocatedAmountSet": money_set("1.15"), "discountApplication": {"index": 0}}],
             "taxLines": [{"title": "TX State Tax", "rate": "0.0625", "priceSet": money_set("0.65")}]}
        ]},
        "shippingLines": {"nodes": [
            {"title": "Standard", "code": "STD", "originalPriceSet": money_set("5.00"), "discountAllocations": [], "taxLines": []}
        ]},
        "refunds": if i % 2 == 1 { json!([{
            "id": format!("gid://shopify/Refund/{id}"), "createdAt": "2026-03-01T08:00:00Z", "note": "too small",
            "totalRefundedSet": money_set("9.45"),
            "refundLineItems": {"nodes": [{"lineItem": {"id": format!("gid://shopify/LineItem/{}", id * 10)}, "quantity": 1, "restockType": "RETURN", "subtotalSet": money_set("9.45")}]}
        }]) } else { json!([]) },
        "subtotalPriceSet": money_set("29.25"),
        "totalDiscountsSet": money_set("3.25"),
        "totalShippingPriceSet": money_set("5.00"),
        "totalTaxSet": money_set("1.83"),
        "totalPriceSet": money_set("36.08"),
        "totalReceivedSet": money_set("36.08"),
    });
    let mut o = Order::new(
        format!("#{}", 1001 + i),
        Currency::USD,
        t("2026-02-28T09:00:00Z"),
    );
    o.updated_at = t(&updated);
    o.financial_status = if i.is_multiple_of(2) {
        FinancialStatus::Paid
    } else {
        FinancialStatus::PartiallyRefunded
    };
    o.fulfillment_status = if i.is_multiple_of(2) {
        FulfillmentStatus::Unfulfilled
    } else {
        FulfillmentStatus::Fulfilled
    };
    o.customer = Some(ExternalRef::new("shopify", "gid://shopify/Customer/77"));
    let mut billing = Address::new("5 Main St", "Austin", "US");
    billing.region = Some("TX".into());
    billing.postcode = Some("73301".into());
    billing.name = Some("Ada Lovelace".into());
    o.billing_address = Some(billing);
    let tax = |a: &str| TaxLine {
        title: "TX State Tax".into(),
        rate: Decimal::from_str("0.0625").unwrap(),
        amount: usd(a),
    };
    let mut l1 = OrderLine::new(
        (id * 10).to_string(),
        Sku::new("TEE-0-S").unwrap(),
        2,
        usd("10.50"),
    );
    l1.title = "Tee 0 - S".into();
    l1.discount_allocations = vec![DiscountAllocation {
        discount: 0,
        amount: usd("2.10"),
    }];
    l1.tax_lines = vec![tax("1.18")];
    let mut l2 = OrderLine::new(
        (id * 10 + 1).to_string(),
        Sku::new("TEE-1-M").unwrap(),
        1,
        usd("11.50"),
    );
    l2.title = "Tee 1 - M".into();
    l2.discount_allocations = vec![DiscountAllocation {
        discount: 0,
        amount: usd("1.15"),
    }];
    l2.tax_lines = vec![tax("0.65")];
    o.lines = vec![l1, l2];
    let mut ship = ShippingLine::new("Standard", usd("5.00"));
    ship.code = Some("STD".into());
    o.shipping_lines = vec![ship];
    o.discounts = vec![OrderDiscount {
        code: Some("SPRING10".into()),
        title: "SPRING10".into(),
        target: DiscountTarget::Order,
        amount: usd("3.25"),
    }];
    if i % 2 == 1 {
        let mut r = Refund::new(id.to_string(), t("2026-03-01T08:00:00Z"), usd("9.45"));
        r.note = Some("too small".into());
        r.lines = vec![RefundLine {
            line_id: (id * 10).to_string(),
            quantity: 1,
            restock: true,
            amount: usd("9.45"),
        }];
        o.refunds = vec![r];
    }
    let mut totals = OrderTotals::zero(Currency::USD);
    totals.subtotal = usd("29.25");
    totals.discount_total = usd("3.25");
    totals.shipping_total = usd("5.00");
    totals.tax_total = usd("1.83");
    totals.total = usd("36.08");
    totals.paid = usd("36.08");
    o.totals = totals;
    (updated, id, node, o)
}

#[tokio::test]
async fn orders_map_lines_discounts_taxes_shipping_and_refunds() {
    let shop = Shop::new();
    let mut expected = Vec::new();
    shop.with(|s| {
        for i in 0..9 {
            let (u, id, node, o) = order_fixture(i);
            s.orders.push((u, id, node));
            expected.push(o);
        }
    });
    let (_server, a) = adapter(&shop, 2).await;
    let got = read_all::<Order>(&a, None).await;
    assert_eq!(
        got[1].as_ref().unwrap().entity,
        expected[1],
        "a refunded order maps field by field"
    );
    testkit::check_source::<Order>(&a, &expected, 20)
        .await
        .unwrap();
}

fn customer_fixture(i: usize) -> (String, u64, serde_json::Value, Customer) {
    let id = 90 + 5 * i as u64;
    let gid = format!("gid://shopify/Customer/{id}");
    let updated = stamp(i);
    let node = json!({
        "id": gid, "firstName": "Grace", "lastName": format!("Hopper{i}"), "tags": ["vip"],
        "createdAt": "2026-01-01T00:00:00Z", "updatedAt": updated,
        "defaultEmailAddress": {"emailAddress": format!("grace{i}@example.com"), "marketingState": "SUBSCRIBED", "marketingUpdatedAt": "2026-01-02T00:00:00Z"},
        "defaultPhoneNumber": if i.is_multiple_of(2) { json!({"phoneNumber": "+14155550100", "marketingState": "NOT_SUBSCRIBED"}) } else { json!(null) },
        "addressesV2": {"nodes": [{"address1": "1 Navy Way", "address2": null, "city": "Arlington", "provinceCode": "VA", "zip": "22202", "countryCode": "US", "phone": null, "company": null, "firstName": null, "lastName": null}]},
    });
    let mut c = Customer::new(gid.clone(), t("2026-01-01T00:00:00Z"));
    c.updated_at = t(&updated);
    c.first_name = Some("Grace".into());
    c.last_name = Some(format!("Hopper{i}"));
    c.tags = ["vip".to_string()].into_iter().collect();
    c.emails = vec![format!("grace{i}@example.com")];
    if i.is_multiple_of(2) {
        c.phones = vec!["+14155550100".into()];
    }
    c.marketing.email = ConsentState::Subscribed;
    c.marketing.updated_at = Some(t("2026-01-02T00:00:00Z"));
    let mut addr = Address::new("1 Navy Way", "Arlington", "US");
    addr.region = Some("VA".into());
    addr.postcode = Some("22202".into());
    c.addresses = vec![addr];
    c.external_refs = vec![ExternalRef::new("shopify", gid)];
    (updated, id, node, c)
}

#[tokio::test]
async fn customers_pass_the_source_suite() {
    let shop = Shop::new();
    let mut expected = Vec::new();
    shop.with(|s| {
        for i in 0..11 {
            let (u, id, node, c) = customer_fixture(i);
            s.customers.push((u, id, node));
            expected.push(c);
        }
    });
    let (_server, a) = adapter(&shop, 4).await;
    testkit::check_source::<Customer>(&a, &expected, 20)
        .await
        .unwrap();
}

#[tokio::test]
async fn inventory_sink_passes_the_sink_suite_and_writes_on_hand() {
    let shop = Shop::new();
    seed_products(&shop, 3);
    seed_locations_and_levels(&shop);
    let (_server, a) = adapter(&shop, 10).await;
    // New to the sink: the items are not stocked at location 105 yet.
    let batch: Vec<InventoryLevel> = ["TEE-0-S", "TEE-1-M", "TEE-2-S"]
        .iter()
        .map(|sku| {
            let mut l = InventoryLevel::new(
                Sku::new(sku).unwrap(),
                LocationId::new("105").unwrap(),
                Utc::now(),
            );
            l.on_hand = 40;
            l.recompute_available();
            l
        })
        .collect();
    let mut invalid = batch[0].clone();
    invalid.sku = Sku::new("NO-SUCH-SKU").unwrap();
    testkit::check_sink::<InventoryLevel>(&a, &batch, invalid)
        .await
        .unwrap();

    // A changed on_hand is set with compare-and-set, and reads back.
    let mut change = batch[1].clone();
    change.on_hand = 33;
    change.recompute_available();
    let out = Sink::<InventoryLevel>::upsert(&a, std::slice::from_ref(&change))
        .await
        .unwrap();
    assert!(
        matches!(out[0].result, WriteResult::Updated { .. }),
        "{out:?}"
    );
    let back: Vec<InventoryLevel> = read_all::<InventoryLevel>(&a, None)
        .await
        .into_iter()
        .map(|r| r.unwrap().entity)
        .filter(|l| l.sku.as_str() == "TEE-1-M" && l.location.as_str() == "105")
        .collect();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].on_hand, 33);

    // A quantity Shopify refuses comes back Rejected with its message; the rest is written.
    let mut huge = batch[0].clone();
    huge.on_hand = 2_000_000_000;
    huge.recompute_available();
    let mut fine = batch[2].clone();
    fine.on_hand = 41;
    fine.recompute_available();
    let out = Sink::<InventoryLevel>::upsert(&a, &[huge, fine])
        .await
        .unwrap();
    let err = out[0].result.rejection().expect("rejected");
    assert!(
        err.message().contains("can't be higher than 1,000,000,000"),
        "{err}"
    );
    assert!(
        matches!(out[1].result, WriteResult::Updated { .. }),
        "{out:?}"
    );
}

#[tokio::test]
async fn variant_price_sink_passes_the_sink_suite_and_reports_user_errors() {
    let shop = Shop::new();
    seed_products(&shop, 3);
    let (_server, a) = adapter(&shop, 10).await;
    let now = Utc::now();
    let batch: Vec<Variant> = ["L", "XL"]
        .iter()
        .map(|size| {
            let mut v = Variant::new(
                Sku::new(format!("TEE-1-{size}")).unwrap(),
                "tee-1",
                usd("12.00"),
                now,
            );
            v.options.insert("Size".into(), size.to_string());
            v
        })
        .collect();
    let mut invalid = batch[0].clone();
    invalid.sku = Sku::new("GHOST-1").unwrap();
    invalid.product_handle = "no-such-product".into();
    testkit::check_sink::<Variant>(&a, &batch, invalid)
        .await
        .unwrap();

    let mut cheaper = batch[0].clone();
    cheaper.price = usd("9.99");
    cheaper.compare_at_price = Some(usd("12.00"));
    let out = Sink::<Variant>::upsert(&a, std::slice::from_ref(&cheaper))
        .await
        .unwrap();
    assert!(
        matches!(out[0].result, WriteResult::Updated { .. }),
        "{out:?}"
    );
    let stored = shop.with(|s| {
        s.products
            .iter()
            .flat_map(|p| p.variants.clone())
            .find(|v| v.sku == "TEE-1-L")
            .unwrap()
    });
    assert_eq!(
        (stored.price.as_str(), stored.compare_at.as_deref()),
        ("9.99", Some("12.00"))
    );

    let mut absurd = batch[1].clone();
    absurd.price = usd("2000000");
    let out = Sink::<Variant>::upsert(&a, &[absurd]).await.unwrap();
    let err = out[0].result.rejection().expect("rejected");
    assert_eq!(err.kind(), &ErrorKind::InvalidData);
    assert!(
        err.message().contains("Price must be less than 1000000"),
        "{err}"
    );

    // Two Shopify variants sharing a SKU: which one to write is unknowable,
    // so the record is refused by name, and neither variant changes.
    shop.with(|s| {
        let twin = s.products[1].variants[0].clone();
        let mut twin = twin;
        twin.sku = "TEE-1-L".into();
        (twin.id, twin.item) = (990_001, 990_002);
        s.products[1].variants.push(twin);
    });
    let mut again = batch[0].clone();
    again.price = usd("7.00");
    let out = Sink::<Variant>::upsert(&a, &[again]).await.unwrap();
    let err = out[0].result.rejection().expect("rejected");
    assert!(
        err.message()
            .contains("2 Shopify variants have SKU TEE-1-L"),
        "{err}"
    );
    let prices: Vec<String> = shop.with(|s| {
        s.products
            .iter()
            .flat_map(|p| p.variants.clone())
            .filter(|v| v.sku == "TEE-1-L")
            .map(|v| v.price.clone())
            .collect()
    });
    assert!(prices.iter().all(|p| p != "7.00"), "{prices:?}");
}

#[tokio::test]
async fn customer_sink_passes_the_sink_suite_and_reads_back() {
    let shop = Shop::new();
    shop.with(|s| {
        let (u, id, node, _) = customer_fixture(0);
        s.customers.push((u, id, node));
    });
    let (_server, a) = adapter(&shop, 10).await;
    let now = Utc::now();
    let batch: Vec<Customer> = (0..3)
        .map(|i| {
            let mut c = Customer::new(format!("erp-{i}"), now);
            c.first_name = Some("Katherine".into());
            c.last_name = Some(format!("Johnson{i}"));
            c.emails = vec![format!("kj{i}@example.com")];
            c.phones = vec![format!("+1757555010{i}")];
            c.tags = ["b2b".to_string()].into_iter().collect();
            c
        })
        .collect();
    let mut invalid = batch[0].clone();
    invalid.id = "erp-bad".into();
    invalid.emails = vec!["kj-bad@example.com".into()];
    invalid.phones = vec!["757 555 0199".into()]; // valid shape here, refused by Shopify
    testkit::check_sink::<Customer>(&a, &batch, invalid)
        .await
        .unwrap();

    // An existing Shopify customer (by ref) is updated in place.
    let (_, _, _, mut grace) = customer_fixture(0);
    grace.tags.insert("newsletter".into());
    let out = Sink::<Customer>::upsert(&a, std::slice::from_ref(&grace))
        .await
        .unwrap();
    assert!(
        matches!(out[0].result, WriteResult::Updated { .. }),
        "{out:?}"
    );
    let back: Vec<Customer> = read_all::<Customer>(&a, None)
        .await
        .into_iter()
        .map(|r| r.unwrap().entity)
        .collect();
    assert_eq!(back.len(), 4, "three created, one updated");
    let g = back.iter().find(|c| c.id == grace.id).unwrap();
    assert!(g.tags.contains("newsletter"));
    let k = back
        .iter()
        .find(|c| c.emails == ["kj1@example.com"])
        .unwrap();
    assert_eq!(k.last_name.as_deref(), Some("Johnson1"));
}

#[tokio::test]
async fn throttles_are_paced_retried_and_finally_rate_limited() {
    let shop = Shop::new();
    seed_products(&shop, 2);
    let (_server, a) = adapter(&shop, 10).await;
    shop.with(|s| {
        s.script.push_back(Scripted::Throttled);
        s.script.push_back(Scripted::TooMany("0.2"));
    });
    let got = read_all::<Product>(&a, None).await;
    assert!(got.iter().all(|r| r.is_ok()), "{got:?}");
    assert_eq!(got.len(), 2);
    assert_eq!(a.stats().throttled, 2);

    let config = a.config().clone().with_throttle_retries(0);
    let strict = ShopifyAdapter::new(config).unwrap();
    shop.with(|s| s.script.push_back(Scripted::Throttled));
    let got = read_all::<Order>(&strict, None).await;
    let err = got[0].as_ref().unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::RateLimited { .. }), "{err}");
    assert!(err.is_retryable());
    shop.with(|s| s.script.push_back(Scripted::TooMany("1")));
    let err = read_all::<Order>(&strict, None)
        .await
        .remove(0)
        .unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
}

/// 45 pages, each costing 40 of a 100-point bucket restoring 400/s: the
/// pacer waits just long enough each time, so nothing is throttled and the
/// bucket is kept low (its budget used) rather than idling full.
#[tokio::test]
async fn the_pacer_finishes_a_long_read_with_zero_throttles_and_a_well_used_bucket() {
    let shop = Shop::new();
    seed_products(&shop, 45);
    shop.bucket(100, 400);
    shop.with(|s| s.page_cost = 40);
    let server = shop.start().await;
    let config = ShopifyConfig::new(server.uri(), SecretString::from(TOKEN))
        .with_page_size(1)
        .with_budget(AdaptiveOptions::shopify_graphql());
    let a = ShopifyAdapter::new(config).unwrap();
    let got = read_all::<Product>(&a, None).await;
    assert_eq!(got.iter().filter(|r| r.is_ok()).count(), 45);
    let (throttled, samples) =
        shop.with(|s| (s.stats.throttled, s.stats.available_samples.clone()));
    assert_eq!(throttled, 0, "the server throttled a paced read");
    assert_eq!(a.stats().throttled, 0);
    assert!(samples.len() >= 46, "{} requests", samples.len());
    let mean = samples.iter().sum::<u64>() / samples.len() as u64;
    assert!(
        mean < 60,
        "the bucket idled at {mean} of 100 points on average: {samples:?}"
    );
    let stats = a.stats();
    assert!(
        stats.requests >= 46 && stats.cost_used >= 45 * 40,
        "{stats:?}"
    );
    assert!(!stats.waited.is_zero());
}

#[tokio::test]
async fn version_drift_and_deprecations_are_reported() {
    let shop = Shop::new();
    seed_products(&shop, 1);
    shop.with(|s| {
        s.served_version = "2025-10".into();
        s.deprecated = Some("Shop.products, ProductVariant.inventoryQuantity".into());
    });
    let (_server, a) = adapter(&shop, 10).await;
    assert_eq!(a.api_versions().served, None);
    read_all::<Product>(&a, None).await;
    let v = a.api_versions();
    assert_eq!(v.requested, shopify_server::VERSION);
    assert_eq!(v.served.as_deref(), Some("2025-10"));
    assert!(v.drifted());
    assert_eq!(
        v.deprecations,
        vec!["Shop.products, ProductVariant.inventoryQuantity".to_string()]
    );
}

#[tokio::test]
async fn malformed_and_partial_answers_are_clear_errors() {
    let shop = Shop::new();
    seed_products(&shop, 1);
    let (_server, a) = adapter(&shop, 10).await;
    shop.with(|s| {
        s.script
            .push_back(Scripted::Body("<html>502 Bad Gateway</html>"))
    });
    let err = read_all::<Order>(&a, None).await.remove(0).unwrap_err();
    assert!(err.message().contains("not JSON"), "{err}");
    shop.with(|s| s.script.push_back(Scripted::Body(r##"{"data":{"orders":{"nodes":[{"id":"gid://shopify/Order/1","name":"#1"}],"pageInfo":{"hasNextPage":false}}},"extensions":{"cost":{"requestedQueryCost":1,"actualQueryCost":1,"throttleStatus":{"maximumAvailable":1000.0,"currentlyAvailable":999,"restoreRate":50.0}}}}"##)));
    let err = read_all::<Order>(&a, None).await.remove(0).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::InvalidData);
    assert!(
        err.message().contains("order gid://shopify/Order/1"),
        "{err}"
    );
    assert!(err.message().contains("currencyCode"), "{err}");
    shop.with(|s| s.script.push_back(Scripted::Body(r#"{"data":{"orders":null},"errors":[{"message":"Internal error. Looks like something went wrong on our end.","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#)));
    let err = read_all::<Order>(&a, None).await.remove(0).unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.message().contains("Internal error"), "{err}");
    shop.with(|s| {
        s.script
            .push_back(Scripted::Body(r#"{"data":{"orders":{"nodes":[]}}}"#))
    });
    let err = read_all::<Order>(&a, None).await.remove(0).unwrap_err();
    assert!(err.message().contains("data.orders.pageInfo"), "{err}");
    shop.with(|s| s.script.push_back(Scripted::Body(r#"{"data":{"orders":{"nodes":[{"id":"gid://shopify/Order/2","name":"2","currencyCode":"USD","createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z","lineItems":{"nodes":[],"pageInfo":{"hasNextPage":true}}}],"pageInfo":{"hasNextPage":false}}}}"#)));
    let err = read_all::<Order>(&a, None).await.remove(0).unwrap_err();
    assert!(
        err.message().contains("lineItems.pageInfo.hasNextPage"),
        "{err}"
    );
    let bad = read_all::<Order>(&a, Some(Cursor::new("not-a-cursor"))).await;
    assert!(
        bad[0]
            .as_ref()
            .unwrap_err()
            .message()
            .contains("not-a-cursor")
    );
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized_and_not_retried() {
    let shop = Shop::new();
    let server = shop.start().await;
    let a = ShopifyAdapter::new(ShopifyConfig::new(
        server.uri(),
        SecretString::from("wrong"),
    ))
    .unwrap();
    let err = read_all::<Customer>(&a, None).await.remove(0).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized);
    assert!(!err.is_retryable());
    assert_eq!(a.system().as_str(), "shopify");
}
