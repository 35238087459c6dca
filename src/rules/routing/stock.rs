//! Stock per SKU and routing location, laid out for routing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::model::{InventoryLevel, LocationId, Sku};
use crate::rules::availability::{AvailabilityReport, States};

/// The routing locations in rule order, by id.
#[derive(Debug)]
pub(super) struct LocationIndex {
    pub(super) ids: Vec<LocationId>,
    pub(super) index: HashMap<LocationId, u32>,
}

impl LocationIndex {
    pub(super) fn new(ids: Vec<LocationId>) -> Self {
        let index = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i as u32))
            .collect();
        LocationIndex { ids, index }
    }
}

/// Units that can ship, per SKU and routing location.
///
/// Made by [`crate::rules::RoutingEngine::stock`] for that engine's locations
/// (one row of quantities per SKU, in location order, so a routing decision
/// looks each SKU up once).
#[derive(Debug, Clone)]
pub struct Stock {
    pub(super) locations: Arc<LocationIndex>,
    pub(super) by_sku: HashMap<Sku, Vec<u64>>,
}

impl Stock {
    pub(super) fn new(locations: Arc<LocationIndex>) -> Self {
        Stock {
            locations,
            by_sku: HashMap::new(),
        }
    }

    /// Sets the units of `sku` that can ship from `location`; an unknown location is an error.
    pub fn set(&mut self, sku: &Sku, location: &LocationId, quantity: u64) -> Result<()> {
        let Some(&i) = self.locations.index.get(location) else {
            return Err(Error::invalid_data(format!(
                "location {location} is not a routing location; add it to the routing rules"
            ))
            .with_key(location.as_str()));
        };
        self.row(sku)[i as usize] = quantity;
        Ok(())
    }

    /// The units of `sku` at `location` (0 when unknown).
    pub fn get(&self, sku: &Sku, location: &LocationId) -> u64 {
        let Some(&i) = self.locations.index.get(location) else {
            return 0;
        };
        self.by_sku.get(sku).map_or(0, |row| row[i as usize])
    }

    /// Sets stock from inventory levels: what the quantity states leave, with
    /// the same arithmetic as availability (each quantity clamped at 0, so a
    /// negative `committed` never adds stock; never below zero, never above
    /// on hand). Within one call a (SKU, location) counts once: the first
    /// row wins. Returns how many levels were skipped: at locations the
    /// routing rules do not know, or repeating a (SKU, location).
    pub fn add_levels<'a>(
        &mut self,
        levels: impl IntoIterator<Item = &'a InventoryLevel>,
    ) -> usize {
        let mut skipped = 0;
        let mut seen: HashSet<(&'a Sku, u32)> = HashSet::new();
        for level in levels {
            let Some(&i) = self.locations.index.get(&level.location) else {
                skipped += 1;
                continue;
            };
            if !seen.insert((&level.sku, i)) {
                skipped += 1;
                continue;
            }
            self.row(&level.sku)[i as usize] = States::of(level).after_states;
        }
        skipped
    }

    /// Sets stock from an availability report: each SKU's sellable units per
    /// location (so safety stock and buffers hold for routing too), and for
    /// each bundle the whole kits each location can build from its own
    /// components. Returns how many rows were at locations the routing rules
    /// do not know.
    ///
    /// A kit's stock is made of the same units as its components' stock: an
    /// order with a kit and one of its components may be given both at one
    /// location although they need the same units. Route such orders with
    /// the kit expanded into its components when that matters.
    pub fn add_availability(&mut self, report: &AvailabilityReport) -> usize {
        let mut skipped = 0;
        for sku in report.skus() {
            if sku.is_bundle() {
                for kit in sku.kits() {
                    match self.locations.index.get(kit.location) {
                        Some(&i) => self.row(sku.sku())[i as usize] = kit.kits,
                        None => skipped += 1,
                    }
                }
                continue;
            }
            for at in sku.locations() {
                match self.locations.index.get(at.location) {
                    Some(&i) => self.row(sku.sku())[i as usize] = at.sellable,
                    None => skipped += 1,
                }
            }
        }
        skipped
    }

    /// The number of SKUs with stock rows.
    pub fn len(&self) -> usize {
        self.by_sku.len()
    }

    /// True when no stock was set.
    pub fn is_empty(&self) -> bool {
        self.by_sku.is_empty()
    }

    fn row(&mut self, sku: &Sku) -> &mut Vec<u64> {
        let n = self.locations.ids.len();
        self.by_sku.entry(sku.clone()).or_insert_with(|| vec![0; n])
    }
}
