//! One paced GraphQL call: wait for budget, POST, read the cost report,
//! retry throttles, note the API version the shop served.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::config::ShopifyConfig;
use super::wire::{GraphqlResponse, parse_response};
use crate::adapters::web;
use crate::error::{Error, ErrorKind, Result};
use crate::layers::{AdaptiveLimiter, BudgetSignal, BudgetStats};

/// The header naming the API version that actually served a call.
pub const VERSION_HEADER: &str = "x-shopify-api-version";
/// The header listing deprecated fields or versions a call used.
pub const DEPRECATED_HEADER: &str = "x-shopify-api-deprecated-reason";

/// Cost assumed for an operation before the server has priced it once.
const FIRST_ESTIMATE: u64 = 10;
/// Deprecation notices kept (distinct texts).
const MAX_NOTICES: usize = 50;

/// What the shop said about API versions so far.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ApiVersionReport {
    /// The version the adapter asks for.
    pub requested: String,
    /// The version the last answer was served with (`X-Shopify-API-Version`).
    pub served: Option<String>,
    /// Distinct `X-Shopify-API-Deprecated-Reason` texts seen, oldest first.
    pub deprecations: Vec<String>,
}

impl ApiVersionReport {
    /// True when the shop served another version than the one requested
    /// (the requested one is unsupported or was never released).
    pub fn drifted(&self) -> bool {
        self.served.as_ref().is_some_and(|s| *s != self.requested)
    }
}

/// The paced GraphQL client behind every read and write.
pub(crate) struct GraphqlClient {
    http: reqwest::Client,
    endpoint: String,
    token: SecretString,
    throttle_retries: u32,
    limiter: AdaptiveLimiter,
    estimates: Mutex<HashMap<&'static str, u64>>,
    versions: Mutex<(ApiVersionReport, BTreeSet<String>)>,
}

impl GraphqlClient {
    pub(crate) fn new(config: &ShopifyConfig) -> Result<Self> {
        Ok(GraphqlClient {
            http: web::client(config.timeout)?,
            endpoint: config.endpoint()?,
            token: config.token.clone(),
            throttle_retries: config.throttle_retries,
            limiter: AdaptiveLimiter::new(config.budget.clone()),
            estimates: Mutex::new(HashMap::new()),
            versions: Mutex::new((
                ApiVersionReport {
                    requested: config.api_version.clone(),
                    ..ApiVersionReport::default()
                },
                BTreeSet::new(),
            )),
        })
    }

