//! Unit tests of order routing: eligibility, ranking, splits, fallbacks and rule-file errors.

use chrono::{NaiveTime, TimeZone, Utc};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::*;
use crate::ErrorKind;
use crate::model::{
    Address, Currency, GeoPoint, InventoryLevel, LocationId, Money, Order, OrderLine, Sku,
};

fn sku(s: &str) -> Sku {
    Sku::new(s).unwrap()
}

fn loc(s: &str) -> LocationId {
    LocationId::new(s).unwrap()
}

fn point(lat: Decimal, lon: Decimal) -> GeoPoint {
    GeoPoint { lat, lon }
}

fn order(lines: &[(&str, u32)], country: Option<(&str, Option<&str>)>) -> Order {
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let mut o = Order::new("1001", Currency::USD, at);
    for (i, (s, q)) in lines.iter().enumerate() {
        o.lines.push(OrderLine::new(
            format!("L{i}"),
            sku(s),
            *q,
            Money::new(dec!(1), Currency::USD),
        ));
    }
    if let Some((c, r)) = country {
        let mut a = Address::new("1 Main St", "Town", c);
        a.region = r.map(str::to_string);
        o.shipping_address = Some(a);
    }
    o
}

/// EAST (NYC), WEST (LA), CENTRAL (Chicago), all serving the US.
fn three() -> RoutingRules {
    RoutingRules::new()
        .with_location(
            RoutingLocation::new(loc("EAST"))
                .at(point(dec!(40.71), dec!(-74.00)))
                .serving("US", &[]),
        )
        .with_location(
            RoutingLocation::new(loc("WEST"))
                .at(point(dec!(34.05), dec!(-118.24)))
                .serving("US", &[]),
        )
        .with_location(
            RoutingLocation::new(loc("CENTRAL"))
                .at(point(dec!(41.88), dec!(-87.63)))
                .serving("US", &[]),
        )
}

fn stock(e: &RoutingEngine, rows: &[(&str, &str, u64)]) -> Stock {
    let mut s = e.stock();
    for (k, l, q) in rows {
        s.set(&sku(k), &loc(l), *q).unwrap();
    }
    s
}

fn shipped(d: &RoutingDecision) -> Vec<(usize, String, u64)> {
    d.allocations()
        .iter()
        .map(|a| (a.line, a.location.to_string(), a.quantity))
        .collect()
}

const BOSTON: (Decimal, Decimal) = (dec!(42.36), dec!(-71.06));

fn boston() -> RouteContext {
    RouteContext::new().destination(point(BOSTON.0, BOSTON.1))
}

#[test]
fn one_location_with_everything_nearest_wins() {
    let e = RoutingEngine::new(three()).unwrap();
    let s = stock(
        &e,
        &[
            ("A", "EAST", 5),
            ("A", "WEST", 5),
            ("A", "CENTRAL", 5),
            ("B", "EAST", 5),
            ("B", "WEST", 5),
        ],
    );
    let d = e
        .route(
            &order(&[("A", 2), ("B", 1)], Some(("US", None))),
            &s,
            &boston(),
        )
        .unwrap();
    assert_eq!(shipped(&d), [(0, "EAST".into(), 2), (1, "EAST".into(), 1)]);
    let why = d.explain();
    assert!(
        why.step("locations[WEST]")
            .unwrap()
            .why
            .contains("ranks after EAST on distance")
    );
    assert!(
        why.step("locations[CENTRAL]")
            .unwrap()
            .why
            .contains("cannot ship every line whole; EAST can")
    );
    assert!(
        why.step("plan")
            .unwrap()
            .why
            .starts_with("one location ships every line")
    );
}

#[test]
fn priority_before_distance_and_cost_last() {
    let mut rules = three().with_currency(Currency::USD);
    rules.locations[0].priority = 2; // EAST
    rules.locations[1].cost_per_shipment = Some(dec!(9.00));
    rules.locations[2].cost_per_shipment = Some(dec!(4.50));
    let e = RoutingEngine::new(rules.clone()).unwrap();
    let s = stock(
        &e,
        &[("A", "EAST", 5), ("A", "WEST", 5), ("A", "CENTRAL", 5)],
    );
    let o = order(&[("A", 1)], Some(("US", None)));
    // Priority: WEST and CENTRAL (0) beat EAST (2); then distance: CENTRAL is nearer Boston.
    assert_eq!(
        e.route(&o, &s, &boston()).unwrap().shipments(),
        [&loc("CENTRAL")]
    );
    // Cost first.
    let e =
        RoutingEngine::new(rules.with_order_by([Criterion::Cost, Criterion::Distance])).unwrap();
    let s = stock(
        &e,
        &[("A", "EAST", 5), ("A", "WEST", 5), ("A", "CENTRAL", 5)],
    );
    let d = e.route(&o, &s, &boston()).unwrap();
    assert_eq!(d.shipments(), [&loc("EAST")]); // no cost = 0
    assert!(
        d.explain()
            .step("locations[WEST]")
            .unwrap()
            .why
            .contains("on cost (9.00 USD vs 0.00 USD)"),
        "{}",
        d.explain()
    );
}

