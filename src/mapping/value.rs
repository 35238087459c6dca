//! The values a mapping works on, and paths into a record's field tree.
//!
//! Every outside record — a JSON document, a CSV row, a SQL row — is seen as
//! one `serde_json::Value` tree. A [`Path`] addresses a field in it: a JSON
//! pointer (`/line_items/0/sku`), a plain column name (`sku`), or either
//! prefixed with `^` to start at the root record from inside a list element.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// A value during mapping: what a source field held, after each transform.
///
/// Text borrows from the record (or the spec) where it can, so mapping a
/// record copies only the strings a transform changes.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    /// Missing or null.
    Null,
    /// A boolean.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A decimal number (never a float).
    Dec(Decimal),
    /// Text.
    Text(Cow<'a, str>),
    /// A point in time.
    Time(DateTime<Utc>),
    /// A list.
    List(Vec<Val<'a>>),
    /// An object kept as JSON (a nested part of the record).
    Json(Cow<'a, Value>),
    /// A JSON number with more digits than a JSON float keeps: its value is
    /// unknown, so every use of it fails instead of silently using a rounded one.
    Inexact(String),
}

impl<'a> Val<'a> {
    /// Reads a JSON value. Integers become `Int`; other numbers become `Dec`
    /// through their shortest text, never through float arithmetic.
    #[inline]
    pub fn from_json(v: &'a Value) -> Val<'a> {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Val::Int(i),
                None => {
                    let text = n.to_string();
                    crate::model::money::decimal_from_json_number(&text)
                        .map_or(Val::Inexact(text), Val::Dec)
                }
            },
            Value::String(s) => Val::Text(Cow::Borrowed(s)),
            Value::Array(items) => Val::List(items.iter().map(Val::from_json).collect()),
            Value::Object(_) => Val::Json(Cow::Borrowed(v)),
        }
    }

    /// Writes the value as JSON the canonical types read: decimals and times as text.
    pub fn to_json(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(i) => Value::from(*i),
            Val::Dec(d) => Value::String(d.to_string()),
            Val::Text(s) => Value::String(s.to_string()),
            Val::Time(t) => Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            Val::List(items) => Value::Array(items.iter().map(Val::to_json).collect()),
            Val::Json(v) => v.clone().into_owned(),
            Val::Inexact(text) => Value::String(text.clone()),
        }
    }

    /// The same value, owning everything it holds.
    pub fn into_owned(self) -> Val<'static> {
        match self {
            Val::Null => Val::Null,
            Val::Bool(b) => Val::Bool(b),
            Val::Int(i) => Val::Int(i),
            Val::Dec(d) => Val::Dec(d),
            Val::Text(s) => Val::Text(Cow::Owned(s.into_owned())),
            Val::Time(t) => Val::Time(t),
            Val::List(items) => Val::List(items.into_iter().map(Val::into_owned).collect()),
            Val::Json(v) => Val::Json(Cow::Owned(v.into_owned())),
            Val::Inexact(n) => Val::Inexact(n),
        }
    }

    /// The same value borrowing what this one holds (a constant of the spec
    /// used for a record without copying its text).
    pub fn borrowed(&self) -> Val<'_> {
        match self {
            Val::Null => Val::Null,
            Val::Bool(b) => Val::Bool(*b),
            Val::Int(i) => Val::Int(*i),
            Val::Dec(d) => Val::Dec(*d),
            Val::Text(s) => Val::Text(Cow::Borrowed(s)),
            Val::Time(t) => Val::Time(*t),
            Val::List(items) => Val::List(items.iter().map(Val::borrowed).collect()),
            Val::Json(v) => Val::Json(Cow::Borrowed(v)),
            Val::Inexact(n) => Val::Inexact(n.clone()),
        }
    }

    /// True when the value holds nothing to free: a number, a time, or
    /// borrowed text or JSON (the usual value while a record is mapped).
    #[inline(always)]
    pub(crate) fn owns_nothing(&self) -> bool {
        matches!(
            self,
            Val::Null
                | Val::Bool(_)
                | Val::Int(_)
                | Val::Dec(_)
                | Val::Time(_)
                | Val::Text(Cow::Borrowed(_))
                | Val::Json(Cow::Borrowed(_))
        )
    }

    /// Replaces the value with `new`. An old value that owns nothing is
    /// simply overwritten: dropping a `Val` is otherwise a call per step.
    #[inline(always)]
    pub(crate) fn set(&mut self, new: Val<'a>) {
        if self.owns_nothing() {
            std::mem::forget(std::mem::replace(self, new));
        } else {
            *self = new;
        }
    }

    /// True for null and for text that is empty after trimming: both mean "no value".
    #[inline(always)]
    pub fn is_blank(&self) -> bool {
        match self {
            Val::Null => true,
            // What `trim` strips, without scanning a non-blank value to its end
            // (nor decoding one that starts with a visible ASCII character).
            Val::Text(s) => match s.as_bytes().first() {
                Some(c) if c.is_ascii_graphic() => false,
                _ => s.chars().all(char::is_whitespace),
            },
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
            Val::Inexact(_) => "imprecise number",
        }
    }
}

