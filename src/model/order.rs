//! Orders: lines, discounts, taxes, shipping, refunds and totals.
//!
//! The totals follow the storefront convention (Shopify's, which most ERPs
//! copy):
//!
//! | total | definition |
//! |---|---|
//! | `subtotal` | Σ lines (unit_price × quantity − line discount allocations) |
//! | `shipping_total` | Σ shipping lines (price − shipping discount allocations) |
//! | `discount_total` | Σ every discount allocation (lines and shipping) = Σ `discounts[].amount` |
//! | `tax_total` | Σ tax lines of lines and shipping lines |
//! | `total` | subtotal + shipping_total + Σ charges (tips, duties, fees) + tax_total (tax only when prices exclude it) |
//! | `paid` | money captured; Σ refunds ≤ paid |
//!
//! Everything is exact `Decimal` arithmetic; no rounding happens here, so a
//! total that disagrees by one cent is reported, not hidden.
//!
//! ```
//! use chrono::Utc;
//! use rust_decimal_macros::dec;
//! use seamwork::model::{Currency, FinancialStatus, Money, Order, OrderLine, Sku};
//!
//! let usd = |a| Money::new(a, Currency::USD);
//! let mut order = Order::new("1001", Currency::USD, Utc::now());
//! order.lines.push(OrderLine::new("1", Sku::new("TEE-M").unwrap(), 2, usd(dec!(19.99))));
//! order.financial_status = FinancialStatus::Paid;
//! order.totals = order.computed_totals(usd(dec!(39.98))).unwrap();
//! assert!(order.validate().is_ok());
//!
//! order.totals.total = usd(dec!(39.99));
//! let err = order.validate().unwrap_err();
//! assert!(err.to_string().contains("totals.total"));
//! assert!(err.to_string().contains("expected 39.98 USD, actual 39.99 USD"));
//! ```

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::address::Address;
use super::ids::{ExternalRef, LocationId, Sku};
use super::money::{Currency, Money, MoneyError};
use super::validation::{ValidationErrors, Validator};

/// Payment state of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FinancialStatus {
    /// Nothing authorized or paid yet.
    Pending,
    /// Payment authorized, not captured.
    Authorized,
    /// Part of the total captured.
    PartiallyPaid,
    /// The total captured.
    Paid,
    /// Part of the paid amount refunded.
    PartiallyRefunded,
    /// Everything paid was refunded.
    Refunded,
    /// Authorization voided.
    Voided,
}

/// Shipping state of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FulfillmentStatus {
    /// Nothing shipped.
    Unfulfilled,
    /// Some lines or quantities shipped.
    PartiallyFulfilled,
    /// Everything shipped.
    Fulfilled,
    /// Returned to stock.
    Restocked,
}

/// A tax charged on a line or a shipping line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxLine {
    /// Name (`CA State Tax`, `VAT 19%`).
    pub title: String,
    /// Rate as a fraction (0.0725).
    #[serde(with = "crate::model::money::decimal_serde")]
    pub rate: Decimal,
    /// Tax amount.
    pub amount: Money,
}

/// How much of one order discount landed on a line or shipping line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountAllocation {
    /// Index into [`Order::discounts`].
    pub discount: usize,
    /// The allocated amount (positive: it lowers the price).
    pub amount: Money,
}

/// What a discount applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DiscountTarget {
    /// Specific lines.
    Line,
    /// The whole order (allocated across lines).
    Order,
    /// Shipping.
    Shipping,
}

/// A discount applied to the order; its amount is spread over lines by allocations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDiscount {
    /// Discount code, when one was entered.
    #[serde(default)]
    pub code: Option<String>,
    /// Name shown to the customer.
    pub title: String,
    /// What it applies to.
    pub target: DiscountTarget,
    /// Total amount of the discount; equals the sum of its allocations.
    pub amount: Money,
}

