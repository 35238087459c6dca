//! The HTTP JSON adapter against a real local HTTP server (wiremock) that
//! keeps state like a small WMS stock API: the conformance suite for every
//! pagination strategy, incremental reads with shared timestamps, auth, the
//! error mapping under a `RetryLayer`, and bad answers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use seamwork::adapters::http_json::{
    Auth, BatchWrite, HttpJsonConfig, HttpJsonSink, HttpJsonSource, Incremental, Pagination,
    ReadOptions, WriteMethod, WriteOptions,
};
use seamwork::connector::{Cursor, Record, Sink, Source, TimeIdCursor, WriteResult};
use seamwork::error::{ErrorKind, Retryability};
use seamwork::layers::{LayerExt, RetryLayer, RetryOptions};
use seamwork::mapping::MappingSpec;
use seamwork::model::{InventoryLevel, LocationId, Sku, SystemId};
use seamwork::testkit;

const SPEC: &str = r#"
system = "wms"
entity = "inventory_level"
version = 1
[fields]
sku = { from = "sku" }
location = { from = "site" }
on_hand = { from = "on_hand" }
available = { from = "available" }
updated_at = { from = "updated_at" }
"#;

fn spec() -> MappingSpec<InventoryLevel> {
    MappingSpec::from_toml(SPEC, "wms_stock.toml").unwrap()
}

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 5, minute, 0).unwrap()
}

fn level(sku: &str, site: &str, on_hand: i64, changed: DateTime<Utc>) -> InventoryLevel {
    let mut l = InventoryLevel::new(
        Sku::new(sku).unwrap(),
        LocationId::new(site).unwrap(),
        changed,
    );
    l.on_hand = on_hand;
    l.available = on_hand;
    l
}

/// 23 levels over 4 timestamps: 6 records share each time, so every page
/// boundary (page size 4) falls inside a run of equal timestamps.
fn seed() -> Vec<InventoryLevel> {
    (0..23)
        .map(|i| {
            level(
                &format!("SKU-{i:03}"),
                if i % 2 == 0 { "DC-EAST" } else { "DC-WEST" },
                i64::from(i) * 3,
                at(i / 6),
            )
        })
        .collect()
}

/// The WMS's JSON for a level (what the listing shows and the sink sends).
fn row(l: &InventoryLevel) -> Value {
    json!({
        "id": format!("{}@{}", l.sku.as_str(), l.location.as_str()),
        "sku": l.sku.as_str(),
        "site": l.location.as_str(),
        "on_hand": l.on_hand,
        "available": l.available,
        "updated_at": l.updated_at.to_rfc3339(),
    })
}

/// How the fake WMS pages its listing.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Paging {
    Cursor,
    Page,
    Offset,
    Link,
}

/// A stock API that stores rows: `GET /api/stock` lists them sorted by
/// `(updated_at, id)`, from `updated_since` (inclusive); `PUT
/// /api/stock/{sku}/{site}` upserts one; `POST /api/stock/batch` upserts many.
#[derive(Clone)]
struct Wms {
    rows: Arc<Mutex<BTreeMap<String, Value>>>,
    paging: Paging,
    page_size: usize,
}

impl Wms {
    fn new(paging: Paging) -> Self {
        Wms {
            rows: Arc::new(Mutex::new(BTreeMap::new())),
            paging,
            page_size: 4,
        }
    }

    fn load(&self, levels: &[InventoryLevel]) {
        let mut rows = self.rows.lock().unwrap();
        for l in levels {
            let r = row(l);
            rows.insert(r["id"].as_str().unwrap().to_string(), r);
        }
    }

