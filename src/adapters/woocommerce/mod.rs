//! WooCommerce: the REST API v3 (`{base_url}/wp-json/wc/v3/...`) and webhooks
//! (feature `woocommerce`).
//!
//! | entity | read from | written to |
//! |---|---|---|
//! | [`Variant`] | `/products` (simple) and `/products/{id}/variations` | prices: `/products/batch`, `/products/{id}/variations/batch` |
//! | [`Product`] | `/products` with its variations | — |
//! | [`InventoryLevel`] | `stock_quantity` of products and variations that track stock | the same batch endpoints |
//! | [`Order`] | `/orders` | — |
//! | [`Customer`] | `/customers` | — |
//!
//! **Auth.** Consumer key and secret as HTTP Basic over HTTPS (the secret is
//! a [`SecretString`] and never printed). Plain `http://` is refused except to
//! a loopback host (a local test server), because Basic auth over plain HTTP
//! gives the key away.
//!
//! **Pages.** `per_page` (at most 100) and `page`; the next page exists when
//! the `Link` header has `rel="next"` or `page < X-WP-TotalPages`; without
//! either header, a full page means "ask for the next".
//!
//! **Incremental reads.** Products, variations and orders are asked for with
//! `modified_after` = cursor time − `lookback` (and `dates_are_gmt=true`,
//! `orderby=modified`, `order=asc`). WooCommerce times have one-second
//! resolution and `modified_after` is exclusive, and page offsets shift while
//! records change, so the adapter does not trust the server's order: it reads
//! the whole window, keeps each id once (its latest version), sorts by
//! `(date_modified_gmt, id)` and yields only records after the
//! [`TimeIdCursor`]. Records sharing a timestamp are therefore neither
//! skipped nor repeated on resume. A record changed within `settle` (five
//! seconds) of the server's `Date` is left for the next read: a change made
//! later in that same second would otherwise sort before the cursor and be
//! skipped (without a `Date` header nothing is held back). The customers
//! endpoint has no `modified_after`, so a customer read lists every customer
//! and applies the same cursor filter. Reads buffer their window in memory.
//! Variations have no store-wide listing, so an incremental variant, product
//! or stock read also lists the variable products and asks each for its
//! variations changed in the window (one request per variable product).
//!
//! **Unpriced items.** A product or variation without a regular price cannot
//! be sold, so it is not a canonical [`Variant`] yet: variant and product
//! reads leave it out (logged at debug level); its stock level, when
//! tracked, is still read.
//!
//! **Stock and price writes.** WooCommerce keeps one stock figure and one
//! price per product or variation; the adapter does not create catalogue
//! entries. A SKU is resolved with `/products?sku=` (which answers variations
//! too, with their `parent_id`). The outcomes mean:
//!
//! | outcome | stock write | price write |
//! |---|---|---|
//! | `Created` | the item did not track stock (`manage_stock` false): the level starts to exist | the item had no regular price: the price starts to exist |
//! | `Updated` | tracked stock, different quantity or backorder rule | different regular or sale price |
//! | `Unchanged` | the same figures: nothing is sent | the same prices: nothing is sent |
//! | `Rejected` | unknown SKU, another location, invalid level, or WooCommerce's per-item error | unknown SKU, another currency, a price finer than the currency's minor unit, invalid variant, or WooCommerce's per-item error |
//!
//! Stock is written as `stock_quantity = available` with `manage_stock =
//! true` (WooCommerce's count is what can still be sold) and `backorders` =
//! `yes`/`no` when the oversell rule changes; prices as `regular_price` =
//! `compare_at_price` and `sale_price` = `price` when a compare-at price is
//! set, else `regular_price` = `price` and no sale price. The variant sink
//! writes prices only: title, options, status and the rest stay as the
//! store has them. A batch holds at most [`MAX_BATCH`] records; updates are
//! absolute values, so retrying a failed call is safe.

pub mod webhook;
pub mod wire;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use reqwest::header::{DATE, HeaderMap, LINK};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::adapters::web;
use crate::connector::{
    Capability, Connector, Cursor, Entity, EntityKind, Record, RecordStream, Sink, Source,
    TimeIdCursor, WriteOutcome, WriteResult,
};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{
    Currency, Customer, ExternalRef, InventoryLevel, LocationId, Money, Order, Product, SystemId,
    Variant,
};

pub use wire::WireContext;
use wire::{WcProduct, backorders_allowed};

