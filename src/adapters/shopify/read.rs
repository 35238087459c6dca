//! Reads: the GraphQL queries, cursor pagination, and the two kinds of
//! resume point.
//!
//! * Products, variants, orders and customers are read incrementally:
//!   sorted by `UPDATED_AT`, filtered with `updated_at:>=` (cursor time minus
//!   the lookback), and resumed exactly by comparing (updated_at, id) with a
//!   [`TimeIdCursor`] on this side. Ids are zero-padded so their text order
//!   is the server's numeric tie order.
//! * Locations and inventory levels have no change filter; their cursor is a
//!   position (location, page start, records to skip), so resuming re-fetches
//!   one page and never skips or repeats a record.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use serde_json::{Value, json};

use super::Inner;
use super::json::{Node, sortable_id};
use super::map;
use crate::connector::{Cursor, Entity, Page, Record, RecordStream, TimeIdCursor, paginate};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Customer, InventoryLevel, Location, LocationId, Order, Product, Variant};

const PAGE_INFO: &str = "pageInfo { hasNextPage endCursor }";

const ADDRESS_FIELDS: &str =
    "address1 address2 city provinceCode zip countryCode phone company firstName lastName";

pub(crate) const PRODUCTS_QUERY: &str =
    "query Products($first: Int!, $after: String, $query: String) {
  products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes {
      id handle title descriptionHtml vendor productType status tags createdAt updatedAt
      options { name optionValues { name } }
      variants(first: 100) {
        nodes {
          id sku title price compareAtPrice barcode taxable createdAt updatedAt
          selectedOptions { name value }
          inventoryItem { measurement { weight { unit value } } }
        }
        pageInfo { hasNextPage }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}";

fn orders_query() -> String {
    let money = "shopMoney { amount currencyCode }";
    let alloc = format!(
        "discountAllocations {{ allocatedAmountSet {{ {money} }} discountApplication {{ index }} }}"
    );
    let tax = format!("taxLines {{ title rate priceSet {{ {money} }} }}");
    format!(
        "query Orders($first: Int!, $after: String, $query: String) {{
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    nodes {{
      id name currencyCode taxesIncluded displayFinancialStatus displayFulfillmentStatus createdAt updatedAt
      customer {{ id }}
      billingAddress {{ {ADDRESS_FIELDS} }}
      shippingAddress {{ {ADDRESS_FIELDS} }}
      discountApplications(first: 50) {{
        nodes {{
          index targetType targetSelection allocationMethod
          ... on DiscountCodeApplication {{ code }}
          ... on ManualDiscountApplication {{ title description }}
          ... on AutomaticDiscountApplication {{ title }}
          ... on ScriptDiscountApplication {{ title }}
        }}
        pageInfo {{ hasNextPage }}
      }}
      lineItems(first: 100) {{
        nodes {{ id sku title quantity originalUnitPriceSet {{ {money} }} {alloc} {tax} }}
        pageInfo {{ hasNextPage }}
      }}
      shippingLines(first: 20) {{
        nodes {{ title code originalPriceSet {{ {money} }} {alloc} {tax} }}
        pageInfo {{ hasNextPage }}
      }}
      refunds {{
        id createdAt note totalRefundedSet {{ {money} }}
        refundLineItems(first: 100) {{
          nodes {{ lineItem {{ id }} quantity restockType subtotalSet {{ {money} }} totalTaxSet {{ {money} }} }}
          pageInfo {{ hasNextPage }}
        }}
      }}
      subtotalPriceSet {{ {money} }} totalDiscountsSet {{ {money} }} totalShippingPriceSet {{ {money} }}
      totalTaxSet {{ {money} }} totalPriceSet {{ {money} }} totalReceivedSet {{ {money} }}
      totalOutstandingSet {{ {money} }} totalTipReceivedSet {{ {money} }} originalTotalDutiesSet {{ {money} }}
    }}
    {PAGE_INFO}
  }}
}}"
    )
}

fn customers_query() -> String {
    format!(
        "query Customers($first: Int!, $after: String, $query: String) {{
  customers(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    nodes {{
      id firstName lastName tags createdAt updatedAt
      defaultEmailAddress {{ emailAddress marketingState marketingUpdatedAt }}
      defaultPhoneNumber {{ phoneNumber marketingState marketingUpdatedAt }}
      defaultAddress {{ {ADDRESS_FIELDS} }}
      addressesV2(first: 20) {{ nodes {{ {ADDRESS_FIELDS} }} pageInfo {{ hasNextPage }} }}
    }}
    {PAGE_INFO}
  }}
}}"
    )
}

