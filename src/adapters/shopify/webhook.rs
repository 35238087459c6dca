//! Shopify webhooks: verify, deduplicate, drop stale deliveries, and parse the
//! REST-shaped payloads of the common topics into canonical records that flow
//! through [`Engine::deliver`](crate::sync::Engine::deliver) and converge with
//! a polling sweep.
//!
//! A delivery goes through [`ShopifyWebhooks::receive`]:
//!
//! 1. **Signature**: `X-Shopify-Hmac-Sha256` is checked against the raw body
//!    with [`sync::verify_signature`](crate::sync::verify_signature) (base64,
//!    constant time) before anything reads the body. Missing or wrong:
//!    `Unauthorized`; so is a delivery from another shop when the receiver
//!    was limited with [`only_shop`](ShopifyWebhooks::only_shop).
//! 2. **Topic**: `X-Shopify-Topic` must be one of [`Topic`] and produce the
//!    receiver's entity kind; anything else is `Unsupported`, never a panic.
//! 3. **Parse**: the body becomes a [`Record`] (field by field in the
//!    tables of [`order`], [`product`], [`inventory`] and [`customer`]). A bad payload is `InvalidData` naming the topic, the webhook id
//!    and the field path (`line_items[1].price`).
//! 4. **Stale**: a delivery whose `X-Shopify-Triggered-At` is *strictly
//!    earlier* than the newest triggered-at this receiver already queued for
//!    the same canonical entity key (within the remember window) is dropped
//!    as [`Received::Stale`]: Shopify retries with the original payload, so a
//!    late retry would carry older data than what was already taken in. Equal
//!    instants are not stale (two events can share a second). This guard is
//!    in memory; the durable one is the engine's per-key version check on
//!    `changed_at` (the payload's `updated_at`) + content fingerprint, which
//!    also refuses a stale record after a restart.
//! 5. **Duplicate**: [`WebhookIntake`] remembers the delivery's
//!    [`dedupe_id`](ShopifyHeaders::dedupe_id) (`X-Shopify-Event-Id`, else
//!    `X-Shopify-Webhook-Id`) in the state store and queues the record once.
//!
//! Drain the queue with [`ShopifyWebhooks::drain`] into `Engine::deliver`.
//!
//! # Converging with the GraphQL poller
//!
//! The engine skips a record when the same key was already delivered at the
//! same `changed_at` with the same content fingerprint (the JSON of the
//! canonical entity). For a webhook and a poll of the same change to count
//! as one, the poller must build exactly what these parsers build:
//!
//! - keys: order `number` = `Order.name` (`#1001`); product `handle`;
//!   variant `sku`; inventory level (`sku`, canonical location) through the
//!   same cross references ([`INVENTORY_ITEM_NAMESPACE`],
//!   [`LOCATION_NAMESPACE`]); customer `id` = the id bound in namespace
//!   [`CUSTOMER_NAMESPACE`] to the customer's GraphQL id, else that GraphQL id;
//! - `changed_at` = `updatedAt` (for a product, the latest of the product's
//!   and its variants' `updatedAt`);
//! - external refs and `Order.customer` hold GraphQL ids (`gid://shopify/...`);
//!   order line ids, refund ids and refund line ids hold the numeric id;
//! - money in the shop currency through [`canonical_money`] (a `Decimal`
//!   keeps its trailing zeros and they are part of the fingerprint: REST's
//!   `"25.00"` and GraphQL's `"25.0"` must both become 25.00); tax rates and
//!   weights without trailing zeros; `OrderLine.total` is `None`; order
//!   discounts are the discount applications with amount = Σ their
//!   allocations; paid = total − outstanding;
//! - partial addresses kept with empty street, city or country; a
//!   customer's default address first; variants carry the product's tags;
//!   Shopify's placeholder option `Title: Default Title` is no option;
//! - inventory levels from `available` only (see [`inventory`]).
//!
//! When the two differ anyway, nothing is lost: the second of the two
//! versions with the same `changed_at` is written again, so the sink ends
//! with whichever arrived last (see [`crate::sync::WebhookIntake`]).
//!
//! ```
//! use std::sync::Arc;
//! use seamwork::adapters::shopify::webhook::{ShopifyParser, Topic};
//! use seamwork::mapping::MemoryCrossReferences;
//! use seamwork::model::{Currency, SystemId};
//!
//! let parser = ShopifyParser::new(
//!     SystemId::new("shopify").unwrap(),
//!     Currency::USD,
//!     Arc::new(MemoryCrossReferences::new()),
//! );
//! let err = parser.parse("orders/create", "wh-1", br##"{"name": "#1001"}"##).unwrap_err();
//! assert!(err.to_string().contains("orders/create (webhook id wh-1): `currency` is missing"));
//! assert!(parser.parse("carts/update", "wh-2", b"{}").is_err());
//! assert_eq!("orders/updated".parse::<Topic>().unwrap(), Topic::OrdersUpdated);
//! ```

