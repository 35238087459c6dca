//! Stock locations: warehouses, stores, 3PLs and dropshippers.
//!
//! ```
//! use seamwork::model::{Location, LocationId, LocationKind};
//!
//! let dc = Location::new(LocationId::new("DC-EAST").unwrap(), "East DC", LocationKind::Warehouse);
//! assert!(dc.active);
//! assert!(dc.validate().is_ok());
//! ```

use serde::{Deserialize, Serialize};

use super::address::{Address, GeoPoint};
use super::ids::LocationId;
use super::validation::{ValidationErrors, Validator};

/// What kind of place holds the stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LocationKind {
    /// Own warehouse or distribution centre.
    Warehouse,
    /// Retail store (stock may be sold over the counter).
    Store,
    /// Third-party logistics provider.
    ThirdPartyLogistics,
    /// A supplier that ships directly to customers.
    Dropship,
}

/// A place that holds or ships stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Location {
    /// Canonical id (the key).
    pub id: LocationId,
    /// Human name.
    pub name: String,
    /// Kind of place.
    pub kind: LocationKind,
    /// Postal address, when known.
    #[serde(default)]
    pub address: Option<Address>,
    /// Coordinates, for routing by distance.
    #[serde(default)]
    pub coordinates: Option<GeoPoint>,
    /// Inactive locations keep their history but take no new stock or orders.
    pub active: bool,
}

impl Location {
    /// An active location without address or coordinates.
    pub fn new(id: LocationId, name: impl Into<String>, kind: LocationKind) -> Self {
        Location {
            id,
            name: name.into(),
            kind,
            address: None,
            coordinates: None,
            active: true,
        }
    }

    /// Checks name, address and coordinates.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = Validator::new("location", self.id.as_str());
        v.check(!self.name.trim().is_empty(), "name", "must not be empty");
        if let Some(a) = &self.address {
            v.nested("address", |v| a.validate_into(v));
        }
        if let Some(c) = &self.coordinates {
            v.nested("coordinates", |v| c.validate_into(v));
        }
        v.finish()
    }
}
