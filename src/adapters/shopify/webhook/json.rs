//! A path-aware reader over a webhook's JSON body: every value it refuses is
//! reported with its full field path (`line_items[2].price`), the topic and
//! the webhook id, so a bad payload can be found in the delivery log.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::connector::EntityKind;
use crate::error::{Error, Result};
use crate::model::{Currency, Money, SystemId};

/// What a parse error names: the delivery and the entity being built.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Delivery<'a> {
    pub(crate) topic: &'a str,
    pub(crate) webhook_id: &'a str,
    pub(crate) system: &'a SystemId,
    pub(crate) kind: EntityKind,
}

impl Delivery<'_> {
    /// An `InvalidData` error for `field`, naming topic and webhook id.
    pub(crate) fn bad(&self, field: &str, why: impl fmt::Display) -> Error {
        let field = if field.is_empty() { "(body)" } else { field };
        Error::invalid_data(format!(
            "shopify webhook {} (webhook id {}): `{field}` {why}",
            self.topic, self.webhook_id
        ))
        .with_system(self.system.as_str())
        .with_entity(self.kind.name())
        .with_external_id(self.webhook_id)
        .with_field(field)
    }

    /// Parses `body` as a JSON object.
    pub(crate) fn root<'v>(&'v self, body: &'v Value) -> Result<Node<'v>> {
        let node = Node {
            delivery: self,
            path: String::new(),
            value: Some(body),
        };
        if body.is_object() {
            Ok(node)
        } else {
            Err(self.bad("", "must be a JSON object"))
        }
    }
}

/// Parses the raw body into JSON, naming the delivery when it is not JSON.
pub(crate) fn parse_body(delivery: &Delivery<'_>, body: &[u8]) -> Result<Value> {
    serde_json::from_slice(body).map_err(|e| delivery.bad("", format_args!("is not JSON: {e}")))
}

/// One value of the body and where it sits.
#[derive(Clone)]
pub(crate) struct Node<'v> {
    delivery: &'v Delivery<'v>,
    path: String,
    /// `None` when the field is absent; `Some(Null)` when it is `null`.
    value: Option<&'v Value>,
}

impl<'v> Node<'v> {
    /// An error about this value.
    pub(crate) fn bad(&self, why: impl fmt::Display) -> Error {
        self.delivery.bad(&self.path, why)
    }

