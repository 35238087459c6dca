//! Read a warehouse's stock API through the generic HTTP JSON adapter, with
//! no network: a local server imitates the WMS (API key, cursor pages, an
//! `updated_since` filter), and a mapping spec turns its rows into canonical
//! inventory levels.
//!
//! ```sh
//! cargo run --features http --example http_json_wms
//! ```
//!
//! It reads everything once, then a stock movement happens and an
//! incremental read from the last cursor returns only what changed — two
//! rows sharing one timestamp included, neither skipped nor repeated.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::TryStreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use seamwork::adapters::http_json::{
    Auth, HttpJsonConfig, HttpJsonSource, IdOrder, Incremental, Pagination, ReadOptions,
};
use seamwork::connector::{Cursor, Source};
use seamwork::mapping::MappingSpec;
use seamwork::model::{InventoryLevel, SystemId};

/// The WMS's own field names and codes; the spec maps them to the canonical model.
const SPEC: &str = r#"
system = "wms"
entity = "inventory_level"
version = 1
description = "Acme WMS /v2/stock rows"
[fields]
sku = { from = "/item/code", transforms = ["trim", { case = "upper" }] }
location = { from = "warehouse", transforms = [{ map = { "W1" = "DC-EAST", "W2" = "DC-WEST" } }] }
on_hand = { from = "/qty/physical", transforms = ["integer"] }
committed = { from = "/qty/allocated", transforms = ["integer"] }
available = { expr = "int(qty.physical) - int(qty.allocated)" }
updated_at = { from = "modified", transforms = [{ datetime = { formats = ["rfc3339"] } }] }
"#;

/// Page size of the imitation WMS.
const PAGE: usize = 2;

/// The imitation WMS: rows sorted by `(modified, id)`, `updated_since`
/// inclusive, `cursor` = the index to continue at.
#[derive(Clone, Default)]
struct Wms {
    rows: Arc<Mutex<BTreeMap<u32, Value>>>,
}

impl Wms {
    fn put(
        &self,
        id: u32,
        code: &str,
        warehouse: &str,
        physical: i64,
        allocated: i64,
        modified: &str,
    ) {
        self.rows.lock().unwrap().insert(
            id,
            json!({
                "id": id,
                "item": { "code": code },
                "warehouse": warehouse,
                "qty": { "physical": physical.to_string(), "allocated": allocated.to_string() },
                "modified": modified,
            }),
        );
    }
}

impl Respond for Wms {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let query: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        let since = query.get("updated_since").cloned().unwrap_or_default();
        let mut rows: Vec<Value> = self
            .rows
            .lock()
            .unwrap()
            .values()
            // RFC 3339 in UTC with a fixed width sorts as text.
            .filter(|r| r["modified"].as_str().unwrap() >= since.as_str())
            .cloned()
            .collect();
        rows.sort_by_key(|r| {
            (
                r["modified"].as_str().unwrap().to_string(),
                r["id"].as_u64(),
            )
        });
        let start: usize = query.get("cursor").map_or(0, |c| c.parse().unwrap());
        let end = (start + PAGE).min(rows.len());
        let next = (end < rows.len()).then(|| end.to_string());
        ResponseTemplate::new(200).set_body_json(json!({
            "result": { "rows": rows[start.min(end)..end] },
            "paging": { "next": next },
        }))
    }
}

fn show(records: &[seamwork::connector::Record<InventoryLevel>]) {
    for r in records {
        let l = &r.entity;
        println!(
            "  {:<8} {:<8} on_hand {:>3}  committed {:>2}  available {:>3}  (wms id {}, changed {})",
            l.sku.as_str(),
            l.location.as_str(),
            l.on_hand,
            l.committed,
            l.available,
            r.external_ref.id,
            l.updated_at.format("%H:%M:%S"),
        );
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let wms = Wms::default();
    wms.put(1, "tee-s", "W1", 40, 5, "2026-11-27T05:00:00Z");
    wms.put(2, "tee-m", "W1", 12, 12, "2026-11-27T05:00:00Z");
    wms.put(3, "tee-m", "W2", 8, 1, "2026-11-27T05:01:00Z");
    wms.put(4, "mug", "W2", 100, 0, "2026-11-27T05:02:00Z");
    wms.put(5, " cap ", "W1", 7, 2, "2026-11-27T05:02:00Z");

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/stock"))
        .and(header("x-api-key", "demo-key"))
        .respond_with(wms.clone())
        .mount(&server)
        .await;

    let spec = MappingSpec::<InventoryLevel>::from_toml(SPEC, "acme_wms_stock.toml")?;
    let config = HttpJsonConfig::new(SystemId::new("acme-wms")?, &format!("{}/v2", server.uri()))?
        .with_auth(Auth::api_key("X-Api-Key", "demo-key"))
        .with_timeout(Duration::from_secs(10));
    let source = HttpJsonSource::new(
        config,
        spec,
        ReadOptions::new("stock")
            .with_records_at("/result/rows")
            .with_pagination(Pagination::cursor("cursor", "/paging/next"))
            .with_incremental(
                // Re-ask a minute back; what was delivered is dropped by (time, id).
                Incremental::new("updated_since", "/modified")
                    .with_lookback(Duration::from_secs(60))
                    .with_id_order(IdOrder::Numeric),
            ),
    )?;

    let all: Vec<_> = source.read(None).try_collect().await?;
    println!("full read: {} levels", all.len());
    show(&all);
    let last: Cursor = all
        .last()
        .map(|r| r.cursor.clone())
        .ok_or("the WMS is empty")?;

    // Stock moves: two rows change in the same second, one is a new row.
    wms.put(2, "tee-m", "W1", 30, 12, "2026-11-27T05:10:00Z");
    wms.put(6, "hoodie", "W2", 15, 0, "2026-11-27T05:10:00Z");

    let changed: Vec<_> = source.read(Some(last.clone())).try_collect().await?;
    println!("changes after cursor {last}: {}", changed.len());
    show(&changed);
    let requests = server.received_requests().await.unwrap_or_default();
    if let Some(last) = requests.last() {
        let query = last.url.query().unwrap_or_default();
        println!(
            "{} requests sent; the last asked for ?{query}",
            requests.len()
        );
    }
    Ok(())
}
