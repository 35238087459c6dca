//! Customer identity resolution: the same person in the store, the ERP and
//! the CRM found, linked and merged into one golden record — without
//! labelled training data.
//!
//! The pipeline: [`normalize`] every field once ([`PreparedRecord`]),
//! compare graded field levels ([`Comparator`]).
//!
//! ```
//! use seamwork::identity::normalize::{normalize_email, EmailRules};
//!
//! assert_eq!(
//!     normalize_email("J.Doe+promo@gmail.com", EmailRules::Provider).as_deref(),
//!     Some("jdoe@gmail.com")
//! );
//! ```

pub mod compare;
pub mod nicknames;
pub mod normalize;
pub mod record;

pub use compare::{Comparator, Value};
pub use record::{AttributeKind, NormalizeOptions, PreparedRecord};
