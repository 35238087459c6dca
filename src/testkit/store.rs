//! The conformance suite every [`StateStore`] must pass.
//!
//! ```
//! use seamwork::store::MemoryStore;
//! use seamwork::testkit::store::check_state_store;
//!
//! # futures::executor::block_on(async {
//! check_state_store(&MemoryStore::new()).await.unwrap();
//! # });
//! ```
//!
//! Each check uses its own flow and lease names (prefixed `conformance-`) and
//! fixed times; run it against a fresh store (a new file, database or schema).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use super::{CheckResult, Problems};
use crate::connector::{Cursor, EntityKey, EntityKind};
use crate::error::Error;
use crate::model::ExternalRef;
use crate::reconcile::{DeltaStats, DiffKind, DriftLedger, LedgerKey, RunRecord, Summary};
use crate::store::{
    BatchCommit, DeadLetterFilter, DeadLetterStatus, NewDeadLetter, StateStore, Version,
};
use rust_decimal::Decimal;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0)
        .single()
        .unwrap_or_default()
}

/// Runs every state-store check.
pub async fn check_state_store(store: &dyn StateStore) -> CheckResult {
    checkpoints_round_trip(store).await?;
    idempotency_keys_expire(store).await?;
    versions_only_move_forward(store).await?;
    large_commits_keep_every_version(store).await?;
    dead_letters_have_a_lifecycle(store).await?;
    leases_fence_stale_workers(store).await?;
    references_are_one_to_one(store).await?;
    Ok(())
}

/// A committed cursor reads back; a commit without a cursor keeps it; flows
/// do not see each other's checkpoints.
pub async fn checkpoints_round_trip(store: &dyn StateStore) -> CheckResult {
    let mut p = Problems::new("checkpoints_round_trip");
    let flow = "conformance-checkpoints";
    match store.checkpoint(flow).await {
        Ok(None) => {}
        other => p.add(format!(
            "a new flow's checkpoint should be None, got {other:?}"
        )),
    }
    for cursor in ["c1", "c2|with\u{1f}odd chars ✓"] {
        if let Err(e) = store
            .commit(flow, BatchCommit::new(Cursor::new(cursor)), None)
            .await
        {
            p.add(format!("commit of cursor {cursor:?} failed: {e}"));
        }
        match store.checkpoint(flow).await {
            Ok(Some(c)) if c.cursor.as_str() == cursor => {}
            other => p.add(format!(
                "after committing {cursor:?} the checkpoint is {other:?}"
            )),
        }
    }
    let keep = BatchCommit::without_cursor().with_keys(["k"], t(100));
    if let Err(e) = store.commit(flow, keep, None).await {
        p.add(format!("commit without a cursor failed: {e}"));
    }
    match store.checkpoint(flow).await {
        Ok(Some(c)) if c.cursor.as_str() == "c2|with\u{1f}odd chars ✓" => {}
        other => p.add(format!(
            "a commit without a cursor moved the checkpoint: {other:?}"
        )),
    }
    match store.checkpoint("conformance-checkpoints-other").await {
        Ok(None) => {}
        other => p.add(format!(
            "another flow sees this flow's checkpoint: {other:?}"
        )),
    }
    p.finish()
}

