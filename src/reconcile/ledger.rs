//! The drift ledger: the history of reconciliation runs per (pair of
//! systems, entity), and what it shows — keys that stay wrong run after run
//! (persistent drift), a systematic bias of a field within a dimension (ERP
//! `on_hand` at DC-EAST is on average +2 above the store), and whether the
//! drift rate is rising, steady or falling.
//!
//! ```
//! use chrono::Utc;
//! use seamwork::reconcile::{
//!     analyze, diff_tables, DiffOptions, DiffSpec, DriftLedger, DriftOptions, LedgerKey,
//!     MemoryLedger, RunRecord, Table,
//! };
//!
//! # futures::executor::block_on(async {
//! let ledger = MemoryLedger::new(100);
//! let key = LedgerKey::new("erp", "store", "inventory_level");
//! let spec = DiffSpec::new(["sku"]);
//! for _ in 0..3 {
//!     let l = Table::from_csv("erp", "sku,qty\nA,1\nB,2\n".into(), &spec).unwrap();
//!     let r = Table::from_csv("store", "sku,qty\nA,1\nB,5\n".into(), &spec).unwrap();
//!     let report = diff_tables(&l, &r, &spec, &DiffOptions::default()).unwrap();
//!     ledger.record(&key, RunRecord::from_report(&report, Utc::now())).await.unwrap();
//! }
//! let runs = ledger.runs(&key, 10).await.unwrap();
//! let drift = analyze(&runs, &DriftOptions::default());
//! assert_eq!(drift.persistent[0].key.to_string(), "B");
//! # });
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::diff::{DiffKind, DiffReport, Summary};
use crate::connector::EntityKey;
use crate::error::Result;

/// Which two systems and which entity a history belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LedgerKey {
    /// The left system (`erp`).
    pub left: String,
    /// The right system (`store`).
    pub right: String,
    /// The entity kind or table (`inventory_level`).
    pub entity: String,
}

impl LedgerKey {
    /// A key for `left` vs `right` on `entity`.
    pub fn new(
        left: impl Into<String>,
        right: impl Into<String>,
        entity: impl Into<String>,
    ) -> Self {
        LedgerKey {
            left: left.into(),
            right: right.into(),
            entity: entity.into(),
        }
    }
}

/// The deltas of one numeric field within one dimension value in one run.
/// Compared keys that matched count as delta 0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeltaStats {
    /// Keys compared (matched + mismatched) in the dimension value.
    pub compared: u64,
    /// Sum of `right − left` over the mismatched keys.
    pub sum: Decimal,
    /// Sum of squared deltas.
    pub sum_sq: Decimal,
}

/// One reconciliation run as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunRecord {
    /// When the run happened.
    pub at: DateTime<Utc>,
    /// Its counts.
    pub summary: Summary,
    /// Every differing key and how it differed.
    pub keys: BTreeMap<EntityKey, DiffKind>,
    /// Deltas per dimension value (`""` without a dimension), then per field.
    pub deltas: BTreeMap<String, BTreeMap<String, DeltaStats>>,
}

impl RunRecord {
    /// What the ledger keeps of `report`.
    pub fn from_report(report: &DiffReport, at: DateTime<Utc>) -> Self {
        let s = &report.summary;
        let mut deltas: BTreeMap<String, BTreeMap<String, DeltaStats>> = BTreeMap::new();
        let compared: HashMap<&str, u64> = if s.by_dimension.is_empty() {
            HashMap::from([("", s.matched + s.mismatched)])
        } else {
            s.by_dimension
                .iter()
                .map(|(d, c)| (d.as_str(), c.matched + c.mismatched))
                .collect()
        };
        let mut keys = BTreeMap::new();
        for d in &report.differences {
            keys.insert(EntityKey::composite(&d.key), d.kind);
            let dim = if s.by_dimension.is_empty() {
                ""
            } else {
                d.dimension.as_deref().unwrap_or("")
            };
            for f in &d.fields {
                let Some(delta) = f.delta else { continue };
                let e = deltas
                    .entry(dim.to_string())
                    .or_default()
                    .entry(f.field.clone())
                    .or_default();
                e.sum = e.sum.saturating_add(delta);
                e.sum_sq = e.sum_sq.saturating_add(delta.saturating_mul(delta));
            }
        }
        for (dim, fields) in &mut deltas {
            let n = compared.get(dim.as_str()).copied().unwrap_or(0);
            for stats in fields.values_mut() {
                stats.compared = n;
            }
        }
        RunRecord {
            at,
            summary: report.summary.clone(),
            keys,
            deltas,
        }
    }

