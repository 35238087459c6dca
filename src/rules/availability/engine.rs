//! Evaluating availability rules over inventory levels.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::config::AvailabilityRules;
use super::report::{AvailabilityReport, ChannelTotal, Eligibility, Entry, KitRow, NO_RULE, Row};
use super::split::{CompiledSplit, split_units};
use crate::error::Result;
use crate::model::{InventoryLevel, LocationId, Sku};

/// Where the category of a SKU comes from (the catalog, not the rules).
pub trait Categories {
    /// The SKU's category, when it has one.
    fn category(&self, sku: &Sku) -> Option<&str>;
}

/// No categories: category rules never apply.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCategories;

impl Categories for NoCategories {
    fn category(&self, _: &Sku) -> Option<&str> {
        None
    }
}

impl Categories for HashMap<Sku, String> {
    fn category(&self, sku: &Sku) -> Option<&str> {
        self.get(sku).map(String::as_str)
    }
}

impl Categories for BTreeMap<Sku, String> {
    fn category(&self, sku: &Sku) -> Option<&str> {
        self.get(sku).map(String::as_str)
    }
}

/// Checked availability rules, indexed for evaluation. Cheap to clone (shared).
///
/// ```
/// use chrono::Utc;
/// use seamwork::model::{InventoryLevel, LocationId, Sku};
/// use seamwork::rules::{AvailabilityEngine, AvailabilityRules, ChannelRule, LocationRule, NoCategories, SafetyStockRule};
///
/// let dc = LocationId::new("DC").unwrap();
/// let rules = AvailabilityRules::new()
///     .with_location(LocationRule::new(dc.clone()))
///     .with_channel(ChannelRule::new("web", [dc.clone()]))
///     .with_safety_stock(SafetyStockRule::new("dc-floor", 2).at_location(dc.clone()));
/// let engine = AvailabilityEngine::new(rules).unwrap();
///
/// let mut level = InventoryLevel::new(Sku::new("A").unwrap(), dc, Utc::now());
/// level.on_hand = 10;
/// level.committed = 3;
/// let report = engine.evaluate([&level], &NoCategories);
/// assert_eq!(report.published(&Sku::new("A").unwrap(), "web"), 5); // 10 - 3 - 2
/// ```
#[derive(Debug, Clone)]
pub struct AvailabilityEngine {
    compiled: Arc<Compiled>,
}

/// The rules with every name resolved to an index.
#[derive(Debug)]
pub(super) struct Compiled {
    pub(super) rules: AvailabilityRules,
    pub(super) channel_count: usize,
    location_index: HashMap<LocationId, u32>,
    /// Channels fed by each declared location, in channel order.
    pub(super) feeds: Vec<Vec<u16>>,
    safety_by_sku: HashMap<Sku, Vec<u32>>,
    safety_by_category: HashMap<String, Vec<u32>>,
    safety_by_location: Vec<u32>,
    safety_location: Vec<Option<u32>>,
    bundle_index: HashMap<Sku, u32>,
    backorder_by_sku: HashMap<Sku, Vec<u32>>,
    backorder_by_category: HashMap<String, Vec<u32>>,
    backorder_any: Vec<u32>,
    backorder_channels: Vec<Vec<u16>>,
    pub(super) split: CompiledSplit,
    /// Whether incoming units are divided between channels (a backorder rule caps at them).
    track_incoming: bool,
    /// Buffer: fixed units and the fraction (percent / 100).
    pub(super) buffer: Option<(u64, Decimal)>,
}

