//! Postal addresses and coordinates.
//!
//! ```
//! use seamwork::model::Address;
//!
//! let a = Address::new("1 Main St", "Springfield", "US");
//! assert!(a.validate_standalone().is_ok());
//! assert!(Address::new("1 Main St", "Springfield", "usa").validate_standalone().is_err());
//! ```

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::validation::{ValidationErrors, Validator};

/// A postal address. Free text is kept as given; normalization belongs to `identity`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Address {
    /// Recipient name.
    #[serde(default)]
    pub name: Option<String>,
    /// Company.
    #[serde(default)]
    pub company: Option<String>,
    /// First street line.
    pub line1: String,
    /// Second street line (apartment, suite).
    #[serde(default)]
    pub line2: Option<String>,
    /// City or town.
    pub city: String,
    /// State, province or region code (`CA`, `ON`, `BY`).
    #[serde(default)]
    pub region: Option<String>,
    /// Postal code as printed.
    #[serde(default)]
    pub postcode: Option<String>,
    /// ISO 3166-1 alpha-2 country code, upper case (`US`, `DE`).
    pub country: String,
    /// Phone number as given.
    #[serde(default)]
    pub phone: Option<String>,
}

impl Address {
    /// An address with the required parts; the optional ones are empty.
    pub fn new(
        line1: impl Into<String>,
        city: impl Into<String>,
        country: impl Into<String>,
    ) -> Self {
        Address {
            name: None,
            company: None,
            line1: line1.into(),
            line2: None,
            city: city.into(),
            region: None,
            postcode: None,
            country: country.into(),
            phone: None,
        }
    }

    /// Checks the address into `v` (fields relative to the current prefix).
    pub fn validate_into(&self, v: &mut Validator) {
        v.check(!self.line1.trim().is_empty(), "line1", "must not be empty");
        v.check(!self.city.trim().is_empty(), "city", "must not be empty");
        v.check_value(
            self.country.len() == 2 && self.country.bytes().all(|b| b.is_ascii_uppercase()),
            "country",
            "must be an ISO 3166-1 alpha-2 code in upper case",
            &self.country,
        );
    }

    /// Checks the address on its own.
    pub fn validate_standalone(&self) -> Result<(), ValidationErrors> {
        let mut v = Validator::new("address", &self.line1);
        self.validate_into(&mut v);
        v.finish()
    }
}

/// A point on earth in decimal degrees (WGS 84).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GeoPoint {
    /// Latitude, −90 to 90.
    #[serde(with = "crate::model::money::decimal_serde")]
    pub lat: Decimal,
    /// Longitude, −180 to 180.
    #[serde(with = "crate::model::money::decimal_serde")]
    pub lon: Decimal,
}

impl GeoPoint {
    /// Checks the ranges into `v`.
    pub fn validate_into(&self, v: &mut Validator) {
        let (lat_max, lon_max) = (Decimal::from(90), Decimal::from(180));
        v.check_value(
            self.lat.abs() <= lat_max,
            "lat",
            "must be between -90 and 90",
            self.lat,
        );
        v.check_value(
            self.lon.abs() <= lon_max,
            "lon",
            "must be between -180 and 180",
            self.lon,
        );
    }
}
