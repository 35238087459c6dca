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
    let mut writers = vec![csv::Writer::from_writer(BufWriter::new(File::create(
        &out,
    )?))];
    if let Some(b) = &second {
        writers.push(csv::Writer::from_writer(BufWriter::new(File::create(b)?)));
    }
    let header = [
        "id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "street",
        "apt",
        "city",
        "state",
        "zip",
        "birth_date",
        "updated_at",
        "person",
    ];
    for w in &mut writers {
        w.write_record(header)?;
    }
    let mut counts = vec![0usize; writers.len()];
    for (i, c) in data.customers.iter().enumerate() {
        let w = usize::from(data.sources[i]).min(writers.len() - 1);
        let a = c.addresses.first();
        let s = |v: Option<&String>| v.cloned().unwrap_or_default();
        writers[w].write_record([
            c.id.clone(),
            s(c.first_name.as_ref()),
            s(c.last_name.as_ref()),
            s(c.emails.first()),
            s(c.phones.first()),
            a.map(|a| a.line1.clone()).unwrap_or_default(),
            s(a.and_then(|a| a.line2.as_ref())),
            a.map(|a| a.city.clone()).unwrap_or_default(),
            s(a.and_then(|a| a.region.as_ref())),
            s(a.and_then(|a| a.postcode.as_ref())),
            s(data.birth_dates[i].as_ref()),
            c.updated_at.to_rfc3339(),
            data.truth[i].to_string(),
        ])?;
        counts[w] += 1;
    }
    for w in &mut writers {
        w.flush()?;
    }
    eprintln!("wrote {counts:?} records of {entities} people");
    Ok(())
}