/// WooCommerce's largest page and batch.
pub const MAX_PER_PAGE: u32 = 100;
/// Items per batch request (WooCommerce's default `woocommerce_rest_batch_items_limit`).
pub const MAX_BATCH: usize = 100;
/// A read never asks for more pages than this (a server that never ends).
const MAX_PAGES: u32 = 100_000;

/// Where the store is and how to talk to it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WooConfig {
    /// The site, e.g. `https://shop.example` (without `/wp-json`).
    pub base_url: String,
    /// REST API consumer key (`ck_…`).
    pub consumer_key: String,
    /// REST API consumer secret (`cs_…`); never printed.
    pub consumer_secret: SecretString,
    /// The system id records carry.
    pub system: SystemId,
    /// The store currency (product prices carry none).
    pub currency: Currency,
    /// The location WooCommerce's single stock figure belongs to.
    pub location: LocationId,
    /// Page size, 1 to 100.
    pub per_page: u32,
    /// How far before the cursor an incremental read starts.
    pub lookback: Duration,
    /// Records changed this close to the server's clock (`Date` header) are
    /// left for the next read, so a later change stamped with the same
    /// second is never behind the cursor.
    pub settle: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl WooConfig {
    /// A configuration with 100 records a page, a five-minute lookback, a
    /// five-second settle time and a 30-second timeout.
    pub fn new(
        base_url: impl Into<String>,
        consumer_key: impl Into<String>,
        consumer_secret: SecretString,
        system: SystemId,
        currency: Currency,
        location: LocationId,
    ) -> Self {
        WooConfig {
            base_url: base_url.into(),
            consumer_key: consumer_key.into(),
            consumer_secret,
            system,
            currency,
            location,
            per_page: MAX_PER_PAGE,
            lookback: Duration::from_secs(300),
            settle: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
        }
    }

    /// Sets the page size (clamped to 1–100).
    pub fn with_per_page(mut self, per_page: u32) -> Self {
        self.per_page = per_page.clamp(1, MAX_PER_PAGE);
        self
    }

    /// Sets the lookback of incremental reads.
    pub fn with_lookback(mut self, lookback: Duration) -> Self {
        self.lookback = lookback;
        self
    }

    /// Sets the settle time of reads.
    pub fn with_settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    /// Sets the per-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// A WooCommerce store: sources of variants, products, stock levels, orders
/// and customers, and sinks of stock levels and variant prices.
#[derive(Debug, Clone)]
pub struct WooCommerce {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: WooConfig,
    api: String,
    http: reqwest::Client,
    ctx: WireContext,
    /// Parent product id → slug, learnt by catalogue reads, for webhooks of variations.
    slugs: Arc<RwLock<HashMap<u64, String>>>,
    /// The earliest server `Date` this read was answered at (one per read).
    server_time: std::sync::Mutex<Option<DateTime<Utc>>>,
}

impl WooCommerce {
    /// Checks the configuration and builds the HTTP client.
    pub fn new(config: WooConfig) -> Result<Self> {
        let base = config.base_url.trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&base)
            .map_err(|e| Error::config(format!("WooCommerce base_url {base:?}: {e}")))?;
        let host = url.host_str().unwrap_or_default();
        let loopback = host == "localhost"
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err(Error::config(format!(
                "WooCommerce base_url {base:?} must be https: consumer keys travel as HTTP Basic auth"
            )));
        }
        if config.consumer_key.trim().is_empty() {
            return Err(Error::config("WooCommerce consumer_key is empty"));
        }
        let http = web::client(config.timeout)?;
        let ctx = WireContext {
            system: config.system.clone(),
            currency: config.currency,
            location: config.location.clone(),
        };
        Ok(WooCommerce {
            inner: Arc::new(Inner {
                api: format!("{base}/wp-json/wc/v3"),
                config,
                http,
                ctx,
                slugs: Arc::new(RwLock::new(HashMap::new())),
                server_time: std::sync::Mutex::new(None),
            }),
        })
    }

    /// The mapping context (system, currency, location), for webhooks and tests.
    pub fn context(&self) -> &WireContext {
        &self.inner.ctx
    }

    /// Parent slugs learnt by catalogue reads (shared with webhook parsers).
    pub(crate) fn slugs(&self) -> Arc<RwLock<HashMap<u64, String>>> {
        self.inner.slugs.clone()
    }
}

/// One answered page: the body and whether another page follows.
struct PageAnswer {
    body: Vec<u8>,
    more: bool,
    /// `X-WP-Total`: how many items the listing holds right now.
    total: Option<u32>,
}

