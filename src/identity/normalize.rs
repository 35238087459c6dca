//! Field normalizers: each turns one messy value into the form records are
//! compared on, or `None` when nothing usable is left.
//!
//! ```
//! use seamwork::identity::normalize::{
//!     normalize_address_line, normalize_email, normalize_name, normalize_phone, EmailRules,
//! };
//!
//! assert_eq!(normalize_email(" John.Smith+shop@GoogleMail.com ", EmailRules::Provider).as_deref(),
//!            Some("johnsmith@gmail.com"));
//! assert_eq!(normalize_phone("(415) 555-0132", "US").as_deref(), Some("+14155550132"));
//! assert_eq!(normalize_name("  Zoë   O'Brien-Smith ").as_deref(), Some("zoe obrien smith"));
//! assert_eq!(normalize_address_line("12 Main Street, Apt. #4").as_deref(), Some("12 main st apt 4"));
//! ```

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::nicknames;

/// How far email normalization goes beyond case and whitespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EmailRules {
    /// Only trimming, `mailto:`/angle brackets and lower case.
    Basic,
    /// Also the providers' own equivalences: Gmail ignores dots and `+tags`
    /// (and `googlemail.com` is `gmail.com`); Outlook, iCloud, Fastmail and
    /// Proton drop `+tags`; Yahoo drops `-tags`.
    #[default]
    Provider,
}

/// Lower-cased, trimmed email, with provider rules applied when asked; `None`
/// when the value is not `local@domain.tld`.
pub fn normalize_email(raw: &str, rules: EmailRules) -> Option<String> {
    let mut e = raw.trim();
    e = e.strip_prefix("mailto:").unwrap_or(e);
    if let Some(inner) = e.strip_prefix('<').and_then(|s| s.strip_suffix('>')) {
        e = inner;
    }
    let e = e.trim().to_lowercase();
    let (local, domain) = e.rsplit_once('@')?;
    let domain = domain.trim_end_matches('.');
    if local.is_empty()
        || local.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.contains("..")
        || e.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return None;
    }
    if rules == EmailRules::Basic {
        return Some(format!("{local}@{domain}"));
    }
    let (local, domain) = match domain {
        "gmail.com" | "googlemail.com" => {
            let l = local.split('+').next().unwrap_or(local).replace('.', "");
            (l, "gmail.com")
        }
        "outlook.com" | "hotmail.com" | "live.com" | "icloud.com" | "me.com" | "fastmail.com"
        | "protonmail.com" | "proton.me" => {
            (local.split('+').next().unwrap_or(local).to_string(), domain)
        }
        "yahoo.com" | "ymail.com" => (local.split('-').next().unwrap_or(local).to_string(), domain),
        _ => (local.to_string(), domain),
    };
    if local.is_empty() {
        return None;
    }
    Some(format!("{local}@{domain}"))
}

/// The phone number in E.164 (`+14155550132`), reading numbers without a
/// country code as numbers of `default_region` (ISO 3166-1 alpha-2).
///
/// A number that does not parse at all is kept as `+` and its digits when it
/// was written with a country code, or as its bare digits otherwise (so two
/// identical odd numbers still agree); fewer than 6 digits is `None`.
pub fn normalize_phone(raw: &str, default_region: &str) -> Option<String> {
    let region = default_region.parse::<phonenumber::country::Id>().ok();
    // "+49 (0)30 …": the bracketed trunk zero is not dialled from abroad.
    let mut cleaned = raw.trim().replace("(0)", "");
    // "0044 …": the international prefix of most of the world, whatever the default region.
    if let Some(rest) = cleaned.strip_prefix("00") {
        cleaned = format!("+{rest}");
    }
    let digits: String = cleaned.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 6 || digits.len() > 17 {
        return None;
    }
    let e164 = |text: &str| {
        phonenumber::parse(region, text)
            .ok()
            .map(|n| n.format().mode(phonenumber::Mode::E164).to_string())
    };
    // Parsed numbers are kept even when the metadata calls them invalid
    // (fictional 555 numbers, new ranges): the same number written two ways
    // must still agree, and validity is not identity.
    if let Some(n) = e164(&cleaned) {
        return Some(n);
    }
    // Junk around the digits: read the digits alone, else keep them as they are.
    let bare = if cleaned.starts_with('+') {
        format!("+{digits}")
    } else {
        digits
    };
    e164(&bare).or(Some(bare))
}

