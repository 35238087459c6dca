//! Fast date-time reading for the `datetime` transform: a parser compiled
//! once per format, and a per-zone cache of UTC offsets.
//!
//! chrono parses a format item by item into a `Parsed`, resolves it, and
//! chrono-tz then binary-searches the zone's transitions for every value.
//! Most exports use plain numeric formats (`%d.%m.%Y %H:%M`), and the values
//! of one export fall in few local hours. [`FastFormat`] reads such a format
//! straight into a date-time; it answers only when it is sure chrono reads
//! the same, and leaves everything else (errors included) to chrono.
//! [`Zone`] remembers the offset of the last local hours it converted when
//! the whole hour has one offset; DST gaps and overlaps always ask chrono-tz.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::format::{Item, Numeric};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A numeric field of a fast format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

impl Field {
    /// Most digits chrono reads for the field (without a sign).
    fn width(self) -> usize {
        match self {
            Field::Year => 4,
            _ => 2,
        }
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// A one-byte literal (`.`, `:`, `-`, `T`): the usual one.
    Byte(u8),
    Literal(Box<[u8]>),
    Space,
    /// A field and the most digits chrono reads for it.
    Number(Field, usize),
}

/// The step for a literal.
fn literal(l: &str) -> Step {
    match l.as_bytes() {
        [b] => Step::Byte(*b),
        bytes => Step::Literal(bytes.into()),
    }
}

/// A chrono format of only `%Y %m %d %H %M %S`, literals and spaces, each
/// field at most once, making a date (`%Y %m %d`) or a date and time
/// (`+ %H %M`, optionally `%S`): the formats read here without chrono.
#[derive(Debug, Clone)]
pub(crate) struct FastFormat {
    steps: Vec<Step>,
    /// The format's text with every field at its full width, when that is
    /// a fixed layout: a value of exactly this shape is read by position.
    layout: Option<Layout>,
}

/// Where each byte of a fixed-width value is: a literal or a digit.
#[derive(Debug, Clone)]
struct Layout {
    /// The bytes expected; [`DIGIT`] where a digit goes.
    bytes: Vec<u8>,
    /// Each field: where its digits start, how many, which field.
    fields: Vec<(usize, usize, Field)>,
}

/// A digit's place in a [`Layout`] (never a byte of UTF-8 text).
const DIGIT: u8 = 0xff;

impl Layout {
    /// The layout of `steps`, when every step has one width: literals, full
    /// width fields, and single spaces followed by something chrono does not
    /// trim (so one space there reads as chrono reads it).
    fn of(steps: &[Step]) -> Option<Layout> {
        let mut bytes = Vec::new();
        let mut fields = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            match step {
                Step::Byte(c) => bytes.push(*c),
                Step::Literal(l) => bytes.extend_from_slice(l),
                Step::Space => {
                    let next_is_kept = match steps.get(i + 1) {
                        Some(Step::Number(..)) => true,
                        Some(Step::Byte(c)) => !c.is_ascii_whitespace() && *c != 0x0b && *c < 0x80,
                        _ => false,
                    };
                    if !next_is_kept {
                        return None;
                    }
                    bytes.push(b' ');
                }
                Step::Number(f, width) => {
                    fields.push((bytes.len(), *width, *f));
                    bytes.extend(std::iter::repeat_n(DIGIT, *width));
                }
            }
        }
        Some(Layout { bytes, fields })
    }

    /// The fields of `b` read by position, when `b` has exactly this layout.
    fn read(&self, b: &[u8]) -> Option<[u32; 6]> {
        if b.len() != self.bytes.len() {
            return None;
        }
        let fits = self.bytes.iter().zip(b).all(|(&want, &got)| {
            if want == DIGIT {
                got.is_ascii_digit()
            } else {
                got == want
            }
        });
        if !fits {
            return None;
        }
        // Named, not an array indexed by field: the values stay in registers.
        let (mut year, mut month, mut day, mut hour, mut minute, mut second) = (0, 0, 0, 0, 0, 0);
        for &(at, width, f) in &self.fields {
            let n = b[at..at + width]
                .iter()
                .fold(0, |n, d| n * 10 + u32::from(d - b'0'));
            match f {
                Field::Year => year = n,
                Field::Month => month = n,
                Field::Day => day = n,
                Field::Hour => hour = n,
                Field::Minute => minute = n,
                Field::Second => second = n,
            }
        }
        Some([year, month, day, hour, minute, second])
    }
}

