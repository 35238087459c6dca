//! What a spec may write: the target fields of each canonical entity and their types.
//!
//! A spec is checked against its entity's [`Schema`] when it is loaded, so an
//! unknown target field or a transform chain that ends in the wrong type is a
//! load error, not a surprise in production.

use crate::connector::Entity;
use crate::model::{Customer, InventoryLevel, Location, Order, Product, Variant};

/// The type a target field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldType {
    /// Free text.
    Text,
    /// A whole number.
    Integer,
    /// A whole number that cannot be negative (an ordered quantity, an index).
    Count,
    /// A SKU (trimmed, not empty, no control characters).
    Sku,
    /// A list of GTIN barcodes (check digits verified).
    GtinList,
    /// A decimal number (amounts, rates, weights).
    Decimal,
    /// true / false.
    Bool,
    /// A point in time (RFC 3339 in the canonical JSON).
    DateTime,
    /// An ISO 4217 code.
    Currency,
    /// One of a fixed set of values.
    Enum(&'static [&'static str]),
    /// A list of texts (tags, emails).
    TextList,
    /// Text values under names chosen by the spec (`options.Size`).
    TextMap,
}

impl FieldType {
    /// The name used in messages.
    pub fn name(self) -> String {
        match self {
            FieldType::Text => "text".into(),
            FieldType::Integer => "integer".into(),
            FieldType::Count => "non-negative integer".into(),
            FieldType::Sku => "SKU".into(),
            FieldType::GtinList => "list of GTINs".into(),
            FieldType::Decimal => "decimal".into(),
            FieldType::Bool => "bool".into(),
            FieldType::DateTime => "date-time".into(),
            FieldType::Currency => "currency code".into(),
            FieldType::Enum(values) => format!("one of {}", values.join(", ")),
            FieldType::TextList => "list of text".into(),
            FieldType::TextMap => "map of text".into(),
        }
    }
}

/// One target field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetField {
    /// Dotted path in the canonical JSON (`price.amount`).
    pub path: String,
    /// Its type.
    pub ty: FieldType,
    /// Whether every record must produce it.
    pub required: bool,
}

/// The fields a spec may write for one entity (or one list element).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    /// Scalar fields.
    pub fields: Vec<TargetField>,
    /// Lists of nested records (`lines`), each with its own schema.
    pub lists: Vec<(&'static str, Schema)>,
    /// Optional parts that are all-or-nothing (`weight` needs `value` and
    /// `unit`): a record that maps some of a group's members but not all of
    /// them fails, naming what is missing.
    pub groups: Vec<(&'static str, Vec<&'static str>)>,
}

impl Schema {
    fn new<S: AsRef<str>>(fields: &[(S, FieldType, bool)]) -> Self {
        Schema {
            fields: fields
                .iter()
                .map(|(path, ty, required)| TargetField {
                    path: path.as_ref().to_string(),
                    ty: *ty,
                    required: *required,
                })
                .collect(),
            lists: Vec::new(),
            groups: Vec::new(),
        }
    }

    fn with_group(mut self, prefix: &'static str, members: &[&'static str]) -> Self {
        self.groups.push((prefix, members.to_vec()));
        self
    }

    fn with_list(mut self, name: &'static str, schema: Schema) -> Self {
        self.lists.push((name, schema));
        self
    }

    /// The field at `path`; a `TextMap` field also answers for `path.<name>`.
    pub fn field(&self, path: &str) -> Option<&TargetField> {
        self.fields.iter().find(|f| {
            f.path == path
                || (f.ty == FieldType::TextMap
                    && path
                        .strip_prefix(f.path.as_str())
                        .is_some_and(|rest| rest.len() > 1 && rest.starts_with('.')))
        })
    }

    /// The nested schema of list `name`.
    pub fn list(&self, name: &str) -> Option<&Schema> {
        self.lists.iter().find(|(n, _)| *n == name).map(|(_, s)| s)
    }

    /// Every field path, for "did you mean" hints.
    pub fn field_names(&self) -> Vec<&str> {
        self.fields.iter().map(|f| f.path.as_str()).collect()
    }
}

