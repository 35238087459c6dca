//! Unit tests of the pricing rules: precedence, windows, tiers, adjustments,
//! MAP, endings, conversion, tax basis and rule-file errors.

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::*;
use crate::ErrorKind;
use crate::model::{Currency, RoundingMode, Sku};

fn sku(s: &str) -> Sku {
    Sku::new(s).unwrap()
}

fn at(month: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, month, 1, 0, 0, 0).unwrap()
}

fn engine(rules: PricingRules) -> PricingEngine {
    PricingEngine::new(rules).unwrap()
}

fn price_of(e: &PricingEngine, req: &PriceRequest<'_>) -> Option<Decimal> {
    e.price(req).unit_price().map(|m| m.amount())
}

fn retail() -> PriceList {
    PriceList::new("retail", Currency::USD)
        .with_price(PriceEntry::new(sku("TEE"), dec!(20.00)))
        .with_price(PriceEntry::new(sku("MUG"), dec!(8.00)))
}

#[test]
fn precedence_priority_then_specificity_then_file_order() {
    let e = engine(
        PricingRules::new()
            .with_price_list(retail())
            .with_price_list(
                PriceList::new("web", Currency::USD)
                    .for_channel("web")
                    .with_price(PriceEntry::new(sku("TEE"), dec!(19.00))),
            )
            .with_price_list(
                PriceList::new("web-vip", Currency::USD)
                    .for_channel("web")
                    .for_customer_group("vip")
                    .with_price(PriceEntry::new(sku("TEE"), dec!(17.00))),
            )
            .with_price_list(
                PriceList::new("vip", Currency::USD)
                    .for_customer_group("vip")
                    .with_price(PriceEntry::new(sku("TEE"), dec!(18.00))),
            )
            .with_price_list(
                PriceList::new("flash", Currency::USD)
                    .with_priority(5)
                    .with_price(PriceEntry::new(sku("MUG"), dec!(5.00))),
            )
            .with_price_list(
                PriceList::new("retail-2", Currency::USD)
                    .with_price(PriceEntry::new(sku("MUG"), dec!(7.00))),
            ),
    );
    let tee = sku("TEE");
    let mug = sku("MUG");
    let req = |s| PriceRequest::new(s, 1, Currency::USD, at(1));
    assert_eq!(price_of(&e, &req(&tee)), Some(dec!(20.00)));
    assert_eq!(
        price_of(&e, &req(&tee).for_channel("web")),
        Some(dec!(19.00))
    );
    assert_eq!(
        price_of(&e, &req(&tee).for_customer_group("vip")),
        Some(dec!(18.00))
    );
    assert_eq!(
        price_of(&e, &req(&tee).for_channel("web").for_customer_group("vip")),
        Some(dec!(17.00))
    );
    assert_eq!(
        price_of(&e, &req(&tee).for_channel("pos").for_customer_group("vip")),
        Some(dec!(18.00))
    );
    // Priority beats everything; among equals the earlier list wins.
    assert_eq!(
        price_of(&e, &req(&mug).for_channel("web")),
        Some(dec!(5.00))
    );
    let d = e.price(&req(&tee).for_channel("pos"));
    assert_eq!(d.price_list(), Some("retail"));
    let why = d.explain();
    let skipped: Vec<_> = why
        .steps_of("price_lists[")
        .filter(|s| s.output == "skipped")
        .map(|s| s.why.clone())
        .collect();
    // Most specific first: web-vip, web, then vip.
    assert_eq!(
        skipped,
        [
            "for channel web, not pos",
            "for channel web, not pos",
            "for customer group vip, not (none)"
        ]
    );
}

