//! The result of an availability evaluation: per SKU, per location and per
//! channel, with an explanation built on demand.

use std::collections::HashMap;
use std::sync::Arc;

use super::config::SplitMode;
use super::engine::Compiled;
use super::split::split_units;
use crate::model::{LocationId, Sku};
use crate::rules::explain::Explanation;

/// "No rule applied" in compact rows.
pub(super) const NO_RULE: u32 = u32::MAX;

/// Why a row does or does not feed channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Eligibility {
    Feeds,
    Undeclared,
    Inactive,
    CategoryExcluded,
    NoChannel,
}

/// One evaluated inventory row, without names (they live in the report).
#[derive(Debug, Clone, Copy)]
pub(super) struct Row {
    pub(super) location: u32,
    pub(super) on_hand: u64,
    pub(super) held: u64,
    pub(super) safety: u64,
    pub(super) safety_rule: u32,
    pub(super) buffer: u64,
    pub(super) sellable: u64,
    pub(super) incoming: u64,
    pub(super) eligibility: Eligibility,
    pub(super) clamped: bool,
}

/// Kits one location can build.
#[derive(Debug, Clone, Copy)]
pub(super) struct KitRow {
    pub(super) location: u32,
    pub(super) kits: u64,
    /// Index of the component that limits (or is missing at) this location.
    pub(super) limiting: u32,
}

/// One SKU's totals on one channel.
#[derive(Debug, Clone, Copy)]
pub(super) struct ChannelTotal {
    pub(super) sellable: u64,
    /// The channel's share of the incoming units (tracked only when a backorder rule caps at them).
    pub(super) incoming: u64,
    pub(super) backorder: u64,
    pub(super) backorder_rule: u32,
    /// The rule's total allowance over the channels it was chosen for.
    pub(super) backorder_pool: u64,
}

impl Default for ChannelTotal {
    fn default() -> Self {
        ChannelTotal {
            sellable: 0,
            incoming: 0,
            backorder: 0,
            backorder_rule: NO_RULE,
            backorder_pool: 0,
        }
    }
}

impl Entry {
    /// Marks `location` as seen; false when it already had a row.
    pub(super) fn first_sight(&mut self, location: u32) -> bool {
        let (word, bit) = ((location / 64) as usize, 1u64 << (location % 64));
        if self.seen.len() <= word {
            self.seen.resize(word + 1, 0);
        }
        let fresh = self.seen[word] & bit == 0;
        self.seen[word] |= bit;
        fresh
    }
}

/// Everything evaluated for one SKU.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) sku: Sku,
    pub(super) category: Option<String>,
    pub(super) bundle: Option<u32>,
    /// Candidate safety stock rules, most specific first.
    pub(super) safety: Vec<u32>,
    pub(super) rows: Vec<Row>,
    /// Locations with a row, as a bitset over location indices (declared, then interned).
    pub(super) seen: Vec<u64>,
    pub(super) kits: Vec<KitRow>,
    pub(super) missing_component: Option<u32>,
    pub(super) channels: Vec<ChannelTotal>,
    pub(super) ignored_rows: u32,
}

/// What every channel may sell of every SKU, with the numbers behind it.
///
/// Built by [`crate::rules::AvailabilityEngine::evaluate`]; rows are kept
/// compact, and [`SkuAvailability::explain`] writes out which rule produced
/// each number.
#[derive(Debug)]
pub struct AvailabilityReport {
    compiled: Arc<Compiled>,
    locations: Vec<LocationId>,
    unknown_locations: HashMap<LocationId, u32>,
    pub(super) entries: Vec<Entry>,
    pub(super) index: HashMap<Sku, u32>,
}

