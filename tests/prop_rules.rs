//! Property tests for the business rules: availability is never negative
//! and never above on hand; channel shares never add up to more than there
//! is; a kit is only promised when all its parts are there; routing never
//! gives a location more than it has; discount and tax allocations add up
//! exactly; currency conversion round-trips within one minor unit.

use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use seamwork::model::{
    Address, Currency, GeoPoint, InventoryLevel, LocationId, Money, Order, OrderLine, RoundingMode,
    Sku,
};
use seamwork::rules::{
    AvailabilityEngine, AvailabilityRules, BackorderRule, BufferRule, BundleRule, ChannelRule,
    ChannelShare, ChannelSplit, Fallback, LocationRule, MapRule, PriceEntry, PriceList,
    PriceRequest, PricingEngine, PricingRules, RateTable, RouteContext, RoutingEngine,
    RoutingLocation, RoutingRules, RoutingStatus, SafetyStockRule, SplitRules, TaxInput,
    TaxRounding, Tier, allocate_discount, compute_taxes,
};

const MODES: [RoundingMode; 7] = [
    RoundingMode::HalfEven,
    RoundingMode::HalfUp,
    RoundingMode::HalfDown,
    RoundingMode::Down,
    RoundingMode::Up,
    RoundingMode::Floor,
    RoundingMode::Ceiling,
];

fn sku(s: &str) -> Sku {
    Sku::new(s).unwrap()
}

fn loc(s: &str) -> LocationId {
    LocationId::new(s).unwrap()
}

// ---------------------------------------------------------------- availability

#[derive(Debug, Clone)]
struct AvailabilityCase {
    active: [bool; 3],
    exclude_c2_at_l2: bool,
    safety: [u64; 4],
    buffer: Option<(u64, u32)>,
    split: Option<(u64, u32, RoundingMode)>,
    kit: (u32, u32),
    backorder: Option<(u64, bool)>,
    rows: Vec<(usize, usize, [i64; 7])>,
}

fn availability_case() -> impl Strategy<Value = AvailabilityCase> {
    let row = (
        0usize..4,
        0usize..4,
        [
            -5i64..100,
            -3i64..30,
            -3i64..30,
            -3i64..10,
            -3i64..10,
            -3i64..10,
            -3i64..40,
        ],
    );
    (
        [any::<bool>(), any::<bool>(), any::<bool>()],
        any::<bool>(),
        [0u64..20, 0u64..20, 0u64..20, 0u64..20],
        proptest::option::of((0u64..5, 0u32..60)),
        proptest::option::of((0u64..15, 1u32..80, prop::sample::select(MODES.to_vec()))),
        (1u32..4, 1u32..4),
        proptest::option::of((0u64..20, any::<bool>())),
        prop::collection::vec(row, 0..24),
    )
        .prop_map(
            |(active, exclude_c2_at_l2, safety, buffer, split, kit, backorder, rows)| {
                AvailabilityCase {
                    active,
                    exclude_c2_at_l2,
                    safety,
                    buffer,
                    split,
                    kit,
                    backorder,
                    rows,
                }
            },
        )
}

const LOCS: [&str; 4] = ["L0", "L1", "L2", "L9"];
const SKUS: [&str; 4] = ["S0", "S1", "S2", "S3"];

fn availability_rules(c: &AvailabilityCase) -> AvailabilityRules {
    let mut rules = AvailabilityRules::new();
    for (i, name) in LOCS[..3].iter().enumerate() {
        let mut l = LocationRule::new(loc(name));
        if !c.active[i] {
            l = l.inactive();
        }
        if i == 2 && c.exclude_c2_at_l2 {
            l = l.excluding_category("c2");
        }
        rules = rules.with_location(l);
    }
    rules = rules
        .with_channel(ChannelRule::new("web", [loc("L0"), loc("L1")]))
        .with_channel(ChannelRule::new("pos", [loc("L2"), loc("L0")]))
        .with_channel(ChannelRule::new("wholesale", [loc("L0")]))
        .with_safety_stock(SafetyStockRule::new("l0", c.safety[0]).at_location(loc("L0")))
        .with_safety_stock(SafetyStockRule::new("c1", c.safety[1]).in_category("c1"))
        .with_safety_stock(SafetyStockRule::new("s1", c.safety[2]).for_sku(sku("S1")))
        .with_safety_stock(
            SafetyStockRule::new("s2-l1", c.safety[3])
                .for_sku(sku("S2"))
                .at_location(loc("L1")),
        )
        .with_bundle(
            BundleRule::new(sku("KIT"))
                .with_component(sku("S0"), c.kit.0)
                .with_component(sku("S1"), c.kit.1),
        );
    if let Some((q, pct)) = c.buffer {
        rules = rules.with_buffer(BufferRule::new(q, Decimal::from(pct)));
    }
    if let Some((fixed, pct, mode)) = c.split {
        rules = rules.with_split(
            ChannelSplit::new("web")
                .with_rounding(mode)
                .with_share(ChannelShare::fixed("wholesale", fixed))
                .with_share(ChannelShare::percent("pos", Decimal::from(pct))),
        );
    }
    if let Some((limit, incoming)) = c.backorder {
        let mut b = BackorderRule::new("b", limit).on_channels(["web"]);
        if incoming {
            b = b.limited_to_incoming();
        }
        rules = rules.with_backorder(b);
    }
    rules
}

