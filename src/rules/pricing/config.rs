//! The pricing rule file: price lists with tiers and validity windows,
//! minimum advertised prices, the rate table and price endings.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::{Currency, RoundingMode, Sku};
use crate::rules::config::{At, Problems, load_rules, parse_rules, serde_util};

const WHAT: &str = "pricing rules";

/// Pricing rules: price lists, minimum advertised prices, currency rates and price endings.
///
/// Read from TOML with [`PricingRules::from_toml_str`] or [`PricingRules::load`];
/// built in code with [`PricingRules::new`] and the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PricingRules {
    /// How prices are rounded to the currency's minor unit (default: half-up).
    #[serde(default = "default_rounding")]
    pub rounding: RoundingMode,
    /// What the minimum advertised price guard does to a price below it (default: raise it).
    #[serde(default)]
    pub map_action: MapAction,
    /// Where "a list in the requested currency" ranks among the precedence
    /// rules (default: after priority and specificity; see [`CurrencyPrecedence`]).
    #[serde(default)]
    pub currency_precedence: CurrencyPrecedence,
    /// The price lists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub price_lists: Vec<PriceList>,
    /// Minimum advertised prices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub map: Vec<MapRule>,
    /// Exchange rates, for requests in a currency no list is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rates: Option<RateTable>,
    /// Price endings per currency (`.99`, whole tens of yen).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endings: Vec<PriceEnding>,
}

fn default_rounding() -> RoundingMode {
    RoundingMode::HalfUp
}

impl Default for PricingRules {
    fn default() -> Self {
        PricingRules {
            rounding: default_rounding(),
            map_action: MapAction::Raise,
            currency_precedence: CurrencyPrecedence::default(),
            price_lists: Vec::new(),
            map: Vec::new(),
            rates: None,
            endings: Vec::new(),
        }
    }
}

