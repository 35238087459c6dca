//! Unit tests of the availability rules, one group per rule.

use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use rust_decimal_macros::dec;

use super::*;
use crate::ErrorKind;
use crate::model::{InventoryLevel, LocationId, RoundingMode, Sku};

fn sku(s: &str) -> Sku {
    Sku::new(s).unwrap()
}

fn loc(s: &str) -> LocationId {
    LocationId::new(s).unwrap()
}

fn level(s: &str, l: &str, on_hand: i64) -> InventoryLevel {
    let mut lv = InventoryLevel::new(
        sku(s),
        loc(l),
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
    );
    lv.on_hand = on_hand;
    lv
}

/// DC-EAST and DC-WEST feed web; STORE-1 feeds pos; DC-EAST also feeds wholesale.
fn base() -> AvailabilityRules {
    AvailabilityRules::new()
        .with_location(LocationRule::new(loc("DC-EAST")))
        .with_location(LocationRule::new(loc("DC-WEST")))
        .with_location(LocationRule::new(loc("STORE-1")))
        .with_channel(ChannelRule::new("web", [loc("DC-EAST"), loc("DC-WEST")]))
        .with_channel(ChannelRule::new("pos", [loc("STORE-1")]))
        .with_channel(ChannelRule::new("wholesale", [loc("DC-EAST")]))
}

fn engine(rules: AvailabilityRules) -> AvailabilityEngine {
    AvailabilityEngine::new(rules).unwrap()
}

#[test]
fn sellable_from_quantity_states() {
    let e = engine(base());
    let mut l = level("A", "DC-EAST", 20);
    l.committed = 3;
    l.reserved = 2;
    l.safety_stock = 1;
    l.damaged = 4;
    l.quality_control = 5;
    l.available = 999; // drifted: not trusted
    let r = e.evaluate([&l], &NoCategories);
    let a = r.sku(&sku("A")).unwrap();
    let at = a.location(&loc("DC-EAST")).unwrap();
    assert_eq!((at.on_hand, at.held_by_states, at.sellable), (20, 15, 5));
    // DC-EAST feeds web and wholesale: without a split rule, 5 is divided evenly (3 + 2).
    assert_eq!(a.published("web"), 3);
    assert_eq!(a.published("wholesale"), 2);
    assert_eq!(a.published("pos"), 0);
}

#[test]
fn without_a_split_rule_channels_never_publish_more_than_there_is() {
    // Review A10: without [split] every channel used to see all of DC-EAST (7 + 7 from 7 units).
    let e = engine(base());
    let r = e.evaluate([&level("A", "DC-EAST", 7)], &NoCategories);
    let a = r.sku(&sku("A")).unwrap();
    let published: u64 = a.channels().map(|c| c.published).sum();
    assert_eq!(published, 7);
    assert_eq!((a.published("web"), a.published("wholesale")), (4, 3));
    let why = a.explain();
    let step = why.step("allocate@DC-EAST").unwrap();
    assert_eq!(step.output, "web 4, wholesale 3");
    assert!(step.why.contains("divided evenly"), "{step}");
}

#[test]
fn a_shared_pool_is_an_explicit_opt_in_and_says_it_is_not_an_allocation() {
    let e = engine(base().with_split(ChannelSplit::shared()));
    let r = e.evaluate([&level("A", "DC-EAST", 7)], &NoCategories);
    let a = r.sku(&sku("A")).unwrap();
    assert_eq!((a.published("web"), a.published("wholesale")), (7, 7));
    let why = a.explain();
    assert!(
        why.step("split[split]@DC-EAST")
            .unwrap()
            .why
            .contains("not an allocation"),
        "{why}"
    );
    // From TOML: mode = "shared", and shares or a remainder make no sense with it.
    let rules = AvailabilityRules::from_toml_str(
        "[[locations]]\nid = \"L\"\n[[channels]]\nid = \"web\"\nlocations = [\"L\"]\n[split]\nmode = \"shared\"\n",
    )
    .unwrap();
    assert_eq!(rules.split.unwrap().mode, SplitMode::Shared);
    let err = base()
        .with_split(ChannelSplit {
            remainder_to: Some("web".into()),
            ..ChannelSplit::shared().with_share(ChannelShare::fixed("web", 1))
        })
        .validate()
        .unwrap_err();
    let m = err.message();
    assert!(
        m.contains("split.remainder_to (rule \"split\"): a shared pool allocates nothing"),
        "{m}"
    );
    assert!(
        m.contains("split.shares (rule \"split\"): a shared pool allocates nothing"),
        "{m}"
    );
    let err = AvailabilityRules::from_toml_str(
        "[[locations]]\nid = \"L\"\n[[channels]]\nid = \"web\"\nlocations = [\"L\"]\n[split]\nshares = []\n",
    )
    .unwrap_err();
    assert!(
        err.message()
            .contains("split.remainder_to (rule \"split\"): an allocating split needs the channel"),
        "{err}"
    );
}

