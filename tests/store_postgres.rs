//! The PostgreSQL store passes the same conformance suite as the others
//! (skipped, with the reason printed, when no server is configured).

#[path = "common/pg.rs"]
mod pg;

use seamwork::store::StateStore;
use seamwork::testkit::store::{check_state_store, drift_ledger_keeps_runs_in_order};

#[tokio::test]
async fn postgres_store_conforms() {
    let Some(url) = pg::fresh_database("conformance").await else {
        return;
    };
    let store = seamwork::store::PostgresStore::connect(&url).await.unwrap();
    check_state_store(&store).await.unwrap();
    drift_ledger_keeps_runs_in_order(&store).await.unwrap();
    // A second connection (another worker) sees the same state and does not re-migrate.
    let again = seamwork::store::PostgresStore::connect(&url).await.unwrap();
    assert!(
        again
            .checkpoint("conformance-checkpoints")
            .await
            .unwrap()
            .is_some()
    );
    drop((store, again));
    pg::drop_database(&url).await;
}
