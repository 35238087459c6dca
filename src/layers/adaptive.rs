//! A rate limiter driven by the server's own budget: a leaky bucket that the
//! server reports on (Shopify's GraphQL cost `throttleStatus`, REST call-limit
//! headers like `32/40`), so a flow spends nearly all of its budget and is
//! almost never throttled.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::Layer;
use super::observe::{count_limiter_wait, count_throttle};
use super::rate::paced_read;
use super::stream::Watch;
use crate::connector::{
    Capability, Connector, Cursor, Entity, EntityKind, RecordStream, Sink, Source, WriteOutcome,
};
use crate::error::{Error, ErrorKind, Result};
use crate::model::SystemId;

/// Budget points are kept in thousandths, so restore rates below one point
/// per call interval still add up.
const MILLI: u64 = 1000;
const NANOS_PER_SEC: u128 = 1_000_000_000;

/// The bucket a limiter assumes until the server reports on it, and what the
/// layer charges per call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AdaptiveOptions {
    /// Bucket size in points (replaced by the server's `maximumAvailable`).
    pub capacity: u64,
    /// Points restored per second (replaced by the server's `restoreRate`).
    pub restore_per_second: u64,
    /// Points never spent, left for other clients of the same account.
    pub reserve: u64,
    /// Points the layer charges per call.
    pub cost_per_call: u64,
    /// Points the layer charges per record of an upsert, or of a read page.
    pub cost_per_record: u64,
}

impl AdaptiveOptions {
    /// Shopify GraphQL Admin API, standard plan: 1,000 points, 50 restored per second.
    pub fn shopify_graphql() -> Self {
        AdaptiveOptions {
            capacity: 1000,
            restore_per_second: 50,
            reserve: 0,
            cost_per_call: 1,
            cost_per_record: 0,
        }
    }

    /// A call-limit bucket (REST `X-Shopify-Shop-Api-Call-Limit: 32/40`): one
    /// point per call, `capacity` calls, `per_second` restored.
    pub fn call_limit(capacity: u64, per_second: u64) -> Self {
        AdaptiveOptions {
            capacity,
            restore_per_second: per_second,
            reserve: 0,
            cost_per_call: 1,
            cost_per_record: 0,
        }
    }

    /// Sets the points kept in reserve.
    pub fn with_reserve(mut self, reserve: u64) -> Self {
        self.reserve = reserve;
        self
    }

    /// Sets what the layer charges per call and per record.
    pub fn with_costs(mut self, per_call: u64, per_record: u64) -> Self {
        self.cost_per_call = per_call;
        self.cost_per_record = per_record;
        self
    }
}

/// What the server said about its bucket in one answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BudgetSignal {
    /// Points available right after this request.
    pub currently_available: u64,
    /// Bucket size, when reported.
    pub maximum_available: Option<u64>,
    /// Points restored per second, when reported.
    pub restore_rate: Option<u64>,
    /// What the request was expected to cost.
    pub requested_cost: Option<u64>,
    /// What it did cost.
    pub actual_cost: Option<u64>,
}

impl BudgetSignal {
    /// `currently_available` points left, nothing else known.
    pub fn new(currently_available: u64) -> Self {
        BudgetSignal {
            currently_available,
            ..BudgetSignal::default()
        }
    }

    /// Sets the bucket size.
    pub fn with_maximum(mut self, maximum: u64) -> Self {
        self.maximum_available = Some(maximum);
        self
    }

    /// Sets the restore rate (points per second).
    pub fn with_restore_rate(mut self, per_second: u64) -> Self {
        self.restore_rate = Some(per_second);
        self
    }

    /// Sets the requested and the actual cost.
    pub fn with_costs(mut self, requested: Option<u64>, actual: Option<u64>) -> Self {
        self.requested_cost = requested;
        self.actual_cost = actual;
        self
    }

