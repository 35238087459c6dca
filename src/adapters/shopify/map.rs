//! Shopify GraphQL nodes → the canonical model. Every failure names the
//! field path and the record's id.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;

use super::config::LocationKey;
use super::json::{Node, numeric_id};
use super::webhook::canonical_money;
use crate::error::{Error, Result};
use crate::model::{
    Address, ChargeKind, ConsentState, Currency, Customer, DiscountAllocation, ExternalRef,
    FinancialStatus, FulfillmentStatus, Gtin, InventoryLevel, Location, LocationId, LocationKind,
    MarketingConsent, Money, Order, OrderCharge, OrderLine, ProductOption, ProductStatus, Refund,
    RefundLine, ShippingLine, Sku, TaxLine, Variant, Weight, WeightUnit,
};
use crate::model::{DiscountTarget, OrderDiscount, OrderTotals, Product};

/// The inventory quantity names read, as Shopify spells them.
pub const QUANTITY_NAMES: [&str; 8] = [
    "available",
    "on_hand",
    "committed",
    "reserved",
    "incoming",
    "safety_stock",
    "damaged",
    "quality_control",
];

fn in_record(e: Error, what: &str, id: &str) -> Error {
    let message = format!("{what} {id}: {}", e.message());
    let mut out = Error::new(e.kind().clone(), message).with_external_id(id.to_string());
    if let Some(f) = &e.context().field {
        out = out.with_field(f.clone());
    }
    out
}

fn status(node: &Node<'_>, key: &str) -> Result<ProductStatus> {
    match node.str(key)? {
        "ACTIVE" => Ok(ProductStatus::Active),
        "DRAFT" => Ok(ProductStatus::Draft),
        "ARCHIVED" => Ok(ProductStatus::Archived),
        other => Err(node.error(
            key,
            format_args!("{other:?} is not ACTIVE, DRAFT or ARCHIVED"),
        )),
    }
}

/// A product node with its variants (`variants.nodes`).
pub fn product(node: &Node<'_>, currency: Currency) -> Result<Product> {
    let id = node.str("id")?;
    product_inner(node, currency).map_err(|e| in_record(e, "product", id))
}

fn product_inner(node: &Node<'_>, currency: Currency) -> Result<Product> {
    let mut p = Product::new(
        node.str("handle")?,
        node.str("title")?,
        node.time("createdAt")?,
    );
    p.updated_at = node.time("updatedAt")?;
    p.description = node.opt_str("descriptionHtml")?.map(str::to_string);
    p.vendor = node.opt_str("vendor")?.map(str::to_string);
    p.product_type = node.opt_str("productType")?.map(str::to_string);
    p.status = status(node, "status")?;
    p.tags = node.strings("tags")?.into_iter().collect();
    for o in node.opt_list("options")? {
        let values = o
            .list("optionValues")?
            .iter()
            .map(|v| v.str("name").map(str::to_string))
            .collect::<Result<Vec<_>>>()?;
        p.options.push(ProductOption {
            name: o.str("name")?.to_string(),
            values,
        });
    }
    // A product without options has Shopify's implied "Title: Default Title".
    p.options
        .retain(|o| !(o.name == "Title" && o.values == ["Default Title"]));
    for v in node.nodes("variants")? {
        let mut variant = variant_inner(&v, &p, currency)?;
        // As the webhook does: a variant carries its product's tags.
        variant.tags = p.tags.clone();
        p.variants.push(variant);
    }
    Ok(p)
}

