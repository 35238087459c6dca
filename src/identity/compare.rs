//! Per-field comparators with graded agreement levels.
//!
//! A comparator turns two values into a level: `0` is "different", the top
//! level is "exact", and the levels between are graded similarity (for
//! example Jaro-Winkler ≥ 0.92, then ≥ 0.80). Levels are what the
//! Fellegi–Sunter model learns m/u probabilities for.
//!
//! ```
//! use seamwork::identity::Comparator;
//!
//! let jw = Comparator::jaro_winkler(&[0.92, 0.8]);
//! assert_eq!(jw.levels(), 4);
//! assert_eq!(jw.compare_text("smith", "smith"), 3);
//! assert_eq!(jw.compare_text("smith", "smiht"), 2);
//! assert_eq!(jw.compare_text("smith", "jones"), 0);
//! ```
// Similarity scores are fractions by definition (strsim returns f64); they
// never touch money or quantities.
#![allow(clippy::disallowed_types)]

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A typed attribute value (extra columns such as a birth date).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Value {
    /// Folded text.
    Text(String),
    /// A calendar date.
    Date(NaiveDate),
    /// A number.
    Number(Decimal),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Text(s) => f.write_str(s),
            Value::Date(d) => write!(f, "{d}"),
            Value::Number(n) => write!(f, "{n}"),
        }
    }
}

/// How two values of one field are graded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Comparator {
    /// Equal or not: two levels.
    Exact,
    /// Jaro-Winkler similarity with descending thresholds (each in 0–1).
    JaroWinkler {
        /// Similarity at least this is the next level down from exact.
        thresholds: Vec<f64>,
    },
    /// Levenshtein edit distance with ascending maxima (`[1, 2]`).
    Levenshtein {
        /// Edits at most this is the next level down from exact.
        max_distances: Vec<usize>,
    },
    /// Absolute numeric difference with ascending maxima.
    Numeric {
        /// Difference at most this is the next level down from exact.
        max_differences: Vec<Decimal>,
    },
    /// Distance between dates in days, with ascending maxima; a date whose
    /// day and month are swapped (`03-07` vs `07-03`) counts as one day apart.
    Date {
        /// Days apart at most this is the next level down from exact.
        max_days: Vec<u32>,
    },
}

impl Comparator {
    /// Jaro-Winkler with these thresholds (highest first).
    pub fn jaro_winkler(thresholds: &[f64]) -> Self {
        Comparator::JaroWinkler {
            thresholds: thresholds.to_vec(),
        }
    }

    /// Levenshtein with these maxima (smallest first).
    pub fn levenshtein(max_distances: &[usize]) -> Self {
        Comparator::Levenshtein {
            max_distances: max_distances.to_vec(),
        }
    }

    /// How many levels this comparator yields (different, graded…, exact).
    pub fn levels(&self) -> usize {
        2 + match self {
            Comparator::Exact => 0,
            Comparator::JaroWinkler { thresholds } => thresholds.len(),
            Comparator::Levenshtein { max_distances } => max_distances.len(),
            Comparator::Numeric { max_differences } => max_differences.len(),
            Comparator::Date { max_days } => max_days.len(),
        }
    }

    /// Checks thresholds are ordered and in range; the message says which.
    pub fn check(&self) -> Result<(), String> {
        let ordered = match self {
            Comparator::Exact => true,
            Comparator::JaroWinkler { thresholds } => {
                thresholds.windows(2).all(|w| w[0] > w[1])
                    && thresholds.iter().all(|t| (0.0..=1.0).contains(t))
            }
            Comparator::Levenshtein { max_distances } => {
                max_distances.windows(2).all(|w| w[0] < w[1])
            }
            Comparator::Numeric { max_differences } => {
                max_differences.windows(2).all(|w| w[0] < w[1])
            }
            Comparator::Date { max_days } => max_days.windows(2).all(|w| w[0] < w[1]),
        };
        if self.levels() > 14 {
            return Err("at most 12 graded levels".into());
        }
        if ordered {
            Ok(())
        } else {
            Err("thresholds must be strictly ordered from the closest level down (similarities in 0-1)".into())
        }
    }

