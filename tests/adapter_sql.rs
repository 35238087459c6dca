//! The SQL adapter against real databases: SQLite always, PostgreSQL when
//! `SEAMWORK_TEST_POSTGRES` names a server (else those tests print SKIPPED).

#[cfg(feature = "postgres")]
#[path = "common/pg.rs"]
mod pg;

use futures::TryStreamExt;
use seamwork::adapters::sql::{Relation, SqlAdapter, SqlConfig, SqlDatabase};
use seamwork::connector::memory::{Dataset, MemoryOptions, MemorySystem, SeedOptions};
use seamwork::connector::{Checksums, EntityKey, KeyRange, Sink, Source, WriteResult};
use seamwork::error::ErrorKind;
use seamwork::mapping::MappingSpec;
use seamwork::model::{InventoryLevel, Sku, SystemId};
use seamwork::testkit;

const SPEC: &str = r#"
system = "erp"
entity = "inventory_level"
version = 1
[fields]
sku = { from = "sku" }
location = { from = "site" }
on_hand = { from = "qty_on_hand" }
available = { from = "qty_available" }
committed = { from = "committed" }
reserved = { from = "reserved" }
incoming = { from = "incoming" }
safety_stock = { from = "safety_stock" }
damaged = { from = "damaged" }
quality_control = { from = "quality_control" }
oversell_allowed = { from = "backorder" }
updated_at = { from = "changed_at" }
"#;

fn spec() -> MappingSpec<InventoryLevel> {
    MappingSpec::from_toml(SPEC, "erp_inventory.toml").unwrap()
}

/// Which database a suite runs on (the DDL differs a little).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Backend {
    Sqlite,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Postgres,
}

fn ddl(backend: Backend, table: &str) -> String {
    let (time, flag, big) = match backend {
        Backend::Sqlite => ("TEXT", "INTEGER", "INTEGER"),
        Backend::Postgres => ("TIMESTAMPTZ", "BOOLEAN", "BIGINT"),
    };
    format!(
        "CREATE TABLE {table} (
            sku TEXT NOT NULL,
            site TEXT NOT NULL,
            qty_on_hand INTEGER NOT NULL CHECK (qty_on_hand < 100000),
            qty_available INTEGER NOT NULL,
            committed INTEGER NOT NULL,
            reserved INTEGER NOT NULL,
            incoming INTEGER NOT NULL,
            safety_stock INTEGER NOT NULL,
            damaged INTEGER NOT NULL,
            quality_control INTEGER NOT NULL,
            backorder {flag} NOT NULL,
            changed_at {time},
            row_sum {big},
            note TEXT,
            PRIMARY KEY (sku, site)
        )"
    )
}

async fn exec(db: &SqlDatabase, sql: &str) {
    match db {
        #[cfg(feature = "sqlite")]
        SqlDatabase::Sqlite(pool) => {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(pool)
                .await
                .unwrap();
        }
        #[cfg(feature = "postgres")]
        SqlDatabase::Postgres(pool) => {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(pool)
                .await
                .unwrap();
        }
        #[allow(unreachable_patterns)]
        _ => unreachable!("no other backend is compiled"),
    }
}

fn levels(seed: u64) -> Vec<InventoryLevel> {
    let mut options = SeedOptions::small().with_seed(seed).with_orders(0);
    options.products = 6;
    options.customers = 0;
    Dataset::generate(&options).unwrap().inventory
}

fn config(table: &str) -> SqlConfig {
    SqlConfig::table("erp", table, &["sku", "site"], "changed_at")
        .with_page_size(7)
        .with_max_batch(40)
        .with_checksum_column("row_sum", &[])
}

async fn adapter(db: &SqlDatabase, backend: Backend, table: &str) -> SqlAdapter<InventoryLevel> {
    exec(db, &ddl(backend, table)).await;
    SqlAdapter::open(db.clone(), config(table), spec())
        .await
        .unwrap()
}

fn invalid(level: &InventoryLevel) -> InventoryLevel {
    let mut bad = level.clone();
    bad.sku = Sku::new("NEGATIVE-1").unwrap();
    bad.on_hand = -5;
    bad
}

async fn sink_conformance(db: &SqlDatabase, backend: Backend) {
    let erp = adapter(db, backend, "inv_sink").await;
    let data = levels(1);
    testkit::check_sink(&erp, &data, invalid(&data[0]))
        .await
        .unwrap();
}