    /// Differing keys per compared row (0 when nothing was compared).
    pub fn drift_rate(&self) -> Decimal {
        let s = &self.summary;
        let rows = s.left_rows.max(s.right_rows);
        if rows == 0 {
            return Decimal::ZERO;
        }
        Decimal::from(s.differences()) / Decimal::from(rows)
    }
}

/// Where reconciliation runs are kept. The memory ledger is here; the
/// persistent one comes with the state store.
#[async_trait]
pub trait DriftLedger: Send + Sync {
    /// Appends a run to the history of `key`.
    async fn record(&self, key: &LedgerKey, run: RunRecord) -> Result<()>;

    /// The last `last` runs of `key`, oldest first.
    async fn runs(&self, key: &LedgerKey, last: usize) -> Result<Vec<RunRecord>>;
}

/// A ledger in memory, keeping the last `retain` runs per key.
#[derive(Debug)]
pub struct MemoryLedger {
    retain: usize,
    runs: Mutex<BTreeMap<LedgerKey, Vec<RunRecord>>>,
}

impl MemoryLedger {
    /// A ledger keeping up to `retain` runs per key (at least 1).
    pub fn new(retain: usize) -> Self {
        MemoryLedger {
            retain: retain.max(1),
            runs: Mutex::new(BTreeMap::new()),
        }
    }
}

#[async_trait]
impl DriftLedger for MemoryLedger {
    async fn record(&self, key: &LedgerKey, run: RunRecord) -> Result<()> {
        let mut all = self.runs.lock().expect("ledger lock poisoned");
        let runs = all.entry(key.clone()).or_default();
        runs.push(run);
        if runs.len() > self.retain {
            let extra = runs.len() - self.retain;
            runs.drain(..extra);
        }
        Ok(())
    }

    async fn runs(&self, key: &LedgerKey, last: usize) -> Result<Vec<RunRecord>> {
        let all = self.runs.lock().expect("ledger lock poisoned");
        let runs = all.get(key).map_or(&[][..], Vec::as_slice);
        Ok(runs[runs.len().saturating_sub(last)..].to_vec())
    }
}

/// What counts as drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DriftOptions {
    /// A key differing in this many consecutive runs (up to the latest) is persistent drift.
    pub persistent_runs: usize,
    /// Bias is measured over the last this many runs.
    pub bias_runs: usize,
    /// A bias is reported when |t| of the mean delta is at least this (a
    /// one-sample t statistic; 4 keeps noise out even though the same keys recur).
    pub bias_t: Decimal,
    /// ... and at least this many keys were compared in the dimension.
    pub bias_min_samples: u64,
    /// ... and the mean delta is at least this large in magnitude.
    pub bias_min_mean: Decimal,
    /// The trend is fitted over the last this many runs.
    pub trend_runs: usize,
    /// Rising/falling when the fitted change over the window is at least this
    /// fraction of the mean rate (0.25 = 25 %) ...
    pub trend_change: Decimal,
    /// ... and the slope's t statistic reaches this (3: noise between runs
    /// does not make a trend).
    pub trend_t: Decimal,
}

impl Default for DriftOptions {
    fn default() -> Self {
        DriftOptions {
            persistent_runs: 3,
            bias_runs: 5,
            bias_t: Decimal::from(4),
            bias_min_samples: 30,
            bias_min_mean: Decimal::ZERO,
            trend_runs: 5,
            trend_change: Decimal::new(25, 2),
            trend_t: Decimal::from(3),
        }
    }
}

impl DriftOptions {
    /// Sets how many consecutive runs make drift persistent (at least 1).
    pub fn with_persistent_runs(mut self, runs: usize) -> Self {
        self.persistent_runs = runs.max(1);
        self
    }

    /// Sets how many runs bias is measured over (at least 1).
    pub fn with_bias_runs(mut self, runs: usize) -> Self {
        self.bias_runs = runs.max(1);
        self
    }

    /// Sets the |t| a bias must reach.
    pub fn with_bias_t(mut self, t: Decimal) -> Self {
        self.bias_t = t;
        self
    }

