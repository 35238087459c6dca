//! WooCommerce webhooks: `X-WC-Webhook-Signature` (base64 HMAC-SHA256 of the
//! raw body) checked by the shared [`verify_signature`], deliveries
//! deduplicated by `X-WC-Webhook-Delivery-ID` through the shared
//! [`WebhookIntake`], and topics (`X-WC-Webhook-Topic`) parsed with the same
//! mapping as the REST reads, so a webhook's record equals the poll's.
//!
//! | topic | queued as |
//! |---|---|
//! | `order.created`, `order.updated`, `order.restored` | [`Order`] |
//! | `product.created`, `product.updated`, `product.restored` | [`Variant`] for a priced simple product or variation, [`InventoryLevel`] when the item tracks stock |
//! | `customer.created`, `customer.updated` | [`Customer`] |
//! | `*.deleted`, a product that is neither (a variable parent), the creation ping, other topics | acknowledged, [`WooIntake::Ignored`] with the reason |
//!
//! A variable product's own webhook is ignored: its variations arrive as
//! webhooks of their own. A variation's product handle is its parent's slug,
//! learnt by catalogue reads of the same [`WooCommerce`]; before the parent
//! was read it is `wc-<parent id>` (the engine then sees a different
//! fingerprint and writes once more, harmlessly).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::WooCommerce;
use super::wire::{self, WireContext};
use crate::connector::Record;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Customer, ExternalRef, InventoryLevel, Order, Variant};
use crate::store::StateStore;
use crate::sync::{
    Intake, SignatureEncoding, WebhookDelivery, WebhookIntake, WebhookSecret, verify_signature,
};

/// One WooCommerce delivery as it arrived over HTTP.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct WooDelivery<'a> {
    /// `X-WC-Webhook-Topic` (`order.updated`); empty when absent.
    pub topic: &'a str,
    /// `X-WC-Webhook-Delivery-ID`.
    pub delivery_id: &'a str,
    /// `X-WC-Webhook-Signature`.
    pub signature: &'a str,
    /// The raw body, exactly as received.
    pub body: &'a [u8],
}

impl<'a> WooDelivery<'a> {
    /// A delivery from its headers and raw body.
    pub fn new(topic: &'a str, delivery_id: &'a str, signature: &'a str, body: &'a [u8]) -> Self {
        WooDelivery {
            topic,
            delivery_id,
            signature,
            body,
        }
    }
}

/// What happened to a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WooIntake {
    /// Verified, new, queued (answer 200).
    Queued,
    /// Already taken in (answer 200 so WooCommerce stops).
    Duplicate,
    /// Verified (or a ping) but nothing to sync; the reason says why (answer 200).
    Ignored(String),
}

impl From<Intake> for WooIntake {
    fn from(i: Intake) -> Self {
        match i {
            Intake::Duplicate => WooIntake::Duplicate,
            _ => WooIntake::Queued,
        }
    }
}

/// Parent product id → slug.
type Slugs = Arc<RwLock<HashMap<u64, String>>>;

/// The order a webhook body describes, as the REST read builds it.
pub fn order_record(body: &[u8], ctx: &WireContext) -> Result<Record<Order>> {
    let o = wire::parse_order(body)?;
    let cursor = o.cursor()?;
    let order = wire::to_order(&o, ctx)?;
    Ok(Record::new(
        order,
        ExternalRef::try_new(ctx.system.as_str(), o.id.to_string())?,
        cursor.encode(),
        cursor.at,
    ))
}

/// The customer a webhook body describes, as the REST read builds it.
pub fn customer_record(body: &[u8], ctx: &WireContext) -> Result<Record<Customer>> {
    let c = wire::parse_customer(body)?;
    let cursor = c.cursor()?;
    let customer = wire::to_customer(&c, ctx)?;
    Ok(Record::new(
        customer,
        ExternalRef::try_new(ctx.system.as_str(), c.id.to_string())?,
        cursor.encode(),
        cursor.at,
    ))
}

fn parent_handle(item: &wire::WcProduct, slugs: &Slugs) -> String {
    if !item.is_variation() {
        return item.handle();
    }
    slugs
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&item.parent_id)
        .cloned()
        .unwrap_or_else(|| format!("wc-{}", item.parent_id))
}

/// The variant a product webhook body describes; `Ok(None)` for a variable
/// product (its variations come as their own webhooks), a grouped one, or
/// an item without a regular price (not a variant yet).
pub fn variant_record(
    body: &[u8],
    ctx: &WireContext,
    slugs: &Slugs,
) -> Result<Option<Record<Variant>>> {
    let p = wire::parse_product(body)?;
    if p.is_variable() || p.kind.as_deref() == Some("grouped") || !p.is_priced() {
        return Ok(None);
    }
    let cursor = p.cursor()?;
    let variant = wire::to_variant(&p, None, &parent_handle(&p, slugs), ctx)?;
    Ok(Some(Record::new(
        variant,
        ExternalRef::try_new(ctx.system.as_str(), p.id.to_string())?,
        cursor.encode(),
        cursor.at,
    )))
}

/// The stock level a product webhook body describes; `Ok(None)` when the item does not track stock.
pub fn level_record(body: &[u8], ctx: &WireContext) -> Result<Option<Record<InventoryLevel>>> {
    let p = wire::parse_product(body)?;
    let Some(level) = wire::to_level(&p, ctx)? else {
        return Ok(None);
    };
    let cursor = p.cursor()?;
    Ok(Some(Record::new(
        level,
        ExternalRef::try_new(ctx.system.as_str(), p.id.to_string())?,
        cursor.encode(),
        cursor.at,
    )))
}

