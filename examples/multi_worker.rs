//! Several worker processes sharing flows through a PostgreSQL state store.
//!
//! Run (with a PostgreSQL you can create tables in):
//! `DATABASE_URL=postgres://postgres:postgres@127.0.0.1/postgres cargo run --release --features postgres --example multi_worker`
//!
//! The program starts three copies of itself as worker processes. Each
//! worker makes passes over six inventory flows (memory store → a table in
//! the same database); a flow runs only on the worker holding its lease. The
//! first worker is killed halfway; its flows are taken over when its leases
//! lapse. At the end every flow's table holds each record exactly once.

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

const FLOWS: usize = 6;

/// An idempotent upsert into `erp_inventory` (the "ERP" all workers share).
struct TableSink {
    pool: PgPool,
    system: SystemId,
}

impl Connector for TableSink {
    fn system(&self) -> &SystemId {
        &self.system
    }

    fn capability(&self, _: EntityKind) -> Capability {
        Capability::new().with_max_batch(Some(100))
    }
}

#[async_trait]
impl Sink<InventoryLevel> for TableSink {
    async fn upsert(&self, batch: &[InventoryLevel]) -> Result<Vec<WriteOutcome>> {
        let db = |e: sqlx::Error| Error::unavailable(format!("erp_inventory: {e}"));
        let mut tx = self.pool.begin().await.map_err(db)?;
        let mut out = Vec::with_capacity(batch.len());
        for level in batch {
            let key = level.key();
            // xmax = 0 only for a freshly inserted row.
            let inserted: Option<bool> = sqlx::query_scalar(
                "INSERT INTO erp_inventory (key, content) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET content = excluded.content \
                 WHERE erp_inventory.content IS DISTINCT FROM excluded.content \
                 RETURNING (xmax = 0)",
            )
            .bind(key.as_str())
            .bind(serde_json::to_string(level)?)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            let external_id = key.to_string();
            let result = match inserted {
                Some(true) => WriteResult::Created { external_id },
                Some(false) => WriteResult::Updated { external_id },
                None => WriteResult::Unchanged { external_id },
            };
            out.push(WriteOutcome::new(key, result));
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
    }
}

fn flows(pool: &PgPool) -> Result<Vec<Arc<dyn RunnableFlow>>> {
    let mut flows: Vec<Arc<dyn RunnableFlow>> = Vec::new();
    for i in 0..FLOWS {
        let mut seed = SeedOptions::default().with_seed(i as u64).with_orders(0);
        seed.customers = 0;
        // Each flow is one store's inventory; locations are prefixed per store.
        let levels = Dataset::generate(&seed)?.inventory;
        let options = MemoryOptions::default()
            .with_seed(i as u64)
            .with_page_size(100)
            .with_faults(FaultOptions::none().with_latency(Duration::from_millis(5)));
        let source = Arc::new(MemorySystem::new(
            SystemId::new(format!("store{i}"))?,
            options,
        ));
        for mut level in levels {
            level.location = seamwork::model::LocationId::new(format!("S{i}-{}", level.location))?;
            source.put(level);
        }
        let sink = Arc::new(TableSink {
            pool: pool.clone(),
            system: SystemId::new("erp")?,
        });
        let flow = Flow::<InventoryLevel>::builder(format!("store{i}-inventory"), source, sink)
            .owner(Owner::new("warehouse-ops", "#wms-alerts"))
            .failure_policy(FailurePolicy::dead_letter(10))
            .sla(Sla::max_lag(Duration::from_secs(3600 * 24 * 365)))
            .build()?;
        flows.push(Arc::new(flow));
    }
    Ok(flows)
}

async fn worker(url: &str, id: &str) -> Result<()> {
    let pool = PgPool::connect(url)
        .await
        .map_err(|e| Error::config(format!("{url}: {e}")))?;
    let engine = Engine::new(Arc::new(PostgresStore::connect(url).await?));
    let worker = Worker::new(
        id,
        engine,
        WorkerOptions::with_lease_ttl(Duration::from_secs(2)),
    );
    let flows = flows(&pool)?;
    let mut finished = vec![false; flows.len()];
    while !finished.iter().all(|f| *f) {
        for (i, turn) in worker.pass(&flows).await?.into_iter().enumerate() {
            if let FlowTurn::Ran { token, report } = turn {
                if report.read > 0 {
                    println!(
                        "  {id}: {} (lease token {token}): {} read, {} created, {} unchanged",
                        flows[i].name(),
                        report.read,
                        report.created,
                        report.unchanged
                    );
                }
                finished[i] = true;
            }
        }
        // Another worker may have finished a flow: a run that reads nothing counts too.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

fn spawn(id: &str) -> std::io::Result<Child> {
    Command::new(std::env::current_exe()?)
        .args(["--worker", id])
        .spawn()
}

#[tokio::main]
async fn main() -> Result<()> {
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| Error::config("set DATABASE_URL=postgres://user:pass@127.0.0.1/db"))?;
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, id] = args.as_slice()
        && flag == "--worker"
    {
        return worker(&url, id).await;
    }

    let pool = PgPool::connect(&url)
        .await
        .map_err(|e| Error::config(format!("{url}: {e}")))?;
    PostgresStore::connect(&url).await?; // migrate once before the workers start
    for sql in [
        "DROP TABLE IF EXISTS erp_inventory",
        "CREATE TABLE erp_inventory (key TEXT PRIMARY KEY, content TEXT NOT NULL)",
        "DELETE FROM seamwork_checkpoints WHERE flow LIKE 'store%-inventory'",
        "DELETE FROM seamwork_versions WHERE flow LIKE 'store%-inventory'",
        "DELETE FROM seamwork_leases WHERE name LIKE 'store%-inventory'",
    ] {
        sqlx::query(sql)
            .execute(&pool)
            .await
            .map_err(|e| Error::config(format!("{sql}: {e}")))?;
    }
    let started = Instant::now();
    let spawn_err = |e: std::io::Error| Error::config(format!("cannot start a worker: {e}"));
    let mut workers: Vec<Child> = (1..=3)
        .map(|w| spawn(&format!("worker-{w}")))
        .collect::<std::io::Result<_>>()
        .map_err(spawn_err)?;
    println!("started 3 worker processes sharing {FLOWS} flows");
    tokio::time::sleep(Duration::from_millis(400)).await;
    workers[0].kill().map_err(spawn_err)?;
    workers[0].wait().map_err(spawn_err)?;
    println!("  killed worker-1; its leases lapse in 2 s and the others take its flows over");
    for w in workers.iter_mut().skip(1) {
        w.wait().map_err(spawn_err)?;
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM erp_inventory")
        .fetch_one(&pool)
        .await
        .map_err(|e| Error::config(e.to_string()))?;
    let tokens: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT name, holder, token FROM seamwork_leases WHERE name LIKE 'store%-inventory' ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .map_err(|e| Error::config(e.to_string()))?;
    println!(
        "\nleases at the end (every acquisition raises the token; a commit under an older one is refused):"
    );
    for (name, holder, token) in tokens {
        println!("  {name:<18} last held by {holder:<9} token {token}");
    }
    println!(
        "\nerp_inventory holds {rows} rows (expected {}), in {:.1?}",
        FLOWS * 5_000,
        started.elapsed()
    );
    if rows != (FLOWS * 5_000) as i64 {
        return Err(Error::new(
            seamwork::ErrorKind::Unexpected,
            "records were lost",
        ));
    }
    Ok(())
}
