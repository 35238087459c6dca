//! Business rules throughput: routing decisions (50 locations, 5-line
//! orders), price evaluations, and availability over 1M SKU×location rows.
//!
//! Targets (one core): routing ≥ 200,000 decisions/s, pricing ≥ 1,000,000
//! evaluations/s, availability of 1M rows ≤ 0.5 s. The routing target is for
//! the default split policy (whole lines); the line-split case, where the
//! search for the fewest shipments works with quantities rather than only
//! with which location has which line, is measured alongside without a target.
//!
//! Run: `cargo bench --bench rules -- --warm-up-time 1 --measurement-time 3`

use std::collections::HashMap;
use std::hint::black_box;

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal::Decimal;
use seamwork::model::{
    Address, Currency, GeoPoint, InventoryLevel, LocationId, Money, Order, OrderLine, Sku,
};
use seamwork::rules::{
    AvailabilityEngine, AvailabilityRules, BackorderRule, BufferRule, BundleRule, ChannelRule,
    ChannelShare, ChannelSplit, LocationRule, MapRule, PriceEnding, PriceEntry, PriceList,
    PriceRequest, PricingEngine, PricingRules, RateTable, RouteContext, RoutingEngine,
    RoutingLocation, RoutingRules, SafetyStockRule, SplitRules, Stock, Tier,
};

const REGIONS: [&str; 8] = ["CA", "NY", "TX", "FL", "IL", "WA", "NJ", "GA"];

fn rng() -> fastrand::Rng {
    fastrand::Rng::with_seed(0x5EA3_0000_0006)
}

fn sku(i: usize) -> Sku {
    Sku::new(format!("SKU-{i:06}")).expect("valid SKU")
}

fn location(i: usize) -> LocationId {
    LocationId::new(format!("LOC-{i:02}")).expect("valid location id")
}

/// A point in the continental US, to 0.01 degrees.
fn us_point(r: &mut fastrand::Rng) -> GeoPoint {
    GeoPoint {
        lat: Decimal::new(r.i64(2_600..4_800), 2),
        lon: Decimal::new(-r.i64(7_000..12_300), 2),
    }
}

// ---------------------------------------------------------------- routing

const ROUTING_SKUS: usize = 2_000;

/// 50 locations; each holds each SKU with probability `presence` in 10;
/// lines may split over locations when `line_split`.
fn routing_setup(
    presence: u8,
    line_split: bool,
) -> (RoutingEngine, Stock, Vec<(Order, RouteContext)>) {
    let mut r = rng();
    let mut rules = RoutingRules::new().with_currency(Currency::USD);
    if line_split {
        rules = rules.with_split(SplitRules::split_lines(3));
    }
    for i in 0..50 {
        let mut l = RoutingLocation::new(location(i))
            .with_priority(r.u32(0..3))
            .at(us_point(&mut r))
            .with_cost(Decimal::new(r.i64(500..1500), 2));
        l = match i % 5 {
            0 => l.serving("US", &REGIONS[..4]),
            1 => l.serving("US", &REGIONS[4..]),
            _ => l.serving("US", &[]),
        };
        if i % 7 == 0 {
            l = l.with_cutoff(NaiveTime::from_hms_opt(r.u32(14..23), 0, 0).expect("time"));
        }
        if i % 17 == 3 {
            l = l.inactive();
        }
        rules = rules.with_location(l);
    }
    let engine = RoutingEngine::new(rules).expect("valid routing rules");
    let mut stock = engine.stock();
    for s in 0..ROUTING_SKUS {
        let k = sku(s);
        for l in 0..50 {
            if r.u8(0..10) < presence {
                stock
                    .set(&k, &location(l), r.u64(0..20))
                    .expect("known location");
            }
        }
    }
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
    let orders = (0..1_000)
        .map(|n| {
            let mut o = Order::new(format!("#{n}"), Currency::USD, at);
            for i in 0..5 {
                o.lines.push(OrderLine::new(
                    i.to_string(),
                    sku(r.usize(0..ROUTING_SKUS)),
                    r.u32(1..4),
                    Money::from_minor(1999, Currency::USD),
                ));
            }
            let mut address = Address::new("1 Main St", "Town", "US");
            address.region = Some(REGIONS[r.usize(0..REGIONS.len())].to_string());
            o.shipping_address = Some(address);
            let ctx = RouteContext::new()
                .at(at + chrono::Duration::minutes(r.i64(0..1440)))
                .destination(us_point(&mut r));
            (o, ctx)
        })
        .collect();
    (engine, stock, orders)
}

