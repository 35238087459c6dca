//! Choosing fulfilment locations for an order.

use std::cmp::Ordering;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use rust_decimal::Decimal;

use super::config::{Criterion, FallbackAction, RoutingRules};
use super::decision::{
    DemandTrace, LineAllocation, LocStatus, LocTrace, NOT_COMPUTED, Plan, RoutingDecision,
    RoutingStatus, Search, Shortfall, UNKNOWN_DISTANCE,
};
use super::stock::{LocationIndex, Stock};
use crate::error::{Error, Result};
use crate::model::{GeoPoint, Order, Sku};
use crate::rules::geo::haversine_metres;

/// Combinations of locations tried when looking for the fewest shipments;
/// beyond it the units are placed greedily (and the explanation says so).
pub(super) const SEARCH_BUDGET: u32 = 20_000;

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
        let scale = 10u64
            .checked_pow(minor)
            .map_or(Decimal::ZERO, Decimal::from);
        let cost_minor = rules
            .locations
            .iter()
            .map(|l| {
                l.cost_per_shipment.map_or(0, |c| {
                    // Validated to at most MAX_COST; checked all the same.
                    c.checked_mul(scale)
                        .and_then(|scaled| u64::try_from(scaled.trunc().mantissa()).ok())
                        .unwrap_or(u64::MAX)
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
    /// country and region. Each line is a demand, except that lines of the
    /// same SKU that may split are routed together; lines given to one
    /// location never need more of a SKU than it has. The plan has the
    /// fewest shipments: one location with everything if any; else (when the
    /// order may split) the smallest set of at most `max_shipments`
    /// locations whose stock covers the order — per SKU their summed stock
    /// covers what may split, and every whole line fits in one location —
    /// found by trying every set of 2, 3, … locations (up to a budget of
    /// combinations). When no such set exists, or the budget runs out,
    /// units are placed greedily where most can ship (the explanation says
    /// which). Plans with as many shipments are ranked by `order_by`
    /// (summed over their locations). What is left goes to the fallback; a
    /// fallback location takes orders only where it is eligible.
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

        // Groups: one per SKU. Demands: one per line, except that the lines of
        // a SKU that may split share one. `line_demand[i]` is line i's demand
        // (NO_DEMAND for quantity 0).
        let mut groups: Vec<Group<'_>> = Vec::with_capacity(order.lines.len());
        let mut demands: Vec<Demand> = Vec::with_capacity(order.lines.len());
        let mut line_demand: Vec<u32> = Vec::with_capacity(order.lines.len());
        for line in &order.lines {
            if line.quantity == 0 {
                line_demand.push(NO_DEMAND);
                continue;
            }
            let quantity = u64::from(line.quantity);
            let splittable = line_split && !ctx.unsplittable_lines.contains(&line.id);
            let g = match groups.iter().position(|g| g.sku == &line.sku) {
                Some(g) => g,
                None => {
                    groups.push(Group {
                        sku: &line.sku,
                        stock: stock.by_sku.get(&line.sku).map(Vec::as_slice),
                        total: 0,
                    });
                    groups.len() - 1
                }
            };
            groups[g].total += quantity;
            let merged = splittable
                .then(|| {
                    demands
                        .iter()
                        .position(|d| d.group as usize == g && d.splittable)
                })
                .flatten();
            match merged {
                Some(j) => {
                    demands[j].quantity += quantity;
                    line_demand.push(j as u32);
                }
                None => {
                    line_demand.push(demands.len() as u32);
                    demands.push(Demand {
                        group: g as u32,
                        quantity,
                        splittable,
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
            by_group: Vec::new(),
            groups,
            demands,
        };
        run.assess(country, region, ctx.at);
        let fallback_eligible = c
            .fallback_location
            .filter(|&f| run.locs[f as usize].status == LocStatus::Eligible);

        // Parts of the plan: (demand, location, units), in the order they were placed.
        let mut parts: Parts = Vec::new();
        let mut plan = Plan::Empty;
        let mut search = Search::NotNeeded;
        let d = run.demands.len();
        if d > 0 {
            plan = Plan::Nothing;
            if let Some(best) = run.single() {
                plan = Plan::Single;
                run.place_at(best, &mut vec![u64::MAX; d], &mut parts);
            } else if order_split {
                // Masks of up to 64 demands prune the search; beyond, only greedy.
                search = if d > 64 {
                    Search::TooManyLines
                } else {
                    Search::Exhausted
                };
                let cover = if d <= 64 && max_shipments >= 2 {
                    run.cover(max_shipments, &mut search)
                } else {
                    None
                };
                if let Some(mut locations) = cover {
                    plan = Plan::Cover(locations.len() as u32);
                    // Best ranked first: whole lines go to the best location they fit.
                    locations.sort_by(|&a, &b| run.compare(a, b));
                    run.pack(&locations, Some(&mut parts));
                } else {
                    let shipments = run.greedy(max_shipments, &mut parts);
                    if shipments > 0 {
                        plan = Plan::Greedy(shipments);
                    }
                }
            } else {
                let whole_order_at = match (c.rules.fallback.action, fallback_eligible) {
                    (FallbackAction::Location, Some(f)) => {
                        Some((f as usize, Plan::FallbackLocation))
                    }
                    (FallbackAction::Location | FallbackAction::Backorder, _) => {
                        run.best_partial().map(|b| (b, Plan::BestPartial))
                    }
                    _ => None,
                };
                if let Some((at, p)) = whole_order_at {
                    plan = p;
                    run.place_at(at, &mut vec![u64::MAX; d], &mut parts);
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
            (FallbackAction::Location, _) if fallback_eligible.is_some() => fallback_eligible,
            (_, Plan::BestPartial) => parts.first().map(|p| p.1),
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
        let fallback_skipped = c.rules.fallback.action == FallbackAction::Location
            && fallback_eligible.is_none()
            && (short || !order_split);
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
                .iter()
                .map(|d| DemandTrace {
                    sku: run.groups[d.group as usize].sku.clone(),
                    quantity: d.quantity,
                    splittable: d.splittable,
                })
                .collect(),
            skus: run.groups.len() as u32,
            line_demand,
            plan,
            search,
            fallback_skipped,
            split: (order_split, line_split, max_shipments as u32),
        })
    }
}

/// Parts of a plan: (demand, location, units), in the order they were placed.
type Parts = Vec<(u32, u32, u64)>;

/// `line_demand` of a line with quantity 0.
pub(super) const NO_DEMAND: u32 = u32::MAX;

/// Per group, its demands: whole lines largest first (a whole line's units
/// left are all or none of it, so the order never changes), then the
/// splittable one.
fn by_group(groups: &[Group<'_>], demands: &[Demand]) -> Vec<Vec<u32>> {
    let mut out: Vec<Vec<u32>> = vec![Vec::new(); groups.len()];
    for (j, d) in demands.iter().enumerate() {
        out[d.group as usize].push(j as u32);
    }
    for list in &mut out {
        list.sort_by_key(|&j| {
            let d = &demands[j as usize];
            (d.splittable, std::cmp::Reverse(d.quantity))
        });
    }
    out
}

/// Placement steps allowed when fitting whole lines of one SKU into a set of locations.
const PACK_BUDGET: u32 = 10_000;

/// One SKU of the order: its stock row and the units all its lines ask for.
struct Group<'a> {
    sku: &'a Sku,
    stock: Option<&'a [u64]>,
    total: u64,
}

impl Group<'_> {
    fn at(&self, location: usize) -> u64 {
        self.stock.map_or(0, |s| s[location])
    }
}

/// Units one location must ship whole (one line), or that may spread over
/// locations (the splittable lines of one SKU, together).
struct Demand {
    group: u32,
    quantity: u64,
    splittable: bool,
}

/// One routing decision in progress.
struct Run<'a> {
    c: &'a Compiled,
    destination: Option<GeoPoint>,
    locs: Vec<LocTrace>,
    /// Eligible locations that have some stock for the order, in rule order.
    candidates: Vec<u32>,
    groups: Vec<Group<'a>>,
    demands: Vec<Demand>,
    /// Per group, its demands: whole lines largest first, then the splittable
    /// one (filled in when greedy placement needs it).
    by_group: Vec<Vec<u32>>,
}

impl Run<'_> {
    /// Eligibility, cutoff and what each location can ship.
    fn assess(&mut self, country: Option<&str>, region: Option<&str>, at: Option<DateTime<Utc>>) {
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
                            a.country == *country
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
            let mut whole = 0u32;
            if status == LocStatus::Eligible {
                for (j, d) in self.demands.iter().enumerate().take(64) {
                    let have = self.groups[d.group as usize].at(i);
                    let useful = if d.splittable {
                        have > 0
                    } else {
                        have >= d.quantity
                    };
                    if useful {
                        mask |= 1 << j;
                    }
                }
                for g in &self.groups {
                    let have = g.at(i);
                    units += have.min(g.total);
                    whole += u32::from(have >= g.total);
                }
                if units > 0 {
                    self.candidates.push(i as u32);
                }
            }
            // The cutoff is a local time of day where the location is.
            let same_day = match (l.cutoff, at) {
                (Some(cutoff), Some(t)) => match l.timezone {
                    Some(tz) => t.with_timezone(&tz).time() <= cutoff,
                    None => t.time() <= cutoff,
                },
                _ => true,
            };
            self.locs.push(LocTrace {
                status,
                same_day,
                mask,
                units,
                whole,
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

    /// The best location that has every SKU of the order in full (so every line).
    fn single(&mut self) -> Option<usize> {
        let n = self.groups.len() as u32;
        let mut best: Option<usize> = None;
        for k in 0..self.candidates.len() {
            let i = self.candidates[k] as usize;
            if self.locs[i].whole == n {
                best = match best {
                    Some(b) if self.compare(i, b) != Ordering::Less => Some(b),
                    _ => Some(i),
                };
            }
        }
        best
    }

    /// Places at location `at` what it can of every demand, within its stock
    /// (`left[j]`: units of demand j still to place).
    fn place_at(&self, at: usize, left: &mut [u64], parts: &mut Parts) {
        for (g, group) in self.groups.iter().enumerate() {
            let mut have = group.at(at);
            for (j, d) in self.demands.iter().enumerate() {
                if d.group as usize != g || have == 0 {
                    continue;
                }
                let q = left[j].min(d.quantity).min(have);
                if q > 0 {
                    parts.push((j as u32, at as u32, q));
                    left[j] = left[j].saturating_sub(q);
                    have -= q;
                }
            }
        }
    }

    /// The smallest set of locations (2 to `max`) whose stock covers the
    /// order, best ranked among sets of that size.
    ///
    /// Locations that would give the same units to the order are
    /// interchangeable: only the best `max` of them are tried.
    fn cover(&mut self, max: usize, search: &mut Search) -> Option<Vec<usize>> {
        let d = self.demands.len();
        let full = if d == 64 { u64::MAX } else { (1u64 << d) - 1 };
        // Masks decide alone when every SKU has one line that ships whole: then
        // locations with the same mask are interchangeable and a smallest plan
        // never needs two of them (the best ranked is kept; distances are
        // computed only to break ties). Otherwise locations that would give
        // the order the same units per SKU are interchangeable, and a plan may
        // need several of them (the best `max` are kept).
        let exact = self.groups.len() == d && self.demands.iter().all(|x| !x.splittable);
        let mut reps: Vec<(usize, [u64; 4])> = Vec::new();
        if exact {
            let mut best: Vec<(u64, usize)> = Vec::new();
            for k in 0..self.candidates.len() {
                let i = self.candidates[k] as usize;
                let mask = self.locs[i].mask;
                if mask == 0 {
                    continue;
                }
                match best.iter().position(|(m, _)| *m == mask) {
                    Some(r) => {
                        let current = best[r].1;
                        if self.compare(i, current) == Ordering::Less {
                            best[r].1 = i;
                        }
                    }
                    None => best.push((mask, i)),
                }
            }
            for (_, i) in best {
                let v = self.values(i);
                reps.push((i, v));
            }
        } else {
            let mut ranked: Vec<(usize, [u64; 4])> = Vec::with_capacity(self.candidates.len());
            for k in 0..self.candidates.len() {
                let i = self.candidates[k] as usize;
                if self.locs[i].mask != 0 {
                    let v = self.values(i);
                    ranked.push((i, v));
                }
            }
            ranked.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
            let n = self.groups.len();
            let mut kinds: Vec<u64> = Vec::new();
            let mut counts: Vec<usize> = Vec::new();
            let mut give: Vec<u64> = Vec::with_capacity(n);
            for (i, v) in ranked {
                give.clear();
                give.extend(self.groups.iter().map(|g| g.at(i).min(g.total)));
                match kinds.chunks_exact(n).position(|k| k == give.as_slice()) {
                    Some(k) if counts[k] >= max => continue,
                    Some(k) => counts[k] += 1,
                    None => {
                        kinds.extend_from_slice(&give);
                        counts.push(1);
                    }
                }
                reps.push((i, v));
            }
        }
        let masks: Vec<u64> = reps.iter().map(|&(i, _)| self.locs[i].mask).collect();
        if masks.iter().fold(0, |acc, m| acc | m) != full {
            return None;
        }
        let values: Vec<[u64; 4]> = reps.iter().map(|r| r.1).collect();
        let locations: Vec<usize> = reps.iter().map(|r| r.0).collect();
        let mut suffix = vec![0u64; masks.len() + 1];
        for k in (0..masks.len()).rev() {
            suffix[k] = suffix[k + 1] | masks[k];
        }
        // Without exact masks, per SKU: what each location can give, and the
        // most any t locations from r on can give (to stop a branch early).
        let n = if exact { 0 } else { self.groups.len() };
        let m = max.min(reps.len());
        let mut caps: Vec<u64> = Vec::with_capacity(reps.len() * n);
        let mut suffix_top = vec![0u64; (reps.len() + 1) * n * (m + 1)];
        let totals: Vec<u64> = self.groups.iter().take(n).map(|g| g.total).collect();
        if !exact {
            for &(i, _) in &reps {
                caps.extend(self.groups.iter().map(|g| g.at(i).min(g.total)));
            }
            let mut top: Vec<Vec<u64>> = vec![Vec::with_capacity(m + 1); n];
            for r in (0..reps.len()).rev() {
                for (g, best) in top.iter_mut().enumerate() {
                    let c = caps[r * n + g];
                    let at = best.partition_point(|&x| x >= c);
                    best.insert(at, c);
                    best.truncate(m);
                    let row = &mut suffix_top[(r * n + g) * (m + 1)..][..m + 1];
                    let mut acc = 0u64;
                    row[0] = 0;
                    for (slot, add) in row[1..]
                        .iter_mut()
                        .zip(best.iter().chain(std::iter::repeat(&0)))
                    {
                        acc = acc.saturating_add(*add);
                        *slot = acc;
                    }
                }
            }
        }
        let mut budget = SEARCH_BUDGET;
        for k in 2..=max.min(masks.len()) {
            let mut found = Cover {
                run: self,
                locations: &locations,
                masks: &masks,
                suffix: &suffix,
                values: &values,
                full,
                k,
                exact,
                caps: &caps,
                suffix_top: &suffix_top,
                top_len: m + 1,
                totals: &totals,
                sums: vec![0; n],
                chosen: Vec::with_capacity(k),
                best: None,
                budget: &mut budget,
            };
            found.search(0, 0);
            if let Some((set, _)) = found.best {
                return Some(set.into_iter().map(|r| locations[r]).collect());
            }
            if budget == 0 {
                *search = Search::BudgetHit;
                return None;
            }
        }
        None
    }

    /// Whether `set` (in rank order) can ship every demand: per SKU, every
    /// whole line fits in one location and what may split fits in what the
    /// whole lines leave. With `parts`, also places the units: whole lines
    /// at the best-ranked location they fit, split units best-ranked first.
    fn pack(&self, set: &[usize], mut parts: Option<&mut Parts>) -> bool {
        let mut caps: Vec<u64> = Vec::with_capacity(set.len());
        let mut whole: Vec<(u64, u32)> = Vec::new();
        let mut assign: Vec<usize> = Vec::new();
        for (g, group) in self.groups.iter().enumerate() {
            caps.clear();
            caps.extend(set.iter().map(|&l| group.at(l)));
            if caps.iter().fold(0u64, |a, &c| a.saturating_add(c)) < group.total {
                return false;
            }
            whole.clear();
            let mut split: Option<(u64, u32)> = None;
            for (j, d) in self.demands.iter().enumerate() {
                if d.group as usize == g {
                    if d.splittable {
                        split = Some((d.quantity, j as u32));
                    } else {
                        whole.push((d.quantity, j as u32));
                    }
                }
            }
            // Largest lines first: the search fails faster and places the big ones first.
            whole.sort_by_key(|w| std::cmp::Reverse(w.0));
            assign.clear();
            assign.resize(whole.len(), 0);
            let mut budget = PACK_BUDGET;
            if !fit(&whole, &mut caps, &mut assign, 0, &mut budget) {
                return false;
            }
            // The total check above guarantees the split units fit in what is left.
            if let Some(parts) = parts.as_deref_mut() {
                for (k, &(q, j)) in whole.iter().enumerate() {
                    parts.push((j, set[assign[k]] as u32, q));
                }
                if let Some((mut q, j)) = split {
                    for (slot, &l) in set.iter().enumerate() {
                        let take = q.min(caps[slot]);
                        if take > 0 {
                            parts.push((j, l as u32, take));
                            q -= take;
                        }
                    }
                }
            }
        }
        true
    }

    /// Places units where most can ship, one location at a time, up to `max`
    /// locations; returns how many were used.
    fn greedy(&mut self, max: usize, parts: &mut Parts) -> u32 {
        if self.by_group.is_empty() {
            self.by_group = by_group(&self.groups, &self.demands);
        }
        let mut left: Vec<u64> = self.demands.iter().map(|d| d.quantity).collect();
        let mut open = self.candidates.clone();
        let mut shipments = 0;
        while (shipments as usize) < max && left.iter().any(|&r| r > 0) {
            let mut best: Option<(usize, usize, u64)> = None;
            for (k, &i) in open.iter().enumerate() {
                let i = i as usize;
                let fill = self.fill(i, &mut left, None);
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
            self.fill(b, &mut left, Some(&mut *parts));
        }
        shipments
    }

    /// Units location `i` can ship of what is `left`: whole lines (largest
    /// first) that fit in its stock of their SKU, then what may split from
    /// what remains. With `parts`, records them and lowers `left`.
    fn fill(&self, i: usize, left: &mut [u64], mut parts: Option<&mut Parts>) -> u64 {
        let mut total = 0;
        for (g, group) in self.groups.iter().enumerate() {
            let mut have = group.at(i);
            if have == 0 {
                continue;
            }
            // Whole lines by size, largest first, then the splittable demand.
            for &j in &self.by_group[g] {
                let j = j as usize;
                if left[j] == 0 {
                    continue;
                }
                let q = if self.demands[j].splittable {
                    left[j].min(have)
                } else if left[j] <= have {
                    left[j]
                } else {
                    0
                };
                if q > 0 {
                    have -= q;
                    total += q;
                    if let Some(parts) = parts.as_deref_mut() {
                        parts.push((j as u32, i as u32, q));
                        left[j] -= q;
                    }
                }
            }
        }
        total
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

/// Fits whole lines (`items[k].0` units each) into locations with `caps`
/// units, one location per line; `assign[k]` is line k's slot. Tries the
/// slots in rank order, and never two slots with the same room for the same
/// line (they are interchangeable).
fn fit(
    items: &[(u64, u32)],
    caps: &mut [u64],
    assign: &mut [usize],
    k: usize,
    budget: &mut u32,
) -> bool {
    let Some(&(q, _)) = items.get(k) else {
        return true;
    };
    for slot in 0..caps.len() {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        if caps[slot] < q || caps[..slot].contains(&caps[slot]) {
            continue;
        }
        caps[slot] -= q;
        assign[k] = slot;
        if fit(items, caps, assign, k + 1, budget) {
            return true;
        }
        caps[slot] += q;
    }
    false
}

/// Exhaustive search for the best `k` locations covering the order.
struct Cover<'a, 'r> {
    run: &'a Run<'r>,
    locations: &'a [usize],
    masks: &'a [u64],
    suffix: &'a [u64],
    values: &'a [[u64; 4]],
    full: u64,
    k: usize,
    /// Masks alone decide (one whole line per SKU).
    exact: bool,
    /// Otherwise: units per (rep, SKU) each location can give, capped at the demand.
    caps: &'a [u64],
    /// The most any t reps from r on can give, per SKU: `[(r * n + g) * top_len + t]`.
    suffix_top: &'a [u64],
    top_len: usize,
    /// Units the order needs per SKU.
    totals: &'a [u64],
    /// Units the chosen reps give, per SKU.
    sums: Vec<u64>,
    chosen: Vec<usize>,
    best: Option<(Vec<usize>, [u64; 4])>,
    budget: &'a mut u32,
}

impl Cover<'_, '_> {
    fn search(&mut self, start: usize, covered: u64) {
        if self.chosen.len() == self.k {
            if covered == self.full {
                let mut sum = [0u64; 4];
                for &r in &self.chosen {
                    for (s, v) in sum.iter_mut().zip(&self.values[r]) {
                        *s = s.saturating_add(*v);
                    }
                }
                if self.best.as_ref().is_none_or(|(_, b)| sum < *b)
                    && (self.exact
                        || (self.sums.iter().zip(self.totals).all(|(s, t)| s >= t) && {
                            let set: Vec<usize> =
                                self.chosen.iter().map(|&r| self.locations[r]).collect();
                            self.run.pack(&set, None)
                        }))
                {
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
            // Even the `need` best locations left cannot reach a SKU's total:
            // neither can any later start (the bound only shrinks).
            let n = self.sums.len();
            if (0..n).any(|g| {
                let best = self.suffix_top[(r * n + g) * self.top_len + need];
                self.sums[g].saturating_add(best) < self.totals[g]
            }) {
                return;
            }
            *self.budget -= 1;
            self.chosen.push(r);
            for g in 0..n {
                self.sums[g] += self.caps[r * n + g];
            }
            self.search(r + 1, covered | self.masks[r]);
            for g in 0..n {
                self.sums[g] -= self.caps[r * n + g];
            }
            self.chosen.pop();
        }
    }
}
