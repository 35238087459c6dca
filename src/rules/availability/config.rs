//! The availability rule file: locations and the channels they feed, safety
//! stock, the buffer, the channel split, bundles and backorder limits.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::{LocationId, RoundingMode, Sku};
use crate::rules::config::{At, Problems, load_rules, parse_rules, serde_util};

const WHAT: &str = "availability rules";

/// Availability rules: how on-hand stock becomes the quantity each channel may sell.
///
/// Read from TOML with [`AvailabilityRules::from_toml_str`] or
/// [`AvailabilityRules::load`]; built in code with [`AvailabilityRules::new`]
/// and the `with_*` methods. Every section is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AvailabilityRules {
    /// Locations that may feed channels, with their eligibility.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<LocationRule>,
    /// Sales channels and the locations that feed each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<ChannelRule>,
    /// Safety stock kept back per SKU, category or location (the most specific rule wins).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub safety_stock: Vec<SafetyStockRule>,
    /// A buffer kept back from every location after safety stock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffer: Option<BufferRule>,
    /// How a location's sellable stock is divided between the channels it
    /// feeds. Without it the stock is still allocated: divided evenly between
    /// those channels (see [`ChannelSplit`]); a shared pool, where every
    /// channel sees all of it, must be asked for with `mode = "shared"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<ChannelSplit>,
    /// Kits sold as one SKU and built from components.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bundles: Vec<BundleRule>,
    /// How far beyond sellable stock a channel may sell (backorders, pre-orders).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backorders: Vec<BackorderRule>,
}

impl AvailabilityRules {
    /// Empty rules: no channels, no safety stock, no buffer.
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

    /// Adds a location.
    pub fn with_location(mut self, location: LocationRule) -> Self {
        self.locations.push(location);
        self
    }

    /// Adds a channel.
    pub fn with_channel(mut self, channel: ChannelRule) -> Self {
        self.channels.push(channel);
        self
    }

    /// Adds a safety stock rule.
    pub fn with_safety_stock(mut self, rule: SafetyStockRule) -> Self {
        self.safety_stock.push(rule);
        self
    }

    /// Sets the buffer.
    pub fn with_buffer(mut self, buffer: BufferRule) -> Self {
        self.buffer = Some(buffer);
        self
    }

    /// Sets the channel split.
    pub fn with_split(mut self, split: ChannelSplit) -> Self {
        self.split = Some(split);
        self
    }

    /// Adds a bundle.
    pub fn with_bundle(mut self, bundle: BundleRule) -> Self {
        self.bundles.push(bundle);
        self
    }

    /// Adds a backorder rule.
    pub fn with_backorder(mut self, rule: BackorderRule) -> Self {
        self.backorders.push(rule);
        self
    }

