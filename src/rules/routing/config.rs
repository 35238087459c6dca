//! The routing rule file: fulfilment locations with what they serve, their
//! priority, position, cost and cutoff; split policy; ranking; fallback.

use std::collections::HashSet;
use std::path::Path;

use chrono::NaiveTime;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::validation::Validator;
use crate::model::{Currency, GeoPoint, LocationId};
use crate::rules::config::{At, Problems, load_rules, parse_rules, serde_util};

const WHAT: &str = "routing rules";

/// The largest cost per shipment the rules accept (in the rules' currency).
pub(super) const MAX_COST: u64 = 1_000_000_000;

/// Order routing rules. A new warehouse is one more `[[locations]]` entry.
///
/// Read from TOML with [`RoutingRules::from_toml_str`] or [`RoutingRules::load`];
/// built in code with [`RoutingRules::new`] and the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RoutingRules {
    /// Currency of `cost_per_shipment` (required when any location has a cost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    /// The locations that can fulfil orders.
    #[serde(default)]
    pub locations: Vec<RoutingLocation>,
    /// Whether orders and lines may ship from several locations.
    #[serde(default)]
    pub split: SplitRules,
    /// How equally good plans (same number of shipments) are ranked, most important first.
    #[serde(default = "default_order_by")]
    pub order_by: Vec<Criterion>,
    /// What happens to units no location can ship.
    #[serde(default)]
    pub fallback: Fallback,
}

fn default_order_by() -> Vec<Criterion> {
    vec![
        Criterion::SameDay,
        Criterion::Priority,
        Criterion::Distance,
        Criterion::Cost,
    ]
}

impl Default for RoutingRules {
    fn default() -> Self {
        RoutingRules {
            currency: None,
            locations: Vec::new(),
            split: SplitRules::default(),
            order_by: default_order_by(),
            fallback: Fallback::default(),
        }
    }
}