impl PricingRules {
    /// No lists yet, half-up rounding, MAP raises.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses and checks rules from TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self> {
        parse_rules(text, WHAT, "<toml>", Self::validate)
    }

    /// Reads, parses and checks a TOML rule file; errors name the file, line and column.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        load_rules(path.as_ref(), WHAT, Self::validate)
    }

    /// Sets the rounding of prices.
    pub fn with_rounding(mut self, rounding: RoundingMode) -> Self {
        self.rounding = rounding;
        self
    }

    /// Sets what the MAP guard does.
    pub fn with_map_action(mut self, action: MapAction) -> Self {
        self.map_action = action;
        self
    }

    /// Sets where a list in the requested currency ranks.
    pub fn with_currency_precedence(mut self, precedence: CurrencyPrecedence) -> Self {
        self.currency_precedence = precedence;
        self
    }

    /// Adds a price list.
    pub fn with_price_list(mut self, list: PriceList) -> Self {
        self.price_lists.push(list);
        self
    }

    /// Adds a minimum advertised price.
    pub fn with_map(mut self, rule: MapRule) -> Self {
        self.map.push(rule);
        self
    }

    /// Sets the rate table.
    pub fn with_rates(mut self, rates: RateTable) -> Self {
        self.rates = Some(rates);
        self
    }

    /// Adds a price ending.
    pub fn with_ending(mut self, ending: PriceEnding) -> Self {
        self.endings.push(ending);
        self
    }

    /// Checks every rule and reports every problem with its field path and rule id
    /// (an [`crate::ErrorKind::Config`] error).
    pub fn validate(&self) -> Result<()> {
        let mut p = Problems::new(WHAT);
        let ids: HashMap<&str, usize> = self
            .price_lists
            .iter()
            .enumerate()
            .map(|(i, l)| (l.id.as_str(), i))
            .collect();
        p.check_unique(self.price_lists.iter().map(|l| l.id.as_str()), |i| {
            format!("{}.id", At("price_lists", i))
        });
        for (i, l) in self.price_lists.iter().enumerate() {
            self.validate_list(&mut p, i, l, &ids);
        }

        let mut seen = HashSet::new();
        for (i, m) in self.map.iter().enumerate() {
            let at = At("map", i);
            let id = m.sku.as_str();
            check_amount(&mut p, format_args!("{at}.price"), id, m.price, m.currency);
            p.check(
                seen.insert((&m.sku, m.currency)),
                &at,
                Some(id),
                format_args!(
                    "a second minimum advertised price for {} in {}",
                    m.sku, m.currency
                ),
            );
        }

        if let Some(r) = &self.rates {
            let mut seen = HashSet::new();
            for (i, rate) in r.rates.iter().enumerate() {
                let at = format!("rates.{}", At("rates", i));
                let id = rate.currency.code();
                p.check(
                    rate.rate > Decimal::ZERO,
                    format_args!("{at}.rate"),
                    Some(id),
                    format_args!("must be above 0, found {}", rate.rate),
                );
                p.check(
                    rate.currency != r.base || rate.rate == Decimal::ONE,
                    format_args!("{at}.rate"),
                    Some(id),
                    format_args!("the base currency's rate must be 1, found {}", rate.rate),
                );
                p.check(
                    seen.insert(rate.currency),
                    format_args!("{at}.currency"),
                    Some(id),
                    format_args!("{} has two rates", rate.currency),
                );
            }
        }

        let mut seen = HashSet::new();
        for (i, e) in self.endings.iter().enumerate() {
            let at = At("endings", i);
            let id = e.currency.code();
            p.check(
                seen.insert(e.currency),
                format_args!("{at}.currency"),
                Some(id),
                format_args!("{} has two endings", e.currency),
            );
            p.check(
                e.step > Decimal::ZERO && whole_minor_units(e.step, e.currency),
                format_args!("{at}.step"),
                Some(id),
                format_args!(
                    "must be above 0 and whole {} minor units, found {}",
                    e.currency, e.step
                ),
            );
            p.check(
                e.ending >= Decimal::ZERO
                    && e.ending < e.step
                    && whole_minor_units(e.ending, e.currency),
                format_args!("{at}.ending"),
                Some(id),
                format_args!(
                    "must be at least 0, below the step {} and whole {} minor units, found {}",
                    e.step, e.currency, e.ending
                ),
            );
        }
        p.finish()
    }

    fn validate_list(&self, p: &mut Problems, i: usize, l: &PriceList, ids: &HashMap<&str, usize>) {
        let at = At("price_lists", i);
        let id = Some(l.id.as_str());
        p.check_id(format_args!("{at}.id"), &l.id);
        for (field, value) in [
            ("channel", &l.channel),
            ("customer_group", &l.customer_group),
        ] {
            if let Some(v) = value {
                p.check(
                    !v.trim().is_empty(),
                    format_args!("{at}.{field}"),
                    id,
                    "must not be empty",
                );
            }
        }
        if let (Some(from), Some(until)) = (l.valid_from, l.valid_until) {
            p.check(
                from < until,
                format_args!("{at}.valid_until"),
                id,
                format_args!("must be after valid_from ({from}), found {until}"),
            );
        }
        match &l.based_on {
            Some(base) => match ids.get(base.as_str()) {
                None => p.add(
                    format_args!("{at}.based_on"),
                    id,
                    format_args!("unknown price list {base:?}"),
                ),
                Some(&b) => {
                    let base_list = &self.price_lists[b];
                    p.check(
                        base_list.currency == l.currency,
                        format_args!("{at}.based_on"),
                        id,
                        format_args!(
                            "{base:?} is in {}, this list in {}; a derived list keeps its base's currency",
                            base_list.currency, l.currency
                        ),
                    );
                    let basis = |inc: bool| {
                        if inc {
                            "tax-inclusive"
                        } else {
                            "tax-exclusive"
                        }
                    };
                    p.check(
                        base_list.tax_included == l.tax_included,
                        format_args!("{at}.tax_included"),
                        id,
                        format_args!(
                            "{base:?} has {} prices, {:?} {}; a derived list keeps its base's tax basis",
                            basis(base_list.tax_included),
                            l.id,
                            basis(l.tax_included)
                        ),
                    );
                    if let Some(cycle) = self.cycle_from(i, ids) {
                        p.add(
                            format_args!("{at}.based_on"),
                            id,
                            format_args!("based_on forms a cycle: {cycle}"),
                        );
                    }
                }
            },
            None => {
                p.check(
                    !l.prices.is_empty(),
                    format_args!("{at}.prices"),
                    id,
                    "has no prices and no based_on, so it can never price anything",
                );
                p.check(
                    l.adjustment_percent.is_none(),
                    format_args!("{at}.adjustment_percent"),
                    id,
                    "only applies to prices inherited through based_on",
                );
            }
        }
        if let Some(pct) = l.adjustment_percent {
            check_percent(p, format_args!("{at}.adjustment_percent"), id, pct);
        }
        check_tiers(p, &format!("{at}"), id, &l.tiers, None);
        let mut seen = HashMap::new();
        for (j, e) in l.prices.iter().enumerate() {
            let entry = format!("{at}.prices[{j}]");
            check_amount(p, format_args!("{entry}.price"), &l.id, e.price, l.currency);
            if let Some(first) = seen.insert(&e.sku, j) {
                p.add(
                    format_args!("{entry}.sku"),
                    id,
                    format_args!("{} already has a price at prices[{first}]", e.sku),
                );
            }
            check_tiers(p, &entry, id, &e.tiers, Some(l.currency));
        }
    }

    /// The cycle reached by following `based_on` from list `start`, if any.
    fn cycle_from(&self, start: usize, ids: &HashMap<&str, usize>) -> Option<String> {
        let mut path = vec![start];
        let mut at = start;
        while let Some(next) = self.price_lists[at]
            .based_on
            .as_deref()
            .and_then(|b| ids.get(b).copied())
        {
            if next == start {
                path.push(next);
                let names: Vec<&str> = path
                    .iter()
                    .map(|&i| self.price_lists[i].id.as_str())
                    .collect();
                return Some(names.join(" -> "));
            }
            if path.contains(&next) {
                return None; // a cycle further down; reported on its own lists
            }
            path.push(next);
            at = next;
        }
        None
    }
}