#[test]
fn carrier_cutoff_prefers_locations_that_ship_today() {
    let mut rules = three();
    rules.locations[0].cutoff = Some(NaiveTime::from_hms_opt(15, 0, 0).unwrap());
    let e = RoutingEngine::new(rules).unwrap();
    let s = stock(&e, &[("A", "EAST", 5), ("A", "CENTRAL", 5)]);
    let o = order(&[("A", 1)], Some(("US", None)));
    let morning = boston().at(Utc.with_ymd_and_hms(2026, 3, 1, 14, 0, 0).unwrap());
    let evening = boston().at(Utc.with_ymd_and_hms(2026, 3, 1, 16, 0, 0).unwrap());
    assert_eq!(
        e.route(&o, &s, &morning).unwrap().shipments(),
        [&loc("EAST")]
    );
    let d = e.route(&o, &s, &evening).unwrap();
    assert_eq!(d.shipments(), [&loc("CENTRAL")]);
    assert!(
        d.explain()
            .step("locations[EAST]")
            .unwrap()
            .why
            .contains("after its 15:00 UTC cutoff")
    );
}

#[test]
fn eligibility_by_active_country_region_and_address() {
    let rules = RoutingRules::new()
        .with_location(RoutingLocation::new(loc("OFF")).inactive())
        .with_location(RoutingLocation::new(loc("CA-ONLY")).serving("US", &["CA", "NV"]))
        .with_location(RoutingLocation::new(loc("DE")).serving("DE", &[]))
        .with_location(RoutingLocation::new(loc("ANY")));
    let e = RoutingEngine::new(rules).unwrap();
    let s = stock(
        &e,
        &[
            ("A", "OFF", 9),
            ("A", "CA-ONLY", 9),
            ("A", "DE", 9),
            ("A", "ANY", 1),
        ],
    );
    let to_ca = e
        .route(
            &order(&[("A", 2)], Some(("US", Some("ca")))),
            &s,
            &RouteContext::new(),
        )
        .unwrap();
    assert_eq!(to_ca.shipments(), [&loc("CA-ONLY")]);
    let to_ny = e
        .route(
            &order(&[("A", 2)], Some(("US", Some("NY")))),
            &s,
            &RouteContext::new(),
        )
        .unwrap();
    assert_eq!(to_ny.status(), RoutingStatus::Backordered);
    let why = to_ny.explain();
    assert_eq!(why.step("locations[OFF]").unwrap().why, "inactive");
    assert_eq!(
        why.step("locations[CA-ONLY]").unwrap().why,
        "does not serve US/NY (serves US/CA|NV)"
    );
    assert_eq!(
        why.step("locations[DE]").unwrap().why,
        "does not serve US/NY (serves DE)"
    );
    let nowhere = e
        .route(&order(&[("A", 1)], None), &s, &RouteContext::new())
        .unwrap();
    assert_eq!(nowhere.shipments(), [&loc("ANY")]);
    assert!(
        nowhere
            .explain()
            .step("locations[DE]")
            .unwrap()
            .why
            .contains("no shipping address")
    );
}

#[test]
fn split_into_the_fewest_shipments_then_the_best_pair() {
    let e = RoutingEngine::new(three()).unwrap();
    // No location has A, B and C. EAST+CENTRAL and WEST+CENTRAL both cover; EAST is nearer Boston.
    let s = stock(
        &e,
        &[
            ("A", "EAST", 5),
            ("B", "EAST", 5),
            ("A", "WEST", 5),
            ("B", "WEST", 5),
            ("C", "CENTRAL", 5),
            ("C", "WEST", 1),
        ],
    );
    let d = e
        .route(
            &order(&[("A", 1), ("B", 1), ("C", 2)], Some(("US", None))),
            &s,
            &boston(),
        )
        .unwrap();
    assert!(d.is_filled());
    assert_eq!(
        shipped(&d),
        [
            (0, "EAST".into(), 1),
            (1, "EAST".into(), 1),
            (2, "CENTRAL".into(), 2)
        ]
    );
    assert!(
        d.explain()
            .step("plan")
            .unwrap()
            .why
            .contains("2 locations ship everything (every line whole), the fewest possible")
    );
}

