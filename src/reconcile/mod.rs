//! Reconciliation: find where two systems disagree, measure drift across runs, fix it.
//!
//! - [`DiffSpec`]: key columns, a [`FieldPolicy`] per field (exact, absolute or
//!   relative tolerance, money in minor units, normalized text, ignore) and an
//!   optional dimension to count by.
//! - Hash mode ([`diff_tables`]): both record sets in memory as [`Table`]s
//!   (CSV text borrowed field by field), classified on several threads.
//! - Streaming mode ([`diff_sorted`]): inputs sorted by key, merged with
//!   bounded memory; a key out of order is an error naming its line.
//! - Hash-diff ([`hash_diff`]): for sources that checksum key ranges
//!   themselves, only differing ranges are bisected and fetched.
//! - Canonical entities ([`diff_entities`]) are flattened to dotted columns.
//! - Reports: [`DiffReport::write_json`] (schema [`REPORT_SCHEMA`]),
//!   [`DiffReport::write_csv`], [`DiffReport::markdown`] and the
//!   self-contained [`DiffReport::html`].
//! - Drift across runs: a [`DriftLedger`] keeps [`RunRecord`]s; [`analyze`]
//!   finds persistent drift, bias per dimension and the drift-rate trend.
//! - Fixing it: [`plan_corrections`] turns a diff and a [`SourceOfTruth`]
//!   per field into corrective canonical records, listed by
//!   [`CorrectionPlan::dry_run`] and written by [`CorrectionPlan::apply`].
//!
//! Every differing key is a [`Difference`]: `only_left`, `only_right` or
//! `mismatch` with the left value, right value and delta of each field.
//!
//! ```
//! use seamwork::reconcile::{diff_tables, DiffKind, DiffOptions, DiffSpec, FieldPolicy, Table};
//! use rust_decimal_macros::dec;
//!
//! let spec = DiffSpec::new(["sku", "location"])
//!     .with_field("price", FieldPolicy::Abs { tolerance: dec!(0.01) });
//! let erp = "sku,location,on_hand,price\nTEE,DC,5,9.99\nCAP,DC,1,5.00\n";
//! let store = "sku,location,on_hand,price\nTEE,DC,7,10.00\nMUG,DC,2,3.00\n";
//! let left = Table::from_csv("erp.csv", erp.into(), &spec).unwrap();
//! let right = Table::from_csv("store.csv", store.into(), &spec).unwrap();
//! let report = diff_tables(&left, &right, &spec, &DiffOptions::default()).unwrap();
//! let kinds: Vec<DiffKind> = report.differences.iter().map(|d| d.kind).collect();
//! assert_eq!(kinds, [DiffKind::OnlyLeft, DiffKind::OnlyRight, DiffKind::Mismatch]);
//! let tee = &report.differences[2];
//! assert_eq!(tee.fields.len(), 1); // the price is within a cent
//! assert_eq!(tee.fields[0].delta, Some(dec!(2)));
//! ```

mod correct;
mod diff;
mod entities;
mod hashdiff;
mod html;
mod ledger;
mod report;
mod spec;
mod stream;
mod table;

pub use correct::{
    Action, ApplyReport, Correction, CorrectionPlan, FieldChange, Side, SourceOfTruth,
    plan_corrections,
};
pub use diff::{
    ClassCounts, DiffKind, DiffOptions, DiffReport, Difference, FieldDelta, Summary,
    diff_csv_files, diff_tables,
};
pub use entities::{diff_entities, entity_tables, flatten};
pub use hashdiff::{HashDiffOptions, HashDiffStats, hash_diff};
pub use ledger::{
    Bias, DeltaStats, DriftAnalysis, DriftLedger, DriftOptions, LedgerKey, MemoryLedger,
    PersistentDrift, RunRecord, Trend, analyze,
};
pub use report::REPORT_SCHEMA;
pub use spec::{DiffSpec, FieldPolicy, entity_key_columns};
pub use stream::{CsvStream, diff_sorted, diff_sorted_with};
pub use table::{Problem, Table};