/// Keys are seen per flow until they expire, then purged; re-committing a
/// key extends its life.
pub async fn idempotency_keys_expire(store: &dyn StateStore) -> CheckResult {
    let mut p = Problems::new("idempotency_keys_expire");
    let flow = "conformance-keys";
    let keys: Vec<String> = vec!["a".into(), "b\u{1f}x".into(), "c".into()];
    let commit = BatchCommit::new(Cursor::new("1"))
        .with_keys(["a", "b\u{1f}x"], t(10))
        .with_keys(["c"], t(20));
    if let Err(e) = store.commit(flow, commit, None).await {
        p.add(format!("commit failed: {e}"));
    }
    let cases = [
        (t(0), vec![true, true, true], "before any expiry"),
        (t(10), vec![false, false, true], "at the first expiry"),
        (t(25), vec![false, false, false], "after every expiry"),
    ];
    for (now, want, when) in cases {
        match store.seen(flow, &keys, now).await {
            Ok(got) if got == want => {}
            other => p.add(format!("seen {when}: want {want:?}, got {other:?}")),
        }
    }
    match store.seen("conformance-keys-other", &keys, t(0)).await {
        Ok(got) if got == [false, false, false] => {}
        other => p.add(format!("another flow sees this flow's keys: {other:?}")),
    }
    match store.seen(flow, &[], t(0)).await {
        Ok(got) if got.is_empty() => {}
        other => p.add(format!("seen of no keys: {other:?}")),
    }
    let extend = BatchCommit::without_cursor().with_keys(["a"], t(30));
    if let Err(e) = store.commit(flow, extend, None).await {
        p.add(format!("re-commit failed: {e}"));
    }
    match store.seen(flow, &keys[..1], t(25)).await {
        Ok(got) if got == [true] => {}
        other => p.add(format!(
            "a re-committed key should live until its new expiry: {other:?}"
        )),
    }
    match store.purge_expired_keys(t(25)).await {
        Ok(n) if n >= 2 => {}
        other => p.add(format!(
            "purge at t+25 should remove b and c at least: {other:?}"
        )),
    }
    match store.seen(flow, &keys, t(0)).await {
        Ok(got) if got == [true, false, false] => {}
        other => p.add(format!("after the purge only `a` should remain: {other:?}")),
    }
    p.finish()
}

/// Each key's version is kept per flow, and a commit never moves it back.
pub async fn versions_only_move_forward(store: &dyn StateStore) -> CheckResult {
    let mut p = Problems::new("versions_only_move_forward");
    let flow = "conformance-versions";
    let (a, b, c) = (
        EntityKey::new("A"),
        EntityKey::new("B\u{1f}LOC"),
        EntityKey::new("C"),
    );
    let v = |secs: i64, fp: u64| Version::new(t(secs), fp);
    let first = BatchCommit::new(Cursor::new("1"))
        .with_version(a.clone(), v(10, 1))
        .with_version(b.clone(), v(20, u64::MAX));
    if let Err(e) = store.commit(flow, first, None).await {
        p.add(format!("commit failed: {e}"));
    }
    let second = BatchCommit::new(Cursor::new("2"))
        .with_version(a.clone(), v(5, 2))
        .with_version(b.clone(), v(20, 7));
    if let Err(e) = store.commit(flow, second, None).await {
        p.add(format!("commit failed: {e}"));
    }
    let keys = [a.clone(), b.clone(), c.clone()];
    match store.versions(flow, &keys).await {
        Ok(got) if got == [Some(v(10, 1)), Some(v(20, 7)), None] => {}
        other => p.add(format!(
            "want [(t+10, 1), (t+20, 7), None]: an older version never wins, one at the same \
             time replaces the fingerprint, every bit of it kept; got {other:?}"
        )),
    }
    match store.versions("conformance-versions-other", &keys).await {
        Ok(got) if got == [None, None, None] => {}
        other => p.add(format!("another flow sees this flow's versions: {other:?}")),
    }
    match store.versions(flow, &[]).await {
        Ok(got) if got.is_empty() => {}
        other => p.add(format!("versions of no keys: {other:?}")),
    }
    p.finish()
}

