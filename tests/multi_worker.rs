//! Multi-worker test on a real PostgreSQL: four worker *processes* share
//! eight flows through leases; one is killed (SIGKILL) while it runs a flow;
//! another takes its lease over. The sink is a check-then-insert table with
//! no unique key, so two workers running one flow at once would leave
//! duplicate rows: the test proves there are none, and that nothing is lost.
//!
//! Skipped, with the reason printed, when no PostgreSQL URL is set
//! (`SEAMWORK_TEST_POSTGRES`); `.ci/run` always sets it. The worker processes
//! are this test binary started again on the ignored test `worker_process`.

#[path = "common/pg.rs"]
mod pg;

use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use seamwork::connector::memory::{
    Dataset, FaultOptions, MemoryOptions, MemorySystem, SeedOptions,
};
use seamwork::connector::{
    Capability, Connector, Entity, EntityKind, Sink, WriteOutcome, WriteResult,
};
use seamwork::model::{InventoryLevel, SystemId};
use seamwork::store::PostgresStore;
use seamwork::sync::{
    Engine, FailurePolicy, Flow, FlowTurn, Owner, RunnableFlow, Sla, Worker, WorkerOptions,
};
use seamwork::{Error, Result};
use sqlx::PgPool;

const FLOWS: usize = 8;
const WORKERS: usize = 4;

/// The same inventory for flow `i` in every process (seeded).
fn inventory(i: usize) -> Vec<InventoryLevel> {
    let mut options = SeedOptions::default()
        .with_seed(100 + i as u64)
        .with_orders(0);
    options.products = 125; // 500 variants × 5 locations = 2,500 levels
    options.customers = 0;
    Dataset::generate(&options).unwrap().inventory
}

/// A sink that checks, then inserts, with no unique key: concurrent writers
/// of one flow would create duplicates, which is what the leases prevent.
struct CheckThenInsertSink {
    pool: PgPool,
    flow: String,
    system: SystemId,
}

impl Connector for CheckThenInsertSink {
    fn system(&self) -> &SystemId {
        &self.system
    }

    fn capability(&self, _: EntityKind) -> Capability {
        Capability::new().with_max_batch(Some(50))
    }
}