fn locations_query() -> String {
    format!(
        "query Locations($first: Int!, $after: String) {{
  locations(first: $first, after: $after, includeInactive: true, sortKey: ID) {{
    nodes {{ id name isActive fulfillmentService {{ handle }} address {{ address1 address2 city provinceCode zip countryCode phone }} }}
    {PAGE_INFO}
  }}
}}"
    )
}

fn levels_query() -> String {
    let names = map::QUANTITY_NAMES
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "query InventoryLevels($location: ID!, $first: Int!, $after: String) {{
  location(id: $location) {{
    inventoryLevels(first: $first, after: $after) {{
      nodes {{ id updatedAt item {{ sku variant {{ inventoryPolicy }} }} quantities(names: [{names}]) {{ name quantity }} }}
      {PAGE_INFO}
    }}
  }}
}}"
    )
}

/// A connection's nodes and where the next page starts.
struct Connection<'a> {
    nodes: Vec<Node<'a>>,
    next: Option<String>,
}

fn connection<'a>(data: &'a Value, path: &[&str]) -> Result<Connection<'a>> {
    let mut node = Node::root(data, "data");
    for key in path {
        node = node.obj(key)?;
    }
    let info = node.obj("pageInfo")?;
    let more = info.bool_or("hasNextPage", false)?;
    let next = if more {
        Some(info.str("endCursor")?.to_string())
    } else {
        None
    };
    Ok(Connection {
        nodes: node.list("nodes")?,
        next,
    })
}

/// One entity read from a time-sorted connection, before it becomes a record.
pub(crate) struct Item<E> {
    pub(crate) entity: E,
    pub(crate) gid: String,
    pub(crate) changed_at: DateTime<Utc>,
    /// The (updated_at, id) position of this item.
    pub(crate) position: TimeIdCursor,
}

