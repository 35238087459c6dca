//! Correction plans: which side is the source of truth per field decides
//! which side gets a corrective write, as a canonical record. A plan lists
//! its writes (dry run) before [`CorrectionPlan::apply`] sends them through
//! each side's [`Sink`].
//!
//! ```
//! use chrono::Utc;
//! use seamwork::connector::EntityKind;
//! use seamwork::model::{InventoryLevel, LocationId, Sku};
//! use seamwork::reconcile::{diff_entities, plan_corrections, DiffSpec, Side, SourceOfTruth};
//!
//! let at = Utc::now();
//! let mut erp = InventoryLevel::new(Sku::new("TEE").unwrap(), LocationId::new("DC").unwrap(), at);
//! erp.on_hand = 5;
//! erp.available = 5;
//! let mut store = erp.clone();
//! store.on_hand = 7;
//! store.available = 7;
//! let spec = DiffSpec::for_entity(EntityKind::InventoryLevel);
//! let report = diff_entities(&[erp.clone()], &[store.clone()], &spec).unwrap();
//! let plan = plan_corrections(&[erp], &[store], &report, &SourceOfTruth::new(Side::Left)).unwrap();
//! assert_eq!(plan.dry_run(), [r#"update TEE@DC on right: available "7" -> "5", on_hand "7" -> "5""#]);
//! // plan.apply(&erp_sink, &store_sink).await writes it.
//! ```

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::diff::{DiffKind, DiffReport};
use crate::connector::{Entity, EntityKey, Sink, WriteOutcome};
use crate::error::{Error, Result};

/// One side of a reconciliation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The left system.
    Left,
    /// The right system.
    Right,
}

impl Side {
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
        }
    }
}

/// Which side is right, per field; `default` also decides whether a key
/// only one side has should exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SourceOfTruth {
    /// The side that wins for fields not named, and for existence.
    pub default: Side,
    /// Per-field winners (flattened names: `on_hand`, `price.amount`).
    #[serde(default)]
    pub fields: BTreeMap<String, Side>,
}

impl SourceOfTruth {
    /// `default` wins everywhere.
    pub fn new(default: Side) -> Self {
        SourceOfTruth {
            default,
            fields: BTreeMap::new(),
        }
    }

    /// `side` wins for `field`.
    pub fn with_field(mut self, field: impl Into<String>, side: Side) -> Self {
        self.fields.insert(field.into(), side);
        self
    }

    /// The side that wins for `field`.
    pub fn for_field(&self, field: &str) -> Side {
        self.fields.get(field).copied().unwrap_or(self.default)
    }
}

/// Create the record, or change fields of an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The target side lacks the key.
    Create,
    /// The target side has the key with wrong fields.
    Update,
}

/// One field a correction changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FieldChange {
    /// The field.
    pub field: String,
    /// The target's value now.
    pub from: String,
    /// The value it gets (the source of truth's).
    pub to: String,
}

/// One corrective write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Correction<E> {
    /// The key.
    pub key: EntityKey,
    /// Create or update.
    pub action: Action,
    /// The changed fields (empty for a create).
    pub changes: Vec<FieldChange>,
    /// The record to write.
    pub record: E,
}

/// The writes that make both sides agree with the source of truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CorrectionPlan<E> {
    /// Writes to the left side.
    pub to_left: Vec<Correction<E>>,
    /// Writes to the right side.
    pub to_right: Vec<Correction<E>>,
    /// What an upsert cannot do (deleting a key the source of truth lacks).
    pub manual: Vec<String>,
}

/// What [`CorrectionPlan::apply`] did: one outcome per write, in plan order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApplyReport {
    /// Outcomes of the writes to the left side.
    pub left: Vec<WriteOutcome>,
    /// Outcomes of the writes to the right side.
    pub right: Vec<WriteOutcome>,
}

