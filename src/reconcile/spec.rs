//! What to compare: the key columns, a policy per field and an optional
//! dimension to count differences by. Read from TOML (`SPEC.toml`) or built in code.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::connector::EntityKind;
use crate::error::{Error, Result};
use crate::model::Currency;

/// How one field is compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "compare", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum FieldPolicy {
    /// The same text, or the same number when both sides are numbers (`10` = `10.0`).
    Exact,
    /// Numbers within `tolerance` of each other (`|right − left| ≤ tolerance`).
    Abs {
        /// The largest accepted absolute difference.
        tolerance: Decimal,
    },
    /// Numbers within `tolerance` relative to the larger magnitude
    /// (`|right − left| ≤ tolerance × max(|left|, |right|)`).
    Rel {
        /// The largest accepted relative difference (`0.01` = 1 %).
        tolerance: Decimal,
    },
    /// Money amounts within `tolerance_minor` minor units of `currency` (1 cent, 1 yen).
    Money {
        /// ISO 4217 code whose minor unit the tolerance counts in.
        currency: String,
        /// Accepted difference in minor units (default 0: equal to the minor unit).
        #[serde(default)]
        tolerance_minor: u32,
    },
    /// Equal text ignoring case, surrounding whitespace and runs of inner whitespace.
    Text,
    /// Not compared.
    Ignore,
}

/// The comparison setup of a reconciliation.
///
/// ```
/// use seamwork::reconcile::DiffSpec;
///
/// let spec = DiffSpec::from_toml(r#"
/// key = ["sku", "location"]
/// dimension = "location"
/// [fields.price]
/// compare = "abs"
/// tolerance = "0.01"
/// [fields.updated_at]
/// compare = "ignore"
/// "#, "SPEC.toml").unwrap();
/// assert_eq!(spec.key, ["sku", "location"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DiffSpec {
    /// The key columns (one or more); rows with the same key are compared.
    pub key: Vec<String>,
    /// Per-field policies; a column not named here is compared [`FieldPolicy::Exact`].
    #[serde(default)]
    pub fields: BTreeMap<String, FieldPolicy>,
    /// A column to count differences by (e.g. `location`), when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension: Option<String>,
}

impl DiffSpec {
    /// A spec keyed on `key`, every field exact.
    pub fn new<S: Into<String>>(key: impl IntoIterator<Item = S>) -> Self {
        DiffSpec {
            key: key.into_iter().map(Into::into).collect(),
            fields: BTreeMap::new(),
            dimension: None,
        }
    }

    /// The spec for a canonical entity kind: its key fields (see [`entity_key_columns`]).
    pub fn for_entity(kind: EntityKind) -> Self {
        DiffSpec::new(entity_key_columns(kind).iter().copied())
    }

    /// Sets the policy of `field`.
    pub fn with_field(mut self, field: impl Into<String>, policy: FieldPolicy) -> Self {
        self.fields.insert(field.into(), policy);
        self
    }

    /// Counts differences by `column`.
    pub fn with_dimension(mut self, column: impl Into<String>) -> Self {
        self.dimension = Some(column.into());
        self
    }

    /// Reads a spec from TOML; errors name `source`, the line and the column.
    pub fn from_toml(text: &str, source: &str) -> Result<Self> {
        crate::source_text::parse_rules(text, "reconcile spec", source, |s: &DiffSpec| {
            s.check().map_err(|e| e.with_file(source, None, None))
        })
    }

    /// Reads a spec file; errors name the file, the line and the column.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self> {
        crate::source_text::load_rules(path.as_ref(), "reconcile spec", DiffSpec::check)
    }

    /// Checks the spec on its own: a key, no key column with a policy, valid tolerances.
    pub fn check(&self) -> Result<()> {
        if self.key.is_empty() || self.key.iter().any(|k| k.is_empty()) {
            return Err(Error::config("reconcile spec: `key` names no column").with_field("key"));
        }
        for (i, k) in self.key.iter().enumerate() {
            if self.key[..i].contains(k) {
                return Err(Error::config(format!(
                    "reconcile spec: key column {k:?} is named twice"
                ))
                .with_field("key"));
            }
            if self.fields.contains_key(k) {
                return Err(Error::config(format!(
                    "reconcile spec: {k:?} is a key column and cannot have a field policy"
                ))
                .with_field(format!("fields.{k}")));
            }
        }
        for (name, policy) in &self.fields {
            Rule::compile(policy).map_err(|m| {
                Error::config(format!("reconcile spec: fields.{name}: {m}"))
                    .with_field(format!("fields.{name}"))
            })?;
        }
        Ok(())
    }

    /// The policy of `field` (exact when not named).
    pub fn policy(&self, field: &str) -> &FieldPolicy {
        self.fields.get(field).unwrap_or(&FieldPolicy::Exact)
    }
}

/// The key fields of a canonical entity kind as they appear in its flattened
/// form (`InventoryLevel` → `sku`, `location`).
pub fn entity_key_columns(kind: EntityKind) -> &'static [&'static str] {
    match kind {
        EntityKind::Product => &["handle"],
        EntityKind::Variant => &["sku"],
        EntityKind::InventoryLevel => &["sku", "location"],
        EntityKind::Location => &["id"],
        EntityKind::Order => &["number"],
        EntityKind::Customer => &["id"],
    }
}

/// A compiled policy: money becomes an absolute tolerance in its minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    Exact,
    Abs(Decimal),
    Rel(Decimal),
    Text,
    Ignore,
}

