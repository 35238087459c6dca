//! Identifiers: SKUs, GTIN barcodes, systems, locations and external references.
//!
//! ```
//! use seamwork::model::{ExternalRef, Gtin, Sku};
//!
//! let sku = Sku::new(" TEE-BLK-M ").unwrap();
//! assert_eq!(sku.as_str(), "TEE-BLK-M");
//! assert!(Gtin::parse("4006381333931").is_ok());      // valid EAN-13
//! assert!(Gtin::parse("4006381333932").is_err());     // wrong check digit
//! let r = ExternalRef::new("shopify", "gid://shopify/ProductVariant/42");
//! assert_eq!(r.to_string(), "shopify:gid://shopify/ProductVariant/42");
//! ```

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Longest SKU accepted; longer values are almost always two fields glued together.
pub const MAX_SKU_LEN: usize = 255;

/// A stock keeping unit: the key of a variant across systems.
///
/// Surrounding whitespace is trimmed (the classic cause of "same SKU, no
/// match"); case is kept because some ERPs treat `abc` and `ABC` as different.
///
/// The text is shared: copies of a record (read, written, kept for a
/// check) share one SKU instead of allocating each.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Sku(Arc<str>);

impl Sku {
    /// Trims and checks the SKU: not empty, at most [`MAX_SKU_LEN`] characters, no control characters.
    pub fn new(value: impl AsRef<str>) -> Result<Self, Error> {
        Sku::check(value.as_ref()).map(|v| Sku(v.into()))
    }

    /// The text [`Sku::new`] would keep of `value` (trimmed), or why it is
    /// no SKU: checking without making one.
    pub(crate) fn check(value: &str) -> Result<&str, Error> {
        // Printable ASCII (the usual SKU): no control character, one byte a
        // character, and only spaces to trim.
        if value.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            let v = value.trim_matches(' ');
            if !v.is_empty() && v.len() <= MAX_SKU_LEN {
                return Ok(v);
            }
        }
        let v = value.trim();
        if v.is_empty() {
            return Err(Error::invalid_data("SKU is empty").with_field("sku"));
        }
        // No more characters than bytes: only a long SKU needs counting.
        if v.len() > MAX_SKU_LEN && v.chars().count() > MAX_SKU_LEN {
            return Err(Error::invalid_data(format!(
                "SKU is longer than {MAX_SKU_LEN} characters: {:?}...",
                v.chars().take(20).collect::<String>()
            ))
            .with_field("sku"));
        }
        if v.chars().any(char::is_control) {
            return Err(
                Error::invalid_data(format!("SKU {v:?} contains a control character"))
                    .with_field("sku"),
            );
        }
        Ok(v)
    }

    /// The SKU text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The shared text itself (a variant's key is its SKU).
    pub(crate) fn shared(&self) -> Arc<str> {
        self.0.clone()
    }

    /// A SKU from text [`Sku::new`] already accepted as it is (trimmed):
    /// a mapping checks the SKU where it maps the field, and only once.
    pub(crate) fn from_checked(value: &str) -> Sku {
        debug_assert!(Sku::new(value).is_ok_and(|s| &*s.0 == value), "{value:?}");
        Sku(value.into())
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Sku {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Sku::new(s)
    }
}

impl<'de> Deserialize<'de> for Sku {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Sku::new(&s).map_err(serde::de::Error::custom)
    }
}

/// A Global Trade Item Number (GTIN-8, -12 (UPC-A), -13 (EAN) or -14) with a valid check digit.
///
/// Kept as written, but compared as its 14-digit form: the UPC-A
/// `036000291452` and the EAN-13 `0036000291452` are the same item.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Gtin(String);

impl Gtin {
    /// The 14-digit form as bytes, for comparing without allocating.
    fn gtin14_bytes(&self) -> [u8; 14] {
        let mut out = [b'0'; 14];
        out[14 - self.0.len()..].copy_from_slice(self.0.as_bytes());
        out
    }
}

impl PartialEq for Gtin {
    fn eq(&self, other: &Self) -> bool {
        self.gtin14_bytes() == other.gtin14_bytes()
    }
}

impl Eq for Gtin {}

impl std::hash::Hash for Gtin {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.gtin14_bytes().hash(state);
    }
}

impl PartialOrd for Gtin {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Gtin {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.gtin14_bytes().cmp(&other.gtin14_bytes())
    }
}

impl Gtin {
    /// Parses digits (spaces and hyphens between digit groups are ignored) and checks length and check digit.
    pub fn parse(value: &str) -> Result<Self, Error> {
        Gtin::digits(value).map(|d| Gtin(d.into_owned()))
    }

