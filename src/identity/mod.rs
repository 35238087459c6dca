//! Customer identity resolution: the same person in the store, the ERP and
//! the CRM found, linked and merged into one golden record — without
//! labelled training data.
//!
//! The pipeline: [`normalize`] every field once ([`PreparedRecord`]), find
//! candidate pairs by [`blocking`] on several keys, grade each field of a
//! pair ([`Comparator`]), weigh the levels with a Fellegi–Sunter model whose
//! u comes from random pairs and m from EM ([`Linker`]), and explain every
//! score ([`Scorer::explain`]).
//!
//! ```
//! use seamwork::identity::normalize::{normalize_email, EmailRules};
//!
//! assert_eq!(
//!     normalize_email("J.Doe+promo@gmail.com", EmailRules::Provider).as_deref(),
//!     Some("jdoe@gmail.com")
//! );
//! ```

pub mod blocking;
pub mod cluster;
pub mod compare;
pub mod em;
pub mod evaluate;
pub mod generate;
pub mod golden;
pub mod input;
pub mod linker;
pub mod nicknames;
pub mod normalize;
pub mod record;
pub mod scoring;

pub use blocking::{BlockingIndex, BlockingKey, BlockingReport, LinkMode};
pub use cluster::{ClusterOptions, Clusters};
pub use compare::{Comparator, Value};
pub use em::EmOptions;
pub use evaluate::Metrics;
pub use generate::{Generated, GeneratorOptions, generate};
pub use golden::{GoldenOptions, GoldenRecord, Survivorship, golden_record, merge_preview};
pub use input::{DedupeSpec, ReadOutcome};
pub use linker::{LinkOptions, LinkOutput, Linker, ScoredPair};
pub use record::{AttributeKind, NormalizeOptions, PreparedRecord};
pub use scoring::{Explanation, Field, FieldConfig, FsModel, Scorer};
