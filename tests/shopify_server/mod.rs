//! A local Shopify Admin GraphQL server for the adapter's tests: it keeps a
//! shop's state, answers the adapter's named operations in Shopify's wire
//! format (connections with `nodes`/`pageInfo`, `extensions.cost`,
//! `userErrors`), and runs a real leaky bucket that refills in real time.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const TOKEN: &str = "shpat_test_token";
pub const VERSION: &str = "2026-01";

/// A variant as the shop stores it.
#[derive(Debug, Clone)]
pub struct V {
    pub id: u64,
    pub item: u64,
    pub sku: String,
    pub title: String,
    pub price: String,
    pub compare_at: Option<String>,
    pub barcode: Option<String>,
    pub options: Vec<(String, String)>,
    pub created: String,
    pub updated: String,
    pub policy: &'static str,
    pub grams: Option<String>,
}

/// A product as the shop stores it.
#[derive(Debug, Clone)]
pub struct P {
    pub id: u64,
    pub handle: String,
    pub title: String,
    pub status: &'static str,
    pub vendor: String,
    pub tags: Vec<String>,
    pub options: Vec<(String, Vec<String>)>,
    pub created: String,
    pub updated: String,
    pub variants: Vec<V>,
}

/// Quantities of one item at one location (available is computed).
#[derive(Debug, Clone, Default)]
pub struct Q {
    pub on_hand: i64,
    pub committed: i64,
    pub reserved: i64,
    pub incoming: i64,
    pub safety_stock: i64,
    pub damaged: i64,
    pub quality_control: i64,
    pub updated: String,
}

/// A location as the shop stores it.
#[derive(Debug, Clone)]
pub struct L {
    pub id: u64,
    pub name: String,
    pub active: bool,
}