    /// Sets how many runs the trend is fitted over (at least 2).
    pub fn with_trend_runs(mut self, runs: usize) -> Self {
        self.trend_runs = runs.max(2);
        self
    }
}

/// A key that stayed different.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PersistentDrift {
    /// The key.
    pub key: EntityKey,
    /// Consecutive runs, up to the latest, in which it differed.
    pub runs: usize,
    /// How it differed in the latest run.
    pub kind: DiffKind,
}

/// A field that is off in one direction within a dimension value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Bias {
    /// The dimension value (`""` when the runs had no dimension).
    pub dimension: String,
    /// The field.
    pub field: String,
    /// Mean `right − left` per compared key (4 decimals).
    pub mean: Decimal,
    /// The t statistic of the mean (2 decimals).
    pub t: Decimal,
    /// Keys compared over the runs.
    pub samples: u64,
    /// Runs the measure covers.
    pub runs: usize,
}

/// Where the drift rate is going.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    /// Fewer than two runs.
    Unknown,
    /// The rate grows.
    Rising,
    /// The rate holds.
    Steady,
    /// The rate shrinks.
    Falling,
}

/// What the ledger's runs show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DriftAnalysis {
    /// Keys differing in at least `persistent_runs` consecutive runs, most persistent first.
    pub persistent: Vec<PersistentDrift>,
    /// Significant biases, strongest first.
    pub bias: Vec<Bias>,
    /// The drift-rate trend.
    pub trend: Trend,
    /// The drift rate (differing keys per row) of each run, oldest first.
    pub rates: Vec<Decimal>,
}

/// Reads persistent drift, bias and the trend from `runs` (oldest first).
pub fn analyze(runs: &[RunRecord], options: &DriftOptions) -> DriftAnalysis {
    DriftAnalysis {
        persistent: persistent(runs, options.persistent_runs),
        bias: bias(runs, options),
        trend: trend(
            &runs[runs.len().saturating_sub(options.trend_runs.max(2))..],
            options,
        ),
        rates: runs.iter().map(RunRecord::drift_rate).collect(),
    }
}

fn persistent(runs: &[RunRecord], k: usize) -> Vec<PersistentDrift> {
    let Some(latest) = runs.last() else {
        return Vec::new();
    };
    if k == 0 || runs.len() < k {
        return Vec::new();
    }
    let mut out: Vec<PersistentDrift> = latest
        .keys
        .iter()
        .filter_map(|(key, kind)| {
            let streak = runs
                .iter()
                .rev()
                .take_while(|r| r.keys.contains_key(key))
                .count();
            (streak >= k).then(|| PersistentDrift {
                key: key.clone(),
                runs: streak,
                kind: *kind,
            })
        })
        .collect();
    out.sort_by(|a, b| b.runs.cmp(&a.runs).then_with(|| a.key.cmp(&b.key)));
    out
}

fn bias(runs: &[RunRecord], o: &DriftOptions) -> Vec<Bias> {
    let window = &runs[runs.len().saturating_sub(o.bias_runs.max(1))..];
    let mut total: BTreeMap<(&str, &str), DeltaStats> = BTreeMap::new();
    // Every dimension value compared in a run counts its keys, also for
    // fields that had no delta there.
    let fields: std::collections::BTreeSet<&str> = window
        .iter()
        .flat_map(|r| r.deltas.values().flat_map(|f| f.keys().map(String::as_str)))
        .collect();
    for run in window {
        let compared: Vec<(&str, u64)> = if run.summary.by_dimension.is_empty() {
            vec![("", run.summary.matched + run.summary.mismatched)]
        } else {
            run.summary
                .by_dimension
                .iter()
                .map(|(d, c)| (d.as_str(), c.matched + c.mismatched))
                .collect()
        };
        for (dim, n) in compared {
            for &field in &fields {
                let e = total.entry((dim, field)).or_default();
                e.compared += n;
                if let Some(s) = run.deltas.get(dim).and_then(|f| f.get(field)) {
                    e.sum = e.sum.saturating_add(s.sum);
                    e.sum_sq = e.sum_sq.saturating_add(s.sum_sq);
                }
            }
        }
    }
    let mut out: Vec<Bias> = total
        .into_iter()
        .filter(|(_, s)| s.compared >= o.bias_min_samples.max(2))
        .filter_map(|((dim, field), s)| {
            let mean = s.sum / Decimal::from(s.compared);
            let t = stats::t_statistic(s.compared, s.sum, s.sum_sq)?;
            (t.abs() >= o.bias_t && mean.abs() >= o.bias_min_mean).then(|| Bias {
                dimension: dim.to_string(),
                field: field.to_string(),
                mean: mean.round_dp(4),
                t,
                samples: s.compared,
                runs: window.len(),
            })
        })
        .collect();
    out.sort_by_key(|b| std::cmp::Reverse(b.t.abs()));
    out
}

