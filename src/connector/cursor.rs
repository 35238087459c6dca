//! Opaque, collision-safe resume points.
//!
//! A [`Cursor`] is whatever a source needs to continue *after* a record. The
//! engine stores it and hands it back; it never looks inside. Sources that
//! order changes by time must break ties: [`TimeIdCursor`] orders by
//! `(changed_at, id)`, so thousands of records sharing one `updated_at` are
//! neither skipped nor repeated on resume (the classic `updated_at > x` bug).
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use seamwork::connector::{Cursor, TimeIdCursor};
//!
//! let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
//! let c = TimeIdCursor::new(at, "SKU-7").encode();
//! let back = TimeIdCursor::decode(&c).unwrap();
//! assert_eq!(back.id, "SKU-7");
//! assert!(TimeIdCursor::new(at, "SKU-7") < TimeIdCursor::new(at, "SKU-8"));
//! assert!(TimeIdCursor::decode(&Cursor::new("garbage")).is_err());
//! ```

use std::fmt;

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// An opaque resume point: "continue after this".
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cursor(String);

impl Cursor {
    /// Wraps a source-specific cursor text.
    pub fn new(value: impl Into<String>) -> Self {
        Cursor(value.into())
    }

    /// The text, for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `value` with leading zeros to `width` digits (more when it needs them),
/// written into `buf`, which must hold only `b'0'`s.
pub(crate) fn padded(buf: &mut [u8; 20], value: u64, width: usize) -> &str {
    let mut v = value;
    let mut i = buf.len();
    while v > 0 {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let start = buf.len() - width.max(buf.len() - i).min(buf.len());
    std::str::from_utf8(&buf[start..]).expect("ASCII digits")
}

/// `<RFC 3339 with nanoseconds>|<id>`, as [`TimeIdCursor::encode`] writes it.
pub(crate) fn encode_time_id(at: DateTime<Utc>, id: &str) -> Cursor {
    // Sources encode one cursor per record: years 0–9999 are written digit
    // by digit (chrono's formatter costs several times more).
    let naive = at.naive_utc();
    let (date, time) = (naive.date(), naive.time());
    let year = date.year();
    // Leap seconds (nanoseconds past 10⁹) take chrono's way too.
    if !(0..=9999).contains(&year) || time.nanosecond() >= 1_000_000_000 {
        let at = at.to_rfc3339_opts(SecondsFormat::Nanos, true);
        return Cursor(format!("{at}|{id}"));
    }
    let mut digits = *b"0000-00-00T00:00:00.000000000Z";
    for (range, value) in [
        (0..4, year as u32),
        (5..7, date.month()),
        (8..10, date.day()),
        (11..13, time.hour()),
        (14..16, time.minute()),
        (17..19, time.second()),
        (20..29, time.nanosecond()),
    ] {
        fill_digits(&mut digits[range], value);
    }
    let mut text = String::with_capacity(digits.len() + 1 + id.len());
    text.push_str(std::str::from_utf8(&digits).expect("ASCII digits"));
    text.push('|');
    text.push_str(id);
    Cursor(text)
}

/// Writes `value`'s last `slot.len()` decimal digits into `slot`.
fn fill_digits(slot: &mut [u8], mut value: u32) {
    for digit in slot.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// A cursor ordered by change time, then by id: collision-safe.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimeIdCursor {
    /// When the record changed.
    pub at: DateTime<Utc>,
    /// The record's id; breaks ties between records changed at the same time.
    /// An empty id stands before every record changed at `at` (a lookback).
    pub id: String,
}

impl TimeIdCursor {
    /// The point right after the record `id` changed at `at`.
    pub fn new(at: DateTime<Utc>, id: impl Into<String>) -> Self {
        TimeIdCursor { at, id: id.into() }
    }

    /// Encodes as `<RFC 3339 with nanoseconds>|<id>`.
    pub fn encode(&self) -> Cursor {
        encode_time_id(self.at, &self.id)
    }

    /// Decodes what [`encode`](Self::encode) wrote; anything else is an `InvalidData` error naming the cursor.
    pub fn decode(cursor: &Cursor) -> Result<Self, Error> {
        let bad = |why: &str| {
            Error::invalid_data(format!(
                "cursor {:?} is not a time|id cursor: {why}",
                cursor.0
            ))
        };
        let (at, id) = cursor.0.split_once('|').ok_or_else(|| bad("no '|'"))?;
        let at = DateTime::parse_from_rfc3339(at)
            .map_err(|e| bad(&e.to_string()))?
            .with_timezone(&Utc);
        Ok(TimeIdCursor {
            at,
            id: id.to_string(),
        })
    }
}