/// A one-shot answer that replaces the next normal one.
#[derive(Debug, Clone)]
pub enum Scripted {
    /// HTTP 200 with a THROTTLED error.
    Throttled,
    /// HTTP 429 with this Retry-After.
    TooMany(&'static str),
    /// HTTP 200 with this body.
    Body(&'static str),
}

/// The bucket: milli-points, refilled in real time.
pub struct Bucket {
    pub max: u64,
    pub restore_per_sec: u64,
    level_m: u64,
    at: Instant,
}

impl Bucket {
    fn refill(&mut self) {
        let now = Instant::now();
        let ms = now.duration_since(self.at).as_millis() as u64;
        self.level_m = (self.level_m + ms * self.restore_per_sec).min(self.max * 1000);
        self.at = now;
    }
}

#[derive(Default)]
pub struct Stats {
    pub requests: u64,
    pub throttled: u64,
    /// Points available when each admitted query arrived.
    pub available_samples: Vec<u64>,
    pub operations: Vec<String>,
    pub mutations: u64,
}

pub struct State {
    pub products: Vec<P>,
    pub locations: Vec<L>,
    /// (item, location) → quantities.
    pub levels: BTreeMap<(u64, u64), Q>,
    pub orders: Vec<(String, u64, Value)>,
    pub customers: Vec<(String, u64, Value)>,
    pub currency: &'static str,
    pub bucket: Bucket,
    /// Requested cost of a read page (mutations cost 10).
    pub page_cost: u64,
    pub served_version: String,
    pub deprecated: Option<String>,
    pub script: VecDeque<Scripted>,
    pub stats: Stats,
    pub idempotent: HashMap<String, Value>,
    /// Polls a bulk operation answers RUNNING before COMPLETED.
    pub bulk_polls_left: u32,
    pub base_url: String,
    next_id: u64,
}

#[derive(Clone)]
pub struct Shop {
    pub state: Arc<Mutex<State>>,
}

impl Shop {
    pub fn new() -> Self {
        Shop {
            state: Arc::new(Mutex::new(State {
                products: Vec::new(),
                locations: Vec::new(),
                levels: BTreeMap::new(),
                orders: Vec::new(),
                customers: Vec::new(),
                currency: "USD",
                bucket: Bucket {
                    max: 1000,
                    restore_per_sec: 1000,
                    level_m: 1_000_000,
                    at: Instant::now(),
                },
                page_cost: 12,
                served_version: VERSION.to_string(),
                deprecated: None,
                script: VecDeque::new(),
                stats: Stats::default(),
                idempotent: HashMap::new(),
                bulk_polls_left: 2,
                base_url: String::new(),
                next_id: 900_000,
            })),
        }
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// Sets the bucket (full now).
    pub fn bucket(&self, max: u64, restore_per_sec: u64) {
        self.with(|s| {
            s.bucket = Bucket {
                max,
                restore_per_sec,
                level_m: max * 1000,
                at: Instant::now(),
            }
        });
    }

    pub async fn start(&self) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(format!("/admin/api/{VERSION}/graphql.json")))
            .respond_with(self.clone())
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/bulk/products.jsonl"))
            .respond_with(BulkFile(self.clone()))
            .mount(&server)
            .await;
        self.with(|s| s.base_url = server.uri());
        server
    }
}

/// Serves the JSONL result of a products bulk operation: each product line
/// followed by its variants' lines, which name it in `__parentId`.
struct BulkFile(Shop);

impl Respond for BulkFile {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        let s = self.0.state.lock().unwrap();
        let mut out = String::new();
        for p in &s.products {
            let mut node = product_json(p);
            let variants = node["variants"]["nodes"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            node.as_object_mut().unwrap().remove("variants");
            out.push_str(&node.to_string());
            out.push('\n');
            for mut v in variants {
                v["__parentId"] = node["id"].clone();
                out.push_str(&v.to_string());
                out.push('\n');
            }
        }
        ResponseTemplate::new(200).set_body_string(out)
    }
}

fn cost(requested: u64, actual: Option<u64>, b: &Bucket) -> Value {
    json!({
        "requestedQueryCost": requested,
        "actualQueryCost": actual,
        "throttleStatus": {
            "maximumAvailable": format!("{}.0", b.max).parse::<serde_json::Number>().unwrap(),
            "currentlyAvailable": b.level_m / 1000,
            "restoreRate": format!("{}.0", b.restore_per_sec).parse::<serde_json::Number>().unwrap(),
        }
    })
}

impl Respond for Shop {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.state.lock().unwrap();
        s.stats.requests += 1;
        let headers = |t: ResponseTemplate, s: &State| {
            let mut t = t.insert_header("X-Shopify-API-Version", s.served_version.as_str());
            if let Some(d) = &s.deprecated {
                t = t.insert_header("X-Shopify-API-Deprecated-Reason", d.as_str());
            }
            t
        };
        if req
            .headers
            .get("x-shopify-access-token")
            .and_then(|v| v.to_str().ok())
            != Some(TOKEN)
        {
            return ResponseTemplate::new(401).set_body_json(json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}));
        }
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(b) => b,
            Err(_) => return ResponseTemplate::new(400).set_body_string("bad json"),
        };
        let op = body["operationName"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        s.stats.operations.push(op.clone());
        let vars = body["variables"].clone();
        let mutation = body["query"]
            .as_str()
            .unwrap_or_default()
            .starts_with("mutation");
        let requested = if mutation { 10 } else { s.page_cost };
        s.bucket.refill();
        match s.script.pop_front() {
            Some(Scripted::Throttled) => {
                // Another client of the same app drained the bucket.
                s.stats.throttled += 1;
                s.bucket.level_m = 0;
                let c = cost(requested, None, &s.bucket);
                return headers(
                    ResponseTemplate::new(200).set_body_json(json!({
                        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                        "extensions": {"cost": c}
                    })),
                    &s,
                );
            }
            Some(Scripted::TooMany(after)) => {
                s.stats.throttled += 1;
                return headers(
                    ResponseTemplate::new(429)
                        .insert_header("Retry-After", after)
                        .set_body_json(json!({"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."})),
                    &s,
                );
            }
            Some(Scripted::Body(b)) => {
                return headers(ResponseTemplate::new(200).set_body_string(b), &s);
            }
            None => {}
        }
        if s.bucket.level_m < requested * 1000 {
            s.stats.throttled += 1;
            let c = cost(requested, None, &s.bucket);
            return headers(
                ResponseTemplate::new(200).set_body_json(json!({
                    "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                    "extensions": {"cost": c}
                })),
                &s,
            );
        }
        let sample = s.bucket.level_m / 1000;
        s.stats.available_samples.push(sample);
        s.bucket.level_m -= requested * 1000;
        if mutation {
            s.stats.mutations += 1;
        }
        let data = match answer(&mut s, &op, &vars) {
            Ok(d) => d,
            Err(message) => {
                return headers(
                    ResponseTemplate::new(200).set_body_json(json!({
                        "errors": [{"message": message, "locations": [{"line": 1, "column": 1}]}],
                        "extensions": {"cost": cost(requested, Some(requested), &s.bucket)}
                    })),
                    &s,
                );
            }
        };
        let c = cost(requested, Some(requested), &s.bucket);
        headers(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": data, "extensions": {"cost": c}})),
            &s,
        )
    }
}