    fn listing(&self, req: &Request) -> ResponseTemplate {
        let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        let since = q
            .get("updated_since")
            .map(|s| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
        let mut all: Vec<(DateTime<Utc>, String, Value)> = self
            .rows
            .lock()
            .unwrap()
            .values()
            .map(|r| {
                let t = DateTime::parse_from_rfc3339(r["updated_at"].as_str().unwrap())
                    .unwrap()
                    .with_timezone(&Utc);
                (t, r["id"].as_str().unwrap().to_string(), r.clone())
            })
            .filter(|(t, _, _)| since.is_none_or(|s| *t >= s))
            .collect();
        all.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let num = |k: &str| q.get(k).map(|v| v.parse::<usize>().unwrap());
        let (start, size) = match self.paging {
            Paging::Cursor => (
                q.get("cursor")
                    .map_or(0, |c| c.trim_start_matches('c').parse().unwrap()),
                self.page_size,
            ),
            Paging::Page => {
                let size = num("per_page").unwrap();
                ((num("page").unwrap() - 1) * size, size)
            }
            Paging::Offset => (num("offset").unwrap(), num("limit").unwrap()),
            Paging::Link => (num("from").unwrap_or(0), self.page_size),
        };
        let end = (start + size).min(all.len());
        let page: Vec<Value> = all[start.min(end)..end]
            .iter()
            .map(|r| r.2.clone())
            .collect();
        let more = end < all.len();
        let mut resp = ResponseTemplate::new(200);
        let body = match self.paging {
            Paging::Cursor => json!({
                "data": page,
                "meta": { "next_cursor": if more { Value::from(format!("c{end}")) } else { Value::Null } }
            }),
            Paging::Link => {
                if more {
                    let mut next = req.url.clone();
                    let kept: Vec<(String, String)> = next
                        .query_pairs()
                        .into_owned()
                        .filter(|(k, _)| k != "from")
                        .collect();
                    next.query_pairs_mut()
                        .clear()
                        .extend_pairs(kept)
                        .append_pair("from", &end.to_string());
                    // A relative target, as many APIs send.
                    let target = format!("{}?{}", next.path(), next.query().unwrap());
                    resp = resp.insert_header(
                        "Link",
                        format!(r#"<{target}>; rel="next", </api/stock>; rel="first""#),
                    );
                }
                json!({ "data": page })
            }
            _ => json!({ "data": page }),
        };
        resp.set_body_json(body)
    }

    /// Upserts one row; the answer says created, updated or unchanged.
    fn upsert_row(&self, mut r: Value) -> (u16, Value) {
        let on_hand = r["on_hand"].as_i64().unwrap_or(-1);
        if on_hand < 0 {
            return (
                422,
                json!({ "error": format!("on_hand must not be negative (got {})", r["on_hand"]) }),
            );
        }
        let id = format!(
            "{}@{}",
            r["sku"].as_str().unwrap_or(""),
            r["site"].as_str().unwrap_or("")
        );
        r["id"] = Value::from(id.clone());
        let mut rows = self.rows.lock().unwrap();
        let (status, word) = match rows.get(&id) {
            None => (201, "created"),
            Some(old) if *old == r => (200, "unchanged"),
            Some(_) => (200, "updated"),
        };
        rows.insert(id.clone(), r);
        (status, json!({ "id": id, "result": word }))
    }
}

impl Respond for Wms {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        match (req.method.as_str(), req.url.path()) {
            ("GET", "/api/stock") => self.listing(req),
            ("POST", "/api/stock/batch") => {
                let body: Value = req.body_json().unwrap();
                let results: Vec<Value> = body["records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| match self.upsert_row(r.clone()) {
                        (422, e) => json!({ "result": "rejected", "error": e["error"] }),
                        (_, ok) => ok,
                    })
                    .collect();
                ResponseTemplate::new(200).set_body_json(json!({ "results": results }))
            }
            ("PUT", _) => {
                let (status, body) = self.upsert_row(req.body_json().unwrap());
                ResponseTemplate::new(status).set_body_json(body)
            }
            _ => ResponseTemplate::new(404).set_body_string("no such route"),
        }
    }
}

async fn serve(wms: &Wms) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path_regex("^/api/stock"))
        .respond_with(wms.clone())
        .mount(&server)
        .await;
    server
}

fn config(server: &MockServer) -> HttpJsonConfig {
    HttpJsonConfig::new(
        SystemId::new("wms").unwrap(),
        &format!("{}/api", server.uri()),
    )
    .unwrap()
}

fn pagination(p: Paging) -> Pagination {
    match p {
        Paging::Cursor => Pagination::cursor("cursor", "/meta/next_cursor"),
        Paging::Page => Pagination::page_number("page", "per_page", 4),
        Paging::Offset => Pagination::offset("offset", "limit", 4),
        Paging::Link => Pagination::LinkHeader,
    }
}