#[test]
fn no_split_backorders_at_the_location_that_ships_most() {
    let e = RoutingEngine::new(three().with_split(SplitRules::no_split())).unwrap();
    let s = stock(&e, &[("A", "EAST", 5), ("B", "WEST", 5), ("C", "WEST", 1)]);
    let d = e
        .route(
            &order(&[("A", 1), ("B", 1), ("C", 2)], Some(("US", None))),
            &s,
            &boston(),
        )
        .unwrap();
    assert_eq!(d.status(), RoutingStatus::Backordered);
    assert_eq!(shipped(&d), [(1, "WEST".into(), 1), (2, "WEST".into(), 1)]);
    let short: Vec<_> = d
        .shortfalls()
        .iter()
        .map(|s| (s.line, s.quantity, s.backorder_at.clone()))
        .collect();
    assert_eq!(
        short,
        [(0, 1, Some(loc("WEST"))), (2, 1, Some(loc("WEST")))]
    );
    // Per order: allowing the split for this order routes it in 2 shipments.
    let d = e
        .route(
            &order(&[("A", 1), ("B", 1)], Some(("US", None))),
            &s,
            &boston().order_split(true),
        )
        .unwrap();
    assert_eq!(d.shipments().len(), 2);
}

#[test]
fn fallback_location_and_reject() {
    let rules = three()
        .with_location(
            RoutingLocation::new(loc("DROPSHIP"))
                .serving("US", &[])
                .with_priority(9),
        )
        .with_fallback(Fallback::location(loc("DROPSHIP")));
    let e = RoutingEngine::new(rules.clone().with_split(SplitRules::no_split())).unwrap();
    let s = stock(
        &e,
        &[("A", "EAST", 5), ("B", "WEST", 5), ("B", "DROPSHIP", 1)],
    );
    let o = order(&[("A", 1), ("B", 2)], Some(("US", None)));
    let d = e.route(&o, &s, &boston()).unwrap();
    assert_eq!(shipped(&d), [(1, "DROPSHIP".into(), 1)]);
    let short: Vec<_> = d
        .shortfalls()
        .iter()
        .map(|s| (s.line, s.quantity, s.backorder_at.clone()))
        .collect();
    assert_eq!(
        short,
        [(0, 1, Some(loc("DROPSHIP"))), (1, 1, Some(loc("DROPSHIP")))]
    );
    // Split allowed: what fits ships, the rest waits at the fallback location.
    let e = RoutingEngine::new(rules.clone()).unwrap();
    let s = stock(&e, &[("A", "EAST", 5), ("B", "WEST", 1)]);
    let d = e.route(&o, &s, &boston()).unwrap();
    assert_eq!(shipped(&d), [(0, "EAST".into(), 1)]);
    assert_eq!(d.shortfalls()[0].backorder_at, Some(loc("DROPSHIP")));
    assert!(d.explain().to_string().contains("backorder at DROPSHIP"));
    // Reject: nothing routed unless everything ships.
    let e = RoutingEngine::new(three().with_fallback(Fallback::reject())).unwrap();
    let s = stock(&e, &[("A", "EAST", 5), ("B", "WEST", 1)]);
    let d = e.route(&o, &s, &boston()).unwrap();
    assert_eq!(d.status(), RoutingStatus::Rejected);
    assert!(d.allocations().is_empty());
    assert_eq!(d.shortfalls().iter().map(|s| s.quantity).sum::<u64>(), 3);
}

#[test]
fn line_split_spreads_one_line_over_locations() {
    let e = RoutingEngine::new(three().with_split(SplitRules::split_lines(3))).unwrap();
    let s = stock(
        &e,
        &[("A", "EAST", 3), ("A", "WEST", 2), ("A", "CENTRAL", 4)],
    );
    let o = order(&[("A", 6)], Some(("US", None)));
    let d = e.route(&o, &s, &boston()).unwrap();
    assert!(d.is_filled());
    // Two locations are needed; EAST + CENTRAL is the nearest pair, the nearer one first.
    assert_eq!(
        shipped(&d),
        [(0, "EAST".into(), 3), (0, "CENTRAL".into(), 3)]
    );
    // The same line marked unsplittable is backordered instead.
    let d = e.route(&o, &s, &boston().no_split_line("L0")).unwrap();
    assert_eq!(d.status(), RoutingStatus::Backordered);
    assert!(d.allocations().is_empty());
    assert_eq!(d.shortfalls()[0].backorder_at, None);
    // And with lines splittable but at most 1 shipment... 4 ship from CENTRAL.
    let e = RoutingEngine::new(three().with_split(SplitRules::split_lines(1))).unwrap();
    let s = stock(
        &e,
        &[("A", "EAST", 3), ("A", "WEST", 2), ("A", "CENTRAL", 4)],
    );
    let d = e.route(&o, &s, &boston()).unwrap();
    assert_eq!(shipped(&d), [(0, "CENTRAL".into(), 4)]);
    assert_eq!(d.shortfalls()[0].quantity, 2);
}