pub mod customer;
mod headers;
pub mod inventory;
mod json;
pub mod order;
pub mod product;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use json::canonical_money;

pub use headers::{
    API_VERSION_HEADER, EVENT_ID_HEADER, HMAC_HEADER, SHOP_DOMAIN_HEADER, ShopifyHeaders,
    TOPIC_HEADER, TRIGGERED_AT_HEADER, WEBHOOK_ID_HEADER,
};

use crate::connector::{Entity, EntityKey, EntityKind, Record, TimeIdCursor};
use crate::error::{Error, ErrorKind, Result};
use crate::mapping::CrossReferences;
use crate::model::{
    Currency, Customer, ExternalRef, InventoryLevel, Order, Product, Sku, SystemId,
};
use crate::store::StateStore;
use crate::sync::{Intake, SignatureEncoding, WebhookIntake, WebhookSecret, verify_signature};

/// Cross-reference namespace of Shopify inventory item ids → SKUs.
pub const INVENTORY_ITEM_NAMESPACE: &str = inventory::INVENTORY_ITEM_NAMESPACE;
/// Cross-reference namespace of Shopify location ids → canonical locations.
pub const LOCATION_NAMESPACE: &str = inventory::LOCATION_NAMESPACE;
/// Cross-reference namespace of Shopify customer GraphQL ids → canonical customer ids.
pub const CUSTOMER_NAMESPACE: &str = customer::NAMESPACE;

/// The webhook topics this module parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Topic {
    /// `orders/create` → [`Order`].
    OrdersCreate,
    /// `orders/updated` → [`Order`].
    OrdersUpdated,
    /// `products/create` → [`Product`].
    ProductsCreate,
    /// `products/update` → [`Product`].
    ProductsUpdate,
    /// `inventory_levels/update` → [`InventoryLevel`].
    InventoryLevelsUpdate,
    /// `customers/create` → [`Customer`].
    CustomersCreate,
    /// `customers/update` → [`Customer`].
    CustomersUpdate,
}

impl Topic {
    /// Every supported topic.
    pub const ALL: [Topic; 7] = [
        Topic::OrdersCreate,
        Topic::OrdersUpdated,
        Topic::ProductsCreate,
        Topic::ProductsUpdate,
        Topic::InventoryLevelsUpdate,
        Topic::CustomersCreate,
        Topic::CustomersUpdate,
    ];

