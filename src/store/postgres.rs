//! The PostgreSQL state store: several worker processes share flows.
//!
//! Leases are taken with one `INSERT … ON CONFLICT … WHERE` statement (free
//! or lapsed), so two workers racing for a lease cannot both win. A fenced commit reads the lease row `FOR SHARE` inside its
//! transaction: a takeover waits for the commit, or the commit sees the new
//! token and is refused.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};

use super::sql::{self, micros, time, to_json};
use super::{
    BatchCommit, Checkpoint, DeadLetter, DeadLetterFilter, DeadLetterId, DeadLetterStatus, Lease,
    StateStore, Version, expiry, fenced_out, letter_not_open, reference_conflict,
};
use crate::connector::{Cursor, EntityKey};
use crate::error::{Error, ErrorKind, Result};
use crate::reconcile::{DriftLedger, LedgerKey, RunRecord};

/// Versioned schema; applied in order, each once, on connect (sqlx takes an
/// advisory lock, so workers starting together migrate once).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "state store",
        r#"
CREATE TABLE seamwork_checkpoints (
    flow TEXT PRIMARY KEY,
    cursor TEXT NOT NULL,
    saved_at BIGINT NOT NULL
);
CREATE TABLE seamwork_idempotency_keys (
    flow TEXT NOT NULL,
    key TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (flow, key)
);
CREATE INDEX seamwork_idempotency_keys_expiry ON seamwork_idempotency_keys (expires_at);
CREATE TABLE seamwork_versions (
    flow TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    changed_at BIGINT NOT NULL,
    fingerprint BIGINT NOT NULL,
    PRIMARY KEY (flow, entity_key)
);
CREATE TABLE seamwork_dead_letters (
    id BIGSERIAL PRIMARY KEY,
    flow TEXT NOT NULL,
    owner TEXT NOT NULL,
    kind TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    external_ref TEXT,
    changed_at BIGINT NOT NULL,
    payload TEXT NOT NULL,
    error TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    first_failed_at BIGINT NOT NULL,
    last_failed_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    is_open BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX seamwork_dead_letters_open_key ON seamwork_dead_letters (flow, entity_key) WHERE is_open;
CREATE TABLE seamwork_cross_references (
    namespace TEXT NOT NULL,
    system TEXT NOT NULL,
    outside TEXT NOT NULL,
    canonical TEXT NOT NULL,
    PRIMARY KEY (namespace, system, outside),
    UNIQUE (namespace, system, canonical)
);
CREATE TABLE seamwork_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    token BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
"#,
    ),
    (
        2,
        "drift ledger",
        r#"
CREATE TABLE seamwork_drift_runs (
    ledger TEXT NOT NULL,
    seq BIGINT NOT NULL,
    run TEXT NOT NULL,
    PRIMARY KEY (ledger, seq)
);
"#,
    ),
];

/// A [`StateStore`] in PostgreSQL (feature `postgres`).
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