impl AvailabilityEngine {
    /// Checks the rules and indexes them.
    pub fn new(rules: AvailabilityRules) -> Result<Self> {
        rules.validate()?;
        let channel_ids: HashMap<&str, u16> = rules
            .channels
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.as_str(), i as u16))
            .collect();
        let location_index: HashMap<LocationId, u32> = rules
            .locations
            .iter()
            .enumerate()
            .map(|(i, l)| (l.id.clone(), i as u32))
            .collect();
        let mut feeds = vec![Vec::new(); rules.locations.len()];
        for (ch, c) in rules.channels.iter().enumerate() {
            for l in &c.locations {
                if let Some(&i) = location_index.get(l) {
                    feeds[i as usize].push(ch as u16);
                }
            }
        }

        let mut safety_by_sku: HashMap<Sku, Vec<u32>> = HashMap::new();
        let mut safety_by_category: HashMap<String, Vec<u32>> = HashMap::new();
        let mut safety_by_location = vec![NO_RULE; rules.locations.len()];
        let mut safety_location = Vec::with_capacity(rules.safety_stock.len());
        for (i, r) in rules.safety_stock.iter().enumerate() {
            let i = i as u32;
            let loc = r
                .location
                .as_ref()
                .and_then(|l| location_index.get(l).copied());
            safety_location.push(loc);
            match (&r.sku, &r.category, loc) {
                (Some(sku), _, _) => safety_by_sku.entry(sku.clone()).or_default().push(i),
                (None, Some(c), _) => safety_by_category.entry(c.clone()).or_default().push(i),
                (None, None, Some(l)) => safety_by_location[l as usize] = i,
                (None, None, None) => {}
            }
        }

        let mut backorder_by_sku: HashMap<Sku, Vec<u32>> = HashMap::new();
        let mut backorder_by_category: HashMap<String, Vec<u32>> = HashMap::new();
        let mut backorder_any = Vec::new();
        let mut backorder_channels = Vec::new();
        for (i, r) in rules.backorders.iter().enumerate() {
            let i = i as u32;
            match (&r.sku, &r.category) {
                (Some(sku), _) => backorder_by_sku.entry(sku.clone()).or_default().push(i),
                (None, Some(c)) => backorder_by_category.entry(c.clone()).or_default().push(i),
                (None, None) => backorder_any.push(i),
            }
            backorder_channels.push(
                r.channels
                    .iter()
                    .filter_map(|c| channel_ids.get(c.as_str()).copied())
                    .collect(),
            );
        }

        let split = CompiledSplit::new(rules.split.as_ref(), |name| channel_ids.get(name).copied());
        let track_incoming = rules.backorders.iter().any(|b| b.limit_to_incoming);
        let buffer = rules
            .buffer
            .as_ref()
            .map(|b| (b.quantity, b.percent / Decimal::ONE_HUNDRED));
        let bundle_index = rules
            .bundles
            .iter()
            .enumerate()
            .map(|(i, b)| (b.sku.clone(), i as u32))
            .collect();

        Ok(AvailabilityEngine {
            compiled: Arc::new(Compiled {
                channel_count: rules.channels.len(),
                rules,
                location_index,
                feeds,
                safety_by_sku,
                safety_by_category,
                safety_by_location,
                safety_location,
                bundle_index,
                backorder_by_sku,
                backorder_by_category,
                backorder_any,
                backorder_channels,
                split,
                track_incoming,
                buffer,
            }),
        })
    }

    /// Parses, checks and indexes rules from TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self> {
        Self::new(AvailabilityRules::from_toml_str(text)?)
    }

    /// The rules.
    pub fn rules(&self) -> &AvailabilityRules {
        &self.compiled.rules
    }

    /// Computes the sellable stock of every row, the quantity each channel
    /// may publish for each SKU, and the kits each bundle can make.
    ///
    /// Per row (one SKU at one location):
    /// `sellable = on_hand − (committed + reserved + safety_stock + damaged +
    /// quality_control) − safety stock rule − buffer`, never below zero and
    /// never above `on_hand` (negative quantities from a source count as
    /// zero; the level's own `available` is not trusted, it is recomputed).
    /// A channel gets, from each active location that feeds it and sells the
    /// SKU's category, its share of that sellable stock (see
    /// [`crate::rules::ChannelSplit`]), plus its part of the backorder
    /// allowance of the SKU when a rule grants one. A (SKU, location) that
    /// appears twice is counted once (the first row; the others are reported
    /// in the explanation).
    pub fn evaluate<'a, I, C>(&self, levels: I, categories: &C) -> AvailabilityReport
    where
        I: IntoIterator<Item = &'a InventoryLevel>,
        C: Categories + ?Sized,
    {
        let c = &*self.compiled;
        let mut report = AvailabilityReport::new(Arc::clone(&self.compiled));
        let mut scratch = vec![0u64; c.channel_count];
        let mut incoming = vec![0u64; c.channel_count];
        let mut last: Option<usize> = None;
        for level in levels {
            let e = match last {
                Some(i) if report.entries[i].sku == level.sku => i,
                _ => self.entry(&mut report, &level.sku, categories),
            };
            last = Some(e);
            let entry = &mut report.entries[e];
            if entry.bundle.is_some() {
                entry.ignored_rows += 1;
                continue;
            }
            let declared = c.location_index.get(&level.location).copied();
            let location = match declared {
                Some(i) => i,
                None => report.intern_location(&level.location),
            };
            let entry = &mut report.entries[e];
            // A source that sends one (SKU, location) twice must not publish it twice: the first wins.
            if !entry.first_sight(location) {
                entry.ignored_rows += 1;
                continue;
            }
            let mut row = c.row(level, location, declared, &entry.safety);
            row.eligibility = c.eligibility(declared, entry.category.as_deref());
            if row.eligibility == Eligibility::Feeds {
                let fed = &c.feeds[location as usize];
                split_units(&c.split, row.sellable, fed, &mut scratch);
                if c.track_incoming {
                    split_units(&c.split, row.incoming, fed, &mut incoming);
                }
                for &ch in fed {
                    let t = &mut entry.channels[usize::from(ch)];
                    t.sellable = t.sellable.saturating_add(scratch[usize::from(ch)]);
                    if c.track_incoming {
                        t.incoming = t.incoming.saturating_add(incoming[usize::from(ch)]);
                    }
                }
            }
            entry.rows.push(row);
        }
        self.bundles(&mut report, categories);
        self.backorders(&mut report);
        report
    }

    /// The entry of `sku`, created with its category and candidate rules on first sight.
    fn entry<C: Categories + ?Sized>(
        &self,
        report: &mut AvailabilityReport,
        sku: &Sku,
        categories: &C,
    ) -> usize {
        if let Some(&i) = report.index.get(sku) {
            return i as usize;
        }
        let c = &*self.compiled;
        let category = categories.category(sku).map(str::to_owned);
        // Candidate safety stock rules, most specific first.
        let mut safety: Vec<u32> = Vec::new();
        if let Some(rs) = c.safety_by_sku.get(sku) {
            safety.extend(rs.iter().copied().filter(|&r| {
                let rule = &c.rules.safety_stock[r as usize];
                rule.category.is_none() || rule.category.as_deref() == category.as_deref()
            }));
        }
        if let Some(rs) = category
            .as_deref()
            .and_then(|k| c.safety_by_category.get(k))
        {
            safety.extend_from_slice(rs);
        }
        safety.sort_by_key(|&r| (Reverse(c.rules.safety_stock[r as usize].specificity()), r));
        let i = report.entries.len();
        report.entries.push(Entry {
            sku: sku.clone(),
            category,
            bundle: c.bundle_index.get(sku).copied(),
            safety,
            rows: Vec::new(),
            seen: Vec::new(),
            kits: Vec::new(),
            missing_component: None,
            channels: vec![ChannelTotal::default(); c.channel_count],
            ignored_rows: 0,
        });
        report.index.insert(sku.clone(), i as u32);
        i
    }

    /// Kits per location and per channel, from the components' rows.
    fn bundles<C: Categories + ?Sized>(&self, report: &mut AvailabilityReport, categories: &C) {
        let c = &*self.compiled;
        let mut shares = vec![0u64; c.channel_count];
        for bundle in &c.rules.bundles {
            let kit = self.entry(report, &bundle.sku, categories);
            let mut components: Vec<(usize, u64)> = Vec::with_capacity(bundle.components.len());
            for (ci, comp) in bundle.components.iter().enumerate() {
                match report.index.get(&comp.sku) {
                    Some(&e) => components.push((e as usize, u64::from(comp.quantity))),
                    None => {
                        report.entries[kit].missing_component = Some(ci as u32);
                        break;
                    }
                }
            }
            if report.entries[kit].missing_component.is_some() {
                continue;
            }
            // Rows of every component but the first, by location.
            let by_location: Vec<HashMap<u32, Row>> = components[1..]
                .iter()
                .map(|&(e, _)| {
                    report.entries[e]
                        .rows
                        .iter()
                        .map(|r| (r.location, *r))
                        .collect()
                })
                .collect();
            let (first, first_qty) = components[0];
            let mut kit_rows = Vec::new();
            let mut totals = vec![0u64; c.channel_count];
            let kit_category = report.entries[kit].category.clone();
            for r0 in &report.entries[first].rows {
                let mut rows = Vec::with_capacity(components.len());
                rows.push((*r0, first_qty));
                for (k, map) in by_location.iter().enumerate() {
                    match map.get(&r0.location) {
                        Some(r) => rows.push((*r, components[k + 1].1)),
                        None => break,
                    }
                }
                if rows.len() < components.len() {
                    // A component has no stock here: no kit can be built here.
                    kit_rows.push(KitRow {
                        location: r0.location,
                        kits: 0,
                        limiting: rows.len() as u32,
                    });
                    continue;
                }
                let (limiting, kits) = rows
                    .iter()
                    .enumerate()
                    .map(|(i, (r, q))| (i as u32, r.sellable / q))
                    .min_by_key(|&(i, k)| (k, i))
                    .unwrap_or((0, 0));
                kit_rows.push(KitRow {
                    location: r0.location,
                    kits,
                    limiting,
                });
                let declared = (r0.location as usize) < c.rules.locations.len();
                let declared = declared.then_some(r0.location);
                if c.eligibility(declared, kit_category.as_deref()) != Eligibility::Feeds {
                    continue;
                }
                let fed = &c.feeds[r0.location as usize];
                // Per channel: the kits that channel's own share of every component allows.
                let mut per_channel: Vec<u64> = fed.iter().map(|_| u64::MAX).collect();
                for (r, q) in &rows {
                    if r.eligibility == Eligibility::Feeds {
                        split_units(&c.split, r.sellable, fed, &mut shares);
                    } else {
                        fed.iter().for_each(|&ch| shares[usize::from(ch)] = 0);
                    }
                    for (slot, &ch) in per_channel.iter_mut().zip(fed) {
                        *slot = (*slot).min(shares[usize::from(ch)] / q);
                    }
                }
                for (n, &ch) in per_channel.iter().zip(fed) {
                    let t = &mut totals[usize::from(ch)];
                    *t = t.saturating_add(*n);
                }
            }
            let entry = &mut report.entries[kit];
            entry.kits = kit_rows;
            for (t, n) in entry.channels.iter_mut().zip(totals) {
                t.sellable = n;
            }
        }
    }

    /// The backorder allowance of every SKU on every channel: per channel the
    /// most specific rule that covers it; each rule's limit is a total over
    /// the channels it was chosen for, divided like stock.
    fn backorders(&self, report: &mut AvailabilityReport) {
        let c = &*self.compiled;
        if c.rules.backorders.is_empty() {
            return;
        }
        let mut parts = vec![0u64; c.channel_count];
        let mut chosen: Vec<u32> = vec![NO_RULE; c.channel_count];
        let mut group: Vec<u16> = Vec::with_capacity(c.channel_count);
        for entry in &mut report.entries {
            if entry.bundle.is_some() {
                continue;
            }
            let by_sku = c.backorder_by_sku.get(&entry.sku).map(Vec::as_slice);
            let by_category = entry
                .category
                .as_deref()
                .and_then(|k| c.backorder_by_category.get(k))
                .map(Vec::as_slice);
            let candidates: Vec<u32> = by_sku
                .unwrap_or(&[])
                .iter()
                .chain(by_category.unwrap_or(&[]))
                .chain(&c.backorder_any)
                .copied()
                .collect();
            if candidates.is_empty() {
                continue;
            }
            for (ch, slot) in chosen.iter_mut().enumerate() {
                *slot = candidates
                    .iter()
                    .copied()
                    .find(|&r| {
                        let chans = &c.backorder_channels[r as usize];
                        chans.is_empty() || chans.contains(&(ch as u16))
                    })
                    .unwrap_or(NO_RULE);
            }
            for ch in 0..c.channel_count {
                let r = chosen[ch];
                // Each rule once, at the first channel it was chosen for.
                if r == NO_RULE || chosen[..ch].contains(&r) {
                    continue;
                }
                group.clear();
                group.extend(
                    (ch..c.channel_count)
                        .filter(|&k| chosen[k] == r)
                        .map(|k| k as u16),
                );
                let rule = &c.rules.backorders[r as usize];
                let incoming: u64 = if c.split.allocates() {
                    group.iter().fold(0u64, |a, &k| {
                        a.saturating_add(entry.channels[usize::from(k)].incoming)
                    })
                } else {
                    // A shared pool: each channel is capped at its own incoming below.
                    u64::MAX
                };
                let pool = if rule.limit_to_incoming {
                    rule.limit.min(incoming)
                } else {
                    rule.limit
                };
                split_units(&c.split, pool, &group, &mut parts);
                if rule.limit_to_incoming {
                    // No channel beyond its own share of the incoming units; what that
                    // takes from one goes to the others (the pool never exceeds their sum).
                    let mut excess = 0u64;
                    for &k in &group {
                        let cap = entry.channels[usize::from(k)].incoming;
                        let p = &mut parts[usize::from(k)];
                        excess += p.saturating_sub(cap);
                        *p = (*p).min(cap);
                    }
                    if c.split.allocates() {
                        for &k in &group {
                            let cap = entry.channels[usize::from(k)].incoming;
                            let p = &mut parts[usize::from(k)];
                            let give = excess.min(cap - *p);
                            *p += give;
                            excess -= give;
                        }
                    }
                }
                for &k in &group {
                    let t = &mut entry.channels[usize::from(k)];
                    t.backorder = parts[usize::from(k)];
                    t.backorder_rule = r;
                    t.backorder_pool = pool;
                }
            }
        }
    }
}

