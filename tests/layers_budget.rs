//! Pacing math of the limiters on tokio's paused clock, against a simulated
//! server bucket that throttles exactly as a leaky bucket does: the adaptive
//! limiter spends nearly all of the budget and is never throttled; back-off
//! delays stay in their bounds.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::TryStreamExt;
use proptest::prelude::*;
use seamwork::connector::memory::{Dataset, SeedOptions};
use seamwork::connector::{
    Capability, Connector, Cursor, Entity, EntityKind, Page, Record, RecordStream, Sink, Source,
    WriteOutcome, WriteResult, paginate,
};
use seamwork::layers::{
    AdaptiveLimiter, AdaptiveOptions, AdaptiveRateLimitLayer, BudgetSignal, LayerExt, RetryOptions,
};
use seamwork::model::{ExternalRef, SystemId, Variant};
use seamwork::{Error, Result};
use tokio::time::Instant;

const MILLI: u128 = 1000;

/// A server-side leaky bucket in thousandths of a point, refilled exactly.
#[derive(Debug)]
struct ServerBucket {
    capacity: u128,
    restore: u128,
    level: u128,
    origin: Instant,
    /// Refill accounted up to this many nanoseconds after `origin`.
    accounted_ns: u128,
    throttled: u64,
    /// Level seen by each admitted call before it paid, in thousandths.
    seen: Vec<u128>,
}

impl ServerBucket {
    fn new(capacity: u64, restore: u64) -> Self {
        ServerBucket {
            capacity: u128::from(capacity) * MILLI,
            restore: u128::from(restore) * MILLI,
            level: u128::from(capacity) * MILLI,
            origin: Instant::now(),
            accounted_ns: 0,
            throttled: 0,
            seen: Vec::new(),
        }
    }

    fn refill(&mut self) {
        let now = self.origin.elapsed().as_nanos();
        let gained = (now - self.accounted_ns) * self.restore / 1_000_000_000;
        self.accounted_ns += gained * 1_000_000_000 / self.restore;
        self.level = (self.level + gained).min(self.capacity);
        if self.level == self.capacity {
            self.accounted_ns = now;
        }
    }

    /// Pays `requested` if the bucket holds it, keeping `requested - actual` back.
    fn pay(&mut self, requested: u64, actual: u64) -> bool {
        self.refill();
        let requested = u128::from(requested) * MILLI;
        if self.level < requested {
            self.throttled += 1;
            return false;
        }
        self.seen.push(self.level);
        self.level -= u128::from(actual) * MILLI;
        true
    }

    fn points(&self) -> u64 {
        (self.level / MILLI) as u64
    }
}

/// How the simulated server reports its budget.
#[derive(Clone, Copy)]
enum Dialect {
    /// GraphQL cost extension; a query costs 1 + 10 per record, 80% of it actually.
    GraphQl,
    /// `X-Shopify-Shop-Api-Call-Limit: used/max`, one point per call.
    CallLimit,
    /// GraphQL cost of a read page of this many records, whatever the batch.
    Page(u64),
}

/// A storefront whose writes spend a leaky-bucket budget, feeding the
/// limiter the figures its answers carry, as an adapter does.
struct BudgetServer {
    system: SystemId,
    bucket: Mutex<ServerBucket>,
    limiter: AdaptiveLimiter,
    dialect: Dialect,
}

impl Connector for BudgetServer {
    fn system(&self) -> &SystemId {
        &self.system
    }

    fn capability(&self, _: EntityKind) -> Capability {
        Capability::new().with_max_batch(Some(250))
    }
}

#[async_trait]
impl Sink<Variant> for BudgetServer {
    async fn upsert(&self, batch: &[Variant]) -> Result<Vec<WriteOutcome>> {
        let mut b = self.bucket.lock().unwrap();
        let (requested, actual) = match self.dialect {
            Dialect::GraphQl => {
                let r = 1 + 10 * batch.len() as u64;
                (r, r * 8 / 10)
            }
            Dialect::Page(records) => {
                let r = 1 + 10 * records;
                (r, r * 8 / 10)
            }
            Dialect::CallLimit => (1, 1),
        };
        if !b.pay(requested, actual) {
            return Err(Error::rate_limited(None, "THROTTLED"));
        }
        let signal = match self.dialect {
            Dialect::GraphQl | Dialect::Page(_) => {
                BudgetSignal::from_shopify_cost(&serde_json::json!({
                    "requestedQueryCost": requested,
                    "actualQueryCost": actual,
                    "throttleStatus": {
                        "maximumAvailable": (b.capacity / MILLI) as u64,
                        "currentlyAvailable": b.points(),
                        "restoreRate": (b.restore / MILLI) as u64,
                    }
                }))?
            }
            Dialect::CallLimit => {
                let max = (b.capacity / MILLI) as u64;
                BudgetSignal::from_call_limit(&format!("{}/{max}", max - b.points()))?
            }
        };
        self.limiter.observe(&signal);
        Ok(batch
            .iter()
            .map(|v| {
                WriteOutcome::new(
                    v.key(),
                    WriteResult::Updated {
                        external_id: v.sku.to_string(),
                    },
                )
            })
            .collect())
    }
}

