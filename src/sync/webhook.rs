//! Webhook intake: verify the signature, drop repeated deliveries, queue the
//! record for its flow.
//!
//! Webhooks are fast but not reliable (providers drop, delay and repeat
//! them), so a flow that takes webhooks must also poll with a lookback. Both
//! paths end in the engine's per-key version check (change time + content
//! fingerprint), so whichever arrives second is skipped and a stale one is
//! refused: webhook + poll never double-writes. The delivery id is
//! remembered before the record is queued, and the queue is in memory: a
//! crash in between loses the webhook (the provider's retry is then a
//! duplicate), never the change — the next poll picks it up. The webhook's
//! parser must build the entity exactly as the poll's source does, or the
//! two fingerprints differ and the sink is written twice (harmlessly).
//!
//! ```
//! use seamwork::sync::{SignatureEncoding, WebhookSecret, verify_signature};
//!
//! let secret = WebhookSecret::new("hush");
//! assert_eq!(format!("{secret:?}"), "WebhookSecret([redacted])");
//! let body = br#"{"id": 1}"#;
//! let good = "E9XxLgppVNX12rqWuu0/CN/43MeuZC0xdhRuMq1MPWg=";
//! assert!(verify_signature(&secret, body, good, SignatureEncoding::Base64).is_ok());
//! assert!(verify_signature(&secret, b"tampered", good, SignatureEncoding::Base64).is_err());
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::connector::Record;
use crate::error::{Error, ErrorKind, Result};
use crate::store::{BatchCommit, StateStore, expiry};

/// A webhook signing secret. It never prints, and is wiped from memory when
/// dropped.
#[derive(Clone)]
pub struct WebhookSecret(SecretString);

impl WebhookSecret {
    /// Wraps the shared secret the provider signs with.
    pub fn new(secret: impl Into<String>) -> Self {
        WebhookSecret(SecretString::from(secret.into()))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

/// How the provider writes the signature header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureEncoding {
    /// Base64 of the raw HMAC (Shopify `X-Shopify-Hmac-Sha256`,
    /// WooCommerce `X-WC-Webhook-Signature`).
    Base64,
    /// Lowercase or uppercase hex, optionally prefixed `sha256=`.
    Hex,
}

/// Checks that `signature` is the HMAC-SHA256 of the raw `body` under
/// `secret`, in constant time. `Unauthorized` when it is not.
pub fn verify_signature(
    secret: &WebhookSecret,
    body: &[u8],
    signature: &str,
    encoding: SignatureEncoding,
) -> Result<()> {
    let unauthorized = |why: &str| {
        Error::new(
            ErrorKind::Unauthorized,
            format!("webhook signature rejected: {why}"),
        )
    };
    let signature = signature.trim();
    let expected = match encoding {
        SignatureEncoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(signature)
            .map_err(|_| unauthorized("the header is not base64"))?,
        SignatureEncoding::Hex => {
            hex::decode(signature.strip_prefix("sha256=").unwrap_or(signature))
                .map_err(|_| unauthorized("the header is not hex"))?
        }
    };
    if secret.0.expose_secret().is_empty() {
        // An HMAC keyed with nothing is one anybody can compute: an unset
        // secret variable must not turn verification off.
        return Err(Error::config(
            "the webhook secret is empty; set the secret the provider signs with",
        ));
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.0.expose_secret().as_bytes())
        .map_err(|_| Error::config("the webhook secret cannot key an HMAC"))?;
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&expected)
        .map_err(|_| unauthorized("it does not match the body"))
}

/// The key a delivery is remembered by: its id plus a digest of its body.
/// Some providers reuse an id for different bodies (WooCommerce's is a hash
/// of the webhook and the second it was sent): the digest keeps two changes
/// sent in one second apart, while a retry of the same delivery (same id,
/// same body) is still a duplicate.
fn delivery_key(delivery_id: &str, body: &[u8]) -> Result<String> {
    if delivery_id.trim().is_empty() {
        return Err(Error::invalid_data(
            "webhook delivery has no delivery id; it cannot be deduplicated",
        ));
    }
    let digest = <Sha256 as sha2::Digest>::digest(body);
    Ok(format!("{delivery_id}#{}", hex::encode(&digest[..12])))
}

/// One delivery as it arrived over HTTP.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct WebhookDelivery<'a> {
    /// The provider's delivery id (Shopify `X-Shopify-Webhook-Id`).
    pub delivery_id: &'a str,
    /// The signature header's value.
    pub signature: &'a str,
    /// When the provider says the event fired, if it says.
    pub triggered_at: Option<DateTime<Utc>>,
    /// The raw body, exactly as received (never re-serialized JSON).
    pub body: &'a [u8],
}