/// One ordered SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OrderLine {
    /// Line id, unique within the order (refunds point at it).
    pub id: String,
    /// What was ordered.
    pub sku: Sku,
    /// Title at the time of ordering.
    #[serde(default)]
    pub title: String,
    /// Quantity ordered, at least 1.
    pub quantity: u32,
    /// Price of one unit before discounts.
    pub unit_price: Money,
    /// Discounts landing on this line.
    #[serde(default)]
    pub discount_allocations: Vec<DiscountAllocation>,
    /// Taxes on this line.
    #[serde(default)]
    pub tax_lines: Vec<TaxLine>,
    /// Location chosen to fulfil the line, once routed.
    #[serde(default)]
    pub fulfillment_location: Option<LocationId>,
    /// The line total the source reports (after discounts, before tax), when
    /// it reports one; `validate()` checks it against price × quantity − discounts.
    #[serde(default)]
    pub total: Option<Money>,
}

impl OrderLine {
    /// A line without discounts or taxes.
    pub fn new(id: impl Into<String>, sku: Sku, quantity: u32, unit_price: Money) -> Self {
        OrderLine {
            id: id.into(),
            sku,
            title: String::new(),
            quantity,
            unit_price,
            discount_allocations: Vec::new(),
            tax_lines: Vec::new(),
            fulfillment_location: None,
            total: None,
        }
    }

    /// unit_price × quantity, before discounts.
    pub fn gross(&self) -> Result<Money, MoneyError> {
        self.unit_price.checked_mul(Decimal::from(self.quantity))
    }

    /// Σ discount allocations on this line.
    pub fn discount(&self) -> Result<Money, MoneyError> {
        Money::sum(
            self.unit_price.currency(),
            self.discount_allocations.iter().map(|d| &d.amount),
        )
    }

    /// gross − discount.
    pub fn net(&self) -> Result<Money, MoneyError> {
        self.gross()?.checked_sub(self.discount()?)
    }

    /// Σ tax lines.
    pub fn tax(&self) -> Result<Money, MoneyError> {
        Money::sum(
            self.unit_price.currency(),
            self.tax_lines.iter().map(|t| &t.amount),
        )
    }
}

/// A shipping charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ShippingLine {
    /// Name of the method (`Standard`, `UPS Ground`).
    pub title: String,
    /// Carrier or method code, when the storefront gives one.
    #[serde(default)]
    pub code: Option<String>,
    /// Price before discounts.
    pub price: Money,
    /// Discounts landing on shipping.
    #[serde(default)]
    pub discount_allocations: Vec<DiscountAllocation>,
    /// Taxes on shipping.
    #[serde(default)]
    pub tax_lines: Vec<TaxLine>,
}

impl ShippingLine {
    /// A shipping line without discounts or taxes.
    pub fn new(title: impl Into<String>, price: Money) -> Self {
        ShippingLine {
            title: title.into(),
            code: None,
            price,
            discount_allocations: Vec::new(),
            tax_lines: Vec::new(),
        }
    }

    fn discount(&self) -> Result<Money, MoneyError> {
        Money::sum(
            self.price.currency(),
            self.discount_allocations.iter().map(|d| &d.amount),
        )
    }

    fn tax(&self) -> Result<Money, MoneyError> {
        Money::sum(
            self.price.currency(),
            self.tax_lines.iter().map(|t| &t.amount),
        )
    }
}

/// What kind of extra charge the customer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChargeKind {
    /// A tip.
    Tip,
    /// Import duties collected at checkout.
    Duty,
    /// Any other fee (payment surcharge, packaging, ...).
    Fee,
}

/// A charge beyond goods, shipping and tax that counts in the order total
/// (Shopify's `total_price` includes tips and duties).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCharge {
    /// What it is.
    pub kind: ChargeKind,
    /// Name shown to the customer.
    #[serde(default)]
    pub title: String,
    /// Amount, never negative.
    pub amount: Money,
}

/// Part of a refund that returns units of one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundLine {
    /// The [`OrderLine::id`] refunded.
    pub line_id: String,
    /// Units refunded.
    pub quantity: u32,
    /// Whether the units go back to stock.
    pub restock: bool,
    /// Money refunded for these units (including their tax).
    pub amount: Money,
}