fn server(
    dialect: Dialect,
    capacity: u64,
    restore: u64,
    limiter: &AdaptiveLimiter,
) -> BudgetServer {
    BudgetServer {
        system: SystemId::new("shop").unwrap(),
        bucket: Mutex::new(ServerBucket::new(capacity, restore)),
        limiter: limiter.clone(),
        dialect,
    }
}

fn variants() -> Vec<Variant> {
    Dataset::generate(&SeedOptions::small()).unwrap().variants
}

#[tokio::test(start_paused = true)]
async fn graphql_budget_is_spent_fully_and_never_throttled() {
    let limiter = AdaptiveLimiter::new(AdaptiveOptions::shopify_graphql().with_costs(1, 10));
    let shop = Arc::new(server(Dialect::GraphQl, 1000, 50, &limiter));
    let sink = Arc::clone(&shop).layer(AdaptiveRateLimitLayer::new(limiter.clone()));
    // The bucket can never pay for more than 99 records at 10 points each.
    assert_eq!(sink.capability(EntityKind::Variant).max_batch, Some(99));

    let variants = variants();
    let start = Instant::now();
    for _ in 0..300 {
        sink.upsert(&variants[..10]).await.unwrap();
    }
    let elapsed = start.elapsed();
    let bucket = shop.bucket.lock().unwrap();
    assert_eq!(bucket.throttled, 0);
    let stats = limiter.stats();
    assert_eq!(stats.throttled, 0);
    assert_eq!(stats.requests, 300);
    assert_eq!(stats.cost_used, 300 * 80);
    // 300 queries that request 101 points and cost 80, a full bucket of 1,000
    // first, 50 points/s: the least time possible is about (24,000 − 1,000) / 50 s.
    let ideal = Duration::from_secs((300 * 80 - 1000) / 50);
    assert!(
        elapsed <= ideal + ideal / 100,
        "{elapsed:?} vs ideal {ideal:?}"
    );
    assert!(
        elapsed + Duration::from_secs(2) >= ideal,
        "{elapsed:?} vs ideal {ideal:?}"
    );
    assert!(stats.waited + Duration::from_secs(1) >= elapsed);
    // Once the first bucket is spent, calls go out when the bucket holds just
    // their cost: the average level they find is low (budget well used).
    let steady = &bucket.seen[20..];
    let average = steady.iter().sum::<u128>() / steady.len() as u128 / MILLI;
    assert!(average <= 115, "average level {average} of 1000");
}

#[tokio::test(start_paused = true)]
async fn call_limit_headers_pace_rest_calls() {
    let limiter = AdaptiveLimiter::new(AdaptiveOptions::call_limit(40, 2));
    let shop = Arc::new(server(Dialect::CallLimit, 40, 2, &limiter));
    let sink = Arc::clone(&shop).layer(AdaptiveRateLimitLayer::new(limiter.clone()));
    let variants = variants();
    let start = Instant::now();
    for _ in 0..200 {
        sink.upsert(&variants[..1]).await.unwrap();
    }
    assert_eq!(shop.bucket.lock().unwrap().throttled, 0);
    // 40 at once, then 2 per second: 80 s for the other 160.
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_secs(80), "{elapsed:?}");
    assert!(elapsed <= Duration::from_millis(80_500), "{elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn a_throttle_from_the_server_is_reported_and_waited_out() {
    // Another client emptied the bucket; the limiter assumes it full, so its first call is throttled.
    let limiter = AdaptiveLimiter::new(AdaptiveOptions::call_limit(40, 2));
    let shop = Arc::new(server(Dialect::CallLimit, 40, 2, &limiter));
    shop.bucket.lock().unwrap().level = 0;
    let sink = Arc::clone(&shop).layer(AdaptiveRateLimitLayer::new(limiter.clone()));
    let variants = variants();
    let mut throttles = 0;
    for _ in 0..100 {
        if let Err(e) = sink.upsert(&variants[..1]).await {
            assert!(e.is_retryable());
            throttles += 1;
        }
    }
    // The throttle empties the estimate; the calls after it wait for the refill.
    assert_eq!(throttles, 1);
    assert_eq!(shop.bucket.lock().unwrap().throttled, 1);
    assert_eq!(limiter.stats().throttled, 1);
    assert_eq!(limiter.stats().requests, 100);
}

/// A storefront whose paged reads spend the budget: a page of `page` records
/// requests 1 + 10 per record and costs 80% of that.
struct BudgetSource {
    shop: Arc<BudgetServer>,
    variants: Vec<Variant>,
    pages: usize,
    page: usize,
}

impl Connector for BudgetSource {
    fn system(&self) -> &SystemId {
        &self.shop.system
    }

    fn capability(&self, _: EntityKind) -> Capability {
        Capability::new().with_max_page(Some(self.page))
    }
}