/// A canonical entity that specs can map to and from.
pub trait Mappable: Entity {
    /// Its target schema.
    fn schema() -> Schema;
}

use FieldType::*;

const PRODUCT_STATUS: &[&str] = &["active", "draft", "archived"];
const LOCATION_KIND: &[&str] = &["warehouse", "store", "third_party_logistics", "dropship"];
const CONSENT: &[&str] = &["not_subscribed", "pending", "subscribed", "unsubscribed"];
const WEIGHT_UNIT: &[&str] = &["g", "kg", "oz", "lb"];
const FINANCIAL: &[&str] = &[
    "pending",
    "authorized",
    "partially_paid",
    "paid",
    "partially_refunded",
    "refunded",
    "voided",
];
const FULFILLMENT: &[&str] = &[
    "unfulfilled",
    "partially_fulfilled",
    "fulfilled",
    "restocked",
];
const DISCOUNT_TARGET: &[&str] = &["line", "order", "shipping"];

type Fields = Vec<(String, FieldType, bool)>;

fn owned(fields: &[(&str, FieldType, bool)]) -> Fields {
    fields
        .iter()
        .map(|&(p, t, r)| (p.to_string(), t, r))
        .collect()
}

/// Address fields under `prefix` (all optional: the address itself is optional).
fn address(prefix: &str) -> Fields {
    address_fields()
        .into_iter()
        .map(|(f, t, _)| (format!("{prefix}.{f}"), t, false))
        .collect()
}

fn variant_fields() -> Fields {
    owned(&[
        ("sku", Sku, true),
        ("product_handle", Text, true),
        ("title", Text, false),
        ("options", TextMap, false),
        ("barcodes", GtinList, false),
        ("price.amount", Decimal, true),
        ("price.currency", Currency, true),
        ("compare_at_price.amount", Decimal, false),
        ("compare_at_price.currency", Currency, false),
        ("weight.value", Decimal, false),
        ("weight.unit", Enum(WEIGHT_UNIT), false),
        ("status", Enum(PRODUCT_STATUS), true),
        ("tags", TextList, false),
        ("taxable", Bool, true),
        ("created_at", DateTime, true),
        ("updated_at", DateTime, true),
    ])
}

/// The all-or-nothing parts of a variant.
fn variant_groups(s: Schema) -> Schema {
    s.with_group("compare_at_price", &["amount", "currency"])
        .with_group("weight", &["value", "unit"])
}

impl Mappable for Variant {
    fn schema() -> Schema {
        variant_groups(Schema::new(&variant_fields()))
    }
}

impl Mappable for Product {
    fn schema() -> Schema {
        Schema::new(&[
            ("handle", Text, true),
            ("title", Text, true),
            ("description", Text, false),
            ("vendor", Text, false),
            ("product_type", Text, false),
            ("status", Enum(PRODUCT_STATUS), true),
            ("tags", TextList, false),
            ("created_at", DateTime, true),
            ("updated_at", DateTime, true),
        ])
        .with_list("variants", variant_groups(Schema::new(&variant_fields())))
    }
}

impl Mappable for InventoryLevel {
    fn schema() -> Schema {
        Schema::new(&[
            ("sku", Sku, true),
            ("location", Text, true),
            ("on_hand", Integer, false),
            ("available", Integer, false),
            ("committed", Integer, false),
            ("reserved", Integer, false),
            ("incoming", Integer, false),
            ("safety_stock", Integer, false),
            ("damaged", Integer, false),
            ("quality_control", Integer, false),
            ("oversell_allowed", Bool, false),
            ("updated_at", DateTime, true),
        ])
    }
}

impl Mappable for Location {
    fn schema() -> Schema {
        let mut fields = owned(&[
            ("id", Text, true),
            ("name", Text, true),
            ("kind", Enum(LOCATION_KIND), true),
            ("coordinates.lat", Decimal, false),
            ("coordinates.lon", Decimal, false),
            ("active", Bool, true),
        ]);
        fields.extend(address("address"));
        Schema::new(&fields)
            .with_group("address", &["line1", "city", "country"])
            .with_group("coordinates", &["lat", "lon"])
    }
}

