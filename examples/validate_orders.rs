//! Validate a JSON Lines file of orders, reporting every broken rule with its line.
//!
//! ```sh
//! # write 100,000 generated orders (a few deliberately broken) to a file
//! cargo run --release --example validate_orders -- --generate 100000 --out orders.jsonl
//! # read, parse and validate them; prints a summary and the first problems
//! cargo run --release --example validate_orders -- orders.jsonl
//! ```
//!
//! `benches/compare/validate_orders.sh` runs this against a Python script with
//! `decimal` doing the same checks on the same file and prints the ratio.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::time::Instant;

use seamwork::connector::memory::{Dataset, SeedOptions};
use seamwork::model::{Money, Order};

fn generate(n: usize, out: &str) -> std::io::Result<()> {
    let data =
        Dataset::generate(&SeedOptions::default().with_orders(n)).map_err(std::io::Error::other)?;
    let mut w = BufWriter::new(File::create(out)?);
    for (i, mut o) in data.orders.into_iter().enumerate() {
        // Every 1,000th order carries a one-cent drift in its total.
        if i % 1000 == 999 {
            o.totals.total = o
                .totals
                .total
                .checked_add(Money::from_minor(1, o.currency))
                .expect("same currency");
        }
        serde_json::to_writer(&mut w, &o)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    println!("wrote {n} orders to {out}");
    Ok(())
}

fn validate(path: &str) -> std::io::Result<()> {
    let started = Instant::now();
    let mut reader = BufReader::new(File::open(path)?);
    let (mut valid, mut invalid, mut unreadable) = (0usize, 0usize, 0usize);
    let mut problems = Vec::new();
    let mut line = String::new();
    let mut line_no = 0;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        line_no += 1;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Order>(&line) {
            Err(e) => {
                unreadable += 1;
                problems.push(format!("{path}:{line_no}: not an order: {e}"));
            }
            Ok(order) => match order.validate() {
                Ok(()) => valid += 1,
                Err(e) => {
                    invalid += 1;
                    problems.push(format!("{path}:{line_no}: {e}"));
                }
            },
        }
    }
    let elapsed = started.elapsed();
    for p in problems.iter().take(5) {
        println!("{p}");
    }
    println!(
        "checked {} orders in {:.1} ms: {valid} valid, {invalid} invalid, {unreadable} unreadable",
        valid + invalid + unreadable,
        elapsed.as_secs_f64() * 1e3,
    );
    println!("elapsed_ms={:.3}", elapsed.as_secs_f64() * 1e3);
    Ok(())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, n, out_flag, out] if flag == "--generate" && out_flag == "--out" => {
            let n = n
                .parse()
                .map_err(|e| std::io::Error::other(format!("--generate {n:?}: {e}")))?;
            generate(n, out)
        }
        [path] => validate(path),
        _ => Err(std::io::Error::other(
            "usage: validate_orders --generate N --out FILE | validate_orders FILE",
        )),
    }
}