/// The corrections for a diff of `left` and `right` (as returned by
/// [`diff_entities`](super::diff_entities) with the entity's key columns).
pub fn plan_corrections<E: Entity>(
    left: &[E],
    right: &[E],
    report: &DiffReport,
    truth: &SourceOfTruth,
) -> Result<CorrectionPlan<E>> {
    let li: HashMap<EntityKey, &E> = left.iter().map(|e| (e.key(), e)).collect();
    let ri: HashMap<EntityKey, &E> = right.iter().map(|e| (e.key(), e)).collect();
    let find = |map: &HashMap<EntityKey, &E>, key: &EntityKey, side: Side| -> Result<E> {
        map.get(key).map(|e| (*e).clone()).ok_or_else(|| {
            Error::invalid_data(format!(
                "key {key} of the diff is not among the {} records (diff with the entity's key columns)",
                side.name()
            ))
            .with_key(key.to_string())
            .with_entity(E::KIND.name())
        })
    };
    let mut plan = CorrectionPlan {
        to_left: Vec::new(),
        to_right: Vec::new(),
        manual: Vec::new(),
    };
    for d in &report.differences {
        let key = EntityKey::composite(&d.key);
        match d.kind {
            DiffKind::OnlyLeft | DiffKind::OnlyRight => {
                let has = if d.kind == DiffKind::OnlyLeft {
                    Side::Left
                } else {
                    Side::Right
                };
                if truth.default == has {
                    let record = find(if has == Side::Left { &li } else { &ri }, &key, has)?;
                    let c = Correction {
                        key,
                        action: Action::Create,
                        changes: Vec::new(),
                        record,
                    };
                    match has {
                        Side::Left => plan.to_right.push(c),
                        Side::Right => plan.to_left.push(c),
                    }
                } else {
                    plan.manual.push(format!(
                        "{key} exists only on the {} side, which is not the source of truth: delete it there",
                        has.name()
                    ));
                }
            }
            DiffKind::Mismatch => {
                let (l, r) = (find(&li, &key, Side::Left)?, find(&ri, &key, Side::Right)?);
                let (lv, rv) = (serde_json::to_value(&l)?, serde_json::to_value(&r)?);
                let (mut new_l, mut new_r) = (lv.clone(), rv.clone());
                let (mut ch_l, mut ch_r) = (Vec::new(), Vec::new());
                for f in &d.fields {
                    let (source, target, changes) = match truth.for_field(&f.field) {
                        Side::Left => (&lv, &mut new_r, &mut ch_r),
                        Side::Right => (&rv, &mut new_l, &mut ch_l),
                    };
                    let value = get_path(source, &f.field).cloned().unwrap_or(Value::Null);
                    set_path(target, &f.field, value).map_err(|m| {
                        Error::invalid_data(m)
                            .with_key(key.to_string())
                            .with_field(f.field.clone())
                    })?;
                    let (from, to) = match truth.for_field(&f.field) {
                        Side::Left => (&f.right, &f.left),
                        Side::Right => (&f.left, &f.right),
                    };
                    changes.push(FieldChange {
                        field: f.field.clone(),
                        from: from.clone(),
                        to: to.clone(),
                    });
                }
                let back = |v: Value| -> Result<E> {
                    serde_json::from_value(v).map_err(|e| {
                        Error::from(e)
                            .with_key(key.to_string())
                            .with_entity(E::KIND.name())
                    })
                };
                if !ch_l.is_empty() {
                    plan.to_left.push(Correction {
                        key: key.clone(),
                        action: Action::Update,
                        changes: ch_l,
                        record: back(new_l)?,
                    });
                }
                if !ch_r.is_empty() {
                    plan.to_right.push(Correction {
                        key: key.clone(),
                        action: Action::Update,
                        changes: ch_r,
                        record: back(new_r)?,
                    });
                }
            }
        }
    }
    Ok(plan)
}

/// The JSON pointer segments of a flattened name (`lines[0].sku` → `lines`, `0`, `sku`).
fn segments(path: &str) -> Vec<String> {
    path.split('.')
        .flat_map(|part| {
            let mut segs = Vec::new();
            let mut rest = part;
            if let Some(i) = rest.find('[') {
                segs.push(rest[..i].to_string());
                rest = &rest[i..];
                while let Some(end) = rest.find(']') {
                    segs.push(rest[1..end].to_string());
                    rest = &rest[end + 1..];
                }
            } else {
                segs.push(rest.to_string());
            }
            segs
        })
        .filter(|s| !s.is_empty())
        .collect()
}

