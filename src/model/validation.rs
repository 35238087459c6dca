//! Collecting every broken rule of a record, not only the first.
//!
//! `validate()` on each model type returns [`ValidationErrors`]: the entity,
//! its key, and one [`Violation`] per broken rule with the field path, the rule
//! and — where it makes sense — the expected and the actual value.
//!
//! ```
//! use seamwork::model::validation::Validator;
//!
//! let mut v = Validator::new("inventory_level", "SKU-1@DC-EAST");
//! v.check_value(false, "on_hand", "must not be negative", -3);
//! v.expect_eq("available", "available = on_hand - committed", &7, &9);
//! let errors = v.finish().unwrap_err();
//! assert_eq!(errors.violations.len(), 2);
//! assert!(errors.to_string().contains("available: available = on_hand - committed (expected 7, actual 9)"));
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Violation {
    /// Path of the field, e.g. `lines[2].quantity`.
    pub field: String,
    /// The rule in words.
    pub rule: String,
    /// The value the rule expects, when there is one.
    pub expected: Option<String>,
    /// The value found.
    pub actual: Option<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.rule)?;
        match (&self.expected, &self.actual) {
            (Some(e), Some(a)) => write!(f, " (expected {e}, actual {a})"),
            (None, Some(a)) => write!(f, " (actual {a})"),
            (Some(e), None) => write!(f, " (expected {e})"),
            (None, None) => Ok(()),
        }
    }
}

/// Every rule a record breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ValidationErrors {
    /// Entity kind (`order`, `variant`, ...).
    pub entity: String,
    /// The record's key (SKU, order number, ...).
    pub key: String,
    /// The broken rules, in the order they were checked.
    pub violations: Vec<Violation>,
}

impl ValidationErrors {
    /// The first violation that concerns `field` exactly.
    pub fn violation(&self, field: &str) -> Option<&Violation> {
        self.violations.iter().find(|v| v.field == field)
    }

    /// True when some violation concerns `field` exactly.
    pub fn has_field(&self, field: &str) -> bool {
        self.violation(field).is_some()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} breaks {} rule(s): ",
            self.entity,
            self.key,
            self.violations.len()
        )?;
        for (i, v) in self.violations.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl From<ValidationErrors> for Error {
    fn from(e: ValidationErrors) -> Self {
        let mut err = Error::invalid_data(e.to_string())
            .with_entity(e.entity.clone())
            .with_key(e.key.clone());
        if let [only] = e.violations.as_slice() {
            err = err.with_field(only.field.clone());
        }
        err
    }
}

/// Collects violations while a record is checked.
#[derive(Debug)]
pub struct Validator {
    entity: String,
    key: String,
    prefix: String,
    violations: Vec<Violation>,
}

impl Validator {
    /// Starts checking the record `key` of kind `entity`.
    pub fn new(entity: impl Into<String>, key: impl Into<String>) -> Self {
        Validator {
            entity: entity.into(),
            key: key.into(),
            prefix: String::new(),
            violations: Vec::new(),
        }
    }

    fn path(&self, field: impl fmt::Display) -> String {
        if self.prefix.is_empty() {
            field.to_string()
        } else {
            let field = field.to_string();
            if field.is_empty() {
                self.prefix.clone()
            } else {
                format!("{}.{field}", self.prefix)
            }
        }
    }

    // Field paths and values are `impl Display` and formatted only when a
    // rule is broken: validating a valid record allocates nothing.

    /// Records a violation of `rule` on `field` unless `ok`.
    pub fn check(&mut self, ok: bool, field: impl fmt::Display, rule: &str) {
        if !ok {
            self.push(field, rule, None, None);
        }
    }

    /// Records a violation of `rule` on `field`, with the value found, unless `ok`.
    pub fn check_value(
        &mut self,
        ok: bool,
        field: impl fmt::Display,
        rule: &str,
        actual: impl fmt::Display,
    ) {
        if !ok {
            self.push(field, rule, None, Some(actual.to_string()));
        }
    }

    /// Checks that `updated_at` is not before `created_at` (a sign of a
    /// time-zone slip at the edge).
    pub fn check_timestamps(
        &mut self,
        created_at: chrono::DateTime<chrono::Utc>,
        updated_at: chrono::DateTime<chrono::Utc>,
    ) {
        self.check_value(
            updated_at >= created_at,
            "updated_at",
            "must not be before created_at",
            format_args!("{updated_at} < {created_at}"),
        );
    }

    /// Records a violation unless `expected == actual`, with both values.
    pub fn expect_eq<T: PartialEq + fmt::Display + ?Sized>(
        &mut self,
        field: impl fmt::Display,
        rule: &str,
        expected: &T,
        actual: &T,
    ) {
        Rules::expect_eq(self, field, rule, expected, actual);
    }

    /// Records a violation unconditionally.
    pub fn push(
        &mut self,
        field: impl fmt::Display,
        rule: &str,
        expected: Option<String>,
        actual: Option<String>,
    ) {
        let field = self.path(field);
        self.violations.push(Violation {
            field,
            rule: rule.to_string(),
            expected,
            actual,
        });
    }