async fn source_conformance(db: &SqlDatabase, backend: Backend) {
    let erp = adapter(db, backend, "inv_source").await;
    let data = levels(2);
    // Every level shares one updated_at: pages of 7 cut through a tie.
    assert!(data.iter().all(|l| l.updated_at == data[0].updated_at));
    for chunk in data.chunks(40) {
        let outcomes = erp.upsert(chunk).await.unwrap();
        assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:?}");
    }
    testkit::check_source(&erp, &data, 200).await.unwrap();
    // A change after the cursor is read again, alone.
    let records: Vec<_> = erp.read(None).try_collect().await.unwrap();
    let last = records.last().unwrap().cursor.clone();
    let mut changed = data[3].clone();
    changed.incoming += 7;
    changed.updated_at += chrono::Duration::seconds(60);
    erp.upsert(std::slice::from_ref(&changed)).await.unwrap();
    let later: Vec<_> = erp.read(Some(last)).try_collect().await.unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].entity, changed);
    assert_eq!(later[0].changed_at, changed.updated_at);
}

async fn read_back(db: &SqlDatabase, backend: Backend) {
    let erp = adapter(db, backend, "inv_read_back").await;
    let data = levels(3);
    testkit::written_records_read_back(&erp, &erp, &data)
        .await
        .unwrap();
}

/// Hash-diff needs both systems to agree on every range's count and
/// checksum; the stored-column path, the in-process path and rows with no
/// stored checksum must all give the memory system's numbers.
async fn checksums_agree(db: &SqlDatabase, backend: Backend) {
    let erp = adapter(db, backend, "inv_checksum").await;
    let data = levels(4);
    for chunk in data.chunks(40) {
        erp.upsert(chunk).await.unwrap();
    }
    let memory = MemorySystem::new(SystemId::new("memory").unwrap(), MemoryOptions::default());
    memory.put_all(data.clone());
    let mut keys: Vec<EntityKey> = data.iter().map(seamwork::connector::Entity::key).collect();
    keys.sort();
    let ranges = [
        KeyRange::all(),
        KeyRange::new(Some(keys[5].clone()), Some(keys[20].clone())),
        KeyRange::new(None, Some(keys[11].clone())),
        KeyRange::new(Some(keys[30].clone()), None),
    ];
    let ignore = vec!["updated_at".to_string()];
    let compare = |label: &'static str| {
        let (erp, memory, ranges, ignore) = (&erp, &memory, &ranges, &ignore);
        async move {
            for range in ranges {
                for exclude in [&[][..], &ignore[..]] {
                    let a = Checksums::<InventoryLevel>::checksum(erp, range, exclude)
                        .await
                        .unwrap();
                    let b = Checksums::<InventoryLevel>::checksum(memory, range, exclude)
                        .await
                        .unwrap();
                    assert_eq!(a, b, "{label}: {range:?} excluding {exclude:?}");
                    assert!(a.count > 0);
                }
                let a = Checksums::<InventoryLevel>::split_keys(erp, range, 4)
                    .await
                    .unwrap();
                let b = Checksums::<InventoryLevel>::split_keys(memory, range, 4)
                    .await
                    .unwrap();
                assert_eq!(a, b, "{label}: split of {range:?}");
                let a = Checksums::<InventoryLevel>::rows(erp, range).await.unwrap();
                let b = Checksums::<InventoryLevel>::rows(memory, range)
                    .await
                    .unwrap();
                assert_eq!(a, b, "{label}: rows of {range:?}");
            }
        }
    };
    compare("as written").await;
    // Another writer changes a row and clears its checksum, as documented.
    let target = &data[7];
    exec(
        db,
        &format!(
            "UPDATE inv_checksum SET qty_on_hand = qty_on_hand + 3, qty_available = qty_available + 3, row_sum = NULL WHERE sku = '{}' AND site = '{}'",
            target.sku.as_str(),
            target.location.as_str()
        ),
    )
    .await;
    let before = Checksums::<InventoryLevel>::checksum(&memory, &KeyRange::all(), &[])
        .await
        .unwrap();
    let mut changed = target.clone();
    changed.on_hand += 3;
    changed.available += 3;
    memory.put(changed);
    let after = Checksums::<InventoryLevel>::checksum(&erp, &KeyRange::all(), &[])
        .await
        .unwrap();
    assert_ne!(before, after, "the database's change shows in its checksum");
    compare("after an outside change").await;
}

