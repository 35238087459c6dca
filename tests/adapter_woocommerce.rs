//! The WooCommerce adapter against a local HTTP server that speaks the REST
//! API v3 wire format: Basic auth, `per_page`/`page` with `X-WP-Total`,
//! `X-WP-TotalPages` and `Link`, `modified_after` (exclusive, GMT), `sku`
//! lookups that answer variations too, batch endpoints with per-item errors,
//! and WooCommerce error bodies. Ties in `date_modified_gmt` are served in
//! descending id order, so the adapter cannot lean on the server's order.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use chrono::{DateTime, Duration as Span, NaiveDateTime, TimeZone, Utc};
use futures::TryStreamExt;
use rust_decimal_macros::dec;
use seamwork::ErrorKind;
use seamwork::adapters::woocommerce::webhook::{customer_record, order_record};
use seamwork::adapters::woocommerce::{WooCommerce, WooConfig};
use seamwork::connector::{Sink, Source, WriteResult};
use seamwork::model::{
    Currency, Customer, InventoryLevel, LocationId, Money, Order, Product, ProductOption,
    ProductStatus, Sku, SystemId, Variant,
};
use seamwork::testkit;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::any};

const KEY: &str = "ck_4f2b";
const SECRET: &str = "cs_9c1e";
const API: &str = "/wp-json/wc/v3";

// ------------------------------------------------------------------ the shop

/// How the server misbehaves, when asked to.
#[derive(Clone, Default)]
struct Faults {
    /// Answer this `page` of any list with this status and body.
    page_status: Option<(u32, u16, &'static str)>,
    /// Answer this `page` with a body that is not JSON.
    page_garbage: Option<u32>,
    /// Send neither `X-WP-Total*` nor `Link`.
    no_paging_headers: bool,
    /// Send `Link` only.
    link_only: bool,
    /// Batch updates of these ids answer a per-item error.
    refuse: HashSet<u64>,
    /// For this many page-2 answers, `X-WP-Total` is one less than on page
    /// 1: a record was deleted between the two pages.
    shrink_reads: Arc<std::sync::atomic::AtomicU32>,
}

#[derive(Default)]
struct Shop {
    products: Vec<Value>,
    variations: BTreeMap<u64, Vec<Value>>,
    orders: Vec<Value>,
    customers: Vec<Value>,
    /// Time stamped on writes; each batch advances it one second.
    clock: Option<DateTime<Utc>>,
    batch_calls: usize,
    faults: Faults,
}

fn gmt_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn modified(v: &Value) -> NaiveDateTime {
    let t = v["date_modified_gmt"]
        .as_str()
        .unwrap_or("1970-01-01T00:00:00");
    NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S").unwrap()
}

fn error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"code": code, "message": message, "data": {"status": status}}))
}

#[derive(Clone)]
struct WooServer(Arc<Mutex<Shop>>);

impl WooServer {
    fn list(&self, shop: &Shop, req: &Request, mut items: Vec<Value>) -> ResponseTemplate {
        let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        let per_page: usize = q.get("per_page").map_or(10, |p| p.parse().unwrap_or(0));
        if !(1..=100).contains(&per_page) {
            return error(400, "rest_invalid_param", "Invalid parameter(s): per_page");
        }
        let page: u32 = q.get("page").map_or(1, |p| p.parse().unwrap_or(0));
        if let Some(after) = q.get("modified_after") {
            assert_eq!(q.get("dates_are_gmt").map(String::as_str), Some("true"));
            let after = NaiveDateTime::parse_from_str(after, "%Y-%m-%dT%H:%M:%S").unwrap();
            items.retain(|v| modified(v) > after);
        }
        if let Some(kind) = q.get("type") {
            items.retain(|v| v["type"] == kind.as_str());
        }
        if q.get("orderby").map(String::as_str) == Some("modified") {
            // Ties come back in descending id order: the adapter must sort.
            items.sort_by(|a, b| {
                modified(a)
                    .cmp(&modified(b))
                    .then(b["id"].as_u64().cmp(&a["id"].as_u64()))
            });
        } else {
            items.sort_by_key(|v| v["id"].as_u64());
        }
        if q.get("order").map(String::as_str) == Some("desc") {
            items.reverse();
        }
        let total = items.len();
        let pages = total.div_ceil(per_page).max(1) as u32;
        if page < 1 || page > pages {
            return error(
                400,
                "rest_post_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
            );
        }
        if shop.faults.page_garbage == Some(page) {
            return ResponseTemplate::new(200).set_body_string("[{\"id\": 1, \"name\": ");
        }
        if let Some((p, status, retry_after)) = shop.faults.page_status
            && p == page
        {
            let mut r = error(
                status,
                "internal_server_error",
                "There has been a critical error on this website.",
            );
            if !retry_after.is_empty() {
                r = r.insert_header("retry-after", retry_after);
            }
            return r;
        }
        let start = (page as usize - 1) * per_page;
        let body: Vec<Value> = items.into_iter().skip(start).take(per_page).collect();
        let mut r = ResponseTemplate::new(200).set_body_json(body);
        if shop.faults.no_paging_headers {
            return r;
        }
        let shrinking = page == 2
            && shop
                .faults
                .shrink_reads
                .fetch_update(
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                    |n| n.checked_sub(1),
                )
                .is_ok();
        let total = if shrinking { total - 1 } else { total };
        if !shop.faults.link_only {
            r = r
                .insert_header("x-wp-total", total.to_string())
                .insert_header("x-wp-totalpages", pages.to_string());
        }
        let link = |p: u32, rel: &str| {
            let mut url = req.url.clone();
            let kept: Vec<(String, String)> = req
                .url
                .query_pairs()
                .into_owned()
                .filter(|(k, _)| k != "page")
                .collect();
            url.query_pairs_mut()
                .clear()
                .extend_pairs(kept)
                .append_pair("page", &p.to_string());
            format!("<{url}>; rel=\"{rel}\"")
        };
        let mut links = Vec::new();
        if page > 1 {
            links.push(link(page - 1, "prev"));
        }
        if page < pages {
            links.push(link(page + 1, "next"));
        }
        if !links.is_empty() {
            r = r.insert_header("link", links.join(", "));
        }
        r
    }