fn levels(c: &AvailabilityCase) -> Vec<InventoryLevel> {
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut seen = std::collections::HashSet::new();
    c.rows
        .iter()
        .filter(|(s, l, _)| seen.insert((*s, *l)))
        .map(|(s, l, q)| {
            let mut lv = InventoryLevel::new(sku(SKUS[*s]), loc(LOCS[*l]), at);
            lv.on_hand = q[0];
            lv.committed = q[1];
            lv.reserved = q[2];
            lv.safety_stock = q[3];
            lv.damaged = q[4];
            lv.quality_control = q[5];
            lv.incoming = q[6];
            lv
        })
        .collect()
}

proptest! {
    #[test]
    fn availability_is_never_negative_nor_above_on_hand(c in availability_case()) {
        let engine = AvailabilityEngine::new(availability_rules(&c)).unwrap();
        let categories: HashMap<Sku, String> =
            [(sku("S1"), "c1".to_string()), (sku("S2"), "c2".to_string())].into_iter().collect();
        let rows = levels(&c);
        let report = engine.evaluate(&rows, &categories);
        for level in &rows {
            let a = report.sku(&level.sku).unwrap();
            let at = a.location(&level.location).unwrap();
            prop_assert_eq!(at.on_hand, u64::try_from(level.on_hand.max(0)).unwrap());
            prop_assert!(at.sellable <= at.on_hand, "{} > {} at {}", at.sellable, at.on_hand, level.key_text());
            // Nothing is invented: sellable never exceeds what the states leave.
            let states = level.on_hand.max(0)
                - [level.committed, level.reserved, level.safety_stock, level.damaged, level.quality_control]
                    .iter()
                    .map(|q| (*q).max(0))
                    .sum::<i64>()
                    .min(level.on_hand.max(0));
            prop_assert!(at.sellable as i64 <= states);
        }
        for a in report.skus() {
            let explanation = a.explain();
            prop_assert!(!explanation.is_empty());
            for ch in a.channels() {
                if c.backorder.is_none() {
                    prop_assert_eq!(ch.published, ch.sellable);
                } else {
                    prop_assert_eq!(ch.published, ch.sellable + ch.backorder);
                    prop_assert!(ch.backorder <= c.backorder.map_or(0, |b| b.0));
                }
            }
        }
    }

    #[test]
    fn channel_allocations_never_sum_above_available(c in availability_case()) {
        let engine = AvailabilityEngine::new(availability_rules(&c)).unwrap();
        let rows = levels(&c);
        let report = engine.evaluate(&rows, &seamwork::rules::NoCategories);
        for a in report.skus().filter(|a| !a.is_bundle()) {
            let feeding: u64 = a.locations().filter(|l| l.feeds_channels).map(|l| l.sellable).sum();
            let given: u64 = a.channels().map(|ch| ch.sellable).sum();
            if c.split.is_some() {
                // Split: every feeding unit goes to exactly one channel.
                prop_assert_eq!(given, feeding, "sku {}", a.sku());
            } else {
                // Shared pool: each channel sees at most what feeds it.
                for ch in a.channels() {
                    prop_assert!(ch.sellable <= feeding);
                }
            }
            prop_assert!(a.channels().all(|ch| ch.sellable <= a.sellable()));
        }
    }

    #[test]
    fn kits_are_only_promised_when_every_component_is_there(c in availability_case()) {
        let engine = AvailabilityEngine::new(availability_rules(&c)).unwrap();
        let rows = levels(&c);
        let report = engine.evaluate(&rows, &seamwork::rules::NoCategories);
        let kit = report.sku(&sku("KIT")).unwrap();
        let parts = [("S0", u64::from(c.kit.0)), ("S1", u64::from(c.kit.1))];
        for k in kit.kits() {
            for (part, per_kit) in parts {
                let have = report
                    .sku(&sku(part))
                    .and_then(|p| p.location(k.location))
                    .map_or(0, |l| l.sellable);
                prop_assert!(k.kits * per_kit <= have, "{} kits need {} {part}, {} there", k.kits, k.kits * per_kit, have);
            }
        }
        for ch in kit.channels() {
            for (part, per_kit) in parts {
                let have = report.sku(&sku(part)).and_then(|p| p.channel(ch.channel)).map_or(0, |x| x.sellable);
                prop_assert!(ch.published * per_kit <= have, "channel {}: {} kits, {part} {}", ch.channel, ch.published, have);
            }
        }
    }
}

