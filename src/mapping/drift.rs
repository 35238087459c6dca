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

use std::collections::BTreeMap;
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
    /// Fields the spec does not read (`totalPriceSet/presentmentMoney`,
    /// `lineItems/nodes[]/discountedTotalSet`), with how often they were seen.
    pub unknown: BTreeMap<String, Unknown>,
    /// How many objects each list scope held (`lineItems/nodes[]`), so that
    /// shares of list-element fields are shares of elements, not of records.
    pub scopes: BTreeMap<String, u64>,
}

/// A field the spec does not read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Unknown {
    /// The list scope it lives in (empty for the record itself).
    pub scope: String,
    /// Objects that had it.
    pub seen: u64,
}

/// The parts of a record a spec reads, as a tree of keys; a leaf is read whole.
/// Built once per spec group (cached in the group), not per record.
#[derive(Debug, Default)]
pub(crate) struct ReadTree(BTreeMap<String, ReadTree>);

impl ReadTree {
    /// What `g` reads from its record; root-relative paths count only at the root.
    fn of(g: &Group, at_root: bool) -> ReadTree {
        let mut read = ReadTree::default();
        for p in read_paths(g) {
            if at_root || !p.from_root() {
                read.insert(&p.keys());
            }
        }
        for f in &g.fields {
            if let SourceKind::Expr(e) = &f.source {
                for v in e.variables() {
                    read.insert(std::slice::from_ref(v));
                }
            }
        }
        for l in &g.lists {
            if !l.source.from_root() {
                read.insert(&l.source.keys());
            }
        }
        read
    }

    fn insert(&mut self, keys: &[String]) {
        if let Some((first, rest)) = keys.split_first() {
            let child = self.0.entry(first.clone()).or_default();
            if !rest.is_empty() || !child.0.is_empty() {
                child.insert(rest);
            }
        }
    }
}

/// The paths a group's fields read: sources and `concat` parts.
fn read_paths(g: &Group) -> impl Iterator<Item = &Path> {
    g.fields.iter().flat_map(|f| {
        let source = match &f.source {
            SourceKind::Path(p) => Some(p),
            _ => None,
        };
        let concat = f.transforms.iter().flat_map(|t| match t {
            Transform::Concat { with, .. } => with.as_slice(),
            _ => &[],
        });
        source.into_iter().chain(concat)
    })
}

/// `prefix/rest`, or `rest` at the top.
fn join(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() {
        rest.to_string()
    } else {
        format!("{prefix}/{}", rest.trim_start_matches('/'))
    }
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

fn scope_name(u: &Unknown) -> String {
    if u.scope.is_empty() {
        "records".into()
    } else {
        format!("`{}` elements", u.scope)
    }
}

impl SchemaProfile {
    /// How often an unknown field appeared, as a share of the objects in its scope.
    fn share(&self, u: &Unknown) -> u64 {
        let base = if u.scope.is_empty() {
            self.records
        } else {
            self.scopes.get(&u.scope).copied().unwrap_or(0)
        };
        pct(u.seen, base)
    }

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

    /// Counts one sighting of `prefix`/`path`. Runs for every field of every
    /// record: known keys and types are found without allocating.
    fn count(&mut self, prefix: &str, path: &str, found: Option<&Value>) {
        let stats = match self.fields.get_mut(path).filter(|_| prefix.is_empty()) {
            Some(stats) => stats,
            None => self.fields.entry(join(prefix, path)).or_default(),
        };
        match found {
            None => stats.missing += 1,
            Some(Value::Null) => stats.null += 1,
            Some(v) => {
                stats.present += 1;
                let ty = json_type(v);
                match stats.types.get_mut(ty) {
                    Some(n) => *n += 1,
                    None => {
                        stats.types.insert(ty.to_string(), 1);
                    }
                }
            }
        }
    }

    fn observe_group(&mut self, g: &Group, record: &Value, root: &Value, prefix: &str) {
        if !prefix.is_empty() {
            *self.scopes.entry(prefix.to_string()).or_default() += 1;
        }
        for f in &g.fields {
            if let SourceKind::Expr(e) = &f.source {
                for v in e.variables() {
                    self.count(prefix, v, record.get(v));
                }
            }
        }
        for p in read_paths(g) {
            if p.from_root() && !prefix.is_empty() {
                continue; // counted at the root
            }
            self.count(prefix, p.as_str(), p.get(record, root));
        }
        for l in &g.lists {
            let found = l.source.get(record, root);
            self.count(prefix, l.source.as_str(), found);
            if let Some(Value::Array(items)) = found {
                let scope = format!(
                    "{}[]",
                    join(prefix, l.source.as_str().trim_start_matches('/'))
                );
                for item in items {
                    self.observe_group(&l.group, item, root, &scope);
                }
            }
        }
        let read = g
            .read_tree
            .get_or_init(|| ReadTree::of(g, prefix.is_empty()));
        self.unknown_keys(record, read, prefix, "");
    }

    /// Records the keys of `v` the spec does not read, descending into the
    /// objects it reads parts of.
    fn unknown_keys(&mut self, v: &Value, read: &ReadTree, scope: &str, at: &str) {
        let Value::Object(m) = v else { return };
        for (k, child) in m {
            let here = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}/{k}")
            };
            match read.0.get(k) {
                None => {
                    let entry = self
                        .unknown
                        .entry(join(scope, &here))
                        .or_insert_with(|| Unknown {
                            scope: scope.to_string(),
                            ..Unknown::default()
                        });
                    entry.seen += 1;
                }
                Some(sub) if !sub.0.is_empty() => self.unknown_keys(child, sub, scope, &here),
                Some(_) => {}
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
            // A type that loses ground: its share of the present values fell.
            if let Some((t0, p0)) = before.main_type() {
                let still = pct(now.types.get(t0).copied().unwrap_or(0), now.present.max(1));
                if now.present > 0 && p0.saturating_sub(still) >= opts.presence_change_pct {
                    let (t1, p1) = now.main_type().unwrap_or((t0, still));
                    let message = if t1 == t0 {
                        format!("`{field}` is {t0} in {still}% of records this run, {p0}% last run")
                    } else {
                        format!(
                            "`{field}` is mostly {t1} this run ({p1}%), was {t0} last run ({p0}%)"
                        )
                    };
                    findings.push(DriftFinding {
                        kind: DriftKind::TypeChanged,
                        field: field.clone(),
                        message,
                    });
                }
            }
        }
        for (field, u) in &current.unknown {
            let share = current.share(u);
            if !previous.unknown.contains_key(field) && share >= opts.new_field_min_pct {
                findings.push(DriftFinding {
                    kind: DriftKind::NewField,
                    field: field.clone(),
                    message: format!(
                        "new field `{field}` in {share}% of {} (not read by the spec)",
                        scope_name(u)
                    ),
                });
            }
        }
        for (field, u) in &previous.unknown {
            if !current.unknown.contains_key(field) && current.records > 0 {
                findings.push(DriftFinding {
                    kind: DriftKind::GoneField,
                    field: field.clone(),
                    message: format!(
                        "field `{field}` no longer appears (was in {}% of {} last run)",
                        previous.share(u),
                        scope_name(u)
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
