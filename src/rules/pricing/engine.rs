//! Evaluating pricing rules for one SKU, quantity, channel, customer group and currency.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::config::{
    CurrencyPrecedence, EndingDirection, EndingScope, MapAction, PriceList, PricingRules, Tier,
};
use super::currency::{Rates, apply_ending};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Currency, Money, Sku};
use crate::rules::explain::{Explanation, Step};

/// Checked pricing rules, indexed by SKU. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct PricingEngine {
    compiled: Arc<Compiled>,
}

#[derive(Debug)]
struct Compiled {
    rules: PricingRules,
    /// Per SKU, the lists that can price it, in precedence order.
    by_sku: HashMap<Sku, Vec<Candidate>>,
    map: HashMap<Sku, Vec<u32>>,
    rates: Option<Rates>,
    /// Each list's `based_on`, resolved.
    bases: Vec<Option<u32>>,
}

/// A list that can price a SKU, and where in its `based_on` chain the price is.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    list: u32,
    source: u32,
    entry: u32,
}

/// What to price: a SKU and quantity, in a currency, at an instant, for an
/// optional channel and customer group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PriceRequest<'a> {
    /// The SKU.
    pub sku: &'a Sku,
    /// Units bought (selects the quantity break).
    pub quantity: u32,
    /// The currency wanted.
    pub currency: Currency,
    /// When (selects lists by validity window).
    pub at: DateTime<Utc>,
    /// The sales channel, if any.
    pub channel: Option<&'a str>,
    /// The customer group, if any.
    pub customer_group: Option<&'a str>,
    /// The tax rate and whether the price should include it; when the list's
    /// basis differs, the price is converted. A negative rate gets no price.
    pub tax: Option<(Decimal, bool)>,
}

impl<'a> PriceRequest<'a> {
    /// `quantity` units of `sku` in `currency` at `at`, for any channel and customer.
    pub fn new(sku: &'a Sku, quantity: u32, currency: Currency, at: DateTime<Utc>) -> Self {
        PriceRequest {
            sku,
            quantity,
            currency,
            at,
            channel: None,
            customer_group: None,
            tax: None,
        }
    }

    /// For a sales channel.
    pub fn for_channel(mut self, channel: &'a str) -> Self {
        self.channel = Some(channel);
        self
    }

    /// For a customer group.
    pub fn for_customer_group(mut self, group: &'a str) -> Self {
        self.customer_group = Some(group);
        self
    }

    /// Wants the price with (`included`) or without tax at `rate` (0.19 for
    /// 19 %; a negative rate gets no price). The rate also converts between
    /// the price's and a minimum advertised price's tax basis.
    pub fn with_tax(mut self, rate: Decimal, included: bool) -> Self {
        self.tax = Some((rate, included));
        self
    }
}

/// A priced SKU: the unit price (or why there is none) and the trace of every step.
#[derive(Debug, Clone)]
pub struct PriceDecision {
    compiled: Arc<Compiled>,
    sku: Sku,
    quantity: u32,
    currency: Currency,
    at: DateTime<Utc>,
    channel: Option<String>,
    customer_group: Option<String>,
    tax: Option<(Decimal, bool)>,
    outcome: Outcome,
}

#[derive(Debug, Clone, Copy, Default)]
struct Outcome {
    unit: Option<Money>,
    list: Option<u32>,
    below_map: bool,
    tax_included: bool,
}

impl PriceDecision {
    /// The unit price, rounded to the currency's minor unit; `None` when no list prices the request.
    pub fn unit_price(&self) -> Option<Money> {
        self.outcome.unit
    }

    /// unit price × quantity (exact: the unit price is already rounded).
    pub fn line_total(&self) -> Option<Money> {
        self.outcome
            .unit
            .and_then(|u| u.checked_mul(Decimal::from(self.quantity)).ok())
    }

