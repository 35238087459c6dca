//! Order routing as data: which warehouses and stores ship each order, and why.
//!
//! Run: `cargo run --release --example order_routing`
//!
//! Loads `examples/order_routing.toml` (three DCs, a ship-from-store, a
//! closed store, a Canadian DC and a dropshipper as the fallback), routes a
//! few orders against a stock table, and prints each decision with the
//! trace of why every location was chosen or skipped.

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use seamwork::model::{Address, Currency, GeoPoint, LocationId, Money, Order, OrderLine, Sku};
use seamwork::rules::{RouteContext, RoutingDecision, RoutingEngine, RoutingRules};

fn main() -> Result<(), seamwork::Error> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/order_routing.toml");
    let engine = RoutingEngine::new(RoutingRules::load(path)?)?;
    println!("rules: {path}\n");

    let mut stock = engine.stock();
    for (sku, location, units) in [
        ("TEE-BLK-M", "DC-EAST", 40),
        ("TEE-BLK-M", "DC-WEST", 25),
        ("TEE-BLK-M", "DC-CENTRAL", 10),
        ("TEE-BLK-M", "STORE-NYC", 3),
        ("TEE-BLK-M", "DC-TORONTO", 8),
        ("MUG-WHITE", "DC-EAST", 12),
        ("MUG-WHITE", "DC-WEST", 30),
        ("MUG-WHITE", "STORE-NYC", 2),
        ("MUG-WHITE", "STORE-SF", 50),
        ("POSTER-XL", "DC-WEST", 5),
        ("POSTER-XL", "DC-CENTRAL", 5),
        ("LAMP-OAK", "DC-CENTRAL", 2),
    ] {
        stock.set(&sku_of(sku), &LocationId::new(location)?, units)?;
    }

    let morning = at(14, 0);
    let evening = at(21, 30);
    let cases: [(&str, Order, RouteContext); 7] = [
        (
            "Boston, morning: the nearest DC has everything",
            order("1001", &[("TEE-BLK-M", 2), ("MUG-WHITE", 1)], "US", "MA"),
            RouteContext::new()
                .at(morning)
                .destination(point("42.36", "-71.06")),
        ),
        (
            "Boston, after the east coast cutoff: a DC that still ships today",
            order("1002", &[("TEE-BLK-M", 2), ("MUG-WHITE", 1)], "US", "MA"),
            RouteContext::new()
                .at(evening)
                .destination(point("42.36", "-71.06")),
        ),
        (
            "Brooklyn: no single location has the poster and the mugs",
            order(
                "1003",
                &[("POSTER-XL", 1), ("MUG-WHITE", 20), ("LAMP-OAK", 1)],
                "US",
                "NY",
            ),
            RouteContext::new()
                .at(morning)
                .destination(point("40.68", "-73.94")),
        ),
        (
            "Toronto: only the Canadian DC serves Canada",
            order("1004", &[("TEE-BLK-M", 1)], "CA", "ON"),
            RouteContext::new()
                .at(morning)
                .destination(point("43.70", "-79.42")),
        ),
        (
            "Chicago: more lamps than anyone has, the rest waits at the dropshipper",
            order("1005", &[("LAMP-OAK", 5), ("TEE-BLK-M", 1)], "US", "IL"),
            RouteContext::new()
                .at(morning)
                .destination(point("41.88", "-87.63")),
        ),
        (
            "Denver: two lines of posters, 4 each; no DC has 8, two DCs ship a line each",
            order("1007", &[("POSTER-XL", 4), ("POSTER-XL", 4)], "US", "CO"),
            RouteContext::new()
                .at(morning)
                .destination(point("39.74", "-104.99")),
        ),
        (
            "Chicago, a customer who wants one parcel: splitting forbidden for this order",
            order(
                "1006",
                &[("POSTER-XL", 1), ("LAMP-OAK", 1), ("MUG-WHITE", 1)],
                "US",
                "IL",
            ),
            RouteContext::new()
                .at(morning)
                .destination(point("41.88", "-87.63"))
                .order_split(false),
        ),
    ];
    for (title, order, ctx) in &cases {
        let decision = engine.route(order, &stock, ctx)?;
        print_decision(title, order, &decision);
    }
    Ok(())
}

fn print_decision(title: &str, order: &Order, d: &RoutingDecision) {
    println!("== order {}: {title}", order.number);
    println!("   status: {:?}", d.status());
    for a in d.allocations() {
        let line = &order.lines[a.line];
        println!(
            "   ship  {:<10} x{:<3} from {}",
            line.sku.as_str(),
            a.quantity,
            a.location
        );
    }
    for s in d.shortfalls() {
        let line = &order.lines[s.line];
        let at = s
            .backorder_at
            .as_ref()
            .map_or("(no location)".to_string(), |l| l.to_string());
        println!(
            "   wait  {:<10} x{:<3} backordered at {at}",
            line.sku.as_str(),
            s.quantity
        );
    }
    println!("{}\n", d.explain());
}

fn order(number: &str, lines: &[(&str, u32)], country: &str, region: &str) -> Order {
    let mut o = Order::new(number, Currency::USD, at(13, 0));
    for (i, (sku, qty)) in lines.iter().enumerate() {
        o.lines.push(OrderLine::new(
            (i + 1).to_string(),
            sku_of(sku),
            *qty,
            Money::from_minor(1999, Currency::USD),
        ));
    }
    let mut address = Address::new("1 Main St", "Somewhere", country);
    address.region = Some(region.to_string());
    o.shipping_address = Some(address);
    o
}

fn point(lat: &str, lon: &str) -> GeoPoint {
    GeoPoint {
        lat: lat.parse::<Decimal>().expect("latitude"),
        lon: lon.parse::<Decimal>().expect("longitude"),
    }
}

fn sku_of(s: &str) -> Sku {
    Sku::new(s).expect("valid SKU")
}

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, hour, minute, 0)
        .single()
        .expect("valid time")
}
