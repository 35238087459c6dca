//! Properties of the keyed diff: diff(A, A) is empty, diff(B, A) mirrors
//! diff(A, B), injected differences are found exactly, and the streaming
//! mode agrees with the hash mode.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use seamwork::reconcile::{
    CsvStream, DiffKind, DiffOptions, DiffReport, DiffSpec, Difference, FieldPolicy, Table,
    diff_sorted, diff_tables,
};

const HEADER: [&str; 6] = ["sku", "location", "on_hand", "price", "name", "updated_at"];

#[derive(Debug, Clone, PartialEq)]
struct Row {
    on_hand: i64,
    price: Decimal,
    name: String,
    updated_at: String,
}

type Rows = BTreeMap<(String, String), Row>;

fn spec() -> DiffSpec {
    DiffSpec::new(["sku", "location"])
        .with_field(
            "price",
            FieldPolicy::Abs {
                tolerance: dec!(0.01),
            },
        )
        .with_field("name", FieldPolicy::Text)
        .with_field("updated_at", FieldPolicy::Ignore)
        .with_dimension("location")
}

fn csv(rows: &Rows, extra: &[&str], shuffle_seed: Option<u64>) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(HEADER).unwrap();
    let mut lines: Vec<Vec<String>> = rows
        .iter()
        .map(|((s, l), r)| {
            vec![
                s.clone(),
                l.clone(),
                r.on_hand.to_string(),
                r.price.to_string(),
                r.name.clone(),
                r.updated_at.clone(),
            ]
        })
        .collect();
    if let Some(seed) = shuffle_seed {
        fastrand::Rng::with_seed(seed).shuffle(&mut lines);
    }
    for l in lines {
        w.write_record(&l).unwrap();
    }
    let mut text = String::from_utf8(w.into_inner().unwrap()).unwrap();
    for e in extra {
        text.push_str(e);
        text.push('\n');
    }
    text
}

fn hash(a: &str, b: &str, threads: usize) -> DiffReport {
    let s = spec();
    let l = Table::from_csv("a.csv", a.to_string(), &s).unwrap();
    let r = Table::from_csv("b.csv", b.to_string(), &s).unwrap();
    diff_tables(&l, &r, &s, &DiffOptions::default().with_threads(threads)).unwrap()
}

fn stream(a: &str, b: &str) -> DiffReport {
    let s = spec();
    let l = CsvStream::new("a.csv", a.as_bytes(), &s.key).unwrap();
    let r = CsvStream::new("b.csv", b.as_bytes(), &s.key).unwrap();
    diff_sorted(l, r, &s).unwrap()
}

fn rows() -> impl Strategy<Value = Rows> {
    prop::collection::vec(
        (
            0u32..300,
            0u32..3,
            0i64..100,
            0i64..10_000,
            "[a-z]{1,6}( [a-z]{1,6})?",
            0u32..1000,
        ),
        0..120,
    )
    .prop_map(|v| {
        v.into_iter()
            .map(|(s, l, q, p, n, t)| {
                let key = (format!("SKU-{s:03}"), format!("L{l}"));
                let row = Row {
                    on_hand: q,
                    price: Decimal::new(p, 2),
                    name: n,
                    updated_at: format!("t{t}"),
                };
                (key, row)
            })
            .collect()
    })
}

fn mirror(d: &Difference) -> Flat {
    let kind = match d.kind {
        DiffKind::OnlyLeft => DiffKind::OnlyRight,
        DiffKind::OnlyRight => DiffKind::OnlyLeft,
        k => k,
    };
    let fields = d
        .fields
        .iter()
        .map(|f| {
            (
                f.field.clone(),
                f.right.clone(),
                f.left.clone(),
                f.delta.map(|x| -x),
            )
        })
        .collect();
    (d.key.clone(), kind, fields)
}

fn plain(d: &Difference) -> Flat {
    let fields = d
        .fields
        .iter()
        .map(|f| (f.field.clone(), f.left.clone(), f.right.clone(), f.delta))
        .collect();
    (d.key.clone(), d.kind, fields)
}

/// A difference as plain values: key, kind, (field, left, right, delta).
type Flat = (
    Vec<String>,
    DiffKind,
    Vec<(String, String, String, Option<Decimal>)>,
);

