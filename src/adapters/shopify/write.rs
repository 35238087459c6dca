//! Writes: inventory `on_hand` and variant prices, compared with what the
//! shop has first so an equal record is `Unchanged` without a mutation.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Inner;
use super::json::Node;
use super::read::all_locations;
use crate::connector::{Entity, WriteOutcome, WriteResult};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{InventoryLevel, LocationId, Variant};

/// Largest batch a sink call takes (Shopify's search `OR` list and mutation inputs stay small).
pub(crate) const MAX_BATCH: usize = 50;

const VARIANTS_BY_SKU: &str = "query VariantsBySku($first: Int!, $query: String!) {
  productVariants(first: $first, query: $query) {
    pageInfo { hasNextPage }
    nodes {
      id sku price compareAtPrice
      product { id handle }
      inventoryItem {
        id
        inventoryLevels(first: 250) {
          nodes { location { id } quantities(names: [\"on_hand\"]) { name quantity } }
          pageInfo { hasNextPage }
        }
      }
    }
  }
}";

const PRODUCT_BY_HANDLE: &str = "query ProductByHandle($query: String!) {
  products(first: 1, query: $query) { nodes { id handle } }
}";

const SET_QUANTITIES: &str =
    "mutation SetQuantities($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    userErrors { field message code }
  }
}";

const ACTIVATE: &str = "mutation Activate($item: ID!, $location: ID!, $onHand: Int, $key: String!) {
  inventoryActivate(inventoryItemId: $item, locationId: $location, onHand: $onHand) @idempotent(key: $key) {
    inventoryLevel { id }
    userErrors { field message }
  }
}";

const UPDATE_PRICES: &str =
    "mutation UpdatePrices($product: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $product, variants: $variants) {
    productVariants { id }
    userErrors { field message }
  }
}";

const CREATE_VARIANTS: &str =
    "mutation CreateVariants($product: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkCreate(productId: $product, variants: $variants) {
    productVariants { id sku }
    userErrors { field message }
  }
}";

/// A variant as the shop has it.
struct Existing {
    id: String,
    product: String,
    price: rust_decimal::Decimal,
    compare_at: Option<rust_decimal::Decimal>,
    item: String,
    /// on_hand by location gid.
    on_hand: HashMap<String, i64>,
}

pub(super) fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The shop's variants for `skus`. A SKU that Shopify holds on more than
/// one variant cannot be written safely (which one?): it is left out and
/// named in the second map, so its record is rejected instead of one of
/// the variants being picked, or a duplicate created.
async fn variants_by_sku(
    inner: &Inner,
    skus: &[&str],
) -> Result<(HashMap<String, Existing>, HashMap<String, usize>)> {
    let mut out = HashMap::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    if skus.is_empty() {
        return Ok((out, seen));
    }
    let query = skus
        .iter()
        .map(|s| format!("sku:{}", quote(s)))
        .collect::<Vec<_>>()
        .join(" OR ");
    let data = inner
        .client
        .execute(
            "VariantsBySku",
            VARIANTS_BY_SKU,
            // Room for SKUs held by several variants; more than a page is
            // an error (`nodes` checks `pageInfo`), never a silent cut.
            json!({"first": 250, "query": query}),
        )
        .await?;
    let root = Node::root(&data, "data");
    for v in root.nodes("productVariants")? {
        let Some(sku) = v.opt_str("sku")? else {
            continue;
        };
        // Shopify's search matches loosely: only exact SKUs of the batch count.
        if !skus.contains(&sku) {
            continue;
        }
        *seen.entry(sku.to_string()).or_insert(0) += 1;
        let item = v.obj("inventoryItem")?;
        let mut on_hand = HashMap::new();
        for level in item.nodes("inventoryLevels")? {
            let loc = level.obj("location")?.str("id")?.to_string();
            for q in level.list("quantities")? {
                if q.str("name")? == "on_hand" {
                    on_hand.insert(loc.clone(), q.i64("quantity")?);
                }
            }
        }
        out.insert(
            sku.to_string(),
            Existing {
                id: v.str("id")?.to_string(),
                product: v.obj("product")?.str("id")?.to_string(),
                price: v.decimal("price")?,
                compare_at: v.opt_decimal("compareAtPrice")?,
                item: item.str("id")?.to_string(),
                on_hand,
            },
        );
    }
    seen.retain(|_, n| *n > 1);
    for sku in seen.keys() {
        out.remove(sku);
    }
    Ok((out, seen))
}

/// The rejection for a SKU several Shopify variants share.
fn ambiguous(sku: &str, count: usize, key: &str) -> WriteResult {
    rejected(
        ErrorKind::InvalidData,
        format!("{count} Shopify variants have SKU {sku}; make it unique before syncing it"),
        key,
    )
}