/// What an incremental read needs: the query and how to map one node.
pub(crate) struct TimeSorted<E> {
    pub(crate) operation: &'static str,
    pub(crate) query: String,
    pub(crate) field: &'static str,
    pub(crate) map: fn(&Inner, &Node<'_>) -> Result<Vec<Item<E>>>,
}

/// The `updated_at:>=` filter for a resume point, widened by the lookback.
fn since_filter(since: &TimeIdCursor, lookback: std::time::Duration) -> String {
    // A lookback past the calendar's start reads from its start (as the
    // WooCommerce and HTTP JSON sources do) instead of panicking.
    let back = chrono::Duration::from_std(lookback).unwrap_or(chrono::Duration::MAX);
    let from = since
        .at
        .checked_sub_signed(back)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    format!(
        "updated_at:>='{}'",
        from.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

pub(crate) fn time_sorted<E: Entity>(
    inner: Arc<Inner>,
    since: Option<Cursor>,
    spec: TimeSorted<E>,
) -> RecordStream<E> {
    let since = match since.as_ref().map(TimeIdCursor::decode).transpose() {
        Ok(s) => s,
        Err(e) => return stream::once(async move { Err(e) }).boxed(),
    };
    let spec = Arc::new(spec);
    paginate(None, move |after: Option<Cursor>| {
        let inner = inner.clone();
        let spec = spec.clone();
        let since = since.clone();
        async move {
            let filter = since
                .as_ref()
                .map(|s| since_filter(s, inner.config.lookback));
            let vars = json!({
                "first": inner.config.page_size,
                "after": after.as_ref().map(Cursor::as_str),
                "query": filter,
            });
            let data = inner
                .client
                .execute(spec.operation, &spec.query, vars)
                .await?;
            let page = connection(&data, &[spec.field])?;
            let mut records = Vec::new();
            for node in &page.nodes {
                for item in (spec.map)(&inner, node)? {
                    if since.as_ref().is_some_and(|s| item.position <= *s) {
                        continue;
                    }
                    records.push(inner.record(
                        item.entity,
                        &item.gid,
                        item.position.encode(),
                        item.changed_at,
                    ));
                }
            }
            Ok(Page::new(records, page.next.map(Cursor::new)))
        }
    })
}

pub(crate) fn products() -> TimeSorted<Product> {
    TimeSorted {
        operation: "Products",
        query: PRODUCTS_QUERY.to_string(),
        field: "products",
        map: |inner, node| {
            let p = map::product(node, inner.currency())?;
            let gid = node.str("id")?.to_string();
            Ok(vec![Item {
                position: TimeIdCursor::new(p.updated_at, sortable_id(&gid)),
                changed_at: p.updated_at,
                gid,
                entity: p,
            }])
        },
    }
}

/// Variants come with their product (variants cannot be sorted by update
/// time); a variant's position is its product's, then its place in it.
pub(crate) fn variants() -> TimeSorted<Variant> {
    TimeSorted {
        operation: "Products",
        query: PRODUCTS_QUERY.to_string(),
        field: "products",
        map: |inner, node| {
            let p = map::product(node, inner.currency())?;
            let pid = sortable_id(node.str("id")?);
            let gids = node
                .nodes("variants")?
                .iter()
                .map(|v| v.str("id").map(str::to_string))
                .collect::<Result<Vec<_>>>()?;
            Ok(p.variants
                .into_iter()
                .zip(gids)
                .enumerate()
                .map(|(i, (v, gid))| Item {
                    position: TimeIdCursor::new(p.updated_at, format!("{pid}/{i:05}")),
                    changed_at: v.updated_at,
                    gid,
                    entity: v,
                })
                .collect())
        },
    }
}

pub(crate) fn orders() -> TimeSorted<Order> {
    TimeSorted {
        operation: "Orders",
        query: orders_query(),
        field: "orders",
        map: |inner, node| {
            let o = map::order(node, inner.config.system.as_str())?;
            let gid = node.str("id")?.to_string();
            Ok(vec![Item {
                position: TimeIdCursor::new(o.updated_at, sortable_id(&gid)),
                changed_at: o.updated_at,
                gid,
                entity: o,
            }])
        },
    }
}

pub(crate) fn customers() -> TimeSorted<Customer> {
    TimeSorted {
        operation: "Customers",
        query: customers_query(),
        field: "customers",
        map: |inner, node| {
            let c = map::customer(node, inner.config.system.as_str())?;
            let gid = node.str("id")?.to_string();
            Ok(vec![Item {
                position: TimeIdCursor::new(c.updated_at, sortable_id(&gid)),
                changed_at: c.updated_at,
                gid,
                entity: c,
            }])
        },
    }
}

/// A positional resume point: partition (location gid, or empty), the page
/// start cursor, and how many records of that page were already read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Position {
    partition: String,
    after: Option<String>,
    skip: usize,
}

impl Position {
    fn encode(&self) -> Cursor {
        Cursor::new(format!(
            "pos|{}|{}|{}",
            self.partition,
            self.skip,
            self.after.as_deref().unwrap_or("")
        ))
    }

    fn decode(c: &Cursor) -> Result<Self> {
        let bad = || {
            Error::invalid_data(format!(
                "cursor {:?} is not a Shopify position cursor (pos|partition|skip|after)",
                c.as_str()
            ))
        };
        let rest = c.as_str().strip_prefix("pos|").ok_or_else(bad)?;
        let mut parts = rest.splitn(3, '|');
        let partition = parts.next().ok_or_else(bad)?.to_string();
        let skip = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let after = parts.next().ok_or_else(bad)?;
        Ok(Position {
            partition,
            after: Some(after.to_string()).filter(|a| !a.is_empty()),
            skip,
        })
    }
}

/// All locations (every page), as (gid, canonical location).
pub(crate) async fn all_locations(inner: &Inner) -> Result<Vec<(String, Location)>> {
    let query = locations_query();
    let mut after: Option<String> = None;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    loop {
        let vars = json!({"first": inner.config.page_size, "after": after});
        let data = inner.client.execute("Locations", &query, vars).await?;
        let page = connection(&data, &["locations"])?;
        for node in &page.nodes {
            out.push((
                node.str("id")?.to_string(),
                map::location(node, inner.config.location_key)?,
            ));
        }
        match page.next {
            None => return Ok(out),
            Some(next) if !seen.insert(next.clone()) => {
                return Err(Error::new(
                    ErrorKind::Unexpected,
                    format!(
                        "Shopify locations pagination did not advance: cursor {next:?} came back"
                    ),
                ));
            }
            Some(next) => after = Some(next),
        }
    }
}

/// State of a positional read across partitions.
struct Walk {
    inner: Arc<Inner>,
    /// (partition gid, canonical location); loaded on the first step.
    partitions: Option<Vec<(String, LocationId)>>,
    index: usize,
    at: Position,
    seen: HashSet<(String, String)>,
    done: bool,
}

/// Locations: one partition, positional cursor over the `locations` connection.
pub(crate) fn locations(inner: Arc<Inner>, since: Option<Cursor>) -> RecordStream<Location> {
    let start = match since.as_ref().map(Position::decode).transpose() {
        Ok(s) => s,
        Err(e) => return stream::once(async move { Err(e) }).boxed(),
    };
    let query = Arc::new(locations_query());
    let state = (
        inner,
        start.unwrap_or(Position {
            partition: String::new(),
            after: None,
            skip: 0,
        }),
        false,
        HashSet::new(),
    );
    stream::try_unfold(state, move |(inner, at, done, mut seen)| {
        let query = query.clone();
        async move {
            if done {
                return Ok::<_, Error>(None);
            }
            let vars = json!({"first": inner.config.page_size, "after": at.after});
            let data = inner.client.execute("Locations", &query, vars).await?;
            let page = connection(&data, &["locations"])?;
            let mut records = Vec::new();
            for (i, node) in page.nodes.iter().enumerate().skip(at.skip) {
                let loc = map::location(node, inner.config.location_key)?;
                let cursor = Position {
                    skip: i + 1,
                    ..at.clone()
                }
                .encode();
                records.push(inner.record(loc, node.str("id")?, cursor, Utc::now()));
            }
            let next = advance(&mut seen, "", page.next)?;
            let done = next.is_none();
            let at = Position {
                partition: String::new(),
                after: next,
                skip: 0,
            };
            Ok(Some((records, (inner, at, done, seen))))
        }
    })
    .map_ok(|records| stream::iter(records.into_iter().map(Ok)))
    .try_flatten()
    .boxed()
}

fn advance(
    seen: &mut HashSet<(String, String)>,
    partition: &str,
    next: Option<String>,
) -> Result<Option<String>> {
    match next {
        Some(n) if !seen.insert((partition.to_string(), n.clone())) => Err(Error::new(
            ErrorKind::Unexpected,
            format!("Shopify pagination did not advance: cursor {n:?} came back"),
        )),
        other => Ok(other),
    }
}

/// Inventory levels: every location (sorted by id), each one's levels page by page.
pub(crate) fn inventory(inner: Arc<Inner>, since: Option<Cursor>) -> RecordStream<InventoryLevel> {
    let start = match since.as_ref().map(Position::decode).transpose() {
        Ok(s) => s,
        Err(e) => return stream::once(async move { Err(e) }).boxed(),
    };
    let walk = Walk {
        inner,
        partitions: None,
        index: 0,
        at: start.unwrap_or(Position {
            partition: String::new(),
            after: None,
            skip: 0,
        }),
        seen: HashSet::new(),
        done: false,
    };
    let query = Arc::new(levels_query());
    stream::try_unfold(walk, move |mut w| {
        let query = query.clone();
        async move {
            if w.done {
                return Ok::<_, Error>(None);
            }
            if w.partitions.is_none() {
                let all = all_locations(&w.inner).await?;
                let parts: Vec<(String, LocationId)> =
                    all.into_iter().map(|(gid, l)| (gid, l.id)).collect();
                if !w.at.partition.is_empty() {
                    w.index = parts
                        .iter()
                        .position(|(gid, _)| *gid == w.at.partition)
                        .ok_or_else(|| {
                            Error::new(
                                ErrorKind::NotFound,
                                format!(
                                    "cannot resume inventory: location {} no longer exists",
                                    w.at.partition
                                ),
                            )
                        })?;
                }
                w.partitions = Some(parts);
            }
            let parts = w.partitions.as_deref().unwrap_or_default();
            let Some((gid, location)) = parts.get(w.index).cloned() else {
                return Ok(None);
            };
            let vars = json!({
                "location": gid,
                "first": w.inner.config.page_size,
                "after": w.at.after,
            });
            let data = w
                .inner
                .client
                .execute("InventoryLevels", &query, vars)
                .await?;
            let page = connection(&data, &["location", "inventoryLevels"])?;
            let mut records = Vec::new();
            for (i, node) in page.nodes.iter().enumerate().skip(w.at.skip) {
                let level = map::inventory_level(node, &location)?;
                let cursor = Position {
                    partition: gid.clone(),
                    after: w.at.after.clone(),
                    skip: i + 1,
                }
                .encode();
                let changed = level.updated_at;
                records.push(w.inner.record(level, node.str("id")?, cursor, changed));
            }
            match advance(&mut w.seen, &gid, page.next)? {
                Some(next) => {
                    w.at = Position {
                        partition: gid,
                        after: Some(next),
                        skip: 0,
                    };
                }
                None => {
                    w.index += 1;
                    w.done = w.index >= parts.len();
                    w.at = Position {
                        partition: String::new(),
                        after: None,
                        skip: 0,
                    };
                }
            }
            Ok(Some((records, w)))
        }
    })
    .map_ok(|records| stream::iter(records.into_iter().map(Ok)))
    .try_flatten()
    .boxed()
}

/// Parses a whole answer body and maps every node of the connection that
/// reads of `kind` use, exactly as a read would; returns how many records
/// came out. For fuzzing and for checking captured answers.
pub(crate) fn decode_answer(
    kind: crate::connector::EntityKind,
    body: &[u8],
    config: &super::ShopifyConfig,
) -> Result<usize> {
    use crate::connector::EntityKind as K;
    let response = super::wire::parse_response(body)?;
    if let Some(e) = response.error("decode") {
        return Err(e);
    }
    if let Some(cost) = &response.cost {
        crate::layers::BudgetSignal::from_shopify_cost(cost)?;
    }
    let data = response
        .data
        .ok_or_else(|| Error::invalid_data("Shopify answer has no data"))?;
    let system = config.system.as_str();
    let path: &[&str] = match kind {
        K::Product | K::Variant => &["products"],
        K::Order => &["orders"],
        K::Customer => &["customers"],
        K::Location => &["locations"],
        K::InventoryLevel => &["location", "inventoryLevels"],
    };
    let page = connection(&data, path)?;
    let here = LocationId::new("1").expect("a valid location id");
    for node in &page.nodes {
        match kind {
            K::Product | K::Variant => {
                map::product(node, crate::model::Currency::USD)?;
            }
            K::Order => {
                map::order(node, system)?;
            }
            K::Customer => {
                map::customer(node, system)?;
            }
            K::Location => {
                map::location(node, config.location_key)?;
            }
            _ => {
                map::inventory_level(node, &here)?;
            }
        }
    }
    Ok(page.nodes.len())
}

/// Makes a record of `entity` found at Shopify id `gid`.
impl Inner {
    pub(crate) fn record<E>(
        &self,
        entity: E,
        gid: &str,
        cursor: Cursor,
        changed_at: DateTime<Utc>,
    ) -> Record<E> {
        Record::new(
            entity,
            crate::model::ExternalRef::new(self.config.system.as_str(), gid),
            cursor,
            changed_at,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_cursors_round_trip() {
        let p = Position {
            partition: "gid://shopify/Location/1".into(),
            after: Some("eyJ8fCI6MX0=|x".into()),
            skip: 3,
        };
        assert_eq!(Position::decode(&p.encode()).unwrap(), p);
        let first = Position {
            partition: String::new(),
            after: None,
            skip: 0,
        };
        assert_eq!(Position::decode(&first.encode()).unwrap(), first);
        assert!(Position::decode(&Cursor::new("2024|x")).is_err());
    }

    #[test]
    fn since_filter_widens_by_the_lookback() {
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.5Z")
            .unwrap()
            .with_timezone(&Utc);
        let f = since_filter(
            &TimeIdCursor::new(at, "1"),
            std::time::Duration::from_secs(5),
        );
        assert_eq!(f, "updated_at:>='2026-01-02T03:04:00Z'");
        let huge = since_filter(&TimeIdCursor::new(at, "1"), std::time::Duration::MAX);
        assert!(huge.starts_with("updated_at:>='"), "{huge}");
    }
}