fn db_error(what: &str, e: sqlx::Error) -> Error {
    sql::db_error("postgres", what, e)
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:pass@127.0.0.1/db`) and brings the
    /// schema up to date.
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await
            .map_err(|e| db_error("connect", e))?;
        sql::migrator(MIGRATIONS).run(&pool).await.map_err(|e| {
            Error::new(
                ErrorKind::Unexpected,
                format!("migrating the postgres state store: {e}"),
            )
        })?;
        Ok(PostgresStore { pool })
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(|e| db_error("begin", e))
    }

    /// Turns "no row updated" into the right error.
    async fn require_open_update(&self, id: DeadLetterId, rows: u64) -> Result<()> {
        if rows == 1 {
            return Ok(());
        }
        let status = self.dead_letter(id).await?.map(|l| l.status);
        Err(letter_not_open(id, status.as_ref()))
    }
}

fn letter_from_row(row: &PgRow) -> Result<DeadLetter> {
    sql::letter_from_row("postgres", row)
}

#[async_trait]
impl StateStore for PostgresStore {
    async fn checkpoint(&self, flow: &str) -> Result<Option<Checkpoint>> {
        let row = sqlx::query("SELECT cursor, saved_at FROM seamwork_checkpoints WHERE flow = $1")
            .bind(flow)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| db_error("read checkpoint", e))?;
        row.map(|row| {
            let cursor: String = row.try_get(0).map_err(|e| db_error("cursor", e))?;
            let saved_at: i64 = row.try_get(1).map_err(|e| db_error("saved_at", e))?;
            Ok(Checkpoint {
                cursor: Cursor::new(cursor),
                saved_at: time(saved_at)?,
            })
        })
        .transpose()
    }

    async fn commit(&self, flow: &str, commit: BatchCommit, fence: Option<&Lease>) -> Result<()> {
        let mut tx = self.begin().await?;
        if let Some(lease) = fence {
            // FOR SHARE: a takeover of this lease waits until we commit.
            let current: Option<(String, i64)> = sqlx::query_as(
                "SELECT holder, token FROM seamwork_leases WHERE name = $1 FOR SHARE",
            )
            .bind(&lease.name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| db_error("read lease", e))?;
            if current != Some((lease.holder.clone(), lease.token)) {
                return Err(fenced_out(lease));
            }
        }
        if let Some(cursor) = &commit.cursor {
            sqlx::query(
                "INSERT INTO seamwork_checkpoints (flow, cursor, saved_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (flow) DO UPDATE SET cursor = excluded.cursor, saved_at = excluded.saved_at",
            )
            .bind(flow)
            .bind(cursor.as_str())
            .bind(micros(Utc::now()))
            .execute(&mut *tx)
            .await
            .map_err(|e| db_error("write checkpoint", e))?;
        }
        if !commit.keys.is_empty() {
            // One row per key: PostgreSQL refuses to touch a row twice in one upsert.
            let mut keys: HashMap<&str, i64> = HashMap::new();
            for (k, exp) in &commit.keys {
                let slot = keys.entry(k.as_str()).or_insert(micros(*exp));
                *slot = (*slot).max(micros(*exp));
            }
            let rows: Vec<(&str, i64)> = keys.into_iter().collect();
            sqlx::query(
                "INSERT INTO seamwork_idempotency_keys (flow, key, expires_at) \
                 SELECT $1, value ->> 0, (value ->> 1)::bigint FROM jsonb_array_elements($2::jsonb) \
                 ON CONFLICT (flow, key) DO UPDATE \
                 SET expires_at = GREATEST(seamwork_idempotency_keys.expires_at, excluded.expires_at)",
            )
            .bind(flow)
            .bind(to_json(&rows)?)
            .execute(&mut *tx)
            .await
            .map_err(|e| db_error("write idempotency keys", e))?;
        }
        if !commit.versions.is_empty() {
            let mut latest: HashMap<&str, Version> = HashMap::new();
            for (k, v) in &commit.versions {
                let slot = latest.entry(k.as_str()).or_insert(*v);
                if v.changed_at >= slot.changed_at {
                    *slot = *v;
                }
            }
            // The fingerprint's bits are stored as a signed integer.
            let rows: Vec<(&str, i64, i64)> = latest
                .into_iter()
                .map(|(k, v)| (k, micros(v.changed_at), v.fingerprint as i64))
                .collect();
            sqlx::query(
                "INSERT INTO seamwork_versions (flow, entity_key, changed_at, fingerprint) \
                 SELECT $1, value ->> 0, (value ->> 1)::bigint, (value ->> 2)::bigint \
                 FROM jsonb_array_elements($2::jsonb) \
                 ON CONFLICT (flow, entity_key) DO UPDATE \
                 SET changed_at = excluded.changed_at, fingerprint = excluded.fingerprint \
                 WHERE excluded.changed_at >= seamwork_versions.changed_at",
            )
            .bind(flow)
            .bind(to_json(&rows)?)
            .execute(&mut *tx)
            .await
            .map_err(|e| db_error("write seamwork_versions", e))?;
        }
        for letter in &commit.dead_letters {
            sqlx::query(
                "INSERT INTO seamwork_dead_letters (flow, owner, kind, entity_key, external_ref, changed_at, \
                 payload, error, attempts, first_failed_at, last_failed_at, status, is_open) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, TRUE) \
                 ON CONFLICT (flow, entity_key) WHERE is_open DO UPDATE SET \
                 attempts = seamwork_dead_letters.attempts + excluded.attempts, \
                 last_failed_at = excluded.last_failed_at, error = excluded.error, \
                 payload = excluded.payload, external_ref = excluded.external_ref, \
                 changed_at = excluded.changed_at",
            )
            .bind(&letter.flow)
            .bind(&letter.owner)
            .bind(to_json(&letter.kind)?)
            .bind(letter.key.as_str())
            .bind(letter.external_ref.as_ref().map(to_json).transpose()?)
            .bind(micros(letter.changed_at))
            .bind(to_json(&letter.payload)?)
            .bind(to_json(&letter.error)?)
            .bind(i64::from(letter.attempts))
            .bind(micros(letter.failed_at))
            .bind(to_json(&DeadLetterStatus::Open)?)
            .execute(&mut *tx)
            .await
            .map_err(|e| db_error("write dead letter", e))?;
        }
        tx.commit().await.map_err(|e| db_error("commit", e))
    }

    async fn seen(&self, flow: &str, keys: &[String], now: DateTime<Utc>) -> Result<Vec<bool>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let hits: Vec<i64> = sqlx::query_scalar(
            "SELECT j.idx FROM jsonb_array_elements_text($1::jsonb) WITH ORDINALITY AS j(key, idx) \
             WHERE EXISTS (SELECT 1 FROM seamwork_idempotency_keys k \
                           WHERE k.flow = $2 AND k.key = j.key AND k.expires_at > $3)",
        )
        .bind(to_json(&keys)?)
        .bind(flow)
        .bind(micros(now))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_error("read idempotency keys", e))?;
        let mut seen = vec![false; keys.len()];
        for idx in hits {
            // WITH ORDINALITY counts from 1.
            if let Some(slot) = usize::try_from(idx - 1).ok().and_then(|i| seen.get_mut(i)) {
                *slot = true;
            }
        }
        Ok(seen)
    }

    async fn versions(&self, flow: &str, keys: &[EntityKey]) -> Result<Vec<Option<Version>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT j.idx, v.changed_at, v.fingerprint \
             FROM jsonb_array_elements_text($1::jsonb) WITH ORDINALITY AS j(key, idx) \
             JOIN seamwork_versions v ON v.flow = $2 AND v.entity_key = j.key",
        )
        .bind(to_json(&keys)?)
        .bind(flow)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_error("read seamwork_versions", e))?;
        let mut out = vec![None; keys.len()];
        for (idx, at, fingerprint) in rows {
            if let Some(slot) = usize::try_from(idx - 1).ok().and_then(|i| out.get_mut(i)) {
                *slot = Some(Version::new(time(at)?, fingerprint as u64));
            }
        }
        Ok(out)
    }

    async fn purge_expired_keys(&self, now: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM seamwork_idempotency_keys WHERE expires_at <= $1")
            .bind(micros(now))
            .execute(&self.pool)
            .await
            .map_err(|e| db_error("purge idempotency keys", e))?;
        Ok(done.rows_affected())
    }

    async fn dead_letters(&self, filter: &DeadLetterFilter) -> Result<Vec<DeadLetter>> {
        let limit = filter
            .limit
            .map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let rows = sqlx::query(
            "SELECT * FROM seamwork_dead_letters WHERE ($1::text IS NULL OR flow = $1) \
             AND (NOT $2 OR is_open) ORDER BY id LIMIT $3",
        )
        .bind(filter.flow.as_deref())
        .bind(filter.open_only)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_error("list dead letters", e))?;
        rows.iter().map(letter_from_row).collect()
    }

    async fn count_dead_letters(&self, filter: &DeadLetterFilter) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM seamwork_dead_letters WHERE ($1::text IS NULL OR flow = $1) \
             AND (NOT $2 OR is_open)",
        )
        .bind(filter.flow.as_deref())
        .bind(filter.open_only)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| db_error("count dead letters", e))?;
        Ok(n.max(0) as u64)
    }

    async fn dead_letter(&self, id: DeadLetterId) -> Result<Option<DeadLetter>> {
        let row = sqlx::query("SELECT * FROM seamwork_dead_letters WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| db_error("read dead letter", e))?;
        row.as_ref().map(letter_from_row).transpose()
    }

    async fn edit_dead_letter(&self, id: DeadLetterId, payload: serde_json::Value) -> Result<()> {
        let done =
            sqlx::query("UPDATE seamwork_dead_letters SET payload = $1 WHERE id = $2 AND is_open")
                .bind(to_json(&payload)?)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(|e| db_error("edit dead letter", e))?;
        self.require_open_update(id, done.rows_affected()).await
    }

    async fn resolve_dead_letter(&self, id: DeadLetterId, status: DeadLetterStatus) -> Result<()> {
        if status == DeadLetterStatus::Open {
            return Err(Error::config("a dead letter cannot be resolved to `open`"));
        }
        let done = sqlx::query(
            "UPDATE seamwork_dead_letters SET status = $1, is_open = FALSE WHERE id = $2 AND is_open",
        )
        .bind(to_json(&status)?)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("resolve dead letter", e))?;
        self.require_open_update(id, done.rows_affected()).await
    }

    async fn record_dead_letter_failure(
        &self,
        id: DeadLetterId,
        error: &Error,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE seamwork_dead_letters SET attempts = attempts + 1, error = $1, last_failed_at = $2 \
             WHERE id = $3 AND is_open",
        )
        .bind(to_json(error)?)
        .bind(micros(at))
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("update dead letter", e))?;
        self.require_open_update(id, done.rows_affected()).await
    }

    async fn bind_reference(
        &self,
        namespace: &str,
        system: &str,
        outside: &str,
        canonical: &str,
    ) -> Result<()> {
        // Insert or find the conflicting binding in one statement each way;
        // the unique constraints decide races between workers.
        let inserted = sqlx::query(
            "INSERT INTO seamwork_cross_references (namespace, system, outside, canonical) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(namespace)
        .bind(system)
        .bind(outside)
        .bind(canonical)
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("write cross-reference", e))?;
        if inserted.rows_affected() == 1 {
            return Ok(());
        }
        let existing: Vec<(String, String)> = sqlx::query_as(
            "SELECT outside, canonical FROM seamwork_cross_references \
             WHERE namespace = $1 AND system = $2 AND (outside = $3 OR canonical = $4)",
        )
        .bind(namespace)
        .bind(system)
        .bind(outside)
        .bind(canonical)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_error("read cross-reference", e))?;
        for (o, c) in existing {
            if o != outside {
                return Err(reference_conflict(
                    namespace, system, outside, canonical, &o,
                ));
            }
            if c != canonical {
                return Err(reference_conflict(
                    namespace, system, outside, canonical, &c,
                ));
            }
        }
        Ok(())
    }

    async fn canonical_reference(
        &self,
        namespace: &str,
        system: &str,
        outside: &str,
    ) -> Result<Option<String>> {
        sqlx::query_scalar(
            "SELECT canonical FROM seamwork_cross_references \
             WHERE namespace = $1 AND system = $2 AND outside = $3",
        )
        .bind(namespace)
        .bind(system)
        .bind(outside)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("read cross-reference", e))
    }

    async fn outside_reference(
        &self,
        namespace: &str,
        system: &str,
        canonical: &str,
    ) -> Result<Option<String>> {
        sqlx::query_scalar(
            "SELECT outside FROM seamwork_cross_references \
             WHERE namespace = $1 AND system = $2 AND canonical = $3",
        )
        .bind(namespace)
        .bind(system)
        .bind(canonical)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("read cross-reference", e))
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>> {
        let expires_at = expiry(now, ttl);
        let token: Option<i64> = sqlx::query_scalar(
            "INSERT INTO seamwork_leases (name, holder, token, expires_at) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (name) DO UPDATE \
             SET holder = excluded.holder, token = seamwork_leases.token + 1, expires_at = excluded.expires_at \
             WHERE seamwork_leases.expires_at <= $4 \
             RETURNING token",
        )
        .bind(name)
        .bind(holder)
        .bind(micros(expires_at))
        .bind(micros(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("acquire lease", e))?;
        Ok(token.map(|token| Lease {
            name: name.to_string(),
            holder: holder.to_string(),
            token,
            expires_at,
        }))
    }

    async fn renew_lease(
        &self,
        lease: &Lease,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>> {
        let renewed = Lease {
            expires_at: expiry(now, ttl),
            ..lease.clone()
        };
        let done = sqlx::query(
            "UPDATE seamwork_leases SET expires_at = $1 WHERE name = $2 AND holder = $3 AND token = $4",
        )
        .bind(micros(renewed.expires_at))
        .bind(&lease.name)
        .bind(&lease.holder)
        .bind(lease.token)
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("renew lease", e))?;
        Ok((done.rows_affected() == 1).then_some(renewed))
    }

    async fn release_lease(&self, lease: &Lease) -> Result<()> {
        sqlx::query(
            "UPDATE seamwork_leases SET expires_at = $1 WHERE name = $2 AND holder = $3 AND token = $4",
        )
        .bind(micros(DateTime::<Utc>::MIN_UTC))
        .bind(&lease.name)
        .bind(&lease.holder)
        .bind(lease.token)
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("release lease", e))?;
        Ok(())
    }
}

#[async_trait]
impl DriftLedger for PostgresStore {
    async fn record(&self, key: &LedgerKey, run: RunRecord) -> Result<()> {
        let ledger = to_json(key)?;
        let mut tx = self.begin().await?;
        // One writer per ledger at a time, so sequence numbers never collide.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(&ledger)
            .execute(&mut *tx)
            .await
            .map_err(|e| db_error("lock drift ledger", e))?;
        sqlx::query(
            "INSERT INTO seamwork_drift_runs (ledger, seq, run) \
             SELECT $1, coalesce(max(seq), 0) + 1, $2 FROM seamwork_drift_runs WHERE ledger = $1",
        )
        .bind(&ledger)
        .bind(to_json(&run)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| db_error("write drift run", e))?;
        tx.commit().await.map_err(|e| db_error("commit", e))
    }

    async fn runs(&self, key: &LedgerKey, last: usize) -> Result<Vec<RunRecord>> {
        let texts: Vec<String> = sqlx::query_scalar(
            "SELECT run FROM (SELECT seq, run FROM seamwork_drift_runs WHERE ledger = $1 \
             ORDER BY seq DESC LIMIT $2) recent ORDER BY seq",
        )
        .bind(to_json(key)?)
        .bind(i64::try_from(last).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_error("read drift runs", e))?;
        texts.iter().map(|t| sql::from_json("run", t)).collect()
    }
}