impl Inner {
    /// A copy for one read, with its own server clock.
    fn for_read(&self) -> Inner {
        Inner {
            config: self.config.clone(),
            api: self.api.clone(),
            http: self.http.clone(),
            ctx: self.ctx.clone(),
            slugs: self.slugs.clone(),
            server_time: std::sync::Mutex::new(None),
        }
    }

    /// Records the answer's `Date`, keeping the earliest.
    fn note_server_time(&self, headers: &HeaderMap) {
        let Some(at) = headers
            .get(DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|t| DateTime::parse_from_rfc2822(t).ok())
            .map(|t| t.with_timezone(&Utc))
        else {
            return;
        };
        let mut seen = self.server_time.lock().unwrap_or_else(|p| p.into_inner());
        *seen = Some(seen.map_or(at, |s| s.min(at)));
    }

    /// Sends one request; a non-success answer becomes the shared HTTP error
    /// with WooCommerce's `code: message` quoted.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<(HeaderMap, Vec<u8>)> {
        let what = format!("WooCommerce {method} {path}");
        let url = reqwest::Url::parse_with_params(
            &format!("{}{path}", self.api),
            query.iter().map(|(k, v)| (*k, v.as_str())),
        )
        .map_err(|e| Error::config(format!("{what}: bad URL: {e}")))?;
        let mut req = self.http.request(method, url).basic_auth(
            &self.config.consumer_key,
            Some(self.config.consumer_secret.expose_secret()),
        );
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| web::transport_error(&what, e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        self.note_server_time(&headers);
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| web::transport_error(&what, e))?
            .to_vec();
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            return Err(web::status_error(
                &what,
                status,
                &headers,
                &wire::describe_error_body(&text),
            )
            .with_system(self.config.system.as_str()));
        }
        Ok((headers, bytes))
    }

    async fn page(&self, path: &str, query: &[(&str, String)], page: u32) -> Result<PageAnswer> {
        let mut q = query.to_vec();
        q.push(("per_page", self.config.per_page.to_string()));
        q.push(("page", page.to_string()));
        let (headers, body) = self.call(Method::GET, path, &q, None).await?;
        let link_next = headers
            .get_all(LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(has_next_link);
        let total_pages = header_number(&headers, "x-wp-totalpages");
        let more = link_next
            || match total_pages {
                Some(t) => page < t,
                None => {
                    // No paging headers: a full page may have a successor.
                    let n = serde_json::from_slice::<Vec<serde_json::Value>>(&body)
                        .map(|v| v.len())
                        .unwrap_or(0);
                    n == self.config.per_page as usize
                }
            };
        let total = header_number(&headers, "x-wp-total");
        Ok(PageAnswer { body, more, total })
    }

    /// Every item of every page of `path`, parsed with `parse`.
    ///
    /// Offset pages shift when the listing changes under the read: a
    /// record that moves to the front (edited, with newest first) is caught
    /// by the next read, but one that disappears (deleted, trashed) would
    /// pull a later item onto a page already fetched. So when `X-WP-Total`
    /// changes between the first and a later page, the read starts over.
    async fn all<T>(
        &self,
        path: &str,
        query: &[(&str, String)],
        parse: fn(&[u8]) -> Result<Vec<T>>,
    ) -> Result<Vec<T>> {
        const ATTEMPTS: usize = 3;
        for _ in 0..ATTEMPTS {
            if let Some(items) = self.all_once(path, query, parse).await? {
                return Ok(items);
            }
        }
        Err(Error::unavailable(format!(
            "GET {path}: the listing kept changing while it was read ({ATTEMPTS} attempts); read again later"
        ))
        .with_system(self.config.system.as_str()))
    }

    /// One pass over the pages; `None` when the listing's size changed meanwhile.
    async fn all_once<T>(
        &self,
        path: &str,
        query: &[(&str, String)],
        parse: fn(&[u8]) -> Result<Vec<T>>,
    ) -> Result<Option<Vec<T>>> {
        let mut out = Vec::new();
        let mut first_total = None;
        for page in 1..=MAX_PAGES {
            let answer = match self.page(path, query, page).await {
                // Without paging headers a full last page makes us ask one
                // page too far; WordPress answers that with this code.
                Err(e)
                    if page > 1
                        && e.kind() == &ErrorKind::InvalidData
                        && e.message().contains("rest_post_invalid_page_number") =>
                {
                    return Ok(Some(out));
                }
                other => other?,
            };
            if page == 1 {
                first_total = answer.total;
            } else if answer.total.is_some() && answer.total != first_total {
                return Ok(None);
            }
            let items = parse(&answer.body).map_err(|e| {
                Error::invalid_data(format!("GET {path} page {page}: {}", e.message()))
                    .with_system(self.config.system.as_str())
            })?;
            let empty = items.is_empty();
            out.extend(items);
            if !answer.more || empty {
                return Ok(Some(out));
            }
        }
        Err(Error::new(
            ErrorKind::Unexpected,
            format!("GET {path}: more than {MAX_PAGES} pages"),
        ))
    }

    fn window(&self, since: Option<&TimeIdCursor>) -> Vec<(&'static str, String)> {
        let mut q = vec![
            ("orderby", "modified".to_string()),
            // Newest first: a record edited during the read moves to the
            // front (repeats at most; the next read has it) instead of
            // pushing an unchanged one back onto a page already read.
            ("order", "desc".to_string()),
        ];
        if let Some(c) = since {
            let lookback =
                chrono::Duration::from_std(self.config.lookback).unwrap_or(chrono::Duration::MAX);
            let from =
                c.at.checked_sub_signed(lookback)
                    .unwrap_or(DateTime::<Utc>::MIN_UTC);
            q.push((
                "modified_after",
                from.format("%Y-%m-%dT%H:%M:%S").to_string(),
            ));
            q.push(("dates_are_gmt", "true".to_string()));
        }
        q
    }

    /// The catalogue changed after `since`: products changed in the window,
    /// and for every variable product its variations changed in the window
    /// (`all_variations`: every variation of a variable product that has a
    /// change, for building whole products).
    async fn catalogue(
        &self,
        since: Option<&TimeIdCursor>,
        all_variations: bool,
    ) -> Result<Vec<(WcProduct, Vec<WcProduct>)>> {
        let window = self.window(since);
        let changed = self.all("/products", &window, wire::parse_products).await?;
        let mut parents: BTreeMap<u64, (WcProduct, bool)> = BTreeMap::new();
        let mut out = Vec::new();
        for p in changed {
            if p.is_variable() {
                parents.insert(p.id, (p, true));
            } else {
                out.push((p, Vec::new()));
            }
        }
        if since.is_some() {
            let mut q = vec![("type", "variable".to_string())];
            q.extend(self.window(None));
            for p in self.all("/products", &q, wire::parse_products).await? {
                parents.entry(p.id).or_insert((p, false));
            }
        }
        {
            let mut slugs = self.slugs.write().unwrap_or_else(|p| p.into_inner());
            for (id, (p, _)) in &parents {
                slugs.insert(*id, p.handle());
            }
        }
        for (id, (parent, parent_changed)) in parents {
            let path = format!("/products/{id}/variations");
            let mut variations = self.all(&path, &window, wire::parse_products).await?;
            if all_variations && since.is_some() && (parent_changed || !variations.is_empty()) {
                variations = self
                    .all(&path, &self.window(None), wire::parse_products)
                    .await?;
            }
            // A product's variants in a stable order: by variation id.
            variations.sort_by_key(|v| v.id);
            if parent_changed || !variations.is_empty() {
                out.push((parent, variations));
            }
        }
        Ok(out)
    }
}

