//! Checking rule files: problems that name the rule and the field that is
//! wrong (reading them with line and column is `source_text`'s job).

use std::fmt::{self, Display};

use crate::error::{Error, Result};
#[cfg(test)]
use crate::source_text::from_toml;
pub(crate) use crate::source_text::{load_rules, parse_rules};

/// Collects every problem of a rule set, each naming its field path and rule.
#[derive(Debug)]
pub(crate) struct Problems {
    what: &'static str,
    list: Vec<(String, String)>,
}

impl Problems {
    /// Starts checking a rule set described as `what` (`pricing rules`).
    pub(crate) fn new(what: &'static str) -> Self {
        Problems {
            what,
            list: Vec::new(),
        }
    }

    /// Records that `field` (a full path such as `price_lists[2].tiers[1].min_quantity`)
    /// of the rule `rule` (its id, when it has one) breaks `message`.
    pub(crate) fn add(&mut self, field: impl Display, rule: Option<&str>, message: impl Display) {
        let field = field.to_string();
        let text = match rule {
            Some(id) => format!("{field} (rule \"{id}\"): {message}"),
            None => format!("{field}: {message}"),
        };
        self.list.push((field, text));
    }

    /// Records the problem unless `ok`.
    pub(crate) fn check(
        &mut self,
        ok: bool,
        field: impl Display,
        rule: Option<&str>,
        message: impl Display,
    ) {
        if !ok {
            self.add(field, rule, message);
        }
    }

    /// Checks that an id is non-empty text without control characters.
    pub(crate) fn check_id(&mut self, field: impl Display, id: &str) {
        self.check(
            !id.trim().is_empty() && !id.chars().any(char::is_control),
            field,
            None,
            format_args!("must be non-empty text without control characters, found {id:?}"),
        );
    }

    /// Records a duplicate for every id seen before (`field(i)` names the i-th id).
    pub(crate) fn check_unique<'a, F, D>(
        &mut self,
        ids: impl IntoIterator<Item = &'a str>,
        field: F,
    ) where
        F: Fn(usize) -> D,
        D: Display,
    {
        let mut seen = std::collections::HashMap::new();
        for (i, id) in ids.into_iter().enumerate() {
            if let Some(first) = seen.insert(id, i) {
                self.add(
                    field(i),
                    Some(id),
                    format_args!("duplicate id: already used by entry {first}"),
                );
            }
        }
    }

    /// `Ok(())` when nothing was recorded, else one [`crate::ErrorKind::Config`]
    /// error listing the problems (the first [`MAX_LISTED`], then how many
    /// more), with the first problem's field in its context.
    pub(crate) fn finish(self) -> Result<()> {
        let Some((first, _)) = self.list.first() else {
            return Ok(());
        };
        let field = first.clone();
        let n = self.list.len();
        let mut text = self
            .list
            .iter()
            .take(MAX_LISTED)
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        if n > MAX_LISTED {
            text.push_str(&format!("; and {} more", n - MAX_LISTED));
        }
        Err(Error::config(format!(
            "invalid {}: {n} problem{}: {text}",
            self.what,
            if n == 1 { "" } else { "s" },
        ))
        .with_field(field))
    }
}

/// Problems spelled out in one error message; the rest are counted.
pub(crate) const MAX_LISTED: usize = 20;

/// A rule's place in its file for field paths: `price_lists[2]`.
pub(crate) struct At<'a>(pub(crate) &'a str, pub(crate) usize);

impl Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.0, self.1)
    }
}

/// serde helpers for the rule files: decimals as strings or numbers,
/// timestamps and times of day as strings or TOML's own date-times.
pub(crate) mod serde_util {
    use std::fmt;

    use chrono::{DateTime, NaiveTime, Utc};
    use rust_decimal::Decimal;
    use serde::de::{self, MapAccess, Visitor};
    use serde::{Deserializer, Serializer};

