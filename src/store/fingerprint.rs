//! Content fingerprints: XXH3 of a compact, unambiguous binary form that
//! serde writes in one pass.
//!
//! The engine fingerprints every record it checks. Hashing JSON cost more
//! than the rest of the engine's work per record (string escaping, and
//! `serde_json` escaping every piece of a time's `Display` on its own); this
//! form writes numbers as their bytes and text as it is. It is stable across
//! processes and releases: every value starts with a tag byte, text ends in
//! `0xFF` (never part of UTF-8), sequences and maps end in their own tag, and
//! struct fields carry their names, so two different values never write the
//! same bytes.

use std::cell::RefCell;
use std::fmt::{self, Display, Write as _};

use serde::ser::{self, Serialize};

/// XXH3-64 of `value`'s fingerprint form. A value that fails to serialize
/// (a map with an erroring key, a custom error) still gets the hash of what
/// was written up to the error, which separates it from other values.
pub fn fingerprint<T: Serialize + ?Sized>(value: &T) -> u64 {
    hash_written(|buffer| {
        let _ = value.serialize(&mut Writer { out: buffer });
    })
}

/// XXH3-64 of what `write` puts in a reused buffer (for types that write
/// their fields themselves).
pub fn hash_written(write: impl FnOnce(&mut Vec<u8>)) -> u64 {
    thread_local! {
        static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    BUFFER.with_borrow_mut(|buffer| {
        buffer.clear();
        write(buffer);
        let hash = xxhash_rust::xxh3::xxh3_64(buffer);
        buffer.truncate(64 * 1024); // do not pin one huge order's buffer
        buffer.shrink_to(64 * 1024);
        hash
    })
}

mod tag {
    pub const UNIT: u8 = 0;
    pub const FALSE: u8 = 1;
    pub const TRUE: u8 = 2;
    pub const INT: u8 = 3;
    pub const UINT: u8 = 4;
    pub const FLOAT: u8 = 5;
    pub const TEXT: u8 = 6;
    pub const BYTES: u8 = 7;
    pub const NONE: u8 = 8;
    pub const SOME: u8 = 9;
    pub const VARIANT: u8 = 10;
    pub const NEWTYPE: u8 = 11;
    pub const SEQ: u8 = 12;
    pub const MAP: u8 = 13;
    pub const STRUCT: u8 = 14;
    pub const END: u8 = 15;
    /// Ends text: 0xFF never occurs in UTF-8.
    pub const TEXT_END: u8 = 0xFF;
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl Writer<'_> {
    fn text(&mut self, text: &str) {
        self.out.push(tag::TEXT);
        self.out.extend_from_slice(text.as_bytes());
        self.out.push(tag::TEXT_END);
    }

    fn int(&mut self, v: i128) {
        self.out.push(tag::INT);
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    fn uint(&mut self, v: u128) {
        self.out.push(tag::UINT);
        self.out.extend_from_slice(&v.to_le_bytes());
    }
}

impl fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.out.extend_from_slice(s.as_bytes());
        Ok(())
    }

    /// chrono writes times a character at a time.
    fn write_char(&mut self, c: char) -> fmt::Result {
        match u8::try_from(c) {
            Ok(byte) if byte.is_ascii() => self.out.push(byte),
            _ => self.write_str(c.encode_utf8(&mut [0; 4]))?,
        }
        Ok(())
    }
}

/// Serialization never fails on its own; this carries a value's own error.
#[derive(Debug)]
struct Failed;

impl Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("value failed to serialize")
    }
}

impl std::error::Error for Failed {}

impl ser::Error for Failed {
    fn custom<T: Display>(_: T) -> Self {
        Failed
    }
}

type Done = Result<(), Failed>;

/// Integers of every width write as the widest of their sign.
macro_rules! integers {
    ($($method:ident($ty:ty) => $write:ident),* $(,)?) => {
        $(
            fn $method(self, v: $ty) -> Done {
                self.$write(v.into());
                Ok(())
            }
        )*
    };
}

/// A compound whose elements are written one after another and which ends
/// as a sequence does.
macro_rules! elements {
    ($compound:ident, $method:ident) => {
        impl ser::$compound for &mut Writer<'_> {
            type Ok = ();
            type Error = Failed;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
                value.serialize(&mut **self)
            }
            fn end(self) -> Done {
                ser::SerializeSeq::end(self)
            }
        }
    };
}