/// Whether `item` is a variant yet; logs the ones skipped.
fn priced(item: &WcProduct) -> bool {
    let yes = item.is_priced();
    if !yes {
        tracing::debug!(id = item.id, sku = %item.sku, "WooCommerce item without a regular price is not a variant yet");
    }
    yes
}

/// Whether a `Link` header has a `rel="next"` target (the RFC 8288 reader
/// of the HTTP JSON adapter: URLs may hold commas and semicolons).
fn has_next_link(value: &str) -> bool {
    crate::adapters::http_json::next_link(value).is_some()
}

fn header_number(headers: &HeaderMap, name: &str) -> Option<u32> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Sorts by cursor, keeps each cursor id once (the latest), drops what is not after `since`.
fn after_cursor<T>(
    mut items: Vec<(TimeIdCursor, T)>,
    since: Option<&TimeIdCursor>,
) -> Vec<(TimeIdCursor, T)> {
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let mut seen = HashSet::new();
    let mut latest_first: Vec<(TimeIdCursor, T)> = Vec::with_capacity(items.len());
    for item in items.into_iter().rev() {
        if seen.insert(item.0.id.clone()) {
            latest_first.push(item);
        }
    }
    latest_first.reverse();
    latest_first.retain(|(c, _)| since.is_none_or(|s| c > s));
    latest_first
}