    /// The HTTP client (for downloads outside GraphQL, such as bulk results).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(crate) fn limiter(&self) -> &AdaptiveLimiter {
        &self.limiter
    }

    pub(crate) fn stats(&self) -> BudgetStats {
        self.limiter.stats()
    }

    pub(crate) fn versions(&self) -> ApiVersionReport {
        self.versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone()
    }

    /// What `operation` cost last time; an operation not priced yet is
    /// assumed to cost as much as the dearest one seen (a cheap guess would
    /// let it run into a throttle on a bucket kept low).
    fn estimate(&self, operation: &'static str) -> u64 {
        let known = self.estimates.lock().unwrap_or_else(|p| p.into_inner());
        match known.get(operation) {
            Some(cost) => *cost,
            None => known.values().copied().max().unwrap_or(FIRST_ESTIMATE),
        }
    }

    fn learn(&self, operation: &'static str, signal: &BudgetSignal) {
        if let Some(requested) = signal.requested_cost {
            self.estimates
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(operation, requested);
        }
    }

    /// Runs `query` (a named operation) and returns its `data`. Throttles
    /// (GraphQL `THROTTLED` or HTTP 429) are retried after the wait the
    /// server's figures call for, `throttle_retries` times, then returned as
    /// `RateLimited`.
    pub(crate) async fn execute(
        &self,
        operation: &'static str,
        query: &str,
        variables: Value,
    ) -> Result<Value> {
        let body = json!({"query": query, "variables": variables, "operationName": operation});
        let mut attempt = 0;
        loop {
            match self.call_once(operation, &body).await {
                Err(e) if matches!(e.kind(), ErrorKind::RateLimited { .. }) => {
                    if attempt >= self.throttle_retries {
                        return Err(e);
                    }
                    attempt += 1;
                    tracing::debug!(
                        operation,
                        attempt,
                        "Shopify throttled the call; retrying after the wait"
                    );
                }
                other => return other,
            }
        }
    }

    async fn call_once(&self, operation: &'static str, body: &Value) -> Result<Value> {
        let what = format!("Shopify {operation}");
        let permit = self.limiter.acquire(self.estimate(operation)).await;
        let answer = self
            .http
            .post(&self.endpoint)
            .header("X-Shopify-Access-Token", self.token.expose_secret())
            .json(body)
            .send()
            .await;
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                permit.cancel();
                return Err(web::transport_error(&what, e));
            }
        };
        let status = answer.status();
        let headers = answer.headers().clone();
        self.note_versions(&headers);
        let bytes = match answer.bytes().await {
            Ok(b) => b,
            Err(e) => return Err(web::transport_error(&what, e)),
        };
        if status.as_u16() == 429 {
            let wait = web::retry_after(&headers, Utc::now());
            permit.throttled(wait);
            return Err(web::status_error(
                &what,
                status,
                &headers,
                &String::from_utf8_lossy(&bytes),
            ));
        }
        if !status.is_success() {
            return Err(web::status_error(
                &what,
                status,
                &headers,
                &String::from_utf8_lossy(&bytes),
            ));
        }
        let response = parse_response(&bytes).map_err(|e| e.with_system("shopify"))?;
        let signal = match &response.cost {
            Some(cost) => Some(BudgetSignal::from_shopify_cost(cost)?),
            None => None,
        };
        if let Some(s) = &signal {
            self.learn(operation, s);
        }
        if response.is_throttled() {
            let wait = signal.as_ref().and_then(refill_wait);
            permit.throttled(wait);
            return Err(Error::rate_limited(
                wait,
                format!(
                    "Shopify {operation} was throttled (query cost exceeds the points available)"
                ),
            ));
        }
        match &signal {
            Some(s) => permit.settle(s),
            None => drop(permit),
        }
        into_data(operation, response)
    }

    fn note_versions(&self, headers: &HeaderMap) {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let served = text(VERSION_HEADER);
        let deprecated = text(DEPRECATED_HEADER);
        let mut guard = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        let (report, warned) = &mut *guard;
        if let Some(served) = served {
            if served != report.requested && warned.insert(format!("version:{served}")) {
                tracing::warn!(
                    requested = %report.requested,
                    served = %served,
                    "Shopify served another API version than requested; the requested one may be unsupported"
                );
            }
            report.served = Some(served);
        }
        if let Some(reason) = deprecated
            && !report.deprecations.contains(&reason)
            && report.deprecations.len() < MAX_NOTICES
        {
            tracing::warn!(reason = %reason, version = %report.requested, "Shopify reports a deprecated API use");
            report.deprecations.push(reason);
        }
    }
}

/// How long the bucket needs to refill for the requested cost, from a
/// throttled answer's figures.
fn refill_wait(s: &BudgetSignal) -> Option<Duration> {
    let requested = s.requested_cost?;
    let rate = s.restore_rate.filter(|r| *r > 0)?;
    let missing = requested.saturating_sub(s.currently_available);
    Some(Duration::from_millis(
        missing.saturating_mul(1000).div_ceil(rate),
    ))
}

fn into_data(operation: &str, response: GraphqlResponse) -> Result<Value> {
    if let Some(e) = response.error(operation) {
        return Err(e.with_system("shopify"));
    }
    response.data.ok_or_else(|| {
        Error::invalid_data(format!("Shopify {operation} answered without data"))
            .with_system("shopify")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refill_wait_covers_the_missing_points() {
        let s = BudgetSignal::new(40)
            .with_restore_rate(50)
            .with_costs(Some(140), None);
        assert_eq!(refill_wait(&s), Some(Duration::from_secs(2)));
        assert_eq!(refill_wait(&BudgetSignal::new(40)), None);
    }

    #[test]
    fn drift_is_another_served_version() {
        let mut r = ApiVersionReport {
            requested: "2026-01".into(),
            ..Default::default()
        };
        assert!(!r.drifted());
        r.served = Some("2025-10".into());
        assert!(r.drifted());
    }
}