#[test]
fn validity_windows_from_inclusive_until_exclusive() {
    let e = engine(
        PricingRules::new()
            .with_price_list(retail())
            .with_price_list(
                PriceList::new("sale", Currency::USD)
                    .with_priority(1)
                    .valid(Some(at(6)), Some(at(9)))
                    .with_price(PriceEntry::new(sku("TEE"), dec!(15.00))),
            ),
    );
    let tee = sku("TEE");
    let p = |t| price_of(&e, &PriceRequest::new(&tee, 1, Currency::USD, t));
    assert_eq!(p(at(5)), Some(dec!(20.00)));
    assert_eq!(p(at(6)), Some(dec!(15.00)));
    assert_eq!(p(at(9) - chrono::Duration::seconds(1)), Some(dec!(15.00)));
    assert_eq!(p(at(9)), Some(dec!(20.00)));
    let why = e
        .price(&PriceRequest::new(&tee, 1, Currency::USD, at(10)))
        .explain();
    assert_eq!(
        why.step("price_lists[sale]").unwrap().why,
        "expired at 2026-09-01T00:00:00+00:00"
    );
    let why = e
        .price(&PriceRequest::new(&tee, 1, Currency::USD, at(1)))
        .explain();
    assert_eq!(
        why.step("price_lists[sale]").unwrap().why,
        "not valid before 2026-06-01T00:00:00+00:00"
    );
}

#[test]
fn tiers_fixed_percent_and_list_wide() {
    let e = engine(
        PricingRules::new().with_price_list(
            PriceList::new("b2b", Currency::USD)
                .with_tier(Tier::percent(100, dec!(-20)))
                .with_price(
                    PriceEntry::new(sku("TEE"), dec!(10.00))
                        .with_tier(Tier::price(10, dec!(9.00)))
                        .with_tier(Tier::percent(50, dec!(-15))),
                )
                .with_price(PriceEntry::new(sku("MUG"), dec!(4.00))),
        ),
    );
    let (tee, mug) = (sku("TEE"), sku("MUG"));
    let p = |s, q| price_of(&e, &PriceRequest::new(s, q, Currency::USD, at(1)));
    assert_eq!(p(&tee, 9), Some(dec!(10.00)));
    assert_eq!(p(&tee, 10), Some(dec!(9.00)));
    assert_eq!(p(&tee, 50), Some(dec!(8.50)));
    assert_eq!(p(&tee, 500), Some(dec!(8.50))); // the SKU's own tier wins over the list's
    assert_eq!(p(&mug, 99), Some(dec!(4.00)));
    assert_eq!(p(&mug, 100), Some(dec!(3.20)));
    let d = e.price(&PriceRequest::new(&tee, 60, Currency::USD, at(1)));
    assert_eq!(d.line_total().unwrap().amount(), dec!(510.00));
    let step = d
        .explain()
        .step("price_lists[b2b].prices[TEE].tiers[1]")
        .cloned()
        .unwrap();
    assert_eq!(
        (step.input.as_str(), step.output.as_str()),
        ("10.00", "8.50")
    );
}

#[test]
fn based_on_chains_adjust_and_own_prices_override() {
    let e = engine(
        PricingRules::new()
            .with_rounding(RoundingMode::HalfEven)
            .with_price_list(retail())
            .with_price_list(
                PriceList::new("wholesale", Currency::USD)
                    .based_on("retail", Some(dec!(-30)))
                    .with_price(PriceEntry::new(sku("MUG"), dec!(6.50))),
            )
            .with_price_list(
                PriceList::new("partner", Currency::USD)
                    .for_customer_group("partner")
                    .based_on("wholesale", Some(dec!(-5)))
                    .with_tier(Tier::percent(10, dec!(-10))),
            ),
    );
    let (tee, mug) = (sku("TEE"), sku("MUG"));
    let p = |s, q| {
        price_of(
            &e,
            &PriceRequest::new(s, q, Currency::USD, at(1)).for_customer_group("partner"),
        )
    };
    // 20.00 x 0.70 = 14.00 x 0.95 = 13.30
    assert_eq!(p(&tee, 1), Some(dec!(13.30)));
    // own wholesale price 6.50 x 0.95 = 6.175 -> 6.18 (half-even: 6.175 -> 6.18)
    assert_eq!(p(&mug, 1), Some(dec!(6.18)));
    // list-wide tier of partner: 13.30 x 0.90 = 11.97
    assert_eq!(p(&tee, 10), Some(dec!(11.97)));
    let why = e
        .price(&PriceRequest::new(&tee, 1, Currency::USD, at(1)).for_customer_group("partner"))
        .explain();
    assert!(
        why.step("price_lists[wholesale].adjustment_percent")
            .unwrap()
            .why
            .contains("based on retail: -30%")
    );
}

