//! Export one entity from a Shopify shop as canonical JSON Lines, paced by
//! the shop's own GraphQL cost budget.
//!
//! ```text
//! SHOPIFY_ACCESS_TOKEN=shpat_… cargo run --release --features shopify --example shopify_export -- \
//!     --shop-url https://example.myshopify.com --entity products|variants|inventory|orders|customers|locations \
//!     [--since 2026-01-01T00:00:00Z] [--api-version 2026-01] --out products.jsonl
//! ```
//!
//! Each line is one canonical record (`seamwork::model`). At the end the
//! rate-limit figures (requests, points spent, time waited, throttles) and
//! the API version the shop served are printed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use secrecy::SecretString;
use serde::Serialize;

use seamwork::adapters::shopify::{ShopifyAdapter, ShopifyConfig};
use seamwork::connector::{Cursor, Entity, Source, TimeIdCursor};
use seamwork::model::{Customer, InventoryLevel, Location, Order, Product, Variant};

const USAGE: &str = "usage: shopify_export --shop-url URL --entity products|variants|inventory|orders|customers|locations [--since RFC3339] [--api-version YYYY-MM] --out FILE.jsonl
(the access token is read from SHOPIFY_ACCESS_TOKEN)";

struct Args {
    shop_url: String,
    entity: String,
    since: Option<DateTime<Utc>>,
    api_version: Option<String>,
    out: String,
}

fn parse_args() -> Result<Args, String> {
    let mut shop_url = None;
    let mut entity = None;
    let mut since = None;
    let mut api_version = None;
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.to_string());
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--shop-url" => shop_url = Some(value),
            "--entity" => entity = Some(value),
            "--since" => {
                let t = DateTime::parse_from_rfc3339(&value)
                    .map_err(|e| format!("--since {value:?} is not an RFC 3339 time: {e}"))?;
                since = Some(t.with_timezone(&Utc));
            }
            "--api-version" => api_version = Some(value),
            "--out" => out = Some(value),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    Ok(Args {
        shop_url: shop_url.ok_or_else(|| format!("--shop-url is required\n{USAGE}"))?,
        entity: entity.ok_or_else(|| format!("--entity is required\n{USAGE}"))?,
        since,
        api_version,
        out: out.ok_or_else(|| format!("--out is required\n{USAGE}"))?,
    })
}

/// Streams every record of `E` after `since` into `out`, one JSON object a line.
async fn export<E: Entity + Serialize>(
    source: &dyn Source<E>,
    since: Option<Cursor>,
    out: &mut impl Write,
) -> Result<usize, String> {
    let mut stream = source.read(since);
    let mut n = 0;
    while let Some(item) = stream.next().await {
        let record = item.map_err(|e| format!("read stopped after {n} records: {e}"))?;
        serde_json::to_writer(&mut *out, &record.entity)
            .map_err(|e| format!("record {}: {e}", record.entity.key()))?;
        out.write_all(b"\n").map_err(|e| e.to_string())?;
        n += 1;
    }
    Ok(n)
}

async fn run(args: Args) -> Result<(), String> {
    let token = std::env::var("SHOPIFY_ACCESS_TOKEN")
        .map_err(|_| "set SHOPIFY_ACCESS_TOKEN to the Admin API access token".to_string())?;
    let mut config = ShopifyConfig::new(&args.shop_url, SecretString::from(token));
    if let Some(v) = &args.api_version {
        config = config.with_api_version(v.clone());
    }
    let shop = ShopifyAdapter::new(config).map_err(|e| e.to_string())?;
    // An empty id stands before every record changed at that instant.
    let since = args.since.map(|t| TimeIdCursor::new(t, "").encode());
    if since.is_some() && matches!(args.entity.as_str(), "inventory" | "locations") {
        return Err(format!(
            "--since is not supported for {}: Shopify offers no change filter there",
            args.entity
        ));
    }
    let file = File::create(&args.out).map_err(|e| format!("{}: {e}", args.out))?;
    let mut out = BufWriter::new(file);
    let n = match args.entity.as_str() {
        "products" => export::<Product>(&shop, since, &mut out).await,
        "variants" => export::<Variant>(&shop, since, &mut out).await,
        "inventory" => export::<InventoryLevel>(&shop, since, &mut out).await,
        "orders" => export::<Order>(&shop, since, &mut out).await,
        "customers" => export::<Customer>(&shop, since, &mut out).await,
        "locations" => export::<Location>(&shop, since, &mut out).await,
        other => Err(format!("unknown entity {other:?}\n{USAGE}")),
    };
    out.flush().map_err(|e| format!("{}: {e}", args.out))?;
    let stats = shop.stats();
    let versions = shop.api_versions();
    eprintln!(
        "rate limit: {} requests, {} points spent, waited {:.1?} for budget, {} throttled",
        stats.requests, stats.cost_used, stats.waited, stats.throttled
    );
    eprintln!(
        "API version: requested {}, served {}",
        versions.requested,
        versions.served.as_deref().unwrap_or("(no answer)")
    );
    for d in &versions.deprecations {
        eprintln!("deprecated: {d}");
    }
    let n = n?;
    eprintln!("wrote {n} {} to {}", args.entity, args.out);
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shopify_export: {e}");
            ExitCode::FAILURE
        }
    }
}