    fn batch(shop: &mut Shop, parent: Option<u64>, body: &Value) -> ResponseTemplate {
        shop.batch_calls += 1;
        let now = shop.clock.unwrap() + Span::seconds(shop.batch_calls as i64);
        let refuse = shop.faults.refuse.clone();
        let list = match parent {
            None => &mut shop.products,
            Some(p) => match shop.variations.get_mut(&p) {
                Some(l) => l,
                None => return error(404, "woocommerce_rest_product_invalid_id", "Invalid ID."),
            },
        };
        let mut answers = Vec::new();
        for u in body["update"].as_array().cloned().unwrap_or_default() {
            let id = u["id"].as_u64().unwrap_or(0);
            let Some(item) = list.iter_mut().find(|v| v["id"] == id) else {
                let code = if parent.is_some() {
                    "woocommerce_rest_product_variation_invalid_id"
                } else {
                    "woocommerce_rest_product_invalid_id"
                };
                answers.push(json!({"id": id, "error": {"code": code, "message": "Invalid ID.", "data": {"status": 400}}}));
                continue;
            };
            if refuse.contains(&id) {
                answers.push(json!({"id": id, "error": {"code": "woocommerce_rest_cannot_edit", "message": "Sorry, you are not allowed to edit this resource.", "data": {"status": 403}}}));
                continue;
            }
            for (k, v) in u.as_object().unwrap() {
                if k != "id" {
                    item[k] = v.clone();
                }
            }
            item["date_modified_gmt"] = json!(gmt_text(now));
            answers.push(item.clone());
        }
        ResponseTemplate::new(200)
            .set_body_json(json!({"create": [], "update": answers, "delete": []}))
    }
}

impl Respond for WooServer {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:{SECRET}"))
        );
        if req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            != Some(&expected)
        {
            return error(
                401,
                "woocommerce_rest_cannot_view",
                "Sorry, you cannot list resources.",
            );
        }
        let mut shop = self.0.lock().unwrap();
        let path = req.url.path().strip_prefix(API).unwrap_or("").to_string();
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let method = req.method.as_str();
        match (method, parts.as_slice()) {
            ("GET", ["products"]) => {
                let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
                let mut items = shop.products.clone();
                if let Some(skus) = q.get("sku") {
                    // The products endpoint answers variations by SKU too.
                    let wanted: HashSet<&str> = skus.split(',').collect();
                    items.extend(shop.variations.values().flatten().cloned());
                    items.retain(|v| wanted.contains(v["sku"].as_str().unwrap_or("")));
                }
                self.list(&shop, req, items)
            }
            ("GET", ["products", id, "variations"]) => {
                let id: u64 = id.parse().unwrap_or(0);
                let items = shop.variations.get(&id).cloned().unwrap_or_default();
                self.list(&shop, req, items)
            }
            ("GET", ["orders"]) => {
                let items = shop.orders.clone();
                self.list(&shop, req, items)
            }
            ("GET", ["customers"]) => {
                let items = shop.customers.clone();
                self.list(&shop, req, items)
            }
            ("POST", ["products", "batch"]) => {
                let body: Value = req.body_json().unwrap();
                Self::batch(&mut shop, None, &body)
            }
            ("POST", ["products", id, "variations", "batch"]) => {
                let body: Value = req.body_json().unwrap();
                Self::batch(&mut shop, Some(id.parse().unwrap_or(0)), &body)
            }
            _ => error(
                404,
                "rest_no_route",
                "No route was found matching the URL and request method.",
            ),
        }
    }
}