fn variant_inner(v: &Node<'_>, p: &Product, currency: Currency) -> Result<Variant> {
    let sku_text = v.opt_str("sku")?.ok_or_else(|| {
        v.error(
            "sku",
            "is empty; seamwork keys variants by SKU, give the variant one in Shopify",
        )
    })?;
    let sku = Sku::new(sku_text).map_err(|e| v.error("sku", e.message()))?;
    let price = canonical_money(v.decimal("price")?, currency);
    let mut out = Variant::new(sku, p.handle.clone(), price, v.time("createdAt")?);
    out.updated_at = v.time("updatedAt")?;
    out.title = v.opt_str("title")?.unwrap_or_default().to_string();
    out.compare_at_price = v
        .opt_decimal("compareAtPrice")?
        .map(|d| canonical_money(d, currency));
    out.taxable = v.bool_or("taxable", true)?;
    out.status = p.status;
    if let Some(code) = v.opt_str("barcode")? {
        let gtin = Gtin::parse(code).map_err(|e| v.error("barcode", e.message()))?;
        out.barcodes.push(gtin);
    }
    let mut options = BTreeMap::new();
    for o in v.opt_list("selectedOptions")? {
        let (name, value) = (o.str("name")?, o.str("value")?);
        if !(name == "Title" && value == "Default Title") {
            options.insert(name.to_string(), value.to_string());
        }
    }
    out.options = options;
    if let Some(item) = v.opt_obj("inventoryItem")?
        && let Some(m) = item.opt_obj("measurement")?
        && let Some(w) = m.opt_obj("weight")?
    {
        let unit = match w.str("unit")? {
            "GRAMS" => WeightUnit::G,
            "KILOGRAMS" => WeightUnit::Kg,
            "OUNCES" => WeightUnit::Oz,
            "POUNDS" => WeightUnit::Lb,
            other => return Err(w.error("unit", format_args!("{other:?} is not a weight unit"))),
        };
        // Without trailing zeros, and zero kept: the webhook's `weight`.
        let value = w.decimal("value")?.normalize();
        out.weight = Some(Weight { value, unit });
    }
    Ok(out)
}

/// The canonical id of a location node.
pub fn location_id(node: &Node<'_>, key: LocationKey) -> Result<LocationId> {
    let text = match key {
        LocationKey::NumericId => numeric_id(node.str("id")?),
        LocationKey::Name => node.str("name")?,
    };
    LocationId::new(text).map_err(|e| node.error("id", e.message()))
}

/// A location node.
pub fn location(node: &Node<'_>, key: LocationKey) -> Result<Location> {
    let gid = node.str("id")?;
    (|| {
        let kind = if node.opt_obj("fulfillmentService")?.is_some() {
            LocationKind::ThirdPartyLogistics
        } else {
            LocationKind::Warehouse
        };
        let mut loc = Location::new(location_id(node, key)?, node.str("name")?, kind);
        loc.active = node.bool_or("isActive", true)?;
        if let Some(a) = node.opt_obj("address")? {
            loc.address = address(&a)?;
        }
        Ok(loc)
    })()
    .map_err(|e| in_record(e, "location", gid))
}

/// A postal address node (`MailingAddress` or `LocationAddress`). Shopify
/// allows partial addresses: a missing street, city or country is empty,
/// as the webhook parser builds it, never a dropped address.
pub fn address(a: &Node<'_>) -> Result<Option<Address>> {
    let mut out = Address::new(
        a.opt_str("address1")?.unwrap_or(""),
        a.opt_str("city")?.unwrap_or(""),
        a.opt_str("countryCode")?.unwrap_or(""),
    );
    out.line2 = a.opt_str("address2")?.map(str::to_string);
    out.region = a.opt_str("provinceCode")?.map(str::to_string);
    out.postcode = a.opt_str("zip")?.map(str::to_string);
    out.phone = a.opt_str("phone")?.map(str::to_string);
    out.company = a.opt_str("company")?.map(str::to_string);
    let name = match (a.opt_str("firstName")?, a.opt_str("lastName")?) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(n), None) | (None, Some(n)) => Some(n.to_string()),
        (None, None) => None,
    };
    out.name = name;
    Ok(Some(out))
}

/// An `InventoryLevel` node (with `item { sku variant { inventoryPolicy } }`
/// and `quantities(names: …)`) at `location`.
pub fn inventory_level(node: &Node<'_>, location: &LocationId) -> Result<InventoryLevel> {
    let id = node.str("id")?;
    (|| {
        let item = node.obj("item")?;
        let sku = item
            .opt_str("sku")?
            .ok_or_else(|| item.error("sku", "is empty; inventory is keyed by SKU"))?;
        let sku = Sku::new(sku).map_err(|e| item.error("sku", e.message()))?;
        let mut level = InventoryLevel::new(sku, location.clone(), node.time("updatedAt")?);
        if let Some(v) = item.opt_obj("variant")? {
            level.oversell_allowed = v.opt_str("inventoryPolicy")? == Some("CONTINUE");
        }
        for q in node.list("quantities")? {
            let name = q.str("name")?;
            let n = q.i64("quantity")?;
            let slot = match name {
                "available" => &mut level.available,
                "on_hand" => &mut level.on_hand,
                "committed" => &mut level.committed,
                "reserved" => &mut level.reserved,
                "incoming" => &mut level.incoming,
                "safety_stock" => &mut level.safety_stock,
                "damaged" => &mut level.damaged,
                "quality_control" => &mut level.quality_control,
                other => {
                    return Err(q.error("name", format_args!("{other:?} is not a quantity name")));
                }
            };
            *slot = n;
        }
        Ok(level)
    })()
    .map_err(|e| in_record(e, "inventory level", id))
}