impl RoutingRules {
    /// No locations; splits allowed per order (up to 3 shipments), not per line;
    /// ranked by same-day, priority, distance, cost; shortfalls backordered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses and checks rules from TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self> {
        parse_rules(text, WHAT, "<toml>", Self::validate)
    }

    /// Reads, parses and checks a TOML rule file; errors name the file, line and column.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        load_rules(path.as_ref(), WHAT, Self::validate)
    }

    /// Sets the currency of shipment costs.
    pub fn with_currency(mut self, currency: Currency) -> Self {
        self.currency = Some(currency);
        self
    }

    /// Adds a location.
    pub fn with_location(mut self, location: RoutingLocation) -> Self {
        self.locations.push(location);
        self
    }

    /// Sets the split policy.
    pub fn with_split(mut self, split: SplitRules) -> Self {
        self.split = split;
        self
    }

    /// Sets the ranking criteria, most important first.
    pub fn with_order_by(mut self, order_by: impl IntoIterator<Item = Criterion>) -> Self {
        self.order_by = order_by.into_iter().collect();
        self
    }

    /// Sets the fallback.
    pub fn with_fallback(mut self, fallback: Fallback) -> Self {
        self.fallback = fallback;
        self
    }

    /// Checks every rule and reports every problem with its field path and rule id
    /// (an [`crate::ErrorKind::Config`] error).
    pub fn validate(&self) -> Result<()> {
        let mut p = Problems::new(WHAT);
        p.check_unique(self.locations.iter().map(|l| l.id.as_str()), |i| {
            format!("{}.id", At("locations", i))
        });
        for (i, l) in self.locations.iter().enumerate() {
            let at = At("locations", i);
            let id = Some(l.id.as_str());
            if let Some(c) = &l.coordinates {
                let mut v = Validator::new("location", l.id.as_str());
                c.validate_into(&mut v);
                if let Err(e) = v.finish() {
                    for violation in e.violations {
                        p.add(
                            format_args!("{at}.coordinates.{}", violation.field),
                            id,
                            format_args!(
                                "{}, found {}",
                                violation.rule,
                                violation.actual.unwrap_or_default()
                            ),
                        );
                    }
                }
            }
            let mut countries = HashSet::new();
            for (j, area) in l.serves.iter().enumerate() {
                let field = format!("{at}.serves[{j}]");
                p.check(
                    area.country.len() == 2 && area.country.bytes().all(|b| b.is_ascii_uppercase()),
                    format_args!("{field}.country"),
                    id,
                    format_args!(
                        "must be an ISO 3166-1 alpha-2 code in upper case, found {:?}",
                        area.country
                    ),
                );
                p.check(
                    countries.insert(area.country.as_str()),
                    format_args!("{field}.country"),
                    id,
                    format_args!("{} is listed twice; merge its regions", area.country),
                );
                for (k, r) in area.regions.iter().enumerate() {
                    p.check(
                        !r.trim().is_empty(),
                        format_args!("{field}.regions[{k}]"),
                        id,
                        "must not be empty",
                    );
                }
            }
            if let Some(cost) = l.cost_per_shipment {
                match self.currency {
                    None => p.add(
                        format_args!("{at}.cost_per_shipment"),
                        id,
                        "needs the rules' `currency` to say what it is in",
                    ),
                    Some(c) => p.check(
                        cost >= Decimal::ZERO
                            && cost <= Decimal::from(MAX_COST)
                            && cost.normalize().scale() <= c.minor_units(),
                        format_args!("{at}.cost_per_shipment"),
                        id,
                        format_args!(
                            "must be between 0 and {MAX_COST} in whole {c} minor units, found {cost}"
                        ),
                    ),
                }
            }
        }
        p.check(
            self.split.max_shipments >= 1,
            "split.max_shipments",
            None,
            format_args!("must be ≥ 1, found {}", self.split.max_shipments),
        );
        let mut seen = HashSet::new();
        for (i, c) in self.order_by.iter().enumerate() {
            p.check(
                seen.insert(*c),
                format_args!("order_by[{i}]"),
                None,
                format_args!("{c:?} is listed twice"),
            );
        }
        match (self.fallback.action, &self.fallback.location) {
            (FallbackAction::Location, None) => p.add(
                "fallback.location",
                None,
                "action \"location\" needs a location",
            ),
            (FallbackAction::Location, Some(l)) => match self.locations.iter().find(|x| &x.id == l) {
                None => p.add(
                    "fallback.location",
                    None,
                    format_args!("unknown location \"{l}\": declare it under [[locations]]"),
                ),
                Some(x) => p.check(
                    x.active,
                    "fallback.location",
                    Some(l.as_str()),
                    format_args!("\"{l}\" is inactive, so it can take no orders: activate it or choose another"),
                ),
            },
            (_, Some(_)) => p.add(
                "fallback.location",
                None,
                "only used with action = \"location\"",
            ),
            (_, None) => {}
        }
        p.finish()
    }
}

/// A location that can fulfil orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RoutingLocation {
    /// The location.
    pub id: LocationId,
    /// Inactive locations are skipped.
    #[serde(default = "serde_util::yes")]
    pub active: bool,
    /// Lower is preferred.
    #[serde(default)]
    pub priority: u32,
    /// Where it is, for distance ranking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinates: Option<GeoPoint>,
    /// Countries (and regions) it ships to; empty means anywhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub serves: Vec<ServiceArea>,
    /// Cost of one shipment from here, in the rules' currency.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_util::opt_decimal"
    )]
    pub cost_per_shipment: Option<Decimal>,
    /// Carrier cutoff, a time of day in the location's `timezone` (UTC
    /// without one): orders routed after it ship the next day.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_util::opt_time"
    )]
    pub cutoff: Option<NaiveTime>,
    /// The location's IANA time zone (`America/New_York`), for its cutoff:
    /// the routing instant is turned into the local time there, so the
    /// cutoff holds across midnight UTC and daylight saving changes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_util::opt_timezone"
    )]
    pub timezone: Option<chrono_tz::Tz>,
}

impl RoutingLocation {
    /// An active location of priority 0 that ships anywhere.
    pub fn new(id: LocationId) -> Self {
        RoutingLocation {
            id,
            active: true,
            priority: 0,
            coordinates: None,
            serves: Vec::new(),
            cost_per_shipment: None,
            cutoff: None,
            timezone: None,
        }
    }

    /// Marks it inactive.
    pub fn inactive(mut self) -> Self {
        self.active = false;
        self
    }

    /// Sets the priority (lower is preferred).
    pub fn with_priority(mut self, priority: u32) -> Self {
        self.priority = priority;
        self
    }