    /// The digits of a valid GTIN written as `value`, borrowed when `value`
    /// is its digits alone (the usual case): checking a barcode allocates
    /// nothing then.
    pub(crate) fn digits(value: &str) -> Result<Cow<'_, str>, Error> {
        let digits: Cow<'_, str> = if value.bytes().all(|b| b.is_ascii_digit()) {
            Cow::Borrowed(value)
        } else {
            Cow::Owned(
                value
                    .trim()
                    .chars()
                    .filter(|c| *c != ' ' && *c != '-')
                    .collect(),
            )
        };
        let bad = |why: String| Err(Error::invalid_data(why).with_field("barcode"));
        if let Some(c) = digits.chars().find(|c| !c.is_ascii_digit()) {
            return bad(format!(
                "GTIN {value:?} contains {c:?}; only digits are allowed"
            ));
        }
        if ![8, 12, 13, 14].contains(&digits.len()) {
            return bad(format!(
                "GTIN {value:?} has {} digits; expected 8, 12, 13 or 14",
                digits.len()
            ));
        }
        if digits.bytes().all(|b| b == b'0') {
            return bad(format!("GTIN {value:?} is all zeros, which is no item"));
        }
        let (body, check) = digits.split_at(digits.len() - 1);
        let expected = gtin_check_digit(body.as_bytes());
        let actual = check.as_bytes()[0] - b'0';
        if expected != actual {
            return bad(format!(
                "GTIN {value:?} has check digit {actual}, expected {expected}"
            ));
        }
        Ok(digits)
    }

    /// The GTIN whose digits are `body` followed by its computed check digit
    /// (for making barcodes, e.g. in-store GTINs with a `2` prefix).
    pub fn with_check_digit(body: &str) -> Result<Self, Error> {
        if !body.bytes().all(|b| b.is_ascii_digit()) {
            return Err(
                Error::invalid_data(format!("GTIN body {body:?} must be digits only"))
                    .with_field("barcode"),
            );
        }
        Gtin::parse(&format!("{body}{}", gtin_check_digit(body.as_bytes())))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A GTIN from the digits [`Gtin::digits`] already accepted as they are:
    /// a mapping checks each barcode where it maps the field, and only once.
    pub(crate) fn from_checked(digits: String) -> Gtin {
        debug_assert!(
            Gtin::digits(&digits).is_ok_and(|d| d == digits.as_str()),
            "{digits:?}"
        );
        Gtin(digits)
    }

    /// The same number as a 14-digit GTIN (left-padded with zeros), for comparing barcodes of different lengths.
    pub fn to_gtin14(&self) -> String {
        format!("{:0>14}", self.0)
    }
}

/// The GS1 mod-10 check digit of the digits before it.
fn gtin_check_digit(body: &[u8]) -> u8 {
    let mut sum = 0u32;
    let mut weight = 3;
    for &b in body.iter().rev() {
        sum += u32::from(b - b'0') * weight;
        weight = 4 - weight;
    }
    ((10 - sum % 10) % 10) as u8
}

impl fmt::Display for Gtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Gtin {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Gtin::parse(s)
    }
}

impl<'de> Deserialize<'de> for Gtin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Gtin::parse(&s).map_err(serde::de::Error::custom)
    }
}

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        ///
        /// A few distinct values repeat across every record, so the text is
        /// shared: a clone is a reference count, not an allocation.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            #[doc = concat!("Trims and checks the ", $what, ": not empty, no control characters.")]
            pub fn new(value: impl AsRef<str>) -> Result<Self, Error> {
                let v = value.as_ref().trim();
                if v.is_empty() || v.chars().any(char::is_control) {
                    return Err(Error::invalid_data(format!(
                        concat!($what, " {:?} must be non-empty text without control characters"),
                        value.as_ref()
                    )));
                }
                Ok($name(v.into()))
            }

            #[doc = concat!("The ", $what, " text.")]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                $name::new(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::new(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

text_id!(
    /// The name of a connected system (`shopify`, `erp`, `wms-east`).
    SystemId,
    "system id"
);
text_id!(
    /// The canonical id of a stock location (`DC-EAST`).
    LocationId,
    "location id"
);

/// Where a record lives in one system: the system and its id there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RawExternalRef")]
pub struct ExternalRef {
    /// The system.
    pub system: SystemId,
    /// The record's id in that system (kept verbatim; ids are opaque).
    pub id: String,
}

impl ExternalRef {
    /// A reference to `id` in `system`.
    ///
    /// # Panics
    /// When `system` is empty; use [`ExternalRef::try_new`] for outside input.
    pub fn new(system: &str, id: impl Into<String>) -> Self {
        Self::try_new(system, id).expect("system id must not be empty")
    }

    /// A reference to `id` in `system`, refusing an empty system or id.
    pub fn try_new(system: &str, id: impl Into<String>) -> Result<Self, Error> {
        let id = id.into();
        if id.is_empty() {
            return Err(Error::invalid_data(format!(
                "external id in system {system:?} is empty"
            )));
        }
        Ok(ExternalRef {
            system: SystemId::new(system)?,
            id,
        })
    }
}

/// The unchecked wire form of an [`ExternalRef`].
#[derive(Deserialize)]
struct RawExternalRef {
    system: String,
    id: String,
}

