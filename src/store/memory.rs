//! The in-memory state store: for tests and for one-shot jobs that may start
//! over after a crash.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    BatchCommit, Checkpoint, DeadLetter, DeadLetterFilter, DeadLetterId, DeadLetterStatus, Lease,
    StateStore, Version, expiry, fenced_out, letter_not_open, reference_conflict,
};
use crate::connector::EntityKey;
use crate::error::{Error, Result};

/// A [`StateStore`] in memory. Nothing survives the process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    checkpoints: HashMap<String, Checkpoint>,
    keys: HashMap<(String, String), DateTime<Utc>>,
    versions: HashMap<String, foldhash::HashMap<EntityKey, Version>>,
    letters: BTreeMap<DeadLetterId, DeadLetter>,
    next_letter: DeadLetterId,
    /// (namespace, system, outside) → canonical, and the reverse.
    to_canonical: HashMap<(String, String, String), String>,
    to_outside: HashMap<(String, String, String), String>,
    leases: HashMap<String, Lease>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave a half-applied commit: every method
        // checks first and mutates after, so the data is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    fn lease_is_current(&self, lease: &Lease) -> bool {
        self.leases
            .get(&lease.name)
            .is_some_and(|l| l.token == lease.token && l.holder == lease.holder)
    }

    fn open_letter_mut(&mut self, id: DeadLetterId) -> Result<&mut DeadLetter> {
        match self.letters.get_mut(&id) {
            Some(l) if l.status == DeadLetterStatus::Open => Ok(l),
            other => Err(letter_not_open(id, other.map(|l| &l.status))),
        }
    }
}

#[async_trait]
impl StateStore for MemoryStore {
    async fn checkpoint(&self, flow: &str) -> Result<Option<Checkpoint>> {
        Ok(self.state().checkpoints.get(flow).cloned())
    }

    async fn commit(&self, flow: &str, commit: BatchCommit, fence: Option<&Lease>) -> Result<()> {
        let mut state = self.state();
        if let Some(lease) = fence
            && !state.lease_is_current(lease)
        {
            return Err(fenced_out(lease));
        }
        if let Some(cursor) = commit.cursor {
            let saved_at = Utc::now();
            state
                .checkpoints
                .insert(flow.to_string(), Checkpoint { cursor, saved_at });
        }
        for (key, expires_at) in commit.keys {
            state.keys.insert((flow.to_string(), key), expires_at);
        }
        let versions = state.versions.entry(flow.to_string()).or_default();
        for (key, version) in commit.versions {
            let slot = versions.entry(key).or_insert(version);
            if version.changed_at >= slot.changed_at {
                *slot = version;
            }
        }
        for letter in commit.dead_letters {
            let existing = state.letters.values_mut().find(|l| {
                l.flow == letter.flow && l.key == letter.key && l.status == DeadLetterStatus::Open
            });
            match existing {
                Some(open) => {
                    open.attempts = open.attempts.saturating_add(letter.attempts);
                    open.last_failed_at = letter.failed_at;
                    open.error = letter.error;
                    open.payload = letter.payload;
                    open.external_ref = letter.external_ref;
                    open.changed_at = letter.changed_at;
                }
                None => {
                    state.next_letter += 1;
                    let id = state.next_letter;
                    state.letters.insert(
                        id,
                        DeadLetter {
                            id,
                            flow: letter.flow,
                            owner: letter.owner,
                            kind: letter.kind,
                            key: letter.key,
                            external_ref: letter.external_ref,
                            changed_at: letter.changed_at,
                            payload: letter.payload,
                            error: letter.error,
                            attempts: letter.attempts,
                            first_failed_at: letter.failed_at,
                            last_failed_at: letter.failed_at,
                            status: DeadLetterStatus::Open,
                        },
                    );
                }
            }
        }
        Ok(())
    }

    async fn seen(&self, flow: &str, keys: &[String], now: DateTime<Utc>) -> Result<Vec<bool>> {
        let state = self.state();
        let mut probe = (flow.to_string(), String::new());
        Ok(keys
            .iter()
            .map(|k| {
                k.clone_into(&mut probe.1);
                state.keys.get(&probe).is_some_and(|exp| *exp > now)
            })
            .collect())
    }

    async fn versions(&self, flow: &str, keys: &[EntityKey]) -> Result<Vec<Option<Version>>> {
        let state = self.state();
        let versions = state.versions.get(flow);
        Ok(keys
            .iter()
            .map(|k| versions.and_then(|v| v.get(k)).copied())
            .collect())
    }

