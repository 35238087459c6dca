//! Expectation–maximisation of the m probabilities, without labels.
//!
//! Candidate pairs are a mixture of matches and non-matches. With u fixed
//! (estimated from random pairs, which are almost all non-matches), EM
//! alternates between the chance that each comparison pattern is a match
//! (E) and the m probabilities and match share λ that make those chances
//! most likely (M). Patterns are counted once, so an iteration costs the
//! number of distinct patterns, not pairs.
// Probabilities are statistics, not money or quantities.
#![allow(clippy::disallowed_types)]

use serde::{Deserialize, Serialize};

use super::scoring::{FLOOR, Levels, MISSING};

/// When EM stops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct EmOptions {
    /// At most this many iterations.
    pub max_iterations: usize,
    /// Stop when no m and not λ moves by more than this.
    pub tolerance: f64,
}

impl Default for EmOptions {
    /// 200 iterations, tolerance 1e-6.
    fn default() -> Self {
        EmOptions {
            max_iterations: 200,
            tolerance: 1e-6,
        }
    }
}

/// The outcome of one EM run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EmFit {
    /// m per field and level (fields not estimated keep their start values).
    pub m: Vec<Vec<f64>>,
    /// Share of matches among the pairs.
    pub lambda: f64,
    /// Expected number of matches among the pairs.
    pub expected_matches: f64,
    /// Iterations run.
    pub iterations: usize,
    /// Whether the tolerance was reached.
    pub converged: bool,
    /// Log-likelihood after each iteration (never decreases).
    pub log_likelihood: Vec<f64>,
}

/// A start for m: most mass on the top (exact) level, the rest decreasing.
pub fn initial_m(levels: usize) -> Vec<f64> {
    let mut m: Vec<f64> = (0..levels).map(|l| (l + 1) as f64).collect();
    let rest: f64 = m.iter().take(levels - 1).sum();
    for v in m.iter_mut().take(levels - 1) {
        *v = 0.2 * *v / rest;
    }
    m[levels - 1] = 0.8;
    m
}

/// Runs EM over `patterns` (levels and how many pairs show them) with `u`
/// fixed; fields where `estimate[f]` is false keep `m_start[f]` and do not
/// take part in the likelihood (they are fixed by how the pairs were chosen).
pub fn fit(
    patterns: &[(Levels, u64)],
    u: &[Vec<f64>],
    m_start: &[Vec<f64>],
    estimate: &[bool],
    lambda_start: f64,
    options: &EmOptions,
) -> EmFit {
    let fields = u.len();
    let mut m = m_start.to_vec();
    let mut lambda = lambda_start.clamp(0.001, 0.999);
    let mut log_likelihood = Vec::new();
    let total: f64 = patterns.iter().map(|p| p.1 as f64).sum();
    let mut converged = false;
    let mut iterations = 0;
    let mut expected_matches = 0.0;
    if total == 0.0 {
        return EmFit {
            m,
            lambda,
            expected_matches,
            iterations,
            converged,
            log_likelihood,
        };
    }
    while iterations < options.max_iterations {
        iterations += 1;
        let mut num: Vec<Vec<f64>> = m.iter().map(|v| vec![0.0; v.len()]).collect();
        let mut matches = 0.0;
        let mut ll = 0.0;
        for (levels, count) in patterns {
            let (mut pm, mut pu) = (lambda, 1.0 - lambda);
            for f in 0..fields {
                let l = levels[f];
                if l == MISSING || !estimate[f] {
                    continue;
                }
                pm *= m[f][usize::from(l)];
                pu *= u[f][usize::from(l)];
            }
            let c = *count as f64;
            let g = pm / (pm + pu);
            ll += c * (pm + pu).max(f64::MIN_POSITIVE).ln();
            matches += c * g;
            for f in 0..fields {
                let l = levels[f];
                if l != MISSING && estimate[f] {
                    num[f][usize::from(l)] += c * g;
                }
            }
        }
        log_likelihood.push(ll);
        let new_lambda = (matches / total).clamp(FLOOR, 1.0 - FLOOR);
        let mut delta = (new_lambda - lambda).abs();
        for f in 0..fields {
            if !estimate[f] {
                continue;
            }
            // One pseudo-pair per level: a level never seen among the
            // matches (no phone typos in this data) is rare, not impossible.
            let sum: f64 = num[f].iter().sum::<f64>() + num[f].len() as f64;
            for (l, n) in num[f].iter().enumerate() {
                let v = ((n + 1.0) / sum).max(FLOOR);
                delta = delta.max((v - m[f][l]).abs());
                m[f][l] = v;
            }
        }
        lambda = new_lambda;
        expected_matches = matches;
        if delta < options.tolerance {
            converged = true;
            break;
        }
    }
    EmFit {
        m,
        lambda,
        expected_matches,
        iterations,
        converged,
        log_likelihood,
    }
}

