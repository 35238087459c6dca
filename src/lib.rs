//! # seamwork
//!
//! Commerce-integration primitives for the seams between a storefront, an
//! ERP, a warehouse, shipping, tax and a CRM: a canonical model, connector
//! contracts, an in-memory reference system and a conformance suite every
//! connector must pass.
//!
//! | module | what it holds |
//! |---|---|
//! | [`model`] | `Money`, `Sku`, `Gtin`, products, inventory, orders, customers; `validate()` everywhere |
//! | [`error`] | one [`Error`] with a kind, retryability and context |
//! | [`connector`] | `Entity`, `Source<E>`, `Sink<E>`, cursors, paging, the memory system |
//! | [`mapping`] | declarative, versioned field mappings, cross-references, schema drift |
//! | [`sync`] | flows with owner, failure policy and SLA; the engine; dead-letter replay |
//! | [`store`] | durable sync state: checkpoints, versions, dead letters, leases, drift ledger (memory, SQLite, PostgreSQL) |
//! | [`reconcile`] | keyed diff with tolerances, reports, drift ledger, correction plans, hash-diff |
//! | [`layers`] | retry, fixed and adaptive rate limits, circuit breaker, timeout, concurrency limit, tracing and metrics around any `Source`/`Sink` |
//! | [`adapters`] | (features `csv`, `sql`, `http`, `shopify`, `woocommerce`) files, SQL tables, JSON APIs, Shopify, WooCommerce |
//! | `identity` | (feature `identity`) customer identity resolution: normalize, block, score, cluster, golden records |
//! | `testkit` | (feature `testkit`) the conformance suites (connectors, state stores) and mockall mocks |
//!
//! ```
//! use rust_decimal_macros::dec;
//! use seamwork::model::{Currency, Money};
//!
//! let discount = Money::new(dec!(10.00), Currency::USD);
//! let parts = discount.allocate(&[dec!(1), dec!(1), dec!(1)]).unwrap();
//! let cents: Vec<String> = parts.iter().map(|m| m.amount().to_string()).collect();
//! assert_eq!(cents, ["3.34", "3.33", "3.33"]);
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod adapters;
pub mod connector;
pub mod error;
#[cfg(feature = "identity")]
pub mod identity;
pub mod layers;
pub mod mapping;
pub mod model;
pub mod reconcile;
pub mod rules;
mod source_text;
pub mod store;
pub mod sync;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use error::{Error, ErrorKind, Result, Retryability};

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
