//! The drop folder against a real inbox: which files are picked up (never a
//! half-written one), where each goes afterwards, and the error file text.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use seamwork::adapters::csv::{CsvFormat, Disposition, DropFolder, ERROR_FILE_SUFFIX};
use seamwork::connector::{Connector, Cursor, Entity, EntityKey, EntityKind, Record, Source};
use seamwork::mapping::MappingSpec;
use seamwork::model::{SystemId, Variant};
use seamwork::testkit;

const SPEC: &str = include_str!("../examples/csv_drop_folder/erp_variant.toml");
const HEADER: &str = "ITEM_NO;GROUP;DESCRIPTION;PRICE;CURRENCY;STATUS;TAXABLE;CREATED;CHANGED";

fn row(sku: &str, price: &str, status: &str) -> String {
    format!("{sku};tee;;{price};EUR;{status};1;01.03.2026 09:30;01.03.2026 09:30\n")
}

fn folder(inbox: &Path) -> DropFolder<Variant> {
    let spec = Arc::new(MappingSpec::<Variant>::from_toml(SPEC, "erp_variant.toml").unwrap());
    DropFolder::new(
        SystemId::new("erp").unwrap(),
        inbox,
        spec,
        CsvFormat::csv().with_delimiter(b';'),
    )
    .with_settle_time(Duration::ZERO)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Sets a file's modification time `ago` in the past, as a copy that keeps the original's time does.
fn age(path: &Path, ago: Duration) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - ago).unwrap();
}

fn files_in(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    out.sort();
    out
}

async fn read_all(source: &DropFolder<Variant>, since: Option<Cursor>) -> Vec<Record<Variant>> {
    let mut out = Vec::new();
    let mut stream = source.read(since);
    while let Some(item) = stream.next().await {
        out.push(item.expect("the drop folder read fails only on I/O errors"));
    }
    out
}

fn skus(records: &[Record<Variant>]) -> Vec<String> {
    records.iter().map(|r| r.entity.sku.to_string()).collect()
}

#[tokio::test]
async fn files_move_to_processed_or_failed_with_every_bad_line_listed() {
    let inbox = tempfile::tempdir().unwrap();
    let inbox = inbox.path();
    write(
        inbox,
        "a.csv",
        &format!(
            "{HEADER}\n{}{}",
            row("A-1", "1,00", "A"),
            row("A-2", "2,00", "A")
        ),
    );
    write(
        inbox,
        "b.csv",
        &format!(
            "{HEADER}\n{}{}{}\n{}",
            row("B-1", "1,00", "A"),
            row("B-2", "zwölf", "X"),
            row("B-3", "3,00", "D"),
            "B-4;tee;;4,00;EUR;A\n"
        ),
    );
    write(
        inbox,
        "c.csv",
        &format!("{HEADER}\n{}", row("C-1", "x", "A")),
    );
    std::fs::write(inbox.join("d.csv"), b"\xFF\xFEI\x00T\x00").unwrap();
    write(inbox, "e.csv", &format!("{HEADER}\n"));
    let folder = folder(inbox);
    assert!(!folder.capability(EntityKind::Variant).incremental);
    folder.scan().unwrap(); // first sighting

    let records = read_all(&folder, None).await;
    assert_eq!(skus(&records), ["A-1", "A-2", "B-1", "B-3"]);
    assert_eq!(file_line(&records[3].cursor), "b.csv#4");
    // Files with nothing to deliver move at once; the others wait for their
    // rows to be acknowledged.
    assert_eq!(files_in(inbox), ["a.csv", "b.csv"]);
    assert_eq!(
        files_in(&inbox.join("failed")),
        ["c.csv", "c.csv.errors.txt", "d.csv", "d.csv.errors.txt"]
    );
    assert_eq!(files_in(&inbox.join("processed")), ["e.csv"]);

    // The next read from the last cursor acknowledges them.
    assert!(
        read_all(&folder, Some(records[3].cursor.clone()))
            .await
            .is_empty()
    );
    assert_eq!(
        files_in(inbox),
        Vec::<String>::new(),
        "every file left the inbox"
    );
    assert_eq!(
        files_in(&inbox.join("processed")),
        ["a.csv", "b.csv", "b.csv.errors.txt", "e.csv"]
    );
    assert_eq!(
        files_in(&inbox.join("failed")),
        ["c.csv", "c.csv.errors.txt", "d.csv", "d.csv.errors.txt"]
    );
    let b = std::fs::read_to_string(inbox.join("processed/b.csv.errors.txt")).unwrap();
    assert!(
        b.starts_with(
            "file: b.csv\nresult: processed; 2 row(s) delivered, 2 bad line(s) not delivered\n"
        ),
        "{b}"
    );
    assert!(
        b.contains("\nline 3: price.amount (from PRICE = \"zwölf\"): "),
        "{b}"
    );
    assert!(
        b.contains("\nline 3: status (from STATUS = \"X\"): "),
        "{b}"
    );
    assert!(
        b.contains("\nline 6: has 6 field(s), but there are 9 column(s)"),
        "{b}"
    );
    let c = std::fs::read_to_string(inbox.join("failed/c.csv.errors.txt")).unwrap();
    assert!(
        c.contains("result: failed; 0 row(s) delivered, 1 bad line(s)"),
        "{c}"
    );
    assert!(
        c.contains("line 2: price.amount (from PRICE = \"x\")"),
        "{c}"
    );
    let d = std::fs::read_to_string(inbox.join("failed/d.csv.errors.txt")).unwrap();
    assert!(
        d.contains("cannot be read as CSV: the file is UTF-16"),
        "{d}"
    );

    // The same name dropped again does not overwrite the first.
    write(
        inbox,
        "a.csv",
        &format!("{HEADER}\n{}", row("A-9", "9,00", "A")),
    );
    folder.scan().unwrap();
    let again = read_all(&folder, None).await;
    assert_eq!(skus(&again), ["A-9"]);
    let moved = folder.acknowledge(&again[0].cursor).unwrap();
    assert_eq!(
        moved,
        [(inbox.join("processed/a-2.csv"), Disposition::Processed)]
    );
    assert_eq!(
        files_in(&inbox.join("processed")),
        ["a-2.csv", "a.csv", "b.csv", "b.csv.errors.txt", "e.csv"]
    );
}