/// What a level's quantity states leave, the one arithmetic availability and
/// routing share: every quantity clamped at 0 (a negative source value counts
/// as 0 and never adds stock), `on_hand` minus the held states, never below 0.
#[derive(Debug, Clone, Copy)]
pub(crate) struct States {
    /// On hand, at least 0.
    pub(crate) on_hand: u64,
    /// committed + reserved + safety_stock + damaged + quality_control, each at least 0.
    pub(crate) held: u64,
    /// `on_hand − held`, at least 0 and at most `on_hand`.
    pub(crate) after_states: u64,
    /// Whether any quantity (incoming included) was negative.
    pub(crate) clamped: bool,
}

impl States {
    pub(crate) fn of(level: &InventoryLevel) -> Self {
        let clamp = |q: i64| u64::try_from(q).unwrap_or(0);
        let states = [
            level.committed,
            level.reserved,
            level.safety_stock,
            level.damaged,
            level.quality_control,
        ];
        let clamped = level.on_hand < 0 || level.incoming < 0 || states.iter().any(|&q| q < 0);
        let on_hand = clamp(level.on_hand);
        let held = states
            .iter()
            .fold(0u64, |acc, &q| acc.saturating_add(clamp(q)));
        States {
            on_hand,
            held,
            after_states: on_hand.saturating_sub(held),
            clamped,
        }
    }
}

