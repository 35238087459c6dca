//! Cross-references: outside ids and codes ↔ canonical keys, per system.
//!
//! This is the "binder" of other integration frameworks. It answers "which
//! canonical customer is Shopify customer 7?" and "which location is the
//! ERP's warehouse `WH-01`?". Tables are one-to-one per (namespace, system):
//! binding an outside id that is already bound to a different key is a
//! `Conflict`, which is how concurrent imports are kept from creating
//! duplicate bindings. Static crosswalks (SKU and location codes) load from
//! TOML, so a new warehouse is one line of config:
//!
//! ```
//! use seamwork::mapping::{CrossReferences, MemoryCrossReferences};
//!
//! let xrefs = MemoryCrossReferences::new();
//! xrefs.load_crosswalks(r#"
//!     [erp.location]
//!     "WH-01" = "DC-EAST"
//!     "WH-02" = "DC-WEST"
//! "#).unwrap();
//! assert_eq!(xrefs.to_canonical("location", "erp", "WH-02").as_deref(), Some("DC-WEST"));
//! assert_eq!(xrefs.to_outside("location", "erp", "DC-EAST").as_deref(), Some("WH-01"));
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use crate::connector::{EntityKey, EntityKind};
use crate::error::{Error, ErrorKind, Retryability};
use crate::model::ExternalRef;

/// Translates between outside values and canonical values.
pub trait CrossReferences: Send + Sync {
    /// The canonical value bound to `outside` in `namespace` for `system`.
    fn to_canonical(&self, namespace: &str, system: &str, outside: &str) -> Option<String>;

    /// The outside value bound to `canonical` in `namespace` for `system`.
    fn to_outside(&self, namespace: &str, system: &str, canonical: &str) -> Option<String>;
}

#[derive(Default, Clone)]
struct Table {
    to_canonical: HashMap<String, String>,
    to_outside: HashMap<String, String>,
}

/// Cross-references held in memory (persistent ones come with the state store).
#[derive(Default)]
pub struct MemoryCrossReferences {
    tables: RwLock<HashMap<(String, String), Table>>,
}

impl std::fmt::Debug for MemoryCrossReferences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.tables.read().map(|t| t.len()).unwrap_or(0);
        f.debug_struct("MemoryCrossReferences")
            .field("tables", &n)
            .finish()
    }
}

impl MemoryCrossReferences {
    /// No bindings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds `outside` ↔ `canonical` in `namespace` for `system`. Binding the
    /// same pair again is fine; binding either side to something else is a
    /// permanent `Conflict` naming both bindings.
    pub fn bind(
        &self,
        namespace: &str,
        system: &str,
        outside: &str,
        canonical: &str,
    ) -> Result<(), Error> {
        let mut tables = self.tables.write().expect("xref lock poisoned");
        let t = tables
            .entry((namespace.to_string(), system.to_string()))
            .or_default();
        let conflict = |msg: String| {
            Err(Error::new(ErrorKind::Conflict, msg)
                .with_retryability(Retryability::Permanent)
                .with_system(system)
                .with_entity(namespace))
        };
        if let Some(existing) = t.to_canonical.get(outside).filter(|c| *c != canonical) {
            return conflict(format!(
                "{namespace} {outside:?} in {system} is already bound to {existing:?}, not {canonical:?}"
            ));
        }
        if let Some(existing) = t.to_outside.get(canonical).filter(|o| *o != outside) {
            return conflict(format!(
                "{namespace} {canonical:?} is already bound to {existing:?} in {system}, not {outside:?}"
            ));
        }
        t.to_canonical
            .insert(outside.to_string(), canonical.to_string());
        t.to_outside
            .insert(canonical.to_string(), outside.to_string());
        Ok(())
    }

    /// Removes the binding of `outside`, returning the canonical value it had.
    pub fn unbind(&self, namespace: &str, system: &str, outside: &str) -> Option<String> {
        let mut tables = self.tables.write().expect("xref lock poisoned");
        let t = tables.get_mut(&(namespace.to_string(), system.to_string()))?;
        let canonical = t.to_canonical.remove(outside)?;
        t.to_outside.remove(&canonical);
        Some(canonical)
    }

    /// Binds a record's external ref to its canonical key.
    pub fn bind_ref(
        &self,
        kind: EntityKind,
        r: &ExternalRef,
        key: &EntityKey,
    ) -> Result<(), Error> {
        self.bind(kind.name(), r.system.as_str(), &r.id, key.as_str())
    }