#[tokio::test]
async fn a_half_written_file_is_not_picked_up() {
    let inbox = tempfile::tempdir().unwrap();
    let inbox = inbox.path();
    // Temp names are never read, however old and stable.
    let part = write(
        inbox,
        "big.csv.part",
        &format!("{HEADER}\n{}", row("P-1", "1,00", "A")),
    );
    age(&part, Duration::from_secs(3600));
    let hidden = write(
        inbox,
        ".big.csv",
        &format!("{HEADER}\n{}", row("H-1", "1,00", "A")),
    );
    age(&hidden, Duration::from_secs(3600));
    let f = folder(inbox).with_settle_time(Duration::from_secs(60));
    for _ in 0..3 {
        assert!(f.scan().unwrap().is_empty());
    }

    // A copy that keeps the original's old modification time, still growing:
    // seen first (not ready), then grown (not ready), then unchanged (ready).
    let copy = write(
        inbox,
        "copy.csv",
        &format!("{HEADER}\n{}", row("C-1", "1,00", "A")),
    );
    age(&copy, Duration::from_secs(3600));
    assert!(f.scan().unwrap().is_empty(), "first sighting");
    std::fs::write(
        &copy,
        format!(
            "{HEADER}\n{}{}",
            row("C-1", "1,00", "A"),
            row("C-2", "2,00", "A")
        ),
    )
    .unwrap();
    age(&copy, Duration::from_secs(3600));
    assert!(f.scan().unwrap().is_empty(), "it grew since the last scan");
    assert_eq!(f.scan().unwrap(), [copy]);

    // A file written just now waits for the settle time even when stable.
    let fresh = write(
        inbox,
        "fresh.csv",
        &format!("{HEADER}\n{}", row("F-1", "1,00", "A")),
    );
    assert!(!f.scan().unwrap().contains(&fresh));
    assert!(!f.scan().unwrap().contains(&fresh));

    // The read takes only the settled copy, whole.
    let records = read_all(&f, None).await;
    assert_eq!(skus(&records), ["C-1", "C-2"]);
    f.acknowledge(&records[1].cursor).unwrap();
    assert_eq!(files_in(inbox), [".big.csv", "big.csv.part", "fresh.csv"]);

    // Writers that rename complete files into place can skip the second scan.
    let quick = folder(inbox).with_stable_scan(false);
    let records = read_all(&quick, None).await;
    assert_eq!(skus(&records), ["F-1"]);
}