fn decode(since: Option<&Cursor>) -> Result<Option<TimeIdCursor>> {
    since.map(TimeIdCursor::decode).transpose()
}

/// Turns a whole-window load into a record stream (one error item on failure).
fn records<E: Entity, F>(inner: Arc<Inner>, since: Option<Cursor>, load: F) -> RecordStream<E>
where
    F: for<'a> FnOnce(
            &'a Inner,
            Option<&'a TimeIdCursor>,
        )
            -> futures::future::BoxFuture<'a, Result<Vec<(TimeIdCursor, String, E)>>>
        + Send
        + 'static,
{
    stream::once(async move {
        let since = decode(since.as_ref())?;
        let inner = inner.for_read();
        let loaded = load(&inner, since.as_ref()).await?;
        // Changes in the last `settle` before the server's clock may still
        // be joined by others stamped with the same second (or committed
        // late): leave them for the next read, so the cursor never passes a
        // second that can still change.
        let settle =
            chrono::Duration::from_std(inner.config.settle).unwrap_or(chrono::Duration::MAX);
        let horizon = (*inner.server_time.lock().unwrap_or_else(|p| p.into_inner())).map(|t| {
            t.checked_sub_signed(settle)
                .unwrap_or(DateTime::<Utc>::MIN_UTC)
        });
        let loaded: Vec<_> = match horizon {
            Some(h) => loaded.into_iter().filter(|(c, _, _)| c.at < h).collect(),
            None => loaded,
        };
        let keyed: Vec<(TimeIdCursor, (String, E))> =
            loaded.into_iter().map(|(c, id, e)| (c, (id, e))).collect();
        let system = inner.config.system.as_str().to_string();
        after_cursor(keyed, since.as_ref())
            .into_iter()
            .map(|(c, (id, e))| {
                Ok(Record::new(
                    e,
                    ExternalRef::try_new(&system, id)?,
                    c.encode(),
                    c.at,
                ))
            })
            .collect::<Result<Vec<_>>>()
    })
    .flat_map(|loaded| match loaded {
        Ok(recs) => stream::iter(recs.into_iter().map(Ok)).boxed(),
        Err(e) => stream::iter([Err(e)]).boxed(),
    })
    .boxed()
}

impl Connector for WooCommerce {
    fn system(&self) -> &SystemId {
        &self.inner.config.system
    }

    fn capability(&self, kind: EntityKind) -> Capability {
        let read = Capability::new()
            .with_incremental(true)
            .with_max_page(Some(self.inner.config.per_page as usize));
        match kind {
            EntityKind::InventoryLevel | EntityKind::Variant => {
                read.with_webhooks(true).with_max_batch(Some(MAX_BATCH))
            }
            EntityKind::Order | EntityKind::Customer => read.with_webhooks(true),
            // Whole products are not built from webhooks (see `webhook`).
            EntityKind::Product => read,
            _ => Capability::new(),
        }
    }
}

impl Source<Variant> for WooCommerce {
    fn read(&self, since: Option<Cursor>) -> RecordStream<Variant> {
        records(self.inner.clone(), since, |inner, since| {
            Box::pin(async move {
                let mut out = Vec::new();
                for (p, variations) in inner.catalogue(since, false).await? {
                    if p.is_variable() {
                        let handle = p.handle();
                        for v in variations.iter().filter(|v| priced(v)) {
                            let variant = wire::to_variant(v, Some(&p), &handle, &inner.ctx)?;
                            out.push((v.cursor()?, v.id.to_string(), variant));
                        }
                    } else if p.kind.as_deref() != Some("grouped") && priced(&p) {
                        let variant = wire::to_variant(&p, None, &p.handle(), &inner.ctx)?;
                        out.push((p.cursor()?, p.id.to_string(), variant));
                    }
                }
                Ok(out)
            })
        })
    }
}

impl Source<Product> for WooCommerce {
    fn read(&self, since: Option<Cursor>) -> RecordStream<Product> {
        records(self.inner.clone(), since, |inner, since| {
            Box::pin(async move {
                let mut out = Vec::new();
                for (p, variations) in inner.catalogue(since, true).await? {
                    let mut cursor = p.cursor()?;
                    for v in &variations {
                        cursor.at = cursor.at.max(v.modified()?);
                    }
                    let product = wire::to_product(&p, &variations, &inner.ctx)?;
                    out.push((cursor, p.id.to_string(), product));
                }
                Ok(out)
            })
        })
    }
}