/// Money given back to the customer, with the lines it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Refund {
    /// Refund id in its system.
    pub id: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Lines refunded (may be empty for a goodwill refund).
    #[serde(default)]
    pub lines: Vec<RefundLine>,
    /// Money actually returned.
    pub amount: Money,
    /// Reason or note.
    #[serde(default)]
    pub note: Option<String>,
}

impl Refund {
    /// A refund of `amount` without lines or note.
    pub fn new(id: impl Into<String>, created_at: DateTime<Utc>, amount: Money) -> Self {
        Refund {
            id: id.into(),
            created_at,
            lines: Vec::new(),
            amount,
            note: None,
        }
    }
}

/// The order's totals as the source system reports them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OrderTotals {
    /// Σ line net amounts (after line discounts, before shipping and tax).
    pub subtotal: Money,
    /// Σ all discount allocations.
    pub discount_total: Money,
    /// Σ shipping after shipping discounts.
    pub shipping_total: Money,
    /// Σ all tax lines.
    pub tax_total: Money,
    /// What the customer owes.
    pub total: Money,
    /// Money captured so far.
    pub paid: Money,
}

impl OrderTotals {
    /// All zero in `currency`.
    pub fn zero(currency: Currency) -> Self {
        let z = Money::zero(currency);
        OrderTotals {
            subtotal: z,
            discount_total: z,
            shipping_total: z,
            tax_total: z,
            total: z,
            paid: z,
        }
    }
}