#[tokio::test]
async fn drop_folder_passes_the_source_suite() {
    let inbox = tempfile::tempdir().unwrap();
    let inbox = inbox.path();
    write(
        inbox,
        "1.csv",
        &format!(
            "{HEADER}\n{}{}",
            row("A-1", "1,00", "A"),
            row("A-2", "2,50", "D")
        ),
    );
    write(
        inbox,
        "2.tsv",
        &format!("{HEADER}\n{}", row("A-3", "1.000,00", "I")),
    );
    let folder = folder(inbox);
    // What the same rows map to, read through a plain CSV source first.
    let copy = tempfile::tempdir().unwrap();
    for name in ["1.csv", "2.tsv"] {
        std::fs::copy(inbox.join(name), copy.path().join(name)).unwrap();
    }
    let spec = Arc::new(MappingSpec::<Variant>::from_toml(SPEC, "erp_variant.toml").unwrap());
    let plain = seamwork::adapters::csv::CsvSource::new(
        SystemId::new("erp").unwrap(),
        copy.path(),
        spec,
        CsvFormat::csv().with_delimiter(b';'),
    );
    let mut expected = Vec::new();
    let mut stream = plain.read(None);
    while let Some(r) = stream.next().await {
        expected.push(r.unwrap().entity);
    }
    assert_eq!(expected.len(), 3);
    assert_eq!(
        expected[2].price.amount(),
        rust_decimal::Decimal::from(1000)
    );

    folder.scan().unwrap();
    testkit::check_source(&folder, &expected, 10).await.unwrap();
    // Read but not acknowledged: the files are still in the inbox and a read
    // from the start delivers them again.
    assert_eq!(files_in(inbox), ["1.csv", "2.tsv"]);
    let again = read_all(&folder, None).await;
    assert_eq!(skus(&again), ["A-1", "A-2", "A-3"]);
    // Acknowledged (the next read from the last cursor): they move, a new read finds nothing.
    let last = again.last().unwrap().cursor.clone();
    assert!(read_all(&folder, Some(last)).await.is_empty());
    assert_eq!(files_in(&inbox.join("processed")), ["1.csv", "2.tsv"]);
    assert!(read_all(&folder, None).await.is_empty());
}

#[tokio::test]
async fn a_read_stopped_part_way_leaves_the_file_and_resumes_after_its_cursor() {
    let inbox = tempfile::tempdir().unwrap();
    let inbox = inbox.path();
    let rows: String = (1..=4)
        .map(|i| row(&format!("R-{i}"), "1,00", "A"))
        .collect();
    write(inbox, "batch.csv", &format!("{HEADER}\n{rows}"));
    let folder = folder(inbox).with_stable_scan(false);

    let mut stream = folder.read(None);
    let first = stream.next().await.unwrap().unwrap();
    let second = stream.next().await.unwrap().unwrap();
    drop(stream); // the consumer stopped (a crash, a shutdown)
    assert_eq!(first.entity.key(), EntityKey::new("R-1"));
    assert_eq!(
        files_in(inbox),
        ["batch.csv"],
        "not moved before its last row was taken"
    );

    let rest = read_all(&folder, Some(second.cursor)).await;
    assert_eq!(skus(&rest), ["R-3", "R-4"]);
    assert_eq!(files_in(inbox), ["batch.csv"], "waits for acknowledgement");
    assert!(
        read_all(&folder, Some(rest[1].cursor.clone()))
            .await
            .is_empty()
    );
    assert_eq!(files_in(&inbox.join("processed")), ["batch.csv"]);
    assert!(
        !inbox
            .join("processed")
            .join(format!("batch.csv{ERROR_FILE_SUFFIX}"))
            .exists()
    );
}