/// What one injected change should produce, if anything.
#[derive(Debug, Clone, Copy)]
enum Change {
    Remove,
    OnHand(i64),
    PriceOut,
    PriceWithin,
    NameCase,
    Stamp,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        Just(Change::Remove),
        (1i64..50).prop_map(Change::OnHand),
        Just(Change::PriceOut),
        Just(Change::PriceWithin),
        Just(Change::NameCase),
        Just(Change::Stamp),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_table_does_not_differ_from_itself(a in rows(), threads in 1usize..4) {
        let text = csv(&a, &[], Some(7));
        let report = hash(&text, &text, threads);
        prop_assert!(report.differences.is_empty());
        prop_assert_eq!(report.summary.matched, a.len() as u64);
        prop_assert_eq!(report.summary.left_rows, a.len() as u64);
    }

    #[test]
    fn swapping_sides_mirrors_the_diff(a in rows(), b in rows()) {
        let (ta, tb) = (csv(&a, &[], Some(1)), csv(&b, &[], Some(2)));
        let ab = hash(&ta, &tb, 2);
        let ba = hash(&tb, &ta, 2);
        let m: Vec<_> = ab.differences.iter().map(mirror).collect();
        let p: Vec<_> = ba.differences.iter().map(plain).collect();
        prop_assert_eq!(m, p);
        prop_assert_eq!(ab.summary.only_left, ba.summary.only_right);
        prop_assert_eq!(ab.summary.only_right, ba.summary.only_left);
        prop_assert_eq!(ab.summary.mismatched, ba.summary.mismatched);
        prop_assert_eq!(&ab.summary.by_field, &ba.summary.by_field);
    }

    #[test]
    fn injected_differences_are_found_exactly(a in rows(), changes in prop::collection::vec((any::<prop::sample::Index>(), change()), 0..30), added in rows()) {
        let mut b = a.clone();
        let keys: Vec<_> = a.keys().cloned().collect();
        let mut expected: BTreeMap<Vec<String>, (DiffKind, Vec<String>)> = BTreeMap::new();
        if !keys.is_empty() {
            for (i, c) in &changes {
                let k = &keys[i.index(keys.len())];
                let Some(row) = b.get_mut(k) else { continue };
                let key = vec![k.0.clone(), k.1.clone()];
                let mut fields = expected.remove(&key).map(|e| e.1).unwrap_or_default();
                match c {
                    Change::Remove => {
                        b.remove(k);
                        expected.insert(key, (DiffKind::OnlyLeft, vec![]));
                        continue;
                    }
                    Change::OnHand(d) => { row.on_hand += d; fields.push("on_hand".into()); }
                    Change::PriceOut => { row.price += dec!(0.05); fields.push("price".into()); }
                    Change::PriceWithin => {
                        if !fields.contains(&"price".to_string()) && row.price == a[k].price {
                            row.price += dec!(0.01);
                        }
                    }
                    Change::NameCase => row.name = format!("  {}  ", row.name.to_uppercase().replace(' ', "   ")),
                    Change::Stamp => row.updated_at.push('x'),
                }
                let net: Vec<String> = ["on_hand", "price"].into_iter()
                    .filter(|f| match *f {
                        "on_hand" => row.on_hand != a[k].on_hand,
                        _ => (row.price - a[k].price).abs() > dec!(0.01),
                    })
                    .map(String::from)
                    .collect();
                fields = net;
                if !fields.is_empty() {
                    expected.insert(key, (DiffKind::Mismatch, fields));
                } else {
                    expected.remove(&key);
                }
            }
        }
        for (k, r) in added {
            if !a.contains_key(&k) && !b.contains_key(&k) {
                expected.insert(vec![k.0.clone(), k.1.clone()], (DiffKind::OnlyRight, vec![]));
                b.insert(k, r);
            }
        }
        let report = hash(&csv(&a, &[], Some(3)), &csv(&b, &[], Some(4)), 2);
        let found: BTreeMap<Vec<String>, (DiffKind, Vec<String>)> = report
            .differences
            .iter()
            .map(|d| (d.key.clone(), (d.kind, d.fields.iter().map(|f| f.field.clone()).collect())))
            .collect();
        prop_assert_eq!(found, expected);
        prop_assert_eq!(report.summary.differences(), report.differences.len() as u64);
    }

