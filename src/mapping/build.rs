//! Typed builders: a mapped record straight into its entity, without serde
//! and without a tree.
//!
//! The generic way from mapped fields to an entity is a [`Node`] tree read by
//! serde, which makes every decimal and time into text and parses it back,
//! and matches every field name through a visitor. For the entities mapped in
//! bulk a [`Plan`] made when the spec loads gives each field of the spec its
//! place in the entity, and a builder reads the typed values from the
//! record's field slots directly. A plan is made only for specs whose every
//! target the builder knows; a builder answers `None` for any record it
//! cannot build, and the caller then takes the serde way, so the result and
//! every error stay exactly those of serde (the tests below check that the
//! two agree).
//!
//! [`Node`]: super::out::Node

use std::any::Any;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::out::Node;
use super::schema::Mappable;
use super::spec::Group;
use super::value::Val;
use crate::model::{
    Currency, Gtin, InventoryLevel, LocationId, Money, ProductStatus, Sku, Variant, Weight,
    WeightUnit,
};

/// Where each field of a spec goes in its entity, by field number.
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    Variant(Vec<VariantSlot>),
    InventoryLevel(Vec<LevelSlot>),
}

/// A place in a [`Variant`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VariantSlot {
    Sku,
    ProductHandle,
    Title,
    Option(String),
    Barcodes,
    Price(MoneyPart),
    CompareAtPrice(MoneyPart),
    WeightValue,
    WeightUnit,
    Status,
    Tags,
    Taxable,
    CreatedAt,
    UpdatedAt,
}

/// Half of a money amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MoneyPart {
    Amount,
    Currency,
}

/// A place in an [`InventoryLevel`]: counts by their position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LevelSlot {
    Sku,
    Location,
    Count(usize),
    OversellAllowed,
    UpdatedAt,
}

/// The plan for `E` and the spec's top `group`, when `E` has a builder and
/// it knows every target of the group (lists take the serde way).
pub(crate) fn plan<E: Mappable>(group: &Group) -> Option<Plan> {
    if !group.lists.is_empty() {
        return None;
    }
    let targets = group.fields.iter().map(|f| f.target.as_str());
    let probe: Option<E> = None;
    let any: &dyn Any = &probe;
    if any.is::<Option<Variant>>() {
        targets
            .map(variant_slot)
            .collect::<Option<_>>()
            .map(Plan::Variant)
    } else if any.is::<Option<InventoryLevel>>() {
        targets
            .map(level_slot)
            .collect::<Option<_>>()
            .map(Plan::InventoryLevel)
    } else {
        None
    }
}

fn variant_slot(target: &str) -> Option<VariantSlot> {
    let money = |part: &str| match part {
        "amount" => Some(MoneyPart::Amount),
        "currency" => Some(MoneyPart::Currency),
        _ => None,
    };
    Some(match target.split_once('.') {
        None => match target {
            "sku" => VariantSlot::Sku,
            "product_handle" => VariantSlot::ProductHandle,
            "title" => VariantSlot::Title,
            "barcodes" => VariantSlot::Barcodes,
            "status" => VariantSlot::Status,
            "tags" => VariantSlot::Tags,
            "taxable" => VariantSlot::Taxable,
            "created_at" => VariantSlot::CreatedAt,
            "updated_at" => VariantSlot::UpdatedAt,
            _ => return None,
        },
        Some(("options", name)) if !name.contains('.') => VariantSlot::Option(name.to_string()),
        Some(("price", part)) => VariantSlot::Price(money(part)?),
        Some(("compare_at_price", part)) => VariantSlot::CompareAtPrice(money(part)?),
        Some(("weight", "value")) => VariantSlot::WeightValue,
        Some(("weight", "unit")) => VariantSlot::WeightUnit,
        _ => return None,
    })
}

fn level_slot(target: &str) -> Option<LevelSlot> {
    Some(match target {
        "sku" => LevelSlot::Sku,
        "location" => LevelSlot::Location,
        "oversell_allowed" => LevelSlot::OversellAllowed,
        "updated_at" => LevelSlot::UpdatedAt,
        count => LevelSlot::Count(LEVEL_COUNTS.iter().position(|c| *c == count)?),
    })
}

/// An inventory level's counts, in the order `inventory_level` takes them
/// apart (one list, so a slot number and its field cannot drift apart).
const LEVEL_COUNTS: [&str; 8] = [
    "on_hand",
    "available",
    "committed",
    "reserved",
    "incoming",
    "safety_stock",
    "damaged",
    "quality_control",
];