impl fmt::Display for Val<'_> {
    /// The value as a person reads it in an error message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Null => f.write_str("null"),
            Val::Text(s) => write!(f, "{s:?}"),
            other => write!(f, "{}", other.to_json()),
        }
    }
}

/// A row of named columns (CSV, SQL) as the record tree a spec reads:
/// one object, each column a text value.
///
/// ```
/// use seamwork::mapping::value::record_from_columns;
///
/// let row = record_from_columns(["ITEM_NO", "QTY"].into_iter().zip(["100-200", "12"])).unwrap();
/// assert_eq!(row["QTY"], "12");
/// ```
///
/// A header that appears twice is an error naming it: silently keeping one
/// of the two columns would lose data.
pub fn record_from_columns<K, V>(columns: impl IntoIterator<Item = (K, V)>) -> Result<Value, String>
where
    K: Into<String>,
    V: Into<String>,
{
    let mut row = Map::new();
    for (k, v) in columns {
        let k = k.into();
        if row.contains_key(&k) {
            return Err(format!("column {k:?} appears twice in the header"));
        }
        row.insert(k, Value::String(v.into()));
    }
    Ok(Value::Object(row))
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// The largest array index a path may name (writing it creates that many slots).
pub const MAX_INDEX: usize = 10_000;

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
                    if raw.split('~').skip(1).any(|after| !after.starts_with(['0', '1'])) {
                        return Err(format!(
                            "path {text:?}: `~` must be followed by 0 (for ~) or 1 (for /)"
                        ));
                    }
                    let key = raw.replace("~1", "/").replace("~0", "~");
                    Ok(match key.parse::<usize>() {
                        Ok(i) if i <= MAX_INDEX && (key == "0" || !key.starts_with(['0', '+'])) => {
                            Step::Index(i)
                        }
                        Ok(_) if !key.starts_with(['0', '+']) => {
                            return Err(format!(
                                "path {text:?}: index {key} is beyond {MAX_INDEX}; no record list is that long"
                            ));
                        }
                        _ => Step::Key(key),
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Path {
            text: text.to_string(),
            from_root,
            steps,
        })
    }

    /// The top-level key it names, when it is one step into the record
    /// itself (a column): such fields are read in one pass over the record.
    pub(crate) fn column(&self) -> Option<&str> {
        match self.steps.as_slice() {
            [Step::Key(k)] if !self.from_root => Some(k),
            _ => None,
        }
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The keys it steps through (indexes as their digits).
    pub(crate) fn keys(&self) -> Vec<String> {
        self.steps
            .iter()
            .map(|s| match s {
                Step::Key(k) => k.clone(),
                Step::Index(i) => i.to_string(),
            })
            .collect()
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
    /// arrays, for index steps) where nothing is yet. Refuses — rather than
    /// overwrite — a path that runs into a different value another field
    /// already wrote (an index step on an existing object is read as that
    /// key, as `get` does); the same value again is fine (two fields read
    /// from one column, such as a price and a compare-at price sharing the
    /// currency column).
    pub fn set(&self, record: &mut Value, value: Value) -> Result<(), String> {
        let mut at = record;
        for step in &self.steps {
            if at.is_null() {
                *at = match step {
                    Step::Key(_) => Value::Object(Map::new()),
                    Step::Index(_) => Value::Array(Vec::new()),
                };
            }
            at = match (step, at) {
                (Step::Key(k), Value::Object(m)) => m.entry(k.clone()).or_insert(Value::Null),
                (Step::Index(i), Value::Object(m)) => m.entry(i.to_string()).or_insert(Value::Null),
                (Step::Index(i), Value::Array(a)) => {
                    if a.len() <= *i {
                        a.resize(*i + 1, Value::Null);
                    }
                    &mut a[*i]
                }
                (_, other) => {
                    return Err(format!(
                        "path {}: runs into the {} another field wrote there",
                        self.text,
                        Val::from_json(other).kind()
                    ));
                }
            };
        }
        if !at.is_null() && *at != value {
            return Err(format!(
                "path {}: another field already wrote a different value there ({} vs {})",
                self.text, at, value
            ));
        }
        *at = value;
        Ok(())
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
        assert!(Path::parse("/a~2b").unwrap_err().contains("`~`"));
        assert!(
            Path::parse("/h/99999999999999")
                .unwrap_err()
                .contains("beyond")
        );
    }

    #[test]
    fn a_second_write_must_agree_with_the_first() {
        let mut v = Value::Null;
        let currency = Path::parse("CURRENCY").unwrap();
        currency.set(&mut v, json!("EUR")).unwrap();
        currency.set(&mut v, json!("EUR")).unwrap(); // price and compare-at price
        let clash = currency.set(&mut v, json!("USD")).unwrap_err();
        assert!(clash.contains("different value"), "{clash}");
        assert!(clash.contains("\"EUR\" vs \"USD\""), "{clash}");
        assert_eq!(v, json!({"CURRENCY": "EUR"}));
    }

    #[test]
    fn set_creates_the_way() {
        let mut v = Value::Null;
        Path::parse("/price/amount")
            .unwrap()
            .set(&mut v, json!("1.00"))
            .unwrap();
        Path::parse("/tags/1")
            .unwrap()
            .set(&mut v, json!("b"))
            .unwrap();
        assert_eq!(v, json!({"price": {"amount": "1.00"}, "tags": [null, "b"]}));
        // Two fields writing the same place: the second is refused, not lost.
        let e = Path::parse("/price")
            .unwrap()
            .set(&mut v, json!("x"))
            .unwrap_err();
        assert!(e.contains("already wrote"), "{e}");
        let e = Path::parse("/price/amount/x")
            .unwrap()
            .set(&mut v, json!("x"))
            .unwrap_err();
        assert!(e.contains("runs into the text"), "{e}");
        // An index on an existing object is its key.
        let mut s = json!({"stock": {"sku": "A"}});
        Path::parse("/stock/1")
            .unwrap()
            .set(&mut s, json!("DC"))
            .unwrap();
        assert_eq!(s, json!({"stock": {"sku": "A", "1": "DC"}}));
    }

    #[test]
    fn json_numbers_become_exact_decimals() {
        assert_eq!(
            Val::from_json(&json!(12.34)),
            Val::Dec(Decimal::new(1234, 2))
        );
        assert_eq!(Val::from_json(&json!(7)), Val::Int(7));
        assert_eq!(Val::Dec(Decimal::new(1234, 2)).to_json(), json!("12.34"));
        let big: Value = serde_json::from_str("12345678901234567.89").unwrap();
        assert!(matches!(Val::from_json(&big), Val::Inexact(_)));
    }
}