    /// The topic as Shopify writes it in `X-Shopify-Topic`.
    pub fn name(self) -> &'static str {
        match self {
            Topic::OrdersCreate => "orders/create",
            Topic::OrdersUpdated => "orders/updated",
            Topic::ProductsCreate => "products/create",
            Topic::ProductsUpdate => "products/update",
            Topic::InventoryLevelsUpdate => "inventory_levels/update",
            Topic::CustomersCreate => "customers/create",
            Topic::CustomersUpdate => "customers/update",
        }
    }

    /// The canonical entity the topic's payload becomes.
    pub fn kind(self) -> EntityKind {
        match self {
            Topic::OrdersCreate | Topic::OrdersUpdated => EntityKind::Order,
            Topic::ProductsCreate | Topic::ProductsUpdate => EntityKind::Product,
            Topic::InventoryLevelsUpdate => EntityKind::InventoryLevel,
            Topic::CustomersCreate | Topic::CustomersUpdate => EntityKind::Customer,
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Topic {
    type Err = Error;

    /// An unknown topic is `Unsupported`, naming it and the supported ones.
    fn from_str(s: &str) -> Result<Topic> {
        let s = s.trim();
        Topic::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Topic::ALL.iter().map(|t| t.name()).collect();
                Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "shopify webhook topic {s:?} is not supported (supported: {})",
                        known.join(", ")
                    ),
                )
                .with_system("shopify")
            })
    }
}

/// A parsed webhook: one record of the topic's entity kind (boxed: an
/// order is several times larger than the other records).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ShopifyRecord {
    /// From `orders/*`.
    Order(Box<Record<Order>>),
    /// From `products/*`.
    Product(Box<Record<Product>>),
    /// From `inventory_levels/update`.
    InventoryLevel(Box<Record<InventoryLevel>>),
    /// From `customers/*`.
    Customer(Box<Record<Customer>>),
}

impl ShopifyRecord {
    /// The entity kind.
    pub fn kind(&self) -> EntityKind {
        match self {
            ShopifyRecord::Order(_) => EntityKind::Order,
            ShopifyRecord::Product(_) => EntityKind::Product,
            ShopifyRecord::InventoryLevel(_) => EntityKind::InventoryLevel,
            ShopifyRecord::Customer(_) => EntityKind::Customer,
        }
    }
}

/// A canonical type some Shopify topic produces, so a receiver can be typed
/// by the flow it feeds.
pub trait ShopifyEntity: Entity {
    /// The record, when `record` holds this type.
    fn from_shopify(record: ShopifyRecord) -> Option<Record<Self>>;
}

impl ShopifyEntity for Order {
    fn from_shopify(record: ShopifyRecord) -> Option<Record<Self>> {
        match record {
            ShopifyRecord::Order(r) => Some(*r),
            _ => None,
        }
    }
}

impl ShopifyEntity for Product {
    fn from_shopify(record: ShopifyRecord) -> Option<Record<Self>> {
        match record {
            ShopifyRecord::Product(r) => Some(*r),
            _ => None,
        }
    }
}

impl ShopifyEntity for InventoryLevel {
    fn from_shopify(record: ShopifyRecord) -> Option<Record<Self>> {
        match record {
            ShopifyRecord::InventoryLevel(r) => Some(*r),
            _ => None,
        }
    }
}

impl ShopifyEntity for Customer {
    fn from_shopify(record: ShopifyRecord) -> Option<Record<Self>> {
        match record {
            ShopifyRecord::Customer(r) => Some(*r),
            _ => None,
        }
    }
}

/// Turns webhook bodies into canonical records. It needs the system id the
/// records' external refs name, the shop currency (product payloads carry
/// prices without one) and the cross references that resolve inventory item
/// and location ids.
#[derive(Clone)]
pub struct ShopifyParser {
    system: SystemId,
    shop_currency: Currency,
    xrefs: Arc<dyn CrossReferences>,
}

impl fmt::Debug for ShopifyParser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShopifyParser")
            .field("system", &self.system)
            .field("shop_currency", &self.shop_currency)
            .finish_non_exhaustive()
    }
}

impl ShopifyParser {
    /// A parser for the shop known as `system`, whose currency is `shop_currency`.
    pub fn new(system: SystemId, shop_currency: Currency, xrefs: Arc<dyn CrossReferences>) -> Self {
        ShopifyParser {
            system,
            shop_currency,
            xrefs,
        }
    }

    /// The system id the records name.
    pub fn system(&self) -> &SystemId {
        &self.system
    }

