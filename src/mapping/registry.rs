//! Spec versions and safe rollout: run two versions side by side.
//!
//! A [`SpecRegistry`] keeps every version of the specs for one entity, per
//! system. [`compare`] maps the same inputs with two versions and lists the
//! records whose output differs, field by field — the check to run before a
//! new mapping version goes live.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::apply::ApplyOptions;
use super::schema::Mappable;
use super::spec::MappingSpec;
use crate::error::{Error, ErrorKind};

/// Every version of the specs for entity `E`, per system.
pub struct SpecRegistry<E> {
    specs: BTreeMap<String, BTreeMap<u32, Arc<MappingSpec<E>>>>,
}

impl<E> Default for SpecRegistry<E> {
    fn default() -> Self {
        SpecRegistry {
            specs: BTreeMap::new(),
        }
    }
}

impl<E> fmt::Debug for SpecRegistry<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let versions: BTreeMap<&String, Vec<&u32>> = self
            .specs
            .iter()
            .map(|(s, v)| (s, v.keys().collect()))
            .collect();
        f.debug_struct("SpecRegistry")
            .field("versions", &versions)
            .finish()
    }
}

impl<E: Mappable> SpecRegistry<E> {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a spec; a second spec with the same system and version is a `Conflict`.
    pub fn insert(&mut self, spec: MappingSpec<E>) -> Result<Arc<MappingSpec<E>>, Error> {
        let versions = self.specs.entry(spec.system().to_string()).or_default();
        if versions.contains_key(&spec.version()) {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "{} {} mapping version {} is already registered; give the new spec a new version",
                    spec.system(),
                    E::KIND,
                    spec.version()
                ),
            )
            .with_retryability(crate::error::Retryability::Permanent));
        }
        let spec = Arc::new(spec);
        versions.insert(spec.version(), Arc::clone(&spec));
        Ok(spec)
    }

    /// The spec of `system` at `version`.
    pub fn get(&self, system: &str, version: u32) -> Option<Arc<MappingSpec<E>>> {
        self.specs.get(system)?.get(&version).cloned()
    }

    /// The highest version for `system`.
    pub fn latest(&self, system: &str) -> Option<Arc<MappingSpec<E>>> {
        self.specs.get(system)?.values().next_back().cloned()
    }

    /// The versions registered for `system`, ascending.
    pub fn versions(&self, system: &str) -> Vec<u32> {
        self.specs
            .get(system)
            .map(|v| v.keys().copied().collect())
            .unwrap_or_default()
    }
}

/// One field that differs between two versions' output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FieldDiff {
    /// Canonical field path (`lines[0].unit_price.amount`).
    pub field: String,
    /// The first version's value (`None`: absent).
    pub left: Option<Value>,
    /// The second version's value.
    pub right: Option<Value>,
}

impl FieldDiff {
    /// A side of the difference as a person reads it (`(absent)` when missing).
    pub(crate) fn show(v: &Option<Value>) -> String {
        v.as_ref().map_or("(absent)".to_string(), Value::to_string)
    }
}

/// How one record came out of the two versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RecordDiff {
    /// Both mapped it, with these field differences.
    Changed {
        /// Input position.
        record: usize,
        /// The differing fields.
        fields: Vec<FieldDiff>,
    },
    /// Only the first version mapped it; the second failed with this message.
    FailsInRight {
        /// Input position.
        record: usize,
        /// The second version's error.
        error: String,
    },
    /// Only the second version mapped it; the first failed with this message.
    FailsInLeft {
        /// Input position.
        record: usize,
        /// The first version's error.
        error: String,
    },
    /// Both versions refuse it, but for different reasons.
    FailsDifferently {
        /// Input position.
        record: usize,
        /// The first version's failed fields.
        left: Vec<String>,
        /// The second version's failed fields.
        right: Vec<String>,
    },
}