/// `…Set { shopMoney { amount currencyCode } }` as money.
fn money_set(node: &Node<'_>, key: &str) -> Result<Money> {
    let shop = node.obj(key)?.obj("shopMoney")?;
    let code = shop.str("currencyCode")?;
    let currency = Currency::from_code(code).map_err(|e| shop.error("currencyCode", e))?;
    Ok(canonical_money(shop.decimal("amount")?, currency))
}

fn opt_money_set(node: &Node<'_>, key: &str, currency: Currency) -> Result<Money> {
    match node.opt_obj(key)? {
        None => Ok(Money::zero(currency)),
        Some(_) => money_set(node, key),
    }
}

fn tax_lines(node: &Node<'_>) -> Result<Vec<TaxLine>> {
    node.opt_list("taxLines")?
        .iter()
        .map(|t| {
            Ok(TaxLine {
                title: t.str("title")?.to_string(),
                rate: t.opt_decimal("rate")?.unwrap_or(Decimal::ZERO).normalize(),
                amount: money_set(t, "priceSet")?,
            })
        })
        .collect()
}

fn allocations(node: &Node<'_>) -> Result<Vec<DiscountAllocation>> {
    node.opt_list("discountAllocations")?
        .iter()
        .map(|a| {
            let index = a.obj("discountApplication")?.i64("index")?;
            let discount = usize::try_from(index)
                .map_err(|_| a.error("discountApplication.index", "must not be negative"))?;
            Ok(DiscountAllocation {
                discount,
                amount: money_set(a, "allocatedAmountSet")?,
            })
        })
        .collect()
}

/// An order node with lines, discounts, shipping lines, tax lines and refunds.
pub fn order(node: &Node<'_>, system: &str) -> Result<Order> {
    let id = node.str("id")?;
    order_inner(node, system).map_err(|e| in_record(e, "order", id))
}