    /// `Option<Decimal>`: absent, a string or a number.
    pub(crate) mod opt_decimal {
        use super::*;

        pub(crate) fn serialize<S: Serializer>(
            v: &Option<Decimal>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match v {
                Some(d) => s.collect_str(d),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Decimal>, D::Error> {
            crate::model::money::decimal_serde::deserialize(d).map(Some)
        }
    }

    /// Reads a text value that TOML may also give as its own date-time type.
    struct TextOrTomlDatetime(&'static str);

    impl<'de> Visitor<'de> for TextOrTomlDatetime {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }

        // TOML hands its date-time values over as a one-entry map.
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
            let Some((_, value)) = map.next_entry::<String, String>()? else {
                return Err(de::Error::custom(format!("expected {}", self.0)));
            };
            Ok(value)
        }
    }

    /// `Option<DateTime<Utc>>`: RFC 3339 with an offset (`2026-01-01T00:00:00Z`), quoted or not.
    pub(crate) mod opt_datetime {
        use super::*;

        pub(crate) fn serialize<S: Serializer>(
            v: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match v {
                Some(t) => s.collect_str(&t.to_rfc3339()),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            let text = d.deserialize_any(TextOrTomlDatetime(
                "a date-time with an offset such as 2026-01-01T00:00:00Z",
            ))?;
            DateTime::parse_from_rfc3339(text.trim())
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|e| {
                    de::Error::custom(format!(
                        "invalid date-time {text:?} ({e}): write RFC 3339 with an offset, \
                         such as 2026-01-01T00:00:00Z"
                    ))
                })
        }
    }

    /// `Option<NaiveTime>`: `"15:30"` or `"15:30:00"` (or a TOML local time).
    pub(crate) mod opt_time {
        use super::*;

