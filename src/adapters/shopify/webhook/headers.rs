//! The `X-Shopify-*` headers of one delivery.

use chrono::{DateTime, Utc};

use crate::error::{Error, ErrorKind, Result};

/// `X-Shopify-Hmac-Sha256`: base64 HMAC-SHA256 of the raw body under the app secret.
pub const HMAC_HEADER: &str = "X-Shopify-Hmac-Sha256";
/// `X-Shopify-Topic`: `orders/create`, `products/update`, ...
pub const TOPIC_HEADER: &str = "X-Shopify-Topic";
/// `X-Shopify-Webhook-Id`: one delivery; the same on every retry of it.
pub const WEBHOOK_ID_HEADER: &str = "X-Shopify-Webhook-Id";
/// `X-Shopify-Event-Id`: one event; the same across the deliveries of every
/// subscription it triggered.
pub const EVENT_ID_HEADER: &str = "X-Shopify-Event-Id";
/// `X-Shopify-Triggered-At`: when the event fired (retries keep it).
pub const TRIGGERED_AT_HEADER: &str = "X-Shopify-Triggered-At";
/// `X-Shopify-Shop-Domain`: the shop, `example.myshopify.com`.
pub const SHOP_DOMAIN_HEADER: &str = "X-Shopify-Shop-Domain";
/// `X-Shopify-API-Version`: the API version that serialized the payload.
pub const API_VERSION_HEADER: &str = "X-Shopify-API-Version";

/// What Shopify says about a delivery in its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShopifyHeaders {
    /// The signature (`X-Shopify-Hmac-Sha256`).
    pub hmac: String,
    /// The topic (`X-Shopify-Topic`).
    pub topic: String,
    /// The delivery id (`X-Shopify-Webhook-Id`).
    pub webhook_id: String,
    /// The event id (`X-Shopify-Event-Id`), when sent.
    pub event_id: Option<String>,
    /// When the event fired (`X-Shopify-Triggered-At`), when sent.
    pub triggered_at: Option<DateTime<Utc>>,
    /// The shop (`X-Shopify-Shop-Domain`), when sent.
    pub shop_domain: Option<String>,
    /// The payload's API version (`X-Shopify-API-Version`), when sent.
    pub api_version: Option<String>,
}

impl ShopifyHeaders {
    /// Reads the headers from `(name, value)` pairs, names matched without
    /// regard to case (HTTP header names are case-insensitive). A missing
    /// signature is `Unauthorized`; a missing topic or webhook id, or a
    /// triggered-at that is not a timestamp, is `InvalidData` naming the header.
    ///
    /// From an `http::HeaderMap` (axum, hyper, reqwest):
    /// `ShopifyHeaders::from_pairs(map.iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))))`.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut found: [Option<String>; 7] = Default::default();
        let names = [
            HMAC_HEADER,
            TOPIC_HEADER,
            WEBHOOK_ID_HEADER,
            EVENT_ID_HEADER,
            TRIGGERED_AT_HEADER,
            SHOP_DOMAIN_HEADER,
            API_VERSION_HEADER,
        ];
        for (name, value) in pairs {
            if let Some(i) = names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(name.as_ref().trim()))
            {
                let value = value.as_ref().trim();
                if !value.is_empty() {
                    found[i] = Some(value.to_string());
                }
            }
        }
        let [
            hmac,
            topic,
            webhook_id,
            event_id,
            triggered_at,
            shop_domain,
            api_version,
        ] = found;
        let hmac = hmac.ok_or_else(|| {
            Error::new(
                ErrorKind::Unauthorized,
                format!("shopify webhook refused: the {HMAC_HEADER} header is missing"),
            )
        })?;
        let missing = |header: &str| {
            Error::invalid_data(format!(
                "shopify webhook refused: the {header} header is missing"
            ))
            .with_system("shopify")
            .with_field(header)
        };
        let topic = topic.ok_or_else(|| missing(TOPIC_HEADER))?;
        let webhook_id = webhook_id.ok_or_else(|| missing(WEBHOOK_ID_HEADER))?;
        let triggered_at = triggered_at
            .map(|t| {
                DateTime::parse_from_rfc3339(&t)
                    .map(|at| at.with_timezone(&Utc))
                    .map_err(|e| {
                        Error::invalid_data(format!(
                            "shopify webhook {topic} (webhook id {webhook_id}): the \
                             {TRIGGERED_AT_HEADER} header {t:?} is not an RFC 3339 timestamp: {e}"
                        ))
                        .with_system("shopify")
                        .with_external_id(webhook_id.clone())
                        .with_field(TRIGGERED_AT_HEADER)
                    })
            })
            .transpose()?;
        Ok(ShopifyHeaders {
            hmac,
            topic,
            webhook_id,
            event_id,
            triggered_at,
            shop_domain,
            api_version,
        })
    }

    /// The id repeated deliveries share: the event id when Shopify sends one
    /// (it also catches one event delivered through two subscriptions), else
    /// the webhook id (the same on every retry).
    pub fn dedupe_id(&self) -> String {
        match &self.event_id {
            Some(event) => format!("event:{event}"),
            None => format!("webhook:{}", self.webhook_id),
        }
    }
}