/// An order, keyed by its number in its system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Order {
    /// Order number (`#1001`, `SO-000123`): the key.
    pub number: String,
    /// Currency of every amount in the order.
    pub currency: Currency,
    /// Whether line and shipping prices already contain their tax.
    pub taxes_included: bool,
    /// Ordered lines.
    #[serde(default)]
    pub lines: Vec<OrderLine>,
    /// Shipping charges.
    #[serde(default)]
    pub shipping_lines: Vec<ShippingLine>,
    /// Discounts applied.
    #[serde(default)]
    pub discounts: Vec<OrderDiscount>,
    /// Tips, duties and fees.
    #[serde(default)]
    pub charges: Vec<OrderCharge>,
    /// Refunds made.
    #[serde(default)]
    pub refunds: Vec<Refund>,
    /// Payment state.
    pub financial_status: FinancialStatus,
    /// Shipping state.
    pub fulfillment_status: FulfillmentStatus,
    /// Billing address.
    #[serde(default)]
    pub billing_address: Option<Address>,
    /// Shipping address.
    #[serde(default)]
    pub shipping_address: Option<Address>,
    /// The customer, as a reference into some system.
    #[serde(default)]
    pub customer: Option<ExternalRef>,
    /// Totals as reported by the source.
    pub totals: OrderTotals,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Order {
    /// An empty pending order with zero totals.
    pub fn new(number: impl Into<String>, currency: Currency, at: DateTime<Utc>) -> Self {
        Order {
            number: number.into(),
            currency,
            taxes_included: false,
            lines: Vec::new(),
            shipping_lines: Vec::new(),
            discounts: Vec::new(),
            charges: Vec::new(),
            refunds: Vec::new(),
            financial_status: FinancialStatus::Pending,
            fulfillment_status: FulfillmentStatus::Unfulfilled,
            billing_address: None,
            shipping_address: None,
            customer: None,
            totals: OrderTotals::zero(currency),
            created_at: at,
            updated_at: at,
        }
    }

    /// Totals computed from lines, shipping and taxes, with `paid` as given.
    pub fn computed_totals(&self, paid: Money) -> Result<OrderTotals, MoneyError> {
        let c = self.currency;
        let mut subtotal = Money::zero(c);
        let mut discount_total = Money::zero(c);
        let mut shipping_total = Money::zero(c);
        let mut tax_total = Money::zero(c);
        for line in &self.lines {
            subtotal = subtotal.checked_add(line.net()?)?;
            discount_total = discount_total.checked_add(line.discount()?)?;
            tax_total = tax_total.checked_add(line.tax()?)?;
        }
        for s in &self.shipping_lines {
            let d = s.discount()?;
            shipping_total = shipping_total.checked_add(s.price.checked_sub(d)?)?;
            discount_total = discount_total.checked_add(d)?;
            tax_total = tax_total.checked_add(s.tax()?)?;
        }
        let charges = Money::sum(c, self.charges.iter().map(|ch| &ch.amount))?;
        let mut total = subtotal.checked_add(shipping_total)?.checked_add(charges)?;
        if !self.taxes_included {
            total = total.checked_add(tax_total)?;
        }
        Ok(OrderTotals {
            subtotal,
            discount_total,
            shipping_total,
            tax_total,
            total,
            paid,
        })
    }

    /// Σ refund amounts.
    pub fn refunded(&self) -> Result<Money, MoneyError> {
        Money::sum(self.currency, self.refunds.iter().map(|r| &r.amount))
    }

    /// Checks every invariant and reports each one that does not hold, with
    /// expected and actual values: currencies, quantities, discount
    /// allocations, every total, refunds against what was paid and ordered,
    /// and the financial status against the money.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = Validator::new("order", &self.number);
        v.check(
            !self.number.trim().is_empty(),
            "number",
            "must not be empty",
        );
        self.check_currencies(&mut v);
        if !v.is_clean() {
            // Sums across currencies are meaningless; report what we have.
            return v.finish();
        }
        self.check_lines(&mut v);
        self.check_discounts(&mut v);
        self.check_totals(&mut v);
        self.check_refunds(&mut v);
        for (field, a) in [
            ("billing_address", &self.billing_address),
            ("shipping_address", &self.shipping_address),
        ] {
            if let Some(a) = a {
                v.nested(field, |v| a.validate_into(v));
            }
        }
        v.check_timestamps(self.created_at, self.updated_at);
        v.finish()
    }

    fn check_currencies(&self, v: &mut Validator) {
        let c = self.currency;
        let mut check = |field: std::fmt::Arguments<'_>, m: &Money| {
            v.expect_eq(
                field,
                "must be in the order currency",
                c.code(),
                m.currency().code(),
            );
        };
        for (i, l) in self.lines.iter().enumerate() {
            check(format_args!("lines[{i}].unit_price"), &l.unit_price);
            for (j, d) in l.discount_allocations.iter().enumerate() {
                check(
                    format_args!("lines[{i}].discount_allocations[{j}].amount"),
                    &d.amount,
                );
            }
            for (j, t) in l.tax_lines.iter().enumerate() {
                check(format_args!("lines[{i}].tax_lines[{j}].amount"), &t.amount);
            }
        }
        for (i, s) in self.shipping_lines.iter().enumerate() {
            check(format_args!("shipping_lines[{i}].price"), &s.price);
            for (j, d) in s.discount_allocations.iter().enumerate() {
                check(
                    format_args!("shipping_lines[{i}].discount_allocations[{j}].amount"),
                    &d.amount,
                );
            }
            for (j, t) in s.tax_lines.iter().enumerate() {
                check(
                    format_args!("shipping_lines[{i}].tax_lines[{j}].amount"),
                    &t.amount,
                );
            }
        }
        for (i, d) in self.discounts.iter().enumerate() {
            check(format_args!("discounts[{i}].amount"), &d.amount);
        }
        for (i, ch) in self.charges.iter().enumerate() {
            check(format_args!("charges[{i}].amount"), &ch.amount);
        }
        for (i, r) in self.refunds.iter().enumerate() {
            check(format_args!("refunds[{i}].amount"), &r.amount);
            for (j, l) in r.lines.iter().enumerate() {
                check(format_args!("refunds[{i}].lines[{j}].amount"), &l.amount);
            }
        }
        let t = &self.totals;
        for (name, m) in [
            ("subtotal", &t.subtotal),
            ("discount_total", &t.discount_total),
            ("shipping_total", &t.shipping_total),
            ("tax_total", &t.tax_total),
            ("total", &t.total),
            ("paid", &t.paid),
        ] {
            check(format_args!("totals.{name}"), m);
        }
    }

    fn check_lines(&self, v: &mut Validator) {
        let mut ids = HashSet::new();
        for (i, l) in self.lines.iter().enumerate() {
            v.nested(format_args!("lines[{i}]"), |v| {
                v.check_value(
                    ids.insert(l.id.as_str()),
                    "id",
                    "must be unique within the order",
                    &l.id,
                );
                v.check_value(l.quantity > 0, "quantity", "must be at least 1", l.quantity);
                v.check_value(
                    !l.unit_price.is_negative(),
                    "unit_price",
                    "must not be negative",
                    l.unit_price,
                );
                check_allocations(v, &l.discount_allocations, &self.discounts, false);
                if let (Ok(gross), Ok(discount)) = (l.gross(), l.discount()) {
                    check_not_above(
                        v,
                        "discount_allocations",
                        "must not exceed the line's gross amount",
                        discount,
                        gross,
                    );
                }
                if let (Some(reported), Ok(net)) = (l.total, l.net()) {
                    v.expect_eq(
                        "total",
                        "must equal unit_price × quantity − discounts",
                        &net,
                        &reported,
                    );
                }
                check_tax_lines(v, &l.tax_lines);
            });
        }
        for (i, ch) in self.charges.iter().enumerate() {
            v.check_value(
                !ch.amount.is_negative(),
                format_args!("charges[{i}].amount"),
                "must not be negative",
                ch.amount,
            );
        }
        for (i, s) in self.shipping_lines.iter().enumerate() {
            v.nested(format_args!("shipping_lines[{i}]"), |v| {
                v.check_value(
                    !s.price.is_negative(),
                    "price",
                    "must not be negative",
                    s.price,
                );
                check_allocations(v, &s.discount_allocations, &self.discounts, true);
                if let Ok(discount) = s.discount() {
                    check_not_above(
                        v,
                        "discount_allocations",
                        "must not exceed the shipping price",
                        discount,
                        s.price,
                    );
                }
                check_tax_lines(v, &s.tax_lines);
            });
        }
    }

    fn check_discounts(&self, v: &mut Validator) {
        let mut allocated: Vec<Money> = vec![Money::zero(self.currency); self.discounts.len()];
        let all_allocations = self
            .lines
            .iter()
            .flat_map(|l| &l.discount_allocations)
            .chain(
                self.shipping_lines
                    .iter()
                    .flat_map(|s| &s.discount_allocations),
            );
        for a in all_allocations {
            if let Some(slot) = allocated.get_mut(a.discount)
                && let Ok(sum) = slot.checked_add(a.amount)
            {
                *slot = sum;
            }
        }
        for (i, (d, sum)) in self.discounts.iter().zip(&allocated).enumerate() {
            v.check_value(
                !d.amount.is_negative(),
                format_args!("discounts[{i}].amount"),
                "must not be negative",
                d.amount,
            );
            v.expect_eq(
                format_args!("discounts[{i}].amount"),
                "must equal the sum of its allocations",
                sum,
                &d.amount,
            );
        }
    }

    fn check_totals(&self, v: &mut Validator) {
        let computed = match self.computed_totals(self.totals.paid) {
            Ok(t) => t,
            Err(e) => {
                v.push("totals", "could not be computed", None, Some(e.to_string()));
                return;
            }
        };
        let t = &self.totals;
        v.expect_eq(
            "totals.subtotal",
            "must equal Σ line (unit_price × quantity − discounts)",
            &computed.subtotal,
            &t.subtotal,
        );
        v.expect_eq(
            "totals.discount_total",
            "must equal Σ discount allocations",
            &computed.discount_total,
            &t.discount_total,
        );
        v.expect_eq(
            "totals.shipping_total",
            "must equal Σ shipping (price − discounts)",
            &computed.shipping_total,
            &t.shipping_total,
        );
        v.expect_eq(
            "totals.tax_total",
            "must equal Σ tax lines",
            &computed.tax_total,
            &t.tax_total,
        );
        let rule = if self.taxes_included {
            "must equal subtotal + shipping_total + charges (taxes included)"
        } else {
            "must equal subtotal + shipping_total + charges + tax_total"
        };
        v.expect_eq("totals.total", rule, &computed.total, &t.total);
        v.check_value(
            !t.paid.is_negative(),
            "totals.paid",
            "must not be negative",
            t.paid,
        );
    }

    fn check_refunds(&self, v: &mut Validator) {
        let ordered: HashMap<&str, &OrderLine> =
            self.lines.iter().map(|l| (l.id.as_str(), l)).collect();
        let mut refunded_qty: HashMap<&str, u64> = HashMap::new();
        for (i, r) in self.refunds.iter().enumerate() {
            v.nested(format_args!("refunds[{i}]"), |v| {
                v.check_value(
                    !r.amount.is_negative(),
                    "amount",
                    "must not be negative",
                    r.amount,
                );
                for (j, rl) in r.lines.iter().enumerate() {
                    let line = ordered.get(rl.line_id.as_str());
                    v.check_value(
                        line.is_some(),
                        format_args!("lines[{j}].line_id"),
                        "must name a line of the order",
                        &rl.line_id,
                    );
                    // What the whole line cost, tax included, bounds any refund of it.
                    let cost =
                        line.and_then(|l| l.net().and_then(|n| n.checked_add(l.tax()?)).ok());
                    if let Some(cost) = cost {
                        check_not_above(
                            v,
                            &format!("lines[{j}].amount"),
                            "must not exceed what the line cost (net + tax)",
                            rl.amount,
                            cost,
                        );
                    }
                    v.check_value(
                        rl.quantity > 0,
                        format_args!("lines[{j}].quantity"),
                        "must be at least 1",
                        rl.quantity,
                    );
                    *refunded_qty.entry(rl.line_id.as_str()).or_default() += u64::from(rl.quantity);
                }
            });
        }
        for l in &self.lines {
            if let Some(q) = refunded_qty.get(l.id.as_str()) {
                v.check_value(
                    *q <= u64::from(l.quantity),
                    format_args!("refunds[line_id={}]", l.id),
                    "refunded quantity must not exceed the ordered quantity",
                    format_args!("{q} > {}", l.quantity),
                );
            }
        }
        let Ok(refunded) = self.refunded() else {
            return;
        };
        let paid = self.totals.paid;
        v.check_value(
            refunded.checked_cmp(&paid).is_ok_and(|o| o.is_le()),
            "refunds",
            "refunded amount must not exceed the amount paid",
            format_args!("{refunded} > {paid}"),
        );
        self.check_financial_status(v, refunded, paid);
    }

    fn check_financial_status(&self, v: &mut Validator, refunded: Money, paid: Money) {
        use FinancialStatus::*;
        let total = self.totals.total;
        let positive = |m: &Money| m.is_positive();
        let lt = |a: &Money, b: &Money| a.checked_cmp(b).is_ok_and(|o| o.is_lt());
        let (ok, rule) = match self.financial_status {
            Pending | Authorized | Voided => (paid.is_zero(), "nothing may be paid"),
            PartiallyPaid => (positive(&paid) && lt(&paid, &total), "0 < paid < total"),
            Paid => (
                paid == total && refunded.is_zero(),
                "paid = total and nothing refunded",
            ),
            PartiallyRefunded => (
                positive(&refunded) && lt(&refunded, &paid),
                "0 < refunded < paid",
            ),
            Refunded => (positive(&paid) && refunded == paid, "refunded = paid > 0"),
        };
        if !ok {
            v.push(
                "financial_status",
                &format!("{:?} requires {rule}", self.financial_status),
                None,
                Some(format!("paid {paid}, refunded {refunded}, total {total}")),
            );
        }
    }
}

