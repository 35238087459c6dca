//! Flow health: is each flow keeping its promise, and if not, why.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::engine::RunReport;
use super::flow::{Owner, Sla};
use crate::connector::EntityKind;

/// How a flow is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HealthStatus {
    /// Running within its SLA with nothing waiting for a person.
    Healthy,
    /// Still moving, but something needs a look (dead letters, lag over
    /// SLA in the last run, failing records).
    Degraded,
    /// Not moving: halted, or no successful run within its SLA.
    Failing,
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HealthStatus::Healthy => "healthy",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Failing => "failing",
        })
    }
}

/// One flow's health, with the reasons behind its status.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct FlowHealth {
    /// The flow.
    pub flow: String,
    /// What it moves.
    pub kind: EntityKind,
    /// Who answers for it.
    pub owner: Owner,
    /// Healthy, degraded or failing.
    pub status: HealthStatus,
    /// Why it is not healthy (empty when it is).
    pub reasons: Vec<String>,
    /// When a run last finished without halting.
    pub last_success: Option<DateTime<Utc>>,
    /// The worst change-to-write lag of the last run.
    pub lag: Option<Duration>,
    /// The SLA it is measured against.
    pub sla: Sla,
    /// Records that failed for good per thousand processed, last run.
    pub error_per_mille: u64,
    /// Open dead letters.
    pub dead_letters: u64,
    /// Records handled per second in the last run.
    pub throughput_per_sec: u64,
    /// The last run's report.
    pub last_run: Option<RunReport>,
}

/// What the store says of a flow when its health is judged.
pub(crate) struct StoreFacts {
    pub dead_letters: u64,
    pub checkpoint_saved_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

/// What the engine remembers of each flow's runs (in memory; the durable
/// facts — checkpoints, dead letters — are in the store).
#[derive(Debug, Default)]
pub(crate) struct RunHistory {
    flows: Mutex<HashMap<String, FlowRuns>>,
}

#[derive(Debug, Clone)]
struct FlowRuns {
    last: RunReport,
    last_elapsed: Duration,
    last_success: Option<DateTime<Utc>>,
}

impl RunHistory {
    pub(crate) fn record(&self, flow: &str, report: &RunReport, elapsed: Duration) {
        let mut flows = self.flows.lock().unwrap_or_else(|p| p.into_inner());
        let previous = flows.get(flow).and_then(|f| f.last_success);
        let last_success = if report.halted.is_none() {
            Some(Utc::now())
        } else {
            previous
        };
        flows.insert(
            flow.to_string(),
            FlowRuns {
                last: report.clone(),
                last_elapsed: elapsed,
                last_success,
            },
        );
    }

    /// Judges a flow from its last run, its dead-letter depth and the clock.
    pub(crate) fn assess(
        &self,
        flow: &str,
        kind: EntityKind,
        owner: &Owner,
        sla: Sla,
        facts: StoreFacts,
    ) -> FlowHealth {
        let StoreFacts {
            dead_letters,
            checkpoint_saved_at,
            now,
        } = facts;
        let runs = self
            .flows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(flow)
            .cloned();
        let mut failing = Vec::new();
        let mut degraded = Vec::new();
        let (mut lag, mut error_per_mille, mut throughput) = (None, 0, 0);
        // Progress made by any worker shows in the store's checkpoint.
        let mut last_success = runs.as_ref().and_then(|r| r.last_success);
        match &runs {
            None => match checkpoint_saved_at {
                None => failing.push("it has not run yet (no checkpoint in the store)".into()),
                Some(at) => {
                    last_success = Some(at);
                    let since = (now - at).to_std().unwrap_or_default();
                    if since > sla.max_lag {
                        failing.push(format!(
                            "it has not run in this process, and its checkpoint was last saved \
                             {}s ago, over the SLA of {}s",
                            since.as_secs(),
                            sla.max_lag.as_secs()
                        ));
                    }
                }
            },
            Some(runs) => {
                let report = &runs.last;
                if let Some(error) = &report.halted {
                    failing.push(format!("halted: {error}"));
                }
                match runs.last_success {
                    None => failing.push("no run has succeeded yet".to_string()),
                    Some(at) => {
                        let since = (now - at).to_std().unwrap_or_default();
                        if since > sla.max_lag {
                            failing.push(format!(
                                "last success {}s ago, over the SLA of {}s",
                                since.as_secs(),
                                sla.max_lag.as_secs()
                            ));
                        }
                    }
                }
                lag = report.max_lag;
                if let Some(l) = lag.filter(|l| *l > sla.max_lag) {
                    degraded.push(format!(
                        "a change took {}s to arrive, over the SLA of {}s",
                        l.as_secs(),
                        sla.max_lag.as_secs()
                    ));
                }
                let failed = report.dead_lettered + report.skipped;
                let processed = report.delivered() + failed;
                if failed > 0 {
                    error_per_mille = failed * 1000 / processed.max(1);
                    degraded.push(format!(
                        "{failed} of {processed} records failed in the last run"
                    ));
                }
                let micros = u64::try_from(runs.last_elapsed.as_micros()).unwrap_or(u64::MAX);
                throughput = report
                    .read
                    .saturating_mul(1_000_000)
                    .checked_div(micros)
                    .unwrap_or(0);
            }
        }
        if dead_letters > 0 {
            degraded.push(format!("{dead_letters} dead letters wait for a person"));
        }
        let status = if !failing.is_empty() {
            HealthStatus::Failing
        } else if !degraded.is_empty() {
            HealthStatus::Degraded
        } else {
            HealthStatus::Healthy
        };
        failing.extend(degraded);
        FlowHealth {
            flow: flow.to_string(),
            kind,
            owner: owner.clone(),
            status,
            reasons: failing,
            last_success,
            lag,
            sla,
            error_per_mille,
            dead_letters,
            throughput_per_sec: throughput,
            last_run: runs.map(|r| r.last),
        }
    }
}
