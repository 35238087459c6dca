//! Field transforms: what a spec may do to a value between source and target.
//!
//! In a spec a transform is a bare name (`"trim"`) or a one-key table
//! (`{ case = "upper" }`). Each is compiled once (regexes, time zones, paths),
//! knows the type it produces from the type it gets (so a spec is type-checked
//! at load), and — where that is possible — how to undo itself for the way
//! back from a canonical entity to an outside payload.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use regex::Regex;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use super::timefmt::{FastFormat, Zone};
use super::value::{Path, Val};
use super::xref::CrossReferences;
use crate::model::WeightUnit;

/// The static type of a value while a spec is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// Not known until run time (a raw source value).
    Any,
    /// Text.
    Text,
    /// Whole number.
    Int,
    /// Decimal number.
    Dec,
    /// Boolean.
    Bool,
    /// Point in time.
    Time,
    /// List.
    List,
}

impl Ty {
    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Ty::Any => "any",
            Ty::Text => "text",
            Ty::Int => "integer",
            Ty::Dec => "decimal",
            Ty::Bool => "bool",
            Ty::Time => "date-time",
            Ty::List => "list",
        }
    }
}

/// Letter case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Case {
    /// UPPER.
    Upper,
    /// lower.
    Lower,
    /// Title Case (first letter of each word).
    Title,
}

/// Options of the `decimal` transform.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DecimalFormat {
    /// Decimal separator (`.` by default; `,` for many European exports).
    #[serde(default)]
    pub separator: Option<char>,
    /// Thousands separator to drop (`,` or `.` or a space), if any.
    #[serde(default)]
    pub thousands: Option<char>,
}

/// A transform as written in a spec.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum TransformSpec {
    /// Strip surrounding whitespace.
    Trim,
    /// Change letter case.
    Case(Case),
    /// Use this value when the source is missing, null or blank.
    Default(Value),
    /// Replace values by a table (status codes, warehouse codes). A value not
    /// in the table is an error unless the table has a `"*"` fallback.
    Map(BTreeMap<String, String>),
    /// Convert a weight between units (exact).
    Unit {
        /// Unit of the source value.
        from: WeightUnit,
        /// Unit to produce.
        to: WeightUnit,
    },
    /// Parse a decimal number from text with the given separators.
    Decimal(Option<DecimalFormat>),
    /// Parse a whole number.
    Integer,
    /// Parse a boolean (`true/false`, `yes/no`, `1/0`, `y/n`).
    Bool,
    /// Parse a date or date-time with `chrono` formats (`"rfc3339"` for RFC 3339);
    /// values without an offset are read in `tz` (IANA name, default UTC).
    Datetime {
        /// Formats tried in order.
        formats: Vec<String>,
        /// Time zone of values that carry no offset.
        #[serde(default)]
        tz: Option<String>,
    },
    /// Join this value with the values at other paths.
    Concat {
        /// Paths whose values follow this one.
        with: Vec<String>,
        /// Separator (default one space).
        #[serde(default = "space")]
        sep: String,
    },
    /// Split text into a list (items trimmed, empty items dropped).
    Split {
        /// Separator.
        sep: String,
    },
    /// Extract a capture group of a regular expression.
    Regex {
        /// The pattern.
        pattern: String,
        /// Capture group (default 1; 0 = whole match).
        #[serde(default = "one")]
        group: usize,
    },
    /// Translate through a cross-reference table (`sku`, `location`, or an
    /// entity kind) of the spec's system.
    Lookup(String),
}

fn space() -> String {
    " ".into()
}

fn one() -> usize {
    1
}

impl TransformSpec {
    /// Reads one transform: a bare name or a one-key table.
    pub fn from_value(v: &Value) -> Result<TransformSpec, String> {
        let normalized = match v {
            Value::String(name) => {
                let mut m = serde_json::Map::new();
                m.insert(name.clone(), Value::Null);
                Value::Object(m)
            }
            other => other.clone(),
        };
        serde_json::from_value(normalized).map_err(|e| {
            let msg = e.to_string();
            // serde names the known variants; keep its words.
            format!("not a transform: {msg}")
        })
    }
}

/// A compiled transform.
#[derive(Debug, Clone)]
pub(crate) enum Transform {
    Trim,
    Case(Case),
    Default(Val<'static>),
    Map {
        table: BTreeMap<String, String>,
        fallback: Option<String>,
    },
    Unit(WeightUnit, WeightUnit),
    Decimal(DecimalFormat),
    Integer,
    Bool,
    Datetime {
        formats: Vec<TimeFormat>,
        /// Boxed: the offset cache is large, and the other transforms are small.
        tz: Option<Box<Zone>>,
    },
    Concat {
        with: Vec<Path>,
        sep: String,
    },
    Split(String),
    Regex(Regex, usize),
    Lookup(String),
}

/// A date/time format, parsed once when the spec loads.
#[derive(Debug, Clone)]
pub(crate) enum TimeFormat {
    Rfc3339,
    Items {
        text: String,
        items: Vec<Item<'static>>,
        /// The same format read without chrono, when it is a plain numeric one.
        fast: Option<FastFormat>,
    },
}

impl TimeFormat {
    pub fn compile(text: &str) -> Result<TimeFormat, String> {
        if text == "rfc3339" {
            return Ok(TimeFormat::Rfc3339);
        }
        let items = StrftimeItems::new(text)
            .parse_to_owned()
            .map_err(|_| format!("datetime: {text:?} is not a valid chrono format"))?;
        Ok(TimeFormat::Items {
            text: text.to_string(),
            fast: FastFormat::compile(&items),
            items,
        })
    }