    /// The unit price, or a [`ErrorKind::NotFound`] error carrying the explanation.
    pub fn require(&self) -> Result<Money> {
        self.outcome.unit.ok_or_else(|| {
            Error::new(ErrorKind::NotFound, format!("no price: {}", self.explain()))
                .with_key(self.sku.as_str())
        })
    }

    /// The id of the list that priced it.
    pub fn price_list(&self) -> Option<&str> {
        self.outcome
            .list
            .map(|l| self.compiled.rules.price_lists[l as usize].id.as_str())
    }

    /// Whether the price includes tax.
    pub fn tax_included(&self) -> bool {
        self.outcome.tax_included
    }

    /// True when the price is below the minimum advertised price and the rules only flag it.
    pub fn below_map(&self) -> bool {
        self.outcome.below_map
    }

    /// The SKU priced.
    pub fn sku(&self) -> &Sku {
        &self.sku
    }

    /// Every step: lists considered and skipped, the price and tier taken,
    /// adjustments, conversion, tax, rounding, ending and the MAP guard.
    pub fn explain(&self) -> Explanation {
        let req = PriceRequest {
            sku: &self.sku,
            quantity: self.quantity,
            currency: self.currency,
            at: self.at,
            channel: self.channel.as_deref(),
            customer_group: self.customer_group.as_deref(),
            tax: self.tax,
        };
        let mut x = Explanation::new(format!(
            "price of {} x {} in {} for channel {}, customer group {} at {}",
            self.sku,
            self.quantity,
            self.currency,
            self.channel.as_deref().unwrap_or("(any)"),
            self.customer_group.as_deref().unwrap_or("(any)"),
            self.at.to_rfc3339()
        ));
        // Evaluation is pure, so tracing it again gives the same answer with its steps.
        self.compiled.evaluate(&req, &mut x);
        x
    }
}

/// Receives steps; the fast path ignores them without building them.
trait Trace {
    fn step(&mut self, build: impl FnOnce() -> Step);
}

struct NoTrace;

impl Trace for NoTrace {
    #[inline(always)]
    fn step(&mut self, _: impl FnOnce() -> Step) {}
}

impl Trace for Explanation {
    fn step(&mut self, build: impl FnOnce() -> Step) {
        self.push(build());
    }
}

impl PricingEngine {
    /// Checks the rules and indexes them.
    pub fn new(rules: PricingRules) -> Result<Self> {
        rules.validate()?;
        let lists = &rules.price_lists;
        let ids: HashMap<&str, u32> = lists
            .iter()
            .enumerate()
            .map(|(i, l)| (l.id.as_str(), i as u32))
            .collect();
        let entries: Vec<HashMap<&Sku, u32>> = lists
            .iter()
            .map(|l| {
                l.prices
                    .iter()
                    .enumerate()
                    .map(|(j, e)| (&e.sku, j as u32))
                    .collect()
            })
            .collect();
        // Every SKU any list prices, then for each list where along its chain the SKU is found.
        let mut by_sku: HashMap<Sku, Vec<Candidate>> = HashMap::new();
        for (i, _) in lists.iter().enumerate() {
            let mut chain = vec![i as u32];
            let mut at = i;
            while let Some(&b) = lists[at].based_on.as_deref().and_then(|b| ids.get(b)) {
                if chain.contains(&b) {
                    break;
                }
                chain.push(b);
                at = b as usize;
            }
            // The nearest list in the chain with an entry wins.
            let mut seen: std::collections::HashSet<&Sku> = std::collections::HashSet::new();
            for &l in &chain {
                for (sku, &entry) in &entries[l as usize] {
                    if seen.insert(sku) {
                        by_sku.entry((*sku).clone()).or_default().push(Candidate {
                            list: i as u32,
                            source: l,
                            entry,
                        });
                    }
                }
            }
        }
        for candidates in by_sku.values_mut() {
            candidates.sort_by_key(|c| {
                let l = &lists[c.list as usize];
                (Reverse(l.priority), Reverse(l.specificity()), c.list)
            });
        }
        let mut map: HashMap<Sku, Vec<u32>> = HashMap::new();
        for (i, m) in rules.map.iter().enumerate() {
            map.entry(m.sku.clone()).or_default().push(i as u32);
        }
        let rates = rules.rates.as_ref().map(Rates::from_table);
        let bases = lists
            .iter()
            .map(|l| l.based_on.as_deref().and_then(|b| ids.get(b).copied()))
            .collect();
        Ok(PricingEngine {
            compiled: Arc::new(Compiled {
                rules,
                by_sku,
                map,
                rates,
                bases,
            }),
        })
    }