/// Unicode NFKC, transliterated to ASCII, lower case, words only: the shared
/// first step of names, cities and address lines.
///
/// Apostrophes join (`O'Brien` → `obrien`); other punctuation separates.
pub fn fold_text(raw: &str) -> String {
    let nfkc: String = raw.nfkc().collect();
    let ascii = deunicode::deunicode(&nfkc);
    let mut out = String::with_capacity(ascii.len());
    let mut space = false;
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c.to_ascii_lowercase());
        } else if c == '\'' || c == '`' {
            // joins: O'Brien, D`Arcy
        } else if c == '#' {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push('#');
            space = true;
        } else {
            space = true;
        }
    }
    out
}

/// Honorifics and generational suffixes that say nothing about who it is.
const NAME_NOISE: &[&str] = &[
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "jr", "sr", "ii", "iii", "iv", "phd",
    "md", "esq",
];

/// A person's name folded for comparison: NFKC, transliterated, lower case,
/// punctuation removed, honorifics and `Jr`/`III` dropped.
pub fn normalize_name(raw: &str) -> Option<String> {
    let folded = fold_text(raw);
    let words: Vec<&str> = folded
        .split(' ')
        .filter(|w| !w.is_empty() && *w != "#" && !NAME_NOISE.contains(w))
        .collect();
    if words.is_empty() {
        return None;
    }
    Some(words.join(" "))
}

/// [`normalize_name`] for a given name, then its formal form from the
/// nickname table when `nicknames` is on (`Bill` → `william`).
pub fn normalize_given_name(raw: &str, nicknames: bool) -> Option<String> {
    let n = normalize_name(raw)?;
    if !nicknames {
        return Some(n);
    }
    let mut words = n.split(' ');
    let first = words.next().unwrap_or_default();
    let formal = nicknames::formal(first).unwrap_or(first);
    let rest: Vec<&str> = words.collect();
    if rest.is_empty() {
        Some(formal.to_string())
    } else {
        Some(format!("{formal} {}", rest.join(" ")))
    }
}

/// Street words and their standard (USPS-style) abbreviation; both spellings
/// map to the abbreviation.
const ADDRESS_WORDS: &[(&str, &str)] = &[
    ("street", "st"),
    ("str", "st"),
    ("avenue", "ave"),
    ("av", "ave"),
    ("road", "rd"),
    ("boulevard", "blvd"),
    ("drive", "dr"),
    ("lane", "ln"),
    ("court", "ct"),
    ("place", "pl"),
    ("square", "sq"),
    ("terrace", "ter"),
    ("parkway", "pkwy"),
    ("highway", "hwy"),
    ("circle", "cir"),
    ("apartment", "apt"),
    ("#", "apt"),
    ("no", "apt"),
    ("unit", "apt"),
    ("suite", "ste"),
    ("floor", "fl"),
    ("building", "bldg"),
    ("north", "n"),
    ("south", "s"),
    ("east", "e"),
    ("west", "w"),
    ("northeast", "ne"),
    ("northwest", "nw"),
    ("southeast", "se"),
    ("southwest", "sw"),
    ("strasse", "st"),
];