    fn text(&self) -> &str {
        match self {
            TimeFormat::Rfc3339 => "rfc3339",
            TimeFormat::Items { text, .. } => text,
        }
    }
}

/// What a transform can see besides its input.
pub(crate) struct Ctx<'a> {
    pub record: &'a Value,
    pub root: &'a Value,
    pub system: &'a str,
    pub xrefs: Option<&'a dyn CrossReferences>,
}

impl Transform {
    /// Compiles a spec transform; the error says what is wrong with it.
    pub fn compile(spec: &TransformSpec) -> Result<Transform, String> {
        Ok(match spec {
            TransformSpec::Trim => Transform::Trim,
            TransformSpec::Case(c) => Transform::Case(*c),
            TransformSpec::Default(v) => Transform::Default(Val::from_json(v).into_owned()),
            TransformSpec::Map(table) => {
                let mut table = table.clone();
                let fallback = table.remove("*");
                Transform::Map { table, fallback }
            }
            TransformSpec::Unit { from, to } => Transform::Unit(*from, *to),
            TransformSpec::Decimal(f) => {
                let f = f.clone().unwrap_or_default();
                if f.separator.is_some() && f.separator == f.thousands {
                    return Err("decimal: separator and thousands must differ".into());
                }
                // A digit or sign as a mark cannot be told from the number.
                if let Some(mark) = [f.separator, f.thousands]
                    .into_iter()
                    .flatten()
                    .find(|c| c.is_ascii_digit() || matches!(c, '+' | '-'))
                {
                    return Err(format!(
                        "decimal: {mark:?} cannot mark decimals or thousands (it is part of numbers)"
                    ));
                }
                Transform::Decimal(f)
            }
            TransformSpec::Integer => Transform::Integer,
            TransformSpec::Bool => Transform::Bool,
            TransformSpec::Datetime { formats, tz } => {
                if formats.is_empty() {
                    return Err("datetime: give at least one format".into());
                }
                let tz = match tz {
                    None => None,
                    Some(name) => {
                        Some(Box::new(Zone::new(Tz::from_str(name).map_err(|_| {
                            format!("datetime: unknown time zone {name:?}")
                        })?)))
                    }
                };
                Transform::Datetime {
                    formats: formats
                        .iter()
                        .map(|f| TimeFormat::compile(f))
                        .collect::<Result<_, _>>()?,
                    tz,
                }
            }
            TransformSpec::Concat { with, sep } => Transform::Concat {
                with: with
                    .iter()
                    .map(|p| Path::parse(p).map_err(|e| format!("concat: {e}")))
                    .collect::<Result<_, _>>()?,
                sep: sep.clone(),
            },
            TransformSpec::Split { sep } => {
                if sep.is_empty() {
                    return Err("split: the separator is empty".into());
                }
                Transform::Split(sep.clone())
            }
            TransformSpec::Regex { pattern, group } => {
                let re = Regex::new(pattern).map_err(|e| format!("regex: {e}"))?;
                if *group >= re.captures_len() {
                    return Err(format!(
                        "regex: group {group} does not exist; the pattern has {} group(s)",
                        re.captures_len() - 1
                    ));
                }
                Transform::Regex(re, *group)
            }
            TransformSpec::Lookup(table) => Transform::Lookup(table.clone()),
        })
    }

    /// The type produced from `input`, or why `input` cannot be handled.
    pub fn out_type(&self, input: Ty) -> Result<Ty, String> {
        let needs = |ok: &[Ty], name: &str, out: Ty| {
            if input == Ty::Any || ok.contains(&input) {
                Ok(out)
            } else {
                Err(format!("{name} cannot take a {} value", input.name()))
            }
        };
        match self {
            Transform::Trim => needs(&[Ty::Text], "trim", Ty::Text),
            Transform::Case(_) => needs(&[Ty::Text], "case", Ty::Text),
            Transform::Default(v) => Ok(if input == Ty::Any {
                Ty::Any
            } else {
                merge(input, ty_of(v))
            }),
            Transform::Map { .. } => needs(&[Ty::Text, Ty::Int, Ty::Bool], "map", Ty::Text),
            Transform::Unit(..) => needs(&[Ty::Dec, Ty::Int], "unit", Ty::Dec),
            Transform::Decimal(_) => needs(&[Ty::Text, Ty::Int, Ty::Dec], "decimal", Ty::Dec),
            Transform::Integer => needs(&[Ty::Text, Ty::Int, Ty::Dec], "integer", Ty::Int),
            Transform::Bool => needs(&[Ty::Text, Ty::Int, Ty::Bool], "bool", Ty::Bool),
            Transform::Datetime { .. } => {
                needs(&[Ty::Text, Ty::Time, Ty::Int], "datetime", Ty::Time)
            }
            Transform::Concat { .. } => needs(&[Ty::Text, Ty::Int, Ty::Dec], "concat", Ty::Text),
            Transform::Split(_) => needs(&[Ty::Text], "split", Ty::List),
            Transform::Regex(..) => needs(&[Ty::Text, Ty::Int], "regex", Ty::Text),
            Transform::Lookup(_) => needs(&[Ty::Text, Ty::Int], "lookup", Ty::Text),
        }
    }

    /// Whether [`Transform::undo`] can reverse it for the way back.
    pub fn is_reversible(&self) -> bool {
        match self {
            Transform::Concat { .. } | Transform::Regex(..) => false,
            // Many inputs map to the fallback; which one to write back is unknown.
            Transform::Map { fallback, .. } => fallback.is_none(),
            _ => true,
        }
    }

