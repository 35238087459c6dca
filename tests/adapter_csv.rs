//! The CSV source and sink against real files in temp folders: the testkit
//! conformance suite, formats (BOM, TSV, positions, quoted newlines, decimal
//! commas), bad rows, and atomic, idempotent sink files.

use std::path::Path;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use futures::StreamExt;
use rust_decimal_macros::dec;
use seamwork::adapters::csv::{Columns, CsvFormat, CsvSink, CsvSource, FileLineCursor};
use seamwork::connector::{Connector, Cursor, EntityKind, Sink, Source, WriteResult};
use seamwork::mapping::MappingSpec;
use seamwork::model::{Currency, InventoryLevel, Money, ProductStatus, Sku, SystemId, Variant};
use seamwork::testkit;

const SPEC: &str = include_str!("../examples/csv_drop_folder/erp_variant.toml");

fn spec() -> Arc<MappingSpec<Variant>> {
    Arc::new(MappingSpec::from_toml(SPEC, "erp_variant.toml").unwrap())
}

fn erp() -> SystemId {
    SystemId::new("erp").unwrap()
}

/// The ERP's own dialect: semicolons, decimal commas.
fn erp_format() -> CsvFormat {
    CsvFormat::csv().with_delimiter(b';')
}

const HEADER: &str = "ITEM_NO;GROUP;DESCRIPTION;PRICE;CURRENCY;STATUS;TAXABLE;CREATED;CHANGED";

/// A variant as the ERP row `sku;group;title;price;EUR;A;true;01.03.2026 09:30;...` maps it.
fn variant(sku: &str, handle: &str, title: &str, price: rust_decimal::Decimal) -> Variant {
    // 09:30 in Berlin on 1 March 2026 (CET, UTC+1).
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 8, 30, 0).unwrap();
    let mut v = Variant::new(
        Sku::new(sku).unwrap(),
        handle,
        Money::new(price, Currency::from_code("EUR").unwrap()),
        at,
    );
    v.title = title.to_string();
    v
}