#[tokio::test]
async fn a_file_read_but_never_acknowledged_stays_and_is_delivered_again() {
    let inbox = tempfile::tempdir().unwrap();
    let inbox = inbox.path();
    write(
        inbox,
        "items.csv",
        &format!(
            "{HEADER}\n{}{}{}",
            row("I-1", "1,00", "A"),
            row("I-2", "kaputt", "A"),
            row("I-3", "3,00", "A")
        ),
    );
    let folder = folder(inbox).with_stable_scan(false);

    // Read to the end, as the engine does before it writes the batch; the
    // write then fails (or the process dies), so nothing is acknowledged.
    let first = read_all(&folder, None).await;
    assert_eq!(skus(&first), ["I-1", "I-3"]);
    assert_eq!(files_in(inbox), ["items.csv"], "not moved on delivery");
    assert!(files_in(&inbox.join("processed")).is_empty());

    // A run without a checkpoint delivers every row again.
    let second = read_all(&folder, None).await;
    assert_eq!(skus(&second), ["I-1", "I-3"]);
    assert_eq!(files_in(inbox), ["items.csv"]);

    // A cursor before the file's last row does not acknowledge it, and the
    // rows after the cursor come again (those at or before it do not).
    let partial = read_all(&folder, Some(second[0].cursor.clone())).await;
    assert_eq!(skus(&partial), ["I-3"]);
    assert_eq!(files_in(inbox), ["items.csv"]);

    // The next read from the last cursor moves it with its error file.
    let last = partial[0].cursor.clone();
    assert_eq!(file_line(&last), "items.csv#4");
    assert!(read_all(&folder, Some(last)).await.is_empty());
    assert!(files_in(inbox).is_empty());
    assert_eq!(
        files_in(&inbox.join("processed")),
        ["items.csv", "items.csv.errors.txt"]
    );
    let errors = std::fs::read_to_string(inbox.join("processed/items.csv.errors.txt")).unwrap();
    assert!(
        errors.contains("result: processed; 2 row(s) delivered, 1 bad line(s) not delivered"),
        "{errors}"
    );
    assert!(errors.contains("line 3: price.amount"), "{errors}");
}

#[tokio::test]
async fn a_cursor_acknowledges_only_what_was_delivered_up_to_it() {
    let inbox = tempfile::tempdir().unwrap();
    let inbox = inbox.path();
    for (name, sku) in [("1.csv", "A"), ("2.csv", "B"), ("3.csv", "C")] {
        write(
            inbox,
            name,
            &format!(
                "{HEADER}\n{}{}",
                row(&format!("{sku}-1"), "1,00", "A"),
                row(&format!("{sku}-2"), "1,00", "A")
            ),
        );
    }
    let folder = folder(inbox).with_stable_scan(false);
    let records = read_all(&folder, None).await;
    assert_eq!(records.len(), 6);

    // A cursor in the middle of 2.csv covers 1.csv only.
    let moved = folder.acknowledge(&records[2].cursor).unwrap();
    assert_eq!(
        moved,
        [(inbox.join("processed/1.csv"), Disposition::Processed)]
    );
    assert_eq!(files_in(inbox), ["2.csv", "3.csv"]);
    // The next read moves nothing more for that cursor and delivers the rest again.
    let rest = read_all(&folder, Some(records[2].cursor.clone())).await;
    assert_eq!(skus(&rest), ["B-2", "C-1", "C-2"]);

    // A process that restarts remembers nothing, but the saved cursor still
    // settles the file it names; the files before it are delivered once more.
    let restarted = self::folder(inbox).with_stable_scan(false);
    let after_restart = read_all(&restarted, Some(rest[0].cursor.clone())).await;
    assert_eq!(skus(&after_restart), ["C-1", "C-2"]);
    assert_eq!(files_in(&inbox.join("processed")), ["1.csv", "2.csv"]);
    assert_eq!(files_in(inbox), ["3.csv"]);
    restarted.acknowledge(&after_restart[1].cursor).unwrap();
    assert!(files_in(inbox).is_empty());

    // A file changed since it was read is not moved by an acknowledgement.
    let path = write(
        inbox,
        "4.csv",
        &format!("{HEADER}\n{}", row("D-1", "1,00", "A")),
    );
    let d = read_all(&restarted, None).await;
    std::fs::write(
        &path,
        format!(
            "{HEADER}\n{}{}",
            row("D-1", "1,00", "A"),
            row("D-2", "2,00", "A")
        ),
    )
    .unwrap();
    assert!(restarted.acknowledge(&d[0].cursor).unwrap().is_empty());
    assert_eq!(files_in(inbox), ["4.csv"]);
}

