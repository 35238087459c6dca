//! A source and a sink for JSON REST APIs (WMS, 3PL, ERP) driven by a
//! [`MappingSpec`](crate::mapping::MappingSpec): no code per API, only
//! configuration.
//!
//! - [`HttpJsonConfig`]: the base URL, the [`Auth`] (bearer, basic or an
//!   API-key header; secrets never print) and the request timeout.
//! - [`HttpJsonSource`]: `GET`s a listing, takes the records array at a JSON
//!   pointer, follows a [`Pagination`] strategy (a cursor in the body, page
//!   numbers, offsets, or the `Link` header's `rel="next"`) and maps each
//!   record. With [`Incremental`] it asks only for changes
//!   (`updated_since=<time>`) and resumes collision-safely (see below).
//! - [`HttpJsonSink`]: maps each entity back to JSON
//!   ([`MappingSpec::to_payload`](crate::mapping::MappingSpec::to_payload))
//!   and sends it with `POST` or `PUT`, one request per record or one per
//!   batch, reading created / updated / unchanged / rejected from the answers.
//!
//! ```
//! use std::time::Duration;
//! use seamwork::adapters::http_json::{
//!     Auth, HttpJsonConfig, HttpJsonSource, Incremental, Pagination, ReadOptions,
//! };
//! use seamwork::mapping::MappingSpec;
//! use seamwork::model::{InventoryLevel, SystemId};
//!
//! let spec = MappingSpec::<InventoryLevel>::from_toml(r#"
//!     system = "wms"
//!     entity = "inventory_level"
//!     version = 1
//!     [fields]
//!     sku = { from = "sku" }
//!     location = { from = "site" }
//!     on_hand = { from = "on_hand" }
//!     available = { from = "available" }
//!     updated_at = { from = "updated_at" }
//! "#, "wms_stock.toml").unwrap();
//! let config = HttpJsonConfig::new(SystemId::new("wms").unwrap(), "https://wms.example.com/api/v2/")
//!     .unwrap()
//!     .with_auth(Auth::api_key("X-Api-Key", "never printed"))
//!     .with_timeout(Duration::from_secs(20));
//! assert!(!format!("{config:?}").contains("never printed"));
//! let source = HttpJsonSource::new(
//!     config,
//!     spec,
//!     ReadOptions::new("stock")
//!         .with_records_at("/data")
//!         .with_id_at("/id")
//!         .with_pagination(Pagination::cursor("cursor", "/meta/next_cursor"))
//!         .with_incremental(
//!             Incremental::new("updated_since", "/updated_at")
//!                 .with_lookback(Duration::from_secs(5)),
//!         ),
//! )
//! .unwrap();
//! # let _ = source;
//! ```
//!
//! ## Incremental reads that neither skip nor repeat
//!
//! A record's cursor is its `(changed time, id)` ([`TimeIdCursor`](crate::connector::TimeIdCursor)).
//! Resuming after `(t, id)` asks the API for changes since `t − lookback`
//! (an inclusive bound, widened to cover clock skew and APIs that compare
//! strictly), then drops what is at or before `(t, id)`: records sharing `t`
//! with a higher id still come, the ones already delivered do not. This needs
//! the API to list records sorted by change time, then id (most have a
//! `sort` parameter: add it with [`ReadOptions::with_query`]); a record that
//! arrives out of that order ends the read with an `Unexpected` error instead
//! of risking a skip.
//!
//! ## A record that does not map
//!
//! The stream yields the records before it, then an `InvalidData` error that
//! names the URL, the page, the record's index in the array and its id, and
//! every field that failed, and ends (the [`Source`](crate::connector::Source)
//! contract: after an `Err` the stream ends). Nothing is dropped silently and
//! nothing after it is read past: the error is permanent, so a
//! [`RetryLayer`](crate::layers::RetryLayer) passes it on at once and the sync
//! engine halts the flow with it, its checkpoint at the last good record.
//! Once the data or the mapping is fixed, the next run resumes right there.
//!
//! ## Errors and retries
//!
//! Answers map to error kinds as every HTTP adapter does (4xx permanent;
//! 5xx, 408 and 429 temporary, 429 with its `Retry-After`). The adapter never
//! retries by itself: wrap it in the [`layers`](crate::layers)
//! (`RetryLayer`, `RateLimitLayer`, …), which resume a failed read from the
//! last delivered record and retry only a sink's temporarily failed records.

mod auth;
mod config;
mod paging;
mod sink;
mod source;

pub use auth::Auth;
pub use config::{HttpJsonConfig, IdOrder, Incremental, ReadOptions, TimeParam};
pub use paging::{Pagination, ParsedPage, next_link, parse_page};
pub use sink::{BatchWrite, HttpJsonSink, WriteMethod, WriteOptions};
pub use source::HttpJsonSource;

/// The URL type [`parse_page`] takes and returns (reqwest's, re-exported so
/// callers need no direct dependency).
pub use reqwest::Url;