fn order_inner(node: &Node<'_>, system: &str) -> Result<Order> {
    let code = node.str("currencyCode")?;
    let currency = Currency::from_code(code).map_err(|e| node.error("currencyCode", e))?;
    let mut o = Order::new(node.str("name")?, currency, node.time("createdAt")?);
    o.updated_at = node.time("updatedAt")?;
    o.taxes_included = node.bool_or("taxesIncluded", false)?;
    o.financial_status = match node.opt_str("displayFinancialStatus")?.unwrap_or("PENDING") {
        "PENDING" => FinancialStatus::Pending,
        "AUTHORIZED" => FinancialStatus::Authorized,
        "PARTIALLY_PAID" => FinancialStatus::PartiallyPaid,
        "PAID" => FinancialStatus::Paid,
        "PARTIALLY_REFUNDED" => FinancialStatus::PartiallyRefunded,
        "REFUNDED" => FinancialStatus::Refunded,
        "VOIDED" | "EXPIRED" => FinancialStatus::Voided,
        other => {
            return Err(node.error(
                "displayFinancialStatus",
                format_args!("{other:?} is not a known financial status"),
            ));
        }
    };
    o.fulfillment_status = match node
        .opt_str("displayFulfillmentStatus")?
        .unwrap_or("UNFULFILLED")
    {
        "FULFILLED" => FulfillmentStatus::Fulfilled,
        "PARTIALLY_FULFILLED" => FulfillmentStatus::PartiallyFulfilled,
        "RESTOCKED" => FulfillmentStatus::Restocked,
        // Open, scheduled, on hold, in progress, pending: nothing shipped yet.
        "UNFULFILLED"
        | "OPEN"
        | "SCHEDULED"
        | "ON_HOLD"
        | "IN_PROGRESS"
        | "PENDING_FULFILLMENT"
        | "REQUEST_DECLINED" => FulfillmentStatus::Unfulfilled,
        other => {
            return Err(node.error(
                "displayFulfillmentStatus",
                format_args!("{other:?} is not a known fulfillment status"),
            ));
        }
    };
    if let Some(c) = node.opt_obj("customer")? {
        o.customer = Some(
            ExternalRef::try_new(system, c.str("id")?).map_err(|e| c.error("id", e.message()))?,
        );
    }
    if let Some(a) = node.opt_obj("billingAddress")? {
        o.billing_address = address(&a)?;
    }
    if let Some(a) = node.opt_obj("shippingAddress")? {
        o.shipping_address = address(&a)?;
    }
    for line in node.nodes("lineItems")? {
        let sku = line
            .opt_str("sku")?
            .ok_or_else(|| line.error("sku", "is empty; order lines are keyed by SKU"))?;
        let sku = Sku::new(sku).map_err(|e| line.error("sku", e.message()))?;
        let qty = line.i64("quantity")?;
        let quantity = u32::try_from(qty)
            .map_err(|_| line.error("quantity", format_args!("{qty} is not a count")))?;
        let mut l = OrderLine::new(
            numeric_id(line.str("id")?),
            sku,
            quantity,
            money_set(&line, "originalUnitPriceSet")?,
        );
        l.title = line.opt_str("title")?.unwrap_or_default().to_string();
        l.discount_allocations = allocations(&line)?;
        l.tax_lines = tax_lines(&line)?;
        o.lines.push(l);
    }
    for s in node.nodes("shippingLines")? {
        let mut sl = ShippingLine::new(
            s.opt_str("title")?.unwrap_or_default(),
            money_set(&s, "originalPriceSet")?,
        );
        sl.code = s.opt_str("code")?.map(str::to_string);
        sl.discount_allocations = allocations(&s)?;
        sl.tax_lines = tax_lines(&s)?;
        o.shipping_lines.push(sl);
    }
    // A discount's amount is what was allocated from it.
    for (i, d) in node.nodes("discountApplications")?.iter().enumerate() {
        // Across all lines is an order discount; across a selection of
        // lines (`targetSelection` ENTITLED or EXPLICIT) is a line one.
        let across = d.opt_str("allocationMethod")? == Some("ACROSS");
        let all = d.opt_str("targetSelection")?.is_none_or(|s| s == "ALL");
        let target = match d.str("targetType")? {
            "SHIPPING_LINE" => DiscountTarget::Shipping,
            "LINE_ITEM" if across && all => DiscountTarget::Order,
            "LINE_ITEM" => DiscountTarget::Line,
            other => {
                return Err(d.error("targetType", format_args!("{other:?} is not a target")));
            }
        };
        let mut amount = Money::zero(currency);
        let allocated = o
            .lines
            .iter()
            .flat_map(|l| &l.discount_allocations)
            .chain(
                o.shipping_lines
                    .iter()
                    .flat_map(|s| &s.discount_allocations),
            )
            .filter(|a| a.discount == i);
        for a in allocated {
            amount = amount
                .checked_add(a.amount)
                .map_err(|e| d.error("value", e))?;
        }
        let code = d.opt_str("code")?.map(str::to_string);
        // Title, else code, else description, else empty: the webhook's order.
        let title = match d.opt_str("title")? {
            Some(t) => Some(t.to_string()),
            None => code.clone(),
        };
        let title = match title {
            Some(t) => t,
            None => d.opt_str("description")?.unwrap_or_default().to_string(),
        };
        o.discounts.push(OrderDiscount {
            code,
            title,
            target,
            amount,
        });
    }
    for r in node.opt_list("refunds")? {
        let mut refund = Refund::new(
            numeric_id(r.str("id")?),
            r.time("createdAt")?,
            money_set(&r, "totalRefundedSet")?,
        );
        refund.note = r.opt_str("note")?.map(str::to_string);
        for rl in r.nodes("refundLineItems")? {
            let qty = rl.i64("quantity")?;
            // Subtotal plus its tax, as the webhook's `subtotal + total_tax`.
            let mut amount = money_set(&rl, "subtotalSet")?;
            if rl.opt_obj("totalTaxSet")?.is_some() {
                amount = amount
                    .checked_add(money_set(&rl, "totalTaxSet")?)
                    .map_err(|e| rl.error("totalTaxSet", e))?;
            }
            refund.lines.push(RefundLine {
                line_id: numeric_id(rl.obj("lineItem")?.str("id")?).to_string(),
                quantity: u32::try_from(qty)
                    .map_err(|_| rl.error("quantity", format_args!("{qty} is not a count")))?,
                restock: rl
                    .opt_str("restockType")?
                    .is_some_and(|t| t != "NO_RESTOCK"),
                amount,
            });
        }
        o.refunds.push(refund);
    }
    o.charges = charges(node, currency)?;
    o.totals = totals(node, &o)?;
    Ok(o)
}

