//! A routing decision: allocations per line and location, shortfalls, and
//! the trace of why each location was chosen or skipped.

use std::sync::Arc;

use super::config::{Criterion, FallbackAction};
use super::engine::{Compiled, SEARCH_BUDGET};
use crate::model::{GeoPoint, LocationId, Sku};
use crate::rules::explain::Explanation;
use crate::rules::geo::haversine_metres;

/// Distance not computed yet (it is computed only when a ranking needs it).
pub(super) const NOT_COMPUTED: u64 = u64::MAX;
/// Distance unknown (no destination or no coordinates): ranks after every real distance.
pub(super) const UNKNOWN_DISTANCE: u64 = 1 << 40;

/// Whether a location could take part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LocStatus {
    Eligible,
    Inactive,
    NotServed,
    NoAddress,
}

/// What routing learned about one location.
#[derive(Debug, Clone, Copy)]
pub(super) struct LocTrace {
    pub(super) status: LocStatus,
    pub(super) same_day: bool,
    /// Demands it can help with (bit j = demand j, the first 64): a whole
    /// line it has in full, or some units of what may split.
    pub(super) mask: u64,
    /// Units it could ship, partially.
    pub(super) units: u64,
    /// SKUs of the order it has in full (every line of them).
    pub(super) whole: u32,
    pub(super) distance: u64,
    pub(super) shipped: bool,
}

/// How the plan was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Plan {
    Empty,
    Single,
    Cover(u32),
    Greedy(u32),
    FallbackLocation,
    BestPartial,
    Rejected,
    Nothing,
}

/// How the search for the fewest shipments ended, when it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Search {
    /// A single location had everything, or the order may not split.
    NotNeeded,
    /// Every set of up to `max_shipments` locations was tried.
    Exhausted,
    /// The combination budget ran out first.
    BudgetHit,
    /// More than 64 demands: no exhaustive search.
    TooManyLines,
}

/// The units of one line (or of the lines of a SKU that may split) the order asked for.
#[derive(Debug, Clone)]
pub(super) struct DemandTrace {
    pub(super) sku: Sku,
    pub(super) quantity: u64,
    pub(super) splittable: bool,
}

/// The outcome of routing an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RoutingStatus {
    /// Every unit ships from stock.
    Filled,
    /// Some units are backordered (see [`RoutingDecision::shortfalls`]).
    Backordered,
    /// Nothing is routed: not every unit could ship and the fallback rejects partial routing.
    Rejected,
}

/// Units of one order line shipped from one location.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct LineAllocation {
    /// Index of the line in `order.lines`.
    pub line: usize,
    /// The location shipping it.
    pub location: LocationId,
    /// Units, never more than the location has.
    pub quantity: u64,
}

/// Units of one order line that no location ships now.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Shortfall {
    /// Index of the line in `order.lines`.
    pub line: usize,
    /// Units missing.
    pub quantity: u64,
    /// Where they are backordered, if at a location.
    pub backorder_at: Option<LocationId>,
}

/// Where an order ships from, and why.
#[derive(Debug, Clone)]
pub struct RoutingDecision {
    pub(super) compiled: Arc<Compiled>,
    pub(super) order: String,
    pub(super) place: String,
    pub(super) destination: Option<GeoPoint>,
    pub(super) status: RoutingStatus,
    pub(super) allocations: Vec<LineAllocation>,
    pub(super) shortfalls: Vec<Shortfall>,
    pub(super) locations: Vec<LocTrace>,
    pub(super) demands: Vec<DemandTrace>,
    /// Distinct SKUs in the order.
    pub(super) skus: u32,
    /// Each order line's demand (`NO_DEMAND` for a line of quantity 0).
    pub(super) line_demand: Vec<u32>,
    pub(super) plan: Plan,
    pub(super) search: Search,
    /// The fallback location was not eligible for this order, so it took nothing.
    pub(super) fallback_skipped: bool,
    pub(super) split: (bool, bool, u32),
}

impl RoutingDecision {
    /// Filled, backordered or rejected.
    pub fn status(&self) -> RoutingStatus {
        self.status
    }