async fn serve(shop: Shop) -> (MockServer, Arc<Mutex<Shop>>) {
    let server = MockServer::start().await;
    let shop = Arc::new(Mutex::new(shop));
    Mock::given(any())
        .respond_with(WooServer(shop.clone()))
        .mount(&server)
        .await;
    (server, shop)
}

fn adapter(server: &MockServer, secret: &str, per_page: u32) -> WooCommerce {
    WooCommerce::new(
        WooConfig::new(
            server.uri(),
            KEY,
            SecretString::from(secret),
            SystemId::new("woo").unwrap(),
            Currency::USD,
            LocationId::new("WEB").unwrap(),
        )
        .with_per_page(per_page),
    )
    .unwrap()
}

// ------------------------------------------------------------------ catalogue

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 12, 0, 0).unwrap()
}

/// One sellable item of the test catalogue: a simple product or a variation.
#[derive(Clone)]
struct Item {
    id: u64,
    parent: Option<(u64, &'static str)>,
    sku: String,
    name: String,
    regular: String,
    sale: Option<String>,
    manage: Value,
    quantity: Option<i64>,
    backorders: &'static str,
    /// Seconds after `base()`; several items share one.
    modified: i64,
    size: Option<&'static str>,
}

fn catalogue() -> Vec<Item> {
    let mut items = Vec::new();
    for i in 1..=9u64 {
        let n = i as i64;
        items.push(Item {
            id: 100 + i,
            parent: None,
            // Product 109 has no SKU: it is read as wc-109.
            sku: if i == 9 {
                String::new()
            } else {
                format!("TEE-{i}")
            },
            name: format!("Tee {i}"),
            regular: format!("{}.{:02}", 10 + i, (i * 7) % 100),
            sale: (i % 2 == 0).then(|| format!("{}.50", 8 + i)),
            manage: json!(i % 3 != 0),
            quantity: (i % 3 != 0).then_some(n * 5 - 10),
            backorders: if i == 1 { "notify" } else { "no" },
            modified: n / 3,
            size: None,
        });
    }
    for (parent, slug, prefix, at) in [(200u64, "hoodie", "HOOD", 1i64), (210, "cap", "CAP", 2)] {
        for (k, size) in ["S", "M", "L"].into_iter().enumerate() {
            let k = k as u64;
            items.push(Item {
                id: parent + 1 + k,
                parent: Some((parent, slug)),
                sku: format!("{prefix}-{size}"),
                name: format!("{slug} - {size}"),
                regular: format!("{}.00", 30 + k),
                sale: None,
                manage: if k == 2 { json!("parent") } else { json!(true) },
                quantity: (k != 2).then_some(k as i64 + 3),
                backorders: "no",
                modified: at,
                size: Some(size),
            });
        }
    }
    items
}

fn item_json(it: &Item) -> Value {
    let mut v = json!({
        "id": it.id,
        "name": it.name,
        "slug": format!("tee-{}", it.id),
        "permalink": format!("https://shop.example/product/tee-{}/", it.id),
        "date_created": gmt_text(base() - Span::days(30)),
        "date_created_gmt": gmt_text(base() - Span::days(30)),
        "date_modified": gmt_text(base() + Span::seconds(it.modified)),
        "date_modified_gmt": gmt_text(base() + Span::seconds(it.modified)),
        "type": "simple",
        "status": "publish",
        "description": "",
        "sku": it.sku,
        "price": it.sale.clone().unwrap_or(it.regular.clone()),
        "regular_price": it.regular,
        "sale_price": it.sale.clone().unwrap_or_default(),
        "tax_status": "taxable",
        "manage_stock": it.manage,
        "stock_quantity": it.quantity,
        "backorders": it.backorders,
        "parent_id": 0,
        "tags": [],
        "categories": [],
        "attributes": [],
        "variations": [],
        "meta_data": [],
    });
    if let Some((parent, _)) = it.parent {
        v["type"] = json!("variation");
        v["parent_id"] = json!(parent);
        v["tax_status"] = json!("parent");
        v["attributes"] = json!([{"id": 1, "name": "Size", "option": it.size}]);
    }
    v
}

fn parent_json(id: u64, slug: &str, modified: i64) -> Value {
    json!({
        "id": id, "name": slug.to_uppercase(), "slug": slug, "type": "variable", "status": "publish",
        "description": "<p>Warm.</p>", "sku": "", "price": "", "regular_price": "", "sale_price": "",
        "tax_status": "taxable", "manage_stock": false, "stock_quantity": null, "backorders": "no",
        "date_created_gmt": gmt_text(base() - Span::days(30)),
        "date_modified_gmt": gmt_text(base() + Span::seconds(modified)),
        "parent_id": 0, "tags": [{"id": 1, "name": "winter", "slug": "winter"}],
        "categories": [{"id": 2, "name": "Outerwear", "slug": "outerwear"}],
        "attributes": [{"id": 1, "name": "Size", "options": ["S", "M", "L"], "variation": true, "visible": true}],
        "variations": [id + 1, id + 2, id + 3],
    })
}

fn catalogue_shop() -> Shop {
    let mut shop = Shop {
        clock: Some(base() + Span::hours(1)),
        ..Shop::default()
    };
    for it in catalogue() {
        match it.parent {
            None => shop.products.push(item_json(&it)),
            Some((p, _)) => shop.variations.entry(p).or_default().push(item_json(&it)),
        }
    }
    shop.products.push(parent_json(200, "hoodie", 0));
    shop.products.push(parent_json(210, "cap", 5));
    shop
}

fn usd(text: &str) -> Money {
    Money::parse(text, Currency::USD).unwrap()
}

fn expected_variant(it: &Item) -> Variant {
    let sku = if it.sku.is_empty() {
        format!("wc-{}", it.id)
    } else {
        it.sku.clone()
    };
    let handle = it
        .parent
        .map_or(format!("tee-{}", it.id), |(_, s)| s.to_string());
    let price = usd(it.sale.as_deref().unwrap_or(&it.regular));
    let mut v = Variant::new(
        Sku::new(sku).unwrap(),
        handle,
        price,
        base() - Span::days(30),
    );
    v.updated_at = base() + Span::seconds(it.modified);
    v.compare_at_price = it.sale.as_ref().map(|_| usd(&it.regular));
    match it.size {
        Some(size) => {
            v.options.insert("Size".into(), size.into());
            v.title = size.into();
            v.tags.insert("winter".into());
        }
        None => v.title = it.name.clone(),
    }
    v
}

fn expected_level(it: &Item) -> Option<InventoryLevel> {
    if it.manage != json!(true) {
        return None;
    }
    let sku = Sku::new(&it.sku).unwrap();
    let mut l = InventoryLevel::new(
        sku,
        LocationId::new("WEB").unwrap(),
        base() + Span::seconds(it.modified),
    );
    let q = it.quantity.unwrap();
    l.on_hand = q.max(0);
    l.committed = (-q).max(0);
    l.available = q;
    l.oversell_allowed = it.backorders != "no";
    Some(l)
}

fn expected_products() -> Vec<Product> {
    let items = catalogue();
    let mut out = Vec::new();
    for it in items.iter().filter(|i| i.parent.is_none()) {
        let mut p = Product::new(
            format!("tee-{}", it.id),
            it.name.clone(),
            base() - Span::days(30),
        );
        p.updated_at = base() + Span::seconds(it.modified);
        p.variants = vec![expected_variant(it)];
        out.push(p);
    }
    for (id, slug, modified) in [(200u64, "hoodie", 0i64), (210, "cap", 5)] {
        let mut p = Product::new(slug, slug.to_uppercase(), base() - Span::days(30));
        p.updated_at = base() + Span::seconds(modified);
        p.description = Some("<p>Warm.</p>".into());
        p.product_type = Some("Outerwear".into());
        p.tags.insert("winter".into());
        p.options = vec![ProductOption {
            name: "Size".into(),
            values: vec!["S".into(), "M".into(), "L".into()],
        }];
        p.variants = items
            .iter()
            .filter(|i| i.parent.map(|(p, _)| p) == Some(id))
            .map(expected_variant)
            .collect();
        out.push(p);
    }
    out
}

// ------------------------------------------------------------------ sources

#[tokio::test]
async fn variants_pass_the_source_suite_across_pages_and_timestamp_ties() {
    let (server, _shop) = serve(catalogue_shop()).await;
    let woo = adapter(&server, SECRET, 4);
    let expected: Vec<Variant> = catalogue().iter().map(expected_variant).collect();
    testkit::check_source::<Variant>(&woo, &expected, 50)
        .await
        .unwrap();
}

#[tokio::test]
async fn products_pass_the_source_suite_with_their_variations() {
    let (server, _shop) = serve(catalogue_shop()).await;
    let woo = adapter(&server, SECRET, 3);
    testkit::check_source::<Product>(&woo, &expected_products(), 50)
        .await
        .unwrap();
}

#[tokio::test]
async fn stock_levels_pass_the_source_suite() {
    let (server, _shop) = serve(catalogue_shop()).await;
    let woo = adapter(&server, SECRET, 5);
    let expected: Vec<InventoryLevel> = catalogue().iter().filter_map(expected_level).collect();
    assert_eq!(
        expected.len(),
        10,
        "six tracked tees and four tracked variations"
    );
    let backordered = expected.iter().find(|l| l.sku.as_str() == "TEE-1").unwrap();
    assert_eq!(
        (
            backordered.on_hand,
            backordered.committed,
            backordered.available
        ),
        (0, 5, -5)
    );
    testkit::check_source::<InventoryLevel>(&woo, &expected, 50)
        .await
        .unwrap();
}

fn order_template() -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/woocommerce/order.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Orders 1000.. built from the fixture (whose mapping the webhook tests pin
/// field by field), several sharing a modification second.
fn orders_shop(n: u64) -> (Shop, Vec<Order>) {
    let template: Value = serde_json::from_slice(&order_template()).unwrap();
    let ctx = adapter_ctx();
    let canonical = order_record(&order_template(), &ctx).unwrap().entity;
    let mut shop = Shop::default();
    let mut expected = Vec::new();
    for i in 0..n {
        let at = base() + Span::seconds((i / 4) as i64);
        let mut o = template.clone();
        o["id"] = json!(1000 + i);
        o["number"] = json!(format!("W-{}", 1000 + i));
        o["date_modified_gmt"] = json!(gmt_text(at));
        shop.orders.push(o);
        let mut e = canonical.clone();
        e.number = format!("W-{}", 1000 + i);
        e.updated_at = at;
        for r in &mut e.refunds {
            r.created_at = at;
        }
        expected.push(e);
    }
    (shop, expected)
}

fn adapter_ctx() -> seamwork::adapters::woocommerce::WireContext {
    seamwork::adapters::woocommerce::WireContext {
        system: SystemId::new("woo").unwrap(),
        currency: Currency::USD,
        location: LocationId::new("WEB").unwrap(),
    }
}

#[tokio::test]
async fn orders_pass_the_source_suite() {
    let (shop, expected) = orders_shop(11);
    let (server, _shop) = serve(shop).await;
    let woo = adapter(&server, SECRET, 4);
    testkit::check_source::<Order>(&woo, &expected, 50)
        .await
        .unwrap();
    let all: Vec<_> = Source::<Order>::read(&woo, None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        all[0].entity.totals.total,
        Money::new(dec!(63.00), Currency::USD)
    );
    assert_eq!(all[0].external_ref.id, "1000");
}

#[tokio::test]
async fn customers_pass_the_source_suite() {
    let body = std::fs::read(format!(
        "{}/tests/data/woocommerce/customer.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let template: Value = serde_json::from_slice(&body).unwrap();
    let canonical = customer_record(&body, &adapter_ctx()).unwrap().entity;
    let mut shop = Shop::default();
    let mut expected: Vec<Customer> = Vec::new();
    for i in 0..7u64 {
        let at = base() + Span::seconds(3 - (i / 3) as i64);
        let mut c = template.clone();
        c["id"] = json!(40 + i);
        c["date_modified_gmt"] = json!(gmt_text(at));
        shop.customers.push(c);
        let mut e = canonical.clone();
        e.id = (40 + i).to_string();
        e.updated_at = at;
        e.external_refs[0].id = (40 + i).to_string();
        expected.push(e);
    }
    let (server, _shop) = serve(shop).await;
    testkit::check_source::<Customer>(&adapter(&server, SECRET, 3), &expected, 50)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_incremental_read_sees_later_changes_and_holds_back_unsettled_ones() {
    let (server, shop) = serve(catalogue_shop()).await;
    let woo = adapter(&server, SECRET, 4);
    let all: Vec<_> = Source::<Variant>::read(&woo, None)
        .try_collect()
        .await
        .unwrap();
    let last = all.last().unwrap().clone();
    assert!(
        Source::<Variant>::read(&woo, Some(last.cursor.clone()))
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .is_empty()
    );
    // A tee with a lower id than the last record changes: a second later,
    // and another one "now" by the server's clock, which is not settled yet.
    {
        let mut s = shop.lock().unwrap();
        let tee = s.products.iter_mut().find(|p| p["id"] == 101).unwrap();
        tee["regular_price"] = json!("99.00");
        tee["date_modified_gmt"] = json!(gmt_text(last.changed_at + Span::seconds(1)));
        let fresh = s.products.iter_mut().find(|p| p["id"] == 102).unwrap();
        fresh["date_modified_gmt"] = json!(gmt_text(Utc::now()));
    }
    let later: Vec<_> = Source::<Variant>::read(&woo, Some(last.cursor))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].entity.sku.as_str(), "TEE-1");
    assert_eq!(later[0].entity.compare_at_price, None);
    assert_eq!(later[0].entity.price, usd("99.00"));
    // Once the server's clock has moved past the settle time, it comes.
    {
        let mut s = shop.lock().unwrap();
        let fresh = s.products.iter_mut().find(|p| p["id"] == 102).unwrap();
        fresh["date_modified_gmt"] = json!(gmt_text(Utc::now() - Span::minutes(1)));
    }
    let settled: Vec<_> = Source::<Variant>::read(&woo, Some(later[0].cursor.clone()))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0].entity.sku.as_str(), "TEE-2");
}

#[tokio::test]
async fn pages_are_followed_by_link_alone_and_by_full_pages_without_headers() {
    for (link_only, none) in [(true, false), (false, true)] {
        let mut shop = catalogue_shop();
        shop.faults.link_only = link_only;
        shop.faults.no_paging_headers = none;
        let (server, _shop) = serve(shop).await;
        let woo = adapter(&server, SECRET, 4);
        let got: Vec<_> = Source::<Variant>::read(&woo, None)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(got.len(), 15, "link_only {link_only}, no headers {none}");
    }
    // Without headers, a last page that is full makes the adapter ask one
    // page too far; WordPress's "invalid page number" answer ends the read.
    let mut shop = catalogue_shop();
    shop.faults.no_paging_headers = true;
    let (server, _shop) = serve(shop).await;
    let got: Vec<_> = Source::<Variant>::read(&adapter(&server, SECRET, 11), None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        got.len(),
        15,
        "11 products on one full page, then page 2 refused"
    );
}

// ------------------------------------------------------------------ errors

async fn read_error(shop: Shop, secret: &str) -> seamwork::Error {
    let (server, _shop) = serve(shop).await;
    let woo = adapter(&server, secret, 4);
    Source::<Variant>::read(&woo, None)
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err()
}

#[tokio::test]
async fn a_wrong_key_is_unauthorized_and_quotes_woocommerce() {
    let e = read_error(catalogue_shop(), "cs_wrong").await;
    assert_eq!(e.kind(), &ErrorKind::Unauthorized);
    assert!(!e.is_retryable());
    assert!(
        e.message()
            .contains("woocommerce_rest_cannot_view: Sorry, you cannot list resources."),
        "{e}"
    );
    assert!(!e.message().contains("cs_wrong"));
}

#[tokio::test]
async fn server_errors_and_throttling_are_retryable() {
    let mut shop = catalogue_shop();
    shop.faults.page_status = Some((2, 500, ""));
    let e = read_error(shop, SECRET).await;
    assert_eq!(e.kind(), &ErrorKind::Unavailable);
    assert!(e.is_retryable());
    assert!(e.message().contains("critical error"), "{e}");

    let mut shop = catalogue_shop();
    shop.faults.page_status = Some((1, 429, "7"));
    let e = read_error(shop, SECRET).await;
    assert!(e.is_retryable());
    assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(7)));
}