#[test]
fn negative_source_quantities_never_make_stock() {
    let e = engine(base());
    let mut l = level("A", "DC-EAST", 5);
    l.committed = -10; // would add stock if taken literally
    let mut m = level("B", "DC-EAST", -4);
    m.committed = 1;
    let r = e.evaluate([&l, &m], &NoCategories);
    assert_eq!(r.sku(&sku("A")).unwrap().sellable(), 5);
    assert_eq!(r.sku(&sku("B")).unwrap().sellable(), 0);
    let why = r.sku(&sku("A")).unwrap().explain();
    assert!(
        why.to_string()
            .contains("negative source quantities count as 0"),
        "{why}"
    );
}

#[test]
fn safety_stock_precedence_most_specific_wins() {
    let rules = base()
        .with_safety_stock(SafetyStockRule::new("loc", 1).at_location(loc("DC-EAST")))
        .with_safety_stock(SafetyStockRule::new("cat", 2).in_category("fragile"))
        .with_safety_stock(
            SafetyStockRule::new("cat-west", 3)
                .in_category("fragile")
                .at_location(loc("DC-WEST")),
        )
        .with_safety_stock(SafetyStockRule::new("sku", 4).for_sku(sku("VASE")))
        .with_safety_stock(
            SafetyStockRule::new("sku-east", 5)
                .for_sku(sku("VASE"))
                .at_location(loc("DC-EAST")),
        );
    let e = engine(rules);
    let cats: HashMap<Sku, String> = [
        (sku("VASE"), "fragile".to_string()),
        (sku("CUP"), "fragile".to_string()),
    ]
    .into_iter()
    .collect();
    let rows = [
        level("VASE", "DC-EAST", 100),
        level("VASE", "DC-WEST", 100),
        level("VASE", "STORE-1", 100),
        level("CUP", "DC-EAST", 100),
        level("CUP", "DC-WEST", 100),
        level("TEE", "DC-EAST", 100),
        level("TEE", "DC-WEST", 100),
    ];
    let r = e.evaluate(&rows, &cats);
    let safety = |s: &str, l: &str| {
        r.sku(&sku(s))
            .unwrap()
            .location(&loc(l))
            .unwrap()
            .safety_stock
    };
    assert_eq!(safety("VASE", "DC-EAST"), 5); // sku + location
    assert_eq!(safety("VASE", "DC-WEST"), 4); // sku beats category + location
    assert_eq!(safety("VASE", "STORE-1"), 4);
    assert_eq!(safety("CUP", "DC-WEST"), 3); // category + location
    assert_eq!(safety("CUP", "DC-EAST"), 2); // category beats location
    assert_eq!(safety("TEE", "DC-EAST"), 1); // location only
    assert_eq!(safety("TEE", "DC-WEST"), 0);
    let why = r.sku(&sku("VASE")).unwrap().explain();
    let step = why.step("safety_stock[sku-east]").unwrap();
    assert_eq!((step.input.as_str(), step.output.as_str()), ("100", "95"));
    assert!(step.why.contains("sku VASE + location DC-EAST"), "{step}");
}

#[test]
fn safety_stock_never_drives_below_zero() {
    let e = engine(
        base().with_safety_stock(SafetyStockRule::new("big", 50).at_location(loc("DC-EAST"))),
    );
    let r = e.evaluate([&level("A", "DC-EAST", 10)], &NoCategories);
    assert_eq!(r.sku(&sku("A")).unwrap().sellable(), 0);
}