impl FastFormat {
    /// The fast form of chrono's items, or `None` when they need chrono.
    pub fn compile(items: &[Item<'_>]) -> Option<FastFormat> {
        let mut steps = Vec::with_capacity(items.len());
        let mut seen = [false; 6];
        for item in items {
            steps.push(match item {
                Item::Literal(l) => literal(l),
                Item::OwnedLiteral(l) => literal(l),
                Item::Space(_) | Item::OwnedSpace(_) => Step::Space,
                Item::Numeric(n, _) => {
                    let field = match n {
                        Numeric::Year => Field::Year,
                        Numeric::Month => Field::Month,
                        Numeric::Day => Field::Day,
                        Numeric::Hour => Field::Hour,
                        Numeric::Minute => Field::Minute,
                        Numeric::Second => Field::Second,
                        _ => return None,
                    };
                    // A field twice must agree with itself in chrono: leave that to it.
                    if std::mem::replace(&mut seen[field as usize], true) {
                        return None;
                    }
                    Step::Number(field, field.width())
                }
                _ => return None,
            });
        }
        let [year, month, day, hour, minute, second] = seen;
        let date = year && month && day;
        // chrono makes midnight of a date whose time lacks the hour or the
        // minute, and ignores the seconds then: not worth copying.
        let whole = (hour && minute) || (!hour && !minute && !second);
        (date && whole).then(|| FastFormat {
            layout: Layout::of(&steps),
            steps,
        })
    }

    /// The local date-time `s` holds, when it is one chrono reads the same
    /// way; `None` when chrono must decide (including every error).
    pub fn parse(&self, s: &str) -> Option<NaiveDateTime> {
        let v = match self.layout.as_ref().and_then(|l| l.read(s.as_bytes())) {
            Some(v) => v,
            None => self.read_steps(s)?,
        };
        let [year, month, day, hour, minute, second] = v;
        let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
        // A leap second (`60`) is left to chrono.
        Some(date.and_time(NaiveTime::from_hms_opt(hour, minute, second)?))
    }

    /// The fields of `s` read step by step (any widths, runs of spaces).
    fn read_steps(&self, s: &str) -> Option<[u32; 6]> {
        let b = s.as_bytes();
        let mut at = 0;
        let mut v = [0u32; 6];
        for step in &self.steps {
            match *step {
                Step::Byte(c) => {
                    if b.get(at) != Some(&c) {
                        return None;
                    }
                    at += 1;
                }
                Step::Literal(ref l) => {
                    if !b[at..].starts_with(l) {
                        return None;
                    }
                    at += l.len();
                }
                Step::Space => {
                    // chrono trims Unicode white space; other than ASCII is left to it.
                    while let Some(&c) = b.get(at) {
                        match c {
                            b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' => at += 1,
                            0x80.. => return None,
                            _ => break,
                        }
                    }
                }
                Step::Number(f, width) => {
                    // chrono trims white space and takes a sign before a year:
                    // neither is read here.
                    let start = at;
                    let mut n = 0;
                    while at - start < width {
                        match b.get(at) {
                            Some(&d) if d.is_ascii_digit() => n = n * 10 + u32::from(d - b'0'),
                            _ => break,
                        }
                        at += 1;
                    }
                    if at == start {
                        return None;
                    }
                    v[f as usize] = n;
                }
            }
        }
        (at == b.len()).then_some(v)
    }
}

/// Entries of a zone's offset cache (a power of two).
const CACHED_HOURS: usize = 8;

/// Marks an empty cache entry: no local hour gets this number.
const EMPTY: u64 = (i32::MIN as u32 as u64) << 32;

/// A time zone for reading local times, with the UTC offsets of recently
/// read local hours remembered.
///
/// An hour is remembered only when its first and last second each have one
/// offset (no gap, no overlap) and the same one; an hour that holds a DST
/// change is always resolved by chrono-tz. Time zones change their offset
/// at most once an hour, so an hour with the same single offset at both
/// ends has it throughout. The entries are plain atomics: a spec is shared
/// between threads, and each entry is read and written whole.
pub(crate) struct Zone {
    tz: Tz,
    hours: [AtomicU64; CACHED_HOURS],
}

impl Zone {
    /// A zone with nothing remembered yet.
    pub fn new(tz: Tz) -> Zone {
        Zone {
            tz,
            hours: std::array::from_fn(|_| AtomicU64::new(EMPTY)),
        }
    }