async fn injections(db: &SqlDatabase, backend: Backend) {
    exec(db, &ddl(backend, "inv_safe")).await;
    let refused = [
        SqlConfig::table(
            "erp",
            "inv_safe; DROP TABLE inv_safe",
            &["sku", "site"],
            "changed_at",
        ),
        SqlConfig::table(
            "erp",
            "inv_safe",
            &["sku\" = sku OR 1=1 --", "site"],
            "changed_at",
        ),
        SqlConfig::table(
            "erp",
            "inv_safe",
            &["sku", "site"],
            "changed_at) > ('0'); DELETE FROM inv_safe; --",
        ),
        SqlConfig::table("erp", "inv_safe", &["sku", "site"], "changed_at")
            .with_checksum_column("row_sum = 0; --", &[]),
        // A plain identifier that is not a column is refused too.
        SqlConfig::table("erp", "inv_safe", &["sku", "site"], "no_such_column"),
    ];
    for config in refused {
        let err = SqlAdapter::open(db.clone(), config.clone(), spec())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Config, "{config:?}: {err}");
    }
    let erp = SqlAdapter::open(db.clone(), config("inv_safe"), spec())
        .await
        .unwrap();
    let mut level = levels(5)[0].clone();
    let nasty = "X'); DROP TABLE inv_safe; -- \" ' \\";
    level.sku = Sku::new(nasty).unwrap();
    let outcomes = erp.upsert(std::slice::from_ref(&level)).await.unwrap();
    assert!(
        matches!(outcomes[0].result, WriteResult::Created { .. }),
        "{outcomes:?}"
    );
    let back: Vec<_> = erp.read(None).try_collect().await.unwrap();
    assert_eq!(back.len(), 1, "the table is still there, with the row");
    assert_eq!(back[0].entity.sku.as_str(), nasty);
    assert_eq!(back[0].entity, level);
    let again = erp.upsert(std::slice::from_ref(&level)).await.unwrap();
    assert!(
        matches!(again[0].result, WriteResult::Unchanged { .. }),
        "{again:?}"
    );

    // A mapping that writes a column name with SQL in it: that record is
    // rejected with a Config error, and nothing reaches the database.
    let nasty_spec = SPEC.replace(
        r#"incoming = { from = "incoming" }"#,
        r#"incoming = { from = "incoming\" = 0; DROP TABLE inv_safe; --" }"#,
    );
    let spec = MappingSpec::<InventoryLevel>::from_toml(&nasty_spec, "nasty.toml").unwrap();
    let sneaky = SqlAdapter::open(db.clone(), config("inv_safe"), spec)
        .await
        .unwrap();
    let other = levels(5)[1].clone();
    let outcomes = sneaky.upsert(std::slice::from_ref(&other)).await.unwrap();
    let err = outcomes[0].result.rejection().expect("refused");
    assert_eq!(err.kind(), &ErrorKind::Config, "{err}");
    let back: Vec<_> = erp.read(None).try_collect().await.unwrap();
    assert_eq!(
        back.len(),
        1,
        "the table is intact and holds only the first row"
    );
}

async fn query_source(db: &SqlDatabase, backend: Backend) {
    let erp = adapter(db, backend, "inv_query").await;
    let data = levels(6);
    erp.upsert(&data[..40]).await.unwrap();
    let site = data[0].location.as_str().to_string();
    let sql = format!("SELECT * FROM inv_query WHERE site = '{site}'");
    let config = SqlConfig::query("erp", &sql, &["sku", "site"], "changed_at").with_page_size(3);
    let view = SqlAdapter::open(db.clone(), config, spec()).await.unwrap();
    let expected: Vec<InventoryLevel> = data[..40]
        .iter()
        .filter(|l| l.location.as_str() == site)
        .cloned()
        .collect();
    assert!(expected.len() > 3);
    testkit::check_source(&view, &expected, 50).await.unwrap();
    let err = view.upsert(&data[..1]).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Config);
    assert!(matches!(
        SqlConfig::query("erp", "x", &["k"], "t").relation,
        Relation::Query(_)
    ));
}