#[test]
fn buffer_fixed_plus_percent_rounded_up_and_capped() {
    let e = engine(base().with_buffer(BufferRule::new(1, dec!(10))));
    let rows = [
        level("A", "DC-EAST", 21),
        level("B", "DC-EAST", 1),
        level("C", "DC-EAST", 0),
    ];
    let r = e.evaluate(&rows, &NoCategories);
    let at = |s: &str| r.sku(&sku(s)).unwrap().location(&loc("DC-EAST")).unwrap();
    // 21: 1 + ceil(2.1) = 4 -> 17
    assert_eq!((at("A").buffer, at("A").sellable), (4, 17));
    // 1: 1 + ceil(0.1) = 2, capped at 1 -> 0
    assert_eq!((at("B").buffer, at("B").sellable), (1, 0));
    assert_eq!((at("C").buffer, at("C").sellable), (0, 0));
}

#[test]
fn channels_aggregate_their_locations_only() {
    let e = engine(base());
    let rows = [
        level("A", "DC-EAST", 5),
        level("A", "DC-WEST", 7),
        level("A", "STORE-1", 11),
    ];
    let r = e.evaluate(&rows, &NoCategories);
    let a = r.sku(&sku("A")).unwrap();
    // DC-EAST 5 divides between web (3) and wholesale (2); DC-WEST 7 feeds web only.
    assert_eq!(a.published("web"), 10);
    assert_eq!(a.published("pos"), 11);
    assert_eq!(a.published("wholesale"), 2);
    assert_eq!(a.published("nope"), 0);
    assert_eq!(r.published(&sku("A"), "web"), 10);
    assert_eq!(
        r.channels().collect::<Vec<_>>(),
        ["web", "pos", "wholesale"]
    );
}

#[test]
fn eligibility_inactive_excluded_category_undeclared() {
    let rules = AvailabilityRules::new()
        .with_location(LocationRule::new(loc("DC-EAST")).excluding_category("hazmat"))
        .with_location(LocationRule::new(loc("DC-WEST")).inactive())
        .with_location(LocationRule::new(loc("SPARE")))
        .with_channel(ChannelRule::new("web", [loc("DC-EAST"), loc("DC-WEST")]));
    let e = engine(rules);
    let cats: HashMap<Sku, String> = [(sku("FUEL"), "hazmat".to_string())].into_iter().collect();
    let rows = [
        level("TEE", "DC-EAST", 3),
        level("TEE", "DC-WEST", 5),
        level("TEE", "SPARE", 7),
        level("TEE", "GHOST", 9),
        level("FUEL", "DC-EAST", 4),
    ];
    let r = e.evaluate(&rows, &cats);
    let tee = r.sku(&sku("TEE")).unwrap();
    assert_eq!(tee.published("web"), 3);
    assert_eq!(tee.sellable(), 24); // reported everywhere, published only from DC-EAST
    assert!(!tee.location(&loc("GHOST")).unwrap().feeds_channels);
    assert_eq!(r.sku(&sku("FUEL")).unwrap().published("web"), 0);
    let why = tee.explain().to_string();
    assert!(why.contains("location is inactive"), "{why}");
    assert!(
        why.contains("location is not declared in the rules"),
        "{why}"
    );
    assert!(why.contains("no channel lists this location"), "{why}");
    let why = r.sku(&sku("FUEL")).unwrap().explain().to_string();
    assert!(why.contains("location excludes category hazmat"), "{why}");
}

#[test]
fn channel_split_remainder_goes_to_the_named_channel() {
    let rules = base().with_split(
        ChannelSplit::new("web")
            .with_share(ChannelShare::fixed("wholesale", 2))
            .with_share(ChannelShare::percent("web", dec!(50))),
    );
    let e = engine(rules);
    let rows = [
        level("A", "DC-EAST", 9),
        level("A", "DC-WEST", 3),
        level("A", "STORE-1", 4),
    ];
    let r = e.evaluate(&rows, &NoCategories);
    let a = r.sku(&sku("A")).unwrap();
    // DC-EAST 9: wholesale 2, web 50% of 7 = 3 (down) + remainder 4 = 7.
    // DC-WEST 3 feeds web only: all 3.
    assert_eq!(a.published("wholesale"), 2);
    assert_eq!(a.published("web"), 10);
    // STORE-1 feeds only pos: nothing to divide, pos gets it all.
    assert_eq!(a.published("pos"), 4);
    let total: u64 = a.channels().map(|c| c.sellable).sum();
    assert_eq!(total, a.sellable());
    let why = a.explain();
    assert_eq!(
        why.step("split[split]@DC-EAST").unwrap().output,
        "web 7, wholesale 2"
    );
    assert_eq!(
        why.step("split[split]@STORE-1").unwrap().why,
        "the only channel this location feeds gets all of it"
    );
}