    /// Checks every rule and reports every problem with its field path and rule id
    /// (an [`crate::ErrorKind::Config`] error).
    pub fn validate(&self) -> Result<()> {
        let mut p = Problems::new(WHAT);
        let locations: HashSet<&LocationId> = self.locations.iter().map(|l| &l.id).collect();
        let channels: HashSet<&str> = self.channels.iter().map(|c| c.id.as_str()).collect();

        p.check_unique(self.locations.iter().map(|l| l.id.as_str()), |i| {
            format!("{}.id", At("locations", i))
        });
        for (i, l) in self.locations.iter().enumerate() {
            for (j, c) in l.exclude_categories.iter().enumerate() {
                p.check(
                    !c.trim().is_empty(),
                    format_args!("{}.exclude_categories[{j}]", At("locations", i)),
                    Some(l.id.as_str()),
                    "must not be empty",
                );
            }
        }

        p.check_unique(self.channels.iter().map(|c| c.id.as_str()), |i| {
            format!("{}.id", At("channels", i))
        });
        for (i, c) in self.channels.iter().enumerate() {
            p.check_id(format_args!("{}.id", At("channels", i)), &c.id);
            p.check(
                !c.locations.is_empty(),
                format_args!("{}.locations", At("channels", i)),
                Some(&c.id),
                "must list at least one location",
            );
            let mut seen = HashSet::new();
            for (j, l) in c.locations.iter().enumerate() {
                let field = format!("{}.locations[{j}]", At("channels", i));
                p.check(
                    locations.contains(l),
                    &field,
                    Some(&c.id),
                    format_args!("unknown location \"{l}\": declare it under [[locations]]"),
                );
                p.check(
                    seen.insert(l),
                    &field,
                    Some(&c.id),
                    format_args!("\"{l}\" is listed twice"),
                );
            }
        }

        p.check_unique(self.safety_stock.iter().map(|r| r.id.as_str()), |i| {
            format!("{}.id", At("safety_stock", i))
        });
        let mut scopes = HashMap::new();
        for (i, r) in self.safety_stock.iter().enumerate() {
            let at = At("safety_stock", i);
            p.check_id(format_args!("{at}.id"), &r.id);
            p.check(
                r.sku.is_some() || r.category.is_some() || r.location.is_some(),
                &at,
                Some(&r.id),
                "must name a sku, a category or a location (or several)",
            );
            if let Some(l) = &r.location {
                p.check(
                    locations.contains(l),
                    format_args!("{at}.location"),
                    Some(&r.id),
                    format_args!("unknown location \"{l}\": declare it under [[locations]]"),
                );
            }
            if let Some(c) = &r.category {
                p.check(
                    !c.trim().is_empty(),
                    format_args!("{at}.category"),
                    Some(&r.id),
                    "must not be empty",
                );
            }
            if let Some(first) = scopes.insert((&r.sku, &r.category, &r.location), &r.id) {
                p.add(
                    &at,
                    Some(&r.id),
                    format_args!("has the same sku, category and location as rule {first:?}; one of them would never apply"),
                );
            }
        }

        if let Some(b) = &self.buffer {
            p.check(
                b.percent >= Decimal::ZERO && b.percent <= Decimal::ONE_HUNDRED,
                "buffer.percent",
                Some(&b.id),
                format_args!("must be between 0 and 100, found {}", b.percent),
            );
        }

        if let Some(s) = &self.split {
            match (s.mode, &s.remainder_to) {
                (SplitMode::Allocate, Some(r)) => p.check(
                    channels.contains(r.as_str()),
                    "split.remainder_to",
                    Some(&s.id),
                    format_args!("unknown channel {r:?}: declare it under [[channels]]"),
                ),
                (SplitMode::Allocate, None) => p.add(
                    "split.remainder_to",
                    Some(&s.id),
                    "an allocating split needs the channel that receives what the shares leave \
                     (or leave out [split] to divide stock evenly)",
                ),
                (SplitMode::Shared, Some(_)) => p.add(
                    "split.remainder_to",
                    Some(&s.id),
                    "a shared pool allocates nothing: remainder_to only applies to mode = \"allocate\"",
                ),
                (SplitMode::Shared, None) => {}
            }
            p.check(
                s.mode == SplitMode::Allocate || s.shares.is_empty(),
                "split.shares",
                Some(&s.id),
                "a shared pool allocates nothing: shares only apply to mode = \"allocate\"",
            );
            let mut total = Some(Decimal::ZERO);
            let mut seen = HashSet::new();
            for (i, share) in s.shares.iter().enumerate() {
                let at = format!("split.{}", At("shares", i));
                p.check(
                    channels.contains(share.channel.as_str()),
                    format_args!("{at}.channel"),
                    Some(&s.id),
                    format_args!(
                        "unknown channel {:?}: declare it under [[channels]]",
                        share.channel
                    ),
                );
                p.check(
                    seen.insert(share.channel.as_str()),
                    format_args!("{at}.channel"),
                    Some(&s.id),
                    format_args!("channel {:?} has two shares", share.channel),
                );
                match (share.percent, share.quantity) {
                    (Some(pct), None) => {
                        p.check(
                            pct > Decimal::ZERO && pct <= Decimal::ONE_HUNDRED,
                            format_args!("{at}.percent"),
                            Some(&s.id),
                            format_args!("must be above 0 and at most 100, found {pct}"),
                        );
                        total = total.and_then(|t| t.checked_add(pct.max(Decimal::ZERO)));
                    }
                    (None, Some(_)) => {}
                    _ => p.add(
                        &at,
                        Some(&s.id),
                        "must set exactly one of percent and quantity",
                    ),
                }
            }
            match total {
                Some(total) => p.check(
                    total <= Decimal::ONE_HUNDRED,
                    "split.shares",
                    Some(&s.id),
                    format_args!("percentages add up to {total}, more than 100"),
                ),
                None => p.add(
                    "split.shares",
                    Some(&s.id),
                    "percentages add up to more than a decimal holds, far more than 100",
                ),
            }
        }

        let bundle_skus: HashSet<&Sku> = self.bundles.iter().map(|b| &b.sku).collect();
        p.check_unique(self.bundles.iter().map(|b| b.sku.as_str()), |i| {
            format!("{}.sku", At("bundles", i))
        });
        for (i, b) in self.bundles.iter().enumerate() {
            let at = At("bundles", i);
            p.check(
                !b.components.is_empty(),
                format_args!("{at}.components"),
                Some(b.sku.as_str()),
                "must list at least one component",
            );
            let mut seen = HashSet::new();
            for (j, c) in b.components.iter().enumerate() {
                let field = format!("{at}.components[{j}]");
                p.check(
                    c.quantity >= 1,
                    format_args!("{field}.quantity"),
                    Some(b.sku.as_str()),
                    format_args!("must be ≥ 1, found {}", c.quantity),
                );
                p.check(
                    !bundle_skus.contains(&c.sku),
                    format_args!("{field}.sku"),
                    Some(b.sku.as_str()),
                    format_args!(
                        "{} is itself a bundle; nested bundles are not supported",
                        c.sku
                    ),
                );
                p.check(
                    seen.insert(&c.sku),
                    format_args!("{field}.sku"),
                    Some(b.sku.as_str()),
                    format_args!("{} is listed twice; add the quantities", c.sku),
                );
            }
        }

        p.check_unique(self.backorders.iter().map(|r| r.id.as_str()), |i| {
            format!("{}.id", At("backorders", i))
        });
        for (i, r) in self.backorders.iter().enumerate() {
            let at = At("backorders", i);
            p.check_id(format_args!("{at}.id"), &r.id);
            p.check(
                r.sku.is_none() || r.category.is_none(),
                &at,
                Some(&r.id),
                "set a sku or a category, not both",
            );
            for (j, c) in r.channels.iter().enumerate() {
                p.check(
                    channels.contains(c.as_str()),
                    format_args!("{at}.channels[{j}]"),
                    Some(&r.id),
                    format_args!("unknown channel {c:?}: declare it under [[channels]]"),
                );
            }
            for (k, other) in self.backorders.iter().enumerate().take(i) {
                let overlap = r.channels.is_empty()
                    || other.channels.is_empty()
                    || r.channels.iter().any(|c| other.channels.contains(c));
                if other.sku == r.sku && other.category == r.category && overlap {
                    p.add(
                        &at,
                        Some(&r.id),
                        format_args!(
                            "covers the same sku/category and channel as backorders[{k}] ({:?}); one of them would never apply",
                            other.id
                        ),
                    );
                }
            }
        }
        p.finish()
    }
}