/// Offset pages shift when a record disappears mid-read: the adapter starts
/// the read over (and gives up, retryably, if the listing never holds still).
#[tokio::test]
async fn a_listing_that_changes_mid_read_is_read_again() {
    let (server, _shop) = serve(catalogue_shop()).await;
    let calm: Vec<Variant> = Source::<Variant>::read(&adapter(&server, SECRET, 4), None)
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.entity)
        .collect();

    let shop = catalogue_shop();
    shop.faults
        .shrink_reads
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let (server, _shop) = serve(shop).await;
    let shaken: Vec<Variant> = Source::<Variant>::read(&adapter(&server, SECRET, 4), None)
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.entity)
        .collect();
    assert_eq!(shaken, calm);
    let page_ones = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| {
            r.url.path().ends_with("/products")
                && r.url
                    .query()
                    .is_some_and(|q| q.contains("page=1&") || q.ends_with("page=1"))
        })
        .count();
    assert_eq!(page_ones, 2, "the product listing was read twice");

    let shop = catalogue_shop();
    shop.faults
        .shrink_reads
        .store(99, std::sync::atomic::Ordering::SeqCst);
    let e = read_error(shop, SECRET).await;
    assert_eq!(e.kind(), &ErrorKind::Unavailable);
    assert!(e.is_retryable());
    assert!(e.message().contains("kept changing"), "{e}");
}