    /// The zone.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// `local` in this zone as UTC: the earlier of two in an overlap,
    /// `None` in a gap (as `from_local_datetime(..).earliest()`).
    pub fn to_utc(&self, local: &NaiveDateTime) -> Option<DateTime<Utc>> {
        let seconds = local.and_utc().timestamp();
        let hour = seconds.div_euclid(3600);
        let Ok(key) = i32::try_from(hour) else {
            return self.resolve(local);
        };
        if key == i32::MIN {
            return self.resolve(local);
        }
        let entry = &self.hours[(hour as usize) & (CACHED_HOURS - 1)];
        let cached = entry.load(Ordering::Relaxed);
        let offset = if (cached >> 32) as u32 == key as u32 {
            cached as u32 as i32
        } else {
            match self.hour_offset(hour) {
                Some(offset) => {
                    entry.store(
                        (u64::from(key as u32) << 32) | u64::from(offset as u32),
                        Ordering::Relaxed,
                    );
                    offset
                }
                None => return self.resolve(local),
            }
        };
        let utc = local.checked_sub_offset(FixedOffset::east_opt(offset)?)?;
        Some(Utc.from_utc_datetime(&utc))
    }

    /// What chrono-tz says, without the cache.
    fn resolve(&self, local: &NaiveDateTime) -> Option<DateTime<Utc>> {
        self.tz
            .from_local_datetime(local)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The one offset (seconds east of UTC) of local hour number `hour`,
    /// when its first and last second have the same single offset.
    fn hour_offset(&self, hour: i64) -> Option<i32> {
        use chrono::Offset as _;
        let at = |s: i64| {
            let local = DateTime::from_timestamp(s, 0)?.naive_utc();
            self.tz
                .offset_from_local_datetime(&local)
                .single()
                .map(|o| o.fix().local_minus_utc())
        };
        let first = at(hour.checked_mul(3600)?)?;
        (at(hour * 3600 + 3599)? == first).then_some(first)
    }
}

impl Clone for Zone {
    /// The same zone with an empty cache.
    fn clone(&self) -> Zone {
        Zone::new(self.tz)
    }
}

impl std::fmt::Debug for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Zone").field(&self.tz).finish()
    }
}

#[cfg(test)]
mod tests {
    use chrono::format::{Parsed, StrftimeItems};

    use super::*;