    /// The canonical key bound to `r`.
    pub fn key_for(&self, kind: EntityKind, r: &ExternalRef) -> Option<EntityKey> {
        self.to_canonical(kind.name(), r.system.as_str(), &r.id)
            .map(EntityKey::new)
    }

    /// The external ref of `key` in `system`.
    pub fn ref_for(&self, kind: EntityKind, system: &str, key: &EntityKey) -> Option<ExternalRef> {
        let id = self.to_outside(kind.name(), system, key.as_str())?;
        ExternalRef::try_new(system, id).ok()
    }

    /// Loads static crosswalks: `[system.namespace]` tables of `outside = canonical`.
    /// Every problem (bad shape, conflicting lines) is reported in one error.
    pub fn load_crosswalks(&self, toml_text: &str) -> Result<(), Error> {
        type Crosswalks = BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>;
        let parsed: Crosswalks = toml::from_str(toml_text)
            .map_err(|e| Error::config(format!("crosswalk file: {}", e.to_string().trim_end())))?;
        // All or nothing: bind into a copy, and keep it only if every line fits.
        let staged = MemoryCrossReferences {
            tables: RwLock::new(self.tables.read().expect("xref lock poisoned").clone()),
        };
        let mut problems = Vec::new();
        for (system, namespaces) in &parsed {
            for (namespace, pairs) in namespaces {
                for (outside, canonical) in pairs {
                    if let Err(e) = staged.bind(namespace, system, outside, canonical) {
                        problems.push(format!("{system}.{namespace}.{outside:?}: {}", e.message()));
                    }
                }
            }
        }
        if problems.is_empty() {
            *self.tables.write().expect("xref lock poisoned") =
                staged.tables.into_inner().expect("xref lock poisoned");
            Ok(())
        } else {
            Err(Error::config(format!(
                "crosswalk file has {} problem(s): {}",
                problems.len(),
                problems.join("; ")
            )))
        }
    }
}

impl CrossReferences for MemoryCrossReferences {
    fn to_canonical(&self, namespace: &str, system: &str, outside: &str) -> Option<String> {
        let tables = self.tables.read().expect("xref lock poisoned");
        tables
            .get(&(namespace.to_string(), system.to_string()))?
            .to_canonical
            .get(outside)
            .cloned()
    }

    fn to_outside(&self, namespace: &str, system: &str, canonical: &str) -> Option<String> {
        let tables = self.tables.read().expect("xref lock poisoned");
        tables
            .get(&(namespace.to_string(), system.to_string()))?
            .to_outside
            .get(canonical)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_is_one_to_one() {
        let x = MemoryCrossReferences::new();
        x.bind("customer", "shopify", "7", "cust-1").unwrap();
        x.bind("customer", "shopify", "7", "cust-1").unwrap(); // idempotent
        let e = x.bind("customer", "shopify", "7", "cust-2").unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Conflict);
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("already bound to \"cust-1\""), "{e}");
        let e = x.bind("customer", "shopify", "8", "cust-1").unwrap_err();
        assert!(e.to_string().contains("already bound to \"7\""), "{e}");
        // Other systems are separate.
        x.bind("customer", "erp", "8", "cust-1").unwrap();
        assert_eq!(
            x.unbind("customer", "shopify", "7").as_deref(),
            Some("cust-1")
        );
        x.bind("customer", "shopify", "8", "cust-1").unwrap();
    }

    #[test]
    fn refs_and_keys() {
        let x = MemoryCrossReferences::new();
        let r = ExternalRef::new("shopify", "gid://shopify/Customer/7");
        x.bind_ref(EntityKind::Customer, &r, &EntityKey::new("cust-1"))
            .unwrap();
        assert_eq!(
            x.key_for(EntityKind::Customer, &r),
            Some(EntityKey::new("cust-1"))
        );
        assert_eq!(
            x.ref_for(EntityKind::Customer, "shopify", &EntityKey::new("cust-1")),
            Some(r)
        );
    }

    #[test]
    fn crosswalk_problems_are_all_listed() {
        let x = MemoryCrossReferences::new();
        let e = x
            .load_crosswalks(
                r#"
                [erp.location]
                "WH-01" = "DC-EAST"
                "WH-02" = "DC-EAST"
                "WH-03" = "DC-EAST"
                "#,
            )
            .unwrap_err();
        assert!(e.to_string().contains("2 problem(s)"), "{e}");
        // Nothing of the refused file was kept.
        assert_eq!(x.to_canonical("location", "erp", "WH-01"), None);
        let syntax = x.load_crosswalks("[erp.location\n").unwrap_err();
        assert!(syntax.to_string().contains("line 1"), "{syntax}");
    }
}