#[tokio::test]
async fn malformed_pages_and_records_are_invalid_data_that_say_where() {
    let mut shop = catalogue_shop();
    shop.faults.page_garbage = Some(2);
    let e = read_error(shop, SECRET).await;
    assert_eq!(e.kind(), &ErrorKind::InvalidData);
    assert!(e.message().contains("page 2"), "{e}");

    let mut shop = catalogue_shop();
    shop.products[3]["regular_price"] = json!("12,50");
    let e = read_error(shop, SECRET).await;
    assert_eq!(e.kind(), &ErrorKind::InvalidData);
    assert!(
        e.message().contains("product 104") && e.message().contains("regular_price"),
        "{e}"
    );

    let mut shop = catalogue_shop();
    let p = shop.products[0].as_object_mut().unwrap();
    p.remove("date_modified_gmt");
    p.remove("date_created_gmt");
    let e = read_error(shop, SECRET).await;
    assert!(
        e.message().contains("product 101") && e.message().contains("_gmt is missing"),
        "{e}"
    );
}

#[tokio::test]
async fn configuration_refuses_plain_http_to_other_hosts_and_never_prints_the_secret() {
    let config = WooConfig::new(
        "http://shop.example",
        KEY,
        SecretString::from("cs_topsecret"),
        SystemId::new("woo").unwrap(),
        Currency::USD,
        LocationId::new("WEB").unwrap(),
    );
    assert!(!format!("{config:?}").contains("cs_topsecret"));
    let e = WooCommerce::new(config).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Config);
}