#[test]
fn map_guard_raises_or_flags() {
    let rules = PricingRules::new()
        .with_price_list(retail().with_tier(Tier::percent(10, dec!(-50))))
        .with_map(MapRule::new(sku("TEE"), Currency::USD, dec!(15.00)));
    let tee = sku("TEE");
    let req = PriceRequest::new(&tee, 10, Currency::USD, at(1));
    let raise = engine(rules.clone());
    let d = raise.price(&req);
    assert_eq!(d.unit_price().unwrap().amount(), dec!(15.00));
    assert!(!d.below_map());
    assert!(d.explain().step("map[TEE]").unwrap().why.contains("raised"));
    let flag = engine(rules.clone().with_map_action(MapAction::Flag));
    let d = flag.price(&req);
    assert_eq!(d.unit_price().unwrap().amount(), dec!(10.00));
    assert!(d.below_map());
    // With a .99 ending on every price, a raised price goes to the next ending, never below the minimum.
    let ending = engine(
        rules.with_ending(
            PriceEnding::new(Currency::USD, dec!(1), dec!(0.99))
                .with_direction(EndingDirection::Down)
                .applying_to(EndingScope::All),
        ),
    );
    assert_eq!(price_of(&ending, &req), Some(dec!(15.99)));
    // At or above the minimum: untouched.
    assert_eq!(
        price_of(&ending, &PriceRequest::new(&tee, 1, Currency::USD, at(1))),
        Some(dec!(19.99))
    );
}

#[test]
fn conversion_when_no_list_is_in_the_currency() {
    let e = engine(
        PricingRules::new()
            .with_price_list(retail())
            .with_price_list(
                PriceList::new("eu", Currency::EUR)
                    .with_price(PriceEntry::new(sku("MUG"), dec!(7.50))),
            )
            .with_rates(
                RateTable::new(Currency::USD)
                    .with_rate(Currency::EUR, dec!(0.92))
                    .with_rate(Currency::JPY, dec!(151.37)),
            )
            .with_ending(PriceEnding::new(Currency::JPY, dec!(10), dec!(0))),
    );
    let (tee, mug) = (sku("TEE"), sku("MUG"));
    let p = |s, c| price_of(&e, &PriceRequest::new(s, 1, c, at(1)));
    assert_eq!(p(&mug, Currency::EUR), Some(dec!(7.50))); // a list in EUR wins
    assert_eq!(p(&tee, Currency::EUR), Some(dec!(18.40))); // 20 x 0.92
    assert_eq!(p(&tee, Currency::JPY), Some(dec!(3030))); // 3027.4 -> 3027 -> nearest 10
    assert_eq!(p(&tee, Currency::GBP), None); // no rate
    let d = e.price(&PriceRequest::new(&tee, 1, Currency::GBP, at(1)));
    assert!(
        d.explain()
            .to_string()
            .contains("no rate between USD and GBP"),
        "{}",
        d.explain()
    );
    let err = d.require().unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::NotFound);
}

#[test]
fn tax_basis_is_converted_when_asked() {
    let e = engine(
        PricingRules::new()
            .with_price_list(
                PriceList::new("de", Currency::EUR)
                    .tax_included()
                    .with_price(PriceEntry::new(sku("TEE"), dec!(19.99))),
            )
            .with_price_list(
                PriceList::new("us", Currency::USD)
                    .with_price(PriceEntry::new(sku("TEE"), dec!(20.00))),
            ),
    );
    let tee = sku("TEE");
    let net =
        e.price(&PriceRequest::new(&tee, 1, Currency::EUR, at(1)).with_tax(dec!(0.19), false));
    assert_eq!(net.unit_price().unwrap().amount(), dec!(16.80)); // 19.99 / 1.19 = 16.798...
    assert!(!net.tax_included());
    let gross =
        e.price(&PriceRequest::new(&tee, 1, Currency::USD, at(1)).with_tax(dec!(0.0725), true));
    assert_eq!(gross.unit_price().unwrap().amount(), dec!(21.45));
    assert!(gross.tax_included());
    let same =
        e.price(&PriceRequest::new(&tee, 1, Currency::EUR, at(1)).with_tax(dec!(0.19), true));
    assert_eq!(same.unit_price().unwrap().amount(), dec!(19.99));
    assert!(same.explain().step("tax").is_none());
}