impl<'a> WebhookDelivery<'a> {
    /// A delivery with its id, signature and raw body.
    pub fn new(delivery_id: &'a str, signature: &'a str, body: &'a [u8]) -> Self {
        WebhookDelivery {
            delivery_id,
            signature,
            triggered_at: None,
            body,
        }
    }
}

/// What the intake did with a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Intake {
    /// Verified, new, queued for the flow.
    Queued,
    /// This delivery id was already taken in: acknowledged, not queued again.
    Duplicate,
}

/// Turns a verified body into a record (an adapter's topic parser).
pub type WebhookParser<E> = Arc<dyn Fn(&[u8]) -> Result<Record<E>> + Send + Sync>;

/// Verifies, deduplicates and queues webhook deliveries for one flow.
/// Drain the queue with [`drain`](WebhookIntake::drain) and hand the records
/// to [`Engine::deliver`](super::Engine::deliver).
pub struct WebhookIntake<E> {
    flow: String,
    secret: WebhookSecret,
    encoding: SignatureEncoding,
    store: Arc<dyn StateStore>,
    parse: WebhookParser<E>,
    queue: Mutex<VecDeque<Record<E>>>,
    remember_for: Duration,
}

impl<E> fmt::Debug for WebhookIntake<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookIntake")
            .field("flow", &self.flow)
            .field("secret", &self.secret)
            .field("encoding", &self.encoding)
            .field("queued", &self.queued())
            .finish()
    }
}

impl<E> WebhookIntake<E> {
    /// An intake for `flow`; delivery ids are remembered in `store` for
    /// `remember_for` (longer than the provider's redelivery window; Shopify
    /// retries for 48 hours).
    pub fn new(
        flow: impl Into<String>,
        secret: WebhookSecret,
        encoding: SignatureEncoding,
        store: Arc<dyn StateStore>,
        remember_for: Duration,
        parse: impl Fn(&[u8]) -> Result<Record<E>> + Send + Sync + 'static,
    ) -> Self {
        WebhookIntake {
            flow: flow.into(),
            secret,
            encoding,
            store,
            parse: Arc::new(parse),
            queue: Mutex::new(VecDeque::new()),
            remember_for,
        }
    }

    fn deliveries_key(&self) -> String {
        format!("{}#webhook-deliveries", self.flow)
    }

    /// Takes one delivery in: `Unauthorized` for a bad signature,
    /// `InvalidData` for a body the parser refuses (answer 4xx so the
    /// provider does not retry a hopeless body, and look at the log), else
    /// queued or recognised as a duplicate.
    pub async fn receive(&self, delivery: WebhookDelivery<'_>) -> Result<Intake> {
        verify_signature(
            &self.secret,
            delivery.body,
            delivery.signature,
            self.encoding,
        )?;
        self.receive_verified(delivery).await
    }

    /// [`receive`](Self::receive) for a receiver that has already checked
    /// the delivery's signature itself (to look at its topic first): the
    /// body is parsed with this intake's parser, deduplicated and queued.
    pub async fn receive_verified(&self, delivery: WebhookDelivery<'_>) -> Result<Intake> {
        let key = delivery_key(delivery.delivery_id, delivery.body)?;
        if self.seen(&key).await? {
            return Ok(Intake::Duplicate);
        }
        let record = (self.parse)(delivery.body)
            .map_err(|e| e.with_external_id(delivery.delivery_id.to_string()))?;
        self.queue_once(key, record).await
    }

    /// Queues a record a receiver verified and parsed itself (Shopify's
    /// receiver parses first to drop stale deliveries), deduplicated by
    /// `delivery_id` and `body` like [`receive`](Self::receive).
    pub async fn enqueue(
        &self,
        delivery_id: &str,
        body: &[u8],
        record: Record<E>,
    ) -> Result<Intake> {
        let key = delivery_key(delivery_id, body)?;
        if self.seen(&key).await? {
            return Ok(Intake::Duplicate);
        }
        self.queue_once(key, record).await
    }

    async fn seen(&self, key: &str) -> Result<bool> {
        let seen = self
            .store
            .seen(&self.deliveries_key(), &[key.to_string()], Utc::now())
            .await?;
        Ok(seen.first().copied().unwrap_or(false))
    }

    async fn queue_once(&self, key: String, record: Record<E>) -> Result<Intake> {
        let commit =
            BatchCommit::without_cursor().with_keys([key], expiry(Utc::now(), self.remember_for));
        self.store
            .commit(&self.deliveries_key(), commit, None)
            .await?;
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(record);
        Ok(Intake::Queued)
    }

    /// Takes up to `max` queued records, oldest first.
    pub fn drain(&self, max: usize) -> Vec<Record<E>> {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let n = max.min(queue.len());
        queue.drain(..n).collect()
    }

    /// Records waiting.
    pub fn queued(&self) -> usize {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}