// ------------------------------------------------------------------ sinks

/// Products that neither track stock nor have a price yet: what the sinks create.
fn new_items_shop() -> Shop {
    let mut shop = Shop {
        clock: Some(base() + Span::hours(2)),
        ..Shop::default()
    };
    for i in 1..=6u64 {
        shop.products.push(json!({
            "id": 500 + i, "name": format!("New {i}"), "slug": format!("new-{i}"), "type": "simple",
            "status": "draft", "sku": format!("NEW-{i}"), "regular_price": "", "sale_price": "",
            "tax_status": "taxable", "manage_stock": false, "stock_quantity": null, "backorders": "no",
            "date_created_gmt": gmt_text(base()), "date_modified_gmt": gmt_text(base()),
        }));
    }
    shop.products.push(parent_json(600, "scarf", 0));
    shop.variations.insert(
        600,
        (1..=2u64)
            .map(|k| {
                json!({
                    "id": 600 + k, "type": "variation", "parent_id": 600, "status": "publish",
                    "sku": format!("SCARF-{k}"), "regular_price": "", "sale_price": "",
                    "tax_status": "parent", "manage_stock": false, "stock_quantity": null,
                    "backorders": "no", "date_created_gmt": gmt_text(base()),
                    "date_modified_gmt": gmt_text(base()),
                    "attributes": [{"id": 1, "name": "Size", "option": if k == 1 { "S" } else { "M" }}],
                })
            })
            .collect(),
    );
    shop
}

