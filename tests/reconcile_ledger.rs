//! The drift ledger on seeded runs: planted persistent drift and a planted
//! bias are found within the configured number of runs; pure noise is not
//! flagged; the trend follows the drift rate.

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use futures::executor::block_on;
use seamwork::reconcile::{
    DiffOptions, DiffSpec, DriftLedger, DriftOptions, FieldPolicy, LedgerKey, MemoryLedger,
    RunRecord, Table, Trend, analyze, diff_tables,
};

const SKUS: usize = 200;
const LOCATIONS: usize = 10;

/// What to plant in the right side of one run.
#[derive(Clone, Copy, Default)]
struct Plant {
    /// Share (per mille) of keys with symmetric random noise on on_hand.
    noise: u32,
    /// Keys 0..persistent (at LOC-3) are off by one.
    persistent: usize,
    /// Share (per mille) of LOC-7's keys with on_hand +2.
    bias: u32,
}

fn run(rng: &mut fastrand::Rng, plant: Plant) -> RunRecord {
    let spec = DiffSpec::new(["sku", "location"])
        .with_field("updated_at", FieldPolicy::Ignore)
        .with_dimension("location");
    let header = "sku,location,on_hand,available,updated_at\n";
    let (mut l, mut r) = (String::from(header), String::from(header));
    for s in 0..SKUS {
        for loc in 0..LOCATIONS {
            let q = 50 + (s * 7 + loc * 13) % 100;
            l.push_str(&format!("SKU-{s:04},LOC-{loc},{q},{q},t1\n"));
            let mut rq = q as i64;
            if rng.u32(0..1000) < plant.noise {
                let d = rng.i64(1..=3);
                rq += if rng.bool() { d } else { -d };
            }
            if loc == 3 && s < plant.persistent {
                rq += 1;
            }
            if loc == 7 && rng.u32(0..1000) < plant.bias {
                rq += 2;
            }
            r.push_str(&format!("SKU-{s:04},LOC-{loc},{rq},{q},t2\n"));
        }
    }
    let lt = Table::from_csv("erp", l, &spec).unwrap();
    let rt = Table::from_csv("store", r, &spec).unwrap();
    let report = diff_tables(&lt, &rt, &spec, &DiffOptions::default()).unwrap();
    RunRecord::from_report(&report, Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap())
}

fn history(seed: u64, plants: &[Plant]) -> Vec<RunRecord> {
    let ledger = MemoryLedger::new(50);
    let key = LedgerKey::new("erp", "store", "inventory_level");
    let mut rng = fastrand::Rng::with_seed(seed);
    for p in plants {
        block_on(ledger.record(&key, run(&mut rng, *p))).unwrap();
    }
    block_on(ledger.runs(&key, 50)).unwrap()
}

#[test]
fn pure_noise_is_not_flagged() {
    for seed in 0..5 {
        let runs = history(
            seed,
            &[Plant {
                noise: 20,
                ..Plant::default()
            }; 8],
        );
        let drift = analyze(&runs, &DriftOptions::default());
        assert!(
            drift.persistent.is_empty(),
            "seed {seed}: {:?}",
            drift.persistent
        );
        assert!(drift.bias.is_empty(), "seed {seed}: {:?}", drift.bias);
        assert_eq!(drift.trend, Trend::Steady, "seed {seed}: {:?}", drift.rates);
    }
}

#[test]
fn planted_persistent_drift_is_found_after_k_runs() {
    let options = DriftOptions::default(); // persistent_runs = 3
    let noisy = Plant {
        noise: 20,
        ..Plant::default()
    };
    let planted = Plant {
        persistent: 5,
        ..noisy
    };
    let mut plants = vec![noisy; 3];
    plants.extend([planted; 3]);
    for seed in 0..3 {
        let runs = history(seed, &plants);
        let before = analyze(&runs[..5], &options);
        assert!(before.persistent.iter().all(|p| p.runs >= 3));
        let after = analyze(&runs, &options);
        let keys: BTreeSet<String> = after.persistent.iter().map(|p| p.key.to_string()).collect();
        let expected: BTreeSet<String> = (0..5).map(|s| format!("SKU-{s:04}@LOC-3")).collect();
        assert_eq!(keys, expected, "seed {seed}");
    }
}

#[test]
fn planted_bias_is_found_within_the_configured_runs() {
    let options = DriftOptions::default().with_bias_runs(3);
    let plant = Plant {
        noise: 20,
        bias: 100,
        ..Plant::default()
    };
    for seed in 0..3 {
        let runs = history(seed, &[plant; 3]);
        let drift = analyze(&runs, &options);
        assert_eq!(drift.bias.len(), 1, "seed {seed}: {:?}", drift.bias);
        let b = &drift.bias[0];
        assert_eq!(
            (b.dimension.as_str(), b.field.as_str()),
            ("LOC-7", "on_hand")
        );
        assert!(b.mean > rust_decimal::Decimal::ZERO, "{b:?}");
        assert_eq!(b.samples, 3 * SKUS as u64);
    }
}

#[test]
fn trend_follows_the_drift_rate() {
    let rising: Vec<Plant> = (1..=5)
        .map(|i| Plant {
            noise: 10 * i,
            ..Plant::default()
        })
        .collect();
    let runs = history(1, &rising);
    assert_eq!(
        analyze(&runs, &DriftOptions::default()).trend,
        Trend::Rising
    );
    let falling: Vec<Plant> = rising.iter().rev().copied().collect();
    let runs = history(1, &falling);
    assert_eq!(
        analyze(&runs, &DriftOptions::default()).trend,
        Trend::Falling
    );
    assert_eq!(
        analyze(&runs[..1], &DriftOptions::default()).trend,
        Trend::Unknown
    );
}

#[test]
fn the_ledger_keeps_the_last_runs_per_key() {
    let ledger = MemoryLedger::new(2);
    let (a, b) = (
        LedgerKey::new("erp", "store", "x"),
        LedgerKey::new("erp", "wms", "x"),
    );
    let mut rng = fastrand::Rng::with_seed(3);
    for i in 0..3 {
        block_on(ledger.record(
            &a,
            run(
                &mut rng,
                Plant {
                    noise: 10 * (i + 1),
                    ..Plant::default()
                },
            ),
        ))
        .unwrap();
    }
    let runs = block_on(ledger.runs(&a, 10)).unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs[0].drift_rate() < runs[1].drift_rate());
    assert!(block_on(ledger.runs(&b, 10)).unwrap().is_empty());
}
