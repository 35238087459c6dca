//! Choosing fulfilment locations for an order.

use std::cmp::Ordering;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::config::{Criterion, FallbackAction, RoutingRules};
use super::decision::{
    DemandTrace, LineAllocation, LocStatus, LocTrace, NOT_COMPUTED, Plan, RoutingDecision,
    RoutingStatus, Shortfall, UNKNOWN_DISTANCE,
};
use super::stock::{LocationIndex, Stock};
use crate::error::{Error, Result};
use crate::model::{GeoPoint, Order, Sku};
use crate::rules::geo::haversine_metres;

/// Combinations of locations tried when looking for the fewest shipments;
/// beyond it the remaining units are placed greedily.
const SEARCH_BUDGET: u32 = 20_000;

/// Checked routing rules, indexed for routing. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct RoutingEngine {
    compiled: Arc<Compiled>,
}

#[derive(Debug)]
pub(super) struct Compiled {
    pub(super) rules: RoutingRules,
    pub(super) locations: Arc<LocationIndex>,
    pub(super) cost_minor: Vec<u64>,
    pub(super) fallback_location: Option<u32>,
}

/// What routing needs beyond the order: when it is routed (for carrier
/// cutoffs), where it goes (for distances), and split overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouteContext {
    /// When the order is routed; cutoffs are ignored without it.
    pub at: Option<DateTime<Utc>>,
    /// The destination's coordinates; distances are unknown without it.
    pub destination: Option<GeoPoint>,
    /// Overrides the rules' `split.order` for this order.
    pub order_split: Option<bool>,
    /// Overrides the rules' `split.line` for this order.
    pub line_split: Option<bool>,
    /// Ids of lines that must not be split even when lines may be.
    pub unsplittable_lines: Vec<String>,
}

impl RouteContext {
    /// No time, no destination, the rules' split policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routed at `at`.
    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.at = Some(at);
        self
    }

    /// Going to `point`.
    pub fn destination(mut self, point: GeoPoint) -> Self {
        self.destination = Some(point);
        self
    }

    /// Allows or forbids splitting this order over locations.
    pub fn order_split(mut self, allowed: bool) -> Self {
        self.order_split = Some(allowed);
        self
    }

    /// Allows or forbids splitting this order's lines over locations.
    pub fn line_split(mut self, allowed: bool) -> Self {
        self.line_split = Some(allowed);
        self
    }

    /// Forbids splitting the line `line_id`.
    pub fn no_split_line(mut self, line_id: impl Into<String>) -> Self {
        self.unsplittable_lines.push(line_id.into());
        self
    }
}

impl RoutingEngine {
    /// Checks the rules and indexes them.
    pub fn new(rules: RoutingRules) -> Result<Self> {
        rules.validate()?;
        let ids = rules.locations.iter().map(|l| l.id.clone()).collect();
        let locations = Arc::new(LocationIndex::new(ids));
        let minor = rules.currency.map_or(0, |c| c.minor_units());
        let cost_minor = rules
            .locations
            .iter()
            .map(|l| {
                l.cost_per_shipment.map_or(0, |c| {
                    let scaled = c * rust_decimal::Decimal::from(10u64.pow(minor));
                    u64::try_from(scaled.trunc().mantissa()).unwrap_or(u64::MAX)
                })
            })
            .collect();
        let fallback_location = rules
            .fallback
            .location
            .as_ref()
            .and_then(|l| locations.index.get(l).copied());
        Ok(RoutingEngine {
            compiled: Arc::new(Compiled {
                rules,
                locations,
                cost_minor,
                fallback_location,
            }),
        })
    }