fn page(items: Vec<Value>, vars: &Value) -> Value {
    let first = vars["first"].as_u64().unwrap_or(50) as usize;
    let start = vars["after"]
        .as_str()
        .map(|a| a.trim_start_matches("cur:").parse::<usize>().unwrap() + 1)
        .unwrap_or(0);
    let slice: Vec<Value> = items.iter().skip(start).take(first).cloned().collect();
    let end = start + slice.len();
    let more = end < items.len();
    json!({
        "nodes": slice,
        "pageInfo": {
            "hasNextPage": more,
            "endCursor": if slice.is_empty() { Value::Null } else { json!(format!("cur:{}", end - 1)) },
        }
    })
}

/// `updated_at:>='…'` as an RFC 3339 lower bound.
fn since(vars: &Value) -> Option<String> {
    let q = vars["query"].as_str()?;
    let t = q.strip_prefix("updated_at:>='")?.strip_suffix('\'')?;
    Some(t.to_string())
}

fn after_since(updated: &str, bound: &Option<String>) -> bool {
    match bound {
        None => true,
        Some(b) => {
            let u = chrono::DateTime::parse_from_rfc3339(updated).unwrap();
            let b = chrono::DateTime::parse_from_rfc3339(b).unwrap();
            u >= b
        }
    }
}

fn sorted_by_update(mut items: Vec<(String, u64, Value)>, bound: &Option<String>) -> Vec<Value> {
    items.retain(|(u, _, _)| after_since(u, bound));
    items.sort_by(|a, b| {
        let ta = chrono::DateTime::parse_from_rfc3339(&a.0).unwrap();
        let tb = chrono::DateTime::parse_from_rfc3339(&b.0).unwrap();
        (ta, a.1).cmp(&(tb, b.1))
    });
    items.into_iter().map(|(_, _, v)| v).collect()
}

pub fn product_json(p: &P) -> Value {
    json!({
        "id": format!("gid://shopify/Product/{}", p.id),
        "handle": p.handle, "title": p.title, "descriptionHtml": "", "vendor": p.vendor,
        "productType": "", "status": p.status, "tags": p.tags,
        "createdAt": p.created, "updatedAt": p.updated,
        "options": p.options.iter().map(|(n, vs)| json!({"name": n, "optionValues": vs.iter().map(|v| json!({"name": v})).collect::<Vec<_>>()})).collect::<Vec<_>>(),
        "variants": {"nodes": p.variants.iter().map(|v| json!({
            "id": format!("gid://shopify/ProductVariant/{}", v.id),
            "sku": v.sku, "title": v.title, "price": v.price, "compareAtPrice": v.compare_at,
            "barcode": v.barcode, "taxable": true, "createdAt": v.created, "updatedAt": v.updated,
            "selectedOptions": v.options.iter().map(|(n, x)| json!({"name": n, "value": x})).collect::<Vec<_>>(),
            "inventoryItem": {"measurement": {"weight": v.grams.as_ref().map(|g| json!({"unit": "GRAMS", "value": g.parse::<serde_json::Number>().unwrap()}))}},
        })).collect::<Vec<_>>()},
    })
}

fn level_json(s: &State, item: u64, loc: u64, q: &Q) -> Value {
    let (sku, policy) = s
        .products
        .iter()
        .flat_map(|p| &p.variants)
        .find(|v| v.item == item)
        .map(|v| (v.sku.clone(), v.policy))
        .unwrap_or_default();
    let available =
        q.on_hand - q.committed - q.reserved - q.safety_stock - q.damaged - q.quality_control;
    json!({
        "id": format!("gid://shopify/InventoryLevel/{item}?inventory_item_id={item}&location_id={loc}"),
        "updatedAt": q.updated,
        "item": {"sku": sku, "variant": {"inventoryPolicy": policy}},
        "quantities": [
            {"name": "available", "quantity": available},
            {"name": "on_hand", "quantity": q.on_hand},
            {"name": "committed", "quantity": q.committed},
            {"name": "reserved", "quantity": q.reserved},
            {"name": "incoming", "quantity": q.incoming},
            {"name": "safety_stock", "quantity": q.safety_stock},
            {"name": "damaged", "quantity": q.damaged},
            {"name": "quality_control", "quantity": q.quality_control},
        ]
    })
}