    /// Applies the transform. A missing value passes through untouched except
    /// for `default`; the caller decides whether missing is an error.
    #[cfg(test)]
    pub fn apply<'a>(&'a self, mut v: Val<'a>, ctx: &Ctx<'_>) -> Result<Val<'a>, String> {
        self.apply_mut(&mut v, ctx)?;
        Ok(v)
    }

    /// Applies the transform to `v` where it is (see [`Transform::apply`]):
    /// a trimmed slice or a parsed number replaces the value in place, so a
    /// field's chain of transforms never moves it through a `Result`.
    pub fn apply_mut<'a>(&'a self, v: &mut Val<'a>, ctx: &Ctx<'_>) -> Result<(), String> {
        if let Transform::Default(d) = self {
            if v.is_blank() {
                v.set(d.borrowed());
            }
            return Ok(());
        }
        // Blank text is a missing value (an empty CSV cell, an empty SQL
        // string): it passes through every transform untouched, and the
        // caller decides whether missing is an error. `concat` still runs,
        // so the other parts are not lost.
        if v.is_blank() && !matches!(self, Transform::Concat { .. }) {
            v.set(Val::Null);
            return Ok(());
        }
        let new = match self {
            Transform::Default(_) => unreachable!("handled above"),
            Transform::Trim => match &mut *v {
                // Trimming borrowed text is a slice; owned text is kept when already trimmed.
                Val::Text(Cow::Borrowed(s)) => {
                    *s = trim(s);
                    return Ok(());
                }
                Val::Text(Cow::Owned(s)) if trim(s).len() == s.len() => return Ok(()),
                other => Val::Text(Cow::Owned(trim(&text(other, "trim")?).to_string())),
            },
            Transform::Case(c) => {
                let t = text(v, "case")?;
                let unchanged = match c {
                    Case::Upper => !t.chars().any(char::is_lowercase),
                    Case::Lower => !t.chars().any(char::is_uppercase),
                    Case::Title => false,
                };
                if unchanged && matches!(v, Val::Text(_)) {
                    return Ok(());
                }
                // ASCII text (most codes and SKUs) changes case byte by byte.
                Val::Text(Cow::Owned(match c {
                    Case::Upper if t.is_ascii() => t.to_ascii_uppercase(),
                    Case::Lower if t.is_ascii() => t.to_ascii_lowercase(),
                    Case::Upper => t.to_uppercase(),
                    Case::Lower => t.to_lowercase(),
                    Case::Title => title_case(&t),
                }))
            }
            Transform::Map { table, fallback } => {
                let key = text(v, "map")?;
                match table.get(key.as_ref()).or(fallback.as_ref()) {
                    Some(out) => Val::Text(Cow::Borrowed(out.as_str())),
                    None => return Err(not_in_map(&key, table)),
                }
            }
            Transform::Unit(from, to) => convert_weight(v, *from, *to)?,
            Transform::Decimal(f) => Val::Dec(decimal(v, f)?),
            Transform::Integer => Val::Int(integer(v)?),
            Transform::Bool => Val::Bool(boolean(v)?),
            Transform::Datetime { formats, tz } => Val::Time(datetime(v, formats, tz.as_deref())?),
            Transform::Concat { with, sep } => concat(v, with, sep, ctx)?,
            Transform::Split(sep) => {
                let mut items = Vec::new();
                match &*v {
                    // Items of borrowed text borrow from it too.
                    Val::Text(Cow::Borrowed(t)) => {
                        let t: &'a str = t;
                        split_trimmed(t, sep, |s| items.push(Val::Text(Cow::Borrowed(s))));
                    }
                    other => split_trimmed(&text(other, "split")?, sep, |s| {
                        items.push(Val::Text(Cow::Owned(s.to_string())));
                    }),
                }
                Val::List(items)
            }
            Transform::Regex(re, group) => regex(v, re, *group)?,
            Transform::Lookup(table) => lookup(v, table, ctx)?,
        };
        v.set(new);
        Ok(())
    }

    /// Undoes the transform on the way back (canonical → payload).
    pub fn undo<'a>(&'a self, v: Val<'a>, ctx: &Ctx<'_>) -> Result<Val<'a>, String> {
        if matches!(v, Val::Null) {
            return Ok(v);
        }
        match self {
            Transform::Trim | Transform::Case(_) | Transform::Default(_) => Ok(v),
            Transform::Integer | Transform::Bool => Ok(v),
            Transform::Map { table, .. } => {
                let want = text(&v, "map")?;
                table
                    .iter()
                    .find(|(_, out)| **out == *want)
                    .map(|(k, _)| Val::Text(Cow::Borrowed(k.as_str())))
                    .ok_or_else(|| format!("no map entry produces {want:?}"))
            }
            Transform::Unit(from, to) => convert_weight(&v, *to, *from),
            Transform::Decimal(f) => {
                let d = decimal(&v, &DecimalFormat::default())?;
                let s = d.to_string();
                let out = match f.separator {
                    Some(sep) if sep != '.' => s.replace('.', sep.encode_utf8(&mut [0; 4])),
                    _ => s,
                };
                Ok(Val::Text(out.into()))
            }
            Transform::Datetime { formats, tz } => {
                let t = match v {
                    Val::Time(t) => t,
                    other => datetime(&other, &[TimeFormat::Rfc3339], None)?,
                };
                let out = match &formats[0] {
                    TimeFormat::Rfc3339 => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                    TimeFormat::Items { items, .. } => match tz {
                        Some(zone) => t
                            .with_timezone(&zone.tz())
                            .format_with_items(items.iter())
                            .to_string(),
                        None => t.format_with_items(items.iter()).to_string(),
                    },
                };
                Ok(Val::Text(out.into()))
            }
            Transform::Split(sep) => match v {
                Val::List(items) => Ok(Val::Text(
                    items
                        .iter()
                        .map(|i| text(i, "split").map(|t| t.into_owned()))
                        .collect::<Result<Vec<_>, _>>()?
                        .join(sep)
                        .into(),
                )),
                other => Ok(other),
            },
            Transform::Lookup(table) => {
                let key = text(&v, "lookup")?;
                let xrefs = ctx
                    .xrefs
                    .ok_or_else(|| format!("reverse lookup in {table:?} needs cross-references"))?;
                xrefs
                    .to_outside(table, ctx.system, &key)
                    .map(|s| Val::Text(s.into()))
                    .ok_or_else(|| {
                        format!(
                            "no {table} cross-reference to {key:?} in system {}",
                            ctx.system
                        )
                    })
            }
            Transform::Concat { .. } | Transform::Regex(..) => {
                Err("this transform cannot be reversed".into())
            }
        }
    }
}

