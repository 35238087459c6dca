//! Shopify: the GraphQL Admin API and webhooks (feature `shopify`).
//!
//! [`ShopifyAdapter`] talks to `{shop_url}/admin/api/{version}/graphql.json`
//! with an `X-Shopify-Access-Token` and a pinned API version. It reads
//! products, variants, locations, inventory levels, orders and customers
//! into the canonical model, and writes inventory (`on_hand`), variant
//! prices and customer fields.
//!
//! **Pacing.** Every call first waits on an [`AdaptiveLimiter`] for the
//! query's cost (what the server charged the same operation last time), and
//! every answer's `extensions.cost` settles it, so a long read spends the
//! bucket down to what each call needs and is almost never throttled. A
//! GraphQL `THROTTLED` error (HTTP 200) or an HTTP 429 empties the estimate;
//! the call is retried after the wait the figures (or `Retry-After`) call
//! for, then given up as `RateLimited`. [`ShopifyAdapter::stats`] reports
//! requests, points spent, time waited and throttles.
//!
//! **Bulk.** A full read of products or variants (no cursor) asks
//! `productsCount` first and, above [`ShopifyConfig::bulk_threshold`], runs
//! one `bulkOperationRunQuery`, polls it, downloads the JSONL and re-nests
//! variants under products by `__parentId`.
//!
//! **Versions.** The `X-Shopify-API-Version` of each answer is compared with
//! the requested version, and `X-Shopify-API-Deprecated-Reason` notices are
//! kept; both are logged once with `tracing` and available from
//! [`ShopifyAdapter::api_versions`].
//!
//! **Writes and "unchanged".** The sinks read the current state first
//! (variants by SKU with their inventory levels) and write only what
//! differs: a record already equal in Shopify is `Unchanged` without a
//! mutation. Inventory is set with `inventorySetQuantities` (`on_hand`, with
//! `compareQuantity` = the value just read, so a concurrent change is
//! refused rather than overwritten, and an `@idempotent` key derived from the
//! batch); an item not stocked at the location is activated there with its
//! quantity (`Created`). Prices go through `productVariantsBulkUpdate`; a new
//! SKU under an existing product handle is created with
//! `productVariantsBulkCreate` (`Created`). Customers' names, default email
//! and phone and tags go through `customerUpdate` (found by their ref here,
//! else by email) or `customerCreate`. `userErrors` become `Rejected`
//! outcomes carrying Shopify's message.

mod bulk;
mod client;
mod config;
mod json;
mod map;
mod read;
pub mod webhook;
mod wire;
mod write;
mod write_customer;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;

pub use bulk::parse_bulk_lines;
pub use client::{ApiVersionReport, DEPRECATED_HEADER, VERSION_HEADER};
pub use config::{DEFAULT_API_VERSION, LocationKey, ShopifyConfig};
pub use map::QUANTITY_NAMES;
pub use wire::{GraphqlError, GraphqlResponse, parse_response};

use crate::connector::{
    Capability, Connector, Cursor, EntityKind, RecordStream, Sink, Source, WriteOutcome,
};
use crate::error::{Error, Result};
use crate::layers::{AdaptiveLimiter, BudgetStats};
use crate::model::{
    Currency, Customer, InventoryLevel, Location, Order, Product, SystemId, Variant,
};

/// State shared by the adapter's streams and sinks.
pub(crate) struct Inner {
    config: ShopifyConfig,
    client: client::GraphqlClient,
    currency: tokio::sync::OnceCell<Currency>,
}

impl Inner {
    /// The shop's currency (prices of products and variants are in it), asked once.
    async fn shop_currency(&self) -> Result<Currency> {
        self.currency
            .get_or_try_init(|| async {
                let data = self
                    .client
                    .execute(
                        "ShopCurrency",
                        "query ShopCurrency { shop { currencyCode } }",
                        json!({}),
                    )
                    .await?;
                let shop = json::Node::root(&data, "data").obj("shop")?;
                let code = shop.str("currencyCode")?;
                Currency::from_code(code).map_err(|e| shop.error("currencyCode", e))
            })
            .await
            .copied()
    }

    /// The currency once [`shop_currency`](Self::shop_currency) has run.
    fn currency(&self) -> Currency {
        self.currency.get().copied().unwrap_or(Currency::USD)
    }
}