/// Codes of a mutation payload's `userErrors`, in order.
fn user_error_codes(payload: &Node<'_>) -> Result<Vec<Option<String>>> {
    payload
        .list("userErrors")?
        .iter()
        .map(|e| Ok(e.opt_str("code")?.map(str::to_string)))
        .collect()
}

/// A refusal that retrying can fix: the quantity moved since it was read
/// (compare-and-set), or the same key is still in flight.
fn retryable_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "COMPARE_QUANTITY_STALE"
                | "CHANGE_FROM_QUANTITY_STALE"
                | "IDEMPOTENCY_CONCURRENT_REQUEST"
        )
    )
}

/// `userErrors` of a mutation payload: (input index when the field names one, message).
pub(super) fn user_errors(
    payload: &Node<'_>,
    list_field: &str,
) -> Result<Vec<(Option<usize>, String)>> {
    payload
        .list("userErrors")?
        .iter()
        .map(|e| {
            let field = e.strings("field")?;
            let index = field
                .iter()
                .position(|f| f == list_field)
                .and_then(|p| field.get(p + 1))
                .and_then(|i| i.parse::<usize>().ok());
            let mut message = e.str("message")?.to_string();
            if !field.is_empty() {
                message = format!("{message} (field {})", field.join("."));
            }
            Ok((index, message))
        })
        .collect()
}

pub(super) fn rejected(kind: ErrorKind, message: String, key: &str) -> WriteResult {
    WriteResult::rejected(
        Error::new(kind, message)
            .with_system("shopify")
            .with_key(key),
    )
}

fn idempotency_key(input: &Value) -> String {
    hex::encode(Sha256::digest(input.to_string().as_bytes()))
}

/// Upserts inventory levels' `on_hand` (see the module docs for the rules).
pub(crate) async fn inventory(
    inner: &Inner,
    batch: &[InventoryLevel],
) -> Result<Vec<WriteOutcome>> {
    if batch.len() > MAX_BATCH {
        return Err(Error::invalid_data(format!(
            "a Shopify inventory batch takes at most {MAX_BATCH} levels, got {}",
            batch.len()
        )));
    }
    let mut results: Vec<Option<WriteResult>> = vec![None; batch.len()];
    for (i, level) in batch.iter().enumerate() {
        if let Err(e) = level.validate() {
            results[i] = Some(rejected(
                ErrorKind::InvalidData,
                e.to_string(),
                &level.key_text(),
            ));
        }
    }
    let locations: HashMap<LocationId, String> = all_locations(inner)
        .await?
        .into_iter()
        .map(|(gid, l)| (l.id, gid))
        .collect();
    let skus: Vec<&str> = batch.iter().map(|l| l.sku.as_str()).collect();
    let (existing, shared) = variants_by_sku(inner, &skus).await?;
    // (batch index, item, location, compare quantity, quantity) to set.
    let mut sets = Vec::new();
    for (i, level) in batch.iter().enumerate() {
        if results[i].is_some() {
            continue;
        }
        let key = level.key_text();
        if let Some(&n) = shared.get(level.sku.as_str()) {
            results[i] = Some(ambiguous(level.sku.as_str(), n, &key));
            continue;
        }
        let Some(v) = existing.get(level.sku.as_str()) else {
            results[i] = Some(rejected(
                ErrorKind::NotFound,
                format!("no Shopify variant has SKU {}", level.sku),
                &key,
            ));
            continue;
        };
        let Some(loc) = locations.get(&level.location) else {
            results[i] = Some(rejected(
                ErrorKind::NotFound,
                format!("no Shopify location is {}", level.location),
                &key,
            ));
            continue;
        };
        match v.on_hand.get(loc) {
            Some(&now) if now == level.on_hand => {
                results[i] = Some(WriteResult::Unchanged {
                    external_id: v.item.clone(),
                });
            }
            Some(&now) => sets.push((i, v.item.clone(), loc.clone(), now, level.on_hand)),
            None => {
                results[i] = Some(activate(inner, &v.item, loc, level).await?);
            }
        }
    }
    while !sets.is_empty() {
        let quantities: Vec<Value> = sets
            .iter()
            .map(|(_, item, loc, before, after)| {
                json!({"inventoryItemId": item, "locationId": loc, "quantity": after, "compareQuantity": before})
            })
            .collect();
        let input = json!({"name": "on_hand", "reason": "correction", "quantities": quantities});
        // The same input can be a new change (5 → 7, a sale, 5 → 7 again):
        // the levels' own change times keep those keys apart, while a retry
        // of this very write reuses its key.
        let stamps: Vec<String> = sets
            .iter()
            .map(|(i, ..)| batch[*i].updated_at.to_rfc3339())
            .collect();
        let key = idempotency_key(&json!([input, stamps]));
        let data = inner
            .client
            .execute(
                "SetQuantities",
                SET_QUANTITIES,
                json!({"input": input, "key": key}),
            )
            .await?;
        let payload = Node::root(&data, "data").obj("inventorySetQuantities")?;
        let errors = user_errors(&payload, "quantities")?;
        let codes = user_error_codes(&payload)?;
        if errors.is_empty() {
            for (i, item, ..) in sets.drain(..) {
                results[i] = Some(WriteResult::Updated { external_id: item });
            }
            break;
        }
        // The mutation is all-or-nothing: reject the named inputs, resend the rest.
        let mut named = false;
        for ((index, message), code) in errors.iter().zip(&codes) {
            if let Some(&(i, ..)) = index.and_then(|x| sets.get(x)) {
                named = true;
                let kind = if retryable_code(code.as_deref()) {
                    ErrorKind::Conflict
                } else {
                    ErrorKind::InvalidData
                };
                results[i] = Some(rejected(
                    kind,
                    format!("Shopify refused the quantity: {message}"),
                    &batch[i].key_text(),
                ));
            }
        }
        if !named {
            let message = errors
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            for (i, ..) in sets.drain(..) {
                results[i] = Some(rejected(
                    ErrorKind::InvalidData,
                    format!("Shopify refused the quantities: {message}"),
                    &batch[i].key_text(),
                ));
            }
            break;
        }
        sets.retain(|(i, ..)| results[*i].is_none());
    }
    Ok(finish(batch, results))
}