    /// Parses, checks and indexes rules from TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self> {
        Self::new(RoutingRules::from_toml_str(text)?)
    }

    /// The rules.
    pub fn rules(&self) -> &RoutingRules {
        &self.compiled.rules
    }

    /// An empty stock table for this engine's locations.
    pub fn stock(&self) -> Stock {
        Stock::new(Arc::clone(&self.compiled.locations))
    }

    /// Chooses the locations that ship `order`.
    ///
    /// Locations are eligible when active and serving the shipping address's
    /// country and region. Lines with the same SKU are routed together. The
    /// plan has the fewest shipments: one location with every line if any;
    /// else (when the order may split) the smallest set of locations that
    /// ship whole lines (at most `max_shipments`); else, units placed
    /// greedily where most can ship (splitting lines only when allowed).
    /// Plans with as many shipments are ranked by `order_by` (summed over
    /// their locations). What is left goes to the fallback. No location is
    /// ever given more than its stock.
    ///
    /// Errors: `stock` was made by another engine.
    pub fn route(
        &self,
        order: &Order,
        stock: &Stock,
        ctx: &RouteContext,
    ) -> Result<RoutingDecision> {
        let c = &*self.compiled;
        if !Arc::ptr_eq(&stock.locations, &c.locations) {
            return Err(Error::config(
                "the stock table was made for another routing engine; build it with RoutingEngine::stock",
            )
            .with_key(order.number.clone()));
        }
        let order_split = ctx.order_split.unwrap_or(c.rules.split.order);
        let line_split = ctx.line_split.unwrap_or(c.rules.split.line) && order_split;
        let max_shipments = if order_split {
            c.rules.split.max_shipments.max(1) as usize
        } else {
            1
        };

        // Demands: one per SKU; `line_demand[i]` is line i's demand (NO_DEMAND for quantity 0).
        let mut demands: Vec<Demand<'_>> = Vec::with_capacity(order.lines.len());
        let mut line_demand: Vec<u32> = Vec::with_capacity(order.lines.len());
        for line in &order.lines {
            if line.quantity == 0 {
                line_demand.push(NO_DEMAND);
                continue;
            }
            let splittable = line_split && !ctx.unsplittable_lines.contains(&line.id);
            match demands.iter().position(|d| d.sku == &line.sku) {
                Some(j) => {
                    let d = &mut demands[j];
                    d.quantity += u64::from(line.quantity);
                    d.splittable &= splittable;
                    line_demand.push(j as u32);
                }
                None => {
                    line_demand.push(demands.len() as u32);
                    demands.push(Demand {
                        sku: &line.sku,
                        quantity: u64::from(line.quantity),
                        splittable,
                        stock: stock.by_sku.get(&line.sku).map(Vec::as_slice),
                    });
                }
            }
        }

        let address = order.shipping_address.as_ref();
        let country = address.map(|a| a.country.as_str());
        let region = address.and_then(|a| a.region.as_deref());
        let mut run = Run {
            c,
            destination: ctx.destination,
            locs: Vec::with_capacity(c.rules.locations.len()),
            candidates: Vec::new(),
            demands,
        };
        run.assess(country, region, ctx.at);

        // Parts of the plan: (demand, location, units), in the order they were placed.
        let mut parts: Vec<(u32, u32, u64)> = Vec::new();
        let mut plan = Plan::Empty;
        let mut budget_hit = false;
        let d = run.demands.len();
        if d > 0 {
            plan = Plan::Nothing;
            if let Some(best) = run.single() {
                plan = Plan::Single;
                for (j, dem) in run.demands.iter().enumerate() {
                    parts.push((j as u32, best as u32, dem.quantity));
                }
            } else if order_split {
                let cover = if (2..=64).contains(&d) && max_shipments >= 2 {
                    run.cover(max_shipments, &mut budget_hit)
                } else {
                    None
                };
                if let Some(locations) = cover {
                    plan = Plan::Cover(locations.len() as u32);
                    for j in 0..d {
                        let bit = 1u64 << j;
                        let mut best: Option<usize> = None;
                        for &l in &locations {
                            if run.locs[l].mask & bit != 0 {
                                best = match best {
                                    Some(b) if run.compare(l, b) != Ordering::Less => Some(b),
                                    _ => Some(l),
                                };
                            }
                        }
                        if let Some(b) = best {
                            parts.push((j as u32, b as u32, run.demands[j].quantity));
                        }
                    }
                } else {
                    let shipments = run.greedy(max_shipments, &mut parts);
                    if shipments > 0 {
                        plan = Plan::Greedy(shipments);
                    }
                }
            } else {
                let whole_order_at = match c.rules.fallback.action {
                    FallbackAction::Location => c
                        .fallback_location
                        .map(|x| (x as usize, Plan::FallbackLocation)),
                    FallbackAction::Backorder => run.best_partial().map(|b| (b, Plan::BestPartial)),
                    _ => None,
                };
                if let Some((at, p)) = whole_order_at {
                    plan = p;
                    for (j, dem) in run.demands.iter().enumerate() {
                        let q = dem.at(at).min(dem.quantity);
                        if q > 0 {
                            parts.push((j as u32, at as u32, q));
                        }
                    }
                }
            }
        }

        let short = {
            let mut placed = vec![0u64; d];
            for &(j, _, q) in &parts {
                placed[j as usize] += q;
            }
            run.demands
                .iter()
                .zip(&placed)
                .any(|(dem, p)| *p < dem.quantity)
        };
        let reject = short && c.rules.fallback.action == FallbackAction::Reject;
        if reject {
            plan = Plan::Rejected;
            parts.clear();
        }
        let backorder_at: Option<u32> = match (c.rules.fallback.action, plan) {
            (FallbackAction::Location, _) => c.fallback_location,
            (FallbackAction::Backorder, Plan::BestPartial) => parts.first().map(|p| p.1),
            _ => None,
        };

        // Back to lines, in line order: each demand's parts are consumed in placement order.
        let mut allocations = Vec::with_capacity(parts.len().max(order.lines.len()));
        let mut shortfalls = Vec::new();
        // Per demand: next index into `parts` to scan, units left in the current part, its location.
        let mut cursor: Vec<(usize, u64, u32)> = vec![(0, 0, 0); d];
        let mut last: Option<(usize, u32)> = None;
        for (li, line) in order.lines.iter().enumerate() {
            let j = line_demand[li];
            if j == NO_DEMAND {
                continue;
            }
            let cur = &mut cursor[j as usize];
            let mut need = u64::from(line.quantity);
            while need > 0 {
                if cur.1 == 0 {
                    match parts[cur.0..].iter().position(|p| p.0 == j) {
                        Some(k) => {
                            let (_, loc, q) = parts[cur.0 + k];
                            *cur = (cur.0 + k + 1, q, loc);
                        }
                        None => break,
                    }
                }
                let take = need.min(cur.1);
                run.locs[cur.2 as usize].shipped = true;
                match allocations.last_mut() {
                    Some(LineAllocation { quantity, .. }) if last == Some((li, cur.2)) => {
                        *quantity += take
                    }
                    _ => allocations.push(LineAllocation {
                        line: li,
                        location: c.locations.ids[cur.2 as usize].clone(),
                        quantity: take,
                    }),
                }
                last = Some((li, cur.2));
                need -= take;
                cur.1 -= take;
            }
            if need > 0 {
                shortfalls.push(Shortfall {
                    line: li,
                    quantity: need,
                    backorder_at: backorder_at.map(|l| c.locations.ids[l as usize].clone()),
                });
            }
        }
        let status = if reject {
            RoutingStatus::Rejected
        } else if shortfalls.is_empty() {
            RoutingStatus::Filled
        } else {
            RoutingStatus::Backordered
        };
        let place = match (country, region) {
            (Some(c), Some(r)) => format!("{c}/{r}"),
            (Some(c), None) => c.to_string(),
            _ => "(no shipping address)".to_string(),
        };
        Ok(RoutingDecision {
            compiled: Arc::clone(&self.compiled),
            order: order.number.clone(),
            place,
            destination: ctx.destination,
            status,
            allocations,
            shortfalls,
            locations: run.locs,
            demands: run
                .demands
                .into_iter()
                .map(|d| DemandTrace {
                    sku: d.sku.clone(),
                    quantity: d.quantity,
                })
                .collect(),
            line_demand,
            plan,
            budget_hit,
            split: (order_split, line_split, max_shipments as u32),
        })
    }
}