// The transforms below are kept out of `apply_mut`: it runs for every
// step of every field, and stays small for the common ones.

#[cold]
#[inline(never)]
fn not_in_map(key: &str, table: &BTreeMap<String, String>) -> String {
    format!(
        "value {key:?} is not in the map (known: {})",
        table.keys().cloned().collect::<Vec<_>>().join(", ")
    )
}

/// `concat`: this value and the values at `with`, blank ones left out.
#[inline(never)]
fn concat<'a>(v: &Val<'a>, with: &[Path], sep: &str, ctx: &Ctx<'_>) -> Result<Val<'a>, String> {
    let mut parts = Vec::with_capacity(with.len() + 1);
    if !v.is_blank() {
        parts.push(text(v, "concat")?.into_owned());
    }
    for p in with {
        match p.get(ctx.record, ctx.root).map(Val::from_json) {
            None | Some(Val::Null) => {}
            Some(other) => parts.push(text(&other, "concat")?.into_owned()),
        }
    }
    parts.retain(|p| !trim(p).is_empty());
    Ok(if parts.is_empty() {
        Val::Null
    } else {
        Val::Text(parts.join(sep).into())
    })
}

/// `regex`: capture `group` of `re` in the value.
#[inline(never)]
fn regex<'a>(v: &Val<'_>, re: &Regex, group: usize) -> Result<Val<'a>, String> {
    let t = text(v, "regex")?;
    re.captures(&t)
        .and_then(|c| c.get(group))
        .map(|m| Val::Text(m.as_str().to_string().into()))
        .ok_or_else(|| format!("{t:?} does not match /{}/", re.as_str()))
}

/// `lookup`: the canonical key the cross-references give the value.
#[inline(never)]
fn lookup<'a>(v: &Val<'_>, table: &str, ctx: &Ctx<'_>) -> Result<Val<'a>, String> {
    let key = text(v, "lookup")?;
    let xrefs = ctx.xrefs.ok_or_else(|| {
        format!("lookup in {table:?} needs cross-references, and none were given")
    })?;
    xrefs
        .to_canonical(table, ctx.system, &key)
        .map(|s| Val::Text(s.into()))
        .ok_or_else(|| {
            format!(
                "no {table} cross-reference for {key:?} in system {}",
                ctx.system
            )
        })
}

/// Converts a weight value between units (exact, or an error naming the value).
fn convert_weight(v: &Val<'_>, from: WeightUnit, to: WeightUnit) -> Result<Val<'static>, String> {
    let d = decimal(v, &DecimalFormat::default())?;
    crate::model::Weight {
        value: d,
        unit: from,
    }
    .to_unit(to)
    .map(|d| Val::Dec(d.normalize()))
    .ok_or_else(|| format!("{d} is too large to convert"))
}

/// The static type of a known value (a constant or a default).
pub(crate) fn ty_of(v: &Val<'_>) -> Ty {
    match v {
        Val::Null | Val::Json(_) | Val::Inexact(_) => Ty::Any,
        Val::Bool(_) => Ty::Bool,
        Val::Int(_) => Ty::Int,
        Val::Dec(_) => Ty::Dec,
        Val::Text(_) => Ty::Text,
        Val::Time(_) => Ty::Time,
        Val::List(_) => Ty::List,
    }
}

fn merge(a: Ty, b: Ty) -> Ty {
    if a == b || b == Ty::Any { a } else { Ty::Any }
}

/// The value as text: text as is, numbers and booleans printed.
fn text<'a>(v: &'a Val<'_>, what: &str) -> Result<Cow<'a, str>, String> {
    match v {
        Val::Text(s) => Ok(Cow::Borrowed(s.as_ref())),
        Val::Int(i) => Ok(Cow::Owned(i.to_string())),
        Val::Dec(d) => Ok(Cow::Owned(d.to_string())),
        Val::Bool(b) => Ok(Cow::Owned(b.to_string())),
        Val::Inexact(n) => Err(inexact(n)),
        other => Err(format!("{what} needs text, got {} {other}", other.kind())),
    }
}

/// `s` without surrounding white space, as `str::trim`, byte by byte
/// where the text around the white space is ASCII (Unicode white space is
/// left to `str::trim`).
#[inline]
pub(crate) fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    // `char::is_whitespace` for ASCII.
    let space = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let start = b.iter().position(|c| !space(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !space(c)).map_or(start, |i| i + 1);
    if start < end && (b[start] >= 0x80 || b[end - 1] >= 0x80) {
        return s.trim();
    }
    &s[start..end]
}

/// The items of `t` between the separators, trimmed, empty ones dropped.
fn split_trimmed<'t>(t: &'t str, sep: &str, mut each: impl FnMut(&'t str)) {
    let mut item = |s: &'t str| {
        let s = trim(s);
        if !s.is_empty() {
            each(s);
        }
    };
    match sep.as_bytes() {
        // One ASCII byte: a `char` separator is searched with memchr.
        [b] if b.is_ascii() => t.split(char::from(*b)).for_each(&mut item),
        _ => t.split(sep).for_each(&mut item),
    }
}

fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if c.is_whitespace() || c == '-' {
            start = true;
            out.push(c);
        } else if start {
            out.extend(c.to_uppercase());
            start = false;
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// The message for a JSON number that lost digits before seamwork saw it.
fn inexact(n: &str) -> String {
    format!(
        "number {n} has more significant digits than a JSON number keeps exactly; the source must send it as text"
    )
}

/// Parses a decimal from text with the given separators, or takes a number as is.
///
/// Strict, because a lenient parser gets amounts silently wrong: an optional
/// sign, digits, thousands separators only between groups of three digits
/// before the decimal separator, at most one decimal separator, nothing else.
pub(crate) fn decimal(v: &Val<'_>, f: &DecimalFormat) -> Result<Decimal, String> {
    match v {
        Val::Dec(d) => Ok(*d),
        Val::Int(i) => Ok(Decimal::from(*i)),
        Val::Inexact(n) => Err(inexact(n)),
        Val::Text(s) => parse_decimal(trim(s), f),
        other => Err(format!(
            "expected a decimal number, got {} {other}",
            other.kind()
        )),
    }
}

fn parse_decimal(raw: &str, f: &DecimalFormat) -> Result<Decimal, String> {
    match plain_decimal(raw, f.separator.unwrap_or('.')) {
        Some(d) => Ok(d),
        None => general_decimal(raw, f),
    }
}

/// [`parse_decimal`] for any text: thousands separators, long numbers, and
/// the message for what is no number.
fn general_decimal(raw: &str, f: &DecimalFormat) -> Result<Decimal, String> {
    let sep = f.separator.unwrap_or('.');
    let bad = |why: &str| {
        let thousands = f
            .thousands
            .map_or(String::new(), |t| format!(", thousands {t:?}"));
        Err(format!(
            "{raw:?} is not a decimal number (separator {sep:?}{thousands}): {why}"
        ))
    };
    let (sign, body) = match raw.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", raw.strip_prefix('+').unwrap_or(raw)),
    };
    let (int_part, frac_part) = match body.split_once(sep) {
        Some((i, fr)) => (i, Some(fr)),
        None => (body, None),
    };
    // Thousands separators only between groups of three digits (checked
    // without collecting the groups: this runs for every amount of every record).
    if let Some(t) = f.thousands {
        let mut groups = int_part.split(t);
        let first = groups.next().unwrap_or("");
        let mut more = false;
        let mut all_three = true;
        for g in groups {
            more = true;
            all_three &= g.len() == 3;
        }
        if more && (first.is_empty() || first.len() > 3 || !all_three) {
            return bad("thousands separators must split the digits into groups of three");
        }
    }
    // After that check the digits are empty only when the integer part is.
    let frac = frac_part.unwrap_or("");
    if int_part.is_empty() && frac.is_empty() {
        return bad("no digits");
    }
    let digit_or_thousands = |c: char| c.is_ascii_digit() || Some(c) == f.thousands;
    if !int_part.chars().all(digit_or_thousands) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return bad("unexpected character");
    }
    if frac_part.is_some() && frac.is_empty() {
        return bad("nothing after the decimal separator");
    }
    // `sign digits . frac` in plain ASCII, on the stack for any ordinary
    // amount; longer text is built on the heap and read the same way.
    let mut buf = [0u8; 64];
    let mut len = 0;
    let mut fits = true;
    let mut push = |b: u8| {
        if len < buf.len() {
            buf[len] = b;
            len += 1;
        } else {
            fits = false;
        }
    };
    sign.bytes().for_each(&mut push);
    if int_part.is_empty() {
        push(b'0');
    } else {
        int_part
            .bytes()
            .filter(u8::is_ascii_digit)
            .for_each(&mut push);
    }
    if !frac.is_empty() {
        push(b'.');
        frac.bytes().for_each(&mut push);
    }
    let parsed = if fits {
        std::str::from_utf8(&buf[..len])
            .map_err(|_| ())
            .and_then(|text| Decimal::from_str(text).map_err(|_| ()))
    } else {
        let digits: String = int_part.chars().filter(char::is_ascii_digit).collect();
        let text = if frac.is_empty() {
            format!("{sign}{digits}")
        } else {
            format!(
                "{sign}{}.{frac}",
                if digits.is_empty() { "0" } else { &digits }
            )
        };
        Decimal::from_str(&text).map_err(|_| ())
    };
    parsed.or_else(|()| bad("too many digits"))
}

