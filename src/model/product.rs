//! Products and their variants.
//!
//! A [`Product`] groups [`Variant`]s that differ by option values (size,
//! colour). The variant is what is stocked, priced and ordered, so it is keyed
//! by SKU and is also an entity on its own.
//!
//! ```
//! use chrono::Utc;
//! use rust_decimal_macros::dec;
//! use seamwork::model::{Currency, Money, Sku, Variant};
//!
//! let now = Utc::now();
//! let mut v = Variant::new(Sku::new("TEE-M").unwrap(), "tee", Money::new(dec!(19.99), Currency::USD), now);
//! v.compare_at_price = Some(Money::new(dec!(14.99), Currency::USD));
//! let err = v.validate().unwrap_err();
//! assert!(err.has_field("compare_at_price"));
//! ```

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::ids::{Gtin, Sku};
use super::money::Money;
use super::validation::{Rules, ValidationErrors, Validator, Verdict};

/// Whether a product or variant is sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProductStatus {
    /// Visible and sellable.
    Active,
    /// Being prepared; not sold.
    Draft,
    /// No longer sold; kept for history.
    Archived,
}

/// A unit of weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightUnit {
    /// Gram.
    G,
    /// Kilogram.
    Kg,
    /// Avoirdupois ounce (28.349523125 g exactly).
    Oz,
    /// Avoirdupois pound (453.59237 g exactly).
    Lb,
}

impl WeightUnit {
    /// Grams in one unit, exact by definition.
    pub fn grams(self) -> Decimal {
        match self {
            WeightUnit::G => Decimal::ONE,
            WeightUnit::Kg => Decimal::from(1000),
            WeightUnit::Oz => Decimal::new(28_349_523_125, 9),
            WeightUnit::Lb => Decimal::new(45_359_237, 5),
        }
    }
}

/// A weight: value and unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Weight {
    /// The amount, never negative.
    #[serde(with = "crate::model::money::decimal_serde")]
    pub value: Decimal,
    /// The unit.
    pub unit: WeightUnit,
}

impl Weight {
    /// The weight in `unit`; `None` when the value is too large to convert.
    ///
    /// Exact whenever the result has a finite decimal form within 28 digits
    /// (g↔kg, lb→g, 16 oz→1 lb); conversions into ounces or pounds may repeat
    /// forever and are then rounded at the 28th digit.
    pub fn to_unit(self, unit: WeightUnit) -> Option<Decimal> {
        if unit == self.unit {
            return Some(self.value);
        }
        self.value
            .checked_mul(self.unit.grams())?
            .checked_div(unit.grams())
    }
}

/// One sellable variant of a product, keyed by SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Variant {
    /// The key across systems.
    pub sku: Sku,
    /// Handle of the product it belongs to.
    pub product_handle: String,
    /// Display title (`Black / M`).
    #[serde(default)]
    pub title: String,
    /// Option values by option name (`Size` → `M`).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Barcodes (UPC/EAN/GTIN-14).
    #[serde(default)]
    pub barcodes: Vec<Gtin>,
    /// Selling price.
    pub price: Money,
    /// The "was" price shown struck through; must not be below `price`.
    #[serde(default)]
    pub compare_at_price: Option<Money>,
    /// Shipping weight.
    #[serde(default)]
    pub weight: Option<Weight>,
    /// Sales status.
    pub status: ProductStatus,
    /// Free tags.
    #[serde(default)]
    pub tags: BTreeSet<String>,
    /// Whether tax is charged.
    pub taxable: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Variant {
    /// An active, taxable variant with the given price; created and updated `at`.
    pub fn new(
        sku: Sku,
        product_handle: impl Into<String>,
        price: Money,
        at: DateTime<Utc>,
    ) -> Self {
        Variant {
            sku,
            product_handle: product_handle.into(),
            title: String::new(),
            options: BTreeMap::new(),
            barcodes: Vec::new(),
            price,
            compare_at_price: None,
            weight: None,
            status: ProductStatus::Active,
            tags: BTreeSet::new(),
            taxable: true,
            created_at: at,
            updated_at: at,
        }
    }

    /// Checks prices, weight, barcodes and timestamps.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        // Most variants break no rule: learn that without building messages.
        let mut verdict = Verdict::default();
        self.validate_into(&mut verdict);
        if verdict.is_clean() {
            return Ok(());
        }
        let mut v = Validator::new("variant", self.sku.as_str());
        self.validate_into(&mut v);
        v.finish()
    }

    pub(crate) fn validate_into(&self, v: &mut impl Rules) {
        v.check(
            !self.product_handle.trim().is_empty(),
            "product_handle",
            "must not be empty",
        );
        v.check_value(
            !self.price.is_negative(),
            "price",
            "must not be negative",
            self.price,
        );
        if let Some(cap) = &self.compare_at_price {
            match cap.checked_cmp(&self.price) {
                Ok(ord) => v.check_value(
                    ord != std::cmp::Ordering::Less,
                    "compare_at_price",
                    "must not be below price",
                    format_args!("{cap} < {}", self.price),
                ),
                Err(e) => v.push(
                    "compare_at_price",
                    "must be in the price's currency",
                    None,
                    Some(e.to_string()),
                ),
            }
        }
        if let Some(w) = &self.weight {
            v.check_value(
                !w.value.is_sign_negative() || w.value.is_zero(),
                "weight.value",
                "must not be negative",
                w.value,
            );
        }
        // Barcodes compare as their 14-digit form. A variant has a few: each
        // is compared with those before it, and only a long list is hashed.
        let mut seen = HashSet::new();
        let many = self.barcodes.len() > 16;
        for (i, b) in self.barcodes.iter().enumerate() {
            let repeated = if many {
                !seen.insert(b)
            } else {
                self.barcodes[..i].contains(b)
            };
            v.check_value(
                !repeated,
                format_args!("barcodes[{i}]"),
                "must not repeat another barcode",
                b,
            );
        }
        v.check_timestamps(self.created_at, self.updated_at);
    }
}

