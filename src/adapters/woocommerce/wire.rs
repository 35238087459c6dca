//! WooCommerce REST v3 JSON as it arrives, and its mapping to the canonical
//! model. The same functions serve the REST reads and the webhooks, so a
//! record built from a webhook equals the one a poll builds.
//!
//! Money arrives as decimal strings (`"19.99"`) and is parsed exactly; the few
//! JSON numbers the API sends (`rate_percent`) are read from their text, never
//! through a float.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::connector::TimeIdCursor;
use crate::error::{Error, Result};
use crate::model::{
    Address, Currency, Customer, DiscountAllocation, DiscountTarget, ExternalRef, FinancialStatus,
    FulfillmentStatus, InventoryLevel, LocationId, Money, Order, OrderCharge, OrderDiscount,
    OrderLine, OrderTotals, Product, ProductOption, ProductStatus, Refund, ShippingLine, Sku,
    SystemId, TaxLine, Variant,
};

/// What the mapping needs besides the JSON: which system the records come
/// from, the store currency (products carry none) and the location stock is
/// reported at (WooCommerce keeps one stock figure per product).
#[derive(Debug, Clone)]
pub struct WireContext {
    /// The system records are read from.
    pub system: SystemId,
    /// The store currency, for product prices.
    pub currency: Currency,
    /// The location every stock figure belongs to.
    pub location: LocationId,
}

// ---------------------------------------------------------------- products

/// `manage_stock` is `true`, `false` or, on a variation, `"parent"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ManageStock {
    /// Stock is not tracked.
    #[default]
    No,
    /// Stock is tracked on this product or variation.
    Yes,
    /// A variation whose stock is the parent's.
    Parent,
}

impl<'de> Deserialize<'de> for ManageStock {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Bool(true) => Ok(ManageStock::Yes),
            serde_json::Value::Bool(false) | serde_json::Value::Null => Ok(ManageStock::No),
            serde_json::Value::String(s) if s == "parent" => Ok(ManageStock::Parent),
            other => Err(serde::de::Error::custom(format!(
                "manage_stock must be true, false or \"parent\", got {other}"
            ))),
        }
    }
}

/// A name, as in `tags` and `categories`.
#[derive(Debug, Clone, Deserialize)]
pub struct WcNamed {
    /// The name.
    #[serde(default)]
    pub name: String,
}

/// A product attribute (`attributes[]` of a product).
#[derive(Debug, Clone, Deserialize)]
pub struct WcAttribute {
    /// Attribute name (`Color`).
    #[serde(default)]
    pub name: String,
    /// Its values (on a product).
    #[serde(default)]
    pub options: Vec<String>,
    /// The chosen value (on a variation).
    #[serde(default)]
    pub option: Option<String>,
    /// Whether the attribute spans variations.
    #[serde(default)]
    pub variation: bool,
}

/// A product or a variation as `/products`, `/products/{id}/variations` and
/// product webhooks send it (the fields this adapter uses).
#[derive(Debug, Clone, Deserialize)]
pub struct WcProduct {
    /// Post id (products and variations share one id space).
    pub id: u64,
    /// The parent of a variation (0 otherwise).
    #[serde(default)]
    pub parent_id: u64,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// URL slug: the canonical product handle.
    #[serde(default)]
    pub slug: String,
    /// `simple`, `variable`, `grouped`, `external` or `variation`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// `publish`, `draft`, `pending`, `private`, `trash`.
    #[serde(default)]
    pub status: String,
    /// HTML description.
    #[serde(default)]
    pub description: String,
    /// SKU (may be empty).
    #[serde(default)]
    pub sku: String,
    /// Regular price, decimal text (empty = no price).
    #[serde(default)]
    pub regular_price: String,
    /// Sale price, decimal text (empty = no sale). WooCommerce sends it
    /// for a scheduled sale that has not started too.
    #[serde(default)]
    pub sale_price: String,
    /// Whether the sale price is the price today (`None` when the payload
    /// leaves it out: then a sale price is taken as current).
    #[serde(default)]
    pub on_sale: Option<bool>,
    /// `taxable`, `shipping`, `none` (`parent` on variations).
    #[serde(default)]
    pub tax_status: String,
    /// Whether stock is tracked.
    #[serde(default)]
    pub manage_stock: ManageStock,
    /// Stock count when tracked (negative when backordered).
    #[serde(default)]
    pub stock_quantity: Option<i64>,
    /// `no`, `notify`, `yes`.
    #[serde(default)]
    pub backorders: String,
    /// Creation time, UTC without offset.
    #[serde(default)]
    pub date_created_gmt: Option<String>,
    /// Last change, UTC without offset.
    #[serde(default)]
    pub date_modified_gmt: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<WcNamed>,
    /// Categories.
    #[serde(default)]
    pub categories: Vec<WcNamed>,
    /// Attributes (values on products, the chosen one on variations).
    #[serde(default)]
    pub attributes: Vec<WcAttribute>,
    /// Variation ids of a variable product.
    #[serde(default)]
    pub variations: Vec<u64>,
}

