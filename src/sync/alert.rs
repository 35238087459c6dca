//! Alerts addressed to a flow's owner.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::flow::Owner;
use crate::connector::{EntityKey, EntityKind};
use crate::error::Error;

/// Something the owner of a flow must hear about.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Alert {
    /// The flow.
    pub flow: String,
    /// What it moves.
    pub kind: EntityKind,
    /// Whom it is for.
    pub owner: Owner,
    /// What happened.
    pub what: AlertKind,
    /// When.
    pub at: DateTime<Utc>,
}

/// What an alert is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "alert", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AlertKind {
    /// The flow stopped and will not go on by itself.
    Halted {
        /// Why.
        error: Error,
    },
    /// A change took longer than the SLA allows to reach the sink.
    SlaBreached {
        /// The worst lag seen in the run.
        lag: Duration,
        /// The SLA.
        max_lag: Duration,
    },
    /// A record failed for good and was skipped (policy `SkipAndAlert`).
    RecordSkipped {
        /// Its key.
        key: EntityKey,
        /// Why.
        error: Error,
    },
}

/// Where alerts go. Implementations must not fail the flow: they log their
/// own delivery problems.
#[async_trait]
pub trait AlertSink: Send + Sync {
    /// Delivers one alert.
    async fn send(&self, alert: &Alert);
}

/// Alerts as `tracing` events at `error` level (the built-in default).
#[derive(Debug, Default, Clone, Copy)]
pub struct LogAlertSink;

#[async_trait]
impl AlertSink for LogAlertSink {
    async fn send(&self, alert: &Alert) {
        tracing::error!(
            flow = %alert.flow,
            entity = %alert.kind,
            team = %alert.owner.team,
            contact = %alert.owner.contact,
            runbook = alert.owner.runbook.as_deref().unwrap_or("-"),
            alert = ?alert.what,
            "seamwork flow alert"
        );
    }
}

/// Keeps alerts in memory (tests, the quickstart's summary).
#[derive(Debug, Default)]
pub struct CollectingAlertSink {
    alerts: Mutex<Vec<Alert>>,
}

impl CollectingAlertSink {
    /// An empty collector.
    pub fn new() -> Self {
        CollectingAlertSink::default()
    }

    /// Every alert received so far.
    pub fn alerts(&self) -> Vec<Alert> {
        self.alerts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[async_trait]
impl AlertSink for CollectingAlertSink {
    async fn send(&self, alert: &Alert) {
        self.alerts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(alert.clone());
    }
}

/// Alerts POSTed as JSON to an HTTP endpoint (a chat webhook, an incident
/// tool's events API). Feature `http`.
///
/// The body is the [`Alert`] as JSON. Delivery problems (a refused
/// connection, a non-2xx answer) are logged with `tracing` and never fail
/// the flow; each alert is tried `attempts` times with a short pause.
#[cfg(feature = "http")]
#[derive(Debug, Clone)]
pub struct WebhookAlertSink {
    url: String,
    client: reqwest::Client,
    attempts: u32,
}

#[cfg(feature = "http")]
impl WebhookAlertSink {
    /// Posts to `url` with a 10-second timeout and 3 attempts.
    pub fn new(url: impl Into<String>) -> crate::Result<Self> {
        let client = crate::adapters::web::client(Duration::from_secs(10))?;
        Ok(WebhookAlertSink {
            url: url.into(),
            client,
            attempts: 3,
        })
    }

    /// How many times one alert is tried.
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }
}

#[cfg(feature = "http")]
#[async_trait]
impl AlertSink for WebhookAlertSink {
    async fn send(&self, alert: &Alert) {
        for attempt in 1..=self.attempts {
            let outcome = self.client.post(&self.url).json(alert).send().await;
            let problem = match outcome {
                Ok(answer) if answer.status().is_success() => return,
                Ok(answer) => {
                    let (status, headers) = (answer.status(), answer.headers().clone());
                    let body = answer.text().await.unwrap_or_default();
                    crate::adapters::web::status_error("alert webhook", status, &headers, &body)
                        .to_string()
                }
                Err(e) => crate::adapters::web::transport_error("alert webhook", e).to_string(),
            };
            tracing::warn!(
                url = %self.url,
                flow = %alert.flow,
                attempt,
                %problem,
                "could not deliver a flow alert"
            );
            if attempt < self.attempts {
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
        }
        // Last resort: the alert is not lost, it is in the log.
        LogAlertSink.send(alert).await;
    }
}
