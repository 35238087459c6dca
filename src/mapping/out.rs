//! The mapped record before it becomes an entity, and a serde `Deserializer`
//! over it.
//!
//! Building the canonical entity straight from this small tree (keys borrowed
//! from the compiled spec, values already typed) avoids building and
//! re-reading a `serde_json::Value` for every record.

use chrono::SecondsFormat;
use serde::de::value::{Error, StrDeserializer};
use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};

use super::spec::Group;
use super::value::Val;

/// A mapped record: objects keyed by target names, arrays, typed leaves.
#[derive(Debug)]
pub(crate) enum Node<'s> {
    Object(Vec<(&'s str, Node<'s>)>),
    Array(Vec<Node<'s>>),
    Leaf(Val<'s>),
    /// A leaf from a constant in the spec (`value = ...`).
    Fixed(Val<'s>),
}

impl<'s> Node<'s> {
    pub fn object() -> Self {
        Node::Object(Vec::new())
    }

    /// An empty object with room for every field and list of `g` (an upper
    /// bound: dotted targets share their parent), so filling it never regrows.
    pub fn for_group(g: &Group) -> Self {
        Node::Object(Vec::with_capacity(g.fields.len() + g.lists.len()))
    }

    /// True when every leaf below came from a constant.
    pub fn only_fixed(&self) -> bool {
        match self {
            Node::Fixed(_) => true,
            Node::Leaf(_) => false,
            Node::Object(fields) => fields.iter().all(|(_, n)| n.only_fixed()),
            Node::Array(items) => items.iter().all(Node::only_fixed),
        }
    }

    /// Sets `value` at the dotted target `keys`, creating objects on the way.
    pub fn set(&mut self, keys: &'s [String], value: Node<'s>) {
        let Some((last, parents)) = keys.split_last() else {
            return;
        };
        let mut at = self;
        for k in parents {
            let Node::Object(fields) = at else { return };
            let i = match fields.iter().position(|(name, _)| name == k) {
                Some(i) => i,
                None => {
                    fields.push((k.as_str(), Node::object()));
                    fields.len() - 1
                }
            };
            at = &mut fields[i].1;
        }
        if let Node::Object(fields) = at {
            fields.push((last.as_str(), value));
        }
    }
}

/// Deserializes an entity from a [`Node`].
pub(crate) struct NodeDe<'a, 's>(pub &'a Node<'s>);

impl<'de> Deserializer<'de> for NodeDe<'_, '_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Node::Object(fields) => visitor.visit_map(Fields {
                iter: fields.iter(),
                value: None,
            }),
            Node::Array(items) => visitor.visit_seq(Items(items.iter())),
            Node::Leaf(v) | Node::Fixed(v) => match v {
                Val::Null => visitor.visit_unit(),
                Val::Bool(b) => visitor.visit_bool(*b),
                Val::Int(i) => visitor.visit_i64(*i),
                Val::Dec(d) => visitor.visit_string(d.to_string()),
                Val::Text(s) => visitor.visit_str(s),
                Val::Time(t) => {
                    visitor.visit_string(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
                }
                other => Err(de::Error::custom(format!(
                    "unexpected {} in a mapped record",
                    other.kind()
                ))),
            },
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Node::Leaf(Val::Null) | Node::Fixed(Val::Null) => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Node::Leaf(Val::Text(s)) | Node::Fixed(Val::Text(s)) => {
                let d: StrDeserializer<'_, Error> = s.as_ref().into_deserializer();
                d.deserialize_enum(name, variants, visitor)
            }
            _ => self.deserialize_any(visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

struct Fields<'a, 's> {
    iter: std::slice::Iter<'a, (&'s str, Node<'s>)>,
    value: Option<&'a Node<'s>>,
}

impl<'de> MapAccess<'de> for Fields<'_, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.iter.next() {
            None => Ok(None),
            Some((k, v)) => {
                self.value = Some(v);
                let key: StrDeserializer<'_, Error> = k.into_deserializer();
                seed.deserialize(key).map(Some)
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let v = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("value without a key"))?;
        seed.deserialize(NodeDe(v))
    }
}

struct Items<'a, 's>(std::slice::Iter<'a, Node<'s>>);

impl<'de> SeqAccess<'de> for Items<'_, '_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0
            .next()
            .map(|n| seed.deserialize(NodeDe(n)))
            .transpose()
    }
}