impl WcProduct {
    /// Whether this is a variable product (its variants are its variations).
    pub fn is_variable(&self) -> bool {
        self.kind.as_deref() == Some("variable")
    }

    /// Whether this is a variation (a webhook or `?sku=` answer says so by type or parent).
    pub fn is_variation(&self) -> bool {
        self.kind.as_deref() == Some("variation") || self.parent_id != 0
    }

    fn what(&self) -> String {
        if self.is_variation() {
            format!("variation {} of product {}", self.id, self.parent_id)
        } else {
            format!("product {}", self.id)
        }
    }

    /// Whether it has a regular price. WooCommerce cannot sell an item
    /// without one, so it is not a canonical variant yet: reads skip it
    /// (with a debug log) and a price write creates it.
    pub fn is_priced(&self) -> bool {
        !self.regular_price.trim().is_empty()
    }

    /// When it last changed (falls back to creation).
    pub fn modified(&self) -> Result<DateTime<Utc>> {
        let text = self
            .date_modified_gmt
            .as_deref()
            .or(self.date_created_gmt.as_deref());
        gmt(text, "date_modified_gmt", &self.what())
    }

    /// The collision-safe cursor of this product or variation.
    pub fn cursor(&self) -> Result<TimeIdCursor> {
        Ok(TimeIdCursor::new(self.modified()?, self.id.to_string()))
    }

    /// The SKU, or `wc-<id>` for a product without one (stable, never reused).
    pub fn sku(&self) -> Result<Sku> {
        let text = if self.sku.trim().is_empty() {
            format!("wc-{}", self.id)
        } else {
            self.sku.clone()
        };
        Sku::new(text).map_err(|e| e.with_external_id(self.id.to_string()).with_field("sku"))
    }

    /// The canonical handle: the slug, or `wc-<id>` for a product without one (drafts).
    pub fn handle(&self) -> String {
        if self.slug.trim().is_empty() {
            format!("wc-{}", self.id)
        } else {
            self.slug.clone()
        }
    }

    fn status(&self) -> ProductStatus {
        match self.status.as_str() {
            "publish" => ProductStatus::Active,
            "trash" => ProductStatus::Archived,
            _ => ProductStatus::Draft,
        }
    }

    fn tag_set(&self) -> BTreeSet<String> {
        self.tags
            .iter()
            .map(|t| t.name.clone())
            .filter(|t| !t.is_empty())
            .collect()
    }
}

/// Parses a `/products` or `/products/{id}/variations` page.
pub fn parse_products(body: &[u8]) -> Result<Vec<WcProduct>> {
    json(body, "product list")
}

/// Parses one product (a product webhook's body).
pub fn parse_product(body: &[u8]) -> Result<WcProduct> {
    json(body, "product")
}

/// The canonical variant of a simple product, or of `variation` under `parent`.
/// `parent_handle` names the product a variation belongs to.
pub fn to_variant(
    item: &WcProduct,
    parent: Option<&WcProduct>,
    parent_handle: &str,
    ctx: &WireContext,
) -> Result<Variant> {
    let what = item.what();
    let created = gmt(item.date_created_gmt.as_deref(), "date_created_gmt", &what)?;
    let (price, compare_at) = prices(item, ctx.currency)?;
    let mut v = Variant::new(item.sku()?, parent_handle, price, created);
    v.compare_at_price = compare_at;
    v.updated_at = item.modified()?;
    v.status = item.status();
    if item.is_variation() {
        v.options = item
            .attributes
            .iter()
            .filter_map(|a| Some((a.name.clone(), a.option.clone()?)))
            .collect::<BTreeMap<_, _>>();
        v.title = v.options.values().cloned().collect::<Vec<_>>().join(" / ");
        if let Some(p) = parent {
            v.tags = p.tag_set();
        }
        let tax_status = match (item.tax_status.as_str(), parent) {
            ("parent", Some(p)) => p.tax_status.as_str(),
            (own, _) => own,
        };
        v.taxable = tax_status != "none";
    } else {
        v.title = item.name.clone();
        v.tags = item.tag_set();
        v.taxable = item.tax_status != "none";
    }
    Ok(v)
}