#[test]
fn max_shipments_limits_the_split() {
    let e = RoutingEngine::new(three().with_split(SplitRules::split_orders(2))).unwrap();
    let s = stock(
        &e,
        &[("A", "EAST", 1), ("B", "WEST", 1), ("C", "CENTRAL", 1)],
    );
    let d = e
        .route(
            &order(&[("A", 1), ("B", 1), ("C", 1)], Some(("US", None))),
            &s,
            &boston(),
        )
        .unwrap();
    assert_eq!(d.shipments().len(), 2);
    assert_eq!(d.shortfalls().len(), 1);
    let e = RoutingEngine::new(three().with_split(SplitRules::split_orders(3))).unwrap();
    let s = stock(
        &e,
        &[("A", "EAST", 1), ("B", "WEST", 1), ("C", "CENTRAL", 1)],
    );
    let d = e
        .route(
            &order(&[("A", 1), ("B", 1), ("C", 1)], Some(("US", None))),
            &s,
            &boston(),
        )
        .unwrap();
    assert!(d.is_filled());
    assert_eq!(d.shipments().len(), 3);
}

#[test]
fn lines_with_the_same_sku_never_take_more_than_the_stock() {
    let e = RoutingEngine::new(three()).unwrap();
    let s = stock(&e, &[("A", "EAST", 3), ("A", "WEST", 5)]);
    let d = e
        .route(
            &order(&[("A", 2), ("A", 2)], Some(("US", None))),
            &s,
            &boston(),
        )
        .unwrap();
    // EAST alone has 3 < 4: both lines from WEST.
    assert_eq!(shipped(&d), [(0, "WEST".into(), 2), (1, "WEST".into(), 2)]);
    assert!(
        d.explain()
            .step("order")
            .unwrap()
            .why
            .contains("lines sent to one location never need more than it has")
    );
    // Lines that may split are routed together: 4 of A over EAST (3) and WEST.
    let d = e
        .route(
            &order(&[("A", 2), ("A", 2)], Some(("US", None))),
            &s,
            &boston().line_split(true),
        )
        .unwrap();
    assert_eq!(shipped(&d), [(0, "WEST".into(), 2), (1, "WEST".into(), 2)]);
    assert!(
        d.explain()
            .step("order")
            .unwrap()
            .why
            .contains("may split are routed together")
    );
}

#[test]
fn empty_order_and_zero_quantities() {
    let e = RoutingEngine::new(three()).unwrap();
    let s = e.stock();
    let d = e
        .route(
            &order(&[("A", 0)], Some(("US", None))),
            &s,
            &RouteContext::new(),
        )
        .unwrap();
    assert!(d.is_filled());
    assert!(d.allocations().is_empty());
}

#[test]
fn stock_from_levels_availability_and_other_engines() {
    let e = RoutingEngine::new(three()).unwrap();
    let mut s = e.stock();
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut l = InventoryLevel::new(sku("A"), loc("EAST"), at);
    l.on_hand = 10;
    l.committed = 4;
    let mut bad = InventoryLevel::new(sku("B"), loc("EAST"), at);
    bad.on_hand = 2;
    bad.committed = 5;
    let ghost = InventoryLevel::new(sku("A"), loc("GHOST"), at);
    assert_eq!(s.add_levels([&l, &bad, &ghost]), 1);
    assert_eq!(s.get(&sku("A"), &loc("EAST")), 6);
    assert_eq!(s.get(&sku("B"), &loc("EAST")), 0);
    assert!(s.set(&sku("A"), &loc("GHOST"), 1).is_err());
    let other = RoutingEngine::new(three()).unwrap();
    let err = other
        .route(&order(&[("A", 1)], None), &s, &RouteContext::new())
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Config);

    let avail = crate::rules::AvailabilityEngine::new(
        crate::rules::AvailabilityRules::new()
            .with_location(crate::rules::LocationRule::new(loc("EAST")))
            .with_safety_stock(crate::rules::SafetyStockRule::new("s", 2).at_location(loc("EAST"))),
    )
    .unwrap();
    let report = avail.evaluate([&l, &ghost], &crate::rules::NoCategories);
    let mut s = e.stock();
    assert_eq!(s.add_availability(&report), 1);
    assert_eq!(s.get(&sku("A"), &loc("EAST")), 4);
}