async fn refusals(db: &SqlDatabase, backend: Backend) {
    let erp = adapter(db, backend, "inv_refuse").await;
    let data = levels(7);
    let mut batch = data[..5].to_vec();
    // Valid for the model, refused by the table's CHECK constraint.
    batch[2].on_hand += 200_000;
    batch[2].available += 200_000;
    let outcomes = erp.upsert(&batch).await.unwrap();
    assert_eq!(outcomes.len(), 5);
    for (i, o) in outcomes.iter().enumerate() {
        if i == 2 {
            let err = o.result.rejection().expect("the CHECK refuses it");
            assert!(err.message().contains("inv_refuse refused"), "{err}");
        } else {
            assert!(matches!(o.result, WriteResult::Created { .. }), "{o:?}");
        }
    }
    let back: Vec<_> = erp.read(None).try_collect().await.unwrap();
    assert_eq!(back.len(), 4, "the rest of the batch was written");
    // An update is reported as one.
    let mut changed = data[0].clone();
    changed.incoming += 1;
    let outcomes = erp.upsert(&[changed]).await.unwrap();
    assert!(
        matches!(outcomes[0].result, WriteResult::Updated { .. }),
        "{outcomes:?}"
    );
}

mod sqlite {
    use super::*;

    async fn db() -> (tempfile::TempDir, SqlDatabase) {
        let dir = tempfile::tempdir().unwrap();
        let db = SqlDatabase::sqlite_file(dir.path().join("erp.db"))
            .await
            .unwrap();
        (dir, db)
    }

    #[tokio::test]
    async fn sink_passes_the_conformance_suite() {
        let (_dir, db) = db().await;
        sink_conformance(&db, Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn source_passes_the_conformance_suite() {
        let (_dir, db) = db().await;
        source_conformance(&db, Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn written_records_read_back() {
        let (_dir, db) = db().await;
        read_back(&db, Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn checksums_agree_with_the_memory_system() {
        let (_dir, db) = db().await;
        checksums_agree(&db, Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn identifier_injection_is_refused_and_values_are_stored_verbatim() {
        let (_dir, db) = db().await;
        injections(&db, Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn a_query_is_a_read_only_source() {
        let (_dir, db) = db().await;
        query_source(&db, Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn a_database_refusal_rejects_only_that_record() {
        let (_dir, db) = db().await;
        refusals(&db, Backend::Sqlite).await;
    }

    /// SQLite compares the time column as text: a row written by another
    /// program without nine fractional digits would sort wrongly against
    /// the cursor, so the read stops and names it instead of skipping rows.
    #[tokio::test]
    async fn a_time_spelled_otherwise_stops_the_read_and_is_named() {
        let (_dir, db) = db().await;
        let erp = adapter(&db, Backend::Sqlite, "stock").await;
        erp.upsert(&levels(7)[..3]).await.unwrap();
        exec(
            &db,
            "INSERT INTO stock VALUES ('HAND-1', 'DC-EAST', 1, 1, 0, 0, 0, 0, 0, 0, 0, \
             '2026-01-01T00:00:00Z', NULL, NULL)",
        )
        .await;
        let read: Result<Vec<_>, _> = Source::<InventoryLevel>::read(&erp, None)
            .try_collect()
            .await;
        let err = read.unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidData);
        assert!(err.message().contains("HAND-1"), "{err}");
        assert!(
            err.message().contains("2026-01-01T00:00:00.000000000Z"),
            "{err}"
        );
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;

    #[tokio::test]
    async fn the_whole_suite_runs_on_postgres() {
        let Some(url) = pg::fresh_database("sql_adapter").await else {
            return;
        };
        let db = SqlDatabase::postgres(&url).await.unwrap();
        sink_conformance(&db, Backend::Postgres).await;
        source_conformance(&db, Backend::Postgres).await;
        read_back(&db, Backend::Postgres).await;
        checksums_agree(&db, Backend::Postgres).await;
        injections(&db, Backend::Postgres).await;
        query_source(&db, Backend::Postgres).await;
        refusals(&db, Backend::Postgres).await;
        #[allow(irrefutable_let_patterns)]
        if let SqlDatabase::Postgres(pool) = &db {
            pool.close().await;
        }
        pg::drop_database(&url).await;
    }
}