impl Mappable for Customer {
    fn schema() -> Schema {
        Schema::new(&[
            ("id", Text, true),
            ("first_name", Text, false),
            ("last_name", Text, false),
            ("emails", TextList, false),
            ("phones", TextList, false),
            ("marketing.email", Enum(CONSENT), false),
            ("marketing.sms", Enum(CONSENT), false),
            ("marketing.updated_at", DateTime, false),
            ("tags", TextList, false),
            ("created_at", DateTime, true),
            ("updated_at", DateTime, true),
        ])
        .with_list("addresses", Schema::new(&address_fields()))
        .with_list(
            "external_refs",
            Schema::new(&[("system", Text, true), ("id", Text, true)]),
        )
    }
}

fn address_fields() -> Fields {
    owned(&[
        ("name", Text, false),
        ("company", Text, false),
        ("line1", Text, true),
        ("line2", Text, false),
        ("city", Text, true),
        ("region", Text, false),
        ("postcode", Text, false),
        ("country", Text, true),
        ("phone", Text, false),
    ])
}

/// `prefix.amount` and `prefix.currency`.
fn money(prefix: &str, required: bool) -> Fields {
    vec![
        (format!("{prefix}.amount"), Decimal, required),
        (format!("{prefix}.currency"), Currency, required),
    ]
}

fn tax_line_schema() -> Schema {
    let mut f = owned(&[("title", Text, true), ("rate", Decimal, true)]);
    f.extend(money("amount", true));
    Schema::new(&f)
}

fn allocation_schema() -> Schema {
    let mut f = owned(&[("discount", Count, true)]);
    f.extend(money("amount", true));
    Schema::new(&f)
}

impl Mappable for Order {
    fn schema() -> Schema {
        let mut top = owned(&[
            ("number", Text, true),
            ("currency", Currency, true),
            ("taxes_included", Bool, true),
            ("financial_status", Enum(FINANCIAL), true),
            ("fulfillment_status", Enum(FULFILLMENT), true),
            ("customer.system", Text, false),
            ("customer.id", Text, false),
            ("created_at", DateTime, true),
            ("updated_at", DateTime, true),
        ]);
        for total in [
            "totals.subtotal",
            "totals.discount_total",
            "totals.shipping_total",
            "totals.tax_total",
            "totals.total",
            "totals.paid",
        ] {
            top.extend(money(total, true));
        }
        top.extend(address("billing_address"));
        top.extend(address("shipping_address"));

        let mut line = owned(&[
            ("id", Text, true),
            ("sku", Sku, true),
            ("title", Text, false),
            ("quantity", Count, true),
            ("fulfillment_location", Text, false),
        ]);
        line.extend(money("unit_price", true));
        line.extend(money("total", false));
        let lines = Schema::new(&line)
            .with_group("total", &["amount", "currency"])
            .with_list("discount_allocations", allocation_schema())
            .with_list("tax_lines", tax_line_schema());

        let mut shipping = owned(&[("title", Text, true), ("code", Text, false)]);
        shipping.extend(money("price", true));
        let shipping_lines = Schema::new(&shipping)
            .with_list("discount_allocations", allocation_schema())
            .with_list("tax_lines", tax_line_schema());

        let mut discount = owned(&[
            ("code", Text, false),
            ("title", Text, true),
            ("target", Enum(DISCOUNT_TARGET), true),
        ]);
        discount.extend(money("amount", true));

        Schema::new(&top)
            .with_group("customer", &["system", "id"])
            .with_group("billing_address", &["line1", "city", "country"])
            .with_group("shipping_address", &["line1", "city", "country"])
            .with_list("lines", lines)
            .with_list("shipping_lines", shipping_lines)
            .with_list("discounts", Schema::new(&discount))
    }
}
