//! Typed builders: a mapped record straight into its entity, without serde.
//!
//! The generic way from a mapped [`Node`] tree to an entity is serde, which
//! makes every decimal and time into text and parses it back, and matches
//! every field name through a visitor. For the entities mapped in bulk a
//! builder here reads the typed leaves directly. It only ever takes the
//! shapes a spec produces; on anything else it answers `None` and the caller
//! takes the serde way, so the result and every error stay exactly those of
//! serde (the tests below check that the two agree).

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::out::Node;
use super::schema::Mappable;
use super::value::Val;
use crate::model::{
    Currency, Gtin, InventoryLevel, LocationId, Money, ProductStatus, Sku, Variant, Weight,
    WeightUnit,
};

/// The entity built from `node` by a typed builder, or `None` when `E` has
/// none or `node` is not a shape the builder takes (then use serde).
pub(crate) fn build<E: Mappable>(node: &Node<'_>) -> Option<E> {
    let mut slot: Option<E> = None;
    let any: &mut dyn Any = &mut slot;
    if let Some(v) = any.downcast_mut::<Option<Variant>>() {
        *v = variant(node);
    } else if let Some(l) = any.downcast_mut::<Option<InventoryLevel>>() {
        *l = inventory_level(node);
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

fn fields<'n, 's>(node: &'n Node<'s>) -> Option<&'n [(&'s str, Node<'s>)]> {
    match node {
        Node::Object(fields) => Some(fields),
        _ => None,
    }
}

fn texts<'n>(node: &'n Node<'_>) -> Option<impl Iterator<Item = Option<&'n str>>> {
    match node {
        Node::Array(items) => Some(items.iter().map(text)),
        _ => None,
    }
}

/// Marks field number `bit` as seen; false when it was already (serde refuses duplicates).
fn first(seen: &mut u32, bit: u32) -> bool {
    let fresh = *seen & (1 << bit) == 0;
    *seen |= 1 << bit;
    fresh
}

/// `{amount, currency}`, each exactly once.
fn money(node: &Node<'_>) -> Option<Money> {
    let (mut amount, mut currency) = (None, None);
    for (name, value) in fields(node)? {
        match *name {
            "amount" if amount.is_none() => amount = Some(decimal(value)?),
            "currency" if currency.is_none() => {
                currency = Some(Currency::from_code(text(value)?).ok()?);
            }
            _ => return None,
        }
    }
    Some(Money::new(amount?, currency?))
}

fn weight(node: &Node<'_>) -> Option<Weight> {
    let (mut value, mut unit) = (None, None);
    for (name, v) in fields(node)? {
        match *name {
            "value" if value.is_none() => value = Some(decimal(v)?),
            "unit" if unit.is_none() => {
                unit = Some(match text(v)? {
                    "g" => WeightUnit::G,
                    "kg" => WeightUnit::Kg,
                    "oz" => WeightUnit::Oz,
                    "lb" => WeightUnit::Lb,
                    _ => return None,
                });
            }
            _ => return None,
        }
    }
    Some(Weight {
        value: value?,
        unit: unit?,
    })
}

fn variant(node: &Node<'_>) -> Option<Variant> {
    let mut seen = 0;
    let mut sku = None;
    let mut product_handle = None;
    let mut title = String::new();
    let mut options = BTreeMap::new();
    let mut barcodes = Vec::new();
    let mut price = None;
    let mut compare_at_price = None;
    let mut weight_ = None;
    let mut status = None;
    let mut tags = BTreeSet::new();
    let mut taxable = None;
    let mut created_at = None;
    let mut updated_at = None;
    for (name, value) in fields(node)? {
        let bit = match *name {
            "sku" => 0,
            "product_handle" => 1,
            "title" => 2,
            "options" => 3,
            "barcodes" => 4,
            "price" => 5,
            "compare_at_price" => 6,
            "weight" => 7,
            "status" => 8,
            "tags" => 9,
            "taxable" => 10,
            "created_at" => 11,
            "updated_at" => 12,
            _ => return None,
        };
        if !first(&mut seen, bit) {
            return None;
        }
        match bit {
            0 => sku = Some(Sku::new(text(value)?).ok()?),
            1 => product_handle = Some(text(value)?.to_string()),
            2 => title = text(value)?.to_string(),
            3 => {
                for (k, v) in fields(value)? {
                    options.insert((*k).to_string(), text(v)?.to_string());
                }
            }
            4 => {
                for b in texts(value)? {
                    barcodes.push(Gtin::parse(b?).ok()?);
                }
            }
            5 => price = Some(money(value)?),
            6 => compare_at_price = Some(money(value)?),
            7 => weight_ = Some(weight(value)?),
            8 => {
                status = Some(match text(value)? {
                    "active" => ProductStatus::Active,
                    "draft" => ProductStatus::Draft,
                    "archived" => ProductStatus::Archived,
                    _ => return None,
                });
            }
            9 => {
                for t in texts(value)? {
                    tags.insert(t?.to_string());
                }
            }
            10 => taxable = Some(boolean(value)?),
            11 => created_at = Some(time(value)?),
            _ => updated_at = Some(time(value)?),
        }
    }
    Some(Variant {
        sku: sku?,
        product_handle: product_handle?,
        title,
        options,
        barcodes,
        price: price?,
        compare_at_price,
        weight: weight_,
        status: status?,
        tags,
        taxable: taxable?,
        created_at: created_at?,
        updated_at: updated_at?,
    })
}

fn inventory_level(node: &Node<'_>) -> Option<InventoryLevel> {
    let mut seen = 0;
    let mut sku = None;
    let mut location = None;
    let mut counts = [0i64; 8];
    let mut oversell_allowed = false;
    let mut updated_at = None;
    for (name, value) in fields(node)? {
        let bit = match *name {
            "sku" => 0,
            "location" => 1,
            "on_hand" => 2,
            "available" => 3,
            "committed" => 4,
            "reserved" => 5,
            "incoming" => 6,
            "safety_stock" => 7,
            "damaged" => 8,
            "quality_control" => 9,
            "oversell_allowed" => 10,
            "updated_at" => 11,
            _ => return None,
        };
        if !first(&mut seen, bit) {
            return None;
        }
        match bit {
            0 => sku = Some(Sku::new(text(value)?).ok()?),
            1 => location = Some(LocationId::new(text(value)?).ok()?),
            2..=9 => counts[bit as usize - 2] = integer(value)?,
            10 => oversell_allowed = boolean(value)?,
            _ => updated_at = Some(time(value)?),
        }
    }
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
    Some(InventoryLevel {
        sku: sku?,
        location: location?,
        on_hand,
        available,
        committed,
        reserved,
        incoming,
        safety_stock,
        damaged,
        quality_control,
        oversell_allowed,
        updated_at: updated_at?,
    })
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use chrono::TimeZone;
    use serde::Deserialize;
    use serde_json::json;

    use super::*;
    use crate::mapping::MappingSpec;
    use crate::mapping::out::NodeDe;

    /// The builder agrees with serde: same entity when it builds one, and it
    /// declines (so serde answers) when serde would refuse.
    fn agrees<E: Mappable>(node: &Node<'_>) -> Option<E> {
        let serde = E::deserialize(NodeDe(node));
        let built = build::<E>(node);
        if let Some(b) = &built {
            assert_eq!(Some(b), serde.as_ref().ok(), "builder and serde differ");
        }
        built
    }

    fn t(s: &'static str) -> Node<'static> {
        Node::Leaf(Val::Text(Cow::Borrowed(s)))
    }

    fn obj(fields: Vec<(&'static str, Node<'static>)>) -> Node<'static> {
        Node::Object(fields)
    }

    fn at(h: u32) -> Node<'static> {
        Node::Leaf(Val::Time(
            Utc.with_ymd_and_hms(2026, 3, 1, h, 0, 0).unwrap(),
        ))
    }

    fn dec(m: i64, s: u32) -> Node<'static> {
        Node::Leaf(Val::Dec(Decimal::new(m, s)))
    }

    fn variant_node(extra: Vec<(&'static str, Node<'static>)>) -> Node<'static> {
        let mut fields = vec![
            ("sku", t("TEE-M")),
            ("product_handle", t("tee")),
            (
                "price",
                obj(vec![
                    ("amount", dec(19990, 3)),
                    ("currency", Node::Fixed(Val::Text("EUR".into()))),
                ]),
            ),
            ("status", t("active")),
            ("taxable", Node::Leaf(Val::Bool(true))),
            ("created_at", at(9)),
            ("updated_at", at(10)),
        ];
        fields.extend(extra);
        obj(fields)
    }

    #[test]
    fn variants_are_built_as_serde_builds_them() {
        let full = variant_node(vec![
            ("title", t("Classic Tee")),
            (
                "options",
                obj(vec![("Size", t("M")), ("Colour", t("Black"))]),
            ),
            ("barcodes", Node::Array(vec![t("4006381333931")])),
            (
                "compare_at_price",
                obj(vec![
                    ("currency", t("EUR")),
                    ("amount", Node::Leaf(Val::Int(25))),
                ]),
            ),
            (
                "weight",
                obj(vec![("value", dec(1843, 1)), ("unit", t("g"))]),
            ),
            ("tags", Node::Array(vec![t("b"), t("a"), t("b")])),
        ]);
        let v = agrees::<Variant>(&full).expect("built");
        assert_eq!(v.price.amount().scale(), 3, "the scale is kept");
        assert_eq!(v.tags.len(), 2);
        assert!(agrees::<Variant>(&variant_node(vec![])).is_some());
        // Shapes the builder leaves to serde (which then reports or decides).
        for odd in [
            vec![("sku", t("AGAIN"))],
            vec![("status", t("retired"))],
            vec![("surprise", t("x"))],
            vec![("barcodes", Node::Array(vec![t("123")]))],
            vec![("title", Node::Leaf(Val::Int(5)))],
            vec![("weight", obj(vec![("value", dec(1, 0))]))],
            vec![("options", t("M"))],
        ] {
            assert!(agrees::<Variant>(&variant_node(odd)).is_none());
        }
        let missing = obj(vec![("sku", t("TEE-M"))]);
        assert!(agrees::<Variant>(&missing).is_none());
        assert!(Variant::deserialize(NodeDe(&missing)).is_err());
    }

    #[test]
    fn inventory_levels_are_built_as_serde_builds_them() {
        let level = obj(vec![
            ("sku", t(" A-1 ")),
            ("location", Node::Fixed(Val::Text("DC-EAST".into()))),
            ("on_hand", Node::Leaf(Val::Int(12))),
            ("available", Node::Leaf(Val::Int(-2))),
            ("oversell_allowed", Node::Leaf(Val::Bool(true))),
            ("updated_at", at(8)),
        ]);
        let l = agrees::<InventoryLevel>(&level).expect("built");
        assert_eq!((l.sku.as_str(), l.on_hand, l.committed), ("A-1", 12, 0));
        let dup = obj(vec![
            ("sku", t("A")),
            ("location", t("L")),
            ("updated_at", at(8)),
            ("on_hand", Node::Leaf(Val::Int(1))),
            ("on_hand", Node::Leaf(Val::Int(2))),
        ]);
        assert!(agrees::<InventoryLevel>(&dup).is_none());
    }

    #[test]
    fn other_entities_take_the_serde_way() {
        let node = obj(vec![("handle", t("tee"))]);
        assert!(build::<crate::model::Product>(&node).is_none());
    }

    #[test]
    fn a_spec_maps_the_same_either_way() {
        let spec = MappingSpec::<Variant>::from_toml(
            r#"
system = "erp"
entity = "variant"
version = 1
[fields]
sku = { from = "ITEM", transforms = ["trim", { case = "upper" }] }
product_handle = { from = "GROUP", transforms = ["trim", { case = "lower" }] }
"options.Size" = "SIZE"
barcodes = { from = "EAN", transforms = [{ split = { sep = "|" } }] }
"price.amount" = { from = "PRICE", transforms = [{ decimal = { separator = "," } }] }
"price.currency" = { value = "EUR" }
"weight.value" = { from = "OZ", transforms = [{ decimal = { separator = "," } }, { unit = { from = "oz", to = "g" } }] }
"weight.unit" = { value = "g" }
status = { from = "ST", transforms = [{ map = { A = "active", D = "draft" } }] }
taxable = { from = "TAX", transforms = ["bool"] }
created_at = { from = "AT", transforms = [{ datetime = { formats = ["%d.%m.%Y %H:%M"], tz = "Europe/Berlin" } }] }
updated_at = { from = "AT", transforms = [{ datetime = { formats = ["%d.%m.%Y %H:%M"], tz = "Europe/Berlin" } }] }
"#,
            "t.toml",
        )
        .unwrap();
        let row = json!({"ITEM": " tee-m ", "GROUP": " TEE ", "SIZE": "M", "EAN": "4006381333931|036000291452",
            "PRICE": "19,990", "OZ": "6,5", "ST": "A", "TAX": "Y", "AT": "31.03.2026 02:30"});
        let tree = spec.mapped_tree(&row);
        let built = agrees::<Variant>(&tree).expect("built");
        assert_eq!(spec.apply(&row).unwrap().entity, built);
        // A barcode written with spaces and dashes is mapped in its canonical form.
        let mut spaced = row.clone();
        spaced["EAN"] = json!("400-6381 333931|036000291452");
        let tree = spec.mapped_tree(&spaced);
        let built = agrees::<Variant>(&tree).expect("built");
        assert_eq!(built.barcodes[0].as_str(), "4006381333931");
        assert_eq!(spec.apply(&spaced).unwrap().entity, built);
    }
}