    /// Checks a nested part under `prefix` (`lines[2]`, `shipping_address`).
    pub fn nested(&mut self, prefix: impl fmt::Display, check: impl FnOnce(&mut Validator)) {
        let saved = std::mem::take(&mut self.prefix);
        self.prefix = if saved.is_empty() {
            prefix.to_string()
        } else {
            format!("{saved}.{prefix}")
        };
        check(self);
        self.prefix = saved;
    }

    /// True when nothing has been recorded yet.
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    /// `Ok(())` when no rule was broken, else every violation.
    pub fn finish(self) -> Result<(), ValidationErrors> {
        if self.violations.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors {
                entity: self.entity,
                key: self.key,
                violations: self.violations,
            })
        }
    }
}

/// The checks a validation makes, so one set of rules can run either to
/// collect every violation ([`Validator`]) or only to learn whether any rule
/// is broken ([`Verdict`], which never formats or allocates): the usual
/// record breaks none, and then the messages are never needed.
pub(crate) trait Rules {
    /// A violation of `rule` on `field` unless `ok`.
    fn check(&mut self, ok: bool, field: impl fmt::Display, rule: &str);
    /// A violation of `rule` on `field`, with the value found, unless `ok`.
    fn check_value(
        &mut self,
        ok: bool,
        field: impl fmt::Display,
        rule: &str,
        actual: impl fmt::Display,
    );
    /// A violation, unconditionally.
    fn push(
        &mut self,
        field: impl fmt::Display,
        rule: &str,
        expected: Option<String>,
        actual: Option<String>,
    );
    /// `updated_at` must not be before `created_at`.
    fn check_timestamps(
        &mut self,
        created_at: chrono::DateTime<chrono::Utc>,
        updated_at: chrono::DateTime<chrono::Utc>,
    );
    /// A violation of `rule` on `field` unless `actual` is `expected`.
    fn expect_eq<T: PartialEq + fmt::Display + ?Sized>(
        &mut self,
        field: impl fmt::Display,
        rule: &str,
        expected: &T,
        actual: &T,
    ) {
        if expected != actual {
            self.push(
                field,
                rule,
                Some(expected.to_string()),
                Some(actual.to_string()),
            );
        }
    }
}

impl Rules for Validator {
    fn check(&mut self, ok: bool, field: impl fmt::Display, rule: &str) {
        Validator::check(self, ok, field, rule);
    }

    fn check_value(
        &mut self,
        ok: bool,
        field: impl fmt::Display,
        rule: &str,
        actual: impl fmt::Display,
    ) {
        Validator::check_value(self, ok, field, rule, actual);
    }

    fn push(
        &mut self,
        field: impl fmt::Display,
        rule: &str,
        expected: Option<String>,
        actual: Option<String>,
    ) {
        Validator::push(self, field, rule, expected, actual);
    }

    fn check_timestamps(
        &mut self,
        created_at: chrono::DateTime<chrono::Utc>,
        updated_at: chrono::DateTime<chrono::Utc>,
    ) {
        Validator::check_timestamps(self, created_at, updated_at);
    }
}

/// Whether any rule is broken, learned without building a message.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    broken: bool,
}

impl Verdict {
    /// True when no rule was broken.
    pub fn is_clean(&self) -> bool {
        !self.broken
    }
}

impl Rules for Verdict {
    fn check(&mut self, ok: bool, _: impl fmt::Display, _: &str) {
        self.broken |= !ok;
    }

    fn check_value(&mut self, ok: bool, _: impl fmt::Display, _: &str, _: impl fmt::Display) {
        self.broken |= !ok;
    }

    fn push(&mut self, _: impl fmt::Display, _: &str, _: Option<String>, _: Option<String>) {
        self.broken = true;
    }

    fn check_timestamps(
        &mut self,
        created_at: chrono::DateTime<chrono::Utc>,
        updated_at: chrono::DateTime<chrono::Utc>,
    ) {
        self.broken |= updated_at < created_at;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_paths_compose() {
        let mut v = Validator::new("order", "1001");
        v.nested("lines[1]", |v| {
            v.nested("tax_lines[0]", |v| v.check(false, "rate", "must be >= 0"));
            v.check_value(false, "quantity", "must be > 0", 0);
        });
        v.check(false, "currency", "x");
        let e = v.finish().unwrap_err();
        let fields: Vec<_> = e.violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "lines[1].tax_lines[0].rate",
                "lines[1].quantity",
                "currency"
            ]
        );
    }

    #[test]
    fn single_violation_names_field_in_error() {
        let mut v = Validator::new("variant", "SKU-1");
        v.check_value(false, "price", "must not be negative", "-1.00 USD");
        let err: Error = v.finish().unwrap_err().into();
        assert_eq!(err.context().field.as_deref(), Some("price"));
        assert_eq!(err.context().key.as_deref(), Some("SKU-1"));
    }
}