/// An amount must be non-negative and whole minor units of its currency.
fn check_amount(
    p: &mut Problems,
    field: impl std::fmt::Display,
    id: &str,
    amount: Decimal,
    currency: Currency,
) {
    p.check(
        amount >= Decimal::ZERO && whole_minor_units(amount, currency),
        field,
        Some(id),
        format_args!(
            "must be at least 0 and whole {currency} minor units ({} decimals), found {amount}",
            currency.minor_units()
        ),
    );
}

fn check_percent(p: &mut Problems, field: impl std::fmt::Display, id: Option<&str>, pct: Decimal) {
    p.check(
        pct > -Decimal::ONE_HUNDRED,
        field,
        id,
        format_args!("must be above -100 (a price cannot drop by 100% or more), found {pct}"),
    );
}

/// Tiers: min_quantity ≥ 1 and strictly increasing; exactly one of price and
/// percent (`currency` is `None` for list-wide tiers, which allow only percent).
fn check_tiers(
    p: &mut Problems,
    at: &str,
    id: Option<&str>,
    tiers: &[Tier],
    currency: Option<Currency>,
) {
    let mut previous = 0u32;
    for (k, t) in tiers.iter().enumerate() {
        let tier = format!("{at}.tiers[{k}]");
        p.check(
            t.min_quantity >= 1,
            format_args!("{tier}.min_quantity"),
            id,
            format_args!("must be ≥ 1, found {}", t.min_quantity),
        );
        p.check(
            k == 0 || t.min_quantity > previous,
            format_args!("{tier}.min_quantity"),
            id,
            format_args!(
                "must be above the previous tier's {previous} (tiers go up in quantity), found {}",
                t.min_quantity
            ),
        );
        previous = t.min_quantity;
        match (t.price, t.percent, currency) {
            (Some(price), None, Some(c)) => {
                check_amount(p, format_args!("{tier}.price"), id.unwrap_or(""), price, c)
            }
            (Some(_), None, None) => p.add(
                format_args!("{tier}.price"),
                id,
                "a list-wide tier applies to every SKU, so it takes a percent, not a price",
            ),
            (None, Some(pct), _) => check_percent(p, format_args!("{tier}.percent"), id, pct),
            _ => p.add(&tier, id, "must set exactly one of price and percent"),
        }
    }
}

