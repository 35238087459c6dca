//! What makes a model type syncable: its kind and its key.

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::model::{Customer, InventoryLevel, Location, Order, Product, ValidationErrors, Variant};

/// The kinds of entity seamwork moves between systems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EntityKind {
    /// [`Product`].
    Product,
    /// [`Variant`].
    Variant,
    /// [`InventoryLevel`].
    InventoryLevel,
    /// [`Location`].
    Location,
    /// [`Order`].
    Order,
    /// [`Customer`].
    Customer,
}

impl EntityKind {
    /// The snake_case name used in messages and storage.
    pub fn name(self) -> &'static str {
        match self {
            EntityKind::Product => "product",
            EntityKind::Variant => "variant",
            EntityKind::InventoryLevel => "inventory_level",
            EntityKind::Location => "location",
            EntityKind::Order => "order",
            EntityKind::Customer => "customer",
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Separates the parts of a composite key; a control character cannot occur
/// inside a SKU or location id, so composite keys never collide.
const KEY_SEPARATOR: char = '\u{1f}';

/// The canonical key of an entity: SKU, order number, (SKU, location), ...
///
/// Keys order as their text, which is what collision-safe cursors compare.
///
/// The text is shared: a key is cloned into the run's pending versions, the
/// sink's outcome and the commit, and each clone is a reference count.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntityKey(Arc<str>);

impl EntityKey {
    /// A single-part key.
    pub fn new(key: impl AsRef<str>) -> Self {
        EntityKey(key.as_ref().into())
    }

    /// A key of several parts, e.g. (SKU, location).
    pub fn composite<S: AsRef<str>>(parts: &[S]) -> Self {
        // Joined on the stack when short (a key is made per record read),
        // so the shared text is the only allocation.
        let mut short = [0u8; 128];
        let len = parts.iter().map(|p| p.as_ref().len() + 1).sum::<usize>();
        if len <= short.len() {
            let mut end = 0;
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    end += KEY_SEPARATOR.encode_utf8(&mut short[end..]).len();
                }
                let p = p.as_ref().as_bytes();
                short[end..end + p.len()].copy_from_slice(p);
                end += p.len();
            }
            let text = std::str::from_utf8(&short[..end]).expect("joined UTF-8 text");
            return EntityKey(text.into());
        }
        let parts: Vec<&str> = parts.iter().map(AsRef::as_ref).collect();
        EntityKey(parts.join(KEY_SEPARATOR.encode_utf8(&mut [0; 4])).into())
    }

    /// The shared text itself, for binding without a copy.
    pub(crate) fn shared(&self) -> Arc<str> {
        self.0.clone()
    }

    /// A single-part key sharing `text` (a SKU's, say) instead of copying it.
    pub(crate) fn from_shared(text: Arc<str>) -> Self {
        EntityKey(text)
    }

    /// The parts of the key.
    pub fn parts(&self) -> impl Iterator<Item = &str> {
        self.0.split(KEY_SEPARATOR)
    }

    /// The raw key text (composite parts joined by U+001F), stable for storage and ordering.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<EntityKey> for String {
    fn from(key: EntityKey) -> String {
        key.0.as_ref().to_owned()
    }
}

impl fmt::Display for EntityKey {
    /// Parts joined by `@` (`SKU-1@DC-EAST`), for people.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.parts().enumerate() {
            if i > 0 {
                f.write_str("@")?;
            }
            f.write_str(p)?;
        }
        Ok(())
    }
}

/// A canonical type that connectors read and write.
pub trait Entity:
    Clone + fmt::Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// Its kind.
    const KIND: EntityKind;

    /// Its canonical key.
    fn key(&self) -> EntityKey;

    /// Checks every rule of the type (see each type's `validate`).
    fn validate(&self) -> Result<(), ValidationErrors>;

    /// A stable 64-bit hash of the content: the engine's version
    /// fingerprint, so it must not change across releases. The default
    /// hashes a compact serde form; a type synced in volume may hash its
    /// fields itself (all of them).
    fn fingerprint(&self) -> u64 {
        crate::store::fingerprint::fingerprint(self)
    }
}

impl Entity for Product {
    const KIND: EntityKind = EntityKind::Product;
    fn key(&self) -> EntityKey {
        EntityKey::new(&self.handle)
    }
    fn validate(&self) -> Result<(), ValidationErrors> {
        Product::validate(self)
    }
}

impl Entity for Variant {
    const KIND: EntityKind = EntityKind::Variant;
    fn key(&self) -> EntityKey {
        EntityKey::from_shared(self.sku.shared())
    }
    fn validate(&self) -> Result<(), ValidationErrors> {
        Variant::validate(self)
    }
}

impl Entity for InventoryLevel {
    const KIND: EntityKind = EntityKind::InventoryLevel;
    fn key(&self) -> EntityKey {
        EntityKey::composite(&[self.sku.as_str(), self.location.as_str()])
    }
    fn validate(&self) -> Result<(), ValidationErrors> {
        InventoryLevel::validate(self)
    }
    fn fingerprint(&self) -> u64 {
        InventoryLevel::fingerprint(self)
    }
}

impl Entity for Location {
    const KIND: EntityKind = EntityKind::Location;
    fn key(&self) -> EntityKey {
        EntityKey::new(self.id.as_str())
    }
    fn validate(&self) -> Result<(), ValidationErrors> {
        Location::validate(self)
    }
}

impl Entity for Order {
    const KIND: EntityKind = EntityKind::Order;
    fn key(&self) -> EntityKey {
        EntityKey::new(&self.number)
    }
    fn validate(&self) -> Result<(), ValidationErrors> {
        Order::validate(self)
    }
}

impl Entity for Customer {
    const KIND: EntityKind = EntityKind::Customer;
    fn key(&self) -> EntityKey {
        EntityKey::new(&self.id)
    }
    fn validate(&self) -> Result<(), ValidationErrors> {
        Customer::validate(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_keys_do_not_collide() {
        let a = EntityKey::composite(&["A@B", "C"]);
        let b = EntityKey::composite(&["A", "B@C"]);
        assert_ne!(a, b);
        assert_eq!(a.to_string(), "A@B@C"); // display is for people only
        assert_eq!(a.parts().collect::<Vec<_>>(), ["A@B", "C"]);
    }

    proptest::proptest! {
        /// Short keys are joined on the stack, long ones in a string: both
        /// give the parts joined by the separator, and serde keeps the text.
        #[test]
        fn composite_keys_are_their_parts_joined(
            parts in proptest::collection::vec("[^\u{1f}]{0,80}", 1..4)
        ) {
            let key = EntityKey::composite(&parts);
            proptest::prop_assert_eq!(key.as_str(), parts.join("\u{1f}"));
            proptest::prop_assert_eq!(key.parts().collect::<Vec<_>>(), parts.clone());
            let json = serde_json::to_string(&key).unwrap();
            proptest::prop_assert_eq!(&json, &serde_json::to_string(key.as_str()).unwrap());
            proptest::prop_assert_eq!(serde_json::from_str::<EntityKey>(&json).unwrap(), key);
        }
    }
}