fn read_options(p: Paging) -> ReadOptions {
    ReadOptions::new("stock")
        .with_records_at("/data")
        .with_pagination(pagination(p))
        .with_incremental(
            Incremental::new("updated_since", "/updated_at").with_lookback(Duration::from_secs(90)),
        )
}

fn source(server: &MockServer, p: Paging) -> HttpJsonSource<InventoryLevel> {
    HttpJsonSource::new(config(server), spec(), read_options(p)).unwrap()
}

async fn read_all(
    source: &dyn Source<InventoryLevel>,
    since: Option<Cursor>,
) -> Vec<seamwork::Result<Record<InventoryLevel>>> {
    source.read(since).collect().await
}

async fn conformance(p: Paging) {
    let wms = Wms::new(p);
    let data = seed();
    wms.load(&data);
    let server = serve(&wms).await;
    testkit::check_source(&source(&server, p), &data, 100)
        .await
        .unwrap_or_else(|f| panic!("{p:?}: {f}"));
}

#[tokio::test]
async fn cursor_pagination_passes_the_source_suite() {
    conformance(Paging::Cursor).await;
}

#[tokio::test]
async fn page_number_pagination_passes_the_source_suite() {
    conformance(Paging::Page).await;
}

#[tokio::test]
async fn offset_pagination_passes_the_source_suite() {
    conformance(Paging::Offset).await;
}

#[tokio::test]
async fn link_header_pagination_passes_the_source_suite() {
    conformance(Paging::Link).await;
}

#[tokio::test]
async fn a_resume_asks_from_the_lookback_and_keeps_records_sharing_the_time() {
    let wms = Wms::new(Paging::Cursor);
    wms.load(&seed());
    let server = serve(&wms).await;
    let src = source(&server, Paging::Cursor);
    // After SKU-008 (changed at minute 1, with SKU-006..011): 009, 010, 011 still come.
    let cursor = TimeIdCursor::new(at(1), "SKU-008@DC-EAST").encode();
    let got: Vec<String> = read_all(&src, Some(cursor))
        .await
        .into_iter()
        .map(|r| r.unwrap().entity.sku.as_str().to_string())
        .collect();
    let want: Vec<String> = (9..23).map(|i| format!("SKU-{i:03}")).collect();
    assert_eq!(got, want);
    let first = &server.received_requests().await.unwrap()[0];
    let since: String = first
        .url
        .query_pairs()
        .find(|(k, _)| k == "updated_since")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(
        since, "2026-11-27T04:59:30Z",
        "minute 1 minus the 90 s lookback"
    );
}

#[tokio::test]
async fn the_sink_passes_the_sink_suite_and_reads_back() {
    let wms = Wms::new(Paging::Offset);
    let server = serve(&wms).await;
    let sink = HttpJsonSink::new(
        config(&server),
        spec(),
        WriteOptions::new(WriteMethod::Put, "stock/{sku}/{site}").with_outcome_at("/result"),
    )
    .unwrap();
    let data = seed();
    let invalid = level("SKU-BAD", "DC-EAST", -5, at(9));
    testkit::check_sink(&sink, &data[..10], invalid.clone())
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    testkit::written_records_read_back(&sink, &source(&server, Paging::Offset), &data[..10])
        .await
        .unwrap_or_else(|f| panic!("{f}"));

    // The rejection carries the server's own message; the rest were written.
    let outcomes = sink.upsert(&[invalid, data[11].clone()]).await.unwrap();
    let err = outcomes[0].result.rejection().unwrap();
    assert_eq!(err.kind(), &ErrorKind::InvalidData);
    assert!(
        err.message().contains("on_hand must not be negative"),
        "{err}"
    );
    assert!(err.message().contains("PUT http://"), "{err}");
    assert!(
        matches!(&outcomes[1].result, WriteResult::Created { external_id } if external_id == "SKU-011@DC-WEST")
    );
}

