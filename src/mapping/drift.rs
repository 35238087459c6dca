//! Schema drift: noticing that an upstream API changed before the numbers go wrong.
//!
//! While a batch is mapped, a [`SchemaProfile`] counts per source field how
//! often it was present, missing, null, and of which JSON type, plus the
//! fields the spec does not know. [`SchemaDrift::compare`] sets two runs side
//! by side and reports what changed, in sentences an operator can act on.
//!
//! ```
//! use serde_json::json;
//! use seamwork::mapping::{MappingSpec, SchemaDrift, SchemaProfile, DriftOptions};
//! use seamwork::model::Order;
//! # let spec_text = include_str!("../../examples/mapping/shopify_order.toml");
//! let spec = MappingSpec::<Order>::from_toml(spec_text, "shopify_order.toml").unwrap();
//! let mut last_run = SchemaProfile::new();
//! last_run.observe_all(&spec, &[json!({"name": "#1", "total_price_usd": "10.00"})]);
//! let mut this_run = SchemaProfile::new();
//! this_run.observe_all(&spec, &[json!({"name": "#2", "current_total_duties_set": {}})]);
//! let drift = SchemaDrift::compare(&last_run, &this_run, &DriftOptions::default());
//! assert!(drift.findings.iter().any(|f| f.message.contains("new field `current_total_duties_set`")));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::schema::Mappable;
use super::spec::{Group, MappingSpec, SourceKind};
use super::transform::Transform;
use super::value::Path;

/// Counts for one source field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FieldStats {
    /// Records (or list elements) that had the field with a value.
    pub present: u64,
    /// Records that did not have the field.
    pub missing: u64,
    /// Records where it was null.
    pub null: u64,
    /// JSON types seen (`string`, `number`, ...), with counts.
    pub types: BTreeMap<String, u64>,
}

impl FieldStats {
    fn total(&self) -> u64 {
        self.present + self.missing + self.null
    }

    fn present_pct(&self) -> u64 {
        pct(self.present, self.total())
    }

    fn main_type(&self) -> Option<(&str, u64)> {
        self.types
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(t, n)| (t.as_str(), pct(*n, self.present.max(1))))
    }
}

/// `part` as a rounded percentage of `whole` (0 when `whole` is 0).
fn pct(part: u64, whole: u64) -> u64 {
    (part * 100 + whole / 2).checked_div(whole).unwrap_or(0)
}

/// What one run saw of the source schema.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SchemaProfile {
    /// Records observed.
    pub records: u64,
    /// Stats per source path the spec reads (`/total_price`, `line_items[]/sku`).
    pub fields: BTreeMap<String, FieldStats>,
    /// Fields the spec does not read, with how many records had them.
    pub unknown: BTreeMap<String, u64>,
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl SchemaProfile {
    /// An empty profile.
    pub fn new() -> Self {
        Self::default()
    }

    /// Observes every input against `spec`.
    pub fn observe_all<E: Mappable>(&mut self, spec: &MappingSpec<E>, inputs: &[Value]) {
        for input in inputs {
            self.observe(&spec.root, input);
        }
    }

    pub(crate) fn observe(&mut self, root: &Group, input: &Value) {
        self.records += 1;
        self.observe_group(root, input, input, "");
    }

    fn observe_group(&mut self, g: &Group, record: &Value, root: &Value, prefix: &str) {
        let mut paths: Vec<&Path> = Vec::new();
        for f in &g.fields {
            if let SourceKind::Path(p) = &f.source {
                paths.push(p);
            }
            for t in &f.transforms {
                if let Transform::Concat { with, .. } = t {
                    paths.extend(with.iter());
                }
            }
        }
        for p in paths {
            if p.from_root() && !prefix.is_empty() {
                continue; // counted at the root
            }
            let stats = self.fields.entry(format!("{prefix}{p}")).or_default();
            match p.get(record, root) {
                None => stats.missing += 1,
                Some(Value::Null) => stats.null += 1,
                Some(v) => {
                    stats.present += 1;
                    *stats.types.entry(json_type(v).to_string()).or_default() += 1;
                }
            }
        }
        if let Value::Object(m) = record {
            let known: BTreeSet<String> = g.known_keys().into_iter().collect();
            for k in m.keys().filter(|k| !known.contains(*k)) {
                *self.unknown.entry(format!("{prefix}{k}")).or_default() += 1;
            }
        }
        for l in &g.lists {
            let list_prefix = format!("{prefix}{}[]", l.source.as_str().trim_start_matches('/'));
            let stats = self
                .fields
                .entry(format!("{prefix}{}", l.source))
                .or_default();
            match l.source.get(record, root) {
                None => stats.missing += 1,
                Some(Value::Null) => stats.null += 1,
                Some(v) => {
                    stats.present += 1;
                    *stats.types.entry(json_type(v).to_string()).or_default() += 1;
                    if let Value::Array(items) = v {
                        for item in items {
                            self.observe_group(&l.group, item, root, &list_prefix);
                        }
                    }
                }
            }
        }
    }
}