/// Checks allocations on a line (`on_shipping == false`) or a shipping line:
/// each must point at a discount whose target fits where it landed.
fn check_allocations(
    v: &mut Validator,
    allocations: &[DiscountAllocation],
    discounts: &[OrderDiscount],
    on_shipping: bool,
) {
    for (j, a) in allocations.iter().enumerate() {
        match discounts.get(a.discount) {
            None => v.push(
                format_args!("discount_allocations[{j}].discount"),
                "must point at an order discount",
                None,
                Some(a.discount.to_string()),
            ),
            Some(d) => v.check_value(
                (d.target == DiscountTarget::Shipping) == on_shipping,
                format_args!("discount_allocations[{j}].discount"),
                if on_shipping {
                    "a shipping line may only carry shipping discounts"
                } else {
                    "an order line may not carry a shipping discount"
                },
                format_args!("discount #{} targets {:?}", a.discount, d.target),
            ),
        }
        v.check_value(
            !a.amount.is_negative(),
            format_args!("discount_allocations[{j}].amount"),
            "must not be negative",
            a.amount,
        );
    }
}

/// Records a violation unless `amount ≤ limit`.
fn check_not_above(v: &mut Validator, field: &str, rule: &str, amount: Money, limit: Money) {
    v.check_value(
        amount.checked_cmp(&limit).is_ok_and(|o| o.is_le()),
        field,
        rule,
        format_args!("{amount} > {limit}"),
    );
}