/// The usual amount — an optional sign, at most 18 digits, at most one
/// (ASCII) decimal separator with digits after it — read straight into a
/// decimal, as [`parse_decimal`] reads it; `None` for anything else, which
/// that then reads (or refuses) the general way.
fn plain_decimal(raw: &str, sep: char) -> Option<Decimal> {
    let sep = u8::try_from(sep).ok().filter(u8::is_ascii)?;
    let b = raw.as_bytes();
    let (negative, body) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, b),
    };
    let mut mantissa: i64 = 0;
    let mut digits = 0;
    let mut scale: Option<u32> = None;
    for &c in body {
        if c.is_ascii_digit() {
            if digits == 18 {
                return None;
            }
            mantissa = mantissa * 10 + i64::from(c - b'0');
            digits += 1;
            if let Some(s) = scale.as_mut() {
                *s += 1;
            }
        } else if c == sep && scale.is_none() {
            scale = Some(0);
        } else {
            return None;
        }
    }
    // No digits, nothing after the separator, or a negative zero (whose
    // sign the general way keeps): not the usual amount.
    if digits == 0 || scale == Some(0) || (negative && mantissa == 0) {
        return None;
    }
    let mantissa = if negative { -mantissa } else { mantissa };
    Some(Decimal::new(mantissa, scale.unwrap_or(0)))
}

fn integer(v: &Val<'_>) -> Result<i64, String> {
    match v {
        Val::Int(i) => Ok(*i),
        Val::Inexact(n) => Err(inexact(n)),
        Val::Dec(d) if d.fract().is_zero() => {
            i64::try_from(*d).map_err(|_| format!("{d} is out of range for an integer"))
        }
        Val::Text(s) => {
            let t = s.trim();
            t.parse::<i64>().or_else(|_| {
                Decimal::from_str(t)
                    .ok()
                    .filter(|d| d.fract().is_zero())
                    .and_then(|d| i64::try_from(d).ok())
                    .ok_or_else(|| format!("{t:?} is not a whole number"))
            })
        }
        other => Err(format!(
            "expected a whole number, got {} {other}",
            other.kind()
        )),
    }
}

fn boolean(v: &Val<'_>) -> Result<bool, String> {
    match v {
        Val::Bool(b) => Ok(*b),
        Val::Int(0) => Ok(false),
        Val::Int(1) => Ok(true),
        Val::Text(s) => {
            // Compared ignoring ASCII case, without lower-casing a copy.
            let t = trim(s);
            let any = |words: [&str; 5]| words.iter().any(|w| t.eq_ignore_ascii_case(w));
            if any(["true", "yes", "y", "1", "t"]) {
                Ok(true)
            } else if any(["false", "no", "n", "0", "f"]) {
                Ok(false)
            } else {
                Err(format!(
                    "{:?} is not a yes/no value",
                    t.to_ascii_lowercase()
                ))
            }
        }
        other => Err(format!("expected true/false, got {} {other}", other.kind())),
    }
}

/// Parses a point in time with the first matching format; naive values are read in `tz` (UTC when none).
pub(crate) fn datetime(
    v: &Val<'_>,
    formats: &[TimeFormat],
    tz: Option<&Zone>,
) -> Result<DateTime<Utc>, String> {
    let owned;
    let s = match v {
        Val::Time(t) => return Ok(*t),
        Val::Text(s) => trim(s),
        // Epoch seconds arrive as numbers; a `%s` format reads them.
        Val::Int(i) => {
            owned = i.to_string();
            owned.as_str()
        }
        other => {
            return Err(format!(
                "expected a date or time, got {} {other}",
                other.kind()
            ));
        }
    };
    for f in formats {
        let items = match f {
            TimeFormat::Rfc3339 => {
                if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                    return Ok(t.with_timezone(&Utc));
                }
                continue;
            }
            TimeFormat::Items { items, fast, .. } => {
                if let Some(n) = fast.as_ref().and_then(|f| f.parse(s)) {
                    return local_to_utc(s, &n, tz);
                }
                items
            }
        };
        let mut parsed = Parsed::new();
        if chrono::format::parse(&mut parsed, s, items.iter()).is_err() {
            continue;
        }
        if let Ok(t) = parsed.to_datetime() {
            return Ok(t.with_timezone(&Utc));
        }
        let naive = parsed.to_naive_datetime_with_offset(0).or_else(|_| {
            parsed
                .to_naive_date()
                .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists"))
        });
        if let Ok(n) = naive {
            return local_to_utc(s, &n, tz);
        }
    }
    let names: Vec<&str> = formats.iter().map(TimeFormat::text).collect();
    Err(format!("{s:?} matches none of the formats {names:?}"))
}