    /// True when every unit ships from stock.
    pub fn is_filled(&self) -> bool {
        self.status == RoutingStatus::Filled
    }

    /// Units per line and location, in line order.
    pub fn allocations(&self) -> &[LineAllocation] {
        &self.allocations
    }

    /// Units that do not ship now.
    pub fn shortfalls(&self) -> &[Shortfall] {
        &self.shortfalls
    }

    /// The locations shipping, in order of first allocation (one shipment each).
    pub fn shipments(&self) -> Vec<&LocationId> {
        let mut out: Vec<&LocationId> = Vec::new();
        for a in &self.allocations {
            if !out.contains(&&a.location) {
                out.push(&a.location);
            }
        }
        out
    }

    /// The order number.
    pub fn order(&self) -> &str {
        &self.order
    }

    /// Why each location was chosen or skipped, how the plan was found, and
    /// what happened to units that could not ship.
    pub fn explain(&self) -> Explanation {
        let c = &*self.compiled;
        let rules = &c.rules;
        let mut x = Explanation::new(format!("routing of order {} to {}", self.order, self.place));
        for (j, dm) in self.demands.iter().enumerate() {
            let lines: Vec<String> = (0..self.line_demand.len())
                .filter(|&l| self.line_demand[l] == j as u32)
                .map(|l| format!("#{l}"))
                .collect();
            if lines.len() > 1 {
                x.add(
                    "order",
                    format!("{} on lines {}", dm.sku, lines.join(", ")),
                    format!("{} x{}", dm.sku, dm.quantity),
                    "lines of the same SKU that may split are routed together",
                );
            }
        }
        // Whole lines of one SKU stay apart; say so once per SKU.
        let mut told: Vec<&Sku> = Vec::new();
        for dm in self.demands.iter().filter(|dm| !dm.splittable) {
            let same: Vec<String> = (0..self.line_demand.len())
                .filter(|&l| {
                    self.demands
                        .get(self.line_demand[l] as usize)
                        .is_some_and(|o| !o.splittable && o.sku == dm.sku)
                })
                .map(|l| format!("#{l}"))
                .collect();
            if same.len() > 1 && !told.contains(&&dm.sku) {
                told.push(&dm.sku);
                x.add(
                    "order",
                    format!("{} on lines {}", dm.sku, same.join(", ")),
                    "separate whole lines",
                    "each line ships whole from one location, and lines sent to one location never need more than it has",
                );
            }
        }
        let chosen: Vec<usize> = (0..self.locations.len())
            .filter(|&i| self.locations[i].shipped)
            .collect();
        let order_by: Vec<&str> = rules.order_by.iter().map(|c| criterion_name(*c)).collect();

        for (i, (l, t)) in rules.locations.iter().zip(&self.locations).enumerate() {
            let rule = format!("locations[{}]", l.id);
            let areas = || {
                let a: Vec<String> = l
                    .serves
                    .iter()
                    .map(|s| {
                        if s.regions.is_empty() {
                            s.country.clone()
                        } else {
                            format!("{}/{}", s.country, s.regions.join("|"))
                        }
                    })
                    .collect();
                a.join(", ")
            };
            match t.status {
                LocStatus::Inactive => x.add(rule, self.place.clone(), "skipped", "inactive"),
                LocStatus::NotServed => x.add(
                    rule,
                    self.place.clone(),
                    "skipped",
                    format!("does not serve {} (serves {})", self.place, areas()),
                ),
                LocStatus::NoAddress => x.add(
                    rule,
                    self.place.clone(),
                    "skipped",
                    format!(
                        "the order has no shipping address and this location serves only {}",
                        areas()
                    ),
                ),
                LocStatus::Eligible => {
                    let total: u64 = self.demands.iter().map(|dm| dm.quantity).sum();
                    let input = format!(
                        "has {} of {} SKU(s) in full, {} of {total} unit(s)",
                        t.whole, self.skus, t.units
                    );
                    if t.units == 0 {
                        x.add(rule, input, "skipped", "no stock for any line");
                        continue;
                    }
                    let metrics = self.metrics(i);
                    if t.shipped {
                        let parts: Vec<String> = self
                            .allocations
                            .iter()
                            .filter(|a| a.location == l.id)
                            .map(|a| format!("line #{} x{}", a.line, a.quantity))
                            .collect();
                        x.add(rule, input, format!("ships {}", parts.join(", ")), metrics);
                    } else {
                        let why = self.not_chosen_reason(i, t, &chosen);
                        x.add(rule, input, "not chosen", format!("{metrics}; {why}"));
                    }
                }
            }
        }

        let (order_split, line_split, max) = self.split;
        let policy = format!(
            "order split {}, line split {}, at most {max} shipment(s)",
            if order_split { "allowed" } else { "forbidden" },
            if line_split { "allowed" } else { "forbidden" }
        );
        let names: Vec<&str> = chosen
            .iter()
            .map(|&i| rules.locations[i].id.as_str())
            .collect();
        let output = if names.is_empty() {
            "no shipment".to_string()
        } else {
            format!("{} shipment(s): {}", names.len(), names.join(", "))
        };
        let criteria = order_by.join(", ");
        let whole = if line_split {
            "lines that may split spread over them, the others whole"
        } else {
            "every line whole"
        };
        let why = match self.plan {
            Plan::Empty => "the order has no line with a quantity".to_string(),
            Plan::Single => format!("one location ships every line; the best by {criteria}"),
            Plan::Cover(k) => format!(
                "no single location ships every line; {k} locations ship everything ({whole}), the fewest possible (every smaller set was tried), best by summed {criteria}"
            ),
            Plan::Greedy(_) => match self.search {
                Search::BudgetHit => format!(
                    "the search for the fewest shipments stopped after {SEARCH_BUDGET} combinations of locations; units placed greedily where most can ship{} — the plan may use more shipments than needed",
                    if line_split { ", splitting lines" } else { ", whole lines only" },
                ),
                Search::TooManyLines => format!(
                    "more than 64 lines to place: no exhaustive search; units placed greedily where most can ship{}",
                    if line_split { ", splitting lines" } else { ", whole lines only" },
                ),
                _ => format!(
                    "no {} ships everything ({whole}; every such set was tried); units placed greedily where most can ship, the rest goes to the fallback",
                    if max >= 2 { format!("set of at most {max} locations") } else { "single location".to_string() },
                ),
            },
            Plan::FallbackLocation => "splitting is forbidden and no location ships everything: the fallback location takes the order".to_string(),
            Plan::BestPartial => "splitting is forbidden and no location ships everything: the location that can ship the most units takes the order, the rest is backordered there".to_string(),
            Plan::Rejected => "not every unit can ship and the fallback rejects partial routing: nothing is routed".to_string(),
            Plan::Nothing => "no eligible location can ship any line under the split policy".to_string(),
        };
        x.add("plan", policy, output, why);
        if self.fallback_skipped
            && let Some(f) = c.fallback_location
        {
            let t = &self.locations[f as usize];
            let reason = match t.status {
                LocStatus::NotServed => format!("it does not serve {}", self.place),
                LocStatus::NoAddress => {
                    "the order has no shipping address and it serves only some countries"
                        .to_string()
                }
                _ => "it is not eligible".to_string(),
            };
            x.add(
                "fallback",
                format!("fallback location {}", rules.locations[f as usize].id),
                "not used",
                format!("{reason}: it takes nothing from this order, and what cannot ship is backordered without it"),
            );
        }

        for s in &self.shortfalls {
            let sku = self
                .line_demand
                .get(s.line)
                .and_then(|&j| self.demands.get(j as usize))
                .map_or("?", |dm| dm.sku.as_str());
            let (output, why) = match (rules.fallback.action, &s.backorder_at) {
                (FallbackAction::Reject, _) => {
                    ("not routed".to_string(), "fallback: reject".to_string())
                }
                (_, Some(at)) => (
                    format!("backorder at {at}"),
                    if rules.fallback.action == FallbackAction::Location && !self.fallback_skipped {
                        "fallback: the fallback location".to_string()
                    } else {
                        "fallback: backorder where the order ships".to_string()
                    },
                ),
                (_, None) => (
                    "backordered, no location".to_string(),
                    "fallback: backorder".to_string(),
                ),
            };
            x.add(
                "fallback",
                format!("line #{} {sku} x{}", s.line, s.quantity),
                output,
                why,
            );
        }
        x
    }