impl TryFrom<RawExternalRef> for ExternalRef {
    type Error = Error;
    fn try_from(raw: RawExternalRef) -> Result<Self, Error> {
        ExternalRef::try_new(&raw.system, raw.id)
    }
}

impl fmt::Display for ExternalRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.system, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtin_lengths_and_check_digits() {
        for ok in [
            "96385074",       // GTIN-8
            "036000291452",   // UPC-A
            "4006381333931",  // EAN-13
            "10614141000415", // GTIN-14
            "400-6381-333931",
        ] {
            assert!(Gtin::parse(ok).is_ok(), "{ok}");
        }
        let e = Gtin::parse("036000291453").unwrap_err();
        assert!(e.to_string().contains("check digit 3, expected 2"), "{e}");
        assert!(
            Gtin::parse("12345")
                .unwrap_err()
                .to_string()
                .contains("5 digits")
        );
        assert!(
            Gtin::parse("40063813339X1")
                .unwrap_err()
                .to_string()
                .contains("'X'")
        );
        assert_eq!(
            Gtin::parse("036000291452").unwrap().to_gtin14(),
            "00036000291452"
        );
        assert_eq!(
            Gtin::parse("036000291452").unwrap(),
            Gtin::parse("0036000291452").unwrap()
        );
        assert_eq!(
            Gtin::parse("0036000291452").unwrap().as_str(),
            "0036000291452"
        );
        assert!(
            Gtin::parse("00000000")
                .unwrap_err()
                .to_string()
                .contains("all zeros")
        );
        assert_eq!(
            Gtin::with_check_digit("400638133393").unwrap().as_str(),
            "4006381333931"
        );
        assert!(Gtin::with_check_digit("40063813339X").is_err());
    }

    #[test]
    fn sku_rules() {
        assert_eq!(Sku::new("  A-1 ").unwrap().as_str(), "A-1");
        assert!(Sku::new("   ").is_err());
        assert!(Sku::new("A\u{0}B").is_err());
        assert!(Sku::new("x".repeat(256)).is_err());
        let s: Sku = serde_json::from_str("\" A \"").unwrap();
        assert_eq!(s.as_str(), "A");
        assert!(serde_json::from_str::<Sku>("\"\"").is_err());
    }

    #[test]
    fn external_ref_round_trip() {
        let r = ExternalRef::new("erp", "000123");
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r#"{"system":"erp","id":"000123"}"#);
        assert_eq!(serde_json::from_str::<ExternalRef>(&json).unwrap(), r);
        assert!(ExternalRef::try_new("", "1").is_err());
        assert!(ExternalRef::try_new("erp", "").is_err());
        assert!(serde_json::from_str::<ExternalRef>(r#"{"system":"erp","id":""}"#).is_err());
    }

    /// The GTIN reading as it was before digits alone took a shorter way.
    fn parse_the_long_way(value: &str) -> Result<String, String> {
        let digits: String = value
            .trim()
            .chars()
            .filter(|c| *c != ' ' && *c != '-')
            .collect();
        if digits.chars().any(|c| !c.is_ascii_digit()) || ![8, 12, 13, 14].contains(&digits.len()) {
            return Err("shape".into());
        }
        if digits.bytes().all(|b| b == b'0') {
            return Err("zeros".into());
        }
        let (body, check) = digits.split_at(digits.len() - 1);
        if gtin_check_digit(body.as_bytes()) != check.as_bytes()[0] - b'0' {
            return Err("check digit".into());
        }
        Ok(digits)
    }

    proptest::proptest! {
        /// Digits alone, and the same digits padded, read as the long way reads them.
        #[test]
        fn gtin_digits_read_as_the_long_way(
            digits in "[0-9]{0,16}",
            pad in proptest::sample::select(vec!["", " ", "-", " - "]),
        ) {
            let written = format!("{pad}{digits}{pad}");
            let got = Gtin::parse(&written).map(|g| g.as_str().to_string());
            let want = parse_the_long_way(&written);
            proptest::prop_assert_eq!(got.is_ok(), want.is_ok(), "{:?}", written);
            if let (Ok(g), Ok(w)) = (got, want) {
                proptest::prop_assert_eq!(g, w);
            }
        }
    }

    proptest::proptest! {
        /// The printable-ASCII way accepts and keeps what the general way does.
        #[test]
        fn sku_check_as_the_general_way(s in "[ a-zA-Z0-9\\-\\t\\u{7f}\\u{a0}é]{0,8}", long in 0usize..2) {
            let s = if long == 1 { s.repeat(40) } else { s };
            let general = {
                let v = s.trim();
                (!v.is_empty() && v.chars().count() <= MAX_SKU_LEN && !v.chars().any(char::is_control))
                    .then_some(v)
            };
            proptest::prop_assert_eq!(Sku::check(&s).ok(), general);
        }
    }
}