/// A location that may feed channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct LocationRule {
    /// The location.
    pub id: LocationId,
    /// An inactive location feeds no channel (its stock is still reported).
    #[serde(default = "serde_util::yes")]
    pub active: bool,
    /// Categories this location never sells (a store that does not ship hazmat).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_categories: Vec<String>,
}

impl LocationRule {
    /// An active location selling every category.
    pub fn new(id: LocationId) -> Self {
        LocationRule {
            id,
            active: true,
            exclude_categories: Vec::new(),
        }
    }

    /// Marks the location inactive.
    pub fn inactive(mut self) -> Self {
        self.active = false;
        self
    }

    /// Excludes a category from this location.
    pub fn excluding_category(mut self, category: impl Into<String>) -> Self {
        self.exclude_categories.push(category.into());
        self
    }
}

/// A sales channel and the locations whose stock it may sell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ChannelRule {
    /// Channel name (`web`, `marketplace`, `wholesale`).
    pub id: String,
    /// The locations that feed it.
    pub locations: Vec<LocationId>,
}

impl ChannelRule {
    /// A channel fed by `locations`.
    pub fn new(id: impl Into<String>, locations: impl IntoIterator<Item = LocationId>) -> Self {
        ChannelRule {
            id: id.into(),
            locations: locations.into_iter().collect(),
        }
    }
}

/// Units kept back from sale, for a SKU, a category, a location or a combination.
///
/// When several rules match a row, the most specific wins: a rule naming the
/// SKU beats one naming the category, which beats one naming only the
/// location; adding the location makes a SKU or category rule more specific.
/// The rule is kept back in addition to the level's own quantity states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SafetyStockRule {
    /// Rule id, for explanations and errors.
    pub id: String,
    /// The SKU it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<Sku>,
    /// The category it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The location it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<LocationId>,
    /// Units kept back.
    pub quantity: u64,
}