/// An address line folded for comparison: lower case, punctuation removed,
/// street words abbreviated (`Street` → `st`, `Avenue` → `ave`, `#`/`Apartment`
/// → `apt`), `Straße`/`strasse` suffixes split off.
pub fn normalize_address_line(raw: &str) -> Option<String> {
    let folded = fold_text(raw);
    let mut out: Vec<String> = Vec::new();
    for word in folded.split(' ').filter(|w| !w.is_empty()) {
        // German compounds: "hauptstrasse" -> "haupt st".
        if word.len() > 7 && word.ends_with("strasse") {
            out.push(word[..word.len() - 7].to_string());
            out.push("st".into());
            continue;
        }
        let mapped = ADDRESS_WORDS
            .iter()
            .find(|(long, _)| *long == word)
            .map_or(word, |(_, short)| short);
        // "apt apt 4" (from "Apt. #4") collapses to one marker.
        if mapped == "apt" && out.last().is_some_and(|w| w == "apt") {
            continue;
        }
        out.push(mapped.to_string());
    }
    if out.is_empty() {
        return None;
    }
    Some(out.join(" "))
}

/// A postcode in one canonical form per country: upper case without spaces or
/// hyphens; US ZIP+4 cut to the 5-digit ZIP and ZIPs that lost leading zeros
/// in a spreadsheet padded back (`2134` → `02134`).
pub fn normalize_postcode(raw: &str, country: Option<&str>) -> Option<String> {
    let compact: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if compact.is_empty() {
        return None;
    }
    let country = country.map(str::trim).unwrap_or("");
    if country.eq_ignore_ascii_case("US") && compact.bytes().all(|b| b.is_ascii_digit()) {
        return match compact.len() {
            3 | 4 => Some(format!("{compact:0>5}")),
            5 => Some(compact),
            9 => Some(compact[..5].to_string()),
            _ => None,
        };
    }
    Some(compact)
}

/// How an all-numeric date with slashes is read (`03/04/1985`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DateOrder {
    /// `MM/DD/YYYY` (United States).
    #[default]
    MonthFirst,
    /// `DD/MM/YYYY` (most of the world).
    DayFirst,
}

/// A calendar date from the shapes customer files use: ISO (`1985-03-07`,
/// with or without a time), `19850307`, `07.03.1985` (day first),
/// `03/07/1985` (per `order`), `7 Mar 1985`, `March 7, 1985`.
///
/// When a slash date only makes sense one way (`25/12/1985`) it is read that way.
pub fn normalize_date(raw: &str, order: DateOrder) -> Option<NaiveDate> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    let head = s.split(['T', ' ']).next().unwrap_or(s);
    for fmt in ["%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(head, fmt) {
            return Some(d);
        }
    }
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::parse_from_str(s, "%Y%m%d").ok();
    }
    let slash = s.replace('-', "/");
    let (first, second) = match order {
        DateOrder::MonthFirst => ("%m/%d/%Y", "%d/%m/%Y"),
        DateOrder::DayFirst => ("%d/%m/%Y", "%m/%d/%Y"),
    };
    for fmt in [first, second] {
        if let Ok(d) = NaiveDate::parse_from_str(&slash, fmt) {
            return Some(d);
        }
    }
    let words = s.replace(',', " ");
    let words = words.split_whitespace().collect::<Vec<_>>().join(" ");
    for fmt in ["%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(&words, fmt) {
            return Some(d);
        }
    }
    None
}

