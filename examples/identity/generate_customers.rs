//! Writes generated customers with known truth as CSV, for `dedupe_customers`.
//!
//! ```sh
//! # one file with duplicates (dedupe)
//! cargo run --release --example generate_customers -- --entities 10000 --out A.csv
//! # two systems to link
//! cargo run --release --example generate_customers -- --entities 14000 --link --out A.csv --second B.csv
//! ```
//!
//! Columns: `id,first_name,last_name,email,phone,street,apt,city,state,zip,birth_date,updated_at,person`
//! where `person` is the truth (the spec in `examples/identity/spec.toml` names it).

use std::fs::File;
use std::io::BufWriter;

use seamwork::identity::{GeneratorOptions, generate};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let entities: usize = arg(&args, "--entities").map_or(Ok(10_000), |v| v.parse())?;
    let seed: u64 = arg(&args, "--seed").map_or(Ok(42), |v| v.parse())?;
    let out = arg(&args, "--out").ok_or("--out FILE is required")?;
    let second = arg(&args, "--second");
    let link = args.iter().any(|a| a == "--link");
    let options = if link {
        GeneratorOptions::two_systems(entities)
    } else {
        GeneratorOptions::default().with_entities(entities)
    }
    .with_seed(seed);
    let data = generate(&options);
    let mut counts = vec![data.write_csv(0, BufWriter::new(File::create(&out)?))?];
    if let Some(b) = &second {
        counts.push(data.write_csv(1, BufWriter::new(File::create(b)?))?);
    }
    eprintln!("wrote {counts:?} records of {entities} people");
    Ok(())
}