impl AvailabilityReport {
    pub(super) fn new(compiled: Arc<Compiled>) -> Self {
        let locations = compiled
            .rules
            .locations
            .iter()
            .map(|l| l.id.clone())
            .collect();
        AvailabilityReport {
            compiled,
            locations,
            unknown_locations: HashMap::new(),
            entries: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// The index of a location the rules do not declare, added on first sight.
    pub(super) fn intern_location(&mut self, id: &LocationId) -> u32 {
        if let Some(&i) = self.unknown_locations.get(id) {
            return i;
        }
        let i = self.locations.len() as u32;
        self.locations.push(id.clone());
        self.unknown_locations.insert(id.clone(), i);
        i
    }

    /// The number of SKUs (including bundles).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no SKU was evaluated.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The channels, in rule order.
    pub fn channels(&self) -> impl Iterator<Item = &str> {
        self.compiled.rules.channels.iter().map(|c| c.id.as_str())
    }

    /// One SKU's availability.
    pub fn sku(&self, sku: &Sku) -> Option<SkuAvailability<'_>> {
        self.index.get(sku).map(|&i| SkuAvailability {
            report: self,
            entry: &self.entries[i as usize],
        })
    }

    /// Every SKU, in the order first seen (bundles after the rows).
    pub fn skus(&self) -> impl Iterator<Item = SkuAvailability<'_>> {
        self.entries.iter().map(|entry| SkuAvailability {
            report: self,
            entry,
        })
    }

    /// What `channel` may publish for `sku` (0 for an unknown SKU or channel).
    pub fn published(&self, sku: &Sku, channel: &str) -> u64 {
        self.sku(sku)
            .and_then(|s| s.channel(channel))
            .map_or(0, |c| c.published)
    }

    fn channel_index(&self, channel: &str) -> Option<usize> {
        self.compiled
            .rules
            .channels
            .iter()
            .position(|c| c.id == channel)
    }
}

/// One SKU's availability: per location, per channel, and for bundles per kit location.
#[derive(Debug, Clone, Copy)]
pub struct SkuAvailability<'r> {
    report: &'r AvailabilityReport,
    entry: &'r Entry,
}

/// One SKU at one location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LocationAvailability<'r> {
    /// The location.
    pub location: &'r LocationId,
    /// On hand (a negative source value counts as 0).
    pub on_hand: u64,
    /// Held by the level's quantity states: committed, reserved, safety_stock, damaged, quality_control.
    pub held_by_states: u64,
    /// Kept back by the safety stock rule.
    pub safety_stock: u64,
    /// Kept back by the buffer.
    pub buffer: u64,
    /// What may be sold from here: never negative, never above `on_hand`.
    pub sellable: u64,
    /// Incoming units (not part of on hand).
    pub incoming: u64,
    /// Whether this location feeds any channel for this SKU.
    pub feeds_channels: bool,
}

/// Kits one location can build from its own components.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KitAvailability<'r> {
    /// The location.
    pub location: &'r LocationId,
    /// Whole kits: min over components of floor(sellable / quantity per kit).
    pub kits: u64,
    /// The component that limits the count (or is missing here).
    pub limited_by: &'r Sku,
}

/// One SKU on one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelAvailability<'r> {
    /// The channel.
    pub channel: &'r str,
    /// The channel's share of the sellable stock of the locations feeding it.
    pub sellable: u64,
    /// Units it may sell beyond stock (backorder or pre-order allowance).
    pub backorder: u64,
    /// What to publish: sellable + backorder.
    pub published: u64,
}