/// `(price, compare_at_price)`: the sale price with the regular price as the
/// was-price while a sale is on, else the regular price alone (a sale
/// scheduled for later is not today's price).
fn prices(item: &WcProduct, currency: Currency) -> Result<(Money, Option<Money>)> {
    let what = item.what();
    let regular = money_field(&item.regular_price, currency, "regular_price", &what)?;
    if item.sale_price.trim().is_empty() || item.on_sale == Some(false) {
        return Ok((regular, None));
    }
    let sale = money_field(&item.sale_price, currency, "sale_price", &what)?;
    Ok((sale, Some(regular)))
}

/// The canonical product: a simple product has one variant, a variable one
/// has its `variations`; items without a regular price are not variants yet.
pub fn to_product(
    item: &WcProduct,
    variations: &[WcProduct],
    ctx: &WireContext,
) -> Result<Product> {
    let what = item.what();
    let created = gmt(item.date_created_gmt.as_deref(), "date_created_gmt", &what)?;
    let handle = item.handle();
    let mut p = Product::new(handle.clone(), item.name.clone(), created);
    p.updated_at = item.modified()?;
    p.status = item.status();
    p.tags = item.tag_set();
    p.description = Some(item.description.clone()).filter(|d| !d.trim().is_empty());
    p.product_type = item.categories.first().map(|c| c.name.clone());
    p.options = item
        .attributes
        .iter()
        .filter(|a| a.variation)
        .map(|a| ProductOption {
            name: a.name.clone(),
            values: a.options.clone(),
        })
        .collect();
    p.variants = if item.is_variable() {
        variations
            .iter()
            .filter(|v| v.is_priced())
            .map(|v| to_variant(v, Some(item), &handle, ctx))
            .collect::<Result<_>>()?
    } else if item.kind.as_deref() == Some("grouped") || !item.is_priced() {
        Vec::new()
    } else {
        vec![to_variant(item, None, &handle, ctx)?]
    };
    Ok(p)
}

/// The stock level of a product or variation whose stock WooCommerce tracks
/// (`manage_stock: true`), at the configured location; `None` when untracked.
///
/// WooCommerce's `stock_quantity` is what can still be sold: it is read as
/// `on_hand = available`; a negative count (backorders) becomes
/// `on_hand = 0, committed = backordered units, available < 0`.
pub fn to_level(item: &WcProduct, ctx: &WireContext) -> Result<Option<InventoryLevel>> {
    if item.manage_stock != ManageStock::Yes {
        return Ok(None);
    }
    let quantity = item.stock_quantity.unwrap_or(0);
    let mut level = InventoryLevel::new(item.sku()?, ctx.location.clone(), item.modified()?);
    level.on_hand = quantity.max(0);
    level.committed = quantity.min(0).saturating_neg();
    level.available = quantity;
    level.oversell_allowed = backorders_allowed(&item.backorders);
    Ok(Some(level))
}

/// Whether a `backorders` value lets stock go below zero.
pub fn backorders_allowed(value: &str) -> bool {
    matches!(value, "yes" | "notify")
}

// ---------------------------------------------------------------- orders

/// A tax amount of one rate on a line (`taxes[]` of a line).
#[derive(Debug, Clone, Deserialize)]
pub struct WcLineTax {
    /// The tax rate id.
    pub id: u64,
    /// Tax after discounts (may be empty).
    #[serde(default)]
    pub total: String,
}