/// The prior probability that two records drawn at random match, with m and
/// u fixed: the fixed point of λ = Σ P(match | pattern, λ) / `population`,
/// where `patterns` are the candidate pairs and the other pairs of the
/// `population` (never compared) are taken as non-matches.
///
/// This is the prior that goes with u from random pairs: a pair's posterior
/// then does not depend on which blocking key found it.
pub fn lambda_for(
    patterns: &[(Levels, u64)],
    u: &[Vec<f64>],
    m: &[Vec<f64>],
    population: f64,
    options: &EmOptions,
) -> f64 {
    let total: f64 = patterns.iter().map(|p| p.1 as f64).sum();
    let population = population.max(total);
    if total == 0.0 {
        return FLOOR;
    }
    // Bayes factors once; only λ moves.
    let factors: Vec<(f64, f64)> = patterns
        .iter()
        .map(|(levels, count)| {
            let mut bf = 1.0;
            for f in 0..u.len() {
                let l = levels[f];
                if l != MISSING {
                    bf *= m[f][usize::from(l)] / u[f][usize::from(l)];
                }
            }
            (bf, *count as f64)
        })
        .collect();
    // Start below the share of candidates: "every candidate matches" is a
    // degenerate fixed point when candidates are the whole population.
    let mut lambda = (0.5 * total / population).clamp(FLOOR, 1.0 - FLOOR);
    for _ in 0..options.max_iterations {
        let odds = lambda / (1.0 - lambda);
        let matches: f64 = factors
            .iter()
            .map(|(bf, c)| c * odds * bf / (1.0 + odds * bf))
            .sum();
        let next = (matches / population).clamp(FLOOR, 1.0 - FLOOR);
        let done = (next - lambda).abs() <= options.tolerance * lambda;
        lambda = next;
        if done {
            break;
        }
    }
    lambda
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(levels: &[u8]) -> Levels {
        let mut l = [MISSING; 16];
        l[..levels.len()].copy_from_slice(levels);
        l
    }

    #[test]
    fn recovers_known_m_from_a_mixture() {
        // Two fields with 2 levels each; 30% matches with m = (0.1, 0.9), u = (0.95, 0.05).
        let (m, u, lambda): ([f64; 2], [f64; 2], f64) = ([0.1, 0.9], [0.95, 0.05], 0.3);
        let mut patterns = Vec::new();
        for a in 0..2u8 {
            for b in 0..2u8 {
                let pm = lambda * m[a as usize] * m[b as usize];
                let pu = (1.0 - lambda) * u[a as usize] * u[b as usize];
                patterns.push((pattern(&[a, b]), ((pm + pu) * 1_000_000.0).round() as u64));
            }
        }
        let us = vec![u.to_vec(), u.to_vec()];
        let fit = fit(
            &patterns,
            &us,
            &[initial_m(2), initial_m(2)],
            &[true, true],
            0.5,
            &EmOptions::default(),
        );
        assert!(fit.converged);
        assert!((fit.lambda - 0.3).abs() < 0.01, "{}", fit.lambda);
        for f in 0..2 {
            assert!((fit.m[f][1] - 0.9).abs() < 0.01, "{:?}", fit.m);
        }
        assert!(fit.log_likelihood.windows(2).all(|w| w[1] >= w[0] - 1e-6));
        let lambda = lambda_for(&patterns, &us, &fit.m, 1_000_000.0, &EmOptions::default());
        assert!((lambda - 0.3).abs() < 0.01, "{lambda}");
        // The same candidates drawn from ten times as many pairs: at most a
        // tenth of the prior, less because ambiguous patterns now lean to
        // non-match.
        let lambda = lambda_for(&patterns, &us, &fit.m, 10_000_000.0, &EmOptions::default());
        assert!(lambda < 0.03 && lambda > 0.015, "{lambda}");
    }

    #[test]
    fn no_pairs_is_no_fit() {
        let fit = fit(
            &[],
            &[vec![0.5, 0.5]],
            &[initial_m(2)],
            &[true],
            0.5,
            &EmOptions::default(),
        );
        assert_eq!(fit.iterations, 0);
        assert!(!fit.converged);
    }

    #[test]
    fn initial_m_sums_to_one() {
        for levels in 2..6 {
            let m = initial_m(levels);
            assert!((m.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            assert!(m.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
