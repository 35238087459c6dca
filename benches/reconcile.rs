//! Keyed diff throughput: 200,000 inventory rows per side with ~2 % drift,
//! hash mode (parse + classify, 1 and 2 threads) and streaming mode.
//! `benches/compare/reconcile.sh` runs the 1M-row comparison with DuckDB and polars.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal_macros::dec;
use seamwork::reconcile::{
    CsvStream, DiffOptions, DiffSpec, FieldPolicy, Table, diff_sorted, diff_tables,
};

const ROWS: usize = 200_000;

/// A sorted inventory export pair with drift on about 2 % of the keys.
fn pair() -> (String, String) {
    let mut rng = fastrand::Rng::with_seed(7);
    let header = "sku,location,on_hand,available,price,updated_at\n";
    let (mut l, mut r) = (String::from(header), String::from(header));
    for i in 0..ROWS {
        let (sku, loc) = (i / 20, i % 20);
        let on_hand = rng.u32(0..500);
        let cents = rng.u32(100..100_000);
        l.push_str(&format!(
            "SKU-{sku:07},LOC-{loc:02},{on_hand},{on_hand},{}.{:02},2026-03-01T10:00:00Z\n",
            cents / 100,
            cents % 100
        ));
        let x = rng.u32(0..1000);
        if x < 2 {
            continue;
        }
        let on_hand = if x < 12 { on_hand + 1 } else { on_hand };
        let cents = if (12..20).contains(&x) {
            cents + 50
        } else {
            cents
        };
        r.push_str(&format!(
            "SKU-{sku:07},LOC-{loc:02},{on_hand},{on_hand},{}.{:02},2026-03-02T08:00:00Z\n",
            cents / 100,
            cents % 100
        ));
    }
    (l, r)
}

fn spec() -> DiffSpec {
    DiffSpec::new(["sku", "location"])
        .with_field(
            "price",
            FieldPolicy::Abs {
                tolerance: dec!(0.01),
            },
        )
        .with_field("updated_at", FieldPolicy::Ignore)
}

fn bench(c: &mut Criterion) {
    let (l, r) = pair();
    let spec = spec();
    let mut g = c.benchmark_group("reconcile");
    g.throughput(Throughput::Elements(2 * ROWS as u64));
    g.sample_size(10);
    for threads in [1, 2] {
        g.bench_function(
            format!("hash mode, parse + classify, {threads} thread(s)"),
            |b| {
                b.iter(|| {
                    let (lt, rt) = std::thread::scope(|s| {
                        let lt = s.spawn(|| Table::from_csv("l", l.clone(), &spec).unwrap());
                        let rt = Table::from_csv("r", r.clone(), &spec).unwrap();
                        (lt.join().unwrap(), rt)
                    });
                    let opts = DiffOptions::default().with_threads(threads);
                    black_box(
                        diff_tables(&lt, &rt, &spec, &opts)
                            .unwrap()
                            .summary
                            .mismatched,
                    )
                })
            },
        );
    }
    g.bench_function("streaming mode (sorted inputs)", |b| {
        b.iter(|| {
            let ls = CsvStream::new("l", l.as_bytes(), &spec.key).unwrap();
            let rs = CsvStream::new("r", r.as_bytes(), &spec.key).unwrap();
            black_box(diff_sorted(ls, rs, &spec).unwrap().summary.mismatched)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
