//! Find the same customer within one CSV file, or across two systems' files.
//!
//! ```sh
//! cargo run --release --features identity --example dedupe_customers -- \
//!     --input A.csv [--input B.csv] --spec SPEC.toml --out PAIRS.csv [--clusters CLUSTERS.csv] \
//!     [--id COLUMN] [--truth COLUMN] [--threads N]
//! # the sample: 10 rows with duplicates, a swapped name and bad rows
//! cargo run --release --features identity --example dedupe_customers -- \
//!     --input examples/identity/customers.csv --spec examples/identity/spec.toml --out pairs.csv --clusters clusters.csv
//! ```
//!
//! `SPEC.toml` maps CSV columns to canonical customer fields (a field may be
//! built from several columns joined with a space), names extra columns to
//! compare as attributes, the record-id column (`--id` overrides it) and,
//! optionally, the matching model (`[model]`) and clustering (`[cluster]`);
//! see `examples/identity/spec.toml`. With one input it finds duplicates
//! within it; with two or more it links records across them.
//!
//! `PAIRS.csv` has the header `left_id,right_id,score` and one line per
//! matched pair (score = match probability); with one input each unordered
//! pair appears once, with two the left id is from the first input.
//! `CLUSTERS.csv` has `cluster,input,id` for every record. Bad rows are
//! reported on stderr with their line and skipped; progress goes to stderr.
//! With a truth column (`--truth` or `truth` in the spec) precision, recall,
//! F1 and blocking recall are measured and printed.
// Percentages and probabilities in the summary are display-only ratios.
#![allow(clippy::disallowed_types)]

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::process::ExitCode;
use std::time::Instant;

use seamwork::identity::{DedupeSpec, LinkMode, Linker, Metrics, PreparedRecord};

struct Args {
    inputs: Vec<String>,
    spec: String,
    out: String,
    clusters: Option<String>,
    id: Option<String>,
    truth: Option<String>,
    threads: Option<usize>,
}