    /// Sets its coordinates.
    pub fn at(mut self, point: GeoPoint) -> Self {
        self.coordinates = Some(point);
        self
    }

    /// Adds a country it ships to, limited to `regions` when any are given.
    pub fn serving(mut self, country: impl Into<String>, regions: &[&str]) -> Self {
        self.serves
            .push(ServiceArea::new(country, regions.iter().copied()));
        self
    }

    /// Sets the cost per shipment.
    pub fn with_cost(mut self, cost: Decimal) -> Self {
        self.cost_per_shipment = Some(cost);
        self
    }

    /// Sets the carrier cutoff (local time in the `timezone`, UTC without one).
    pub fn with_cutoff(mut self, cutoff: NaiveTime) -> Self {
        self.cutoff = Some(cutoff);
        self
    }

    /// Sets the location's time zone.
    pub fn in_timezone(mut self, timezone: chrono_tz::Tz) -> Self {
        self.timezone = Some(timezone);
        self
    }
}

/// A country a location ships to, optionally only some of its regions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ServiceArea {
    /// ISO 3166-1 alpha-2 code.
    pub country: String,
    /// Region codes as in addresses (`CA`, `NY`); empty means the whole country.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
}

impl ServiceArea {
    /// `country` (ISO 3166-1 alpha-2), limited to `regions` when any are given.
    pub fn new(
        country: impl Into<String>,
        regions: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        ServiceArea {
            country: country.into(),
            regions: regions.into_iter().map(Into::into).collect(),
        }
    }
}

/// Whether an order may ship from several locations, and a line too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SplitRules {
    /// The order may ship from several locations (default true).
    #[serde(default = "serde_util::yes")]
    pub order: bool,
    /// One line's quantity may ship from several locations (default false).
    #[serde(default)]
    pub line: bool,
    /// Most shipments (locations) per order (default 3).
    #[serde(default = "default_max_shipments")]
    pub max_shipments: u32,
}

fn default_max_shipments() -> u32 {
    3
}

impl Default for SplitRules {
    fn default() -> Self {
        SplitRules {
            order: true,
            line: false,
            max_shipments: default_max_shipments(),
        }
    }
}

impl SplitRules {
    /// Everything from one location (an order allowed to split by its
    /// [`crate::rules::RouteContext`] may still use up to 3).
    pub fn no_split() -> Self {
        SplitRules {
            order: false,
            line: false,
            max_shipments: default_max_shipments(),
        }
    }

    /// Orders and lines may split, up to `max_shipments` locations.
    pub fn split_lines(max_shipments: u32) -> Self {
        SplitRules {
            order: true,
            line: true,
            max_shipments,
        }
    }

    /// Orders may split (whole lines), up to `max_shipments` locations.
    pub fn split_orders(max_shipments: u32) -> Self {
        SplitRules {
            order: true,
            line: false,
            max_shipments,
        }
    }
}

/// A ranking criterion for plans with the same number of shipments (lower is better).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Criterion {
    /// Locations still before their carrier cutoff first.
    SameDay,
    /// Lower `priority` first.
    Priority,
    /// Nearer to the destination first (unknown distances last).
    Distance,
    /// Cheaper shipments first.
    Cost,
}

/// What happens to units no location can ship under the split policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Fallback {
    /// The action.
    #[serde(default)]
    pub action: FallbackAction,
    /// The location, for [`FallbackAction::Location`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<LocationId>,
}

impl Fallback {
    /// Backorder what cannot ship.
    pub fn backorder() -> Self {
        Fallback::default()
    }

    /// Send what cannot ship to `location` (a dropshipper, the main DC) as a backorder there.
    pub fn location(location: LocationId) -> Self {
        Fallback {
            action: FallbackAction::Location,
            location: Some(location),
        }
    }

    /// Route nothing unless the whole order can ship.
    pub fn reject() -> Self {
        Fallback {
            action: FallbackAction::Reject,
            location: None,
        }
    }
}

/// The kinds of [`Fallback`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FallbackAction {
    /// Backorder the units: when splitting is forbidden at the location that
    /// can ship the most, otherwise without a location.
    #[default]
    Backorder,
    /// Backorder the units at the fallback location (which must be active);
    /// for an order it does not serve, backorder as [`FallbackAction::Backorder`].
    Location,
    /// Allocate nothing unless everything can ship.
    Reject,
}
