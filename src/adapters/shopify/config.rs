//! What the adapter needs to reach one shop: URL, token, pinned API version,
//! page size, lookback and the budget it assumes before the first answer.

use std::time::Duration;

use secrecy::SecretString;

use crate::error::{Error, Result};
use crate::layers::AdaptiveOptions;
use crate::model::SystemId;

/// The Admin API version requested unless configured otherwise. Pinned, not
/// "latest": a new quarterly version may change fields under us.
pub const DEFAULT_API_VERSION: &str = "2026-01";

/// How the canonical [`LocationId`](crate::model::LocationId) of a Shopify location is formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LocationKey {
    /// The numeric id (`gid://shopify/Location/123` → `123`): stable across renames.
    #[default]
    NumericId,
    /// The location's name, for flows whose other systems know locations by name.
    Name,
}

/// Connection settings for one shop.
#[derive(Clone)]
#[non_exhaustive]
pub struct ShopifyConfig {
    /// Base URL of the shop (`https://example.myshopify.com`, or a local test server).
    pub shop_url: String,
    /// The Admin API version requested, e.g. `2026-01`.
    pub api_version: String,
    /// The Admin API access token, sent as `X-Shopify-Access-Token`.
    pub token: SecretString,
    /// The system id records are tagged with.
    pub system: SystemId,
    /// Records per page (Shopify allows up to 250).
    pub page_size: usize,
    /// Incremental reads ask the server for changes since `cursor − lookback`
    /// (clock skew, second-granular search); the exact resume point is then
    /// applied by comparing (updated_at, id) on this side.
    pub lookback: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// The bucket assumed until the first answer reports the real one.
    pub budget: AdaptiveOptions,
    /// How often a throttled call is retried (after the wait the server's
    /// figures call for) before `RateLimited` is returned.
    pub throttle_retries: u32,
    /// How locations are keyed in the canonical model.
    pub location_key: LocationKey,
    /// A full read of products or variants uses a bulk operation when the
    /// shop has more products than this; `None` always pages.
    pub bulk_threshold: Option<usize>,
    /// How often a running bulk operation is polled.
    pub bulk_poll: Duration,
}

impl std::fmt::Debug for ShopifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifyConfig")
            .field("shop_url", &self.shop_url)
            .field("api_version", &self.api_version)
            .field("token", &"[redacted]")
            .field("system", &self.system)
            .field("page_size", &self.page_size)
            .field("lookback", &self.lookback)
            .finish_non_exhaustive()
    }
}

impl ShopifyConfig {
    /// Defaults: version [`DEFAULT_API_VERSION`], system `shopify`, 50 per
    /// page, 5 s lookback, 30 s timeout, the standard-plan bucket, 3 throttle
    /// retries, bulk reads above 10,000 products (polled every 2 s).
    pub fn new(shop_url: impl Into<String>, token: SecretString) -> Self {
        ShopifyConfig {
            shop_url: shop_url.into(),
            api_version: DEFAULT_API_VERSION.to_string(),
            token,
            system: SystemId::new("shopify").expect("a valid system id"),
            page_size: 50,
            lookback: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            budget: AdaptiveOptions::shopify_graphql(),
            throttle_retries: 3,
            location_key: LocationKey::NumericId,
            bulk_threshold: Some(10_000),
            bulk_poll: Duration::from_secs(2),
        }
    }

    /// Pins another API version.
    pub fn with_api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }

    /// Sets the system id.
    pub fn with_system(mut self, system: SystemId) -> Self {
        self.system = system;
        self
    }

    /// Sets the page size (1..=250).
    pub fn with_page_size(mut self, size: usize) -> Self {
        self.page_size = size;
        self
    }

    /// Sets the lookback of incremental reads.
    pub fn with_lookback(mut self, lookback: Duration) -> Self {
        self.lookback = lookback;
        self
    }

    /// Sets the per-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the bucket assumed before the first answer.
    pub fn with_budget(mut self, budget: AdaptiveOptions) -> Self {
        self.budget = budget;
        self
    }

    /// Sets how often a throttled call is retried.
    pub fn with_throttle_retries(mut self, retries: u32) -> Self {
        self.throttle_retries = retries;
        self
    }

    /// Sets how locations are keyed.
    pub fn with_location_key(mut self, key: LocationKey) -> Self {
        self.location_key = key;
        self
    }

    /// Sets when full product reads switch to a bulk operation, and the poll interval.
    pub fn with_bulk(mut self, threshold: Option<usize>, poll: Duration) -> Self {
        self.bulk_threshold = threshold;
        self.bulk_poll = poll;
        self
    }

    /// `{shop_url}/admin/api/{version}/graphql.json`, after checking the parts.
    pub fn endpoint(&self) -> Result<String> {
        let base = self.shop_url.trim_end_matches('/');
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(Error::config(format!(
                "Shopify shop_url {:?} must start with https:// (or http:// for a local server)",
                self.shop_url
            )));
        }
        let v = &self.api_version;
        let well_formed = v == "unstable"
            || (v.len() == 7
                && v.as_bytes()[4] == b'-'
                && v[..4].bytes().all(|b| b.is_ascii_digit())
                && v[5..].bytes().all(|b| b.is_ascii_digit()));
        if !well_formed {
            return Err(Error::config(format!(
                "Shopify api_version {v:?} is not YYYY-MM or `unstable`"
            )));
        }
        if self.page_size == 0 || self.page_size > 250 {
            return Err(Error::config(format!(
                "Shopify page_size {} is outside 1..=250",
                self.page_size
            )));
        }
        Ok(format!("{base}/admin/api/{v}/graphql.json"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_is_built_and_checked() {
        let c = ShopifyConfig::new("http://127.0.0.1:9/", SecretString::from("t"));
        assert_eq!(
            c.endpoint().unwrap(),
            format!("http://127.0.0.1:9/admin/api/{DEFAULT_API_VERSION}/graphql.json")
        );
        assert!(c.clone().with_api_version("latest").endpoint().is_err());
        assert!(c.clone().with_page_size(251).endpoint().is_err());
        let bad = ShopifyConfig::new("shop.myshopify.com", SecretString::from("t"));
        assert!(bad.endpoint().unwrap_err().message().contains("https://"));
        assert!(!format!("{c:?}").contains("\"t\""));
    }
}