#[tokio::test]
async fn the_batch_sink_passes_the_sink_suite() {
    let wms = Wms::new(Paging::Cursor);
    let server = serve(&wms).await;
    let sink = HttpJsonSink::new(
        config(&server),
        spec(),
        WriteOptions::new(WriteMethod::Post, "stock/batch")
            .with_outcome_at("/result")
            .with_batch(
                BatchWrite::new(5)
                    .with_wrap("records")
                    .with_results_at("/results"),
            ),
    )
    .unwrap();
    let data = seed();
    testkit::check_sink(&sink, &data[..12], level("SKU-BAD", "DC-EAST", -1, at(9)))
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(wms.rows.lock().unwrap().len(), 12);
    let posts = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    assert!(
        posts <= 8,
        "12 records in batches of 5, twice, plus the mixed and max-batch checks: {posts}"
    );
}

#[tokio::test]
async fn every_auth_kind_is_sent_and_a_refusal_is_unauthorized() {
    let server = MockServer::start().await;
    let body = json!({ "data": [row(&level("SKU-1", "DC-EAST", 1, at(0)))] });
    for (name, value) in [
        ("authorization", "Bearer tok-123"),
        ("authorization", "Basic ZXJwOnB3LTQ1Ng=="), // erp:pw-456
        ("x-api-key", "key-789"),
    ] {
        Mock::given(method("GET"))
            .and(path("/api/stock"))
            .and(header(name, value))
            .respond_with(ResponseTemplate::new(200).set_body_json(body.clone()))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_string("bad credentials"))
        .with_priority(10)
        .mount(&server)
        .await;
    let opts = ReadOptions::new("stock").with_records_at("/data");
    for auth in [
        Auth::bearer("tok-123"),
        Auth::basic("erp", "pw-456"),
        Auth::api_key("X-Api-Key", "key-789"),
    ] {
        let shown = format!("{auth:?}");
        let src =
            HttpJsonSource::new(config(&server).with_auth(auth), spec(), opts.clone()).unwrap();
        // Whole secrets: the server's random port may well contain "123".
        let printed = format!("{src:?}");
        for secret in ["tok-123", "pw-456", "key-789"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        let items = read_all(&src, None).await;
        assert_eq!(items.len(), 1, "{shown}");
        assert!(items[0].is_ok(), "{shown}: {:?}", items[0]);
    }
    let src = HttpJsonSource::new(
        config(&server).with_auth(Auth::bearer("wrong")),
        spec(),
        opts,
    )
    .unwrap();
    let items = read_all(&src, None).await;
    let err = items[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized);
    assert!(err.message().contains("bad credentials"), "{err}");
}

fn retrying(
    inner: HttpJsonSource<InventoryLevel>,
    max_retry_after: Duration,
) -> seamwork::layers::Retry<HttpJsonSource<InventoryLevel>> {
    inner.layer(RetryLayer::new(
        RetryOptions::default()
            .with_max_attempts(4)
            .with_delays(Duration::from_millis(5), Duration::from_millis(20))
            .with_jitter(false)
            .with_max_retry_after(max_retry_after),
    ))
}

/// A server whose first answer to the listing is `first`, then the records.
async fn failing_once(first: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(first)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let rows: Vec<Value> = seed()[..3].iter().map(row).collect();
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": rows })))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn a_retry_layer_recovers_from_a_503() {
    let server = failing_once(ResponseTemplate::new(503).set_body_string("maintenance")).await;
    let src = retrying(
        HttpJsonSource::new(
            config(&server),
            spec(),
            ReadOptions::new("stock").with_records_at("/data"),
        )
        .unwrap(),
        Duration::from_secs(60),
    );
    let items = read_all(&src, None).await;
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(Result::is_ok));
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn a_retry_layer_waits_the_429_retry_after() {
    let server = failing_once(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "1")
            .set_body_string("slow down"),
    )
    .await;
    let src = retrying(
        HttpJsonSource::new(
            config(&server),
            spec(),
            ReadOptions::new("stock").with_records_at("/data"),
        )
        .unwrap(),
        Duration::from_secs(60),
    );
    let started = Instant::now();
    let items = read_all(&src, None).await;
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(Result::is_ok));
    assert_eq!(requests(&server).await, 2);
    // A lower bound only: the back-off alone is 5 ms, the server asked for 1 s.
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_is_reported_not_waited_for() {
    let server = failing_once(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "3600")
            .set_body_string("daily quota used"),
    )
    .await;
    let src = retrying(
        HttpJsonSource::new(
            config(&server),
            spec(),
            ReadOptions::new("stock").with_records_at("/data"),
        )
        .unwrap(),
        Duration::from_secs(60),
    );
    let items = read_all(&src, None).await;
    let err = items[0].as_ref().unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert!(err.message().contains("daily quota used"), "{err}");
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn a_4xx_is_permanent_and_not_retried() {
    for status in [400, 404, 422] {
        let server =
            failing_once(ResponseTemplate::new(status).set_body_string("unknown filter")).await;
        let src = retrying(
            HttpJsonSource::new(
                config(&server),
                spec(),
                ReadOptions::new("stock").with_records_at("/data"),
            )
            .unwrap(),
            Duration::from_secs(60),
        );
        let items = read_all(&src, None).await;
        assert_eq!(items.len(), 1, "{status}");
        let err = items[0].as_ref().unwrap_err();
        assert_eq!(err.retryability(), Retryability::Permanent, "{status}");
        assert!(
            err.message()
                .contains(&format!("/api/stock answered {status}")),
            "{err}"
        );
        assert_eq!(err.context().system.as_deref(), Some("wms"));
        assert_eq!(requests(&server).await, 1, "{status} was retried");
    }
}