/// An order line (`line_items[]`).
#[derive(Debug, Clone, Deserialize)]
pub struct WcLineItem {
    /// Line id.
    pub id: u64,
    /// Product name.
    #[serde(default)]
    pub name: String,
    /// Product id.
    #[serde(default)]
    pub product_id: u64,
    /// Variation id (0 for simple products).
    #[serde(default)]
    pub variation_id: u64,
    /// Units.
    pub quantity: i64,
    /// Line amount before discounts, excluding tax.
    pub subtotal: String,
    /// Line amount after discounts, excluding tax.
    pub total: String,
    /// Tax per rate.
    #[serde(default)]
    pub taxes: Vec<WcLineTax>,
    /// SKU at order time (may be empty or null).
    #[serde(default)]
    pub sku: Option<String>,
}

/// An order tax summary line (`tax_lines[]`): names the rates.
#[derive(Debug, Clone, Deserialize)]
pub struct WcTaxLine {
    /// The tax rate id.
    pub rate_id: u64,
    /// Label shown to the customer.
    #[serde(default)]
    pub label: String,
    /// The rate in percent, a JSON number (WooCommerce 6.7+).
    #[serde(default)]
    pub rate_percent: Option<serde_json::Number>,
}

/// A shipping line (`shipping_lines[]`).
#[derive(Debug, Clone, Deserialize)]
pub struct WcShippingLine {
    /// Method name.
    #[serde(default)]
    pub method_title: String,
    /// Method id (`flat_rate`).
    #[serde(default)]
    pub method_id: String,
    /// Amount excluding tax.
    pub total: String,
    /// Tax per rate.
    #[serde(default)]
    pub taxes: Vec<WcLineTax>,
}

/// A fee line (`fee_lines[]`).
#[derive(Debug, Clone, Deserialize)]
pub struct WcFeeLine {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Amount excluding tax.
    pub total: String,
}

/// A coupon used (`coupon_lines[]`).
#[derive(Debug, Clone, Deserialize)]
pub struct WcCouponLine {
    /// Coupon code.
    #[serde(default)]
    pub code: String,
    /// Discount it gave, excluding tax.
    #[serde(default)]
    pub discount: String,
}

/// A refund summary (`refunds[]`): the total is negative text.
#[derive(Debug, Clone, Deserialize)]
pub struct WcRefund {
    /// Refund id.
    pub id: u64,
    /// Reason.
    #[serde(default)]
    pub reason: String,
    /// Amount, negative (`"-5.00"`).
    pub total: String,
}

/// A billing or shipping address.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct WcAddress {
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Company.
    pub company: String,
    /// Street line 1.
    pub address_1: String,
    /// Street line 2.
    pub address_2: String,
    /// City.
    pub city: String,
    /// State code.
    pub state: String,
    /// Postcode.
    pub postcode: String,
    /// Country code (ISO 3166-1 alpha-2).
    pub country: String,
    /// Email (billing only).
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
}

impl WcAddress {
    /// The canonical address, or `None` when no street was given.
    pub fn to_address(&self) -> Option<Address> {
        if self.address_1.trim().is_empty() {
            return None;
        }
        let mut a = Address::new(&self.address_1, &self.city, &self.country);
        let name = format!("{} {}", self.first_name, self.last_name);
        a.name = non_empty(name.trim());
        a.company = non_empty(&self.company);
        a.line2 = non_empty(&self.address_2);
        a.region = non_empty(&self.state);
        a.postcode = non_empty(&self.postcode);
        a.phone = self.phone.as_deref().and_then(non_empty);
        Some(a)
    }
}

/// An order as `/orders` and order webhooks send it (the fields used).
#[derive(Debug, Clone, Deserialize)]
pub struct WcOrder {
    /// Order id.
    pub id: u64,
    /// Order number shown to the customer: the canonical key.
    #[serde(default)]
    pub number: String,
    /// `pending`, `processing`, `on-hold`, `completed`, `cancelled`, `refunded`, `failed`, …
    #[serde(default)]
    pub status: String,
    /// ISO 4217 code.
    #[serde(default)]
    pub currency: String,
    /// Creation time, UTC.
    #[serde(default)]
    pub date_created_gmt: Option<String>,
    /// Last change, UTC.
    #[serde(default)]
    pub date_modified_gmt: Option<String>,
    /// Payment time, UTC; null while unpaid.
    #[serde(default)]
    pub date_paid_gmt: Option<String>,
    /// Discounts, excluding tax.
    #[serde(default)]
    pub discount_total: String,
    /// Shipping, excluding tax.
    #[serde(default)]
    pub shipping_total: String,
    /// All tax.
    #[serde(default)]
    pub total_tax: String,
    /// Grand total.
    pub total: String,
    /// Customer id (0 = guest).
    #[serde(default)]
    pub customer_id: u64,
    /// Billing address.
    #[serde(default)]
    pub billing: WcAddress,
    /// Shipping address.
    #[serde(default)]
    pub shipping: WcAddress,
    /// Lines.
    #[serde(default)]
    pub line_items: Vec<WcLineItem>,
    /// Tax rate summaries.
    #[serde(default)]
    pub tax_lines: Vec<WcTaxLine>,
    /// Shipping lines.
    #[serde(default)]
    pub shipping_lines: Vec<WcShippingLine>,
    /// Fees.
    #[serde(default)]
    pub fee_lines: Vec<WcFeeLine>,
    /// Coupons.
    #[serde(default)]
    pub coupon_lines: Vec<WcCouponLine>,
    /// Refunds.
    #[serde(default)]
    pub refunds: Vec<WcRefund>,
}