/// A local date-time read from `s` as UTC: in `tz`, or as UTC when there is none.
fn local_to_utc(s: &str, n: &NaiveDateTime, tz: Option<&Zone>) -> Result<DateTime<Utc>, String> {
    match tz {
        None => Ok(Utc.from_utc_datetime(n)),
        Some(zone) => zone.to_utc(n).ok_or_else(|| {
            format!(
                "{s:?} does not exist in time zone {} (a DST gap)",
                zone.tz()
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx<'a>(record: &'a Value) -> Ctx<'a> {
        Ctx {
            record,
            root: record,
            system: "erp",
            xrefs: None,
        }
    }

    fn run(spec: Value, input: Val<'static>) -> Result<Val<'static>, String> {
        let t = Transform::compile(&TransformSpec::from_value(&spec)?)?;
        let record = json!({"first": "Ada", "last": "Lovelace"});
        t.apply(input, &ctx(&record)).map(Val::into_owned)
    }

    fn text_val(s: &str) -> Val<'static> {
        Val::Text(s.to_string().into())
    }

    #[test]
    fn each_transform() {
        assert_eq!(run(json!("trim"), text_val("  a ")), Ok(text_val("a")));
        assert_eq!(
            run(json!({"case": "upper"}), text_val("ab")),
            Ok(text_val("AB"))
        );
        assert_eq!(
            run(json!({"case": "title"}), text_val("new york-city")),
            Ok(text_val("New York-City"))
        );
        assert_eq!(
            run(json!({"default": "x"}), text_val(" ")),
            Ok(text_val("x"))
        );
        assert_eq!(run(json!({"default": "x"}), Val::Null), Ok(text_val("x")));
        assert_eq!(
            run(json!({"map": {"A": "active", "*": "draft"}}), text_val("Z")),
            Ok(text_val("draft"))
        );
        let err = run(json!({"map": {"A": "active"}}), text_val("Z")).unwrap_err();
        assert!(err.contains("\"Z\" is not in the map (known: A)"), "{err}");
        assert_eq!(
            run(
                json!({"unit": {"from": "lb", "to": "g"}}),
                Val::Dec(Decimal::ONE)
            ),
            Ok(Val::Dec(Decimal::from_str("453.59237").unwrap()))
        );
        assert_eq!(
            run(
                json!({"decimal": {"separator": ",", "thousands": "."}}),
                text_val("1.234,50")
            ),
            Ok(Val::Dec(Decimal::from_str("1234.50").unwrap()))
        );
        assert_eq!(
            run(json!("decimal"), text_val("12.5")),
            Ok(Val::Dec(Decimal::from_str("12.5").unwrap()))
        );
        assert!(run(json!("decimal"), text_val("12,5")).is_err());
        // Strict: nothing that would silently change an amount.
        let de = json!({"decimal": {"separator": ",", "thousands": "."}});
        for bad in [
            "12.50", "1,234.50", "1.2.3,4", "1_000", "1e3", "1,", ",", "--1",
        ] {
            assert!(
                run(de.clone(), text_val(bad)).is_err(),
                "{bad} must be refused"
            );
        }
        assert!(run(json!({"decimal": {"separator": ","}}), text_val("1.234")).is_err());
        for (ok, want) in [
            ("-1.234.567,8", "-1234567.8"),
            (",5", "0.5"),
            ("+7", "7"),
            ("999", "999"),
        ] {
            assert_eq!(
                run(de.clone(), text_val(ok)),
                Ok(Val::Dec(Decimal::from_str(want).unwrap())),
                "{ok}"
            );
        }
        // Blank values are missing, not errors.
        assert_eq!(run(json!("decimal"), text_val(" ")), Ok(Val::Null));
        assert_eq!(run(json!({"map": {"A": "a"}}), text_val("")), Ok(Val::Null));
        assert!(
            run(
                json!("decimal"),
                Val::Inexact("12345678901234567.89".into())
            )
            .unwrap_err()
            .contains("as text")
        );
        assert_eq!(run(json!("integer"), text_val(" 42 ")), Ok(Val::Int(42)));
        assert_eq!(run(json!("integer"), text_val("42.0")), Ok(Val::Int(42)));
        assert!(run(json!("integer"), text_val("4.2")).is_err());
        assert_eq!(run(json!("bool"), text_val("Yes")), Ok(Val::Bool(true)));
        assert_eq!(run(json!("bool"), text_val(" F ")), Ok(Val::Bool(false)));
        assert_eq!(run(json!("bool"), text_val("NO")), Ok(Val::Bool(false)));
        assert_eq!(
            run(json!("bool"), text_val(" MaYbE ")),
            Err("\"maybe\" is not a yes/no value".into())
        );
        assert_eq!(
            run(json!({"concat": {"with": ["/last"]}}), text_val("Ada")),
            Ok(text_val("Ada Lovelace"))
        );
        // A missing first part does not lose the others.
        assert_eq!(
            run(json!({"concat": {"with": ["/last"]}}), Val::Null),
            Ok(text_val("Lovelace"))
        );
        assert_eq!(
            run(json!({"split": {"sep": ","}}), text_val("a, b,,c")),
            Ok(Val::List(vec![text_val("a"), text_val("b"), text_val("c")]))
        );
        assert_eq!(
            run(
                json!({"regex": {"pattern": "gid://shopify/\\w+/(\\d+)"}}),
                text_val("gid://shopify/Order/42")
            ),
            Ok(text_val("42"))
        );
    }

    #[test]
    fn datetimes_with_formats_and_zones() {
        let berlin = json!({"datetime": {"formats": ["%d.%m.%Y %H:%M"], "tz": "Europe/Berlin"}});
        // 1 July is summer time (UTC+2).
        assert_eq!(
            run(berlin.clone(), text_val("01.07.2026 12:00")),
            Ok(Val::Time(
                Utc.with_ymd_and_hms(2026, 7, 1, 10, 0, 0).unwrap()
            ))
        );
        // 1 January is winter time (UTC+1).
        assert_eq!(
            run(berlin, text_val("01.01.2026 12:00")),
            Ok(Val::Time(
                Utc.with_ymd_and_hms(2026, 1, 1, 11, 0, 0).unwrap()
            ))
        );
        let rfc = json!({"datetime": {"formats": ["rfc3339"]}});
        assert_eq!(
            run(rfc, text_val("2026-03-01T12:00:00-05:00")),
            Ok(Val::Time(
                Utc.with_ymd_and_hms(2026, 3, 1, 17, 0, 0).unwrap()
            ))
        );
        let epoch = json!({"datetime": {"formats": ["%s"]}});
        assert_eq!(
            run(epoch, Val::Int(1_772_366_400)),
            Ok(Val::Time(
                Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
            ))
        );
        let date_only = json!({"datetime": {"formats": ["%Y-%m-%d"]}});
        assert_eq!(
            run(date_only, text_val("2026-03-01")),
            Ok(Val::Time(
                Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
            ))
        );
    }

    #[test]
    fn bad_transforms_are_refused_at_compile() {
        let bad = |v: Value| Transform::compile(&TransformSpec::from_value(&v)?);
        assert!(
            bad(json!("trimm"))
                .unwrap_err()
                .contains("unknown variant `trimm`")
        );
        assert!(
            bad(json!({"regex": {"pattern": "("}}))
                .unwrap_err()
                .contains("regex")
        );
        assert!(
            bad(json!({"regex": {"pattern": "a", "group": 1}}))
                .unwrap_err()
                .contains("group 1")
        );
        assert!(
            bad(json!({"datetime": {"formats": ["%Y"], "tz": "Mars/Base"}}))
                .unwrap_err()
                .contains("Mars/Base")
        );
        assert!(bad(json!({"case": "shouty"})).is_err());
    }

    #[test]
    fn types_are_checked() {
        let t = Transform::compile(&TransformSpec::Unit {
            from: WeightUnit::G,
            to: WeightUnit::Kg,
        })
        .unwrap();
        assert_eq!(t.out_type(Ty::Any), Ok(Ty::Dec));
        assert!(
            t.out_type(Ty::Time)
                .unwrap_err()
                .contains("unit cannot take a date-time")
        );
    }

    #[test]
    fn undo_reverses() {
        let record = json!({});
        let c = ctx(&record);
        let t = Transform::compile(
            &TransformSpec::from_value(&json!({"map": {"A": "active"}})).unwrap(),
        )
        .unwrap();
        assert_eq!(t.undo(text_val("active"), &c), Ok(text_val("A")));
        let d = Transform::compile(
            &TransformSpec::from_value(&json!({"decimal": {"separator": ","}})).unwrap(),
        )
        .unwrap();
        assert_eq!(
            d.undo(Val::Dec(Decimal::from_str("12.50").unwrap()), &c),
            Ok(text_val("12,50"))
        );
        let u = Transform::compile(&TransformSpec::Unit {
            from: WeightUnit::Kg,
            to: WeightUnit::G,
        })
        .unwrap();
        assert_eq!(
            u.undo(Val::Dec(Decimal::from(1500)), &c),
            Ok(Val::Dec(Decimal::from_str("1.5").unwrap()))
        );
    }

    mod props {
        use proptest::prelude::*;

        use super::*;

        /// Text that is often an amount and often almost one.
        fn amount() -> impl Strategy<Value = String> {
            let piece = prop::sample::select(vec![
                "0",
                "1",
                "9",
                "00",
                "19",
                "999",
                "1234567",
                "123456789012345678",
                ",",
                ".",
                "-",
                "+",
                " ",
                "'",
                "e",
            ]);
            prop::collection::vec(piece, 1..8).prop_map(|p| p.concat())
        }

        proptest! {
            /// The byte-wise trim is `str::trim`.
            #[test]
            fn trim_is_str_trim(s in "[ \t\n\r\u{b}\u{c}\u{a0}\u{85}\u{2003}a-cé1,|]{0,12}") {
                prop_assert_eq!(trim(&s), s.trim());
            }

            /// Splitting on one byte or on text gives the same items.
            #[test]
            fn split_items_as_str_split(s in "[ a-c,|;]{0,16}", sep in prop::sample::select(vec![",", "|", ";", ", ", "||"])) {
                let mut got = Vec::new();
                split_trimmed(&s, sep, |i| got.push(i));
                let want: Vec<&str> = s.split(sep).map(str::trim).filter(|i| !i.is_empty()).collect();
                prop_assert_eq!(got, want);
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4000))]

            /// The short way reads exactly what the general way reads: the
            /// same value, scale and sign.
            #[test]
            fn plain_decimals_read_as_the_general_way(
                raw in amount(),
                sep in prop::sample::select(vec![',', '.', '\'']),
                thousands in prop::sample::select(vec![None, Some('.'), Some(','), Some(' '), Some('\'')]),
            ) {
                let f = DecimalFormat { separator: Some(sep), thousands: thousands.filter(|t| *t != sep) };
                if let Some(d) = plain_decimal(&raw, sep) {
                    let general = general_decimal(&raw, &f);
                    prop_assert_eq!(Ok(d.serialize()), general.map(|g| g.serialize()), "{:?}", raw);
                }
                prop_assert_eq!(
                    parse_decimal(&raw, &f).map(|d| d.serialize()),
                    general_decimal(&raw, &f).map(|d| d.serialize())
                );
            }
        }
    }
}

#[cfg(test)]
mod decimal_marks {
    use super::{DecimalFormat, Transform, TransformSpec};

    #[test]
    fn digits_and_signs_are_refused_as_marks() {
        for (separator, thousands) in [(Some('0'), None), (None, Some('0')), (Some('-'), None)] {
            let spec = TransformSpec::Decimal(Some(DecimalFormat {
                separator,
                thousands,
            }));
            let error = Transform::compile(&spec).unwrap_err();
            assert!(error.contains("part of numbers"), "{error}");
        }
        let comma = TransformSpec::Decimal(Some(DecimalFormat {
            separator: Some(','),
            thousands: Some('.'),
        }));
        assert!(Transform::compile(&comma).is_ok());
    }
}