fn routing(c: &mut Criterion) {
    let mut group = c.benchmark_group("rules_routing");
    // Dense: most SKUs at most locations, so one location usually has the whole order.
    // Sparse: each SKU at a few locations, so most orders split or backorder.
    // Sparse with line split: lines may also spread over locations (exact search by stock).
    for (name, presence, line_split) in [
        ("route_50_locations_5_lines", 7, false),
        ("route_50_locations_5_lines_sparse", 1, false),
        ("route_50_locations_5_lines_sparse_line_split", 1, true),
    ] {
        let (engine, stock, orders) = routing_setup(presence, line_split);
        let mut shipments = [0usize; 5];
        for (o, ctx) in &orders {
            let d = engine.route(o, &stock, ctx).expect("routed");
            let n = d.shipments().len().min(3);
            shipments[if d.is_filled() { n } else { 4 }] += 1;
        }
        println!(
            "{name}: of {} orders, filled from 1/2/3 locations: {}/{}/{}, backordered: {}",
            orders.len(),
            shipments[1],
            shipments[2],
            shipments[3],
            shipments[4]
        );
        group.throughput(Throughput::Elements(orders.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                for (o, ctx) in &orders {
                    black_box(engine.route(black_box(o), &stock, ctx).expect("routed"));
                }
            })
        });
    }
    group.finish();
}

// ---------------------------------------------------------------- pricing

const PRICING_SKUS: usize = 10_000;

fn pricing_engine() -> PricingEngine {
    let mut r = rng();
    let mut retail = PriceList::new("retail-usd", Currency::USD)
        .with_tier(Tier::percent(100, Decimal::new(-3, 0)));
    let mut eur = PriceList::new("retail-eur", Currency::EUR).tax_included();
    let mut rules = PricingRules::new();
    for i in 0..PRICING_SKUS {
        let price = Decimal::new(r.i64(500..20_000), 2);
        let mut entry = PriceEntry::new(sku(i), price);
        if i % 3 == 0 {
            entry = entry
                .with_tier(Tier::price(10, price * Decimal::new(9, 1)).round_to_cents())
                .with_tier(Tier::percent(50, Decimal::new(-15, 0)));
        }
        retail = retail.with_price(entry);
        if i % 4 == 0 {
            eur = eur.with_price(PriceEntry::new(sku(i), Decimal::new(r.i64(500..20_000), 2)));
        }
        if i % 10 == 0 {
            rules = rules.with_map(MapRule::new(
                sku(i),
                Currency::USD,
                (price * Decimal::new(8, 1)).round_dp(2),
            ));
        }
    }
    let spring = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let summer = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    rules = rules
        .with_price_list(retail)
        .with_price_list(
            PriceList::new("wholesale-usd", Currency::USD)
                .for_customer_group("wholesale")
                .based_on("retail-usd", Some(Decimal::new(-40, 0))),
        )
        .with_price_list(
            PriceList::new("spring-web", Currency::USD)
                .for_channel("web")
                .with_priority(10)
                .valid(Some(spring), Some(summer))
                .based_on("retail-usd", Some(Decimal::new(-20, 0))),
        )
        .with_price_list(
            PriceList::new("vip-web", Currency::USD)
                .for_channel("web")
                .for_customer_group("vip")
                .based_on("retail-usd", Some(Decimal::new(-10, 0))),
        )
        .with_price_list(eur)
        .with_rates(
            RateTable::new(Currency::USD)
                .with_rate(Currency::EUR, Decimal::new(92, 2))
                .with_rate(Currency::GBP, Decimal::new(79, 2))
                .with_rate(Currency::JPY, Decimal::new(15137, 2)),
        )
        .with_ending(PriceEnding::new(
            Currency::GBP,
            Decimal::ONE,
            Decimal::new(99, 2),
        ))
        .with_ending(PriceEnding::new(Currency::JPY, Decimal::TEN, Decimal::ZERO));
    PricingEngine::new(rules).expect("valid pricing rules")
}

trait RoundToCents {
    fn round_to_cents(self) -> Self;
}

impl RoundToCents for Tier {
    fn round_to_cents(mut self) -> Self {
        self.price = self.price.map(|p| p.round_dp(2));
        self
    }
}

struct PriceCase {
    sku: Sku,
    quantity: u32,
    currency: Currency,
    channel: Option<&'static str>,
    group: Option<&'static str>,
    at: DateTime<Utc>,
}