#[test]
fn unknown_sku_has_no_price_and_says_why() {
    let e = engine(PricingRules::new().with_price_list(retail()));
    let d = e.price(&PriceRequest::new(&sku("NOPE"), 1, Currency::USD, at(1)));
    assert!(d.unit_price().is_none());
    assert_eq!(d.explain().steps[0].why, "no price list prices this SKU");
}

#[test]
fn explanation_lists_every_step_in_order() {
    let e = engine(
        PricingRules::new()
            .with_price_list(retail().with_tier(Tier::percent(5, dec!(-12.5))))
            .with_ending(
                PriceEnding::new(Currency::USD, dec!(1), dec!(0.99)).applying_to(EndingScope::All),
            )
            .with_map(MapRule::new(sku("TEE"), Currency::USD, dec!(10))),
    );
    let tee = sku("TEE");
    let why = e
        .price(&PriceRequest::new(&tee, 5, Currency::USD, at(1)))
        .explain();
    let rules: Vec<&str> = why.iter().map(|s| s.rule.as_str()).collect();
    assert_eq!(
        rules,
        [
            "price_lists[retail]",
            "price_lists[retail].prices[TEE]",
            "price_lists[retail].tiers[0]",
            "rounding",
            "endings[USD]",
            "map[TEE]"
        ]
    );
    assert_eq!(why.step("endings[USD]").unwrap().output, "17.99 USD");
}

#[test]
fn invalid_rules_name_the_rule_and_field() {
    let err = PricingRules::from_toml_str(
        r#"
        [[price_lists]]
        id = "retail"
        currency = "USD"
        prices = [{ sku = "A", price = "1.999" }, { sku = "A", price = "2" }]

        [[price_lists]]
        id = "b"
        currency = "EUR"
        based_on = "c"

        [[price_lists]]
        id = "web-usd"
        currency = "USD"
        tiers = [{ min_quantity = 5, percent = "-5" }, { min_quantity = 0, price = "1" }]
        prices = [{ sku = "B", price = "3", tiers = [{ min_quantity = 2 }] }]

        [[price_lists]]
        id = "c"
        currency = "EUR"
        based_on = "b"
        valid_from = 2026-02-01T00:00:00Z
        valid_until = 2026-01-01T00:00:00Z

        [[endings]]
        currency = "USD"
        ending = "1.5"
        "#,
    )
    .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Config);
    let m = err.message();
    for expected in [
        "price_lists[0].prices[0].price (rule \"retail\"): must be at least 0 and whole USD minor units (2 decimals), found 1.999",
        "price_lists[0].prices[1].sku (rule \"retail\"): A already has a price at prices[0]",
        "price_lists[1].based_on (rule \"b\"): based_on forms a cycle: b -> c -> b",
        "price_lists[2].tiers[1].min_quantity (rule \"web-usd\"): must be ≥ 1, found 0",
        "price_lists[2].tiers[1].min_quantity (rule \"web-usd\"): must be above the previous tier's 5",
        "price_lists[2].tiers[1].price (rule \"web-usd\"): a list-wide tier applies to every SKU",
        "price_lists[2].prices[0].tiers[0] (rule \"web-usd\"): must set exactly one of price and percent",
        "price_lists[3].valid_until (rule \"c\"): must be after valid_from",
        "endings[0].ending (rule \"USD\"): must be at least 0, below the step 1",
    ] {
        assert!(m.contains(expected), "missing {expected:?} in {m}");
    }
}