fn whole_minor_units(amount: Decimal, currency: Currency) -> bool {
    amount.normalize().scale() <= currency.minor_units()
}

/// A price list: prices for one currency, optionally for one channel and one
/// customer group, valid in a time window.
///
/// Precedence when several lists could price a request (each valid now, for
/// the request's channel and group, and in the requested currency or
/// convertible to it through the rate table): higher `priority`; then the
/// more specific (channel and group, channel, group, neither); then a list
/// in the requested currency before one that needs conversion; then the
/// earlier in the file. [`CurrencyPrecedence::First`] moves the currency
/// rule to the front.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PriceList {
    /// List id, for explanations and errors.
    pub id: String,
    /// The currency of its prices.
    pub currency: Currency,
    /// Only for this channel (any channel when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Only for this customer group (any customer when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_group: Option<String>,
    /// Higher wins.
    #[serde(default)]
    pub priority: i32,
    /// Valid from this instant (inclusive).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_util::opt_datetime"
    )]
    pub valid_from: Option<DateTime<Utc>>,
    /// Valid until this instant (exclusive).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_util::opt_datetime"
    )]
    pub valid_until: Option<DateTime<Utc>>,
    /// Whether its prices include tax.
    #[serde(default)]
    pub tax_included: bool,
    /// Another list whose prices this one inherits for SKUs it does not price
    /// itself (with that list's own tiers and adjustments). The base lends its
    /// prices whatever its own channel, group and validity window: those
    /// select lists for a request, and the request selected this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub based_on: Option<String>,
    /// Percent applied to inherited prices (`-30` = 30 % off).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_util::opt_decimal"
    )]
    pub adjustment_percent: Option<Decimal>,
    /// Quantity breaks for every SKU of the list (percent only); a SKU's own tiers win.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<Tier>,
    /// Prices per SKU.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prices: Vec<PriceEntry>,
}

impl PriceList {
    /// An empty list in `currency`, for every channel and customer, always valid.
    pub fn new(id: impl Into<String>, currency: Currency) -> Self {
        PriceList {
            id: id.into(),
            currency,
            channel: None,
            customer_group: None,
            priority: 0,
            valid_from: None,
            valid_until: None,
            tax_included: false,
            based_on: None,
            adjustment_percent: None,
            tiers: Vec::new(),
            prices: Vec::new(),
        }
    }