#[tokio::test]
async fn a_5xx_without_a_retry_layer_is_a_retryable_error() {
    let server = failing_once(ResponseTemplate::new(502)).await;
    let src = HttpJsonSource::new(
        config(&server),
        spec(),
        ReadOptions::new("stock").with_records_at("/data"),
    )
    .unwrap();
    let items = read_all(&src, None).await;
    assert_eq!(items.len(), 1);
    assert!(items[0].as_ref().unwrap_err().is_retryable());
}

#[tokio::test]
async fn malformed_json_and_a_missing_pointer_name_the_url() {
    for (body, expect) in [
        ("{\"data\": [", "the answer is not JSON"),
        ("{\"items\": []}", "no records array at \"/data\""),
        (
            "{\"data\": {\"sku\": 1}}",
            "expected an array of records at \"/data\", found an object",
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string(body))
            .mount(&server)
            .await;
        let src = HttpJsonSource::new(
            config(&server),
            spec(),
            ReadOptions::new("stock").with_records_at("/data"),
        )
        .unwrap();
        let items = read_all(&src, None).await;
        assert_eq!(items.len(), 1);
        let err = items[0].as_ref().unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidData);
        let url = format!("GET {}/api/stock:", server.uri());
        assert!(err.message().starts_with(&url), "{err}");
        assert!(err.message().contains(expect), "{err}");
    }
}

#[tokio::test]
async fn a_record_that_does_not_map_ends_the_read_with_where_it_came_from() {
    let server = MockServer::start().await;
    let good = row(&level("SKU-1", "DC-EAST", 4, at(0)));
    let mut bad = row(&level("SKU-2", "DC-EAST", 4, at(0)));
    bad["on_hand"] = json!("many");
    let after = row(&level("SKU-3", "DC-EAST", 4, at(0)));
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "data": [good, bad, after] })),
        )
        .mount(&server)
        .await;
    let src = source(&server, Paging::Cursor);
    let items = read_all(&src, None).await;
    assert_eq!(
        items.len(),
        2,
        "the good record, then the error; nothing after it"
    );
    assert_eq!(items[0].as_ref().unwrap().entity.sku.as_str(), "SKU-1");
    let err = items[1].as_ref().unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::InvalidData);
    assert!(!err.is_retryable());
    let m = err.message();
    assert!(
        m.contains("/api/stock") && m.contains("(page 1), record #1 (id SKU-2@DC-EAST)"),
        "{m}"
    );
    assert!(m.contains("on_hand"), "{m}");
    assert_eq!(err.context().external_id.as_deref(), Some("SKU-2@DC-EAST"));
    assert_eq!(err.context().field.as_deref(), Some("on_hand"));
}