#[test]
fn invalid_rules_name_the_rule_and_field() {
    let err = RoutingRules::from_toml_str(
        r#"
        order_by = ["distance", "distance"]
        [[locations]]
        id = "EAST"
        coordinates = { lat = "91", lon = "0" }
        serves = [{ country = "usa" }]
        cost_per_shipment = "5"
        [[locations]]
        id = "EAST"
        [split]
        max_shipments = 0
        [fallback]
        action = "location"
        location = "NOWHERE"
        "#,
    )
    .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Config);
    let m = err.message();
    for expected in [
        "locations[1].id (rule \"EAST\"): duplicate id",
        "locations[0].coordinates.lat (rule \"EAST\"): must be between -90 and 90, found 91",
        "locations[0].serves[0].country (rule \"EAST\"): must be an ISO 3166-1 alpha-2 code in upper case, found \"usa\"",
        "locations[0].cost_per_shipment (rule \"EAST\"): needs the rules' `currency`",
        "split.max_shipments: must be ≥ 1, found 0",
        "order_by[1]: Distance is listed twice",
        "fallback.location: unknown location \"NOWHERE\"",
    ] {
        assert!(m.contains(expected), "missing {expected:?} in {m}");
    }
    let err =
        RoutingRules::from_toml_str("[[locations]]\nid = \"A\"\ncutoff = \"25:00\"\n").unwrap_err();
    assert_eq!(err.context().line, Some(3));
    assert!(err.message().contains("invalid time of day"), "{err}");
}

#[test]
fn rules_round_trip_through_toml() {
    let rules = three()
        .with_currency(Currency::USD)
        .with_location(
            RoutingLocation::new(loc("X"))
                .with_cost(dec!(4.50))
                .with_cutoff(NaiveTime::from_hms_opt(16, 30, 0).unwrap())
                .serving("US", &["CA"]),
        )
        .with_fallback(Fallback::location(loc("X")));
    let text = toml::to_string(&rules).unwrap();
    assert_eq!(RoutingRules::from_toml_str(&text).unwrap(), rules);
}

#[test]
fn whole_lines_of_one_sku_may_ship_from_different_locations() {
    // Review A1: two X x3 lines, A{X3}, B{X3}, line split off: were merged into one
    // unsplittable X x6 and backordered.
    let e = RoutingEngine::new(three()).unwrap();
    let s = stock(&e, &[("X", "EAST", 3), ("X", "WEST", 3)]);
    let d = e
        .route(
            &order(&[("X", 3), ("X", 3)], Some(("US", None))),
            &s,
            &boston(),
        )
        .unwrap();
    assert!(d.is_filled(), "{}", d.explain());
    assert_eq!(shipped(&d), [(0, "EAST".into(), 3), (1, "WEST".into(), 3)]);
    // Never two whole lines from a location that has only one line's worth.
    let s = stock(&e, &[("X", "EAST", 5)]);
    let d = e
        .route(
            &order(&[("X", 3), ("X", 3)], Some(("US", None))),
            &s,
            &boston(),
        )
        .unwrap();
    assert_eq!(shipped(&d), [(0, "EAST".into(), 3)]);
    assert_eq!(d.shortfalls()[0].line, 1);
    // The same with splitting forbidden: the location that ships the most takes the order.
    let e = RoutingEngine::new(three().with_split(SplitRules::no_split())).unwrap();
    let s = stock(&e, &[("X", "EAST", 5)]);
    let d = e
        .route(
            &order(&[("X", 3), ("X", 3)], Some(("US", None))),
            &s,
            &boston(),
        )
        .unwrap();
    let total: u64 = d.allocations().iter().map(|a| a.quantity).sum();
    assert_eq!(total, 5);
}

/// A, B, C (and G, T1, T2) serving anywhere, ranked by file order only.
fn plain(ids: &[&str]) -> RoutingRules {
    let mut r = RoutingRules::new().with_order_by([Criterion::Priority]);
    for id in ids {
        r = r.with_location(RoutingLocation::new(loc(id)));
    }
    r
}

