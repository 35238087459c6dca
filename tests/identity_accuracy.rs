//! Accuracy on generated customers with known truth: measured, not assumed.
#![allow(clippy::disallowed_types)] // F1 and probabilities are ratios

use seamwork::identity::{
    GeneratorOptions, LinkMode, LinkOptions, Linker, Metrics, NormalizeOptions, PreparedRecord,
    generate,
};

fn prepare(g: &seamwork::identity::Generated) -> Vec<PreparedRecord> {
    g.prepared(&NormalizeOptions::default())
}

fn run(
    options: &GeneratorOptions,
    mode: LinkMode,
) -> (Metrics, f64, seamwork::identity::LinkOutput) {
    let g = generate(options);
    let records = prepare(&g);
    let linker = Linker::new(LinkOptions::default()).unwrap();
    let out = linker.run(&records, mode, Some(&g.truth), None).unwrap();
    let m = Metrics::of_pairs(
        out.pairs.iter().map(|p| (p.left, p.right)),
        &records,
        &g.truth,
        mode,
    );
    let (found, all) = out.blocking.recall().unwrap();
    (m, found as f64 / all as f64, out)
}

#[test]
fn dedupe_meets_f1_target_on_default_generator() {
    let (m, blocking_recall, out) = run(&GeneratorOptions::default(), LinkMode::Dedupe);
    eprintln!(
        "dedupe: {m}; blocking recall {blocking_recall:.4}; {:?}",
        out.blocking
    );
    let g = generate(&GeneratorOptions::default());
    let records = prepare(&g);
    let c = out.clusters(&records, &seamwork::identity::ClusterOptions::default());
    let cm = Metrics::of_pairs(c.pairs(), &records, &g.truth, LinkMode::Dedupe);
    eprintln!("clusters: {cm}; refused {}", c.refused);
    assert!(cm.f1() >= 0.99, "{cm}");
    eprintln!("{:#?}", out.scorer.model());
    assert!(m.f1() >= 0.99, "{m}");
    assert!(blocking_recall >= 0.99, "{blocking_recall}");
}

#[test]
fn linking_two_systems_meets_f1_target() {
    let (m, blocking_recall, _) = run(&GeneratorOptions::two_systems(10_000), LinkMode::Link);
    eprintln!("link: {m}; blocking recall {blocking_recall:.4}");
    assert!(m.f1() >= 0.99, "{m}");
}

#[test]
fn em_converges_and_learned_m_u_are_sane() {
    let (_, _, out) = run(&GeneratorOptions::default(), LinkMode::Dedupe);
    for s in &out.em {
        assert!(
            s.fit.converged,
            "session {} did not converge in {} iterations",
            s.key, s.fit.iterations
        );
        assert!(
            s.fit
                .log_likelihood
                .windows(2)
                .all(|w| w[1] >= w[0] - 1e-6 * w[0].abs())
        );
    }
    for f in &out.scorer.model().fields {
        let top = f.m.len() - 1;
        // Matches mostly agree exactly; non-matches mostly differ.
        assert!(f.m[top] > 0.5, "{}: m {:?}", f.name, f.m);
        assert!(f.u[0] > 0.5, "{}: u {:?}", f.name, f.u);
        assert!(f.u[top] < 0.05, "{}: u {:?}", f.name, f.u);
        // Weights ordered: exact agreement is the strongest evidence, disagreement against.
        assert!(
            f.weight(top as u8) > 0.0 && f.weight(0) < 0.0,
            "{}: {:?} {:?}",
            f.name,
            f.m,
            f.u
        );
        // Ordered: among matches exact agreement is the most common level,
        // among non-matches disagreement; a graded level is evidence for a
        // match compared with disagreement.
        for l in 1..top {
            assert!(
                f.m[top] > f.m[l] && f.u[0] > f.u[l],
                "{}: level {l}: {:?} {:?}",
                f.name,
                f.m,
                f.u
            );
            assert!(f.weight(l as u8) > f.weight(0), "{}: level {l}", f.name);
        }
        assert!(f.m[top] > f.m[0] && f.u[0] > f.u[top], "{}", f.name);
    }
    let lambda = out.scorer.model().lambda;
    assert!(lambda > 0.0 && lambda < 1.0);
}