    /// chrono's reading of `s` with `format`, as the transform does it.
    fn chrono_reads(format: &str, s: &str) -> Option<NaiveDateTime> {
        let items = StrftimeItems::new(format).parse_to_owned().ok()?;
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, s, items.iter()).ok()?;
        parsed.to_naive_datetime_with_offset(0).ok().or_else(|| {
            parsed
                .to_naive_date()
                .ok()
                .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight"))
        })
    }

    fn fast(format: &str) -> Option<FastFormat> {
        FastFormat::compile(&StrftimeItems::new(format).parse_to_owned().ok()?)
    }

    #[test]
    fn which_formats_are_fast() {
        for f in [
            "%d.%m.%Y %H:%M",
            "%Y-%m-%d",
            "%Y-%m-%dT%H:%M:%S",
            "%F %T",
            "%-d/%-m/%Y %H%M",
            "%Y%m%d",
        ] {
            assert!(fast(f).is_some(), "{f}");
        }
        for f in [
            "rfc",
            "%Y-%m-%d %H",
            "%d.%m.%Y %H:%M:%S%z",
            "%s",
            "%d %b %Y",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m",
            "%d.%m.%Y %d",
            "%Y-%m-%d %I:%M %p",
        ] {
            assert!(fast(f).is_none(), "{f}");
        }
    }

    #[test]
    fn reads_what_chrono_reads() {
        let f = fast("%d.%m.%Y %H:%M").unwrap();
        assert_eq!(
            f.parse("01.02.2026 09:00"),
            chrono_reads("%d.%m.%Y %H:%M", "01.02.2026 09:00")
        );
        assert_eq!(
            f.parse("1.2.2026 9:05"),
            chrono_reads("%d.%m.%Y %H:%M", "1.2.2026 9:05")
        );
        // Not sure, so chrono decides: errors, leap seconds, white space in numbers.
        assert_eq!(f.parse("31.02.2026 09:00"), None);
        assert_eq!(f.parse("01.02.2026 09:00 "), None);
        assert_eq!(f.parse("01.02. 2026 09:00"), None);
        let s = fast("%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(s.parse("2016-12-31 23:59:60"), None);
        assert!(chrono_reads("%Y-%m-%d %H:%M:%S", "2016-12-31 23:59:60").is_some());
    }

    #[test]
    fn zone_cache_agrees_with_chrono_tz_around_dst_changes() {
        let berlin = Zone::new(chrono_tz::Europe::Berlin);
        let plain = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        // Twice each: the second answer comes from the cache where there is one.
        for s in [
            "2026-03-29 01:59:59",
            "2026-03-29 02:30:00", // gap
            "2026-03-29 03:00:00",
            "2026-10-25 02:30:00", // overlap: the earlier instant
            "2026-10-25 01:15:00",
            "2026-10-25 03:00:00",
            "2026-07-01 12:00:00",
        ] {
            let local = plain(s);
            let want = chrono_tz::Europe::Berlin
                .from_local_datetime(&local)
                .earliest()
                .map(|t| t.with_timezone(&Utc));
            assert_eq!(berlin.to_utc(&local), want, "{s}");
            assert_eq!(berlin.to_utc(&local), want, "{s} again");
        }
    }

    mod props {
        use proptest::prelude::*;

        use super::*;

        /// Formats built from the fast fields and a few separators, some
        /// with fields chrono needs for itself.
        fn format() -> impl Strategy<Value = String> {
            let field = prop::sample::select(vec![
                "%Y", "%m", "%d", "%H", "%M", "%S", "%-d", "%e", "%y", "%b", "%.f",
            ]);
            let sep = prop::sample::select(vec!["", ".", "-", "/", " ", ":", "T", "  ", "%%"]);
            prop::collection::vec((field, sep), 1..8)
                .prop_map(|parts| parts.into_iter().map(|(f, s)| format!("{f}{s}")).collect())
        }

        /// Text that is often a date in one of those formats, and often
        /// almost one (spaces, signs, wrong digits, leap seconds).
        fn text() -> impl Strategy<Value = String> {
            let piece = prop::sample::select(vec![
                "2026", "0", "00", "01", "1", "12", "13", "24", "29", "30", "31", "59", "60", "99",
                "0001", "9999", "12345", ".", "-", "/", " ", ":", "T", "+", " 7", "\u{a0}", "%",
                "Feb", "x",
            ]);
            prop::collection::vec(piece, 1..12).prop_map(|p| p.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4000))]

            /// Whenever the fast parser answers, chrono answers the same.
            #[test]
            fn fast_parse_equals_chrono(f in format(), s in text()) {
                if let Some(got) = fast(&f).and_then(|fast| fast.parse(&s)) {
                    prop_assert_eq!(Some(got), chrono_reads(&f, &s), "{} / {:?}", f, s);
                }
            }

            /// A value read by position reads as step by step.
            #[test]
            fn layout_reads_as_the_steps(f in format(), s in text()) {
                let fast = fast(&f);
                let by_layout = fast.as_ref().and_then(|fast| fast.layout.as_ref()?.read(s.as_bytes()));
                if let (Some(fast), Some(v)) = (&fast, by_layout) {
                    prop_assert_eq!(Some(v), fast.read_steps(&s), "{} / {:?}", f, s);
                }
            }

            /// Text of exactly a format's layout (any digits) reads by
            /// position as step by step, and as chrono reads it.
            #[test]
            fn layout_values_read_as_chrono(f in format(), digits in prop::collection::vec(0u8..10, 40)) {
                let Some(fast) = fast(&f) else { return Ok(()) };
                let Some(layout) = fast.layout.as_ref() else { return Ok(()) };
                let mut d = digits.iter();
                let bytes: Vec<u8> = layout
                    .bytes
                    .iter()
                    .map(|&b| if b == DIGIT { b'0' + d.next().copied().unwrap_or(0) } else { b })
                    .collect();
                let s = String::from_utf8(bytes).unwrap();
                prop_assert_eq!(layout.read(s.as_bytes()), fast.read_steps(&s), "{} / {:?}", f, s);
                if let Some(got) = fast.parse(&s) {
                    prop_assert_eq!(Some(got), chrono_reads(&f, &s), "{} / {:?}", f, s);
                }
            }

            /// Values written with a fast format are read back by it, as chrono reads them.
            #[test]
            fn fast_parse_reads_formatted_values(
                f in prop::sample::select(vec![
                    "%d.%m.%Y %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%m/%d/%Y %H:%M", "%Y%m%d%H%M%S",
                ]),
                secs in -2_000_000_000i64..8_000_000_000,
            ) {
                let t = DateTime::from_timestamp(secs, 0).unwrap().naive_utc();
                let s = t.format(f).to_string();
                let got = fast(f).unwrap().parse(&s);
                prop_assert!(got.is_some(), "{} / {}", f, s);
                prop_assert_eq!(got, chrono_reads(f, &s));
            }

            /// The zone cache gives what chrono-tz gives, in every zone, also
            /// in DST gaps and overlaps and after other hours were cached.
            #[test]
            fn zone_cache_equals_chrono_tz(
                zone in prop::sample::select(chrono_tz::TZ_VARIANTS.to_vec()),
                start in -2_500_000_000i64..4_200_000_000,
                steps in prop::collection::vec(-7_200i64..7_200, 1..24),
            ) {
                let cache = Zone::new(zone);
                let mut at = start;
                for step in steps {
                    at += step;
                    let local = DateTime::from_timestamp(at, 0).unwrap().naive_utc();
                    let want = zone.from_local_datetime(&local).earliest().map(|t| t.with_timezone(&Utc));
                    prop_assert_eq!(cache.to_utc(&local), want, "{} {}", zone, local);
                }
            }

            /// The same near this zone's DST changes (each year's March and October/November weekends).
            #[test]
            fn zone_cache_equals_chrono_tz_near_dst_changes(
                zone in prop::sample::select(vec![
                    chrono_tz::Europe::Berlin, chrono_tz::America::New_York,
                    chrono_tz::Australia::Lord_Howe, chrono_tz::America::Sao_Paulo,
                    chrono_tz::Asia::Tehran, chrono_tz::Europe::London, chrono_tz::Pacific::Chatham,
                ]),
                year in 1950i32..2040,
                month in prop::sample::select(vec![3u32, 4, 9, 10, 11]),
                day in 1u32..29,
                minutes in prop::collection::vec(0u32..(4 * 60), 1..16),
            ) {
                let cache = Zone::new(zone);
                let midnight = NaiveDate::from_ymd_opt(year, month, day).unwrap().and_hms_opt(0, 0, 0).unwrap();
                for m in minutes {
                    let local = midnight + chrono::TimeDelta::minutes(i64::from(m));
                    let want = zone.from_local_datetime(&local).earliest().map(|t| t.with_timezone(&Utc));
                    prop_assert_eq!(cache.to_utc(&local), want, "{} {}", zone, local);
                }
            }
        }
    }
}