    /// Reads Shopify's GraphQL `extensions.cost` object:
    /// `requestedQueryCost`, `actualQueryCost` (null when throttled) and
    /// `throttleStatus { maximumAvailable, currentlyAvailable, restoreRate }`.
    /// Numbers may be integers or decimals (`1000.0`); fractions are dropped.
    pub fn from_shopify_cost(cost: &serde_json::Value) -> Result<Self> {
        let status = cost.get("throttleStatus").ok_or_else(|| {
            Error::invalid_data("Shopify cost extension has no throttleStatus")
                .with_field("extensions.cost.throttleStatus")
        })?;
        let field = |v: &serde_json::Value, name: &str, path: &str| -> Result<Option<u64>> {
            match v.get(name) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(n) => points(n)
                    .map(Some)
                    .map_err(|e| e.with_field(format!("{path}.{name}"))),
            }
        };
        let path = "extensions.cost.throttleStatus";
        let current = field(status, "currentlyAvailable", path)?.ok_or_else(|| {
            Error::invalid_data("Shopify throttleStatus has no currentlyAvailable")
                .with_field(format!("{path}.currentlyAvailable"))
        })?;
        Ok(BudgetSignal {
            currently_available: current,
            maximum_available: field(status, "maximumAvailable", path)?,
            restore_rate: field(status, "restoreRate", path)?,
            requested_cost: field(cost, "requestedQueryCost", "extensions.cost")?,
            actual_cost: field(cost, "actualQueryCost", "extensions.cost")?,
        })
    }

    /// Reads a call-limit header such as `32/40` (32 of 40 calls used).
    pub fn from_call_limit(header: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::invalid_data(format!(
                "call-limit header {header:?} is not used/max: {why}"
            ))
        };
        let (used, max) = header.trim().split_once('/').ok_or_else(|| bad("no '/'"))?;
        let used: u64 = used
            .trim()
            .parse()
            .map_err(|_| bad("used is not a number"))?;
        let max: u64 = max.trim().parse().map_err(|_| bad("max is not a number"))?;
        if used > max {
            return Err(bad("used exceeds max"));
        }
        Ok(BudgetSignal {
            currently_available: max - used,
            maximum_available: Some(max),
            requested_cost: Some(1),
            actual_cost: Some(1),
            ..BudgetSignal::default()
        })
    }
}

/// A JSON number of points: non-negative, fractions dropped.
fn points(n: &serde_json::Value) -> Result<u64> {
    let serde_json::Value::Number(num) = n else {
        return Err(Error::invalid_data(format!(
            "expected a number of points, got {n}"
        )));
    };
    let text = num.to_string();
    let d = crate::model::money::decimal_from_json_number(&text).map_err(Error::invalid_data)?;
    if d < Decimal::ZERO {
        return Err(Error::invalid_data(format!(
            "points must not be negative, got {text}"
        )));
    }
    d.trunc()
        .to_u64()
        .ok_or_else(|| Error::invalid_data(format!("points {text} are out of range")))
}

/// What a limiter has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BudgetStats {
    /// Calls admitted.
    pub requests: u64,
    /// Points spent (actual cost when the server said, else the estimate).
    pub cost_used: u64,
    /// Time calls spent waiting for budget.
    pub waited: Duration,
    /// Answers in which the server throttled us anyway.
    pub throttled: u64,
}

struct Bucket {
    capacity: u64,
    restore: u64,
    reserve: u64,
    level: u64,
    at: Instant,
    pending: VecDeque<(u64, u64)>,
    next_id: u64,
    blocked_until: Option<Instant>,
    stats: BudgetStats,
}

impl Bucket {
    /// Refills for the time since the last reading. Only whole thousandths
    /// are added, and only the time they account for is consumed, so frequent
    /// readings lose nothing.
    fn refill(&mut self, now: Instant) {
        if self.level >= self.capacity || self.restore == 0 {
            self.level = self.level.min(self.capacity);
            self.at = now;
            return;
        }
        let elapsed = now.saturating_duration_since(self.at).as_nanos();
        let gained = elapsed * u128::from(self.restore) / NANOS_PER_SEC;
        let room = u128::from(self.capacity - self.level);
        if gained >= room {
            self.level = self.capacity;
            self.at = now;
        } else {
            self.level += gained as u64;
            let used = gained * NANOS_PER_SEC / u128::from(self.restore);
            self.at += Duration::from_nanos(used as u64);
        }
    }

    fn pending_cost(&self) -> u64 {
        self.pending.iter().map(|&(_, c)| c).sum()
    }

    /// Points (thousandths) usable now.
    fn usable(&self) -> u64 {
        self.level.saturating_sub(self.pending_cost())
    }