impl WcOrder {
    fn what(&self) -> String {
        format!("order {} (number {:?})", self.id, self.number)
    }

    /// When it last changed.
    pub fn modified(&self) -> Result<DateTime<Utc>> {
        let text = self
            .date_modified_gmt
            .as_deref()
            .or(self.date_created_gmt.as_deref());
        gmt(text, "date_modified_gmt", &self.what())
    }

    /// The collision-safe cursor of this order.
    pub fn cursor(&self) -> Result<TimeIdCursor> {
        Ok(TimeIdCursor::new(self.modified()?, self.id.to_string()))
    }
}

/// Parses an `/orders` page.
pub fn parse_orders(body: &[u8]) -> Result<Vec<WcOrder>> {
    json(body, "order list")
}

/// Parses one order (an order webhook's body).
pub fn parse_order(body: &[u8]) -> Result<WcOrder> {
    json(body, "order")
}

/// The canonical order.
///
/// WooCommerce reports line, shipping and fee amounts excluding tax whatever
/// `prices_include_tax` says, so `taxes_included` is false and the total is
/// subtotal + shipping + fees + tax. A line's unit price is its subtotal over
/// its quantity, rounded half-even to the currency's minor units when the
/// division is not exact; the line's reported `total` is kept as is, so a
/// rounding difference is reported by validation, not hidden. A line's
/// discount (subtotal − total) is allocated to the coupons in proportion to
/// their amounts. Refund summaries carry no date: their `created_at` is the
/// order's last change.
pub fn to_order(o: &WcOrder, ctx: &WireContext) -> Result<Order> {
    let what = o.what();
    let currency = if o.currency.trim().is_empty() {
        ctx.currency
    } else {
        Currency::from_code(o.currency.trim()).map_err(|e| {
            Error::invalid_data(format!("{what}: currency: {e}")).with_field("currency")
        })?
    };
    let m = |text: &str, field: &str| money_field(text, currency, field, &what);
    let number = if o.number.trim().is_empty() {
        o.id.to_string()
    } else {
        o.number.clone()
    };
    let created = gmt(o.date_created_gmt.as_deref(), "date_created_gmt", &what)?;
    let updated = o.modified()?;
    let mut order = Order::new(number, currency, created);
    order.updated_at = updated;

    order.discounts = o
        .coupon_lines
        .iter()
        .map(|c| {
            Ok(OrderDiscount {
                code: non_empty(&c.code),
                title: c.code.clone(),
                target: DiscountTarget::Line,
                amount: if c.discount.trim().is_empty() {
                    Money::zero(currency)
                } else {
                    m(&c.discount, "coupon_lines.discount")?
                },
            })
        })
        .collect::<Result<_>>()?;
    let weights: Vec<Decimal> = order.discounts.iter().map(|d| d.amount.amount()).collect();

    let tax_line = |taxes: &[WcLineTax], field: &str| -> Result<Vec<TaxLine>> {
        taxes
            .iter()
            .filter(|t| !t.total.trim().is_empty())
            .map(|t| {
                let summary = o.tax_lines.iter().find(|s| s.rate_id == t.id);
                let rate = match summary.and_then(|s| s.rate_percent.as_ref()) {
                    Some(n) => {
                        exact_number(n, &what, "tax_lines.rate_percent")? / Decimal::ONE_HUNDRED
                    }
                    None => Decimal::ZERO,
                };
                Ok(TaxLine {
                    title: summary
                        .map_or_else(|| format!("tax rate {}", t.id), |s| s.label.clone()),
                    rate,
                    amount: m(&t.total, field)?,
                })
            })
            .collect()
    };

    for (i, li) in o.line_items.iter().enumerate() {
        let field = |f: &str| format!("line_items[{i}].{f}");
        let quantity = u32::try_from(li.quantity)
            .ok()
            .filter(|q| *q > 0)
            .ok_or_else(|| {
                Error::invalid_data(format!(
                    "{what}: line_items[{i}].quantity {} must be at least 1",
                    li.quantity
                ))
                .with_field(field("quantity"))
            })?;
        let sku_text = li.sku.as_deref().map(str::trim).unwrap_or_default();
        let sku_text = if !sku_text.is_empty() {
            sku_text.to_string()
        } else if li.variation_id != 0 {
            format!("wc-{}", li.variation_id)
        } else {
            format!("wc-{}", li.product_id)
        };
        let sku = Sku::new(sku_text).map_err(|e| e.with_field(field("sku")))?;
        let subtotal = m(&li.subtotal, &field("subtotal"))?;
        let total = m(&li.total, &field("total"))?;
        // Exact when a short decimal times the quantity gives the subtotal back
        // (28-digit quotients like 3.333… would round back to 10.00 on multiplying).
        let short = (subtotal.amount() / Decimal::from(quantity)).round_dp(20);
        let unit = if short.checked_mul(Decimal::from(quantity)) != Some(subtotal.amount()) {
            Money::new(short, currency).round(crate::model::RoundingMode::HalfEven)
        } else if short.normalize().scale() > currency.minor_units() {
            Money::new(short.normalize(), currency)
        } else {
            Money::new(short, currency).round(crate::model::RoundingMode::HalfEven)
        };
        let mut line = OrderLine::new(li.id.to_string(), sku, quantity, unit);
        line.title = li.name.clone();
        line.total = Some(total);
        line.tax_lines = tax_line(&li.taxes, &field("taxes"))?;
        let discount = subtotal
            .checked_sub(total)
            .map_err(|e| Error::invalid_data(format!("{what}: {e}")))?;
        if discount.is_positive() {
            if order.discounts.is_empty() {
                order.discounts.push(OrderDiscount {
                    code: None,
                    title: "discount".into(),
                    target: DiscountTarget::Line,
                    amount: Money::zero(currency),
                });
            }
            let parts = if order.discounts.len() == 1 || weights.iter().all(|w| w.is_zero()) {
                vec![discount]
            } else {
                discount
                    .allocate(&weights)
                    .map_err(|e| Error::invalid_data(format!("{what}: {e}")))?
            };
            for (d, amount) in parts.into_iter().enumerate() {
                if !amount.is_zero() {
                    line.discount_allocations.push(DiscountAllocation {
                        discount: d,
                        amount,
                    });
                }
            }
        }
        order.lines.push(line);
    }
    // A manual discount (no coupon) is the sum of what the lines say.
    if o.coupon_lines.is_empty()
        && let Some(d) = order.discounts.first_mut()
    {
        d.amount = Money::sum(
            currency,
            order
                .lines
                .iter()
                .flat_map(|l| &l.discount_allocations)
                .map(|a| &a.amount),
        )
        .map_err(|e| Error::invalid_data(format!("{what}: {e}")))?;
    }

    for (i, s) in o.shipping_lines.iter().enumerate() {
        let mut line = ShippingLine::new(
            s.method_title.clone(),
            m(&s.total, &format!("shipping_lines[{i}].total"))?,
        );
        line.code = non_empty(&s.method_id);
        line.tax_lines = tax_line(&s.taxes, &format!("shipping_lines[{i}].taxes"))?;
        order.shipping_lines.push(line);
    }
    for (i, f) in o.fee_lines.iter().enumerate() {
        order.charges.push(OrderCharge {
            kind: crate::model::ChargeKind::Fee,
            title: f.name.clone(),
            amount: m(&f.total, &format!("fee_lines[{i}].total"))?,
        });
    }
    for (i, r) in o.refunds.iter().enumerate() {
        let amount = m(&r.total, &format!("refunds[{i}].total"))?.abs();
        let mut refund = Refund::new(r.id.to_string(), updated, amount);
        refund.note = non_empty(&r.reason);
        order.refunds.push(refund);
    }

    let total = m(&o.total, "total")?;
    let zero_or = |text: &str, field: &str| {
        if text.trim().is_empty() {
            Ok(Money::zero(currency))
        } else {
            m(text, field)
        }
    };
    let refunded = Money::sum(currency, order.refunds.iter().map(|r| &r.amount))
        .map_err(|e| Error::invalid_data(format!("{what}: refunds: {e}")))?
        .amount();
    let paid = o
        .date_paid_gmt
        .as_deref()
        .is_some_and(|d| !d.trim().is_empty());
    let mut subtotal = Money::zero(currency);
    for l in &order.lines {
        if let Some(t) = l.total {
            subtotal = subtotal
                .checked_add(t)
                .map_err(|e| Error::invalid_data(format!("{what}: {e}")))?;
        }
    }
    order.totals = OrderTotals {
        subtotal,
        discount_total: zero_or(&o.discount_total, "discount_total")?,
        shipping_total: zero_or(&o.shipping_total, "shipping_total")?,
        tax_total: zero_or(&o.total_tax, "total_tax")?,
        total,
        paid: if paid { total } else { Money::zero(currency) },
    };
    order.financial_status = match o.status.as_str() {
        "refunded" => FinancialStatus::Refunded,
        "cancelled" | "trash" => FinancialStatus::Voided,
        _ if paid && refunded > Decimal::ZERO => FinancialStatus::PartiallyRefunded,
        "processing" | "completed" => FinancialStatus::Paid,
        _ if paid => FinancialStatus::Paid,
        _ => FinancialStatus::Pending,
    };
    order.fulfillment_status = match o.status.as_str() {
        "completed" => FulfillmentStatus::Fulfilled,
        _ => FulfillmentStatus::Unfulfilled,
    };
    order.billing_address = o.billing.to_address();
    order.shipping_address = o.shipping.to_address();
    if o.customer_id != 0 {
        order.customer = Some(ExternalRef::try_new(
            ctx.system.as_str(),
            o.customer_id.to_string(),
        )?);
    }
    Ok(order)
}