/// Totals as the webhook builds them: shipping is Σ shipping lines after
/// their discounts (`totalShippingPriceSet` is before them); paid is total −
/// outstanding when `totalOutstandingSet` was asked for, else what was
/// received.
fn totals(node: &Node<'_>, o: &Order) -> Result<OrderTotals> {
    let c = o.currency;
    let mut shipping_total = Money::zero(c);
    for (i, s) in o.shipping_lines.iter().enumerate() {
        let net = Money::sum(c, s.discount_allocations.iter().map(|d| &d.amount))
            .and_then(|d| s.price.checked_sub(d))
            .and_then(|net| shipping_total.checked_add(net));
        shipping_total = net
            .map_err(|e| node.error("shippingLines", format_args!("[{i}] does not add up: {e}")))?;
    }
    let total = opt_money_set(node, "totalPriceSet", c)?;
    let paid = match node.opt_obj("totalOutstandingSet")? {
        Some(_) => total
            .checked_sub(money_set(node, "totalOutstandingSet")?)
            .map_err(|e| node.error("totalOutstandingSet", e))?,
        None => opt_money_set(node, "totalReceivedSet", c)?,
    };
    Ok(OrderTotals {
        subtotal: opt_money_set(node, "subtotalPriceSet", c)?,
        discount_total: opt_money_set(node, "totalDiscountsSet", c)?,
        shipping_total,
        tax_total: opt_money_set(node, "totalTaxSet", c)?,
        total,
        paid,
    })
}

/// Tip and duties, when asked for and not zero (the webhook's `charges`).
fn charges(node: &Node<'_>, c: Currency) -> Result<Vec<OrderCharge>> {
    let mut out = Vec::new();
    for (key, kind, title) in [
        ("totalTipReceivedSet", ChargeKind::Tip, "Tip"),
        ("originalTotalDutiesSet", ChargeKind::Duty, "Duties"),
    ] {
        let amount = opt_money_set(node, key, c)?;
        if !amount.is_zero() {
            out.push(OrderCharge {
                kind,
                title: title.to_string(),
                amount,
            });
        }
    }
    Ok(out)
}

fn consent(node: &Node<'_>, key: &str) -> Result<ConsentState> {
    Ok(match node.opt_str(key)? {
        None | Some("NOT_SUBSCRIBED") | Some("INVALID") => ConsentState::NotSubscribed,
        Some("SUBSCRIBED") => ConsentState::Subscribed,
        Some("PENDING") => ConsentState::Pending,
        // Redacted contact data must not be contacted (as the webhook reads it).
        Some("UNSUBSCRIBED") | Some("REDACTED") => ConsentState::Unsubscribed,
        Some(other) => {
            return Err(node.error(key, format_args!("{other:?} is not a marketing state")));
        }
    })
}

