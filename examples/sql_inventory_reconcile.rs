//! Reconciles an ERP's inventory table (a SQLite file) against the shop's
//! stock (the in-memory reference system) with hash-diff: both sides
//! checksum key ranges themselves, and only the ranges that differ are
//! fetched.
//!
//! Run: `cargo run --features sql,sqlite --example sql_inventory_reconcile`
//!
//! The ERP table is written through the SQL adapter's sink (which stores each
//! row's checksum, so SQLite sums ranges itself), then drifts: the ERP
//! recounts three levels, loses one row, gains one the shop does not have,
//! and adjusts one row with its own SQL (clearing the stored checksum, so
//! that row is checksummed in this process).

use async_trait::async_trait;
use seamwork::adapters::sql::{SqlAdapter, SqlConfig, SqlDatabase};
use seamwork::connector::memory::{Dataset, MemoryOptions, MemorySystem, SeedOptions};
use seamwork::connector::{
    Capability, Checksums, Connector, Entity, EntityKey, EntityKind, KeyRange, RangeChecksum, Sink,
};
use seamwork::mapping::MappingSpec;
use seamwork::model::{InventoryLevel, LocationId, SystemId};
use seamwork::reconcile::{DiffKind, DiffSpec, FieldPolicy, HashDiffOptions, hash_diff};
use seamwork::{Error, Result};

/// The ERP's column names → the canonical inventory level.
const ERP_SPEC: &str = r#"
system = "erp"
entity = "inventory_level"
version = 1
description = "ERP stock table"
[fields]
sku = { from = "item_no" }
location = { from = "warehouse" }
on_hand = { from = "qty_on_hand" }
available = { from = "qty_available" }
committed = { from = "qty_committed" }
reserved = { from = "qty_reserved" }
incoming = { from = "qty_incoming" }
safety_stock = { from = "qty_safety" }
damaged = { from = "qty_damaged" }
quality_control = { from = "qty_qc" }
oversell_allowed = { from = "backorder" }
updated_at = { from = "last_changed" }
"#;

