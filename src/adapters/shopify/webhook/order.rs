//! `orders/*` payloads (REST JSON) → canonical [`Order`].
//!
//! | canonical | Shopify REST field |
//! |---|---|
//! | `number` (the key) | `name` (`#1001`, as the merchant sees it; GraphQL `Order.name`) |
//! | `currency` | `currency` (shop currency; every amount below is in it) |
//! | `lines[]` | `line_items[]`: `id`, `sku`, `title`, `quantity`, `price`, `discount_allocations`, `tax_lines` |
//! | `discounts[i]` | `discount_applications[i]`; amount = Σ allocations pointing at `i` |
//! | `shipping_lines[]` | `shipping_lines[]`: `title`, `code`, `price`, `discount_allocations`, `tax_lines` |
//! | `charges` | `total_tip_received` (tip), `original_total_duties_set` (duties), when not zero |
//! | `refunds[]` | `refunds[]`: lines from `refund_line_items` (amount = `subtotal` + `total_tax`), amount = Σ successful `refund` transactions |
//! | `totals` | `subtotal_price`, `total_discounts`, Σ shipping after its discounts, `total_tax`, `total_price`, paid = `total_price` − `total_outstanding` |
//! | `customer` | `customer.admin_graphql_api_id` |

use rust_decimal::Decimal;

use super::json::Node;
use crate::error::Result;
use crate::model::{
    Address, ChargeKind, Currency, DiscountAllocation, DiscountTarget, ExternalRef,
    FinancialStatus, FulfillmentStatus, Money, Order, OrderCharge, OrderDiscount, OrderLine,
    OrderTotals, Refund, RefundLine, ShippingLine, Sku, SystemId, TaxLine,
};

/// Builds the order from the payload root.
pub(crate) fn order(root: &Node<'_>, system: &SystemId) -> Result<Order> {
    let number = root.get("name").text()?.to_string();
    let currency = root.get("currency").currency()?;
    let created_at = root.get("created_at").time()?;
    let mut order = Order::new(number, currency, created_at);
    order.updated_at = root.get("updated_at").time()?;
    order.taxes_included = root.get("taxes_included").bool_or(false)?;

    let applications = root.get("discount_applications").items()?;
    let mut discount_amounts = vec![Money::zero(currency); applications.len()];

    for node in root.get("line_items").items()? {
        let mut line = OrderLine::new(
            node.get("id").id()?.to_string(),
            sku(&node.get("sku"))?,
            node.get("quantity").count()?,
            node.get("price").money(currency)?,
        );
        line.title = node.get("title").opt_str()?.unwrap_or("").to_string();
        line.discount_allocations = allocations(&node, currency, &mut discount_amounts)?;
        line.tax_lines = tax_lines(&node.get("tax_lines"), currency)?;
        order.lines.push(line);
    }
    for node in root.get("shipping_lines").items()? {
        let mut shipping = ShippingLine::new(
            node.get("title").opt_str()?.unwrap_or(""),
            node.get("price").money(currency)?,
        );
        shipping.code = node.get("code").opt_text()?;
        shipping.discount_allocations = allocations(&node, currency, &mut discount_amounts)?;
        shipping.tax_lines = tax_lines(&node.get("tax_lines"), currency)?;
        order.shipping_lines.push(shipping);
    }
    for (node, amount) in applications.iter().zip(discount_amounts) {
        order.discounts.push(discount(node, amount)?);
    }
    order.charges = charges(root, currency)?;
    for node in root.get("refunds").items()? {
        order.refunds.push(refund(&node, currency)?);
    }
    order.financial_status = financial_status(&root.get("financial_status"))?;
    order.fulfillment_status = fulfillment_status(&root.get("fulfillment_status"))?;
    order.billing_address = address(&root.get("billing_address"))?;
    order.shipping_address = address(&root.get("shipping_address"))?;
    let customer = root.get("customer");
    if !customer.is_null() {
        order.customer = Some(
            ExternalRef::try_new(system.as_str(), customer.gid("Customer")?)
                .map_err(|e| customer.bad(e.message()))?,
        );
    }
    order.totals = totals(root, &order)?;
    Ok(order)
}

fn sku(node: &Node<'_>) -> Result<Sku> {
    let text = node
        .opt_str()?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| node.bad("is missing or empty: every canonical line needs a SKU"))?;
    Sku::new(text).map_err(|e| node.bad(e.message()))
}