/// A customer node. The canonical id is the Shopify global id; the same id
/// is kept as the external ref in `system`.
pub fn customer(node: &Node<'_>, system: &str) -> Result<Customer> {
    let id = node.str("id")?;
    (|| {
        let mut c = Customer::new(id, node.time("createdAt")?);
        c.updated_at = node.time("updatedAt")?;
        c.first_name = node.opt_str("firstName")?.map(str::to_string);
        c.last_name = node.opt_str("lastName")?.map(str::to_string);
        c.tags = node.strings("tags")?.into_iter().collect::<BTreeSet<_>>();
        let mut marketing = MarketingConsent::default();
        if let Some(e) = node.opt_obj("defaultEmailAddress")? {
            if let Some(addr) = e.opt_str("emailAddress")? {
                c.emails.push(addr.to_string());
            }
            marketing.email = consent(&e, "marketingState")?;
            marketing.updated_at = e.opt_time("marketingUpdatedAt")?;
        }
        if let Some(p) = node.opt_obj("defaultPhoneNumber")? {
            if let Some(n) = p.opt_str("phoneNumber")? {
                c.phones.push(n.to_string());
            }
            marketing.sms = consent(&p, "marketingState")?;
            // The later of the two consent times, as the webhook takes it.
            marketing.updated_at = marketing.updated_at.max(p.opt_time("marketingUpdatedAt")?);
        }
        c.marketing = marketing;
        for a in node.nodes("addressesV2")? {
            if let Some(addr) = address(&a)? {
                c.addresses.push(addr);
            }
        }
        // The default address first, as the webhook orders them.
        if let Some(d) = node.opt_obj("defaultAddress")?
            && let Some(default) = address(&d)?
            && let Some(i) = c.addresses.iter().position(|a| *a == default)
        {
            let first = c.addresses.remove(i);
            c.addresses.insert(0, first);
        }
        c.external_refs
            .push(ExternalRef::try_new(system, id).map_err(|e| node.error("id", e.message()))?);
        Ok(c)
    })()
    .map_err(|e| in_record(e, "customer", id))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::*;
    use crate::adapters::shopify::webhook::{ShopifyParser, ShopifyRecord};
    use crate::mapping::MemoryCrossReferences;
    use crate::model::SystemId;

    fn fixture(path: &str) -> Value {
        let path = format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
    }

    /// The poller's product and the webhook's, from the two APIs' forms of
    /// the same Shopify product.
    fn both(graphql: &Value, rest: &Value) -> (Product, Product) {
        let polled = product(&Node::root(graphql, "product"), Currency::USD).unwrap();
        let parser = ShopifyParser::new(
            SystemId::new("shopify").unwrap(),
            Currency::USD,
            Arc::new(MemoryCrossReferences::new()),
        );
        let body = serde_json::to_vec(rest).unwrap();
        match parser.parse("products/update", "wh-p", &body).unwrap() {
            ShopifyRecord::Product(r) => (polled, r.entity),
            other => panic!("expected a product, got {other:?}"),
        }
    }

    #[test]
    fn a_polled_product_is_the_webhook_product() {
        let graphql = fixture("shopify_graphql/product_crew_tee.json");
        let rest = fixture("shopify_webhooks/products_update.json");
        let (polled, hooked) = both(&graphql, &rest);
        assert_eq!(polled, hooked);
        assert_eq!(polled.variants[0].price.amount().scale(), 2);
        assert_eq!(polled.variants[0].tags.len(), 3);
    }

    #[test]
    fn default_title_and_zero_weight_map_alike() {
        let mut graphql = fixture("shopify_graphql/product_crew_tee.json");
        let mut rest = fixture("shopify_webhooks/products_update.json");
        graphql["options"] =
            json!([{"name": "Title", "optionValues": [{"name": "Default Title"}]}]);
        rest["options"] = json!([{"name": "Title", "values": ["Default Title"]}]);
        for v in graphql["variants"]["nodes"].as_array_mut().unwrap() {
            v["selectedOptions"] = json!([{"name": "Title", "value": "Default Title"}]);
            v["inventoryItem"]["measurement"]["weight"] = json!({"unit": "GRAMS", "value": 0.0});
        }
        for v in rest["variants"].as_array_mut().unwrap() {
            v["option1"] = json!("Default Title");
            v["option2"] = Value::Null;
            v["weight"] = json!(0);
            v["weight_unit"] = json!("g");
        }
        let (polled, hooked) = both(&graphql, &rest);
        assert_eq!(polled, hooked);
        assert!(polled.options.is_empty());
        assert!(polled.variants[0].options.is_empty());
        assert_eq!(
            polled.variants[0].weight.map(|w| w.value),
            Some(Decimal::ZERO)
        );
    }
}
