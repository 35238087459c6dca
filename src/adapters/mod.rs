//! Reference adapters: real systems behind the connector contract, each
//! behind its own cargo feature so an integration only compiles what it uses.
//!
//! | module | feature | what it speaks |
//! |---|---|---|
//! | `csv` | `csv` | CSV/TSV files and drop folders, mapped with a `MappingSpec` |
//! | `sql` | `sql` | tables or queries in SQLite and PostgreSQL (sqlx), mapped with a `MappingSpec` |
//! | `http_json` | `http` | generic JSON REST APIs (WMS, 3PL, ERP) with auth and pagination strategies |
//! | `shopify` | `shopify` | Shopify's GraphQL Admin API and webhooks |
//! | `woocommerce` | `woocommerce` | WooCommerce REST API v3 and webhooks |
//!
//! Every adapter passes the `testkit` conformance suite against a real
//! counterpart (files, databases, a local HTTP server).

#[cfg(feature = "csv")]
pub mod csv;
#[cfg(feature = "http")]
pub mod http_json;
#[cfg(feature = "shopify")]
pub mod shopify;
#[cfg(feature = "sql")]
pub mod sql;
#[cfg(feature = "http")]
pub(crate) mod web;
#[cfg(feature = "woocommerce")]
pub mod woocommerce;