// ---------------------------------------------------------------- customers

/// A customer as `/customers` and customer webhooks send it.
#[derive(Debug, Clone, Deserialize)]
pub struct WcCustomer {
    /// Customer (user) id: the canonical key.
    pub id: u64,
    /// Email.
    #[serde(default)]
    pub email: String,
    /// First name.
    #[serde(default)]
    pub first_name: String,
    /// Last name.
    #[serde(default)]
    pub last_name: String,
    /// Registration time, UTC.
    #[serde(default)]
    pub date_created_gmt: Option<String>,
    /// Last change, UTC.
    #[serde(default)]
    pub date_modified_gmt: Option<String>,
    /// Billing address.
    #[serde(default)]
    pub billing: WcAddress,
    /// Shipping address.
    #[serde(default)]
    pub shipping: WcAddress,
}

impl WcCustomer {
    fn what(&self) -> String {
        format!("customer {}", self.id)
    }

    /// When it last changed.
    pub fn modified(&self) -> Result<DateTime<Utc>> {
        let text = self
            .date_modified_gmt
            .as_deref()
            .filter(|t| !t.is_empty())
            .or(self.date_created_gmt.as_deref());
        gmt(text, "date_modified_gmt", &self.what())
    }

    /// The collision-safe cursor of this customer.
    pub fn cursor(&self) -> Result<TimeIdCursor> {
        Ok(TimeIdCursor::new(self.modified()?, self.id.to_string()))
    }
}