// ---------------------------------------------------------------- routing

#[derive(Debug, Clone)]
struct RoutingCase {
    locations: Vec<(bool, u32, i64, i64, u8, Option<u32>)>,
    stock: Vec<Vec<u64>>,
    lines: Vec<(usize, u32)>,
    destination: u8,
    split: (bool, bool, u32),
    fallback: u8,
    unsplittable: bool,
}

fn routing_case() -> impl Strategy<Value = RoutingCase> {
    (2usize..9)
        .prop_flat_map(|n| {
            (
                prop::collection::vec(
                    (
                        prop::bool::weighted(0.85),
                        0u32..3,
                        -60i64..60,
                        -170i64..170,
                        0u8..4,
                        proptest::option::of(0u32..2000),
                    ),
                    n,
                ),
                prop::collection::vec(prop::collection::vec(0u64..7, n), 5),
                prop::collection::vec((0usize..5, 1u32..6), 1..7),
                0u8..4,
                (any::<bool>(), any::<bool>(), 1u32..5),
                0u8..3,
                any::<bool>(),
            )
        })
        .prop_map(
            |(locations, stock, lines, destination, split, fallback, unsplittable)| RoutingCase {
                locations,
                stock,
                lines,
                destination,
                split,
                fallback,
                unsplittable,
            },
        )
}

fn routing_engine(c: &RoutingCase) -> RoutingEngine {
    let mut rules = RoutingRules::new()
        .with_currency(Currency::USD)
        .with_split(if c.split.1 {
            SplitRules::split_lines(c.split.2)
        } else {
            SplitRules::split_orders(c.split.2)
        });
    for (i, &(active, priority, lat, lon, serves, cost)) in c.locations.iter().enumerate() {
        let mut l = RoutingLocation::new(loc(&format!("L{i}")))
            .with_priority(priority)
            .at(GeoPoint {
                lat: Decimal::new(lat * 100 + 7, 2),
                lon: Decimal::new(lon * 100 - 3, 2),
            });
        l = match serves {
            0 => l,
            1 => l.serving("US", &[]),
            2 => l.serving("US", &["CA", "NV"]),
            _ => l.serving("DE", &[]),
        };
        if let Some(cost) = cost {
            l = l.with_cost(Decimal::new(i64::from(cost), 2));
        }
        if !active {
            l = l.inactive();
        }
        rules = rules.with_location(l);
    }
    rules = rules.with_fallback(match c.fallback {
        0 => Fallback::backorder(),
        1 => Fallback::location(loc("L0")),
        _ => Fallback::reject(),
    });
    RoutingEngine::new(rules).unwrap()
}

fn routing_order(c: &RoutingCase) -> Order {
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let mut o = Order::new("#1", Currency::USD, at);
    for (i, (s, q)) in c.lines.iter().enumerate() {
        o.lines.push(OrderLine::new(
            format!("L{i}"),
            sku(&format!("S{s}")),
            *q,
            Money::from_minor(100, Currency::USD),
        ));
    }
    o.shipping_address = match c.destination {
        0 => None,
        1 => Some(Address::new("1 Main", "LA", "US")),
        2 => {
            let mut a = Address::new("1 Main", "LA", "US");
            a.region = Some("CA".into());
            Some(a)
        }
        _ => Some(Address::new("1 Haupt", "Berlin", "DE")),
    };
    o
}