#[tokio::test]
async fn records_out_of_order_stop_the_read_rather_than_risk_a_skip() {
    let server = MockServer::start().await;
    let rows = json!({ "data": [
        row(&level("SKU-1", "DC-EAST", 1, at(5))),
        row(&level("SKU-2", "DC-EAST", 1, at(3))),
    ]});
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(rows))
        .mount(&server)
        .await;
    let items = read_all(&source(&server, Paging::Cursor), None).await;
    assert_eq!(items.len(), 2);
    let err = items[1].as_ref().unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unexpected);
    assert!(
        err.message().contains("comes before the previous record"),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_that_ignores_the_cursor_is_stopped() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [], "meta": { "next_cursor": "same" }
        })))
        .mount(&server)
        .await;
    let items = read_all(&source(&server, Paging::Cursor), None).await;
    assert_eq!(items.len(), 1);
    let err = items[0].as_ref().unwrap_err();
    assert!(
        err.message().contains("pagination did not advance"),
        "{err}"
    );
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn a_full_read_source_declares_no_incremental_reads() {
    let wms = Wms::new(Paging::Page);
    let data = seed();
    wms.load(&data);
    let server = serve(&wms).await;
    let src = HttpJsonSource::new(
        config(&server),
        spec(),
        ReadOptions::new("stock")
            .with_records_at("/data")
            .with_pagination(pagination(Paging::Page)),
    )
    .unwrap();
    use seamwork::connector::Connector;
    use seamwork::connector::Entity;
    let cap = src.capability(InventoryLevel::KIND);
    assert!(!cap.incremental);
    assert_eq!(cap.max_page, Some(4));
    testkit::check_source(&src, &data, 10)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
}

fn put_sink(server: &MockServer) -> HttpJsonSink<InventoryLevel> {
    HttpJsonSink::new(
        config(server),
        spec(),
        WriteOptions::new(WriteMethod::Put, "stock/{sku}/{site}").with_outcome_at("/result"),
    )
    .unwrap()
}

#[tokio::test]
async fn a_sink_answered_401_fails_the_call_instead_of_rejecting_records() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(401).set_body_string("token expired"))
        .mount(&server)
        .await;
    let err = put_sink(&server).upsert(&seed()[..3]).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized);
    assert!(err.message().contains("token expired"), "{err}");
    assert_eq!(requests(&server).await, 1, "stops at the first refusal");
}

#[tokio::test]
async fn a_retry_layer_retries_only_the_record_answered_503() {
    let wms = Wms::new(Paging::Offset);
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/api/stock/SKU-001/DC-WEST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("busy"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path_regex("^/api/stock"))
        .respond_with(wms.clone())
        .with_priority(2)
        .mount(&server)
        .await;
    let sink = put_sink(&server).layer(RetryLayer::new(
        RetryOptions::default()
            .with_delays(Duration::from_millis(5), Duration::from_millis(20))
            .with_jitter(false),
    ));
    let outcomes = sink.upsert(&seed()[..3]).await.unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o.result, WriteResult::Created { .. })),
        "{outcomes:?}"
    );
    let paths: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert_eq!(
        paths,
        [
            "/api/stock/SKU-000/DC-EAST",
            "/api/stock/SKU-001/DC-WEST",
            "/api/stock/SKU-002/DC-EAST",
            "/api/stock/SKU-001/DC-WEST"
        ]
    );
}

#[tokio::test]
async fn a_batch_answer_that_does_not_match_the_batch_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "results": [{ "id": "1", "result": "created" }] })),
        )
        .mount(&server)
        .await;
    let sink = HttpJsonSink::new(
        config(&server),
        spec(),
        WriteOptions::new(WriteMethod::Post, "stock/batch")
            .with_outcome_at("/result")
            .with_batch(BatchWrite::new(10).with_results_at("/results")),
    )
    .unwrap();
    let err = sink.upsert(&seed()[..2]).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unexpected);
    assert!(err.message().contains("1 results for 2 records"), "{err}");
}

#[tokio::test]
async fn an_unknown_outcome_word_is_not_reported_as_written() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "result": "queued" })))
        .mount(&server)
        .await;
    let outcomes = put_sink(&server).upsert(&seed()[..1]).await.unwrap();
    let err = outcomes[0].result.rejection().expect("not written");
    assert!(err.message().contains("\"queued\""), "{err}");
}