/// Country codes are two letters: compare them without a call to memcmp.
fn same_code(a: &str, b: &str) -> bool {
    match (a.as_bytes(), b.as_bytes()) {
        ([a0, a1], [b0, b1]) => a0 == b0 && a1 == b1,
        (a, b) => a == b,
    }
}

/// `line_demand` of a line with quantity 0.
pub(super) const NO_DEMAND: u32 = u32::MAX;

/// The units of one SKU an order asks for.
struct Demand<'a> {
    sku: &'a Sku,
    quantity: u64,
    splittable: bool,
    stock: Option<&'a [u64]>,
}

impl Demand<'_> {
    fn at(&self, location: usize) -> u64 {
        self.stock.map_or(0, |s| s[location])
    }
}

/// One routing decision in progress.
struct Run<'a> {
    c: &'a Compiled,
    destination: Option<GeoPoint>,
    locs: Vec<LocTrace>,
    /// Eligible locations that have some stock for the order, in rule order.
    candidates: Vec<u32>,
    demands: Vec<Demand<'a>>,
}

impl Run<'_> {
    /// Eligibility, cutoff and what each location can ship.
    fn assess(&mut self, country: Option<&str>, region: Option<&str>, at: Option<DateTime<Utc>>) {
        let time = at.map(|t| t.time());
        for (i, l) in self.c.rules.locations.iter().enumerate() {
            let status = if !l.active {
                LocStatus::Inactive
            } else if l.serves.is_empty() {
                LocStatus::Eligible
            } else {
                match country {
                    None => LocStatus::NoAddress,
                    Some(country) => {
                        let served = l.serves.iter().any(|a| {
                            same_code(&a.country, country)
                                && (a.regions.is_empty()
                                    || region.is_some_and(|r| {
                                        a.regions.iter().any(|x| x.eq_ignore_ascii_case(r))
                                    }))
                        });
                        if served {
                            LocStatus::Eligible
                        } else {
                            LocStatus::NotServed
                        }
                    }
                }
            };
            let mut mask = 0u64;
            let mut units = 0u64;
            if status == LocStatus::Eligible {
                for (j, d) in self.demands.iter().enumerate() {
                    let have = d.at(i);
                    if have >= d.quantity && j < 64 {
                        mask |= 1 << j;
                    }
                    units += have.min(d.quantity);
                }
                if units > 0 {
                    self.candidates.push(i as u32);
                }
            }
            let same_day = match (l.cutoff, time) {
                (Some(cutoff), Some(t)) => t <= cutoff,
                _ => true,
            };
            self.locs.push(LocTrace {
                status,
                same_day,
                mask,
                units,
                distance: NOT_COMPUTED,
                shipped: false,
            });
        }
    }

    fn distance(&mut self, i: usize) -> u64 {
        let cached = self.locs[i].distance;
        if cached != NOT_COMPUTED {
            return cached;
        }
        let d = match (&self.destination, &self.c.rules.locations[i].coordinates) {
            (Some(to), Some(from)) => haversine_metres(from, to),
            _ => UNKNOWN_DISTANCE,
        };
        self.locs[i].distance = d;
        d
    }

    fn value(&mut self, i: usize, criterion: Criterion) -> u64 {
        match criterion {
            Criterion::SameDay => u64::from(!self.locs[i].same_day),
            Criterion::Priority => u64::from(self.c.rules.locations[i].priority),
            Criterion::Distance => self.distance(i),
            Criterion::Cost => self.c.cost_minor[i],
        }
    }

    /// Every criterion's value for location `i`, in `order_by` order.
    fn values(&mut self, i: usize) -> [u64; 4] {
        let c = self.c;
        let mut out = [0u64; 4];
        for (slot, &criterion) in out.iter_mut().zip(&c.rules.order_by) {
            *slot = self.value(i, criterion);
        }
        out
    }

    /// Ranks two locations by the rules' criteria, computing distances only when needed.
    fn compare(&mut self, a: usize, b: usize) -> Ordering {
        let c = self.c;
        for &criterion in &c.rules.order_by {
            let ord = self.value(a, criterion).cmp(&self.value(b, criterion));
            if ord != Ordering::Equal {
                return ord;
            }
        }
        a.cmp(&b)
    }

    /// The best location that can ship every demand whole.
    fn single(&mut self) -> Option<usize> {
        let d = self.demands.len();
        if d > 64 {
            return None;
        }
        let full = if d == 64 { u64::MAX } else { (1u64 << d) - 1 };
        let mut best: Option<usize> = None;
        for k in 0..self.candidates.len() {
            let i = self.candidates[k] as usize;
            if self.locs[i].mask == full {
                best = match best {
                    Some(b) if self.compare(i, b) != Ordering::Less => Some(b),
                    _ => Some(i),
                };
            }
        }
        best
    }

    /// The smallest set of locations (2 to `max`) that ships every demand
    /// whole, best ranked among sets of that size.
    fn cover(&mut self, max: usize, budget_hit: &mut bool) -> Option<Vec<usize>> {
        let d = self.demands.len();
        let full = if d == 64 { u64::MAX } else { (1u64 << d) - 1 };
        // The best location per distinct mask: the others can only do worse in any plan.
        let mut reps: Vec<(u64, usize)> = Vec::new();
        for k in 0..self.candidates.len() {
            let i = self.candidates[k] as usize;
            let mask = self.locs[i].mask;
            if mask == 0 {
                continue;
            }
            match reps.iter().position(|(m, _)| *m == mask) {
                Some(r) => {
                    let current = reps[r].1;
                    if self.compare(i, current) == Ordering::Less {
                        reps[r].1 = i;
                    }
                }
                None => reps.push((mask, i)),
            }
        }
        if reps.iter().fold(0, |acc, (m, _)| acc | m) != full {
            return None;
        }
        let values: Vec<[u64; 4]> = reps.iter().map(|&(_, i)| self.values(i)).collect();
        let masks: Vec<u64> = reps.iter().map(|(m, _)| *m).collect();
        let mut suffix = vec![0u64; masks.len() + 1];
        for k in (0..masks.len()).rev() {
            suffix[k] = suffix[k + 1] | masks[k];
        }
        let mut budget = SEARCH_BUDGET;
        for k in 2..=max.min(d).min(masks.len()) {
            let mut search = Cover {
                masks: &masks,
                suffix: &suffix,
                values: &values,
                full,
                k,
                chosen: Vec::with_capacity(k),
                best: None,
                budget: &mut budget,
            };
            search.search(0, 0);
            if let Some((set, _)) = search.best {
                return Some(set.into_iter().map(|r| reps[r].1).collect());
            }
            if budget == 0 {
                *budget_hit = true;
                return None;
            }
        }
        None
    }

    /// Places units where most can ship, one location at a time, up to `max`
    /// locations; returns how many were used.
    fn greedy(&mut self, max: usize, parts: &mut Vec<(u32, u32, u64)>) -> u32 {
        let mut remaining: Vec<u64> = self.demands.iter().map(|d| d.quantity).collect();
        let mut open = self.candidates.clone();
        let mut shipments = 0;
        while (shipments as usize) < max && remaining.iter().any(|&r| r > 0) {
            let mut best: Option<(usize, usize, u64)> = None;
            for (k, &i) in open.iter().enumerate() {
                let i = i as usize;
                let fill: u64 = self
                    .demands
                    .iter()
                    .zip(&remaining)
                    .map(|(d, &r)| fill(d, i, r))
                    .sum();
                if fill == 0 {
                    continue;
                }
                best = match best {
                    Some((b, bk, bf))
                        if bf > fill || (bf == fill && self.compare(i, b) != Ordering::Less) =>
                    {
                        Some((b, bk, bf))
                    }
                    _ => Some((i, k, fill)),
                };
            }
            let Some((b, bk, _)) = best else { break };
            open.remove(bk);
            shipments += 1;
            for (j, d) in self.demands.iter().enumerate() {
                let q = fill(d, b, remaining[j]);
                if q > 0 {
                    parts.push((j as u32, b as u32, q));
                    remaining[j] -= q;
                }
            }
        }
        shipments
    }

    /// The eligible location that can ship the most units (partially), best ranked on ties.
    fn best_partial(&mut self) -> Option<usize> {
        let mut best: Option<usize> = None;
        for k in 0..self.candidates.len() {
            let i = self.candidates[k] as usize;
            best = match best {
                Some(b)
                    if self.locs[b].units > self.locs[i].units
                        || (self.locs[b].units == self.locs[i].units
                            && self.compare(i, b) != Ordering::Less) =>
                {
                    Some(b)
                }
                _ => Some(i),
            };
        }
        best
    }
}