    async fn purge_expired_keys(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut state = self.state();
        let before = state.keys.len();
        state.keys.retain(|_, exp| *exp > now);
        Ok((before - state.keys.len()) as u64)
    }

    async fn dead_letters(&self, filter: &DeadLetterFilter) -> Result<Vec<DeadLetter>> {
        let state = self.state();
        Ok(state
            .letters
            .values()
            .filter(|l| filter.flow.as_ref().is_none_or(|f| *f == l.flow))
            .filter(|l| !filter.open_only || l.status == DeadLetterStatus::Open)
            .take(filter.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect())
    }

    async fn dead_letter(&self, id: DeadLetterId) -> Result<Option<DeadLetter>> {
        Ok(self.state().letters.get(&id).cloned())
    }

    async fn edit_dead_letter(&self, id: DeadLetterId, payload: serde_json::Value) -> Result<()> {
        self.state().open_letter_mut(id)?.payload = payload;
        Ok(())
    }

    async fn resolve_dead_letter(&self, id: DeadLetterId, status: DeadLetterStatus) -> Result<()> {
        if status == DeadLetterStatus::Open {
            return Err(Error::config("a dead letter cannot be resolved to `open`"));
        }
        self.state().open_letter_mut(id)?.status = status;
        Ok(())
    }

    async fn record_dead_letter_failure(
        &self,
        id: DeadLetterId,
        error: &Error,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let mut state = self.state();
        let letter = state.open_letter_mut(id)?;
        letter.attempts = letter.attempts.saturating_add(1);
        letter.error = error.clone();
        letter.last_failed_at = at;
        Ok(())
    }

    async fn bind_reference(
        &self,
        namespace: &str,
        system: &str,
        outside: &str,
        canonical: &str,
    ) -> Result<()> {
        let mut state = self.state();
        let fwd = (
            namespace.to_string(),
            system.to_string(),
            outside.to_string(),
        );
        let back = (
            namespace.to_string(),
            system.to_string(),
            canonical.to_string(),
        );
        if let Some(existing) = state.to_canonical.get(&fwd)
            && existing != canonical
        {
            return Err(reference_conflict(
                namespace, system, outside, canonical, existing,
            ));
        }
        if let Some(existing) = state.to_outside.get(&back)
            && existing != outside
        {
            return Err(reference_conflict(
                namespace, system, outside, canonical, existing,
            ));
        }
        state.to_canonical.insert(fwd, canonical.to_string());
        state.to_outside.insert(back, outside.to_string());
        Ok(())
    }

    async fn canonical_reference(
        &self,
        namespace: &str,
        system: &str,
        outside: &str,
    ) -> Result<Option<String>> {
        let key = (
            namespace.to_string(),
            system.to_string(),
            outside.to_string(),
        );
        Ok(self.state().to_canonical.get(&key).cloned())
    }

    async fn outside_reference(
        &self,
        namespace: &str,
        system: &str,
        canonical: &str,
    ) -> Result<Option<String>> {
        let key = (
            namespace.to_string(),
            system.to_string(),
            canonical.to_string(),
        );
        Ok(self.state().to_outside.get(&key).cloned())
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>> {
        let mut state = self.state();
        let token = match state.leases.get(name) {
            Some(l) if l.expires_at > now => return Ok(None),
            Some(l) => l.token + 1,
            None => 1,
        };
        let lease = Lease {
            name: name.to_string(),
            holder: holder.to_string(),
            token,
            expires_at: expiry(now, ttl),
        };
        state.leases.insert(name.to_string(), lease.clone());
        Ok(Some(lease))
    }

    async fn renew_lease(
        &self,
        lease: &Lease,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>> {
        let mut state = self.state();
        if !state.lease_is_current(lease) {
            return Ok(None);
        }
        let renewed = Lease {
            expires_at: expiry(now, ttl),
            ..lease.clone()
        };
        state.leases.insert(lease.name.clone(), renewed.clone());
        Ok(Some(renewed))
    }

    async fn release_lease(&self, lease: &Lease) -> Result<()> {
        let mut state = self.state();
        if let Some(current) = state.leases.get_mut(&lease.name)
            && current.token == lease.token
            && current.holder == lease.holder
        {
            // Keep the token so the next holder's is higher; just let it lapse.
            current.expires_at = DateTime::<Utc>::MIN_UTC;
        }
        Ok(())
    }
}
