//! Golden tests for your own specs.
//!
//! A golden test is three files: the spec, an input file (a JSON array of
//! outside records, or JSON Lines), and the expected canonical output (a JSON
//! array, one entity per input; `null` where the input must fail). On a
//! mismatch the error shows every differing field of every record. Set
//! `SEAMWORK_UPDATE_GOLDEN=1` to write the expected file from the current
//! output after a deliberate change.
//!
//! ```no_run
//! use seamwork::mapping::testing::golden;
//! use seamwork::model::Order;
//!
//! golden::<Order>(
//!     "mappings/shopify_order.toml",
//!     "tests/data/shopify_orders.json",
//!     "tests/data/shopify_orders.expected.json",
//! )
//! .unwrap_or_else(|e| panic!("{e}"));
//! ```

use std::fmt;
use std::path::Path;

use chrono::{TimeZone, Utc};
use serde_json::Value;

use super::apply::ApplyOptions;
use super::registry::{FieldDiff, diff_fields};
use super::schema::Mappable;
use super::spec::MappingSpec;
use super::xref::CrossReferences;

/// Why a golden test failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoldenFailure {
    /// What is wrong, readable in a test log.
    pub report: String,
}

impl fmt::Display for GoldenFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.report)
    }
}

impl std::error::Error for GoldenFailure {}

fn fail(report: impl Into<String>) -> GoldenFailure {
    GoldenFailure {
        report: report.into(),
    }
}

/// Reads a JSON array, or JSON Lines (one value per line).
pub fn read_records(path: &Path) -> Result<Vec<Value>, GoldenFailure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(&text).map_err(|e| {
            fail(format!(
                "{}:{}:{}: {e}",
                path.display(),
                e.line(),
                e.column()
            ))
        });
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| fail(format!("{}:{}: {e}", path.display(), i + 1)))
        })
        .collect()
}

/// Runs a golden test with no cross-references. `now = true` fields get
/// 2000-01-01T00:00:00Z so the expected file is stable.
pub fn golden<E: Mappable>(
    spec: impl AsRef<Path>,
    input: impl AsRef<Path>,
    expected: impl AsRef<Path>,
) -> Result<(), GoldenFailure> {
    golden_with::<E>(spec.as_ref(), input.as_ref(), expected.as_ref(), None)
}

/// Runs a golden test, resolving `lookup` transforms through `xrefs`.
pub fn golden_with<E: Mappable>(
    spec: &Path,
    input: &Path,
    expected: &Path,
    xrefs: Option<&dyn CrossReferences>,
) -> Result<(), GoldenFailure> {
    let spec = MappingSpec::<E>::from_file(spec).map_err(|e| fail(e.to_string()))?;
    let inputs = read_records(input)?;
    let mut opts = ApplyOptions::default().with_now(
        Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
            .single()
            .expect("valid date"),
    );
    opts.xrefs = xrefs;
    let actual: Vec<Value> = inputs
        .iter()
        .map(|i| {
            spec.apply_with(i, &opts)
                .ok()
                .and_then(|m| serde_json::to_value(m.entity).ok())
                .unwrap_or(Value::Null)
        })
        .collect();
    if std::env::var_os("SEAMWORK_UPDATE_GOLDEN").is_some() {
        let text = serde_json::to_string_pretty(&actual).expect("JSON values serialize");
        std::fs::write(expected, text + "\n")
            .map_err(|e| fail(format!("cannot write {}: {e}", expected.display())))?;
        return Ok(());
    }
    let want = read_records(expected)?;
    let mut report = Vec::new();
    if want.len() != actual.len() {
        report.push(format!(
            "{} has {} records, the input {} has {}",
            expected.display(),
            want.len(),
            input.display(),
            actual.len()
        ));
    }
    for (i, (w, a)) in want.iter().zip(&actual).enumerate() {
        match (w.is_null(), a.is_null()) {
            (true, true) => {}
            (false, true) => {
                let why = spec
                    .apply_with(&inputs[i], &opts)
                    .err()
                    .map_or_else(String::new, |e| e.to_string());
                report.push(format!(
                    "record #{i}: expected an entity, mapping failed: {why}"
                ));
            }
            (true, false) => report.push(format!("record #{i}: expected a failure, but it mapped")),
            (false, false) => {
                for d in diff_fields(w, a) {
                    report.push(format!(
                        "record #{i} {}: expected {}, got {}",
                        d.field,
                        FieldDiff::show(&d.left),
                        FieldDiff::show(&d.right)
                    ));
                }
            }
        }
    }
    if report.is_empty() {
        Ok(())
    } else {
        Err(fail(format!(
            "golden test of {} against {} failed ({} difference(s); SEAMWORK_UPDATE_GOLDEN=1 rewrites the expected file):\n  {}",
            input.display(),
            expected.display(),
            report.len(),
            report.join("\n  ")
        )))
    }
}