#[test]
fn based_on_must_exist_and_keep_the_currency() {
    let err = PricingRules::new()
        .with_price_list(retail())
        .with_price_list(PriceList::new("eu", Currency::EUR).based_on("retail", None))
        .with_price_list(PriceList::new("x", Currency::USD).based_on("nope", Some(dec!(-100))))
        .validate()
        .unwrap_err();
    let m = err.message();
    assert!(
        m.contains("price_lists[1].based_on (rule \"eu\"): \"retail\" is in USD, this list in EUR"),
        "{m}"
    );
    assert!(
        m.contains("price_lists[2].based_on (rule \"x\"): unknown price list \"nope\""),
        "{m}"
    );
    assert!(
        m.contains("price_lists[2].adjustment_percent (rule \"x\"): must be above -100"),
        "{m}"
    );
}

#[test]
fn rules_round_trip_through_toml() {
    let rules = PricingRules::new()
        .with_price_list(
            retail()
                .valid(Some(at(1)), None)
                .with_tier(Tier::percent(3, dec!(-1))),
        )
        .with_price_list(PriceList::new("w", Currency::USD).based_on("retail", Some(dec!(-10))))
        .with_map(MapRule::new(sku("TEE"), Currency::USD, dec!(1)))
        .with_rates(RateTable::new(Currency::USD).with_rate(Currency::EUR, dec!(0.9)))
        .with_ending(PriceEnding::new(Currency::USD, dec!(1), dec!(0.99)));
    let text = toml::to_string(&rules).unwrap();
    assert_eq!(PricingRules::from_toml_str(&text).unwrap(), rules);
}

#[test]
fn a_negative_tax_rate_gets_no_price() {
    // Review A4: with_tax(-2, true) priced a 10.00 net list at -10.00.
    let e = engine(PricingRules::new().with_price_list(
        PriceList::new("us", Currency::USD).with_price(PriceEntry::new(sku("TEE"), dec!(10.00))),
    ));
    let tee = sku("TEE");
    for rate in [dec!(-2), dec!(-0.01)] {
        let d = e.price(&PriceRequest::new(&tee, 1, Currency::USD, at(1)).with_tax(rate, true));
        assert_eq!(d.unit_price(), None);
        let why = d.explain();
        assert_eq!(why.steps[0].rule, "tax");
        assert!(why.steps[0].why.contains("is negative"), "{why}");
        assert_eq!(d.require().unwrap_err().kind(), &ErrorKind::NotFound);
    }
    // Too large for a decimal: refused, not a panic.
    let d = e.price(&PriceRequest::new(&tee, 1, Currency::USD, at(1)).with_tax(Decimal::MAX, true));
    assert_eq!(d.unit_price(), None);
    // Zero is a valid rate.
    let d = e.price(&PriceRequest::new(&tee, 1, Currency::USD, at(1)).with_tax(dec!(0), true));
    assert_eq!(d.unit_price().unwrap().amount(), dec!(10.00));
}

