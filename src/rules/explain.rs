//! The explanation every rule decision carries: one [`Step`] per rule that
//! looked at the input, saying what it saw, what it produced and why.
//!
//! Decisions keep their trace as compact data and build an [`Explanation`]
//! only when `explain()` is called, so evaluating millions of rows or prices
//! formats no text.
//!
//! ```
//! use seamwork::rules::{Explanation, Step};
//!
//! let mut e = Explanation::new("price of TEE-M x 3");
//! e.push(Step::new("price_lists[web-usd]", "TEE-M", "19.99 USD", "highest priority list valid now"));
//! e.push(Step::new("map[TEE-M]", "19.99 USD", "19.99 USD", "at or above the minimum advertised price 15.00"));
//! assert_eq!(e.len(), 2);
//! assert_eq!(e.step("map[TEE-M]").unwrap().output, "19.99 USD");
//! assert!(e.to_string().contains("1. price_lists[web-usd]: TEE-M -> 19.99 USD (highest priority list valid now)"));
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

/// One step of a decision: which rule looked at what, what it produced and why.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Step {
    /// The rule, as it is named in the rule file (`price_lists[web-usd]`, `safety_stock[fragile]`).
    pub rule: String,
    /// What the rule was given.
    pub input: String,
    /// What it produced.
    pub output: String,
    /// Why, in words.
    pub why: String,
}

impl Step {
    /// A step of `rule` turning `input` into `output` because of `why`.
    pub fn new(
        rule: impl Into<String>,
        input: impl Into<String>,
        output: impl Into<String>,
        why: impl Into<String>,
    ) -> Self {
        Step {
            rule: rule.into(),
            input: input.into(),
            output: output.into(),
            why: why.into(),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} -> {}", self.rule, self.input, self.output)?;
        if !self.why.is_empty() {
            write!(f, " ({})", self.why)?;
        }
        Ok(())
    }
}

/// The trace of one decision: what was decided and every step that led there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Explanation {
    /// What was decided (`availability of TEE-M`, `routing of order 1001`).
    pub subject: String,
    /// The steps, in the order the rules ran.
    pub steps: Vec<Step>,
}

impl Explanation {
    /// An empty trace about `subject`.
    pub fn new(subject: impl Into<String>) -> Self {
        Explanation {
            subject: subject.into(),
            steps: Vec::new(),
        }
    }

    /// Appends a step.
    pub fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    /// Appends a step built from its parts.
    pub fn add(
        &mut self,
        rule: impl Into<String>,
        input: impl Into<String>,
        output: impl Into<String>,
        why: impl Into<String>,
    ) {
        self.push(Step::new(rule, input, output, why));
    }

    /// The number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// True when no step was recorded.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The steps in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Step> {
        self.steps.iter()
    }

    /// The first step of `rule`, if that rule took part.
    pub fn step(&self, rule: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.rule == rule)
    }

    /// Every step of rules whose name starts with `prefix` (`locations[`, `channel`).
    pub fn steps_of<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a Step> + 'a {
        self.steps
            .iter()
            .filter(move |s| s.rule.starts_with(prefix))
    }
}

impl<'a> IntoIterator for &'a Explanation {
    type Item = &'a Step;
    type IntoIter = std::slice::Iter<'a, Step>;

    fn into_iter(self) -> Self::IntoIter {
        self.steps.iter()
    }
}

/// One line for the subject, then one numbered line per step.
impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.subject)?;
        for (i, step) in self.steps.iter().enumerate() {
            write!(f, "\n  {}. {step}", i + 1)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_lookup() {
        let mut e = Explanation::new("x");
        e.add("a[1]", "in", "out", "");
        e.add("b", "1", "2", "because");
        assert_eq!(
            e.to_string(),
            "x\n  1. a[1]: in -> out\n  2. b: 1 -> 2 (because)"
        );
        assert_eq!(e.steps_of("a[").count(), 1);
        assert!(e.step("c").is_none());
        assert_eq!((&e).into_iter().count(), 2);
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Explanation>(&json).unwrap(), e);
    }
}