/// Parses a `/customers` page.
pub fn parse_customers(body: &[u8]) -> Result<Vec<WcCustomer>> {
    json(body, "customer list")
}

/// Parses one customer (a customer webhook's body).
pub fn parse_customer(body: &[u8]) -> Result<WcCustomer> {
    json(body, "customer")
}

/// The canonical customer: the WooCommerce id is the key and the external ref;
/// the account email first, then a different billing email; the billing phone;
/// billing then shipping address (when they have a street).
pub fn to_customer(c: &WcCustomer, ctx: &WireContext) -> Result<Customer> {
    let created = gmt(c.date_created_gmt.as_deref(), "date_created_gmt", &c.what())?;
    let mut out = Customer::new(c.id.to_string(), created);
    out.updated_at = c.modified()?;
    out.first_name = non_empty(&c.first_name);
    out.last_name = non_empty(&c.last_name);
    for email in [Some(c.email.as_str()), c.billing.email.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
    {
        if !email.is_empty() && !out.emails.iter().any(|e| e.eq_ignore_ascii_case(email)) {
            out.emails.push(email.to_string());
        }
    }
    if let Some(phone) = c.billing.phone.as_deref().and_then(non_empty) {
        out.phones.push(phone);
    }
    for a in [&c.billing, &c.shipping] {
        if let Some(a) = a.to_address()
            && !out.addresses.contains(&a)
        {
            out.addresses.push(a);
        }
    }
    out.external_refs
        .push(ExternalRef::try_new(ctx.system.as_str(), c.id.to_string())?);
    Ok(out)
}

// ---------------------------------------------------------------- errors and helpers

/// A WooCommerce (WordPress REST) error body: `{"code", "message", "data": {"status"}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct WcError {
    /// Machine code (`woocommerce_rest_product_invalid_id`).
    #[serde(default)]
    pub code: String,
    /// Human message.
    #[serde(default)]
    pub message: String,
    /// Extra data, with the HTTP status.
    #[serde(default)]
    pub data: Option<WcErrorData>,
}