    /// Admits a call of `cost` now, or says how long to wait.
    fn try_reserve(&mut self, cost: u64, now: Instant) -> std::result::Result<u64, Duration> {
        self.refill(now);
        if let Some(until) = self.blocked_until {
            if until > now {
                return Err(until - now);
            }
            self.blocked_until = None;
        }
        let need = cost.saturating_add(self.reserve).min(self.capacity);
        let usable = self.usable();
        if usable >= need {
            self.next_id += 1;
            self.pending.push_back((self.next_id, cost));
            self.stats.requests += 1;
            return Ok(self.next_id);
        }
        if self.restore == 0 {
            return Err(Duration::from_secs(1));
        }
        let deficit = u128::from(need - usable);
        let ns = (deficit * NANOS_PER_SEC).div_ceil(u128::from(self.restore));
        Err(Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX)))
    }

    fn take(&mut self, id: Option<u64>) -> Option<u64> {
        let at = match id {
            Some(id) => self.pending.iter().position(|&(i, _)| i == id)?,
            None if self.pending.is_empty() => return None,
            None => 0,
        };
        self.pending.remove(at).map(|(_, cost)| cost)
    }

    /// The server's figures replace the estimate.
    fn apply(&mut self, signal: &BudgetSignal, reserved: Option<u64>, now: Instant) {
        if let Some(max) = signal.maximum_available {
            self.capacity = max.saturating_mul(MILLI);
        }
        if let Some(rate) = signal.restore_rate {
            self.restore = rate.saturating_mul(MILLI);
        }
        self.level = signal
            .currently_available
            .saturating_mul(MILLI)
            .min(self.capacity);
        self.at = now;
        let spent = signal
            .actual_cost
            .or(signal.requested_cost)
            .map(|c| c.saturating_mul(MILLI))
            .or(reserved)
            .unwrap_or(0);
        self.stats.cost_used += spent / MILLI;
    }
}

/// A cloneable handle on one budget, shared by every call against one
/// account: the layer (or the adapter) waits on it before a call, and the
/// adapter feeds it what the server reports after each answer.
///
/// Amounts are in the server's points; the clock is tokio's.
///
/// The limiter keeps an estimate of the bucket: the level the server last
/// reported, refilled at the restore rate since then, minus the cost of calls
/// sent but not yet answered. A call waits only when the estimate cannot
/// cover its cost (plus an optional reserve), and exactly as long as the
/// refill needs. Each answer replaces the estimate with the server's figure.
///
/// ```
/// use seamwork::layers::{AdaptiveLimiter, AdaptiveOptions, BudgetSignal};
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
/// let budget = AdaptiveLimiter::new(AdaptiveOptions::shopify_graphql());
/// // An adapter, around each GraphQL request:
/// let permit = budget.acquire(100).await; // the query's requested cost
/// let cost = serde_json::json!({
///     "requestedQueryCost": 100, "actualQueryCost": 40,
///     "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": 960, "restoreRate": 50.0}
/// });
/// permit.settle(&BudgetSignal::from_shopify_cost(&cost).unwrap());
/// assert_eq!(budget.available(), 960);
/// assert_eq!(budget.stats().cost_used, 40);
/// # });
/// ```
#[derive(Clone)]
pub struct AdaptiveLimiter {
    bucket: Arc<Mutex<Bucket>>,
    options: Arc<AdaptiveOptions>,
}

impl std::fmt::Debug for AdaptiveLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdaptiveLimiter")
            .field("available", &self.available())
            .field("capacity", &self.capacity())
            .field("stats", &self.stats())
            .finish()
    }
}