#[test]
fn channel_split_remainder_without_its_channel_goes_to_the_first_fed() {
    let rules = AvailabilityRules::new()
        .with_location(LocationRule::new(loc("DC")))
        .with_location(LocationRule::new(loc("STORE")))
        .with_channel(ChannelRule::new("web", [loc("DC")]))
        .with_channel(ChannelRule::new("pos", [loc("STORE")]))
        .with_channel(ChannelRule::new("marketplace", [loc("STORE"), loc("DC")]))
        .with_split(
            ChannelSplit::new("web").with_share(ChannelShare::percent("marketplace", dec!(30))),
        );
    let r = engine(rules).evaluate([&level("A", "STORE", 10)], &NoCategories);
    let a = r.sku(&sku("A")).unwrap();
    assert_eq!((a.published("pos"), a.published("marketplace")), (7, 3));
    let why = a.explain();
    let step = why.step("split[split]@STORE").unwrap();
    assert!(
        step.why
            .contains("web is not fed by STORE, so the remainder goes to pos"),
        "{step}"
    );
}

#[test]
fn channel_split_rounding_is_configurable() {
    let split = |mode| {
        base().with_split(
            ChannelSplit::new("web")
                .with_rounding(mode)
                .with_share(ChannelShare::percent("wholesale", dec!(25))),
        )
    };
    let rows = [level("A", "DC-EAST", 10)];
    let down = engine(split(RoundingMode::Down)).evaluate(&rows, &NoCategories);
    let up = engine(split(RoundingMode::Up)).evaluate(&rows, &NoCategories);
    assert_eq!(down.published(&sku("A"), "wholesale"), 2);
    assert_eq!(down.published(&sku("A"), "web"), 8);
    assert_eq!(up.published(&sku("A"), "wholesale"), 3);
    assert_eq!(up.published(&sku("A"), "web"), 7);
}

#[test]
fn bundles_count_kits_location_by_location() {
    let rules = base().with_bundle(
        BundleRule::new(sku("KIT"))
            .with_component(sku("A"), 2)
            .with_component(sku("B"), 1),
    );
    let e = engine(rules);
    let rows = [
        level("A", "DC-EAST", 7),
        level("B", "DC-EAST", 2),
        level("A", "DC-WEST", 10),   // no B at DC-WEST: no kit there
        level("B", "STORE-1", 50),   // no A at STORE-1
        level("KIT", "DC-EAST", 40), // physical kit rows are ignored
    ];
    let r = e.evaluate(&rows, &NoCategories);
    let kit = r.sku(&sku("KIT")).unwrap();
    assert!(kit.is_bundle());
    // DC-EAST: min(floor(7/2)=3, floor(2/1)=2) = 2; aggregated over all A and B would wrongly say 5.
    assert_eq!(kit.sellable(), 2);
    // Per channel, from its own share: A 7 -> web 4, wholesale 3; B 2 -> 1 and 1.
    assert_eq!(kit.published("web"), 1);
    assert_eq!(kit.published("wholesale"), 1);
    assert_eq!(kit.published("pos"), 0);
    let kits: Vec<_> = kit
        .kits()
        .map(|k| (k.location.as_str(), k.kits, k.limited_by.as_str()))
        .collect();
    assert_eq!(kits, [("DC-EAST", 2, "B"), ("DC-WEST", 0, "B")]);
    let why = kit.explain();
    let step = why.step("bundles[KIT]@DC-EAST").unwrap();
    assert_eq!(step.input, "floor(A 7 / 2) = 3, floor(B 2 / 1) = 2");
    assert_eq!(step.why, "limited by B");
    assert!(why.to_string().contains("1 stock row(s) of KIT"));
}

#[test]
fn bundle_with_a_component_without_stock_makes_no_kit() {
    let rules = base().with_bundle(
        BundleRule::new(sku("KIT"))
            .with_component(sku("A"), 1)
            .with_component(sku("Z"), 1),
    );
    let r = engine(rules).evaluate([&level("A", "DC-EAST", 5)], &NoCategories);
    let kit = r.sku(&sku("KIT")).unwrap();
    assert_eq!(kit.sellable(), 0);
    assert!(kit.explain().to_string().contains("Z -> 0 kits"));
}