/// The `data` of an error body.
#[derive(Debug, Clone, Deserialize)]
pub struct WcErrorData {
    /// The HTTP status the error stands for.
    #[serde(default)]
    pub status: Option<u16>,
}

impl WcError {
    /// `code: message`, for an error message.
    pub fn describe(&self) -> String {
        format!("{}: {}", self.code, self.message)
    }
}

/// The error body's `code: message`, or the raw body when it is not one.
pub fn describe_error_body(body: &str) -> String {
    match serde_json::from_str::<WcError>(body) {
        Ok(e) if !e.code.is_empty() || !e.message.is_empty() => e.describe(),
        _ => body.to_string(),
    }
}

fn json<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        Error::invalid_data(format!("WooCommerce {what} is not the expected JSON: {e}"))
            .with_source(e)
    })
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Parses a `*_gmt` time (`2026-11-27T07:28:00`, UTC without an offset; an
/// offset or `Z` is accepted too).
pub fn gmt(text: Option<&str>, field: &str, what: &str) -> Result<DateTime<Utc>> {
    let text = text
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Error::invalid_data(format!("{what}: {field} is missing")).with_field(field.to_string())
        })?;
    if let Ok(t) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Ok(t.and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            Error::invalid_data(format!("{what}: {field} {text:?} is not a time: {e}"))
                .with_field(field.to_string())
        })
}

/// Parses money text exactly; an empty or malformed amount names the field.
pub fn money_field(text: &str, currency: Currency, field: &str, what: &str) -> Result<Money> {
    if text.trim().is_empty() {
        return Err(
            Error::invalid_data(format!("{what}: {field} is empty")).with_field(field.to_string())
        );
    }
    Money::parse(text, currency).map_err(|e| {
        Error::invalid_data(format!("{what}: {field} {text:?}: {e}")).with_field(field.to_string())
    })
}

/// A JSON number as an exact decimal, read from its text.
fn exact_number(n: &serde_json::Number, what: &str, field: &str) -> Result<Decimal> {
    let text = n.to_string();
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .map_err(|e| {
            Error::invalid_data(format!("{what}: {field} {text} is not a decimal: {e}"))
                .with_field(field.to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scheduled_sale_is_not_todays_price() {
        let item = |on_sale: &str| -> WcProduct {
            serde_json::from_str(&format!(
                r#"{{"id": 7, "sku": "TEE", "regular_price": "20.00", "sale_price": "15.00"{on_sale}}}"#
            ))
            .unwrap()
        };
        let usd = Currency::USD;
        let (price, was) = prices(&item(r#", "on_sale": false"#), usd).unwrap();
        assert_eq!(
            (price.amount().to_string(), was),
            ("20.00".to_string(), None)
        );
        for on_sale in [r#", "on_sale": true"#, ""] {
            let (price, was) = prices(&item(on_sale), usd).unwrap();
            assert_eq!(price.amount().to_string(), "15.00");
            assert_eq!(was.unwrap().amount().to_string(), "20.00");
        }
    }
}