fn check_tax_lines(v: &mut Validator, tax_lines: &[TaxLine]) {
    for (j, t) in tax_lines.iter().enumerate() {
        v.check_value(
            !t.rate.is_sign_negative() || t.rate.is_zero(),
            format_args!("tax_lines[{j}].rate"),
            "must not be negative",
            t.rate,
        );
        v.check_value(
            !t.amount.is_negative(),
            format_args!("tax_lines[{j}].amount"),
            "must not be negative",
            t.amount,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn usd(a: Decimal) -> Money {
        Money::new(a, Currency::USD)
    }

    /// Two lines, a 10% order discount allocated across them, shipping, tax, paid in full.
    fn sample() -> Order {
        let mut o = Order::new("1001", Currency::USD, Utc::now());
        o.discounts.push(OrderDiscount {
            code: Some("TEN".into()),
            title: "10% off".into(),
            target: DiscountTarget::Order,
            amount: usd(dec!(5.00)),
        });
        let mut a = OrderLine::new("1", Sku::new("A").unwrap(), 2, usd(dec!(10.00)));
        a.discount_allocations.push(DiscountAllocation {
            discount: 0,
            amount: usd(dec!(2.00)),
        });
        a.tax_lines.push(TaxLine {
            title: "tax".into(),
            rate: dec!(0.1),
            amount: usd(dec!(1.80)),
        });
        let mut b = OrderLine::new("2", Sku::new("B").unwrap(), 1, usd(dec!(30.00)));
        b.discount_allocations.push(DiscountAllocation {
            discount: 0,
            amount: usd(dec!(3.00)),
        });
        b.tax_lines.push(TaxLine {
            title: "tax".into(),
            rate: dec!(0.1),
            amount: usd(dec!(2.70)),
        });
        o.lines = vec![a, b];
        o.shipping_lines
            .push(ShippingLine::new("Standard", usd(dec!(4.99))));
        o.financial_status = FinancialStatus::Paid;
        let computed = o.computed_totals(usd(dec!(0))).unwrap();
        o.totals = o.computed_totals(computed.total).unwrap();
        o
    }

    #[test]
    fn sample_is_valid_and_totals_add_up() {
        let o = sample();
        o.validate().unwrap();
        assert_eq!(o.totals.subtotal, usd(dec!(45.00)));
        assert_eq!(o.totals.discount_total, usd(dec!(5.00)));
        assert_eq!(o.totals.tax_total, usd(dec!(4.50)));
        assert_eq!(o.totals.total, usd(dec!(54.49)));
    }

    #[test]
    fn every_broken_total_is_reported_with_values() {
        let mut o = sample();
        o.totals.subtotal = usd(dec!(45.01));
        o.totals.tax_total = usd(dec!(4.49));
        o.totals.discount_total = usd(dec!(0));
        let e = o.validate().unwrap_err();
        assert!(e.has_field("totals.subtotal"));
        assert!(e.has_field("totals.tax_total"));
        assert!(e.has_field("totals.discount_total"));
        let sub = e.violation("totals.subtotal").unwrap();
        assert_eq!(sub.expected.as_deref(), Some("45.00 USD"));
        assert_eq!(sub.actual.as_deref(), Some("45.01 USD"));
    }

    #[test]
    fn refunds_cannot_exceed_paid_or_ordered() {
        let mut o = sample();
        o.financial_status = FinancialStatus::PartiallyRefunded;
        o.refunds.push(Refund {
            id: "r1".into(),
            created_at: Utc::now(),
            lines: vec![RefundLine {
                line_id: "1".into(),
                quantity: 3,
                restock: true,
                amount: usd(dec!(20)),
            }],
            amount: usd(dec!(60.00)),
            note: None,
        });
        let e = o.validate().unwrap_err();
        assert!(e.has_field("refunds"), "{e}");
        assert!(e.has_field("refunds[line_id=1]"), "{e}");
        assert!(e.has_field("financial_status"), "{e}");
    }

    #[test]
    fn discount_allocations_must_match_discount() {
        let mut o = sample();
        o.discounts[0].amount = usd(dec!(6.00));
        let e = o.validate().unwrap_err();
        let d = e.violation("discounts[0].amount").unwrap();
        assert_eq!(d.expected.as_deref(), Some("5.00 USD"));
    }

    #[test]
    fn mixed_currency_is_reported_not_summed() {
        let mut o = sample();
        o.lines[1].unit_price = Money::new(dec!(30), Currency::EUR);
        let e = o.validate().unwrap_err();
        assert!(e.has_field("lines[1].unit_price"));
        assert_eq!(e.violations.len(), 1);
    }

    #[test]
    fn taxes_included_excludes_tax_from_total() {
        let mut o = sample();
        o.taxes_included = true;
        let e = o.validate().unwrap_err();
        let t = e.violation("totals.total").unwrap();
        assert_eq!(t.expected.as_deref(), Some("49.99 USD"));
    }

    #[test]
    fn shipping_discounts_are_bounded_and_targeted() {
        let mut o = sample();
        o.discounts.push(OrderDiscount {
            code: None,
            title: "free shipping+".into(),
            target: DiscountTarget::Shipping,
            amount: usd(dec!(8.00)),
        });
        o.shipping_lines[0]
            .discount_allocations
            .push(DiscountAllocation {
                discount: 1,
                amount: usd(dec!(8.00)),
            });
        // A line discount landing on shipping is wrong too.
        o.shipping_lines[0]
            .discount_allocations
            .push(DiscountAllocation {
                discount: 0,
                amount: usd(dec!(0)),
            });
        o.totals = o.computed_totals(o.totals.paid).unwrap();
        let e = o.validate().unwrap_err();
        assert!(e.has_field("shipping_lines[0].discount_allocations"), "{e}");
        assert!(
            e.has_field("shipping_lines[0].discount_allocations[1].discount"),
            "{e}"
        );
    }

    #[test]
    fn charges_count_in_the_total() {
        let mut o = sample();
        o.charges.push(OrderCharge {
            kind: ChargeKind::Tip,
            title: "Tip".into(),
            amount: usd(dec!(3.00)),
        });
        let e = o.validate().unwrap_err();
        let t = e.violation("totals.total").unwrap();
        assert_eq!(t.expected.as_deref(), Some("57.49 USD"));
        let paid = o.computed_totals(usd(dec!(0))).unwrap().total;
        o.totals = o.computed_totals(paid).unwrap();
        o.validate().unwrap();
    }

    #[test]
    fn reported_line_totals_are_checked() {
        let mut o = sample();
        o.lines[0].total = Some(usd(dec!(18.00)));
        o.validate().unwrap();
        o.lines[0].total = Some(usd(dec!(20.00)));
        let e = o.validate().unwrap_err();
        let v = e.violation("lines[0].total").unwrap();
        assert_eq!(v.expected.as_deref(), Some("18.00 USD"));
    }

    #[test]
    fn a_refund_line_cannot_return_more_than_the_line_cost() {
        let mut o = sample();
        o.financial_status = FinancialStatus::PartiallyRefunded;
        let mut r = Refund::new("r1", Utc::now(), usd(dec!(10.00)));
        r.lines.push(RefundLine {
            line_id: "1".into(),
            quantity: 1,
            restock: false,
            amount: usd(dec!(500.00)),
        });
        o.refunds.push(r);
        let e = o.validate().unwrap_err();
        assert!(e.has_field("refunds[0].lines[0].amount"), "{e}");
    }
}