    /// Only for `channel`.
    pub fn for_channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = Some(channel.into());
        self
    }

    /// Only for `group`.
    pub fn for_customer_group(mut self, group: impl Into<String>) -> Self {
        self.customer_group = Some(group.into());
        self
    }

    /// Sets the priority (higher wins).
    pub fn with_priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Valid from `from` (inclusive) until `until` (exclusive); either may be open.
    pub fn valid(mut self, from: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> Self {
        self.valid_from = from;
        self.valid_until = until;
        self
    }

    /// Marks the prices as tax-inclusive.
    pub fn tax_included(mut self) -> Self {
        self.tax_included = true;
        self
    }

    /// Inherits prices from `base`, adjusted by `percent` (`-30` = 30 % off).
    pub fn based_on(mut self, base: impl Into<String>, percent: Option<Decimal>) -> Self {
        self.based_on = Some(base.into());
        self.adjustment_percent = percent;
        self
    }

    /// Adds a list-wide quantity break.
    pub fn with_tier(mut self, tier: Tier) -> Self {
        self.tiers.push(tier);
        self
    }

    /// Adds a SKU's price.
    pub fn with_price(mut self, entry: PriceEntry) -> Self {
        self.prices.push(entry);
        self
    }

    /// 3 for channel and group, 2 for channel only, 1 for group only, 0 for neither.
    pub(crate) fn specificity(&self) -> u8 {
        (u8::from(self.channel.is_some()) << 1) | u8::from(self.customer_group.is_some())
    }
}

/// One SKU's price in a list, with its own quantity breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PriceEntry {
    /// The SKU.
    pub sku: Sku,
    /// Unit price, in whole minor units of the list's currency.
    #[serde(with = "crate::model::money::decimal_serde")]
    pub price: Decimal,
    /// Quantity breaks (fixed prices or percentages off `price`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<Tier>,
}

impl PriceEntry {
    /// A unit price without tiers.
    pub fn new(sku: Sku, price: Decimal) -> Self {
        PriceEntry {
            sku,
            price,
            tiers: Vec::new(),
        }
    }

    /// Adds a quantity break.
    pub fn with_tier(mut self, tier: Tier) -> Self {
        self.tiers.push(tier);
        self
    }
}

/// A quantity break: from `min_quantity` units on, a fixed unit price or a percentage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Tier {
    /// The smallest quantity the tier applies to (≥ 1).
    pub min_quantity: u32,
    /// Fixed unit price from this quantity on.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_util::opt_decimal"
    )]
    pub price: Option<Decimal>,
    /// Percent applied to the price (`-10` = 10 % off).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_util::opt_decimal"
    )]
    pub percent: Option<Decimal>,
}

impl Tier {
    /// A fixed unit price from `min_quantity` on.
    pub fn price(min_quantity: u32, price: Decimal) -> Self {
        Tier {
            min_quantity,
            price: Some(price),
            percent: None,
        }
    }

    /// A percentage (`-10` = 10 % off) from `min_quantity` on.
    pub fn percent(min_quantity: u32, percent: Decimal) -> Self {
        Tier {
            min_quantity,
            price: None,
            percent: Some(percent),
        }
    }
}

/// A minimum advertised price for a SKU in a currency.
///
/// MAP agreements are per market: a price in another currency is not
/// checked against it, not even after conversion (the explanation says so).
/// The minimum is net of tax unless `tax_included`; a price on the other
/// basis is compared after converting it with the request's tax rate, and a
/// request that gives no rate cannot be checked (the explanation says so).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct MapRule {
    /// The SKU.
    pub sku: Sku,
    /// The currency the minimum is in.
    pub currency: Currency,
    /// The minimum, in whole minor units.
    #[serde(with = "crate::model::money::decimal_serde")]
    pub price: Decimal,
    /// Whether the minimum includes tax (default: net of tax).
    #[serde(default)]
    pub tax_included: bool,
}

impl MapRule {
    /// `sku` may not be advertised below `price` (net of tax) in `currency`.
    pub fn new(sku: Sku, currency: Currency, price: Decimal) -> Self {
        MapRule {
            sku,
            currency,
            price,
            tax_included: false,
        }
    }

    /// The minimum includes tax.
    pub fn tax_included(mut self) -> Self {
        self.tax_included = true;
        self
    }
}

