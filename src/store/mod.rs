//! State that must survive a crash: checkpoints, idempotency keys, dead
//! letters, cross-references and leases.
//!
//! One [`StateStore`] trait, three homes: [`MemoryStore`] (tests, one-shot
//! jobs), [`SqliteStore`] (feature `sqlite`, on by default: one file, zero
//! set-up, the embedded default) and `PostgresStore` (feature `postgres`)
//! for several worker processes. Every implementation passes the same conformance suite
//! (`testkit::store`).
//!
//! The engine's one write per batch is [`StateStore::commit`]: the new
//! checkpoint, the version of each key it delivered and the batch's dead
//! letters land in one transaction, so a crash leaves either all of them or
//! none. Re-delivering a batch whose commit was lost is safe because sinks
//! upsert idempotently.
//!
//! ```
//! use chrono::Utc;
//! use seamwork::connector::Cursor;
//! use seamwork::store::{BatchCommit, MemoryStore, StateStore};
//!
//! # futures::executor::block_on(async {
//! let store = MemoryStore::new();
//! let now = Utc::now();
//! let commit = BatchCommit::new(Cursor::new("2026-11-27T10:00:00Z|42"))
//!     .with_keys(["shopify\u{1f}gid-1\u{1f}2026-11-27T10:00:00Z"], now + chrono::Duration::days(7));
//! store.commit("orders-to-erp", commit, None).await.unwrap();
//! let checkpoint = store.checkpoint("orders-to-erp").await.unwrap().unwrap();
//! assert_eq!(checkpoint.cursor.as_str(), "2026-11-27T10:00:00Z|42");
//! let seen = store
//!     .seen("orders-to-erp", &["shopify\u{1f}gid-1\u{1f}2026-11-27T10:00:00Z".to_string()], now)
//!     .await
//!     .unwrap();
//! assert_eq!(seen, [true]);
//! # });
//! ```

pub(crate) mod fingerprint;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::connector::{EntityKey, EntityKind};
use crate::error::{Error, Result};
use crate::model::ExternalRef;

pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// Where a flow resumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Checkpoint {
    /// The source cursor after the last acknowledged record.
    pub cursor: crate::connector::Cursor,
    /// When it was written.
    pub saved_at: DateTime<Utc>,
}

/// Everything one acknowledged batch changes, written atomically.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BatchCommit {
    /// The new checkpoint; `None` keeps the old one (nothing was acknowledged
    /// past it, e.g. a halted batch whose first record failed).
    pub cursor: Option<crate::connector::Cursor>,
    /// Idempotency keys (webhook delivery ids) with the time they may be
    /// forgotten.
    pub keys: Vec<(String, DateTime<Utc>)>,
    /// The version (change time) of each entity key that was delivered,
    /// dead-lettered or skipped: the per-key high-water mark that makes
    /// redeliveries and stale versions harmless.
    pub versions: Vec<(EntityKey, Version)>,
    /// Records that failed for good in this batch.
    pub dead_letters: Vec<NewDeadLetter>,
}

impl BatchCommit {
    /// A commit that moves the checkpoint to `cursor`.
    pub fn new(cursor: crate::connector::Cursor) -> Self {
        BatchCommit {
            cursor: Some(cursor),
            keys: Vec::new(),
            versions: Vec::new(),
            dead_letters: Vec::new(),
        }
    }

    /// A commit that leaves the checkpoint where it is.
    pub fn without_cursor() -> Self {
        BatchCommit {
            cursor: None,
            keys: Vec::new(),
            versions: Vec::new(),
            dead_letters: Vec::new(),
        }
    }

    /// Adds idempotency keys that expire at `expires_at`.
    pub fn with_keys<S: Into<String>>(
        mut self,
        keys: impl IntoIterator<Item = S>,
        expires_at: DateTime<Utc>,
    ) -> Self {
        self.keys
            .extend(keys.into_iter().map(|k| (k.into(), expires_at)));
        self
    }

    /// Records that `key` was handled up to `version`.
    pub fn with_version(mut self, key: EntityKey, version: Version) -> Self {
        self.versions.push((key, version));
        self
    }

    /// Adds a dead letter.
    pub fn with_dead_letter(mut self, letter: NewDeadLetter) -> Self {
        self.dead_letters.push(letter);
        self
    }
}