impl AdaptiveLimiter {
    /// A limiter that assumes a full bucket as `options` describe it.
    pub fn new(options: AdaptiveOptions) -> Self {
        let capacity = options.capacity.saturating_mul(MILLI);
        let bucket = Bucket {
            capacity,
            restore: options.restore_per_second.saturating_mul(MILLI),
            reserve: options.reserve.saturating_mul(MILLI),
            level: capacity,
            at: Instant::now(),
            pending: VecDeque::new(),
            next_id: 0,
            blocked_until: None,
            stats: BudgetStats::default(),
        };
        AdaptiveLimiter {
            bucket: Arc::new(Mutex::new(bucket)),
            options: Arc::new(options),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Bucket> {
        // Updated whole under the lock: a panic elsewhere leaves it consistent.
        self.bucket.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The options it was built with.
    pub fn options(&self) -> &AdaptiveOptions {
        &self.options
    }

    /// Waits until the budget covers `cost` points (a call costing more than
    /// the whole bucket waits for a full bucket), then reserves them.
    pub async fn acquire(&self, cost: u64) -> BudgetPermit {
        let cost_m = cost.saturating_mul(MILLI);
        let mut waited = Duration::ZERO;
        loop {
            let outcome = self.lock().try_reserve(cost_m, Instant::now());
            match outcome {
                Ok(id) => {
                    if !waited.is_zero() {
                        self.lock().stats.waited += waited;
                    }
                    return BudgetPermit {
                        limiter: self.clone(),
                        id,
                        waited,
                        done: false,
                    };
                }
                Err(wait) => {
                    tokio::time::sleep(wait).await;
                    waited += wait;
                }
            }
        }
    }

    /// Feeds an answer's budget figures that no permit is at hand for; they
    /// settle the oldest call still waiting for its answer.
    pub fn observe(&self, signal: &BudgetSignal) {
        let mut b = self.lock();
        let reserved = b.take(None);
        b.apply(signal, reserved, Instant::now());
    }

    /// Records that the server throttled a call anyway: the bucket is taken
    /// as empty, and with a `retry_after` no call starts before it has passed.
    pub fn throttled(&self, retry_after: Option<Duration>) {
        let mut b = self.lock();
        b.take(None);
        Self::empty(&mut b, retry_after);
    }

    /// A throttle seen where no reservation is at hand (a failed page of a read).
    fn note_throttle(&self, retry_after: Option<Duration>) {
        Self::empty(&mut self.lock(), retry_after);
    }

    fn empty(b: &mut Bucket, retry_after: Option<Duration>) {
        let now = Instant::now();
        b.stats.throttled += 1;
        b.level = 0;
        b.at = now;
        b.blocked_until = retry_after.map(|d| now + d);
    }

    /// Points usable now (the estimate, net of calls in flight).
    pub fn available(&self) -> u64 {
        let mut b = self.lock();
        b.refill(Instant::now());
        b.usable() / MILLI
    }

    /// The bucket size as last known.
    pub fn capacity(&self) -> u64 {
        self.lock().capacity / MILLI
    }

    /// Requests, cost, time waited and throttles so far.
    pub fn stats(&self) -> BudgetStats {
        self.lock().stats
    }
}

/// Budget reserved for one call. Settle it with the answer's figures;
/// dropped unsettled, its estimated cost counts as spent.
#[must_use = "a permit is settled with the answer's budget figures, or dropped after the call"]
pub struct BudgetPermit {
    limiter: AdaptiveLimiter,
    id: u64,
    waited: Duration,
    done: bool,
}

impl BudgetPermit {
    /// How long the call waited for budget.
    pub fn waited(&self) -> Duration {
        self.waited
    }

    /// The answer's figures replace the estimate.
    pub fn settle(mut self, signal: &BudgetSignal) {
        self.done = true;
        let mut b = self.limiter.lock();
        let reserved = b.take(Some(self.id));
        b.apply(signal, reserved, Instant::now());
    }

    /// The call was not made after all: the reservation is returned, nothing spent.
    pub fn cancel(mut self) {
        self.done = true;
        let mut b = self.limiter.lock();
        if b.take(Some(self.id)).is_some() {
            b.stats.requests = b.stats.requests.saturating_sub(1);
        }
    }

    /// The server throttled this call: it cost nothing, and the bucket is
    /// taken as empty (see [`AdaptiveLimiter::throttled`]).
    pub fn throttled(mut self, retry_after: Option<Duration>) {
        self.done = true;
        let mut b = self.limiter.lock();
        b.take(Some(self.id));
        AdaptiveLimiter::empty(&mut b, retry_after);
    }
}

/// A read's page permit: when the stream ends before another page, no call
/// was made; when the page failed, the next answer corrects the estimate.
impl super::stream::Hold for BudgetPermit {
    fn unused(self) {
        self.cancel();
    }
}

impl Drop for BudgetPermit {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut b = self.limiter.lock();
        if let Some(cost) = b.take(Some(self.id)) {
            b.refill(Instant::now());
            b.level = b.level.saturating_sub(cost);
            b.stats.cost_used += cost / MILLI;
        }
    }
}

/// Paces calls with an [`AdaptiveLimiter`]: each call first waits for its
/// estimated cost (`cost_per_call` + `cost_per_record` × records; a read
/// pays per page of `max_page` records). A `RateLimited` answer (or read
/// error) is reported to the limiter as a throttle by the layer, so the
/// adapter must not report it again; the adapter feeds the same limiter (a
/// clone) the server's figures from each successful answer with
/// [`AdaptiveLimiter::observe`].
///
/// The capability's `max_batch` is lowered to the largest batch the bucket
/// can ever pay for.
#[derive(Debug, Clone)]
pub struct AdaptiveRateLimitLayer {
    limiter: AdaptiveLimiter,
}

impl AdaptiveRateLimitLayer {
    /// Paces calls on `limiter`.
    pub fn new(limiter: AdaptiveLimiter) -> Self {
        AdaptiveRateLimitLayer { limiter }
    }

    /// The limiter (a clone shares it).
    pub fn limiter(&self) -> &AdaptiveLimiter {
        &self.limiter
    }
}

impl<S> Layer<S> for AdaptiveRateLimitLayer {
    type Output = AdaptiveRateLimit<S>;

    fn layer(&self, inner: S) -> AdaptiveRateLimit<S> {
        AdaptiveRateLimit {
            inner: Arc::new(inner),
            limiter: self.limiter.clone(),
        }
    }
}

/// A connector behind an [`AdaptiveRateLimitLayer`].
pub struct AdaptiveRateLimit<S> {
    inner: Arc<S>,
    limiter: AdaptiveLimiter,
}

impl<S: Connector> Connector for AdaptiveRateLimit<S> {
    fn system(&self) -> &SystemId {
        self.inner.system()
    }

    fn capability(&self, kind: EntityKind) -> Capability {
        let mut cap = self.inner.capability(kind);
        let o = self.limiter.options();
        let spendable = self
            .limiter
            .capacity()
            .saturating_sub(o.cost_per_call)
            .saturating_sub(o.reserve);
        if let Some(affordable) = spendable.checked_div(o.cost_per_record) {
            let affordable = usize::try_from(affordable.max(1)).unwrap_or(usize::MAX);
            cap.max_batch = Some(cap.max_batch.map_or(affordable, |m| m.min(affordable)));
        }
        cap
    }
}

impl AdaptiveLimiter {
    fn cost_of(&self, records: usize) -> u64 {
        let o = &self.options;
        o.cost_per_call
            .saturating_add(o.cost_per_record.saturating_mul(records as u64))
    }
}

#[async_trait]
impl<E: Entity, S: Sink<E>> Sink<E> for AdaptiveRateLimit<S> {
    async fn upsert(&self, batch: &[E]) -> Result<Vec<WriteOutcome>> {
        let permit = self
            .limiter
            .acquire(self.limiter.cost_of(batch.len()))
            .await;
        let system = self.inner.system().as_str();
        count_limiter_wait(system, permit.waited());
        let result = self.inner.upsert(batch).await;
        if let Err(e) = &result
            && let ErrorKind::RateLimited { retry_after } = e.kind()
        {
            count_throttle(system, E::KIND.name(), e);
            permit.throttled(*retry_after);
        }
        result
    }
}

impl<E: Entity, S: Source<E> + 'static> Source<E> for AdaptiveRateLimit<S> {
    fn read(&self, since: Option<Cursor>) -> RecordStream<E> {
        let page = self.inner.capability(E::KIND).max_page.unwrap_or(0);
        let cost = self.limiter.cost_of(page);
        let paced = paced_read(
            Arc::clone(&self.inner),
            since,
            (self.limiter.clone(), cost),
            |(limiter, cost), system| {
                Box::pin(async move {
                    // Held until the page's first record: by then the adapter
                    // has observed the answer, which settles this permit.
                    let permit = limiter.acquire(cost).await;
                    count_limiter_wait(&system, permit.waited());
                    permit
                })
            },
        );
        let limiter = self.limiter.clone();
        let system = self.inner.system().as_str().to_string();
        Watch::boxed(paced, tracing::Span::none(), move |item| {
            if let Some(Err(e)) = item
                && let ErrorKind::RateLimited { retry_after } = e.kind()
            {
                count_throttle(&system, E::KIND.name(), e);
                limiter.note_throttle(*retry_after);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shopify_cost_extension_is_read_exactly() {
        let cost = serde_json::json!({
            "requestedQueryCost": 101,
            "actualQueryCost": null,
            "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1899, "restoreRate": 100.0}
        });
        let s = BudgetSignal::from_shopify_cost(&cost).unwrap();
        assert_eq!(
            s,
            BudgetSignal::new(1899)
                .with_maximum(2000)
                .with_restore_rate(100)
                .with_costs(Some(101), None)
        );
    }

    #[test]
    fn malformed_cost_extensions_are_errors_naming_the_field() {
        for (bad, field) in [
            (serde_json::json!({}), "extensions.cost.throttleStatus"),
            (
                serde_json::json!({"throttleStatus": {"currentlyAvailable": -1}}),
                "extensions.cost.throttleStatus.currentlyAvailable",
            ),
            (
                serde_json::json!({"throttleStatus": {"currentlyAvailable": "x"}}),
                "extensions.cost.throttleStatus.currentlyAvailable",
            ),
            (
                serde_json::json!({"requestedQueryCost": 1e300, "throttleStatus": {"currentlyAvailable": 1}}),
                "extensions.cost.requestedQueryCost",
            ),
        ] {
            let err = BudgetSignal::from_shopify_cost(&bad).unwrap_err();
            assert_eq!(err.kind(), &ErrorKind::InvalidData, "{bad}");
            assert_eq!(err.context().field.as_deref(), Some(field), "{bad}: {err}");
        }
    }

    #[test]
    fn call_limit_headers() {
        let s = BudgetSignal::from_call_limit("32/40").unwrap();
        assert_eq!(s.currently_available, 8);
        assert_eq!(s.maximum_available, Some(40));
        for bad in ["32", "x/40", "41/40", "", "1/-2"] {
            assert!(BudgetSignal::from_call_limit(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_waits_exactly_for_the_refill_it_needs() {
        let budget = AdaptiveLimiter::new(AdaptiveOptions::call_limit(40, 2));
        budget
            .acquire(1)
            .await
            .settle(&BudgetSignal::from_call_limit("40/40").unwrap());
        let permit = budget.acquire(1).await;
        // One call restores in half a second at 2 per second.
        assert_eq!(permit.waited(), Duration::from_millis(500));
        assert_eq!(budget.stats().waited, Duration::from_millis(500));
    }

    #[tokio::test(start_paused = true)]
    async fn calls_in_flight_count_against_the_budget() {
        let budget = AdaptiveLimiter::new(AdaptiveOptions::call_limit(3, 1));
        let a = budget.acquire(1).await;
        let b = budget.acquire(1).await;
        assert_eq!(budget.available(), 1);
        drop(a); // no answer: the estimate counts as spent
        b.settle(&BudgetSignal::new(1));
        assert_eq!(budget.available(), 1);
        assert_eq!(budget.stats().requests, 2);
        assert_eq!(budget.stats().cost_used, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttle_empties_the_bucket_and_honours_retry_after() {
        let budget = AdaptiveLimiter::new(AdaptiveOptions::shopify_graphql());
        budget
            .acquire(10)
            .await
            .throttled(Some(Duration::from_secs(3)));
        let permit = budget.acquire(10).await;
        // The retry-after (3 s) is longer than the refill of 10 points (0.2 s) and comes first.
        assert!(
            permit.waited() >= Duration::from_secs(3),
            "{:?}",
            permit.waited()
        );
        assert!(
            permit.waited() <= Duration::from_millis(3200),
            "{:?}",
            permit.waited()
        );
        assert_eq!(budget.stats().throttled, 1);
    }

    #[test]
    fn frequent_readings_lose_no_refill() {
        let start = Instant::now();
        let mut b = Bucket {
            capacity: 1000 * MILLI,
            restore: 3 * MILLI, // 3 points/s: one thousandth every 333,333.3 ns
            reserve: 0,
            level: 0,
            at: start,
            pending: VecDeque::new(),
            next_id: 0,
            blocked_until: None,
            stats: BudgetStats::default(),
        };
        for i in 1..=10_000u64 {
            b.refill(start + Duration::from_nanos(i * 100_000));
        }
        // One second in steps of 0.1 ms: exactly 3 points.
        assert_eq!(b.level, 3 * MILLI);
    }
}