impl<'a, 'b> ser::Serializer for &'a mut Writer<'b> {
    type Ok = ();
    type Error = Failed;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> Done {
        self.out.push(if v { tag::TRUE } else { tag::FALSE });
        Ok(())
    }
    integers! {
        serialize_i8(i8) => int,
        serialize_i16(i16) => int,
        serialize_i32(i32) => int,
        serialize_i64(i64) => int,
        serialize_i128(i128) => int,
        serialize_u8(u8) => uint,
        serialize_u16(u16) => uint,
        serialize_u32(u32) => uint,
        serialize_u64(u64) => uint,
        serialize_u128(u128) => uint,
    }
    #[allow(clippy::disallowed_types)] // the trait's; only the bits are hashed
    fn serialize_f32(self, v: f32) -> Done {
        self.serialize_f64(v.into())
    }
    #[allow(clippy::disallowed_types)] // the trait's; only the bits are hashed
    fn serialize_f64(self, v: f64) -> Done {
        self.out.push(tag::FLOAT);
        self.out.extend_from_slice(&v.to_bits().to_le_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Done {
        self.text(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Done {
        self.text(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Done {
        self.out.push(tag::BYTES);
        self.out.extend_from_slice(&(v.len() as u64).to_le_bytes());
        self.out.extend_from_slice(v);
        Ok(())
    }
    fn serialize_none(self) -> Done {
        self.out.push(tag::NONE);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Done {
        self.out.push(tag::SOME);
        value.serialize(self)
    }
    fn serialize_unit(self) -> Done {
        self.out.push(tag::UNIT);
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Done {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Done {
        self.out.push(tag::VARIANT);
        self.text(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Done {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Done {
        self.out.push(tag::NEWTYPE);
        self.text(variant);
        value.serialize(self)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self, Failed> {
        self.out.push(tag::SEQ);
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self, Failed> {
        self.serialize_seq(None)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, Failed> {
        self.serialize_seq(None)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self, Failed> {
        self.out.push(tag::NEWTYPE);
        self.text(variant);
        self.serialize_seq(None)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self, Failed> {
        self.out.push(tag::MAP);
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Failed> {
        self.out.push(tag::STRUCT);
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self, Failed> {
        self.out.push(tag::NEWTYPE);
        self.text(variant);
        self.serialize_struct("", 0)
    }
    /// Times, decimals and ids arrive here: written straight into the
    /// buffer, in one pass.
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Done {
        self.out.push(tag::TEXT);
        write!(self, "{value}").map_err(|_| Failed)?;
        self.out.push(tag::TEXT_END);
        Ok(())
    }
}

impl ser::SerializeSeq for &mut Writer<'_> {
    type Ok = ();
    type Error = Failed;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        value.serialize(&mut **self)
    }
    fn end(self) -> Done {
        self.out.push(tag::END);
        Ok(())
    }
}

// Tuples are sequences; they end as one does.
elements!(SerializeTuple, serialize_element);
elements!(SerializeTupleStruct, serialize_field);
elements!(SerializeTupleVariant, serialize_field);

impl ser::SerializeMap for &mut Writer<'_> {
    type Ok = ();
    type Error = Failed;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Done {
        key.serialize(&mut **self)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        value.serialize(&mut **self)
    }
    fn end(self) -> Done {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeStruct for &mut Writer<'_> {
    type Ok = ();
    type Error = Failed;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T) -> Done {
        self.text(name);
        value.serialize(&mut **self)
    }
    fn end(self) -> Done {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeStructVariant for &mut Writer<'_> {
    type Ok = ();
    type Error = Failed;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T) -> Done {
        ser::SerializeStruct::serialize_field(self, name, value)
    }
    fn end(self) -> Done {
        ser::SerializeSeq::end(self)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::fingerprint;

    const PINNED: u64 = 13_376_944_237_296_214_194;

    #[derive(Serialize)]
    struct Pair {
        a: String,
        b: String,
    }

    #[derive(Serialize)]
    enum Shape {
        Dot,
        Line(u32),
        Box { w: u32 },
    }

    #[test]
    fn text_boundaries_are_part_of_the_value() {
        let left = Pair {
            a: "ab".into(),
            b: "c".into(),
        };
        let right = Pair {
            a: "a".into(),
            b: "bc".into(),
        };
        assert_ne!(fingerprint(&left), fingerprint(&right));
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
        assert_ne!(
            fingerprint(&vec![vec![1], vec![]]),
            fingerprint(&vec![vec![], vec![1]])
        );
    }

    #[test]
    fn types_and_variants_are_told_apart() {
        assert_ne!(fingerprint(&1i64), fingerprint(&1u64));
        assert_ne!(fingerprint(&Some(0u8)), fingerprint(&0u8));
        assert_ne!(fingerprint(&None::<u8>), fingerprint(&()));
        assert_ne!(fingerprint(&Shape::Dot), fingerprint(&Shape::Line(0)));
        assert_ne!(
            fingerprint(&Shape::Line(3)),
            fingerprint(&Shape::Box { w: 3 })
        );
        assert_ne!(fingerprint("1"), fingerprint(&1u8));
        let map: BTreeMap<&str, u8> = [("a", 1)].into();
        assert_ne!(fingerprint(&map), fingerprint(&("a", 1u8)));
    }

    /// Stored versions hold these hashes: the serde form must not change
    /// between releases (every width, compound and variant written once).
    #[test]
    fn the_serde_form_is_stable_across_releases() {
        let value = (
            (1i8, -2i16, 3i32, -4i64, 5i128),
            (6u8, 7u16, 8u32, 9u64, 10u128),
            ("text", 'c', true, None::<u8>, Some(()), 1.5f64),
            (Shape::Dot, Shape::Line(3), Shape::Box { w: 4 }, [1u8, 2]),
            BTreeMap::from([(
                "k",
                vec![Pair {
                    a: "a".into(),
                    b: "b".into(),
                }],
            )]),
        );
        assert_eq!(fingerprint(&value), PINNED);
    }

    #[test]
    fn display_values_hash_as_their_text() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-03-01T12:00:00.5Z")
            .unwrap()
            .to_utc();
        let text = serde_json::to_value(at).unwrap();
        assert_eq!(fingerprint(&at), fingerprint(text.as_str().unwrap()));
        let price = rust_decimal::Decimal::new(1999, 2);
        assert_eq!(fingerprint(&price), fingerprint("19.99"));
    }
}