/// How sensitive drift detection is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DriftOptions {
    /// A change of a field's presence rate by at least this many percentage points is reported.
    pub presence_change_pct: u64,
    /// A new field must be in at least this percentage of records to be reported.
    pub new_field_min_pct: u64,
}

impl Default for DriftOptions {
    fn default() -> Self {
        DriftOptions {
            presence_change_pct: 10,
            new_field_min_pct: 1,
        }
    }
}

/// What kind of change a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DriftKind {
    /// A field the spec reads is now missing (or null) much more often.
    Disappearing,
    /// A field the spec reads is present much more often.
    Appearing,
    /// A field's JSON type changed.
    TypeChanged,
    /// A field the spec does not read started to appear.
    NewField,
    /// A field the spec does not read stopped appearing.
    GoneField,
}

/// One change between two runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DriftFinding {
    /// What changed.
    pub kind: DriftKind,
    /// The source field.
    pub field: String,
    /// The change in words.
    pub message: String,
}

/// The changes in the source schema between a previous run and this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SchemaDrift {
    /// The findings, most serious first (fields the spec reads before the rest).
    pub findings: Vec<DriftFinding>,
}

impl SchemaDrift {
    /// Compares `previous` with `current`.
    pub fn compare(
        previous: &SchemaProfile,
        current: &SchemaProfile,
        opts: &DriftOptions,
    ) -> SchemaDrift {
        let mut findings = Vec::new();
        for (field, now) in &current.fields {
            let Some(before) = previous.fields.get(field) else {
                continue;
            };
            let (was, is) = (before.present_pct(), now.present_pct());
            if was.abs_diff(is) >= opts.presence_change_pct {
                let (kind, message) = if is < was {
                    (
                        DriftKind::Disappearing,
                        format!(
                            "`{field}` missing in {}% of records this run, present in {was}% last run",
                            100 - is
                        ),
                    )
                } else {
                    (
                        DriftKind::Appearing,
                        format!("`{field}` present in {is}% of records this run, {was}% last run"),
                    )
                };
                findings.push(DriftFinding {
                    kind,
                    field: field.clone(),
                    message,
                });
            }
            if let (Some((t0, p0)), Some((t1, p1))) = (before.main_type(), now.main_type())
                && t0 != t1
            {
                findings.push(DriftFinding {
                    kind: DriftKind::TypeChanged,
                    field: field.clone(),
                    message: format!(
                        "`{field}` is mostly {t1} this run ({p1}%), was {t0} last run ({p0}%)"
                    ),
                });
            }
        }
        for (field, n) in &current.unknown {
            let share = pct(*n, current.records);
            if !previous.unknown.contains_key(field) && share >= opts.new_field_min_pct {
                findings.push(DriftFinding {
                    kind: DriftKind::NewField,
                    field: field.clone(),
                    message: format!(
                        "new field `{field}` in {share}% of records (not read by the spec)"
                    ),
                });
            }
        }
        for (field, n) in &previous.unknown {
            if !current.unknown.contains_key(field) && current.records > 0 {
                findings.push(DriftFinding {
                    kind: DriftKind::GoneField,
                    field: field.clone(),
                    message: format!(
                        "field `{field}` no longer appears (was in {}% of records last run)",
                        pct(*n, previous.records)
                    ),
                });
            }
        }
        findings.sort_by_key(|f| match f.kind {
            DriftKind::Disappearing => 0,
            DriftKind::TypeChanged => 1,
            DriftKind::Appearing => 2,
            DriftKind::NewField => 3,
            DriftKind::GoneField => 4,
        });
        SchemaDrift { findings }
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.findings.is_empty()
    }
}

impl fmt::Display for SchemaDrift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.findings.is_empty() {
            return f.write_str("no schema drift");
        }
        for (i, x) in self.findings.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(&x.message)?;
        }
        Ok(())
    }
}