fn get_path<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    segments(path).iter().try_fold(v, |v, s| match v {
        Value::Object(m) => m.get(s),
        Value::Array(a) => a.get(s.parse::<usize>().ok()?),
        _ => None,
    })
}

fn set_path(v: &mut Value, path: &str, new: Value) -> std::result::Result<(), String> {
    let segs = segments(path);
    let mut cur = v;
    for (i, s) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        cur = match cur {
            Value::Object(m) => {
                if last {
                    m.insert(s.clone(), new);
                    return Ok(());
                }
                m.entry(s.clone())
                    .or_insert(Value::Object(Default::default()))
            }
            Value::Array(a) => {
                let idx: usize = s
                    .parse()
                    .map_err(|_| format!("{path}: {s:?} is not a list index"))?;
                let Some(slot) = a.get_mut(idx) else {
                    return Err(format!("{path}: the target list has no element {idx}"));
                };
                if last {
                    *slot = new;
                    return Ok(());
                }
                slot
            }
            _ => return Err(format!("{path}: the target has no place for this field")),
        };
    }
    Ok(())
}

impl<E: Entity> CorrectionPlan<E> {
    /// True when there is nothing to write and nothing to do by hand.
    pub fn is_empty(&self) -> bool {
        self.to_left.is_empty() && self.to_right.is_empty() && self.manual.is_empty()
    }

    /// One line per write and per manual step, without writing anything.
    pub fn dry_run(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (side, list) in [(Side::Left, &self.to_left), (Side::Right, &self.to_right)] {
            for c in list {
                match c.action {
                    Action::Create => out.push(format!(
                        "create {} on {}: only the {} side has it",
                        c.key,
                        side.name(),
                        side.other().name()
                    )),
                    Action::Update => {
                        let changes: Vec<String> = c
                            .changes
                            .iter()
                            .map(|f| format!("{} {:?} -> {:?}", f.field, f.from, f.to))
                            .collect();
                        out.push(format!(
                            "update {} on {}: {}",
                            c.key,
                            side.name(),
                            changes.join(", ")
                        ));
                    }
                }
            }
        }
        out.extend(self.manual.iter().map(|m| format!("manual: {m}")));
        out
    }

    /// Writes the corrections through each side's sink, in batches no larger
    /// than the sink's `max_batch`. A rejected record is in the outcomes; an
    /// `Err` means a batch failed as a whole (retrying the plan is safe:
    /// upserts are idempotent).
    pub async fn apply<L, R>(&self, left: &L, right: &R) -> Result<ApplyReport>
    where
        L: Sink<E> + ?Sized,
        R: Sink<E> + ?Sized,
    {
        Ok(ApplyReport {
            left: write_all(left, &self.to_left).await?,
            right: write_all(right, &self.to_right).await?,
        })
    }
}

async fn write_all<E: Entity, S: Sink<E> + ?Sized>(
    sink: &S,
    list: &[Correction<E>],
) -> Result<Vec<WriteOutcome>> {
    let batch = sink.capability(E::KIND).max_batch.unwrap_or(250).max(1);
    let mut out = Vec::with_capacity(list.len());
    for chunk in list.chunks(batch) {
        let records: Vec<E> = chunk.iter().map(|c| c.record.clone()).collect();
        out.extend(sink.upsert(&records).await?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_reach_nested_fields() {
        assert_eq!(
            segments("lines[2].tax_lines[0].amount"),
            ["lines", "2", "tax_lines", "0", "amount"]
        );
        let mut v = json!({"a": {"b": 1}, "l": [{"x": 1}]});
        set_path(&mut v, "a.b", json!(2)).unwrap();
        set_path(&mut v, "l[0].x", json!(3)).unwrap();
        set_path(&mut v, "n.m", json!(4)).unwrap();
        assert_eq!(v, json!({"a": {"b": 2}, "l": [{"x": 3}], "n": {"m": 4}}));
        assert_eq!(get_path(&v, "l[0].x"), Some(&json!(3)));
        assert!(set_path(&mut v, "l[5].x", json!(1)).is_err());
    }
}