/// One version of a record: when it changed in its source, and a
/// fingerprint of its content that tells two versions with the same change
/// time apart (many systems keep `updated_at` to the second).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Version {
    /// The change time the source reported.
    pub changed_at: DateTime<Utc>,
    /// A stable 64-bit hash of the content (see [`Version::of`]).
    pub fingerprint: u64,
}

impl Version {
    /// A version from its parts.
    pub fn new(changed_at: DateTime<Utc>, fingerprint: u64) -> Self {
        Version {
            changed_at,
            fingerprint,
        }
    }

    /// The version of `entity` changed at `changed_at`: the fingerprint is
    /// [`Entity::fingerprint`](crate::connector::Entity::fingerprint), a
    /// hash of its content stable across processes and releases.
    pub fn of<E: crate::connector::Entity>(entity: &E, changed_at: DateTime<Utc>) -> Self {
        let fingerprint = entity.fingerprint();
        Version {
            changed_at,
            fingerprint,
        }
    }

    /// Whether a record at `self` is already covered by `delivered`: it is
    /// older, or the same version again.
    pub fn is_covered_by(&self, delivered: &Version) -> bool {
        delivered.changed_at > self.changed_at || delivered == self
    }
}

/// Identifies a dead letter within its store.
pub type DeadLetterId = i64;

/// A record that failed for good, as handed to the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NewDeadLetter {
    /// The flow it belongs to.
    pub flow: String,
    /// The owning team, so a person knows whose queue this is.
    pub owner: String,
    /// What kind of entity it is.
    pub kind: EntityKind,
    /// Its canonical key.
    pub key: EntityKey,
    /// Where it came from.
    pub external_ref: Option<ExternalRef>,
    /// The version that failed (its change time in the source); a replay
    /// of a version older than what was delivered since is refused.
    pub changed_at: DateTime<Utc>,
    /// The record as JSON (editable before a replay).
    pub payload: serde_json::Value,
    /// Why it failed the last time.
    pub error: Error,
    /// How many attempts were made.
    pub attempts: u32,
    /// When it failed.
    pub failed_at: DateTime<Utc>,
}

/// What happened to a dead letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeadLetterStatus {
    /// Waiting for a person or a replay.
    Open,
    /// Delivered by a replay.
    Replayed {
        /// When.
        at: DateTime<Utc>,
    },
    /// Given up on, on purpose.
    Discarded {
        /// Why (required: nothing is dropped without a reason).
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
}

/// A stored dead letter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeadLetter {
    /// Its id in the store.
    pub id: DeadLetterId,
    /// The flow it belongs to.
    pub flow: String,
    /// The owning team.
    pub owner: String,
    /// What kind of entity it is.
    pub kind: EntityKind,
    /// Its canonical key.
    pub key: EntityKey,
    /// Where it came from.
    pub external_ref: Option<ExternalRef>,
    /// The version that failed (its change time in the source).
    pub changed_at: DateTime<Utc>,
    /// The record as JSON; replays deserialize this.
    pub payload: serde_json::Value,
    /// The last error.
    pub error: Error,
    /// Attempts across every failure of this key.
    pub attempts: u32,
    /// First failure.
    pub first_failed_at: DateTime<Utc>,
    /// Latest failure.
    pub last_failed_at: DateTime<Utc>,
    /// Open, replayed or discarded.
    pub status: DeadLetterStatus,
}

/// Which dead letters to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadLetterFilter {
    /// Only this flow.
    pub flow: Option<String>,
    /// Only open letters (the default view of a queue).
    pub open_only: bool,
    /// At most this many, oldest first.
    pub limit: Option<usize>,
}

impl DeadLetterFilter {
    /// The open letters of one flow.
    pub fn open(flow: impl Into<String>) -> Self {
        DeadLetterFilter {
            flow: Some(flow.into()),
            open_only: true,
            limit: None,
        }
    }

    /// Every letter, open or not, of every flow.
    pub fn all() -> Self {
        DeadLetterFilter::default()
    }
}

/// The right to run one flow partition until `expires_at`.
///
/// `token` grows with every acquisition (a fencing token): a commit carrying
/// an older token than the store's is refused, so a worker that paused past
/// its lease cannot overwrite the checkpoint of the worker that took over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Lease {
    /// What is leased (a flow name or flow partition).
    pub name: String,
    /// Who holds it.
    pub holder: String,
    /// The fencing token.
    pub token: i64,
    /// When it lapses unless renewed.
    pub expires_at: DateTime<Utc>,
}