/// The entity built by `plan` from the mapped fields (`None` where a field
/// was left out), or `None` when the record is not one the builder takes
/// (then use serde, with the fields as they were). The fields hold what
/// mapping made of them: SKUs and barcodes already checked, every value of
/// its target's type. Text a transform made (an upper-cased SKU) is moved
/// into the entity, not copied.
pub(crate) fn build<E: Mappable>(plan: &Plan, fields: &mut [Option<Node<'_>>]) -> Option<E> {
    let mut slot: Option<E> = None;
    let any: &mut dyn Any = &mut slot;
    match plan {
        Plan::Variant(places) => *any.downcast_mut::<Option<Variant>>()? = variant(places, fields),
        Plan::InventoryLevel(places) => {
            *any.downcast_mut::<Option<InventoryLevel>>()? = inventory_level(places, fields);
        }
    }
    slot
}

/// The value of a leaf, whether mapped or a constant of the spec.
fn leaf<'n, 's>(node: &'n Node<'s>) -> Option<&'n Val<'s>> {
    match node {
        Node::Leaf(v) | Node::Fixed(v) => Some(v),
        _ => None,
    }
}

fn text<'n>(node: &'n Node<'_>) -> Option<&'n str> {
    match leaf(node)? {
        Val::Text(s) => Some(s),
        _ => None,
    }
}

fn decimal(node: &Node<'_>) -> Option<Decimal> {
    match leaf(node)? {
        Val::Dec(d) => Some(*d),
        Val::Int(i) => Some(Decimal::from(*i)),
        _ => None,
    }
}

fn time(node: &Node<'_>) -> Option<DateTime<Utc>> {
    match leaf(node)? {
        Val::Time(t) => Some(*t),
        _ => None,
    }
}

fn boolean(node: &Node<'_>) -> Option<bool> {
    match leaf(node)? {
        Val::Bool(b) => Some(*b),
        _ => None,
    }
}

fn integer(node: &Node<'_>) -> Option<i64> {
    match leaf(node)? {
        Val::Int(i) => Some(*i),
        _ => None,
    }
}

/// The text of field `i`, moved out of its slot (copied when it borrows
/// from the record). Only for a slot the builder has seen holds text.
fn take_text(fields: &mut [Option<Node<'_>>], i: usize) -> String {
    take_text_as(fields, i, |s| s.into_owned())
}

/// The text of field `i`, made into what `make` makes of it (a SKU shares
/// its text: made from the slot's text directly, it is copied once).
fn take_text_as<T>(
    fields: &mut [Option<Node<'_>>],
    i: usize,
    make: impl FnOnce(Cow<'_, str>) -> T,
) -> T {
    match fields[i].take() {
        Some(Node::Leaf(Val::Text(s)) | Node::Fixed(Val::Text(s))) => make(s),
        other => unreachable!("field {i} was seen to hold text, not {other:?}"),
    }
}

/// Calls `each` with every text of a list field (a list of text left in
/// its slot, or an array); `None` when it is neither or holds other values.
fn each_text<'n>(node: &'n Node<'_>, mut each: impl FnMut(&'n str)) -> Option<()> {
    match node {
        Node::Leaf(Val::List(items)) | Node::Fixed(Val::List(items)) => {
            for item in items {
                match item {
                    Val::Text(s) => each(s),
                    _ => return None,
                }
            }
        }
        Node::Array(items) => {
            for item in items {
                each(text(item)?);
            }
        }
        _ => return None,
    }
    Some(())
}

/// Both halves of a money amount, or neither (`Some(None)`); one alone is
/// not a shape the builder takes.
fn money(amount: Option<Decimal>, currency: Option<Currency>) -> Option<Option<Money>> {
    match (amount, currency) {
        (Some(a), Some(c)) => Some(Some(Money::new(a, c))),
        (None, None) => Some(None),
        _ => None,
    }
}

fn currency(node: &Node<'_>) -> Option<Currency> {
    Currency::from_code(text(node)?).ok()
}

fn variant(places: &[VariantSlot], fields: &mut [Option<Node<'_>>]) -> Option<Variant> {
    // Text fields are noted by slot and moved out once the variant is sure to build.
    let mut sku = None;
    let mut product_handle = None;
    let mut title = None;
    let mut options = BTreeMap::new();
    let mut barcodes = Vec::new();
    let (mut price, mut price_currency) = (None, None);
    let (mut compare_at, mut compare_at_currency) = (None, None);
    let (mut weight_value, mut weight_unit) = (None, None);
    let mut status = None;
    let mut tags = BTreeSet::new();
    let mut taxable = None;
    let mut created_at = None;
    let mut updated_at = None;
    for (i, (place, value)) in places.iter().zip(fields.iter()).enumerate() {
        let Some(value) = value else {
            continue;
        };
        match place {
            VariantSlot::Sku => sku = text(value).map(|_| i),
            VariantSlot::ProductHandle => product_handle = text(value).map(|_| i),
            VariantSlot::Title => title = Some(text(value).map(|_| i)?),
            VariantSlot::Option(name) => {
                options.insert(name.clone(), text(value)?.to_string());
            }
            VariantSlot::Barcodes => {
                each_text(value, |b| barcodes.push(Gtin::from_checked(b.to_string())))?;
            }
            VariantSlot::Price(MoneyPart::Amount) => price = Some(decimal(value)?),
            VariantSlot::Price(MoneyPart::Currency) => price_currency = Some(currency(value)?),
            VariantSlot::CompareAtPrice(MoneyPart::Amount) => compare_at = Some(decimal(value)?),
            VariantSlot::CompareAtPrice(MoneyPart::Currency) => {
                compare_at_currency = Some(currency(value)?);
            }
            VariantSlot::WeightValue => weight_value = Some(decimal(value)?),
            VariantSlot::WeightUnit => {
                weight_unit = Some(by_serde_name::<WeightUnit>(text(value)?)?);
            }
            VariantSlot::Status => {
                status = Some(by_serde_name::<ProductStatus>(text(value)?)?);
            }
            VariantSlot::Tags => {
                each_text(value, |t| {
                    tags.insert(t.to_string());
                })?;
            }
            VariantSlot::Taxable => taxable = Some(boolean(value)?),
            VariantSlot::CreatedAt => created_at = Some(time(value)?),
            VariantSlot::UpdatedAt => updated_at = Some(time(value)?),
        }
    }
    let weight = match (weight_value, weight_unit) {
        (Some(value), Some(unit)) => Some(Weight { value, unit }),
        (None, None) => None,
        _ => return None,
    };
    let (sku, product_handle) = (sku?, product_handle?);
    let price = money(price, price_currency)??;
    let compare_at_price = money(compare_at, compare_at_currency)?;
    let (status, taxable) = (status?, taxable?);
    let (created_at, updated_at) = (created_at?, updated_at?);
    Some(Variant {
        sku: take_text_as(fields, sku, |s| Sku::from_checked(&s)),
        product_handle: take_text(fields, product_handle),
        title: title.map_or_else(String::new, |i| take_text(fields, i)),
        options,
        barcodes,
        price,
        compare_at_price,
        weight,
        status,
        tags,
        taxable,
        created_at,
        updated_at,
    })
}

/// The unit variant serde names `name` (serde stays the one authority on
/// the names; `None` hands the record to serde).
fn by_serde_name<T: serde::de::DeserializeOwned>(name: &str) -> Option<T> {
    use serde::de::IntoDeserializer;
    let name: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        name.into_deserializer();
    T::deserialize(name).ok()
}

fn inventory_level(
    places: &[LevelSlot],
    fields: &mut [Option<Node<'_>>],
) -> Option<InventoryLevel> {
    let mut sku = None;
    let mut location = None;
    let mut counts = [0i64; LEVEL_COUNTS.len()];
    let mut oversell_allowed = false;
    let mut updated_at = None;
    for (i, (place, value)) in places.iter().zip(fields.iter()).enumerate() {
        let Some(value) = value else {
            continue;
        };
        match place {
            LevelSlot::Sku => sku = text(value).map(|_| i),
            LevelSlot::Location => location = Some(LocationId::new(text(value)?).ok()?),
            LevelSlot::Count(i) => counts[*i] = integer(value)?,
            LevelSlot::OversellAllowed => oversell_allowed = boolean(value)?,
            LevelSlot::UpdatedAt => updated_at = Some(time(value)?),
        }
    }
    // The order of LEVEL_COUNTS.
    let [
        on_hand,
        available,
        committed,
        reserved,
        incoming,
        safety_stock,
        damaged,
        quality_control,
    ] = counts;
    let (sku, location, updated_at) = (sku?, location?, updated_at?);
    Some(InventoryLevel {
        sku: take_text_as(fields, sku, |s| Sku::from_checked(&s)),
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
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde::Deserialize;
    use serde_json::{Value, json};

    use super::*;
    use crate::mapping::MappingSpec;
    use crate::mapping::out::NodeDe;

    const VARIANT: &str = r#"
system = "erp"
entity = "variant"
version = 1
[fields]
sku = { from = "ITEM", transforms = ["trim", { case = "upper" }] }
product_handle = { from = "GROUP", transforms = ["trim", { case = "lower" }] }
title = { from = "TITLE", required = false }
"options.Size" = { from = "SIZE", required = false }
"options.Colour" = { from = "COLOUR", required = false }
barcodes = { from = "EAN", transforms = [{ split = { sep = "|" } }], required = false }
tags = { from = "TAGS", transforms = [{ split = { sep = "," } }], required = false }
"price.amount" = { from = "PRICE", transforms = [{ decimal = { separator = "," } }] }
"price.currency" = { from = "CUR" }
"compare_at_price.amount" = { from = "LIST", transforms = [{ decimal = { separator = "," } }], required = false }
"compare_at_price.currency" = { value = "EUR" }
"weight.value" = { from = "OZ", transforms = [{ decimal = { separator = "," } }, { unit = { from = "oz", to = "g" } }], required = false }
"weight.unit" = { from = "UNIT", required = false }
status = { from = "ST", transforms = [{ map = { A = "active", D = "draft", X = "archived" } }] }
taxable = { from = "TAX", transforms = ["bool"] }
created_at = { from = "AT", transforms = [{ datetime = { formats = ["%d.%m.%Y %H:%M"], tz = "Europe/Berlin" } }] }
updated_at = { from = "AT2", transforms = [{ datetime = { formats = ["%d.%m.%Y %H:%M"], tz = "Europe/Berlin" } }] }
"#;

    fn spec() -> MappingSpec<Variant> {
        MappingSpec::from_toml(VARIANT, "t.toml").unwrap()
    }

    fn row() -> Value {
        json!({"ITEM": " tee-m ", "GROUP": " TEE ", "TITLE": "Classic", "SIZE": "M", "COLOUR": "Black",
            "EAN": "4006381333931|036000291452", "TAGS": "b, a,b", "PRICE": "19,990", "CUR": "EUR",
            "LIST": "25", "OZ": "6,5", "UNIT": "g", "ST": "A", "TAX": "Y",
            "AT": "31.03.2026 02:30", "AT2": "01.04.2026 10:00"})
    }

    /// What serde makes of the mapped tree.
    fn by_serde<E: Mappable>(spec: &MappingSpec<E>, row: &Value) -> Result<E, String> {
        E::deserialize(NodeDe(&spec.mapped_tree(row))).map_err(|e| e.to_string())
    }

    #[test]
    fn variants_are_built_as_serde_builds_them() {
        let spec = spec();
        let row = row();
        let built = spec.built(&row).expect("built");
        assert_eq!(Ok(&built), by_serde(&spec, &row).as_ref());
        assert_eq!(built.price.amount().scale(), 3, "the scale is kept");
        assert_eq!(built.tags.len(), 2);
        assert_eq!(built.options.len(), 2);
        assert_eq!(spec.apply(&row).unwrap().entity, built);
        // A barcode written with spaces and dashes is mapped in its canonical form.
        let mut spaced = row.clone();
        spaced["EAN"] = json!("400-6381 333931|036000291452");
        let built = spec.built(&spaced).expect("built");
        assert_eq!(built.barcodes[0].as_str(), "4006381333931");
        assert_eq!(Ok(built), by_serde(&spec, &spaced));
    }

    #[test]
    fn parts_are_all_or_nothing() {
        let spec = spec();
        // Only the constant currency of the compare-at price: no compare-at price.
        let mut no_list = row();
        no_list["LIST"] = json!("");
        let built = spec.built(&no_list).expect("built");
        assert_eq!(built.compare_at_price, None);
        assert_eq!(Ok(&built), by_serde(&spec, &no_list).as_ref());
        assert_eq!(spec.apply(&no_list).unwrap().entity, built);
        // A weight without its unit is reported, naming what is missing.
        let mut no_unit = row();
        no_unit["UNIT"] = json!(" ");
        let err = spec.apply(&no_unit).unwrap_err();
        assert_eq!(err.failures.len(), 1, "{err}");
        assert_eq!(err.failures[0].target, "weight");
        assert!(err.failures[0].message.contains("unit missing"), "{err}");
        // A unit the weight does not know.
        let mut odd_unit = row();
        odd_unit["UNIT"] = json!("stone");
        assert!(spec.apply(&odd_unit).is_err());
    }

    #[test]
    fn constant_lists_are_kept() {
        let spec = MappingSpec::<Variant>::from_toml(
            &VARIANT.replace(
                r#"tags = { from = "TAGS", transforms = [{ split = { sep = "," } }], required = false }"#,
                r#"tags = { value = ["erp", "import"] }"#,
            ),
            "t.toml",
        )
        .unwrap();
        let row = row();
        let built = spec.built(&row).expect("built");
        assert_eq!(built.tags.len(), 2, "{:?}", built.tags);
        assert_eq!(Ok(&built), by_serde(&spec, &row).as_ref());
        assert_eq!(spec.apply(&row).unwrap().entity, built);
    }

    #[test]
    fn inventory_levels_are_built_as_serde_builds_them() {
        let spec = MappingSpec::<InventoryLevel>::from_toml(
            r#"
system = "wms"
entity = "inventory_level"
version = 1
[fields]
sku = { from = "item", transforms = ["trim"] }
location = { value = "DC-EAST" }
on_hand = { from = "qty", transforms = ["integer"] }
available = { from = "avail", transforms = ["integer"] }
oversell_allowed = { from = "over", transforms = ["bool"] }
updated_at = { from = "at", transforms = [{ datetime = { formats = ["rfc3339"] } }] }
"#,
            "wms.toml",
        )
        .unwrap();
        let row = json!({"item": " A-1 ", "qty": "12", "avail": "-2", "over": "yes",
            "at": "2026-03-01T08:00:00Z"});
        let l = spec.built(&row).expect("built");
        assert_eq!(Ok(&l), by_serde(&spec, &row).as_ref());
        assert_eq!((l.sku.as_str(), l.on_hand, l.committed), ("A-1", 12, 0));
    }

    #[test]
    fn other_entities_and_lists_take_the_serde_way() {
        let spec = MappingSpec::<crate::model::Product>::from_toml(
            r#"
system = "erp"
entity = "product"
version = 1
[fields]
handle = "h"
title = "t"
status = { value = "active" }
created_at = { now = true }
updated_at = { now = true }
"#,
            "p.toml",
        )
        .unwrap();
        assert!(spec.plan.is_none());
    }

    proptest! {
        /// For any record that maps, the builder (when it takes the record)
        /// gives what serde gives, and so does `apply`.
        #[test]
        fn builder_equals_serde(
            item in prop::sample::select(vec![" tee-m ", "TEE-L", "a b"]),
            title in prop::sample::select(vec!["", "Classic", " x "]),
            size in prop::sample::select(vec!["", "M"]),
            ean in prop::sample::select(vec!["", "4006381333931", "4006381333931|036000291452", "400-6381 333931"]),
            tags in prop::sample::select(vec!["", "a", "b, a,b"]),
            cur in prop::sample::select(vec!["EUR", "usd", "JPY"]),
            list in prop::sample::select(vec!["", "25", "0,5"]),
            oz in prop::sample::select(vec!["", "6,5"]),
            unit in prop::sample::select(vec!["", "g", "kg"]),
            st in prop::sample::select(vec!["A", "D", "X"]),
        ) {
            let spec = spec();
            let mut row = row();
            for (k, v) in [("ITEM", item), ("TITLE", title), ("SIZE", size), ("EAN", ean),
                ("TAGS", tags), ("CUR", cur), ("LIST", list), ("OZ", oz), ("UNIT", unit), ("ST", st)] {
                row[k] = json!(v);
            }
            let Ok(tree) = std::panic::catch_unwind(|| spec.mapped_tree(&row)) else {
                // Some fields failed to map: no entity either way.
                prop_assert!(spec.apply(&row).is_err());
                return Ok(());
            };
            let serde = Variant::deserialize(NodeDe(&tree)).map_err(|e| e.to_string());
            if let Some(built) = spec.built(&row) {
                prop_assert_eq!(Ok(&built), serde.as_ref());
            }
            match (spec.apply(&row), serde) {
                (Ok(m), Ok(s)) => prop_assert_eq!(m.entity, s),
                (Err(_), _) => {}
                (Ok(m), Err(e)) => prop_assert!(false, "mapped {:?} where serde says {}", m.entity, e),
            }
        }
    }
}