async fn activate(
    inner: &Inner,
    item: &str,
    location: &str,
    level: &InventoryLevel,
) -> Result<WriteResult> {
    let data = inner
        .client
        .execute(
            "Activate",
            ACTIVATE,
            json!({
                "item": item,
                "location": location,
                "onHand": level.on_hand,
                "key": idempotency_key(&json!([
                    "activate",
                    item,
                    location,
                    level.on_hand,
                    level.updated_at.to_rfc3339()
                ])),
            }),
        )
        .await?;
    let payload = Node::root(&data, "data").obj("inventoryActivate")?;
    let errors = user_errors(&payload, "")?;
    if let Some((_, message)) = errors.first() {
        return Ok(rejected(
            ErrorKind::InvalidData,
            format!("Shopify refused to stock the item here: {message}"),
            &level.key_text(),
        ));
    }
    Ok(WriteResult::Created {
        external_id: item.to_string(),
    })
}

fn finish<E: Entity>(batch: &[E], results: Vec<Option<WriteResult>>) -> Vec<WriteOutcome> {
    batch
        .iter()
        .zip(results)
        .map(|(e, r)| {
            let r = r.unwrap_or_else(|| {
                WriteResult::rejected(Error::new(
                    ErrorKind::Unexpected,
                    "no outcome was recorded for this record",
                ))
            });
            WriteOutcome::new(e.key(), r)
        })
        .collect()
}

fn price_input(v: &Variant) -> Value {
    json!({
        "price": v.price.amount().to_string(),
        "compareAtPrice": v.compare_at_price.map(|m| m.amount().to_string()),
    })
}