/// Durable state of the sync engine. Implementations must be safe to share
/// between tasks; every method is one atomic step.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// The flow's checkpoint, if it ever committed one.
    async fn checkpoint(&self, flow: &str) -> Result<Option<Checkpoint>>;

    /// Writes a batch's checkpoint, idempotency keys, versions (a stored
    /// version is replaced by one changed at the same time or later, never
    /// by an older one) and dead letters in one transaction. With `fence`,
    /// the commit is refused (`Conflict`, permanent) unless that lease is
    /// still the current one for its name (its expiry is not checked here: a
    /// lapsed lease nobody took over is still current; the engine stops
    /// starting writes before expiry on its own).
    /// A dead letter for a key that already has an open letter in the same
    /// flow updates it (attempts added, last failure, error and payload
    /// replaced) instead of adding a second.
    async fn commit(&self, flow: &str, commit: BatchCommit, fence: Option<&Lease>) -> Result<()>;

    /// For each key, whether it was committed for `flow` and has not expired
    /// at `now`.
    async fn seen(&self, flow: &str, keys: &[String], now: DateTime<Utc>) -> Result<Vec<bool>>;

    /// For each entity key, the latest version committed for `flow`.
    async fn versions(&self, flow: &str, keys: &[EntityKey]) -> Result<Vec<Option<Version>>>;

    /// Forgets idempotency keys that expired before `now`; returns how many.
    async fn purge_expired_keys(&self, now: DateTime<Utc>) -> Result<u64>;

    /// Lists dead letters, oldest first.
    async fn dead_letters(&self, filter: &DeadLetterFilter) -> Result<Vec<DeadLetter>>;

    /// How many letters the filter would list (its `limit` aside), without
    /// loading their payloads (health checks, queue depth gauges).
    async fn count_dead_letters(&self, filter: &DeadLetterFilter) -> Result<u64> {
        let all = DeadLetterFilter {
            limit: None,
            ..filter.clone()
        };
        Ok(self.dead_letters(&all).await?.len() as u64)
    }

    /// One dead letter.
    async fn dead_letter(&self, id: DeadLetterId) -> Result<Option<DeadLetter>>;

    /// Replaces an open letter's payload (a person fixed the data).
    async fn edit_dead_letter(&self, id: DeadLetterId, payload: serde_json::Value) -> Result<()>;

    /// Marks an open letter replayed or discarded. Refused for a letter that
    /// is not open, and for `Open`.
    async fn resolve_dead_letter(&self, id: DeadLetterId, status: DeadLetterStatus) -> Result<()>;

    /// Records that a replay of an open letter failed again.
    async fn record_dead_letter_failure(
        &self,
        id: DeadLetterId,
        error: &Error,
        at: DateTime<Utc>,
    ) -> Result<()>;

    /// Binds `outside` (an id in `system`) to `canonical` within `namespace`
    /// (an entity kind, or a crosswalk such as `location`). One-to-one:
    /// rebinding either side to something else is a `Conflict`.
    async fn bind_reference(
        &self,
        namespace: &str,
        system: &str,
        outside: &str,
        canonical: &str,
    ) -> Result<()>;

    /// The canonical value bound to an outside id.
    async fn canonical_reference(
        &self,
        namespace: &str,
        system: &str,
        outside: &str,
    ) -> Result<Option<String>>;

    /// The outside id bound to a canonical value.
    async fn outside_reference(
        &self,
        namespace: &str,
        system: &str,
        canonical: &str,
    ) -> Result<Option<String>>;

    /// Takes the lease `name` for `holder` if it is free or lapsed at `now`,
    /// with a new, higher token. A lease held by the same holder is not
    /// taken again (two tasks of one worker must not both run a flow); it
    /// is extended with `renew_lease`.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>>;

    /// Extends a lease still held under the same token; `None` when it was lost.
    async fn renew_lease(
        &self,
        lease: &Lease,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>>;

    /// Gives a lease up (no-op when it was already taken over).
    async fn release_lease(&self, lease: &Lease) -> Result<()>;
}