/// American Soundex of the first word (`Robert`, `Rupert` → `R163`): the
/// phonetic blocking key, robust to most one-letter typos after the first.
pub fn soundex(name: &str) -> Option<String> {
    fn code(c: u8) -> u8 {
        match c {
            b'b' | b'f' | b'p' | b'v' => b'1',
            b'c' | b'g' | b'j' | b'k' | b'q' | b's' | b'x' | b'z' => b'2',
            b'd' | b't' => b'3',
            b'l' => b'4',
            b'm' | b'n' => b'5',
            b'r' => b'6',
            b'h' | b'w' => b'h',
            _ => b'0',
        }
    }
    let letters: Vec<u8> = name
        .bytes()
        .filter(u8::is_ascii_alphabetic)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    let (&first, rest) = letters.split_first()?;
    let mut out = vec![first.to_ascii_uppercase()];
    let mut last = code(first);
    for &c in rest {
        let k = code(c);
        if k == b'h' {
            continue; // h and w do not separate equal codes
        }
        if k != b'0' && k != last {
            out.push(k);
            if out.len() == 4 {
                break;
            }
        }
        last = k;
    }
    out.resize(4, b'0');
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_from_real_forms() {
        let p = EmailRules::Provider;
        assert_eq!(
            normalize_email("  <Jane.Doe@Example.COM> ", p).as_deref(),
            Some("jane.doe@example.com")
        );
        assert_eq!(
            normalize_email("mailto:j.a.n.e+newsletter@gmail.com", p).as_deref(),
            Some("jane@gmail.com")
        );
        assert_eq!(
            normalize_email("JANEDOE@googlemail.com", p).as_deref(),
            Some("janedoe@gmail.com")
        );
        assert_eq!(
            normalize_email("jane+shop@outlook.com", p).as_deref(),
            Some("jane@outlook.com")
        );
        assert_eq!(
            normalize_email("jane-shop@yahoo.com", p).as_deref(),
            Some("jane@yahoo.com")
        );
        // Dots matter outside Gmail; tags kept for unknown providers.
        assert_eq!(
            normalize_email("jane.doe+x@example.com", p).as_deref(),
            Some("jane.doe+x@example.com")
        );
        assert_eq!(
            normalize_email("j.doe+x@gmail.com", EmailRules::Basic).as_deref(),
            Some("j.doe+x@gmail.com")
        );
        assert_eq!(
            normalize_email("jane@example.com.", p).as_deref(),
            Some("jane@example.com")
        );
        for bad in [
            "",
            "jane",
            "jane@",
            "@example.com",
            "jane doe@x.com",
            "a@b",
            "+tag@gmail.com",
            "a@b..com",
        ] {
            assert_eq!(normalize_email(bad, p), None, "{bad}");
        }
    }

    #[test]
    fn phones_to_e164() {
        for (raw, region, want) in [
            ("(415) 555-0132", "US", "+14155550132"),
            ("415.555.0132", "US", "+14155550132"),
            ("+1 415 555 0132", "US", "+14155550132"),
            ("1-415-555-0132", "US", "+14155550132"),
            ("+1 (415) 555-0132", "DE", "+14155550132"),
            ("030 1234567", "DE", "+49301234567"),
            ("+49 (0)30 1234567", "US", "+49301234567"),
            ("07911 123456", "GB", "+447911123456"),
            ("0044 7911 123456", "US", "+447911123456"),
        ] {
            assert_eq!(
                normalize_phone(raw, region).as_deref(),
                Some(want),
                "{raw} in {region}"
            );
        }
        // Fictional but well-formed: still one form however it is written.
        assert_eq!(
            normalize_phone("(555) 555-0199", "US"),
            normalize_phone("+1 555 555 0199", "US")
        );
        // No such country code: `+` and the digits, so equal junk still agrees.
        assert_eq!(
            normalize_phone("+999 1234 5678", "US").as_deref(),
            Some("+99912345678")
        );
        assert_eq!(normalize_phone("n/a", "US"), None);
        assert_eq!(normalize_phone("12345", "US"), None);
        assert_eq!(normalize_phone("", "XX"), None);
    }

    #[test]
    fn names_fold_to_ascii_words() {
        assert_eq!(
            normalize_name("José ÁLVAREZ").as_deref(),
            Some("jose alvarez")
        );
        assert_eq!(
            normalize_name("Dr. John  Smith, Jr.").as_deref(),
            Some("john smith")
        );
        assert_eq!(normalize_name("ＪＯＨＮ").as_deref(), Some("john")); // full-width
        assert_eq!(normalize_name("Müller").as_deref(), Some("muller"));
        assert_eq!(normalize_name("Straße").as_deref(), Some("strasse"));
        assert_eq!(normalize_name("D'Angelo").as_deref(), Some("dangelo"));
        assert_eq!(normalize_name("Mary-Kate").as_deref(), Some("mary kate"));
        assert_eq!(normalize_name("Łukasz").as_deref(), Some("lukasz"));
        assert_eq!(normalize_name("  -- ").as_deref(), None);
        assert_eq!(normalize_name("Mr.").as_deref(), None);
    }

    #[test]
    fn nicknames_map_to_formal_names() {
        assert_eq!(
            normalize_given_name("Bill", true).as_deref(),
            Some("william")
        );
        assert_eq!(
            normalize_given_name("  BOB ", true).as_deref(),
            Some("robert")
        );
        assert_eq!(
            normalize_given_name("Liz Ann", true).as_deref(),
            Some("elizabeth ann")
        );
        assert_eq!(normalize_given_name("Bill", false).as_deref(), Some("bill"));
        assert_eq!(
            normalize_given_name("Zebulon", true).as_deref(),
            Some("zebulon")
        );
    }

    #[test]
    fn addresses_abbreviate_and_drop_punctuation() {
        for (raw, want) in [
            ("12 Main Street", "12 main st"),
            ("12 MAIN ST.", "12 main st"),
            ("12 Main St, Apt. 4", "12 main st apt 4"),
            ("12 Main St #4", "12 main st apt 4"),
            ("12 Main St Apartment 4", "12 main st apt 4"),
            (
                "500 North Fifth Avenue, Suite 200",
                "500 n fifth ave ste 200",
            ),
            ("500 N. Fifth Ave., Ste 200", "500 n fifth ave ste 200"),
            ("Hauptstraße 5", "haupt st 5"),
            ("Hauptstrasse 5", "haupt st 5"),
            ("Haupt Str. 5", "haupt st 5"),
        ] {
            assert_eq!(normalize_address_line(raw).as_deref(), Some(want), "{raw}");
        }
        assert_eq!(normalize_address_line(" , "), None);
    }

    #[test]
    fn postcodes_per_country() {
        assert_eq!(
            normalize_postcode("02134-1234", Some("US")).as_deref(),
            Some("02134")
        );
        assert_eq!(
            normalize_postcode("2134", Some("US")).as_deref(),
            Some("02134")
        );
        assert_eq!(
            normalize_postcode(" 94103 ", Some("us")).as_deref(),
            Some("94103")
        );
        assert_eq!(normalize_postcode("12", Some("US")), None);
        assert_eq!(
            normalize_postcode("sw1a 1aa", Some("GB")).as_deref(),
            Some("SW1A1AA")
        );
        assert_eq!(
            normalize_postcode("K1A 0B1", Some("CA")).as_deref(),
            Some("K1A0B1")
        );
        assert_eq!(
            normalize_postcode("1234 ab", None).as_deref(),
            Some("1234AB")
        );
        assert_eq!(normalize_postcode(" - ", None), None);
    }

    #[test]
    fn dates_in_many_shapes() {
        let d = NaiveDate::from_ymd_opt(1985, 3, 7).unwrap();
        for raw in [
            "1985-03-07",
            "1985-03-07T00:00:00Z",
            "1985/03/07",
            "19850307",
            "07.03.1985",
            "03/07/1985",
            "3/7/1985",
            "7 Mar 1985",
            "March 7, 1985",
            "Mar 7 1985",
        ] {
            assert_eq!(normalize_date(raw, DateOrder::MonthFirst), Some(d), "{raw}");
        }
        assert_eq!(normalize_date("07/03/1985", DateOrder::DayFirst), Some(d));
        // Only one reading is a date.
        assert_eq!(
            normalize_date("25/12/1985", DateOrder::MonthFirst),
            NaiveDate::from_ymd_opt(1985, 12, 25)
        );
        for bad in ["", "soon", "1985-02-30", "13/13/1985"] {
            assert_eq!(normalize_date(bad, DateOrder::MonthFirst), None, "{bad}");
        }
    }

    #[test]
    fn soundex_codes() {
        for (name, code) in [
            ("robert", "R163"),
            ("rupert", "R163"),
            ("ashcraft", "A261"),
            ("tymczak", "T522"),
            ("pfister", "P236"),
            ("smith", "S530"),
            ("smyth", "S530"),
            ("lee", "L000"),
        ] {
            assert_eq!(soundex(name).as_deref(), Some(code), "{name}");
        }
        assert_eq!(soundex("123"), None);
    }
}