/// A commit far larger than any one statement a store writes (20,001
/// versions, given in no particular order) keeps every version.
pub async fn large_commits_keep_every_version(store: &dyn StateStore) -> CheckResult {
    let mut p = Problems::new("large_commits_keep_every_version");
    let flow = "conformance-large-commit";
    let n: u64 = 20_001;
    // Keys in a scrambled order (a stride coprime to n), each its own version.
    let keys: Vec<EntityKey> = (0..n)
        .map(|i| EntityKey::new(format!("K{:05}", i * 7_919 % n)))
        .collect();
    let version = |key: &EntityKey| {
        let i: u64 = key.as_str()[1..].parse().unwrap_or_default();
        Version::new(t(i64::try_from(i).unwrap_or_default()), i * 31)
    };
    let mut commit = BatchCommit::new(Cursor::new("large"));
    for key in &keys {
        commit = commit.with_version(key.clone(), version(key));
    }
    if let Err(e) = store.commit(flow, commit, None).await {
        p.add(format!("a commit of {n} versions failed: {e}"));
    }
    match store.versions(flow, &keys).await {
        Ok(got) => {
            let wrong = keys
                .iter()
                .zip(&got)
                .filter(|(key, got)| **got != Some(version(key)))
                .count();
            if got.len() != keys.len() || wrong > 0 {
                p.add(format!(
                    "{wrong} of {n} versions read back wrong ({} answers)",
                    got.len()
                ));
            }
        }
        Err(e) => p.add(format!("reading {n} versions failed: {e}")),
    }
    p.finish()
}

fn letter(flow: &str, key: &str, attempts: u32, at: DateTime<Utc>, why: &str) -> NewDeadLetter {
    NewDeadLetter {
        flow: flow.to_string(),
        owner: "team-erp".to_string(),
        kind: EntityKind::Variant,
        key: EntityKey::new(key),
        external_ref: Some(ExternalRef::new("store", format!("gid-{key}"))),
        changed_at: at - chrono::Duration::seconds(1),
        payload: json!({ "sku": key, "price": "-1.00" }),
        error: Error::invalid_data(why).with_key(key),
        attempts,
        failed_at: at,
    }
}