/// Where "a list in the requested currency" ranks when choosing a price list.
///
/// The default, [`CurrencyPrecedence::AfterSpecificity`], is what pricing
/// teams expect: `priority` and the audience (channel, customer group) are
/// what a merchant sets on purpose, and the currency of a list is only where
/// its numbers come from. A wholesale customer paying in EUR keeps the
/// wholesale terms (converted from USD) rather than falling back to EUR
/// retail, and a VIP web list beats a generic one whatever its currency.
/// Among lists of the same priority and specificity, one in the requested
/// currency wins over one that needs conversion, so a merchant's own EUR
/// prices beat converted USD prices for the same audience. To make a
/// currency's own prices win over more specific converted ones, give that
/// list a higher `priority` — or choose [`CurrencyPrecedence::First`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CurrencyPrecedence {
    /// Priority, then specificity, then the requested currency before
    /// conversion, then file order (default).
    #[default]
    AfterSpecificity,
    /// Any list in the requested currency before every list that needs
    /// conversion; then priority, specificity and file order.
    First,
}

/// What the minimum advertised price guard does to a price below it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MapAction {
    /// Raise the price to the minimum (then to the next price ending).
    #[default]
    Raise,
    /// Keep the price and flag the decision ([`crate::rules::PriceDecision::below_map`]).
    Flag,
}

/// Exchange rates against one base currency: 1 base = `rate` units of a currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RateTable {
    /// The base currency (rate 1).
    pub base: Currency,
    /// The other currencies' rates.
    #[serde(default)]
    pub rates: Vec<Rate>,
}

impl RateTable {
    /// A table with only the base currency.
    pub fn new(base: Currency) -> Self {
        RateTable {
            base,
            rates: Vec::new(),
        }
    }

    /// Adds a rate: 1 base = `rate` units of `currency`.
    pub fn with_rate(mut self, currency: Currency, rate: Decimal) -> Self {
        self.rates.push(Rate { currency, rate });
        self
    }
}

/// One currency's rate against the base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Rate {
    /// The currency.
    pub currency: Currency,
    /// Units of it per unit of the base currency.
    #[serde(with = "crate::model::money::decimal_serde")]
    pub rate: Decimal,
}

/// Prices in a currency end on a grid: `k × step + ending` (step 1, ending
/// 0.99 gives 18.99, 19.99; JPY step 10, ending 0 gives whole tens of yen).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PriceEnding {
    /// The currency.
    pub currency: Currency,
    /// Grid step (default 1).
    #[serde(default = "one", with = "crate::model::money::decimal_serde")]
    pub step: Decimal,
    /// Offset within the step (default 0).
    #[serde(default, with = "crate::model::money::decimal_serde")]
    pub ending: Decimal,
    /// Which grid price to take (default: the nearest, ties up).
    #[serde(default)]
    pub direction: EndingDirection,
    /// Which prices are moved (default: only those converted from another currency).
    #[serde(default)]
    pub apply_to: EndingScope,
}

/// Which prices a [`PriceEnding`] moves. A zero price (a free item) is never moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EndingScope {
    /// Only prices converted from a list in another currency: a price a
    /// merchant set in this currency is kept as set (default).
    #[default]
    Converted,
    /// Every price in the currency, the lists' own included.
    All,
}

fn one() -> Decimal {
    Decimal::ONE
}

impl PriceEnding {
    /// Prices in `currency` end in `ending` on a grid of `step`.
    pub fn new(currency: Currency, step: Decimal, ending: Decimal) -> Self {
        PriceEnding {
            currency,
            step,
            ending,
            direction: EndingDirection::Nearest,
            apply_to: EndingScope::Converted,
        }
    }

    /// Sets the direction.
    pub fn with_direction(mut self, direction: EndingDirection) -> Self {
        self.direction = direction;
        self
    }

    /// Sets which prices are moved.
    pub fn applying_to(mut self, scope: EndingScope) -> Self {
        self.apply_to = scope;
        self
    }
}

/// Which grid price a price ending moves to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EndingDirection {
    /// The nearest grid price; ties go up.
    #[default]
    Nearest,
    /// The smallest grid price at or above.
    Up,
    /// The largest grid price at or below (up when there is none at or above zero).
    Down,
}