    /// Parses the raw `body` of a delivery of `topic`. An unknown topic is
    /// `Unsupported`; a bad body is `InvalidData` (an unbound inventory item
    /// or location is `NotFound`), each naming topic, webhook id and field.
    pub fn parse(&self, topic: &str, webhook_id: &str, body: &[u8]) -> Result<ShopifyRecord> {
        let topic: Topic = topic
            .parse::<Topic>()
            .map_err(|e| e.with_external_id(webhook_id))?;
        self.parse_topic(topic, webhook_id, body)
    }

    /// Parses a delivery of a known topic.
    pub fn parse_topic(
        &self,
        topic: Topic,
        webhook_id: &str,
        body: &[u8],
    ) -> Result<ShopifyRecord> {
        let delivery = json::Delivery {
            topic: topic.name(),
            webhook_id,
            system: &self.system,
            kind: topic.kind(),
        };
        let value = json::parse_body(&delivery, body)?;
        let root = delivery.root(&value)?;
        let external = |node: &json::Node<'_>, resource: &str| -> Result<ExternalRef> {
            ExternalRef::try_new(self.system.as_str(), node.gid(resource)?)
                .map_err(|e| node.bad(e.message()))
        };
        Ok(match topic.kind() {
            EntityKind::Order => {
                let entity = order::order(&root, &self.system)?;
                let at = entity.updated_at;
                ShopifyRecord::Order(Box::new(record(entity, external(&root, "Order")?, at)))
            }
            EntityKind::Product => {
                let entity = product::product(&root, self.shop_currency)?;
                let at = entity
                    .variants
                    .iter()
                    .map(|v| v.updated_at)
                    .fold(entity.updated_at, DateTime::max);
                ShopifyRecord::Product(Box::new(record(entity, external(&root, "Product")?, at)))
            }
            EntityKind::InventoryLevel => {
                let entity = inventory::level(&root, &self.system, self.xrefs.as_ref())?;
                let at = entity.updated_at;
                let id = match root.get("admin_graphql_api_id").opt_text()? {
                    Some(gid) => gid,
                    None => format!(
                        "gid://shopify/InventoryLevel?inventory_item_id={}&location_id={}",
                        root.get("inventory_item_id").id()?,
                        root.get("location_id").id()?
                    ),
                };
                let r = ExternalRef::try_new(self.system.as_str(), id)
                    .map_err(|e| root.bad(e.message()))?;
                ShopifyRecord::InventoryLevel(Box::new(record(entity, r, at)))
            }
            EntityKind::Customer => {
                let entity = customer::customer(&root, &self.system, self.xrefs.as_ref())?;
                let at = entity.updated_at;
                ShopifyRecord::Customer(Box::new(record(entity, external(&root, "Customer")?, at)))
            }
            other => {
                return Err(Error::new(
                    ErrorKind::Unexpected,
                    format!("topic {topic} maps to {other}, which has no parser"),
                ));
            }
        })
    }

    /// The `(inventory item GraphQL id, SKU)` pairs of a `products/*`
    /// delivery: bind them in [`INVENTORY_ITEM_NAMESPACE`] (for example with
    /// [`MemoryCrossReferences::bind`](crate::mapping::MemoryCrossReferences::bind))
    /// so the `inventory_levels/update` deliveries that follow resolve their
    /// SKU. A variant without SKU or inventory item id is an error naming it.
    pub fn inventory_item_skus(
        &self,
        topic: &str,
        webhook_id: &str,
        body: &[u8],
    ) -> Result<Vec<(String, Sku)>> {
        let topic: Topic = topic
            .parse::<Topic>()
            .map_err(|e| e.with_external_id(webhook_id))?;
        if topic.kind() != EntityKind::Product {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "shopify webhook {topic} (webhook id {webhook_id}) carries no variants; \
                     inventory items come from products/create and products/update"
                ),
            )
            .with_system(self.system.as_str())
            .with_external_id(webhook_id));
        }
        let delivery = json::Delivery {
            topic: topic.name(),
            webhook_id,
            system: &self.system,
            kind: EntityKind::Product,
        };
        let value = json::parse_body(&delivery, body)?;
        product::inventory_items(&delivery.root(&value)?)
    }

    /// Parses a delivery of `topic` into an `E`; a topic of another entity
    /// kind is `Unsupported` (checked before the body is read).
    pub fn parse_as<E: ShopifyEntity>(
        &self,
        topic: &str,
        webhook_id: &str,
        body: &[u8],
    ) -> Result<Record<E>> {
        let topic: Topic = topic
            .parse::<Topic>()
            .map_err(|e| e.with_external_id(webhook_id))?;
        self.parse_topic_as(topic, webhook_id, body)
    }

    fn parse_topic_as<E: ShopifyEntity>(
        &self,
        topic: Topic,
        webhook_id: &str,
        body: &[u8],
    ) -> Result<Record<E>> {
        if topic.kind() != E::KIND {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "shopify webhook {topic} (webhook id {webhook_id}) carries a {}, but this \
                     receiver takes {} records",
                    topic.kind(),
                    E::KIND
                ),
            )
            .with_system(self.system.as_str())
            .with_external_id(webhook_id));
        }
        E::from_shopify(self.parse_topic(topic, webhook_id, body)?).ok_or_else(|| {
            Error::new(
                ErrorKind::Unexpected,
                format!("topic {topic} did not produce a {}", E::KIND),
            )
        })
    }
}

