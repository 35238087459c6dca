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
//! use seamwork::identity::{
//!     GeneratorOptions, LinkMode, LinkOptions, Linker, Metrics, NormalizeOptions,
//!     PreparedRecord, generate,
//! };
//!
//! // Generated customers with duplicates and known truth.
//! let data = generate(&GeneratorOptions::default().with_entities(300));
//! // Each field normalized once (`PreparedRecord::from_customer` per customer).
//! let records: Vec<PreparedRecord> = data.prepared(&NormalizeOptions::default());
//! let out = Linker::new(LinkOptions::default())?.run(&records, LinkMode::Dedupe, Some(&data.truth), None)?;
//! let pair = out.pairs[0];
//! let why = out.scorer.explain(&records[pair.left as usize], &records[pair.right as usize]);
//! assert!(why.probability >= 0.5);
//! let metrics = Metrics::of_pairs(out.pairs.iter().map(|p| (p.left, p.right)), &records, &data.truth, LinkMode::Dedupe);
//! assert!(metrics.precision() > 0.9);
//! # Ok::<(), seamwork::Error>(())
//! ```
//!
//! | part | what |
//! |---|---|
//! | [`normalize`] | email, phone (E.164), names, addresses, postcodes, dates, Soundex |
//! | [`compare`] | graded comparators: exact, Jaro-Winkler, Levenshtein, numeric, date |
//! | [`blocking`] | candidate pairs from several keys, with counts and recall |
//! | [`scoring`], [`em`], [`linker`] | Fellegi–Sunter weights, EM, the pipeline |
//! | [`cluster`], [`golden`] | hub-guarded clusters, survivorship, merge preview |
//! | [`generate()`], [`evaluate`] | seeded customers with truth; precision, recall, F1 |
//! | [`input`] | customer CSV files described by a TOML spec |

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