fn level(sku: &str, available: i64) -> InventoryLevel {
    let mut l = InventoryLevel::new(
        Sku::new(sku).unwrap(),
        LocationId::new("WEB").unwrap(),
        base(),
    );
    l.on_hand = available;
    l.available = available;
    l
}

#[tokio::test]
async fn stock_writes_pass_the_sink_suite_and_read_back() {
    let (server, shop) = serve(new_items_shop()).await;
    let woo = adapter(&server, SECRET, 100);
    let batch = vec![
        level("NEW-1", 10),
        level("NEW-2", 0),
        level("SCARF-1", 4),
        level("NEW-3", 7),
        level("SCARF-2", 9),
    ];
    let mut invalid = level("NEW-4", 3);
    invalid.available = 5; // breaks available = on_hand − unsellable
    testkit::check_sink::<InventoryLevel>(&woo, &batch, invalid)
        .await
        .unwrap();
    {
        let s = shop.lock().unwrap();
        let scarf = &s.variations[&600][0];
        assert_eq!(
            (
                scarf["manage_stock"].clone(),
                scarf["stock_quantity"].clone()
            ),
            (json!(true), json!(4))
        );
        assert_eq!(
            s.products[3]["manage_stock"],
            json!(false),
            "NEW-4 was rejected, never sent"
        );
    }
    let read: Vec<_> = Source::<InventoryLevel>::read(&woo, None)
        .try_collect()
        .await
        .unwrap();
    for want in &batch {
        let got = read.iter().find(|r| r.entity.sku == want.sku).unwrap();
        assert_eq!(
            (got.entity.on_hand, got.entity.available),
            (want.on_hand, want.available)
        );
    }
}