#[test]
fn map_is_compared_on_its_tax_basis() {
    // Review A5: a tax-inclusive 17.00 was compared with a net minimum of 15.00.
    let rules = PricingRules::new()
        .with_price_list(
            PriceList::new("de", Currency::EUR)
                .tax_included()
                .with_price(PriceEntry::new(sku("TEE"), dec!(17.00))),
        )
        .with_map(MapRule::new(sku("TEE"), Currency::EUR, dec!(15.00)));
    let tee = sku("TEE");
    let gross = PriceRequest::new(&tee, 1, Currency::EUR, at(1)).with_tax(dec!(0.19), true);
    // 17.00 / 1.19 = 14.29 net < 15.00: raised to 15.00 x 1.19 = 17.85 gross.
    let d = engine(rules.clone()).price(&gross);
    assert_eq!(d.unit_price().unwrap().amount(), dec!(17.85));
    assert!(d.tax_included());
    let step = d.explain().step("map[TEE]").cloned().unwrap();
    assert!(
        step.why
            .contains("below the minimum advertised price 15.00 net"),
        "{step}"
    );
    // The same request for the net price: 14.29 < 15.00, raised to 15.00.
    let net = PriceRequest::new(&tee, 1, Currency::EUR, at(1)).with_tax(dec!(0.19), false);
    assert_eq!(
        engine(rules.clone())
            .price(&net)
            .unit_price()
            .unwrap()
            .amount(),
        dec!(15.00)
    );
    // Flag mode flags it and keeps the price.
    let flag = engine(rules.clone().with_map_action(MapAction::Flag)).price(&gross);
    assert_eq!(flag.unit_price().unwrap().amount(), dec!(17.00));
    assert!(flag.below_map());
    // A tax-inclusive minimum compares with gross prices directly.
    let mut incl = rules.clone();
    incl.map[0] = MapRule::new(sku("TEE"), Currency::EUR, dec!(16.00)).tax_included();
    assert_eq!(
        engine(incl.clone())
            .price(&gross)
            .unit_price()
            .unwrap()
            .amount(),
        dec!(17.00)
    );
    // A net request is compared after adding the tax: 14.29 x 1.19 = 17.0051 >= 16.00.
    assert_eq!(
        engine(incl).price(&net).unit_price().unwrap().amount(),
        dec!(14.29)
    );
    // Without a tax rate the bases cannot be compared: said, not guessed.
    let d = engine(rules).price(&PriceRequest::new(&tee, 1, Currency::EUR, at(1)));
    assert_eq!(d.unit_price().unwrap().amount(), dec!(17.00));
    assert!(!d.below_map());
    assert!(
        d.explain()
            .step("map[TEE]")
            .unwrap()
            .why
            .starts_with("not checked: the price is tax-inclusive"),
        "{}",
        d.explain()
    );
}

#[test]
fn map_in_another_currency_is_not_checked_and_the_explanation_says_so() {
    let e = engine(
        PricingRules::new()
            .with_price_list(retail())
            .with_map(MapRule::new(sku("TEE"), Currency::USD, dec!(25.00)))
            .with_rates(RateTable::new(Currency::USD).with_rate(Currency::EUR, dec!(0.92))),
    );
    let tee = sku("TEE");
    assert_eq!(
        price_of(&e, &PriceRequest::new(&tee, 1, Currency::USD, at(1))),
        Some(dec!(25.00))
    );
    let d = e.price(&PriceRequest::new(&tee, 1, Currency::EUR, at(1)));
    assert_eq!(d.unit_price().unwrap().amount(), dec!(18.40));
    assert!(
        d.explain()
            .step("map[TEE]")
            .unwrap()
            .why
            .contains("not checked: the minimum advertised price is set in USD only"),
        "{}",
        d.explain()
    );
}

#[test]
fn endings_move_converted_prices_unless_told_otherwise_and_never_a_free_item() {
    // Review A6: a .99 ending rewrote the merchant's own 20.00 and turned 0.00 into 0.99.
    let rules = PricingRules::new()
        .with_price_list(
            PriceList::new("uk", Currency::GBP)
                .with_price(PriceEntry::new(sku("TEE"), dec!(20.00)))
                .with_price(PriceEntry::new(sku("GIFT"), dec!(0.00))),
        )
        .with_price_list(
            PriceList::new("us", Currency::USD)
                .with_price(PriceEntry::new(sku("MUG"), dec!(10.00))),
        )
        .with_rates(RateTable::new(Currency::USD).with_rate(Currency::GBP, dec!(0.79)))
        .with_ending(PriceEnding::new(Currency::GBP, dec!(1), dec!(0.99)));
    let e = engine(rules.clone());
    let p = |e: &PricingEngine, s: &str| {
        price_of(e, &PriceRequest::new(&sku(s), 1, Currency::GBP, at(1)))
    };
    assert_eq!(p(&e, "TEE"), Some(dec!(20.00))); // the list's own price
    assert_eq!(p(&e, "MUG"), Some(dec!(7.99))); // 7.90 converted -> nearest .99
    assert_eq!(p(&e, "GIFT"), Some(dec!(0.00)));
    let why = e
        .price(&PriceRequest::new(&sku("TEE"), 1, Currency::GBP, at(1)))
        .explain();
    assert!(
        why.step("endings[GBP]")
            .unwrap()
            .why
            .contains("applies to converted prices")
    );
    let mut all = rules;
    all.endings[0].apply_to = EndingScope::All;
    let e = engine(all);
    assert_eq!(p(&e, "TEE"), Some(dec!(19.99)));
    assert_eq!(p(&e, "GIFT"), Some(dec!(0.00)));
    let why = e
        .price(&PriceRequest::new(&sku("GIFT"), 1, Currency::GBP, at(1)))
        .explain();
    assert_eq!(
        why.step("endings[GBP]").unwrap().why,
        "not applied: a zero price is never moved"
    );
    // From TOML.
    let rules = PricingRules::from_toml_str(
        "[[endings]]\ncurrency = \"GBP\"\nending = \"0.99\"\napply_to = \"all\"\n",
    )
    .unwrap();
    assert_eq!(rules.endings[0].apply_to, EndingScope::All);
}