fn variants(n: usize) -> Vec<Variant> {
    (1..=n)
        .map(|i| {
            variant(
                &format!("SKU-{i:03}"),
                "tee",
                &format!("Tee, size {i}"),
                dec!(12.50) + rust_decimal::Decimal::from(i),
            )
        })
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

async fn read_all<E: seamwork::connector::Entity>(
    source: &dyn Source<E>,
    since: Option<Cursor>,
) -> (Vec<seamwork::connector::Record<E>>, Option<seamwork::Error>) {
    let mut out = Vec::new();
    let mut stream = source.read(since);
    while let Some(item) = stream.next().await {
        match item {
            Ok(r) => out.push(r),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

#[tokio::test]
async fn source_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    // A BOM, a quoted field with a line break and a delimiter in it, decimal
    // commas with a thousands dot, a blank line, CRLF line ends.
    write(
        dir.path(),
        "items-2026-03-01.csv",
        &format!(
            "\u{feff}{HEADER}\r\n\
             SKU-001;TEE;\"Tee; \"\"soft\"\"\nsecond line\";12,50;EUR;A;true;01.03.2026 09:30;01.03.2026 09:30\r\n\
             \r\n\
             SKU-002;tee;Tee;1.234,50;EUR;A;yes;01.03.2026 09:30;01.03.2026 09:30\r\n"
        ),
    );
    write(
        dir.path(),
        "items-2026-03-02.csv",
        &format!("{HEADER}\nSKU-003;tee;;0,99;EUR;D;0;01.03.2026 09:30;01.03.2026 09:30\n"),
    );
    // Not data: hidden, temp and other extensions are never read.
    write(dir.path(), ".items-2026-03-03.csv", "garbage");
    write(dir.path(), "items-2026-03-04.csv.part", "garbage");
    write(dir.path(), "readme.md", "garbage");
    let source = CsvSource::new(erp(), dir.path(), spec(), erp_format());
    let mut expected = vec![
        variant("SKU-001", "tee", "Tee; \"soft\"\nsecond line", dec!(12.50)),
        variant("SKU-002", "tee", "", dec!(1234.50)),
        variant("SKU-003", "tee", "", dec!(0.99)),
    ];
    expected[1].title = "Tee".into();
    expected[2].status = ProductStatus::Draft;
    expected[2].taxable = false;
    assert!(source.capability(EntityKind::Variant).incremental);
    testkit::check_source(&source, &expected, 10).await.unwrap();

    let (records, err) = read_all(&source, None).await;
    assert!(err.is_none());
    let cursors: Vec<&str> = records.iter().map(|r| r.cursor.as_str()).collect();
    // Line numbers count the header, the quoted line break and the blank line.
    assert_eq!(
        cursors,
        [
            "items-2026-03-01.csv#2",
            "items-2026-03-01.csv#5",
            "items-2026-03-02.csv#2"
        ]
    );
    assert_eq!(records[0].external_ref.id, "SKU-001");
    // A later file sorting after the others is read on resume.
    write(
        dir.path(),
        "items-2026-03-05.csv",
        &format!("{HEADER}\nSKU-004;tee;;1;EUR;A;1;01.03.2026 09:30;01.03.2026 09:30\n"),
    );
    let (later, _) = read_all(&source, Some(records[2].cursor.clone())).await;
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].entity.sku.as_str(), "SKU-004");
    assert_eq!(later[0].entity.price.amount(), dec!(1));
}

#[tokio::test]
async fn a_bad_row_stops_the_source_with_its_line_and_every_reason() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "items.csv",
        &format!(
            "{HEADER}\n\
             SKU-001;tee;;12,50;EUR;A;true;01.03.2026 09:30;01.03.2026 09:30\n\
             SKU-002;tee;;zwölf;EUR;X;true;01.03.2026 09:30;01.03.2026 09:30\n\
             SKU-003;tee;;1,00;EUR;A;true;01.03.2026 09:30;01.03.2026 09:30\n"
        ),
    );
    let source = CsvSource::new(erp(), dir.path(), spec(), erp_format());
    let (records, err) = read_all(&source, None).await;
    assert_eq!(records.len(), 1, "rows before the bad one are delivered");
    let err = err.expect("the bad row is an error, not skipped");
    let text = err.to_string();
    assert!(
        text.contains("items.csv line 3: price.amount (from PRICE = \"zwölf\")"),
        "{text}"
    );
    assert!(
        text.contains("line 3: status (from STATUS = \"X\")"),
        "{text}"
    );
    assert_eq!(err.context().line, Some(3));
    assert!(
        err.context()
            .file
            .as_deref()
            .unwrap()
            .ends_with("items.csv")
    );
    // Resuming after the good row meets the same error: nothing is skipped.
    let (again, err) = read_all(&source, Some(records[0].cursor.clone())).await;
    assert!(again.is_empty());
    assert!(err.is_some());
    // A garbled cursor is an error naming it.
    let (_, err) = read_all(&source, Some(Cursor::new("no-line-here"))).await;
    assert!(err.unwrap().to_string().contains("no-line-here"));
}

const STOCK_SPEC: &str = r#"
system = "wms"
entity = "inventory_level"
version = 1
[fields]
sku = "1"
location = "2"
on_hand = { from = "3", transforms = ["integer"] }
available = { from = "4", transforms = ["integer"] }
committed = { from = "5", transforms = ["integer"] }
updated_at = { value = "2026-03-01T00:00:00Z", transforms = [{ datetime = { formats = ["rfc3339"] } }] }
"#;