#[test]
fn fewest_shipments_when_lines_may_split() {
    // Review A2, case 1: greedy took C (X4) first and needed 3 shipments; A + B do it in 2.
    let e =
        RoutingEngine::new(plain(&["A", "B", "C"]).with_split(SplitRules::split_lines(3))).unwrap();
    let s = stock(
        &e,
        &[
            ("X", "A", 2),
            ("Y", "A", 1),
            ("X", "B", 2),
            ("Z", "B", 1),
            ("X", "C", 4),
        ],
    );
    let o = order(&[("X", 4), ("Y", 1), ("Z", 1)], Some(("US", None)));
    let d = e.route(&o, &s, &RouteContext::new()).unwrap();
    assert!(d.is_filled());
    assert_eq!(d.shipments(), [&loc("A"), &loc("B")]);
    assert!(
        d.explain()
            .step("plan")
            .unwrap()
            .why
            .contains("2 locations ship everything"),
        "{}",
        d.explain()
    );
    // Case 2: max 2; G has X and Y, T1 and T2 need Z from both.
    let e = RoutingEngine::new(plain(&["G", "T1", "T2"]).with_split(SplitRules::split_lines(2)))
        .unwrap();
    let s = stock(
        &e,
        &[
            ("X", "G", 2),
            ("Y", "G", 2),
            ("X", "T1", 2),
            ("Z", "T1", 1),
            ("Y", "T2", 2),
            ("Z", "T2", 1),
        ],
    );
    let o = order(&[("X", 2), ("Y", 2), ("Z", 2)], Some(("US", None)));
    let d = e.route(&o, &s, &RouteContext::new()).unwrap();
    assert!(d.is_filled(), "{}", d.explain());
    assert_eq!(d.shipments(), [&loc("T1"), &loc("T2")]);
    // A line that may not split still needs one location with all of it.
    let d = e
        .route(&o, &s, &RouteContext::new().no_split_line("L2"))
        .unwrap();
    assert_eq!(d.status(), RoutingStatus::Backordered);
    assert!(
        d.explain()
            .step("plan")
            .unwrap()
            .why
            .contains("every such set was tried"),
        "{}",
        d.explain()
    );
}

#[test]
fn a_search_cut_short_says_so() {
    // Four whole lines of 10 A; 60 locations with 10 to 19 A each hold one line, so
    // 4 shipments are needed. Every pair and triple passes the quick checks, and the
    // 34,220 triples exceed the budget: the rest is placed greedily, and said so.
    let ids: Vec<String> = (0..60).map(|i| format!("L{i:02}")).collect();
    let names: Vec<&str> = ids.iter().map(String::as_str).collect();
    let e = RoutingEngine::new(plain(&names).with_split(SplitRules::split_orders(6))).unwrap();
    let mut s = e.stock();
    for (i, id) in names.iter().enumerate() {
        s.set(&sku("A"), &loc(id), 10 + i as u64 % 10).unwrap();
    }
    let d = e
        .route(
            &order(
                &[("A", 10), ("A", 10), ("A", 10), ("A", 10)],
                Some(("US", None)),
            ),
            &s,
            &RouteContext::new(),
        )
        .unwrap();
    assert!(d.is_filled());
    assert_eq!(d.shipments().len(), 4);
    let why = d.explain().step("plan").unwrap().why.clone();
    assert!(why.contains("stopped after 20000 combinations"), "{why}");
    // A single line of 46 that may split is settled by the capacity bound instead:
    // no 2 locations have 46 (at most 38), 3 do.
    let e = RoutingEngine::new(plain(&names).with_split(SplitRules::split_lines(6))).unwrap();
    let mut s = e.stock();
    for (i, id) in names.iter().enumerate() {
        s.set(&sku("A"), &loc(id), 10 + i as u64 % 10).unwrap();
    }
    let d = e
        .route(
            &order(&[("A", 46)], Some(("US", None))),
            &s,
            &RouteContext::new(),
        )
        .unwrap();
    assert!(d.is_filled());
    assert_eq!(d.shipments().len(), 3);
    assert!(
        d.explain()
            .step("plan")
            .unwrap()
            .why
            .contains("3 locations ship everything"),
        "{}",
        d.explain()
    );
}

