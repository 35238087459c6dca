//! The example's path end to end: generated customers written as CSV, read
//! back through `examples/identity/spec.toml` (normalizers, birth date
//! attribute), linked or deduplicated unsupervised, measured against truth.
#![allow(clippy::disallowed_types)] // F1 is a ratio

use std::collections::HashMap;

use seamwork::identity::{DedupeSpec, GeneratorOptions, LinkMode, Linker, Metrics, generate};

const SPEC: &str = include_str!("../examples/identity/spec.toml");

fn measure(options: &GeneratorOptions, sources: u16) -> (Metrics, Metrics, usize) {
    let g = generate(options);
    let spec = DedupeSpec::from_toml_str(SPEC).unwrap();
    let (mut records, mut truth) = (Vec::new(), Vec::new());
    for s in 0..sources {
        let mut csv = Vec::new();
        g.write_csv(s, &mut csv).unwrap();
        let read = spec.read_csv(csv.as_slice(), "generated.csv", s).unwrap();
        assert!(read.rejected.is_empty(), "{:?}", read.rejected);
        records.extend(read.records);
        truth.extend(read.truth);
    }
    let mut ids: HashMap<String, u32> = HashMap::new();
    let truth: Vec<u32> = truth
        .into_iter()
        .map(|t| {
            let next = ids.len() as u32;
            *ids.entry(t).or_insert(next)
        })
        .collect();
    let mode = if sources == 1 {
        LinkMode::Dedupe
    } else {
        LinkMode::Link
    };
    let out = Linker::new(spec.model.clone())
        .unwrap()
        .run(&records, mode, Some(&truth), None)
        .unwrap();
    let pairs = Metrics::of_pairs(
        out.pairs.iter().map(|p| (p.left, p.right)),
        &records,
        &truth,
        mode,
    );
    let clusters = out.clusters(&records, &spec.cluster);
    let clustered = Metrics::of_pairs(clusters.pairs(), &records, &truth, mode);
    (pairs, clustered, records.len())
}

#[test]
fn sample_spec_dedupes_generated_csv_with_f1_target() {
    let (pairs, clusters, n) = measure(&GeneratorOptions::default(), 1);
    eprintln!("{n} records: pairs {pairs}; clusters {clusters}");
    assert!(pairs.f1() >= 0.99, "{pairs}");
    assert!(clusters.f1() >= 0.99, "{clusters}");
}

#[test]
fn sample_spec_links_two_generated_systems_with_f1_target() {
    let (pairs, _, n) = measure(&GeneratorOptions::two_systems(10_000), 2);
    eprintln!("{n} records: pairs {pairs}");
    assert!(pairs.f1() >= 0.99, "{pairs}");
}

#[test]
fn sample_file_finds_its_duplicates_and_reports_bad_rows() {
    let spec = DedupeSpec::from_toml_str(SPEC).unwrap();
    let read = spec
        .read_csv(
            include_str!("../examples/identity/customers.csv").as_bytes(),
            "customers.csv",
            0,
        )
        .unwrap();
    assert_eq!(read.rejected.len(), 1);
    assert!(read.rejected[0].to_string().contains("line 10"));
    let out = Linker::new(spec.model.clone())
        .unwrap()
        .run(&read.records, LinkMode::Dedupe, None, None)
        .unwrap();
    let clusters = out.clusters(&read.records, &spec.cluster);
    let same = |a: &str, b: &str| {
        let at = |id: &str| read.records.iter().position(|r| r.id == id).unwrap();
        clusters.of[at(a)] == clusters.of[at(b)]
    };
    assert!(same("s-1", "s-2"), "Gmail alias, nickname, phone formats");
    assert!(
        same("s-3", "s-4") && same("s-3", "s-5"),
        "accents, abbreviations, swapped names"
    );
    assert!(
        same("s-6", "s-9"),
        "swapped names with a suffix, ZIP without its zero"
    );
    assert!(
        !same("s-6", "s-7"),
        "a similar name alone is not the same person"
    );
}