    /// The level of two texts.
    pub fn compare_text(&self, a: &str, b: &str) -> u8 {
        let top = (self.levels() - 1) as u8;
        if a == b {
            return top;
        }
        match self {
            Comparator::Exact => 0,
            Comparator::JaroWinkler { thresholds } => {
                let lowest = thresholds.last().copied().unwrap_or(1.0);
                if jaro_winkler_upper_bound(a, b) < lowest {
                    return 0;
                }
                let s = strsim::jaro_winkler(a, b);
                graded(top, thresholds.iter().map(|t| s >= *t))
            }
            Comparator::Levenshtein { max_distances } => {
                let d = strsim::levenshtein(a, b);
                graded(top, max_distances.iter().map(|m| d <= *m))
            }
            Comparator::Numeric { .. } | Comparator::Date { .. } => {
                match (a.parse::<Decimal>(), b.parse::<Decimal>()) {
                    (Ok(x), Ok(y)) => self.compare(&Value::Number(x), &Value::Number(y)),
                    _ => 0,
                }
            }
        }
    }

    /// The level of two typed values; values of different types are `0`.
    pub fn compare(&self, a: &Value, b: &Value) -> u8 {
        let top = (self.levels() - 1) as u8;
        if a == b {
            return top;
        }
        match (self, a, b) {
            (_, Value::Text(x), Value::Text(y)) => self.compare_text(x, y),
            (Comparator::Numeric { max_differences }, Value::Number(x), Value::Number(y)) => {
                let d = (x - y).abs();
                graded(top, max_differences.iter().map(|m| d <= *m))
            }
            (Comparator::Date { max_days }, Value::Date(x), Value::Date(y)) => {
                let d = date_distance(*x, *y);
                graded(top, max_days.iter().map(|m| d <= *m))
            }
            (Comparator::Levenshtein { .. } | Comparator::JaroWinkler { .. }, x, y) => {
                self.compare_text(&x.to_string(), &y.to_string())
            }
            _ => 0,
        }
    }

    /// The best level over every pair of values (customers with several emails).
    pub fn compare_best<T: AsRef<str>>(&self, a: &[T], b: &[T]) -> Option<u8> {
        if a.is_empty() || b.is_empty() {
            return None;
        }
        let top = (self.levels() - 1) as u8;
        let mut best = 0;
        for x in a {
            for y in b {
                best = best.max(self.compare_text(x.as_ref(), y.as_ref()));
                if best == top {
                    return Some(top);
                }
            }
        }
        Some(best)
    }

    /// What a level means, for explanations (`jaro-winkler >= 0.92`).
    pub fn describe(&self, level: u8) -> String {
        let top = (self.levels() - 1) as u8;
        if level == top {
            return "exact".into();
        }
        if level == 0 {
            return "different".into();
        }
        let i = usize::from(top - 1 - level);
        match self {
            Comparator::Exact => "different".into(),
            Comparator::JaroWinkler { thresholds } => {
                format!("jaro-winkler >= {}", thresholds[i])
            }
            Comparator::Levenshtein { max_distances } => {
                format!("levenshtein <= {}", max_distances[i])
            }
            Comparator::Numeric { max_differences } => {
                format!("within {}", max_differences[i])
            }
            Comparator::Date { max_days } => format!("within {} days", max_days[i]),
        }
    }
}

/// A cheap upper bound of the Jaro-Winkler similarity from letter counts
/// (matches can be at most the shared letters, transpositions at least 0),
/// so most clearly different pairs skip the full computation.
pub fn jaro_winkler_upper_bound(a: &str, b: &str) -> f64 {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    if x.is_empty() || y.is_empty() {
        return if x.len() == y.len() { 1.0 } else { 0.0 };
    }
    if !a.is_ascii() || !b.is_ascii() {
        return 1.0; // counting bytes would not bound counting chars
    }
    let mut counts = [0i32; 128];
    for &c in x {
        counts[usize::from(c)] += 1;
    }
    let mut shared = 0;
    for &c in y {
        let slot = &mut counts[usize::from(c)];
        if *slot > 0 {
            *slot -= 1;
            shared += 1;
        }
    }
    if shared == 0 {
        return 0.0;
    }
    let m = f64::from(shared);
    let jaro = (m / x.len() as f64 + m / y.len() as f64 + 1.0) / 3.0;
    let prefix = x.iter().zip(y).take(4).take_while(|(p, q)| p == q).count();
    jaro + prefix as f64 * 0.1 * (1.0 - jaro)
}

/// The level of the first threshold hit (`top - 1` for the first), or 0.
fn graded(top: u8, mut hits: impl Iterator<Item = bool>) -> u8 {
    hits.position(|h| h).map_or(0, |i| top - 1 - i as u8)
}