fn record<E>(entity: E, external_ref: ExternalRef, changed_at: DateTime<Utc>) -> Record<E> {
    let cursor = TimeIdCursor::new(changed_at, external_ref.id.clone()).encode();
    Record::new(entity, external_ref, cursor, changed_at)
}

/// What [`ShopifyWebhooks::receive`] did with a delivery. Answer Shopify
/// `200` for each of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Received {
    /// Verified, new, parsed and queued.
    Queued,
    /// This event or delivery was already taken in.
    Duplicate,
    /// Triggered before a delivery already queued for the same entity.
    Stale {
        /// The newest triggered-at already queued for that entity.
        newest: DateTime<Utc>,
        /// This delivery's triggered-at.
        triggered_at: DateTime<Utc>,
    },
}

/// Keeps newest-triggered-at marks for this many keys before forgetting
/// those older than the remember window.
const STALE_MARKS_BEFORE_PRUNING: usize = 10_000;

/// Receives Shopify deliveries for one flow of `E` records: signature,
/// topic, parse, staleness, then [`WebhookIntake`] for deduplication and
/// queueing (see the module docs for the order and each outcome).
pub struct ShopifyWebhooks<E> {
    parser: Arc<ShopifyParser>,
    secret: WebhookSecret,
    intake: WebhookIntake<E>,
    newest: Mutex<HashMap<EntityKey, DateTime<Utc>>>,
    remember_for: Duration,
    shop_domain: Option<String>,
}

impl<E> fmt::Debug for ShopifyWebhooks<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShopifyWebhooks")
            .field("parser", &self.parser)
            .field("intake", &self.intake)
            .field("shop_domain", &self.shop_domain)
            .finish_non_exhaustive()
    }
}

impl<E: ShopifyEntity> ShopifyWebhooks<E> {
    /// A receiver for `flow`, checking signatures with the app's `secret`;
    /// delivery ids are remembered in `store` for `remember_for` (longer
    /// than Shopify's retry window).
    pub fn new(
        flow: impl Into<String>,
        secret: WebhookSecret,
        store: Arc<dyn StateStore>,
        remember_for: Duration,
        parser: Arc<ShopifyParser>,
    ) -> Self {
        // This receiver verifies and parses (it needs the topic header) and
        // hands records to the intake's `enqueue`; the intake never parses.
        let intake = WebhookIntake::new(
            flow,
            secret.clone(),
            SignatureEncoding::Base64,
            store,
            remember_for,
            |_| {
                Err(Error::new(
                    ErrorKind::Unexpected,
                    "Shopify deliveries are parsed by ShopifyWebhooks and queued with enqueue",
                ))
            },
        );
        ShopifyWebhooks {
            parser,
            secret,
            intake,
            newest: Mutex::new(HashMap::new()),
            remember_for,
            shop_domain: None,
        }
    }

