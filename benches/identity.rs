//! Identity resolution throughput on generated customers with known truth.
//!
//! - normalizing customers (email, phone via `phonenumber`, names, addresses);
//! - linking two systems of ~10,000 records each (target < 1 s end to end:
//!   blocking, u from random pairs, EM, scoring);
//! - deduplicating ~14,000 records in one file.
//!
//! The million-record run is the example on generated CSV (see the README):
//! `generate_customers --entities 770000` then `dedupe_customers`.
//!
//! Run: `cargo bench --features identity --bench identity -- --warm-up-time 1 --measurement-time 5`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use seamwork::identity::{
    GeneratorOptions, LinkMode, LinkOptions, Linker, NormalizeOptions, PreparedRecord, generate,
};

fn prepared(options: &GeneratorOptions) -> Vec<PreparedRecord> {
    generate(options).prepared(&NormalizeOptions::default())
}

fn normalize(c: &mut Criterion) {
    let g = generate(&GeneratorOptions::default().with_entities(2_000));
    let o = NormalizeOptions::default();
    let mut group = c.benchmark_group("identity");
    group.throughput(Throughput::Elements(g.customers.len() as u64));
    group.bench_function("normalize customers", |b| {
        b.iter(|| {
            for (c, &s) in g.customers.iter().zip(&g.sources) {
                black_box(PreparedRecord::from_customer(c, s, vec![], &o));
            }
        })
    });
    group.finish();
}

fn link(c: &mut Criterion) {
    // ~14,300 people, each in either system with 70% chance: ~10,000 per system.
    let records = prepared(&GeneratorOptions::two_systems(14_300));
    let linker = Linker::new(LinkOptions::default()).expect("default options");
    let mut group = c.benchmark_group("identity");
    group.sample_size(10);
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function("link 10k x 10k", |b| {
        b.iter(|| {
            black_box(
                linker
                    .run(&records, LinkMode::Link, None, None)
                    .expect("links"),
            )
        })
    });
    let dedupe = prepared(&GeneratorOptions::default());
    group.throughput(Throughput::Elements(dedupe.len() as u64));
    group.bench_function("dedupe 14k", |b| {
        b.iter(|| {
            black_box(
                linker
                    .run(&dedupe, LinkMode::Dedupe, None, None)
                    .expect("dedupes"),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, normalize, link);
criterion_main!(benches);