/// Days between two dates, where a day/month swap counts as one day.
fn date_distance(a: NaiveDate, b: NaiveDate) -> u32 {
    use chrono::Datelike;
    let days = (a - b).num_days().unsigned_abs();
    let swapped = a.year() == b.year() && a.day() == b.month() && a.month() == b.day();
    if swapped {
        1
    } else {
        u32::try_from(days).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_jaro_winkler_on_real_typos() {
        let jw = Comparator::jaro_winkler(&[0.92, 0.8]);
        assert_eq!(jw.compare_text("catherine", "catherine"), 3);
        assert_eq!(jw.compare_text("catherine", "cathrine"), 2); // dropped letter
        assert_eq!(jw.compare_text("jonathan", "jonathon"), 2);
        assert_eq!(jw.compare_text("macdonald", "mcdonald"), 2);
        assert_eq!(jw.compare_text("steven", "stephen"), 1);
        assert_eq!(jw.compare_text("smith", "johnson"), 0);
        assert_eq!(Comparator::Exact.compare_text("a", "a"), 1);
        assert_eq!(Comparator::Exact.compare_text("a", "b"), 0);
        assert_eq!(jw.describe(2), "jaro-winkler >= 0.92");
        assert_eq!(jw.describe(3), "exact");
        assert_eq!(jw.describe(0), "different");
    }

    #[test]
    fn upper_bound_never_below_the_similarity() {
        let words = [
            "smith",
            "smyth",
            "jones",
            "",
            "a",
            "catherine",
            "kathryn",
            "zoë",
            "zoe",
            "aaab",
            "baaa",
        ];
        for a in words {
            for b in words {
                let s = strsim::jaro_winkler(a, b);
                assert!(jaro_winkler_upper_bound(a, b) >= s - 1e-12, "{a} {b}");
            }
        }
        assert_eq!(jaro_winkler_upper_bound("abc", "xyz"), 0.0);
    }

    #[test]
    fn levenshtein_on_emails_and_phones() {
        let lev = Comparator::levenshtein(&[1, 2]);
        assert_eq!(
            lev.compare_text("jane.doe@example.com", "jane.doe@example.com"),
            3
        );
        assert_eq!(
            lev.compare_text("jane.doe@example.com", "jane.deo@example.com"),
            1
        );
        assert_eq!(
            lev.compare_text("jane.doe@example.com", "jnae.doe@exmaple.com"),
            0
        );
        assert_eq!(lev.compare_text("+14155550132", "+14155550123"), 1);
        assert_eq!(lev.compare_text("+14155550132", "+14155550133"), 2);
        assert_eq!(lev.describe(1), "levenshtein <= 2");
    }

    #[test]
    fn numeric_and_date_distances() {
        let num = Comparator::Numeric {
            max_differences: vec![Decimal::ONE, Decimal::TEN],
        };
        assert_eq!(
            num.compare(
                &Value::Number(Decimal::from(100)),
                &Value::Number(Decimal::from(100))
            ),
            3
        );
        assert_eq!(
            num.compare(
                &Value::Number(Decimal::from(100)),
                &Value::Number(Decimal::from(99))
            ),
            2
        );
        assert_eq!(
            num.compare(
                &Value::Number(Decimal::from(100)),
                &Value::Number(Decimal::from(91))
            ),
            1
        );
        assert_eq!(num.compare_text("100", "150"), 0);
        assert_eq!(num.compare_text("100", "n/a"), 0);
        let date = Comparator::Date {
            max_days: vec![1, 31],
        };
        let d = |y, m, d| Value::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap());
        assert_eq!(date.compare(&d(1985, 3, 7), &d(1985, 3, 7)), 3);
        assert_eq!(date.compare(&d(1985, 3, 7), &d(1985, 7, 3)), 2); // day/month swapped
        assert_eq!(date.compare(&d(1985, 3, 7), &d(1985, 3, 17)), 1); // typo in the day
        assert_eq!(date.compare(&d(1985, 3, 7), &d(1958, 3, 7)), 0);
        assert_eq!(date.compare(&d(1985, 3, 7), &Value::Text("x".into())), 0);
    }

    #[test]
    fn best_over_several_values_and_missing() {
        let c = Comparator::Exact;
        assert_eq!(
            c.compare_best(&["a@x.com", "b@x.com"], &["b@x.com"]),
            Some(1)
        );
        assert_eq!(c.compare_best(&["a@x.com"], &["c@x.com"]), Some(0));
        assert_eq!(c.compare_best::<&str>(&[], &["c@x.com"]), None);
    }

    #[test]
    fn thresholds_are_checked() {
        assert!(Comparator::jaro_winkler(&[0.8, 0.9]).check().is_err());
        assert!(Comparator::jaro_winkler(&[1.5]).check().is_err());
        assert!(Comparator::levenshtein(&[2, 1]).check().is_err());
        assert!(Comparator::levenshtein(&[1, 2]).check().is_ok());
    }
}