    #[test]
    fn streaming_mode_equals_hash_mode(a in rows(), b in rows(), bad in prop::collection::vec(prop_oneof![Just("SKU-X,L1,1"), Just("\"open,L1,2,3,4,5"), Just("SKU-Y,L1,1,2.00,n,t,extra")], 0..3)) {
        // Malformed rows appended at the end keep the sorted order of the rest.
        let (ta, tb) = (csv(&a, &bad, None), csv(&b, &[], None));
        let h = hash(&ta, &tb, 2);
        let s = stream(&ta, &tb);
        prop_assert_eq!(&h.differences, &s.differences);
        prop_assert_eq!(&h.summary, &s.summary);
        prop_assert_eq!(&h.problems, &s.problems);
    }
}

#[test]
fn out_of_order_input_is_an_error_naming_the_line() {
    let s = spec();
    let a = "sku,location,on_hand,price,name,updated_at\nB,L1,1,1,n,t\nA,L1,1,1,n,t\n";
    let l = CsvStream::new("left.csv", a.as_bytes(), &s.key).unwrap();
    let r = CsvStream::new("right.csv", a.as_bytes(), &s.key).unwrap();
    let e = diff_sorted(l, r, &s).unwrap_err();
    assert_eq!(e.context().file.as_deref(), Some("left.csv"));
    assert_eq!(e.context().line, Some(3));
    assert!(e.to_string().contains("sorts before"), "{e}");
}

#[test]
fn duplicates_and_malformed_rows_are_reported_not_dropped() {
    let a = "sku,location,on_hand,price,name,updated_at\nA,L1,1,1,n,t\nA,L1,2,1,n,t\nB,L1,1\n";
    let b = "sku,location,on_hand,price,name,updated_at\nA,L1,1,1,n,t\n";
    for report in [hash(a, b, 2), stream(a, b)] {
        assert!(report.differences.is_empty());
        assert_eq!(report.summary.rejected_rows, 2);
        assert_eq!(report.summary.left_rows, 1);
        let text: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            text,
            [
                "a.csv:3: duplicate key (A, L1) also at line 2; this row is left out",
                "a.csv:4:4: expected 6 fields, found 3"
            ]
        );
    }
}

#[test]
fn counts_by_dimension_and_field() {
    let a = "sku,location,on_hand,price,name,updated_at\nA,L1,1,1.00,n,t\nB,L2,1,1.00,n,t\nC,L2,1,1.00,n,t\n";
    let b = "sku,location,on_hand,price,name,updated_at\nA,L1,3,1.00,n,t\nB,L2,1,2.00,n,t\nD,L2,1,1.00,n,t\n";
    let r = hash(a, b, 2);
    assert_eq!(r.summary.by_field.get("on_hand"), Some(&1));
    assert_eq!(r.summary.by_field.get("price"), Some(&1));
    let l2 = r.summary.by_dimension["L2"];
    assert_eq!(
        (l2.mismatched, l2.only_left, l2.only_right, l2.matched),
        (1, 1, 1, 0)
    );
    assert_eq!(r.differences[0].fields[0].delta, Some(dec!(2)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever text loads, the two modes agree, or the streaming mode names
    /// the line that is out of order.
    #[test]
    fn modes_agree_on_arbitrary_text(left in "k,v\n[ab,\"\r\n]{0,40}", right in "k,v\n[ab,\"\r\n]{0,40}") {
        let spec = DiffSpec::new(["k"]);
        let (Ok(l), Ok(r)) = (Table::from_csv("l", left.clone(), &spec), Table::from_csv("r", right.clone(), &spec)) else {
            return Ok(());
        };
        let hashed = diff_tables(&l, &r, &spec, &DiffOptions::default().with_threads(2)).unwrap();
        let ls = CsvStream::new("l", left.as_bytes(), &spec.key).unwrap();
        let rs = CsvStream::new("r", right.as_bytes(), &spec.key).unwrap();
        match diff_sorted(ls, rs, &spec) {
            Ok(streamed) => {
                prop_assert_eq!(&hashed.differences, &streamed.differences);
                prop_assert_eq!(&hashed.summary, &streamed.summary);
                prop_assert_eq!(&hashed.problems, &streamed.problems);
            }
            Err(e) => prop_assert!(e.context().line.is_some()),
        }
    }
}