    /// The child `key` of an object (absent when this is not an object).
    pub(crate) fn get(&self, key: &str) -> Node<'v> {
        let path = if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        };
        Node {
            delivery: self.delivery,
            path,
            value: self.value.and_then(|v| v.get(key)),
        }
    }

    /// The value unless absent or `null`.
    fn present(&self) -> Option<&'v Value> {
        self.value.filter(|v| !v.is_null())
    }

    /// Whether the value is absent or `null`.
    pub(crate) fn is_null(&self) -> bool {
        self.present().is_none()
    }

    /// The elements of an array; absent or `null` is empty.
    pub(crate) fn items(&self) -> Result<Vec<Node<'v>>> {
        match self.present() {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, v)| Node {
                    delivery: self.delivery,
                    path: format!("{}[{i}]", self.path),
                    value: Some(v),
                })
                .collect()),
            Some(other) => Err(self.bad(format_args!("must be an array, not {}", kind(other)))),
        }
    }

    /// A string, or `None` when absent or `null`.
    pub(crate) fn opt_str(&self) -> Result<Option<&'v str>> {
        match self.present() {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.bad(format_args!("must be a string, not {}", kind(other)))),
        }
    }

    /// A string that is neither blank nor missing, trimmed of nothing.
    pub(crate) fn opt_text(&self) -> Result<Option<String>> {
        Ok(self
            .opt_str()?
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string))
    }

    /// A required string.
    pub(crate) fn str(&self) -> Result<&'v str> {
        self.opt_str()?.ok_or_else(|| self.bad("is missing"))
    }

    /// A required, non-blank string.
    pub(crate) fn text(&self) -> Result<&'v str> {
        let s = self.str()?;
        if s.trim().is_empty() {
            Err(self.bad("must not be empty"))
        } else {
            Ok(s)
        }
    }

    /// A boolean, or `default` when absent or `null`.
    pub(crate) fn bool_or(&self, default: bool) -> Result<bool> {
        match self.present() {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => {
                Err(self.bad(format_args!("must be true or false, not {}", kind(other))))
            }
        }
    }

    /// A Shopify numeric id (a JSON integer; a digit string is accepted too).
    pub(crate) fn id(&self) -> Result<u64> {
        match self.present() {
            None => Err(self.bad("is missing")),
            Some(Value::Number(n)) => n
                .as_u64()
                .ok_or_else(|| self.bad(format_args!("must be a positive integer id, not {n}"))),
            Some(Value::String(s)) => s
                .parse()
                .map_err(|_| self.bad(format_args!("must be an integer id, not {s:?}"))),
            Some(other) => {
                Err(self.bad(format_args!("must be an integer id, not {}", kind(other))))
            }
        }
    }

    /// A signed integer quantity.
    pub(crate) fn int(&self) -> Result<i64> {
        match self.present() {
            None => Err(self.bad("is missing")),
            Some(Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| self.bad(format_args!("must be a whole number, not {n}"))),
            Some(other) => {
                Err(self.bad(format_args!("must be a whole number, not {}", kind(other))))
            }
        }
    }

    /// A quantity that is at least zero and fits a `u32`.
    pub(crate) fn count(&self) -> Result<u32> {
        let n = self.int()?;
        u32::try_from(n)
            .map_err(|_| self.bad(format_args!("must be between 0 and {}, not {n}", u32::MAX)))
    }

    /// A decimal given as a string (`"19.99"`) or a JSON number (`0.0725`),
    /// read exactly from its text, never through a float.
    pub(crate) fn opt_decimal(&self) -> Result<Option<Decimal>> {
        let text = match self.present() {
            None => return Ok(None),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => {
                return Err(self.bad(format_args!("must be a decimal, not {}", kind(other))));
            }
        };
        if text.is_empty() {
            return Ok(None);
        }
        Decimal::from_str(&text)
            .or_else(|_| Decimal::from_scientific(&text))
            .map(Some)
            .map_err(|_| self.bad(format_args!("must be a decimal number, not {text:?}")))
    }

    /// A required decimal.
    pub(crate) fn decimal(&self) -> Result<Decimal> {
        self.opt_decimal()?.ok_or_else(|| self.bad("is missing"))
    }

    /// An amount in `currency` at its canonical scale (see
    /// [`canonical_money`]), or `None` when absent, `null` or empty.
    pub(crate) fn opt_money(&self, currency: Currency) -> Result<Option<Money>> {
        Ok(self.opt_decimal()?.map(|d| canonical_money(d, currency)))
    }

    /// A required amount in `currency` at its canonical scale.
    pub(crate) fn money(&self, currency: Currency) -> Result<Money> {
        Ok(canonical_money(self.decimal()?, currency))
    }

    /// A decimal without trailing zeros (rates, weights), so `0.060` and
    /// `0.06` are the same value in a fingerprint.
    pub(crate) fn opt_plain_decimal(&self) -> Result<Option<Decimal>> {
        Ok(self.opt_decimal()?.map(|d| d.normalize()))
    }

    /// An amount in `currency` that is zero when absent.
    pub(crate) fn money_or_zero(&self, currency: Currency) -> Result<Money> {
        Ok(self.opt_money(currency)?.unwrap_or(Money::zero(currency)))
    }

    /// An ISO 4217 currency code.
    pub(crate) fn currency(&self) -> Result<Currency> {
        let code = self.text()?;
        Currency::from_code(code.trim()).map_err(|e| self.bad(e))
    }

    /// An RFC 3339 timestamp (Shopify writes the shop's offset), in UTC.
    pub(crate) fn opt_time(&self) -> Result<Option<DateTime<Utc>>> {
        self.opt_str()?
            .map(|s| {
                DateTime::parse_from_rfc3339(s.trim())
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| {
                        self.bad(format_args!(
                            "must be an RFC 3339 timestamp, not {s:?}: {e}"
                        ))
                    })
            })
            .transpose()
    }

    /// A required timestamp.
    pub(crate) fn time(&self) -> Result<DateTime<Utc>> {
        self.opt_time()?.ok_or_else(|| self.bad("is missing"))
    }

    /// The resource's GraphQL id: `admin_graphql_api_id` when the payload
    /// has it, else `gid://shopify/<resource>/<id>` built from `id`. This is
    /// the id a GraphQL poller sees, so webhook and poll refer to the same
    /// resource identically.
    pub(crate) fn gid(&self, resource: &str) -> Result<String> {
        let given = self.get("admin_graphql_api_id");
        if let Some(gid) = given.opt_text()? {
            return Ok(gid);
        }
        Ok(format!("gid://shopify/{resource}/{}", self.get("id").id()?))
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `amount` at the scale a fingerprint compares: the currency's minor units
/// when it has no finer digits (`25`, `"25.0"`, `"25.00"` → 25.00 USD), else
/// exactly as given minus trailing zeros. Only zeros are added or removed:
/// the value never changes, nothing is rounded. REST sends `"25.00"`,
/// GraphQL `"25.0"`: both become the same money.
pub fn canonical_money(amount: Decimal, currency: Currency) -> Money {
    let mut amount = amount.normalize();
    if amount.is_zero() {
        amount = Decimal::ZERO;
    }
    let minor = currency.minor_units();
    if amount.scale() < minor {
        amount.rescale(minor);
    }
    Money::new(amount, currency)
}

/// Splits Shopify's comma-separated `tags` text into trimmed, non-empty tags.
pub(crate) fn tags(node: &Node<'_>) -> Result<std::collections::BTreeSet<String>> {
    Ok(node
        .opt_str()?
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect())
}