/// A named option of a product and its allowed values (`Size`: S, M, L).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductOption {
    /// Option name.
    pub name: String,
    /// Allowed values, in display order.
    pub values: Vec<String>,
}

/// A product: the shared description of its variants. Keyed by handle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Product {
    /// URL-safe unique name; the key.
    pub handle: String,
    /// Title.
    pub title: String,
    /// Description (HTML or text, as the source gives it).
    #[serde(default)]
    pub description: Option<String>,
    /// Brand or vendor.
    #[serde(default)]
    pub vendor: Option<String>,
    /// Merchant's product category.
    #[serde(default)]
    pub product_type: Option<String>,
    /// Sales status.
    pub status: ProductStatus,
    /// Free tags.
    #[serde(default)]
    pub tags: BTreeSet<String>,
    /// Options the variants differ by.
    #[serde(default)]
    pub options: Vec<ProductOption>,
    /// The variants.
    #[serde(default)]
    pub variants: Vec<Variant>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Product {
    /// An active product without options or variants.
    pub fn new(handle: impl Into<String>, title: impl Into<String>, at: DateTime<Utc>) -> Self {
        Product {
            handle: handle.into(),
            title: title.into(),
            description: None,
            vendor: None,
            product_type: None,
            status: ProductStatus::Active,
            tags: BTreeSet::new(),
            options: Vec::new(),
            variants: Vec::new(),
            created_at: at,
            updated_at: at,
        }
    }

    /// Checks the product and every variant: unique SKUs, option values that
    /// exist, variants that point back to this product.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = Validator::new("product", &self.handle);
        v.check(
            !self.handle.trim().is_empty(),
            "handle",
            "must not be empty",
        );
        v.check(!self.title.trim().is_empty(), "title", "must not be empty");
        let mut skus = HashSet::new();
        for (i, variant) in self.variants.iter().enumerate() {
            v.nested(format_args!("variants[{i}]"), |v| {
                variant.validate_into(v);
                v.check_value(
                    skus.insert(variant.sku.as_str()),
                    "sku",
                    "must be unique within the product",
                    &variant.sku,
                );
                v.expect_eq(
                    "product_handle",
                    "must be the product's handle",
                    self.handle.as_str(),
                    variant.product_handle.as_str(),
                );
                for (name, value) in &variant.options {
                    match self.options.iter().find(|o| &o.name == name) {
                        None => v.push(
                            format_args!("options.{name}"),
                            "names an option the product does not have",
                            None,
                            Some(name.clone()),
                        ),
                        Some(o) => v.check_value(
                            o.values.contains(value),
                            format_args!("options.{name}"),
                            "value is not one of the option's values",
                            value,
                        ),
                    }
                }
            });
        }
        v.check_timestamps(self.created_at, self.updated_at);
        v.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Currency;
    use rust_decimal_macros::dec;

    fn variant(sku: &str, price: Decimal) -> Variant {
        Variant::new(
            Sku::new(sku).unwrap(),
            "tee",
            Money::new(price, Currency::USD),
            Utc::now(),
        )
    }

    #[test]
    fn weight_conversions_are_exact() {
        let lb = Weight {
            value: dec!(1),
            unit: WeightUnit::Lb,
        };
        assert_eq!(lb.to_unit(WeightUnit::G), Some(dec!(453.59237)));
        let oz16 = Weight {
            value: dec!(16),
            unit: WeightUnit::Oz,
        };
        assert_eq!(oz16.to_unit(WeightUnit::Lb), Some(dec!(1)));
        let kg = Weight {
            value: dec!(2.5),
            unit: WeightUnit::Kg,
        };
        assert_eq!(kg.to_unit(WeightUnit::G), Some(dec!(2500)));
        let huge = Weight {
            value: Decimal::MAX,
            unit: WeightUnit::Kg,
        };
        assert_eq!(huge.to_unit(WeightUnit::G), None);
    }

    #[test]
    fn product_reports_every_problem() {
        let mut p = Product::new("tee", "Tee", Utc::now());
        p.options.push(ProductOption {
            name: "Size".into(),
            values: vec!["S".into(), "M".into()],
        });
        let mut a = variant("TEE-S", dec!(10));
        a.options.insert("Size".into(), "XL".into());
        let mut b = variant("TEE-S", dec!(-1));
        b.product_handle = "other".into();
        b.options.insert("Colour".into(), "Red".into());
        p.variants = vec![a, b];
        let e = p.validate().unwrap_err();
        for field in [
            "variants[0].options.Size",
            "variants[1].sku",
            "variants[1].price",
            "variants[1].product_handle",
            "variants[1].options.Colour",
        ] {
            assert!(e.has_field(field), "missing {field} in {e}");
        }
        assert_eq!(e.violations.len(), 5, "{e}");
    }

    #[test]
    fn compare_at_in_other_currency_is_reported() {
        let mut v = variant("A", dec!(10));
        v.compare_at_price = Some(Money::new(dec!(12), Currency::EUR));
        assert!(v.validate().unwrap_err().has_field("compare_at_price"));
    }

    mod props {
        use proptest::prelude::*;

        use super::*;

        /// The rules as they were written before the quick verdict: every
        /// violation collected, barcodes compared through their 14-digit text.
        fn collected(v: &Variant) -> Result<(), ValidationErrors> {
            let mut c = Validator::new("variant", v.sku.as_str());
            c.check(
                !v.product_handle.trim().is_empty(),
                "product_handle",
                "must not be empty",
            );
            c.check_value(
                !v.price.is_negative(),
                "price",
                "must not be negative",
                v.price,
            );
            if let Some(cap) = &v.compare_at_price {
                match cap.checked_cmp(&v.price) {
                    Ok(ord) => c.check_value(
                        ord != std::cmp::Ordering::Less,
                        "compare_at_price",
                        "must not be below price",
                        format_args!("{cap} < {}", v.price),
                    ),
                    Err(e) => c.push(
                        "compare_at_price",
                        "must be in the price's currency",
                        None,
                        Some(e.to_string()),
                    ),
                }
            }
            if let Some(w) = &v.weight {
                c.check_value(
                    !w.value.is_sign_negative() || w.value.is_zero(),
                    "weight.value",
                    "must not be negative",
                    w.value,
                );
            }
            let mut seen = HashSet::new();
            for (i, b) in v.barcodes.iter().enumerate() {
                c.check_value(
                    seen.insert(b.to_gtin14()),
                    format_args!("barcodes[{i}]"),
                    "must not repeat another barcode",
                    b,
                );
            }
            c.check_timestamps(v.created_at, v.updated_at);
            c.finish()
        }

        fn gtin() -> impl Strategy<Value = Gtin> {
            prop::sample::select(vec![
                "4006381333931",
                "04006381333931",
                "036000291452",
                "0036000291452",
                "96385074",
                "5901234123457",
            ])
            .prop_map(|g| Gtin::parse(g).unwrap())
        }

        fn variant() -> impl Strategy<Value = Variant> {
            let money =
                |c: Currency| (-500i64..5000).prop_map(move |m| Money::new(Decimal::new(m, 2), c));
            let currency = prop::sample::select(vec![Currency::EUR, Currency::USD]);
            (
                prop::sample::select(vec!["tee", " ", ""]),
                money(Currency::EUR),
                prop::option::of(currency.prop_flat_map(money)),
                prop::option::of((-5i64..50).prop_map(|w| Weight {
                    value: Decimal::new(w, 1),
                    unit: WeightUnit::G,
                })),
                prop::collection::vec(gtin(), 0..24),
                -3i64..3,
            )
                .prop_map(|(handle, price, cap, weight, barcodes, shift)| {
                    let at = chrono::DateTime::from_timestamp(1_772_366_400, 0).unwrap();
                    let mut v = Variant::new(Sku::new("TEE-M").unwrap(), handle, price, at);
                    v.compare_at_price = cap;
                    v.weight = weight;
                    v.barcodes = barcodes;
                    v.updated_at = at + chrono::TimeDelta::hours(shift);
                    v
                })
        }

        proptest! {
            /// The quick verdict and the barcode comparison change no result.
            #[test]
            fn validate_equals_collecting_every_rule(v in variant()) {
                prop_assert_eq!(v.validate(), collected(&v));
            }
        }
    }
}