const ERP_TABLE: &str = "CREATE TABLE erp_inventory (
    item_no TEXT NOT NULL,
    warehouse TEXT NOT NULL,
    qty_on_hand INTEGER NOT NULL,
    qty_available INTEGER NOT NULL,
    qty_committed INTEGER NOT NULL,
    qty_reserved INTEGER NOT NULL,
    qty_incoming INTEGER NOT NULL,
    qty_safety INTEGER NOT NULL,
    qty_damaged INTEGER NOT NULL,
    qty_qc INTEGER NOT NULL,
    backorder INTEGER NOT NULL,
    last_changed TEXT NOT NULL,
    row_checksum INTEGER,
    PRIMARY KEY (item_no, warehouse)
)";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| Error::unavailable(e.to_string()))?;
    let path = dir.path().join("erp.db");
    let db = SqlDatabase::sqlite_file(&path).await?;
    run_sql(&db, ERP_TABLE).await?;

    // Both sides start from the same stock.
    let mut options = SeedOptions::small().with_seed(7).with_orders(0);
    options.customers = 0;
    options.products = 100; // × 4 variants × 3 locations = 1,200 levels
    let stock = Dataset::generate(&options)?.inventory;
    let shop = MemorySystem::new(SystemId::new("shop")?, MemoryOptions::default());
    shop.put_all(stock.clone());

    let ignore_time = ["updated_at"];
    let config = SqlConfig::table(
        "erp",
        "erp_inventory",
        &["item_no", "warehouse"],
        "last_changed",
    )
    .with_checksum_column("row_checksum", &ignore_time);
    let spec = MappingSpec::<InventoryLevel>::from_toml(ERP_SPEC, "erp_inventory.toml")?;
    let erp = SqlAdapter::open(db.clone(), config, spec).await?;
    for batch in stock.chunks(200) {
        let outcomes = erp.upsert(batch).await?;
        if let Some(bad) = outcomes.iter().find(|o| !o.result.is_ok()) {
            return Err(Error::invalid_data(format!("seeding the ERP: {bad:?}")));
        }
    }
    println!(
        "ERP table {} and the shop hold {} inventory levels each",
        path.display(),
        stock.len()
    );

    // The ERP drifts.
    let mut recounted = Vec::new();
    for i in [17, 580, 581] {
        let mut level = stock[i].clone();
        level.on_hand += 4;
        level.available += 4;
        level.updated_at += chrono::Duration::minutes(5);
        recounted.push(level);
    }
    let mut extra = stock[40].clone();
    extra.location = LocationId::new("DC-RETURNS")?;
    recounted.push(extra.clone());
    erp.upsert(&recounted).await?;
    let lost = &stock[850];
    run_sql(
        &db,
        &format!(
            "DELETE FROM erp_inventory WHERE item_no = '{}' AND warehouse = '{}'",
            lost.sku.as_str(),
            lost.location.as_str()
        ),
    )
    .await?;
    let adjusted = &stock[1100];
    run_sql(
        &db,
        &format!(
            "UPDATE erp_inventory SET qty_damaged = qty_damaged + 1, qty_available = qty_available - 1, row_checksum = NULL \
             WHERE item_no = '{}' AND warehouse = '{}'",
            adjusted.sku.as_str(),
            adjusted.location.as_str()
        ),
    )
    .await?;
    println!(
        "drift: 3 recounts and 1 extra row written by the ERP, 1 row deleted, 1 damaged unit booked by SQL (row {})\n",
        adjusted.key()
    );

    // Hash-diff: timestamps are ignored, so the database's stored checksums
    // (which leave out updated_at) are summed in SQLite.
    let diff_spec = DiffSpec::for_entity(EntityKind::InventoryLevel)
        .with_field("updated_at", FieldPolicy::Ignore);
    let left = Traced {
        inner: &erp,
        name: "erp",
    };
    let right = Traced {
        inner: &shop,
        name: "shop",
    };
    let (report, stats) = hash_diff::<InventoryLevel, _, _>(
        &left,
        &right,
        &diff_spec,
        // A call to a local SQLite file costs about as much as reading 10 rows.
        &HashDiffOptions::default().with_call_cost(10),
    )
    .await?;

    println!("\ndifferences (left = erp, right = shop):");
    for d in &report.differences {
        let what = match d.kind {
            DiffKind::OnlyLeft => "only in the ERP".to_string(),
            DiffKind::OnlyRight => "only in the shop".to_string(),
            DiffKind::Mismatch => d
                .fields
                .iter()
                .map(|f| format!("{}: erp {} vs shop {}", f.field, f.left, f.right))
                .collect::<Vec<_>>()
                .join(", "),
        };
        println!("  {:<28} {what}", d.key.join("@"));
    }
    let s = &report.summary;
    println!(
        "\nsummary: {} ERP rows, {} shop rows, {} matched, {} only in the ERP, {} only in the shop, {} mismatched",
        s.left_rows, s.right_rows, s.matched, s.only_left, s.only_right, s.mismatched
    );
    println!(
        "cost: {} checksum calls, {} splits, {} fetches, {} of {} rows fetched (cost {} vs {} for a full fetch)",
        stats.checksum_calls,
        stats.split_calls,
        stats.fetch_calls,
        stats.rows_fetched,
        stats.rows_total,
        stats.cost,
        stats.full_fetch_cost
    );
    if report.differences.len() != 6 {
        return Err(Error::invalid_data(format!(
            "expected 6 differences, found {}",
            report.differences.len()
        )));
    }
    Ok(())
}

/// Runs one statement of the example's own SQL (the ERP's side of the story).
async fn run_sql(db: &SqlDatabase, sql: &str) -> Result<()> {
    match db {
        SqlDatabase::Sqlite(pool) => {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(pool)
                .await
                .map_err(|e| Error::unavailable(format!("{sql}: {e}")))?;
            Ok(())
        }
        #[allow(unreachable_patterns)]
        _ => Err(Error::config("this example runs on SQLite")),
    }
}

/// A checksum source that prints every range whose rows it fetches.
struct Traced<'a, T> {
    inner: &'a T,
    name: &'static str,
}

impl<T: Connector> Connector for Traced<'_, T> {
    fn system(&self) -> &SystemId {
        self.inner.system()
    }

    fn capability(&self, kind: EntityKind) -> Capability {
        self.inner.capability(kind)
    }
}

#[async_trait]
impl<E: Entity, T: Checksums<E>> Checksums<E> for Traced<'_, T> {
    async fn checksum(&self, range: &KeyRange, exclude: &[String]) -> Result<RangeChecksum> {
        self.inner.checksum(range, exclude).await
    }

    async fn split_keys(&self, range: &KeyRange, parts: usize) -> Result<Vec<EntityKey>> {
        self.inner.split_keys(range, parts).await
    }

    async fn rows(&self, range: &KeyRange) -> Result<Vec<E>> {
        let rows = self.inner.rows(range).await?;
        let bound = |k: &Option<EntityKey>| k.as_ref().map_or("…".to_string(), |k| k.to_string());
        println!(
            "fetched {:>3} {} rows in [{}, {})",
            rows.len(),
            self.name,
            bound(&range.start),
            bound(&range.end)
        );
        Ok(rows)
    }
}