#[test]
fn bundle_channels_use_each_channels_share_of_components() {
    let rules = base()
        .with_split(
            ChannelSplit::new("web").with_share(ChannelShare::percent("wholesale", dec!(50))),
        )
        .with_bundle(
            BundleRule::new(sku("KIT"))
                .with_component(sku("A"), 2)
                .with_component(sku("B"), 3),
        );
    let rows = [level("A", "DC-EAST", 9), level("B", "DC-EAST", 9)];
    let r = engine(rules).evaluate(&rows, &NoCategories);
    // A: wholesale 4, web 5; B: wholesale 4, web 5.
    // wholesale kits = min(4/2, 4/3) = 1; web = min(5/2, 5/3) = 1; location kits = min(9/2, 9/3) = 3.
    let kit = r.sku(&sku("KIT")).unwrap();
    assert_eq!(kit.sellable(), 3);
    assert_eq!(kit.published("wholesale"), 1);
    assert_eq!(kit.published("web"), 1);
}

#[test]
fn backorders_by_precedence_channel_and_incoming() {
    let rules = base()
        .with_backorder(BackorderRule::new("all", 1))
        .with_backorder(
            BackorderRule::new("books", 5)
                .in_category("books")
                .on_channels(["web"]),
        )
        .with_backorder(
            BackorderRule::new("preorder", 100)
                .for_sku(sku("NEW"))
                .limited_to_incoming(),
        );
    let e = engine(rules);
    let cats: HashMap<Sku, String> = [(sku("NOVEL"), "books".to_string())].into_iter().collect();
    let mut new = level("NEW", "DC-EAST", 0);
    new.incoming = 30;
    let rows = [
        new,
        level("NOVEL", "DC-EAST", 2),
        level("TEE", "STORE-1", 2),
    ];
    let r = e.evaluate(&rows, &cats);
    let ch = |s: &str, c: &str| r.sku(&sku(s)).unwrap().channel(c).unwrap();
    // 30 incoming at DC-EAST, divided like stock: web 15, wholesale 15; STORE-1 has none.
    assert_eq!(
        (ch("NEW", "web").backorder, ch("NEW", "web").published),
        (15, 15)
    );
    assert_eq!(ch("NEW", "wholesale").backorder, 15);
    assert_eq!(ch("NEW", "pos").backorder, 0); // no incoming at STORE-1
    assert_eq!(
        (ch("NOVEL", "web").backorder, ch("NOVEL", "web").published),
        (5, 6)
    );
    // "all" (limit 1) covers pos and wholesale for NOVEL: one unit in total, not one each.
    assert_eq!(
        ch("NOVEL", "wholesale").backorder + ch("NOVEL", "pos").backorder,
        1
    );
    // TEE: "all" is chosen for every channel, so its 1 unit is divided between the three
    // (evenly, the odd unit to the first, web).
    let tee = r.sku(&sku("TEE")).unwrap();
    assert_eq!(tee.channels().map(|c| c.backorder).sum::<u64>(), 1);
    assert_eq!(
        (ch("TEE", "web").published, ch("TEE", "pos").published),
        (1, 2)
    );
    let why = r.sku(&sku("NEW")).unwrap().explain();
    let step = why.step("backorders[preorder]").unwrap();
    assert!(
        step.why.contains(
            "limit 100 in total for web, pos, wholesale, capped at the incoming units -> 30"
        ),
        "{step}"
    );
}