const USAGE: &str = "usage: dedupe_customers --input A.csv [--input B.csv] --spec SPEC.toml --out PAIRS.csv \
                     [--clusters CLUSTERS.csv] [--id COLUMN] [--truth COLUMN] [--threads N]";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        inputs: Vec::new(),
        spec: String::new(),
        out: String::new(),
        clusters: None,
        id: None,
        truth: None,
        threads: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--input" => a.inputs.push(value()?),
            "--spec" => a.spec = value()?,
            "--out" => a.out = value()?,
            "--clusters" => a.clusters = Some(value()?),
            "--id" => a.id = Some(value()?),
            "--truth" => a.truth = Some(value()?),
            "--threads" => {
                let v = value()?;
                a.threads = Some(
                    v.parse()
                        .map_err(|_| format!("--threads {v:?} is not a number"))?,
                );
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if a.inputs.is_empty() || a.spec.is_empty() || a.out.is_empty() {
        return Err(format!("--input, --spec and --out are required\n{USAGE}"));
    }
    if a.inputs.len() > usize::from(u16::MAX) {
        return Err("too many inputs".into());
    }
    Ok(a)
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let text = std::fs::read_to_string(&args.spec).map_err(|e| format!("{}: {e}", args.spec))?;
    let mut spec = DedupeSpec::from_toml_str(&text).map_err(|e| format!("{}: {e}", args.spec))?;
    if let Some(id) = args.id {
        spec.id = id;
    }
    if args.truth.is_some() {
        spec.truth = args.truth;
    }
    if let Some(t) = args.threads {
        spec.model.threads = t;
    }
    let mut records: Vec<PreparedRecord> = Vec::new();
    let mut truth: Vec<String> = Vec::new();
    let mut rejected = 0usize;
    for (source, path) in args.inputs.iter().enumerate() {
        let file = File::open(path).map_err(|e| format!("{path}: {e}"))?;
        eprintln!("[{:>7.1?}] reading {path} ...", started.elapsed());
        let read = spec.read_csv(
            std::io::BufReader::with_capacity(1 << 20, file),
            path,
            source as u16,
        )?;
        for (i, e) in read.rejected.iter().enumerate() {
            if i < 20 {
                eprintln!("skipped: {e}");
            }
        }
        if read.rejected.len() > 20 {
            eprintln!(
                "skipped: ... and {} more rows of {path}",
                read.rejected.len() - 20
            );
        }
        rejected += read.rejected.len();
        eprintln!(
            "read {} records from {path} ({} rows skipped) in {:.1?}",
            read.records.len(),
            read.rejected.len(),
            started.elapsed()
        );
        records.extend(read.records);
        truth.extend(read.truth);
    }
    let mode = if args.inputs.len() == 1 {
        LinkMode::Dedupe
    } else {
        LinkMode::Link
    };
    let truth_ids: Option<Vec<u32>> =
        (spec.truth.is_some() && truth.len() == records.len()).then(|| {
            let mut ids: HashMap<&str, u32> = HashMap::new();
            truth
                .iter()
                .map(|t| {
                    let next = ids.len() as u32;
                    *ids.entry(t.as_str()).or_insert(next)
                })
                .collect()
        });
    let linker = Linker::new(spec.model.clone())?;
    let progress = |stage: &str, done: usize, total: usize| {
        eprintln!("[{:>7.1?}] {stage}: {done}/{total}", started.elapsed());
    };
    let out = linker.run(&records, mode, truth_ids.as_deref(), Some(&progress))?;

    let w = BufWriter::new(File::create(&args.out).map_err(|e| format!("{}: {e}", args.out))?);
    let mut csv = csv::Writer::from_writer(w);
    csv.write_record(["left_id", "right_id", "score"])?;
    for p in &out.pairs {
        csv.write_record([
            records[p.left as usize].id.as_str(),
            records[p.right as usize].id.as_str(),
            &format!("{:.4}", p.probability),
        ])?;
    }
    csv.flush()?;
    let clusters = out.clusters(&records, &spec.cluster);
    if let Some(path) = &args.clusters {
        let mut csv = csv::Writer::from_writer(BufWriter::new(
            File::create(path).map_err(|e| format!("{path}: {e}"))?,
        ));
        csv.write_record(["cluster", "input", "id"])?;
        for (r, c) in records.iter().zip(&clusters.of) {
            csv.write_record([
                c.to_string().as_str(),
                args.inputs[usize::from(r.source)].as_str(),
                r.id.as_str(),
            ])?;
        }
        csv.flush()?;
    }

    let b = &out.blocking;
    eprintln!(
        "{} records ({rejected} rows skipped), {} candidate pairs of {} ({:.4}%)",
        records.len(),
        b.candidate_pairs,
        b.all_pairs,
        100.0 * b.candidate_pairs as f64 / b.all_pairs.max(1) as f64
    );
    for k in &b.per_key {
        eprintln!(
            "  blocking {:<22} {:>12} pairs, {} blocks over the size limit ({} records)",
            k.key, k.pairs, k.oversized_blocks, k.oversized_records
        );
    }
    for f in &out.scorer.model().fields {
        let m: Vec<String> = f.m.iter().map(|v| format!("{v:.4}")).collect();
        let u: Vec<String> = f.u.iter().map(|v| format!("{v:.6}")).collect();
        eprintln!(
            "  {:<12} m [{}]  u [{}]",
            f.name,
            m.join(", "),
            u.join(", ")
        );
    }
    let groups = clusters.groups();
    eprintln!(
        "{} matched pairs -> {}; {} clusters with more than one record ({} merges refused by the hub guard)",
        out.pairs.len(),
        args.out,
        groups.iter().filter(|g| g.len() > 1).count(),
        clusters.refused
    );
    if let Some(t) = &truth_ids {
        let pairs = Metrics::of_pairs(
            out.pairs.iter().map(|p| (p.left, p.right)),
            &records,
            t,
            mode,
        );
        let clustered = Metrics::of_pairs(clusters.pairs(), &records, t, mode);
        if let Some((found, all)) = b.recall() {
            eprintln!(
                "blocking recall {:.4} ({found} of {all} true pairs)",
                found as f64 / all.max(1) as f64
            );
        }
        eprintln!("pairs:    {pairs}");
        eprintln!("clusters: {clustered}");
    }
    eprintln!("done in {:.2?}", started.elapsed());
    Ok(())
}

fn main() -> ExitCode {
    match parse_args() {
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
        Ok(args) => match run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
