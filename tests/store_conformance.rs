//! Every state store passes the one conformance suite, and the SQLite store
//! keeps its state across a reopen of the file.

use chrono::Utc;
use seamwork::connector::Cursor;
use seamwork::reconcile::MemoryLedger;
use seamwork::store::{BatchCommit, DeadLetterFilter, MemoryStore, SqliteStore, StateStore};
use seamwork::testkit::store::{check_state_store, drift_ledger_keeps_runs_in_order};

#[tokio::test]
async fn memory_store_conforms() {
    check_state_store(&MemoryStore::new()).await.unwrap();
    drift_ledger_keeps_runs_in_order(&MemoryLedger::new(100))
        .await
        .unwrap();
}

#[tokio::test]
async fn sqlite_in_memory_store_conforms() {
    let store = SqliteStore::in_memory().await.unwrap();
    check_state_store(&store).await.unwrap();
    drift_ledger_keeps_runs_in_order(&store).await.unwrap();
}

#[tokio::test]
async fn sqlite_file_store_conforms_and_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let store = SqliteStore::open(&path).await.unwrap();
        check_state_store(&store).await.unwrap();
        drift_ledger_keeps_runs_in_order(&store).await.unwrap();
        let commit = BatchCommit::new(Cursor::new("after-reopen"))
            .with_keys(["k1"], Utc::now() + chrono::Duration::hours(1));
        store.commit("reopen", commit, None).await.unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let cp = store.checkpoint("reopen").await.unwrap().unwrap();
    assert_eq!(cp.cursor.as_str(), "after-reopen");
    assert_eq!(
        store
            .seen("reopen", &["k1".into()], Utc::now())
            .await
            .unwrap(),
        [true]
    );
    // The letters written by the suite are still there after the reopen.
    let letters = store.dead_letters(&DeadLetterFilter::all()).await.unwrap();
    assert_eq!(letters.len(), 3);
    // So is the drift history.
    let key = seamwork::reconcile::LedgerKey::new("erp", "store", "conformance-inventory");
    use seamwork::reconcile::DriftLedger;
    assert_eq!(store.runs(&key, 10).await.unwrap().len(), 3);
}
