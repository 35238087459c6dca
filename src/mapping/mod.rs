//! Declarative, versioned field mappings between outside records and canonical entities.
//!
//! Integration logic lives in mappings, and mappings change constantly. A
//! [`MappingSpec`] is data (TOML or JSON) that a team edits without new
//! code: per target field, a source path (JSON pointer or column name), a
//! chain of transforms, required-ness, or a computed CEL expression. It is
//! checked against the entity's schema when loaded — every problem at once,
//! with its line and column — and applied to a record, a batch, or back from
//! an entity to an outside payload.
//!
//! ```
//! use serde_json::json;
//! use seamwork::mapping::{ApplyOptions, MappingSpec};
//! use seamwork::model::InventoryLevel;
//!
//! let spec = MappingSpec::<InventoryLevel>::from_toml(r#"
//!     system = "wms"
//!     entity = "inventory_level"
//!     version = 1
//!     [fields]
//!     sku = { from = "item", transforms = ["trim", { case = "upper" }] }
//!     location = { from = "site", transforms = [{ map = { "1" = "DC-EAST", "2" = "DC-WEST" } }] }
//!     on_hand = { from = "qty", transforms = ["integer"] }
//!     available = { expr = "int(qty) - int(picked)" }
//!     committed = { from = "picked", transforms = ["integer"] }
//!     updated_at = { now = true }
//! "#, "wms_stock.toml").unwrap();
//!
//! let row = json!({"item": " tee-m ", "site": "1", "qty": "12", "picked": "2"});
//! let level = spec.apply(&row).unwrap().entity;
//! assert_eq!((level.sku.as_str(), level.location.as_str(), level.available), ("TEE-M", "DC-EAST", 10));
//!
//! let bad = json!({"item": "x", "site": "9", "qty": "many", "picked": "0"});
//! let err = spec.apply(&bad).unwrap_err();
//! assert_eq!(err.failures.len(), 3); // location, on_hand and available — all reported
//! ```
//!
//! The parts:
//! - [`MappingSpec`]: load ([`MappingSpec::from_toml`], [`MappingSpec::from_json`]),
//!   apply ([`MappingSpec::apply`], [`MappingSpec::apply_batch`]) and reverse
//!   ([`MappingSpec::to_payload`]).
//! - [`transform`]: the transforms a spec may use.
//! - [`SpecRegistry`] and [`compare`]: versions, and two versions side by side.
//! - [`CrossReferences`] and [`MemoryCrossReferences`]: ids and codes ↔ canonical keys.
//! - [`SchemaProfile`] and [`SchemaDrift`]: noticing upstream API changes.
//! - [`testing`]: golden tests for your own specs.

mod apply;
mod build;
pub mod drift;
mod expr;
mod out;
pub mod registry;
pub mod schema;
mod spec;
pub mod testing;
mod timefmt;
pub mod transform;
pub mod value;
pub mod xref;

pub use apply::{ApplyOptions, BatchOutcome, FieldFailure, Mapped, MappingError};
pub use drift::{DriftFinding, DriftKind, DriftOptions, FieldStats, SchemaDrift, SchemaProfile};
pub use registry::{Comparison, FieldDiff, RecordDiff, SpecRegistry, compare};
pub use schema::{FieldType, Mappable, Schema, TargetField};
pub use spec::{MappingSpec, Seg, SpecError, SpecProblem};
pub use xref::{CrossReferences, MemoryCrossReferences};