impl Source<Variant> for BudgetSource {
    fn read(&self, since: Option<Cursor>) -> RecordStream<Variant> {
        let (shop, variants, pages, page) = (
            Arc::clone(&self.shop),
            self.variants.clone(),
            self.pages,
            self.page,
        );
        paginate(since, move |cursor| {
            let (shop, variants) = (Arc::clone(&shop), variants.clone());
            async move {
                let n: usize = cursor.map_or(0, |c| c.as_str().parse().unwrap());
                let records = (0..page)
                    .map(|i| {
                        let v = variants[(n * page + i) % variants.len()].clone();
                        let at = chrono::Utc::now();
                        Record::new(
                            v,
                            ExternalRef::new("shop", "x"),
                            Cursor::new((n + 1).to_string()),
                            at,
                        )
                    })
                    .collect::<Vec<_>>();
                // The server charges for the page and the adapter feeds the limiter.
                shop.upsert(&[]).await?;
                let next = (n + 1 < pages).then(|| Cursor::new((n + 1).to_string()));
                Ok(Page::new(records, next))
            }
        })
    }
}

#[tokio::test(start_paused = true)]
async fn paged_reads_spend_the_budget_page_by_page() {
    let limiter = AdaptiveLimiter::new(AdaptiveOptions::shopify_graphql().with_costs(1, 10));
    // The page cost is charged by the server as one "upsert" of 5 records' worth.
    let shop = Arc::new(server(Dialect::Page(5), 1000, 50, &limiter));
    let source = BudgetSource {
        shop: Arc::clone(&shop),
        variants: variants(),
        pages: 120,
        page: 5,
    }
    .layer(AdaptiveRateLimitLayer::new(limiter.clone()));
    let start = Instant::now();
    let n = source
        .read(None)
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .len();
    assert_eq!(n, 600);
    assert_eq!(shop.bucket.lock().unwrap().throttled, 0);
    let stats = limiter.stats();
    // One permit per page, settled by the page's answer; none left over at the end.
    assert_eq!(stats.requests, 120);
    assert_eq!(stats.cost_used, 120 * 40);
    // 120 pages of 40 points after a full bucket of 1,000, at 50 points/s.
    let ideal = Duration::from_secs((120 * 40 - 1000) / 50);
    let elapsed = start.elapsed();
    assert!(elapsed <= ideal + ideal / 50, "{elapsed:?} vs {ideal:?}");
    assert!(
        elapsed + Duration::from_secs(2) >= ideal,
        "{elapsed:?} vs {ideal:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the costs and the pauses between calls, a limiter fed the
    /// server's figures never sends a call the bucket cannot pay for, and
    /// never waits longer than the refill needs (give or take the point the
    /// server rounds its figure down by).
    #[test]
    fn the_limiter_never_overdraws_and_never_dawdles(
        calls in prop::collection::vec((1u64..=300, 0u64..1_500, 0u64..=100), 1..60),
        restore in 1u64..100,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let limiter = AdaptiveLimiter::new(AdaptiveOptions::call_limit(1000, restore));
            let mut bucket = ServerBucket::new(1000, restore);
            for (cost, pause_ms, refund_pct) in calls {
                tokio::time::sleep(Duration::from_millis(pause_ms)).await;
                let permit = limiter.acquire(cost).await;
                let actual = cost * (100 - refund_pct) / 100;
                bucket.refill();
                let before = bucket.level;
                prop_assert!(bucket.pay(cost, actual), "overdrawn: cost {cost}, level {before}");
                if !permit.waited().is_zero() {
                    let slack = before - u128::from(cost) * MILLI;
                    prop_assert!(slack < 2 * MILLI, "waited too long: {slack} thousandths to spare");
                }
                permit.settle(
                    &BudgetSignal::new(bucket.points())
                        .with_maximum(1000)
                        .with_restore_rate(restore)
                        .with_costs(Some(cost), Some(actual)),
                );
            }
            Ok(())
        })?;
    }

    /// Back-off steps: `max_attempts - 1` of them, each `min(min · 2ⁿ, max)`
    /// plus at most as much again of jitter.
    #[test]
    fn backoff_steps_stay_within_bounds(
        attempts in 1u32..20,
        min_ms in 1u64..5_000,
        extra_ms in 0u64..60_000,
        seed in any::<u64>(),
        jitter in any::<bool>(),
    ) {
        let (min, max) = (Duration::from_millis(min_ms), Duration::from_millis(min_ms + extra_ms));
        let options = RetryOptions::default()
            .with_max_attempts(attempts)
            .with_delays(min, max)
            .with_jitter(jitter)
            .with_jitter_seed(seed);
        let steps: Vec<Duration> = options.backoff().collect();
        prop_assert_eq!(steps.len(), attempts as usize - 1);
        let cap = if jitter { max * 2 } else { max };
        for (n, step) in steps.iter().enumerate() {
            let base = min.saturating_mul(1u32 << n.min(31)).min(max);
            // backon doubles with an f32 factor: allow its rounding (a millionth).
            let slack = base / 1_000_000 + Duration::from_micros(1);
            prop_assert!(*step + slack >= base, "step {n}: {step:?} < {base:?}");
            let top = if jitter { base * 2 } else { base };
            prop_assert!(*step <= top + slack, "step {n}: {step:?} > {top:?}");
            prop_assert!(*step <= cap, "step {n}: {step:?} above the cap {cap:?}");
        }
    }
}