proptest! {
    #[test]
    fn routing_never_assigns_more_than_a_location_has(c in routing_case()) {
        let engine = routing_engine(&c);
        let mut stock = engine.stock();
        for (s, row) in c.stock.iter().enumerate() {
            for (l, q) in row.iter().enumerate() {
                stock.set(&sku(&format!("S{s}")), &loc(&format!("L{l}")), *q).unwrap();
            }
        }
        let order = routing_order(&c);
        let mut ctx = RouteContext::new()
            .destination(GeoPoint { lat: Decimal::new(3405, 2), lon: Decimal::new(-11824, 2) })
            .order_split(c.split.0);
        if c.unsplittable {
            ctx = ctx.no_split_line("L0");
        }
        let d = engine.route(&order, &stock, &ctx).unwrap();

        // Never more than a location has, per SKU.
        let mut taken: HashMap<(String, String), u64> = HashMap::new();
        for a in d.allocations() {
            *taken.entry((order.lines[a.line].sku.to_string(), a.location.to_string())).or_default() += a.quantity;
            prop_assert!(a.quantity > 0);
        }
        for ((s, l), q) in &taken {
            let have = stock.get(&sku(s), &loc(l));
            prop_assert!(*q <= have, "{q} of {s} from {l}, which has {have}");
            let i: usize = l[1..].parse().unwrap();
            prop_assert!(c.locations[i].0 || c.fallback == 1, "inactive {l} ships");
        }
        // Every unit is either allocated or a shortfall, exactly once.
        for (i, line) in order.lines.iter().enumerate() {
            let shipped: u64 = d.allocations().iter().filter(|a| a.line == i).map(|a| a.quantity).sum();
            let short: u64 = d.shortfalls().iter().filter(|s| s.line == i).map(|s| s.quantity).sum();
            prop_assert_eq!(shipped + short, u64::from(line.quantity));
        }
        match d.status() {
            RoutingStatus::Filled => prop_assert!(d.shortfalls().is_empty()),
            RoutingStatus::Rejected => prop_assert!(d.allocations().is_empty()),
            _ => prop_assert!(!d.shortfalls().is_empty()),
        }
        // Shipment limits.
        let shipments = d.shipments().len();
        if c.split.0 {
            prop_assert!(shipments <= c.split.2 as usize);
        } else {
            prop_assert!(shipments <= 1);
        }
        // The fewest shipments: if one eligible location has everything, one shipment.
        let mut demand: HashMap<String, u64> = HashMap::new();
        for l in &order.lines {
            *demand.entry(l.sku.to_string()).or_default() += u64::from(l.quantity);
        }
        let explanation = d.explain();
        let one_can = (0..c.locations.len()).any(|i| {
            explanation
                .step(&format!("locations[L{i}]"))
                .is_some_and(|s| s.output != "skipped" || s.why == "no stock for any line")
                && demand.iter().all(|(s, q)| stock.get(&sku(s), &loc(&format!("L{i}"))) >= *q)
        });
        if one_can {
            prop_assert_eq!(shipments, 1);
            prop_assert!(d.is_filled());
        }
    }
}

// ---------------------------------------------------------------- money

fn currency() -> impl Strategy<Value = Currency> {
    prop::sample::select(vec![
        Currency::USD,
        Currency::EUR,
        Currency::JPY,
        Currency::KWD,
        Currency::GBP,
        Currency::SEK,
    ])
}