    /// "priority 1, distance 12 km, cost 7.50 USD, ships today"
    fn metrics(&self, i: usize) -> String {
        let c = &*self.compiled;
        let l = &c.rules.locations[i];
        let t = &self.locations[i];
        let mut parts = vec![format!("priority {}", l.priority)];
        let distance = match (&self.destination, &l.coordinates) {
            (Some(to), Some(from)) => format!("distance {} km", haversine_metres(from, to) / 1000),
            _ => "distance unknown".to_string(),
        };
        parts.push(distance);
        if let (Some(cost), Some(cur)) = (l.cost_per_shipment, c.rules.currency) {
            parts.push(format!("cost {cost} {cur}"));
        }
        parts.push(match (t.same_day, l.cutoff) {
            (true, _) => "ships today".to_string(),
            (false, Some(cutoff)) => format!(
                "after its {} {} cutoff",
                cutoff.format("%H:%M"),
                l.timezone.map_or("UTC", |tz| tz.name())
            ),
            (false, None) => "ships later".to_string(),
        });
        parts.join(", ")
    }

    fn not_chosen_reason(&self, i: usize, t: &LocTrace, chosen: &[usize]) -> String {
        let rules = &self.compiled.rules;
        match self.plan {
            Plan::Single => {
                let Some(&c) = chosen.first() else {
                    return String::new();
                };
                let other = &rules.locations[c].id;
                if t.whole != self.skus {
                    return format!("cannot ship every line whole; {other} can");
                }
                for &criterion in &rules.order_by {
                    let (vi, vc) = (self.value(i, criterion), self.value(c, criterion));
                    if vi != vc {
                        return format!(
                            "ranks after {other} on {} ({} vs {})",
                            criterion_name(criterion),
                            self.show(criterion, vi),
                            self.show(criterion, vc)
                        );
                    }
                }
                format!("tied with {other}, which comes first in the rules")
            }
            Plan::Cover(k) => format!("not in the best plan of {k} shipments"),
            Plan::Greedy(_) => "other locations could ship more of what was left, or the shipment limit was reached".to_string(),
            Plan::BestPartial => "another location can ship more units".to_string(),
            Plan::FallbackLocation => "splitting is forbidden and the fallback location takes the order".to_string(),
            Plan::Rejected => "the order was rejected".to_string(),
            Plan::Empty | Plan::Nothing => String::new(),
        }
    }