/// Dead letters are stored with everything a person needs, merged per open
/// key, editable while open, and closed by a replay or a discard with a reason.
pub async fn dead_letters_have_a_lifecycle(store: &dyn StateStore) -> CheckResult {
    let mut p = Problems::new("dead_letters_have_a_lifecycle");
    let flow = "conformance-dlq";
    let first = BatchCommit::new(Cursor::new("1"))
        .with_dead_letter(letter(flow, "SKU-1", 3, t(1), "negative price"))
        .with_dead_letter(letter(flow, "SKU-2", 1, t(2), "missing title"));
    if let Err(e) = store.commit(flow, first, None).await {
        p.add(format!("commit with dead letters failed: {e}"));
        return p.finish();
    }
    let again = BatchCommit::new(Cursor::new("2")).with_dead_letter(letter(
        flow,
        "SKU-1",
        2,
        t(5),
        "still negative",
    ));
    if let Err(e) = store.commit(flow, again, None).await {
        p.add(format!("second commit failed: {e}"));
    }
    let open = match store.dead_letters(&DeadLetterFilter::open(flow)).await {
        Ok(l) => l,
        Err(e) => {
            p.add(format!("listing failed: {e}"));
            return p.finish();
        }
    };
    if open.len() != 2 {
        p.add(format!(
            "want 2 open letters (one per key), got {}",
            open.len()
        ));
        return p.finish();
    }
    let (one, two) = (&open[0], &open[1]);
    if one.key.as_str() != "SKU-1" || two.key.as_str() != "SKU-2" {
        p.add(format!(
            "letters should be oldest first: {:?}, {:?}",
            one.key, two.key
        ));
    }
    if one.attempts != 5 || one.first_failed_at != t(1) || one.last_failed_at != t(5) {
        p.add(format!(
            "a repeated failure should add attempts and keep the first failure time: \
             attempts {}, first {}, last {}",
            one.attempts, one.first_failed_at, one.last_failed_at
        ));
    }
    if one.error.message() != "still negative" || one.owner != "team-erp" {
        p.add(format!(
            "the latest error and the owner are kept: {:?} / {}",
            one.error, one.owner
        ));
    }
    if one.changed_at != t(4) {
        p.add(format!(
            "the letter keeps the latest failed version: {}",
            one.changed_at
        ));
    }
    if one.kind != EntityKind::Variant
        || one.external_ref != Some(ExternalRef::new("store", "gid-SKU-1"))
    {
        p.add(format!(
            "kind and external ref round trip: {:?} {:?}",
            one.kind, one.external_ref
        ));
    }
    let fixed = json!({ "sku": "SKU-1", "price": "9.99" });
    if let Err(e) = store.edit_dead_letter(one.id, fixed.clone()).await {
        p.add(format!("edit failed: {e}"));
    }
    if let Err(e) = store
        .record_dead_letter_failure(two.id, &Error::invalid_data("again"), t(9))
        .await
    {
        p.add(format!("recording a replay failure failed: {e}"));
    }
    match store.dead_letter(two.id).await {
        Ok(Some(l))
            if l.attempts == 2 && l.last_failed_at == t(9) && l.error.message() == "again" => {}
        other => p.add(format!(
            "a replay failure adds an attempt and keeps the error: {other:?}"
        )),
    }
    let replayed = DeadLetterStatus::Replayed { at: t(10) };
    if let Err(e) = store.resolve_dead_letter(one.id, replayed.clone()).await {
        p.add(format!("resolve as replayed failed: {e}"));
    }
    match store.dead_letter(one.id).await {
        Ok(Some(l)) if l.payload == fixed && l.status == replayed => {}
        other => p.add(format!(
            "the edited payload and the status read back: {other:?}"
        )),
    }
    if store.edit_dead_letter(one.id, json!({})).await.is_ok() {
        p.add("a replayed letter must not be editable".to_string());
    }
    if store.resolve_dead_letter(one.id, replayed).await.is_ok() {
        p.add("a replayed letter must not be resolved twice".to_string());
    }
    if store
        .resolve_dead_letter(two.id, DeadLetterStatus::Open)
        .await
        .is_ok()
    {
        p.add("resolving to Open must be refused".to_string());
    }
    if store
        .resolve_dead_letter(i64::MAX, DeadLetterStatus::Replayed { at: t(0) })
        .await
        .is_ok()
    {
        p.add("resolving an unknown letter must fail".to_string());
    }
    let discarded = DeadLetterStatus::Discarded {
        reason: "product retired".into(),
        at: t(11),
    };
    if let Err(e) = store.resolve_dead_letter(two.id, discarded).await {
        p.add(format!("discard failed: {e}"));
    }
    let every = DeadLetterFilter {
        flow: Some(flow.to_string()),
        open_only: false,
        limit: Some(1),
    };
    match (
        store.count_dead_letters(&every).await,
        store
            .count_dead_letters(&DeadLetterFilter::open(flow))
            .await,
    ) {
        (Ok(2), Ok(0)) => {}
        other => p.add(format!(
            "counting (limit aside): 2 letters in all, 0 open, expected; got {other:?}"
        )),
    }
    match store.dead_letters(&DeadLetterFilter::open(flow)).await {
        Ok(l) if l.is_empty() => {}
        other => p.add(format!("no letter should be open now: {other:?}")),
    }
    let mut all = DeadLetterFilter::open(flow);
    all.open_only = false;
    all.limit = Some(1);
    match store.dead_letters(&all).await {
        Ok(l) if l.len() == 1 && l[0].id == one.id => {}
        other => p.add(format!(
            "limit 1 over all letters should give the oldest: {other:?}"
        )),
    }
    let reopen = BatchCommit::new(Cursor::new("3")).with_dead_letter(letter(
        flow,
        "SKU-1",
        1,
        t(20),
        "broke again",
    ));
    if let Err(e) = store.commit(flow, reopen, None).await {
        p.add(format!("commit after resolution failed: {e}"));
    }
    match store.dead_letters(&DeadLetterFilter::open(flow)).await {
        Ok(l) if l.len() == 1 && l[0].id != one.id && l[0].attempts == 1 => {}
        other => p.add(format!(
            "a key failing after its letter closed gets a new letter: {other:?}"
        )),
    }
    p.finish()
}