        pub(crate) fn serialize<S: Serializer>(
            v: &Option<NaiveTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match v {
                Some(t) => s.collect_str(&t.format("%H:%M:%S")),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<NaiveTime>, D::Error> {
            let text = d.deserialize_any(TextOrTomlDatetime("a time of day such as \"15:30\""))?;
            let t = text.trim();
            NaiveTime::parse_from_str(t, "%H:%M:%S")
                .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
                .map(Some)
                .map_err(|_| {
                    de::Error::custom(format!(
                        "invalid time of day {text:?}: write HH:MM or HH:MM:SS"
                    ))
                })
        }
    }

    /// `Option<chrono_tz::Tz>`: an IANA time zone name such as `"America/New_York"`.
    pub(crate) mod opt_timezone {
        use super::*;
        use chrono_tz::Tz;

        pub(crate) fn serialize<S: Serializer>(v: &Option<Tz>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(tz) => s.serialize_str(tz.name()),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Tz>, D::Error> {
            let text = <String as serde::Deserialize>::deserialize(d)?;
            text.trim().parse::<Tz>().map(Some).map_err(|_| {
                de::Error::custom(format!(
                    "unknown time zone {text:?}: write an IANA name such as \"America/New_York\" or \"Europe/Berlin\""
                ))
            })
        }
    }

    /// `true`, for `#[serde(default = ...)]`.
    pub(crate) fn yes() -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        #[serde(default, with = "serde_util::opt_datetime")]
        from: Option<chrono::DateTime<chrono::Utc>>,
        #[serde(default, with = "serde_util::opt_time")]
        cutoff: Option<chrono::NaiveTime>,
        #[serde(default, with = "serde_util::opt_decimal")]
        rate: Option<rust_decimal::Decimal>,
    }

    #[test]
    fn toml_errors_name_line_and_column() {
        let err =
            from_toml::<Sample>("name = \"x\"\nnmae = 1\n", "test rules", "t.toml").unwrap_err();
        assert_eq!(err.kind(), &crate::ErrorKind::Config);
        assert_eq!(err.context().line, Some(2));
        assert_eq!(err.context().column, Some(1));
        assert!(
            err.message()
                .starts_with("test rules at t.toml:2:1: nmae: unknown field `nmae`"),
            "{err}"
        );
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Doc {
        #[serde(default)]
        lists: Vec<List>,
        #[serde(default)]
        split: Option<Split>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct List {
        id: String,
        #[serde(default)]
        tiers: Vec<TierDoc>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct TierDoc {
        min: u64,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Split {
        id: String,
        quantity: u64,
    }

    #[test]
    fn type_errors_name_the_key_path_and_rule() {
        let text = "[[lists]]\nid = \"a\"\n\n[[lists]]\nid = \"web\"\ntiers = [{ min = 1 }, { min = -1 }]\n";
        let err = from_toml::<Doc>(text, "t", "t.toml").unwrap_err();
        assert!(
            err.message().starts_with(
                "t at t.toml:6:31: lists[1].tiers[1].min (rule \"web\"): invalid value"
            ),
            "{err}"
        );
        assert_eq!(
            err.context().field.as_deref(),
            Some("lists[1].tiers[1].min")
        );
        assert_eq!(err.context().line, Some(6));
        // A table (not an array of tables) names its own id.
        let err =
            from_toml::<Doc>("[split]\nid = \"s\"\nquantity = \"x\"\n", "t", "t").unwrap_err();
        assert!(
            err.message()
                .contains("split.quantity (rule \"s\"): invalid type"),
            "{err}"
        );
        // A syntax error has no key path, only the place.
        let err = from_toml::<Doc>("[split\n", "t", "t").unwrap_err();
        assert!(err.context().field.is_none(), "{err}");
        assert!(err.message().starts_with("t at t:1:"), "{err}");
    }

    #[test]
    fn datetimes_times_and_decimals_read_from_toml_natives_and_strings() {
        let s: Sample = from_toml(
            "name = \"x\"\nfrom = 2026-01-01T10:00:00Z\ncutoff = 15:30:00\nrate = 0.25\n",
            "t",
            "t",
        )
        .unwrap();
        assert_eq!(s.from.unwrap().to_rfc3339(), "2026-01-01T10:00:00+00:00");
        assert_eq!(s.cutoff.unwrap().to_string(), "15:30:00");
        assert_eq!(s.rate.unwrap().to_string(), "0.25");
        let s: Sample = from_toml(
            "name = \"x\"\nfrom = \"2026-01-01T12:00:00+02:00\"\ncutoff = \"15:30\"\nrate = \"0.1\"",
            "t",
            "t",
        )
        .unwrap();
        assert_eq!(s.from.unwrap().to_rfc3339(), "2026-01-01T10:00:00+00:00");
        assert_eq!(s.cutoff.unwrap().to_string(), "15:30:00");
        let err =
            from_toml::<Sample>("name = \"x\"\nfrom = 2026-01-01T10:00:00", "t", "t").unwrap_err();
        assert!(err.message().contains("with an offset"), "{err}");
    }

    #[test]
    fn problems_list_every_field() {
        let mut p = Problems::new("sample rules");
        p.add(At("price_lists", 2), Some("web"), "must be set");
        p.check(false, "x.y", None, "must be ≥ 1, found 0");
        let err = p.finish().unwrap_err();
        assert_eq!(
            err.message(),
            "invalid sample rules: 2 problems: price_lists[2] (rule \"web\"): must be set; x.y: must be ≥ 1, found 0"
        );
        assert_eq!(err.context().field.as_deref(), Some("price_lists[2]"));
        assert!(Problems::new("x").finish().is_ok());
    }

    #[test]
    fn long_lists_are_cut() {
        let mut p = Problems::new("x");
        for i in 0..25 {
            p.add(At("a", i), None, "bad");
        }
        let err = p.finish().unwrap_err();
        assert!(
            err.message()
                .starts_with("invalid x: 25 problems: a[0]: bad;")
        );
        assert!(err.message().ends_with("a[19]: bad; and 5 more"), "{err}");
    }
}
