//! Property tests for identity resolution: normalizers are idempotent,
//! comparators are symmetric with exact agreement on top, pair scores do not
//! depend on the order of the pair, blocking yields each candidate once and
//! never misses a pair sharing an email, clustering without a guard is
//! connected components and with one never exceeds its size limit, and a
//! golden record keeps every member's external refs and emails.
#![allow(clippy::disallowed_types)] // probabilities

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use seamwork::identity::cluster::{ClusterOptions, cluster};
use seamwork::identity::normalize::{
    EmailRules, normalize_address_line, normalize_email, normalize_name, normalize_phone,
    normalize_postcode,
};
use seamwork::identity::{
    BlockingIndex, BlockingKey, Comparator, GeneratorOptions, GoldenOptions, LinkMode, LinkOptions,
    Linker, NormalizeOptions, PreparedRecord, generate, golden_record,
};
use seamwork::model::{Customer, ExternalRef};

fn messy() -> impl Strategy<Value = String> {
    "[ a-zA-Z0-9.+@#,'()\\-éßÖ]{0,30}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn normalizers_are_idempotent(s in messy()) {
        if let Some(e) = normalize_email(&s, EmailRules::Provider) {
            prop_assert_eq!(normalize_email(&e, EmailRules::Provider), Some(e.clone()));
        }
        if let Some(n) = normalize_name(&s) {
            prop_assert_eq!(normalize_name(&n), Some(n.clone()));
        }
        if let Some(a) = normalize_address_line(&s) {
            prop_assert_eq!(normalize_address_line(&a), Some(a.clone()));
        }
        if let Some(p) = normalize_postcode(&s, Some("US")) {
            prop_assert_eq!(normalize_postcode(&p, Some("US")), Some(p.clone()));
        }
        if let Some(p) = normalize_phone(&s, "US") {
            prop_assert_eq!(normalize_phone(&p, "US"), Some(p.clone()));
        }
    }

    #[test]
    fn comparators_are_symmetric_and_exact_is_top(a in "[a-z]{0,12}", b in "[a-z]{0,12}") {
        for c in [
            Comparator::Exact,
            Comparator::jaro_winkler(&[0.92, 0.8]),
            Comparator::levenshtein(&[1, 2]),
        ] {
            let top = (c.levels() - 1) as u8;
            prop_assert_eq!(c.compare_text(&a, &a), top);
            prop_assert_eq!(c.compare_text(&a, &b), c.compare_text(&b, &a));
            prop_assert!(c.compare_text(&a, &b) <= top);
        }
    }

    #[test]
    fn clustering_without_guard_is_connected_components(
        edges in proptest::collection::vec((0u32..30, 0u32..30, 0.5f64..1.0), 0..60)
    ) {
        let mut open = ClusterOptions::default();
        open.min_average = 0.0;
        open.max_cluster_size = usize::MAX;
        let c = cluster(30, &edges, &open, |_, _| 0.0);
        // Naive components by repeated relaxation.
        let mut comp: Vec<u32> = (0..30).collect();
        loop {
            let mut changed = false;
            for &(a, b, _) in &edges {
                let m = comp[a as usize].min(comp[b as usize]);
                for x in [a, b] {
                    if comp[x as usize] != m { comp[x as usize] = m; changed = true; }
                }
            }
            if !changed { break; }
        }
        for i in 0..30 {
            for j in 0..30 {
                prop_assert_eq!(c.of[i] == c.of[j], comp[i] == comp[j]);
            }
        }
        let mut guarded = ClusterOptions::default();
        guarded.max_cluster_size = 4;
        let g = cluster(30, &edges, &guarded, |_, _| 0.9);
        prop_assert!(g.groups().iter().all(|grp| grp.len() <= 4));
    }
}

fn records(seed: u64) -> (Vec<PreparedRecord>, Vec<Customer>) {
    let g = generate(
        &GeneratorOptions::default()
            .with_entities(300)
            .with_seed(seed),
    );
    (g.prepared(&NormalizeOptions::default()), g.customers)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn scores_do_not_depend_on_pair_order(seed in 0u64..1000) {
        let (recs, _) = records(seed);
        let out = Linker::new(LinkOptions::default()).unwrap().run(&recs, LinkMode::Dedupe, None, None).unwrap();
        let mut rng = fastrand::Rng::with_seed(seed);
        for _ in 0..200 {
            let (a, b) = (&recs[rng.usize(..recs.len())], &recs[rng.usize(..recs.len())]);
            let (x, y) = (out.scorer.weight(a, b), out.scorer.weight(b, a));
            prop_assert!((x - y).abs() < 1e-9, "{} vs {}", x, y);
        }
        for p in &out.pairs {
            prop_assert!(p.left < p.right && p.probability >= 0.5);
        }
    }

    #[test]
    fn blocking_is_unique_and_finds_shared_emails(seed in 0u64..1000) {
        let (recs, _) = records(seed);
        let index = BlockingIndex::build(&recs, &BlockingKey::defaults(), 1000, LinkMode::Dedupe);
        let mut buf = Vec::new();
        for i in 0..recs.len() {
            index.candidates(&recs, i, &mut buf);
            prop_assert!(buf.windows(2).all(|w| w[0].0 < w[1].0));
            prop_assert!(buf.iter().all(|c| c.0 as usize > i && c.1 != 0));
            for j in i + 1..recs.len() {
                if recs[i].emails.iter().any(|e| recs[j].emails.contains(e)) {
                    prop_assert!(buf.iter().any(|c| c.0 as usize == j), "{} {}", i, j);
                }
            }
        }
    }

    #[test]
    fn golden_records_keep_refs_and_emails(seed in 0u64..1000, take in 1usize..6) {
        let (_, customers) = records(seed);
        let mut members: Vec<Customer> = customers.into_iter().take(take).collect();
        members[0].external_refs.push(ExternalRef::new("crm", "extra"));
        members[0].updated_at = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
        let refs: Vec<&Customer> = members.iter().collect();
        let g = golden_record("g", &refs, &GoldenOptions::default());
        for m in &members {
            for r in &m.external_refs {
                prop_assert!(g.customer.external_refs.contains(r));
            }
            for e in &m.emails {
                let key = e.to_lowercase();
                prop_assert!(g.customer.emails.iter().any(|x| x.to_lowercase() == key));
            }
        }
        prop_assert_eq!(g.customer.updated_at, members[0].updated_at);
        prop_assert!(g.customer.validate().is_ok());
    }
}