    /// Accepts deliveries from `domain` (`example.myshopify.com`) only;
    /// another shop's delivery is `Unauthorized` even when signed (an app
    /// secret is shared by every shop the app is installed on).
    pub fn only_shop(mut self, domain: impl Into<String>) -> Self {
        self.shop_domain = Some(domain.into());
        self
    }

    /// Takes one delivery in (see the module docs): the signature is
    /// checked and the body parsed once, here, and the record handed to
    /// [`WebhookIntake::enqueue`] for deduplication.
    /// Errors: `Unauthorized`
    /// (signature, shop), `Unsupported` (topic), `InvalidData` (headers or
    /// body) and `NotFound` (unbound inventory item or location): answer
    /// them with a 4xx and read the log; Shopify retries the delivery.
    pub async fn receive(&self, headers: &ShopifyHeaders, body: &[u8]) -> Result<Received> {
        verify_signature(&self.secret, body, &headers.hmac, SignatureEncoding::Base64)
            .map_err(|e| e.with_system(self.parser.system().as_str()))?;
        if let Some(expected) = &self.shop_domain
            && headers.shop_domain.as_deref() != Some(expected.as_str())
        {
            return Err(Error::new(
                ErrorKind::Unauthorized,
                format!(
                    "shopify webhook {} (webhook id {}) is from shop {:?}, this receiver takes {expected:?} only",
                    headers.topic, headers.webhook_id, headers.shop_domain
                ),
            )
            .with_system(self.parser.system().as_str()));
        }
        let topic: Topic = headers
            .topic
            .parse::<Topic>()
            .map_err(|e| e.with_external_id(headers.webhook_id.clone()))?;
        let record = self
            .parser
            .parse_topic_as::<E>(topic, &headers.webhook_id, body)?;
        let key = record.entity.key();
        if let Some(at) = headers.triggered_at
            && let Some(newest) = self.newest_for(&key)
            && at < newest
        {
            tracing::debug!(
                topic = %topic, webhook_id = %headers.webhook_id, key = %key,
                %at, %newest, "stale shopify webhook dropped"
            );
            return Ok(Received::Stale {
                newest,
                triggered_at: at,
            });
        }
        let dedupe_id = headers.dedupe_id();
        match self.intake.enqueue(&dedupe_id, body, record).await? {
            Intake::Duplicate => Ok(Received::Duplicate),
            _ => {
                if let Some(at) = headers.triggered_at {
                    self.mark(key, at);
                }
                tracing::debug!(
                    topic = %topic, webhook_id = %headers.webhook_id,
                    shop = ?headers.shop_domain, api_version = ?headers.api_version,
                    "shopify webhook queued"
                );
                Ok(Received::Queued)
            }
        }
    }

    /// Takes up to `max` queued records, oldest first, for `Engine::deliver`.
    pub fn drain(&self, max: usize) -> Vec<Record<E>> {
        self.intake.drain(max)
    }

    /// Records waiting.
    pub fn queued(&self) -> usize {
        self.intake.queued()
    }

    fn newest_for(&self, key: &EntityKey) -> Option<DateTime<Utc>> {
        let marks = self.newest.lock().unwrap_or_else(|p| p.into_inner());
        marks.get(key).copied()
    }

    fn mark(&self, key: EntityKey, at: DateTime<Utc>) {
        let mut marks = self.newest.lock().unwrap_or_else(|p| p.into_inner());
        let mark = marks.entry(key).or_insert(at);
        *mark = (*mark).max(at);
        if marks.len() > STALE_MARKS_BEFORE_PRUNING {
            let window =
                chrono::Duration::from_std(self.remember_for).unwrap_or(chrono::Duration::MAX);
            let horizon = Utc::now().checked_sub_signed(window);
            marks.retain(|_, t| horizon.is_none_or(|h| *t >= h));
        }
    }
}
