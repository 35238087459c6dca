//! Precision, recall and F1 of predicted pairs against known truth.
// Ratios are statistics, not money or quantities.
#![allow(clippy::disallowed_types)]

use serde::{Deserialize, Serialize};

use super::blocking::LinkMode;
use super::linker::true_pairs;
use super::record::PreparedRecord;

/// How predicted pairs compare with the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Metrics {
    /// Predicted pairs that are the same person.
    pub true_positives: u64,
    /// Predicted pairs that are different people.
    pub false_positives: u64,
    /// Pairs of the same person not predicted.
    pub false_negatives: u64,
}

impl Metrics {
    /// Counts `pairs` (record indexes, each unordered pair once) against
    /// `truth` (a person number per record).
    pub fn of_pairs(
        pairs: impl IntoIterator<Item = (u32, u32)>,
        records: &[PreparedRecord],
        truth: &[u32],
        mode: LinkMode,
    ) -> Self {
        let (mut tp, mut fp) = (0, 0);
        for (a, b) in pairs {
            if truth[a as usize] == truth[b as usize] {
                tp += 1;
            } else {
                fp += 1;
            }
        }
        let all = true_pairs(records, truth, mode);
        Metrics {
            true_positives: tp,
            false_positives: fp,
            false_negatives: all.saturating_sub(tp),
        }
    }

    /// TP / (TP + FP); 1 when nothing was predicted.
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    /// TP / (TP + FN); 1 when there was nothing to find.
    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }

    /// The harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

impl std::fmt::Display for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "precision {:.4}, recall {:.4}, F1 {:.4} (TP {}, FP {}, FN {})",
            self.precision(),
            self.recall(),
            self.f1(),
            self.true_positives,
            self.false_positives,
            self.false_negatives
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_ratios() {
        let records = vec![PreparedRecord::default(); 4];
        let truth = [1, 1, 1, 2];
        // true pairs: (0,1) (0,2) (1,2)
        let m = Metrics::of_pairs([(0, 1), (2, 3)], &records, &truth, LinkMode::Dedupe);
        assert_eq!(
            (m.true_positives, m.false_positives, m.false_negatives),
            (1, 1, 2)
        );
        assert!((m.precision() - 0.5).abs() < 1e-12);
        assert!((m.recall() - 1.0 / 3.0).abs() < 1e-12);
        assert!((m.f1() - 0.4).abs() < 1e-12);
        let none = Metrics::of_pairs([], &records, &[1, 2, 3, 4], LinkMode::Dedupe);
        assert_eq!(none.f1(), 1.0);
    }
}