/// Units of `d` location `i` can ship when `remaining` are still needed:
/// all of them or none for a line that may not split, else what it has.
fn fill(d: &Demand<'_>, i: usize, remaining: u64) -> u64 {
    let have = d.at(i);
    if remaining == 0 {
        0
    } else if d.splittable {
        have.min(remaining)
    } else if have >= remaining {
        remaining
    } else {
        0
    }
}

/// Exhaustive search for the best `k` masks covering `full`.
struct Cover<'a> {
    masks: &'a [u64],
    suffix: &'a [u64],
    values: &'a [[u64; 4]],
    full: u64,
    k: usize,
    chosen: Vec<usize>,
    best: Option<(Vec<usize>, [u64; 4])>,
    budget: &'a mut u32,
}

impl Cover<'_> {
    fn search(&mut self, start: usize, covered: u64) {
        if self.chosen.len() == self.k {
            if covered == self.full {
                let mut sum = [0u64; 4];
                for &r in &self.chosen {
                    for (s, v) in sum.iter_mut().zip(&self.values[r]) {
                        *s = s.saturating_add(*v);
                    }
                }
                if self.best.as_ref().is_none_or(|(_, b)| sum < *b) {
                    self.best = Some((self.chosen.clone(), sum));
                }
            }
            return;
        }
        let need = self.k - self.chosen.len();
        for r in start..self.masks.len() {
            if *self.budget == 0 {
                return;
            }
            if self.masks.len() - r < need || (covered | self.suffix[r]) != self.full {
                return;
            }
            *self.budget -= 1;
            self.chosen.push(r);
            self.search(r + 1, covered | self.masks[r]);
            self.chosen.pop();
        }
    }
}