#[tokio::test]
async fn an_unreachable_server_is_a_retryable_error_naming_the_url() {
    // A port nobody listens on (wiremock keeps pooled servers running after drop).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = HttpJsonConfig::new(
        SystemId::new("wms").unwrap(),
        &format!("http://127.0.0.1:{port}/api"),
    )
    .unwrap();
    let src = HttpJsonSource::new(cfg, spec(), ReadOptions::new("stock")).unwrap();
    let items = read_all(&src, None).await;
    let err = items[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable);
    assert!(err.message().contains("/api/stock"), "{err}");
}

proptest::proptest! {
    #[test]
    fn answer_parsing_never_panics(
        body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
        json_body in "\\{\"data\":\\[(\\{\\},?){0,5}\\],\"next\":(null|\"[a-z]{0,3}\"|[0-9]{1,3}|\\{\\})\\}",
        link in "(<[ -~]{0,20}>(; ?[a-zA-Z]{1,4}(=\"?[ -~]{0,10}\"?)?){0,3},? ?){0,3}",
        pointer in "(/[a-z0-9~]{0,4}){0,3}",
        strategy in 0u8..5,
    ) {
        use seamwork::adapters::http_json::{Url, next_link, parse_page};
        let pagination = match strategy {
            0 => Pagination::None,
            1 => Pagination::cursor("cursor", pointer.clone()),
            2 => Pagination::page_number("page", "per_page", 2),
            3 => Pagination::offset("offset", "limit", 2),
            _ => Pagination::LinkHeader,
        };
        let _ = next_link(&link);
        let url = pagination.first_page(&Url::parse("http://h/api/stock?page=7").unwrap());
        for b in [&body[..], json_body.as_bytes()] {
            for records in ["", "/data", pointer.as_str()] {
                let _ = parse_page(&url, b, Some(&link), records, &pagination);
            }
        }
    }
}

/// The documented behaviour for a record that does not map, end to end: the
/// engine delivers what came before it, halts the flow with the error and
/// keeps the checkpoint there; once the row is fixed the next run goes on.
#[tokio::test]
async fn the_engine_halts_at_a_bad_record_and_resumes_after_the_fix() {
    use seamwork::connector::memory::{MemoryOptions, MemorySystem};
    use seamwork::store::{MemoryStore, StateStore};
    use seamwork::sync::{Engine, FailurePolicy, Flow, Owner, Sla};

    let wms = Wms::new(Paging::Cursor);
    let data = seed();
    wms.load(&data[..8]);
    let bad_id = "SKU-005@DC-WEST";
    wms.rows.lock().unwrap().get_mut(bad_id).unwrap()["on_hand"] = json!("lots");
    let server = serve(&wms).await;
    let erp = MemorySystem::new(SystemId::new("erp").unwrap(), MemoryOptions::default());
    let store = Arc::new(MemoryStore::new());
    let flow = Flow::<InventoryLevel>::builder(
        "wms-stock",
        Arc::new(source(&server, Paging::Cursor)),
        Arc::new(erp.clone()),
    )
    .owner(Owner::new("stock team", "stock@example.com"))
    .failure_policy(FailurePolicy::dead_letter(100))
    .sla(Sla::max_lag(Duration::from_secs(3600 * 24 * 3650)))
    .build()
    .unwrap();
    let engine = Engine::new(store.clone());

    let report = engine.run_once(&flow).await.unwrap();
    let halted = report.halted.expect("the flow halts at the bad record");
    assert_eq!(halted.kind(), &ErrorKind::InvalidData);
    assert!(halted.message().contains(bad_id), "{halted}");
    assert_eq!(erp.len::<InventoryLevel>(), 5, "the records before it");
    let checkpoint = store.checkpoint("wms-stock").await.unwrap().unwrap();
    assert!(
        checkpoint.cursor.as_str().ends_with("|SKU-004@DC-EAST"),
        "{:?}",
        checkpoint.cursor
    );

    wms.load(&data[5..6]);
    let report = engine.run_once(&flow).await.unwrap();
    assert!(report.halted.is_none(), "{:?}", report.halted);
    assert_eq!(
        report.read, 3,
        "from the bad record on, nothing before it again"
    );
    assert_eq!(erp.len::<InventoryLevel>(), 8);
}