/// The intakes of one store's webhooks: orders, variants, stock levels and
/// customers, each queued for its own flow.
pub struct WooWebhooks {
    secret: WebhookSecret,
    ctx: WireContext,
    slugs: Slugs,
    orders: WebhookIntake<Order>,
    variants: WebhookIntake<Variant>,
    levels: WebhookIntake<InventoryLevel>,
    customers: WebhookIntake<Customer>,
}

impl std::fmt::Debug for WooWebhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WooWebhooks")
            .field("secret", &self.secret)
            .field("system", &self.ctx.system)
            .finish_non_exhaustive()
    }
}

fn missing(what: &str) -> Error {
    Error::new(
        ErrorKind::Unexpected,
        format!("the {what} parser was called for a body it declined"),
    )
}

impl WooWebhooks {
    /// Intakes for `store`'s webhooks signed with `secret`; the flows are
    /// named `<flow_prefix>.orders`, `.variants`, `.inventory` and
    /// `.customers`; delivery ids are remembered in `state` for `remember_for`.
    pub fn new(
        store: &WooCommerce,
        flow_prefix: &str,
        secret: WebhookSecret,
        state: Arc<dyn StateStore>,
        remember_for: Duration,
    ) -> Self {
        let ctx = store.context().clone();
        let slugs = store.slugs();
        let (c1, c2, c3, c4) = (ctx.clone(), ctx.clone(), ctx.clone(), ctx.clone());
        let s2 = slugs.clone();
        let intake = |name: &str| format!("{flow_prefix}.{name}");
        WooWebhooks {
            orders: WebhookIntake::new(
                intake("orders"),
                secret.clone(),
                SignatureEncoding::Base64,
                state.clone(),
                remember_for,
                move |b| order_record(b, &c1),
            ),
            variants: WebhookIntake::new(
                intake("variants"),
                secret.clone(),
                SignatureEncoding::Base64,
                state.clone(),
                remember_for,
                move |b| variant_record(b, &c2, &s2)?.ok_or_else(|| missing("variant")),
            ),
            levels: WebhookIntake::new(
                intake("inventory"),
                secret.clone(),
                SignatureEncoding::Base64,
                state.clone(),
                remember_for,
                move |b| level_record(b, &c3)?.ok_or_else(|| missing("stock level")),
            ),
            customers: WebhookIntake::new(
                intake("customers"),
                secret.clone(),
                SignatureEncoding::Base64,
                state,
                remember_for,
                move |b| customer_record(b, &c4),
            ),
            secret,
            ctx,
            slugs,
        }
    }

    /// Takes one delivery in. `Unauthorized` for a bad signature,
    /// `InvalidData` for a body that does not parse (answer 4xx and look at
    /// the log); otherwise queued, a duplicate, or ignored with the reason.
    pub async fn receive(&self, d: WooDelivery<'_>) -> Result<WooIntake> {
        let topic = d.topic.trim();
        if topic.is_empty() && d.body.starts_with(b"webhook_id=") {
            return Ok(WooIntake::Ignored("the webhook creation ping".into()));
        }
        verify_signature(&self.secret, d.body, d.signature, SignatureEncoding::Base64)?;
        let delivery = WebhookDelivery::new(d.delivery_id, d.signature, d.body);
        let (resource, event) = topic.split_once('.').unwrap_or((topic, ""));
        if event == "deleted" {
            return Ok(WooIntake::Ignored(format!(
                "{topic}: deletions are not synced"
            )));
        }
        if !matches!(event, "created" | "updated" | "restored") {
            return Ok(WooIntake::Ignored(format!("topic {topic:?} is not synced")));
        }
        match resource {
            "order" => Ok(self.orders.receive_verified(delivery).await?.into()),
            "customer" => Ok(self.customers.receive_verified(delivery).await?.into()),
            "product" => {
                let tag = |e: Error| e.with_external_id(d.delivery_id.to_string());
                let variant = variant_record(d.body, &self.ctx, &self.slugs).map_err(tag)?;
                let level = level_record(d.body, &self.ctx).map_err(tag)?;
                if variant.is_none() && level.is_none() {
                    return Ok(WooIntake::Ignored(format!(
                        "{topic}: neither a variant (variable, grouped or unpriced) nor tracked stock"
                    )));
                }
                // Parsed once here; the intakes only dedupe and queue.
                let mut outcome = WooIntake::Duplicate;
                if let Some(v) = variant
                    && self.variants.enqueue(d.delivery_id, d.body, v).await? == Intake::Queued
                {
                    outcome = WooIntake::Queued;
                }
                if let Some(l) = level
                    && self.levels.enqueue(d.delivery_id, d.body, l).await? == Intake::Queued
                {
                    outcome = WooIntake::Queued;
                }
                Ok(outcome)
            }
            _ => Ok(WooIntake::Ignored(format!("topic {topic:?} is not synced"))),
        }
    }

    /// Queued orders.
    pub fn orders(&self) -> &WebhookIntake<Order> {
        &self.orders
    }

    /// Queued variants.
    pub fn variants(&self) -> &WebhookIntake<Variant> {
        &self.variants
    }

    /// Queued stock levels.
    pub fn levels(&self) -> &WebhookIntake<InventoryLevel> {
        &self.levels
    }

    /// Queued customers.
    pub fn customers(&self) -> &WebhookIntake<Customer> {
        &self.customers
    }
}