#[tokio::test]
async fn tsv_by_column_position_without_a_header() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "stock.tsv",
        "A-1\tDC-EAST\t12\t10\t2\nA-2\tDC-WEST\t0\t0\t0\textra\n",
    );
    let spec =
        Arc::new(MappingSpec::<InventoryLevel>::from_toml(STOCK_SPEC, "stock.toml").unwrap());
    let format = CsvFormat::tsv().with_columns(Columns::Positions);
    let source = CsvSource::new(
        SystemId::new("wms").unwrap(),
        dir.path(),
        spec.clone(),
        format.clone(),
    );
    let (records, err) = read_all(&source, None).await;
    assert!(err.is_none(), "{err:?}");
    let got: Vec<(String, String, i64)> = records
        .iter()
        .map(|r| {
            let e = &r.entity;
            (e.sku.to_string(), e.location.to_string(), e.available)
        })
        .collect();
    assert_eq!(
        got,
        [
            ("A-1".into(), "DC-EAST".into(), 10),
            ("A-2".into(), "DC-WEST".into(), 0)
        ]
    );
    assert_eq!(records[1].cursor.as_str(), "stock.tsv#2");

    // The sink writes the same layout back: positions, tabs, no header.
    let out = tempfile::tempdir().unwrap();
    let sink = CsvSink::open(SystemId::new("wms").unwrap(), out.path(), spec, format).unwrap();
    let levels: Vec<InventoryLevel> = records.into_iter().map(|r| r.entity).collect();
    let outcomes = sink.upsert(&levels).await.unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o.result, WriteResult::Created { .. }))
    );
    let written = only_data_file(out.path());
    let text = std::fs::read_to_string(&written).unwrap();
    assert_eq!(text, "A-1\tDC-EAST\t12\t10\t2\nA-2\tDC-WEST\t0\t0\t0\n");
}

#[tokio::test]
async fn named_columns_for_a_headerless_file() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "stock.csv",
        "A-1,DC-EAST,12,10,2\nA-2,DC-EAST,3\n",
    );
    let spec = STOCK_SPEC
        .replace("\"1\"", "\"item\"")
        .replace("\"2\"", "\"site\"")
        .replace("\"3\"", "\"qty\"")
        .replace("\"4\"", "\"free\"")
        .replace("\"5\"", "\"held\"");
    let spec = Arc::new(MappingSpec::<InventoryLevel>::from_toml(&spec, "stock.toml").unwrap());
    let columns = Columns::Named(
        ["item", "site", "qty", "free", "held"]
            .map(String::from)
            .to_vec(),
    );
    let source = CsvSource::new(
        SystemId::new("wms").unwrap(),
        dir.path(),
        spec,
        CsvFormat::csv().with_columns(columns),
    );
    let (records, err) = read_all(&source, None).await;
    assert_eq!(records.len(), 1);
    let text = err.unwrap().to_string();
    assert!(
        text.contains("line 2: has 3 field(s), but there are 5 column(s)"),
        "{text}"
    );
}

#[tokio::test]
async fn sink_passes_the_conformance_suite() {
    let out = tempfile::tempdir().unwrap();
    let sink = CsvSink::open(erp(), out.path(), spec(), erp_format()).unwrap();
    let batch = variants(5);
    let mut invalid = variant("SKU-BAD", "tee", "", dec!(1));
    invalid.price = Money::new(dec!(-1), Currency::from_code("EUR").unwrap());
    testkit::check_sink(&sink, &batch, invalid).await.unwrap();

    // With a declared max_batch too.
    let out = tempfile::tempdir().unwrap();
    let sink = CsvSink::open(erp(), out.path(), spec(), erp_format())
        .unwrap()
        .with_max_batch(Some(2));
    let mut invalid = variant("SKU-BAD", "", "", dec!(1));
    invalid.product_handle = " ".into();
    testkit::check_sink(&sink, &batch, invalid).await.unwrap();
    assert!(sink.upsert(&batch[..3]).await.is_err());
}