fn trend(window: &[RunRecord], o: &DriftOptions) -> Trend {
    if window.len() < 2 {
        return Trend::Unknown;
    }
    let rates: Vec<Decimal> = window.iter().map(RunRecord::drift_rate).collect();
    let n = Decimal::from(rates.len());
    let mean_x = (n - Decimal::ONE) / Decimal::TWO;
    let mean_y = rates.iter().sum::<Decimal>() / n;
    let (mut sxy, mut sxx) = (Decimal::ZERO, Decimal::ZERO);
    for (i, y) in rates.iter().enumerate() {
        let dx = Decimal::from(i) - mean_x;
        sxy += dx * (y - mean_y);
        sxx += dx * dx;
    }
    let Some(change) = sxy
        .checked_div(sxx)
        .and_then(|s| s.checked_mul(n - Decimal::ONE))
    else {
        return Trend::Unknown;
    };
    if mean_y.is_zero() {
        return if change.is_zero() {
            Trend::Steady
        } else {
            Trend::Rising
        };
    }
    let Some(relative) = change.checked_div(mean_y) else {
        return Trend::Unknown;
    };
    if !stats::slope_significant(&rates, o.trend_t) {
        return Trend::Steady;
    }
    if relative >= o.trend_change {
        Trend::Rising
    } else if relative <= -o.trend_change {
        Trend::Falling
    } else {
        Trend::Steady
    }
}

mod stats {
    //! The t statistic needs a square root; statistics are the documented
    //! place where floats are allowed. Results go back to `Decimal`.
    #![allow(clippy::disallowed_types)]

    use rust_decimal::Decimal;
    use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

    /// One-sample t statistic of the mean of `n` values with the given sums
    /// (2 decimals); `None` when the variance is zero or undefined.
    pub(super) fn t_statistic(n: u64, sum: Decimal, sum_sq: Decimal) -> Option<Decimal> {
        if n < 2 {
            return None;
        }
        let n = n as f64;
        let (sum, sum_sq) = (sum.to_f64()?, sum_sq.to_f64()?);
        let mean = sum / n;
        let var = (sum_sq - n * mean * mean) / (n - 1.0);
        if var <= 0.0 || !var.is_finite() {
            return None;
        }
        let t = mean / (var / n).sqrt();
        Decimal::from_f64(t).map(|t| t.round_dp(2))
    }

    /// Whether the least-squares slope of `ys` over their index has |t| ≥ `min_t`
    /// (a perfect line is significant).
    pub(super) fn slope_significant(ys: &[Decimal], min_t: Decimal) -> bool {
        let ys: Vec<f64> = ys.iter().filter_map(|y| y.to_f64()).collect();
        let n = ys.len() as f64;
        if ys.len() < 3 {
            return ys.len() == 2 && ys[0] != ys[1];
        }
        let mx = (n - 1.0) / 2.0;
        let my = ys.iter().sum::<f64>() / n;
        let sxx: f64 = (0..ys.len()).map(|i| (i as f64 - mx).powi(2)).sum();
        let sxy: f64 = ys
            .iter()
            .enumerate()
            .map(|(i, y)| (i as f64 - mx) * (y - my))
            .sum();
        let slope = sxy / sxx;
        let resid: f64 = ys
            .iter()
            .enumerate()
            .map(|(i, y)| (y - (my + slope * (i as f64 - mx))).powi(2))
            .sum();
        let se = (resid / (n - 2.0) / sxx).sqrt();
        if se == 0.0 {
            return slope != 0.0;
        }
        let min_t = min_t.to_f64().unwrap_or(3.0);
        (slope / se).abs() >= min_t
    }
}