/// Upserts variant prices: existing SKUs get `price`/`compareAtPrice`
/// updated when they differ; new SKUs are created under their product handle.
pub(crate) async fn variants(inner: &Inner, batch: &[Variant]) -> Result<Vec<WriteOutcome>> {
    if batch.len() > MAX_BATCH {
        return Err(Error::invalid_data(format!(
            "a Shopify variant batch takes at most {MAX_BATCH} variants, got {}",
            batch.len()
        )));
    }
    let currency = inner.currency();
    let mut results: Vec<Option<WriteResult>> = vec![None; batch.len()];
    for (i, v) in batch.iter().enumerate() {
        if let Err(e) = v.validate() {
            results[i] = Some(rejected(
                ErrorKind::InvalidData,
                e.to_string(),
                v.sku.as_str(),
            ));
        } else if v.price.currency() != currency {
            results[i] = Some(rejected(
                ErrorKind::InvalidData,
                format!(
                    "price is in {} but the shop sells in {}",
                    v.price.currency().code(),
                    currency.code()
                ),
                v.sku.as_str(),
            ));
        }
    }
    let skus: Vec<&str> = batch.iter().map(|v| v.sku.as_str()).collect();
    let (existing, shared) = variants_by_sku(inner, &skus).await?;
    // product gid → [(batch index, input)]
    let mut updates: BTreeMap<String, Vec<(usize, Value)>> = BTreeMap::new();
    let mut creates: BTreeMap<String, Vec<(usize, Value)>> = BTreeMap::new();
    for (i, v) in batch.iter().enumerate() {
        if results[i].is_some() {
            continue;
        }
        if let Some(&n) = shared.get(v.sku.as_str()) {
            results[i] = Some(ambiguous(v.sku.as_str(), n, v.sku.as_str()));
            continue;
        }
        match existing.get(v.sku.as_str()) {
            Some(e) => {
                let same = e.price == v.price.amount()
                    && e.compare_at == v.compare_at_price.map(|m| m.amount());
                if same {
                    results[i] = Some(WriteResult::Unchanged {
                        external_id: e.id.clone(),
                    });
                } else {
                    let mut input = price_input(v);
                    input["id"] = json!(e.id);
                    updates
                        .entry(e.product.clone())
                        .or_default()
                        .push((i, input));
                }
            }
            None => {
                let data = inner
                    .client
                    .execute(
                        "ProductByHandle",
                        PRODUCT_BY_HANDLE,
                        json!({"query": format!("handle:{}", quote(&v.product_handle))}),
                    )
                    .await?;
                let found = Node::root(&data, "data").nodes("products")?;
                let Some(product) = found.first() else {
                    results[i] = Some(rejected(
                        ErrorKind::NotFound,
                        format!(
                            "SKU {} is new and no Shopify product has handle {:?} to add it to",
                            v.sku, v.product_handle
                        ),
                        v.sku.as_str(),
                    ));
                    continue;
                };
                let mut input = price_input(v);
                input["inventoryItem"] = json!({"sku": v.sku.as_str()});
                input["optionValues"] = v
                    .options
                    .iter()
                    .map(|(name, value)| json!({"optionName": name, "name": value}))
                    .collect();
                creates
                    .entry(product.str("id")?.to_string())
                    .or_default()
                    .push((i, input));
            }
        }
    }
    for (product, items) in updates {
        let data = inner
            .client
            .execute(
                "UpdatePrices",
                UPDATE_PRICES,
                json!({"product": product, "variants": items.iter().map(|(_, v)| v).collect::<Vec<_>>()}),
            )
            .await?;
        let payload = Node::root(&data, "data").obj("productVariantsBulkUpdate")?;
        apply_variant_errors(
            batch,
            &mut results,
            &items,
            &user_errors(&payload, "variants")?,
            |v| WriteResult::Updated {
                external_id: v["id"].as_str().unwrap_or_default().to_string(),
            },
        );
    }
    for (product, items) in creates {
        let data = inner
            .client
            .execute(
                "CreateVariants",
                CREATE_VARIANTS,
                json!({"product": product, "variants": items.iter().map(|(_, v)| v).collect::<Vec<_>>()}),
            )
            .await?;
        let payload = Node::root(&data, "data").obj("productVariantsBulkCreate")?;
        let errors = user_errors(&payload, "variants")?;
        let mut ids: HashMap<String, String> = HashMap::new();
        for v in payload.list("productVariants").unwrap_or_default() {
            if let (Ok(Some(sku)), Ok(id)) = (v.opt_str("sku"), v.str("id")) {
                ids.insert(sku.to_string(), id.to_string());
            }
        }
        apply_variant_errors(batch, &mut results, &items, &errors, |input| {
            let sku = input["inventoryItem"]["sku"].as_str().unwrap_or_default();
            WriteResult::Created {
                external_id: ids.get(sku).cloned().unwrap_or_default(),
            }
        });
    }
    Ok(finish(batch, results))
}

/// Bulk variant mutations are all-or-nothing: with errors, the named inputs
/// are rejected with Shopify's message and the others are rejected as not
/// written (the engine retries them in the next batch).
fn apply_variant_errors(
    batch: &[Variant],
    results: &mut [Option<WriteResult>],
    items: &[(usize, Value)],
    errors: &[(Option<usize>, String)],
    ok: impl Fn(&Value) -> WriteResult,
) {
    if errors.is_empty() {
        for (i, input) in items {
            results[*i] = Some(ok(input));
        }
        return;
    }
    let all = errors
        .iter()
        .map(|(_, m)| m.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    for (n, (i, _)) in items.iter().enumerate() {
        let own: Vec<&str> = errors
            .iter()
            .filter(|(x, _)| *x == Some(n))
            .map(|(_, m)| m.as_str())
            .collect();
        let (kind, message) = if own.is_empty() {
            (
                ErrorKind::Conflict,
                format!("not written: Shopify refused another variant of the same product ({all})"),
            )
        } else {
            (
                ErrorKind::InvalidData,
                format!("Shopify refused the variant: {}", own.join("; ")),
            )
        };
        results[*i] = Some(rejected(kind, message, batch[*i].sku.as_str()));
    }
}