    /// Parses, checks and indexes rules from TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self> {
        Self::new(PricingRules::from_toml_str(text)?)
    }

    /// The rules.
    pub fn rules(&self) -> &PricingRules {
        &self.compiled.rules
    }

    /// Prices a request. Pure: the same request gives the same decision.
    ///
    /// Steps, in order: refuse a negative tax rate; pick the list (priority,
    /// specificity, the requested currency before conversion, file order —
    /// see [`CurrencyPrecedence`]; skipping lists for another channel or
    /// group, outside their validity window, or without a rate to the
    /// requested currency); take the SKU's price and quantity break,
    /// following `based_on` with its adjustments; convert from the list's
    /// currency when needed; convert between tax-inclusive and -exclusive
    /// when asked; round to the minor unit; move to the price ending (only
    /// converted prices unless the ending applies to all; never a zero
    /// price); apply the MAP guard on the minimum's tax basis.
    pub fn price(&self, request: &PriceRequest<'_>) -> PriceDecision {
        let outcome = self.compiled.evaluate(request, &mut NoTrace);
        PriceDecision {
            compiled: Arc::clone(&self.compiled),
            sku: request.sku.clone(),
            quantity: request.quantity,
            currency: request.currency,
            at: request.at,
            channel: request.channel.map(str::to_owned),
            customer_group: request.customer_group.map(str::to_owned),
            tax: request.tax,
            outcome,
        }
    }
}

/// Why a list was passed over.
fn skip_reason(l: &PriceList, req: &PriceRequest<'_>) -> Option<String> {
    if let Some(c) = &l.channel
        && req.channel != Some(c.as_str())
    {
        return Some(format!(
            "for channel {c}, not {}",
            req.channel.unwrap_or("(none)")
        ));
    }
    if let Some(g) = &l.customer_group
        && req.customer_group != Some(g.as_str())
    {
        return Some(format!(
            "for customer group {g}, not {}",
            req.customer_group.unwrap_or("(none)")
        ));
    }
    if let Some(from) = l.valid_from
        && req.at < from
    {
        return Some(format!("not valid before {}", from.to_rfc3339()));
    }
    if let Some(until) = l.valid_until
        && req.at >= until
    {
        return Some(format!("expired at {}", until.to_rfc3339()));
    }
    None
}

fn applies(l: &PriceList, req: &PriceRequest<'_>) -> bool {
    l.channel.as_deref().is_none_or(|c| req.channel == Some(c))
        && l.customer_group
            .as_deref()
            .is_none_or(|g| req.customer_group == Some(g))
        && l.valid_from.is_none_or(|f| req.at >= f)
        && l.valid_until.is_none_or(|u| req.at < u)
}

/// `price × (100 + percent) / 100`, exact.
fn adjust(price: Decimal, percent: Decimal) -> Option<Decimal> {
    price
        .checked_mul(Decimal::ONE_HUNDRED + percent)?
        .checked_div(Decimal::ONE_HUNDRED)
}

/// The tier for `quantity`: the one with the highest `min_quantity` not above it.
fn tier_for(tiers: &[Tier], quantity: u32) -> Option<(usize, &Tier)> {
    tiers
        .iter()
        .enumerate()
        .rev()
        .find(|(_, t)| t.min_quantity <= quantity)
}