fn gid_num(v: &Value) -> u64 {
    v.as_str()
        .and_then(|s| s.rsplit('/').next())
        .and_then(|n| n.split('?').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn answer(s: &mut State, op: &str, vars: &Value) -> Result<Value, String> {
    match op {
        "ShopCurrency" => Ok(json!({"shop": {"currencyCode": s.currency}})),
        "Products" => {
            let bound = since(vars);
            let items = s
                .products
                .iter()
                .map(|p| (p.updated.clone(), p.id, product_json(p)))
                .collect();
            Ok(json!({"products": page(sorted_by_update(items, &bound), vars)}))
        }
        "Orders" => {
            let bound = since(vars);
            Ok(json!({"orders": page(sorted_by_update(s.orders.clone(), &bound), vars)}))
        }
        "Customers" => {
            let bound = since(vars);
            Ok(json!({"customers": page(sorted_by_update(s.customers.clone(), &bound), vars)}))
        }
        "Locations" => {
            let mut locs = s.locations.clone();
            locs.sort_by_key(|l| l.id);
            let items = locs
                .iter()
                .map(|l| json!({"id": format!("gid://shopify/Location/{}", l.id), "name": l.name, "isActive": l.active, "fulfillmentService": null,
                    "address": {"address1": "1 Dock Rd", "address2": null, "city": "Reno", "provinceCode": "NV", "zip": "89501", "countryCode": "US", "phone": null}}))
                .collect();
            Ok(json!({"locations": page(items, vars)}))
        }
        "InventoryLevels" => {
            let loc = gid_num(&vars["location"]);
            if !s.locations.iter().any(|l| l.id == loc) {
                return Ok(json!({"location": null}));
            }
            let items = s
                .levels
                .iter()
                .filter(|((_, l), _)| *l == loc)
                .map(|((item, l), q)| level_json(s, *item, *l, q))
                .collect();
            Ok(json!({"location": {"inventoryLevels": page(items, vars)}}))
        }
        "VariantsBySku" => {
            let q = vars["query"].as_str().unwrap_or_default();
            let wanted: Vec<String> = q
                .split(" OR ")
                .filter_map(|p| p.strip_prefix("sku:"))
                .map(|p| p.trim_matches('"').to_string())
                .collect();
            let mut nodes = Vec::new();
            for p in &s.products {
                for v in &p.variants {
                    if wanted.contains(&v.sku) {
                        let levels: Vec<Value> = s
                            .levels
                            .iter()
                            .filter(|((i, _), _)| *i == v.item)
                            .map(|((_, l), q)| json!({"location": {"id": format!("gid://shopify/Location/{l}")}, "quantities": [{"name": "on_hand", "quantity": q.on_hand}]}))
                            .collect();
                        nodes.push(json!({
                            "id": format!("gid://shopify/ProductVariant/{}", v.id),
                            "sku": v.sku, "price": v.price, "compareAtPrice": v.compare_at,
                            "product": {"id": format!("gid://shopify/Product/{}", p.id), "handle": p.handle},
                            "inventoryItem": {"id": format!("gid://shopify/InventoryItem/{}", v.item), "inventoryLevels": {"nodes": levels}},
                        }));
                    }
                }
            }
            Ok(json!({"productVariants": {"nodes": nodes}}))
        }
        "ProductByHandle" => {
            let h = vars["query"].as_str().unwrap_or_default();
            let h = h.trim_start_matches("handle:").trim_matches('"');
            let nodes: Vec<Value> = s
                .products
                .iter()
                .filter(|p| p.handle == h)
                .map(|p| json!({"id": format!("gid://shopify/Product/{}", p.id), "handle": p.handle}))
                .collect();
            Ok(json!({"products": {"nodes": nodes}}))
        }
        "SetQuantities" => {
            let key = vars["key"].as_str().unwrap_or_default().to_string();
            if let Some(prev) = s.idempotent.get(&key) {
                return Ok(prev.clone());
            }
            let input = &vars["input"];
            if input["name"] != "on_hand" && input["name"] != "available" {
                return Err("Variable $input of type InventorySetQuantitiesInput! was provided invalid value for name".into());
            }
            let qs = input["quantities"].as_array().cloned().unwrap_or_default();
            let mut errors = Vec::new();
            for (i, q) in qs.iter().enumerate() {
                let k = (gid_num(&q["inventoryItemId"]), gid_num(&q["locationId"]));
                match s.levels.get(&k) {
                    None => errors.push(json!({"field": ["input", "quantities", i.to_string(), "locationId"], "message": "The specified inventory item is not stocked at the location.", "code": "ITEM_NOT_STOCKED_AT_LOCATION"})),
                    Some(level) if Some(level.on_hand) != q["compareQuantity"].as_i64() => errors.push(json!({"field": ["input", "quantities", i.to_string(), "compareQuantity"], "message": "The compareQuantity argument no longer matches the persisted quantity.", "code": "COMPARE_QUANTITY_STALE"})),
                    Some(_) if q["quantity"].as_i64().unwrap_or(0) > 1_000_000_000 => errors.push(json!({"field": ["input", "quantities", i.to_string(), "quantity"], "message": "The quantity can't be higher than 1,000,000,000.", "code": "INVALID_QUANTITY_TOO_HIGH"})),
                    Some(_) => {}
                }
            }
            if errors.is_empty() {
                let t = now();
                for q in &qs {
                    let k = (gid_num(&q["inventoryItemId"]), gid_num(&q["locationId"]));
                    let level = s.levels.get_mut(&k).unwrap();
                    level.on_hand = q["quantity"].as_i64().unwrap();
                    level.updated = t.clone();
                }
            }
            let out = json!({"inventorySetQuantities": {"userErrors": errors}});
            s.idempotent.insert(key, out.clone());
            Ok(out)
        }
        "Activate" => {
            let k = (gid_num(&vars["item"]), gid_num(&vars["location"]));
            if !s.locations.iter().any(|l| l.id == k.1) {
                return Ok(
                    json!({"inventoryActivate": {"inventoryLevel": null, "userErrors": [{"field": ["locationId"], "message": "Location not found"}]}}),
                );
            }
            let q = Q {
                on_hand: vars["onHand"].as_i64().unwrap_or(0),
                updated: now(),
                ..Q::default()
            };
            s.levels.entry(k).or_insert(q);
            Ok(
                json!({"inventoryActivate": {"inventoryLevel": {"id": format!("gid://shopify/InventoryLevel/{}", k.0)}, "userErrors": []}}),
            )
        }
        "UpdatePrices" => {
            let pid = gid_num(&vars["product"]);
            let inputs = vars["variants"].as_array().cloned().unwrap_or_default();
            let mut errors = Vec::new();
            for (i, v) in inputs.iter().enumerate() {
                let price: rust_decimal::Decimal =
                    v["price"].as_str().unwrap_or("0").parse().unwrap();
                if price > rust_decimal::Decimal::from(1_000_000) {
                    errors.push(json!({"field": ["variants", i.to_string(), "price"], "message": "Price must be less than 1000000"}));
                }
            }
            let Some(p) = s.products.iter_mut().find(|p| p.id == pid) else {
                return Ok(
                    json!({"productVariantsBulkUpdate": {"productVariants": null, "userErrors": [{"field": ["productId"], "message": "Product does not exist"}]}}),
                );
            };
            if errors.is_empty() {
                let t = now();
                for v in &inputs {
                    let id = gid_num(&v["id"]);
                    if let Some(var) = p.variants.iter_mut().find(|x| x.id == id) {
                        var.price = v["price"].as_str().unwrap().to_string();
                        var.compare_at = v["compareAtPrice"].as_str().map(str::to_string);
                        var.updated = t.clone();
                    }
                }
                p.updated = t;
            }
            Ok(json!({"productVariantsBulkUpdate": {"productVariants": [], "userErrors": errors}}))
        }
        "CreateVariants" => {
            let pid = gid_num(&vars["product"]);
            let inputs = vars["variants"].as_array().cloned().unwrap_or_default();
            let t = now();
            let mut created = Vec::new();
            let mut next = s.next_id;
            let Some(p) = s.products.iter_mut().find(|p| p.id == pid) else {
                return Ok(
                    json!({"productVariantsBulkCreate": {"productVariants": null, "userErrors": [{"field": ["productId"], "message": "Product does not exist"}]}}),
                );
            };
            for v in &inputs {
                next += 1;
                let sku = v["inventoryItem"]["sku"].as_str().unwrap().to_string();
                p.variants.push(V {
                    id: next,
                    item: next + 500_000,
                    sku: sku.clone(),
                    title: String::new(),
                    price: v["price"].as_str().unwrap().to_string(),
                    compare_at: v["compareAtPrice"].as_str().map(str::to_string),
                    barcode: None,
                    options: v["optionValues"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .iter()
                        .map(|o| {
                            (
                                o["optionName"].as_str().unwrap().to_string(),
                                o["name"].as_str().unwrap().to_string(),
                            )
                        })
                        .collect(),
                    created: t.clone(),
                    updated: t.clone(),
                    policy: "DENY",
                    grams: None,
                });
                created.push(
                    json!({"id": format!("gid://shopify/ProductVariant/{next}"), "sku": sku}),
                );
            }
            p.updated = t;
            s.next_id = next;
            Ok(json!({"productVariantsBulkCreate": {"productVariants": created, "userErrors": []}}))
        }
        "ProductsCount" => {
            Ok(json!({"productsCount": {"count": s.products.len(), "precision": "EXACT"}}))
        }
        "BulkProducts" => Ok(
            json!({"bulkOperationRunQuery": {"bulkOperation": {"id": "gid://shopify/BulkOperation/1", "status": "CREATED"}, "userErrors": []}}),
        ),
        "BulkStatus" => {
            if s.bulk_polls_left > 0 {
                s.bulk_polls_left -= 1;
                return Ok(
                    json!({"node": {"id": vars["id"], "status": "RUNNING", "errorCode": null, "objectCount": "0", "url": null}}),
                );
            }
            let count = s
                .products
                .iter()
                .map(|p| 1 + p.variants.len())
                .sum::<usize>();
            Ok(
                json!({"node": {"id": vars["id"], "status": "COMPLETED", "errorCode": null, "objectCount": count.to_string(),
                "url": format!("{}/bulk/products.jsonl", s.base_url)}}),
            )
        }
        "CustomerById" => {
            let id = vars["id"].as_str().unwrap_or_default();
            let found = s
                .customers
                .iter()
                .find(|(_, _, c)| c["id"] == id)
                .map(|(_, _, c)| c.clone());
            Ok(json!({"customer": found}))
        }
        "CustomerByEmail" => {
            let q = vars["query"].as_str().unwrap_or_default();
            let email = q.trim_start_matches("email:").trim_matches('"');
            let found: Vec<Value> = s
                .customers
                .iter()
                .filter(|(_, _, c)| c["defaultEmailAddress"]["emailAddress"] == email)
                .map(|(_, _, c)| c.clone())
                .collect();
            Ok(json!({"customers": {"nodes": found}}))
        }
        "CustomerCreate" | "CustomerUpdate" => {
            let input = &vars["input"];
            let field = if op == "CustomerCreate" {
                "customerCreate"
            } else {
                "customerUpdate"
            };
            if let Some(phone) = input["phone"].as_str()
                && !phone.starts_with('+')
            {
                return Ok(
                    json!({field: {"customer": null, "userErrors": [{"field": ["phone"], "message": "Phone is invalid"}]}}),
                );
            }
            let t = now();
            let id = match input["id"].as_str() {
                Some(id) => id.to_string(),
                None => {
                    s.next_id += 1;
                    let gid = format!("gid://shopify/Customer/{}", s.next_id);
                    let n = s.next_id;
                    s.customers.push((t.clone(), n, json!({"id": gid, "createdAt": t, "tags": [], "addressesV2": {"nodes": []}})));
                    gid
                }
            };
            let Some(entry) = s
                .customers
                .iter_mut()
                .find(|(_, _, c)| c["id"] == id.as_str())
            else {
                return Ok(
                    json!({field: {"customer": null, "userErrors": [{"field": ["id"], "message": "Customer does not exist"}]}}),
                );
            };
            entry.0 = t.clone();
            let c = &mut entry.2;
            c["firstName"] = input["firstName"].clone();
            c["lastName"] = input["lastName"].clone();
            c["tags"] = input["tags"].clone();
            c["updatedAt"] = json!(t);
            c["defaultEmailAddress"] = if input["email"].is_null() {
                Value::Null
            } else {
                json!({"emailAddress": input["email"], "marketingState": "NOT_SUBSCRIBED", "marketingUpdatedAt": null})
            };
            c["defaultPhoneNumber"] = if input["phone"].is_null() {
                Value::Null
            } else {
                json!({"phoneNumber": input["phone"], "marketingState": "NOT_SUBSCRIBED"})
            };
            Ok(json!({field: {"customer": {"id": id}, "userErrors": []}}))
        }
        other => Err(format!("Field '{other}' doesn't exist on type 'QueryRoot'")),
    }
}