#[test]
fn priority_and_audience_outrank_the_currency_by_default() {
    // Review A7: a wholesale customer paying in EUR got EUR retail, not wholesale terms.
    let rules = PricingRules::new()
        .with_price_list(retail())
        .with_price_list(
            PriceList::new("wholesale", Currency::USD)
                .for_customer_group("wholesale")
                .based_on("retail", Some(dec!(-40))),
        )
        .with_price_list(
            PriceList::new("retail-eur", Currency::EUR)
                .with_price(PriceEntry::new(sku("TEE"), dec!(19.00))),
        )
        .with_rates(RateTable::new(Currency::USD).with_rate(Currency::EUR, dec!(0.90)));
    let tee = sku("TEE");
    let eur = PriceRequest::new(&tee, 1, Currency::EUR, at(1));
    let e = engine(rules.clone());
    // 20.00 x 0.60 = 12.00 USD -> 10.80 EUR: the group's terms, converted.
    let d = e.price(&eur.for_customer_group("wholesale"));
    assert_eq!(
        (d.price_list(), d.unit_price().unwrap().amount()),
        (Some("wholesale"), dec!(10.80))
    );
    assert!(
        d.explain()
            .step("price_lists[wholesale]")
            .unwrap()
            .why
            .contains("so its USD prices are converted")
    );
    // Same rank (retail vs retail-eur): the list in the requested currency wins over conversion.
    let d = e.price(&eur);
    assert_eq!(d.price_list(), Some("retail-eur"));
    let why = d.explain();
    assert!(
        why.step("price_lists[retail]").unwrap().why.contains(
            "needs conversion, and retail-eur has the same priority and specificity in EUR"
        ),
        "{why}"
    );
    // Priority still beats everything: a prioritised EUR list wins for the group too.
    let mut prioritised = rules.clone();
    prioritised.price_lists[2].priority = 1;
    assert_eq!(
        engine(prioritised)
            .price(&eur.for_customer_group("wholesale"))
            .price_list(),
        Some("retail-eur")
    );
    // The old order, on request: the currency first.
    let first = engine(rules.with_currency_precedence(CurrencyPrecedence::First));
    assert_eq!(
        first
            .price(&eur.for_customer_group("wholesale"))
            .price_list(),
        Some("retail-eur")
    );
    let rules = PricingRules::from_toml_str("currency_precedence = \"first\"\n").unwrap();
    assert_eq!(rules.currency_precedence, CurrencyPrecedence::First);
}

#[test]
fn based_on_must_keep_the_tax_basis() {
    // Review A8.
    let err = PricingRules::new()
        .with_price_list(retail())
        .with_price_list(
            PriceList::new("gross", Currency::USD)
                .tax_included()
                .based_on("retail", None),
        )
        .validate()
        .unwrap_err();
    assert!(
        err.message().contains(
            "price_lists[1].tax_included (rule \"gross\"): \"retail\" has tax-exclusive prices, \"gross\" tax-inclusive"
        ),
        "{err}"
    );
}