impl Compiled {
    /// Whether list `l` can give a price in `req.currency` (directly or through the rates).
    fn convertible(&self, l: &PriceList, req: &PriceRequest<'_>) -> bool {
        l.currency == req.currency
            || self
                .rates
                .as_ref()
                .is_some_and(|r| r.rate(l.currency).is_some() && r.rate(req.currency).is_some())
    }

    /// The list that prices the request, tracing every list passed over.
    fn choose<T: Trace>(
        &self,
        candidates: &[Candidate],
        req: &PriceRequest<'_>,
        t: &mut T,
    ) -> Option<Candidate> {
        let lists = &self.rules.price_lists;
        // Steps are built only when traced: the fast path formats nothing.
        let skip = |t: &mut T, l: &PriceList, why: &dyn Fn() -> String| {
            t.step(|| {
                Step::new(
                    format!("price_lists[{}]", l.id),
                    format!("{} in {}", req.sku, l.currency),
                    "skipped",
                    why(),
                )
            })
        };
        let usable = |t: &mut T, l: &PriceList| {
            if !applies(l, req) {
                skip(t, l, &|| skip_reason(l, req).unwrap_or_default());
                false
            } else if !self.convertible(l, req) {
                skip(t, l, &|| {
                    format!("no rate between {} and {}", l.currency, req.currency)
                });
                false
            } else {
                true
            }
        };
        match self.rules.currency_precedence {
            CurrencyPrecedence::First => {
                for converting in [false, true] {
                    for c in candidates {
                        let l = &lists[c.list as usize];
                        if (l.currency != req.currency) == converting && usable(t, l) {
                            return Some(*c);
                        }
                    }
                }
                None
            }
            CurrencyPrecedence::AfterSpecificity => {
                // Candidates are sorted by (priority, specificity) descending: the
                // first usable one wins unless it needs conversion and a list of the
                // same rank in the requested currency is usable too.
                let mut best: Option<Candidate> = None;
                for c in candidates {
                    let l = &lists[c.list as usize];
                    if let Some(b) = best {
                        let bl = &lists[b.list as usize];
                        if (l.priority, l.specificity()) != (bl.priority, bl.specificity()) {
                            break;
                        }
                        if l.currency == req.currency && usable(t, l) {
                            skip(t, bl, &|| {
                                format!(
                                    "needs conversion, and {} has the same priority and specificity in {}",
                                    l.id, req.currency
                                )
                            });
                            return Some(*c);
                        }
                        continue;
                    }
                    if usable(t, l) {
                        if l.currency == req.currency {
                            return Some(*c);
                        }
                        best = Some(*c);
                    }
                }
                best
            }
        }
    }