impl<'r> SkuAvailability<'r> {
    /// The SKU.
    pub fn sku(&self) -> &'r Sku {
        &self.entry.sku
    }

    /// Its category, as the catalog gave it.
    pub fn category(&self) -> Option<&'r str> {
        self.entry.category.as_deref()
    }

    /// True when the SKU is a bundle (its numbers come from its components).
    pub fn is_bundle(&self) -> bool {
        self.entry.bundle.is_some()
    }

    /// Sellable units over all locations (kits, for a bundle).
    pub fn sellable(&self) -> u64 {
        if self.is_bundle() {
            self.entry.kits.iter().map(|k| k.kits).sum()
        } else {
            self.entry.rows.iter().map(|r| r.sellable).sum()
        }
    }

    /// Each location's numbers, in input order (empty for a bundle).
    pub fn locations(&self) -> impl Iterator<Item = LocationAvailability<'r>> + 'r {
        let report = self.report;
        self.entry.rows.iter().map(move |r| LocationAvailability {
            location: &report.locations[r.location as usize],
            on_hand: r.on_hand,
            held_by_states: r.held,
            safety_stock: r.safety,
            buffer: r.buffer,
            sellable: r.sellable,
            incoming: r.incoming,
            feeds_channels: r.eligibility == super::report::Eligibility::Feeds,
        })
    }

    /// The numbers at one location.
    pub fn location(&self, location: &LocationId) -> Option<LocationAvailability<'r>> {
        self.locations().find(|l| l.location == location)
    }

    /// Kits per location (empty unless a bundle).
    pub fn kits(&self) -> impl Iterator<Item = KitAvailability<'r>> + 'r {
        let report = self.report;
        let bundle = self
            .entry
            .bundle
            .map(|b| &report.compiled.rules.bundles[b as usize]);
        self.entry.kits.iter().filter_map(move |k| {
            let comp = bundle?.components.get(k.limiting as usize)?;
            Some(KitAvailability {
                location: &report.locations[k.location as usize],
                kits: k.kits,
                limited_by: &comp.sku,
            })
        })
    }

    /// Every channel's numbers, in rule order.
    pub fn channels(&self) -> impl Iterator<Item = ChannelAvailability<'r>> + 'r {
        let rules = &self.report.compiled.rules;
        self.entry
            .channels
            .iter()
            .zip(&rules.channels)
            .map(|(t, c)| ChannelAvailability {
                channel: &c.id,
                sellable: t.sellable,
                backorder: t.backorder,
                published: t.sellable.saturating_add(t.backorder),
            })
    }

    /// One channel's numbers.
    pub fn channel(&self, channel: &str) -> Option<ChannelAvailability<'r>> {
        let i = self.report.channel_index(channel)?;
        self.channels().nth(i)
    }

    /// What `channel` may publish (0 for an unknown channel).
    pub fn published(&self, channel: &str) -> u64 {
        self.channel(channel).map_or(0, |c| c.published)
    }

    /// Which rule produced each number: per location the quantity states,
    /// safety stock, buffer, eligibility and split; per bundle location the
    /// limiting component; per channel the total and the backorder allowance.
    pub fn explain(&self) -> Explanation {
        let report = self.report;
        let c = &*report.compiled;
        let rules = &c.rules;
        let e = self.entry;
        let loc = |i: u32| report.locations[i as usize].as_str();
        let category = e
            .category
            .as_deref()
            .map_or(String::new(), |k| format!(" (category {k})"));
        let mut x = Explanation::new(format!("availability of {}{category}", e.sku));

        if let Some(b) = e.bundle {
            let bundle = &rules.bundles[b as usize];
            let rule = format!("bundles[{}]", bundle.sku);
            let recipe: Vec<String> = bundle
                .components
                .iter()
                .map(|k| format!("{} x{}", k.sku, k.quantity))
                .collect();
            x.add(
                &rule,
                recipe.join(" + "),
                "kits built from components",
                "a kit's availability is min over components of floor(component sellable / quantity per kit), location by location, so no kit needs parts from two places; per channel from that channel's share of each component; the kits are not taken out of the components' numbers, so a channel may offer the same units as kits and as components",
            );
            if e.ignored_rows > 0 {
                x.add(
                    &rule,
                    format!("{} stock row(s) of {}", e.ignored_rows, e.sku),
                    "ignored",
                    "a bundle's stock is computed from its components",
                );
            }
            if let Some(ci) = e.missing_component {
                x.add(
                    &rule,
                    bundle.components[ci as usize].sku.to_string(),
                    "0 kits",
                    "this component has no stock rows at all",
                );
            }
            for k in &e.kits {
                let comp = &bundle.components[k.limiting as usize];
                let parts: Vec<String> = bundle
                    .components
                    .iter()
                    .map(|p| {
                        let sellable = report
                            .index
                            .get(&p.sku)
                            .and_then(|&i| {
                                report.entries[i as usize]
                                    .rows
                                    .iter()
                                    .find(|r| r.location == k.location)
                            })
                            .map(|r| r.sellable);
                        match sellable {
                            Some(s) => format!(
                                "floor({} {s} / {}) = {}",
                                p.sku,
                                p.quantity,
                                s / u64::from(p.quantity)
                            ),
                            None => format!("{} none here", p.sku),
                        }
                    })
                    .collect();
                x.add(
                    format!("{rule}@{}", loc(k.location)),
                    parts.join(", "),
                    format!("{} kit(s)", k.kits),
                    format!("limited by {}", comp.sku),
                );
            }
        } else {
            if e.ignored_rows > 0 {
                x.add(
                    "rows",
                    format!("{} more row(s) for locations already seen", e.ignored_rows),
                    "ignored",
                    "each (SKU, location) counts once: the first row wins",
                );
            }
            for r in &e.rows {
                let at = loc(r.location);
                let states = on_hand_text(r, at);
                x.add(
                    format!("states@{at}"),
                    states,
                    (r.on_hand.saturating_sub(r.held)).to_string(),
                    if r.clamped {
                        "on_hand minus committed, reserved, safety_stock, damaged and quality_control; negative source quantities count as 0"
                    } else {
                        "on_hand minus committed, reserved, safety_stock, damaged and quality_control"
                    },
                );
                let before = r.on_hand.saturating_sub(r.held);
                if r.safety_rule != NO_RULE {
                    let rule = &rules.safety_stock[r.safety_rule as usize];
                    x.add(
                        format!("safety_stock[{}]", rule.id),
                        before.to_string(),
                        before.saturating_sub(r.safety).to_string(),
                        format!("keeps back {} at {at} ({})", r.safety, scope_text(rule)),
                    );
                }
                if let Some(b) = &rules.buffer {
                    let after = before.saturating_sub(r.safety);
                    x.add(
                        format!("buffer[{}]", b.id),
                        after.to_string(),
                        r.sellable.to_string(),
                        format!(
                            "keeps back {} at {at} ({} unit(s) + {}% rounded up, at most what is left)",
                            r.buffer, b.quantity, b.percent
                        ),
                    );
                }
                let feeds = &c.feeds.get(r.location as usize);
                let fed: Vec<&str> = feeds
                    .map(|f| {
                        f.iter()
                            .map(|&ch| rules.channels[usize::from(ch)].id.as_str())
                            .collect()
                    })
                    .unwrap_or_default();
                let (output, why) = match r.eligibility {
                    Eligibility::Feeds => {
                        (fed.join(", "), "channels listing this location".to_string())
                    }
                    Eligibility::Undeclared => (
                        "no channel".into(),
                        "location is not declared in the rules".into(),
                    ),
                    Eligibility::Inactive => ("no channel".into(), "location is inactive".into()),
                    Eligibility::CategoryExcluded => (
                        "no channel".into(),
                        format!(
                            "location excludes category {}",
                            e.category.as_deref().unwrap_or("")
                        ),
                    ),
                    Eligibility::NoChannel => {
                        ("no channel".into(), "no channel lists this location".into())
                    }
                };
                x.add(
                    format!("locations[{at}]"),
                    format!("sellable {}", r.sellable),
                    output,
                    why,
                );
                if r.eligibility == Eligibility::Feeds {
                    let fed_idx = &c.feeds[r.location as usize];
                    let mut out = vec![0u64; c.channel_count];
                    split_units(&c.split, r.sellable, fed_idx, &mut out);
                    let parts: Vec<String> = fed_idx
                        .iter()
                        .map(|&ch| {
                            format!(
                                "{} {}",
                                rules.channels[usize::from(ch)].id,
                                out[usize::from(ch)]
                            )
                        })
                        .collect();
                    let (rule, why) = match (&rules.split, fed_idx.len()) {
                        (None, 1) => (
                            "allocate".to_string(),
                            "the only channel this location feeds gets all of it".to_string(),
                        ),
                        (None, n) => (
                            "allocate".to_string(),
                            format!(
                                "no split rule: divided evenly between the {n} channels this location feeds, the units that do not divide one each in rule order (an allocation: they add up to {})",
                                r.sellable
                            ),
                        ),
                        (Some(s), _) if s.mode == SplitMode::Shared => (
                            format!("split[{}]", s.id),
                            "shared pool (mode = \"shared\"): every channel fed by the location sees all of it; not an allocation, the channels may sell the same units".to_string(),
                        ),
                        (Some(s), 1) => (
                            format!("split[{}]", s.id),
                            "the only channel this location feeds gets all of it".to_string(),
                        ),
                        (Some(s), _) => {
                            let remainder = s.remainder_to.as_deref().unwrap_or("");
                            let why = if fed_idx.contains(&c.channel_index(remainder)) {
                                format!(
                                    "fixed shares first, then percentages rounded {:?}, remainder to {remainder}",
                                    s.rounding
                                )
                            } else {
                                format!(
                                    "fixed shares first, then percentages rounded {:?}; {remainder} is not fed by {at}, so the remainder goes to {}",
                                    s.rounding,
                                    rules.channels[usize::from(fed_idx[0])].id
                                )
                            };
                            (format!("split[{}]", s.id), why)
                        }
                    };
                    x.add(
                        format!("{rule}@{at}"),
                        r.sellable.to_string(),
                        parts.join(", "),
                        why,
                    );
                }
            }
        }

        for (i, t) in e.channels.iter().enumerate() {
            let ch = &rules.channels[i].id;
            let sources = if e.bundle.is_some() {
                "kits at the locations feeding it".to_string()
            } else {
                "sum of its shares at the locations feeding it".to_string()
            };
            x.add(
                format!("channels[{ch}]"),
                sources,
                t.sellable.to_string(),
                "never more than the locations' sellable stock",
            );
            if t.backorder_rule != NO_RULE {
                let rule = &rules.backorders[t.backorder_rule as usize];
                let sharing: Vec<&str> = e
                    .channels
                    .iter()
                    .zip(&rules.channels)
                    .filter(|(o, _)| o.backorder_rule == t.backorder_rule)
                    .map(|(_, c)| c.id.as_str())
                    .collect();
                let mut why = format!(
                    "may sell {} beyond stock: limit {} in total for {}",
                    t.backorder,
                    rule.limit,
                    sharing.join(", ")
                );
                if rule.limit_to_incoming {
                    why.push_str(&format!(
                        ", capped at the incoming units -> {}; at most this channel's {} incoming",
                        t.backorder_pool, t.incoming
                    ));
                }
                if sharing.len() > 1 {
                    why.push_str(if c.split.allocates() {
                        "; divided between them like stock"
                    } else {
                        "; shared pool: each sees all of it"
                    });
                }
                x.add(
                    format!("backorders[{}]", rule.id),
                    t.sellable.to_string(),
                    format!("publish {}", t.sellable.saturating_add(t.backorder)),
                    why,
                );
            } else {
                x.add(
                    format!("publish[{ch}]"),
                    t.sellable.to_string(),
                    t.sellable.to_string(),
                    "no backorder rule: never publish more than sellable",
                );
            }
        }
        x
    }
}

fn on_hand_text(r: &Row, at: &str) -> String {
    format!("on_hand {} at {at}, held by states {}", r.on_hand, r.held)
}

fn scope_text(rule: &super::config::SafetyStockRule) -> String {
    let mut parts = Vec::new();
    if let Some(s) = &rule.sku {
        parts.push(format!("sku {s}"));
    }
    if let Some(c) = &rule.category {
        parts.push(format!("category {c}"));
    }
    if let Some(l) = &rule.location {
        parts.push(format!("location {l}"));
    }
    format!("most specific matching rule: {}", parts.join(" + "))
}