fn pricing(c: &mut Criterion) {
    let engine = pricing_engine();
    let mut r = rng();
    let base = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let cases: Vec<PriceCase> = (0..10_000)
        .map(|_| PriceCase {
            sku: sku(r.usize(0..PRICING_SKUS)),
            quantity: [1, 1, 1, 2, 12, 60, 120][r.usize(0..7)],
            currency: [
                Currency::USD,
                Currency::USD,
                Currency::USD,
                Currency::EUR,
                Currency::GBP,
                Currency::JPY,
            ][r.usize(0..6)],
            channel: [None, Some("web"), Some("pos")][r.usize(0..3)],
            group: [None, None, Some("wholesale"), Some("vip")][r.usize(0..4)],
            at: base + chrono::Duration::days(r.i64(0..365)),
        })
        .collect();
    let requests: Vec<PriceRequest<'_>> = cases
        .iter()
        .map(|p| {
            let mut q = PriceRequest::new(&p.sku, p.quantity, p.currency, p.at);
            if let Some(ch) = p.channel {
                q = q.for_channel(ch);
            }
            if let Some(g) = p.group {
                q = q.for_customer_group(g);
            }
            q
        })
        .collect();
    let priced = requests
        .iter()
        .filter(|q| engine.price(q).unit_price().is_some())
        .count();
    println!(
        "pricing bench: {priced} of {} requests priced",
        requests.len()
    );
    let mut group = c.benchmark_group("rules_pricing");
    group.throughput(Throughput::Elements(requests.len() as u64));
    group.bench_function("price", |b| {
        b.iter(|| {
            for q in &requests {
                black_box(engine.price(black_box(q)));
            }
        })
    });
    group.throughput(Throughput::Elements(1_000));
    group.bench_function("price_and_explain", |b| {
        b.iter(|| {
            for q in &requests[..1_000] {
                black_box(engine.price(black_box(q)).explain());
            }
        })
    });
    group.finish();
}

// ---------------------------------------------------------------- availability

const AVAILABILITY_SKUS: usize = 20_000;
const AVAILABILITY_LOCATIONS: usize = 50;

fn availability(c: &mut Criterion) {
    let mut r = rng();
    let mut rules = AvailabilityRules::new();
    for l in 0..AVAILABILITY_LOCATIONS {
        let mut rule = LocationRule::new(location(l));
        if l % 13 == 5 {
            rule = rule.inactive();
        }
        if l % 9 == 2 {
            rule = rule.excluding_category("cat-3");
        }
        rules = rules.with_location(rule);
        if l % 4 == 0 {
            rules = rules.with_safety_stock(
                SafetyStockRule::new(format!("loc-{l}"), 2).at_location(location(l)),
            );
        }
    }
    rules = rules
        .with_channel(ChannelRule::new("web", (0..30).map(location)))
        .with_channel(ChannelRule::new("marketplace", (0..10).map(location)))
        .with_channel(ChannelRule::new("pos", (30..50).map(location)))
        .with_channel(ChannelRule::new("wholesale", (0..5).map(location)))
        .with_buffer(BufferRule::new(1, Decimal::new(5, 0)))
        .with_split(
            ChannelSplit::new("web")
                .with_share(ChannelShare::fixed("wholesale", 5))
                .with_share(ChannelShare::percent("marketplace", Decimal::new(25, 0))),
        )
        .with_backorder(
            BackorderRule::new("preorder", 20)
                .in_category("cat-7")
                .on_channels(["web"])
                .limited_to_incoming(),
        );
    for k in 0..10 {
        rules = rules.with_safety_stock(
            SafetyStockRule::new(format!("cat-{k}"), k as u64).in_category(format!("cat-{k}")),
        );
    }
    for s in (0..AVAILABILITY_SKUS).step_by(20) {
        rules =
            rules.with_safety_stock(SafetyStockRule::new(format!("sku-{s}"), 3).for_sku(sku(s)));
    }
    for b in 0..100 {
        rules = rules.with_bundle(
            BundleRule::new(Sku::new(format!("KIT-{b:03}")).expect("sku"))
                .with_component(sku(b * 7), 2)
                .with_component(sku(b * 7 + 1), 1),
        );
    }
    let engine = AvailabilityEngine::new(rules).expect("valid availability rules");
    let categories: HashMap<Sku, String> = (0..AVAILABILITY_SKUS)
        .map(|s| (sku(s), format!("cat-{}", s % 10)))
        .collect();
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut levels = Vec::with_capacity(AVAILABILITY_SKUS * AVAILABILITY_LOCATIONS);
    for s in 0..AVAILABILITY_SKUS {
        let k = sku(s);
        for l in 0..AVAILABILITY_LOCATIONS {
            let mut level = InventoryLevel::new(k.clone(), location(l), at);
            level.on_hand = r.i64(0..200);
            level.committed = r.i64(0..20);
            level.reserved = r.i64(0..3);
            level.damaged = r.i64(0..2);
            level.incoming = r.i64(0..50);
            level.recompute_available();
            levels.push(level);
        }
    }
    let report = engine.evaluate(&levels, &categories);
    println!(
        "availability bench: {} rows, {} SKUs (incl. kits)",
        levels.len(),
        report.len()
    );
    let mut group = c.benchmark_group("rules_availability");
    group.sample_size(10);
    group.throughput(Throughput::Elements(levels.len() as u64));
    group.bench_function("evaluate_1M_rows", |b| {
        b.iter(|| black_box(engine.evaluate(black_box(&levels), &categories)))
    });
    group.finish();
}

criterion_group!(benches, routing, pricing, availability);
criterion_main!(benches);