    fn evaluate<T: Trace>(&self, req: &PriceRequest<'_>, t: &mut T) -> Outcome {
        let lists = &self.rules.price_lists;
        // The tax rate is checked before anything else: a negative rate is a broken request.
        let tax = match req.tax {
            None => None,
            Some((rate, included)) => match Decimal::ONE.checked_add(rate) {
                Some(factor) if rate >= Decimal::ZERO => Some((rate, factor, included)),
                other => {
                    t.step(|| {
                        Step::new(
                            "tax",
                            format!("rate {rate}"),
                            "no price",
                            if other.is_none() {
                                "the tax rate is too large for a decimal".to_string()
                            } else {
                                format!("the tax rate {rate} is negative")
                            },
                        )
                    });
                    return Outcome::default();
                }
            },
        };
        let Some(candidates) = self.by_sku.get(req.sku) else {
            t.step(|| {
                Step::new(
                    "price_lists",
                    req.sku.to_string(),
                    "no price",
                    "no price list prices this SKU",
                )
            });
            return Outcome::default();
        };

        let Some(c) = self.choose(candidates, req, t) else {
            t.step(|| {
                Step::new(
                    "price_lists",
                    req.sku.to_string(),
                    "no price",
                    format!("no list for this request can price it in {}", req.currency),
                )
            });
            return Outcome::default();
        };
        let list = &lists[c.list as usize];
        let converted = list.currency != req.currency;
        t.step(|| {
            let why = match (self.rules.currency_precedence, converted) {
                (CurrencyPrecedence::AfterSpecificity, false) => format!(
                    "the first list that applies, by priority ({}), then channel/group specificity, then in {} before converted, then file order",
                    list.priority, req.currency
                ),
                (CurrencyPrecedence::AfterSpecificity, true) => format!(
                    "the first list that applies, by priority ({}) and channel/group specificity; none of the same rank is in {}, so its {} prices are converted",
                    list.priority, req.currency, list.currency
                ),
                (CurrencyPrecedence::First, false) => format!(
                    "the first list in {} that applies, by priority ({}), then channel/group specificity, then file order",
                    req.currency, list.priority
                ),
                (CurrencyPrecedence::First, true) => format!(
                    "no list in {} applies; the first list in another currency that applies, by priority ({})",
                    req.currency, list.priority
                ),
            };
            Step::new(format!("price_lists[{}]", list.id), req.sku.to_string(), "chosen", why)
        });

        let Some(mut price) = self.list_price(c.list, c, req.quantity, t) else {
            return self.overflow(t);
        };

        if converted {
            let rates = self.rates.as_ref();
            let Some(converted) = rates.and_then(|r| r.convert(price, list.currency, req.currency))
            else {
                return self.overflow(t);
            };
            t.step(|| {
                let rate = |c| rates.and_then(|r| r.rate(c)).unwrap_or_default();
                Step::new(
                    "rates",
                    format!("{price} {}", list.currency),
                    format!("{converted} {}", req.currency),
                    format!(
                        "x {} / {} (rates against the base, rounded once below)",
                        rate(req.currency),
                        rate(list.currency)
                    ),
                )
            });
            price = converted;
        }

        let mut tax_included = list.tax_included;
        if let Some((rate, factor, want_included)) = tax
            && want_included != list.tax_included
        {
            let Some(converted) = (if want_included {
                price.checked_mul(factor)
            } else {
                price.checked_div(factor)
            }) else {
                return self.overflow(t);
            };
            t.step(|| {
                Step::new(
                    "tax",
                    price.to_string(),
                    converted.to_string(),
                    if want_included {
                        format!("list prices exclude tax: x (1 + {rate})")
                    } else {
                        format!("list prices include tax: / (1 + {rate})")
                    },
                )
            });
            price = converted;
            tax_included = want_included;
        }

        let mode = self.rules.rounding;
        let rounded = Money::new(price, req.currency).round(mode);
        t.step(|| {
            Step::new(
                "rounding",
                price.to_string(),
                rounded.to_string(),
                format!("{mode:?} to {} decimals", req.currency.minor_units()),
            )
        });
        let mut unit = rounded;

        // The ending, when it applies to this price (converted, or every price).
        let ending = self
            .rules
            .endings
            .iter()
            .find(|e| e.currency == req.currency);
        let ending_applies = ending.filter(|e| e.apply_to == EndingScope::All || converted);
        match ending {
            Some(_) if ending_applies.is_none() => t.step(|| {
                Step::new(
                    format!("endings[{}]", req.currency),
                    unit.to_string(),
                    unit.to_string(),
                    "not applied: the ending applies to converted prices (apply_to = \"converted\") and this price is the list's own",
                )
            }),
            Some(_) if unit.is_zero() => t.step(|| {
                Step::new(
                    format!("endings[{}]", req.currency),
                    unit.to_string(),
                    unit.to_string(),
                    "not applied: a zero price is never moved",
                )
            }),
            Some(e) => {
                let moved = Money::new(apply_ending(unit.amount(), e, e.direction), req.currency);
                t.step(|| {
                    Step::new(
                        format!("endings[{}]", req.currency),
                        unit.to_string(),
                        moved.to_string(),
                        format!(
                            "{:?} on the grid k x {} + {}",
                            e.direction, e.step, e.ending
                        ),
                    )
                });
                unit = moved;
            }
            None => {}
        }

        let below_map = self.map_guard(
            req,
            tax.map(|(_, f, _)| f),
            tax_included,
            ending_applies,
            &mut unit,
            t,
        );
        Outcome {
            unit: Some(unit),
            list: Some(c.list),
            below_map,
            tax_included,
        }
    }

