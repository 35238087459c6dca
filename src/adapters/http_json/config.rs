//! What to call and how: the connection ([`HttpJsonConfig`]) and the
//! listing to read ([`ReadOptions`], [`Incremental`]).

use crate::connector::TimeIdCursor;
use std::cmp::Ordering;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Url;

use super::auth::Auth;
use super::paging::Pagination;
use crate::error::{Error, Result};
use crate::model::SystemId;

/// Timeout of one request unless set.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The API's address and credentials, shared by a source and a sink.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpJsonConfig {
    /// The system this API belongs to (names it in records and errors).
    pub system: SystemId,
    /// Base URL; paths are resolved below it.
    pub base_url: Url,
    /// Credentials for every request.
    pub auth: Auth,
    /// Longest wait for one request.
    pub timeout: Duration,
}

impl HttpJsonConfig {
    /// The API of `system` at `base_url` (a path without a trailing `/` is
    /// treated as a folder, so `https://x/api` + `stock` is `https://x/api/stock`).
    pub fn new(system: SystemId, base_url: &str) -> Result<Self> {
        let mut base_url = Url::parse(base_url).map_err(|e| {
            Error::config(format!("HTTP JSON base URL {base_url:?} is not a URL: {e}"))
        })?;
        if base_url.cannot_be_a_base() || !matches!(base_url.scheme(), "http" | "https") {
            return Err(Error::config(format!(
                "HTTP JSON base URL {base_url} must be an http or https URL"
            )));
        }
        if !base_url.path().ends_with('/') {
            let folder = format!("{}/", base_url.path());
            base_url.set_path(&folder);
        }
        Ok(HttpJsonConfig {
            system,
            base_url,
            auth: Auth::None,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Sends `auth` with every request.
    pub fn with_auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Sets the per-request timeout (a timeout is a temporary `Unavailable` error).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `path` (relative, a leading `/` allowed) below the base URL.
    pub(crate) fn url(&self, path: &str) -> Result<Url> {
        self.base_url
            .join(path.trim_start_matches('/'))
            .map_err(|e| Error::config(format!("path {path:?} below {}: {e}", self.base_url)))
    }
}

/// How to read one listing.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReadOptions {
    /// Path of the listing below the base URL (`stock`).
    pub path: String,
    /// JSON pointer to the records array in each answer (`""` = the body is the array).
    pub records_pointer: String,
    /// JSON pointer to a record's id inside the record (`/id`).
    pub id_pointer: String,
    /// How the listing is paged.
    pub pagination: Pagination,
    /// Changes-only reads, when the API supports them.
    pub incremental: Option<Incremental>,
    /// Fixed query parameters (`sort=updated_at,id`, `status=active`).
    pub query: Vec<(String, String)>,
}

impl ReadOptions {
    /// Reads `path`, whose answer is a bare array of records with an `id`, in one page.
    pub fn new(path: impl Into<String>) -> Self {
        ReadOptions {
            path: path.into(),
            records_pointer: String::new(),
            id_pointer: "/id".into(),
            pagination: Pagination::None,
            incremental: None,
            query: Vec::new(),
        }
    }

    /// The records array is at `pointer` (`/data`, `/result/items`).
    pub fn with_records_at(mut self, pointer: impl Into<String>) -> Self {
        self.records_pointer = pointer.into();
        self
    }

    /// A record's id is at `pointer` inside the record.
    pub fn with_id_at(mut self, pointer: impl Into<String>) -> Self {
        self.id_pointer = pointer.into();
        self
    }

    /// Pages with `pagination`.
    pub fn with_pagination(mut self, pagination: Pagination) -> Self {
        self.pagination = pagination;
        self
    }

    /// Reads changes only, resuming collision-safely.
    pub fn with_incremental(mut self, incremental: Incremental) -> Self {
        self.incremental = Some(incremental);
        self
    }

    /// Adds a fixed query parameter to every listing request.
    pub fn with_query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Refuses pointers that can never match, when the source is built.
    pub(crate) fn check(&self) -> Result<()> {
        let mut pointers = vec![("records", &self.records_pointer), ("id", &self.id_pointer)];
        if let Some(inc) = &self.incremental {
            pointers.push(("changed-time", &inc.changed_pointer));
        }
        if let Pagination::Cursor { next_pointer, .. } = &self.pagination {
            pointers.push(("next-cursor", next_pointer));
        }
        check_pointers(&pointers)
    }
}

/// Refuses a JSON pointer that is neither empty nor starts with `/`.
pub(crate) fn check_pointers(pointers: &[(&str, &String)]) -> Result<()> {
    for (what, p) in pointers {
        if !p.is_empty() && !p.starts_with('/') {
            return Err(Error::config(format!(
                "the {what} pointer {p:?} is not a JSON pointer (it must be empty or start with '/')"
            )));
        }
    }
    Ok(())
}

/// Changes-only reads: the query parameter that asks for changes since a
/// time, and where each record says when it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Incremental {
    /// Query parameter of the lower time bound (`updated_since`); the API must treat it as inclusive.
    pub param: String,
    /// JSON pointer to the record's change time (RFC 3339 text or Unix seconds).
    pub changed_pointer: String,
    /// How far before the last delivered change a resume asks from (clock
    /// skew, strict comparisons); what comes again is dropped by `(time, id)`.
    pub lookback: Duration,
    /// How the time is written in the query.
    pub format: TimeParam,
    /// How the API orders ids among records changed at the same time.
    pub id_order: IdOrder,
}

impl Incremental {
    /// Changes since `param=<time>`, each record's time at `changed_pointer`; no lookback, RFC 3339, ids as text.
    pub fn new(param: impl Into<String>, changed_pointer: impl Into<String>) -> Self {
        Incremental {
            param: param.into(),
            changed_pointer: changed_pointer.into(),
            lookback: Duration::ZERO,
            format: TimeParam::Rfc3339,
            id_order: IdOrder::Text,
        }
    }