impl Source<InventoryLevel> for WooCommerce {
    fn read(&self, since: Option<Cursor>) -> RecordStream<InventoryLevel> {
        records(self.inner.clone(), since, |inner, since| {
            Box::pin(async move {
                let mut out = Vec::new();
                for (p, variations) in inner.catalogue(since, false).await? {
                    for item in std::iter::once(&p).chain(&variations) {
                        if let Some(level) = wire::to_level(item, &inner.ctx)? {
                            out.push((item.cursor()?, item.id.to_string(), level));
                        }
                    }
                }
                Ok(out)
            })
        })
    }
}

impl Source<Order> for WooCommerce {
    fn read(&self, since: Option<Cursor>) -> RecordStream<Order> {
        records(self.inner.clone(), since, |inner, since| {
            Box::pin(async move {
                let window = inner.window(since);
                let orders = inner.all("/orders", &window, wire::parse_orders).await?;
                orders
                    .iter()
                    .map(|o| {
                        Ok((
                            o.cursor()?,
                            o.id.to_string(),
                            wire::to_order(o, &inner.ctx)?,
                        ))
                    })
                    .collect()
            })
        })
    }
}

impl Source<Customer> for WooCommerce {
    fn read(&self, since: Option<Cursor>) -> RecordStream<Customer> {
        records(self.inner.clone(), since, |inner, _since| {
            Box::pin(async move {
                // No modified_after on /customers: list all, filter by cursor.
                let q = [
                    ("orderby", "id".to_string()),
                    ("order", "asc".to_string()),
                    ("role", "all".to_string()),
                ];
                let customers = inner.all("/customers", &q, wire::parse_customers).await?;
                customers
                    .iter()
                    .map(|c| {
                        Ok((
                            c.cursor()?,
                            c.id.to_string(),
                            wire::to_customer(c, &inner.ctx)?,
                        ))
                    })
                    .collect()
            })
        })
    }
}

// ---------------------------------------------------------------- writes

/// One planned write: the outcome if it succeeds, the item and the fields to send.
struct Planned {
    index: usize,
    item: WcProduct,
    fields: serde_json::Map<String, serde_json::Value>,
    created: bool,
}

impl Inner {
    /// The products and variations with these SKUs, by SKU.
    async fn by_sku(&self, skus: &[String]) -> Result<HashMap<String, WcProduct>> {
        let mut out = HashMap::new();
        let mut wanted: Vec<&String> = skus.iter().collect();
        wanted.sort();
        wanted.dedup();
        for chunk in wanted.chunks(self.config.per_page as usize) {
            let list = chunk
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(",");
            let q = [("sku", list)];
            for p in self.all("/products", &q, wire::parse_products).await? {
                if chunk.iter().any(|s| **s == p.sku) {
                    out.insert(p.sku.clone(), p);
                }
            }
        }
        Ok(out)
    }

    /// Sends the planned updates through the batch endpoints (products, and
    /// variations per parent) and fills `outcomes`.
    async fn write_planned(
        &self,
        planned: Vec<Planned>,
        outcomes: &mut [Option<WriteResult>],
    ) -> Result<()> {
        let mut groups: BTreeMap<u64, Vec<Planned>> = BTreeMap::new();
        for p in planned {
            let parent = if p.item.is_variation() {
                p.item.parent_id
            } else {
                0
            };
            groups.entry(parent).or_default().push(p);
        }
        for (parent, group) in groups {
            let path = if parent == 0 {
                "/products/batch".to_string()
            } else {
                format!("/products/{parent}/variations/batch")
            };
            let update: Vec<serde_json::Value> = group
                .iter()
                .map(|p| {
                    let mut f = p.fields.clone();
                    f.insert("id".into(), json!(p.item.id));
                    serde_json::Value::Object(f)
                })
                .collect();
            let (_, body) = self
                .call(Method::POST, &path, &[], Some(&json!({ "update": update })))
                .await?;
            let answer: BatchAnswer = serde_json::from_slice(&body).map_err(|e| {
                Error::new(
                    ErrorKind::Unexpected,
                    format!("POST {path}: the answer is not a batch answer: {e}"),
                )
            })?;
            for (i, p) in group.iter().enumerate() {
                let result = match answer.update.get(i) {
                    None => WriteResult::rejected(Error::new(
                        ErrorKind::Unexpected,
                        format!(
                            "POST {path} answered {} items for {} updates; {} (id {}) has no answer",
                            answer.update.len(),
                            group.len(),
                            p.item.sku,
                            p.item.id
                        ),
                    )),
                    Some(BatchItem { error: Some(e), .. }) => {
                        let status = e
                            .data
                            .as_ref()
                            .and_then(|d| d.status)
                            .and_then(|s| StatusCode::from_u16(s).ok())
                            .unwrap_or(StatusCode::BAD_REQUEST);
                        WriteResult::rejected(
                            web::status_error(
                                &format!(
                                    "WooCommerce batch update of {} (id {})",
                                    p.item.sku, p.item.id
                                ),
                                status,
                                &HeaderMap::new(),
                                &e.describe(),
                            )
                            .with_external_id(p.item.id.to_string()),
                        )
                    }
                    Some(BatchItem { id, .. }) if *id != Some(p.item.id) => {
                        // The write may have happened: its effect is
                        // unknown, so the call fails (retrying is safe).
                        return Err(Error::new(
                            ErrorKind::Unexpected,
                            format!(
                                "POST {path}: answer #{i} is for id {id:?}, expected {} ({})",
                                p.item.id, p.item.sku
                            ),
                        ));
                    }
                    Some(_) => {
                        let external_id = p.item.id.to_string();
                        if p.created {
                            WriteResult::Created { external_id }
                        } else {
                            WriteResult::Updated { external_id }
                        }
                    }
                };
                outcomes[p.index] = Some(result);
            }
        }
        Ok(())
    }
}

