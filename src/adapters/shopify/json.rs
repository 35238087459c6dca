//! A JSON cursor that remembers its path, so every mapping error names the
//! exact field (`orders.nodes[3].lineItems.nodes[0].sku`) it choked on.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use super::wire::kind_of;
use crate::error::{Error, Result};

/// A JSON value and where it sits in the answer (paths are built as the walk goes down).
pub(crate) struct Node<'a> {
    pub(crate) value: &'a Value,
    pub(crate) path: String,
}

impl<'a> Node<'a> {
    pub(crate) fn root(value: &'a Value, path: impl Into<String>) -> Self {
        Node {
            value,
            path: path.into(),
        }
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub(crate) fn error(&self, key: &str, why: impl std::fmt::Display) -> Error {
        let field = self.child_path(key);
        Error::invalid_data(format!("Shopify answer field `{field}` {why}")).with_field(field)
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.value.get(key).filter(|v| !v.is_null())
    }

    /// A required child object.
    pub(crate) fn obj(&self, key: &str) -> Result<Node<'a>> {
        match self.get(key) {
            Some(v @ Value::Object(_)) => Ok(Node {
                value: v,
                path: self.child_path(key),
            }),
            Some(v) => Err(self.error(key, format_args!("is {}, expected an object", kind_of(v)))),
            None => Err(self.error(key, "is missing")),
        }
    }

    /// An optional child object (absent or null → `None`).
    pub(crate) fn opt_obj(&self, key: &str) -> Result<Option<Node<'a>>> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => self.obj(key).map(Some),
        }
    }

    /// A required array's items.
    pub(crate) fn list(&self, key: &str) -> Result<Vec<Node<'a>>> {
        match self.get(key) {
            Some(Value::Array(items)) => {
                let base = self.child_path(key);
                Ok(items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Node {
                        value: v,
                        path: format!("{base}[{i}]"),
                    })
                    .collect())
            }
            Some(v) => Err(self.error(key, format_args!("is {}, expected an array", kind_of(v)))),
            None => Err(self.error(key, "is missing")),
        }
    }

    /// An optional array's items (absent or null → none; anything but an
    /// array is an error naming the path, not an empty list).
    pub(crate) fn opt_list(&self, key: &str) -> Result<Vec<Node<'a>>> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(_) => self.list(key),
        }
    }

    /// `key.nodes` of a connection (absent or null connection → empty).
    /// A nested connection is read as one page: when its `pageInfo` says
    /// there is more, that is an error rather than a silent cut.
    pub(crate) fn nodes(&self, key: &str) -> Result<Vec<Node<'a>>> {
        match self.opt_obj(key)? {
            None => Ok(Vec::new()),
            Some(conn) => {
                if let Some(info) = conn.opt_obj("pageInfo")?
                    && info.bool_or("hasNextPage", false)?
                {
                    return Err(conn.error(
                        "pageInfo.hasNextPage",
                        "is true: the record has more items than one nested page holds, and none is dropped silently",
                    ));
                }
                conn.list("nodes")
            }
        }
    }

    /// A required string.
    pub(crate) fn str(&self, key: &str) -> Result<&'a str> {
        match self.get(key) {
            Some(Value::String(s)) => Ok(s),
            Some(v) => Err(self.error(key, format_args!("is {}, expected a string", kind_of(v)))),
            None => Err(self.error(key, "is missing")),
        }
    }

    /// An optional string; empty counts as absent.
    pub(crate) fn opt_str(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => self
                .str(key)
                .map(|s| Some(s).filter(|s| !s.trim().is_empty())),
        }
    }

    /// A boolean; absent counts as `default`.
    pub(crate) fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.error(key, format_args!("is {}, expected a boolean", kind_of(v)))),
        }
    }

    /// A required whole number.
    pub(crate) fn i64(&self, key: &str) -> Result<i64> {
        match self.get(key) {
            Some(Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| self.error(key, format_args!("is {n}, expected a whole number"))),
            Some(v) => Err(self.error(key, format_args!("is {}, expected a number", kind_of(v)))),
            None => Err(self.error(key, "is missing")),
        }
    }

    /// A required decimal, given as a string (`"19.99"`, Shopify's `Decimal`
    /// and `Money` scalars) or a JSON number; never through a float.
    pub(crate) fn decimal(&self, key: &str) -> Result<Decimal> {
        let text = match self.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(v) => {
                return Err(self.error(key, format_args!("is {}, expected a decimal", kind_of(v))));
            }
            None => return Err(self.error(key, "is missing")),
        };
        crate::model::money::decimal_from_json_number(&text)
            .map_err(|e| self.error(key, format_args!("{text:?} is not a decimal: {e}")))
    }

    /// An optional decimal.
    pub(crate) fn opt_decimal(&self, key: &str) -> Result<Option<Decimal>> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => self.decimal(key).map(Some),
        }
    }

    /// A required RFC 3339 time.
    pub(crate) fn time(&self, key: &str) -> Result<DateTime<Utc>> {
        let s = self.str(key)?;
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| self.error(key, format_args!("{s:?} is not an RFC 3339 time: {e}")))
    }

    /// An optional RFC 3339 time.
    pub(crate) fn opt_time(&self, key: &str) -> Result<Option<DateTime<Utc>>> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => self.time(key).map(Some),
        }
    }

    /// A list of strings (absent → empty).
    pub(crate) fn strings(&self, key: &str) -> Result<Vec<String>> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(self.error(
                        &format!("{key}[{i}]"),
                        format_args!("is {}, expected a string", kind_of(other)),
                    )),
                })
                .collect(),
            Some(v) => Err(self.error(key, format_args!("is {}, expected an array", kind_of(v)))),
        }
    }
}

/// The numeric tail of a global id (`gid://shopify/Product/42` → `42`), or
/// the whole id when it has none.
pub(crate) fn numeric_id(gid: &str) -> &str {
    gid.rsplit('/').next().unwrap_or(gid)
}

/// An id that orders as text the way the server orders it as a number:
/// numeric ids are zero-padded to 20 digits; others are kept as they are.
pub(crate) fn sortable_id(gid: &str) -> String {
    let tail = numeric_id(gid);
    match tail.parse::<u64>() {
        Ok(n) => format!("{n:020}"),
        Err(_) => gid.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::Node;

    #[test]
    fn an_optional_list_of_the_wrong_type_is_an_error_not_empty() {
        let value = json!({"taxLines": "none", "refunds": null});
        let node = Node::root(&value, "order");
        let Err(error) = node.opt_list("taxLines") else {
            panic!("a string is not a list");
        };
        assert!(error.to_string().contains("order.taxLines"), "{error}");
        assert!(node.opt_list("refunds").unwrap().is_empty());
        assert!(node.opt_list("discountAllocations").unwrap().is_empty());
    }
}