#[test]
fn the_fallback_location_ships_only_where_it_is_eligible() {
    // Review A3: the fallback shipped to Germany although it serves only the US.
    let rules = three()
        .with_location(RoutingLocation::new(loc("DROP")).serving("US", &[]))
        .with_fallback(Fallback::location(loc("DROP")))
        .with_split(SplitRules::no_split());
    let e = RoutingEngine::new(rules.clone()).unwrap();
    let s = stock(&e, &[("A", "DROP", 9)]);
    let to_de = order(&[("A", 1)], Some(("DE", None)));
    let d = e.route(&to_de, &s, &RouteContext::new()).unwrap();
    assert!(d.allocations().is_empty(), "{:?}", d.allocations());
    assert_eq!(d.shortfalls()[0].backorder_at, None);
    let why = d.explain();
    assert!(
        why.step("fallback")
            .unwrap()
            .why
            .starts_with("it does not serve DE"),
        "{why}"
    );
    // Without it, the order goes where most can ship, as with a plain backorder.
    let mut with_de = rules.clone();
    with_de.locations[0] = with_de.locations[0].clone().serving("DE", &[]);
    let e2 = RoutingEngine::new(with_de).unwrap();
    let s2 = stock(&e2, &[("A", "DROP", 9), ("B", "EAST", 1)]);
    let d = e2
        .route(
            &order(&[("A", 1), ("B", 2)], Some(("DE", None))),
            &s2,
            &RouteContext::new(),
        )
        .unwrap();
    assert_eq!(shipped(&d), [(1, "EAST".into(), 1)]);
    assert_eq!(d.shortfalls()[1].backorder_at, Some(loc("EAST")));
    assert!(
        d.explain()
            .to_string()
            .contains("backorder at EAST (fallback: backorder where the order ships)"),
        "{}",
        d.explain()
    );
    // Split allowed: no backorder at a location that does not serve the order either.
    let e = RoutingEngine::new(rules.clone().with_split(SplitRules::default())).unwrap();
    let s = stock(&e, &[("A", "DROP", 9)]);
    let d = e.route(&to_de, &s, &RouteContext::new()).unwrap();
    assert_eq!(d.shortfalls()[0].backorder_at, None);
    // To the US it still takes the order.
    let d = e
        .route(
            &order(&[("A", 1)], Some(("US", None))),
            &s,
            &RouteContext::new(),
        )
        .unwrap();
    assert_eq!(d.shipments(), [&loc("DROP")]);
    // An inactive fallback location is refused when the rules are checked.
    let mut inactive = rules;
    inactive.locations[3].active = false;
    let err = RoutingEngine::new(inactive).unwrap_err();
    assert!(
        err.message()
            .contains("fallback.location (rule \"DROP\"): \"DROP\" is inactive"),
        "{err}"
    );
}

#[test]
fn cutoffs_are_local_times_across_midnight_and_daylight_saving() {
    // Review A11: a 16:00 New York cutoff written as 20:00 UTC breaks in winter
    // (it is 21:00 UTC then) and after midnight UTC.
    let mut rules = three();
    rules.locations[0].cutoff = Some(NaiveTime::from_hms_opt(16, 0, 0).unwrap());
    rules.locations[0].timezone = Some(chrono_tz::America::New_York);
    let e = RoutingEngine::new(rules.clone()).unwrap();
    let s = stock(&e, &[("A", "EAST", 5), ("A", "CENTRAL", 5)]);
    let o = order(&[("A", 1)], Some(("US", None)));
    let at = |y, m, d, h, min| boston().at(Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap());
    let ships = |ctx: &RouteContext| e.route(&o, &s, ctx).unwrap().shipments()[0].to_string();
    // Winter (EST, UTC-5): 20:30 UTC is 15:30 in New York, before the cutoff.
    assert_eq!(ships(&at(2026, 1, 15, 20, 30)), "EAST");
    // Summer (EDT, UTC-4): 20:30 UTC is 16:30, after it.
    assert_eq!(ships(&at(2026, 7, 15, 20, 30)), "CENTRAL");
    // After midnight UTC, still the evening before in New York (23:30 local): after the cutoff.
    let d = e.route(&o, &s, &at(2026, 7, 16, 3, 30)).unwrap();
    assert_eq!(d.shipments(), [&loc("CENTRAL")]);
    assert!(
        d.explain()
            .step("locations[EAST]")
            .unwrap()
            .why
            .contains("after its 16:00 America/New_York cutoff"),
        "{}",
        d.explain()
    );
    // Early morning local time ships the same day.
    assert_eq!(ships(&at(2026, 7, 16, 12, 0)), "EAST");
    // From TOML, with a bad zone named.
    let rules = RoutingRules::from_toml_str(
        "[[locations]]\nid = \"A\"\ncutoff = \"16:00\"\ntimezone = \"Europe/Berlin\"\n",
    )
    .unwrap();
    assert_eq!(rules.locations[0].timezone, Some(chrono_tz::Europe::Berlin));
    let err =
        RoutingRules::from_toml_str("[[locations]]\nid = \"A\"\ntimezone = \"Mars/Olympus\"\n")
            .unwrap_err();
    assert!(
        err.message()
            .contains("locations[0].timezone (rule \"A\"): unknown time zone"),
        "{err}"
    );
}