#[tokio::test]
async fn written_records_read_back_equal() {
    let out = tempfile::tempdir().unwrap();
    let sink = CsvSink::open(erp(), out.path(), spec(), erp_format()).unwrap();
    let source = CsvSource::new(erp(), out.path(), spec(), erp_format());
    let mut batch = variants(4);
    batch[0].title = "Line one\nline two; \"quoted\"".into();
    batch[1].status = ProductStatus::Archived;
    batch[2].taxable = false;
    batch[3].price = Money::new(dec!(1234.5), Currency::from_code("EUR").unwrap());
    testkit::written_records_read_back(&sink, &source, &batch)
        .await
        .unwrap();
    // A second file with a change reads back after the first (name order).
    batch[3].price = Money::new(dec!(99.99), Currency::from_code("EUR").unwrap());
    let outcomes = sink.upsert(&batch).await.unwrap();
    assert!(matches!(outcomes[3].result, WriteResult::Updated { .. }));
    assert!(
        outcomes[..3]
            .iter()
            .all(|o| matches!(o.result, WriteResult::Unchanged { .. }))
    );
    let (records, err) = read_all(&source, None).await;
    assert!(err.is_none(), "{err:?}");
    let last = records.last().unwrap();
    assert_eq!(last.entity.price.amount(), dec!(99.99));
    assert!(
        FileLineCursor::decode(&last.cursor)
            .unwrap()
            .file
            .ends_with("-000002.csv")
    );
}

/// The one data file in `dir` (not hidden), after checking nothing else but the state file is there.
fn only_data_file(dir: &Path) -> std::path::PathBuf {
    let mut data = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(
            !name.ends_with(".tmp"),
            "a temp file was left behind: {name}"
        );
        if name.starts_with('.') {
            assert!(
                name.starts_with(".seamwork-csv-sink-"),
                "unexpected hidden file {name}"
            );
        } else {
            data.push(name);
        }
    }
    assert_eq!(data.len(), 1, "{data:?}");
    dir.join(&data[0])
}

#[tokio::test]
async fn sink_files_are_complete_named_and_remembered_across_restarts() {
    let out = tempfile::tempdir().unwrap();
    let open = || {
        CsvSink::open(erp(), out.path(), spec(), erp_format())
            .unwrap()
            .with_file_name("ITEMS_{system}_{date}_{seq}.csv")
            .unwrap()
            .with_column_order([
                "ITEM_NO",
                "GROUP",
                "DESCRIPTION",
                "PRICE",
                "CURRENCY",
                "STATUS",
                "TAXABLE",
                "CREATED",
                "CHANGED",
            ])
    };
    let sink = open();
    let batch = variants(3);
    sink.upsert(&batch).await.unwrap();
    let file = only_data_file(out.path());
    let name = file.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with("ITEMS_erp_2") && name.ends_with("_000001.csv"),
        "{name}"
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            HEADER,
            "SKU-001;tee;Tee, size 1;13,50;EUR;A;true;01.03.2026 09:30;01.03.2026 09:30",
            "SKU-002;tee;Tee, size 2;14,50;EUR;A;true;01.03.2026 09:30;01.03.2026 09:30",
            "SKU-003;tee;Tee, size 3;15,50;EUR;A;true;01.03.2026 09:30;01.03.2026 09:30",
        ]
    );
    assert!(text.ends_with('\n'));
    drop(sink);

    // After a restart the sink still knows what it wrote.
    let sink = open();
    let outcomes = sink.upsert(&batch).await.unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o.result, WriteResult::Unchanged { .. }))
    );
    assert_eq!(
        only_data_file(out.path()),
        file,
        "an unchanged batch writes no file"
    );
    let mut changed = batch.clone();
    changed[1].title = "Renamed".into();
    let outcomes = sink.upsert(&changed).await.unwrap();
    assert!(
        matches!(outcomes[1].result, WriteResult::Updated { ref external_id } if external_id == "SKU-002")
    );
    let mut names: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    assert_eq!(names.len(), 2);
    assert!(names[1].ends_with("_000002.csv"));
    let text = std::fs::read_to_string(out.path().join(&names[1])).unwrap();
    assert_eq!(text.lines().count(), 2, "only the changed row: {text}");
    assert!(text.contains("SKU-002;tee;Renamed;14,50"));

    // A damaged state file is an error, not a silent reset.
    std::fs::write(sink.state_path(), "{ not json").unwrap();
    let err = CsvSink::open(erp(), out.path(), spec(), erp_format()).unwrap_err();
    assert!(err.to_string().contains("damaged"), "{err}");
}

