//! Reconcile two CSV exports on a key, with per-field tolerances.
//!
//! ```sh
//! cargo run --release --example reconcile_csv -- \
//!     --left examples/reconcile/erp.csv --right examples/reconcile/store.csv \
//!     --spec examples/reconcile/SPEC.toml --out REPORT.json \
//!     [--html REPORT.html] [--csv DIFFS.csv] [--markdown SUMMARY.md] \
//!     [--ledger RUNS.jsonl] [--sorted] [--threads N] [--fail-on-drift]
//! ```
//!
//! - `--ledger`: appends this run to a JSON Lines drift ledger; the HTML
//!   report then charts the drift rate over its runs and lists persistent
//!   drift, bias and the trend.
//! - `--sorted`: both files are sorted by key; stream them with bounded memory
//!   (a key out of order is an error naming its line).
//! - The sample files in `examples/reconcile/` include one malformed row, so
//!   the run above reports it and exits with 2.
//! - Exit codes: 0 success (with `--fail-on-drift`: 1 when differences exist);
//!   2 bad input — an unreadable file or spec, a bad header (message names the
//!   file, line and column), or malformed rows. Malformed rows never abort the
//!   run: each is listed in the report's `problems` and on stderr with its
//!   file, line and column, and the exit code is 2.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use seamwork::reconcile::{
    CsvStream, DiffOptions, DiffReport, DiffSpec, RunRecord, diff_csv_files, diff_sorted,
};

const USAGE: &str = "usage: reconcile_csv --left L.csv --right R.csv --spec SPEC.toml --out REPORT.json \
[--html REPORT.html] [--csv DIFFS.csv] [--markdown SUMMARY.md] [--ledger RUNS.jsonl] [--sorted] [--threads N] \
[--fail-on-drift]";

#[derive(Default)]
struct Args {
    left: Option<PathBuf>,
    right: Option<PathBuf>,
    spec: Option<PathBuf>,
    out: Option<PathBuf>,
    html: Option<PathBuf>,
    csv: Option<PathBuf>,
    markdown: Option<PathBuf>,
    ledger: Option<PathBuf>,
    sorted: bool,
    threads: Option<usize>,
    fail_on_drift: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--left" => a.left = Some(value("--left")?.into()),
            "--right" => a.right = Some(value("--right")?.into()),
            "--spec" => a.spec = Some(value("--spec")?.into()),
            "--out" => a.out = Some(value("--out")?.into()),
            "--html" => a.html = Some(value("--html")?.into()),
            "--csv" => a.csv = Some(value("--csv")?.into()),
            "--markdown" => a.markdown = Some(value("--markdown")?.into()),
            "--ledger" => a.ledger = Some(value("--ledger")?.into()),
            "--threads" => {
                let v = value("--threads")?;
                a.threads = Some(
                    v.parse()
                        .map_err(|_| format!("--threads {v:?} is not a number"))?,
                );
            }
            "--sorted" => a.sorted = true,
            "--fail-on-drift" => a.fail_on_drift = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    for (name, v) in [
        ("--left", &a.left),
        ("--right", &a.right),
        ("--spec", &a.spec),
        ("--out", &a.out),
    ] {
        if v.is_none() {
            return Err(format!("{name} is required"));
        }
    }
    Ok(a)
}

fn run(a: &Args) -> seamwork::Result<DiffReport> {
    let spec_path = a.spec.as_ref().expect("checked");
    let spec = DiffSpec::load(spec_path)?;
    let (left, right) = (
        a.left.as_ref().expect("checked"),
        a.right.as_ref().expect("checked"),
    );
    if a.sorted {
        let open = |p: &PathBuf| {
            File::open(p)
                .map(|f| BufReader::with_capacity(1 << 16, f))
                .map_err(|e| {
                    seamwork::Error::invalid_data(format!("cannot read {}: {e}", p.display()))
                        .with_file(p.display().to_string(), None, None)
                })
        };
        let l = CsvStream::new(&left.display().to_string(), open(left)?, &spec.key)?;
        let r = CsvStream::new(&right.display().to_string(), open(right)?, &spec.key)?;
        return diff_sorted(l, r, &spec);
    }
    let mut options = DiffOptions::default();
    if let Some(t) = a.threads {
        options = options.with_threads(t);
    }
    diff_csv_files(left, right, &spec, &options)
}

/// Appends this run to a JSON Lines ledger file and returns its history
/// (oldest first), for the HTML report's drift chart.
fn ledger(path: &PathBuf, report: &DiffReport) -> Result<Vec<RunRecord>, String> {
    use std::io::Write;
    let mut runs = Vec::new();
    if path.exists() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let run: RunRecord = serde_json::from_str(line)
                .map_err(|e| format!("{}:{}: not a ledger run: {e}", path.display(), i + 1))?;
            runs.push(run);
        }
    }
    let run = RunRecord::from_report(report, chrono::Utc::now());
    let line = serde_json::to_string(&run).map_err(|e| e.to_string())?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    writeln!(f, "{line}").map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    runs.push(run);
    Ok(runs)
}

fn write(
    path: &PathBuf,
    what: &str,
    f: impl FnOnce(File) -> seamwork::Result<()>,
) -> Result<(), String> {
    let file =
        File::create(path).map_err(|e| format!("cannot create {what} {}: {e}", path.display()))?;
    f(file).map_err(|e| format!("{what} {}: {e}", path.display()))
}

/// Milliseconds with one decimal, without floats.
fn millis(d: std::time::Duration) -> String {
    let tenths = d.as_micros() / 100;
    format!("{}.{}", tenths / 10, tenths % 10)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(m) => {
            if !m.is_empty() {
                eprintln!("error: {m}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let report = match run(&args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let diffed = started.elapsed();
    let runs = match &args.ledger {
        Some(path) => match ledger(path, &report) {
            Ok(runs) => runs,
            Err(m) => {
                eprintln!("error: {m}");
                return ExitCode::from(2);
            }
        },
        None => Vec::new(),
    };
    let outputs = [
        (args.out.as_ref(), "JSON report"),
        (args.csv.as_ref(), "CSV report"),
        (args.markdown.as_ref(), "Markdown summary"),
        (args.html.as_ref(), "HTML report"),
    ];
    for (path, what) in outputs {
        let Some(path) = path else { continue };
        let written = write(path, what, |f| match what {
            "JSON report" => report.write_json(f),
            "CSV report" => report.write_csv(f),
            "Markdown summary" => {
                use std::io::Write;
                let mut f = f;
                f.write_all(report.markdown(50).as_bytes())
                    .map_err(|e| seamwork::Error::unavailable(e.to_string()))
            }
            _ => report.write_html(f, &runs),
        });
        if let Err(m) = written {
            eprintln!("error: {m}");
            return ExitCode::from(2);
        }
    }
    let s = &report.summary;
    println!(
        "left_rows={} right_rows={} matched={} only_left={} only_right={} mismatched={} rejected_rows={}",
        s.left_rows,
        s.right_rows,
        s.matched,
        s.only_left,
        s.only_right,
        s.mismatched,
        s.rejected_rows
    );
    println!(
        "diff_ms={} total_ms={}",
        millis(diffed),
        millis(started.elapsed())
    );
    for p in report.problems.iter().take(20) {
        eprintln!("problem: {p}");
    }
    if report.problems.len() > 20 {
        eprintln!(
            "... {} problems in all (see {})",
            report.problems.len(),
            args.out.as_ref().expect("checked").display()
        );
    }
    if s.rejected_rows > 0 {
        ExitCode::from(2)
    } else if args.fail_on_drift && s.differences() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