    /// Asks from `lookback` before the resume point.
    pub fn with_lookback(mut self, lookback: Duration) -> Self {
        self.lookback = lookback;
        self
    }

    /// Writes the time as `format`.
    pub fn with_format(mut self, format: TimeParam) -> Self {
        self.format = format;
        self
    }

    /// Orders ids among equal times as `order`.
    pub fn with_id_order(mut self, order: IdOrder) -> Self {
        self.id_order = order;
        self
    }

    /// The query value for "changed at or after `at`".
    pub(crate) fn query_value(&self, at: DateTime<Utc>) -> String {
        match self.format {
            TimeParam::Rfc3339 => at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            // Whole seconds, rounded down: the bound stays inclusive.
            TimeParam::UnixSeconds => at.timestamp().to_string(),
        }
    }
}

/// How the changed-since time is written in the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeParam {
    /// `2026-11-27T05:00:00Z` (fractions only when there are any).
    Rfc3339,
    /// `1795755600` (rounded down).
    UnixSeconds,
}

/// How the API sorts ids among records changed at the same time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdOrder {
    /// As text, byte by byte (`"10" < "9"`).
    Text,
    /// As whole numbers (`9 < 10`); an id that is not a number is an error.
    Numeric,
}

impl IdOrder {
    /// Compares two ids; the empty id (a lookback mark) comes before every id.
    /// `None` when a numeric order meets an id that is not a number.
    pub(crate) fn compare(self, a: &str, b: &str) -> Option<Ordering> {
        match (a.is_empty(), b.is_empty()) {
            (true, true) => return Some(Ordering::Equal),
            (true, false) => return Some(Ordering::Less),
            (false, true) => return Some(Ordering::Greater),
            (false, false) => {}
        }
        match self {
            IdOrder::Text => Some(a.cmp(b)),
            IdOrder::Numeric => Some(a.parse::<u128>().ok()?.cmp(&b.parse::<u128>().ok()?)),
        }
    }

    /// Orders two places in a listing: change time, then id.
    pub(crate) fn compare_places(self, a: &TimeIdCursor, b: &TimeIdCursor) -> Option<Ordering> {
        match a.at.cmp(&b.at) {
            Ordering::Equal => self.compare(&a.id, &b.id),
            o => Some(o),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_without_a_slash_is_a_folder() {
        let sys = SystemId::new("wms").unwrap();
        let c = HttpJsonConfig::new(sys.clone(), "http://h:8080/api/v2").unwrap();
        assert_eq!(
            c.url("/stock").unwrap().as_str(),
            "http://h:8080/api/v2/stock"
        );
        assert!(HttpJsonConfig::new(sys.clone(), "ftp://h/").is_err());
        assert!(HttpJsonConfig::new(sys, "not a url").is_err());
    }

    #[test]
    fn ids_order_as_configured_with_the_lookback_mark_first() {
        assert_eq!(IdOrder::Text.compare("10", "9"), Some(Ordering::Less));
        assert_eq!(IdOrder::Numeric.compare("10", "9"), Some(Ordering::Greater));
        assert_eq!(IdOrder::Numeric.compare("", "9"), Some(Ordering::Less));
        assert_eq!(IdOrder::Numeric.compare("x", "9"), None);
    }

    #[test]
    fn pointers_are_checked() {
        assert!(
            ReadOptions::new("x")
                .with_records_at("data")
                .check()
                .is_err()
        );
        assert!(
            ReadOptions::new("x")
                .with_records_at("/data")
                .check()
                .is_ok()
        );
    }
}