#[async_trait]
impl Sink<InventoryLevel> for CheckThenInsertSink {
    async fn upsert(&self, batch: &[InventoryLevel]) -> Result<Vec<WriteOutcome>> {
        let db = |e: sqlx::Error| Error::unavailable(format!("test sink: {e}"));
        let mut tx = self.pool.begin().await.map_err(db)?;
        let mut out = Vec::with_capacity(batch.len());
        for level in batch {
            let key = level.key();
            let content = serde_json::to_string(level)?;
            let existing: Option<String> = sqlx::query_scalar(
                "SELECT content FROM sink_rows WHERE flow = $1 AND key = $2 LIMIT 1",
            )
            .bind(&self.flow)
            .bind(key.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            let result = match existing {
                Some(c) if c == content => WriteResult::Unchanged {
                    external_id: key.to_string(),
                },
                Some(_) => {
                    sqlx::query("UPDATE sink_rows SET content = $3 WHERE flow = $1 AND key = $2")
                        .bind(&self.flow)
                        .bind(key.as_str())
                        .bind(&content)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    WriteResult::Updated {
                        external_id: key.to_string(),
                    }
                }
                None => {
                    sqlx::query("INSERT INTO sink_rows (flow, key, content) VALUES ($1, $2, $3)")
                        .bind(&self.flow)
                        .bind(key.as_str())
                        .bind(&content)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    WriteResult::Created {
                        external_id: key.to_string(),
                    }
                }
            };
            out.push(WriteOutcome::new(key, result));
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
    }
}

fn flows(pool: &PgPool) -> Vec<Arc<dyn RunnableFlow>> {
    (0..FLOWS)
        .map(|i| {
            let options = MemoryOptions::default()
                .with_seed(i as u64)
                .with_page_size(50)
                .with_faults(FaultOptions::none().with_latency(Duration::from_millis(3)));
            let source = Arc::new(MemorySystem::new(SystemId::new("store").unwrap(), options));
            source.put_all(inventory(i));
            let name = format!("inventory-{i}");
            let sink = Arc::new(CheckThenInsertSink {
                pool: pool.clone(),
                flow: name.clone(),
                system: SystemId::new("erp").unwrap(),
            });
            let flow = Flow::<InventoryLevel>::builder(name, source, sink)
                .owner(Owner::new("warehouse-ops", "#wms-alerts"))
                .failure_policy(FailurePolicy::dead_letter(10))
                .sla(Sla::max_lag(Duration::from_secs(3600 * 24 * 3650)))
                .build()
                .unwrap();
            Arc::new(flow) as Arc<dyn RunnableFlow>
        })
        .collect()
}

/// One worker process: passes over the flows until every flow has finished
/// a run (recorded in `flows_done`).
#[tokio::test]
#[ignore = "started as a child process by `four_worker_processes_share_flows_through_a_kill`"]
async fn worker_process() {
    let (Ok(url), Ok(id)) = (
        std::env::var("SEAMWORK_MW_DB"),
        std::env::var("SEAMWORK_MW_WORKER"),
    ) else {
        return; // run by hand without the parent: nothing to do
    };
    let pool = PgPool::connect(&url).await.unwrap();
    let store = Arc::new(PostgresStore::connect(&url).await.unwrap());
    let worker = Worker::new(
        id.clone(),
        Engine::new(store),
        WorkerOptions::with_lease_ttl(Duration::from_millis(1500)),
    );
    let flows = flows(&pool);
    loop {
        let turns = worker.pass(&flows).await.unwrap();
        for (flow, turn) in flows.iter().zip(turns) {
            match turn {
                FlowTurn::Ran { report, .. } if report.halted.is_none() => {
                    // The first finished run of a flow records who did it.
                    sqlx::query(
                        "INSERT INTO flows_done (flow, worker, read) VALUES ($1, $2, $3) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(flow.name())
                    .bind(&id)
                    .bind(report.read as i64)
                    .execute(&pool)
                    .await
                    .unwrap();
                }
                FlowTurn::Ran { report, .. } => {
                    panic!("{id}: {} halted: {:?}", flow.name(), report.halted)
                }
                FlowTurn::LeaseLost(e) => eprintln!("{id}: lost {}: {e}", flow.name()),
                _ => {}
            }
        }
        let done: i64 = sqlx::query_scalar("SELECT count(*) FROM flows_done")
            .fetch_one(&pool)
            .await
            .unwrap();
        if done == FLOWS as i64 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn spawn_worker(url: &str, id: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "worker_process",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("SEAMWORK_MW_DB", url)
        .env("SEAMWORK_MW_WORKER", id)
        .spawn()
        .unwrap()
}

fn wait(child: &mut Child, deadline: Instant) -> std::process::ExitStatus {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("a worker did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn four_worker_processes_share_flows_through_a_kill() {
    let Some(url) = pg::fresh_database("multi_worker").await else {
        return;
    };
    let pool = PgPool::connect(&url).await.unwrap();
    PostgresStore::connect(&url).await.unwrap(); // migrate once up front
    sqlx::query(
        "CREATE TABLE sink_rows (flow TEXT NOT NULL, key TEXT NOT NULL, content TEXT NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("CREATE TABLE flows_done (flow TEXT PRIMARY KEY, worker TEXT NOT NULL, read BIGINT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();

    let mut workers: Vec<Child> = (0..WORKERS)
        .map(|w| spawn_worker(&url, &format!("w{w}")))
        .collect();

    // Kill w0 while it holds a lease on a flow that has not finished.
    let deadline = Instant::now() + Duration::from_secs(60);
    let victim_flow: String = loop {
        let held: Option<String> = sqlx::query_scalar(
            "SELECT l.name FROM seamwork_leases l WHERE l.holder = 'w0' \
             AND l.expires_at > (extract(epoch from clock_timestamp()) * 1000000)::bigint \
             AND NOT EXISTS (SELECT 1 FROM flows_done d WHERE d.flow = l.name) LIMIT 1",
        )
        .fetch_optional(&pool)
        .await
        .unwrap();
        if let Some(flow) = held {
            break flow;
        }
        assert!(Instant::now() < deadline, "w0 never took a lease");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    tokio::time::sleep(Duration::from_millis(150)).await; // mid-run
    workers[0].kill().unwrap();
    workers[0].wait().unwrap();
    let rows_at_kill: i64 = sqlx::query_scalar("SELECT count(*) FROM sink_rows WHERE flow = $1")
        .bind(&victim_flow)
        .fetch_one(&pool)
        .await
        .unwrap();
    let done_at_kill: i64 = sqlx::query_scalar("SELECT count(*) FROM flows_done WHERE flow = $1")
        .bind(&victim_flow)
        .fetch_one(&pool)
        .await
        .unwrap();
    println!("killed w0 while it ran {victim_flow} ({rows_at_kill} rows written so far)");
    assert_eq!(
        done_at_kill, 0,
        "w0 was killed before {victim_flow} finished"
    );
    assert!(
        rows_at_kill < inventory(0).len() as i64,
        "w0 was killed mid-run"
    );

    let deadline = Instant::now() + Duration::from_secs(180);
    for w in workers.iter_mut().skip(1) {
        assert!(wait(w, deadline).success(), "a surviving worker failed");
    }

    // w0 is dead and had written part of the victim's flow: another worker
    // took it over and finished it (all rows are checked below).
    let finisher: String = sqlx::query_scalar("SELECT worker FROM flows_done WHERE flow = $1")
        .bind(&victim_flow)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_ne!(finisher, "w0");

    // Nothing lost, nothing written twice, in every flow.
    for i in 0..FLOWS {
        let flow = format!("inventory-{i}");
        let expected = inventory(i);
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT key, content FROM sink_rows WHERE flow = $1 ORDER BY key")
                .bind(&flow)
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(
            rows.len(),
            expected.len(),
            "{flow}: one row per record, no duplicate, none lost"
        );
        let mut by_key = std::collections::HashMap::new();
        for (key, content) in rows {
            let level: InventoryLevel = serde_json::from_str(&content).unwrap();
            assert!(
                by_key.insert(key, level).is_none(),
                "{flow}: a record was created twice"
            );
        }
        for level in &expected {
            assert_eq!(
                by_key.get(level.key().as_str()),
                Some(level),
                "{flow}: {}",
                level.key()
            );
        }
    }
    drop(pool);
    pg::drop_database(&url).await;
}
