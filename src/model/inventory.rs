//! Stock of one SKU at one location, in the quantity states storefronts use.
//!
//! The states follow Shopify's inventory model: `on_hand` is what is
//! physically there; `committed` is promised to open orders; `reserved`,
//! `safety_stock`, `damaged` and `quality_control` count in `on_hand` but must
//! not be sold; `incoming` is on its way and not in `on_hand`. Hence
//!
//! `available = on_hand − committed − reserved − safety_stock − damaged − quality_control`
//!
//! ```
//! use chrono::Utc;
//! use seamwork::model::{InventoryLevel, LocationId, Sku};
//!
//! let mut level = InventoryLevel::new(Sku::new("TEE-M").unwrap(), LocationId::new("DC-EAST").unwrap(), Utc::now());
//! level.on_hand = 10;
//! level.committed = 3;
//! level.recompute_available();
//! assert_eq!(level.available, 7);
//! assert!(level.validate().is_ok());
//!
//! level.available = 9; // drifted
//! let err = level.validate().unwrap_err();
//! assert!(err.to_string().contains("expected 7, actual 9"));
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{LocationId, Sku};
use super::validation::{Rules, ValidationErrors, Validator, Verdict};

/// Stock of one SKU at one location.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InventoryLevel {
    /// The SKU.
    pub sku: Sku,
    /// The location.
    pub location: LocationId,
    /// Physically present, sellable or not.
    #[serde(default)]
    pub on_hand: i64,
    /// Sellable now; negative only when `oversell_allowed`.
    #[serde(default)]
    pub available: i64,
    /// Promised to open orders, not yet shipped.
    #[serde(default)]
    pub committed: i64,
    /// Held for another purpose (draft orders, B2B holds).
    #[serde(default)]
    pub reserved: i64,
    /// On its way (purchase orders, transfers); not part of `on_hand`.
    #[serde(default)]
    pub incoming: i64,
    /// Kept back on purpose as a buffer.
    #[serde(default)]
    pub safety_stock: i64,
    /// Present but damaged.
    #[serde(default)]
    pub damaged: i64,
    /// Present but held for inspection.
    #[serde(default)]
    pub quality_control: i64,
    /// Whether selling below zero (backorders) is allowed at this location.
    #[serde(default)]
    pub oversell_allowed: bool,
    /// When the level last changed.
    pub updated_at: DateTime<Utc>,
}

impl InventoryLevel {
    /// An empty level (all quantities zero, overselling not allowed).
    pub fn new(sku: Sku, location: LocationId, at: DateTime<Utc>) -> Self {
        InventoryLevel {
            sku,
            location,
            on_hand: 0,
            available: 0,
            committed: 0,
            reserved: 0,
            incoming: 0,
            safety_stock: 0,
            damaged: 0,
            quality_control: 0,
            oversell_allowed: false,
            updated_at: at,
        }
    }

    /// The quantities that count in `on_hand` but cannot be sold.
    pub fn unsellable(&self) -> i64 {
        self.committed
            .saturating_add(self.reserved)
            .saturating_add(self.safety_stock)
            .saturating_add(self.damaged)
            .saturating_add(self.quality_control)
    }

    /// `available` as the consistency rule computes it from the other states.
    pub fn expected_available(&self) -> i64 {
        self.on_hand.saturating_sub(self.unsellable())
    }

    /// Sets `available` from the other states.
    pub fn recompute_available(&mut self) {
        self.available = self.expected_available();
    }

    /// XXH3 of every field, written directly (levels are synced by the
    /// million; the serde form costs several times more, most of it in
    /// formatting the time). Naming every field makes a new one a compile
    /// error here until it is hashed too.
    pub fn fingerprint(&self) -> u64 {
        let InventoryLevel {
            sku,
            location,
            on_hand,
            available,
            committed,
            reserved,
            incoming,
            safety_stock,
            damaged,
            quality_control,
            oversell_allowed,
            updated_at,
        } = self;
        crate::store::fingerprint::hash_written(|out| {
            // Text ends in 0xFF, which never occurs in UTF-8.
            for text in [sku.as_str(), location.as_str()] {
                out.extend_from_slice(text.as_bytes());
                out.push(0xFF);
            }
            let quantities = [
                on_hand,
                available,
                committed,
                reserved,
                incoming,
                safety_stock,
                damaged,
                quality_control,
            ];
            for q in quantities {
                out.extend_from_slice(&q.to_le_bytes());
            }
            out.push(u8::from(*oversell_allowed));
            out.extend_from_slice(&updated_at.timestamp().to_le_bytes());
            out.extend_from_slice(&updated_at.timestamp_subsec_nanos().to_le_bytes());
        })
    }

    /// The key text `SKU@LOCATION`, for messages.
    pub fn key_text(&self) -> String {
        format!("{}@{}", self.sku, self.location)
    }

    /// Checks non-negative states and the consistency rule, reporting every break.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        // Every level is checked at least twice per sync (engine and sink):
        // learn that it is valid without building a report.
        let mut verdict = Verdict::default();
        self.validate_into(&mut verdict);
        if verdict.is_clean() {
            return Ok(());
        }
        let mut v = Validator::new("inventory_level", self.key_text());
        self.validate_into(&mut v);
        v.finish()
    }

    fn validate_into(&self, v: &mut impl Rules) {
        for (field, q) in [
            ("on_hand", self.on_hand),
            ("committed", self.committed),
            ("reserved", self.reserved),
            ("incoming", self.incoming),
            ("safety_stock", self.safety_stock),
            ("damaged", self.damaged),
            ("quality_control", self.quality_control),
        ] {
            v.check_value(q >= 0, field, "must not be negative", q);
        }
        v.expect_eq(
            "available",
            "available = on_hand - committed - reserved - safety_stock - damaged - quality_control",
            &self.expected_available(),
            &self.available,
        );
        v.check_value(
            self.available >= 0 || self.oversell_allowed,
            "available",
            "must not be negative unless overselling is allowed",
            self.available,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level() -> InventoryLevel {
        InventoryLevel::new(
            Sku::new("A").unwrap(),
            LocationId::new("L1").unwrap(),
            Utc::now(),
        )
    }

    #[test]
    fn oversold_needs_permission() {
        let mut l = level();
        l.on_hand = 2;
        l.committed = 5;
        l.recompute_available();
        assert_eq!(l.available, -3);
        let e = l.validate().unwrap_err();
        assert_eq!(e.violations.len(), 1);
        assert!(e.to_string().contains("unless overselling is allowed"));
        l.oversell_allowed = true;
        assert!(l.validate().is_ok());
    }

    #[test]
    fn every_negative_state_is_reported() {
        let mut l = level();
        l.damaged = -1;
        l.incoming = -2;
        let e = l.validate().unwrap_err();
        assert!(e.has_field("damaged"));
        assert!(e.has_field("incoming"));
        // available = 0 - (-1) = 1 expected, actual 0
        assert!(e.has_field("available"));
    }
}