impl SafetyStockRule {
    /// A rule keeping back `quantity`; scope it with `for_sku`, `in_category`, `at_location`.
    pub fn new(id: impl Into<String>, quantity: u64) -> Self {
        SafetyStockRule {
            id: id.into(),
            sku: None,
            category: None,
            location: None,
            quantity,
        }
    }

    /// Applies to one SKU.
    pub fn for_sku(mut self, sku: Sku) -> Self {
        self.sku = Some(sku);
        self
    }

    /// Applies to one category.
    pub fn in_category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }

    /// Applies at one location.
    pub fn at_location(mut self, location: LocationId) -> Self {
        self.location = Some(location);
        self
    }

    /// How specific the rule is: SKU > category > location; more parts beat fewer.
    pub(crate) fn specificity(&self) -> u8 {
        (u8::from(self.sku.is_some()) << 2)
            | (u8::from(self.category.is_some()) << 1)
            | u8::from(self.location.is_some())
    }
}

/// A buffer kept back at every location after safety stock: a fixed number
/// of units plus a percentage of what is left, rounded up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BufferRule {
    /// Rule id, for explanations.
    #[serde(default = "default_buffer_id")]
    pub id: String,
    /// Units kept back.
    #[serde(default)]
    pub quantity: u64,
    /// Percent (0 to 100) of what is left after safety stock, rounded up.
    #[serde(default, with = "crate::model::money::decimal_serde")]
    pub percent: Decimal,
}

fn default_buffer_id() -> String {
    "buffer".to_string()
}

impl BufferRule {
    /// A buffer of `quantity` units plus `percent` percent.
    pub fn new(quantity: u64, percent: Decimal) -> Self {
        BufferRule {
            id: default_buffer_id(),
            quantity,
            percent,
        }
    }
}

/// How a location's sellable units are divided between the channels it feeds.
///
/// A location that feeds a single channel gives it everything. Where several
/// channels share a location, the `mode` decides:
///
/// - `allocate` (the default): every unit goes to exactly one channel, so
///   the channels together never publish more than the location has. Fixed
///   quantities are served first, in file order; percentages then apply to
///   what is left, each rounded with `rounding` and never above what
///   remains; the units still left go to `remainder_to` when the location
///   feeds it, else to the first channel (in rule order) it feeds.
/// - `shared`: every channel sees all of the location's units. This is *not
///   an allocation*: two channels may each sell the same unit, and only
///   fast stock sync stops the second sale. Use it only for channels that
///   really draw on one pool (one storefront on two domains).
///
/// Without a `[split]` rule the stock is still allocated: each location's
/// units are divided evenly between the channels it feeds, the units that do
/// not divide going one each to the first channels in rule order.
///
/// The same split divides the incoming units and the backorder allowances
/// (see [`BackorderRule`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ChannelSplit {
    /// Rule id, for explanations.
    #[serde(default = "default_split_id")]
    pub id: String,
    /// Allocate (default) or share the units.
    #[serde(default)]
    pub mode: SplitMode,
    /// The channel that receives the remainder (where the location feeds it);
    /// required when allocating, not allowed when shared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remainder_to: Option<String>,
    /// Rounding of percentage shares to whole units (default: down).
    #[serde(default = "default_split_rounding")]
    pub rounding: RoundingMode,
    /// The shares (allocating only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shares: Vec<ChannelShare>,
}

/// Whether a [`ChannelSplit`] allocates units to channels or lets them share a pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SplitMode {
    /// Every unit goes to one channel; the channels never publish more than there is.
    #[default]
    Allocate,
    /// Every channel sees every unit: not an allocation (may oversell between channels).
    Shared,
}

fn default_split_id() -> String {
    "split".to_string()
}

fn default_split_rounding() -> RoundingMode {
    RoundingMode::Down
}

impl ChannelSplit {
    /// An allocating split whose remainder goes to `remainder_to`, rounding shares down.
    pub fn new(remainder_to: impl Into<String>) -> Self {
        ChannelSplit {
            id: default_split_id(),
            mode: SplitMode::Allocate,
            remainder_to: Some(remainder_to.into()),
            rounding: RoundingMode::Down,
            shares: Vec::new(),
        }
    }

    /// A shared pool: every channel fed by a location sees all of its units
    /// (not an allocation; see [`SplitMode::Shared`]).
    pub fn shared() -> Self {
        ChannelSplit {
            id: default_split_id(),
            mode: SplitMode::Shared,
            remainder_to: None,
            rounding: RoundingMode::Down,
            shares: Vec::new(),
        }
    }