/// The `discount_allocations` of a line or shipping line, adding each
/// allocated amount to its discount application's total.
fn allocations(
    owner: &Node<'_>,
    currency: Currency,
    totals: &mut [Money],
) -> Result<Vec<DiscountAllocation>> {
    let mut out = Vec::new();
    for node in owner.get("discount_allocations").items()? {
        let amount = node.get("amount").money(currency)?;
        let index_node = node.get("discount_application_index");
        let index = index_node.count()? as usize;
        let known = totals.len();
        let total = totals.get_mut(index).ok_or_else(|| {
            index_node.bad(format_args!(
                "points at discount application {index}, but the order has {known}"
            ))
        })?;
        *total = total
            .checked_add(amount)
            .map_err(|e| node.get("amount").bad(e))?;
        out.push(DiscountAllocation {
            discount: index,
            amount,
        });
    }
    Ok(out)
}

fn tax_lines(node: &Node<'_>, currency: Currency) -> Result<Vec<TaxLine>> {
    node.items()?
        .iter()
        .map(|t| {
            Ok(TaxLine {
                title: t.get("title").opt_str()?.unwrap_or("").to_string(),
                rate: t.get("rate").opt_plain_decimal()?.unwrap_or(Decimal::ZERO),
                amount: t.get("price").money(currency)?,
            })
        })
        .collect()
}

fn discount(node: &Node<'_>, amount: Money) -> Result<OrderDiscount> {
    let code = match node.get("type").opt_str()? {
        Some("discount_code") => node.get("code").opt_text()?,
        _ => None,
    };
    let title = [node.get("title"), node.get("code"), node.get("description")]
        .iter()
        .map(|n| n.opt_text())
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .next()
        .unwrap_or_default();
    let target_type = node.get("target_type");
    let target = match target_type.opt_str()? {
        Some("shipping_line") => DiscountTarget::Shipping,
        Some("line_item") | None => {
            let across_all = node.get("allocation_method").opt_str()? == Some("across")
                && node.get("target_selection").opt_str()? == Some("all");
            if across_all {
                DiscountTarget::Order
            } else {
                DiscountTarget::Line
            }
        }
        Some(other) => {
            return Err(target_type.bad(format_args!(
                "{other:?} is not a known target (line_item, shipping_line)"
            )));
        }
    };
    Ok(OrderDiscount {
        code,
        title,
        target,
        amount,
    })
}

fn charges(root: &Node<'_>, currency: Currency) -> Result<Vec<OrderCharge>> {
    let mut out = Vec::new();
    let tip = root.get("total_tip_received").money_or_zero(currency)?;
    if !tip.is_zero() {
        out.push(OrderCharge {
            kind: ChargeKind::Tip,
            title: "Tip".to_string(),
            amount: tip,
        });
    }
    let duties = root
        .get("original_total_duties_set")
        .get("shop_money")
        .get("amount")
        .money_or_zero(currency)?;
    if !duties.is_zero() {
        out.push(OrderCharge {
            kind: ChargeKind::Duty,
            title: "Duties".to_string(),
            amount: duties,
        });
    }
    Ok(out)
}

fn refund(node: &Node<'_>, currency: Currency) -> Result<Refund> {
    let mut refund = Refund::new(
        node.get("id").id()?.to_string(),
        node.get("created_at").time()?,
        Money::zero(currency),
    );
    refund.note = node.get("note").opt_text()?;
    for line in node.get("refund_line_items").items()? {
        let subtotal = line.get("subtotal").money_or_zero(currency)?;
        let tax = line.get("total_tax").money_or_zero(currency)?;
        let restock = match line.get("restock_type").opt_str()? {
            Some("no_restock") => false,
            Some(_) => true,
            None => line.get("restock").bool_or(false)?,
        };
        refund.lines.push(RefundLine {
            line_id: line.get("line_item_id").id()?.to_string(),
            quantity: line.get("quantity").count()?,
            restock,
            amount: subtotal.checked_add(tax).map_err(|e| line.bad(e))?,
        });
    }
    for t in node.get("transactions").items()? {
        let is_refund = t.get("kind").opt_str()? == Some("refund");
        let succeeded = t.get("status").opt_str()? == Some("success");
        if is_refund && succeeded {
            // Transactions are in the currency the customer paid in; on a
            // multi-currency order that is not the shop's: refuse rather
            // than book euros as dollars.
            let paid_in = t.get("currency");
            if let Some(code) = paid_in.opt_str()?
                && !code.eq_ignore_ascii_case(currency.code())
            {
                return Err(paid_in.bad(format_args!(
                    "refund transaction in {code}, but the order's amounts are in {}; \
                     presentment-currency refunds are not mapped",
                    currency.code()
                )));
            }
            let amount = t.get("amount").money(currency)?;
            refund.amount = refund.amount.checked_add(amount).map_err(|e| t.bad(e))?;
        }
    }
    Ok(refund)
}