#[tokio::test]
async fn sink_rejects_what_a_cell_cannot_hold_and_writes_the_rest() {
    let out = tempfile::tempdir().unwrap();
    let strict_tsv = CsvFormat::tsv().without_quoting();
    let sink = CsvSink::open(erp(), out.path(), spec(), strict_tsv.clone()).unwrap();
    let mut batch = variants(3);
    batch[1].title = "has\ta tab".into();
    let outcomes = sink.upsert(&batch).await.unwrap();
    let reason = outcomes[1]
        .result
        .rejection()
        .expect("rejected")
        .to_string();
    assert!(
        reason.contains("SKU-002") && reason.contains("DESCRIPTION"),
        "{reason}"
    );
    assert!(outcomes[0].result.is_ok() && outcomes[2].result.is_ok());
    let text = std::fs::read_to_string(only_data_file(out.path())).unwrap();
    assert_eq!(
        text.lines().count(),
        3,
        "header and the two good rows: {text}"
    );

    // A fixed column list rejects a record mapping outside it.
    let out = tempfile::tempdir().unwrap();
    let sink = CsvSink::open(erp(), out.path(), spec(), erp_format())
        .unwrap()
        .with_column_order(["ITEM_NO", "PRICE"]);
    let outcomes = sink.upsert(&batch[..1]).await.unwrap();
    let reason = outcomes[0].result.rejection().unwrap().to_string();
    assert!(
        reason.contains("is not one of the sink's columns"),
        "{reason}"
    );
    // A record the spec cannot map back is rejected with the mapping's reason.
    let out = tempfile::tempdir().unwrap();
    let no_archived = SPEC.replace("I = \"archived\", ", "");
    let one_way = Arc::new(MappingSpec::<Variant>::from_toml(&no_archived, "x.toml").unwrap());
    let sink = CsvSink::open(erp(), out.path(), one_way, erp_format()).unwrap();
    let mut archived = batch[..2].to_vec();
    archived[0].status = ProductStatus::Archived;
    let outcomes = sink.upsert(&archived).await.unwrap();
    let reason = outcomes[0].result.rejection().unwrap().to_string();
    assert!(
        reason.contains("status") && reason.contains("archived"),
        "{reason}"
    );
    assert!(matches!(outcomes[1].result, WriteResult::Created { .. }));
    // Bad patterns are refused up front.
    let err = CsvSink::open(erp(), out.path(), spec(), erp_format())
        .unwrap()
        .with_file_name("{entity}.csv")
        .unwrap_err();
    assert!(err.to_string().contains("{seq}"), "{err}");
}

mod any_bytes {
    use super::*;
    use proptest::prelude::*;
    use seamwork::adapters::csv::map_csv;

    /// Bytes that look like CSV often enough to reach the mapping: the
    /// format's special characters, a BOM start, digits, letters, broken UTF-8.
    fn csvish() -> impl Strategy<Value = Vec<u8>> {
        let alphabet: Vec<u8> = b";,\t\"\\\n\r AD1,.-:x\xEF\xBB\xBF\xFF\xC3".to_vec();
        prop::collection::vec(prop::sample::select(alphabet), 0..200).prop_map(|mut body| {
            let mut text = format!("{HEADER}\n").into_bytes();
            text.append(&mut body);
            text
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn rows_map_or_fail_with_a_line_never_panic(bytes in csvish(), quoting in any::<bool>()) {
            let mut format = erp_format();
            if !quoting {
                format = format.without_quoting();
            }
            let rows = map_csv(spec(), &format, &bytes).expect("the header is fine");
            let mut last = 0;
            for row in rows {
                let line = match row {
                    Ok((line, v)) => {
                        prop_assert!(spec().to_payload(&v, &Default::default()).is_ok());
                        line
                    }
                    Err(bad) => {
                        prop_assert!(!bad.reasons.is_empty());
                        bad.line
                    }
                };
                prop_assert!(line >= 2 && line >= last, "line {} after {}", line, last);
                last = line;
            }
        }
    }
}