#[test]
fn a_backorder_limit_is_a_total_across_channels_never_above_incoming() {
    // Review A9: 10 incoming promised to two channels used to be 20.
    let rules = base().with_backorder(
        BackorderRule::new("pre", 50)
            .on_channels(["web", "wholesale"])
            .limited_to_incoming(),
    );
    let mut l = level("NEW", "DC-EAST", 0);
    l.incoming = 10;
    let r = engine(rules.clone()).evaluate([&l], &NoCategories);
    let a = r.sku(&sku("NEW")).unwrap();
    let backorder: u64 = a.channels().map(|c| c.backorder).sum();
    assert_eq!(backorder, 10);
    assert_eq!((a.published("web"), a.published("wholesale")), (5, 5));
    // Without the incoming cap the limit is still a total, divided by the split.
    let rules = base()
        .with_split(
            ChannelSplit::new("web").with_share(ChannelShare::percent("wholesale", dec!(30))),
        )
        .with_backorder(BackorderRule::new("bo", 10));
    let r = engine(rules).evaluate([&level("A", "DC-EAST", 0)], &NoCategories);
    let a = r.sku(&sku("A")).unwrap();
    // web, pos and wholesale share 10: wholesale 30 % = 3, the rest to web.
    assert_eq!(
        (
            a.published("web"),
            a.published("pos"),
            a.published("wholesale")
        ),
        (7, 0, 3)
    );
    // Each channel is capped at its own incoming; another channel takes the rest.
    let rules = base()
        .with_split(
            ChannelSplit::new("web").with_share(ChannelShare::percent("wholesale", dec!(50))),
        )
        .with_backorder(BackorderRule::new("pre", 8).limited_to_incoming());
    let mut east = level("B", "DC-EAST", 0);
    east.incoming = 4; // web 2, wholesale 2
    let mut west = level("B", "DC-WEST", 0);
    west.incoming = 6; // web 6
    let r = engine(rules).evaluate([&east, &west], &NoCategories);
    let b = r.sku(&sku("B")).unwrap();
    // Pool min(8, 10) = 8: wholesale 50 % = 4 but only 2 incoming, web takes the other 2.
    assert_eq!((b.published("web"), b.published("wholesale")), (6, 2));
    assert_eq!(b.channels().map(|c| c.backorder).sum::<u64>(), 8);
}

#[test]
fn kits_and_components_draw_on_the_same_units_per_channel() {
    // Documented on BundleRule: a channel's kits come from its own share of each
    // component and are not taken out of the components' numbers.
    let rules = base().with_bundle(BundleRule::new(sku("KIT")).with_component(sku("MUG"), 2));
    let r = engine(rules).evaluate([&level("MUG", "DC-EAST", 9)], &NoCategories);
    let (mug, kit) = (r.sku(&sku("MUG")).unwrap(), r.sku(&sku("KIT")).unwrap());
    // MUG 9 -> web 5, wholesale 4; kits: web 2, wholesale 2 (of 4 at DC-EAST).
    assert_eq!((mug.published("web"), mug.published("wholesale")), (5, 4));
    assert_eq!((kit.published("web"), kit.published("wholesale")), (2, 2));
    assert_eq!(kit.sellable(), 4);
    for ch in ["web", "wholesale"] {
        // Never more kits than the channel's own mugs build...
        assert!(kit.published(ch) * 2 <= mug.published(ch));
    }
    // ...and the channels' kits together never exceed what the location builds.
    assert!(kit.channels().map(|c| c.published).sum::<u64>() <= kit.sellable());
}

#[test]
fn without_backorder_rule_never_publish_beyond_sellable() {
    let r = engine(base()).evaluate([&level("A", "DC-EAST", 3)], &NoCategories);
    let a = r.sku(&sku("A")).unwrap();
    assert_eq!(a.channel("web").unwrap().published, 2);
    assert_eq!(
        a.explain().step("publish[web]").unwrap().why,
        "no backorder rule: never publish more than sellable"
    );
}

#[test]
fn invalid_rules_name_the_rule_and_field() {
    let err = AvailabilityRules::from_toml_str(
        r#"
        [[locations]]
        id = "DC-EAST"
        [[channels]]
        id = "web"
        locations = ["DC-EAST", "DC-WSET"]
        [[safety_stock]]
        id = "x"
        quantity = 2
        [split]
        remainder_to = "web"
        shares = [{ channel = "web", percent = 60 }, { channel = "web", percent = 50, quantity = 1 }]
        [[bundles]]
        sku = "KIT"
        components = [{ sku = "A", quantity = 0 }]
        "#,
    )
    .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Config);
    let m = err.message();
    assert!(
        m.contains("channels[0].locations[1] (rule \"web\"): unknown location \"DC-WSET\""),
        "{m}"
    );
    assert!(
        m.contains("safety_stock[0] (rule \"x\"): must name a sku, a category or a location"),
        "{m}"
    );
    assert!(
        m.contains(
            "split.shares[1] (rule \"split\"): must set exactly one of percent and quantity"
        ),
        "{m}"
    );
    assert!(
        m.contains("split.shares[1].channel (rule \"split\"): channel \"web\" has two shares"),
        "{m}"
    );
    assert!(
        m.contains("bundles[0].components[0].quantity (rule \"KIT\"): must be ≥ 1, found 0"),
        "{m}"
    );
    assert_eq!(
        err.context().field.as_deref(),
        Some("channels[0].locations[1]")
    );
}