/// Leases are exclusive until they lapse; each acquisition has a higher
/// token; a commit fenced by a superseded lease is refused and changes nothing.
pub async fn leases_fence_stale_workers(store: &dyn StateStore) -> CheckResult {
    let mut p = Problems::new("leases_fence_stale_workers");
    let (name, ttl) = ("conformance-lease", Duration::from_secs(30));
    let a = match store.acquire_lease(name, "worker-a", ttl, t(0)).await {
        Ok(Some(l)) => l,
        other => {
            p.add(format!("a free lease should be granted: {other:?}"));
            return p.finish();
        }
    };
    match store.acquire_lease(name, "worker-b", ttl, t(10)).await {
        Ok(None) => {}
        other => p.add(format!(
            "a held lease must not be granted to another worker: {other:?}"
        )),
    }
    match store.acquire_lease(name, "worker-a", ttl, t(11)).await {
        Ok(None) => {}
        other => p.add(format!(
            "a held lease must not be granted again to its own holder (two tasks would run): {other:?}"
        )),
    }
    let renewed = match store.renew_lease(&a, ttl, t(20)).await {
        Ok(Some(l)) if l.token == a.token && l.expires_at == t(50) => l,
        other => {
            p.add(format!(
                "renewal should extend to t+50 with the same token: {other:?}"
            ));
            a.clone()
        }
    };
    let ok = BatchCommit::new(Cursor::new("from-a"));
    if let Err(e) = store
        .commit("conformance-lease-flow", ok, Some(&renewed))
        .await
    {
        p.add(format!("a commit under the current lease failed: {e}"));
    }
    let b = match store.acquire_lease(name, "worker-b", ttl, t(60)).await {
        Ok(Some(l)) if l.token > a.token => l,
        other => {
            p.add(format!(
                "a lapsed lease should go to b with a higher token: {other:?}"
            ));
            return p.finish();
        }
    };
    let stale = BatchCommit::new(Cursor::new("stale-from-a")).with_keys(["stale"], t(1000));
    match store
        .commit("conformance-lease-flow", stale, Some(&renewed))
        .await
    {
        Err(e) if e.kind() == &crate::ErrorKind::Conflict => {}
        other => p.add(format!(
            "a commit under a superseded lease must be a Conflict: {other:?}"
        )),
    }
    match store.checkpoint("conformance-lease-flow").await {
        Ok(Some(c)) if c.cursor.as_str() == "from-a" => {}
        other => p.add(format!("the refused commit must change nothing: {other:?}")),
    }
    match store
        .seen("conformance-lease-flow", &["stale".to_string()], t(0))
        .await
    {
        Ok(s) if s == [false] => {}
        other => p.add(format!(
            "the refused commit's keys must not be stored: {other:?}"
        )),
    }
    match store.renew_lease(&renewed, ttl, t(61)).await {
        Ok(None) => {}
        other => p.add(format!("a superseded lease must not renew: {other:?}")),
    }
    if let Err(e) = store.release_lease(&b).await {
        p.add(format!("release failed: {e}"));
    }
    match store.acquire_lease(name, "worker-c", ttl, t(62)).await {
        Ok(Some(c)) if c.token > b.token => {}
        other => p.add(format!(
            "a released lease is free again, with a higher token: {other:?}"
        )),
    }
    p.finish()
}