    /// The minimum advertised price guard, on the minimum's tax basis; returns
    /// whether the price is left below it (flag mode).
    fn map_guard<T: Trace>(
        &self,
        req: &PriceRequest<'_>,
        factor: Option<Decimal>,
        tax_included: bool,
        ending: Option<&super::config::PriceEnding>,
        unit: &mut Money,
        t: &mut T,
    ) -> bool {
        let Some(rules) = self.map.get(req.sku) else {
            return false;
        };
        let Some(m) = rules
            .iter()
            .map(|&i| &self.rules.map[i as usize])
            .find(|m| m.currency == req.currency)
        else {
            t.step(|| {
                let mut in_: Vec<&str> = rules
                    .iter()
                    .map(|&i| self.rules.map[i as usize].currency.code())
                    .collect();
                in_.dedup();
                Step::new(
                    format!("map[{}]", req.sku),
                    unit.to_string(),
                    unit.to_string(),
                    format!(
                        "not checked: the minimum advertised price is set in {} only, and MAP applies per currency (add a rule in {} to guard these prices)",
                        in_.join(", "),
                        req.currency
                    ),
                )
            });
            return false;
        };
        let rule = || format!("map[{}]", m.sku);
        let basis = |inc: bool| if inc { "tax-inclusive" } else { "net" };
        // The price on the minimum's basis (exact), and how to bring a minimum back to the price's.
        let (compared, to_price_basis): (Option<Decimal>, Option<Decimal>) = match (
            tax_included == m.tax_included,
            factor,
        ) {
            (true, _) => (Some(unit.amount()), Some(m.price)),
            (false, None) => {
                t.step(|| {
                        Step::new(
                            rule(),
                            unit.to_string(),
                            unit.to_string(),
                            format!(
                                "not checked: the price is {} and the minimum {} {}, and the request gives no tax rate to compare them",
                                basis(tax_included),
                                basis(m.tax_included),
                                m.price
                            ),
                        )
                    });
                return false;
            }
            (false, Some(f)) if m.tax_included => {
                (unit.amount().checked_mul(f), m.price.checked_div(f))
            }
            (false, Some(f)) => (unit.amount().checked_div(f), m.price.checked_mul(f)),
        };
        let (Some(compared), Some(minimum)) = (compared, to_price_basis) else {
            t.step(|| {
                Step::new(
                    rule(),
                    unit.to_string(),
                    unit.to_string(),
                    "not checked: the numbers are too large for a decimal",
                )
            });
            return false;
        };
        let on = if tax_included == m.tax_included {
            String::new()
        } else {
            format!(
                " ({} {} on its {} basis)",
                basis(m.tax_included),
                compared.round_dp(6),
                basis(m.tax_included)
            )
        };
        let before = *unit;
        if compared >= m.price {
            t.step(|| {
                Step::new(
                    rule(),
                    before.to_string(),
                    before.to_string(),
                    format!(
                        "at or above the minimum advertised price {} {}{on}",
                        m.price,
                        basis(m.tax_included)
                    ),
                )
            });
            return false;
        }
        match self.rules.map_action {
            MapAction::Raise => {
                // Up to the minimum on the price's basis, rounded up so it stays at or above it.
                let mut raised = Money::new(minimum, req.currency)
                    .round(crate::model::RoundingMode::Ceiling)
                    .amount();
                if let Some(e) = ending {
                    raised = apply_ending(raised, e, EndingDirection::Up);
                }
                let raised = Money::new(raised, req.currency);
                t.step(|| {
                    Step::new(
                        rule(),
                        before.to_string(),
                        raised.to_string(),
                        format!(
                            "below the minimum advertised price {} {}{on}: raised{}",
                            m.price,
                            basis(m.tax_included),
                            if ending.is_some() {
                                " (to the next price ending)"
                            } else {
                                ""
                            }
                        ),
                    )
                });
                *unit = raised;
                false
            }
            MapAction::Flag => {
                t.step(|| {
                    Step::new(
                        rule(),
                        before.to_string(),
                        before.to_string(),
                        format!(
                            "below the minimum advertised price {} {}{on}: flagged, not changed",
                            m.price,
                            basis(m.tax_included)
                        ),
                    )
                });
                true
            }
        }
    }