impl Rule {
    pub(crate) fn compile(policy: &FieldPolicy) -> std::result::Result<Rule, String> {
        let non_negative = |t: &Decimal| {
            if t.is_sign_negative() && !t.is_zero() {
                Err(format!("tolerance {t} is negative"))
            } else {
                Ok(())
            }
        };
        Ok(match policy {
            FieldPolicy::Exact => Rule::Exact,
            FieldPolicy::Abs { tolerance } => {
                non_negative(tolerance)?;
                Rule::Abs(*tolerance)
            }
            FieldPolicy::Rel { tolerance } => {
                non_negative(tolerance)?;
                Rule::Rel(*tolerance)
            }
            FieldPolicy::Money {
                currency,
                tolerance_minor,
            } => {
                let c = Currency::from_code(currency).map_err(|e| e.to_string())?;
                Rule::Abs(Decimal::new(i64::from(*tolerance_minor), c.minor_units()))
            }
            FieldPolicy::Text => Rule::Text,
            FieldPolicy::Ignore => Rule::Ignore,
        })
    }

    /// `None` when `left` and `right` agree under the rule; otherwise the
    /// difference, with `right − left` when both are numbers.
    pub(crate) fn differs(self, left: &str, right: &str) -> Option<Option<Decimal>> {
        if left == right {
            return None;
        }
        match self {
            Rule::Ignore => None,
            Rule::Text => (!text_eq(left, right)).then_some(None),
            Rule::Exact => match numbers(left, right) {
                Some((l, r)) if l == r => None,
                Some((l, r)) => Some(r.checked_sub(l)),
                None => Some(None),
            },
            Rule::Abs(tol) => match numbers(left, right) {
                Some((l, r)) => {
                    let d = r.checked_sub(l);
                    match d {
                        Some(d) if d.abs() <= tol => None,
                        _ => Some(d),
                    }
                }
                None => Some(None),
            },
            Rule::Rel(tol) => match numbers(left, right) {
                Some((l, r)) => {
                    let d = r.checked_sub(l);
                    let limit = tol.checked_mul(l.abs().max(r.abs()));
                    match (d, limit) {
                        (Some(d), Some(limit)) if d.abs() <= limit => None,
                        _ => Some(d),
                    }
                }
                None => Some(None),
            },
        }
    }
}

/// Both sides as numbers, when both are.
fn numbers(left: &str, right: &str) -> Option<(Decimal, Decimal)> {
    Some((number(left)?, number(right)?))
}

/// A plain decimal number (`-12.50`); no exponent, separators or spaces.
pub(crate) fn number(s: &str) -> Option<Decimal> {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    Decimal::from_str(s).ok()
}

/// Text equality ignoring case and whitespace runs, without allocating.
fn text_eq(a: &str, b: &str) -> bool {
    let mut wa = a.split_whitespace();
    let mut wb = b.split_whitespace();
    loop {
        match (wa.next(), wb.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) => {
                if !x
                    .chars()
                    .flat_map(char::to_lowercase)
                    .eq(y.chars().flat_map(char::to_lowercase))
                {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn policies_compare_as_documented() {
        assert_eq!(Rule::Exact.differs("10", "10.0"), None);
        assert_eq!(Rule::Exact.differs("10", "12"), Some(Some(dec!(2))));
        assert_eq!(Rule::Exact.differs("a", "b"), Some(None));
        assert_eq!(Rule::Abs(dec!(0.01)).differs("1.00", "1.01"), None);
        assert_eq!(
            Rule::Abs(dec!(0.01)).differs("1.00", "1.02"),
            Some(Some(dec!(0.02)))
        );
        assert_eq!(Rule::Rel(dec!(0.1)).differs("100", "109"), None);
        assert_eq!(
            Rule::Rel(dec!(0.1)).differs("100", "120"),
            Some(Some(dec!(20)))
        );
        assert_eq!(Rule::Text.differs("  Blue   Tee ", "blue tee"), None);
        assert_eq!(Rule::Text.differs("blue tee", "blue tea"), Some(None));
        assert_eq!(Rule::Ignore.differs("x", "y"), None);
        assert_eq!(Rule::Abs(dec!(1)).differs("", "1"), Some(None));
        assert_eq!(number("1e5"), None);
        assert_eq!(number(" 1"), None);
    }

    #[test]
    fn money_tolerance_counts_minor_units() {
        let jpy = FieldPolicy::Money {
            currency: "JPY".into(),
            tolerance_minor: 1,
        };
        assert_eq!(Rule::compile(&jpy).unwrap(), Rule::Abs(dec!(1)));
        let usd = FieldPolicy::Money {
            currency: "usd".into(),
            tolerance_minor: 2,
        };
        assert_eq!(Rule::compile(&usd).unwrap(), Rule::Abs(dec!(0.02)));
        let bad = FieldPolicy::Money {
            currency: "XXX".into(),
            tolerance_minor: 0,
        };
        assert!(Rule::compile(&bad).is_err());
    }

    #[test]
    fn spec_errors_name_the_place() {
        let e = DiffSpec::from_toml(
            "key = [\"sku\"]\n[fields.price]\ncompare = \"fuzzy\"\n",
            "S.toml",
        )
        .unwrap_err();
        assert_eq!(e.context().file.as_deref(), Some("S.toml"));
        assert!(e.context().line.is_some(), "{e}");
        let e = DiffSpec::from_toml("key = []\n", "S.toml").unwrap_err();
        assert!(e.to_string().contains("names no column"), "{e}");
        let e = DiffSpec::from_toml(
            "key = [\"sku\"]\n[fields.price]\ncompare = \"abs\"\ntolerance = \"-1\"\n",
            "S.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("fields.price"), "{e}");
    }
}