#[derive(serde::Deserialize)]
struct BatchAnswer {
    #[serde(default)]
    update: Vec<BatchItem>,
}

#[derive(serde::Deserialize)]
struct BatchItem {
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    error: Option<wire::WcError>,
}

fn unknown_sku(sku: &str) -> WriteResult {
    WriteResult::rejected(Error::new(
        ErrorKind::NotFound,
        format!("WooCommerce has no product or variation with SKU {sku:?}"),
    ))
}

/// Runs `plan` on each record, writes what it planned, and answers one outcome per record.
async fn upsert_with<E: Entity>(
    inner: &Inner,
    batch: &[E],
    sku_of: impl Fn(&E) -> String,
    plan: impl Fn(
        &E,
        &WcProduct,
    ) -> std::result::Result<
        Option<(serde_json::Map<String, serde_json::Value>, bool)>,
        Error,
    >,
) -> Result<Vec<WriteOutcome>> {
    if batch.len() > MAX_BATCH {
        return Err(Error::invalid_data(format!(
            "a WooCommerce batch holds at most {MAX_BATCH} records, got {}",
            batch.len()
        )));
    }
    let skus: Vec<String> = batch.iter().map(&sku_of).collect();
    let found = inner.by_sku(&skus).await?;
    let mut outcomes: Vec<Option<WriteResult>> = vec![None; batch.len()];
    let mut planned = Vec::new();
    let mut claimed = HashSet::new();
    for (index, e) in batch.iter().enumerate() {
        if let Err(v) = e.validate() {
            outcomes[index] = Some(WriteResult::rejected(Error::invalid_data(v.to_string())));
            continue;
        }
        let Some(item) = found.get(&skus[index]) else {
            outcomes[index] = Some(unknown_sku(&skus[index]));
            continue;
        };
        if !claimed.insert(item.id) {
            outcomes[index] = Some(WriteResult::rejected(Error::invalid_data(format!(
                "SKU {:?} appears twice in one batch",
                skus[index]
            ))));
            continue;
        }
        match plan(e, item) {
            Err(err) => outcomes[index] = Some(WriteResult::rejected(err)),
            Ok(None) => {
                outcomes[index] = Some(WriteResult::Unchanged {
                    external_id: item.id.to_string(),
                })
            }
            Ok(Some((fields, created))) => planned.push(Planned {
                index,
                item: item.clone(),
                fields,
                created,
            }),
        }
    }
    inner.write_planned(planned, &mut outcomes).await?;
    Ok(batch
        .iter()
        .zip(outcomes)
        .map(|(e, o)| {
            let result = o.unwrap_or_else(|| {
                WriteResult::rejected(Error::new(ErrorKind::Unexpected, "no outcome was recorded"))
            });
            WriteOutcome::new(e.key(), result)
        })
        .collect())
}