/// `now + ttl`, saturating instead of overflowing.
pub(crate) fn expiry(now: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(ttl)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The error for a commit or renewal under a lease that was taken over.
pub(crate) fn fenced_out(lease: &Lease) -> Error {
    Error::new(
        crate::ErrorKind::Conflict,
        format!(
            "lease `{}` token {} held by `{}` is no longer current; another worker took over",
            lease.name, lease.token, lease.holder
        ),
    )
    .with_retryability(crate::Retryability::Permanent)
}

/// The error for a dead letter that is missing or not open.
pub(crate) fn letter_not_open(id: DeadLetterId, status: Option<&DeadLetterStatus>) -> Error {
    match status {
        None => Error::new(
            crate::ErrorKind::NotFound,
            format!("dead letter {id} not found"),
        ),
        Some(s) => Error::new(
            crate::ErrorKind::Conflict,
            format!("dead letter {id} is not open (it is {s:?})"),
        )
        .with_retryability(crate::Retryability::Permanent),
    }
}

/// The error for a one-to-one cross-reference violation.
pub(crate) fn reference_conflict(
    namespace: &str,
    system: &str,
    outside: &str,
    canonical: &str,
    existing: &str,
) -> Error {
    Error::new(
        crate::ErrorKind::Conflict,
        format!(
            "cross-reference {namespace}/{system}: cannot bind `{outside}` ↔ `{canonical}`, \
             already bound to `{existing}`"
        ),
    )
    .with_retryability(crate::Retryability::Permanent)
}

#[cfg(test)]
mod tests {
    use super::Version;
    use chrono::{TimeZone, Utc};

    /// Fingerprints are stored: a release that changed them would make
    /// every stored version look different once (each key re-delivered).
    #[test]
    fn fingerprints_are_stable_across_releases() {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let mut level = crate::model::InventoryLevel::new(
            crate::model::Sku::new("TEE-M").unwrap(),
            crate::model::LocationId::new("DC-1").unwrap(),
            at,
        );
        level.on_hand = 7;
        level.available = 7;
        assert_eq!(
            Version::of(&level, at).fingerprint,
            8_162_870_956_888_234_186
        );
    }

    /// Every field of an inventory level is part of its fingerprint.
    #[test]
    fn every_inventory_field_changes_the_fingerprint() {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let base = crate::model::InventoryLevel::new(
            crate::model::Sku::new("TEE-M").unwrap(),
            crate::model::LocationId::new("DC-1").unwrap(),
            at,
        );
        let changes: Vec<fn(&mut crate::model::InventoryLevel)> = vec![
            |l| l.sku = crate::model::Sku::new("TEE-L").unwrap(),
            |l| l.location = crate::model::LocationId::new("DC-2").unwrap(),
            |l| l.on_hand += 1,
            |l| l.available += 1,
            |l| l.committed += 1,
            |l| l.reserved += 1,
            |l| l.incoming += 1,
            |l| l.safety_stock += 1,
            |l| l.damaged += 1,
            |l| l.quality_control += 1,
            |l| l.oversell_allowed = true,
            |l| l.updated_at += chrono::Duration::nanoseconds(1),
        ];
        let mut seen = std::collections::HashSet::new();
        seen.insert(Version::of(&base, at).fingerprint);
        for change in changes {
            let mut level = base.clone();
            change(&mut level);
            assert!(
                seen.insert(Version::of(&level, at).fingerprint),
                "{level:?}"
            );
        }
        // Text boundaries count: "TEE-M"+"DC-1" is not "TEE-MD"+"C-1".
        let mut moved = base.clone();
        moved.sku = crate::model::Sku::new("TEE-MD").unwrap();
        moved.location = crate::model::LocationId::new("C-1").unwrap();
        assert!(seen.insert(Version::of(&moved, at).fingerprint));
    }

    /// Every field is part of the fingerprint.
    #[test]
    fn any_change_changes_the_fingerprint() {
        let data = crate::connector::memory::Dataset::generate(
            &crate::connector::memory::SeedOptions::small(),
        )
        .unwrap();
        for order in &data.orders {
            let same = Version::of(&order.clone(), Utc::now());
            assert_eq!(Version::of(order, Utc::now()).fingerprint, same.fingerprint);
            let mut changed = order.clone();
            changed.number.push('!');
            assert_ne!(
                Version::of(&changed, Utc::now()).fingerprint,
                same.fingerprint
            );
            let mut changed = order.clone();
            changed.taxes_included = !changed.taxes_included;
            assert_ne!(
                Version::of(&changed, Utc::now()).fingerprint,
                same.fingerprint
            );
            let mut changed = order.clone();
            changed.updated_at += chrono::Duration::microseconds(1);
            assert_ne!(
                Version::of(&changed, Utc::now()).fingerprint,
                same.fingerprint
            );
        }
    }
}