#[tokio::test]
async fn an_unchanged_write_sends_nothing_and_a_change_is_updated() {
    let (server, shop) = serve(new_items_shop()).await;
    let woo = adapter(&server, SECRET, 100);
    let first = woo.upsert(&[level("NEW-1", 10)]).await.unwrap();
    assert!(
        matches!(first[0].result, WriteResult::Created { ref external_id } if external_id == "501")
    );
    let calls = shop.lock().unwrap().batch_calls;
    let again = woo.upsert(&[level("NEW-1", 10)]).await.unwrap();
    assert!(matches!(again[0].result, WriteResult::Unchanged { .. }));
    assert_eq!(shop.lock().unwrap().batch_calls, calls, "nothing was sent");
    let mut oversell = level("NEW-1", 10);
    oversell.oversell_allowed = true;
    let changed = woo
        .upsert(&[level("NEW-1", 12), level("NEW-9", 1)])
        .await
        .unwrap();
    assert!(matches!(changed[0].result, WriteResult::Updated { .. }));
    let missing = changed[1].result.rejection().unwrap();
    assert_eq!(missing.kind(), &ErrorKind::NotFound);
    assert!(missing.message().contains("NEW-9"));
    let out = woo.upsert(&[oversell]).await.unwrap();
    assert!(matches!(out[0].result, WriteResult::Updated { .. }));
    assert_eq!(shop.lock().unwrap().products[0]["backorders"], json!("yes"));
    let elsewhere = InventoryLevel::new(
        Sku::new("NEW-2").unwrap(),
        LocationId::new("DC-EAST").unwrap(),
        base(),
    );
    let out = woo.upsert(&[elsewhere]).await.unwrap();
    assert!(
        out[0]
            .result
            .rejection()
            .unwrap()
            .message()
            .contains("location WEB")
    );
}

#[tokio::test]
async fn a_per_item_batch_error_is_rejected_with_its_message_and_the_rest_is_written() {
    let mut shop = new_items_shop();
    shop.faults.refuse.insert(502);
    let (server, shop) = serve(shop).await;
    let woo = adapter(&server, SECRET, 100);
    let out = woo
        .upsert(&[level("NEW-1", 1), level("NEW-2", 2), level("NEW-3", 3)])
        .await
        .unwrap();
    assert!(matches!(out[0].result, WriteResult::Created { .. }));
    let e = out[1].result.rejection().unwrap();
    assert_eq!(e.kind(), &ErrorKind::Unauthorized);
    assert!(
        e.message().contains(
            "woocommerce_rest_cannot_edit: Sorry, you are not allowed to edit this resource."
        ),
        "{e}"
    );
    assert!(matches!(out[2].result, WriteResult::Created { .. }));
    let s = shop.lock().unwrap();
    assert_eq!(s.products[0]["stock_quantity"], json!(1));
    assert_eq!(s.products[1]["stock_quantity"], Value::Null);
    assert_eq!(s.products[2]["stock_quantity"], json!(3));
}

fn priced(sku: &str, price: &str, compare_at: Option<&str>) -> Variant {
    let mut v = Variant::new(Sku::new(sku).unwrap(), "x", usd(price), base());
    v.compare_at_price = compare_at.map(usd);
    v.status = ProductStatus::Active;
    v
}

#[tokio::test]
async fn price_writes_pass_the_sink_suite_and_read_back_exactly() {
    let (server, shop) = serve(new_items_shop()).await;
    let woo = adapter(&server, SECRET, 100);
    let batch = vec![
        priced("NEW-1", "19.99", None),
        priced("SCARF-1", "24.50", Some("29.90")),
        priced("NEW-2", "0.10", None),
        priced("SCARF-2", "25.00", None),
    ];
    let mut invalid = priced("NEW-3", "5.00", None);
    invalid.price = -invalid.price;
    testkit::check_sink::<Variant>(&woo, &batch, invalid)
        .await
        .unwrap();
    {
        let s = shop.lock().unwrap();
        let scarf = &s.variations[&600][0];
        assert_eq!(scarf["regular_price"], json!("29.90"));
        assert_eq!(scarf["sale_price"], json!("24.50"));
        assert_eq!(s.products[0]["regular_price"], json!("19.99"));
        assert_eq!(s.products[0]["sale_price"], json!(""));
    }
    let read: Vec<_> = Source::<Variant>::read(&woo, None)
        .try_collect()
        .await
        .unwrap();
    for want in &batch {
        let got = &read
            .iter()
            .find(|r| r.entity.sku == want.sku)
            .unwrap()
            .entity;
        assert_eq!(
            (got.price, got.compare_at_price),
            (want.price, want.compare_at_price)
        );
    }
    // A price finer than a cent, or in another currency, is refused, not rounded.
    let fine = priced("NEW-4", "1.005", None);
    let mut euro = priced("NEW-5", "3.00", None);
    euro.price = Money::new(dec!(3.00), Currency::EUR);
    let out = woo.upsert(&[fine, euro]).await.unwrap();
    assert!(
        out[0]
            .result
            .rejection()
            .unwrap()
            .message()
            .contains("more decimals")
    );
    assert!(out[1].result.rejection().unwrap().message().contains("EUR"));
    assert_eq!(shop.lock().unwrap().products[3]["regular_price"], json!(""));
}