#[async_trait]
impl Sink<InventoryLevel> for WooCommerce {
    async fn upsert(&self, batch: &[InventoryLevel]) -> Result<Vec<WriteOutcome>> {
        let ctx = &self.inner.ctx;
        upsert_with(
            &self.inner,
            batch,
            |l| l.sku.as_str().to_string(),
            |level, item| {
                if level.location != ctx.location {
                    return Err(Error::invalid_data(format!(
                        "{}: WooCommerce keeps one stock figure, written for location {} only",
                        level.key_text(),
                        ctx.location
                    )));
                }
                if item.manage_stock == wire::ManageStock::Parent {
                    return Err(Error::invalid_data(format!(
                        "{}: the variation's stock is its parent's (manage_stock = \"parent\")",
                        level.key_text()
                    )));
                }
                let tracked = item.manage_stock == wire::ManageStock::Yes;
                let backorders_now = backorders_allowed(&item.backorders);
                let same = tracked
                    && item.stock_quantity.unwrap_or(0) == level.available
                    && backorders_now == level.oversell_allowed;
                if same {
                    return Ok(None);
                }
                let mut f = serde_json::Map::new();
                f.insert("manage_stock".into(), json!(true));
                f.insert("stock_quantity".into(), json!(level.available));
                if backorders_now != level.oversell_allowed {
                    let value = if level.oversell_allowed { "yes" } else { "no" };
                    f.insert("backorders".into(), json!(value));
                }
                Ok(Some((f, !tracked)))
            },
        )
        .await
    }
}

/// A price as WooCommerce text: in the store currency, at most the
/// currency's minor units (never rounded silently).
fn price_text(m: &Money, currency: Currency, field: &str) -> std::result::Result<String, Error> {
    if m.currency() != currency {
        return Err(Error::invalid_data(format!(
            "{field} is in {}, the store sells in {}",
            m.currency().code(),
            currency.code()
        )));
    }
    if !m.is_rounded() {
        return Err(Error::invalid_data(format!(
            "{field} {m} has more decimals than {} allows",
            currency.code()
        )));
    }
    let mut amount = m.amount();
    amount.rescale(currency.minor_units());
    Ok(amount.to_string())
}

fn same_price(text: &str, want: Option<&str>) -> bool {
    let have = text.trim();
    match want {
        None => have.is_empty(),
        Some(w) => match (
            have.parse::<rust_decimal::Decimal>(),
            w.parse::<rust_decimal::Decimal>(),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        },
    }
}

#[async_trait]
impl Sink<Variant> for WooCommerce {
    async fn upsert(&self, batch: &[Variant]) -> Result<Vec<WriteOutcome>> {
        let currency = self.inner.ctx.currency;
        upsert_with(
            &self.inner,
            batch,
            |v| v.sku.as_str().to_string(),
            |v, item| {
                let price = price_text(&v.price, currency, "price")?;
                let (regular, sale) = match &v.compare_at_price {
                    Some(cap)
                        if cap.checked_cmp(&v.price).ok() == Some(std::cmp::Ordering::Greater) =>
                    {
                        (price_text(cap, currency, "compare_at_price")?, Some(price))
                    }
                    _ => (price, None),
                };
                if same_price(&item.regular_price, Some(&regular))
                    && same_price(&item.sale_price, sale.as_deref())
                {
                    return Ok(None);
                }
                let mut f = serde_json::Map::new();
                f.insert("regular_price".into(), json!(regular));
                f.insert("sale_price".into(), json!(sale.unwrap_or_default()));
                Ok(Some((f, item.regular_price.trim().is_empty())))
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_with_next_are_recognised() {
        assert!(has_next_link(
            r#"<https://s.example/wp-json/wc/v3/products?page=1>; rel="prev", <https://s.example/wp-json/wc/v3/products?page=3>; rel="next""#
        ));
        assert!(!has_next_link(
            r#"<https://s.example/wp-json/wc/v3/products?page=1>; rel="prev""#
        ));
        assert!(!has_next_link("garbage"));
    }

    #[test]
    fn only_later_records_survive_and_each_id_once() {
        let t = |s: i64| DateTime::<Utc>::from_timestamp(s, 0).unwrap();
        let items = vec![
            (TimeIdCursor::new(t(10), "2"), "b-old"),
            (TimeIdCursor::new(t(10), "1"), "a"),
            (TimeIdCursor::new(t(12), "2"), "b-new"),
            (TimeIdCursor::new(t(10), "3"), "c"),
        ];
        let since = TimeIdCursor::new(t(10), "1");
        let got: Vec<&str> = after_cursor(items, Some(&since))
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        assert_eq!(got, ["c", "b-new"]);
    }
}