    fn value(&self, i: usize, criterion: Criterion) -> u64 {
        let c = &*self.compiled;
        match criterion {
            Criterion::SameDay => u64::from(!self.locations[i].same_day),
            Criterion::Priority => u64::from(c.rules.locations[i].priority),
            Criterion::Distance => match (&self.destination, &c.rules.locations[i].coordinates) {
                (Some(to), Some(from)) => haversine_metres(from, to),
                _ => UNKNOWN_DISTANCE,
            },
            Criterion::Cost => c.cost_minor[i],
        }
    }

    fn show(&self, criterion: Criterion, v: u64) -> String {
        match criterion {
            Criterion::SameDay => (if v == 0 { "today" } else { "after cutoff" }).to_string(),
            Criterion::Distance if v == UNKNOWN_DISTANCE => "unknown".to_string(),
            Criterion::Distance => format!("{} km", v / 1000),
            Criterion::Cost => {
                let cur = self.compiled.rules.currency;
                let minor = cur.map_or(0, |c| c.minor_units());
                let amount =
                    rust_decimal::Decimal::new(i64::try_from(v).unwrap_or(i64::MAX), minor);
                match cur {
                    Some(c) => format!("{amount} {c}"),
                    None => amount.to_string(),
                }
            }
            Criterion::Priority => v.to_string(),
        }
    }
}

fn criterion_name(c: Criterion) -> &'static str {
    match c {
        Criterion::SameDay => "same_day",
        Criterion::Priority => "priority",
        Criterion::Distance => "distance",
        Criterion::Cost => "cost",
    }
}