impl Compiled {
    /// The index of a channel by name (`u16::MAX` when unknown).
    pub(super) fn channel_index(&self, name: &str) -> u16 {
        self.rules
            .channels
            .iter()
            .position(|c| c.id == name)
            .map_or(u16::MAX, |i| i as u16)
    }

    /// The row's quantities (not its channels).
    fn row(
        &self,
        level: &InventoryLevel,
        location: u32,
        declared: Option<u32>,
        safety: &[u32],
    ) -> Row {
        let States {
            on_hand,
            held,
            after_states,
            clamped,
        } = States::of(level);

        // The most specific SKU or category rule that applies here, else the location's rule.
        let mut safety_rule = safety
            .iter()
            .copied()
            .find(|&r| match self.safety_location[r as usize] {
                None => self.rules.safety_stock[r as usize].location.is_none(),
                Some(l) => Some(l) == declared,
            })
            .unwrap_or(NO_RULE);
        if safety_rule == NO_RULE
            && let Some(l) = declared
        {
            safety_rule = self.safety_by_location[l as usize];
        }
        let safety = match safety_rule {
            NO_RULE => 0,
            r => self.rules.safety_stock[r as usize].quantity,
        };
        let after_safety = after_states.saturating_sub(safety);

        let buffer = match self.buffer {
            None => 0,
            Some((units, fraction)) => {
                let percent = if fraction.is_zero() || after_safety == 0 {
                    0
                } else {
                    Decimal::from(after_safety)
                        .checked_mul(fraction)
                        .and_then(|d| d.ceil().to_u64())
                        .unwrap_or(u64::MAX)
                };
                units.saturating_add(percent).min(after_safety)
            }
        };
        Row {
            location,
            on_hand,
            held,
            safety,
            safety_rule,
            buffer,
            sellable: after_safety - buffer,
            incoming: u64::try_from(level.incoming).unwrap_or(0),
            eligibility: Eligibility::Undeclared,
            clamped,
        }
    }

    /// Whether a row at `declared` (a declared location's index) of a SKU in `category` feeds channels.
    pub(super) fn eligibility(&self, declared: Option<u32>, category: Option<&str>) -> Eligibility {
        let Some(l) = declared else {
            return Eligibility::Undeclared;
        };
        let rule = &self.rules.locations[l as usize];
        if !rule.active {
            Eligibility::Inactive
        } else if category.is_some_and(|k| rule.exclude_categories.iter().any(|x| x == k)) {
            Eligibility::CategoryExcluded
        } else if self.feeds[l as usize].is_empty() {
            Eligibility::NoChannel
        } else {
            Eligibility::Feeds
        }
    }
}