    /// The unrounded price of list `list` for the candidate's SKU: the entry's
    /// price and tier at the source, then each derived list's adjustment and
    /// list-wide tier back up the chain.
    fn list_price<T: Trace>(
        &self,
        list: u32,
        c: Candidate,
        quantity: u32,
        t: &mut T,
    ) -> Option<Decimal> {
        let l = &self.rules.price_lists[list as usize];
        let mut price;
        let mut own_tier = false;
        if list == c.source {
            let e = &l.prices[c.entry as usize];
            price = e.price;
            t.step(|| {
                Step::new(
                    format!("price_lists[{}].prices[{}]", l.id, e.sku),
                    format!("{} x {quantity}", e.sku),
                    format!("{price} {}", l.currency),
                    "the SKU's price in this list",
                )
            });
            if let Some((k, tier)) = tier_for(&e.tiers, quantity) {
                price = self.apply_tier(price, tier, t, || {
                    format!("price_lists[{}].prices[{}].tiers[{k}]", l.id, e.sku)
                })?;
                own_tier = true;
            }
        } else {
            let base = self.bases[list as usize]?;
            let inherited = self.list_price(base, c, quantity, t)?;
            price = inherited;
            if let Some(pct) = l.adjustment_percent {
                price = adjust(price, pct)?;
                t.step(|| {
                    Step::new(
                        format!("price_lists[{}].adjustment_percent", l.id),
                        inherited.to_string(),
                        price.to_string(),
                        format!(
                            "based on {}: {pct:+}%",
                            self.rules.price_lists[base as usize].id
                        ),
                    )
                });
            }
        }
        if !own_tier && let Some((k, tier)) = tier_for(&l.tiers, quantity) {
            price = self.apply_tier(price, tier, t, || {
                format!("price_lists[{}].tiers[{k}]", l.id)
            })?;
        }
        Some(price)
    }

    fn apply_tier<T: Trace>(
        &self,
        price: Decimal,
        tier: &Tier,
        t: &mut T,
        rule: impl FnOnce() -> String,
    ) -> Option<Decimal> {
        let out = match (tier.price, tier.percent) {
            (Some(p), _) => p,
            (None, Some(pct)) => adjust(price, pct)?,
            (None, None) => price,
        };
        t.step(|| {
            let why = match tier.percent {
                Some(pct) if tier.price.is_none() => {
                    format!("quantity break from {} units: {pct:+}%", tier.min_quantity)
                }
                _ => format!(
                    "quantity break from {} units: fixed price",
                    tier.min_quantity
                ),
            };
            Step::new(rule(), price.to_string(), out.to_string(), why)
        });
        Some(out)
    }

    fn overflow<T: Trace>(&self, t: &mut T) -> Outcome {
        t.step(|| {
            Step::new(
                "arithmetic",
                "",
                "no price",
                "the numbers are too large for a decimal",
            )
        });
        Outcome::default()
    }
}