/// Cross-references bind one outside id to one canonical value per
/// (namespace, system), both ways.
pub async fn references_are_one_to_one(store: &dyn StateStore) -> CheckResult {
    let mut p = Problems::new("references_are_one_to_one");
    let ns = "conformance-variant";
    if let Err(e) = store
        .bind_reference(ns, "shopify", "gid://1", "SKU-1")
        .await
    {
        p.add(format!("bind failed: {e}"));
    }
    if let Err(e) = store
        .bind_reference(ns, "shopify", "gid://1", "SKU-1")
        .await
    {
        p.add(format!("binding the same pair again must be a no-op: {e}"));
    }
    if store
        .bind_reference(ns, "shopify", "gid://1", "SKU-2")
        .await
        .is_ok()
    {
        p.add("rebinding an outside id to another canonical value must fail".to_string());
    }
    if store
        .bind_reference(ns, "shopify", "gid://2", "SKU-1")
        .await
        .is_ok()
    {
        p.add("binding a second outside id to the same canonical value must fail".to_string());
    }
    if let Err(e) = store.bind_reference(ns, "erp", "E-1", "SKU-1").await {
        p.add(format!(
            "another system may bind the same canonical value: {e}"
        ));
    }
    match store.canonical_reference(ns, "shopify", "gid://1").await {
        Ok(Some(c)) if c == "SKU-1" => {}
        other => p.add(format!("outside → canonical: {other:?}")),
    }
    match store.outside_reference(ns, "erp", "SKU-1").await {
        Ok(Some(o)) if o == "E-1" => {}
        other => p.add(format!("canonical → outside: {other:?}")),
    }
    match store.canonical_reference(ns, "shopify", "gid://2").await {
        Ok(None) => {}
        other => p.add(format!("an unbound id has no reference: {other:?}")),
    }
    p.finish()
}

/// A drift ledger keeps every run per (systems, entity), returns the latest
/// ones oldest first, and gives back exactly what it was given.
pub async fn drift_ledger_keeps_runs_in_order(ledger: &dyn DriftLedger) -> CheckResult {
    let mut p = Problems::new("drift_ledger_keeps_runs_in_order");
    let a = LedgerKey::new("erp", "store", "conformance-inventory");
    let b = LedgerKey::new("erp", "store", "conformance-variant");
    let run = |n: u64| {
        let summary = Summary {
            mismatched: n,
            ..Summary::default()
        };
        let mut deltas = BTreeMap::new();
        let stats = DeltaStats {
            compared: 10 + n,
            sum: Decimal::new(25 * n as i64, 1),
            sum_sq: Decimal::new(625, 2),
        };
        deltas.insert(
            "DC-1".to_string(),
            BTreeMap::from([("on_hand".to_string(), stats)]),
        );
        RunRecord {
            at: t(n as i64),
            summary,
            keys: BTreeMap::from([(
                EntityKey::new(format!("SKU-{n}\u{1f}DC-1")),
                DiffKind::Mismatch,
            )]),
            deltas,
        }
    };
    for n in 1..=3 {
        if let Err(e) = ledger.record(&a, run(n)).await {
            p.add(format!("record run {n} failed: {e}"));
        }
    }
    if let Err(e) = ledger.record(&b, run(9)).await {
        p.add(format!("record on another key failed: {e}"));
    }
    match ledger.runs(&a, 2).await {
        Ok(runs) if runs == [run(2), run(3)] => {}
        Ok(runs) => p.add(format!(
            "the last 2 runs, oldest first and unchanged, were expected; got {:?}",
            runs.iter()
                .map(|r| r.summary.mismatched)
                .collect::<Vec<_>>()
        )),
        Err(e) => p.add(format!("reading runs failed: {e}")),
    }
    match ledger.runs(&b, 10).await {
        Ok(runs) if runs == [run(9)] => {}
        other => p.add(format!("another key's history is separate: {other:?}")),
    }
    match ledger.runs(&LedgerKey::new("x", "y", "z"), 5).await {
        Ok(runs) if runs.is_empty() => {}
        other => p.add(format!("an unknown key has no runs: {other:?}")),
    }
    p.finish()
}