fn financial_status(node: &Node<'_>) -> Result<FinancialStatus> {
    Ok(match node.opt_str()? {
        None | Some("pending") => FinancialStatus::Pending,
        Some("authorized") => FinancialStatus::Authorized,
        Some("partially_paid") => FinancialStatus::PartiallyPaid,
        Some("paid") => FinancialStatus::Paid,
        Some("partially_refunded") => FinancialStatus::PartiallyRefunded,
        Some("refunded") => FinancialStatus::Refunded,
        // An expired authorization can no longer be captured: like a void.
        Some("voided") | Some("expired") => FinancialStatus::Voided,
        Some(other) => {
            return Err(node.bad(format_args!("{other:?} is not a known financial status")));
        }
    })
}

fn fulfillment_status(node: &Node<'_>) -> Result<FulfillmentStatus> {
    Ok(match node.opt_str()? {
        None | Some("unfulfilled") => FulfillmentStatus::Unfulfilled,
        Some("partial") => FulfillmentStatus::PartiallyFulfilled,
        Some("fulfilled") => FulfillmentStatus::Fulfilled,
        Some("restocked") => FulfillmentStatus::Restocked,
        Some(other) => {
            return Err(node.bad(format_args!("{other:?} is not a known fulfillment status")));
        }
    })
}

/// A REST address object (`address1`, `city`, `province_code`, `zip`,
/// `country_code`, ...); `None` when absent or `null`.
pub(crate) fn address(node: &Node<'_>) -> Result<Option<Address>> {
    if node.is_null() {
        return Ok(None);
    }
    let mut a = Address::new(
        node.get("address1").opt_str()?.unwrap_or(""),
        node.get("city").opt_str()?.unwrap_or(""),
        node.get("country_code").opt_str()?.unwrap_or(""),
    );
    a.name = match node.get("name").opt_text()? {
        Some(name) => Some(name),
        None => {
            let parts = [
                node.get("first_name").opt_text()?,
                node.get("last_name").opt_text()?,
            ];
            let joined: Vec<String> = parts.into_iter().flatten().collect();
            (!joined.is_empty()).then(|| joined.join(" "))
        }
    };
    a.company = node.get("company").opt_text()?;
    a.line2 = node.get("address2").opt_text()?;
    a.region = node.get("province_code").opt_text()?;
    a.postcode = node.get("zip").opt_text()?;
    a.phone = node.get("phone").opt_text()?;
    Ok(Some(a))
}

fn totals(root: &Node<'_>, order: &Order) -> Result<OrderTotals> {
    let c = order.currency;
    let mut shipping_total = Money::zero(c);
    for (i, s) in order.shipping_lines.iter().enumerate() {
        let discount = Money::sum(c, s.discount_allocations.iter().map(|d| &d.amount))
            .and_then(|d| s.price.checked_sub(d))
            .and_then(|net| shipping_total.checked_add(net));
        shipping_total = discount.map_err(|e| {
            root.get("shipping_lines")
                .bad(format_args!("[{i}] does not add up: {e}"))
        })?;
    }
    let total = root.get("total_price").money(c)?;
    let outstanding = root.get("total_outstanding").money_or_zero(c)?;
    Ok(OrderTotals {
        subtotal: root.get("subtotal_price").money(c)?,
        discount_total: root.get("total_discounts").money_or_zero(c)?,
        shipping_total,
        tax_total: root.get("total_tax").money_or_zero(c)?,
        total,
        paid: total
            .checked_sub(outstanding)
            .map_err(|e| root.get("total_outstanding").bad(e))?,
    })
}
