//! Hot paths of the canonical model: allocation, order validation, barcode
//! parsing and JSON (de)serialization of orders.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal::Decimal;
use seamwork::connector::memory::{Dataset, SeedOptions};
use seamwork::model::{Currency, Gtin, Money, Order};

fn allocate(c: &mut Criterion) {
    let mut group = c.benchmark_group("money_allocate");
    let total = Money::from_minor(1_234_567, Currency::USD);
    for parts in [3usize, 100, 1_000] {
        let weights: Vec<Decimal> = (1..=parts as i64)
            .map(|w| Decimal::new(w * 37 % 1000 + 1, 2))
            .collect();
        group.throughput(Throughput::Elements(parts as u64));
        group.bench_with_input(BenchmarkId::from_parameter(parts), &weights, |b, w| {
            b.iter(|| black_box(total).allocate(black_box(w)).unwrap())
        });
    }
    group.finish();
}

fn orders(c: &mut Criterion) {
    let data = Dataset::generate(&SeedOptions::default().with_orders(10_000)).unwrap();
    let orders = data.orders;
    let json: Vec<String> = orders
        .iter()
        .map(|o| serde_json::to_string(o).unwrap())
        .collect();
    let mut group = c.benchmark_group("order");
    group.throughput(Throughput::Elements(orders.len() as u64));
    group.bench_function("validate_10k", |b| {
        b.iter(|| orders.iter().filter(|o| o.validate().is_ok()).count())
    });
    group.bench_function("deserialize_10k", |b| {
        b.iter(|| {
            let n = json
                .iter()
                .filter(|s| serde_json::from_str::<Order>(s).is_ok())
                .count();
            assert_eq!(n, json.len());
        })
    });
    group.bench_function("serialize_10k", |b| {
        b.iter(|| {
            orders
                .iter()
                .map(|o| serde_json::to_string(o).unwrap().len())
                .sum::<usize>()
        })
    });
    group.finish();
}

fn gtin(c: &mut Criterion) {
    let codes = [
        "4006381333931",
        "036000291452",
        "96385074",
        "10614141000415",
        "4006381333932",
    ];
    c.bench_function("gtin_parse_5", |b| {
        b.iter(|| {
            codes
                .iter()
                .filter(|s| Gtin::parse(black_box(s)).is_ok())
                .count()
        })
    });
}

criterion_group!(benches, allocate, orders, gtin);
criterion_main!(benches);
