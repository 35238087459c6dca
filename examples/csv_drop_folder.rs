//! An ERP drops CSV item exports into an inbox; a drop folder reads the
//! settled ones through a mapping spec, delivers the good rows, and -- once
//! the rows are acknowledged (here: after they are printed; the sync engine
//! acknowledges by committing its checkpoint) -- moves each file to
//! `processed/` or `failed/` with an error file listing every bad line. A
//! file with nothing to deliver goes to `failed/` at once. A copy still in
//! progress (`.part`) is left alone.
//!
//! Run: `cargo run --example csv_drop_folder --features csv [-- <folder>]`
//! (a temp folder by default; give one to look at the results afterwards).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use seamwork::adapters::csv::{CsvFormat, DropFolder, ERROR_FILE_SUFFIX};
use seamwork::connector::Source;
use seamwork::mapping::MappingSpec;
use seamwork::model::{SystemId, Variant};

const SPEC: &str = include_str!("csv_drop_folder/erp_variant.toml");
/// Three good rows: a BOM, CRLF, decimal commas, a quoted field with a line break.
const GOOD: &[u8] = include_bytes!("csv_drop_folder/items_0001.csv");
/// One bad line among good ones (a price that is not a number, an unknown status).
const ONE_BAD_LINE: &str = include_str!("csv_drop_folder/items_0002.csv");
/// A file missing required columns: nothing in it can be delivered.
const ALL_BAD: &str = include_str!("csv_drop_folder/items_0003.csv");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temp = tempfile::tempdir()?;
    let root = match std::env::args().nth(1) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => temp.path().to_path_buf(),
    };
    let inbox = root.join("inbox");
    std::fs::create_dir_all(&inbox)?;
    std::fs::write(inbox.join("items_0001.csv"), GOOD)?;
    std::fs::write(inbox.join("items_0002.csv"), ONE_BAD_LINE)?;
    std::fs::write(inbox.join("items_0003.csv"), ALL_BAD)?;
    // A copy in progress: its temp name keeps it out until it is renamed.
    std::fs::write(inbox.join("items_0004.csv.part"), "ITEM_NO;GROUP;DESCR")?;

    let spec = Arc::new(MappingSpec::<Variant>::from_toml(SPEC, "erp_variant.toml")?);
    let folder = DropFolder::new(
        SystemId::new("erp")?,
        &inbox,
        spec,
        CsvFormat::csv().with_delimiter(b';'),
    )
    // The files here were written in one go; a real inbox keeps the default 10 s.
    .with_settle_time(Duration::ZERO);

    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    runtime.block_on(async {
        // A file must look the same in two scans in a row: the first only notes it.
        println!("first scan, ready: {:?}", names(&folder.scan()?));
        println!("second scan, ready: {:?}", names(&folder.scan()?));

        println!("\ndelivered:");
        let mut stream = folder.read(None);
        let mut last = None;
        while let Some(item) = stream.next().await {
            let record = item?;
            let v = &record.entity;
            println!(
                "  {:<10} {:>9} {} {:<9} {:?}  (at {})",
                v.sku.as_str(),
                v.price.amount(),
                v.price.currency().code(),
                format!("{:?}", v.status),
                v.title,
                record.cursor
            );
            last = Some(record.cursor);
        }
        drop(stream);
        // Read but not yet acknowledged: the files with rows are still in the inbox.
        println!("\ninbox before acknowledging: {:?}", list(folder.inbox())?);
        // The rows are handled (printed): acknowledge through the last one.
        if let Some(last) = last {
            for (moved_to, disposition) in folder.acknowledge(&last)? {
                let shown = moved_to.strip_prefix(&root).unwrap_or(&moved_to);
                println!("acknowledged: {disposition:?} -> {}", shown.display());
            }
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;

    for dir in [folder.inbox(), folder.processed_dir(), folder.failed_dir()] {
        println!("\n{}/", dir.strip_prefix(&root).unwrap_or(dir).display());
        for name in list(dir)? {
            println!("  {name}");
            if name.ends_with(ERROR_FILE_SUFFIX) {
                for line in std::fs::read_to_string(dir.join(&name))?.lines() {
                    println!("    | {line}");
                }
            }
        }
    }
    Ok(())
}

fn names(paths: &[std::path::PathBuf]) -> Vec<String> {
    paths
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(String::from))
        .collect()
}

/// The files in `dir`, sorted.
fn list(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            out.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    Ok(out)
}