proptest! {
    #[test]
    fn discount_allocations_sum_exactly(
        cur in currency(),
        lines in prop::collection::vec(0i64..5_000_000, 1..30),
        share in 0u32..=1000,
    ) {
        let lines: Vec<Money> = lines.into_iter().map(|m| Money::from_minor(m, cur)).collect();
        let total = Money::sum(cur, &lines).unwrap();
        let discount = Money::from_minor(total.to_minor().unwrap() * i64::from(share) / 1000, cur);
        let split = allocate_discount(discount, &lines).unwrap();
        prop_assert_eq!(Money::sum(cur, &split.parts).unwrap(), discount);
        let unit = Decimal::new(1, cur.minor_units());
        for (part, line) in split.parts.iter().zip(&lines) {
            prop_assert!(part.amount() <= line.amount());
            prop_assert!(!part.is_negative());
            if !total.is_zero() {
                let exact = discount.amount() * line.amount() / total.amount();
                prop_assert!((part.amount() - exact).abs() < unit);
            }
        }
    }

    #[test]
    fn tax_allocations_sum_exactly_and_roundings_differ_by_at_most_the_tolerance(
        cur in currency(),
        lines in prop::collection::vec((0i64..2_000_000, prop::sample::select(vec![0u32, 500, 700, 1000, 1900, 2000, 725, 825])), 1..25),
        included in any::<bool>(),
        mode in prop::sample::select(MODES.to_vec()),
    ) {
        let inputs: Vec<TaxInput> = lines
            .iter()
            .map(|(m, bp)| TaxInput::new(Money::from_minor(*m, cur), Decimal::new(i64::from(*bp), 4)))
            .collect();
        let per_line = compute_taxes(&inputs, included, TaxRounding::PerLine, mode).unwrap();
        let per_total = compute_taxes(&inputs, included, TaxRounding::PerTotal, mode).unwrap();
        for split in [&per_line, &per_total] {
            prop_assert_eq!(Money::sum(cur, split.lines.iter().map(|l| &l.tax)).unwrap(), split.total.tax);
            for (l, input) in split.lines.iter().zip(&inputs) {
                prop_assert_eq!(l.net.checked_add(l.tax).unwrap(), l.gross);
                prop_assert_eq!(if included { l.gross } else { l.net }, input.amount);
                prop_assert!(l.tax.is_rounded() && l.net.is_rounded());
            }
        }
        let diff = per_line.total.tax.checked_sub(per_total.total.tax).unwrap().abs();
        let tolerance = per_line.tolerance(mode);
        prop_assert!(diff.amount() <= tolerance.amount(), "{} > {} ({} lines, {} rates, {:?})", diff, tolerance, inputs.len(), per_line.rate_groups, mode);
    }

    #[test]
    fn conversion_round_trips_within_one_minor_unit(
        from in currency(),
        to in currency(),
        minor in 0i64..100_000_000,
        jitter in prop::collection::vec(800u32..1200, 6),
        mode in prop::sample::select(vec![RoundingMode::HalfEven, RoundingMode::HalfUp, RoundingMode::HalfDown]),
    ) {
        // Realistic rates against USD, each moved by up to ±20 %.
        let base = [("EUR", 92i64, 2u32), ("JPY", 15_137, 2), ("KWD", 307, 3), ("GBP", 79, 2), ("SEK", 1_042, 2), ("USD", 1, 0)];
        let mut table = RateTable::new(Currency::USD);
        for ((code, mantissa, scale), j) in base.iter().zip(&jitter) {
            let c = Currency::from_code(code).unwrap();
            if c != Currency::USD {
                table = table.with_rate(c, Decimal::new(mantissa * i64::from(*j), scale + 3));
            }
        }
        let x = Money::from_minor(minor, from);
        let there = table.convert(x, to, mode).unwrap();
        let back = table.convert(there, from, mode).unwrap();
        prop_assert!(there.is_rounded() && back.is_rounded());
        let unit_from = Decimal::new(1, from.minor_units());
        // One minor unit of `to`, in `from`.
        let unit_to_in_from = Decimal::new(1, to.minor_units()) * table.rate_of(from).unwrap() / table.rate_of(to).unwrap();
        let diff = (back.amount() - x.amount()).abs();
        prop_assert!(diff <= unit_from.max(unit_to_in_from), "{x} -> {there} -> {back}");
        if unit_to_in_from <= unit_from {
            prop_assert!(diff <= unit_from, "{x} -> {there} -> {back}: more than one minor unit");
        }
    }

    #[test]
    fn prices_are_rounded_and_never_below_map(
        price in 1i64..100_000,
        tier_pct in -90i64..0,
        qty in 1u32..50,
        map in 1i64..100_000,
        cur in prop::sample::select(vec![Currency::USD, Currency::JPY, Currency::KWD]),
    ) {
        let rules = PricingRules::new()
            .with_price_list(
                PriceList::new("l", Currency::USD).with_price(
                    PriceEntry::new(sku("A"), Decimal::new(price, 2)).with_tier(Tier::percent(10, Decimal::from(tier_pct))),
                ),
            )
            .with_rates(RateTable::new(Currency::USD).with_rate(Currency::JPY, Decimal::new(15137, 2)).with_rate(Currency::KWD, Decimal::new(307, 3)))
            .with_map(MapRule::new(sku("A"), cur, Decimal::new(map, cur.minor_units())));
        let engine = PricingEngine::new(rules).unwrap();
        let a = sku("A");
        let d = engine.price(&PriceRequest::new(&a, qty, cur, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()));
        let unit = d.unit_price().unwrap();
        prop_assert!(unit.is_rounded());
        prop_assert_eq!(unit.currency(), cur);
        prop_assert!(unit.amount() >= Decimal::new(map, cur.minor_units()));
        prop_assert!(!d.explain().is_empty());
    }
}
