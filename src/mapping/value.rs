//! The values a mapping works on, and paths into a record's field tree.
//!
//! Every outside record — a JSON document, a CSV row, a SQL row — is seen as
//! one `serde_json::Value` tree. A [`Path`] addresses a field in it: a JSON
//! pointer (`/line_items/0/sku`), a plain column name (`sku`), or either
//! prefixed with `^` to start at the root record from inside a list element.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// A value during mapping: what a source field held, after each transform.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// Missing or null.
    Null,
    /// A boolean.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A decimal number (never a float).
    Dec(Decimal),
    /// Text.
    Text(String),
    /// A point in time.
    Time(DateTime<Utc>),
    /// A list.
    List(Vec<Val>),
    /// An object kept as JSON (a nested part of the record).
    Json(Value),
}

impl Val {
    /// Reads a JSON value. Integers become `Int`; other numbers become `Dec`
    /// through their shortest text, never through float arithmetic.
    pub fn from_json(v: &Value) -> Val {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Val::Int(i),
                None => Decimal::from_str(&n.to_string())
                    .or_else(|_| Decimal::from_scientific(&n.to_string()))
                    .map(Val::Dec)
                    .unwrap_or_else(|_| Val::Text(n.to_string())),
            },
            Value::String(s) => Val::Text(s.clone()),
            Value::Array(items) => Val::List(items.iter().map(Val::from_json).collect()),
            Value::Object(_) => Val::Json(v.clone()),
        }
    }

    /// Writes the value as JSON the canonical types read: decimals and times as text.
    pub fn to_json(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(i) => Value::from(*i),
            Val::Dec(d) => Value::String(d.to_string()),
            Val::Text(s) => Value::String(s.clone()),
            Val::Time(t) => Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            Val::List(items) => Value::Array(items.iter().map(Val::to_json).collect()),
            Val::Json(v) => v.clone(),
        }
    }

    /// True for null and for text that is empty after trimming: both mean "no value".
    pub fn is_blank(&self) -> bool {
        match self {
            Val::Null => true,
            Val::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    /// The kind of value, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Val::Null => "null",
            Val::Bool(_) => "bool",
            Val::Int(_) => "integer",
            Val::Dec(_) => "decimal",
            Val::Text(_) => "text",
            Val::Time(_) => "date-time",
            Val::List(_) => "list",
            Val::Json(_) => "object",
        }
    }
}

impl fmt::Display for Val {
    /// The value as a person reads it in an error message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Null => f.write_str("null"),
            Val::Text(s) => write!(f, "{s:?}"),
            other => write!(f, "{}", other.to_json()),
        }
    }
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A compiled path into a record: JSON pointer or column name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    text: String,
    from_root: bool,
    steps: Vec<Step>,
}

impl Path {
    /// Parses `/a/0/b` (JSON pointer, `~1` and `~0` escapes), `name` (a
    /// column or top-level key, taken whole) or either prefixed with `^`
    /// (from the root record when mapping a list element).
    pub fn parse(text: &str) -> Result<Path, String> {
        let (from_root, rest) = match text.strip_prefix('^') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if rest.is_empty() {
            return Err(format!("path {text:?} is empty"));
        }
        let steps = match rest.strip_prefix('/') {
            None => vec![Step::Key(rest.to_string())],
            Some(pointer) => pointer
                .split('/')
                .map(|raw| {
                    let key = raw.replace("~1", "/").replace("~0", "~");
                    match key.parse::<usize>() {
                        Ok(i) if !key.starts_with('+') && (key == "0" || !key.starts_with('0')) => {
                            Step::Index(i)
                        }
                        _ => Step::Key(key),
                    }
                })
                .collect(),
        };
        Ok(Path {
            text: text.to_string(),
            from_root,
            steps,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether it starts at the root record.
    pub fn from_root(&self) -> bool {
        self.from_root
    }

    /// The value at this path in `record` (or `root`), if present.
    pub fn get<'a>(&self, record: &'a Value, root: &'a Value) -> Option<&'a Value> {
        let mut at = if self.from_root { root } else { record };
        for step in &self.steps {
            at = match (step, at) {
                (Step::Key(k), Value::Object(m)) => m.get(k)?,
                (Step::Index(i), Value::Array(a)) => a.get(*i)?,
                (Step::Index(i), Value::Object(m)) => m.get(&i.to_string())?,
                _ => return None,
            };
        }
        Some(at)
    }

    /// Writes `value` at this path in `record`, creating objects (and
    /// arrays, for index steps) on the way.
    pub fn set(&self, record: &mut Value, value: Value) {
        let mut at = record;
        for step in &self.steps {
            at = match step {
                Step::Key(k) => {
                    if !at.is_object() {
                        *at = Value::Object(Map::new());
                    }
                    at.as_object_mut()
                        .expect("just made an object")
                        .entry(k.clone())
                        .or_insert(Value::Null)
                }
                Step::Index(i) => {
                    if !at.is_array() {
                        *at = Value::Array(Vec::new());
                    }
                    let a = at.as_array_mut().expect("just made an array");
                    if a.len() <= *i {
                        a.resize(*i + 1, Value::Null);
                    }
                    &mut a[*i]
                }
            };
        }
        *at = value;
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_columns_and_root_paths() {
        let record = json!({"a": {"b": [10, {"c": "x"}]}, "col name": 5, "x/y": 1});
        let root = json!({"currency": "EUR"});
        let get = |p: &str| Path::parse(p).unwrap().get(&record, &root).cloned();
        assert_eq!(get("/a/b/1/c"), Some(json!("x")));
        assert_eq!(get("col name"), Some(json!(5)));
        assert_eq!(get("/x~1y"), Some(json!(1)));
        assert_eq!(get("^/currency"), Some(json!("EUR")));
        assert_eq!(get("/a/missing"), None);
        assert!(Path::parse("").is_err());
    }

    #[test]
    fn set_creates_the_way() {
        let mut v = Value::Null;
        Path::parse("/price/amount")
            .unwrap()
            .set(&mut v, json!("1.00"));
        Path::parse("/tags/1").unwrap().set(&mut v, json!("b"));
        assert_eq!(v, json!({"price": {"amount": "1.00"}, "tags": [null, "b"]}));
    }

    #[test]
    fn json_numbers_become_exact_decimals() {
        assert_eq!(
            Val::from_json(&json!(12.34)),
            Val::Dec(Decimal::new(1234, 2))
        );
        assert_eq!(Val::from_json(&json!(7)), Val::Int(7));
        assert_eq!(Val::Dec(Decimal::new(1234, 2)).to_json(), json!("12.34"));
    }
}