/// The result of running two versions on the same inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Comparison {
    /// First version.
    pub left_version: u32,
    /// Second version.
    pub right_version: u32,
    /// Inputs compared.
    pub records: usize,
    /// Records with identical output (or failing in both).
    pub same: usize,
    /// Records that differ.
    pub differences: Vec<RecordDiff>,
    /// The two specs' systems, when they are not the same (comparing specs
    /// for different sources is usually a mistake).
    pub systems_differ: Option<(String, String)>,
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "v{} vs v{}: {} of {} records identical, {} differ",
            self.left_version,
            self.right_version,
            self.same,
            self.records,
            self.differences.len()
        )?;
        for d in &self.differences {
            match d {
                RecordDiff::Changed { record, fields } => {
                    for x in fields {
                        write!(
                            f,
                            "\n  record #{record} {}: {} -> {}",
                            x.field,
                            FieldDiff::show(&x.left),
                            FieldDiff::show(&x.right)
                        )?;
                    }
                }
                RecordDiff::FailsInRight { record, error } => write!(
                    f,
                    "\n  record #{record} fails in v{}: {error}",
                    self.right_version
                )?,
                RecordDiff::FailsInLeft { record, error } => write!(
                    f,
                    "\n  record #{record} fails in v{}: {error}",
                    self.left_version
                )?,
                RecordDiff::FailsDifferently {
                    record,
                    left,
                    right,
                } => write!(
                    f,
                    "\n  record #{record} fails in both, differently: v{}: {}; v{}: {}",
                    self.left_version,
                    left.join("; "),
                    self.right_version,
                    right.join("; ")
                )?,
            }
        }
        Ok(())
    }
}

/// Maps `inputs` with `left` and `right` and reports every record whose output
/// differs — including records both refuse, when they refuse them differently.
/// Specs for different systems are flagged in [`Comparison::systems_differ`].
pub fn compare<E: Mappable>(
    left: &MappingSpec<E>,
    right: &MappingSpec<E>,
    inputs: &[Value],
    opts: &ApplyOptions<'_>,
) -> Comparison {
    let mut out = Comparison {
        left_version: left.version(),
        right_version: right.version(),
        records: inputs.len(),
        same: 0,
        differences: Vec::new(),
        systems_differ: (left.system() != right.system())
            .then(|| (left.system().to_string(), right.system().to_string())),
    };
    for (record, input) in inputs.iter().enumerate() {
        match (left.apply_with(input, opts), right.apply_with(input, opts)) {
            (Ok(a), Ok(b)) => {
                let fields = diff_fields(&to_json(&a.entity), &to_json(&b.entity));
                if fields.is_empty() {
                    out.same += 1;
                } else {
                    out.differences.push(RecordDiff::Changed { record, fields });
                }
            }
            (Ok(_), Err(e)) => out.differences.push(RecordDiff::FailsInRight {
                record,
                error: e.to_string(),
            }),
            (Err(e), Ok(_)) => out.differences.push(RecordDiff::FailsInLeft {
                record,
                error: e.to_string(),
            }),
            (Err(a), Err(b)) => {
                let show = |e: &super::MappingError| -> Vec<String> {
                    e.failures.iter().map(ToString::to_string).collect()
                };
                let (left, right) = (show(&a), show(&b));
                if left == right {
                    out.same += 1;
                } else {
                    out.differences.push(RecordDiff::FailsDifferently {
                        record,
                        left,
                        right,
                    });
                }
            }
        }
    }
    out
}

fn to_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Field-by-field differences of two JSON documents, by dotted path.
pub(crate) fn diff_fields(left: &Value, right: &Value) -> Vec<FieldDiff> {
    let (a, b) = (flatten(left), flatten(right));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| FieldDiff {
            field: k.clone(),
            left: a.get(k).cloned(),
            right: b.get(k).cloned(),
        })
        .collect()
}

/// Leaf values of a JSON document by dotted path (`lines[0].sku`).
pub(crate) fn flatten(v: &Value) -> BTreeMap<String, Value> {
    fn walk(v: &Value, path: String, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, x) in m {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(x, p, out);
                }
            }
            Value::Array(a) if !a.is_empty() => {
                for (i, x) in a.iter().enumerate() {
                    walk(x, format!("{path}[{i}]"), out);
                }
            }
            Value::Null => {}
            leaf => {
                out.insert(path, leaf.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(v, String::new(), &mut out);
    out
}