/// A Shopify shop as a source of products, variants, locations, inventory,
/// orders and customers, and a sink for inventory levels, variant prices and customers.
/// Cheap to clone; clones share the connection and the rate-limit budget.
#[derive(Clone)]
pub struct ShopifyAdapter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ShopifyAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifyAdapter")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl ShopifyAdapter {
    /// An adapter for the shop `config` describes (nothing is sent yet).
    pub fn new(config: ShopifyConfig) -> Result<Self> {
        let client = client::GraphqlClient::new(&config)?;
        Ok(ShopifyAdapter {
            inner: Arc::new(Inner {
                config,
                client,
                currency: tokio::sync::OnceCell::new(),
            }),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &ShopifyConfig {
        &self.inner.config
    }

    /// Requests made, points spent, time waited for budget, throttled answers.
    pub fn stats(&self) -> BudgetStats {
        self.inner.client.stats()
    }

    /// The limiter pacing this shop's calls (share it with other clients of the same app and shop).
    pub fn limiter(&self) -> &AdaptiveLimiter {
        self.inner.client.limiter()
    }

    /// The API version requested and served, and deprecation notices seen.
    pub fn api_versions(&self) -> ApiVersionReport {
        self.inner.client.versions()
    }

    /// Runs any named GraphQL operation, paced like the adapter's own calls;
    /// returns `data`.
    pub async fn graphql(
        &self,
        operation: &'static str,
        query: &str,
        variables: serde_json::Value,
    ) -> Result<serde_json::Value> {
        self.inner.client.execute(operation, query, variables).await
    }

    fn with_currency<E: crate::connector::Entity>(
        &self,
        stream: impl FnOnce(Arc<Inner>) -> RecordStream<E> + Send + 'static,
    ) -> RecordStream<E> {
        use futures::{StreamExt, TryStreamExt};
        let inner = self.inner.clone();
        futures::stream::once(async move {
            inner.shop_currency().await?;
            Ok::<_, Error>(stream(inner))
        })
        .try_flatten()
        .boxed()
    }
}

/// Parses a GraphQL answer body and maps every node of the connection a read
/// of `kind` uses, as the adapter would; returns the number of records.
/// Errors name the field path and record. Used by the fuzz target, and handy
/// for checking a captured answer against the mapping.
pub fn decode_answer(kind: EntityKind, body: &[u8], config: &ShopifyConfig) -> Result<usize> {
    read::decode_answer(kind, body, config)
}

impl Connector for ShopifyAdapter {
    fn system(&self) -> &SystemId {
        &self.inner.config.system
    }

    fn capability(&self, kind: EntityKind) -> Capability {
        let page = Some(self.inner.config.page_size);
        match kind {
            EntityKind::Product | EntityKind::Order => {
                Capability::new().with_incremental(true).with_max_page(page)
            }
            EntityKind::Variant | EntityKind::Customer => Capability::new()
                .with_incremental(true)
                .with_max_page(page)
                .with_max_batch(Some(write::MAX_BATCH)),
            EntityKind::InventoryLevel => Capability::new()
                .with_max_page(page)
                .with_max_batch(Some(write::MAX_BATCH)),
            _ => Capability::new().with_max_page(page),
        }
    }
}

/// Products and variants: a full read above the bulk threshold runs as one
/// bulk operation, everything else pages.
fn product_read<E: crate::connector::Entity>(
    inner: Arc<Inner>,
    since: Option<Cursor>,
    spec: read::TimeSorted<E>,
) -> RecordStream<E> {
    match (since, inner.config.bulk_threshold) {
        (None, Some(threshold)) => bulk::products_or_bulk(inner, threshold, spec),
        (since, _) => read::time_sorted(inner, since, spec),
    }
}

impl Source<Product> for ShopifyAdapter {
    fn read(&self, since: Option<Cursor>) -> RecordStream<Product> {
        self.with_currency(move |inner| product_read(inner, since, read::products()))
    }
}

impl Source<Variant> for ShopifyAdapter {
    fn read(&self, since: Option<Cursor>) -> RecordStream<Variant> {
        self.with_currency(move |inner| product_read(inner, since, read::variants()))
    }
}

impl Source<Order> for ShopifyAdapter {
    fn read(&self, since: Option<Cursor>) -> RecordStream<Order> {
        read::time_sorted(self.inner.clone(), since, read::orders())
    }
}

impl Source<Customer> for ShopifyAdapter {
    fn read(&self, since: Option<Cursor>) -> RecordStream<Customer> {
        read::time_sorted(self.inner.clone(), since, read::customers())
    }
}

impl Source<Location> for ShopifyAdapter {
    fn read(&self, since: Option<Cursor>) -> RecordStream<Location> {
        read::locations(self.inner.clone(), since)
    }
}

impl Source<InventoryLevel> for ShopifyAdapter {
    fn read(&self, since: Option<Cursor>) -> RecordStream<InventoryLevel> {
        read::inventory(self.inner.clone(), since)
    }
}

#[async_trait]
impl Sink<InventoryLevel> for ShopifyAdapter {
    async fn upsert(&self, batch: &[InventoryLevel]) -> Result<Vec<WriteOutcome>> {
        write::inventory(&self.inner, batch).await
    }
}

#[async_trait]
impl Sink<Customer> for ShopifyAdapter {
    async fn upsert(&self, batch: &[Customer]) -> Result<Vec<WriteOutcome>> {
        write_customer::customers(&self.inner, batch).await
    }
}

#[async_trait]
impl Sink<Variant> for ShopifyAdapter {
    async fn upsert(&self, batch: &[Variant]) -> Result<Vec<WriteOutcome>> {
        self.inner.shop_currency().await?;
        write::variants(&self.inner, batch).await
    }
}