/// The engine pulls a batch, then writes it: a sink that is down must leave
/// the file in the inbox, and a later run must deliver it and then move it.
#[tokio::test]
async fn an_engine_run_whose_sink_fails_leaves_the_file_in_the_inbox() {
    use seamwork::adapters::csv::CsvSink;
    use seamwork::store::{MemoryStore, StateStore};
    use seamwork::sync::{Engine, FailurePolicy, Flow, Owner, RetryPolicy, Sla};

    let inbox = tempfile::tempdir().unwrap();
    let inbox = inbox.path();
    write(
        inbox,
        "items.csv",
        &format!(
            "{HEADER}\n{}{}",
            row("E-1", "1,00", "A"),
            row("E-2", "2,00", "A")
        ),
    );
    let folder = Arc::new(folder(inbox).with_stable_scan(false));
    let out = tempfile::tempdir().unwrap();
    let outbox = out.path().join("outbox");
    let spec = Arc::new(MappingSpec::<Variant>::from_toml(SPEC, "erp_variant.toml").unwrap());
    let sink = Arc::new(
        CsvSink::open(
            SystemId::new("shop").unwrap(),
            &outbox,
            spec,
            CsvFormat::csv().with_delimiter(b';'),
        )
        .unwrap(),
    );
    // The sink's folder is gone and a plain file sits in its place: every write fails.
    std::fs::remove_dir_all(&outbox).unwrap();
    std::fs::write(&outbox, "not a folder").unwrap();

    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let engine = Engine::new(store);
    let flow = Flow::<Variant>::builder("erp-items", folder.clone(), sink.clone())
        .owner(Owner::new("erp-integration", "erp-oncall@example.com"))
        .sla(Sla::max_lag(Duration::from_secs(3600 * 24 * 365 * 10)))
        .failure_policy(
            FailurePolicy::halt().with_retry(
                RetryPolicy::attempts(2)
                    .with_delays(Duration::from_micros(100), Duration::from_millis(1)),
            ),
        )
        .build()
        .unwrap();

    let failed = engine.run_once(&flow).await.unwrap();
    assert_eq!(failed.read, 2);
    assert!(failed.halted.is_some(), "{failed:?}");
    assert_eq!(failed.checkpoint, None);
    assert_eq!(
        files_in(inbox),
        ["items.csv"],
        "rows not written: the file stays"
    );

    // The sink is fixed; the next run delivers both rows. The file waits for
    // the checkpoint that run committed.
    std::fs::remove_file(&outbox).unwrap();
    std::fs::create_dir(&outbox).unwrap();
    let delivered = engine.run_once(&flow).await.unwrap();
    assert!(delivered.halted.is_none(), "{delivered:?}");
    assert_eq!(delivered.created, 2);
    assert_eq!(
        delivered.checkpoint.as_ref().map(file_line),
        Some("items.csv#3")
    );
    assert_eq!(files_in(inbox), ["items.csv"]);

    // The run after it starts from that checkpoint: the file moves, nothing is re-sent.
    let after = engine.run_once(&flow).await.unwrap();
    assert_eq!(after.read, 0);
    assert!(files_in(inbox).is_empty());
    assert_eq!(files_in(&inbox.join("processed")), ["items.csv"]);
}

/// A cursor's `file#line` part, without the file's version stamp.
fn file_line(cursor: &Cursor) -> &str {
    cursor.as_str().split('~').next().unwrap_or_default()
}

/// An ERP that drops `items.csv` every day: once yesterday's file has been
/// acknowledged and moved, today's file of the same name is another file,
/// and the checkpoint into yesterday's must not skip today's first lines.
#[tokio::test]
async fn a_file_dropped_again_under_the_same_name_is_read_from_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path();
    let line = |sku: &str| row(sku, "10,00", "A");
    write(
        inbox,
        "items.csv",
        &format!("{HEADER}\n{}{}", line("D1-1"), line("D1-2")),
    );
    let folder = folder(inbox);
    folder.scan().unwrap();
    let first = read_all(&folder, None).await;
    assert_eq!(skus(&first), ["D1-1", "D1-2"]);
    let checkpoint = first[1].cursor.clone();
    assert!(read_all(&folder, Some(checkpoint.clone())).await.is_empty());
    assert!(
        files_in(inbox).is_empty(),
        "yesterday's file was acknowledged and moved"
    );

    write(
        inbox,
        "items.csv",
        &format!("{HEADER}\n{}{}{}", line("D2-1"), line("D2-2"), line("D2-3")),
    );
    folder.scan().unwrap();
    let today = read_all(&folder, Some(checkpoint)).await;
    assert_eq!(skus(&today), ["D2-1", "D2-2", "D2-3"]);
}