#[test]
fn toml_errors_keep_line_and_column() {
    let err =
        AvailabilityRules::from_toml_str("[[locations]]\nid = \"A\"\n[buffer]\nquantity = -1\n")
            .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Config);
    assert_eq!(
        (err.context().line, err.context().column),
        (Some(4), Some(12))
    );
    assert!(err.message().contains("<toml>:4:12"), "{err}");
    let err = AvailabilityRules::from_toml_str("[[channel]]\nid = \"web\"\n").unwrap_err();
    assert!(err.message().contains("unknown field `channel`"), "{err}");
}

#[test]
fn percentages_above_100_and_duplicates_are_refused() {
    let rules = base()
        .with_split(
            ChannelSplit::new("web")
                .with_share(ChannelShare::percent("pos", dec!(70)))
                .with_share(ChannelShare::percent("wholesale", dec!(40))),
        )
        .with_channel(ChannelRule::new("web", [loc("DC-EAST")]))
        .with_buffer(BufferRule::new(0, dec!(120)));
    let m = rules.validate().unwrap_err().message().to_string();
    assert!(
        m.contains("split.shares (rule \"split\"): percentages add up to 110, more than 100"),
        "{m}"
    );
    assert!(
        m.contains("channels[3].id (rule \"web\"): duplicate id"),
        "{m}"
    );
    assert!(
        m.contains("buffer.percent (rule \"buffer\"): must be between 0 and 100, found 120"),
        "{m}"
    );
}

#[test]
fn rules_round_trip_through_toml() {
    let rules = base()
        .with_buffer(BufferRule::new(1, dec!(5)))
        .with_split(ChannelSplit::new("web").with_share(ChannelShare::fixed("pos", 1)))
        .with_bundle(BundleRule::new(sku("KIT")).with_component(sku("A"), 2))
        .with_backorder(BackorderRule::new("b", 3).on_channels(["web"]));
    let text = toml::to_string(&rules).unwrap();
    assert_eq!(AvailabilityRules::from_toml_str(&text).unwrap(), rules);
}

#[test]
fn a_repeated_row_is_counted_once() {
    let e = engine(base());
    let rows = [
        level("A", "DC-EAST", 5),
        level("A", "DC-WEST", 1),
        level("A", "DC-EAST", 50),
    ];
    let r = e.evaluate(&rows, &NoCategories);
    let a = r.sku(&sku("A")).unwrap();
    assert_eq!(a.published("web"), 3 + 1); // DC-EAST 5 (web 3, wholesale 2) + DC-WEST 1
    assert_eq!(a.locations().count(), 2);
    assert!(
        a.explain()
            .to_string()
            .contains("1 more row(s) for locations already seen -> ignored")
    );
}

#[test]
fn huge_split_percentages_are_a_problem_not_a_panic() {
    // Review B: `total += pct` overflowed in validate().
    let rules = base().with_split(
        ChannelSplit::new("web")
            .with_share(ChannelShare::percent("pos", rust_decimal::Decimal::MAX))
            .with_share(ChannelShare::percent(
                "wholesale",
                rust_decimal::Decimal::MAX,
            )),
    );
    let err = rules.validate().unwrap_err();
    assert!(
        err.message().contains(
            "split.shares (rule \"split\"): percentages add up to more than a decimal holds"
        ),
        "{err}"
    );
    assert!(AvailabilityEngine::new(rules).is_err());
}

#[test]
fn repeated_rows_are_found_among_many_locations() {
    // Repeats beyond the first 64 locations of a SKU, and of a declared
    // location, are found. (The check is a bitset per SKU; its speed is for
    // `cargo bench`, not for an assertion here.)
    let e = engine(base());
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut rows: Vec<InventoryLevel> = (0..5_000)
        .map(|i| {
            let mut l = InventoryLevel::new(sku("A"), loc(&format!("X{i}")), at);
            l.on_hand = 1;
            l
        })
        .collect();
    rows.push(level("A", "X70", 50)); // a repeat beyond the first 64 locations
    rows.push(level("A", "DC-EAST", 4));
    rows.push(level("A", "DC-EAST", 40)); // a repeat of a declared location
    let r = e.evaluate(&rows, &NoCategories);
    let a = r.sku(&sku("A")).unwrap();
    assert_eq!(a.locations().count(), 5_001);
    assert_eq!(a.sellable(), 5_004);
    assert!(
        a.explain()
            .to_string()
            .contains("2 more row(s) for locations already seen")
    );
}