#[test]
fn stock_from_levels_clamps_each_state_and_the_first_row_wins() {
    // Review A12: a negative `reserved` cancelled `committed`; the last row won.
    let e = RoutingEngine::new(three()).unwrap();
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut l = InventoryLevel::new(sku("A"), loc("EAST"), at);
    l.on_hand = 10;
    l.committed = 6;
    l.reserved = -6;
    let mut again = InventoryLevel::new(sku("A"), loc("EAST"), at);
    again.on_hand = 99;
    let mut s = e.stock();
    assert_eq!(s.add_levels([&l, &again]), 1);
    assert_eq!(s.get(&sku("A"), &loc("EAST")), 4);
    // The same number availability computes for the row.
    let avail = crate::rules::AvailabilityEngine::new(
        crate::rules::AvailabilityRules::new()
            .with_location(crate::rules::LocationRule::new(loc("EAST"))),
    )
    .unwrap();
    let report = avail.evaluate([&l, &again], &crate::rules::NoCategories);
    assert_eq!(report.sku(&sku("A")).unwrap().sellable(), 4);
}

#[test]
fn stock_from_availability_includes_kits() {
    // Review A13: bundles had no stock rows, so an order for a kit was always backordered.
    let avail = crate::rules::AvailabilityEngine::new(
        crate::rules::AvailabilityRules::new()
            .with_location(crate::rules::LocationRule::new(loc("EAST")))
            .with_location(crate::rules::LocationRule::new(loc("WEST")))
            .with_bundle(
                crate::rules::BundleRule::new(sku("KIT"))
                    .with_component(sku("MUG"), 2)
                    .with_component(sku("TEA"), 1),
            ),
    )
    .unwrap();
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let level = |s: &str, l: &str, q: i64| {
        let mut x = InventoryLevel::new(sku(s), loc(l), at);
        x.on_hand = q;
        x
    };
    let rows = [
        level("MUG", "EAST", 3),
        level("TEA", "EAST", 5),
        level("MUG", "WEST", 8),
        level("TEA", "WEST", 2),
    ];
    let report = avail.evaluate(&rows, &crate::rules::NoCategories);
    let e = RoutingEngine::new(three()).unwrap();
    let mut s = e.stock();
    assert_eq!(s.add_availability(&report), 0);
    assert_eq!(s.get(&sku("KIT"), &loc("EAST")), 1);
    assert_eq!(s.get(&sku("KIT"), &loc("WEST")), 2);
    let d = e
        .route(&order(&[("KIT", 2)], Some(("US", None))), &s, &boston())
        .unwrap();
    assert!(d.is_filled());
    assert_eq!(d.shipments(), [&loc("WEST")]);
}

#[test]
fn more_than_64_skus_still_ship_from_one_location() {
    // Review A14: the single-location check gave up beyond 64 distinct SKUs.
    let e = RoutingEngine::new(three()).unwrap();
    let mut s = e.stock();
    let names: Vec<String> = (0..70).map(|i| format!("S{i}")).collect();
    for n in &names {
        s.set(&sku(n), &loc("WEST"), 1).unwrap();
        s.set(&sku(n), &loc("EAST"), 1).unwrap();
    }
    s.set(&sku("S69"), &loc("EAST"), 0).unwrap();
    let lines: Vec<(&str, u32)> = names.iter().map(|n| (n.as_str(), 1)).collect();
    let d = e
        .route(&order(&lines, Some(("US", None))), &s, &boston())
        .unwrap();
    assert!(d.is_filled());
    assert_eq!(d.shipments(), [&loc("WEST")]);
    assert!(
        d.explain()
            .step("plan")
            .unwrap()
            .why
            .starts_with("one location ships every line"),
        "{}",
        d.explain()
    );
    // Without one location for everything: greedy, and the explanation says why.
    s.set(&sku("S0"), &loc("WEST"), 0).unwrap();
    let d = e
        .route(&order(&lines, Some(("US", None))), &s, &boston())
        .unwrap();
    assert!(d.is_filled());
    assert_eq!(d.shipments().len(), 2);
    assert!(
        d.explain()
            .step("plan")
            .unwrap()
            .why
            .starts_with("more than 64 lines")
    );
}

#[test]
fn costs_too_large_are_refused_not_a_panic() {
    // Review B: `cost * 10^minor` overflowed in RoutingEngine::new.
    let rules = RoutingRules::new()
        .with_currency(Currency::USD)
        .with_location(RoutingLocation::new(loc("A")).with_cost(Decimal::MAX));
    let err = RoutingEngine::new(rules).unwrap_err();
    assert!(
        err.message().contains(
            "locations[0].cost_per_shipment (rule \"A\"): must be between 0 and 1000000000"
        ),
        "{err}"
    );
}

#[test]
fn service_areas_can_be_built() {
    let area = ServiceArea::new("US", ["CA", "NV"]);
    let mut l = RoutingLocation::new(loc("A"));
    l.serves.push(area.clone());
    assert_eq!(
        l,
        RoutingLocation::new(loc("A")).serving("US", &["CA", "NV"])
    );
    assert_eq!(
        ServiceArea::new("DE", Vec::<String>::new()).regions.len(),
        0
    );
}