    /// Sets how percentage shares are rounded.
    pub fn with_rounding(mut self, rounding: RoundingMode) -> Self {
        self.rounding = rounding;
        self
    }

    /// Adds a share.
    pub fn with_share(mut self, share: ChannelShare) -> Self {
        self.shares.push(share);
        self
    }
}

/// One channel's share: a percentage or a fixed quantity (exactly one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ChannelShare {
    /// The channel.
    pub channel: String,
    /// Percent of what is left after fixed shares.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_util::opt_decimal"
    )]
    pub percent: Option<Decimal>,
    /// A fixed number of units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u64>,
}

impl ChannelShare {
    /// `percent` percent of what is left after fixed shares.
    pub fn percent(channel: impl Into<String>, percent: Decimal) -> Self {
        ChannelShare {
            channel: channel.into(),
            percent: Some(percent),
            quantity: None,
        }
    }

    /// A fixed number of units.
    pub fn fixed(channel: impl Into<String>, quantity: u64) -> Self {
        ChannelShare {
            channel: channel.into(),
            percent: None,
            quantity: Some(quantity),
        }
    }
}

/// A kit sold as one SKU: available = min over components of
/// floor(component available / quantity per kit), location by location.
///
/// A kit's units are the same physical units as its components': the kits
/// are not taken out of the components' numbers. Per channel, the kits come
/// from that channel's own share of each component, so a channel never
/// shows more kits than its share of the parts builds, and the channels'
/// kits together never exceed the kits the locations can build. But a
/// channel that shows 4 kits of 2 × MUG and 9 MUG offers the same 8 mugs
/// twice: whichever sells first uses them, and the next evaluation lowers
/// the other number. Keep units for kits apart with safety stock on the
/// components (or a separate location) when that is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BundleRule {
    /// The kit's SKU.
    pub sku: Sku,
    /// What one kit contains.
    pub components: Vec<BundleComponent>,
}

impl BundleRule {
    /// A kit without components yet.
    pub fn new(sku: Sku) -> Self {
        BundleRule {
            sku,
            components: Vec::new(),
        }
    }

    /// Adds `quantity` units of `sku` to each kit.
    pub fn with_component(mut self, sku: Sku, quantity: u32) -> Self {
        self.components.push(BundleComponent { sku, quantity });
        self
    }
}

/// One component of a kit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BundleComponent {
    /// The component's SKU.
    pub sku: Sku,
    /// Units per kit, at least 1.
    pub quantity: u32,
}

/// How many units beyond sellable stock may be sold (backorders, pre-orders).
///
/// Per channel, a rule naming the SKU beats one naming the category, which
/// beats one naming neither. `limit` is a total over the channels the rule
/// is chosen for (for this SKU), not a per-channel allowance: it is divided
/// between them like stock (the [`ChannelSplit`]: shares, evenly without a
/// split rule; a shared pool shows each channel all of it). With
/// `limit_to_incoming` the total is also at most the incoming units at the
/// locations feeding those channels, and each channel gets at most its own
/// share of the incoming units. Bundles never backorder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BackorderRule {
    /// Rule id, for explanations and errors.
    pub id: String,
    /// The SKU it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<Sku>,
    /// The category it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Channels allowed to backorder; empty means every channel.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    /// Most units that may be sold beyond sellable stock, in total over the rule's channels.
    pub limit: u64,
    /// Also never more than the incoming units at the channel's locations (pre-orders).
    #[serde(default)]
    pub limit_to_incoming: bool,
}

impl BackorderRule {
    /// A rule allowing `limit` units beyond stock on every channel, for every SKU.
    pub fn new(id: impl Into<String>, limit: u64) -> Self {
        BackorderRule {
            id: id.into(),
            sku: None,
            category: None,
            channels: Vec::new(),
            limit,
            limit_to_incoming: false,
        }
    }

    /// Applies to one SKU.
    pub fn for_sku(mut self, sku: Sku) -> Self {
        self.sku = Some(sku);
        self
    }

    /// Applies to one category.
    pub fn in_category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }

    /// Applies to these channels only.
    pub fn on_channels(mut self, channels: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.channels = channels.into_iter().map(Into::into).collect();
        self
    }

    /// Caps the allowance at the incoming units.
    pub fn limited_to_incoming(mut self) -> Self {
        self.limit_to_incoming = true;
        self
    }
}
